//! From gains to alerts (rules 6 and 7): indicators credited with their
//! context, the score fading with the half-life, severity from the budget's
//! lines, and when a person is alerted (again).

use super::*;

impl Engine {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn apply_gains(
        &mut self,
        u: u32,
        e: &Ev<'_>,
        now: i64,
        day: i64,
        local_us: i64,
        unusual: bool,
        is_weekend: bool,
        gains: Vec<Gain>,
    ) {
        let hl = self.half_life_us;
        let cfg = &self.cfg;
        let p = &mut self.people[u as usize];
        let onboard = if day - p.hire < cfg.onboarding_days {
            cfg.onboarding_factor
        } else {
            1.0
        };
        let leaving = p.notice_at.is_some_and(|n| now >= n)
            || p.leave.is_some_and(|l| day >= l - cfg.leaving_window_days);
        let contact = p
            .contact_group
            .is_some_and(|g| now >= p.contact_from && self.groups[g].members.len() >= 2);
        if let Some((t, lines)) = &mut self.trace {
            if *t == u {
                for g in &gains {
                    lines.push(format!(
                        "  + {:.1} x{onboard} {} ({}){}{}{}",
                        g.points,
                        g.ind.name(),
                        g.detail,
                        if unusual { " [after hours]" } else { "" },
                        if leaving { " [leaving]" } else { "" },
                        if contact { " [approached]" } else { "" }
                    ));
                }
            }
        }
        for g in gains {
            let pts = g.points * onboard;
            if pts <= 0.0 {
                continue;
            }
            let acc = &mut p.ind[g.ind as usize];
            acc.add(now, hl, pts, e.id);
            acc.detail = g.detail;
            if !g.ind.amplified() {
                continue;
            }
            if unusual {
                let a = &mut p.ind[Ind::AfterHours as usize];
                a.add(now, hl, pts * cfg.after_hours_factor, e.id);
                let mins = local_us.rem_euclid(DAY_US) / 60_000_000;
                a.detail = format!(
                    "at {:02}:{:02} {}",
                    mins / 60,
                    mins % 60,
                    if is_weekend {
                        "on a weekend they rarely work"
                    } else {
                        "outside their usual hours"
                    }
                );
            }
            // Leaving makes a spike or taking out more telling; a leaver
            // reading and downloading more for weeks is handing over.
            if leaving && g.ind != Ind::Rise {
                let a = &mut p.ind[Ind::Leaving as usize];
                a.add(now, hl, pts * cfg.leaving_factor, e.id);
                a.detail = match (p.notice_at, p.leave) {
                    (Some(_), Some(l)) => {
                        format!("after their resignation notice; leaves {}", date_of(l))
                    }
                    (Some(_), None) => "after their resignation notice".into(),
                    (None, Some(l)) => {
                        format!(
                            "within {} days of leaving on {}",
                            cfg.leaving_window_days,
                            date_of(l)
                        )
                    }
                    _ => String::new(),
                };
            }
            if contact {
                let a = &mut p.ind[Ind::Contact as usize];
                let bonus = if p.contact_noted {
                    0.0
                } else {
                    cfg.contact_bonus
                };
                p.contact_noted = true;
                a.add(now, hl, pts * cfg.contact_factor + bonus, e.id);
                if let Some(gi) = p.contact_group {
                    let grp = &self.groups[gi];
                    a.detail = format!(
                        "reported an approach by {} ({} reports by {} people describe the same person)",
                        grp.name.as_deref().unwrap_or("an outsider"),
                        grp.members.len(),
                        grp.reporters.len()
                    );
                }
            }
        }
    }

    pub(super) fn score(&self, u: u32, now: i64) -> f64 {
        let p = &self.people[u as usize];
        p.ind
            .iter()
            .map(|a| a.value(now, self.half_life_us))
            .sum::<f64>()
    }

    pub(super) fn maybe_alert(&mut self, u: u32, e: &Ev<'_>) -> Option<Alert> {
        let now = e.ts_us;
        let score = self.score(u, now);
        // Judged by the lines as they stand, then counted in them.
        let lines = self.budget.lines();
        let extreme = self.budget.extreme();
        let old_max = self.people[u as usize].max_score;
        if score > old_max {
            self.budget.raise(old_max, score);
            self.people[u as usize].max_score = score;
        }
        let sev = if score >= lines.high || score >= extreme {
            Severity::High
        } else if score >= lines.medium {
            Severity::Medium
        } else if score >= lines.low {
            Severity::Low
        } else {
            return None;
        };
        let p = &self.people[u as usize];
        let raise = match p.alerted {
            None => true,
            Some(prev) if sev > prev => true,
            // A standing case that keeps growing: say so once a week.
            Some(_) => {
                score >= p.alerted_score + lines.medium * 0.5 && now - p.alerted_at >= 7 * DAY_US
            }
        };
        // A fresh start after the old findings faded.
        let faded = p.alerted.is_some() && now - p.alerted_at > 90 * DAY_US;
        if !raise && !faded {
            return None;
        }
        let mut indicators: Vec<Indicator> = Ind::ALL
            .iter()
            .filter_map(|&i| {
                let a = &p.ind[i as usize];
                let w = a.value(now, self.half_life_us);
                (w >= 0.5).then(|| Indicator {
                    name: i.name().to_string(),
                    weight: (w * 10.0).round() / 10.0,
                    evidence: a.evidence.iter().map(|s| s.to_string()).collect(),
                    detail: a.detail.clone(),
                })
            })
            .collect();
        indicators.sort_by(|a, b| b.weight.total_cmp(&a.weight).then(a.name.cmp(&b.name)));
        let (unit, role) = &self.person_meta[u as usize];
        let summary = explain::summary(&self.person_ids[u as usize], unit, role, sev, &indicators);
        let p = &mut self.people[u as usize];
        p.alerted = Some(sev);
        p.alerted_score = score;
        p.alerted_at = now;
        let offset = FixedOffset::east_opt(e.offset_s).unwrap_or(FixedOffset::east_opt(0)?);
        let raised_at = DateTime::from_timestamp_micros(now)?.with_timezone(&offset);
        let round = |x: f64| (x * 10.0).round() / 10.0;
        Some(Alert {
            user: self.person_ids[u as usize].clone(),
            raised_at,
            score: round(score.min(9999.0)),
            severity: sev,
            indicators,
            summary,
            thresholds: crate::Thresholds {
                medium: round(lines.medium),
                high: round(lines.high),
            },
        })
    }
}
