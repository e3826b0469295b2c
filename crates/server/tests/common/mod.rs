//! What the server's integration tests share: a world (a real SQLite
//! store with an account of every role and a small company), a call
//! through the router, logging in, and what each role should get.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use custodian_server::{app, hash_password, token_sha256, Access, AppState, Role};
use custodian_store::{Account, ApiToken, LedgerContext, Store};

pub struct World {
    pub router: axum::Router,
    pub store: Arc<dyn Store>,
    /// The pseudonym of E10001, the subject of the alert.
    pub person: String,
    pub now: Arc<AtomicI64>,
    /// A case opened from the one stored alert.
    pub case: String,
    pub _dir: tempfile::TempDir,
}

pub async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("s.db").display());
    let store: Arc<dyn Store> = Arc::new(
        custodian_store_sqlite::SqliteStore::open(&url)
            .await
            .unwrap(),
    );
    for (i, r) in Role::ALL.iter().enumerate() {
        store
            .put_account(&Account {
                username: r.as_str().into(),
                role: r.as_str().into(),
                user_id: Some(format!("E1000{i}")),
                password_hash: hash_password(&format!("pw-{}", r.as_str()), &[i as u8 + 1; 16])
                    .unwrap(),
                disabled: false,
            })
            .await
            .unwrap();
    }
    for (token, name, role) in [
        ("cst_analyst_machine", "siem", "analyst"),
        ("cst_spare", "spare", "admin"),
    ] {
        store
            .put_api_token(&ApiToken {
                token_sha256: token_sha256(token),
                name: name.into(),
                role: role.into(),
                created_at: "2026-11-26T00:00:00+09:00".into(),
                revoked_at: None,
            })
            .await
            .unwrap();
    }
    let now = Arc::new(AtomicI64::new(1_790_000_000));
    let clock_now = now.clone();
    let ledger = LedgerContext {
        signer: custodian_ledger::NoteSigner::from_seed("test.example/ledger", [9; 32]).unwrap(),
        origin: "test.example/ledger".into(),
    };
    // The alert's subject, in R&D on project HX, and a document of the
    // sales unit's project PX they opened (outside their scope).
    let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let person = |id: &str, name: &str, unit: &str, project: &str| custodian_core::model::Person {
        user_id: id.into(),
        name: name.into(),
        email: format!("{id}@example.com"),
        org_unit: unit.into(),
        site: "Tokyo".into(),
        role: "engineer".into(),
        manager_id: None,
        clearance: custodian_core::Level::Confidential,
        projects: [project.to_string()].into_iter().collect(),
        hire_date: day("2020-04-01"),
        leave_date: None,
    };
    store
        .put_people(&[
            person("E10000", "Ken Ito", "R&D", "HX"),
            person("E10001", "Taro Yamada", "R&D", "HX"),
            person("E10002", "Hanako Sato", "Sales", "PX"),
        ])
        .await
        .unwrap();
    store
        .put_documents(
            &[custodian_core::model::Document {
                doc_id: "D1".into(),
                title: "PX price list".into(),
                classification: custodian_core::Level::Confidential,
                owner_id: "E10002".into(),
                projects: custodian_core::model::Projects::parse("PX"),
                kind: "pricing".into(),
                created: day("2026-01-01"),
                medium: custodian_core::model::Medium::File,
            }],
            &[],
            &ledger,
        )
        .await
        .unwrap();
    let line = r#"{"id":"ev-1","ts":"2026-11-19T19:00:00+09:00","user":"E10001","action":"doc.print","doc":"D1","pages":12}"#;
    let ev = custodian_ingest::accept_event_line(line.as_bytes(), |_| true).unwrap();
    store.insert_events(vec![ev], &ledger).await.unwrap();
    store
        .insert_alerts(
            &[custodian_store::NewAlert {
                id: "A-1".into(),
                user: "E10001".into(),
                raised_at: chrono::DateTime::parse_from_rfc3339("2026-11-20T10:00:00+09:00")
                    .unwrap(),
                severity: "high".into(),
                score: 80.0,
                body: r#"{"id":"A-1","indicators":[],"summary":"E10001 printed secret material"}"#
                    .into(),
            }],
            &ledger,
        )
        .await
        .unwrap();
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-21T09:00:00+09:00").unwrap();
    let case = custodian_app::cases::open(store.as_ref(), &ledger, at, "A-1", "analyst")
        .await
        .unwrap()
        .case;
    let state = Arc::new(AppState::new(
        store.clone(),
        ledger,
        [5; 32],
        Arc::new(move || clock_now.load(Ordering::SeqCst)),
    ));
    World {
        router: app(state.clone()),
        person: state.pseudonym("E10001"),
        store,
        now,
        case,
        _dir: dir,
    }
}

