//! The events an alert cites, read back from the ledger as they were
//! logged: an event's canonical entry is its stored columns, one a line
//! (time, user, action, document, the other fields as JSON), so what is
//! shown is exactly what is proven.

use serde_json::Value;

use custodian_ledger::entry::kinds;
use custodian_store::{Store, StoreError};

/// One cited event.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Evidence {
    pub id: String,
    /// RFC 3339, the event's own offset.
    pub ts: String,
    pub user: String,
    pub action: String,
    pub doc: Option<String>,
    /// The computer, when the source said.
    pub host: Option<String>,
    pub bytes: Option<u64>,
    pub pages: Option<u64>,
    pub files: Option<u64>,
    /// Mail's or an upload's destination.
    pub domain: Option<String>,
}

/// The event `id` as the ledger logged it, if it is an event there.
pub async fn event(store: &dyn Store, id: &str) -> Result<Option<Evidence>, StoreError> {
    let Some(seq) = store.record_seq(kinds::EVENT, id).await? else {
        return Ok(None);
    };
    let Some(r) = store
        .ledger_records(kinds::EVENT, seq, 1)
        .await?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let Ok(c) = r.canonical else {
        return Ok(None);
    };
    let f: Vec<&str> = c.splitn(5, '\n').collect();
    let field = |i: usize| f.get(i).copied().unwrap_or_default();
    let rest: Value = serde_json::from_str(field(4)).unwrap_or(Value::Null);
    let text = |k: &str| rest[k].as_str().map(str::to_string);
    Ok(Some(Evidence {
        id: id.to_string(),
        ts: field(0).to_string(),
        user: field(1).to_string(),
        action: field(2).to_string(),
        doc: Some(field(3)).filter(|d| !d.is_empty()).map(str::to_string),
        host: text("host"),
        bytes: rest["bytes"].as_u64(),
        pages: rest["pages"].as_u64(),
        files: rest["files"].as_u64(),
        domain: text("to_domain").or_else(|| text("domain")),
    }))
}
