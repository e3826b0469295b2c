//! Events in and out: the batch's rows go in as multi-row `INSERT OR
//! IGNORE` statements (the shared part of the insert, the ledger's side, is
//! in `custodian_store::sql_store!`), and events are read back as lines by
//! the packed read.

use custodian_store::{ts_to_db, NewEvent, Result, StoreError};

use crate::*;

impl SqliteStore {
    /// The rows go in as they are.
    pub(crate) fn prepare_event_rows(events: Vec<NewEvent>) -> Vec<NewEvent> {
        events
    }

    /// Inserts the events whose ids are new: SQLite gives each inserted row
    /// the next `seq` (max + 1) and an ignored row none, so the new rows are
    /// numbered `s0 + 1…` in their order.
    pub(crate) async fn insert_event_rows(
        &self,
        tx: &mut sqlx::SqliteConnection,
        _s0: i64,
        events: Vec<NewEvent>,
    ) -> Result<u64> {
        let mut inserted = 0;
        let full_sql = values_sql(INSERT_EVENTS, 7, ROWS_PER_STATEMENT);
        let mut rows = events.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<NewEvent> = rows.by_ref().take(ROWS_PER_STATEMENT).collect();
            let short_sql;
            let sql = if chunk.len() == ROWS_PER_STATEMENT {
                &full_sql
            } else {
                short_sql = values_sql(INSERT_EVENTS, 7, chunk.len());
                &short_sql
            };
            let mut q = sqlx::query(sql);
            for e in chunk {
                let (us, off) = ts_to_db(&e.event.ts);
                let doc = e.event.action.doc().map(str::to_string);
                let action = e.event.action.name().to_string();
                q = q
                    .bind(e.event.id)
                    .bind(us)
                    .bind(off)
                    .bind(e.event.user)
                    .bind(action)
                    .bind(doc)
                    .bind(e.rest);
            }
            inserted += q.execute(&mut *tx).await.map_err(be)?.rows_affected();
        }
        Ok(inserted)
    }

    pub(crate) async fn event_lines_in(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<(i64, String)>> {
        let mut conn = self.pool.acquire().await.map_err(be)?;
        let max: Option<i64> = sqlx::query_scalar("SELECT max(seq) FROM events")
            .fetch_one(&mut *conn)
            .await
            .map_err(be)?;
        let mut out = Vec::with_capacity(limit as usize);
        let mut from = after_seq + 1;
        // Positions are rowids: contiguous unless rows were deleted, so a
        // range usually holds `limit` rows; keep going over gaps.
        while out.len() < limit as usize && from <= max.unwrap_or(0) {
            let want = limit as usize - out.len();
            let mut bad = None;
            for_each_packed_event(&mut conn, from, want as u64, |r| {
                let line = r.cols().and_then(|c| {
                    let id = utf8_field(r.id, "id")?;
                    c.line(id).map_err(|e| e.to_string())
                });
                match line {
                    Ok(l) => out.push((r.seq, l)),
                    Err(e) => bad = Some(format!("event at position {}: {e}", r.seq)),
                }
            })
            .await?;
            if let Some(b) = bad {
                return Err(StoreError::Corrupt(b));
            }
            from += want as i64;
        }
        Ok(out)
    }
}

/// A packed field as text, or which field is not.
pub(crate) fn utf8_field<'a>(b: &'a [u8], what: &str) -> std::result::Result<&'a str, String> {
    std::str::from_utf8(b).map_err(|_| format!("{what} is not UTF-8 text"))
}
