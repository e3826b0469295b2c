//! Custody records, typed: the body of every custody record a use case
//! writes, as one serde-tagged enum.
//!
//! Rules:
//! - One canonical encoding: a record is turned into a JSON value and
//!   written with sorted keys (`CustodyRecord::new`), as the bodies have
//!   always been written, so the records (and the ledger leaves) of stores
//!   written before read back unchanged and a record made twice is one
//!   record.
//! - Reading is typed: a body that lacks a field it must have is an error
//!   naming the record and the field, never a default (an approval with no
//!   `for` is not an approval for "").
//! - Fields added later are optional (`#[serde(default)]`), so older
//!   records still read; fields this version does not know are ignored.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use custodian_store::CustodyRecord;

use crate::error::{AppError, Result};

/// The body of a custody record, by its `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// A person acknowledged the secrecy policy `policy`.
    Acknowledgement {
        user: String,
        policy: String,
        at: String,
    },
    /// The owner `by` approved `doc` for `for_user`.
    Approval {
        doc: String,
        #[serde(rename = "for")]
        for_user: String,
        by: String,
        at: String,
    },
    /// A copy refused, with the policy's reason.
    Refusal {
        doc: String,
        to: String,
        purpose: Option<String>,
        reason: String,
        at: String,
    },
    Copy(Copy),
    /// An administrator revoked an API token.
    TokenRevoked {
        token: String,
        role: String,
        by: String,
        at: String,
    },
    /// An analyst acknowledged an alert.
    AlertAck {
        alert: String,
        by: String,
        note: Option<String>,
        at: String,
    },
    /// An analyst was shown the name behind a pseudonym, and why.
    Reveal {
        subject: String,
        by: String,
        reason: String,
        at: String,
    },
    Case(CaseRecord),
    /// An analyst set an alert's triage status (see [`crate::triage`]).
    AlertStatus {
        alert: String,
        status: String,
        reason: Option<String>,
        note: Option<String>,
        by: String,
        at: String,
    },
    /// Alerts on `user` made only of `indicator` are held out of the queue
    /// until `until` (see [`crate::triage`]).
    Suppression {
        user: String,
        indicator: String,
        until: String,
        reason: String,
        by: String,
        at: String,
    },
    /// An alert went to a destination, or was given up on (see
    /// [`crate::notify`]).
    AlertDelivery {
        alert: String,
        destination: String,
        /// `delivered` or `undeliverable`.
        outcome: String,
        attempts: u32,
        at: String,
    },
    /// An analyst looked at something about `subject` (see
    /// [`crate::access`]).
    Access {
        /// What was seen: `person` or `case`.
        what: String,
        /// Which: the person's id, the case's id.
        target: String,
        subject: String,
        by: String,
        at: String,
    },
}

/// A traceable copy issued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Copy {
    pub copy_id: String,
    /// The recipient's index in the document's code.
    pub index: u64,
    pub doc: String,
    pub to: String,
    pub purpose: Option<String>,
    /// The content it was made from, and the copy's own bytes.
    pub content_sha256: String,
    pub copy_sha256: String,
    pub media_type: String,
    /// "pdf", "typeset" or "text"; absent in copies issued before typeset
    /// copies existed (see [`Copy::form`]).
    #[serde(default)]
    pub form: Option<String>,
    #[serde(default)]
    pub carriers: Vec<String>,
    #[serde(default)]
    pub code_length: usize,
    pub at: String,
}

impl Copy {
    /// Which form the copy was issued in.
    pub fn form(&self) -> &str {
        match self.form.as_deref() {
            Some(f) => f,
            None if self.media_type == "application/pdf" => "pdf",
            None => "text",
        }
    }
}

/// One action on a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseRecord {
    pub case: String,
    pub at: String,
    #[serde(flatten)]
    pub action: CaseAct,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum CaseAct {
    Open {
        alert: String,
        subject: String,
        by: String,
        severity: String,
        score: f64,
    },
    Note {
        text: String,
        by: String,
    },
    Assign {
        to: String,
        by: String,
    },
    Status {
        status: String,
        reason: Option<String>,
        by: String,
    },
}

