//! Judging a count (rule 4): today's, the last week's and the last
//! month's against the person's baseline and their peers', the surprise
//! that is new turned into points (rule 5), and lumps judged by their
//! histogram.

use super::*;

impl Engine {
    /// Adds `add` to today's count of `f` and judges it (rules 4-5): a
    /// finding if new surprise is credited, and a gathering-then-taking-out
    /// finding when this takes out what an unusual gathering brought in.
    pub(super) fn observe(
        &mut self,
        u: u32,
        f: Feat,
        add: f32,
        now: i64,
        warm: bool,
        gains: &mut Vec<Gain>,
    ) {
        let hl = self.half_life_us;
        let s0 = self.cfg.surprise_floor;
        let p = &mut self.people[u as usize];
        let fi = f as usize;
        p.today[fi] += add;
        if !self.judging || add <= 0.0 {
            return;
        }
        let x = f64::from(p.today[fi]);
        let credited = p.credit[fi].value(now, hl);
        if f.info().size {
            self.observe_size(u, f, x, now, (s0 + credited, warm), gains);
            return;
        }
        let e = match p.expect[fi] {
            Some(e) => e,
            None => {
                let p = &self.people[u as usize];
                let e = Expect::new(&p.tracks[fi], &p.days, &self.prior_of(u, fi));
                self.people[u as usize].expect[fi] = Some(e);
                e
            }
        };
        let p = &self.people[u as usize];
        let t = &p.tracks[fi];
        // The day's count against the reference, and the evidence of a
        // rise (rule 4): two looks, each less its floor; the rise's floor
        // is lower, its runs being fewer independent looks. Behaviours that
        // are nobody's habit get a third: their months against the peers'.
        let looks = if self.peer_mask[fi] { 3.0f64 } else { 2.0 };
        let cost = looks.ln();
        let day = if e.could_be_surprising(x) {
            e.surprise(x) - cost
        } else {
            0.0
        };
        let rise = (f64::from(t.cusum) + e.llr(x)).max(0.0) - cost;
        let (rise_x, rise_days) = (f64::from(t.run_x) + x, f64::from(t.run_days) + 1.0);
        let rise_floor = s0 - RISE_LENGTH.ln();
        let base = f64::from(self.decay.base);
        let (peer_x, peer_days) = (
            f64::from(t.raw) * base + x,
            f64::from(p.days.n) * base + 1.0,
        );
        let peer = if self.peer_mask[fi] && p.contrib.is_some() {
            (e.peer_surprise(peer_x, peer_days) - cost).max(0.0)
        } else {
            0.0
        };
        // A rise of one day is that day: reported (and weighed) as such.
        let (excess, which, s) = if peer - s0 > (day - s0).max(rise - rise_floor) {
            (peer - s0, 2u8, peer)
        } else if day - s0 >= rise - rise_floor {
            (day - s0, 0u8, day)
        } else if rise_days <= 1.0 {
            (rise - rise_floor, 0u8, day.max(rise))
        } else {
            (rise - rise_floor, 1u8, rise)
        };
        if self.traced(u) && excess > -s0 {
            let line = format!(
                "{}: {} today (reference {:.4}/day, burstiness {:.2}, prior shape {:.2}; peers {:.4}): day {:.1} nats, rise {:.1} nats ({} in {} days), peers {:.1} nats ({:.1} in {:.0} days); {:.1} over the floor, {:.1} credited",
                f.info().name,
                x,
                e.mu,
                e.disp,
                e.peer_shape,
                e.peer_mean,
                day,
                rise,
                rise_x,
                rise_days,
                peer,
                peer_x,
                peer_days,
                excess,
                credited
            );
            self.note(now, line);
        }
        let p = &mut self.people[u as usize];
        if day > s0 && p.cross[fi] == 0.0 {
            // A surprising day, credited or not, stays out of the norm. (A
            // rise is not clipped: the reference leaves the last month out
            // already, and a real change of work must become the norm.)
            p.cross[fi] = p.today[fi];
        }
        // A rise shared by a family of features counts once, in points: a
        // heavier feature of the family adds what it weighs beyond what was
        // credited already.
        let family = f.family().filter(|_| which == 1);
        let w = self.weights[fi]
            * if which == 1 && !f.takes_out() {
                self.cfg.rise_weight
            } else {
                1.0
            };
        let capped = excess.min(self.cfg.surprise_cap);
        let family_points = family.map_or(0.0, |g| p.family_credit[g].value(now, hl));
        let new_points = w * (capped - credited) - (family_points - w * credited).max(0.0);
        if new_points <= 0.0 || w <= 0.0 || !warm {
            return;
        }
        let new = new_points / w;
        p.credit[fi] = Credit {
            nats: capped as f32,
            at: now,
        };
        if let Some(g) = family {
            p.family_credit[g] = Credit {
                nats: family_points.max(w * capped) as f32,
                at: now,
            };
        }
        let peer_rate = e.peer_mean;
        let info = f.info();
        let unit_word = |v: f64| {
            if info.megabytes {
                human_bytes((v * 1e6) as u64)
            } else {
                format!("{v:.2}")
            }
        };
        let (ind, detail) = match which {
            0 => (
                info.ind,
                format!(
                    "{} {} in one day (usual {} a day, peers {}; {})",
                    amount(f, x),
                    info.what,
                    unit_word(e.mu),
                    unit_word(peer_rate),
                    one_in(s + cost)
                ),
            ),
            1 => (
                if f.takes_out() {
                    Ind::Recurrence
                } else {
                    Ind::Rise
                },
                format!(
                    "{} {} in their last {:.0} active days (before: {} a day, peers {}; evidence of a rise {})",
                    amount(f, rise_x),
                    info.what,
                    rise_days,
                    unit_word(e.rise_mu),
                    unit_word(peer_rate),
                    one_in(s + cost)
                ),
            ),
            _ => (
                Ind::AbovePeers,
                format!(
                    "{} {} over their last months (about {:.0} active days; peers like them would have {}: {})",
                    amount(f, peer_x.floor()),
                    info.what,
                    peer_days,
                    unit_word(peer_rate * peer_days),
                    one_in(s + cost)
                ),
            ),
        };
        self.sequence(u, f, new, gains);
        // (A gradual rise in reading is common, a crunch, a new project, a
        // hand-over, and weighs `rise_weight` of a rise in taking out: in
        // `w` above.)
        gains.push(Gain {
            ind,
            points: new_points,
            detail,
        });
    }

