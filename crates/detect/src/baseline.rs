//! Baselines: each person's rate of each behaviour, shrunk towards their
//! peers', how surprising a day is against it, and how strong the
//! evidence is that the rate has risen.
//!
//! Rules:
//! - A person's record of a feature is a decayed sum over their active
//!   days (half-life `baseline_half_life_days`) of the daily count and its
//!   square, and the same over about the last month.
//! - The person's reference is their baseline without the last month (the
//!   difference of the two decayed sums: a kernel that weighs the days from
//!   about three weeks to several months ago), the last month counting in
//!   only as far as there is little before it. So a drip or a rise is
//!   compared with what they did before it, not with an average that
//!   already contains it, and a newcomer with their own first weeks.
//! - Peers are three nested groups: the person's unit and role, their
//!   unit, everyone. Each group's members' rates give a gamma prior
//!   (empirical Bayes, moments): its mean is the group's typical rate, its
//!   strength how alike the members are (between 1 day's and a year's
//!   worth: if nobody in a large group does something, a year of one's own
//!   history would be needed to make it ordinary). The members' spread is
//!   taken less the counting noise of their own estimates (a rate from n
//!   days varies by mean / n even among identical people).
//!   A small group leans on the one above it. So a new or quiet person
//!   borrows the group's rate, and a person with months of history is
//!   judged mostly by their own.
//! - A prior the person's older history contradicts (their count before the
//!   last month one their peers would have one in a thousand times or less)
//!   loses its strength: a habit the group never had is the person's own.
//!   So a person whose behaviour does not change is judged by it, however
//!   far from the group it is.
//! - Day-to-day burstiness (the variance beyond Poisson) is the person's
//!   own, shrunk towards the group's: a habit of copying to USB now and
//!   then makes a big copy day less surprising than it is for someone
//!   whose days are alike.
//! - A day's count is judged by a negative binomial with the reference
//!   mean and a shape that carries both the burstiness and the uncertainty
//!   of the rate (at most exponential: a person's true rate may be a few
//!   times the estimate, not hundreds).
//! - A rise is judged by a CUSUM: the running log-likelihood ratio of
//!   "the rate is now `RISE` times the reference, at least once a fortnight"
//!   against "it is the reference", reset at zero. Each day's count adds its
//!   ratio, each quiet day takes a little away; the value is evidence in
//!   nats. A drip of one document a week when nobody ever sent one adds
//!   several nats a week; a habit that does not change drifts down to zero.
//!   One day adds at most `RISE_DAY_CAP`: a single lumpy day is the day's
//!   finding, not a rise.
//! - While a run lasts, its ratio is taken against the reference as it was
//!   when the run began (the reference itself goes on learning): a slow
//!   drip is weighed against what the person did before it, not against a
//!   reference that has half learnt it. The frozen reference thaws over
//!   `RUN_THAW_DAYS` active days, so a real change of work becomes the
//!   norm within a season.
//! - Nobody in the company having done something makes its first time
//!   surprising, not infinitely: the prior mean is floored at half an
//!   occurrence per company-wide active person-days.
//! - A person's prior is their peers' without them (an outlier would
//!   otherwise widen the spread that excuses them).
//! - For behaviours that are nobody's habit to have (`peer_features`:
//!   documents without need to know, another project's material again and
//!   again, documents to personal addresses, another's computer), the
//!   person's months of them (the unclipped decayed count) are also judged
//!   as if they were one of their peers: the prior's predictive, whose
//!   shape carries how much the peers differ. A snooping habit that began
//!   before the data did is not a norm.
//! - Sizes (pages, files, megabytes, recipients) are judged apart, by
//!   `sizes`: they come in lumps, not independent units.

use crate::features::N_FEAT;
use crate::tail::nb_surprise;

