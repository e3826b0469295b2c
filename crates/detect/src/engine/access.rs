//! What an event shows, by kind: opening documents (scope, need to know,
//! the climb, project peers), sessions, hosts used, mail.

use super::*;

impl Engine {
    /// A first touch, open or refusal, of a register document.
    pub(super) fn doc_access(
        &mut self,
        u: u32,
        e: &Ev<'_>,
        now: i64,
        (warm, settled, unusual): (bool, bool, bool),
        gains: &mut Vec<Gain>,
    ) {
        let d = e.doc;
        let denied = e.kind == Kind::Denied;
        let p = &mut self.people[u as usize];
        let first_time = if denied {
            !p.known_docs.contains(&d) && p.tried_docs.insert(d)
        } else {
            p.known_docs.insert(d)
        };
        // The first copy taken of a document already read is a step of
        // gathering too (read first, printed the evening before).
        let taken = matches!(e.kind, Kind::Print | Kind::Download);
        let first_take = taken && p.taken_docs.insert(d);
        let unit = p.unit;
        if !denied && settled {
            // What each unit reads, repeats included, from settled people.
            let distinct = p.known_docs.len();
            self.docs.note_read(unit, distinct, d);
        }
        let mut local = Vec::new();
        let shares = self.docs.shares(d, &self.people[u as usize].projects);
        if !shares {
            self.foreign_focus(u, d, now, warm, &mut local);
            // Sought, not stumbled on: a confidential or secret document
            // of a project not theirs opened or tried within minutes of a
            // search.
            const SOUGHT_US: i64 = 10 * 60 * 1_000_000;
            let searched = now - self.people[u as usize].last_search <= SOUGHT_US;
            if searched && self.docs.docs[d as usize].level >= Level::Confidential {
                self.observe(u, Feat::Sought, 1.0, now, warm, &mut local);
            }
        }
        if !first_time && !first_take {
            self.name_document(e, d, &mut local);
            gains.append(&mut local);
            return;
        }
        let p = &self.people[u as usize];
        let level = self.docs.docs[d as usize].level;
        let permitted = self.docs.permitted(d, p.clearance, &p.projects);
        let in_scope = self.docs.in_scope(unit, &p.projects, d);
        let outside = !shares || !in_scope;
        // Projects not theirs opened for the first time (usually none).
        let mut new_projects = 0usize;
        if let Some(ps) = self.docs.docs[d as usize]
            .projects
            .as_ref()
            .filter(|_| !shares && !denied)
        {
            let p = &mut self.people[u as usize];
            for x in ps {
                if !p.known_projects.contains(x) {
                    new_projects += 1;
                    if p.known_projects.len() < 64 {
                        p.known_projects.push(*x);
                    }
                }
            }
        }
        if self.traced(u) {
            let line = format!(
                "first {} of {} '{}': {}{}{}",
                verb(e.kind),
                level.as_str(),
                self.docs.docs[d as usize].title,
                if permitted {
                    "permitted"
                } else {
                    "not permitted"
                },
                if outside { ", outside their scope" } else { "" },
                if unusual { ", at an unusual hour" } else { "" }
            );
            self.note(now, line);
        }
        if !first_time {
            // A first copy of a document read before: only the taking.
        } else if denied {
            self.observe(u, Feat::Refused, 1.0, now, warm, &mut local);
        } else {
            self.observe(u, Feat::NewDocs, 1.0, now, warm, &mut local);
            if !permitted {
                let exposed = self.docs.is_exposed(d);
                self.docs.note_violation(d, u, now);
                if exposed {
                    // Background: the folder is open to many; judged as
                    // outside reading against the person's own rate.
                    self.observe(u, Feat::OutsideHigh, 1.0, now, warm, &mut local);
                } else {
                    self.observe(u, Feat::NeedToKnow, 1.0, now, warm, &mut local);
                }
            } else if outside {
                let f = if level >= Level::Confidential {
                    Feat::OutsideHigh
                } else {
                    Feat::OutsideLow
                };
                self.observe(u, f, 1.0, now, warm, &mut local);
            }
            if new_projects > 0 {
                self.observe(u, Feat::NewProjects, 1.0, now, warm, &mut local);
            }
        }
        // A first copy taken outside the scope (on first sight or later).
        if outside && first_take {
            self.observe(u, Feat::OutsideTaken, 1.0, now, warm, &mut local);
            if unusual {
                // The story: printed the evening before a meeting.
                self.observe(u, Feat::OutsideEvening, 1.0, now, warm, &mut local);
            }
        }
        self.name_document(e, d, &mut local);
        gains.append(&mut local);
        // The climb: outside the scope or at an hour the person rarely
        // works, taken (printed or downloaded) or tried; a curious glance
        // is not a step.
        if (outside || unusual) && warm && (taken || denied) {
            let day = self.people[u as usize].day as i32;
            let lvl = level as u8;
            let minute = now.div_euclid(60_000_000);
            if let Some(t) = self.people[u as usize].climb.push(minute, day, lvl) {
                let hl = self.half_life_us;
                let p = &mut self.people[u as usize];
                let credited = p.climb_credit.value(now, hl);
                let s = t
                    .surprise
                    .min(self.cfg.surprise_floor + self.cfg.surprise_cap);
                let new = s - self.cfg.surprise_floor - credited;
                if new > 0.0 {
                    p.climb_credit = Credit {
                        nats: (credited + new) as f32,
                        at: now,
                    };
                    const LEVELS: [&str; 4] = ["public", "internal", "confidential", "secret"];
                    gains.push(Gain {
                        ind: Ind::Escalation,
                        points: self.cfg.climb_weight * new,
                        detail: format!(
                            "climbing outside their scope: {} to {} over {} days ({} touches on {} days{}; z = {:.1}, {})",
                            LEVELS[t.from as usize],
                            LEVELS[t.to as usize],
                            t.span_days.max(1),
                            t.touches,
                            t.days,
                            if t.sittings { ", a few at a sitting" } else { "" },
                            t.z,
                            one_in(t.surprise)
                        ),
                    });
                }
            }
        }
    }

