//! Cases opened from alerts, alert acknowledgements and name reveals: the
//! logic the CLI (`custodian case`) and the API share. The evidence bundle
//! is [`crate::bundle`] (re-exported here).
//!
//! Every case action (open, assign, note, status) is a custody record of
//! kind `case`, so it is a ledger entry; a closed case takes only a status
//! change; a case's state is the fold of its actions in time order.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};
use serde_json::{json, Value};

use custodian_store::{CustodyRecord, LedgerContext, Store};

use crate::records::{CaseAct, CaseRecord, Record};

pub use crate::bundle::{export, parse_verifier, verify_bundle, Exported, BUNDLE_FORMAT};

/// Cases answer with the use cases' one error type.
pub use crate::error::AppError as CaseError;

pub(crate) type Result<T> = std::result::Result<T, CaseError>;

macro_rules! bail {
    ($($t:tt)*) => { return Err(CaseError::Invalid(format!($($t)*))) };
}

macro_rules! impl_from {
    ($($t:ty),*) => {$(
        impl From<$t> for CaseError {
            fn from(e: $t) -> CaseError { CaseError::Failed(e.to_string()) }
        }
    )*};
}
impl_from!(
    custodian_store::audit::AuditError,
    zip::result::ZipError,
    serde_json::Error,
    custodian_pdfmark::PdfError
);

/// `context` and `with_context` for results and options, as with anyhow.
pub(crate) trait Ctx<T> {
    fn context(self, m: &str) -> Result<T>;
    fn with_context<F: FnOnce() -> String>(self, f: F) -> Result<T>;
}

impl<T, E: std::fmt::Display> Ctx<T> for std::result::Result<T, E> {
    fn context(self, m: &str) -> Result<T> {
        self.map_err(|e| CaseError::Failed(format!("{m}: {e}")))
    }
    fn with_context<F: FnOnce() -> String>(self, f: F) -> Result<T> {
        self.map_err(|e| CaseError::Failed(format!("{}: {e}", f())))
    }
}

impl<T> Ctx<T> for Option<T> {
    fn context(self, m: &str) -> Result<T> {
        self.ok_or_else(|| CaseError::NotFound(m.to_string()))
    }
    fn with_context<F: FnOnce() -> String>(self, f: F) -> Result<T> {
        self.ok_or_else(|| CaseError::NotFound(f()))
    }
}

/// A case's actions, oldest first, as (record, body).
pub async fn actions(store: &dyn Store, case: &str) -> Result<Vec<(CustodyRecord, Value)>> {
    let mut out: Vec<(CustodyRecord, Value)> = store
        .custody_records("case", None, None)
        .await?
        .into_iter()
        .filter_map(|r| {
            let v: Value = serde_json::from_str(&r.body).ok()?;
            (v["case"] == case).then_some((r, v))
        })
        .collect();
    // By time; actions of the same second in the order they were stored
    // (the store returns them by sequence; the sort is stable).
    out.sort_by_key(|a| a.0.at);
    Ok(out)
}

/// The state a case's actions add up to. An action that does not read as
/// one is left out of the state (and named in the log).
pub fn state(actions: &[(CustodyRecord, Value)]) -> Value {
    let mut st = json!({"status": "open", "assignee": null, "notes": 0});
    for (r, v) in actions {
        let act = match Record::from_value(&r.id, v) {
            Ok(Record::Case(c)) => c,
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!("{e}");
                continue;
            }
        };
        match act.action {
            CaseAct::Open {
                alert, subject, by, ..
            } => {
                st["alert"] = json!(alert);
                st["subject"] = json!(subject);
                st["opened_by"] = json!(by);
                st["opened_at"] = json!(act.at);
            }
            CaseAct::Assign { to, .. } => st["assignee"] = json!(to),
            CaseAct::Note { .. } => st["notes"] = json!(st["notes"].as_u64().unwrap_or(0) + 1),
            CaseAct::Status { status, .. } => st["status"] = json!(status),
        }
    }
    st
}

pub fn nonempty(what: &str, v: &str) -> Result<()> {
    if v.trim().is_empty() || v.len() > 10_000 {
        bail!("{what} must be non-empty text of at most 10,000 bytes");
    }
    Ok(())
}

async fn append(
    store: &dyn Store,
    ledger: &LedgerContext,
    at: DateTime<FixedOffset>,
    subject: &str,
    case: &str,
    action: CaseAct,
) -> Result<CustodyRecord> {
    let r = Record::Case(CaseRecord {
        case: case.into(),
        at: at.to_rfc3339(),
        action,
    })
    .keep(store, ledger, None, subject, at)
    .await?;
    Ok(r)
}

