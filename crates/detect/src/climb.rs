//! The climb in sensitivity outside one's scope: brochures, then manuals,
//! then development data. The story this product exists for.
//!
//! Rules:
//! - A person's steps outside their usual scope or at hours they rarely
//!   work (first prints or downloads, and refused attempts: taking, not a
//!   curious glance) are kept in time order with their level, the last
//!   [`KEEP`] of them within [`SPAN_DAYS`] days: the story's documents are
//!   other lines' and printed the evening before a meeting.
//! - The climb is the Mann-Kendall trend of level against time: the count
//!   of later-and-higher pairs minus later-and-lower ones, with its exact
//!   variance under ties (same day, same level). A curious person whose
//!   outside reading has no direction scores about zero whatever its
//!   amount; a sustained rise scores as a normal tail.
//! - It needs at least four touches on three days, reaching internal or
//!   above; its surprise is the one-sided normal tail of z.
//! - The same trend is also taken over sittings alone: steps within
//!   [`SITTING_MINUTES`] of each other, two or more (the story's few
//!   documents at a time, printed the evening before a meeting). Curious
//!   glances and stray refusals come one at a time and stay out of it, so
//!   a climb drowned in a noisy background still shows there. The better
//!   of the two looks costs `ln 2`.

use std::collections::VecDeque;

use crate::tail::normal_surprise;

pub const KEEP: usize = 48;
pub const SPAN_DAYS: i32 = 180;
/// Steps this close together are one sitting.
pub const SITTING_MINUTES: i64 = 60;

/// A person's steps, all of them and those taken at sittings.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct Climb {
    all: Series,
    sittings: Series,
    /// The current sitting: its last step (minutes), and its first step
    /// while it is still alone.
    last_min: Option<i64>,
    alone: Option<(i32, u8)>,
}

#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
struct Series {
    /// (day, level 0..=3), oldest first.
    seq: VecDeque<(i32, u8)>,
}

/// What the climb says now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trend {
    pub z: f64,
    pub surprise: f64,
    pub touches: usize,
    pub days: usize,
    /// Levels reached, lowest and highest.
    pub from: u8,
    pub to: u8,
    pub span_days: i32,
    /// Whether it is the trend of sittings (see the rules).
    pub sittings: bool,
}

fn ties_terms(groups: impl Iterator<Item = usize>) -> (f64, f64, f64) {
    // Σ t(t-1)(2t+5), Σ t(t-1)(t-2), Σ t(t-1)
    let (mut a, mut b, mut c) = (0.0, 0.0, 0.0);
    for t in groups {
        let t = t as f64;
        a += t * (t - 1.0) * (2.0 * t + 5.0);
        b += t * (t - 1.0) * (t - 2.0);
        c += t * (t - 1.0);
    }
    (a, b, c)
}

impl Climb {
    /// Adds a step at `minute` (minutes since the epoch; never going
    /// backwards) on local `day`, and returns the better of the two trends
    /// (its surprise less the cost of two looks).
    pub fn push(&mut self, minute: i64, day: i32, level: u8) -> Option<Trend> {
        let together = self.last_min.is_some_and(|m| minute - m <= SITTING_MINUTES);
        self.last_min = Some(minute);
        let mut sat = None;
        if together {
            if let Some((d, l)) = self.alone.take() {
                self.sittings.push(d, l);
            }
            sat = self.sittings.push(day, level);
        } else {
            self.alone = Some((day, level));
        }
        let all = self.all.push(day, level);
        let best = match (all, sat) {
            (Some(a), Some(b)) if b.surprise > a.surprise => Some(Trend {
                sittings: true,
                ..b
            }),
            (Some(a), _) => Some(a),
            (None, Some(b)) => Some(Trend {
                sittings: true,
                ..b
            }),
            (None, None) => None,
        };
        best.map(|t| Trend {
            surprise: (t.surprise - std::f64::consts::LN_2).max(0.0),
            ..t
        })
    }

    /// The trend of all steps alone (for tests).
    #[cfg(test)]
    fn push_day(&mut self, day: i32, level: u8) -> Option<Trend> {
        self.all.push(day, level)
    }
}

impl Series {
    /// Adds a touch (days never go backwards) and returns the trend.
    fn push(&mut self, day: i32, level: u8) -> Option<Trend> {
        self.seq.push_back((day, level.min(3)));
        while self.seq.len() > KEEP || self.seq.front().is_some_and(|(d, _)| day - d > SPAN_DAYS) {
            self.seq.pop_front();
        }
        self.trend()
    }

