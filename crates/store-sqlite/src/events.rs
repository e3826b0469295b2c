//! Events in and out: the batch insert (insert-if-new by id, the new rows'
//! leaves appended to the ledger in the same transaction), the bulk load's
//! index drop and rebuild, and reading events back.

use crate::ledger_tx::Tx;
use custodian_ledger::entry::kinds;
use custodian_ledger::Hash;
use custodian_store::ledgered::{append_ledger, LedgerTx};
use custodian_store::{
    event_line, ts_from_db, ts_to_db, Inserted, LedgerContext, NewEvent, Result, StoreError,
    StoredEvent,
};

use crate::*;

impl SqliteStore {
    pub(crate) async fn insert_events_in(
        &self,
        events: Vec<NewEvent>,
        ledger: &LedgerContext,
    ) -> Result<Inserted> {
        if events.is_empty() {
            return Ok(Inserted(0));
        }
        let total = events.len();
        // (id, leaf) of the batch: if some ids were already stored, the new
        // rows' ids (read back in seq order) pick their leaves from here.
        let keyed: Vec<(String, Hash)> = events
            .iter()
            .map(|e| (e.event.id.clone(), e.leaf))
            .collect();
        let mut tx = self.write_tx().await?;
        let s0 = Tx(&mut tx).max_seq("events").await?;
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
        let new_leaves: Vec<Hash> = if inserted as usize == total {
            keyed.into_iter().map(|(_, h)| h).collect()
        } else {
            let mut by_id: std::collections::HashMap<String, Hash> =
                std::collections::HashMap::with_capacity(keyed.len());
            for (id, h) in keyed {
                by_id.entry(id).or_insert(h);
            }
            let ids: Vec<String> =
                sqlx::query_scalar("SELECT id FROM events WHERE seq > ? ORDER BY seq")
                    .bind(s0)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(be)?;
            ids.iter()
                .map(|id| {
                    by_id.get(id).copied().ok_or_else(|| {
                        StoreError::Corrupt(format!("event '{id}' appeared during the batch"))
                    })
                })
                .collect::<Result<Vec<_>>>()?
        };
        append_ledger(&mut Tx(&mut tx), ledger, kinds::EVENT, s0 + 1, &new_leaves).await?;
        tx.commit().await.map_err(be)?;
        Ok(Inserted(inserted))
    }

    pub(crate) async fn begin_bulk_load_in(&self) -> Result<()> {
        sqlx::query("DROP INDEX IF EXISTS events_user_ts")
            .execute(&self.pool)
            .await
            .map_err(be)?;
        Ok(())
    }

    pub(crate) async fn end_bulk_load_in(&self) -> Result<()> {
        sqlx::query(USER_TS_INDEX)
            .execute(&self.pool)
            .await
            .map_err(be)?;
        Ok(())
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
                let line = (|| -> std::result::Result<String, String> {
                    let us: i64 = r.us.parse().map_err(|_| "ts_us".to_string())?;
                    let off: i64 = r.off.parse().map_err(|_| "ts_off".to_string())?;
                    let ts = ts_from_db(us, off).map_err(|e| e.to_string())?;
                    let doc = if r.doc_null {
                        None
                    } else {
                        Some(utf8_field(r.doc, "doc")?)
                    };
                    Ok(event_line(
                        utf8_field(r.id, "id")?,
                        &ts,
                        utf8_field(r.user, "user_id")?,
                        utf8_field(r.action, "action")?,
                        doc,
                        utf8_field(r.rest, "rest")?,
                    ))
                })();
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

    pub(crate) async fn recent_events_for_in(
        &self,
        user_id: &str,
        limit: u32,
    ) -> Result<Vec<StoredEvent>> {
        let rows = sqlx::query(
            "SELECT id, ts_us, ts_off, user_id, action, doc, rest FROM events WHERE user_id = ? ORDER BY ts_us DESC, id DESC LIMIT ?",
        )
        .bind(user_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(be)?;
        rows.iter().map(stored_event).collect()
    }
}
