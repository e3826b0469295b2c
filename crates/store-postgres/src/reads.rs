//! Reading the ledger's side back: runs, checkpoints, counts, the records
//! of a kind in a seq range, event leaves re-hashed in chunks, and tiles.

use sqlx::postgres::{PgConnection, PgRow};
use sqlx::{PgPool, Row};

use custodian_core::interchange::{contact_to_json, hr_to_json, parse_contact, parse_hr};
use custodian_ledger::entry::kinds;
use custodian_ledger::{Tile, TileId};
use custodian_store::ledger::{event_entry_body, register_change_json, write_event_body};
use custodian_store::{
    ts_from_db, CheckpointRow, LeafChunk, LeafChunkBuilder, LedgerRecord, LedgerRun, Result,
    StoreError,
};

use crate::rows::*;
use crate::{be, table_of, PgStore};

/// The ledger's runs, in leaf order.
pub(crate) async fn read_runs<'e, E: sqlx::Executor<'e, Database = sqlx::Postgres>>(
    e: E,
) -> Result<Vec<LedgerRun>> {
    let rows = sqlx::query(
        "SELECT first_leaf, kind, first_seq, count FROM ledger_runs ORDER BY first_leaf",
    )
    .fetch_all(e)
    .await
    .map_err(be)?;
    rows.iter().map(run_row).collect()
}

/// Every stored checkpoint, smallest first.
pub(crate) async fn read_checkpoints<'e, E: sqlx::Executor<'e, Database = sqlx::Postgres>>(
    e: E,
) -> Result<Vec<CheckpointRow>> {
    let rows = sqlx::query("SELECT size, note FROM ledger_checkpoints ORDER BY size")
        .fetch_all(e)
        .await
        .map_err(be)?;
    rows.iter()
        .map(|r| {
            let size: i64 = r.try_get("size").map_err(be)?;
            Ok(CheckpointRow {
                size: size as u64,
                note: r.try_get("note").map_err(be)?,
            })
        })
        .collect()
}

/// How many records of `kind` are stored.
pub(crate) async fn read_count<'e, E: sqlx::Executor<'e, Database = sqlx::Postgres>>(
    e: E,
    kind: &str,
) -> Result<u64> {
    let v: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {}", table_of(kind)?))
        .fetch_one(e)
        .await
        .map_err(be)?;
    Ok(v as u64)
}

/// Records of `kind` with seq in `[first_seq, first_seq + count)`.
pub(crate) async fn fetch_records(
    conn: &mut PgConnection,
    kind: &str,
    first_seq: i64,
    count: u64,
) -> Result<Vec<LedgerRecord>> {
    let end = first_seq + count as i64;
    let sql = match kind {
        kinds::EVENT => "SELECT seq, id, ts_us, ts_off, user_id, action, doc, rest FROM events WHERE seq >= $1 AND seq < $2 ORDER BY seq",
        kinds::HR_EVENT => "SELECT seq, id, body FROM hr_events WHERE seq >= $1 AND seq < $2 ORDER BY seq",
        kinds::CONTACT_REPORT => "SELECT seq, id, raw FROM contact_reports WHERE seq >= $1 AND seq < $2 ORDER BY seq",
        kinds::REGISTER_CHANGE => "SELECT * FROM register_changes WHERE seq >= $1 AND seq < $2 ORDER BY seq",
        kinds::ALERT => "SELECT seq, id, body FROM alerts WHERE seq >= $1 AND seq < $2 ORDER BY seq",
        kinds::CUSTODY => "SELECT seq, id, body FROM custody_records WHERE seq >= $1 AND seq < $2 ORDER BY seq",
        other => return Err(StoreError::Backend(format!("unknown ledger kind '{other}'"))),
    };
    let rows = sqlx::query(sql)
        .bind(first_seq)
        .bind(end)
        .fetch_all(conn)
        .await
        .map_err(be)?;
    rows.iter()
        .map(|r| {
            let seq: i64 = r.try_get("seq").map_err(be)?;
            let record_id: String = r.try_get("id").map_err(be)?;
            let canonical = match kind {
                kinds::EVENT => event_body(r),
                kinds::HR_EVENT => {
                    let body: String = r.try_get("body").map_err(be)?;
                    parse_hr(body.as_bytes())
                        .map(|e| hr_to_json(&e))
                        .map_err(|e| e.to_string())
                }
                kinds::CONTACT_REPORT => {
                    let raw: String = r.try_get("raw").map_err(be)?;
                    parse_contact(raw.as_bytes())
                        .map(|c| contact_to_json(&c))
                        .map_err(|e| e.to_string())
                }
                kinds::ALERT | kinds::CUSTODY => Ok(r.try_get::<String, _>("body").map_err(be)?),
                _ => register_change_row(r)
                    .map(|c| register_change_json(&c))
                    .map_err(|e| e.to_string()),
            };
            Ok(LedgerRecord {
                seq,
                record_id,
                canonical,
            })
        })
        .collect()
}

/// The event's ledger entry body straight from its columns.
/// Rows per chunk verification fetches and hashes as one task.
pub(crate) const PG_READ_CHUNK: u64 = 8_192;

/// Events' leaf hashes for a seq range, hashed from their columns in one
/// reused buffer.
pub(crate) async fn event_leaves(pool: &PgPool, first_seq: i64, count: u64) -> Result<LeafChunk> {
    let rows = sqlx::query(
        "SELECT seq, id, ts_us, ts_off, user_id, action, doc, rest FROM events WHERE seq >= $1 AND seq < $2 ORDER BY seq",
    )
    .bind(first_seq)
    .bind(first_seq + count as i64)
    .fetch_all(pool)
    .await
    .map_err(be)?;
    let mut out = LeafChunkBuilder::new(first_seq, count);
    let mut buf = custodian_ledger::entry::LeafBuf::new();
    for r in &rows {
        let seq: i64 = r.try_get(0).map_err(be)?;
        let id: &str = r.try_get(1).map_err(be)?;
        let leaf = (|| {
            let us: i64 = r.try_get(2).map_err(|e| e.to_string())?;
            let off: i32 = r.try_get(3).map_err(|e| e.to_string())?;
            ts_from_db(us, i64::from(off)).map_err(|e| e.to_string())?;
            let user: &str = r.try_get(4).map_err(|e| e.to_string())?;
            let action: &str = r.try_get(5).map_err(|e| e.to_string())?;
            let doc: Option<&str> = r.try_get(6).map_err(|e| e.to_string())?;
            let rest: &str = r.try_get(7).map_err(|e| e.to_string())?;
            let entry = buf.start(kinds::EVENT, id);
            write_event_body(entry, us, off, user, action, doc, rest);
            Ok(buf.finish())
        })()
        .map_err(|why| (id.to_string(), why));
        if !out.push(seq, leaf) {
            break;
        }
    }
    Ok(out.finish())
}

pub(crate) fn event_body(r: &PgRow) -> std::result::Result<String, String> {
    let us: i64 = r.try_get("ts_us").map_err(|e| e.to_string())?;
    let off: i32 = r.try_get("ts_off").map_err(|e| e.to_string())?;
    let ts = ts_from_db(us, i64::from(off)).map_err(|e| e.to_string())?;
    let user: String = r.try_get("user_id").map_err(|e| e.to_string())?;
    let action: String = r.try_get("action").map_err(|e| e.to_string())?;
    let doc: Option<String> = r.try_get("doc").map_err(|e| e.to_string())?;
    let rest: String = r.try_get("rest").map_err(|e| e.to_string())?;
    Ok(event_entry_body(&ts, &user, &action, doc.as_deref(), &rest))
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
