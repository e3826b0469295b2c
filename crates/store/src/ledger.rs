//! The custody ledger's side of the store: what a backend persists in the
//! same transaction as the records it covers, and the shared computation
//! of it.
//!
//! A backend keeps, besides the records:
//! - `ledger_runs`: leaves `[first_leaf, first_leaf + count)` are the
//!   records of `kind` with `seq` `[first_seq, first_seq + count)`. A run is
//!   written per batch, so a record knows its leaf index through its `seq`
//!   (`Store::leaf_of`) and a leaf its record (`Store::ledger_records`).
//! - `ledger_tiles`: the log's tiles with their internal nodes
//!   ([`custodian_ledger::tiles`]).
//! - `ledger_checkpoints`: one signed checkpoint per batch.
//!
//! A batch's records, run, tiles and checkpoint commit together: a crash
//! leaves either all of them or none, and the latest checkpoint always
//! covers exactly what is stored.

use chrono::{DateTime, FixedOffset, SecondsFormat};
use custodian_core::interchange::{contact_to_json, hr_to_json};
use custodian_core::{ContactReport, Event, HrEvent};
use custodian_ledger::entry::{entry_hash, kinds};
use custodian_ledger::tiles::{Appender, Tile, TileId};
use custodian_ledger::{Checkpoint, Hash, NoteSigner};
use serde::Serialize;

use crate::{RegisterChange, Result, StoreError};

/// What a writer needs to extend the ledger: the signing key and the log's
/// origin line.
pub struct LedgerContext {
    pub signer: NoteSigner,
    pub origin: String,
}

impl std::fmt::Debug for LedgerContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LedgerContext({}, {:?})", self.origin, self.signer)
    }
}

/// A contiguous run of leaves covering a contiguous run of one kind's
/// records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerRun {
    pub first_leaf: u64,
    pub kind: String,
    pub first_seq: i64,
    pub count: u64,
}

/// A stored checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointRow {
    pub size: u64,
    pub note: String,
}

/// A record as the ledger sees it: its sequence number in its table, its
/// id, and its canonical encoding (or why the stored row cannot be read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRecord {
    pub seq: i64,
    pub record_id: String,
    pub canonical: std::result::Result<String, String>,
}

/// What one batch adds to the ledger, computed before it is written.
#[derive(Debug, Clone)]
pub struct LedgerUpdate {
    pub run: LedgerRun,
    pub tiles: Vec<Tile>,
    pub checkpoint: CheckpointRow,
}

/// Computes the run, tiles and signed checkpoint for appending `leaves`
/// (records of `kind` with seqs from `first_seq`) to a log of `size`
/// leaves whose right-edge tiles are `edge`.
pub fn ledger_update(
    ctx: &LedgerContext,
    size: u64,
    edge: Vec<Tile>,
    kind: &str,
    first_seq: i64,
    leaves: &[Hash],
) -> Result<LedgerUpdate> {
    let mut a =
        Appender::new(size, edge).map_err(|e| StoreError::Corrupt(format!("ledger: {e}")))?;
    let tiles = a.append(leaves);
    let cp = Checkpoint {
        origin: ctx.origin.clone(),
        size: a.size(),
        root: a.root(),
        extensions: vec![],
    };
    let note = cp
        .sign(&ctx.signer)
        .map_err(|e| StoreError::Backend(format!("cannot sign the checkpoint: {e}")))?;
    Ok(LedgerUpdate {
        run: LedgerRun {
            first_leaf: size,
            kind: kind.to_string(),
            first_seq,
            count: leaves.len() as u64,
        },
        tiles,
        checkpoint: CheckpointRow {
            size: a.size(),
            note,
        },
    })
}

/// The log size implied by the runs' last row.
pub fn size_after(last: Option<&LedgerRun>) -> u64 {
    last.map(|r| r.first_leaf + r.count).unwrap_or(0)
}

/// The right-edge tile ids (with widths) of a log of `size` leaves.
pub fn edge_ids(size: u64) -> Vec<(TileId, usize)> {
    custodian_ledger::tiles::edge_tiles(size)
        .into_iter()
        .filter(|(_, w)| *w > 0)
        .collect()
}

