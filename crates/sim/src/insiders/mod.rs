//! Planted insiders, the honest people who make naive rules fire, and the
//! ground truth that scores a detector against them.
//!
//! Insiders act on top of their ordinary working days (which go on as
//! before): their misdeeds are extra events. Each gets a truth record with
//! the time of the first misdeed; the escalation case also records when it
//! first reached development data, so a scorecard can say whether it was
//! caught before.
//!
//! The kinds ([`INSIDER_KINDS`]), one of each per thousand people:
//! - `escalation`: the story this product exists for; an engineer groomed by
//!   a handler climbs from other lines' brochures to their manuals to
//!   development data, a few items printed the evening before each meeting.
//! - `bulk-download-before-leaving`, `printing-before-leaving`: a leaver
//!   takes their work with them in one go.
//! - `need-to-know-snooping`: reads and tries confidential documents of
//!   projects not theirs, a few a week.
//! - `drip-email`: mails one document at a time to a personal address.
//! - The three scenarios of the CERT r4.2 release notes, as their public
//!   descriptions tell them: `leak-site-after-hours` (someone who never
//!   used removable media or worked late starts logging on after hours,
//!   using a thumb drive and uploading to a leak site, then leaves),
//!   `job-hunt-then-usb` (surfs job sites and solicits a competitor, then
//!   copies to a thumb drive at far higher rates than before leaving),
//!   `sysadmin-keylogger` (an IT administrator fetches a keylogger, carries
//!   it to the supervisor's PC on a thumb drive, the next day logs on there
//!   and sends a mass mail, and leaves).

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate};
use rand::seq::SliceRandom;
use rand::Rng;
use serde::Serialize;

use custodian_core::{Action, Event, HrKind, Level, Medium};

use super::{
    hr, is_holiday, own_pc, Sim, ADMIN_UNIT, CLOUD, CORP_DOMAIN, HACKING_SITES, JOB_SITES,
    PERSONAL_MAIL, UNITS,
};

mod cert;

/// Every kind of planted insider, in the order they are planted.
pub const INSIDER_KINDS: [&str; 8] = [
    "escalation",
    "bulk-download-before-leaving",
    "printing-before-leaving",
    "need-to-know-snooping",
    "drip-email",
    "leak-site-after-hours",
    "job-hunt-then-usb",
    "sysadmin-keylogger",
];

/// One line of the ground-truth file.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Truth {
    pub user: String,
    /// `true` for a planted insider; `false` for an honest person planted to
    /// make naive rules fire (kept for analysis; they must not be alerted).
    pub insider: bool,
    pub kind: String,
    /// The first misdeed (insiders) or the start of the confusing behaviour.
    pub first_misdeed: DateTime<FixedOffset>,
    /// Escalation only: when development data was first reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub development_data_at: Option<DateTime<FixedOffset>>,
    pub note: String,
}

impl Truth {
    /// The same record with its times' wall-clock reading labelled UTC (the
    /// CERT layout writes local times without an offset).
    pub fn as_wall_clock_utc(&self) -> Truth {
        let utc = |t: DateTime<FixedOffset>| {
            t.naive_local()
                .and_utc()
                .with_timezone(&FixedOffset::east_opt(0).unwrap_or(*t.offset()))
        };
        Truth {
            first_misdeed: utc(self.first_misdeed),
            development_data_at: self.development_data_at.map(utc),
            ..self.clone()
        }
    }
}

/// What the simulator plans beyond ordinary days.
#[derive(Default)]
pub(crate) struct Plan {
    pub events: Vec<Event>,
    pub truth: Vec<Truth>,
    /// Units in release crunch, and when.
    pub crunch: Vec<(usize, NaiveDate, NaiveDate)>,
    /// Escalation insiders and the day their handler first met them.
    pub handled: Vec<(usize, NaiveDate)>,
    pub insiders: BTreeSet<usize>,
}

impl Sim {
    fn last_workday_before(&self, day: NaiveDate) -> NaiveDate {
        let mut d = day - Duration::days(1);
        while is_holiday(d) && d > self.cfg.start {
            d -= Duration::days(1);
        }
        d
    }

