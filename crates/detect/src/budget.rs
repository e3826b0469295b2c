//! The alert budget: severity lines that follow the population's scores.
//!
//! Rules:
//! - An analyst can work a fixed number of cases, whatever the company's
//!   background. So the medium line is the lowest score at which no more
//!   than `budget` people per 1,000 per 30 days would have been newly
//!   alerted lately, measured on this population as the data streams: for
//!   a grid of scores, the count of people whose highest score so far newly
//!   passed it, over the people seen and the days, both fading with a
//!   half-life of [`MEMORY_DAYS`] so that a release crunch raises the line
//!   while it lasts and a quiet spell lowers it.
//! - The high line is the same for `budget * high_share`, and never
//!   below 1.6 times the medium line.
//! - The truly extreme case is always high and does not count against the
//!   budget: it is allowed above it. Extreme is a score of at least
//!   `extreme`, or [`EXTREME_TIMES`] the background (the 98th percentile of
//!   everyone's current score), if lower, but never below one and a half
//!   times the floor; and extreme cases are rare: where all crossings,
//!   extreme ones included, would exceed twice the budget, the extreme line
//!   rises until they do not. So the line follows the background's tail,
//!   and the few cases far beyond it (more insiders than a small company's
//!   budget) are all seen, while a background of extremes is not.
//! - Never below `medium_floor`: a quiet company is not made to alert.
//!   Until `budget_min_person_days` person-days and [`MIN_DAYS`] days have
//!   been seen (the baselines are young) the lines are `medium_start` and
//!   1.6 times it.
//! - Deterministic: the lines depend only on the scores seen so far, in
//!   data-time order; they are recomputed once per data day, and raised at
//!   once within a day when crossings exceed the budget (a sudden crunch
//!   does not flood the day it starts).

/// Score grid: from 1 point, 3 % apart, to about 1,000.
const GRID: usize = 240;
const STEP: f64 = 1.03;
/// How long the budget remembers crossings (half-life, days).
pub const MEMORY_DAYS: f64 = 30.0;
/// A score this many times the background is extreme.
pub const EXTREME_TIMES: f64 = 2.5;
/// The background is this quantile of everyone's current score.
pub const BACKGROUND_QUANTILE: f64 = 0.98;

/// The background of a population's current scores (see the rules);
/// sorts `scores`.
pub fn background(scores: &mut [f64]) -> f64 {
    if scores.is_empty() {
        return 0.0;
    }
    scores.sort_by(f64::total_cmp);
    let i = ((scores.len() as f64 - 1.0) * BACKGROUND_QUANTILE).round() as usize;
    scores[i.min(scores.len() - 1)]
}
/// Days of scored data before the budget sets the lines.
pub const MIN_DAYS: f64 = 21.0;

fn level(j: usize) -> f64 {
    STEP.powi(j as i32)
}

/// The index of the highest grid level at or below `score`.
fn index(score: f64) -> Option<usize> {
    if score < 1.0 {
        return None;
    }
    Some(((score.ln() / STEP.ln()).floor() as usize).min(GRID - 1))
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Budget {
    budget: f64,
    high_share: f64,
    floor: f64,
    extreme: f64,
    min_person_days: f64,
    decay: f64,
    /// New crossings of each grid level, fading (extreme people left out),
    /// and the same with everyone.
    reached: Vec<f64>,
    reached_all: Vec<f64>,
    /// The lowest score where all crossings stay within twice the budget.
    all_line: f64,
    /// People seen times days, fading the same way.
    exposure: f64,
    person_days: f64,
    days: f64,
    /// Whether the budget sets the lines yet.
    active: bool,
    /// The background (see the rules), as of the last data day.
    background: f64,
    pub medium: f64,
    pub high: f64,
}

/// The lines at one moment, for explanations.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Lines {
    pub low: f64,
    pub medium: f64,
    pub high: f64,
}

impl Budget {
    pub fn new(cfg: &crate::Config) -> Budget {
        let start = cfg.medium_start.max(cfg.medium_floor);
        Budget {
            budget: cfg.budget,
            high_share: cfg.high_share,
            floor: cfg.medium_floor,
            extreme: cfg.extreme,
            min_person_days: cfg.budget_min_person_days,
            decay: 0.5f64.powf(1.0 / MEMORY_DAYS),
            reached: vec![0.0; GRID],
            reached_all: vec![0.0; GRID],
            all_line: 0.0,
            exposure: 0.0,
            person_days: 0.0,
            days: 0.0,
            active: false,
            background: f64::INFINITY,
            medium: start,
            high: start * 1.6,
        }
    }

    /// The truly extreme score now.
    pub fn extreme(&self) -> f64 {
        self.extreme
            .min(EXTREME_TIMES * self.background)
            .max(1.5 * self.floor)
            .max(self.all_line)
    }

