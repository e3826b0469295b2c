//! The embedded default store: one SQLite file in WAL mode, through sqlx.
//!
//! Every write of ledgered records is one `BEGIN IMMEDIATE` transaction
//! holding the records, the ledger run that covers them, the tiles that
//! changed and a signed checkpoint: a crash leaves all of it or none.
//! Events go in with multi-row `INSERT OR IGNORE`, so a re-delivered id is
//! ignored; new rows get consecutive `seq`s (SQLite gives each inserted row
//! max+1, ignored rows take none), which is what the ledger run records.
//! `synchronous = FULL`: a committed batch survives power loss.

mod ledger_tx;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{ConnectOptions, Row, SqlitePool};

use custodian_core::interchange::{contact_to_json, hr_to_json, parse_contact, parse_hr};
use custodian_core::{ContactReport, Document, HrEvent, Person};
use custodian_ledger::entry::kinds;
use custodian_ledger::{Hash, Tile, TileId};
use custodian_store::ledger::{event_entry_body, register_change_json};
use custodian_store::ledgered::{append_ledger, insert_ledgered, LedgerTx, Ledgered};
use custodian_store::{
    columns, event_line, level_to_db, reject_key, ts_from_db, ts_to_db, Account, ApiToken, Backend,
    CheckpointRow, Counts, CustodyRecord, Inserted, LeafChunk, LeafChunkBuilder, LedgerContext,
    LedgerRecord, LedgerRun, LedgerSnapshot, NewAlert, NewContact, NewEvent, RegisterChange,
    Reject, Result, SealedContent, Store, StoreError, StoredAlert, StoredEvent,
};
use ledger_tx::Tx;

/// Rows per multi-row statement (7 parameters each, under SQLite's
/// 32,766-parameter limit).
const ROWS_PER_STATEMENT: usize = 4000;

const INSERT_EVENTS: &str =
    "INSERT OR IGNORE INTO events (id, ts_us, ts_off, user_id, action, doc, rest) VALUES ";

/// The secondary index a bulk load drops and rebuilds.
const USER_TS_INDEX: &str = "CREATE INDEX IF NOT EXISTS events_user_ts ON events (user_id, ts_us)";

pub struct SqliteStore {
    tiles: custodian_store::ledger::TileCache,
    pool: SqlitePool,
    location: String,
    /// The database file for the bulk reader (None for in-memory stores).
    file: Option<std::path::PathBuf>,
    /// Read-only connections for bulk re-reads of events.
    bulk: Bulk,
}