    fn plan_event(&mut self, user: usize, ts: DateTime<FixedOffset>, action: Action) -> Event {
        let host = own_pc(&self.people[user].user_id);
        self.plan_event_on(user, ts, &host, action)
    }

    fn plan_event_on(
        &mut self,
        user: usize,
        ts: DateTime<FixedOffset>,
        host: &str,
        action: Action,
    ) -> Event {
        let id = self.id();
        Event {
            id,
            ts,
            host: Some(host.to_string()),
            user: self.people[user].user_id.clone(),
            action,
            extra: Default::default(),
        }
    }

    /// Plans `action` for `user` on `day` at `hours` (on `host`, or their
    /// own PC), returning its time.
    fn plan_at(
        &mut self,
        user: usize,
        day: NaiveDate,
        hours: f64,
        host: Option<&str>,
        action: Action,
    ) -> DateTime<FixedOffset> {
        let ts = self.at(day, hours);
        let host = host.map_or_else(|| own_pc(&self.people[user].user_id), str::to_string);
        let e = self.plan_event_on(user, ts, &host, action);
        self.plan.events.push(e);
        ts
    }

    /// Sets a leave date the directory did not have, with its termination.
    fn set_leaving(&mut self, i: usize, leave: NaiveDate) {
        self.people[i].leave_date = Some(leave);
        let ts = self.at(leave, 18.0);
        let user = self.people[i].user_id.clone();
        self.hr.push(hr(ts, &user, HrKind::Termination, None));
    }

    fn next_workday(&self, mut d: NaiveDate) -> NaiveDate {
        while is_holiday(d) {
            d += Duration::days(1);
        }
        d
    }

    /// Documents of a product line at `level` (and optionally of a kind).
    fn line_docs(&self, line: usize, levels: &[Level], kinds: &[&str]) -> Vec<usize> {
        self.docs_by_line[line]
            .iter()
            .copied()
            .filter(|&d| {
                let doc = &self.docs[d];
                doc.medium == Medium::File
                    && levels.contains(&doc.classification)
                    && (kinds.is_empty() || kinds.contains(&doc.kind.as_str()))
            })
            .collect()
    }

    fn candidates(&self, used: &BTreeSet<usize>, ok: impl Fn(usize) -> bool) -> Vec<usize> {
        let transferred: BTreeSet<&str> = self
            .hr
            .iter()
            .filter(|h| matches!(h.kind, HrKind::Transfer { .. } | HrKind::Hire))
            .map(|h| h.user.as_str())
            .collect();
        (0..self.people.len())
            .filter(|i| !used.contains(i))
            .filter(|&i| !transferred.contains(self.people[i].user_id.as_str()))
            .filter(|&i| ok(i))
            .collect()
    }

