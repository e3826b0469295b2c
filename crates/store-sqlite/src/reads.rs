//! Reading events' side of the ledger back (the other kinds are read by
//! `custodian_store::sql_store!`): events by a packed read that builds no
//! row object per event, and tiles.

use sqlx::sqlite::SqliteConnection;
use sqlx::Row;

use custodian_ledger::{Tile, TileId};
use custodian_store::{EventCols, LeafChunk, LedgerRecord, Result, StoreError};

use crate::bulk::*;
use crate::events::utf8_field;
use crate::sql::{be, tile_from_row};
use crate::SqliteStore;

/// One event row as the packed read gives it (fields as stored).
pub(crate) struct PackedRow<'a> {
    pub(crate) seq: i64,
    pub(crate) id: &'a [u8],
    pub(crate) us: &'a str,
    pub(crate) off: &'a str,
    pub(crate) doc_null: bool,
    pub(crate) user: &'a [u8],
    pub(crate) action: &'a [u8],
    pub(crate) doc: &'a [u8],
    pub(crate) rest: &'a [u8],
}

impl<'a> PackedRow<'a> {
    /// The row's columns, or which one does not read.
    pub(crate) fn cols(&self) -> std::result::Result<EventCols<'a>, String> {
        let us: i64 =
            (self.us.parse()).map_err(|_| format!("ts_us '{}' is not a number", self.us))?;
        let off = (self.off.parse::<i32>())
            .map_err(|_| format!("ts_off '{}' is not a number", self.off))?;
        let doc = if self.doc_null {
            None
        } else {
            Some(utf8_field(self.doc, "doc")?)
        };
        let cols = EventCols {
            us,
            off,
            user: utf8_field(self.user, "user_id")?,
            action: utf8_field(self.action, "action")?,
            doc,
            rest: utf8_field(self.rest, "rest")?,
        };
        cols.ts().map_err(|e| e.to_string())?;
        Ok(cols)
    }
}

/// Events of a seq range as one value: SQLite concatenates each row's
/// fields behind a header of lengths, which is read here without building a
/// row object per event (the per-row cost of reading through sqlx is most
/// of a full read's time).
pub(crate) async fn for_each_packed_event(
    conn: &mut SqliteConnection,
    first_seq: i64,
    count: u64,
    mut f: impl FnMut(PackedRow<'_>),
) -> Result<()> {
    let packed: Option<Vec<u8>> = sqlx::query_scalar(
        "SELECT CAST(group_concat(
            seq || ',' || ts_us || ',' || ts_off || ',' || (doc IS NULL) || ',' ||
            length(CAST(id AS BLOB)) || ',' || length(CAST(user_id AS BLOB)) || ',' ||
            length(CAST(action AS BLOB)) || ',' || length(CAST(ifnull(doc, '') AS BLOB)) || ',' ||
            length(CAST(rest AS BLOB)) || ':' || id || user_id || action || ifnull(doc, '') || rest,
            '' ORDER BY seq) AS BLOB)
         FROM events WHERE seq >= ? AND seq < ?",
    )
    .bind(first_seq)
    .bind(first_seq + count as i64)
    .fetch_one(conn)
    .await
    .map_err(be)?;
    let bytes = packed.unwrap_or_default();
    let corrupt = |why: &str| StoreError::Corrupt(format!("packed event rows: {why}"));
    let mut at = 0usize;
    while at < bytes.len() {
        let colon = bytes[at..]
            .iter()
            .position(|&b| b == b':')
            .ok_or_else(|| corrupt("no header end"))?;
        // Lengths come from SQLite's length() and are always numbers; the
        // other header fields are stored values and may have been tampered
        // with, which must fail that record (named), not the whole batch.
        let header = String::from_utf8_lossy(&bytes[at..at + colon]);
        let fields: Vec<&str> = header.split(',').collect();
        let [seq, us, off, doc_null, l_id, l_user, l_action, l_doc, l_rest] = fields[..] else {
            return Err(corrupt("header fields"));
        };
        let len = |f: &str| f.parse::<usize>().map_err(|_| corrupt("length"));
        let (l_id, l_user, l_action, l_doc, l_rest) = (
            len(l_id)?,
            len(l_user)?,
            len(l_action)?,
            len(l_doc)?,
            len(l_rest)?,
        );
        let seq: i64 = seq.parse().map_err(|_| corrupt("seq"))?;
        let mut p = at + colon + 1;
        let mut take = |n: usize| -> Result<&[u8]> {
            let s = bytes.get(p..p + n).ok_or_else(|| corrupt("short"))?;
            p += n;
            Ok(s)
        };
        let (id, user, action, doc, rest) = (
            take(l_id)?,
            take(l_user)?,
            take(l_action)?,
            take(l_doc)?,
            take(l_rest)?,
        );
        f(PackedRow {
            seq,
            id,
            us,
            off,
            doc_null: doc_null != "0",
            user,
            action,
            doc,
            rest,
        });
        at = p;
    }
    Ok(())
}

