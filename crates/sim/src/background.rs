//! The honest background of a simulated company: what its people do when
//! nobody is stealing anything, as knobs.
//!
//! Real companies differ from ours in exactly these ways (folder
//! permissions looser than the register, curiosity, personal mail, USB at
//! customer sites, odd hours, roles that read everything), so detection is
//! judged over a sweep of them, never at one setting. [`Background::default`]
//! is the company the demo shows; [`sweep_grid`] is the grid
//! `custodian evaluate --sweep` scores, from quiet to noisy.
//!
//! A background is written `key=value,key=value` ([`Background::parse`]);
//! unnamed knobs keep their defaults.

use std::fmt;

use serde::Serialize;

/// How the honest people of a simulated company behave.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Background {
    /// Opens of material outside one's scope (other product lines' manuals,
    /// other projects' confidential documents) per person per week, out of
    /// curiosity or for work nobody recorded.
    pub curiosity: f64,
    /// Of those curious opens that need a need to know or clearance the
    /// person lacks, the share the DMS lets through (folder permissions
    /// looser than the register); the rest are refused.
    pub acl_loose: f64,
    /// Refused attempts per person per month besides curiosity (mis-clicks,
    /// stale links).
    pub refusals: f64,
    /// Share of people who mail themselves at a free-mail or ISP address.
    pub personal_mail: f64,
    /// How often those people do it, per working day.
    pub personal_mail_rate: f64,
    /// Of those mails, the share that attach a register document of the
    /// person's own scope (to work from home).
    pub personal_docs: f64,
    /// Share of people with a USB habit (backups, a camera, a projector).
    pub usb: f64,
    /// Share of field-service and production staff who copy manuals
    /// (register documents) to USB for customer sites.
    pub usb_manuals: f64,
    /// Share of people who often work in the evening or at weekends.
    pub odd_hours: f64,
    /// Share of people whose work spans every product line (beyond the
    /// roles that always do: QA, sales, field service).
    pub broad: f64,
    /// Units in a release crunch (late nights, weekends, more reading).
    pub crunches: usize,
    /// Share of people transferred to another project during the period.
    pub transfers: f64,
    /// Multiplier of everyone's daily activity (documents, mail, web).
    pub activity: f64,
    /// Share of people who browse job sites now and then.
    pub job_browsing: f64,
    /// Share of people who log on to PCs other than their own (a shared lab
    /// PC, a colleague's); above zero, IT administrators log on to others'
    /// PCs every day.
    pub roaming: f64,
    /// Share of people who also send mail from a personal account at work.
    pub personal_sender: f64,
}

impl Default for Background {
    fn default() -> Self {
        Background {
            curiosity: 0.0,
            acl_loose: 0.0,
            refusals: 0.13,
            personal_mail: 0.04,
            personal_mail_rate: 0.04,
            personal_docs: 0.0,
            usb: 0.15,
            usb_manuals: 0.0,
            odd_hours: 0.1,
            broad: 0.0,
            crunches: 1,
            transfers: 0.02,
            activity: 1.0,
            job_browsing: 0.0,
            roaming: 0.0,
            personal_sender: 0.0,
        }
    }
}

/// A `key=value` list that does not describe a background.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("background `{text}`: {reason}")]
pub struct BackgroundError {
    pub text: String,
    pub reason: String,
}

/// Each knob: its name, and where it lives.
type Knob = (&'static str, fn(&mut Background) -> &mut f64);

const KNOBS: [Knob; 15] = [
    ("curiosity", |b| &mut b.curiosity),
    ("acl_loose", |b| &mut b.acl_loose),
    ("refusals", |b| &mut b.refusals),
    ("personal_mail", |b| &mut b.personal_mail),
    ("personal_mail_rate", |b| &mut b.personal_mail_rate),
    ("personal_docs", |b| &mut b.personal_docs),
    ("usb", |b| &mut b.usb),
    ("usb_manuals", |b| &mut b.usb_manuals),
    ("odd_hours", |b| &mut b.odd_hours),
    ("broad", |b| &mut b.broad),
    ("transfers", |b| &mut b.transfers),
    ("activity", |b| &mut b.activity),
    ("job_browsing", |b| &mut b.job_browsing),
    ("roaming", |b| &mut b.roaming),
    ("personal_sender", |b| &mut b.personal_sender),
];

impl Background {
    /// `key=value,…` over the defaults, e.g. `curiosity=1,acl_loose=0.8`.
    pub fn parse(text: &str) -> Result<Background, BackgroundError> {
        let err = |reason: String| BackgroundError {
            text: text.chars().take(200).collect(),
            reason,
        };
        let mut b = Background::default();
        if text.trim() == "default" {
            return Ok(b);
        }
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((k, v)) = part.split_once('=') else {
                return Err(err(format!("`{part}` is not key=value")));
            };
            let (k, v) = (k.trim(), v.trim());
            let x: f64 = v
                .parse()
                .ok()
                .filter(|x: &f64| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| err(format!("{k}: `{v}` is not a number >= 0")))?;
            if k == "crunches" {
                b.crunches = x.round().min(9.0) as usize;
                continue;
            }
            let Some((_, field)) = KNOBS.iter().find(|(n, _)| *n == k) else {
                let names: Vec<&str> = KNOBS.iter().map(|(n, _)| *n).collect();
                return Err(err(format!(
                    "unknown knob `{k}` (known: {}, crunches)",
                    names.join(", ")
                )));
            };
            let shares = [
                "acl_loose",
                "personal_mail",
                "personal_docs",
                "usb",
                "usb_manuals",
                "odd_hours",
                "broad",
                "transfers",
                "job_browsing",
                "roaming",
                "personal_sender",
            ];
            if shares.contains(&k) && x > 1.0 {
                return Err(err(format!("{k} is a share: between 0 and 1, not {v}")));
            }
            if k == "activity" && !(0.1..=10.0).contains(&x) {
                return Err(err(format!("activity is between 0.1 and 10, not {v}")));
            }
            *field(&mut b) = x;
        }
        Ok(b)
    }
}

