//! Triage: an alert's status, and what dismissals say about each indicator.
//!
//! Rules:
//! - An alert is `new` until an analyst sets it `in_review`, `escalated`
//!   or `dismissed`; each change is a ledgered custody record
//!   (`alert_status`) with who and when, and its latest one is its status.
//! - Dismissing needs a reason code: `benign_explained` (a real activity
//!   with an innocent explanation), `duplicate` (another alert covers it),
//!   `policy_gap` (the register or permissions are wrong, not the person),
//!   `data_error` (the source was wrong). A note is optional (at most
//!   10,000 bytes).
//! - Dismissing may also suppress, for 1 to 90 days, the person's alerts
//!   made only of the indicators the dismissed alert had: each is a
//!   ledgered `suppression` record (who, why, until when). A suppressed
//!   alert is held out of the queue (counted, and shown on request), never
//!   deleted; it expires by itself.
//! - Precision per indicator: of the alerts an indicator was part of that
//!   were settled (escalated, or dismissed as benign-explained), the share
//!   escalated. Duplicates, policy gaps and data errors say nothing about
//!   the indicator's judgement and are counted apart.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};

use custodian_store::{CustodyRecord, LedgerContext, Store, StoredAlert};

use crate::error::{AppError, Result};
use crate::records::Record;

/// The status continuous detection gives an alert that a late event made
/// wrong (see `detection::live`); analysts cannot set it.
pub const WITHDRAWN: &str = "withdrawn";
pub const STATUSES: [&str; 4] = ["new", "in_review", "escalated", "dismissed"];
pub const REASONS: [&str; 4] = ["benign_explained", "duplicate", "policy_gap", "data_error"];

/// The record of `alert`'s status set by `by`, checked.
fn status_record(
    at: DateTime<FixedOffset>,
    alert: &StoredAlert,
    status: &str,
    reason: Option<&str>,
    note: Option<&str>,
    by: &str,
) -> Result<Record> {
    if !STATUSES.contains(&status) {
        return Err(AppError::Invalid(format!(
            "status is one of {}",
            STATUSES.join(", ")
        )));
    }
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    match (status, reason) {
        ("dismissed", None) => {
            return Err(AppError::Invalid(format!(
                "a dismissal needs a reason: {}",
                REASONS.join(", ")
            )))
        }
        (_, Some(r)) if !REASONS.contains(&r) => {
            return Err(AppError::Invalid(format!(
                "reason is one of {}",
                REASONS.join(", ")
            )))
        }
        _ => {}
    }
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.len() > 10_000) {
        return Err(AppError::Invalid("the note is at most 10,000 bytes".into()));
    }
    Ok(Record::AlertStatus {
        alert: alert.id.clone(),
        status: status.into(),
        reason: reason.map(str::to_string),
        note: note.map(str::to_string),
        by: by.into(),
        at: at.to_rfc3339(),
    })
}

/// Whether a status change may hold like alerts out for `days` (0: none):
/// only a dismissal, for at most 90 days.
pub fn check_suppression(status: &str, days: u32) -> Result<()> {
    if days > 90 {
        return Err(AppError::Invalid("a suppression lasts 1 to 90 days".into()));
    }
    if days > 0 && status != "dismissed" {
        return Err(AppError::Invalid("only a dismissal suppresses".into()));
    }
    Ok(())
}

/// Sets `alert`'s status and, on a dismissal with `suppress_days`, holds
/// out the person's later alerts made of its indicators (the note, or the
/// reason code, says why). Everything is checked before anything is
/// written.
#[allow(clippy::too_many_arguments)]
pub async fn settle(
    store: &dyn Store,
    ledger: &LedgerContext,
    at: DateTime<FixedOffset>,
    alert: &StoredAlert,
    status: &str,
    reason: Option<&str>,
    note: Option<&str>,
    suppress_days: u32,
    by: &str,
) -> Result<()> {
    let record = status_record(at, alert, status, reason, note, by)?;
    check_suppression(status, suppress_days)?;
    record.keep(store, ledger, None, &alert.user, at).await?;
    if suppress_days > 0 {
        let why = note
            .filter(|n| n.trim().len() >= 4)
            .or(reason)
            .unwrap_or("dismissed");
        let names = indicator_names(alert);
        suppress(
            store,
            ledger,
            at,
            &alert.user,
            &names,
            suppress_days,
            why,
            by,
        )
        .await?;
    }
    Ok(())
}