/// The month taken out of the reference: a half-life in active days.
pub const LONG_HALF_LIFE: f64 = 18.0;
/// Days of older history at which the last month weighs half in the
/// reference.
const RECENT_DAYS: f64 = 20.0;
/// The rise a CUSUM looks for: this many times the reference rate...
pub const RISE: f64 = 4.0;
/// ...and at least this often (once a fortnight).
pub const RISE_MIN_RATE: f64 = 1.0 / 14.0;
/// A CUSUM is one of about this many independent looks a day's count is
/// (its runs last weeks), so its floor is lower by the log of it.
pub const RISE_LENGTH: f64 = 20.0;
/// The most one day adds to a rise's evidence (nats): a rise is days of
/// it, and one lumpy day is the day's own finding, not a rise that would
/// linger for months.
pub const RISE_DAY_CAP: f64 = 4.0;
/// Active days over which a run's frozen reference thaws into the current
/// one.
pub const RUN_THAW_DAYS: f64 = 90.0;

/// One person's record of one feature.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub struct Track {
    /// Decayed sums over active days of the (clipped) count and its square.
    pub m: f32,
    pub q: f32,
    /// The same sums unclipped: what the person did, for the peer look and
    /// for burstiness (clipping the surprising days would make the person
    /// look steadier than they are).
    pub raw: f32,
    pub raw_q: f32,
    /// The clipped count over the last month (taken out of the reference).
    pub long_c: f32,
    /// The rise's evidence at the end of the last active day (nats), and
    /// the count and days of its current run.
    pub cusum: f32,
    pub run_x: f32,
    pub run_days: f32,
    /// The reference rate when the current run began (0: it began before
    /// the reference stood on enough history, and is not frozen).
    pub run_mu: f32,
}

/// A person's decayed count of active days.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub struct Days {
    pub n: f32,
    pub long: f32,
}

/// Per-day decay factors.
#[derive(Debug, Clone, Copy)]
pub struct Decay {
    pub base: f32,
    pub long: f32,
}

impl Decay {
    pub fn new(baseline_half_life: f64) -> Decay {
        let f = |h: f64| (0.5f64).powf(1.0 / h.max(1.0)) as f32;
        Decay {
            base: f(baseline_half_life),
            long: f(LONG_HALF_LIFE),
        }
    }
}

impl Days {
    pub fn roll(&mut self, d: &Decay) {
        self.n = self.n * d.base + 1.0;
        self.long = self.long * d.long + 1.0;
    }
}

impl Track {
    /// Closes a day: `clipped` into the baseline, `x` into the rise's
    /// evidence (`llr`: the day's log-likelihood ratio, and `freeze` the
    /// reference a run beginning today keeps, from [`Expect`]).
    pub fn roll(&mut self, x: f32, clipped: f32, llr: f64, freeze: f64, d: &Decay) {
        self.m = self.m * d.base + clipped;
        self.raw = self.raw * d.base + x;
        self.raw_q = self.raw_q * d.base + x * x;
        self.q = self.q * d.base + clipped * clipped;
        self.long_c = self.long_c * d.long + clipped;
        let c = f64::from(self.cusum) + llr;
        if c <= 0.0 {
            self.cusum = 0.0;
            self.run_x = 0.0;
            self.run_days = 0.0;
        } else {
            if self.cusum == 0.0 {
                self.run_mu = freeze as f32;
            }
            self.cusum = c as f32;
            self.run_x += x;
            self.run_days += 1.0;
        }
    }

    /// The person's own rate and burstiness (`1/k`, 0 for Poisson), if
    /// they have enough days to say.
    pub fn own(&self, days: &Days) -> Option<(f64, f64)> {
        let n = f64::from(days.n);
        if n < 4.5 {
            return None;
        }
        let mu = f64::from(self.m) / n;
        let raw_mu = f64::from(self.raw) / n;
        let var = (f64::from(self.raw_q) / n - raw_mu * raw_mu).max(0.0);
        let disp = if raw_mu > 1e-9 {
            ((var - raw_mu) / (raw_mu * raw_mu)).clamp(0.0, 50.0)
        } else {
            0.0
        };
        Some((mu, disp))
    }
}

