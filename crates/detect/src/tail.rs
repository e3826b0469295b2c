//! Tail probabilities: how surprising a count is.
//!
//! Rules:
//! - Counts are judged against a negative binomial (a Poisson whose rate
//!   varies from day to day as a gamma): mean `mu`, shape `k`; a large `k`
//!   is nearly Poisson, a small one bursty. [`nb_surprise`] is
//!   `-ln P(X >= x)`, in nats: 0 for an ordinary count, about 7 for a
//!   one-in-a-thousand day, about 14 for one in a million.
//! - `P(X >= x)` is the regularized incomplete beta `I_{1-p}(x, k)` with
//!   `p = k / (k + mu)`; it is computed in logarithms by Lentz's continued
//!   fraction, so tiny tails keep their digits (no `1 - sum` cancellation).
//! - Non-integer counts (megabytes, weighted counts) are judged at the
//!   integer above (`P(X >= ceil(x))`).
//! - [`normal_surprise`] is the one-sided normal tail, for statistics that
//!   are approximately normal (a trend's Mann-Kendall z).
//!
//! Everything here is pure and deterministic; no allocation.

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7, n = 9; about 15 digits).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1-x) = π / sin(πx).
        let s = (std::f64::consts::PI * x).sin();
        return std::f64::consts::PI.ln() - s.abs().ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The continued fraction of the incomplete beta (modified Lentz).
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    const EPS: f64 = 1e-13;
    let floor = |v: f64| if v.abs() < TINY { TINY } else { v };
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 / floor(1.0 - qab * x / qap);
    let mut h = d;
    // One term of the fraction: returns the factor it multiplies `h` by.
    let mut step = |aa: f64| {
        d = 1.0 / floor(1.0 + aa * d);
        c = floor(1.0 + aa / c);
        d * c
    };
    for m in 1..=400 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        h *= step(m * (b - m) * x / ((qam + m2) * (a + m2)));
        let del = step(-(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)));
        h *= del;
        if (del - 1.0).abs() < EPS {
            break;
        }
    }
    h
}

/// `ln I_x(a, b)`, the log of the regularized incomplete beta function.
pub fn ln_beta_inc(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if x >= 1.0 {
        return 0.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (-x).ln_1p();
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front + beta_cf(a, b, x).ln() - a.ln()
    } else {
        // I_x(a, b) = 1 - I_{1-x}(b, a): fine here, this side is not tiny.
        let other = (ln_front + beta_cf(b, a, 1.0 - x).ln() - b.ln()).exp();
        (1.0 - other).max(f64::MIN_POSITIVE).ln()
    }
}

/// Shapes above this are Poisson for every purpose here (and the beta's
/// log-gamma differences would lose digits).
const POISSON_SHAPE: f64 = 1e6;

/// `-ln P(X >= x)` for a negative binomial of mean `mu` and shape `k`.
///
/// `x <= 0` is never surprising; `mu <= 0` makes any positive count as
/// surprising as a mean of `1e-12` would.
pub fn nb_surprise(x: f64, mu: f64, k: f64) -> f64 {
    let x = x.ceil();
    if x <= 0.0 || !x.is_finite() {
        return 0.0;
    }
    let mu = if mu.is_finite() { mu.max(1e-12) } else { 1e-12 };
    if !k.is_finite() || k > POISSON_SHAPE {
        return poisson_surprise(x, mu);
    }
    let k = k.max(1e-6);
    // P(X >= x) = I_{mu/(k+mu)}(x, k).
    let q = mu / (k + mu);
    (-ln_beta_inc(x, k, q)).max(0.0)
}

