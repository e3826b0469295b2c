//! The engine's settings: `[detect]` in `custodian.toml`.
//!
//! Rules:
//! - Every number has a default ([`Config::default`]) that the project
//!   ships and measures; a file overrides only what it names, and a name
//!   the engine does not know is an error that names it.
//! - Nothing here is fitted to one dataset: the budget, half-lives and
//!   floors are statements about what an analyst can handle and how fast
//!   behaviour changes; the weights say how much each behaviour matters.
//! - Domain lists are suffix matches (`gmail.com` matches
//!   `mail.gmail.com`); URL keywords match anywhere in a visited URL,
//!   case-insensitively.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::features::{Feat, N_FEAT};

/// Tuning. The defaults are what the project ships and measures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Medium-or-high alerts the population may raise, in people per 1,000
    /// per 30 days: the severity lines follow the population's scores so
    /// that this holds on any data.
    pub budget: f64,
    /// The share of the budget that is high.
    pub high_share: f64,
    /// Below this score nothing is medium, whatever the budget allows (a
    /// quiet company is not made to alert).
    pub medium_floor: f64,
    /// From this score (or two and a half times the medium line, if lower)
    /// an alert is high whatever the budget: the truly extreme case
    /// (hundreds of documents on a leaver's last day).
    pub extreme: f64,
    /// Person-days to observe before the budget sets the lines; until then
    /// `medium_start` is the medium line.
    pub budget_min_person_days: f64,
    pub medium_start: f64,
    /// Findings fade with this half-life (days).
    pub half_life_days: f64,
    /// Baselines follow behaviour with this half-life (active days).
    pub baseline_half_life_days: f64,
    /// A day (or the last week, or month) less surprising than this, in
    /// nats (`-ln p`; 6.9 is one in a thousand), is ordinary.
    pub surprise_floor: f64,
    /// At most this much surprise per finding (nats).
    pub surprise_cap: f64,
    /// Days of data before findings count (the engine learns first).
    pub warmup_days: i64,
    /// Days after hire during which exploring is expected, and how much
    /// findings then count.
    pub onboarding_days: i64,
    pub onboarding_factor: f64,
    /// A finding after a resignation notice, or from this many days before
    /// the leave date on, counts `1 + leaving_factor` times (a day's spike
    /// or taking out; not a gradual rise in reading, which is handing over).
    pub leaving_window_days: i64,
    pub leaving_factor: f64,
    /// A finding at an hour the person rarely works adds this share.
    pub after_hours_factor: f64,
    /// After reporting an approach by an outsider others reported too, a
    /// finding adds this share.
    pub contact_factor: f64,
    /// A peer group (unit and role) needs this many people to stand on its
    /// own; smaller ones lean on the unit, then on everyone.
    pub peer_min: usize,
    /// A register document opened without need to know by at least this
    /// many people is exposed: its folder permissions are wrong, and its
    /// readers are background, not suspects (it is reported per document).
    pub exposure_people: u32,
    /// Working hours assumed until a person's own pattern is known.
    pub default_hours: (u32, u32),
    /// Points per nat of the climb's surprise (the story).
    pub climb_weight: f64,
    /// Points per nat of taking out within days of an unusual gathering
    /// (the smaller of the two surprises).
    pub sequence_weight: f64,
    /// Points the first finding after a linked approach adds.
    pub contact_bonus: f64,
    /// A gradual rise in reading, downloading or printing (not in taking
    /// out) counts this share of its surprise: crunches, new projects and
    /// hand-overs rise too.
    pub rise_weight: f64,
    /// Weight per feature (by name; see `docs/detection.md`).
    pub weights: BTreeMap<String, f64>,
    /// Behaviours that are not the person's business whatever their habit
    /// (documents without need to know, another project's material again
    /// and again, documents to personal addresses, another person's
    /// computer): besides their own baseline, the person's months of them
    /// are judged against their peers (`above_peers`).
    pub peer_features: Vec<String>,
    pub domains: Domains,
}

/// Where things go on the internet, by category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Domains {
    /// Free mail and home ISP mail: personal addresses.
    pub personal: Vec<String>,
    /// Consumer cloud storage and file transfer.
    pub cloud: Vec<String>,
    /// Leak sites.
    pub leak: Vec<String>,
    /// Job sites.
    pub job: Vec<String>,
    /// Keyloggers, spyware and hacking tools.
    pub hacking: Vec<String>,
    /// Words in a visited URL that name its topic.
    pub job_keywords: Vec<String>,
    pub hacking_keywords: Vec<String>,
    pub leak_keywords: Vec<String>,
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