    /// A person's highest score went from `old` to `new`.
    pub fn raise(&mut self, old: f64, new: f64) {
        if new <= old {
            return;
        }
        let from = index(old).map_or(0, |i| i + 1);
        let Some(to) = index(new) else { return };
        for j in from..=to {
            self.reached_all[j] += 1.0;
        }
        if self.active {
            // Extremes are rare: raise their line at once if they are not.
            let scale = self.scale();
            let mut j = index(self.all_line).unwrap_or(0);
            while j + 1 < GRID && self.reached_all[j] * scale > 2.0 * self.budget {
                j += 1;
            }
            self.all_line = self.all_line.max(level(j));
        }
        if new >= self.extreme() {
            // Extreme: allowed above the budget.
            return;
        }
        for j in from..=to {
            self.reached[j] += 1.0;
        }
        if self.active {
            // Within the day: raise the lines at once if over budget.
            let scale = self.scale();
            let mut j = index(self.medium).unwrap_or(0);
            while j + 1 < GRID && self.reached[j] * scale > self.budget {
                j += 1;
            }
            let medium = level(j).max(self.medium);
            if medium > self.medium {
                self.medium = medium;
                self.high = self.high.max(medium * 1.6);
            }
        }
    }

    fn scale(&self) -> f64 {
        1000.0 * 30.0 / self.exposure.max(1.0)
    }

    pub fn add_person_day(&mut self) {
        self.person_days += 1.0;
    }

    /// A new data day with `people` people seen so far: fades the memory
    /// and recomputes the lines.
    pub fn new_day(&mut self, people: usize, background: f64) {
        if self.person_days > 0.0 {
            self.background = background;
        }
        for r in self.reached.iter_mut().chain(self.reached_all.iter_mut()) {
            *r *= self.decay;
        }
        self.exposure = self.exposure * self.decay + people as f64;
        if self.person_days > 0.0 {
            self.days += 1.0;
        }
        if self.person_days < self.min_person_days || self.days < MIN_DAYS || people == 0 {
            return;
        }
        self.active = true;
        let scale = self.scale();
        self.all_line = (0..GRID)
            .find(|&j| self.reached_all[j] * scale <= 2.0 * self.budget)
            .map_or(level(GRID - 1), level);
        let medium = self.line(self.budget).max(self.floor);
        let high = self.line(self.budget * self.high_share).max(medium * 1.6);
        self.medium = medium;
        self.high = high;
    }

    /// The lowest score at which no more than `allowed` people per 1,000 per
    /// 30 days are newly alerted: read off the counts, or, where the
    /// background's tail is clear, off that tail extrapolated (see
    /// [`tail_line`]), whichever is lower but never below half the counts'.
    fn line(&self, allowed: f64) -> f64 {
        let scale = self.scale();
        let rates: Vec<f64> = self.reached.iter().map(|r| r * scale).collect();
        let counted = (0..GRID)
            .find(|&j| rates[j] <= allowed)
            .map_or(level(GRID - 1), level);
        match tail_line(&rates, allowed) {
            Some(t) => t.clamp(counted * 0.5, counted),
            None => counted,
        }
    }

    pub fn lines(&self) -> Lines {
        Lines {
            low: self.medium * 0.5,
            medium: self.medium,
            high: self.high,
        }
    }
}