/// What a group's members' rates of one feature look like.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub struct GroupStat {
    pub count: f64,
    pub sum: f64,
    pub sum_sq: f64,
    /// Sum of members' burstiness (of those who do it at all).
    pub disp_sum: f64,
    pub disp_count: f64,
    /// Sum of `1 / days` of the members' records: how noisy their own rates
    /// are as estimates.
    pub inv_days: f64,
}

impl GroupStat {
    /// The group without one member who was added with `(mu, disp)`: a
    /// person's prior is their peers', not partly their own (an outlier
    /// would otherwise widen the spread that excuses them).
    pub fn without(&self, mu: f64, disp: f64, days: f64) -> GroupStat {
        let mut g = *self;
        if g.count < 1.0 {
            return g;
        }
        g.count -= 1.0;
        g.inv_days = (g.inv_days - 1.0 / days.max(1.0)).max(0.0);
        g.sum = (g.sum - mu).max(0.0);
        g.sum_sq = (g.sum_sq - mu * mu).max(0.0);
        if mu > 1e-9 && g.disp_count >= 1.0 {
            g.disp_sum = (g.disp_sum - disp).max(0.0);
            g.disp_count -= 1.0;
        }
        g
    }

    /// A member's own rate and burstiness, from `days` active days.
    pub fn add(&mut self, mu: f64, disp: f64, days: f64) {
        self.count += 1.0;
        self.sum += mu;
        self.sum_sq += mu * mu;
        self.inv_days += 1.0 / days.max(1.0);
        if mu > 1e-9 {
            self.disp_sum += disp;
            self.disp_count += 1.0;
        }
    }
}

/// A gamma prior on a person's rate, and the group's burstiness.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct Prior {
    /// The group's typical rate per active day.
    pub mean: f64,
    /// Worth this many days of the person's own data.
    pub strength: f64,
    /// How alike the members' rates are: the gamma's shape, `1 / CV²` of
    /// the rates (at most 4: people differ by at least half the mean).
    pub shape: f64,
    pub disp: f64,
}

impl Default for Prior {
    fn default() -> Self {
        Prior {
            mean: 0.0,
            strength: 1.0,
            shape: 1.0,
            disp: 0.0,
        }
    }
}

/// The most days of a person's own history a prior is worth.
const MAX_STRENGTH: f64 = 365.0;

/// Pseudo-members a group's statistics are shrunk with towards the group
/// above it.
const SHRINK_MEMBERS: f64 = 4.0;

impl Prior {
    /// The prior of a group from its members' statistics and the prior of
    /// the group above it (`None` at the top), with `floor` the smallest
    /// rate anything is believed to have.
    pub fn from_group(g: &GroupStat, parent: Option<&Prior>, floor: f64) -> Prior {
        if g.count <= 0.0 {
            // Nobody observed yet: the group above, or no information (not
            // certainty of nothing).
            return parent.copied().unwrap_or(Prior {
                mean: floor,
                strength: 1.0,
                shape: 0.1,
                disp: 0.0,
            });
        }
        let (pm, ps, pd) = match parent {
            Some(p) => (p.mean, p.shape.max(1e-9), p.disp),
            None => (0.0, 1.0, 0.0),
        };
        let (c, k) = (
            g.count,
            if parent.is_some() {
                SHRINK_MEMBERS
            } else {
                0.0
            },
        );
        // The parent lends its mean and its relative spread (its shape), not
        // its absolute variance: a quiet group inside a busy company is
        // quiet, and alike.
        let (mean, var) = if c + k <= 0.0 {
            (pm, pm * pm / ps)
        } else {
            let m = if c > 0.0 { g.sum / c } else { 0.0 };
            // The spread of the members' own rates less what counting
            // noise alone gives (a rate from n days varies by mean / n):
            // what is left is how much the people really differ.
            let v = if c > 1.0 {
                (g.sum_sq / c - m * m - m * g.inv_days / c).max(0.0)
            } else {
                0.0
            };
            let mean = (c * m + k * pm) / (c + k);
            (mean, (c * v + k * mean * mean / ps) / (c + k))
        };
        let disp = if g.disp_count + k > 0.0 {
            (g.disp_sum + k * pd) / (g.disp_count + k)
        } else {
            pd
        };
        let mean = mean.max(floor);
        // Between-person spread at least half the mean (people differ), so
        // the prior is never worth more than a few months.
        let var = var.max((0.5 * mean) * (0.5 * mean)).max(1e-18);
        Prior {
            mean,
            strength: (mean / var).clamp(1.0, MAX_STRENGTH),
            shape: mean * mean / var,
            disp: disp.clamp(0.0, 50.0),
        }
    }
}

