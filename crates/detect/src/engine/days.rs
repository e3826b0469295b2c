//! The engine's days: once per data day the peer priors, the units'
//! hours and the budget's background are recomputed from everyone's state
//! (rule 3); a person's day closes at their first event of a new local day
//! and goes into their baseline, clipped where it became surprising
//! (rule 2).

use super::*;

impl Engine {
    /// The priors, the units' hours and the budget's lines, from
    /// everyone's state (rule 3).
    pub(super) fn new_data_day(&mut self, now: i64) {
        let floor_days: f64 = self.people.iter().map(|p| f64::from(p.days.n)).sum();
        let floor = 0.5 / (floor_days + 50.0);
        let n_units = self.unit_names.len();
        let n_pairs = self.pair_unit.len();
        let mut all = [GroupStat::default(); N_FEAT];
        let mut units = vec![[GroupStat::default(); N_FEAT]; n_units];
        let mut pairs = vec![[GroupStat::default(); N_FEAT]; n_pairs];
        let mut size_all = [SizeGroup::default(); N_SIZE];
        let mut size_units = vec![[SizeGroup::default(); N_SIZE]; n_units];
        let mut size_pairs = vec![[SizeGroup::default(); N_SIZE]; n_pairs];
        let mut hours = vec![[0.0f32; 25]; n_units];
        for p in &mut self.people {
            let uh = &mut hours[p.unit as usize];
            for (x, &n) in uh.iter_mut().zip(p.hours.iter()) {
                *x += n as f32;
            }
            uh[24] += p.weekend_events as f32;
            if p.days.n < 4.5 {
                continue;
            }
            let contrib = p
                .contrib
                .get_or_insert_with(|| Box::new(([(0.0, 0.0); N_FEAT], 0.0)));
            let n = f64::from(p.days.n);
            contrib.1 = p.days.n;
            for f in 0..N_FEAT {
                if let Some((mu, disp)) = p.tracks[f].own(&p.days) {
                    all[f].add(mu, disp, n);
                    units[p.unit as usize][f].add(mu, disp, n);
                    pairs[p.pair as usize][f].add(mu, disp, n);
                    contrib.0[f] = (mu as f32, disp as f32);
                }
            }
            for k in 0..N_SIZE {
                size_all[k].add(&p.sizes[k]);
                size_units[p.unit as usize][k].add(&p.sizes[k]);
                size_pairs[p.pair as usize][k].add(&p.sizes[k]);
            }
        }
        let prior = |g: &GroupStat, parent: Option<&Prior>| Prior::from_group(g, parent, floor);
        let size_all: Vec<SizeGroup> = size_all.iter().map(|g| g.finish(None, 0.0)).collect();
        let size_units: Vec<Vec<SizeGroup>> = size_units
            .iter()
            .map(|gs| {
                gs.iter()
                    .enumerate()
                    .map(|(k, g)| g.finish(Some(&size_all[k]), 4.0))
                    .collect()
            })
            .collect();
        for (pr, gs) in size_pairs.iter().enumerate() {
            let unit = &size_units[self.pair_unit[pr] as usize];
            for k in 0..N_SIZE {
                self.size_pair[pr][k] = if self.pair_size[pr] as usize >= self.cfg.peer_min {
                    gs[k].finish(Some(&unit[k]), 4.0)
                } else {
                    unit[k]
                };
            }
        }
        let company: Vec<Prior> = all.iter().map(|g| prior(g, None)).collect();
        self.prior_company.copy_from_slice(&company);
        self.rate_floor = floor;
        for (u, stats) in units.iter().enumerate() {
            for (f, st) in stats.iter().enumerate() {
                self.prior_unit[u][f] = prior(st, Some(&company[f]));
            }
        }
        for (pr, stats) in pairs.iter().enumerate() {
            let unit = self.pair_unit[pr] as usize;
            let alone = self.pair_size[pr] as usize >= self.cfg.peer_min;
            for (f, st) in stats.iter().enumerate() {
                self.prior_pair[pr][f] = if alone {
                    prior(st, Some(&self.prior_unit[unit][f]))
                } else {
                    self.prior_unit[unit][f]
                };
            }
        }
        self.stat_pair = pairs;
        self.stat_unit = units;
        // Each project's month of touches by the people outside it.
        let today = now.div_euclid(DAY_US);
        let mut touch = vec![(0.0f64, 0.0f64, 0.0f64); self.project_names.len()];
        let mut members = vec![0.0f64; self.project_names.len()];
        for p in &self.people {
            for &x in &p.projects {
                if let Some(m) = members.get_mut(x as usize) {
                    *m += 1.0;
                }
            }
            for &(x, c, last) in &p.foreign {
                let c = f64::from(c) * 0.5f64.powf((today - last).max(0) as f64 / 30.0);
                if let Some(t) = touch.get_mut(x as usize) {
                    t.0 += c;
                    t.1 += c * c;
                }
            }
        }
        let seen = self.people_seen as f64;
        for (t, m) in touch.iter_mut().zip(members) {
            t.2 = (seen - m).max(0.0);
        }
        self.project_touch = touch;
        for (u, h) in hours.iter().enumerate() {
            let total: f32 = h[..24].iter().sum();
            for (out, x) in self.unit_hours[u].iter_mut().zip(h.iter()) {
                *out = if total > 0.0 { x / total } else { 0.0 };
            }
        }
        // The background: where the population's current scores are.
        let mut current: Vec<f64> = (0..self.people.len() as u32)
            .filter(|&u| self.seen_person[u as usize])
            .map(|u| self.score(u, now))
            .collect();
        let background = crate::budget::background(&mut current);
        self.budget.new_day(self.people_seen, background);
    }

