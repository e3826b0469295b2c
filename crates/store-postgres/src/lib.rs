//! Custodian's scale-out store on PostgreSQL, through sqlx.
//!
//! Events go in through `COPY` into a temporary staging table and one
//! `INSERT … SELECT … ON CONFLICT (id) DO NOTHING` per batch, in one
//! transaction: idempotent by id and atomic per batch.
//!
//! The URL may carry `schema=NAME` as a query parameter (Custodian's own,
//! removed before connecting): the store then lives in that schema, created
//! if missing. Tests use it to run side by side in one database.

mod accounts;
mod events;
mod ledger_tx;
mod reads;
mod rows;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool, Row};

use custodian_core::interchange::{parse_contact, parse_hr};
use custodian_core::{ContactReport, Document, HrEvent, Person};
use custodian_ledger::entry::kinds;
use custodian_ledger::{Tile, TileId};
use custodian_store::ledgered::{insert_ledgered, Ledgered};
use custodian_store::{
    columns, level_to_db, reject_key, ts_from_db, Account, ApiToken, Backend, CheckpointRow,
    Counts, CustodyRecord, Inserted, LeafChunk, LedgerContext, LedgerRecord, LedgerRun,
    LedgerSnapshot, NewAlert, NewContact, NewEvent, RegisterChange, Reject, Result, SealedContent,
    Store, StoreError, StoredAlert, StoredEvent,
};
use ledger_tx::Tx;
use reads::*;
use rows::*;

/// The secondary index a bulk load drops and rebuilds.
pub(crate) const USER_TS_INDEX: &str =
    "CREATE INDEX IF NOT EXISTS events_user_ts ON events (user_id, ts_us)";

pub struct PgStore {
    tiles: custodian_store::ledger::TileCache,
    pool: PgPool,
    location: String,
    schema: Option<String>,
}

pub(crate) fn be(e: sqlx::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Splits Custodian's `schema=` parameter off a PostgreSQL URL.
pub fn split_schema(url: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), None);
    };
    let mut schema = None;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|kv| match kv.strip_prefix("schema=") {
            Some(s) => {
                schema = Some(s.to_string());
                false
            }
            None => !kv.is_empty(),
        })
        .collect();
    let url = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    (url, schema)
}

/// A URL with any password replaced by `***`, for messages and logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((auth, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