/// How much of the prior's strength stands when the person's older history
/// (before the last month) contradicts it: 1 while their count is one their
/// peers could have, falling fast beyond one in a thousand. A habit the
/// group never had is the person's own, not a misdeed that persists (the
/// peer look, for what is nobody's habit, is separate).
fn conflict_discount(prior: &Prior, m_old: f64, n_old: f64) -> f64 {
    let expected = prior.mean * n_old;
    if m_old < 3.0 * expected + 3.0 {
        return 1.0;
    }
    let s = nb_surprise(m_old.floor(), expected, prior.shape.max(1e-3));
    (-(s - 6.9).max(0.0)).exp()
}

/// Days of a person's own data their burstiness estimate is worth against
/// the group's.
const OWN_DISP_DAYS: f64 = 20.0;

/// What a person's next day (or window) of a feature should look like.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct Expect {
    /// Rate per active day.
    pub mu: f64,
    /// The rate a rise is measured against: the reference when the current
    /// run began, thawing into `mu`.
    pub rise_mu: f64,
    /// What a run beginning today freezes: `mu` once the reference stands
    /// on a few weeks of older history, else nothing (0).
    pub freeze: f64,
    /// The peers' typical rate, and the gamma prior's shape (how alike
    /// they are): what the peer look judges months of a behaviour by.
    pub peer_mean: f64,
    pub peer_shape: f64,
    /// Burstiness (1/k of the daily count).
    pub disp: f64,
    /// The day's negative-binomial shape, and the rise's log-likelihood
    /// ratio as `llr_a * x + llr_b` (both fixed for a day).
    k: f64,
    llr_a: f64,
    llr_b: f64,
}