    /// Returning to the same project not theirs, day after day, is
    /// targeting, not curiosity: each day a project is touched (repeat
    /// opens and refusals included) counts once, when the project was
    /// touched before within about a month.
    pub(super) fn foreign_focus(
        &mut self,
        u: u32,
        d: u32,
        now: i64,
        warm: bool,
        gains: &mut Vec<Gain>,
    ) {
        let Some(projects) = &self.docs.docs[d as usize].projects else {
            return;
        };
        let p = &mut self.people[u as usize];
        let day = p.day;
        let mut focus = false;
        for &x in projects {
            let fade = |c: f32, last: i64| c * 0.5f32.powf((day - last) as f32 / 30.0);
            if let Some(e) = p.foreign.iter_mut().find(|e| e.0 == x) {
                if e.2 == day {
                    continue;
                }
                let c = fade(e.1, e.2);
                focus |= c >= 0.9;
                *e = (x, c + 1.0, day);
            } else {
                if p.foreign.len() >= 16 {
                    if let Some(i) = (0..p.foreign.len()).min_by_key(|&i| p.foreign[i].2) {
                        p.foreign.swap_remove(i);
                    }
                }
                p.foreign.push((x, 1.0, day));
            }
        }
        if focus {
            self.observe(u, Feat::ForeignFocus, 1.0, now, warm, gains);
        }
        if self.judging {
            self.project_peers(u, d, now, warm, gains);
        }
    }

    /// The person's month of returning to a project not theirs against
    /// everyone else outside that project (without them): a gamma prior
    /// from the others' counts, less their counting noise, judged by its
    /// predictive; the look costs the log of the number of projects.
    pub(super) fn project_peers(
        &mut self,
        u: u32,
        d: u32,
        now: i64,
        warm: bool,
        gains: &mut Vec<Gain>,
    ) {
        let Some(projects) = &self.docs.docs[d as usize].projects else {
            return;
        };
        let p = &self.people[u as usize];
        let mut best: Option<(f64, u32, f64, f64)> = None;
        for &x in projects {
            let Some(&(_, c, _)) = p.foreign.iter().find(|e| e.0 == x) else {
                continue;
            };
            let Some(&(sum, sum_sq, n)) = self.project_touch.get(x as usize) else {
                continue;
            };
            let c = f64::from(c);
            // Without them (their count before today's touch).
            let own = (c - 1.0).max(0.0);
            let n = n - 1.0;
            if n < MIN_OUTSIDERS || c < 3.0 {
                continue;
            }
            let mean = ((sum - own).max(0.0) / n).max(1e-3);
            let var =
                ((sum_sq - own * own).max(0.0) / n - mean * mean - mean).max(0.25 * mean * mean);
            let shape = mean * mean / var;
            if c <= 3.0 * mean {
                continue;
            }
            let s = crate::tail::nb_surprise(c.floor(), mean, shape);
            if best.is_none_or(|b| s > b.0) {
                best = Some((s, x, c, mean));
            }
        }
        let Some((s, x, c, mean)) = best else { return };
        let cost = (self.project_names.len().max(2) as f64).ln();
        let s = (s - cost).min(self.cfg.surprise_floor + self.cfg.surprise_cap);
        let hl = self.half_life_us;
        let p = &mut self.people[u as usize];
        let credited = p.project_credit.value(now, hl);
        let new = s - self.cfg.surprise_floor - credited;
        if new <= 0.0 || !warm {
            return;
        }
        p.project_credit = Credit {
            nats: (credited + new) as f32,
            at: now,
        };
        gains.push(Gain {
            ind: Ind::AbovePeers,
            points: self.weights[Feat::ForeignFocus as usize] * new,
            detail: format!(
                "returned to {} (not their project) on {:.0} days this month; others outside it: {:.2} ({})",
                self.project_names[x as usize],
                c,
                mean,
                one_in(s + cost)
            ),
        });
    }