/// Withdraws an alert raised ahead of the watermark that the engine, having
/// taken a late event in its place, no longer raises: a ledgered status
/// record by `detection`, the alert itself kept.
pub async fn withdraw(
    store: &dyn Store,
    ledger: &LedgerContext,
    at: DateTime<FixedOffset>,
    alert: &str,
    user: &str,
) -> Result<()> {
    let record = Record::AlertStatus {
        alert: alert.into(),
        status: WITHDRAWN.into(),
        reason: Some("superseded".into()),
        note: Some("an event that arrived late changed the judgement".into()),
        by: "detection".into(),
        at: at.to_rfc3339(),
    };
    record.keep(store, ledger, None, user, at).await?;
    Ok(())
}

/// Suppresses `indicators` on `user` until `days` days after `at`.
#[allow(clippy::too_many_arguments)]
pub async fn suppress(
    store: &dyn Store,
    ledger: &LedgerContext,
    at: DateTime<FixedOffset>,
    user: &str,
    indicators: &[String],
    days: u32,
    reason: &str,
    by: &str,
) -> Result<Vec<CustodyRecord>> {
    if !(1..=90).contains(&days) {
        return Err(AppError::Invalid("a suppression lasts 1 to 90 days".into()));
    }
    if reason.trim().len() < 4 || reason.len() > 2_000 {
        return Err(AppError::Invalid(
            "say why it is suppressed (4 to 2,000 characters)".into(),
        ));
    }
    let until = (at + chrono::Duration::days(i64::from(days))).to_rfc3339();
    let mut records = Vec::new();
    for indicator in indicators {
        let r = Record::Suppression {
            user: user.into(),
            indicator: indicator.clone(),
            until: until.clone(),
            reason: reason.trim().into(),
            by: by.into(),
            at: at.to_rfc3339(),
        }
        .stored(None, user, at)?;
        records.push(r);
    }
    store.insert_custody(&records, ledger).await?;
    Ok(records)
}

/// When a suppression holds: from, until.
type Span = (DateTime<FixedOffset>, DateTime<FixedOffset>);

/// The suppressions in force, by person and indicator: from when, until
/// when.
#[derive(Debug, Clone, Default)]
pub struct Suppressions(BTreeMap<String, BTreeMap<String, Vec<Span>>>);

impl Suppressions {
    pub async fn load(store: &dyn Store) -> Result<Suppressions> {
        let mut out = Suppressions::default();
        for r in store.custody_records("suppression", None, None).await? {
            if let Record::Suppression {
                user,
                indicator,
                until,
                ..
            } = Record::of(&r)?
            {
                let until = DateTime::parse_from_rfc3339(&until)
                    .map_err(|e| AppError::Failed(format!("suppression {}: until: {e}", r.id)))?;
                out.insert(&user, &indicator, r.at, until);
            }
        }
        Ok(out)
    }

    /// Holds out `user`'s alerts made of `indicator` from `from` until
    /// `until`.
    pub fn insert(
        &mut self,
        user: &str,
        indicator: &str,
        from: DateTime<FixedOffset>,
        until: DateTime<FixedOffset>,
    ) {
        let by_indicator = self.0.entry(user.to_string()).or_default();
        by_indicator
            .entry(indicator.to_string())
            .or_default()
            .push((from, until));
    }

    /// Whether every indicator of `alert` was suppressed for its person
    /// when it was raised (an alert with no indicators never is).
    pub fn covers(&self, alert: &StoredAlert) -> bool {
        let Some(by_indicator) = self.0.get(&alert.user) else {
            return false;
        };
        let names = indicator_names(alert);
        let held = |n: &String| {
            by_indicator.get(n).is_some_and(|spans| {
                spans
                    .iter()
                    .any(|(from, until)| alert.raised_at >= *from && alert.raised_at < *until)
            })
        };
        !names.is_empty() && names.iter().all(held)
    }
}