/// An event's ledger entry body: exactly the stored columns, one a line —
/// time (RFC 3339, microseconds, original offset), user, action, document
/// (empty if none), and the remaining fields as stored (compact JSON with
/// sorted keys, [`event_rest_json`](custodian_core::interchange::event_rest_json)).
/// Any change to any column changes the leaf; checking needs no parsing.
pub fn event_entry_body(
    ts: &DateTime<FixedOffset>,
    user: &str,
    action: &str,
    doc: Option<&str>,
    rest: &str,
) -> String {
    let ts = ts.to_rfc3339_opts(SecondsFormat::AutoSi, true);
    let doc = doc.unwrap_or("");
    let mut s =
        String::with_capacity(ts.len() + user.len() + action.len() + doc.len() + rest.len() + 4);
    for part in [ts.as_str(), user, action, doc] {
        s.push_str(part);
        s.push('\n');
    }
    s.push_str(rest);
    s
}

/// The leaf hash of an event with its stored `rest`.
pub fn event_leaf(e: &Event, rest: &str) -> Hash {
    entry_hash(
        kinds::EVENT,
        &e.id,
        &event_entry_body(&e.ts, &e.user, e.action.name(), e.action.doc(), rest),
    )
}

pub fn hr_leaf(e: &HrEvent) -> Hash {
    entry_hash(kinds::HR_EVENT, &e.id, &hr_to_json(e))
}

pub fn contact_leaf(c: &ContactReport) -> Hash {
    entry_hash(kinds::CONTACT_REPORT, &c.id, &contact_to_json(c))
}

/// A broker record's leaf: its canonical JSON as stored.
pub fn custody_leaf(r: &crate::CustodyRecord) -> Hash {
    entry_hash(kinds::CUSTODY, &r.id, &r.body)
}

/// An alert's leaf: its canonical JSON as stored.
pub fn alert_leaf(a: &crate::NewAlert) -> Hash {
    entry_hash(kinds::ALERT, &a.id, &a.body)
}

/// A register change's canonical encoding: its JSON with sorted keys, the
/// time to the microsecond (as stored) with its offset.
pub fn register_change_json(c: &RegisterChange) -> String {
    use chrono::{DurationRound, SecondsFormat, TimeDelta};
    let at =
        c.at.duration_trunc(TimeDelta::microseconds(1))
            .unwrap_or(c.at);
    serde_json::json!({
        "actor": c.actor,
        "at": at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        "doc_id": c.doc_id,
        "field": c.field,
        "new": c.new,
        "old": c.old,
    })
    .to_string()
}

/// A register change's id, derived from its content.
pub fn register_change_id(c: &RegisterChange) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(register_change_json(c).as_bytes());
    format!("rc-{}", hex::encode(&d[..16]))
}

pub fn register_change_leaf(c: &RegisterChange) -> Hash {
    entry_hash(
        kinds::REGISTER_CHANGE,
        &register_change_id(c),
        &register_change_json(c),
    )
}

/// Tiles only grow at the log's right edge and never change otherwise: a
/// tile read at width `w` holds every node any proof needing at most `w` of
/// its entries reads. So a store keeps recently read tiles in memory and
/// serves a request from them when wide enough. Bounded; oldest out first.
/// Verification never reads through it.
#[derive(Debug)]
pub struct TileCache {
    inner: std::sync::Mutex<(
        std::collections::HashMap<TileId, Tile>,
        std::collections::VecDeque<TileId>,
    )>,
    capacity: usize,
}

impl TileCache {
    pub fn new(capacity: usize) -> Self {
        TileCache {
            inner: std::sync::Mutex::new(Default::default()),
            capacity,
        }
    }

    /// The cached tiles at least as wide as asked, and the ids still to read.
    pub fn split(&self, want: &[(TileId, usize)]) -> (Vec<Tile>, Vec<TileId>) {
        let Ok(g) = self.inner.lock() else {
            return (Vec::new(), want.iter().map(|w| w.0).collect());
        };
        let mut hit = Vec::new();
        let mut miss = Vec::new();
        for (id, width) in want {
            match g.0.get(id) {
                Some(t) if t.width() >= *width => hit.push(t.clone()),
                _ => miss.push(*id),
            }
        }
        (hit, miss)
    }

    /// Remembers `tiles`, replacing narrower copies.
    pub fn keep(&self, tiles: &[Tile]) {
        let Ok(mut g) = self.inner.lock() else { return };
        for t in tiles {
            let wider = g.0.get(&t.id).is_none_or(|old| old.width() < t.width());
            if !wider {
                continue;
            }
            if g.0.insert(t.id, t.clone()).is_none() {
                g.1.push_back(t.id);
            }
            while g.1.len() > self.capacity {
                if let Some(old) = g.1.pop_front() {
                    g.0.remove(&old);
                }
            }
        }
    }
}
