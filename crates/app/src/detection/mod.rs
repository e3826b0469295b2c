//! Detection as a use case: over a dataset folder or over the store.
//!
//! Rules:
//! - The engine (`custodian-detect`) is pure; this module feeds it. Events
//!   go in the engine's order (`ts`, then id hash) once per id, whatever
//!   order the source holds them in, so the alerts depend only on the set
//!   of events (see `docs/detection.md`, "Order and determinism").
//! - Bad lines are set aside with file, line and reason, as an import does;
//!   the good ones around them are used.
//! - Memory follows what overlaps in time, not the file, where the file
//!   allows it (a plain file out of order is merged by time).
//! - Alerts stored by [`detect_store`] are ledgered, and their ids derive
//!   from their content ([`new_alert`]).
//! - Options come from the caller, time included: nothing here reads the
//!   clock or the settings.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset};
use custodian_detect::{Alert, Config, DocExposure, Engine, Severity};
use custodian_ingest::Progress;
use custodian_store::NewAlert;

use crate::error::{AppError, Result};

mod blocks;
mod by_time;
mod folder;
pub mod live;
mod store;

pub use folder::detect_folder;

/// The first pass's reading of a line's time and of a block's earliest
/// time (outside input read without parsing), for the fuzz target
/// `fuzz/fuzz_targets/first_pass_ts.rs`.
#[doc(hidden)]
pub mod first_pass {
    pub use super::blocks::sample_ts;
    pub use super::by_time::earliest;
}
pub use store::detect_store;

/// A dataset folder's layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// The interchange format (directory.csv, documents.csv, events.jsonl, …).
    Interchange,
    /// The CERT Insider Threat Test Dataset r4.2 (logon, device, file,
    /// email, http CSVs and the LDAP folder).
    CertR42,
}

/// How a folder is detected over.
pub struct FolderOptions {
    pub config: Config,
    /// Where rejected lines are written.
    pub rejects: PathBuf,
    /// When the run happens (reject records carry it).
    pub now: DateTime<FixedOffset>,
    pub max_line_bytes: usize,
    pub progress: Arc<dyn Progress>,
    /// Write down every judgement about this user (`DetectSummary::trace`).
    pub trace: Option<String>,
    /// Also write every person's highest score as JSONL here.
    pub scores: Option<PathBuf>,
}

/// What a run found, for printing and for the demo.
#[derive(Debug, serde::Serialize)]
pub struct DetectSummary {
    pub events_read: u64,
    pub events_used: u64,
    pub rejected: u64,
    pub rejects_file: Option<String>,
    pub people: usize,
    pub contact_groups: usize,
    pub alerts: usize,
    pub people_alerted: [usize; 3],
    pub detect_seconds: f64,
    pub output: Option<String>,
    /// The severity lines at the end (they follow the alert budget).
    pub lines: custodian_detect::Lines,
    /// Register entries whose folder permissions let many people open them
    /// without need to know (`custodian register exposure`).
    pub exposed_documents: usize,
    /// Those findings (every document opened without need to know).
    #[serde(skip)]
    pub exposures: Vec<custodian_detect::DocExposure>,
    /// With `trace`: every judgement about that person, in order.
    #[serde(skip)]
    pub trace: Vec<String>,
}

impl DetectSummary {
    /// What a run adds up to: the engine's state at the end, the alerts, the
    /// exposure findings (computed once by the caller), and what was read
    /// and used; the caller adds its rejects.
    pub(crate) fn of(
        engine: &mut Engine,
        alerts: &[Alert],
        exposures: Vec<DocExposure>,
        (read, used): (u64, u64),
        seconds: f64,
    ) -> DetectSummary {
        let stats = engine.stats();
        DetectSummary {
            lines: engine.lines(),
            exposed_documents: exposures.iter().filter(|x| x.exposed).count(),
            exposures,
            events_read: read,
            events_used: used,
            rejected: 0,
            rejects_file: None,
            people: stats.people,
            contact_groups: stats.contact_groups,
            alerts: alerts.len(),
            people_alerted: people_alerted(alerts),
            detect_seconds: seconds,
            output: None,
            trace: engine.take_trace(),
        }
    }
}

/// Distinct people alerted at low, medium and high (their highest).
pub fn people_alerted(alerts: &[Alert]) -> [usize; 3] {
    let mut top: std::collections::BTreeMap<&str, Severity> = Default::default();
    for a in alerts {
        let e = top.entry(a.user.as_str()).or_insert(a.severity);
        *e = (*e).max(a.severity);
    }
    let mut n = [0; 3];
    for s in top.values() {
        n[*s as usize] += 1;
    }
    n
}

/// The highest alert of each person, best first.
pub fn top_alerts(alerts: &[Alert], n: usize) -> Vec<&Alert> {
    let mut best: std::collections::BTreeMap<&str, &Alert> = Default::default();
    for a in alerts {
        let e = best.entry(a.user.as_str()).or_insert(a);
        if a.score > e.score {
            *e = a;
        }
    }
    let mut v: Vec<&Alert> = best.into_values().collect();
    v.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.user.cmp(&b.user)));
    v.truncate(n);
    v
}

/// Stores and ledgers alerts in transactions of 1,000; how many were new.
pub(crate) async fn store_alerts(
    store: &dyn custodian_store::Store,
    ledger: &custodian_store::LedgerContext,
    alerts: &[NewAlert],
) -> Result<u64> {
    let mut n = 0;
    for chunk in alerts.chunks(1000) {
        n += store.insert_alerts(chunk, ledger).await?.0;
    }
    Ok(n)
}

/// An alert as the store keeps it: canonical JSON (sorted keys) and an id
/// derived from it, so detecting again over the same data adds nothing.
pub fn new_alert(a: &Alert) -> Result<NewAlert> {
    use sha2::{Digest, Sha256};
    let body = serde_json::to_value(a)
        .and_then(|v| serde_json::to_string(&v))
        .map_err(|e| AppError::Failed(format!("alert {}: {e}", a.user)))?;
    let id = format!("A-{}", &hex::encode(Sha256::digest(body.as_bytes()))[..24]);
    Ok(NewAlert {
        id,
        user: a.user.clone(),
        raised_at: a.raised_at,
        severity: a.severity.as_str().into(),
        score: a.score,
        body,
    })
}