/// `ln P(a, x)`, the log of the regularized lower incomplete gamma.
fn ln_gamma_lower(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return f64::NEG_INFINITY;
    }
    let ln_front = a * x.ln() - x - ln_gamma(a);
    if x < a + 1.0 {
        // Series.
        let (mut ap, mut sum, mut del) = (a, 1.0 / a, 1.0 / a);
        for _ in 0..1000 {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if del.abs() < sum.abs() * 1e-15 {
                break;
            }
        }
        ln_front + sum.ln()
    } else {
        // Continued fraction for the upper part; this side is not tiny.
        let (mut b, mut c) = (x + 1.0 - a, 1.0 / 1e-300);
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..1000 {
            let an = -f64::from(i) * (f64::from(i) - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < 1e-300 {
                d = 1e-300;
            }
            c = b + an / c;
            if c.abs() < 1e-300 {
                c = 1e-300;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < 1e-15 {
                break;
            }
        }
        let upper = (ln_front + h.ln()).exp();
        (1.0 - upper).max(f64::MIN_POSITIVE).ln()
    }
}

/// `-ln P(X >= x)` for a Poisson of mean `mu`: `P(X >= x)` is the lower
/// incomplete gamma `P(x, mu)`.
pub fn poisson_surprise(x: f64, mu: f64) -> f64 {
    let x = x.ceil();
    if x <= 0.0 || !x.is_finite() {
        return 0.0;
    }
    let mu = if mu.is_finite() { mu.max(1e-12) } else { 1e-12 };
    (-ln_gamma_lower(x, mu)).max(0.0)
}

/// `-ln P(Z >= z)` for a standard normal `Z`.
pub fn normal_surprise(z: f64) -> f64 {
    if z < -8.0 {
        return 0.0;
    }
    if z > 8.0 {
        // Mills' ratio: P(Z >= z) ~ φ(z)/z (1 - 1/z²).
        return z * z / 2.0 + (z * (2.0 * std::f64::consts::PI).sqrt()).ln()
            - (1.0 - 1.0 / (z * z)).ln();
    }
    // P(Z >= z) = erfc(z/√2)/2, erfc by its continued fraction / series
    // (W. J. Cody's rational approximations are overkill here; this is
    // accurate to ~1e-12 relative over the range used).
    let p = 0.5 * erfc(z / std::f64::consts::SQRT_2);
    (-p.max(f64::MIN_POSITIVE).ln()).max(0.0)
}

/// The complementary error function (Numerical Recipes' erfcc, refined:
/// relative error below 1.2e-7, enough for scores).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The tail by direct summation of the pmf from x on (fine where the
    /// terms fall off fast enough).
    fn tail_by_sum(x: u64, mu: f64, k: f64) -> f64 {
        let p = k / (k + mu);
        // ln pmf(j) = lnΓ(j+k) - lnΓ(k) - lnΓ(j+1) + k ln p + j ln(1-p)
        let lp = |j: f64| {
            ln_gamma(j + k) - ln_gamma(k) - ln_gamma(j + 1.0) + k * p.ln() + j * (1.0 - p).ln()
        };
        let mut s = 0.0;
        let mut j = x as f64;
        loop {
            let t = lp(j).exp();
            s += t;
            if t < s * 1e-16 || j > x as f64 + 200_000.0 {
                break;
            }
            j += 1.0;
        }
        s
    }

    #[test]
    fn ln_gamma_known_values() {
        assert!((ln_gamma(1.0)).abs() < 1e-13);
        assert!((ln_gamma(2.0)).abs() < 1e-13);
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-12);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
        // Γ(101) = 100!
        let fact: f64 = (1..=100).map(|i| (i as f64).ln()).sum();
        assert!((ln_gamma(101.0) - fact).abs() < 1e-9);
        assert!((ln_gamma(0.1) - 2.252_712_651_734_206).abs() < 1e-12);
    }

    #[test]
    fn poisson_tail_known_values() {
        // P(X >= 1 | 1) = 1 - e^-1
        let s = poisson_surprise(1.0, 1.0);
        assert!((s + (1.0 - (-1f64).exp()).ln()).abs() < 1e-9, "{s}");
        // P(X >= 10 | 2) = 4.649807e-5 (sum of the Poisson pmf).
        let s = poisson_surprise(10.0, 2.0);
        assert!((s - (-(4.649_807_501_e-5f64).ln())).abs() < 1e-6, "{s}");
        // P(X >= 1 | 1e-6) ≈ 1e-6: about 13.8 nats.
        let s = poisson_surprise(1.0, 1e-6);
        assert!((s - 1e6f64.ln()).abs() < 1e-3, "{s}");
        assert_eq!(poisson_surprise(0.0, 5.0), 0.0);
        // P(X >= 30 | 10) = 2.509951e-7, from the upper side.
        let s = poisson_surprise(30.0, 10.0);
        assert!((s + (2.509_951_2e-7f64).ln()).abs() < 1e-6, "{s}");
        // P(X >= 3 | 8) = 0.986246, from the continued fraction side.
        let s = poisson_surprise(3.0, 8.0);
        assert!((s + 0.986_246_032f64.ln()).abs() < 1e-8, "{s}");
        // The negative binomial tends to it.
        assert!((nb_surprise(10.0, 2.0, 1e7) - poisson_surprise(10.0, 2.0)).abs() < 1e-6);
        assert!((nb_surprise(10.0, 2.0, 1e5) - poisson_surprise(10.0, 2.0)).abs() < 1e-3);
    }

    #[test]
    fn normal_tail_known_values() {
        assert!((normal_surprise(0.0) - 2f64.ln()).abs() < 1e-6);
        // P(Z >= 3) = 1.349898e-3
        assert!((normal_surprise(3.0) + (1.349_898e-3f64).ln()).abs() < 1e-4);
        // P(Z >= 6) = 9.8659e-10
        assert!((normal_surprise(6.0) + (9.865_876e-10f64).ln()).abs() < 1e-3);
        assert!(normal_surprise(9.0) > normal_surprise(7.9));
        assert!(normal_surprise(-9.0) == 0.0);
    }

    #[test]
    fn negative_binomial_agrees_with_direct_summation() {
        for &(x, mu, k) in &[
            (1u64, 0.05, 0.2),
            (3, 0.05, 0.2),
            (10, 2.0, 1.0),
            (40, 2.0, 0.5),
            (5, 10.0, 50.0),
            (30, 10.0, 50.0),
            (80, 0.5, 2.0),
            (2, 0.3, 1e6),
            (300, 9.0, 0.05),
        ] {
            let want = -tail_by_sum(x, mu, k).ln();
            let got = nb_surprise(x as f64, mu, k);
            assert!(
                (got - want).abs() < 1e-6 * want.max(1.0),
                "x={x} mu={mu} k={k}: {got} vs {want}"
            );
        }
    }

    proptest! {
        /// More is never less surprising, a higher mean never more.
        #[test]
        fn monotone(x in 1u32..500, mu in 0.001f64..50.0, k in 0.01f64..100.0) {
            let s = nb_surprise(f64::from(x), mu, k);
            prop_assert!(s.is_finite() && s >= 0.0);
            prop_assert!(nb_surprise(f64::from(x + 1), mu, k) >= s - 1e-9);
            prop_assert!(nb_surprise(f64::from(x), mu * 1.5, k) <= s + 1e-9);
        }

        /// Well above the mean, a burstier habit makes a count less
        /// surprising (the tail is heavier).
        #[test]
        fn bursty_is_less_surprising(mu in 0.01f64..20.0, k in 0.4f64..50.0, extra in 0u32..100) {
            let x = (2.0 * mu + 2.0).ceil() + f64::from(extra);
            prop_assert!(nb_surprise(x, mu, k / 2.0) <= nb_surprise(x, mu, k) + 1e-9);
        }
    }
}