    /// Gathering, then taking out within days: the smaller of the two
    /// surprises again, once per gathering.
    pub(super) fn sequence(&mut self, u: u32, f: Feat, new: f64, gains: &mut Vec<Gain>) {
        let p = &mut self.people[u as usize];
        let day = p.day;
        if f.gathers() {
            let g = p.gather.map_or(0.0, |(_, n)| n);
            p.gather = Some((day, g.max(new)));
        } else if f.takes_out() {
            if let Some((gd, gn)) = p.gather {
                if day - gd <= GATHER_DAYS {
                    p.gather = None;
                    gains.push(Gain {
                        ind: Ind::Sequence,
                        points: self.cfg.sequence_weight * gn.min(new),
                        detail: format!(
                            "{} within {} days of an unusual gathering ({})",
                            f.info().what,
                            (day - gd).max(1),
                            date_of(gd)
                        ),
                    });
                }
            }
        }
    }

    /// A size (rule 4, for lumps): today's size against the person's
    /// usual size on the days they do it.
    pub(super) fn observe_size(
        &mut self,
        u: u32,
        f: Feat,
        x: f64,
        now: i64,
        (level, warm): (f64, bool),
        gains: &mut Vec<Gain>,
    ) {
        let fi = f as usize;
        let Some(k) = f.size_slot() else { return };
        let s0 = self.cfg.surprise_floor;
        let p = &self.people[u as usize];
        let group = &self.size_pair[p.pair as usize][k];
        let Some(e) = SizeExpect::new(&p.sizes[k], group) else {
            return;
        };
        let s = e.surprise(x);
        if s <= s0.min(level) && !self.traced(u) {
            return;
        }
        let empty = SizeHist::default();
        let peer_usual = SizeExpect::new(&empty, group).map_or(0.0, |g| g.quantile(0.9));
        let own_usual = e.quantile(0.9);
        if self.traced(u) {
            let line = format!(
                "{}: {} today (their 90th percentile {:.1}, peers' {:.1}): {:.1} nats vs line {:.1}",
                f.info().name,
                amount(f, x),
                own_usual,
                peer_usual,
                s,
                level
            );
            self.note(now, line);
        }
        let p = &mut self.people[u as usize];
        if s > s0 && p.cross[fi] == 0.0 {
            p.cross[fi] = p.today[fi];
        }
        if s <= level || !warm {
            return;
        }
        let s = s.min(s0 + self.cfg.surprise_cap);
        let new = s - level;
        p.credit[fi] = Credit {
            nats: (level - s0 + new) as f32,
            at: now,
        };
        let info = f.info();
        let detail = format!(
            "{} {} in one day (on nine in ten of the days they do it, at most {}; peers {}; {})",
            amount(f, x),
            info.what,
            amount(f, own_usual),
            amount(f, peer_usual),
            one_in(s)
        );
        self.sequence(u, f, new, gains);
        gains.push(Gain {
            ind: info.ind,
            points: self.weights[fi] * new,
            detail,
        });
    }
}
