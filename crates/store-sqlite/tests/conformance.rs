//! The shared conformance story, against a fresh SQLite file per case.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::path::PathBuf;

use custodian_store::Store;
use custodian_store_sqlite::SqliteStore;

fn path_for(case: &str) -> PathBuf {
    std::env::temp_dir()
        .join(format!("custodian-conformance-{}", std::process::id()))
        .join(format!("{case}.db"))
}

async fn make(case: &str) -> Option<Box<dyn Store>> {
    let path = path_for(case);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let store = SqliteStore::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    Some(Box::new(store))
}

async fn done(case: &str) {
    let path = path_for(case);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

custodian_store::conformance_tests!(make, done);
