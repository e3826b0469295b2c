//! Ordinary working days: what every employee does, insiders included
//! (their misdeeds come on top, from `insiders`).
//!
//! Rules:
//! - A person works on a working day with 96 % probability and on a
//!   holiday with their own weekend rate (half of everyone in a crunch).
//! - Reading follows the person's scope (their unit's product lines, the
//!   documents the policy lets them open); new hires also read the general
//!   material, leavers hand their work over (more downloads and mail).
//! - Every knob of the [`crate::Background`] acts here: curiosity outside
//!   the scope (refused unless the permissions are loose), refusals, mail
//!   to oneself at home (sometimes with a document), USB (with the device
//!   connected first, as PnP logs show it), manuals to USB at customer
//!   sites, evening and weekend sessions, job sites, logons to other PCs,
//!   mail from a personal account, mass mail from administration.

use chrono::{Duration, NaiveDate};
use rand::seq::SliceRandom;
use rand::Rng;

use custodian_core::{Action, Event, Level};

use super::{
    is_holiday, own_pc, poisson, Sim, ADMIN_UNIT, CLOUD, CORP_DOMAIN, CUSTOMERS, JOB_SITES, UNITS,
    WEB,
};

/// Where one person's events of a day go.
struct Day<'o> {
    out: &'o mut Vec<Event>,
    day: NaiveDate,
    user: String,
    host: String,
}

impl Sim {
    fn emit(&mut self, d: &mut Day<'_>, at: f64, host: Option<&str>, action: Action) {
        let id = self.id();
        let ts = self.at(d.day, at);
        d.out.push(Event {
            id,
            ts,
            user: d.user.clone(),
            host: Some(host.unwrap_or(&d.host).to_string()),
            action,
            extra: Default::default(),
        });
    }

    /// A document event at `at`: printed, downloaded or viewed by the
    /// person's habits (`keep` scales printing and downloading).
    fn open_doc(&mut self, d: &mut Day<'_>, i: usize, doc: usize, at: f64, keep: f64) {
        let doc_id = self.docs[doc].doc_id.clone();
        if self.rng.gen_bool(0.15) {
            let q = self.docs[doc]
                .title
                .split(' ')
                .take(2)
                .collect::<Vec<_>>()
                .join(" ");
            self.emit(d, at - 0.01, None, Action::DocSearch { query: q });
        }
        let h = &self.habits[i];
        let (print_rate, dl_rate) = (h.print_rate * keep, h.download_rate * keep);
        let bytes = Some(self.rng.gen_range(50_000..8_000_000));
        let roll: f64 = self.rng.gen();
        let action = if roll < print_rate {
            Action::DocPrint {
                doc: doc_id,
                pages: self.rng.gen_range(1..40),
            }
        } else if roll < print_rate + dl_rate {
            Action::DocDownload { doc: doc_id, bytes }
        } else {
            Action::DocView { doc: doc_id, bytes }
        };
        self.emit(d, at, None, action);
    }

    fn usb_session(&mut self, d: &mut Day<'_>, at: f64, doc: Option<String>) {
        let (bytes, files) = (
            self.rng.gen_range(1_000_000..300_000_000),
            self.rng.gen_range(1..20),
        );
        let device = |name: &str| Action::Other { name: name.into() };
        self.emit(d, at, None, device("device.connect"));
        self.emit(d, at + 0.01, None, Action::UsbWrite { bytes, files, doc });
        self.emit(d, at + 0.05, None, device("device.disconnect"));
    }

