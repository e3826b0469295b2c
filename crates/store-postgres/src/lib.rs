//! Custodian's scale-out store on PostgreSQL, through sqlx.
//!
//! Events go in through `COPY` into a temporary staging table and one
//! `INSERT … SELECT … ON CONFLICT (id) DO NOTHING` per batch, in one
//! transaction: idempotent by id and atomic per batch.
//!
//! The URL may carry `schema=NAME` as a query parameter (Custodian's own,
//! removed before connecting): the store then lives in that schema, created
//! if missing. Tests use it to run side by side in one database.

mod events;
mod reads;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

use custodian_store::sql_store::USER_TS_INDEX;
use custodian_store::{Result, StoreError};
use sql::be;

pub struct PgStore {
    tiles: custodian_store::ledger::TileCache,
    pool: PgPool,
    location: String,
    schema: Option<String>,
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

    /// A transaction for writes outside the ledger.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        self.pool.begin().await.map_err(be)
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

    /// A read-only transaction whose reads all see one snapshot
    /// (PostgreSQL's default would give each statement its own).
    async fn snapshot_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        let mut tx = self.pool.begin().await.map_err(be)?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(be)?;
        Ok(tx)
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

custodian_store::sql_store! {
    store: PgStore,
    db: sqlx::Postgres,
    conn: sqlx::PgConnection,
    row: sqlx::postgres::PgRow,
    int: i32,
    small: i16,
    collate: " COLLATE \"C\"",
    backend: custodian_store::Backend::Postgres,
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
