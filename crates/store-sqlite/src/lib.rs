//! The embedded default store: one SQLite file in WAL mode, through sqlx.
//!
//! Every write of ledgered records is one `BEGIN IMMEDIATE` transaction
//! holding the records, the ledger run that covers them, the tiles that
//! changed and a signed checkpoint: a crash leaves all of it or none.
//! Events go in with multi-row `INSERT OR IGNORE`, so a re-delivered id is
//! ignored; new rows get consecutive `seq`s (SQLite gives each inserted row
//! max+1, ignored rows take none), which is what the ledger run records.
//! `synchronous = FULL`: a committed batch survives power loss.

mod accounts;
mod bulk;
mod events;
mod ledger_tx;
mod reads;
mod rows;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Row, SqlitePool};

use bulk::*;
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

/// Rows per multi-row statement (7 parameters each, under SQLite's
/// 32,766-parameter limit).
pub(crate) const ROWS_PER_STATEMENT: usize = 4000;

pub(crate) const INSERT_EVENTS: &str =
    "INSERT OR IGNORE INTO events (id, ts_us, ts_off, user_id, action, doc, rest) VALUES ";

/// The secondary index a bulk load drops and rebuilds.
pub(crate) const USER_TS_INDEX: &str =
    "CREATE INDEX IF NOT EXISTS events_user_ts ON events (user_id, ts_us)";

pub struct SqliteStore {
    tiles: custodian_store::ledger::TileCache,
    pool: SqlitePool,
    location: String,
    /// The database file for the bulk reader (None for in-memory stores).
    file: Option<std::path::PathBuf>,
    /// Read-only connections for bulk re-reads of events.
    bulk: Bulk,
}