impl Default for Domains {
    fn default() -> Self {
        Domains {
            personal: strings(&[
                // Free mail, worldwide and Japanese.
                "gmail.com",
                "googlemail.com",
                "yahoo.com",
                "yahoo.co.jp",
                "ymail.com",
                "outlook.com",
                "outlook.jp",
                "hotmail.com",
                "hotmail.co.jp",
                "live.com",
                "live.jp",
                "msn.com",
                "icloud.com",
                "me.com",
                "mac.com",
                "aol.com",
                "protonmail.com",
                "proton.me",
                "gmx.com",
                "gmx.net",
                "mail.com",
                "zoho.com",
                "mail.ru",
                "yandex.ru",
                "qq.com",
                "163.com",
                "126.com",
                "naver.com",
                // Mobile carriers' mail in Japan.
                "docomo.ne.jp",
                "ezweb.ne.jp",
                "au.com",
                "softbank.ne.jp",
                "i.softbank.jp",
                // Home ISP mail: personal too, though no free-mail list names it.
                "nifty.com",
                "ocn.ne.jp",
                "biglobe.ne.jp",
                "so-net.ne.jp",
                "plala.or.jp",
                "dion.ne.jp",
                "bellsouth.net",
                "optonline.net",
                "verizon.net",
                "comcast.net",
                "juno.com",
                "netzero.com",
                "netzero.net",
                "earthlink.net",
                "cox.net",
                "sbcglobal.net",
                "att.net",
                "charter.net",
                "aim.com",
            ]),
            cloud: strings(&[
                "dropbox.com",
                "drive.google.com",
                "docs.google.com",
                "onedrive.live.com",
                "1drv.ms",
                "box.com",
                "wetransfer.com",
                "mega.nz",
                "mediafire.com",
                "pastebin.com",
                "gist.github.com",
                "sendspace.com",
                "firestorage.jp",
                "gigafile.nu",
                "transfer.sh",
            ]),
            leak: strings(&[
                "wikileaks.org",
                "wikileaks.com",
                "cryptome.org",
                "ddosecrets.com",
            ]),
            job: strings(&[
                "monster.com",
                "careerbuilder.com",
                "indeed.com",
                "indeed.jp",
                "simplyhired.com",
                "glassdoor.com",
                "ziprecruiter.com",
                "dice.com",
                "hotjobs.yahoo.com",
                "jobhuntersbible.com",
                "craigslist.org",
                "linkedin.com",
                "doda.jp",
                "rikunabi.com",
                "mynavi.jp",
                "en-japan.com",
                "bizreach.jp",
                "type.jp",
            ]),
            hacking: strings(&[
                "actualkeylogger.com",
                "refog.com",
                "spyrix.com",
                "kidlogger.net",
                "spytech-web.com",
                "keylogger.org",
                "bestxsoftware.com",
                "ardamax.com",
                "elite-keylogger.net",
                "exploit-db.com",
                "hackforums.net",
            ]),
            job_keywords: strings(&[
                "job",
                "career",
                "resume",
                "recruit",
                "hiring",
                "employment",
                "vacanc",
            ]),
            hacking_keywords: strings(&[
                "keylog",
                "spyware",
                "rootkit",
                "password-steal",
                "hack-tool",
            ]),
            leak_keywords: strings(&["wikileak", "leaksite", "/submit-leak"]),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            budget: 3.0,
            high_share: 0.33,
            medium_floor: 12.5,
            extreme: 120.0,
            budget_min_person_days: 8_000.0,
            medium_start: 20.0,
            half_life_days: 30.0,
            baseline_half_life_days: 90.0,
            surprise_floor: 6.9,
            surprise_cap: 60.0,
            warmup_days: 14,
            onboarding_days: 45,
            onboarding_factor: 0.15,
            leaving_window_days: 30,
            leaving_factor: 1.0,
            after_hours_factor: 0.3,
            contact_factor: 0.5,
            peer_min: 8,
            exposure_people: 3,
            default_hours: (7, 20),
            climb_weight: 3.0,
            sequence_weight: 1.0,
            contact_bonus: 6.0,
            rise_weight: 0.6,
            weights: BTreeMap::new(),
            peer_features: strings(&[
                "need_to_know",
                "foreign_project_focus",
                "outside_scope_evening",
                "documents_out",
                "documents_external",
                "owned_hosts",
                "manager_host",
                "web_hacking",
                "web_leak",
                "sought_outside_scope",
            ]),
            domains: Domains::default(),
        }
    }
}