impl Record {
    /// The record's kind as the store files it.
    pub fn kind(&self) -> &'static str {
        match self {
            Record::Acknowledgement { .. } => "acknowledgement",
            Record::Approval { .. } => "approval",
            Record::Refusal { .. } => "refusal",
            Record::Copy(_) => "copy",
            Record::TokenRevoked { .. } => "token_revoked",
            Record::AlertAck { .. } => "alert_ack",
            Record::Reveal { .. } => "reveal",
            Record::Case(_) => "case",
            Record::Access { .. } => "access",
            Record::AlertStatus { .. } => "alert_status",
            Record::Suppression { .. } => "suppression",
            Record::AlertDelivery { .. } => "alert_delivery",
        }
    }

    /// The custody record that stores it (canonical body, id from it).
    pub fn stored(
        &self,
        doc: Option<&str>,
        user: &str,
        at: DateTime<FixedOffset>,
    ) -> Result<CustodyRecord> {
        let body = serde_json::to_value(self)
            .map_err(|e| AppError::Failed(format!("a {} record: {e}", self.kind())))?;
        Ok(CustodyRecord::new(self.kind(), doc, user, at, &body))
    }

    /// Stores it as a custody record (ledgered) and returns that record.
    pub async fn keep(
        &self,
        store: &dyn custodian_store::Store,
        ledger: &custodian_store::LedgerContext,
        doc: Option<&str>,
        user: &str,
        at: DateTime<FixedOffset>,
    ) -> Result<CustodyRecord> {
        let r = self.stored(doc, user, at)?;
        store
            .insert_custody(std::slice::from_ref(&r), ledger)
            .await?;
        Ok(r)
    }

    /// The typed body of a stored record.
    pub fn of(r: &CustodyRecord) -> Result<Record> {
        serde_json::from_str(&r.body)
            .map_err(|e| AppError::Failed(format!("custody record {} ({}): {e}", r.id, r.kind)))
    }

    /// The typed body of a body already parsed.
    pub fn from_value(id: &str, v: &Value) -> Result<Record> {
        Record::deserialize(v).map_err(|e| AppError::Failed(format!("custody record {id}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The bodies as the use cases wrote them before the types existed:
    /// the typed records read them and write the same bytes back.
    #[test]
    fn bodies_written_before_read_back_and_encode_the_same() {
        let olds = [
            json!({"type": "acknowledgement", "user": "E1", "policy": "2026-04", "at": "2026-04-01T09:00:00+09:00"}),
            json!({"type": "approval", "doc": "D1", "for": "E1", "by": "E9", "at": "2026-04-01T09:00:00+09:00"}),
            json!({"type": "refusal", "doc": "D1", "to": "E1", "purpose": null, "reason": "deny: x", "at": "2026-04-01T09:00:00+09:00"}),
            json!({"type": "copy", "copy_id": "CP-1", "index": 7, "doc": "D1", "to": "E1", "purpose": "review",
                   "content_sha256": "ab", "copy_sha256": "cd", "media_type": "application/pdf", "form": "pdf",
                   "carriers": ["geometry", "token"], "code_length": 300, "at": "2026-04-01T09:00:00+09:00"}),
            json!({"type": "token_revoked", "token": "t", "role": "analyst", "by": "admin", "at": "2026-04-01T09:00:00+09:00"}),
            json!({"type": "alert_ack", "alert": "A-1", "by": "ana", "note": null, "at": "2026-04-01T09:00:00+09:00"}),
            json!({"type": "reveal", "subject": "E1", "by": "ana", "reason": "case CASE-1", "at": "2026-04-01T09:00:00+09:00"}),
            json!({"type": "case", "case": "CASE-1", "action": "open", "alert": "A-1", "subject": "E1", "by": "ana",
                   "severity": "high", "score": 21.5, "at": "2026-04-01T09:00:00+09:00"}),
            json!({"type": "case", "case": "CASE-1", "action": "status", "status": "closed", "reason": null, "by": "ana",
                   "at": "2026-04-01T09:00:00+09:00"}),
        ];
        for old in olds {
            let r = Record::from_value("K-test", &old).unwrap();
            assert_eq!(
                serde_json::to_value(&r).unwrap().to_string(),
                old.to_string()
            );
        }
    }

    #[test]
    fn a_missing_field_is_an_error_not_a_default() {
        let e = Record::from_value(
            "K-1",
            &json!({"type": "approval", "doc": "D1", "by": "E9", "at": "x"}),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("K-1") && e.contains("for"), "{e}");
        // A copy issued before the form was recorded still reads.
        let c = Record::from_value("K-2", &json!({"type": "copy", "copy_id": "CP-1", "index": 1, "doc": "D1", "to": "E1",
            "purpose": null, "content_sha256": "a", "copy_sha256": "b", "media_type": "text/markdown", "at": "x"}))
            .unwrap();
        let Record::Copy(c) = c else { panic!("{c:?}") };
        assert_eq!(c.form(), "text");
    }
}