pub(crate) fn be(e: sqlx::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

pub(crate) fn values_sql(head: &str, cols: usize, rows: usize) -> String {
    let mut one = String::from("(");
    for c in 0..cols {
        if c > 0 {
            one.push(',');
        }
        one.push('?');
    }
    one.push(')');
    let mut sql = String::with_capacity(head.len() + rows * (one.len() + 1));
    sql.push_str(head);
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push_str(&one);
    }
    sql
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

impl SqliteStore {
    /// Opens (creating if missing) the database at `url`
    /// (`sqlite://PATH` or `sqlite:PATH`) and brings its schema up to date.
    pub async fn open(url: &str) -> Result<SqliteStore> {
        let unreachable = |reason: String| StoreError::Unreachable {
            target: url.to_string(),
            reason,
        };
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| unreachable(e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(30))
            .pragma("cache_size", "-65536")
            .pragma("wal_autocheckpoint", "4000")
            .pragma("mmap_size", "4294967296")
            .log_slow_statements(tracing::log::LevelFilter::Debug, Duration::from_secs(5));
        let location = opts.get_filename().display().to_string();
        let file = (!opts.get_filename().as_os_str().is_empty()
            && opts.get_filename() != std::path::Path::new(":memory:")
            && !url.contains("mode=memory"))
        .then(|| opts.get_filename().to_path_buf());
        // A new store is created readable by its owner only (0600, in a
        // 0700 folder if the folder is new); SQLite gives its WAL and
        // shared-memory files the mode of the database file.
        if let Some(f) = file.as_ref().filter(|f| !f.exists()) {
            create_empty(f)
                .map_err(|e| unreachable(format!("cannot create {}: {e}", f.display())))?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            // A connection that comes back still "in a transaction" is
            // closed, not reused. SQLite rolls a transaction back by itself
            // on some errors (SQLITE_FULL: a full disk), the driver's own
            // ROLLBACK then fails, and its transaction count stays up: every
            // later write on that connection would fail ("non-zero
            // transaction depth") long after the disk was freed. A rollback
            // merely queued is let through first (the ping follows it).
            .after_release(|conn, _| {
                Box::pin(async move {
                    use sqlx::Connection as _;
                    if !conn.is_in_transaction() {
                        return Ok(true);
                    }
                    let _ = conn.ping().await;
                    Ok(!conn.is_in_transaction())
                })
            })
            .connect_with(opts)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        // A bulk load killed half-way leaves the index dropped: rebuild it.
        sqlx::query(USER_TS_INDEX)
            .execute(&pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        tracing::debug!(%location, "sqlite store open");
        Ok(SqliteStore {
            tiles: custodian_store::ledger::TileCache::new(4096),
            pool,
            location,
            file,
            bulk: Default::default(),
        })
    }

    /// The pool, for tests that tamper with rows.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(be)
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
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn location(&self) -> String {
        format!("sqlite://{}", self.location)
    }

    async fn put_people(&self, people: &[Person]) -> Result<()> {
        let mut tx = self.write_tx().await?;
        for p in people {
            sqlx::query(
                "INSERT OR REPLACE INTO people (user_id, name, email, org_unit, site, role, manager_id, clearance, projects, hire_date, leave_date) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
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
                "INSERT OR REPLACE INTO documents (doc_id, title, classification, owner_id, projects, kind, created, medium) VALUES (?,?,?,?,?,?,?,?)",
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
        sqlx::query("INSERT OR REPLACE INTO contents (doc_id, key_id, nonce, ciphertext, sha256, media_type, size) VALUES (?,?,?,?,?,?,?)")
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
        let row = sqlx::query("SELECT * FROM contents WHERE doc_id = ?")
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
        let rows = sqlx::query("SELECT doc_id, key_id FROM contents ORDER BY doc_id")
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
        let mut tx = self.write_tx().await?;
        let mut n = 0;
        for r in rejects {
            n += sqlx::query(
                "INSERT OR IGNORE INTO rejects (file, line, reason, raw, key) VALUES (?,?,?,?,?)",
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
        let row = sqlx::query("SELECT * FROM people WHERE user_id = ?")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(be)?;
        row.map(|r| person_row(&r)).transpose()
    }

    async fn people(&self) -> Result<Vec<Person>> {
        let rows = sqlx::query("SELECT * FROM people ORDER BY user_id")
            .fetch_all(&self.pool)
            .await
            .map_err(be)?;
        rows.iter().map(person_row).collect()
    }

    async fn document(&self, doc_id: &str) -> Result<Option<Document>> {
        let row = sqlx::query("SELECT * FROM documents WHERE doc_id = ?")
            .bind(doc_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(be)?;
        row.map(|r| document_row(&r)).transpose()
    }

    async fn documents(&self) -> Result<Vec<Document>> {
        let rows = sqlx::query("SELECT * FROM documents ORDER BY doc_id")
            .fetch_all(&self.pool)
            .await
            .map_err(be)?;
        rows.iter().map(document_row).collect()
    }

    async fn hr_events_for(&self, user_id: &str) -> Result<Vec<HrEvent>> {
        let rows = sqlx::query("SELECT body FROM hr_events WHERE user_id = ? ORDER BY ts_us, id")
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
        let rows = sqlx::query("SELECT body FROM hr_events ORDER BY ts_us, id")
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
        let rows = sqlx::query("SELECT * FROM custody_records WHERE kind = ? AND (?2 IS NULL OR doc_id = ?2) AND (?3 IS NULL OR user_id = ?3) ORDER BY seq")
            .bind(kind)
            .bind(doc_id)
            .bind(user_id)
            .fetch_all(&self.pool)
            .await
            .map_err(be)?;
        rows.iter()
            .map(|r| {
                let at = ts_from_db(
                    r.try_get("at_us").map_err(be)?,
                    r.try_get("at_off").map_err(be)?,
                )?;
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
        let rows = sqlx::query("SELECT * FROM alerts ORDER BY score DESC, raised_us, id LIMIT ?")
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(be)?;
        rows.iter()
            .map(|r| {
                Ok(StoredAlert {
                    seq: r.try_get("seq").map_err(be)?,
                    id: r.try_get("id").map_err(be)?,
                    user: r.try_get("user_id").map_err(be)?,
                    raised_at: ts_from_db(
                        r.try_get("raised_us").map_err(be)?,
                        r.try_get("raised_off").map_err(be)?,
                    )?,
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
        let rows = sqlx::query("SELECT * FROM register_changes WHERE doc_id = ? ORDER BY seq")
            .bind(doc_id)
            .fetch_all(&self.pool)
            .await
            .map_err(be)?;
        rows.iter().map(register_change_row).collect()
    }

    async fn contact_reports(&self) -> Result<Vec<ContactReport>> {
        let rows = sqlx::query("SELECT raw FROM contact_reports ORDER BY reported_us DESC, id")
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
            sqlx::query("SELECT file, line, reason, raw FROM rejects ORDER BY seq DESC LIMIT ?")
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
        // A deferred transaction: its first read fixes the snapshot (WAL)
        // that every later read sees.
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
        if kind == kinds::EVENT {
            if let Some(file) = self.file.clone() {
                return on_reader(&self.bulk, &file, move |c| {
                    bulk_event_records(c, first_seq, count)
                })
                .await;
            }
        }
        let mut conn = self.pool.acquire().await.map_err(be)?;
        fetch_records(&mut conn, kind, first_seq, count).await
    }

    async fn ledger_leaves(
        &self,
        kind: &str,
        first_seq: i64,
        count: u64,
    ) -> Result<Vec<LeafChunk>> {
        let Some(file) = self.file.clone().filter(|_| kind == kinds::EVENT) else {
            return custodian_store::default_ledger_leaves(self, kind, first_seq, count).await;
        };
        // Chunks read and hashed by the reader threads, whichever is free.
        custodian_store::leaves_in_chunks(first_seq, count, READ_CHUNK, |seq, n| {
            let rx = queue_read(&self.bulk, &file, move |c| bulk_event_leaves(c, seq, n))?;
            Ok(async move {
                rx.await
                    .map_err(|_| StoreError::Backend("a bulk reader thread ended".into()))?
            })
        })
        .await
    }

    async fn ledger_record_count(&self, kind: &str) -> Result<u64> {
        read_count(&self.pool, kind).await
    }

    async fn record_seq(&self, kind: &str, record_id: &str) -> Result<Option<i64>> {
        sqlx::query_scalar(&format!("SELECT seq FROM {} WHERE id = ?", table_of(kind)?))
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
        if let Some(file) = self.file.clone() {
            let bulk = self.bulk.clone();
            return tokio::task::spawn_blocking(move || {
                bulk_tiles_from(&bulk, &file, level, from, limit)
            })
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        }
        let rows = sqlx::query("SELECT idx, width, nodes FROM ledger_tiles WHERE level = ? AND idx >= ? ORDER BY idx LIMIT ?")
            .bind(i64::from(level))
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

/// Inserts register changes (new ones only) and appends them to the
/// ledger, in the caller's transaction.
pub(crate) async fn insert_changes(
    tx: &mut SqliteConnection,
    changes: &[RegisterChange],
    ledger: &LedgerContext,
) -> Result<()> {
    insert_ledgered(&mut Tx(tx), ledger, changes)
        .await
        .map(drop)
}

/// Creates an empty file (an empty SQLite database) only its owner may
/// read or write, and its folder if missing (see `custodian_store::private`).
pub(crate) fn create_empty(path: &std::path::Path) -> std::io::Result<()> {
    use custodian_store::private;
    if let Some(parent) = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty() && !p.exists())
    {
        private::create_dir(parent)?;
    }
    match private::open(path, private::Open::New) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}