fn be(e: sqlx::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn values_sql(head: &str, cols: usize, rows: usize) -> String {
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

fn table_of(kind: &str) -> Result<&'static str> {
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

/// The ledger's runs, in leaf order.
async fn read_runs<'e, E: sqlx::Executor<'e, Database = sqlx::Sqlite>>(
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
async fn read_checkpoints<'e, E: sqlx::Executor<'e, Database = sqlx::Sqlite>>(
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
async fn read_count<'e, E: sqlx::Executor<'e, Database = sqlx::Sqlite>>(
    e: E,
    kind: &str,
) -> Result<u64> {
    let v: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {}", table_of(kind)?))
        .fetch_one(e)
        .await
        .map_err(be)?;
    Ok(v as u64)
}

fn run_row(r: &SqliteRow) -> Result<LedgerRun> {
    let first_leaf: i64 = r.try_get("first_leaf").map_err(be)?;
    let count: i64 = r.try_get("count").map_err(be)?;
    Ok(LedgerRun {
        first_leaf: first_leaf as u64,
        kind: r.try_get("kind").map_err(be)?,
        first_seq: r.try_get("first_seq").map_err(be)?,
        count: count as u64,
    })
}

fn tile_from_row(id: TileId, r: &SqliteRow, want_width: Option<usize>) -> Result<Tile> {
    let width: i64 = r.try_get("width").map_err(be)?;
    let nodes: Vec<u8> = r.try_get("nodes").map_err(be)?;
    if let Some(w) = want_width {
        if w as i64 != width {
            return Err(StoreError::Corrupt(format!(
                "ledger tile {}/{} has width {width}, expected {w}",
                id.level, id.index
            )));
        }
    }
    Tile::from_bytes(id, width as usize, &nodes).map_err(|e| StoreError::Corrupt(e.to_string()))
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
        sqlx::query("INSERT OR REPLACE INTO accounts (username, role, user_id, password_hash, disabled) VALUES (?,?,?,?,?)")
            .bind(&a.username)
            .bind(&a.role)
            .bind(&a.user_id)
            .bind(&a.password_hash)
            .bind(a.disabled)
            .execute(&self.pool)
            .await
            .map_err(be)?;
        Ok(())
    }

    async fn account(&self, username: &str) -> Result<Option<Account>> {
        let row = sqlx::query("SELECT * FROM accounts WHERE username = ?")
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .map_err(be)?;
        row.map(|r| account_from_row(&r)).transpose()
    }

    async fn accounts(&self) -> Result<Vec<Account>> {
        let rows = sqlx::query("SELECT * FROM accounts ORDER BY username")
            .fetch_all(&self.pool)
            .await
            .map_err(be)?;
        rows.iter().map(account_from_row).collect()
    }

    async fn put_api_token(&self, t: &ApiToken) -> Result<()> {
        sqlx::query(
            "INSERT INTO api_tokens (token_sha256, name, role, created_at) VALUES (?,?,?,?)",
        )
        .bind(&t.token_sha256)
        .bind(&t.name)
        .bind(&t.role)
        .bind(&t.created_at)
        .execute(&self.pool)
        .await
        .map_err(be)?;
        Ok(())
    }

    async fn api_token(&self, token_sha256: &str) -> Result<Option<ApiToken>> {
        let row = sqlx::query("SELECT * FROM api_tokens WHERE token_sha256 = ?")
            .bind(token_sha256)
            .fetch_optional(&self.pool)
            .await
            .map_err(be)?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn api_tokens(&self) -> Result<Vec<ApiToken>> {
        let rows = sqlx::query("SELECT * FROM api_tokens ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(be)?;
        rows.iter().map(token_from_row).collect()
    }

    async fn revoke_api_token(&self, name: &str, at: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(name)
        .execute(&self.pool)
        .await
        .map_err(be)?;
        Ok(done.rows_affected() == 1)
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

    async fn begin_bulk_load(&self) -> Result<()> {
        sqlx::query("DROP INDEX IF EXISTS events_user_ts")
            .execute(&self.pool)
            .await
            .map_err(be)?;
        Ok(())
    }

    async fn end_bulk_load(&self) -> Result<()> {
        sqlx::query(USER_TS_INDEX)
            .execute(&self.pool)
            .await
            .map_err(be)?;
        Ok(())
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
async fn insert_changes(
    tx: &mut SqliteConnection,
    changes: &[RegisterChange],
    ledger: &LedgerContext,
) -> Result<()> {
    insert_ledgered(&mut Tx(tx), ledger, changes)
        .await
        .map(drop)
}

/// Records of `kind` with seq in `[first_seq, first_seq + count)`.
async fn fetch_records(
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
struct PackedRow<'a> {
    seq: i64,
    id: &'a [u8],
    us: &'a str,
    off: &'a str,
    doc_null: bool,
    user: &'a [u8],
    action: &'a [u8],
    doc: &'a [u8],
    rest: &'a [u8],
}

/// Events of a seq range as one value: SQLite concatenates each row's
/// fields behind a header of lengths, which is read here without building a
/// row object per event (the per-row cost of reading through sqlx is most
/// of a full read's time).
async fn for_each_packed_event(
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

async fn fetch_event_records(
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

/// The bulk reader (read-only connections opened on first use):
/// reader threads ([`event_readers`]), each with its own connection, that take
/// read jobs from one queue in order (so verification's chunks go to
/// whichever is free and the queue can run far ahead of the tree), and one
/// connection for the stored tiles verification compares meanwhile.
#[derive(Default)]
struct BulkConns {
    jobs: std::sync::Mutex<Option<flume::Sender<ReadJob>>>,
    tiles: std::sync::Mutex<Option<rusqlite::Connection>>,
}

type Bulk = std::sync::Arc<BulkConns>;

/// Work for a reader thread: given its connection, or why it has none.
type ReadJob = Box<dyn FnOnce(std::result::Result<&rusqlite::Connection, &str>) + Send>;

/// Reader threads: one per core (at least two, at most eight); more
/// would only contend with the thread that rebuilds the tree.
fn event_readers() -> usize {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(2)
        .clamp(2, 8)
}

/// Rows per chunk a reader reads and hashes in one go.
const READ_CHUNK: u64 = 4_096;

fn rb(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Backend("the bulk reader's lock is poisoned".into())
}

fn open_bulk(file: &std::path::Path) -> Result<rusqlite::Connection> {
    let c = rusqlite::Connection::open_with_flags(
        file,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(rb)?;
    c.busy_timeout(Duration::from_secs(30)).map_err(rb)?;
    c.pragma_update(None, "cache_size", -65536).map_err(rb)?;
    c.pragma_update(None, "mmap_size", 4_294_967_296_i64)
        .map_err(rb)?;
    Ok(c)
}

/// Queues `job` for the reader threads (started on first use; they end
/// when the store is dropped) and waits for its answer.
async fn on_reader<T: Send + 'static>(
    bulk: &BulkConns,
    file: &std::path::Path,
    job: impl FnOnce(&rusqlite::Connection) -> Result<T> + Send + 'static,
) -> Result<T> {
    let rx = queue_read(bulk, file, job)?;
    rx.await
        .map_err(|_| StoreError::Backend("a bulk reader thread ended".into()))?
}

/// Queues `job` for the reader threads; its answer comes on the receiver.
fn queue_read<T: Send + 'static>(
    bulk: &BulkConns,
    file: &std::path::Path,
    job: impl FnOnce(&rusqlite::Connection) -> Result<T> + Send + 'static,
) -> Result<tokio::sync::oneshot::Receiver<Result<T>>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: ReadJob = Box::new(move |conn| {
        let out = match conn {
            Ok(c) => job(c),
            Err(why) => Err(StoreError::Backend(why.to_string())),
        };
        let _ = tx.send(out);
    });
    let mut jobs = bulk.jobs.lock().map_err(poisoned)?;
    let sender = match jobs.as_ref() {
        Some(s) => s,
        None => {
            let (s, r) = flume::unbounded::<ReadJob>();
            for i in 0..event_readers() {
                let (r, file) = (r.clone(), file.to_path_buf());
                std::thread::Builder::new()
                    .name(format!("ledger-reader-{i}"))
                    .spawn(move || {
                        let conn = open_bulk(&file).map_err(|e| e.to_string());
                        while let Ok(job) = r.recv() {
                            job(conn.as_ref().map_err(|e| e.as_str()));
                        }
                    })
                    .map_err(|e| StoreError::Backend(format!("a bulk reader thread: {e}")))?;
            }
            jobs.insert(s)
        }
    };
    sender
        .send(job)
        .map_err(|_| StoreError::Backend("the bulk readers ended".into()))?;
    Ok(rx)
}

/// The tile reader, opened on first use.
fn tile_reader<'a>(
    bulk: &'a BulkConns,
    file: &std::path::Path,
) -> Result<std::sync::MutexGuard<'a, Option<rusqlite::Connection>>> {
    let mut guard = bulk.tiles.lock().map_err(poisoned)?;
    if guard.is_none() {
        *guard = Some(open_bulk(file)?);
    }
    Ok(guard)
}

/// Stored tiles of one level from `from` on, read in place on bulk
/// connection 2 (verification compares every tile it rebuilds).
fn bulk_tiles_from(
    bulk: &Bulk,
    file: &std::path::Path,
    level: u8,
    from: u64,
    limit: u32,
) -> Result<Vec<Tile>> {
    let guard = tile_reader(bulk, file)?;
    let Some(conn) = guard.as_ref() else {
        return Err(StoreError::Backend("no bulk reader".into()));
    };
    let mut stmt = conn
        .prepare_cached(
            "SELECT idx, width, nodes FROM ledger_tiles WHERE level = ?1 AND idx >= ?2 ORDER BY idx LIMIT ?3",
        )
        .map_err(rb)?;
    let mut rows = stmt
        .query(rusqlite::params![
            i64::from(level),
            from as i64,
            i64::from(limit)
        ])
        .map_err(rb)?;
    let mut out = Vec::with_capacity(limit as usize);
    while let Some(r) = rows.next().map_err(rb)? {
        let idx: i64 = r.get(0).map_err(rb)?;
        let id = TileId {
            level,
            index: idx as u64,
        };
        out.push(tile_from_ref(
            id,
            r.get(1).map_err(rb)?,
            r.get_ref(2).map_err(rb)?,
        )?);
    }
    Ok(out)
}

/// Stored tiles by id (those that exist), on bulk connection 2.
fn bulk_read_tiles(bulk: &Bulk, file: &std::path::Path, ids: &[TileId]) -> Result<Vec<Tile>> {
    let guard = tile_reader(bulk, file)?;
    let Some(conn) = guard.as_ref() else {
        return Err(StoreError::Backend("no bulk reader".into()));
    };
    let mut stmt = conn
        .prepare_cached("SELECT width, nodes FROM ledger_tiles WHERE level = ?1 AND idx = ?2")
        .map_err(rb)?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let mut rows = stmt
            .query(rusqlite::params![i64::from(id.level), id.index as i64])
            .map_err(rb)?;
        if let Some(r) = rows.next().map_err(rb)? {
            out.push(tile_from_ref(
                *id,
                r.get(0).map_err(rb)?,
                r.get_ref(1).map_err(rb)?,
            )?);
        }
    }
    Ok(out)
}

/// A tile from a bulk-read row's width and nodes.
fn tile_from_ref(id: TileId, width: i64, nodes: rusqlite::types::ValueRef<'_>) -> Result<Tile> {
    let nodes = match nodes {
        rusqlite::types::ValueRef::Blob(b) | rusqlite::types::ValueRef::Text(b) => b,
        _ => &[],
    };
    Tile::from_bytes(id, usize::try_from(width).unwrap_or(usize::MAX), nodes)
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// An event row's fields as stored, borrowed from SQLite.
struct EventCols<'a> {
    us: i64,
    off: i32,
    user: &'a str,
    action: &'a str,
    doc: Option<&'a str>,
    rest: &'a str,
}

/// Steps the events of a seq range in place on a reader thread's
/// connection, calling `f` with each row's seq, id and fields until it
/// returns false. A stored value of the wrong type fails that record
/// (named), not the batch.
fn bulk_event_rows(
    conn: &rusqlite::Connection,
    first_seq: i64,
    count: u64,
    mut f: impl FnMut(i64, &[u8], std::result::Result<EventCols<'_>, String>) -> bool,
) -> Result<()> {
    use rusqlite::types::ValueRef;
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq, id, ts_us, ts_off, user_id, action, doc, rest FROM events WHERE seq >= ?1 AND seq < ?2 ORDER BY seq",
        )
        .map_err(rb)?;
    let mut rows = stmt
        .query(rusqlite::params![first_seq, first_seq + count as i64])
        .map_err(rb)?;
    fn text<'a>(v: ValueRef<'a>, what: &str) -> std::result::Result<&'a str, String> {
        match v {
            ValueRef::Text(b) | ValueRef::Blob(b) => utf8_field(b, what),
            ValueRef::Null => Err(format!("{what} is missing")),
            _ => Err(format!("{what} is not text")),
        }
    }
    fn int(v: ValueRef<'_>, what: &str) -> std::result::Result<i64, String> {
        match v {
            ValueRef::Integer(i) => Ok(i),
            other => Err(format!("{what} {other:?} is not an integer")),
        }
    }
    while let Some(r) = rows.next().map_err(rb)? {
        let seq: i64 = r.get(0).map_err(rb)?;
        let v = |i: usize| r.get_ref(i).map_err(rb);
        let id: &[u8] = match v(1)? {
            ValueRef::Text(b) | ValueRef::Blob(b) => b,
            _ => b"",
        };
        let (us, off, user, action, doc, rest) = (v(2)?, v(3)?, v(4)?, v(5)?, v(6)?, v(7)?);
        let cols = (|| {
            let off = int(off, "ts_off")?;
            Ok(EventCols {
                us: int(us, "ts_us")?,
                off: i32::try_from(off)
                    .ok()
                    .filter(|o| o.abs() < 86_400)
                    .ok_or_else(|| format!("ts_off {off} is not a UTC offset"))?,
                user: text(user, "user_id")?,
                action: text(action, "action")?,
                doc: match doc {
                    ValueRef::Null => None,
                    d => Some(text(d, "doc")?),
                },
                rest: text(rest, "rest")?,
            })
        })();
        if !f(seq, id, cols) {
            break;
        }
    }
    Ok(())
}

/// Events as ledger records, read by the bulk reader.
fn bulk_event_records(
    conn: &rusqlite::Connection,
    first_seq: i64,
    count: u64,
) -> Result<Vec<LedgerRecord>> {
    let mut out = Vec::with_capacity(count as usize);
    bulk_event_rows(conn, first_seq, count, |seq, id, cols| {
        let canonical = cols.and_then(|c| {
            let mut body = Vec::with_capacity(64 + c.rest.len());
            custodian_store::ledger::write_event_body(
                &mut body, c.us, c.off, c.user, c.action, c.doc, c.rest,
            );
            String::from_utf8(body).map_err(|e| e.to_string())
        });
        out.push(LedgerRecord {
            seq,
            record_id: String::from_utf8_lossy(id).into_owned(),
            canonical,
        });
        true
    })?;
    Ok(out)
}

/// Events' leaf hashes, read and hashed in place on a reader thread's
/// connection (one buffer for every entry).
fn bulk_event_leaves(conn: &rusqlite::Connection, first_seq: i64, count: u64) -> Result<LeafChunk> {
    let mut out = LeafChunkBuilder::new(first_seq, count);
    let mut buf = custodian_ledger::entry::LeafBuf::new();
    bulk_event_rows(conn, first_seq, count, |seq, id, cols| {
        let leaf = match (std::str::from_utf8(id), cols) {
            (Ok(record_id), Ok(c)) => {
                let entry = buf.start(kinds::EVENT, record_id);
                custodian_store::ledger::write_event_body(
                    entry, c.us, c.off, c.user, c.action, c.doc, c.rest,
                );
                Ok(buf.finish())
            }
            (Ok(record_id), Err(why)) => Err((record_id.to_string(), why)),
            (Err(_), _) => Err((
                String::from_utf8_lossy(id).into_owned(),
                "id is not UTF-8 text".to_string(),
            )),
        };
        out.push(seq, leaf)
    })?;
    Ok(out.finish())
}

fn utf8_field<'a>(b: &'a [u8], what: &str) -> std::result::Result<&'a str, String> {
    std::str::from_utf8(b).map_err(|_| format!("{what} is not UTF-8 text"))
}

fn stored_event(r: &SqliteRow) -> Result<StoredEvent> {
    let rest: String = r.try_get("rest").map_err(be)?;
    StoredEvent::from_columns(
        r.try_get("id").map_err(be)?,
        ts_from_db(
            r.try_get("ts_us").map_err(be)?,
            r.try_get("ts_off").map_err(be)?,
        )?,
        r.try_get("user_id").map_err(be)?,
        r.try_get("action").map_err(be)?,
        r.try_get("doc").map_err(be)?,
        &rest,
    )
}

fn register_change_row(r: &SqliteRow) -> Result<RegisterChange> {
    Ok(RegisterChange {
        doc_id: r.try_get("doc_id").map_err(be)?,
        at: ts_from_db(
            r.try_get("at_us").map_err(be)?,
            r.try_get("at_off").map_err(be)?,
        )?,
        actor: r.try_get("actor").map_err(be)?,
        field: r.try_get("field").map_err(be)?,
        old: r.try_get("old").map_err(be)?,
        new: r.try_get("new").map_err(be)?,
    })
}

fn person_row(r: &SqliteRow) -> Result<Person> {
    let s = |c: &str| -> Result<String> { r.try_get(c).map_err(be) };
    let leave: Option<String> = r.try_get("leave_date").map_err(be)?;
    columns::person(
        s("user_id")?,
        s("name")?,
        s("email")?,
        s("org_unit")?,
        s("site")?,
        s("role")?,
        r.try_get("manager_id").map_err(be)?,
        r.try_get("clearance").map_err(be)?,
        &s("projects")?,
        &s("hire_date")?,
        leave.as_deref(),
    )
}

fn document_row(r: &SqliteRow) -> Result<Document> {
    let s = |c: &str| -> Result<String> { r.try_get(c).map_err(be) };
    columns::document(
        s("doc_id")?,
        s("title")?,
        r.try_get("classification").map_err(be)?,
        s("owner_id")?,
        &s("projects")?,
        s("kind")?,
        &s("created")?,
        &s("medium")?,
    )
}

impl SqliteStore {
    async fn read_tiles(&self, ids: &[TileId]) -> Result<Vec<Tile>> {
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

fn account_from_row(r: &SqliteRow) -> Result<Account> {
    Ok(Account {
        username: r.try_get("username").map_err(be)?,
        role: r.try_get("role").map_err(be)?,
        user_id: r.try_get("user_id").map_err(be)?,
        password_hash: r.try_get("password_hash").map_err(be)?,
        disabled: r.try_get("disabled").map_err(be)?,
    })
}

/// Creates an empty file (an empty SQLite database) only its owner may
/// read or write, and its folder if missing (see `custodian_store::private`).
fn create_empty(path: &std::path::Path) -> std::io::Result<()> {
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

fn token_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<ApiToken> {
    Ok(ApiToken {
        token_sha256: r.try_get("token_sha256").map_err(be)?,
        name: r.try_get("name").map_err(be)?,
        role: r.try_get("role").map_err(be)?,
        created_at: r.try_get("created_at").map_err(be)?,
        revoked_at: r.try_get("revoked_at").map_err(be)?,
    })
}