/// What is done to an existing case (the API's `actions` body, and the
/// CLI's `case assign|note|status`).
#[derive(Debug, serde::Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum CaseAction {
    Note {
        text: String,
    },
    Assign {
        to: String,
    },
    Status {
        status: String,
        reason: Option<String>,
    },
}

/// Checks `action` and appends it to `case` as done by `by`.
pub async fn apply(
    store: &dyn Store,
    ledger: &LedgerContext,
    at: DateTime<FixedOffset>,
    case: &str,
    action: CaseAction,
    by: &str,
) -> Result<CustodyRecord> {
    nonempty("by", by)?;
    let by = by.to_string();
    let act = match action {
        CaseAction::Note { text } => {
            nonempty("the note", &text)?;
            CaseAct::Note { text, by }
        }
        CaseAction::Assign { to } => {
            nonempty("to", &to)?;
            CaseAct::Assign { to, by }
        }
        CaseAction::Status { status, reason } => {
            if status != "open" && status != "closed" {
                bail!("status is open or closed");
            }
            CaseAct::Status { status, reason, by }
        }
    };
    act_on(store, ledger, at, case, act).await
}

/// Every contact report (oldest first) and the groups of reports that
/// describe the same approacher (indexes into the reports).
pub async fn contact_groups(
    store: &dyn Store,
) -> Result<(
    Vec<custodian_core::ContactReport>,
    Vec<custodian_detect::contacts::ContactGroup>,
)> {
    let mut reports = store.contact_reports().await?;
    reports.sort_by(|a, b| a.reported_at.cmp(&b.reported_at).then(a.id.cmp(&b.id)));
    let groups = custodian_detect::contacts::link(&reports);
    Ok((reports, groups))
}

/// Appends an action to an existing case (a closed case takes only a
/// status change).
async fn act_on(
    store: &dyn Store,
    ledger: &LedgerContext,
    at: DateTime<FixedOffset>,
    case: &str,
    act: CaseAct,
) -> Result<CustodyRecord> {
    let (_, st) = existing(store, case).await?;
    let status = match &act {
        CaseAct::Status { status, .. } => Some(status.as_str()),
        _ => None,
    };
    if st["status"] == "closed" && status.is_none() {
        bail!("{case} is closed; reopen it first (custodian case status {case} --set open --by …)");
    }
    if let Some(s) = status {
        if st["status"] == s {
            bail!("{case} is already {s}");
        }
    }
    let Some(subject) = st["subject"].as_str().map(str::to_string) else {
        return Err(CaseError::Failed(format!("{case} has no opening record")));
    };
    append(store, ledger, at, &subject, case, act).await
}

pub async fn existing(
    store: &dyn Store,
    case: &str,
) -> Result<(Vec<(CustodyRecord, Value)>, Value)> {
    let a = actions(store, case).await?;
    if a.is_empty() {
        return Err(CaseError::NotFound(format!(
            "no case '{case}' (custodian case list)"
        )));
    }
    let st = state(&a);
    Ok((a, st))
}

/// The stored alert `alert`, or NotFound.
pub async fn stored_alert(store: &dyn Store, alert: &str) -> Result<custodian_store::StoredAlert> {
    store
        .alerts(u32::MAX)
        .await?
        .into_iter()
        .find(|a| a.id == alert)
        .ok_or_else(|| {
            CaseError::NotFound(format!(
                "no alert '{alert}' in the store (custodian detect --from-store stores them)"
            ))
        })
}

/// A case opened from an alert, or the one already open for it.
#[derive(Debug, Clone)]
pub struct Opened {
    pub case: String,
    /// The case's opening record.
    pub record: CustodyRecord,
    pub alert: custodian_store::StoredAlert,
    /// False when the alert had a case already: nothing was written.
    pub new: bool,
}

