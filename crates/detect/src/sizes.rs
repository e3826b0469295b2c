//! Sizes: how big a day's pages, files, megabytes or recipients are,
//! against the person's own sizes and their peers'.
//!
//! Rules:
//! - Sizes come in lumps (one copy of 300 MB, one announcement to 900
//!   people), so they are never counted as independent units and never
//!   judged by a bell curve. Each person keeps a histogram of their daily
//!   sizes in octaves (decayed like the baselines, only days they did it
//!   at all); each peer group the average of its members' histograms,
//!   every member counting once.
//! - A size is judged by the tail of the person's histogram mixed with
//!   their group's (worth [`GROUP_DAYS`] days): a size they have reached
//!   before is not surprising, one their peers reach now and then only a
//!   little.
//! - Beyond the largest size seen, the tail falls as a power law
//!   (`x^-1.5`): twice the largest is a little surprising, a hundred times
//!   it very. With no size seen at all, nothing is surprising (the
//!   companion count says whether doing it at all is).

/// Half-octave bins of `1 + x`, up to about 16 million.
pub const BINS: usize = 48;
/// How many days of the group's sizes a person's own are mixed with.
pub const GROUP_DAYS: f64 = 10.0;
/// The tail's slope beyond the largest size seen: `P(X >= x) ~ x^-2.5`.
const ALPHA: f64 = 2.5;

/// Where `x` falls, in bins (half octaves of `1 + x`).
fn octave(x: f64) -> f64 {
    2.0 * x.max(0.0).ln_1p() / std::f64::consts::LN_2
}

fn from_bins(t: f64) -> f64 {
    2f64.powf(t / 2.0) - 1.0
}

/// One person's daily sizes of one feature, in half octaves of `1 + x`.
#[serde_with::serde_as]
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct SizeHist {
    #[serde_as(as = "[_; BINS]")]
    pub h: [f32; BINS],
    pub n: f32,
}

impl Default for SizeHist {
    fn default() -> Self {
        SizeHist {
            h: [0.0; BINS],
            n: 0.0,
        }
    }
}

impl SizeHist {
    /// Closes a day: decays, and adds `x` if the person did it at all.
    pub fn roll(&mut self, x: f32, decay: f32) {
        for v in &mut self.h {
            *v *= decay;
        }
        self.n *= decay;
        if x > 0.0 {
            let b = (octave(f64::from(x)) as usize).min(BINS - 1);
            self.h[b] += 1.0;
            self.n += 1.0;
        }
    }

    /// Whether there are enough days to speak for the person.
    pub fn known(&self) -> bool {
        self.n >= 3.0
    }
}

/// A group's sizes: the average of its members' normalised histograms.
#[serde_with::serde_as]
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct SizeGroup {
    #[serde_as(as = "[_; BINS]")]
    pub p: [f32; BINS],
    pub members: f32,
}

impl Default for SizeGroup {
    fn default() -> Self {
        SizeGroup {
            p: [0.0; BINS],
            members: 0.0,
        }
    }
}

impl SizeGroup {
    pub fn add(&mut self, h: &SizeHist) {
        if !h.known() {
            return;
        }
        for (a, b) in self.p.iter_mut().zip(h.h.iter()) {
            *a += b / h.n;
        }
        self.members += 1.0;
    }

    /// Normalises the sums, shrinking towards `parent` with `k` members'
    /// worth.
    pub fn finish(mut self, parent: Option<&SizeGroup>, k: f32) -> SizeGroup {
        let (pk, pp) = match parent {
            Some(p) if p.members > 0.0 => (k, p.p),
            _ => (0.0, [0.0; BINS]),
        };
        let total = self.members + pk;
        if total > 0.0 {
            for (a, b) in self.p.iter_mut().zip(pp.iter()) {
                *a = (*a + pk * b) / total;
            }
        }
        self.members += pk;
        self
    }
}

/// The mixed distribution a person's size is judged by (borrowed: built
/// for every size a person does, so it allocates nothing).
pub struct SizeExpect<'a> {
    own: &'a SizeHist,
    group: &'a SizeGroup,
    g: f64,
    total: f64,
    top: usize,
}