impl SqliteStore {
    /// Events with seq in `[first_seq, first_seq + count)`, as the ledger
    /// logged them: on the bulk reader for a file store.
    pub(crate) async fn event_records(
        &self,
        first_seq: i64,
        count: u64,
    ) -> Result<Vec<LedgerRecord>> {
        if let Some(file) = self.file.clone() {
            return on_reader(&self.bulk, &file, move |c| {
                bulk_event_records(c, first_seq, count)
            })
            .await;
        }
        let mut conn = self.pool.acquire().await.map_err(be)?;
        fetch_event_records(&mut conn, first_seq, count).await
    }

    /// Chunks read and hashed by the reader threads, whichever is free (a
    /// file store; an in-memory one hashes its records one by one).
    pub(crate) async fn event_leaves_in(
        &self,
        first_seq: i64,
        count: u64,
    ) -> Result<Option<Vec<LeafChunk>>> {
        let Some(file) = self.file.clone() else {
            return Ok(None);
        };
        custodian_store::leaves_in_chunks(first_seq, count, READ_CHUNK, |seq, n| {
            let rx = queue_read(&self.bulk, &file, move |c| bulk_event_leaves(c, seq, n))?;
            Ok(async move {
                rx.await
                    .map_err(|_| StoreError::Backend("a bulk reader thread ended".into()))?
            })
        })
        .await
        .map(Some)
    }

    /// Tiles of a level from an index on: on the bulk reader for a file
    /// store.
    pub(crate) async fn tiles_from_in(
        &self,
        level: u8,
        from: u64,
        limit: u32,
    ) -> Result<Vec<Tile>> {
        if let Some(file) = self.file.clone() {
            let bulk = self.bulk.clone();
            return tokio::task::spawn_blocking(move || {
                bulk_tiles_from(&bulk, &file, level, from, limit)
            })
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        }
        self.tiles_from_rows(level, from, limit).await
    }
}

async fn fetch_event_records(
    conn: &mut SqliteConnection,
    first_seq: i64,
    count: u64,
) -> Result<Vec<LedgerRecord>> {
    let mut out = Vec::with_capacity(count as usize);
    for_each_packed_event(conn, first_seq, count, |r| {
        let canonical = r.cols().map(|c| c.entry_body());
        out.push(LedgerRecord {
            seq: r.seq,
            record_id: String::from_utf8_lossy(r.id).into_owned(),
            canonical,
        });
    })
    .await?;
    Ok(out)
}

impl SqliteStore {
    /// Tiles by id: in place on the bulk reader for a file store, else
    /// through sqlx.
    pub(crate) async fn read_tiles(&self, ids: &[TileId]) -> Result<Vec<Tile>> {
        if let Some(file) = self.file.clone() {
            // Primary-key lookups in place on the bulk reader: a proof's
            // handful of tiles without sqlx's per-row round trip.
            // On a multi-threaded runtime the lookups (tens of µs) run
            // right here, without waking another thread.
            if tokio::runtime::Handle::current().runtime_flavor()
                == tokio::runtime::RuntimeFlavor::MultiThread
            {
                return tokio::task::block_in_place(|| bulk_read_tiles(&self.bulk, &file, ids));
            }
            let (bulk, ids) = (self.bulk.clone(), ids.to_vec());
            return tokio::task::spawn_blocking(move || bulk_read_tiles(&bulk, &file, &ids))
                .await
                .map_err(|e| StoreError::Backend(e.to_string()))?;
        }
        // One round trip for all of them (a proof needs a handful).
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(400) {
            // ORed primary-key lookups: SQLite runs each as an index seek
            // (a row-value IN over VALUES scans the table).
            let mut sql = String::from("SELECT level, idx, width, nodes FROM ledger_tiles WHERE ");
            for (i, _) in chunk.iter().enumerate() {
                sql.push_str(if i == 0 {
                    "(level = ? AND idx = ?)"
                } else {
                    " OR (level = ? AND idx = ?)"
                });
            }
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(i64::from(id.level)).bind(id.index as i64);
            }
            for r in q.fetch_all(&self.pool).await.map_err(be)? {
                let level: i64 = r.try_get("level").map_err(be)?;
                let idx: i64 = r.try_get("idx").map_err(be)?;
                out.push(tile_from_row(
                    TileId {
                        level: level as u8,
                        index: idx as u64,
                    },
                    &r,
                    None,
                )?);
            }
        }
        Ok(out)
    }
}
