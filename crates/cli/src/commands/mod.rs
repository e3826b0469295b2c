//! One module per command.

pub mod bench;
pub mod bench_live;
pub mod case;
pub mod check;
pub mod contacts;
pub mod copy;
pub mod demo;
pub mod detect;
pub mod evaluate;
pub mod import;
pub mod ledger;
pub mod people;
pub mod register;
pub mod serve;
pub mod simulate;
pub mod status;
pub mod sweep;

use anyhow::Result;
use custodian_store::Store;
use custodian_store_postgres::PgStore;
use custodian_store_sqlite::SqliteStore;

use crate::settings::{Settings, StoreUrl};

/// Creates a file only its owner can read or write (mode 0600 on Unix);
/// fails if it exists.
pub fn create_private(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    custodian_store::private::open(path, custodian_store::private::Open::New)
}

/// Opens `path` for writing (created or truncated) so that only its owner
/// can read it (0600, also when it existed with a wider mode).
pub fn open_private(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    custodian_store::private::open(path, custodian_store::private::Open::Truncate)
}

/// Writes `bytes` to a file only its owner can read, replacing any file
/// there (so an earlier file's wider mode does not survive).
pub fn write_private(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    use anyhow::Context as _;
    use std::io::Write as _;
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot replace {}", path.display())),
    }
    create_private(path)
        .and_then(|mut f| f.write_all(bytes))
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Opens the store the settings name, bringing its schema up to date.
pub async fn open_store(settings: &Settings) -> Result<Box<dyn Store>> {
    Ok(match &settings.store {
        StoreUrl::Sqlite(url) => Box::new(SqliteStore::open(url).await?),
        StoreUrl::Postgres(url) => Box::new(PgStore::open(url).await?),
    })
}

/// Parses `--at`: RFC 3339, or a date (taken as noon, local offset of now).
pub fn parse_time(s: &str) -> Result<chrono::DateTime<chrono::FixedOffset>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t);
    }
    let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| anyhow::anyhow!("'{s}' is neither an RFC 3339 time nor a YYYY-MM-DD date"))?;
    let offset = *crate::clock::now().offset();
    d.and_hms_opt(12, 0, 0)
        .and_then(|t| t.and_local_timezone(offset).single())
        .ok_or_else(|| anyhow::anyhow!("'{s}' is not a valid time"))
}
