//! The company's people, register, HR history and contact reports: who
//! works where with which clearance and projects, the documents of each
//! product line, transfers and departures, and the approaches staff report
//! (the planted insiders' own included).

use super::*;

impl Sim {
    pub(super) fn make_people(&mut self) {
        let n = self.cfg.people;
        let end = self.cfg.start + Duration::days(i64::from(self.cfg.days));
        for i in 0..n {
            // Bigger units get more people: weights by index.
            let weights = [14, 12, 8, 14, 8, 12, 16, 8, 8];
            let total: u32 = weights.iter().sum();
            let mut pick = self.rng.gen_range(0..total);
            let mut u = 0;
            for (k, w) in weights.iter().enumerate() {
                if pick < *w {
                    u = k;
                    break;
                }
                pick -= w;
            }
            let unit = &UNITS[u];
            let role = unit.roles[self.rng.gen_range(0..unit.roles.len())];
            let mut projects = BTreeSet::new();
            if !unit.lines.is_empty() {
                let line = unit.lines[self.rng.gen_range(0..unit.lines.len())];
                projects.insert(project_name(line, self.rng.gen_range(0..3)));
                if self.rng.gen_bool(0.3) {
                    let line2 = unit.lines[self.rng.gen_range(0..unit.lines.len())];
                    projects.insert(project_name(line2, self.rng.gen_range(0..3)));
                }
            }
            let mut clearance = unit.clearance;
            if role == "technician" || role == "field-engineer" {
                clearance = clearance.min(Level::Confidential);
            }
            if self.rng.gen_bool(0.1) && clearance > Level::Internal {
                clearance = Level::Internal;
            }
            let hire_date = if self.rng.gen_bool(0.03) {
                self.cfg.start
                    + Duration::days(self.rng.gen_range(0..i64::from(self.cfg.days.max(1))))
            } else {
                NaiveDate::from_ymd_opt(
                    self.rng.gen_range(1990..2024),
                    self.rng.gen_range(1..=12),
                    1,
                )
                .unwrap_or(self.cfg.start)
            };
            let leave_date = if self.rng.gen_bool(0.02) {
                Some(
                    self.cfg.start
                        + Duration::days(self.rng.gen_range(
                            i64::from(self.cfg.days / 3)..=i64::from(self.cfg.days.max(1)),
                        )),
                )
            } else {
                None
            };
            let user_id = format!("E{:05}", 10_000 + i);
            let name = format!(
                "{} {}",
                SURNAMES[self.rng.gen_range(0..SURNAMES.len())],
                GIVEN[self.rng.gen_range(0..GIVEN.len())]
            );
            let email = format!("{}@{CORP_DOMAIN}", user_id.to_lowercase());
            self.people.push(Person {
                user_id,
                name,
                email,
                org_unit: unit.name.to_string(),
                site: SITES[self.rng.gen_range(0..SITES.len())].to_string(),
                role: role.to_string(),
                manager_id: None,
                clearance,
                projects,
                hire_date,
                leave_date: leave_date.filter(|d| *d < end),
            });
            self.units.push(u);
            let broad_role = matches!(
                role,
                "qa-auditor" | "field-engineer" | "sales" | "account-manager"
            );
            let act = self.bg.activity;
            let rng = &mut self.rng;
            let h = Habits {
                docs_per_day: lognormal(rng, if broad_role { 4.0 } else { 2.5 }, 0.5) * act,
                print_rate: lognormal(rng, 0.06, 0.7).min(0.5),
                download_rate: lognormal(rng, 0.2, 0.5).min(0.7),
                start_hour: rng.gen_range(7.5..10.0),
                day_hours: rng.gen_range(8.0..11.0),
                mails_per_day: lognormal(rng, 0.8, 0.5) * act,
                web_per_day: lognormal(rng, 0.9, 0.5) * act,
                usb_rate: if rng.gen_bool(self.bg.usb.clamp(0.0, 1.0)) {
                    // Most use it now and then; some every day.
                    lognormal(rng, 0.06, 1.0).min(1.5)
                } else {
                    0.0
                },
                weekend_rate: 0.01,
                evening_rate: 0.0,
                curiosity: lognormal(rng, self.bg.curiosity / 5.0, 0.6),
            };
            self.habits.push(h);
            let odd = self.rng.gen_bool(self.bg.odd_hours.clamp(0.0, 1.0));
            if odd {
                let h = self.habits.last_mut();
                if let Some(h) = h {
                    h.weekend_rate = 0.15;
                    h.evening_rate = self.rng.gen_range(0.05..0.25);
                }
            }
            let mut t = Traits::default();
            if self.rng.gen_bool(self.bg.personal_mail.clamp(0.0, 1.0)) {
                let all: Vec<&'static str> = PERSONAL_MAIL
                    .iter()
                    .chain(ISP_MAIL.iter())
                    .copied()
                    .collect();
                t.personal_mail = all.choose(&mut self.rng).copied();
            }
            t.personal_sender = self.rng.gen_bool(self.bg.personal_sender.clamp(0.0, 1.0));
            t.usb_manuals =
                SITE_UNITS.contains(&u) && self.rng.gen_bool(self.bg.usb_manuals.clamp(0.0, 1.0));
            t.broad = self.rng.gen_bool(self.bg.broad.clamp(0.0, 1.0));
            if self.rng.gen_bool(self.bg.job_browsing.clamp(0.0, 1.0)) {
                t.job_browsing = lognormal(&mut self.rng, 0.1, 0.7);
            }
            if self.bg.roaming > 0.0 {
                if role == "it-admin" {
                    t.roaming = self.rng.gen_range(1.0..4.0);
                } else if self.rng.gen_bool(self.bg.roaming.clamp(0.0, 1.0)) {
                    t.roaming = lognormal(&mut self.rng, 0.1, 0.7);
                }
            }
            self.traits.push(t);
        }
        // Managers: someone of the same unit with a lower index.
        for i in 1..n {
            let u = self.units[i];
            let candidates: Vec<usize> = (0..i.min(400)).filter(|&j| self.units[j] == u).collect();
            if let Some(&m) = candidates.choose(&mut self.rng) {
                self.people[i].manager_id = Some(self.people[m].user_id.clone());
            }
        }
    }

