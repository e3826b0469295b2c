//! The three insider scenarios of the CERT r4.2 release notes, planted in
//! the simulated company: the leak site after hours, the job hunt then USB
//! theft before leaving, and the sysadmin with a keylogger who logs on as
//! the supervisor and mails from their account.

use super::*;

impl Sim {
    /// CERT r4.2 scenario 1: someone who never used removable media or
    /// worked late logs on after hours, uses a thumb drive and uploads to a
    /// leak site for a few days, and leaves soon after.
    pub(super) fn plan_leak_site(&mut self, i: usize) {
        let days = i64::from(self.cfg.days);
        let start = self.cfg.start;
        let mut day = start + Duration::days(self.rng.gen_range(days * 3 / 10..days * 8 / 10));
        let mut first = None;
        let nights = self.rng.gen_range(2..6);
        for _ in 0..nights {
            let mut t = self.rng.gen_range(20.5..22.5);
            let tick = |sim: &mut Sim, t: &mut f64| {
                *t = (*t + sim.rng.gen_range(0.02..0.2)).min(23.95);
                *t
            };
            let ts = self.plan_at(i, day, t, None, Action::Logon);
            first.get_or_insert(ts);
            let at = tick(self, &mut t);
            let device = |name: &str| Action::Other { name: name.into() };
            self.plan_at(i, day, at, None, device("device.connect"));
            for _ in 0..self.rng.gen_range(3..12) {
                let at = tick(self, &mut t);
                let a = Action::UsbWrite {
                    bytes: self.rng.gen_range(100_000..5_000_000),
                    files: self.rng.gen_range(1..5),
                    doc: None,
                };
                self.plan_at(i, day, at, None, a);
            }
            for k in 0..self.rng.gen_range(2..6) {
                let at = tick(self, &mut t);
                let a = if k % 2 == 1 {
                    Action::WebUpload {
                        domain: "wikileaks.org".into(),
                        bytes: self.rng.gen_range(200_000..8_000_000),
                        doc: None,
                    }
                } else {
                    Action::WebVisit {
                        domain: "wikileaks.org".into(),
                        url: Some("https://wikileaks.org/submit".into()),
                    }
                };
                self.plan_at(i, day, at, None, a);
            }
            let at = tick(self, &mut t);
            self.plan_at(i, day, at, None, device("device.disconnect"));
            let at = tick(self, &mut t);
            self.plan_at(i, day, at, None, Action::Logoff);
            day += Duration::days(self.rng.gen_range(1..3));
        }
        let leave = day + Duration::days(self.rng.gen_range(3..14));
        self.set_leaving(i, leave);
        if let Some(fm) = first {
            self.plan.truth.push(Truth {
                user: self.people[i].user_id.clone(),
                insider: true,
                kind: "leak-site-after-hours".into(),
                first_misdeed: fm,
                development_data_at: None,
                note: format!(
                    "{nights} nights of thumb-drive copies and leak-site uploads; leaves {leave}"
                ),
            });
        }
    }

    /// CERT r4.2 scenario 2: surfs job sites and solicits a competitor,
    /// then before leaving copies to a thumb drive at markedly higher rates
    /// than before.
    pub(super) fn plan_job_hunt(&mut self, i: usize) {
        let days = i64::from(self.cfg.days);
        let start = self.cfg.start;
        let leave = start + Duration::days(self.rng.gen_range(days * 6 / 10..days * 95 / 100));
        let hunt_from = (leave - Duration::days(self.rng.gen_range(35..60))).max(start);
        let theft_from = leave - Duration::days(self.rng.gen_range(14..26));
        let competitor =
            ["rival-optics.example.com", "competitor-k.example.jp"][self.rng.gen_range(0..2)];
        let mut first = None;
        let mut day = hunt_from;
        let span = (leave - hunt_from).num_days().max(1) as f64;
        while day < leave {
            if is_holiday(day) {
                day += Duration::days(1);
                continue;
            }
            let progress = (day - hunt_from).num_days() as f64 / span;
            // Job sites more and more often.
            let visits = crate::poisson(&mut self.rng, 0.4 + 2.0 * progress);
            for _ in 0..visits {
                let at = self.rng.gen_range(10.0..17.5);
                let domain = JOB_SITES[self.rng.gen_range(0..JOB_SITES.len())];
                let ts = self.plan_at(
                    i,
                    day,
                    at,
                    None,
                    Action::WebVisit {
                        domain: domain.into(),
                        url: Some(format!("https://{domain}/jobs/apply?role=engineer")),
                    },
                );
                first.get_or_insert(ts);
            }
            if self.rng.gen_bool(0.08) {
                let at = self.rng.gen_range(12.0..13.0);
                let bytes = self.rng.gen_range(100_000..900_000);
                self.plan_at(
                    i,
                    day,
                    at,
                    None,
                    Action::EmailSend {
                        to_domain: competitor.into(),
                        external: true,
                        bytes,
                        attachments: 1,
                        doc: None,
                        from_domain: None,
                        recipients: Some(1),
                    },
                );
            }
            if day >= theft_from {
                // The thumb drive, many times a day.
                for _ in 0..self.rng.gen_range(4..11) {
                    let mut t = self.rng.gen_range(9.0..18.0);
                    let device = |name: &str| Action::Other { name: name.into() };
                    self.plan_at(i, day, t, None, device("device.connect"));
                    for _ in 0..self.rng.gen_range(1..4) {
                        t += 0.01;
                        let a = Action::UsbWrite {
                            bytes: self.rng.gen_range(200_000..20_000_000),
                            files: self.rng.gen_range(1..6),
                            doc: None,
                        };
                        self.plan_at(i, day, t, None, a);
                    }
                    self.plan_at(i, day, t + 0.02, None, device("device.disconnect"));
                }
            }
            day += Duration::days(1);
        }
        self.set_leaving(i, leave);
        if let Some(fm) = first {
            self.plan.truth.push(Truth {
                user: self.people[i].user_id.clone(),
                insider: true,
                kind: "job-hunt-then-usb".into(),
                first_misdeed: fm,
                development_data_at: None,
                note: format!(
                    "job sites from {hunt_from}, a competitor mailed, thumb drive many times a day from {theft_from}; leaves {leave}"
                ),
            });
        }
    }