/// Opens a case from a stored alert. An alert has one case: opening it
/// again gives the case it has (whatever its status), and writes nothing.
pub async fn open(
    store: &dyn Store,
    ledger: &LedgerContext,
    at: DateTime<FixedOffset>,
    alert: &str,
    by: &str,
) -> Result<Opened> {
    nonempty("--by", by)?;
    let a = stored_alert(store, alert).await?;
    // Case records are filed under the subject: their first opening of
    // this alert, if any.
    for r in store.custody_records("case", None, Some(&a.user)).await? {
        if let Record::Case(c) = Record::of(&r)? {
            if matches!(&c.action, CaseAct::Open { alert: x, .. } if x == alert) {
                return Ok(Opened {
                    case: c.case,
                    record: r,
                    alert: a,
                    new: false,
                });
            }
        }
    }
    let case = format!(
        "CASE-{}",
        &hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
            format!("{alert}\n{}", at.to_rfc3339()).as_bytes()
        ))[..12]
    );
    let open = CaseAct::Open {
        alert: alert.into(),
        subject: a.user.clone(),
        by: by.into(),
        severity: a.severity.clone(),
        score: a.score,
    };
    let r = append(store, ledger, at, &a.user, &case, open).await?;
    Ok(Opened {
        case,
        record: r,
        alert: a,
        new: true,
    })
}

/// Every case with its state, by id.
pub async fn list(store: &dyn Store) -> Result<Vec<(String, Value)>> {
    let mut cases: BTreeMap<String, Vec<(CustodyRecord, Value)>> = BTreeMap::new();
    for r in store.custody_records("case", None, None).await? {
        if let Ok(v) = serde_json::from_str::<Value>(&r.body) {
            if let Some(c) = v["case"].as_str() {
                cases.entry(c.to_string()).or_default().push((r, v));
            }
        }
    }
    Ok(cases
        .into_iter()
        .map(|(id, mut a)| {
            a.sort_by_key(|x| x.0.at);
            let st = state(&a);
            (id, st)
        })
        .collect())
}

/// The stored alerts, highest score first (ties by id), at most `limit`.
pub async fn ranked_alerts(
    store: &dyn Store,
    limit: usize,
) -> std::result::Result<Vec<custodian_store::StoredAlert>, custodian_store::StoreError> {
    let mut list = store.alerts(u32::MAX).await?;
    list.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    list.truncate(limit);
    Ok(list)
}

/// A stored alert as the API and `custodian alerts --json` show it.
pub fn alert_json(a: &custodian_store::StoredAlert) -> Value {
    json!({"id": a.id, "user": a.user, "raised_at": a.raised_at.to_rfc3339(),
           "severity": a.severity, "score": a.score,
           "alert": serde_json::from_str::<Value>(&a.body).unwrap_or(Value::Null)})
}

/// Who acknowledged each alert, and when (the latest acknowledgement).
pub async fn acknowledgements(store: &dyn Store) -> Result<BTreeMap<String, Value>> {
    let mut out = BTreeMap::new();
    for r in store.custody_records("alert_ack", None, None).await? {
        if let Ok(v) = serde_json::from_str::<Value>(&r.body) {
            if let Some(a) = v["alert"].as_str() {
                out.insert(a.to_string(), v);
            }
        }
    }
    Ok(out)
}

/// Acknowledges a stored alert (seen and triaged, whether or not a case
/// follows); a ledgered custody record of kind `alert_ack`.
pub async fn acknowledge(
    store: &dyn Store,
    ledger: &LedgerContext,
    at: DateTime<FixedOffset>,
    alert: &str,
    by: &str,
    note: Option<&str>,
) -> Result<CustodyRecord> {
    if let Some(n) = note {
        if n.len() > 10_000 {
            bail!("the note is at most 10,000 bytes");
        }
    }
    let a = stored_alert(store, alert).await?;
    let r = Record::AlertAck {
        alert: alert.into(),
        by: by.into(),
        note: note.filter(|n| !n.trim().is_empty()).map(str::to_string),
        at: at.to_rfc3339(),
    }
    .keep(store, ledger, None, &a.user, at)
    .await?;
    Ok(r)
}

/// Records that `by` was shown the real name behind a pseudonym, and why;
/// a ledgered custody record of kind `reveal` (the person's page lists it).
pub async fn reveal(
    store: &dyn Store,
    ledger: &LedgerContext,
    at: DateTime<FixedOffset>,
    user: &str,
    by: &str,
    reason: &str,
) -> Result<CustodyRecord> {
    if reason.trim().len() < 4 || reason.len() > 2_000 {
        bail!("say why the name is needed (4 to 2,000 characters)");
    }
    let r = Record::Reveal {
        subject: user.into(),
        by: by.into(),
        reason: reason.trim().into(),
        at: at.to_rfc3339(),
    }
    .keep(store, ledger, None, user, at)
    .await?;
    Ok(r)
}
