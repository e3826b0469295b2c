//! Linking contact reports that describe the same approacher.
//!
//! Reports are written by different people from memory: a name in full once
//! and the first name only the next time, a phone number given or missing,
//! written with or without the country code. Two reports are linked when
//! their evidence adds up (a matching phone or e-mail is enough on its own;
//! a compatible name needs support from nationality, affiliation, manner of
//! approach or dates); groups are the connected components.

use chrono::NaiveDate;
use custodian_core::{ContactReport, Counterpart};

/// How strongly two reports seem to describe the same person, 0..=1+.
pub fn similarity(a: &ContactReport, b: &ContactReport) -> f64 {
    let (ca, cb) = (&a.counterpart, &b.counterpart);
    let mut s = 0.0;
    if let (Some(x), Some(y)) = (phone_key(ca), phone_key(cb)) {
        if x == y {
            s += 1.0;
        } else {
            s -= 0.3;
        }
    }
    if let (Some(x), Some(y)) = (email_key(ca), email_key(cb)) {
        if x == y {
            s += 1.0;
        } else {
            s -= 0.2;
        }
    }
    if let (Some(x), Some(y)) = (&ca.claimed_name, &cb.claimed_name) {
        s += name_match(x, y);
    }
    if let (Some(x), Some(y)) = (&ca.claimed_nationality, &cb.claimed_nationality) {
        if norm(x) == norm(y) {
            s += 0.15;
        }
    }
    if let (Some(x), Some(y)) = (&ca.claimed_affiliation, &cb.claimed_affiliation) {
        if token_overlap(x, y) > 0.0 {
            s += 0.15;
        }
    }
    if a.approach == b.approach {
        s += 0.1;
    }
    if let (Some(x), Some(y)) = (a.met_on, b.met_on) {
        if (x - y).num_days().abs() <= 120 {
            s += 0.1;
        }
    }
    s
}

/// Reports at or above this similarity are linked.
pub const LINK_THRESHOLD: f64 = 0.75;

/// One approacher as the reports describe them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ContactGroup {
    /// Indexes into the slice given to [`link`], by report time.
    pub members: Vec<usize>,
    /// Distinct reporters.
    pub reporters: Vec<String>,
    /// The fullest name given.
    pub name: Option<String>,
    pub first_met: Option<NaiveDate>,
    pub last_reported: chrono::DateTime<chrono::FixedOffset>,
}

/// Groups reports that describe the same approacher. Deterministic: the
/// result depends only on the reports' content and order.
pub fn link(reports: &[ContactReport]) -> Vec<ContactGroup> {
    let n = reports.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    for i in 0..n {
        for j in i + 1..n {
            if similarity(&reports[i], &reports[j]) >= LINK_THRESHOLD {
                let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                if a != b {
                    parent[a.max(b)] = a.min(b);
                }
            }
        }
    }
    let mut groups: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for i in 0..n {
        let r = find(&mut parent, i);
        groups.entry(r).or_default().push(i);
    }
    groups
        .into_values()
        .map(|mut members| {
            members.sort_by_key(|&i| (reports[i].reported_at, i));
            let mut reporters: Vec<String> = members
                .iter()
                .map(|&i| reports[i].reporter.clone())
                .collect();
            reporters.sort();
            reporters.dedup();
            let name = members
                .iter()
                .filter_map(|&i| reports[i].counterpart.claimed_name.clone())
                .max_by_key(|s| (s.split_whitespace().count(), s.len()));
            ContactGroup {
                first_met: members.iter().filter_map(|&i| reports[i].met_on).min(),
                last_reported: members
                    .iter()
                    .map(|&i| reports[i].reported_at)
                    .max()
                    .unwrap_or(reports[members[0]].reported_at),
                members,
                reporters,
                name,
            }
        })
        .collect()
}

fn norm(s: &str) -> String {
    s.trim().to_lowercase()
}

fn phone_key(c: &Counterpart) -> Option<String> {
    let digits: String = c
        .phone
        .as_deref()?
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    // Compare the subscriber part: "+81-90-1234-5678" and "090 1234 5678".
    (digits.len() >= 6).then(|| digits[digits.len().saturating_sub(8)..].to_string())
}

