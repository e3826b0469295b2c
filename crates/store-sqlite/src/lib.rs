//! The embedded default store: one SQLite file in WAL mode, through sqlx.
//!
//! Every write of ledgered records is one `BEGIN IMMEDIATE` transaction
//! holding the records, the ledger run that covers them, the tiles that
//! changed and a signed checkpoint: a crash leaves all of it or none.
//! Events go in with multi-row `INSERT OR IGNORE`, so a re-delivered id is
//! ignored; new rows get consecutive `seq`s (SQLite gives each inserted row
//! max+1, ignored rows take none), which is what the ledger run records.
//! `synchronous = FULL`: a committed batch survives power loss.

mod bulk;
mod events;
mod reads;

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, SqlitePool};

use bulk::*;
use custodian_store::sql_store::USER_TS_INDEX;
use custodian_store::{Result, StoreError};
use reads::*;
use sql::be;

/// Rows per multi-row statement (7 parameters each, under SQLite's
/// 32,766-parameter limit).
pub(crate) const ROWS_PER_STATEMENT: usize = 4000;

pub(crate) const INSERT_EVENTS: &str =
    "INSERT OR IGNORE INTO events (id, ts_us, ts_off, user_id, action, doc, rest) VALUES ";

pub struct SqliteStore {
    tiles: custodian_store::ledger::TileCache,
    pool: SqlitePool,
    location: String,
    /// The database file for the bulk reader (None for in-memory stores).
    file: Option<std::path::PathBuf>,
    /// Read-only connections for bulk re-reads of events.
    bulk: Bulk,
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
            location: format!("sqlite://{location}"),
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

    /// Writes take the write lock when they begin (`BEGIN IMMEDIATE`), so
    /// a transaction never fails half-way to upgrade its read lock.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(be)
    }

    /// Ledgered writes: SQLite's one writer at a time is the ledger's lock.
    async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.begin_write().await
    }

    /// A deferred transaction: its first read fixes the snapshot (WAL) that
    /// every later read sees.
    async fn snapshot_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.pool.begin().await.map_err(be)
    }
}

custodian_store::sql_store! {
    store: SqliteStore,
    db: sqlx::Sqlite,
    conn: sqlx::SqliteConnection,
    row: sqlx::sqlite::SqliteRow,
    int: i64,
    small: i64,
    collate: "",
    backend: custodian_store::Backend::Sqlite,
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
