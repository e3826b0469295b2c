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

use chrono::SecondsFormat;
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

/// What verification reads before it re-reads the records, in one
/// snapshot (see [`crate::Store::ledger_snapshot`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LedgerSnapshot {
    pub runs: Vec<LedgerRun>,
    pub checkpoints: Vec<CheckpointRow>,
    /// Records stored, by kind.
    pub counts: std::collections::BTreeMap<String, u64>,
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

/// Leaf hashes recomputed from the stored records of one contiguous range
/// of seqs (what verification compares with the log), compact: a hash
/// per record and no ids, which only a record that cannot be read needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeafChunk {
    /// The seq of the first hash.
    pub first_seq: i64,
    /// The leaf hashes of seqs `first_seq, first_seq + 1, …`, up to the
    /// range's end or to `stop`.
    pub hashes: Vec<Hash>,
    /// The entries' total length in bytes.
    pub bytes: u64,
    /// Why the chunk ends before its range does.
    pub stop: Option<LeafStop>,
}

/// One record as read for verification: its leaf hash and entry length,
/// or its id and why the stored row cannot be read back into an entry.
pub type LeafRead = std::result::Result<(Hash, u64), (String, String)>;

/// The record at which a [`LeafChunk`] stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeafStop {
    /// No record with this seq is stored.
    Missing { seq: i64 },
    /// The stored row cannot be read back into its entry.
    Unreadable {
        seq: i64,
        record_id: String,
        why: String,
    },
}

impl LeafChunk {
    /// Collects the leaves of seqs `[first_seq, first_seq + count)` from
    /// rows in seq order; stops at the first missing or unreadable one.
    pub fn collect<I>(first_seq: i64, count: u64, rows: I) -> LeafChunk
    where
        I: IntoIterator<Item = (i64, LeafRead)>,
    {
        let mut b = LeafChunkBuilder::new(first_seq, count);
        for (seq, leaf) in rows {
            if !b.push(seq, leaf) {
                break;
            }
        }
        b.finish()
    }
}

/// Builds a [`LeafChunk`] row by row (see [`LeafChunk::collect`]).
#[derive(Debug)]
pub struct LeafChunkBuilder {
    chunk: LeafChunk,
    end: i64,
}

impl LeafChunkBuilder {
    pub fn new(first_seq: i64, count: u64) -> Self {
        LeafChunkBuilder {
            chunk: LeafChunk {
                first_seq,
                hashes: Vec::with_capacity(count as usize),
                bytes: 0,
                stop: None,
            },
            end: first_seq + count as i64,
        }
    }

    fn next_seq(&self) -> i64 {
        self.chunk.first_seq + self.chunk.hashes.len() as i64
    }

    /// Adds the row with `seq`: its leaf and length, or its id and why it
    /// cannot be read. False once the chunk has stopped (or is full).
    pub fn push(&mut self, seq: i64, leaf: LeafRead) -> bool {
        let want = self.next_seq();
        if self.chunk.stop.is_some() || want >= self.end {
            return false;
        }
        if seq != want {
            self.chunk.stop = Some(LeafStop::Missing { seq: want });
            return false;
        }
        match leaf {
            Ok((h, len)) => {
                self.chunk.hashes.push(h);
                self.chunk.bytes += len;
                true
            }
            Err((record_id, why)) => {
                self.chunk.stop = Some(LeafStop::Unreadable {
                    seq,
                    record_id,
                    why,
                });
                false
            }
        }
    }