    pub(crate) fn make_plan(&mut self) {
        let n = self.people.len();
        let days = i64::from(self.cfg.days);
        if n < 20 || days < 20 {
            return;
        }
        let start = self.cfg.start;
        let end = start + Duration::days(days);
        let per_kind = n.div_ceil(1000);
        let mut used = BTreeSet::new();

        // The story: an engineer climbing from other lines' brochures to
        // their manuals to development data, a few items before each meeting.
        for _ in 0..per_kind {
            let cands = self.candidates(&used, |i| {
                let u = self.units[i];
                [0, 1, 2, 3, 5].contains(&u)
                    && self.people[i].leave_date.is_none()
                    && self.people[i].clearance >= Level::Internal
                    && UNITS[u].lines.len() < 6
            });
            let Some(&i) = cands.choose(&mut self.rng) else {
                break;
            };
            used.insert(i);
            self.plan_escalation(i, end);
        }
        // Leavers who take a bulk download or a pile of prints with them.
        for kind in ["bulk-download-before-leaving", "printing-before-leaving"] {
            for _ in 0..per_kind {
                let cands = self.candidates(&used, |i| {
                    self.people[i].leave_date.is_some_and(|l| {
                        l > start + Duration::days(20) && !self.scope[i].is_empty()
                    }) && self.units[i] != ADMIN_UNIT
                });
                let Some(&i) = cands.choose(&mut self.rng) else {
                    break;
                };
                used.insert(i);
                self.plan_leaver(i, kind);
            }
        }
        for _ in 0..per_kind {
            let cands = self.candidates(&used, |i| {
                self.people[i].clearance >= Level::Confidential
                    && self.people[i].leave_date.is_none()
                    && !UNITS[self.units[i]].lines.is_empty()
            });
            let Some(&i) = cands.choose(&mut self.rng) else {
                break;
            };
            used.insert(i);
            self.plan_snooping(i, end);
        }
        for _ in 0..per_kind {
            let cands = self.candidates(&used, |i| {
                self.people[i].leave_date.is_none() && !UNITS[self.units[i]].lines.is_empty()
            });
            let Some(&i) = cands.choose(&mut self.rng) else {
                break;
            };
            used.insert(i);
            self.plan_drip(i, end);
        }
        // The CERT r4.2 scenarios.
        for _ in 0..per_kind {
            let cands = self.candidates(&used, |i| {
                self.people[i].leave_date.is_none()
                    && self.habits[i].usb_rate == 0.0
                    && self.habits[i].evening_rate == 0.0
                    && self.habits[i].weekend_rate < 0.05
                    && !self.traits[i].usb_manuals
            });
            let Some(&i) = cands.choose(&mut self.rng) else {
                break;
            };
            used.insert(i);
            self.plan_leak_site(i);
        }
        for _ in 0..per_kind {
            // Half of them already used a thumb drive now and then.
            let with_usb = self.rng.gen_bool(0.5);
            let cands = self.candidates(&used, |i| {
                self.people[i].leave_date.is_none() && (self.habits[i].usb_rate > 0.0) == with_usb
            });
            let cands = if cands.is_empty() {
                self.candidates(&used, |i| self.people[i].leave_date.is_none())
            } else {
                cands
            };
            let Some(&i) = cands.choose(&mut self.rng) else {
                break;
            };
            used.insert(i);
            self.plan_job_hunt(i);
        }
        for _ in 0..per_kind {
            let cands = self.candidates(&used, |i| {
                self.people[i].role == "it-admin"
                    && self.people[i].leave_date.is_none()
                    && self.people[i].manager_id.is_some()
            });
            let Some(&i) = cands.choose(&mut self.rng) else {
                break;
            };
            used.insert(i);
            self.plan_keylogger(i);
        }
        self.plan.insiders = used.clone();

        // Honest people who look odd to a naive rule.
        let rd_units = [0usize, 1, 2, 3, 5];
        for c in 0..self.bg.crunches {
            let unit = rd_units[(self.rng.gen_range(0..rd_units.len()) + c) % rd_units.len()];
            let from = start + Duration::days(self.rng.gen_range(days / 3..days * 2 / 3));
            self.plan
                .crunch
                .push((unit, from, from + Duration::days(12)));
            for i in 0..n {
                if self.units[i] == unit && !used.contains(&i) {
                    self.plan.truth.push(Truth {
                        user: self.people[i].user_id.clone(),
                        insider: false,
                        kind: "release-crunch".into(),
                        first_misdeed: self.at(from, 9.0),
                        development_data_at: None,
                        note: format!(
                            "{} works late and on weekends for a release",
                            UNITS[unit].name
                        ),
                    });
                    break;
                }
            }
        }
    }