    fn trend(&self) -> Option<Trend> {
        let n = self.seq.len();
        if n < 4 {
            return None;
        }
        let mut s = 0i64;
        for i in 0..n {
            for j in i + 1..n {
                let (di, li) = self.seq[i];
                let (dj, lj) = self.seq[j];
                if dj > di {
                    s += i64::from((lj > li) as i8 - (lj < li) as i8);
                }
            }
        }
        // Tie groups in time (same day) and in level.
        let mut day_groups = Vec::new();
        let mut run = 1;
        for i in 1..n {
            if self.seq[i].0 == self.seq[i - 1].0 {
                run += 1;
            } else {
                day_groups.push(run);
                run = 1;
            }
        }
        day_groups.push(run);
        let mut level_counts = [0usize; 4];
        for &(_, l) in &self.seq {
            level_counts[l as usize] += 1;
        }
        let days = day_groups.len();
        let (from, to) = (
            self.seq.iter().map(|x| x.1).min().unwrap_or(0),
            self.seq.iter().map(|x| x.1).max().unwrap_or(0),
        );
        if days < 3 || to < 1 || from == to {
            return None;
        }
        let nf = n as f64;
        let (ta, tb, tc) = ties_terms(day_groups.iter().copied());
        let (ua, ub, uc) = ties_terms(level_counts.iter().copied().filter(|&c| c > 0));
        let var = (nf * (nf - 1.0) * (2.0 * nf + 5.0) - ta - ua) / 18.0
            + tb * ub / (9.0 * nf * (nf - 1.0) * (nf - 2.0))
            + tc * uc / (2.0 * nf * (nf - 1.0));
        if var <= 0.0 {
            return None;
        }
        // Continuity correction.
        let sc = if s > 0 { s - 1 } else { 0 };
        let z = sc as f64 / var.sqrt();
        let span = self.seq.back().map_or(0, |b| b.0) - self.seq.front().map_or(0, |f| f.0);
        Some(Trend {
            z,
            surprise: if z > 0.0 { normal_surprise(z) } else { 0.0 },
            touches: n,
            days,
            from,
            to,
            span_days: span,
            sittings: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_story_climbs_and_curiosity_does_not() {
        // Brochures at two meetings, manuals at three, then confidential
        // and secret attempts: a climb.
        let mut c = Climb::default();
        let mut day = 0;
        let mut last = None;
        for (meeting, level) in [0, 0, 1, 1, 1, 2].into_iter().enumerate() {
            day += 10;
            for _ in 0..3 {
                last = c.push_day(day, level);
            }
            let _ = meeting;
        }
        let t = last.unwrap();
        assert!(t.z > 3.0 && t.surprise > 6.0, "{t:?}");
        // The same touches in a scrambled order: no trend.
        let mut c = Climb::default();
        let levels = [1, 0, 2, 1, 0, 1, 1, 0, 2, 1, 0, 1, 1, 0, 1, 0, 1, 2];
        let mut best: f64 = 0.0;
        for (i, l) in levels.into_iter().enumerate() {
            if let Some(t) = c.push_day(i as i32 * 3, l) {
                best = best.max(t.surprise);
            }
        }
        assert!(best < 3.0, "{best}");
    }

    /// Reading outside the scope in random order rarely looks like a
    /// climb: over 2,000 curious people with 10 to 120 touches each, the
    /// highest z of their whole history passes 4 (one in thirty thousand
    /// per look) for under one in a hundred.
    #[test]
    fn random_curiosity_is_rarely_a_climb() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
        let mut over = 0;
        for _ in 0..2000 {
            let n = rng.gen_range(10..120);
            let mut c = Climb::default();
            let mut best: f64 = 0.0;
            for i in 0..n {
                // Mostly public and internal, now and then higher.
                let l = [0u8, 0, 1, 1, 1, 2, 3][rng.gen_range(0..7)];
                if let Some(t) = c.push_day(i * 2 + rng.gen_range(0..2), l) {
                    assert!(t.z.is_finite());
                    best = best.max(t.z);
                }
            }
            over += usize::from(best > 4.0);
        }
        assert!(over < 20, "{over} of 2000");
    }

    /// The story in a noisy background: three documents at each of eleven
    /// evening sittings, climbing, among a curious person's single glances
    /// and refusals at random levels every day or two. The sittings show
    /// the climb the whole series hides.
    #[test]
    fn sittings_show_a_climb_that_noise_hides() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut c = Climb::default();
        let mut best = None::<Trend>;
        let plan = [0u8, 0, 1, 1, 1, 2, 2, 3, 2, 3, 3];
        for day in 0..150i32 {
            let minute = i64::from(day) * 1440;
            // Noise: a step most days, at a random hour, random level.
            if rng.gen_bool(0.7) {
                let l = rng.gen_range(0..4u8);
                let m = minute + 9 * 60 + rng.gen_range(0..480);
                if let Some(t) = c.push(m, day, l) {
                    if best.is_none_or(|b| t.surprise > b.surprise) {
                        best = Some(t);
                    }
                }
            }
            if day % 13 == 5 && (day / 13) < plan.len() as i32 {
                for k in 0..3 {
                    let l = plan[(day / 13) as usize];
                    if let Some(t) = c.push(minute + 19 * 60 + k * 5, day, l) {
                        if best.is_none_or(|b| t.surprise > b.surprise) {
                            best = Some(t);
                        }
                    }
                }
            }
        }
        let t = best.unwrap();
        assert!(t.sittings && t.surprise > 8.0, "{t:?}");
        // The noise alone, however long, is not a climb in sittings.
        let mut c = Climb::default();
        let mut worst: f64 = 0.0;
        for day in 0..300i32 {
            for _ in 0..rng.gen_range(0..3) {
                let m = i64::from(day) * 1440 + 9 * 60 + rng.gen_range(0..480);
                if let Some(t) = c.push(m, day, rng.gen_range(0..4u8)) {
                    worst = worst.max(t.surprise);
                }
            }
        }
        assert!(worst < 6.9, "{worst}");
    }

    proptest! {
        /// A strictly rising sequence on distinct days is a climb once it
        /// is long enough, whatever its levels.
        #[test]
        fn a_steady_rise_is_a_climb(per_level in 3usize..8) {
            let mut c = Climb::default();
            let mut t = None;
            let mut day = 0;
            for level in 0..4u8 {
                for _ in 0..per_level {
                    day += 3;
                    t = c.push_day(day, level);
                }
            }
            let t = t.unwrap();
            prop_assert!(t.z > 3.0, "{t:?}");
        }
    }
}
