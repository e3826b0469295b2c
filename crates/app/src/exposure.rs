//! Register exposure: documents whose folder permissions let people open
//! them without need to know. A finding about the register, not about
//! people: for the document's owner and the administrators, so the
//! permissions are mended and the "managed as secret" claim holds.
//!
//! Rules:
//! - Detection over the store finds them (`custodian_detect::Engine::
//!   exposures`); each finding is kept as a custody record of kind
//!   `exposure` (ledgered), its id derived from its content, so the same
//!   finding is kept once and a grown one is a new record. The newest
//!   record of each document is the current finding.
//! - Owners see their own documents' findings, administrators all; both see
//!   how many people may open a document, how many did without need to
//!   know, since when, and from which units: not who (names stay with the
//!   analysts' pseudonyms and the ledgered reveal). The command line, the
//!   administrator's shell on the store, can list the people.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};
use custodian_detect::DocExposure;
use custodian_store::{CustodyRecord, LedgerContext, Store, StoreError};

pub const KIND: &str = "exposure";

/// Keeps the findings (new or grown ones only); returns how many were new.
pub async fn record(
    store: &dyn Store,
    findings: &[DocExposure],
    ledger: &LedgerContext,
) -> Result<u64, StoreError> {
    let records: Vec<CustodyRecord> = findings
        .iter()
        .filter_map(|f| {
            let body = serde_json::to_value(f).ok()?;
            Some(CustodyRecord::new(
                KIND,
                Some(&f.doc),
                &f.owner,
                f.last,
                &body,
            ))
        })
        .collect();
    let mut n = 0;
    for chunk in records.chunks(1000) {
        n += store.insert_custody(chunk, ledger).await?.0;
    }
    Ok(n)
}

/// The current finding of each document (of one owner's, if given), most
/// exposed first, with when it was recorded.
pub async fn current(
    store: &dyn Store,
    owner: Option<&str>,
) -> Result<Vec<(DocExposure, DateTime<FixedOffset>)>, StoreError> {
    let mut latest: BTreeMap<String, (DocExposure, DateTime<FixedOffset>)> = BTreeMap::new();
    for r in store.custody_records(KIND, None, owner).await? {
        let Ok(f) = serde_json::from_str::<DocExposure>(&r.body) else {
            tracing::warn!(record = %r.id, "an exposure record cannot be read back");
            continue;
        };
        // Records come oldest first; a later one of the same document, or
        // a larger one at the same time, is the current finding.
        let replace = latest
            .get(&f.doc)
            .is_none_or(|(old, at)| r.at > *at || (r.at == *at && f.opens >= old.opens));
        if replace {
            latest.insert(f.doc.clone(), (f, r.at));
        }
    }
    let mut out: Vec<_> = latest.into_values().collect();
    out.sort_by(|a, b| {
        b.0.exposed
            .cmp(&a.0.exposed)
            .then(b.0.did.cmp(&a.0.did))
            .then(b.0.level.cmp(&a.0.level))
            .then(a.0.doc.cmp(&b.0.doc))
    });
    Ok(out)
}
