//! Analysts' reads on the record: who looked at whom.
//!
//! Rules:
//! - Every view by an analyst of a person's page or of a case is a
//!   ledgered custody record of kind `access` (who, what, which, when),
//!   filed under the person it is about. It is written before the view is
//!   answered: a view whose record cannot be written is not shown.
//! - The same view by the same analyst in the same second is one record
//!   (records are named by their content).
//! - Showing a real name, and exporting an evidence bundle, are reveals
//!   (`reveal` records, [`crate::cases::reveal`]) and count as reads too.
//! - The auditor lists, per person, every read of them, oldest first
//!   ([`reads_of`]); the analysts' own reads are what a works council and a
//!   court will ask about.

use chrono::{DateTime, FixedOffset};

use custodian_store::{CustodyRecord, LedgerContext, Store};

use crate::error::Result;
use crate::records::Record;

/// What an analyst looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewed {
    /// A person's page (their timeline and chart).
    Person,
    /// A case (its actions and state).
    Case,
}

impl Viewed {
    pub fn as_str(self) -> &'static str {
        match self {
            Viewed::Person => "person",
            Viewed::Case => "case",
        }
    }
}

/// Records that `by` viewed `target` (a person's id or a case's), which is
/// about `subject`.
pub async fn record(
    store: &dyn Store,
    ledger: &LedgerContext,
    at: DateTime<FixedOffset>,
    by: &str,
    what: Viewed,
    target: &str,
    subject: &str,
) -> Result<CustodyRecord> {
    let r = Record::Access {
        what: what.as_str().into(),
        target: target.into(),
        subject: subject.into(),
        by: by.into(),
        at: at.to_rfc3339(),
    }
    .keep(store, ledger, None, subject, at)
    .await?;
    Ok(r)
}

/// One read of a person: a view or a reveal.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Read {
    /// The custody record (its ledger entry proves it).
    pub record: String,
    pub at: DateTime<FixedOffset>,
    pub by: String,
    /// `person`, `case` or `reveal`.
    pub what: String,
    /// The person or case seen; for a reveal, why the name was needed.
    pub detail: String,
}

/// Every read of `subject`, oldest first.
pub async fn reads_of(store: &dyn Store, subject: &str) -> Result<Vec<Read>> {
    let mut out = Vec::new();
    for kind in ["access", "reveal"] {
        for r in store.custody_records(kind, None, Some(subject)).await? {
            let read = match Record::of(&r)? {
                Record::Access {
                    what, target, by, ..
                } => Read {
                    record: r.id.clone(),
                    at: r.at,
                    by,
                    what,
                    detail: target,
                },
                Record::Reveal { by, reason, .. } => Read {
                    record: r.id.clone(),
                    at: r.at,
                    by,
                    what: "reveal".into(),
                    detail: reason,
                },
                _ => continue,
            };
            out.push(read);
        }
    }
    out.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.record.cmp(&b.record)));
    Ok(out)
}