/// Where the background's tail reaches `allowed`: a power law
/// (`ln rate = a + b ln score`) fitted by least squares to the levels
/// whose rates are between 3 and 100 times the allowance (where many
/// people are, most of them honest), extrapolated. The few cases far out
/// (the insiders the product exists to find) do not move it. `None` when
/// fewer than four levels are in that range or the fit does not fall.
fn tail_line(rates: &[f64], allowed: f64) -> Option<f64> {
    let pts: Vec<(f64, f64)> = rates
        .iter()
        .enumerate()
        .filter(|(_, &r)| r >= 3.0 * allowed && r <= 100.0 * allowed)
        .map(|(j, &r)| (level(j).ln(), r.ln()))
        .collect();
    if pts.len() < 4 {
        return None;
    }
    let n = pts.len() as f64;
    let (mx, my) = (
        pts.iter().map(|p| p.0).sum::<f64>() / n,
        pts.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let b = sxy / sxx;
    if b >= -0.5 {
        return None;
    }
    let a = my - b * mx;
    Some(((allowed.ln() - a) / b).exp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn cfg() -> crate::Config {
        crate::Config {
            budget_min_person_days: 0.0,
            ..crate::Config::default()
        }
    }

    /// Feeds `days` days of `people` people whose scores are drawn from
    /// `draw` (a person's score for the day), alerting at the line as the
    /// engine does; returns the people alerted per 1,000 per 30 days.
    fn alerted_rate(days: usize, people: usize, draw: &mut dyn FnMut(usize, usize) -> f64) -> f64 {
        let mut b = Budget::new(&cfg());
        let mut max = vec![0.0f64; people];
        let mut alerted = vec![false; people];
        let mut today = vec![0.0f64; people];
        for day in 0..days {
            b.new_day(people, background(&mut today.clone()));
            for (i, m) in max.iter_mut().enumerate() {
                b.add_person_day();
                let s = draw(day, i);
                today[i] = s;
                if s > *m {
                    b.raise(*m, s);
                    *m = s;
                }
                if s >= b.medium.min(b.extreme()) && day as f64 >= MIN_DAYS {
                    alerted[i] = true;
                }
            }
        }
        let n = alerted.iter().filter(|a| **a).count() as f64;
        n / (people as f64 / 1000.0) / ((days as f64 - MIN_DAYS) / 30.0)
    }

    /// On any score distribution, stationary or not, the people alerted
    /// stay near the budget, and extreme ones within as much again.
    #[test]
    fn the_line_keeps_the_budget_on_any_distribution() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        for scale in [1.0, 10.0, 60.0] {
            // Heavy-tailed daily scores, stationary.
            let mut draw = |_: usize, _: usize| {
                let u: f64 = rng.gen_range(1e-9..1.0);
                scale * (-u.ln()).powf(1.5) / 10.0
            };
            let r = alerted_rate(180, 2000, &mut draw);
            assert!(r <= 2.0 * 3.0 * 1.5, "scale {scale}: {r}");
        }
        // A noisy spell in the middle (a crunch): the line follows it.
        let mut draw = |day: usize, _: usize| {
            let u: f64 = rng.gen_range(1e-9..1.0);
            let f = if (80..110).contains(&day) { 4.0 } else { 1.0 };
            f * 20.0 * (-u.ln()).powf(1.5) / 10.0
        };
        let r = alerted_rate(180, 2000, &mut draw);
        // Everyone's scores four times higher overnight floods its first
        // days a little before the lines catch up.
        assert!(r <= 2.0 * 3.0 * 3.0, "crunch: {r}");
    }

    /// A small company with more insiders than its budget: the line
    /// follows the honest background's tail, so the insiders far beyond it
    /// are all alerted.
    #[test]
    fn insiders_beyond_a_clear_background_are_not_budgeted_away() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let (people, days) = (300usize, 90usize);
        let insiders: Vec<usize> = (0..8).map(|k| k * 37).collect();
        let mut b = Budget::new(&cfg());
        let mut max = vec![0.0f64; people];
        let mut caught = 0;
        let mut honest_alerted = 0;
        let mut alerted = vec![false; people];
        let mut today = vec![0.0f64; people];
        for day in 0..days {
            b.new_day(people, background(&mut today.clone()));
            for i in 0..people {
                b.add_person_day();
                let u: f64 = rng.gen_range(1e-9..1.0);
                // Honest: mostly under 10. Insiders: 20 to 40 on some day
                // after the first month.
                let mut s = 3.0 * (-u.ln()).powf(1.2) / 3.0;
                if insiders.contains(&i) && day == 40 + i % 40 {
                    s = 20.0 + (i % 5) as f64 * 5.0;
                }
                today[i] = s;
                let lines = b.lines();
                let alert = s >= lines.medium.min(b.extreme());
                if alert && !alerted[i] && day as f64 >= MIN_DAYS {
                    alerted[i] = true;
                    if insiders.contains(&i) {
                        caught += 1;
                    } else {
                        honest_alerted += 1;
                    }
                }
                if s > max[i] {
                    b.raise(max[i], s);
                    max[i] = s;
                }
            }
        }
        assert_eq!(caught, 8, "line {:?}", b.lines());
        assert!(honest_alerted <= 3, "{honest_alerted}");
    }

    #[test]
    fn quiet_companies_keep_the_floor_and_extremes_are_free() {
        let mut b = Budget::new(&cfg());
        for _ in 0..30 {
            b.add_person_day();
            b.new_day(1000, 2.0);
        }
        for _ in 0..1000 {
            b.raise(0.0, 2.0);
        }
        b.new_day(1000, 2.0);
        assert_eq!(b.medium, cfg().medium_floor);
        // A few extreme cases do not raise the line...
        for _ in 0..3 {
            b.raise(0.0, 500.0);
        }
        b.new_day(1000, 2.0);
        assert_eq!(b.medium, cfg().medium_floor);
        // ...a hundred are not rare, and do.
        for _ in 0..100 {
            b.raise(0.0, 300.0);
        }
        b.new_day(1000, 2.0);
        assert!(b.extreme() > 300.0, "{}", b.extreme());
        // Before enough data: the start lines.
        let b = Budget::new(&crate::Config::default());
        assert_eq!(b.medium, 20.0);
    }
}