    /// A person's prior for a feature: their peer group's without them
    /// (the pair's if it stands on its own, else the unit's).
    pub(super) fn prior_of(&self, u: u32, f: usize) -> Prior {
        let p = &self.people[u as usize];
        let pr = p.pair as usize;
        let Some(c) = &p.contrib else {
            return self.prior_pair[pr][f];
        };
        let (mu, disp, n) = (f64::from(c.0[f].0), f64::from(c.0[f].1), f64::from(c.1));
        let unit = p.unit as usize;
        if self.pair_size[pr] as usize >= self.cfg.peer_min {
            Prior::from_group(
                &self.stat_pair[pr][f].without(mu, disp, n),
                Some(&self.prior_unit[unit][f]),
                self.rate_floor,
            )
        } else {
            Prior::from_group(
                &self.stat_unit[unit][f].without(mu, disp, n),
                Some(&self.prior_company[f]),
                self.rate_floor,
            )
        }
    }

    /// Closes the person's previous day into their baselines (rule 2).
    pub(super) fn roll_day(&mut self, u: u32, day: i64, warm: bool) {
        if self.people[u as usize].day == day {
            return;
        }
        if self.people[u as usize].day != i64::MIN {
            // Yesterday's expectations, for the features that had no event
            // yesterday but a run going.
            for f in 0..N_FEAT {
                let p = &self.people[u as usize];
                if p.expect[f].is_none() && (p.today[f] != 0.0 || p.tracks[f].cusum != 0.0) {
                    let e = Expect::new(&p.tracks[f], &p.days, &self.prior_of(u, f));
                    self.people[u as usize].expect[f] = Some(e);
                }
            }
            let p = &mut self.people[u as usize];
            let s0 = self.cfg.surprise_floor;
            for (k, f) in SIZES.iter().enumerate() {
                let fi = *f as usize;
                let x = p.today[fi];
                // Only a crossed day is clipped (so only it needs the
                // expectation, which is dear to compute).
                let clipped = if p.cross[fi] > 0.0 {
                    match SizeExpect::new(&p.sizes[k], &self.size_pair[p.pair as usize][k]) {
                        Some(e) => x.min(e.at(s0) as f32),
                        None => x,
                    }
                } else {
                    x
                };
                p.sizes[k].roll(clipped, self.decay.base);
            }
            for (f, feat) in Feat::ALL.iter().enumerate() {
                let x = p.today[f];
                if feat.info().size {
                    continue;
                }
                let t = &mut p.tracks[f];
                if x == 0.0 && t.cusum == 0.0 {
                    // Nothing to learn but the quiet day itself.
                    t.roll(0.0, 0.0, 0.0, 0.0, &self.decay);
                    continue;
                }
                let Some(e) = p.expect[f] else { continue };
                // A surprising run enters the baseline at the usual rate
                // plus a third of the excess: a misdeed does not become the
                // norm, a real change of work is learnt, slowly.
                let clipped = if p.cross[f] > 0.0 {
                    let c = (p.cross[f] - 1.0).max(e.mu as f32).min(x);
                    c + LEARN_SHARE * (x - c)
                } else {
                    x
                };
                // Evidence of a rise gathers only once the engine has learnt
                // what is usual (from half the warm-up on, so what starts
                // in the warm-up is not learnt as the norm).
                let llr = if self.judging {
                    e.llr(f64::from(x))
                } else {
                    -1e9
                };
                t.roll(x, clipped, llr, e.freeze, &self.decay);
            }
            p.days.roll(&self.decay);
            if warm {
                self.budget.add_person_day();
            }
        }
        let p = &mut self.people[u as usize];
        p.day = day;
        p.today = [0.0; N_FEAT];
        p.cross = [0.0; N_FEAT];
        p.expect = [None; N_FEAT];
        p.odd_hours_today = 0;
        p.hosts_today.clear();
    }

    /// Whether the hour (or the weekend) is unusual for the person: their
    /// own hours, shrunk towards their unit's.
    pub(super) fn unusual_time(&self, u: u32, hour: usize, weekend: bool) -> bool {
        let p = &self.people[u as usize];
        let unit = &self.unit_hours[p.unit as usize];
        let unit_known = unit[..24].iter().any(|&x| x > 0.0);
        if p.events < 50 && !unit_known {
            let (a, b) = self.cfg.default_hours;
            return (hour as u32) < a || hour as u32 >= b || weekend;
        }
        const W: f32 = 30.0;
        let n = p.events as f32;
        let share = (p.hours[hour] as f32 + W * unit[hour]) / (n + W);
        let wk = (p.weekend_events as f32 + W * unit[24]) / (n + W);
        share < 0.015 || (weekend && wk < 0.02)
    }
}
