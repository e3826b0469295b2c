//! A full disk, then freed: the next write succeeds. SQLite rolls a
//! transaction back by itself on SQLITE_FULL, so the driver's own ROLLBACK
//! fails and its connection would go back to the pool still "in a
//! transaction"; the pool must not hand such a connection out again.
//! The full disk is `PRAGMA max_page_count` on every pooled connection.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use custodian_store::{CustodyRecord, LedgerContext, Store};
use custodian_store_sqlite::SqliteStore;

async fn set_max_pages(store: &SqliteStore, pages: &str) {
    // Every connection the pool holds (at most 4): hold them all at once.
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(store.pool().acquire().await.unwrap());
    }
    for c in &mut held {
        sqlx::query(&format!("PRAGMA max_page_count = {pages}"))
            .execute(&mut **c)
            .await
            .unwrap();
    }
}

fn records(n: usize, from: usize) -> Vec<CustodyRecord> {
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-20T10:00:00+09:00").unwrap();
    (from..from + n)
        .map(|i| {
            CustodyRecord::new(
                "note",
                None,
                "E1",
                at,
                &serde_json::json!({"i": i, "pad": "x".repeat(2000)}),
            )
        })
        .collect()
}

#[tokio::test]
async fn writes_work_again_after_a_full_disk_is_freed() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("s.db").display());
    let store = SqliteStore::open(&url).await.unwrap();
    let ledger = LedgerContext {
        signer: custodian_ledger::NoteSigner::from_seed("test/ledger", [3; 32]).unwrap(),
        origin: "test/ledger".into(),
    };
    store.insert_custody(&records(5, 0), &ledger).await.unwrap();
    let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
        .fetch_one(store.pool())
        .await
        .unwrap();
    set_max_pages(&store, &(pages + 2).to_string()).await;
    // (A connection closed after a failure is replaced by one without the
    // page limit, so not every later write fails.)
    let mut failed = 0;
    for k in 0..6 {
        if store
            .insert_custody(&records(200, 1000 * (k + 1)), &ledger)
            .await
            .is_err()
        {
            failed += 1;
        }
    }
    assert!(failed >= 1, "the disk was not full");
    set_max_pages(&store, "1073741823").await;
    for k in 0..12 {
        store
            .insert_custody(&records(3, 100_000 + 10 * k), &ledger)
            .await
            .unwrap_or_else(|e| panic!("write {k} after the disk was freed: {e}"));
    }
    let n = store.ledger_record_count("custody").await.unwrap();
    assert_eq!(n, 5 + 200 * (6 - failed) as u64 + 36);
    // Nothing half-written: the ledger verifies.
    let report =
        custodian_store::audit::verify(&store, &ledger.signer.verifier(), None, &|_, _| {})
            .await
            .unwrap_or_else(|e| panic!("the ledger does not verify: {e}"));
    assert_eq!(report.size, n);
}