pub(crate) fn valid_schema(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

/// Escapes a value for `COPY … FROM STDIN` text format.
pub(crate) fn copy_text(out: &mut Vec<u8>, s: &str) {
    for b in s.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => out.push(b),
        }
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://…`, optionally `?schema=NAME`) and
    /// brings the schema up to date.
    pub async fn open(url: &str) -> Result<PgStore> {
        let (conn_url, schema) = split_schema(url);
        let shown = redact(url);
        let unreachable = |reason: String| StoreError::Unreachable {
            target: shown.clone(),
            reason,
        };
        let mut opts = PgConnectOptions::from_str(&conn_url)
            .map_err(|e| unreachable(e.to_string()))?
            .log_slow_statements(tracing::log::LevelFilter::Debug, Duration::from_secs(5));
        if let Some(s) = &schema {
            if !valid_schema(s) {
                return Err(unreachable(format!(
                    "schema '{s}' must be lower-case letters, digits and _"
                )));
            }
            opts = opts.options([("search_path", s.as_str())]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        if let Some(s) = &schema {
            sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{s}\""))
                .execute(&pool)
                .await
                .map_err(|e| StoreError::Migration(e.to_string()))?;
        }
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        // A bulk load killed half-way leaves the index dropped: rebuild it.
        sqlx::query(USER_TS_INDEX)
            .execute(&pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        tracing::debug!(location = %shown, "postgres store open");
        Ok(PgStore {
            tiles: custodian_store::ledger::TileCache::new(4096),
            pool,
            location: shown,
            schema,
        })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A transaction holding the ledger lock: one ledger writer at a time,
    /// readers unaffected.
    async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        let mut tx = self.pool.begin().await.map_err(be)?;
        sqlx::query("LOCK TABLE ledger_runs IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
            .map_err(be)?;
        Ok(tx)
    }

    /// New records of one ledgered kind, with their leaves, in one
    /// transaction.
    async fn insert_ledgered<R: Ledgered>(
        &self,
        ledger: &LedgerContext,
        records: &[R],
    ) -> Result<Inserted> {
        let mut tx = self.write_tx().await?;
        let n = insert_ledgered(&mut Tx(&mut tx), ledger, records).await?;
        tx.commit().await.map_err(be)?;
        Ok(n)
    }

    /// Drops this store's schema with everything in it (tests' cleanup).
    /// Refuses when the store was not opened with `schema=`.
    pub async fn drop_schema(self) -> Result<()> {
        let Some(s) = &self.schema else {
            return Err(StoreError::Backend(
                "refusing to drop the default schema".into(),
            ));
        };
        sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{s}\" CASCADE"))
            .execute(&self.pool)
            .await
            .map_err(be)?;
        self.pool.close().await;
        Ok(())
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn location(&self) -> String {
        self.location.clone()
    }

    async fn put_people(&self, people: &[Person]) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(be)?;
        for p in people {
            sqlx::query(
                "INSERT INTO people (user_id, name, email, org_unit, site, role, manager_id, clearance, projects, hire_date, leave_date) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)
                 ON CONFLICT (user_id) DO UPDATE SET name=EXCLUDED.name, email=EXCLUDED.email, org_unit=EXCLUDED.org_unit, site=EXCLUDED.site, role=EXCLUDED.role, manager_id=EXCLUDED.manager_id, clearance=EXCLUDED.clearance, projects=EXCLUDED.projects, hire_date=EXCLUDED.hire_date, leave_date=EXCLUDED.leave_date",
            )
            .bind(&p.user_id)
            .bind(&p.name)
            .bind(&p.email)
            .bind(&p.org_unit)
            .bind(&p.site)
            .bind(&p.role)
            .bind(&p.manager_id)
            .bind(level_to_db(p.clearance))
            .bind(columns::person_projects(p))
            .bind(columns::date(p.hire_date))
            .bind(p.leave_date.map(columns::date))
            .execute(&mut *tx)
            .await
            .map_err(be)?;
        }
        tx.commit().await.map_err(be)
    }

    async fn put_documents(
        &self,
        docs: &[Document],
        changes: &[RegisterChange],
        ledger: &LedgerContext,
    ) -> Result<()> {
        let mut tx = self.write_tx().await?;
        for d in docs {
            sqlx::query(
                "INSERT INTO documents (doc_id, title, classification, owner_id, projects, kind, created, medium) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)
                 ON CONFLICT (doc_id) DO UPDATE SET title=EXCLUDED.title, classification=EXCLUDED.classification, owner_id=EXCLUDED.owner_id, projects=EXCLUDED.projects, kind=EXCLUDED.kind, created=EXCLUDED.created, medium=EXCLUDED.medium",
            )
            .bind(&d.doc_id)
            .bind(&d.title)
            .bind(level_to_db(d.classification))
            .bind(&d.owner_id)
            .bind(d.projects.to_field())
            .bind(&d.kind)
            .bind(columns::date(d.created))
            .bind(d.medium.as_str())
            .execute(&mut *tx)
            .await
            .map_err(be)?;
        }
        insert_changes(&mut tx, changes, ledger).await?;
        tx.commit().await.map_err(be)
    }

    async fn put_content(
        &self,
        content: &SealedContent,
        change: &RegisterChange,
        ledger: &LedgerContext,
    ) -> Result<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO contents (doc_id, key_id, nonce, ciphertext, sha256, media_type, size) VALUES ($1,$2,$3,$4,$5,$6,$7)
             ON CONFLICT (doc_id) DO UPDATE SET key_id = EXCLUDED.key_id, nonce = EXCLUDED.nonce, ciphertext = EXCLUDED.ciphertext,
             sha256 = EXCLUDED.sha256, media_type = EXCLUDED.media_type, size = EXCLUDED.size",
        )
        .bind(&content.doc_id)
        .bind(&content.key_id)
        .bind(&content.nonce)
        .bind(&content.ciphertext)
        .bind(&content.sha256)
        .bind(&content.media_type)
        .bind(content.size as i64)
        .execute(&mut *tx)
        .await
        .map_err(be)?;
        insert_changes(&mut tx, std::slice::from_ref(change), ledger).await?;
        tx.commit().await.map_err(be)
    }

    async fn content(&self, doc_id: &str) -> Result<Option<SealedContent>> {
        let row = sqlx::query("SELECT * FROM contents WHERE doc_id = $1")
            .bind(doc_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(be)?;
        row.map(|r| {
            let size: i64 = r.try_get("size").map_err(be)?;
            Ok(SealedContent {
                doc_id: r.try_get("doc_id").map_err(be)?,
                key_id: r.try_get("key_id").map_err(be)?,
                nonce: r.try_get("nonce").map_err(be)?,
                ciphertext: r.try_get("ciphertext").map_err(be)?,
                sha256: r.try_get("sha256").map_err(be)?,
                media_type: r.try_get("media_type").map_err(be)?,
                size: size as u64,
            })
        })
        .transpose()
    }

    async fn put_account(&self, a: &Account) -> Result<()> {
        self.put_account_in(a).await
    }

    async fn account(&self, username: &str) -> Result<Option<Account>> {
        self.account_in(username).await
    }

    async fn accounts(&self) -> Result<Vec<Account>> {
        self.accounts_in().await
    }

    async fn put_api_token(&self, t: &ApiToken) -> Result<()> {
        self.put_api_token_in(t).await
    }

    async fn api_token(&self, token_sha256: &str) -> Result<Option<ApiToken>> {
        self.api_token_in(token_sha256).await
    }

    async fn api_tokens(&self) -> Result<Vec<ApiToken>> {
        self.api_tokens_in().await
    }

    async fn revoke_api_token(&self, name: &str, at: &str) -> Result<bool> {
        self.revoke_api_token_in(name, at).await
    }

    async fn content_keys(&self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT doc_id, key_id FROM contents ORDER BY doc_id COLLATE \"C\"")
            .fetch_all(&self.pool)
            .await
            .map_err(be)?;
        rows.iter()
            .map(|r| Ok((r.try_get(0).map_err(be)?, r.try_get(1).map_err(be)?)))
            .collect()
    }

    async fn insert_events(
        &self,
        events: Vec<NewEvent>,
        ledger: &LedgerContext,
    ) -> Result<Inserted> {
        self.insert_events_in(events, ledger).await
    }

    async fn begin_bulk_load(&self) -> Result<()> {
        self.begin_bulk_load_in().await
    }

    async fn end_bulk_load(&self) -> Result<()> {
        self.end_bulk_load_in().await
    }

    async fn insert_hr_events(
        &self,
        events: &[HrEvent],
        ledger: &LedgerContext,
    ) -> Result<Inserted> {
        self.insert_ledgered(ledger, events).await
    }

    async fn insert_contacts(
        &self,
        reports: &[NewContact],
        ledger: &LedgerContext,
    ) -> Result<Inserted> {
        self.insert_ledgered(ledger, reports).await
    }

    async fn insert_rejects(&self, rejects: &[Reject]) -> Result<Inserted> {
        let mut tx = self.pool.begin().await.map_err(be)?;
        let mut n = 0;
        for r in rejects {
            n += sqlx::query(
                "INSERT INTO rejects (file, line, reason, raw, key) VALUES ($1,$2,$3,$4,$5) ON CONFLICT (key) DO NOTHING",
            )
            .bind(&r.file)
            .bind(i64::try_from(r.line).unwrap_or(i64::MAX))
            .bind(&r.reason)
            .bind(&r.raw)
            .bind(reject_key(r))
            .execute(&mut *tx)
            .await
            .map_err(be)?
            .rows_affected();
        }
        tx.commit().await.map_err(be)?;
        Ok(Inserted(n))
    }

    async fn person(&self, user_id: &str) -> Result<Option<Person>> {
        let row = sqlx::query("SELECT * FROM people WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(be)?;
        row.map(|r| person_row(&r)).transpose()
    }

    async fn people(&self) -> Result<Vec<Person>> {
        let rows = sqlx::query("SELECT * FROM people ORDER BY user_id COLLATE \"C\"")
            .fetch_all(&self.pool)
            .await
            .map_err(be)?;
        rows.iter().map(person_row).collect()
    }

    async fn document(&self, doc_id: &str) -> Result<Option<Document>> {
        let row = sqlx::query("SELECT * FROM documents WHERE doc_id = $1")
            .bind(doc_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(be)?;
        row.map(|r| document_row(&r)).transpose()
    }

    async fn documents(&self) -> Result<Vec<Document>> {
        let rows = sqlx::query("SELECT * FROM documents ORDER BY doc_id COLLATE \"C\"")
            .fetch_all(&self.pool)
            .await
            .map_err(be)?;
        rows.iter().map(document_row).collect()
    }

    async fn hr_events_for(&self, user_id: &str) -> Result<Vec<HrEvent>> {
        let rows = sqlx::query(
            "SELECT body FROM hr_events WHERE user_id = $1 ORDER BY ts_us, id COLLATE \"C\"",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(be)?;
        rows.iter()
            .map(|r| {
                let body: String = r.try_get("body").map_err(be)?;
                parse_hr(body.as_bytes()).map_err(|e| StoreError::Corrupt(format!("hr event: {e}")))
            })
            .collect()
    }

    async fn hr_events(&self) -> Result<Vec<HrEvent>> {
        let rows = sqlx::query("SELECT body FROM hr_events ORDER BY ts_us, id COLLATE \"C\"")
            .fetch_all(&self.pool)
            .await
            .map_err(be)?;
        rows.iter()
            .map(|r| {
                let body: String = r.try_get("body").map_err(be)?;
                parse_hr(body.as_bytes()).map_err(|e| StoreError::Corrupt(format!("hr event: {e}")))
            })
            .collect()
    }

    async fn event_lines(&self, after_seq: i64, limit: u32) -> Result<Vec<(i64, String)>> {
        self.event_lines_in(after_seq, limit).await
    }

    async fn insert_custody(
        &self,
        records: &[CustodyRecord],
        ledger: &LedgerContext,
    ) -> Result<Inserted> {
        self.insert_ledgered(ledger, records).await
    }

    async fn custody_records(
        &self,
        kind: &str,
        doc_id: Option<&str>,
        user_id: Option<&str>,
    ) -> Result<Vec<CustodyRecord>> {
        let rows = sqlx::query("SELECT * FROM custody_records WHERE kind = $1 AND ($2::TEXT IS NULL OR doc_id = $2) AND ($3::TEXT IS NULL OR user_id = $3) ORDER BY seq")
            .bind(kind)
            .bind(doc_id)
            .bind(user_id)
            .fetch_all(&self.pool)
            .await
            .map_err(be)?;
        rows.iter()
            .map(|r| {
                let off: i32 = r.try_get("at_off").map_err(be)?;
                let at = ts_from_db(r.try_get("at_us").map_err(be)?, i64::from(off))?;
                Ok(CustodyRecord {
                    id: r.try_get("id").map_err(be)?,
                    kind: r.try_get("kind").map_err(be)?,
                    doc_id: r.try_get("doc_id").map_err(be)?,
                    user_id: r.try_get("user_id").map_err(be)?,
                    at,
                    body: r.try_get("body").map_err(be)?,
                })
            })
            .collect()
    }

    async fn insert_alerts(&self, alerts: &[NewAlert], ledger: &LedgerContext) -> Result<Inserted> {
        self.insert_ledgered(ledger, alerts).await
    }

    async fn alerts(&self, limit: u32) -> Result<Vec<StoredAlert>> {
        let rows = sqlx::query(
            "SELECT * FROM alerts ORDER BY score DESC, raised_us, id COLLATE \"C\" LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(be)?;
        rows.iter()
            .map(|r| {
                let off: i32 = r.try_get("raised_off").map_err(be)?;
                Ok(StoredAlert {
                    seq: r.try_get("seq").map_err(be)?,
                    id: r.try_get("id").map_err(be)?,
                    user: r.try_get("user_id").map_err(be)?,
                    raised_at: ts_from_db(r.try_get("raised_us").map_err(be)?, i64::from(off))?,
                    severity: r.try_get("severity").map_err(be)?,
                    score: r.try_get("score").map_err(be)?,
                    body: r.try_get("body").map_err(be)?,
                })
            })
            .collect()
    }

    async fn recent_events_for(&self, user_id: &str, limit: u32) -> Result<Vec<StoredEvent>> {
        self.recent_events_for_in(user_id, limit).await
    }

    async fn register_history(&self, doc_id: &str) -> Result<Vec<RegisterChange>> {
        let rows = sqlx::query("SELECT * FROM register_changes WHERE doc_id = $1 ORDER BY seq")
            .bind(doc_id)
            .fetch_all(&self.pool)
            .await
            .map_err(be)?;
        rows.iter()
            .map(|r| {
                let off: i32 = r.try_get("at_off").map_err(be)?;
                Ok(RegisterChange {
                    doc_id: r.try_get("doc_id").map_err(be)?,
                    at: ts_from_db(r.try_get("at_us").map_err(be)?, i64::from(off))?,
                    actor: r.try_get("actor").map_err(be)?,
                    field: r.try_get("field").map_err(be)?,
                    old: r.try_get("old").map_err(be)?,
                    new: r.try_get("new").map_err(be)?,
                })
            })
            .collect()
    }

    async fn contact_reports(&self) -> Result<Vec<ContactReport>> {
        let rows = sqlx::query(
            "SELECT raw FROM contact_reports ORDER BY reported_us DESC, id COLLATE \"C\"",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(be)?;
        rows.iter()
            .map(|r| {
                let raw: String = r.try_get("raw").map_err(be)?;
                parse_contact(raw.as_bytes())
                    .map_err(|e| StoreError::Corrupt(format!("contact report: {e}")))
            })
            .collect()
    }

    async fn rejects(&self, limit: u32) -> Result<Vec<Reject>> {
        let rows =
            sqlx::query("SELECT file, line, reason, raw FROM rejects ORDER BY seq DESC LIMIT $1")
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(be)?;
        rows.iter()
            .map(|r| {
                let line: i64 = r.try_get("line").map_err(be)?;
                Ok(Reject {
                    file: r.try_get("file").map_err(be)?,
                    line: u64::try_from(line).unwrap_or(0),
                    reason: r.try_get("reason").map_err(be)?,
                    raw: r.try_get("raw").map_err(be)?,
                })
            })
            .collect()
    }

    async fn counts(&self) -> Result<Counts> {
        let row = sqlx::query(
            "SELECT (SELECT count(*) FROM people), (SELECT count(*) FROM documents), (SELECT count(*) FROM events), (SELECT count(*) FROM hr_events), (SELECT count(*) FROM contact_reports), (SELECT count(*) FROM rejects), (SELECT count(*) FROM register_changes)",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(be)?;
        let g = |i: usize| -> Result<u64> {
            let v: i64 = row.try_get(i).map_err(be)?;
            Ok(u64::try_from(v).unwrap_or(0))
        };
        Ok(Counts {
            people: g(0)?,
            documents: g(1)?,
            events: g(2)?,
            hr_events: g(3)?,
            contact_reports: g(4)?,
            rejected_lines: g(5)?,
            register_changes: g(6)?,
        })
    }

    async fn ledger_runs(&self) -> Result<Vec<LedgerRun>> {
        read_runs(&self.pool).await
    }

    async fn ledger_snapshot(&self, kinds: &[&str]) -> Result<LedgerSnapshot> {
        let mut tx = self.pool.begin().await.map_err(be)?;
        // One snapshot for every read (PostgreSQL's default would give
        // each statement its own).
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(be)?;
        let runs = read_runs(&mut *tx).await?;
        let checkpoints = read_checkpoints(&mut *tx).await?;
        let mut counts = std::collections::BTreeMap::new();
        for kind in kinds {
            counts.insert(kind.to_string(), read_count(&mut *tx, kind).await?);
        }
        tx.rollback().await.map_err(be)?;
        Ok(LedgerSnapshot {
            runs,
            checkpoints,
            counts,
        })
    }

    async fn ledger_records(
        &self,
        kind: &str,
        first_seq: i64,
        count: u64,
    ) -> Result<Vec<LedgerRecord>> {
        let mut conn = self.pool.acquire().await.map_err(be)?;
        fetch_records(&mut conn, kind, first_seq, count).await
    }

    async fn ledger_leaves(
        &self,
        kind: &str,
        first_seq: i64,
        count: u64,
    ) -> Result<Vec<LeafChunk>> {
        if kind != kinds::EVENT {
            return custodian_store::default_ledger_leaves(self, kind, first_seq, count).await;
        }
        // Chunks fetched and hashed as tasks of their own, so they run on
        // every worker thread of the runtime, each on a pooled connection.
        custodian_store::leaves_in_chunks(first_seq, count, PG_READ_CHUNK, |seq, n| {
            let pool = self.pool.clone();
            let task = tokio::spawn(async move { event_leaves(&pool, seq, n).await });
            Ok(async move { task.await.map_err(|e| StoreError::Backend(e.to_string()))? })
        })
        .await
    }

    async fn ledger_record_count(&self, kind: &str) -> Result<u64> {
        read_count(&self.pool, kind).await
    }

    async fn record_seq(&self, kind: &str, record_id: &str) -> Result<Option<i64>> {
        sqlx::query_scalar(&format!(
            "SELECT seq FROM {} WHERE id = $1",
            table_of(kind)?
        ))
        .bind(record_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(be)
    }

    async fn ledger_tiles(&self, want: &[(TileId, usize)]) -> Result<Vec<Tile>> {
        let (mut out, ids) = self.tiles.split(want);
        let read = self.read_tiles(&ids).await?;
        self.tiles.keep(&read);
        out.extend(read);
        Ok(out)
    }

    async fn ledger_tiles_from(&self, level: u8, from: u64, limit: u32) -> Result<Vec<Tile>> {
        let rows = sqlx::query("SELECT idx, width, nodes FROM ledger_tiles WHERE level = $1 AND idx >= $2 ORDER BY idx LIMIT $3")
            .bind(i16::from(level))
            .bind(from as i64)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(be)?;
        rows.iter()
            .map(|r| {
                let idx: i64 = r.try_get("idx").map_err(be)?;
                tile_from_row(
                    TileId {
                        level,
                        index: idx as u64,
                    },
                    r,
                    None,
                )
            })
            .collect()
    }

    async fn ledger_checkpoints(&self) -> Result<Vec<CheckpointRow>> {
        read_checkpoints(&self.pool).await
    }
}

pub(crate) fn table_of(kind: &str) -> Result<&'static str> {
    Ok(match kind {
        kinds::EVENT => "events",
        kinds::HR_EVENT => "hr_events",
        kinds::CONTACT_REPORT => "contact_reports",
        kinds::REGISTER_CHANGE => "register_changes",
        kinds::ALERT => "alerts",
        kinds::CUSTODY => "custody_records",
        other => {
            return Err(StoreError::Backend(format!(
                "unknown ledger kind '{other}'"
            )))
        }
    })
}

/// Inserts register changes (new ones only) and appends them to the
/// ledger, in the caller's transaction (which holds the ledger lock).
pub(crate) async fn insert_changes(
    tx: &mut PgConnection,
    changes: &[RegisterChange],
    ledger: &LedgerContext,
) -> Result<()> {
    insert_ledgered(&mut Tx(tx), ledger, changes)
        .await
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_param_is_split_off() {
        assert_eq!(
            split_schema("postgres://u@h/db?schema=t_1&sslmode=disable"),
            (
                "postgres://u@h/db?sslmode=disable".into(),
                Some("t_1".into())
            )
        );
        assert_eq!(
            split_schema("postgres://u@h/db"),
            ("postgres://u@h/db".into(), None)
        );
        assert_eq!(
            split_schema("postgres://u@h/db?schema=x"),
            ("postgres://u@h/db".into(), Some("x".into()))
        );
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://u:hunter2@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }

    #[test]
    fn copy_escapes() {
        let mut out = vec![];
        copy_text(&mut out, "a\tb\\c\nd");
        assert_eq!(out, b"a\\tb\\\\c\\nd");
    }
}
