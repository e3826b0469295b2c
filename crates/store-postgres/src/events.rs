//! Events in and out: the batch insert (insert-if-new by id, the new rows'
//! leaves appended to the ledger in the same transaction), the bulk load's
//! index drop and rebuild, and reading events back.

use sqlx::Row;

use crate::ledger_tx::Tx;
use custodian_ledger::entry::kinds;
use custodian_ledger::Hash;
use custodian_store::ledgered::{append_ledger, LedgerTx};
use custodian_store::{
    event_line, ts_from_db, ts_to_db, Inserted, LedgerContext, NewEvent, Result, StoreError,
    StoredEvent,
};

use crate::*;

impl PgStore {
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
        // Only the first of a repeated id inside the batch goes to the
        // database, so the insert needs no de-duplicating sort.
        let mut first = std::collections::HashSet::with_capacity(events.len());
        let mut buf = Vec::with_capacity(events.len() * 200);
        for (ord, e) in events.iter().enumerate() {
            if !first.insert(e.event.id.as_str()) {
                continue;
            }
            let (us, off) = ts_to_db(&e.event.ts);
            buf.extend_from_slice(ord.to_string().as_bytes());
            buf.push(b'\t');
            copy_text(&mut buf, &e.event.id);
            buf.push(b'\t');
            buf.extend_from_slice(us.to_string().as_bytes());
            buf.push(b'\t');
            buf.extend_from_slice(off.to_string().as_bytes());
            buf.push(b'\t');
            copy_text(&mut buf, &e.event.user);
            buf.push(b'\t');
            copy_text(&mut buf, e.event.action.name());
            buf.push(b'\t');
            match e.event.action.doc() {
                Some(d) => copy_text(&mut buf, d),
                None => buf.extend_from_slice(b"\\N"),
            }
            buf.push(b'\t');
            copy_text(&mut buf, &e.rest);
            buf.push(b'\n');
        }
        drop(first);
        drop(events);
        let mut tx = self.write_tx().await?;
        let s0 = Tx(&mut tx).max_seq("events").await?;
        sqlx::query(
            "CREATE TEMP TABLE IF NOT EXISTS staging_events (ord BIGINT, id TEXT, ts_us BIGINT, ts_off INTEGER, user_id TEXT, action TEXT, doc TEXT, rest TEXT) ON COMMIT DELETE ROWS",
        )
        .execute(&mut *tx)
        .await
        .map_err(be)?;
        let mut copy = tx
            .copy_in_raw("COPY staging_events (ord, id, ts_us, ts_off, user_id, action, doc, rest) FROM STDIN")
            .await
            .map_err(be)?;
        copy.send(buf).await.map_err(be)?;
        copy.finish().await.map_err(be)?;
        // The staging table has no statistics; without help the planner may
        // hash the whole events table per batch. Probing the id index per
        // staged row is what keeps a batch's cost independent of the log.
        sqlx::query("SET LOCAL enable_hashjoin = off")
            .execute(&mut *tx)
            .await
            .map_err(be)?;
        sqlx::query("SET LOCAL enable_mergejoin = off")
            .execute(&mut *tx)
            .await
            .map_err(be)?;
        // New ids only (first occurrences were kept above), numbered in
        // arrival order.
        let inserted = sqlx::query(
            "INSERT INTO events (seq, id, ts_us, ts_off, user_id, action, doc, rest)
             SELECT $1 + row_number() OVER (ORDER BY ord), id, ts_us, ts_off, user_id, action, doc, rest
             FROM staging_events s
             WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = s.id)",
        )
        .bind(s0)
        .execute(&mut *tx)
        .await
        .map_err(be)?
        .rows_affected();
        let new_leaves: Vec<Hash> = if inserted as usize == total {
            keyed.into_iter().map(|(_, h)| h).collect()
        } else {
            let mut by_id: std::collections::HashMap<String, Hash> =
                std::collections::HashMap::with_capacity(keyed.len());
            for (id, h) in keyed {
                by_id.entry(id).or_insert(h);
            }
            let ids: Vec<String> =
                sqlx::query_scalar("SELECT id FROM events WHERE seq > $1 ORDER BY seq")
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
        let rows = sqlx::query(
            "SELECT seq, id, ts_us, ts_off, user_id, action, doc, rest FROM events WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after_seq)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(be)?;
        rows.iter()
            .map(|r| {
                let off: i32 = r.try_get(3).map_err(be)?;
                let ts = ts_from_db(r.try_get(2).map_err(be)?, i64::from(off))?;
                let id: &str = r.try_get(1).map_err(be)?;
                let user: &str = r.try_get(4).map_err(be)?;
                let action: &str = r.try_get(5).map_err(be)?;
                let doc: Option<&str> = r.try_get(6).map_err(be)?;
                let rest: &str = r.try_get(7).map_err(be)?;
                Ok((
                    r.try_get(0).map_err(be)?,
                    event_line(id, &ts, user, action, doc, rest),
                ))
            })
            .collect()
    }

    pub(crate) async fn recent_events_for_in(
        &self,
        user_id: &str,
        limit: u32,
    ) -> Result<Vec<StoredEvent>> {
        let rows = sqlx::query(
            "SELECT id, ts_us, ts_off, user_id, action, doc, rest FROM events WHERE user_id = $1 ORDER BY ts_us DESC, id COLLATE \"C\" DESC LIMIT $2",
        )
        .bind(user_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(be)?;
        rows.iter().map(stored_event).collect()
    }
}
