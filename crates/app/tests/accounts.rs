//! Accounts and API tokens against a real (SQLite) store: what is refused
//! (short passwords, unknown roles, unknown people, a token name twice),
//! that only hashes are kept, and that a disabled account stays on record.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use custodian_app::accounts::{self, verify_password, Role};
use custodian_app::error::AppError;
use custodian_app::tokens;
use custodian_core::Level;
use custodian_store::conformance::person;
use custodian_store::Store;
use custodian_store_sqlite::SqliteStore;

async fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("s.db").display());
    let store = SqliteStore::open(&url).await.unwrap();
    store
        .put_people(&[person("E1", Level::Secret, &["LX"])])
        .await
        .unwrap();
    (dir, store)
}

#[tokio::test]
async fn an_account_keeps_only_a_salted_argon2id_hash() {
    let (_d, store) = store().await;
    let pw = "correct horse battery";
    let a = accounts::set(&store, "mika", "owner", Some("E1".into()), pw)
        .await
        .unwrap();
    assert!(
        a.password_hash.starts_with("$argon2id$"),
        "{}",
        a.password_hash
    );
    assert!(!a.password_hash.contains(pw));
    assert!(verify_password(pw, &a.password_hash));
    assert!(!verify_password("correct horse batterY", &a.password_hash));
    // Setting the same password again draws a new salt.
    let b = accounts::set(&store, "mika", "owner", Some("E1".into()), pw)
        .await
        .unwrap();
    assert_ne!(a.password_hash, b.password_hash);
    let stored = store.account("mika").await.unwrap().unwrap();
    assert_eq!(stored.password_hash, b.password_hash);
    assert_eq!(stored.role, "owner");
    assert_eq!(stored.user_id.as_deref(), Some("E1"));
}

#[tokio::test]
async fn bad_accounts_are_refused_and_nothing_is_written() {
    let (_d, store) = store().await;
    let long = "a long enough password";
    for (user, role, person, pw, says) in [
        (
            "mika",
            "owner",
            None,
            "11 chars..",
            "at least 12 characters",
        ),
        ("mika", "root", None, long, "unknown role 'root'"),
        ("mika", "owner", Some("E9"), long, "no person 'E9'"),
        ("mi ka", "owner", None, long, "without spaces"),
        ("", "owner", None, long, "without spaces"),
    ] {
        let e = accounts::set(&store, user, role, person.map(String::from), pw)
            .await
            .unwrap_err();
        assert!(e.to_string().contains(says), "{e} (expected {says})");
        assert!(matches!(e, AppError::Invalid(_) | AppError::NotFound(_)));
    }
    assert!(store.accounts().await.unwrap().is_empty());
    // Twelve characters is enough, counted as characters, not bytes.
    accounts::set(&store, "kenji", "analyst", None, "秘密のパスワード１２３４")
        .await
        .unwrap();
    assert!(
        accounts::set(&store, "kenji", "analyst", None, "秘密のパスワード１２３")
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_disabled_account_stays_on_record() {
    let (_d, store) = store().await;
    accounts::set(&store, "kenji", "analyst", None, "a long enough password")
        .await
        .unwrap();
    accounts::disable(&store, "kenji").await.unwrap();
    let a = store.account("kenji").await.unwrap().unwrap();
    assert!(a.disabled);
    assert!(matches!(
        accounts::disable(&store, "nobody").await,
        Err(AppError::NotFound(_))
    ));
}

#[tokio::test]
async fn a_token_is_shown_once_and_its_name_is_unique() {
    let (_d, store) = store().await;
    let at = chrono::DateTime::parse_from_rfc3339("2026-12-01T09:00:00+09:00").unwrap();
    let t = tokens::create(&store, at, "collector-1", "admin")
        .await
        .unwrap();
    assert!(t.starts_with("cst_") && t.len() > 40, "{t}");
    let stored = store.api_tokens().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].token_sha256, accounts::token_sha256(&t));
    assert_ne!(stored[0].token_sha256, t);
    assert_eq!(stored[0].created_at, at.to_rfc3339());
    let again = tokens::create(&store, at, "collector-1", "admin").await;
    assert!(matches!(again, Err(AppError::Conflict(_))), "{again:?}");
    assert!(matches!(
        tokens::create(&store, at, "collector-2", "superuser").await,
        Err(AppError::Invalid(_))
    ));
    assert_eq!(store.api_tokens().await.unwrap().len(), 1);
    // A second token differs from the first.
    let u = tokens::create(&store, at, "collector-2", "employee")
        .await
        .unwrap();
    assert_ne!(t, u);
    assert_eq!(Role::parse("employee"), Some(Role::Employee));
}
