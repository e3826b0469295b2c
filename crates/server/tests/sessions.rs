//! Sessions and logins through the router on a real SQLite store: CSRF,
//! rate limits that cannot be raced or used to lock someone out, logging
//! out, revoked tokens, and the one JSON error shape.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::{json, Value};

use custodian_server::Role;

use common::*;

#[tokio::test]
async fn csrf_sessions_and_rate_limits() {
    let w = world().await;
    let (cookie, csrf) = login(&w, Role::Employee).await;
    // State changes need the CSRF token with a session cookie.
    let (s, _, _) = call(
        &w,
        "POST",
        "/api/contact-reports",
        &[("cookie", &cookie)],
        Some(contact_report()),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = call(
        &w,
        "POST",
        "/api/contact-reports",
        &[("cookie", &cookie), ("x-csrf-token", "wrong")],
        Some(contact_report()),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v, _) = call(
        &w,
        "POST",
        "/api/contact-reports",
        &[("cookie", &cookie), ("x-csrf-token", &csrf)],
        Some(contact_report()),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    // A bad report is refused with the reason, not stored.
    let (s, v, _) = call(
        &w,
        "POST",
        "/api/contact-reports",
        &[("cookie", &cookie), ("x-csrf-token", &csrf)],
        Some(json!({"approach": 7})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    // A forged cookie (payload changed, MAC kept) is nobody.
    let forged = {
        let v = cookie.trim_start_matches("custodian_session=v1.");
        let (payload, mac) = v.split_once('.').unwrap();
        let mut p = payload.to_string();
        p.replace_range(0..1, if p.starts_with('e') { "f" } else { "e" });
        format!("custodian_session=v1.{p}.{mac}")
    };
    let (s, _, _) = call(&w, "GET", "/api/me", &[("cookie", &forged)], None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Sessions end after 8 hours.
    let (s, _, _) = call(&w, "GET", "/api/me", &[("cookie", &cookie)], None).await;
    assert_eq!(s, StatusCode::OK);
    w.now.fetch_add(8 * 3600 + 1, Ordering::SeqCst);
    let (s, _, _) = call(&w, "GET", "/api/me", &[("cookie", &cookie)], None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Five wrong passwords, then even the right one waits a minute.
    for _ in 0..5 {
        let (s, _, _) = call(
            &w,
            "POST",
            "/api/login",
            &[],
            Some(json!({"username": "analyst", "password": "guess"})),
        )
        .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    let right = json!({"username": "analyst", "password": "pw-analyst"});
    let (s, _, _) = call(&w, "POST", "/api/login", &[], Some(right.clone())).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    w.now.fetch_add(61, Ordering::SeqCst);
    let (s, _, _) = call(&w, "POST", "/api/login", &[], Some(right)).await;
    assert_eq!(s, StatusCode::OK);
    // Unknown accounts answer like wrong passwords.
    let (s, v, _) = call(
        &w,
        "POST",
        "/api/login",
        &[],
        Some(json!({"username": "nobody", "password": "x"})),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(v["error"], "wrong name or password");
    // The metrics count without naming anyone or any route, and only
    // for the auditor and the administrator.
    let (s, _, _) = call(&w, "GET", "/metrics", &[], None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (auditor, _) = login(&w, Role::Auditor).await;
    let (s, m, _) = call(&w, "GET", "/metrics", &[("cookie", &auditor)], None).await;
    assert_eq!(s, StatusCode::OK);
    let m = m.as_str().unwrap().to_string();
    assert!(
        !m.contains("contact-reports") && !m.contains("route="),
        "{m}"
    );
    assert!(
        m.contains("custodian_http_responses_total{class=\"2xx\"}"),
        "{m}"
    );
    assert!(
        m.contains("custodian_logins_total{result=\"rate_limited\"} 1"),
        "{m}"
    );
    assert!(!m.contains("analyst\""), "{m}");
}

#[tokio::test]
async fn logging_out_or_disabling_the_account_ends_the_session_at_once() {
    let w = world().await;
    // Logging out (API): the copied cookie no longer works.
    let (cookie, csrf) = login(&w, Role::Analyst).await;
    let h = [("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str())];
    let (s, _, _) = call(&w, "GET", "/api/alerts", &h, None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, _) = call(&w, "POST", "/api/logout", &h, None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, _) = call(&w, "GET", "/api/alerts", &h, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // A new login works; logging out of the console ends that one too.
    let (cookie, _) = login(&w, Role::Analyst).await;
    let h = [("cookie", cookie.as_str())];
    let (s, _, _) = call(&w, "GET", "/ui/alerts", &h, None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, _) = call(&w, "POST", "/ui/logout", &h, None).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (s, _, _) = call(&w, "GET", "/ui/alerts", &h, None).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "sent back to log in");
    // Disabling the account, or changing its role, ends its sessions.
    let (cookie, _) = login(&w, Role::Auditor).await;
    let h = [("cookie", cookie.as_str())];
    let (s, _, _) = call(&w, "GET", "/api/ledger/status", &h, None).await;
    assert_eq!(s, StatusCode::OK);
    let mut a = w.store.account("auditor").await.unwrap().unwrap();
    a.role = "analyst".into();
    w.store.put_account(&a).await.unwrap();
    let (s, _, _) = call(&w, "GET", "/api/ledger/status", &h, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "role changed");
    let (cookie, _) = login(&w, Role::Employee).await;
    let h = [("cookie", cookie.as_str())];
    let (s, _, _) = call(&w, "GET", "/api/me", &h, None).await;
    assert_eq!(s, StatusCode::OK);
    let mut a = w.store.account("employee").await.unwrap().unwrap();
    a.disabled = true;
    w.store.put_account(&a).await.unwrap();
    let (s, _, _) = call(&w, "GET", "/api/me", &h, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "account disabled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_passwords_cannot_race_the_limit() {
    let w = Arc::new(world().await);
    let mut tasks = Vec::new();
    for _ in 0..60 {
        let w = w.clone();
        tasks.push(tokio::spawn(async move {
            login_from(&w, "192.0.2.7:40000", "analyst", "guess").await
        }));
    }
    let mut by_status = std::collections::BTreeMap::new();
    for t in tasks {
        *by_status.entry(t.await.unwrap().as_u16()).or_insert(0) += 1;
    }
    // At most five are checked; the rest are refused before any check.
    let checked = by_status.get(&401).copied().unwrap_or(0);
    assert!(checked <= 5, "{by_status:?}");
    assert!(
        by_status.get(&429).copied().unwrap_or(0) >= 50,
        "{by_status:?}"
    );
    assert!(
        by_status.keys().all(|s| [401, 429, 503].contains(s)),
        "{by_status:?}"
    );
}

#[tokio::test]
async fn a_stranger_cannot_lock_the_analyst_out() {
    let w = world().await;
    // The analyst logs in from their own PC.
    assert_eq!(
        login_from(&w, "10.1.1.1:50000", "analyst", "pw-analyst").await,
        StatusCode::OK
    );
    // A stranger guesses from five addresses, five times each, then more.
    let mut refused = 0;
    for i in 0..40 {
        let addr = format!("198.51.100.{}:1000", i % 8);
        if login_from(&w, &addr, "analyst", "guess").await == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
        }
    }
    assert!(refused >= 10, "{refused}");
    // The analyst, from their PC, still logs in at once.
    assert_eq!(
        login_from(&w, "10.1.1.1:50001", "analyst", "pw-analyst").await,
        StatusCode::OK
    );
    // The stranger's own address stays locked for the analyst's account.
    assert_eq!(
        login_from(&w, "198.51.100.1:1000", "analyst", "pw-analyst").await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn a_revoked_token_is_refused_at_once_and_the_revocation_is_ledgered() {
    let w = world().await;
    let spare = [("authorization", "Bearer cst_spare")];
    let (s, v, _) = call(&w, "GET", "/api/tokens", &spare, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v.as_array().unwrap().len(), 2, "{v}");
    assert!(!v.to_string().contains("cst_"), "{v}");
    let (admin, csrf) = login(&w, Role::Admin).await;
    let h = [("cookie", admin.as_str()), ("x-csrf-token", csrf.as_str())];
    let before = w.store.ledger_record_count("custody").await.unwrap();
    let (s, v, _) = call(&w, "POST", "/api/tokens/spare/revoke", &h, None).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(
        w.store.ledger_record_count("custody").await.unwrap(),
        before + 1
    );
    // The very next request with it is refused.
    let (s, _, _) = call(&w, "GET", "/api/tokens", &spare, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _, _) = call(&w, "POST", "/api/tokens/spare/revoke", &h, None).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _, _) = call(&w, "POST", "/api/tokens/nope/revoke", &h, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, v, _) = call(&w, "GET", "/api/tokens", &h, None).await;
    let spare = v
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "spare")
        .unwrap();
    assert!(spare["revoked_at"].is_string(), "{v}");
}

#[tokio::test]
async fn every_error_has_one_json_shape_and_a_documented_batch_fits() {
    let w = world().await;
    let admin = [("authorization", "Bearer cst_spare")];
    // A documented batch of 20,000 lines (about 2.6 MB) is taken.
    let mut batch = String::new();
    for i in 0..20_000 {
        batch.push_str(&format!(
            r#"{{"id":"batch-{i:05}","ts":"2026-11-20T10:00:00+09:00","user":"E10001","action":"logon","host":"pc-10001","note":"{}"}}"#,
            "x".repeat(40)
        ));
        batch.push('\n');
    }
    assert!(batch.len() > 2 << 20);
    let (s, v, _) = call(
        &w,
        "POST",
        "/api/events",
        &admin,
        Some(Value::String(batch)),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["new"], 20_000);
    // Beyond 16 MiB: 413, as JSON.
    let big = "y".repeat((16 << 20) + 10);
    let (s, v, _) = call(&w, "POST", "/api/events", &admin, Some(Value::String(big))).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(v["status"], 413, "{v}");
    let (analyst, _) = login(&w, Role::Analyst).await;
    let h = [("cookie", analyst.as_str())];
    for (path, status) in [
        ("/api/cases/CASE-nope", StatusCode::NOT_FOUND),
        ("/api/cases/%FF%FE", StatusCode::BAD_REQUEST),
        ("/ui/people/P-000000", StatusCode::NOT_FOUND),
        ("/api/nowhere", StatusCode::NOT_FOUND),
    ] {
        let (s, v, _) = call(&w, "GET", path, &h, None).await;
        assert_eq!(s, status, "{path}: {v}");
        assert_eq!(v["status"], status.as_u16(), "{path}: {v}");
        assert!(
            v["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{path}: {v}"
        );
    }
}
