//! Reading the ledger's side back: runs, checkpoints, counts, and the
//! records of a kind in a seq range (events by a packed read that builds
//! no row object per event).

use sqlx::sqlite::SqliteConnection;
use sqlx::Row;

use custodian_core::interchange::{contact_to_json, hr_to_json, parse_contact, parse_hr};
use custodian_ledger::entry::kinds;
use custodian_ledger::{Tile, TileId};
use custodian_store::ledger::{event_entry_body, register_change_json};
use custodian_store::{ts_from_db, CheckpointRow, LedgerRecord, LedgerRun, Result, StoreError};

use crate::bulk::*;
use crate::rows::*;
use crate::{be, table_of, SqliteStore};

/// The ledger's runs, in leaf order.
pub(crate) async fn read_runs<'e, E: sqlx::Executor<'e, Database = sqlx::Sqlite>>(
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
pub(crate) async fn read_checkpoints<'e, E: sqlx::Executor<'e, Database = sqlx::Sqlite>>(
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
pub(crate) async fn read_count<'e, E: sqlx::Executor<'e, Database = sqlx::Sqlite>>(
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
    conn: &mut SqliteConnection,
    kind: &str,
    first_seq: i64,
    count: u64,
) -> Result<Vec<LedgerRecord>> {
    let end = first_seq + count as i64;
    let sql = match kind {
        kinds::EVENT => return fetch_event_records(conn, first_seq, count).await,
        kinds::HR_EVENT => {
            "SELECT seq, id, body FROM hr_events WHERE seq >= ? AND seq < ? ORDER BY seq"
        }
        kinds::CONTACT_REPORT => {
            "SELECT seq, id, raw FROM contact_reports WHERE seq >= ? AND seq < ? ORDER BY seq"
        }
        kinds::ALERT => "SELECT seq, id, body FROM alerts WHERE seq >= ? AND seq < ? ORDER BY seq",
        kinds::CUSTODY => {
            "SELECT seq, id, body FROM custody_records WHERE seq >= ? AND seq < ? ORDER BY seq"
        }
        kinds::REGISTER_CHANGE => {
            "SELECT * FROM register_changes WHERE seq >= ? AND seq < ? ORDER BY seq"
        }
        other => {
            return Err(StoreError::Backend(format!(
                "unknown ledger kind '{other}'"
            )))
        }
    };
    let rows = sqlx::query(sql)
        .bind(first_seq)
        .bind(end)
        .fetch_all(conn)
        .await
        .map_err(be)?;
    rows.iter()
        .map(|r| {
            let seq: i64 = r.try_get(0).map_err(be)?;
            let record_id: String = r.try_get(1).map_err(be)?;
            let canonical = match kind {
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
                // An alert is logged as stored: any change to the row
                // changes its leaf.
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

pub(crate) async fn fetch_event_records(
    conn: &mut SqliteConnection,
    first_seq: i64,
    count: u64,
) -> Result<Vec<LedgerRecord>> {
    let mut out = Vec::with_capacity(count as usize);
    for_each_packed_event(conn, first_seq, count, |r| {
        let canonical = (|| {
            let us: i64 =
                r.us.parse()
                    .map_err(|_| format!("ts_us '{}' is not a number", r.us))?;
            let off: i64 = r
                .off
                .parse()
                .map_err(|_| format!("ts_off '{}' is not a number", r.off))?;
            let ts = ts_from_db(us, off).map_err(|e| e.to_string())?;
            let doc = if r.doc_null {
                None
            } else {
                Some(utf8_field(r.doc, "doc")?)
            };
            Ok(event_entry_body(
                &ts,
                utf8_field(r.user, "user_id")?,
                utf8_field(r.action, "action")?,
                doc,
                utf8_field(r.rest, "rest")?,
            ))
        })();
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
