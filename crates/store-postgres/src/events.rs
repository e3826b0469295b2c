//! Events in and out: the batch's rows go in through `COPY` into a
//! temporary staging table and one `INSERT … SELECT` of the new ids (the
//! shared part of the insert, the ledger's side, is in
//! `custodian_store::sql_store!`), and events are read back as lines.

use custodian_store::{ts_to_db, NewEvent, Result};

use crate::reads::{EventRow, EVENT_COLUMNS};
use crate::*;

impl PgStore {
    /// The batch as `COPY` text, built before the ledger lock is taken:
    /// only the first of a repeated id inside the batch goes to the
    /// database, so the insert needs no de-duplicating sort.
    pub(crate) fn prepare_event_rows(events: Vec<NewEvent>) -> Vec<u8> {
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
        buf
    }

    /// Inserts the prepared rows whose ids are new, numbered `s0 + 1…` in
    /// arrival order.
    pub(crate) async fn insert_event_rows(
        &self,
        tx: &mut sqlx::PgConnection,
        s0: i64,
        buf: Vec<u8>,
    ) -> Result<u64> {
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
        Ok(inserted)
    }

    pub(crate) async fn event_lines_in(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<(i64, String)>> {
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE seq > $1 ORDER BY seq LIMIT $2"
        ))
        .bind(after_seq)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(be)?;
        rows.iter()
            .map(|r| {
                let e = EventRow::of(r).map_err(StoreError::Corrupt)?;
                Ok((e.seq, e.cols.line(e.id)?))
            })
            .collect()
    }
}
