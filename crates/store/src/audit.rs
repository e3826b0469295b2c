//! Auditing the custody ledger of a store: full verification, proofs for
//! single records, and export as static C2SP tlog-tiles.
//!
//! Verification trusts nothing stored: it re-reads every record, re-encodes
//! it canonically, rebuilds the whole tree from scratch, and compares every
//! stored tile and every signed checkpoint with what it computed. The first
//! difference is reported with the leaf, the kind of record and its id.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::Serialize;

use custodian_ledger::entry::{encode_entry, ProofBundle, PROOF_FORMAT};
use custodian_ledger::tiles::{
    tile_width, Appender, NodeRecorder, Tile, TileId, TileSet, TILE_WIDTH,
};
use custodian_ledger::{inclusion_proof, Checkpoint, Hash, NoteVerifier};

use crate::{CheckpointRow, Store, StoreError};

/// What verification established.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub size: u64,
    pub root: String,
    pub checkpoints_verified: u64,
    pub records_by_kind: BTreeMap<String, u64>,
    pub bytes_hashed: u64,
    /// The externally kept checkpoint this log was shown to extend, if one
    /// was given.
    pub trusted_checkpoint_size: Option<u64>,
}

/// The first difference verification found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{what}")]
pub struct VerifyFailure {
    pub leaf: Option<u64>,
    pub kind: Option<String>,
    pub record_id: Option<String>,
    pub what: String,
}

impl VerifyFailure {
    fn general(what: impl Into<String>) -> Self {
        VerifyFailure {
            leaf: None,
            kind: None,
            record_id: None,
            what: what.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("the ledger does not verify: {0}")]
    Failed(VerifyFailure),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Other(String),
}

/// Names the record behind a leaf, from the store, when a failure needs
/// it (verification keeps no ids on its way).
struct Named<'a> {
    runs: &'a [crate::LedgerRun],
}

impl Named<'_> {
    async fn name(&self, store: &dyn Store, leaf: u64, what: String) -> VerifyFailure {
        let run = self
            .runs
            .iter()
            .find(|r| r.first_leaf <= leaf && leaf < r.first_leaf + r.count);
        let hit = match run {
            Some(r) => {
                let seq = r.first_seq + (leaf - r.first_leaf) as i64;
                let id = store
                    .ledger_records(&r.kind, seq, 1)
                    .await
                    .ok()
                    .and_then(|v| v.into_iter().next())
                    .map(|x| x.record_id);
                id.map(|id| (r.kind.clone(), id))
            }
            None => None,
        };
        VerifyFailure {
            leaf: Some(leaf),
            kind: hit.as_ref().map(|h| h.0.clone()),
            record_id: hit.as_ref().map(|h| h.1.clone()),
            what: match &hit {
                Some((k, id)) => format!("leaf {leaf} ({k} '{id}'): {what}"),
                None => format!("leaf {leaf}: {what}"),
            },
        }
    }
}

/// Compares recomputed tiles with the stored ones, paging through storage.
struct TileCompare {
    pages: BTreeMap<u8, (u64, Vec<Tile>)>,
}

impl TileCompare {
    async fn check(
        &mut self,
        store: &dyn Store,
        t: &Tile,
        named: &Named<'_>,
    ) -> Result<(), AuditError> {
        let level = t.id.level;
        let need_fetch = match self.pages.get(&level) {
            Some((from, page)) => {
                t.id.index < *from || t.id.index >= from + page.len() as u64 || page.is_empty()
            }
            None => true,
        };
        if need_fetch {
            let page = store.ledger_tiles_from(level, t.id.index, 512).await?;
            self.pages.insert(level, (t.id.index, page));
        }
        let (from, page) = &self.pages[&level];
        let stored = page
            .get((t.id.index - from) as usize)
            .filter(|s| s.id == t.id);
        let Some(stored) = stored else {
            return Err(AuditError::Failed(VerifyFailure::general(format!(
                "tile {}/{} is missing from the store",
                level, t.id.index
            ))));
        };
        if stored == t {
            return Ok(());
        }
        // Name the first leaf (or node) that differs.
        if level == 0 {
            let pos = (0..t.width().max(stored.width()))
                .find(|&i| t.base().get(i) != stored.base().get(i));
            if let Some(pos) = pos {
                let leaf = t.id.index * TILE_WIDTH as u64 + pos as u64;
                return Err(AuditError::Failed(
                    named
                        .name(
                            store,
                            leaf,
                            "the stored record does not hash to the leaf the log holds for it (the record or the log was changed)".into(),
                        )
                        .await,
                ));
            }
        }
        Err(AuditError::Failed(VerifyFailure::general(format!(
            "stored tile {}/{} differs from the tree rebuilt from the records (the log's hashes were changed)",
            level, t.id.index
        ))))
    }
}