fn email_key(c: &Counterpart) -> Option<String> {
    let e = norm(c.email.as_deref()?);
    e.contains('@').then_some(e)
}

fn tokens(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn token_overlap(a: &str, b: &str) -> f64 {
    let stop = ["the", "of", "a", "and", "section", "office"];
    let ta: Vec<String> = tokens(a)
        .into_iter()
        .filter(|t| !stop.contains(&t.as_str()))
        .collect();
    let tb: Vec<String> = tokens(b)
        .into_iter()
        .filter(|t| !stop.contains(&t.as_str()))
        .collect();
    if ta.is_empty() || tb.is_empty() {
        return 0.0;
    }
    let common = ta.iter().filter(|t| tb.contains(t)).count();
    common as f64 / ta.len().min(tb.len()) as f64
}

/// Names: equal, one a part of the other ("Ivan" / "Ivan Petrenko"), or an
/// initial standing for a given name ("I. Petrenko").
fn name_match(a: &str, b: &str) -> f64 {
    let (ta, tb) = (tokens(a), tokens(b));
    if ta.is_empty() || tb.is_empty() {
        return 0.0;
    }
    if ta == tb {
        return 0.6;
    }
    let (short, long) = if ta.len() <= tb.len() {
        (&ta, &tb)
    } else {
        (&tb, &ta)
    };
    let matched = short
        .iter()
        .filter(|s| {
            long.iter().any(|l| {
                *s == l
                    || (s.len() == 1 && l.starts_with(s.as_str()))
                    || (l.len() == 1 && s.starts_with(l.as_str()))
            })
        })
        .count();
    if matched == short.len() {
        0.45
    } else if matched > 0 {
        0.2
    } else {
        -0.2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use custodian_core::Approach;

    fn report(id: &str, name: &str, phone: Option<&str>, aff: &str, met: &str) -> ContactReport {
        ContactReport {
            id: id.into(),
            reported_at: chrono::DateTime::parse_from_rfc3339("2025-05-01T12:00:00+09:00").unwrap(),
            reporter: format!("E{id}"),
            met_on: Some(NaiveDate::parse_from_str(met, "%Y-%m-%d").unwrap()),
            place: "station".into(),
            approach: Approach::AskedDirections,
            counterpart: Counterpart {
                claimed_name: Some(name.into()),
                claimed_nationality: Some("Ukrainian".into()),
                claimed_affiliation: Some(aff.into()),
                phone: phone.map(str::to_string),
                email: None,
                description: None,
            },
            meetings: 1,
            gifts_jpy: 0,
            requests: vec![],
            narrative: String::new(),
        }
    }

    #[test]
    fn partial_and_differing_descriptions_link() {
        let rs = vec![
            report(
                "1",
                "Ivan Petrenko",
                Some("+81-90-1234-5678"),
                "trade mission",
                "2025-04-01",
            ),
            report("2", "Ivan", None, "Ukrainian trade office", "2025-04-20"),
            report(
                "3",
                "I. Petrenko",
                Some("090 1234 5678"),
                "embassy trade section",
                "2025-05-02",
            ),
            report("4", "Alex Chen", None, "consulting firm", "2025-04-03"),
        ];
        let g = link(&rs);
        assert_eq!(g.len(), 2, "{g:?}");
        assert_eq!(g[0].members.len(), 3);
        assert_eq!(g[0].name.as_deref(), Some("Ivan Petrenko"));
        assert_eq!(g[1].members, vec![3]);
    }

    #[test]
    fn different_people_with_a_common_first_name_stay_apart() {
        let mut a = report(
            "1",
            "Ivan Petrenko",
            Some("+81-90-1234-5678"),
            "trade mission",
            "2025-04-01",
        );
        let mut b = report(
            "2",
            "Ivan Sokolov",
            Some("+81-80-9999-0000"),
            "university",
            "2025-09-20",
        );
        a.approach = Approach::Online;
        b.counterpart.claimed_nationality = Some("Russian".into());
        assert!(similarity(&a, &b) < LINK_THRESHOLD);
    }
}
