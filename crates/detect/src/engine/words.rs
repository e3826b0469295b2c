//! How the engine says things in an alert: amounts, rarities ("one day in
//! 40"), verbs of events, the weight of a level.

use super::*;

pub(super) fn level_units(l: Level) -> f32 {
    match l {
        Level::Public => 0.25,
        Level::Internal => 1.0,
        Level::Confidential => 2.0,
        Level::Secret => 3.0,
    }
}

pub(super) fn verb(k: Kind) -> &'static str {
    match k {
        Kind::Print => "printed",
        Kind::Download => "downloaded",
        Kind::Briefing => "was briefed on",
        Kind::Denied => "tried",
        _ => "opened",
    }
}

pub fn human_bytes(b: u64) -> String {
    let b = b as f64;
    if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.0} kB", b / 1e3)
    } else {
        format!("{b:.0} B")
    }
}

/// "1 in 3,000", from nats of surprise.
pub(super) fn one_in(nats: f64) -> String {
    let n = nats.min(60.0).exp();
    if n >= 1e9 {
        format!("1 in {:.0e}", n)
    } else if n >= 1e6 {
        format!("1 in {:.1} million", n / 1e6)
    } else {
        let v = if n >= 100.0 {
            (n / 100.0).round() * 100.0
        } else {
            n.round()
        };
        let s = format!("{v:.0}");
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        format!("1 in {out}")
    }
}

pub(super) fn amount(f: Feat, x: f64) -> String {
    if f.info().megabytes {
        human_bytes((x * 1e6) as u64)
    } else if (x - x.round()).abs() < 1e-6 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}