impl fmt::Display for Background {
    /// The knobs that differ from the defaults, as [`Background::parse`]
    /// reads them (`default` when none do).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = Background::default();
        let mut parts = Vec::new();
        let (mut a, mut b) = (self.clone(), d.clone());
        for (name, field) in KNOBS {
            let (x, y) = (*field(&mut a), *field(&mut b));
            if (x - y).abs() > 1e-12 {
                parts.push(format!("{name}={x}"));
            }
        }
        if self.crunches != d.crunches {
            parts.push(format!("crunches={}", self.crunches));
        }
        if parts.is_empty() {
            f.write_str("default")
        } else {
            f.write_str(&parts.join(","))
        }
    }
}

/// One point of the sweep: a name and a background.
#[derive(Debug, Clone, PartialEq)]
pub struct GridPoint {
    pub name: String,
    pub background: Background,
}

fn point(name: &str, knobs: &str) -> GridPoint {
    GridPoint {
        name: name.to_string(),
        // The grid below is written here and parsed by the same code users
        // call; a typo shows in the sweep's first line.
        background: Background::parse(knobs).unwrap_or_default(),
    }
}

/// The grid `custodian evaluate --sweep` scores: the demo's company, each
/// kind of honest noise on its own at a high setting, the independent
/// companies' description (loose permissions, weekly curiosity, refusals a
/// few times a month, 15 % personal mail, manuals to USB), and everything at
/// once, at normal and at two and a half times the activity.
pub fn sweep_grid() -> Vec<GridPoint> {
    vec![
        point("quiet", "refusals=0.02,personal_mail=0.01,usb=0.05,odd_hours=0.02,crunches=0,transfers=0"),
        point("default", ""),
        point("curious-strict", "curiosity=1.5,acl_loose=0"),
        point("curious-loose", "curiosity=1.5,acl_loose=1"),
        point("refusals", "refusals=4"),
        point("personal-mail", "personal_mail=0.3,personal_mail_rate=0.1,personal_docs=0.4"),
        point("usb", "usb=0.45,usb_manuals=0.7"),
        point("odd-hours", "odd_hours=0.4,crunches=3"),
        point("broad-roles", "broad=0.35,transfers=0.08"),
        point("busy", "activity=2.5"),
        point("cert-like", "roaming=0.3,job_browsing=0.12,personal_sender=0.4,usb=0.35"),
        point(
            "independent",
            "curiosity=1,acl_loose=0.8,refusals=3,personal_mail=0.15,personal_mail_rate=0.08,personal_docs=0.3,usb_manuals=0.6",
        ),
        point(
            "noisy",
            "curiosity=2,acl_loose=0.7,refusals=4,personal_mail=0.3,personal_mail_rate=0.1,personal_docs=0.4,usb=0.45,usb_manuals=0.7,odd_hours=0.4,broad=0.35,crunches=3,transfers=0.08,job_browsing=0.12,roaming=0.3,personal_sender=0.4",
        ),
        point(
            "noisy-busy",
            "curiosity=2,acl_loose=0.7,refusals=4,personal_mail=0.3,personal_mail_rate=0.1,personal_docs=0.4,usb=0.45,usb_manuals=0.7,odd_hours=0.4,broad=0.35,crunches=3,transfers=0.08,job_browsing=0.12,roaming=0.3,personal_sender=0.4,activity=2.5",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip() {
        let b = Background::parse("curiosity=1, acl_loose=0.8,crunches=2").unwrap();
        assert_eq!(b.curiosity, 1.0);
        assert_eq!(b.acl_loose, 0.8);
        assert_eq!(b.crunches, 2);
        assert_eq!(b.usb, Background::default().usb);
        assert_eq!(Background::parse(&b.to_string()).unwrap(), b);
        assert_eq!(Background::default().to_string(), "default");
    }

    #[test]
    fn bad_knobs_are_named() {
        let e = Background::parse("curiosty=1").unwrap_err();
        assert!(e.reason.contains("unknown knob `curiosty`"), "{e}");
        let e = Background::parse("usb=3").unwrap_err();
        assert!(e.reason.contains("share"), "{e}");
        let e = Background::parse("activity=x").unwrap_err();
        assert!(e.reason.contains("not a number"), "{e}");
    }

    #[test]
    fn every_grid_point_parses() {
        for p in sweep_grid() {
            let text = p.background.to_string();
            assert_eq!(
                Background::parse(&text).unwrap(),
                p.background,
                "{}",
                p.name
            );
        }
        // The named points differ from the default (a typo would make them
        // the default silently).
        for p in sweep_grid().into_iter().filter(|p| p.name != "default") {
            assert_ne!(p.background, Background::default(), "{}", p.name);
        }
    }
}