    pub fn finish(mut self) -> LeafChunk {
        let want = self.next_seq();
        if self.chunk.stop.is_none() && want < self.end {
            self.chunk.stop = Some(LeafStop::Missing { seq: want });
        }
        self.chunk
    }
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

/// Writes a timestamp exactly as chrono's `to_rfc3339_opts(AutoSi, true)`
/// does (no fraction, or 3 or 6 digits; `Z` for UTC), without chrono for
/// the common case (years 0000-9999, offsets in whole minutes): this runs
/// once per entry when the ledger is verified.
pub fn write_rfc3339_micros(out: &mut Vec<u8>, us: i64, off: i32) {
    let fallback = |out: &mut Vec<u8>| {
        if let Ok(ts) = crate::ts_from_db(us, i64::from(off)) {
            out.extend_from_slice(ts.to_rfc3339_opts(SecondsFormat::AutoSi, true).as_bytes());
        }
    };
    let Some(local) = us.checked_add(i64::from(off) * 1_000_000) else {
        return fallback(out);
    };
    if off % 60 != 0 || off.abs() >= 86_400 {
        return fallback(out);
    }
    let secs = local.div_euclid(1_000_000);
    let micros = local.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    if !(0..=9999).contains(&year) {
        return fallback(out);
    }
    // Written into one stack buffer and copied once (this runs per entry).
    struct Buf {
        b: [u8; 32],
        n: usize,
    }
    impl Buf {
        fn byte(&mut self, c: u8) {
            self.b[self.n] = c;
            self.n += 1;
        }
        /// `v` as exactly `width` decimal digits.
        fn digits(&mut self, v: i64, width: usize) {
            let mut v = v;
            for i in (0..width).rev() {
                self.b[self.n + i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
            self.n += width;
        }
    }
    let mut b = Buf { b: [0; 32], n: 0 };
    b.digits(year, 4);
    for (sep, v) in [
        (b'-', month),
        (b'-', day),
        (b'T', sod / 3600),
        (b':', sod / 60 % 60),
        (b':', sod % 60),
    ] {
        b.byte(sep);
        b.digits(v, 2);
    }
    if micros != 0 {
        b.byte(b'.');
        if micros % 1_000 == 0 {
            b.digits(micros / 1_000, 3);
        } else {
            b.digits(micros, 6);
        }
    }
    if off == 0 {
        b.byte(b'Z');
    } else {
        b.byte(if off < 0 { b'-' } else { b'+' });
        let m = i64::from(off.abs() / 60);
        b.digits(m / 60, 2);
        b.byte(b':');
        b.digits(m % 60, 2);
    }
    out.extend_from_slice(&b.b[..b.n]);
}

/// The leaf hash of an event with its stored `rest`.
pub fn event_leaf(e: &Event, rest: &str) -> Hash {
    entry_hash(
        kinds::EVENT,
        &e.id,
        &crate::EventCols::of_event(e, rest).entry_body(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rows(seqs: &[i64]) -> Vec<(i64, LeafRead)> {
        seqs.iter().map(|&q| (q, Ok(([q as u8; 32], 10)))).collect()
    }

    #[test]
    fn leaf_chunks_stop_at_the_first_missing_or_unreadable_record() {
        let whole = LeafChunk::collect(5, 3, rows(&[5, 6, 7, 8]));
        assert_eq!(whole.hashes, vec![[5; 32], [6; 32], [7; 32]]);
        assert_eq!((whole.bytes, whole.stop), (30, None));
        let gap = LeafChunk::collect(5, 4, rows(&[5, 7, 8]));
        assert_eq!(gap.hashes.len(), 1);
        assert_eq!(gap.stop, Some(LeafStop::Missing { seq: 6 }));
        let short = LeafChunk::collect(5, 4, rows(&[5, 6]));
        assert_eq!(short.stop, Some(LeafStop::Missing { seq: 7 }));
        let empty = LeafChunk::collect(5, 2, rows(&[]));
        assert_eq!(empty.stop, Some(LeafStop::Missing { seq: 5 }));
        let mut bad = rows(&[5, 6, 7]);
        bad[1].1 = Err(("ev-6".into(), "ts_us is not an integer".into()));
        let bad = LeafChunk::collect(5, 3, bad);
        assert_eq!(bad.hashes, vec![[5; 32]]);
        assert_eq!(
            bad.stop,
            Some(LeafStop::Unreadable {
                seq: 6,
                record_id: "ev-6".into(),
                why: "ts_us is not an integer".into()
            })
        );
    }

    fn chrono_form(us: i64, off: i32) -> String {
        crate::ts_from_db(us, i64::from(off))
            .unwrap()
            .to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }

    fn fast_form(us: i64, off: i32) -> String {
        let mut out = Vec::new();
        write_rfc3339_micros(&mut out, us, off);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn timestamps_are_written_as_chrono_writes_them_at_the_edges() {
        let year_10000 = 253_402_300_800_000_000_i64;
        for us in [
            0,
            -1,
            1,
            999,
            1_000,
            1_000_000,
            -1_000_000,
            1_790_000_000_123_456,
            1_790_000_000_120_000,
            -62_135_596_800_000_000, // 0001-01-01
            -62_167_219_200_000_000, // 0000-01-01
            -62_167_219_200_000_001,
            year_10000 - 1,
            year_10000,
            year_10000 + 123,
        ] {
            for off in [0, 32_400, -18_000, 19_800, 20_700, -1, 61, 86_399, -86_399] {
                assert_eq!(fast_form(us, off), chrono_form(us, off), "{us} {off}");
            }
        }
    }

    proptest! {
        #[test]
        fn timestamps_are_written_as_chrono_writes_them(
            us in -70_000_000_000_000_000_i64..300_000_000_000_000_000_i64,
            off_min in -1439i32..1440,
            frac in prop_oneof![Just(0i64), Just(1), Just(2)],
        ) {
            // Whole seconds, milliseconds and microseconds, all offsets.
            let us = match frac { 0 => us / 1_000_000 * 1_000_000, 1 => us / 1_000 * 1_000, _ => us };
            prop_assert_eq!(fast_form(us, off_min * 60), chrono_form(us, off_min * 60));
        }
    }
}