/// A setting the engine cannot run with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[detect] {field}: {reason}")]
pub struct ConfigError {
    pub field: String,
    pub reason: String,
}

fn err(field: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        field: field.to_string(),
        reason: reason.into(),
    }
}

impl Config {
    /// Checks every number and name; the first problem is named.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("budget", self.budget),
            ("medium_floor", self.medium_floor),
            ("extreme", self.extreme),
            ("medium_start", self.medium_start),
            ("half_life_days", self.half_life_days),
            ("baseline_half_life_days", self.baseline_half_life_days),
            ("surprise_cap", self.surprise_cap),
        ];
        for (name, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return Err(err(name, format!("must be a positive number, not {v}")));
            }
        }
        let non_negative = [
            ("surprise_floor", self.surprise_floor),
            ("budget_min_person_days", self.budget_min_person_days),
            ("onboarding_factor", self.onboarding_factor),
            ("leaving_factor", self.leaving_factor),
            ("after_hours_factor", self.after_hours_factor),
            ("contact_factor", self.contact_factor),
            ("climb_weight", self.climb_weight),
            ("sequence_weight", self.sequence_weight),
            ("contact_bonus", self.contact_bonus),
            ("rise_weight", self.rise_weight),
        ];
        for (name, v) in non_negative {
            if !(v.is_finite() && v >= 0.0) {
                return Err(err(name, format!("must be a number >= 0, not {v}")));
            }
        }
        if !(self.high_share > 0.0 && self.high_share <= 1.0) {
            return Err(err("high_share", "must be in (0, 1]"));
        }
        if self.extreme <= self.medium_floor {
            return Err(err("extreme", "must be above medium_floor"));
        }
        if self.warmup_days < 0 || self.onboarding_days < 0 || self.leaving_window_days < 0 {
            return Err(err("warmup_days", "day counts must be >= 0"));
        }
        if self.default_hours.0 >= self.default_hours.1 || self.default_hours.1 > 24 {
            return Err(err("default_hours", "must be [start, end) within 0..24"));
        }
        for (name, w) in &self.weights {
            if Feat::by_name(name).is_none() {
                let known: Vec<&str> = Feat::ALL.iter().map(|f| f.info().name).collect();
                return Err(err(
                    &format!("weights.{name}"),
                    format!("no such feature (known: {})", known.join(", ")),
                ));
            }
            if !(w.is_finite() && *w >= 0.0) {
                return Err(err(&format!("weights.{name}"), "must be a number >= 0"));
            }
        }
        for name in &self.peer_features {
            if Feat::by_name(name).is_none_or(|f| f.info().size) {
                return Err(err(
                    "peer_features",
                    format!("`{name}` is not a counted feature (sizes are judged by their own histograms)"),
                ));
            }
        }
        Ok(())
    }

    /// Whether each feature is judged against peers too.
    pub fn peer_mask(&self) -> [bool; N_FEAT] {
        let mut m = [false; N_FEAT];
        for f in self.peer_features.iter().filter_map(|n| Feat::by_name(n)) {
            m[f as usize] = true;
        }
        m
    }

    /// Each feature's weight, defaults overridden by `weights`.
    pub fn feature_weights(&self) -> [f64; N_FEAT] {
        let mut w = [0.0; N_FEAT];
        for f in Feat::ALL {
            w[f as usize] = self
                .weights
                .get(f.info().name)
                .copied()
                .unwrap_or(f.info().weight);
        }
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_values_are_named() {
        Config::default().validate().unwrap();
        let mut c = Config::default();
        c.weights.insert("usb_fils".into(), 2.0);
        let e = c.validate().unwrap_err();
        assert_eq!(e.field, "weights.usb_fils");
        let c = Config {
            budget: 0.0,
            ..Config::default()
        };
        assert_eq!(c.validate().unwrap_err().field, "budget");
        let mut c = Config::default();
        c.weights.insert("usb_files".into(), 2.5);
        c.validate().unwrap();
        assert_eq!(c.feature_weights()[Feat::UsbFiles as usize], 2.5);
    }
}