    fn plan_escalation(&mut self, i: usize, end: NaiveDate) {
        let days = i64::from(self.cfg.days);
        let start = self.cfg.start;
        let own: Vec<usize> = UNITS[self.units[i]].lines.to_vec();
        let mut others: Vec<usize> = (0..6).filter(|l| !own.contains(l)).collect();
        others.shuffle(&mut self.rng);
        others.truncate(2);
        let first = start + Duration::days(self.rng.gen_range(5..(days / 5).max(6)));
        let room = (end - first).num_days() - 3;
        let gap_hi = (room / 8).clamp(7, 28);
        let gap_lo = (gap_hi * 2 / 3).max(5);
        let met = first - Duration::days(self.rng.gen_range(3..10));
        self.plan.handled.push((i, met.max(start)));
        let mut meeting = first;
        let mut k = 0;
        let mut first_misdeed = None;
        let mut dev_at = None;
        let clearance = self.people[i].clearance;
        while meeting < end - Duration::days(1) {
            let evening = self.last_workday_before(meeting);
            let line = others[k % others.len()];
            let mut t = 18.0 + self.rng.gen_range(0.3..2.0);
            let user = i;
            let push = |sim: &mut Sim, t: &mut f64, a: Action| {
                *t += sim.rng.gen_range(0.02..0.15);
                let ts = sim.at(evening, *t);
                let e = sim.plan_event(user, ts, a);
                sim.plan.events.push(e);
                ts
            };
            push(self, &mut t, Action::Logon);
            let (levels, kinds): (Vec<Level>, Vec<&str>) = match k {
                0 | 1 => (vec![Level::Public], vec![]),
                2..=4 => (vec![Level::Internal], vec!["training", "manual"]),
                _ => (
                    vec![Level::Confidential, Level::Secret],
                    vec!["spec", "design"],
                ),
            };
            let mut pool = self.line_docs(line, &levels, &kinds);
            pool.shuffle(&mut self.rng);
            let take = self.rng.gen_range(2..=4).min(pool.len());
            if k >= 5 {
                let code = self.docs[self.docs_by_line[line][0]].doc_id[2..4].to_string();
                let q =
                    ["design data", "specification", "next generation"][self.rng.gen_range(0..3)];
                push(
                    self,
                    &mut t,
                    Action::DocSearch {
                        query: format!("{code} {q}"),
                    },
                );
            }
            for &d in pool.iter().take(take) {
                let doc = self.docs[d].clone();
                let allowed = doc.classification <= clearance
                    && (!doc.classification.needs_need_to_know()
                        || doc.projects.shares_with(&self.people[i].projects));
                // From the seventh meeting on, one item gets through (a
                // mis-set permission on the DMS): development data reached.
                let leak = k >= 6 && dev_at.is_none() && doc.classification >= Level::Confidential;
                let action = if !allowed && !leak {
                    Action::DocDenied { doc: doc.doc_id }
                } else if self.rng.gen_bool(0.75) {
                    Action::DocPrint {
                        doc: doc.doc_id,
                        pages: self.rng.gen_range(4..40),
                    }
                } else {
                    Action::DocDownload {
                        doc: doc.doc_id,
                        bytes: Some(self.rng.gen_range(200_000..6_000_000)),
                    }
                };
                let ts = push(self, &mut t, action);
                first_misdeed.get_or_insert(ts);
                if leak {
                    dev_at = Some(ts);
                }
            }
            push(self, &mut t, Action::Logoff);
            k += 1;
            meeting += Duration::days(self.rng.gen_range(gap_lo..=gap_hi));
        }
        if let Some(fm) = first_misdeed {
            self.plan.truth.push(Truth {
                user: self.people[i].user_id.clone(),
                insider: true,
                kind: "escalation".into(),
                first_misdeed: fm,
                development_data_at: dev_at,
                note: format!(
                    "{k} meetings with a handler; brochures, then manuals, then development data of other product lines, printed the evening before"
                ),
            });
        }
    }