impl<'a> SizeExpect<'a> {
    /// `None` when neither the person nor the group has sizes.
    pub fn new(own: &'a SizeHist, group: &'a SizeGroup) -> Option<SizeExpect<'a>> {
        let g = if group.members > 0.0 { GROUP_DAYS } else { 0.0 };
        let total = f64::from(own.n) + g;
        if total <= 0.0 {
            return None;
        }
        let top = (0..BINS)
            .rev()
            .find(|&b| own.h[b] > 0.0 || (g > 0.0 && group.p[b] > 0.0))?;
        Some(SizeExpect {
            own,
            group,
            g,
            total,
            top,
        })
    }

    fn mass(&self, b: usize) -> f64 {
        (f64::from(self.own.h[b]) + self.g * f64::from(self.group.p[b])) / self.total
    }

    /// `P(size >= x)`.
    pub fn tail(&self, x: f64) -> f64 {
        let t = octave(x);
        let top = self.top;
        if t >= top as f64 {
            // Half-octave bins: ALPHA per octave is ALPHA/2 per bin.
            return self.mass(top) * 2f64.powf(-ALPHA / 2.0 * (t - top as f64));
        }
        let b = t.floor() as usize;
        let mut p = self.mass(b) * (b as f64 + 1.0 - t);
        for k in b + 1..=top {
            p += self.mass(k);
        }
        p
    }

    /// `-ln P(size >= x)`.
    pub fn surprise(&self, x: f64) -> f64 {
        if x <= 0.0 {
            return 0.0;
        }
        -self.tail(x).max(1e-300).ln()
    }

    /// The size with `share` of the days at or below it.
    pub fn quantile(&self, share: f64) -> f64 {
        let mut c = 0.0;
        for b in 0..BINS {
            let m = self.mass(b);
            if c + m >= share {
                let f = if m > 0.0 { (share - c) / m } else { 0.0 };
                return from_bins(b as f64 + f);
            }
            c += m;
        }
        from_bins(BINS as f64)
    }

    /// The size that is `nats` surprising (for clipping the baseline).
    pub fn at(&self, nats: f64) -> f64 {
        let (mut lo, mut hi) = (0.0f64, 80.0f64);
        for _ in 0..40 {
            let mid = (lo + hi) / 2.0;
            if self.surprise(from_bins(mid)) < nats {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        from_bins(lo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: SizeGroup = SizeGroup {
        p: [0.0; BINS],
        members: 0.0,
    };

    fn hist(days: &[f32]) -> SizeHist {
        let mut h = SizeHist::default();
        for &d in days {
            h.roll(d, 1.0);
        }
        h
    }

    #[test]
    fn a_size_reached_before_is_not_surprising() {
        // Mostly a few recipients, an announcement to 900 now and then.
        let mut days = vec![3.0; 100];
        days[40] = 900.0;
        days[80] = 850.0;
        let h = hist(&days);
        let e = SizeExpect::new(&h, &NONE).unwrap();
        assert!(e.surprise(3.0) < 1.0);
        assert!(e.surprise(880.0) < 5.0, "{}", e.surprise(880.0));
        // Someone who never sends more than four: 900 is very surprising.
        let quiet = hist(&[3.0; 100]);
        let q = SizeExpect::new(&quiet, &NONE).unwrap();
        assert!(q.surprise(900.0) > 10.0, "{}", q.surprise(900.0));
        assert!(q.surprise(900.0) > q.surprise(20.0));
    }

    #[test]
    fn peers_who_do_it_make_it_less_surprising() {
        let quiet = hist(&[3.0; 100]);
        let mut g = SizeGroup::default();
        for _ in 0..10 {
            let mut d = vec![3.0; 50];
            d[10] = 900.0;
            g.add(&hist(&d));
        }
        let g = g.finish(None, 4.0);
        let alone = SizeExpect::new(&quiet, &NONE).unwrap();
        let with = SizeExpect::new(&quiet, &g).unwrap();
        assert!(with.surprise(900.0) < alone.surprise(900.0) - 2.0);
        assert!(SizeExpect::new(&SizeHist::default(), &NONE).is_none());
    }

    #[test]
    fn clip_level_is_where_surprise_starts() {
        let h = hist(&[10.0; 50]);
        let e = SizeExpect::new(&h, &NONE).unwrap();
        let x = e.at(6.9);
        assert!((e.surprise(x) - 6.9).abs() < 0.05, "{x}");
        assert!(e.quantile(0.5) > 7.0 && e.quantile(0.5) < 16.0);
    }
}