    pub(crate) fn day_events(&mut self, day: NaiveDate, out: &mut Vec<Event>) {
        let holiday = is_holiday(day);
        for i in 0..self.people.len() {
            let p = &self.people[i];
            if day < p.hire_date || p.leave_date.is_some_and(|l| day > l) {
                continue;
            }
            let unit = self.units[i];
            let crunch = self
                .plan
                .crunch
                .iter()
                .any(|&(u, from, to)| unit == u && day >= from && day < to);
            let new_hire = p.hire_date >= self.cfg.start && day < p.hire_date + Duration::days(21);
            let handing_over = !self.plan.insiders.contains(&i)
                && p.leave_date.is_some_and(|l| day + Duration::days(10) >= l);
            let weekend_rate = self.habits[i].weekend_rate;
            let works = if holiday {
                self.rng.gen_bool(if crunch {
                    0.5
                } else {
                    weekend_rate.clamp(0.0, 1.0)
                })
            } else {
                !self.rng.gen_bool(0.04)
            };
            if !works {
                continue;
            }
            let user = p.user_id.clone();
            let mut d = Day {
                out,
                day,
                host: own_pc(&user),
                user,
            };
            let h = &self.habits[i];
            let start = h.start_hour + self.rng.gen_range(-0.4..0.4);
            let end = (start
                + h.day_hours * if holiday { 0.4 } else { 1.0 }
                + self.rng.gen_range(-0.7..0.9)
                + if crunch {
                    self.rng.gen_range(2.0..4.5)
                } else {
                    0.0
                })
            .min(23.9);
            let (mut docs_rate, mut mails, web, usb, curiosity, evening) = (
                h.docs_per_day,
                h.mails_per_day,
                h.web_per_day,
                h.usb_rate,
                h.curiosity,
                h.evening_rate,
            );
            let mut scope = self.scope[i].clone();
            if new_hire {
                // New people read the company's general material broadly.
                docs_rate *= 2.5;
                scope.extend((0..self.docs.len()).filter(|&d| {
                    self.docs[d].classification <= Level::Internal
                        && self.docs[d].medium == custodian_core::Medium::File
                }));
            }
            let mut keep = 1.0;
            if crunch {
                docs_rate *= 1.5;
                keep = 1.5;
            }
            if handing_over {
                // Handing work over: more downloads and internal mail.
                docs_rate *= 1.8;
                keep = 2.0;
                mails *= 1.5;
            }
            self.emit(&mut d, start, None, Action::Logon);
            for _ in 0..poisson(&mut self.rng, docs_rate) {
                let Some(&doc) = scope.choose(&mut self.rng) else {
                    break;
                };
                let at = self.rng.gen_range(start..end);
                self.open_doc(&mut d, i, doc, at, keep);
            }
            // Curiosity, or work nobody recorded: material outside the scope.
            for _ in 0..poisson(&mut self.rng, curiosity) {
                let Some(&doc) = self.outside[i].choose(&mut self.rng) else {
                    break;
                };
                let at = self.rng.gen_range(start..end);
                let dm = &self.docs[doc];
                let p = &self.people[i];
                let allowed = dm.classification <= p.clearance
                    && (!dm.classification.needs_need_to_know()
                        || dm.projects.shares_with(&p.projects));
                if allowed || self.rng.gen_bool(self.bg.acl_loose.clamp(0.0, 1.0)) {
                    self.open_doc(&mut d, i, doc, at, 0.4);
                } else {
                    let doc = dm.doc_id.clone();
                    self.emit(&mut d, at, None, Action::DocDenied { doc });
                }
            }
            self.mail_day(&mut d, i, start, end, mails, &scope);
            for _ in 0..poisson(&mut self.rng, web) {
                let at = self.rng.gen_range(start..end);
                let domain = if self.rng.gen_bool(0.03) {
                    CLOUD[self.rng.gen_range(0..CLOUD.len())]
                } else {
                    WEB[self.rng.gen_range(0..WEB.len())]
                };
                self.visit(&mut d, at, domain, "/");
            }
            let jobs = self.traits[i].job_browsing;
            for _ in 0..poisson(&mut self.rng, jobs) {
                let at = self.rng.gen_range(start..end);
                let domain = JOB_SITES[self.rng.gen_range(0..JOB_SITES.len())];
                self.visit(&mut d, at, domain, "/jobs/search?q=engineer");
            }
            if usb > 0.0 {
                for _ in 0..poisson(&mut self.rng, usb) {
                    let at = self.rng.gen_range(start..end);
                    self.usb_session(&mut d, at, None);
                }
            }
            if self.traits[i].usb_manuals && self.rng.gen_bool(0.12) {
                // A manual for a customer site, on a stick.
                let manuals: Vec<usize> = scope
                    .iter()
                    .copied()
                    .filter(|&x| self.docs[x].kind == "manual")
                    .collect();
                if let Some(&m) = manuals.choose(&mut self.rng) {
                    let at = self.rng.gen_range(start..end);
                    let doc = self.docs[m].doc_id.clone();
                    self.usb_session(&mut d, at, Some(doc));
                }
            }
            let refusals = self.bg.refusals / 21.0;
            if self.rng.gen_bool(refusals.clamp(0.0, 1.0)) {
                // A mis-click or a stale link to a confidential document of
                // a neighbouring project: refused, and harmless.
                let line = UNITS[unit].lines.first().copied().unwrap_or(0);
                let pool: Vec<usize> = self.docs_by_line[line]
                    .iter()
                    .copied()
                    .filter(|&x| {
                        self.docs[x].classification >= Level::Confidential
                            && !self.docs[x].projects.shares_with(&self.people[i].projects)
                    })
                    .collect();
                if let Some(&x) = pool.choose(&mut self.rng) {
                    let at = self.rng.gen_range(start..end);
                    let doc = self.docs[x].doc_id.clone();
                    self.emit(&mut d, at, None, Action::DocDenied { doc });
                }
            }
            if self.rng.gen_bool(0.05) {
                let at = self.rng.gen_range(start..end);
                let pages = self.rng.gen_range(1..10);
                self.emit(&mut d, at, None, Action::PrintJob { pages, doc: None });
            }
            self.roam(&mut d, i, start, end);
            self.emit(&mut d, end, None, Action::Logoff);
            if !holiday && evening > 0.0 && self.rng.gen_bool(evening.min(1.0)) {
                // Back in the evening, from the same PC.
                let from = self.rng.gen_range(20.0..22.5);
                let to: f64 = (from + self.rng.gen_range(0.3..1.5f64)).min(23.9);
                self.emit(&mut d, from, None, Action::Logon);
                for _ in 0..poisson(&mut self.rng, docs_rate * 0.3) {
                    let Some(&doc) = scope.choose(&mut self.rng) else {
                        break;
                    };
                    let at = self.rng.gen_range(from..to);
                    self.open_doc(&mut d, i, doc, at, keep);
                }
                self.emit(&mut d, to, None, Action::Logoff);
            }
        }
    }