    fn plan_leaver(&mut self, i: usize, kind: &str) {
        let Some(leave) = self.people[i].leave_date else {
            return;
        };
        let notice = self
            .hr
            .iter()
            .find(|h| h.user == self.people[i].user_id && h.kind == HrKind::ResignationNotice)
            .map(|h| h.ts.date_naive())
            .unwrap_or(leave - Duration::days(14));
        let span = (leave - notice).num_days().max(3);
        let mut day = notice + Duration::days(self.rng.gen_range(1..span - 1));
        while is_holiday(day) && day < leave {
            day += Duration::days(1);
        }
        let mut scope = self.scope[i].clone();
        scope.sort_by_key(|&d| std::cmp::Reverse(self.docs[d].classification));
        let mut first = None;
        if kind == "bulk-download-before-leaving" {
            let mut t = 12.0 + self.rng.gen_range(0.0..5.0);
            let n = self.rng.gen_range(40..90);
            let mut total = 0u64;
            for k in 0..n {
                let d = scope[k % scope.len()];
                t += self.rng.gen_range(0.005..0.03);
                let bytes = self.rng.gen_range(300_000..9_000_000);
                total += bytes;
                let a = Action::DocDownload {
                    doc: self.docs[d].doc_id.clone(),
                    bytes: Some(bytes),
                };
                let ts = self.at(day, t);
                let e = self.plan_event(i, ts, a);
                first.get_or_insert(ts);
                self.plan.events.push(e);
            }
            t += self.rng.gen_range(0.2..1.5);
            let a = if self.rng.gen_bool(0.5) {
                Action::UsbWrite {
                    bytes: total,
                    files: n as u64,
                    doc: None,
                }
            } else {
                Action::WebUpload {
                    domain: CLOUD[self.rng.gen_range(0..CLOUD.len())].into(),
                    bytes: total,
                    doc: None,
                }
            };
            let ts = self.at(day, t);
            let e = self.plan_event(i, ts, a);
            self.plan.events.push(e);
        } else {
            for _ in 0..self.rng.gen_range(2..4) {
                let mut t = 18.5 + self.rng.gen_range(0.0..1.5);
                for _ in 0..self.rng.gen_range(6..12) {
                    let d = scope[self.rng.gen_range(0..scope.len().min(12))];
                    t += self.rng.gen_range(0.02..0.1);
                    let a = Action::DocPrint {
                        doc: self.docs[d].doc_id.clone(),
                        pages: self.rng.gen_range(10..80),
                    };
                    let ts = self.at(day, t);
                    let e = self.plan_event(i, ts, a);
                    first.get_or_insert(ts);
                    self.plan.events.push(e);
                }
                day += Duration::days(1);
                while is_holiday(day) {
                    day += Duration::days(1);
                }
                if day >= leave {
                    break;
                }
            }
        }
        if let Some(fm) = first {
            self.plan.truth.push(Truth {
                user: self.people[i].user_id.clone(),
                insider: true,
                kind: kind.into(),
                first_misdeed: fm,
                development_data_at: None,
                note: format!("resigned, leaves {leave}"),
            });
        }
    }