    /// Names the document in what was found about it.
    pub(super) fn name_document(&self, e: &Ev<'_>, d: u32, gains: &mut [Gain]) {
        let doc = &self.docs.docs[d as usize];
        for g in gains {
            if matches!(g.ind, Ind::OutOfScope | Ind::NeedToKnow | Ind::Refusals) {
                g.detail = format!(
                    "{} {} '{}'; {}",
                    verb(e.kind),
                    doc.level.as_str(),
                    doc.title,
                    g.detail
                );
            }
        }
    }

    /// Whether an event of `f` at `now` starts a new session (none of the
    /// same within the last quarter of an hour).
    pub(super) fn new_session(&mut self, u: u32, f: Feat, now: i64) -> bool {
        const SESSION_US: i64 = 15 * 60 * 1_000_000;
        let slot = match f {
            Feat::UsbWrites => 0,
            Feat::WebJob => 1,
            Feat::WebHacking => 2,
            Feat::WebLeak => 3,
            _ => 4,
        };
        let p = &mut self.people[u as usize];
        let last = std::mem::replace(&mut p.sessions[slot], now);
        now - last > SESSION_US
    }

    /// A logon or a device on a computer: whose is it?
    pub(super) fn host_use(
        &mut self,
        u: u32,
        host: &str,
        now: i64,
        warm: bool,
        gains: &mut Vec<Gain>,
    ) {
        if host.is_empty() {
            return;
        }
        let h = hash_str(host);
        let owner = self.hosts.get(&h).and_then(HostUsers::owner);
        let p = &mut self.people[u as usize];
        let own = p.hosts.iter().find(|x| x.0 == h).map_or(0, |x| x.1);
        let manager = p.manager;
        let new_today = own < 2 && !p.hosts_today.contains(&h);
        if new_today && p.hosts_today.len() < 64 {
            p.hosts_today.push(h);
        }
        if let Some(x) = p.hosts.iter_mut().find(|x| x.0 == h) {
            x.1 += 1;
        } else if p.hosts.len() < MAX_HOSTS {
            p.hosts.push((h, 1));
        } else if let Some(x) = p.hosts.iter_mut().min_by_key(|x| x.1) {
            *x = (h, 1);
        }
        self.hosts.entry(h).or_default().note(u);
        if !new_today {
            return;
        }
        let mut local = Vec::new();
        self.observe(u, Feat::OtherHosts, 1.0, now, warm, &mut local);
        if let Some(o) = owner.filter(|&o| o != u) {
            self.observe(u, Feat::OwnedHosts, 1.0, now, warm, &mut local);
            if o == manager {
                self.observe(u, Feat::ManagerHost, 1.0, now, warm, &mut local);
            }
            for g in &mut local {
                if g.ind == Ind::OtherHost {
                    g.detail = format!(
                        "{host}, usually {}'s computer{}; {}",
                        self.person_ids[o as usize],
                        if o == manager { " (their manager)" } else { "" },
                        g.detail
                    );
                }
            }
        }
        gains.append(&mut local);
    }

    pub(super) fn mail(&mut self, u: u32, e: &Ev<'_>, now: i64, warm: bool, gains: &mut Vec<Gain>) {
        let personal = self.web.is_personal(e.domain);
        let level = (e.doc != NONE && (e.doc as usize) < self.docs.docs.len())
            .then(|| self.docs.docs[e.doc as usize].level);
        let recipients = e.recipients.clamp(1, 100_000) as f32;
        self.observe(u, Feat::Recipients, recipients, now, warm, gains);
        if !e.from_domain.is_empty() {
            self.observe(u, Feat::FromPersonal, 1.0, now, warm, gains);
        }
        if e.external && e.attachments > 0 {
            let mb = (e.bytes as f64 / 1e6) as f32;
            self.observe(u, Feat::MailOutMegabytes, mb, now, warm, gains);
        }
        if personal {
            self.observe(u, Feat::MailPersonal, 1.0, now, warm, gains);
            if let Some(l) = level.filter(|_| e.attachments > 0) {
                self.observe(u, Feat::DocsOut, level_units(l), now, warm, gains);
            }
        } else if e.external {
            let h = hash_str(&e.domain.to_ascii_lowercase());
            let p = &mut self.people[u as usize];
            if p.domains.len() < MAX_DOMAINS && p.domains.insert(h) {
                self.observe(u, Feat::NewDomains, 1.0, now, warm, gains);
            }
            if let Some(l) = level.filter(|l| *l >= Level::Confidential) {
                self.observe(u, Feat::DocsExternal, level_units(l), now, warm, gains);
            }
        }
    }
}