    fn visit(&mut self, d: &mut Day<'_>, at: f64, domain: &str, path: &str) {
        self.emit(
            d,
            at,
            None,
            Action::WebVisit {
                url: Some(format!("https://{domain}{path}")),
                domain: domain.to_string(),
            },
        );
    }

    /// Logons to PCs other than one's own: a colleague's, a shared lab PC;
    /// IT administrators anyone's.
    fn roam(&mut self, d: &mut Day<'_>, i: usize, start: f64, end: f64) {
        let rate = self.traits[i].roaming;
        if rate <= 0.0 {
            return;
        }
        let unit = self.units[i];
        let admin = self.people[i].role == "it-admin";
        for _ in 0..poisson(&mut self.rng, rate) {
            let at = self.rng.gen_range(start..end);
            let host = if !admin && self.rng.gen_bool(0.5) {
                format!("lab-{unit}-{}", self.rng.gen_range(1..4))
            } else {
                let pool: Vec<usize> = if admin {
                    (0..self.people.len()).collect()
                } else {
                    (0..self.people.len())
                        .filter(|&j| self.units[j] == unit)
                        .collect()
                };
                let Some(&j) = pool.choose(&mut self.rng) else {
                    continue;
                };
                own_pc(&self.people[j].user_id)
            };
            self.emit(d, at, Some(&host), Action::Logon);
            let stay = self.rng.gen_range(0.1..1.0);
            self.emit(d, (at + stay).min(23.95), Some(&host), Action::Logoff);
        }
    }