    pub(super) fn make_docs(&mut self) {
        let kinds: [(&str, Level, usize); 7] = [
            ("brochure", Level::Public, 3),
            ("training", Level::Internal, 4),
            ("manual", Level::Internal, 4),
            ("manual", Level::Confidential, 3),
            ("test-report", Level::Confidential, 4),
            ("spec", Level::Confidential, 4),
            ("design", Level::Secret, 4),
        ];
        let owners: Vec<usize> = (0..self.people.len())
            .filter(|&i| self.people[i].clearance == Level::Secret)
            .collect();
        for (line, (code, what)) in PRODUCT_LINES.iter().enumerate() {
            for (kind, level, count) in kinds {
                for k in 0..count {
                    let project = project_name(line, k % 3);
                    let projects = if level >= Level::Confidential {
                        Projects::Groups(BTreeSet::from([project.clone()]))
                    } else {
                        Projects::Everyone
                    };
                    let owner = owners
                        .iter()
                        .copied()
                        .find(|&i| self.people[i].projects.contains(&project))
                        .or_else(|| owners.first().copied())
                        .map(|i| self.people[i].user_id.clone())
                        .unwrap_or_else(|| "E10000".to_string());
                    let doc_id = format!(
                        "D-{code}-{}-{:02}",
                        kind.to_uppercase().replace('-', ""),
                        self.docs_by_line[line].len()
                    );
                    let medium = if kind == "design" && k == 3 {
                        Medium::Knowledge
                    } else {
                        Medium::File
                    };
                    let title = match (kind, medium) {
                        (_, Medium::Knowledge) => {
                            format!("{code} next-generation development plan (briefed at meetings)")
                        }
                        ("brochure", _) => format!("{code} {what} brochure {}", k + 1),
                        ("training", _) => format!("{code} {what} training course part {}", k + 1),
                        ("manual", _) => format!(
                            "{code} {what} {} manual",
                            if level == Level::Internal {
                                "operator"
                            } else {
                                "service"
                            }
                        ),
                        ("test-report", _) => {
                            format!("{project} reliability test report {}", k + 1)
                        }
                        ("spec", _) => format!("{project} specification rev {}", k + 1),
                        _ => format!("{project} design data package {}", k + 1),
                    };
                    self.docs_by_line[line].push(self.docs.len());
                    self.docs.push(Document {
                        doc_id,
                        title,
                        classification: level,
                        owner_id: owner,
                        projects,
                        kind: kind.to_string(),
                        created: self.cfg.start - Duration::days(self.rng.gen_range(30..2000)),
                        medium,
                    });
                }
            }
        }
    }

    pub(super) fn make_hr(&mut self) {
        let days = i64::from(self.cfg.days.max(1));
        for i in 0..self.people.len() {
            let p = &self.people[i];
            if p.hire_date >= self.cfg.start {
                let ts = self.at(p.hire_date, 9.0);
                self.hr.push(hr(ts, &p.user_id, HrKind::Hire, None));
            }
            if let Some(leave) = p.leave_date {
                let notice =
                    (leave - Duration::days(self.rng.gen_range(14..45))).max(self.cfg.start);
                let user = p.user_id.clone();
                let ts = self.at(notice, 10.0);
                self.hr.push(hr(
                    ts,
                    &user,
                    HrKind::ResignationNotice,
                    Some("personal reasons"),
                ));
                let ts = self.at(leave, 18.0);
                self.hr.push(hr(ts, &user, HrKind::Termination, None));
            }
        }
        // Project transfers: the directory shows the end state.
        let transfers = ((self.people.len() as f64 * self.bg.transfers).round() as usize)
            .max(usize::from(self.bg.transfers > 0.0));
        for _ in 0..transfers {
            let i = self.rng.gen_range(0..self.people.len());
            let u = self.units[i];
            if UNITS[u].lines.is_empty() || self.people[i].projects.is_empty() {
                continue;
            }
            let from = self.people[i].projects.clone();
            let line = UNITS[u].lines[self.rng.gen_range(0..UNITS[u].lines.len())];
            let to: BTreeSet<String> = [project_name(line, self.rng.gen_range(0..3))].into();
            if to == from {
                continue;
            }
            let day = self.cfg.start + Duration::days(self.rng.gen_range(1..days));
            let ts = self.at(day, 9.0);
            self.people[i].projects = to.clone();
            let user = self.people[i].user_id.clone();
            self.hr.push(hr(
                ts,
                &user,
                HrKind::Transfer {
                    from_projects: from,
                    to_projects: to,
                },
                None,
            ));
        }
    }