/// Entries verification reads ahead of the tree it rebuilds (8 MiB of
/// leaf hashes)...
const READ_AHEAD: u64 = 1 << 18;

/// ... in at most this many reads: a pooled store holds a connection for
/// each read in flight, and verification needs one more for tiles.
const READS_AHEAD: usize = 4;

type LeavesFuture<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Vec<crate::LeafChunk>, StoreError>> + Send + 'a>,
>;

type Leaves = Result<Vec<crate::LeafChunk>, StoreError>;

/// A queued read: still running, or its result.
enum Slot<'a> {
    Running(LeavesFuture<'a>),
    Done(Leaves),
}

/// Runs the reads of `pending` ahead, in order, while they cover fewer
/// than `budget` entries in at most [`READS_AHEAD`] reads (at least one
/// read): each is polled once as soon as it is queued, so work a store
/// hands to other threads starts then, not when its result is awaited.
/// Verification may pause to read stored tiles; reads queued this deep
/// keep the store's readers busy meanwhile.
struct Ahead<'a, I: Iterator<Item = (u64, LeavesFuture<'a>)>> {
    pending: I,
    queue: std::collections::VecDeque<(u64, Slot<'a>)>,
    queued: u64,
    budget: u64,
}

impl<'a, I: Iterator<Item = (u64, LeavesFuture<'a>)>> Ahead<'a, I> {
    fn new(budget: u64, pending: I) -> Self {
        Ahead {
            pending,
            queue: Default::default(),
            queued: 0,
            budget,
        }
    }

    async fn fill(&mut self) {
        while self.queue.is_empty() || (self.queued < self.budget && self.queue.len() < READS_AHEAD)
        {
            let Some((n, mut f)) = self.pending.next() else {
                break;
            };
            let polled =
                std::future::poll_fn(|cx| std::task::Poll::Ready(f.as_mut().poll(cx))).await;
            let slot = match polled {
                std::task::Poll::Ready(v) => Slot::Done(v),
                std::task::Poll::Pending => Slot::Running(f),
            };
            self.queue.push_back((n, slot));
            self.queued += n;
        }
    }

    /// The next read's result, or `None` when all were taken. While it
    /// waits, every queued read is polled (a read that holds a pooled
    /// connection must go on, or the one awaited may wait for it forever).
    async fn next(&mut self) -> Option<Leaves> {
        self.fill().await;
        let front_done = std::future::poll_fn(|cx| {
            for (_, slot) in self.queue.iter_mut() {
                if let Slot::Running(f) = slot {
                    if let std::task::Poll::Ready(v) = f.as_mut().poll(cx) {
                        *slot = Slot::Done(v);
                    }
                }
            }
            match self.queue.front() {
                Some((_, Slot::Running(_))) => std::task::Poll::Pending,
                _ => std::task::Poll::Ready(()),
            }
        });
        front_done.await;
        let (n, slot) = self.queue.pop_front()?;
        self.queued -= n;
        // Queue the next reads before this one is processed.
        self.fill().await;
        match slot {
            Slot::Done(v) => Some(v),
            Slot::Running(f) => Some(f.await),
        }
    }
}

/// What `ledger status` shows: size, checkpoints and the latest one.
#[derive(Debug, Clone)]
pub struct LedgerStatus {
    pub size: u64,
    pub checkpoints: usize,
    /// The latest signed checkpoint (note text) and what it says, if it parses.
    pub latest: Option<CheckpointRow>,
    pub latest_parsed: Option<Checkpoint>,
}

