//! Reading events' side of the ledger back (the other kinds are read by
//! `custodian_store::sql_store!`): event records and event leaves re-hashed
//! from their columns in chunks, and tiles in one round trip.

use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use custodian_ledger::entry::kinds;
use custodian_ledger::{Tile, TileId};
use custodian_store::{EventCols, LeafChunk, LeafChunkBuilder, LedgerRecord, Result, StoreError};

use crate::sql::{be, tile_from_row};
use crate::PgStore;

/// An event row in the order [`EVENT_COLUMNS`] selects it.
pub(crate) struct EventRow<'r> {
    pub(crate) seq: i64,
    pub(crate) id: &'r str,
    pub(crate) cols: EventCols<'r>,
}

/// The columns an event is rebuilt, logged or hashed from.
pub(crate) const EVENT_COLUMNS: &str = "seq, id, ts_us, ts_off, user_id, action, doc, rest";

impl<'r> EventRow<'r> {
    /// A row that selected [`EVENT_COLUMNS`], or which column does not
    /// read.
    pub(crate) fn of(r: &'r PgRow) -> std::result::Result<EventRow<'r>, String> {
        let s = |e: sqlx::Error| e.to_string();
        let cols = EventCols {
            us: r.try_get(2).map_err(s)?,
            off: r.try_get(3).map_err(s)?,
            user: r.try_get(4).map_err(s)?,
            action: r.try_get(5).map_err(s)?,
            doc: r.try_get(6).map_err(s)?,
            rest: r.try_get(7).map_err(s)?,
        };
        cols.ts().map_err(|e| e.to_string())?;
        Ok(EventRow {
            seq: r.try_get(0).map_err(s)?,
            id: r.try_get(1).map_err(s)?,
            cols,
        })
    }
}

/// Events with seq in `[first_seq, first_seq + count)`, oldest first.
async fn event_rows<'e, E: sqlx::Executor<'e, Database = sqlx::Postgres>>(
    e: E,
    first_seq: i64,
    count: u64,
) -> Result<Vec<PgRow>> {
    sqlx::query(&format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE seq >= $1 AND seq < $2 ORDER BY seq"
    ))
    .bind(first_seq)
    .bind(first_seq + count as i64)
    .fetch_all(e)
    .await
    .map_err(be)
}

impl PgStore {
    /// Events with seq in `[first_seq, first_seq + count)`, as the ledger
    /// logged them.
    pub(crate) async fn event_records(
        &self,
        first_seq: i64,
        count: u64,
    ) -> Result<Vec<LedgerRecord>> {
        let rows = event_rows(&self.pool, first_seq, count).await?;
        rows.iter()
            .map(|r| {
                Ok(LedgerRecord {
                    seq: r.try_get("seq").map_err(be)?,
                    record_id: r.try_get("id").map_err(be)?,
                    canonical: EventRow::of(r).map(|e| e.cols.entry_body()),
                })
            })
            .collect()
    }

    /// Chunks fetched and hashed as tasks of their own, so they run on
    /// every worker thread of the runtime, each on a pooled connection.
    pub(crate) async fn event_leaves_in(
        &self,
        first_seq: i64,
        count: u64,
    ) -> Result<Option<Vec<LeafChunk>>> {
        custodian_store::leaves_in_chunks(first_seq, count, PG_READ_CHUNK, |seq, n| {
            let pool = self.pool.clone();
            let task = tokio::spawn(async move { event_leaves(&pool, seq, n).await });
            Ok(async move { task.await.map_err(|e| StoreError::Backend(e.to_string()))? })
        })
        .await
        .map(Some)
    }

    pub(crate) async fn tiles_from_in(
        &self,
        level: u8,
        from: u64,
        limit: u32,
    ) -> Result<Vec<Tile>> {
        self.tiles_from_rows(level, from, limit).await
    }
}

/// Rows per chunk verification fetches and hashes as one task.
pub(crate) const PG_READ_CHUNK: u64 = 8_192;

/// Events' leaf hashes for a seq range, hashed from their columns in one
/// reused buffer.
async fn event_leaves(pool: &PgPool, first_seq: i64, count: u64) -> Result<LeafChunk> {
    let rows = event_rows(pool, first_seq, count).await?;
    let mut out = LeafChunkBuilder::new(first_seq, count);
    let mut buf = custodian_ledger::entry::LeafBuf::new();
    for r in &rows {
        let seq: i64 = r.try_get(0).map_err(be)?;
        let id: &str = r.try_get(1).map_err(be)?;
        let leaf = EventRow::of(r)
            .map(|e| {
                e.cols.write_body(buf.start(kinds::EVENT, id));
                buf.finish()
            })
            .map_err(|why| (id.to_string(), why));
        if !out.push(seq, leaf) {
            break;
        }
    }
    Ok(out.finish())
}

impl PgStore {
    pub(crate) async fn read_tiles(&self, ids: &[TileId]) -> Result<Vec<Tile>> {
        // One round trip for all of them (a proof needs a handful).
        let levels: Vec<i16> = ids.iter().map(|i| i16::from(i.level)).collect();
        let idxs: Vec<i64> = ids.iter().map(|i| i.index as i64).collect();
        let rows = sqlx::query(
            "SELECT t.level, t.idx, t.width, t.nodes FROM ledger_tiles t JOIN UNNEST($1::SMALLINT[], $2::BIGINT[]) AS w(level, idx) ON t.level = w.level AND t.idx = w.idx",
        )
        .bind(&levels)
        .bind(&idxs)
        .fetch_all(&self.pool)
        .await
        .map_err(be)?;
        rows.iter()
            .map(|r| {
                let level: i16 = r.try_get("level").map_err(be)?;
                let idx: i64 = r.try_get("idx").map_err(be)?;
                tile_from_row(
                    TileId {
                        level: level as u8,
                        index: idx as u64,
                    },
                    r,
                    None,
                )
            })
            .collect()
    }
}
