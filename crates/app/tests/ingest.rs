//! The API's ingest path against a real (SQLite) store: refused lines are
//! answered and kept as rejects, good lines around them stored once, and a
//! person added to the directory after the first batch is accepted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use custodian_app::ingest::{ingest_batch, KnownPeople, MAX_BATCH_LINES};
use custodian_store::conformance::{ctx, person};
use custodian_store::Store;
use custodian_store_sqlite::SqliteStore;

fn at(s: &str) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(s).unwrap()
}

fn line(id: &str, user: &str) -> String {
    format!(
        r#"{{"id":"{id}","ts":"2026-11-20T10:00:00+09:00","user":"{user}","action":"logon","host":"pc-1"}}"#
    )
}

#[tokio::test]
async fn refused_lines_are_kept_as_rejects_and_a_new_person_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("s.db").display());
    let store = SqliteStore::open(&url).await.unwrap();
    let ledger = ctx();
    store
        .put_people(&[person("E1", custodian_core::Level::Internal, &["A"])])
        .await
        .unwrap();
    let known = KnownPeople::default();
    let body = [
        line("e1", "E1"),
        "{\"id\": \"broken\", \"ts\": ".into(),
        line("e2", "E2"),
        line("e1", "E1"),
    ]
    .join("\n");
    let t0 = at("2026-11-20T10:00:00+09:00");
    let b = ingest_batch(
        &store,
        &ledger,
        &known,
        "tok-collector",
        t0,
        body.as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!((b.accepted, b.new, b.already_stored), (2, 1, 1));
    let lines: Vec<u64> = b.rejected.iter().map(|r| r.0).collect();
    assert_eq!(lines, [2, 3]);
    assert!(
        b.rejected[1].1.contains("unknown user 'E2'"),
        "{:?}",
        b.rejected
    );
    let kept = store.rejects(10).await.unwrap();
    assert_eq!(kept.len(), 2);
    assert!(kept.iter().all(|r| r.file == "api:tok-collector"));
    assert_eq!(store.counts().await.unwrap().events, 1);

    // E2 joins the directory; within the reload period the held directory
    // still refuses them, after it they are read again and accepted.
    store
        .put_people(&[
            person("E1", custodian_core::Level::Internal, &["A"]),
            person("E2", custodian_core::Level::Internal, &["A"]),
        ])
        .await
        .unwrap();
    let soon = at("2026-11-20T10:00:02+09:00");
    let b = ingest_batch(
        &store,
        &ledger,
        &known,
        "tok",
        soon,
        line("e3", "E2").as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(b.new, 0);
    let later = at("2026-11-20T10:00:06+09:00");
    let b = ingest_batch(
        &store,
        &ledger,
        &known,
        "tok",
        later,
        line("e3", "E2").as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!((b.new, b.rejected.len()), (1, 0));

    // Over the line bound: refused whole, nothing stored.
    let many: String = (0..=MAX_BATCH_LINES)
        .map(|i| line(&format!("m{i}"), "E1") + "\n")
        .collect();
    let err = ingest_batch(&store, &ledger, &known, "tok", later, many.as_bytes())
        .await
        .unwrap_err();
    assert!(
        matches!(err, custodian_app::error::AppError::TooLarge(_)),
        "{err}"
    );
    assert_eq!(store.counts().await.unwrap().events, 2);
}