pub async fn status(store: &dyn Store) -> Result<LedgerStatus, AuditError> {
    // One snapshot: the size and the latest checkpoint agree even while
    // batches are being written.
    let snapshot = store.ledger_snapshot(&[]).await?;
    let mut cps = snapshot.checkpoints;
    let size: u64 = snapshot.runs.iter().map(|r| r.count).sum();
    let checkpoints = cps.len();
    let latest = cps.pop();
    let latest_parsed = latest.as_ref().and_then(|c| {
        let text = c.note.split("\n\n").next()?;
        Checkpoint::parse(&format!("{text}\n")).ok()
    });
    Ok(LedgerStatus {
        size,
        checkpoints,
        latest,
        latest_parsed,
    })
}

/// Verifies the whole ledger of `store` with the log's verifier key. With
/// `trusted`, also checks the log extends that externally kept checkpoint.
pub async fn verify(
    store: &dyn Store,
    key: &NoteVerifier,
    trusted: Option<&str>,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<VerifyReport, AuditError> {
    let fail = |f: VerifyFailure| AuditError::Failed(f);
    // Runs, checkpoints and record counts from one snapshot: a store being
    // written meanwhile is verified as it was then.
    let snapshot = store
        .ledger_snapshot(&custodian_ledger::entry::kinds::ALL)
        .await?;
    let runs = snapshot.runs;
    let total: u64 = runs.iter().map(|r| r.count).sum();
    let mut checkpoints = Vec::new();
    for row in snapshot.checkpoints {
        let cp = Checkpoint::open(&row.note, key).map_err(|e| {
            fail(VerifyFailure::general(format!(
                "checkpoint of size {}: {e}",
                row.size
            )))
        })?;
        if cp.size != row.size {
            return Err(fail(VerifyFailure::general(format!(
                "checkpoint stored under size {} says size {}",
                row.size, cp.size
            ))));
        }
        checkpoints.push(cp);
    }
    let trusted_cp = match trusted {
        Some(note) => Some(Checkpoint::open(note, key).map_err(|e| {
            fail(VerifyFailure::general(format!(
                "the trusted checkpoint: {e}"
            )))
        })?),
        None => None,
    };
    if let Some(last) = checkpoints.last() {
        if last.size > total {
            return Err(fail(VerifyFailure::general(format!(
                "the latest checkpoint covers {} entries but the log holds {total}: entries were removed (the log was truncated)",
                last.size
            ))));
        }
    }
    if let Some(t) = &trusted_cp {
        if t.size > total {
            return Err(fail(VerifyFailure::general(format!(
                "the trusted checkpoint covers {} entries but the log holds {total}: the log was truncated or rolled back",
                t.size
            ))));
        }
    }
    let mut want_roots: BTreeMap<u64, (Hash, &'static str)> = BTreeMap::new();
    for c in &checkpoints {
        want_roots.insert(c.size, (c.root, "a stored checkpoint"));
    }
    if let Some(t) = &trusted_cp {
        want_roots.insert(t.size, (t.root, "the trusted checkpoint"));
    }
    if checkpoints.last().map(|c| c.size) != Some(total) && total > 0 {
        return Err(fail(VerifyFailure::general(format!(
            "no signed checkpoint covers the whole log of {total} entries (the latest covers {})",
            checkpoints.last().map(|c| c.size).unwrap_or(0)
        ))));
    }

    let mut appender = Appender::new(0, vec![]).map_err(|e| AuditError::Other(e.to_string()))?;
    let mut compare = TileCompare {
        pages: BTreeMap::new(),
    };
    let named = Named { runs: &runs };
    let mut by_kind: BTreeMap<String, u64> = BTreeMap::new();
    let mut bytes_hashed = 0u64;
    let mut root_at: BTreeMap<u64, Hash> = BTreeMap::new();
    let mut expected_leaf = 0u64;
    // Runs are read and hashed ahead (the store may use other threads)
    // while this task appends each run to the tree and compares its
    // tiles, so the readers do not wait for it.
    let mut fetched = Ahead::new(
        READ_AHEAD,
        runs.clone().into_iter().map(|r| {
            let f =
                Box::pin(async move { store.ledger_leaves(&r.kind, r.first_seq, r.count).await })
                    as LeavesFuture<'_>;
            (r.count, f)
        }),
    );
    for run in runs.iter() {
        if run.first_leaf != expected_leaf {
            return Err(fail(VerifyFailure::general(format!(
                "the ledger's runs skip from leaf {expected_leaf} to {}: entries are missing",
                run.first_leaf
            ))));
        }
        let chunks = fetched.next().await.transpose()?.unwrap_or_default();
        let failure = |at: i64, what: String, record_id: Option<String>| {
            let leaf = run.first_leaf + (at - run.first_seq) as u64;
            fail(VerifyFailure {
                leaf: Some(leaf),
                kind: Some(run.kind.clone()),
                record_id,
                what: format!("leaf {leaf}{what}"),
            })
        };
        let missing = |at: i64| {
            failure(
                at,
                format!(
                    ": the {} with seq {at} that it logs is missing from the store (deleted?)",
                    run.kind
                ),
                None,
            )
        };
        let mut seq = run.first_seq;
        let end = run.first_seq + run.count as i64;
        for chunk in chunks {
            if chunk.first_seq != seq || seq >= end {
                break;
            }
            let n = (chunk.hashes.len() as u64).min((end - seq) as u64);
            let tiles = appender.append(&chunk.hashes[..n as usize]);
            for t in tiles.iter().filter(|t| t.is_full()) {
                compare.check(store, t, &named).await?;
            }
            bytes_hashed += chunk.bytes + n * (1 + 65);
            seq += n as i64;
            match chunk.stop {
                None => {}
                Some(crate::LeafStop::Missing { seq }) => return Err(missing(seq)),
                Some(crate::LeafStop::Unreadable {
                    seq,
                    record_id,
                    why,
                }) => {
                    let what = format!(
                        " ({} '{record_id}'): the stored row cannot be read: {why}",
                        run.kind
                    );
                    return Err(failure(seq, what, Some(record_id)));
                }
            }
        }
        if seq < end {
            return Err(missing(seq));
        }
        *by_kind.entry(run.kind.clone()).or_default() += run.count;
        expected_leaf += run.count;
        if want_roots.contains_key(&expected_leaf) {
            root_at.insert(expected_leaf, appender.root());
        }
        progress(expected_leaf, total);
    }
    // The right edge.
    for (id, width) in custodian_ledger::tiles::edge_tiles(total) {
        if width == 0 {
            continue;
        }
        let stored = store.ledger_tiles_from(id.level, id.index, 1).await?;
        let rebuilt = rebuild_edge(&appender, id);
        match (stored.first(), rebuilt) {
            (Some(s), Some(r)) if *s == r => {}
            // Wider than what was verified: what it held then must be
            // unchanged, and the log must have grown to cover the rest
            // since the snapshot (else hashes were added to the tile).
            (Some(s), Some(r))
                if s.id == r.id && s.width() > r.width() && s.base()[..r.width()] == *r.base() =>
            {
                let now: u64 = store.ledger_runs().await?.iter().map(|r| r.count).sum();
                let needs = (id.index * TILE_WIDTH as u64 + s.width() as u64)
                    .saturating_mul((TILE_WIDTH as u64).saturating_pow(u32::from(id.level)));
                if now < needs {
                    return Err(fail(VerifyFailure::general(format!(
                        "stored tile {}/{} holds {} hashes, more than the log's {now} entries make",
                        id.level,
                        id.index,
                        s.width()
                    ))));
                }
            }
            (_, Some(r)) => compare.check(store, &r, &named).await?,
            _ => {}
        }
    }
    for (size, (root, which)) in &want_roots {
        let got = root_at
            .get(size)
            .copied()
            .or_else(|| (*size == 0).then(custodian_ledger::empty_root));
        if got != Some(*root) {
            return Err(fail(VerifyFailure::general(format!(
                "{which} of size {size} does not match the tree rebuilt from the records"
            ))));
        }
    }
    for (kind, n) in &by_kind {
        let held = snapshot.counts.get(kind).copied().unwrap_or(0);
        if held != *n {
            return Err(fail(VerifyFailure {
                leaf: None,
                kind: Some(kind.clone()),
                record_id: None,
                what: format!("the store holds {held} {kind} records but the ledger logs {n}: records were added or removed outside the ledger"),
            }));
        }
    }
    for kind in custodian_ledger::entry::kinds::ALL {
        if !by_kind.contains_key(kind) {
            let held = snapshot.counts.get(kind).copied().unwrap_or(0);
            if held > 0 {
                return Err(fail(VerifyFailure::general(format!(
                    "the store holds {held} {kind} records that the ledger does not log"
                ))));
            }
        }
    }
    Ok(VerifyReport {
        size: total,
        root: B64.encode(appender.root()),
        checkpoints_verified: checkpoints.len() as u64,
        records_by_kind: by_kind,
        bytes_hashed,
        trusted_checkpoint_size: trusted_cp.map(|c| c.size),
    })
}

fn rebuild_edge(a: &Appender, id: TileId) -> Option<Tile> {
    // The appender's edge is not public; recompute via a zero-length append.
    let mut copy = a.clone();
    copy.append(&[]).into_iter().find(|t| t.id == id)
}

/// Finds a record's leaf and builds its proof file against the latest
/// checkpoint.
pub async fn prove(
    store: &dyn Store,
    kind: &str,
    record_id: &str,
) -> Result<ProofBundle, AuditError> {
    if !custodian_ledger::entry::kinds::ALL.contains(&kind) {
        return Err(AuditError::NotFound(format!(
            "no record kind '{kind}' (the kinds are {})",
            custodian_ledger::entry::kinds::ALL.join(", ")
        )));
    }
    let seq = store
        .record_seq(kind, record_id)
        .await?
        .ok_or_else(|| AuditError::NotFound(format!("no {kind} '{record_id}' in the store")))?;
    let runs = store.ledger_runs().await?;
    let leaf = crate::leaf_of(&runs, kind, seq).ok_or_else(|| {
        AuditError::NotFound(format!("{kind} '{record_id}' is not in the ledger"))
    })?;
    let cp_row = store
        .ledger_checkpoints()
        .await?
        .pop()
        .ok_or_else(|| AuditError::NotFound("the ledger has no checkpoint yet".into()))?;
    let size = cp_row.size;
    let records = store.ledger_records(kind, seq, 1).await?;
    let rec = records
        .into_iter()
        .next()
        .ok_or_else(|| AuditError::NotFound(format!("{kind} '{record_id}' vanished")))?;
    let canonical = rec.canonical.map_err(|e| {
        AuditError::Other(format!(
            "the stored {kind} '{record_id}' cannot be read: {e}"
        ))
    })?;
    let proof = inclusion_proof_from_store(store, leaf, size).await?;
    let entry = String::from_utf8(encode_entry(kind, record_id, &canonical))
        .map_err(|e| AuditError::Other(e.to_string()))?;
    Ok(ProofBundle {
        format: PROOF_FORMAT.to_string(),
        leaf_index: leaf,
        entry,
        inclusion_proof: proof.iter().map(|h| B64.encode(h)).collect(),
        checkpoint: cp_row.note,
    })
}

/// An inclusion proof read from the store: the O(log n) tiles holding the
/// nodes it needs (at most one per level), in one round trip.
pub async fn inclusion_proof_from_store(
    store: &dyn Store,
    leaf: u64,
    size: u64,
) -> Result<Vec<Hash>, AuditError> {
    let rec = NodeRecorder::default();
    inclusion_proof(&rec, leaf, size).map_err(|e| AuditError::Other(e.to_string()))?;
    let want: Vec<_> = rec
        .tiles()
        .into_iter()
        .map(|id| (id, tile_width(id, size)))
        .collect();
    let mut set = TileSet::new();
    for t in store.ledger_tiles(&want).await? {
        set.insert(t);
    }
    inclusion_proof(&set, leaf, size)
        .map_err(|e| AuditError::Other(format!("the stored tiles cannot prove leaf {leaf}: {e}")))
}

/// C2SP tlog-tiles path of an index: groups of three digits, all but the
/// last prefixed with `x`.
pub fn tile_path_index(mut n: u64) -> String {
    let mut parts = vec![format!("{:03}", n % 1000)];
    n /= 1000;
    while n > 0 {
        parts.push(format!("x{:03}", n % 1000));
        n /= 1000;
    }
    parts.reverse();
    parts.join("/")
}

/// Writes the log as static C2SP tlog-tiles under `dir`: `checkpoint`,
/// `tile/<L>/<N>[.p/<W>]` and `tile/entries/<N>[.p/<W>]`. Returns the
/// number of files written.
pub async fn export_tiles(store: &dyn Store, dir: &std::path::Path) -> Result<u64, AuditError> {
    let io =
        |e: std::io::Error| AuditError::Other(format!("cannot write under {}: {e}", dir.display()));
    // The checkpoint and the runs from one snapshot, so the entries written
    // are those the checkpoint covers even while batches are written.
    let mut snapshot = store.ledger_snapshot(&[]).await?;
    let cp = snapshot
        .checkpoints
        .pop()
        .ok_or_else(|| AuditError::NotFound("the ledger has no checkpoint yet".into()))?;
    let size = cp.size;
    std::fs::create_dir_all(dir).map_err(io)?;
    std::fs::write(dir.join("checkpoint"), &cp.note).map_err(io)?;
    let mut files = 1;
    let write = |rel: String, bytes: &[u8]| -> Result<(), AuditError> {
        let p = dir.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(p, bytes).map_err(io)
    };
    for (id, width) in custodian_ledger::tiles::tiles_of(size) {
        let t = store
            .ledger_tiles(&[(id, width)])
            .await?
            .pop()
            .ok_or_else(|| {
                AuditError::Other(format!("tile {}/{} is missing", id.level, id.index))
            })?;
        let base: Vec<u8> = t.base()[..width]
            .iter()
            .flat_map(|h| h.iter().copied())
            .collect();
        let name = if width == TILE_WIDTH {
            format!("tile/{}/{}", id.level, tile_path_index(id.index))
        } else {
            format!(
                "tile/{}/{}.p/{}",
                id.level,
                tile_path_index(id.index),
                width
            )
        };
        write(name, &base)?;
        files += 1;
    }
    // Entry bundles: each entry as a 2-byte big-endian length and its bytes.
    let runs = snapshot.runs;
    let mut bundle = Vec::new();
    let mut in_bundle = 0usize;
    let mut bundle_index = 0u64;
    for run in &runs {
        for r in store
            .ledger_records(&run.kind, run.first_seq, run.count)
            .await?
        {
            let canonical = r.canonical.map_err(AuditError::Other)?;
            let data = encode_entry(&run.kind, &r.record_id, &canonical);
            let len = u16::try_from(data.len()).map_err(|_| {
                AuditError::Other(format!("entry '{}' exceeds 65535 bytes", r.record_id))
            })?;
            bundle.extend_from_slice(&len.to_be_bytes());
            bundle.extend_from_slice(&data);
            in_bundle += 1;
            if in_bundle == TILE_WIDTH {
                write(
                    format!("tile/entries/{}", tile_path_index(bundle_index)),
                    &bundle,
                )?;
                files += 1;
                bundle.clear();
                in_bundle = 0;
                bundle_index += 1;
            }
        }
    }
    if in_bundle > 0 {
        write(
            format!(
                "tile/entries/{}.p/{in_bundle}",
                tile_path_index(bundle_index)
            ),
            &bundle,
        )?;
        files += 1;
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_paths() {
        assert_eq!(tile_path_index(0), "000");
        assert_eq!(tile_path_index(7), "007");
        assert_eq!(tile_path_index(1234), "x001/234");
        assert_eq!(tile_path_index(1_234_067), "x001/x234/067");
    }
}
