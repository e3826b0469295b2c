//! Filing a contact report: an employee's own account of an approach.
//!
//! Rules:
//! - A report is always the filer's own, at the time it is filed: `id`,
//!   `reporter` and `reported_at` are set here, whatever the body says
//!   (the id derives from the reporter, the time and the body, so the same
//!   report filed twice in one second is one report).
//! - Only a person in the directory files one (an account not linked to a
//!   person is refused).
//! - The body is a `contacts.jsonl` record and is parsed exactly as an
//!   import parses one; a bad one is refused with the field and reason.
//! - The report is ledgered.

use chrono::{DateTime, FixedOffset};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use custodian_store::{LedgerContext, NewContact, Store};

use crate::error::{AppError, Result};

/// Files `body` as `reporter`'s report at `at`; the report's id.
pub async fn file_report(
    store: &dyn Store,
    ledger: &LedgerContext,
    reporter: Option<&str>,
    at: DateTime<FixedOffset>,
    mut body: Value,
) -> Result<String> {
    let Some(reporter) = reporter else {
        return Err(AppError::Forbidden(
            "the account is not linked to a person in the directory".into(),
        ));
    };
    if !body.is_object() {
        return Err(AppError::Invalid("expected a JSON object".into()));
    }
    let at = at.to_rfc3339();
    let digest = Sha256::digest(format!("{reporter}\n{at}\n{body}").as_bytes());
    let id = hex::encode(&digest[..8]);
    body["id"] = json!(format!("CR-WEB-{id}"));
    body["reporter"] = json!(reporter);
    body["reported_at"] = json!(at);
    let raw = body.to_string();
    let report = custodian_core::interchange::parse_contact(raw.as_bytes())
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    let id = report.id.clone();
    store
        .insert_contacts(&[NewContact { report, raw }], ledger)
        .await?;
    Ok(id)
}