    pub(super) fn make_contacts(&mut self) {
        if self.people.len() < 10 {
            return;
        }
        let days = i64::from(self.cfg.days.max(1));
        // The handler of the story, and a recruiter working a trade fair.
        // Each report describes them a little differently.
        let names = ["Ivan Petrenko", "Ivan", "I. Petrenko", "Petrenko"];
        let phones = [Some("+81-90-1234-5678"), None, Some("090 1234 5678")];
        let handled = self.plan.handled.clone();
        let mut approaches: Vec<(NaiveDate, Option<usize>)> = Vec::new();
        for (k, (insider, met)) in handled.iter().enumerate() {
            // The insider reports the first, innocent-looking meeting only
            // in some cases; colleagues approached around then report too.
            if k % 2 == 0 {
                approaches.push((*met, Some(*insider)));
            }
            for _ in 0..2 {
                let d = *met + Duration::days(self.rng.gen_range(-20..20));
                approaches.push((d.max(self.cfg.start), None));
            }
        }
        if handled.is_empty() {
            for _ in 0..2 {
                let d = self.cfg.start + Duration::days(self.rng.gen_range(0..days));
                approaches.push((d, None));
            }
        }
        for (r, (met, who)) in approaches.into_iter().enumerate() {
            let i = who.unwrap_or_else(|| {
                let mut i = self.rng.gen_range(0..self.people.len());
                while self.plan.insiders.contains(&i) {
                    i = self.rng.gen_range(0..self.people.len());
                }
                i
            });
            let counterpart = Counterpart {
                claimed_name: Some(names[r % names.len()].to_string()),
                claimed_nationality: (r % 3 != 2).then(|| "Ukrainian".to_string()),
                claimed_affiliation: Some(
                    [
                        "trade mission",
                        "Ukrainian trade office",
                        "embassy trade section",
                    ][r % 3]
                        .to_string(),
                ),
                phone: phones[r % phones.len()].map(str::to_string),
                email: None,
                description: Some(
                    [
                        "tall, about 40, fluent Japanese",
                        "around 40, speaks good Japanese",
                        "",
                    ][r % 3]
                        .to_string(),
                )
                .filter(|d| !d.is_empty()),
            };
            let reporter_is_insider = who.is_some();
            let delay = Duration::days(self.rng.gen_range(1..6));
            self.contacts.push(ContactReport {
                id: format!("C{:04}", self.contacts.len() + 1),
                reported_at: self.at(met + delay, 12.0),
                reporter: self.people[i].user_id.clone(),
                met_on: Some(met),
                place: [
                    "Shinagawa station",
                    "a restaurant in Shinbashi",
                    "Tokyo station",
                ][r % 3]
                    .into(),
                approach: Approach::AskedDirections,
                counterpart,
                meetings: if reporter_is_insider {
                    1
                } else {
                    1 + (r % 2) as u32
                },
                gifts_jpy: if r % 2 == 0 { 0 } else { 8_000 },
                requests: if reporter_is_insider {
                    vec![]
                } else {
                    vec!["brochure".into()]
                },
                narrative: "Asked me for directions, then insisted on dinner to thank me.".into(),
            });
        }
        for r in 0..3 {
            let i = self.rng.gen_range(0..self.people.len());
            let met = self.cfg.start + Duration::days(self.rng.gen_range(0..days));
            self.contacts.push(ContactReport {
                id: format!("C{:04}", self.contacts.len() + 1),
                reported_at: self.at(met + Duration::days(2), 12.0),
                reporter: self.people[i].user_id.clone(),
                met_on: Some(met),
                place: "a trade fair at Tokyo Big Sight".into(),
                approach: Approach::Conference,
                counterpart: Counterpart {
                    claimed_name: Some(if r == 1 { "Alex" } else { "Alex Chen" }.into()),
                    claimed_nationality: Some("Singaporean".into()),
                    claimed_affiliation: Some("consulting firm".into()),
                    phone: None,
                    email: (r != 2).then(|| "alex.chen@consult.example.sg".into()),
                    description: None,
                },
                meetings: 1,
                gifts_jpy: 0,
                requests: vec!["business_card".into()],
                narrative: "Offered paid consulting on our market.".into(),
            });
        }
    }
}
