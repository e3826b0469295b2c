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

use std::collections::VecDeque;

use crate::tail::normal_surprise;

pub const KEEP: usize = 48;
pub const SPAN_DAYS: i32 = 180;

#[derive(Debug, Default, Clone)]
pub struct Climb {
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
    /// Adds a touch (days never go backwards) and returns the trend.
    pub fn push(&mut self, day: i32, level: u8) -> Option<Trend> {
        self.seq.push_back((day, level.min(3)));
        while self.seq.len() > KEEP || self.seq.front().is_some_and(|(d, _)| day - d > SPAN_DAYS) {
            self.seq.pop_front();
        }
        self.trend()
    }

    pub fn trend(&self) -> Option<Trend> {
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
                last = c.push(day, level);
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
            if let Some(t) = c.push(i as i32 * 3, l) {
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
                if let Some(t) = c.push(i * 2 + rng.gen_range(0..2), l) {
                    assert!(t.z.is_finite());
                    best = best.max(t.z);
                }
            }
            over += usize::from(best > 4.0);
        }
        assert!(over < 20, "{over} of 2000");
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
                    t = c.push(day, level);
                }
            }
            let t = t.unwrap();
            prop_assert!(t.z > 3.0, "{t:?}");
        }
    }
}
