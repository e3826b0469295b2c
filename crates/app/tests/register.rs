//! The register's use cases at a fixed time against a real (SQLite) store:
//! each change is a ledgered register change, a repeated level records
//! nothing, and who may open an entry follows the policy as of the time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use custodian_app::error::AppError;
use custodian_app::register::{designate, set_level, show, NewEntry};
use custodian_core::Level;
use custodian_store::conformance::{ctx, person};
use custodian_store::Store;
use custodian_store_sqlite::SqliteStore;

#[tokio::test]
async fn designations_and_level_changes_are_ledgered_at_the_time_given() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("s.db").display());
    let store = SqliteStore::open(&url).await.unwrap();
    let ledger = ctx();
    store
        .put_people(&[
            person("E1", Level::Secret, &["LX"]),
            person("E2", Level::Secret, &["HX"]),
        ])
        .await
        .unwrap();
    let at = chrono::DateTime::parse_from_rfc3339("2024-04-01T09:00:00+09:00").unwrap();
    let entry = |id: &str, projects: &str| NewEntry {
        id: id.into(),
        title: "LX design data".into(),
        level: Level::Confidential,
        owner: "E1".into(),
        projects: projects.into(),
        kind: "design".into(),
        knowledge: false,
        actor: "E1".into(),
    };
    let d = designate(&store, &ledger, at, entry("D1", "LX"))
        .await
        .unwrap();
    assert_eq!(d.created, at.date_naive());
    // Twice: a conflict; confidential without a project: invalid.
    let again = designate(&store, &ledger, at, entry("D1", "LX")).await;
    assert!(matches!(again, Err(AppError::Conflict(_))), "{again:?}");
    let bare = designate(&store, &ledger, at, entry("D2", "")).await;
    assert!(matches!(bare, Err(AppError::Invalid(_))), "{bare:?}");

    assert_eq!(
        set_level(&store, &ledger, at, "D1", Level::Confidential, "E1")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        set_level(&store, &ledger, at, "D1", Level::Secret, "E1")
            .await
            .unwrap(),
        Some(Level::Confidential)
    );
    let e = show(&store, "D1", at).await.unwrap();
    let fields: Vec<&str> = e.history.iter().map(|h| h.field.as_str()).collect();
    assert_eq!(fields, ["designated", "level"]);
    assert!(e.history.iter().all(|h| h.at == at));
    // Secret now: only its owner may open it (nobody else has an approval).
    assert_eq!(e.may_open, ["E1"]);
    assert_eq!(e.people, 2);
    let st = custodian_store::audit::status(&store).await.unwrap();
    assert_eq!(st.size, 2, "two register changes, two ledger leaves");
}