    /// Snooping on a project not theirs: its confidential and secret
    /// documents, searched for and opened (or tried) a few at a time every
    /// few days, some downloaded; and now and then another project's.
    fn plan_snooping(&mut self, i: usize, end: NaiveDate) {
        let days = i64::from(self.cfg.days);
        let mut day = self.cfg.start + Duration::days(self.rng.gen_range(10..(days / 2).max(11)));
        let p = self.people[i].clone();
        let foreign: Vec<usize> = (0..self.docs.len())
            .filter(|&d| {
                let doc = &self.docs[d];
                doc.classification >= Level::Confidential
                    && doc.medium == Medium::File
                    && !doc.projects.shares_with(&p.projects)
            })
            .collect();
        // The target: one or two projects, by their documents.
        let mut projects: Vec<String> = foreign
            .iter()
            .filter_map(|&d| match &self.docs[d].projects {
                custodian_core::Projects::Groups(g) => g.iter().next().cloned(),
                custodian_core::Projects::Everyone => None,
            })
            .collect();
        projects.sort();
        projects.dedup();
        projects.shuffle(&mut self.rng);
        projects.truncate(self.rng.gen_range(1..3));
        let target: Vec<usize> = foreign
            .iter()
            .copied()
            .filter(|&d| match &self.docs[d].projects {
                custodian_core::Projects::Groups(g) => g.iter().any(|x| projects.contains(x)),
                custodian_core::Projects::Everyone => false,
            })
            .collect();
        let mut first = None;
        while day < end {
            if !is_holiday(day) {
                let mut t = self.rng.gen_range(10.0..17.0);
                for _ in 0..self.rng.gen_range(1..4) {
                    let pool = if self.rng.gen_bool(0.8) {
                        &target
                    } else {
                        &foreign
                    };
                    let Some(&d) = pool.choose(&mut self.rng) else {
                        return;
                    };
                    let doc = self.docs[d].clone();
                    t += self.rng.gen_range(0.05..0.5);
                    let q = doc.title.split(' ').take(2).collect::<Vec<_>>().join(" ");
                    let ts = self.at(day, t);
                    let e = self.plan_event(i, ts, Action::DocSearch { query: q });
                    self.plan.events.push(e);
                    t += 0.01;
                    let a = if doc.classification > p.clearance || self.rng.gen_bool(0.4) {
                        Action::DocDenied { doc: doc.doc_id }
                    } else if self.rng.gen_bool(0.3) {
                        Action::DocDownload {
                            doc: doc.doc_id,
                            bytes: Some(self.rng.gen_range(100_000..4_000_000)),
                        }
                    } else {
                        Action::DocView {
                            doc: doc.doc_id,
                            bytes: Some(self.rng.gen_range(100_000..4_000_000)),
                        }
                    };
                    let ts = self.at(day, t);
                    let e = self.plan_event(i, ts, a);
                    first.get_or_insert(ts);
                    self.plan.events.push(e);
                }
            }
            day += Duration::days(self.rng.gen_range(2..7));
        }
        if let Some(fm) = first {
            self.plan.truth.push(Truth {
                user: p.user_id,
                insider: true,
                kind: "need-to-know-snooping".into(),
                first_misdeed: fm,
                development_data_at: None,
                note: format!(
                    "reads and tries confidential and secret documents of {} (not theirs)",
                    projects.join(" and ")
                ),
            });
        }
    }

    fn plan_drip(&mut self, i: usize, end: NaiveDate) {
        let days = i64::from(self.cfg.days);
        let mut day = self.cfg.start + Duration::days(self.rng.gen_range(10..(days / 2).max(11)));
        let mut scope = self.scope[i].clone();
        scope.retain(|&d| self.docs[d].classification >= Level::Internal);
        if scope.is_empty() {
            return;
        }
        let domain = PERSONAL_MAIL[self.rng.gen_range(0..PERSONAL_MAIL.len())];
        let mut first = None;
        while day < end {
            if !is_holiday(day) {
                let d = scope[self.rng.gen_range(0..scope.len())];
                let doc = self.docs[d].doc_id.clone();
                let mut t = if self.rng.gen_bool(0.5) {
                    self.rng.gen_range(12.0..13.0)
                } else {
                    self.rng.gen_range(17.5..19.5)
                };
                let bytes = self.rng.gen_range(400_000..5_000_000);
                let ts = self.at(day, t);
                let e = self.plan_event(
                    i,
                    ts,
                    Action::DocDownload {
                        doc: doc.clone(),
                        bytes: Some(bytes),
                    },
                );
                self.plan.events.push(e);
                t += self.rng.gen_range(0.05..0.3);
                let ts = self.at(day, t);
                let e = self.plan_event(
                    i,
                    ts,
                    Action::EmailSend {
                        to_domain: domain.into(),
                        external: true,
                        bytes: bytes + 20_000,
                        attachments: 1,
                        doc: Some(doc),
                        from_domain: None,
                        recipients: Some(1),
                    },
                );
                first.get_or_insert(ts);
                self.plan.events.push(e);
            }
            day += Duration::days(self.rng.gen_range(3..8));
        }
        if let Some(fm) = first {
            self.plan.truth.push(Truth {
                user: self.people[i].user_id.clone(),
                insider: true,
                kind: "drip-email".into(),
                first_misdeed: fm,
                development_data_at: None,
                note: format!("mails one document at a time to {domain}"),
            });
        }
    }
}