impl Expect {
    pub fn new(t: &Track, days: &Days, prior: &Prior) -> Expect {
        let n = f64::from(days.n);
        // The reference: the baseline without the last month, which counts
        // in as far as there is little before it (a newcomer's first month
        // is all there is of their own).
        let n_old = (n - f64::from(days.long)).max(0.0);
        let m_old = (f64::from(t.m) - f64::from(t.long_c)).max(0.0);
        let lambda = RECENT_DAYS / (RECENT_DAYS + n_old);
        let n_ref = n_old + lambda * f64::from(days.long);
        let m_ref = m_old + lambda * f64::from(t.long_c);
        let strength = prior.strength * conflict_discount(prior, m_old, n_old);
        let a = prior.mean * strength;
        let mu = (a + m_ref) / (strength + n_ref);
        let disp = match t.own(days) {
            Some((own_mu, own_disp)) if own_mu > 1e-9 => {
                (n * own_disp + OWN_DISP_DAYS * prior.disp) / (n + OWN_DISP_DAYS)
            }
            _ => prior.disp,
        };
        let alpha = a + m_ref;
        // The rate's own uncertainty is at most exponential (shape 1): a
        // person's true rate may be a few times the estimate, not hundreds.
        let inv_k = disp + 1.0 / alpha.max(1.0);
        let k = 1.0 / inv_k.max(1e-9);
        let rise_mu = if t.cusum > 0.0 && t.run_days > 0.0 && t.run_mu > 0.0 {
            let thaw = (f64::from(t.run_days) / RUN_THAW_DAYS).min(1.0);
            let frozen = f64::from(t.run_mu);
            mu.min(frozen + thaw * (mu - frozen).max(0.0))
        } else {
            mu
        };
        let mu0 = rise_mu.max(1e-12);
        let mu1 = (mu0 * RISE).max(RISE_MIN_RATE);
        // The day's shape (burstiness and the rate's own uncertainty): a
        // reference standing on a few days cannot make one lumpy day decisive.
        let kd = k.min(1e9);
        let (llr_a, llr_b) = if kd >= 1e8 {
            ((mu1 / mu0).ln(), -(mu1 - mu0))
        } else {
            (
                ((mu1 * (mu0 + kd)) / (mu0 * (mu1 + kd))).ln(),
                kd * ((mu0 + kd) / (mu1 + kd)).ln(),
            )
        };
        Expect {
            mu,
            rise_mu,
            freeze: if n_old >= RECENT_DAYS { mu } else { 0.0 },
            peer_mean: prior.mean,
            peer_shape: prior.shape,
            disp,
            k,
            llr_a,
            llr_b,
        }
    }

    /// The negative binomial's shape for one day.
    fn shape(&self) -> f64 {
        self.k
    }

    /// `-ln P(X >= x)` of a day's count `x`.
    pub fn surprise(&self, x: f64) -> f64 {
        if x <= self.mu {
            return 0.0;
        }
        nb_surprise(x, self.mu, self.shape())
    }

    /// Whether `x` could be surprising (at least about five nats): within
    /// one standard deviation above the mean a negative binomial never is
    /// (checked for shapes down to 0.02), so the exact tail need not be
    /// computed there.
    pub fn could_be_surprising(&self, x: f64) -> bool {
        if x <= self.mu {
            return false;
        }
        let var = self.mu + self.mu * self.mu / self.shape();
        x >= self.mu + var.sqrt()
    }

    /// `-ln P(X >= total)` of the decayed count `total` over `days` active
    /// days, were the person one of their peers (the gamma prior's
    /// predictive: a negative binomial of the peers' mean and the prior's
    /// shape). Only months far above everyone like them are surprising:
    /// the shape carries how much the peers differ among themselves.
    pub fn peer_surprise(&self, total: f64, days: f64) -> f64 {
        let mean = self.peer_mean * days;
        if total <= 2.0 * mean || total < 3.0 {
            return 0.0;
        }
        nb_surprise(total.floor(), mean, self.peer_shape.max(1e-6))
    }

    /// The day's log-likelihood ratio of a rise (see the rules): the
    /// negative binomial of the risen rate against the reference's, with the
    /// day's shape.
    pub fn llr(&self, x: f64) -> f64 {
        (x * self.llr_a + self.llr_b).min(RISE_DAY_CAP)
    }
}

/// Every feature's record for one person.
pub type Tracks = [Track; N_FEAT];

#[cfg(test)]
mod tests {
    use super::*;

    fn company(mean: f64, n: usize) -> Prior {
        let mut g = GroupStat::default();
        for i in 0..n {
            // Members between 0.5x and 1.5x the mean.
            g.add(mean * (0.5 + i as f64 / n as f64), 0.2, 1e9);
        }
        Prior::from_group(&g, None, 1e-6)
    }

    /// Days of `x`, with the rise's evidence kept as the engine keeps it.
    fn live(t: &mut Track, days: &mut Days, prior: &Prior, d: &Decay, xs: &[f32]) {
        for &x in xs {
            let e = Expect::new(t, days, prior);
            t.roll(x, x, e.llr(f64::from(x)), e.freeze, d);
            days.roll(d);
        }
    }