    fn mail_day(
        &mut self,
        d: &mut Day<'_>,
        i: usize,
        start: f64,
        end: f64,
        mails: f64,
        scope: &[usize],
    ) {
        let unit = self.units[i];
        let personal = self.traits[i].personal_mail;
        let sender = self.traits[i].personal_sender;
        for _ in 0..poisson(&mut self.rng, mails) {
            let at = self.rng.gen_range(start..end);
            let external = self.rng.gen_bool(if UNITS[unit].name == "Sales" {
                0.5
            } else {
                0.15
            });
            let to_domain = if external {
                CUSTOMERS[self.rng.gen_range(0..CUSTOMERS.len())].to_string()
            } else {
                CORP_DOMAIN.to_string()
            };
            let attachments = if self.rng.gen_bool(0.3) {
                self.rng.gen_range(1..4)
            } else {
                0
            };
            let doc = (attachments > 0 && external && self.rng.gen_bool(0.3))
                .then(|| scope.choose(&mut self.rng).map(|&x| self.docs[x].clone()))
                .flatten()
                .filter(|x| x.classification == Level::Public || x.kind == "manual")
                .map(|x| x.doc_id);
            let bytes = self
                .rng
                .gen_range(2_000..(200_000 + attachments * 2_000_000));
            let from_domain = (sender && self.rng.gen_bool(0.3))
                .then(|| personal.unwrap_or("gmail.com").to_string());
            let recipients = Some(self.rng.gen_range(1..5));
            self.emit(
                d,
                at,
                None,
                Action::EmailSend {
                    to_domain,
                    external,
                    bytes,
                    attachments,
                    doc,
                    from_domain,
                    recipients,
                },
            );
        }
        if unit == ADMIN_UNIT && self.rng.gen_bool(0.02) {
            // An announcement to everyone.
            let at = self.rng.gen_range(start..end);
            let recipients = Some(self.rng.gen_range(50..(self.people.len() as u64).max(60)));
            let bytes = self.rng.gen_range(5_000..80_000);
            self.emit(
                d,
                at,
                None,
                Action::EmailSend {
                    to_domain: CORP_DOMAIN.to_string(),
                    external: false,
                    bytes,
                    attachments: 0,
                    doc: None,
                    from_domain: None,
                    recipients,
                },
            );
        }
        let Some(home) = personal else {
            return;
        };
        if self
            .rng
            .gen_bool(self.bg.personal_mail_rate.clamp(0.0, 1.0))
        {
            // Mail to oneself at home: a form, a photo, a schedule, and in
            // some companies the document one is working on.
            let at = self.rng.gen_range(start..end);
            let doc = self
                .rng
                .gen_bool(self.bg.personal_docs.clamp(0.0, 1.0))
                .then(|| {
                    scope
                        .iter()
                        .copied()
                        .filter(|&x| self.docs[x].classification <= Level::Confidential)
                        .collect::<Vec<_>>()
                        .choose(&mut self.rng)
                        .map(|&x| self.docs[x].doc_id.clone())
                })
                .flatten();
            let attachments = u64::from(doc.is_some() || self.rng.gen_bool(0.4));
            let bytes = self
                .rng
                .gen_range(3_000..(50_000 + attachments * 2_000_000));
            self.emit(
                d,
                at,
                None,
                Action::EmailSend {
                    to_domain: home.to_string(),
                    external: true,
                    bytes,
                    attachments,
                    doc,
                    from_domain: None,
                    recipients: Some(1),
                },
            );
        }
    }
}