/// The indicator names of an alert's stored body.
pub fn indicator_names(a: &StoredAlert) -> Vec<String> {
    let body: serde_json::Value = serde_json::from_str(&a.body).unwrap_or_default();
    body["indicators"]
        .as_array()
        .map(|is| {
            is.iter()
                .filter_map(|i| i["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// An alert's latest status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub status: String,
    pub reason: Option<String>,
    pub by: String,
    pub at: DateTime<FixedOffset>,
}

/// Every alert's latest status (alerts with none are `new`).
pub async fn statuses(store: &dyn Store) -> Result<BTreeMap<String, Status>> {
    let mut records = store.custody_records("alert_status", None, None).await?;
    // By time; changes of the same second in the order they were stored.
    records.sort_by_key(|r| r.at);
    let mut out = BTreeMap::new();
    for r in records {
        if let Record::AlertStatus {
            alert,
            status,
            reason,
            by,
            ..
        } = Record::of(&r)?
        {
            out.insert(
                alert,
                Status {
                    status,
                    reason,
                    by,
                    at: r.at,
                },
            );
        }
    }
    Ok(out)
}

/// One indicator's record in triage.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Precision {
    pub escalated: usize,
    /// Dismissed as benign-explained.
    pub benign: usize,
    /// Dismissed for another reason (duplicate, policy gap, data error).
    pub other: usize,
}

impl Precision {
    /// The share of settled alerts that were escalated, if any settled.
    pub fn share(&self) -> Option<f64> {
        let n = self.escalated + self.benign;
        (n > 0).then(|| self.escalated as f64 / n as f64)
    }
}

/// Per indicator name, how the alerts it was part of were settled.
pub fn precision(
    alerts: &[StoredAlert],
    statuses: &BTreeMap<String, Status>,
) -> BTreeMap<String, Precision> {
    let mut out: BTreeMap<String, Precision> = BTreeMap::new();
    for a in alerts {
        let Some(st) = statuses.get(&a.id) else {
            continue;
        };
        for name in indicator_names(a) {
            let p = out.entry(name).or_default();
            match (st.status.as_str(), st.reason.as_deref()) {
                ("escalated", _) => p.escalated += 1,
                ("dismissed", Some("benign_explained")) => p.benign += 1,
                ("dismissed", _) => p.other += 1,
                _ => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert_of(id: &str, user: &str, at: &str, inds: &[&str]) -> StoredAlert {
        let names: Vec<_> = inds
            .iter()
            .map(|n| serde_json::json!({"name": n}))
            .collect();
        StoredAlert {
            seq: 1,
            id: id.into(),
            user: user.into(),
            raised_at: DateTime::parse_from_rfc3339(at).unwrap(),
            severity: "medium".into(),
            score: 20.0,
            body: serde_json::json!({ "indicators": names }).to_string(),
        }
    }

    fn alert(id: &str, inds: &[&str]) -> StoredAlert {
        alert_of(id, "E1", "2026-11-01T10:00:00+09:00", inds)
    }

    fn status(s: &str, reason: Option<&str>) -> Status {
        Status {
            status: s.into(),
            reason: reason.map(str::to_string),
            by: "ana".into(),
            at: DateTime::parse_from_rfc3339("2026-11-02T10:00:00+09:00").unwrap(),
        }
    }

    #[test]
    fn precision_counts_settled_alerts_per_indicator() {
        let alerts = [
            alert("A1", &["need_to_know_violation", "after_hours"]),
            alert("A2", &["need_to_know_violation"]),
            alert("A3", &["need_to_know_violation"]),
            alert("A4", &["exfiltration_channel"]),
            alert("A5", &["exfiltration_channel"]),
        ];
        let st = BTreeMap::from([
            ("A1".to_string(), status("escalated", None)),
            (
                "A2".to_string(),
                status("dismissed", Some("benign_explained")),
            ),
            ("A3".to_string(), status("dismissed", Some("policy_gap"))),
            ("A4".to_string(), status("in_review", None)),
        ]);
        let p = precision(&alerts, &st);
        let ntk = &p["need_to_know_violation"];
        assert_eq!((ntk.escalated, ntk.benign, ntk.other), (1, 1, 1));
        assert_eq!(ntk.share(), Some(0.5));
        assert_eq!(p["after_hours"].share(), Some(1.0));
        // In review and untouched alerts settle nothing.
        assert_eq!(p["exfiltration_channel"].share(), None);
    }

    #[test]
    fn a_suppression_covers_only_alerts_made_of_its_indicators_while_it_lasts() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap();
        let mut s = Suppressions::default();
        s.insert(
            "E1",
            "after_hours",
            t("2026-11-01T00:00:00Z"),
            t("2026-11-08T00:00:00Z"),
        );
        let alert = |user: &str, at: &str, inds: &[&str]| alert_of("A", user, at, inds);
        assert!(s.covers(&alert("E1", "2026-11-03T00:00:00Z", &["after_hours"])));
        // Another indicator with it, another person, before or after: not.
        let both = ["after_hours", "exfiltration_channel"];
        assert!(!s.covers(&alert("E1", "2026-11-03T00:00:00Z", &both)));
        assert!(!s.covers(&alert("E2", "2026-11-03T00:00:00Z", &["after_hours"])));
        assert!(!s.covers(&alert("E1", "2026-10-30T00:00:00Z", &["after_hours"])));
        assert!(!s.covers(&alert("E1", "2026-11-09T00:00:00Z", &["after_hours"])));
        assert!(!s.covers(&alert("E1", "2026-11-03T00:00:00Z", &[])));
    }
}