pub async fn call(
    w: &World,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (StatusCode, Value, Vec<String>) {
    let mut b = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = match body {
        Some(Value::String(raw)) if raw.starts_with("form:") => b
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(raw.trim_start_matches("form:").to_string())),
        Some(Value::String(raw)) => b
            .header("content-type", "application/x-ndjson")
            .body(Body::from(raw)),
        Some(v) => b
            .header("content-type", "application/json")
            .body(Body::from(v.to_string())),
        None => b.body(Body::empty()),
    }
    .unwrap();
    let resp = w.router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let cookies = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let v = serde_json::from_slice(&bytes)
        .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, v, cookies)
}

/// Logs in; returns (cookie header, CSRF token).
pub async fn login(w: &World, role: Role) -> (String, String) {
    let (s, v, cookies) = call(
        w,
        "POST",
        "/api/login",
        &[],
        Some(json!({"username": role.as_str(), "password": format!("pw-{}", role.as_str())})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let c = cookies
        .iter()
        .find(|c| c.starts_with("custodian_session="))
        .unwrap();
    for attr in ["HttpOnly", "Secure", "SameSite=Strict"] {
        assert!(c.contains(attr), "{c}");
    }
    (
        c.split(';').next().unwrap().to_string(),
        v["csrf_token"].as_str().unwrap().to_string(),
    )
}

/// Whether a response shows anyone's directory id, name or e-mail.
pub fn names_someone(v: &Value) -> Option<&'static str> {
    let text = match v {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    [
        "E10000",
        "E10001",
        "E10002",
        "Ken Ito",
        "Taro Yamada",
        "Hanako Sato",
        "@example.com",
    ]
    .into_iter()
    .find(|n| text.contains(n))
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn contact_report() -> Value {
    json!({"approach": "asked_directions", "counterpart": {"claimed_name": "Ivan Petrenko", "claimed_nationality": "Ukrainian"},
           "gifts_jpy": 0, "meetings": 1, "met_on": "2026-11-20", "narrative": "Asked the way, then offered dinner.",
           "place": "Shinagawa station", "requests": ["brochure"]})
}

/// The expected answer for a caller on a route.
pub fn expected(route: &custodian_server::Route, who: Option<Role>) -> StatusCode {
    match (route.access, who) {
        (Access::Public, _) if route.method == "POST" && route.path.starts_with("/ui/") => {
            StatusCode::SEE_OTHER
        }
        // The world's one alert has its case: opening it again answers
        // with that case.
        (Access::Roles(rs), Some(r))
            if route.path == "/api/cases" && route.method == "POST" && rs.contains(&r) =>
        {
            StatusCode::OK
        }
        // The way in: to the console, and on to the caller's first page.
        (Access::Public, _) if route.path == "/" => StatusCode::SEE_OTHER,
        (Access::Console(rs), Some(r)) if route.path == "/ui/" && rs.contains(&r) => {
            StatusCode::SEE_OTHER
        }
        // These forms answer with the page itself (the revealed name, the
        // verification's result), not a redirect.
        (Access::Console(rs), Some(r))
            if rs.contains(&r)
                && matches!(
                    route.path,
                    "/ui/people/{person}/reveal" | "/ui/ledger/verify"
                ) =>
        {
            StatusCode::OK
        }
        (Access::Public, _) => StatusCode::OK,
        (Access::Console(_), None) => StatusCode::SEE_OTHER,
        (Access::Console(rs), Some(r)) if rs.contains(&r) => {
            if route.method == "POST" {
                StatusCode::SEE_OTHER
            } else {
                StatusCode::OK
            }
        }
        (Access::Console(_), Some(_)) => StatusCode::FORBIDDEN,
        (Access::Roles(_), None) => StatusCode::UNAUTHORIZED,
        (Access::Roles(rs), Some(r)) if rs.contains(&r) => {
            if matches!(
                (route.method, route.path),
                (
                    "POST",
                    "/api/contact-reports"
                        | "/api/cases"
                        | "/api/cases/{case}/actions"
                        | "/api/alerts/{alert}/ack"
                        | "/api/tokens/{token}/revoke"
                )
            ) {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            }
        }
        (Access::Roles(_), Some(_)) => StatusCode::FORBIDDEN,
    }
}

/// A login from a given client address (as `serve` would see it).
pub async fn login_from(w: &World, addr: &str, user: &str, password: &str) -> StatusCode {
    let mut req = Request::builder()
        .method("POST")
        .uri("/api/login")
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"username": user, "password": password}).to_string(),
        ))
        .unwrap();
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(addr));
    w.router.clone().oneshot(req).await.unwrap().status()
}