    /// CERT r4.2 scenario 3: an IT administrator fetches a keylogger,
    /// carries it to the supervisor's PC on a thumb drive, the next day logs
    /// on there and sends an alarming mass mail, and leaves.
    pub(super) fn plan_keylogger(&mut self, i: usize) {
        let days = i64::from(self.cfg.days);
        let start = self.cfg.start;
        let manager = self.people[i].manager_id.clone().unwrap_or_default();
        let boss_pc = own_pc(&manager);
        let offset = self.rng.gen_range(days * 3 / 10..days * 85 / 100);
        let day = self.next_workday(start + Duration::days(offset));
        let mut t = self.rng.gen_range(10.0..15.0);
        let mut first = None;
        for k in 0..self.rng.gen_range(2..5) {
            t += self.rng.gen_range(0.02..0.2);
            let domain = HACKING_SITES[self.rng.gen_range(0..HACKING_SITES.len())];
            let path = if k == 0 {
                "/"
            } else {
                "/download/keylogger-setup.exe"
            };
            let ts = self.plan_at(
                i,
                day,
                t,
                None,
                Action::WebVisit {
                    domain: domain.into(),
                    url: Some(format!("https://{domain}{path}")),
                },
            );
            first.get_or_insert(ts);
        }
        let device = |name: &str| Action::Other { name: name.into() };
        t += 0.2;
        self.plan_at(i, day, t, None, device("device.connect"));
        let a = Action::UsbWrite {
            bytes: self.rng.gen_range(500_000..3_000_000),
            files: 1,
            doc: None,
        };
        self.plan_at(i, day, t + 0.01, None, a);
        self.plan_at(i, day, t + 0.03, None, device("device.disconnect"));
        // The supervisor's PC, after they have gone home.
        let mut t = self.rng.gen_range(19.0..21.0);
        self.plan_at(i, day, t, Some(&boss_pc), Action::Logon);
        t += 0.05;
        self.plan_at(i, day, t, Some(&boss_pc), device("device.connect"));
        t += 0.1;
        self.plan_at(i, day, t, Some(&boss_pc), device("device.disconnect"));
        self.plan_at(i, day, t + 0.02, Some(&boss_pc), Action::Logoff);
        // The next morning, as the supervisor, the mass mail.
        let next = self.next_workday(day + Duration::days(1));
        let t = self.rng.gen_range(7.0..8.3);
        self.plan_at(i, next, t, Some(&boss_pc), Action::Logon);
        let recipients = self
            .rng
            .gen_range(150..400)
            .min(self.people.len() as u64 + 50);
        let bytes = self.rng.gen_range(5_000..40_000);
        self.plan_at(
            i,
            next,
            t + 0.1,
            Some(&boss_pc),
            Action::EmailSend {
                to_domain: CORP_DOMAIN.into(),
                external: false,
                bytes,
                attachments: 0,
                doc: None,
                from_domain: None,
                recipients: Some(recipients),
            },
        );
        self.plan_at(i, next, t + 0.15, Some(&boss_pc), Action::Logoff);
        let leave = next + Duration::days(self.rng.gen_range(0..3));
        self.set_leaving(i, leave);
        if let Some(fm) = first {
            self.plan.truth.push(Truth {
                user: self.people[i].user_id.clone(),
                insider: true,
                kind: "sysadmin-keylogger".into(),
                first_misdeed: fm,
                development_data_at: None,
                note: format!(
                    "keylogger to {manager}'s PC on a thumb drive, a mass mail from there on {next}; leaves {leave}"
                ),
            });
        }
    }
}