    #[test]
    fn a_new_person_borrows_the_group_and_an_old_one_is_their_own() {
        let prior = company(2.0, 50);
        let d = Decay::new(90.0);
        let (mut t, mut days) = (Track::default(), Days::default());
        let new = Expect::new(&t, &days, &prior);
        assert!((new.mu - 2.0).abs() < 0.2, "{new:?}");
        live(&mut t, &mut days, &prior, &d, &[10.0; 200]);
        let old = Expect::new(&t, &days, &prior);
        assert!(old.mu > 9.0, "{old:?}");
        // Ten a day is ordinary for them, extraordinary for a newcomer.
        assert!(old.surprise(10.0) < 1.0);
        assert!(new.surprise(10.0) > 5.0);
        // And their habit, however large, gives no evidence of a rise.
        assert!(t.cusum < 1.0, "{t:?}");
    }

    #[test]
    fn bursty_habits_are_judged_by_their_bursts() {
        let prior = company(0.05, 50);
        let d = Decay::new(90.0);
        let mut steady = (Track::default(), Days::default());
        let mut bursty = (Track::default(), Days::default());
        let b_days: Vec<f32> = (0..200)
            .map(|i| if i % 20 == 0 { 20.0 } else { 0.0 })
            .collect();
        live(&mut steady.0, &mut steady.1, &prior, &d, &[1.0; 200]);
        live(&mut bursty.0, &mut bursty.1, &prior, &d, &b_days);
        let s = Expect::new(&steady.0, &steady.1, &prior);
        let b = Expect::new(&bursty.0, &bursty.1, &prior);
        // Both average one a day; 25 in a day is far more surprising for
        // the steady one.
        assert!(s.surprise(25.0) > b.surprise(25.0) + 10.0);
        assert!(b.surprise(25.0) > 1.0);
    }

    #[test]
    fn a_drip_adds_up_and_a_habit_does_not() {
        let prior = company(1e-5, 200);
        let d = Decay::new(90.0);
        let (mut t, mut days) = (Track::default(), Days::default());
        live(&mut t, &mut days, &prior, &d, &[0.0; 60]);
        // Then one a week for six weeks.
        let mut drip = Vec::new();
        for _ in 0..6 {
            drip.extend([1.0, 0.0, 0.0, 0.0, 0.0]);
        }
        live(&mut t, &mut days, &prior, &d, &drip);
        assert!(t.cusum > 15.0, "{t:?}");
        assert_eq!(t.run_x, 6.0);
        // Someone who has always done one a week.
        let habit: Vec<f32> = (0..300)
            .map(|i| if i % 5 == 0 { 1.0 } else { 0.0 })
            .collect();
        let (mut h, mut hd) = (Track::default(), Days::default());
        live(&mut h, &mut hd, &company(0.2, 50), &d, &habit);
        assert!(h.cusum < 5.0, "{h:?}");
    }

    #[test]
    fn never_seen_is_surprising_but_finite() {
        let g = GroupStat::default();
        let p = Prior::from_group(&g, None, 1e-5);
        let e = Expect::new(&Track::default(), &Days::default(), &p);
        let s = e.surprise(1.0);
        assert!(s > 10.0 && s < 13.0, "{s}");
    }

    #[test]
    fn the_shortcut_never_skips_a_surprising_count() {
        for mean in [0.01, 0.3, 1.0, 5.0, 20.0, 200.0] {
            for disp in [0.0, 0.2, 1.0, 5.0, 50.0] {
                let prior = Prior {
                    mean,
                    strength: 1.0,
                    shape: 1.0,
                    disp,
                };
                let e = Expect::new(&Track::default(), &Days::default(), &prior);
                for x in 0..2000 {
                    let x = f64::from(x);
                    if !e.could_be_surprising(x) {
                        let s = e.surprise(x);
                        assert!(s < 5.0, "mean {mean} disp {disp} x={x}: {s}");
                    }
                }
            }
        }
    }
}
