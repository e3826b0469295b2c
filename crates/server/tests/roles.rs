//! Every role against every route, with the expected answer, on a real
//! SQLite store: the table of issue 6. Also: CSRF, login rate limiting,
//! expired and forged sessions, API tokens, and the OpenAPI document
//! covering every route.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use custodian_server::{app, hash_password, token_sha256, Access, AppState, Role, ROUTES};
use custodian_store::{Account, ApiToken, LedgerContext, Store};

struct World {
    router: axum::Router,
    store: Arc<dyn Store>,
    /// The pseudonym of E10001, the subject of the alert.
    person: String,
    now: Arc<AtomicI64>,
    /// A case opened from the one stored alert.
    case: String,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
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
    let (case, _, _) = custodian_app::cases::open(store.as_ref(), &ledger, at, "A-1", "analyst")
        .await
        .unwrap();
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

async fn call(
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
async fn login(w: &World, role: Role) -> (String, String) {
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
fn names_someone(v: &Value) -> Option<&'static str> {
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

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn contact_report() -> Value {
    json!({"approach": "asked_directions", "counterpart": {"claimed_name": "Ivan Petrenko", "claimed_nationality": "Ukrainian"},
           "gifts_jpy": 0, "meetings": 1, "met_on": "2026-11-20", "narrative": "Asked the way, then offered dinner.",
           "place": "Shinagawa station", "requests": ["brochure"]})
}

/// The expected answer for a caller on a route.
fn expected(route: &custodian_server::Route, who: Option<Role>) -> StatusCode {
    match (route.access, who) {
        (Access::Public, _) if route.method == "POST" && route.path.starts_with("/ui/") => {
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

#[tokio::test]
async fn every_role_against_every_route() {
    let w = world().await;
    let mut sessions = Vec::new();
    for r in Role::ALL {
        sessions.push((r, login(&w, r).await));
    }
    let mut checked = 0;
    for route in ROUTES {
        let path = route
            .path
            .replace("{case}", &w.case)
            .replace("{alert}", "A-1")
            .replace("{person}", &w.person)
            .replace("{kind}", "alert")
            .replace("{token}", "spare")
            .replace("{record}", "A-1");
        let path = path.as_str();
        let body = |role: Option<Role>| match route.path {
            "/api/login" => Some(
                json!({"username": role.unwrap_or(Role::Employee).as_str(), "password": format!("pw-{}", role.unwrap_or(Role::Employee).as_str())}),
            ),
            "/api/contact-reports" => Some(contact_report()),
            _ => None,
        };
        let csrf_of = |role: Option<Role>| {
            role.and_then(|r| sessions.iter().find(|(x, _)| *x == r))
                .map(|(_, (_, c))| c.clone())
                .unwrap_or_default()
        };
        let raw = |role: Option<Role>| {
            match (route.method, route.path) {
            ("POST", "/api/events") => Some(Value::String(
                r#"{"id":"e1","ts":"2026-11-20T10:00:00+09:00","user":"E10001","action":"doc.view","doc":"D1"}"#.into(),
            )),
            ("POST", "/api/cases") => Some(json!({"alert": "A-1"})),
            ("POST", "/api/cases/{case}/actions") => Some(json!({"action": "note", "text": "looked at the prints"})),
            ("POST", "/ui/cases") => Some(Value::String(format!(
                "form:csrf={}&alert=A-1",
                urlencode(&csrf_of(role))
            ))),
            ("POST", "/ui/cases/{case}/notes") => Some(Value::String(format!(
                "form:csrf={}&text=seen",
                urlencode(&csrf_of(role))
            ))),
            ("POST", "/ui/alerts/{alert}/ack" | "/ui/ledger/verify") => Some(Value::String(format!(
                "form:csrf={}",
                urlencode(&csrf_of(role))
            ))),
            ("POST", "/ui/people/{person}/reveal") => Some(Value::String(format!(
                "form:csrf={}&reason=interview+for+the+case",
                urlencode(&csrf_of(role))
            ))),
            ("POST", "/ui/login") => Some(Value::String(format!(
                "form:username={0}&password=pw-{0}&next=/ui/report",
                role.unwrap_or(Role::Employee).as_str()
            ))),
            ("POST", "/ui/report") => Some(Value::String(format!(
                "form:csrf={}&met_on=2026-11-20&place=Shinagawa&approach=asked_directions&claimed_name=Ivan&meetings=1&gifts_jpy=0&requests=brochure&narrative=dinner",
                urlencode(&csrf_of(role))
            ))),
            _ => body(role),
        }
        };
        // Anonymous.
        let (s, v, _) = call(&w, route.method, path, &[], raw(None)).await;
        assert_eq!(
            s,
            expected(route, None),
            "anonymous {} {}: {v}",
            route.method,
            route.path
        );
        checked += 1;
        // Each role with its session (and its CSRF token).
        for (r, (cookie, csrf)) in &sessions {
            // Logging out ends the session: log out of a session of its own.
            let (cookie, csrf) = if route.path.ends_with("/logout") {
                login(&w, *r).await
            } else {
                (cookie.clone(), csrf.clone())
            };
            let h = [("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str())];
            let (s, v, _) = call(&w, route.method, path, &h, raw(Some(*r))).await;
            assert_eq!(
                s,
                expected(route, Some(*r)),
                "{} {} {}: {v}",
                r.as_str(),
                route.method,
                route.path
            );
            // An analyst sees pseudonyms on every route but a reveal (and
            // the bundle, whose export is one: see below).
            if *r == Role::Analyst
                && !route.path.contains("reveal")
                && !route.path.ends_with("/bundle")
            {
                assert_eq!(
                    names_someone(&v),
                    None,
                    "analyst {} {}: {v}",
                    route.method,
                    route.path
                );
            }
            checked += 1;
        }
        // A machine with an analyst token (no CSRF: no cookie).
        let (s, v, _) = call(
            &w,
            route.method,
            path,
            &[("authorization", "Bearer cst_analyst_machine")],
            raw(Some(Role::Analyst)),
        )
        .await;
        let want = match (route.access, route.path) {
            // A token is no person: it cannot file a report as someone.
            (_, "/api/contact-reports") => StatusCode::FORBIDDEN,
            // The console needs a session; a token is sent to log in.
            (Access::Console(_), _) => StatusCode::SEE_OTHER,
            _ => expected(route, Some(Role::Analyst)),
        };
        assert_eq!(
            s, want,
            "analyst token {} {}: {v}",
            route.method, route.path
        );
        if !route.path.ends_with("/bundle") {
            assert_eq!(
                names_someone(&v),
                None,
                "analyst token {} {}: {v}",
                route.method,
                route.path
            );
        }
        checked += 1;
    }
    assert_eq!(checked, ROUTES.len() * (Role::ALL.len() + 2));
    // A wrong token is refused, not treated as anonymous.
    let (s, _, _) = call(
        &w,
        "GET",
        "/api/alerts",
        &[("authorization", "Bearer cst_nope")],
        None,
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _, _) = call(&w, "GET", "/api/nowhere", &[], None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

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
async fn the_openapi_document_lists_every_route_with_its_roles() {
    let w = world().await;
    let (s, doc, _) = call(&w, "GET", "/api/openapi.json", &[], None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.0.3");
    for r in ROUTES {
        let op = &doc["paths"][r.path][r.method.to_lowercase()];
        assert!(op.is_object(), "{} {} missing", r.method, r.path);
        if let Access::Roles(rs) | Access::Console(rs) = r.access {
            let roles: Vec<&str> = op["x-roles"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap())
                .collect();
            assert_eq!(roles, rs.iter().map(|x| x.as_str()).collect::<Vec<_>>());
        }
    }
}

#[tokio::test]
async fn the_console_speaks_japanese_files_reports_and_redirects_only_home() {
    let w = world().await;
    // Anonymous: the page sends you to log in, remembering where you were.
    let req = Request::builder()
        .uri("/ui/report")
        .body(Body::empty())
        .unwrap();
    let resp = w.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()["location"], "/ui/login?next=/ui/report");
    // Logging in by form goes back there, never to another site.
    for (next, want) in [
        ("/ui/alerts", "/ui/alerts"),
        ("//evil.example/x", "/ui/report"),
        ("https://evil.example/", "/ui/report"),
    ] {
        let form = format!(
            "form:username=employee&password=pw-employee&next={}",
            urlencode(next)
        );
        let (s, _, _) = call(
            &w,
            "POST",
            "/ui/login",
            &[],
            Some(Value::String(form.clone())),
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let req = Request::builder()
            .method("POST")
            .uri("/ui/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(form.trim_start_matches("form:").to_string()))
            .unwrap();
        let resp = w.router.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.headers()["location"], want, "next={next}");
    }
    let (cookie, csrf) = login(&w, Role::Employee).await;
    // The form in Japanese, with the pattern explained and a CSRF field.
    let (s, page, _) = call(
        &w,
        "GET",
        "/ui/report",
        &[("cookie", &cookie), ("accept-language", "ja,en;q=0.5")],
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let page = page.as_str().unwrap().to_string();
    assert!(
        page.contains("接触の報告") && page.contains("道を尋ね"),
        "Japanese form with the known pattern"
    );
    assert!(page.contains(&format!("name=\"csrf\" value=\"{}\"", csrf)));
    let (_, en, _) = call(
        &w,
        "GET",
        "/ui/report?lang=en",
        &[("cookie", &cookie), ("accept-language", "ja")],
        None,
    )
    .await;
    assert!(
        en.as_str().unwrap().contains("Report an approach"),
        "the switch wins over the browser"
    );
    // Filing without the form's CSRF token is refused; with it, recorded.
    let fields = "met_on=2026-11-20&place=Shinagawa&approach=asked_directions&claimed_name=Ivan&meetings=1&gifts_jpy=5000&requests=brochure&narrative=dinner";
    let (s, _, _) = call(
        &w,
        "POST",
        "/ui/report",
        &[("cookie", &cookie)],
        Some(Value::String(format!("form:csrf=nope&{fields}"))),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let req = Request::builder()
        .method("POST")
        .uri("/ui/report")
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!("csrf={}&{fields}", urlencode(&csrf))))
        .unwrap();
    let resp = w.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let loc = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.starts_with("/ui/report?filed=CR-WEB-"), "{loc}");
    // An analyst opens a case from the queue, notes, and downloads the bundle.
    let (cookie, csrf) = login(&w, Role::Analyst).await;
    let (s, page, _) = call(&w, "GET", "/ui/alerts", &[("cookie", &cookie)], None).await;
    assert_eq!(s, StatusCode::OK);
    let page = page.as_str().unwrap().to_string();
    assert!(
        page.contains("P-") && !page.contains(">E10001<"),
        "pseudonyms, not ids: {page}"
    );
    let req = Request::builder()
        .method("POST")
        .uri("/ui/cases")
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!("csrf={}&alert=A-1", urlencode(&csrf))))
        .unwrap();
    let resp = w.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let case_url = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(case_url.starts_with("/ui/cases/CASE-"), "{case_url}");
    let (s, page, _) = call(&w, "GET", &case_url, &[("cookie", &cookie)], None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.as_str().unwrap().contains("/bundle"));
    let (s, _, _) = call(
        &w,
        "POST",
        &format!("{case_url}/notes"),
        &[("cookie", &cookie)],
        Some(Value::String("form:csrf=bad&text=x".into())),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "the note form needs the CSRF token"
    );
    // Pages carry a strict content security policy.
    let req = Request::builder()
        .uri("/ui/login")
        .body(Body::empty())
        .unwrap();
    let resp = w.router.clone().oneshot(req).await.unwrap();
    assert!(resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
}

#[tokio::test]
async fn a_case_over_the_api_exports_a_bundle_that_verifies() {
    let w = world().await;
    let tok = [("authorization", "Bearer cst_analyst_machine")];
    let (s, v, _) = call(
        &w,
        "POST",
        "/api/cases",
        &tok,
        Some(json!({"alert": "A-1"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let case = v["case"].as_str().unwrap().to_string();
    let (s, _, _) = call(
        &w,
        "POST",
        "/api/cases",
        &tok,
        Some(json!({"alert": "A-404"})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let path = format!("/api/cases/{case}/actions");
    let (s, v, _) = call(
        &w,
        "POST",
        &path,
        &tok,
        Some(json!({"action": "note", "text": "asked HR"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, _, _) = call(
        &w,
        "POST",
        &path,
        &tok,
        Some(json!({"action": "status", "status": "shelved"})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _, _) = call(
        &w,
        "POST",
        &path,
        &tok,
        Some(json!({"action": "status", "status": "closed"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _, _) = call(
        &w,
        "POST",
        &path,
        &tok,
        Some(json!({"action": "note", "text": "late"})),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a closed case takes no notes"
    );
    let (_, v, _) = call(&w, "GET", &format!("/api/cases/{case}"), &tok, None).await;
    assert_eq!(v["state"]["status"], "closed");
    assert_eq!(v["actions"].as_array().unwrap().len(), 3);
    // The bundle, downloaded and checked offline.
    let req = Request::builder()
        .uri(format!("/api/cases/{case}/bundle"))
        .header("authorization", "Bearer cst_analyst_machine")
        .body(Body::empty())
        .unwrap();
    let resp = w.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/zip");
    let zip = resp.into_body().collect().await.unwrap().to_bytes();
    let report =
        custodian_app::cases::verify_bundle(std::io::Cursor::new(zip.to_vec()), None).unwrap();
    assert_eq!(report["verified"], true, "{report}");
    assert_eq!(report["by_kind"]["alert"], 1, "{report}");
    assert_eq!(report["by_kind"]["custody"], 3, "{report}");
    // A forged report.html placed before the genuine one is refused.
    let forged = {
        use std::io::{Read, Write};
        let mut src = zip::ZipArchive::new(std::io::Cursor::new(zip.to_vec())).unwrap();
        let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default();
        out.start_file("xeport.html", opts).unwrap();
        out.write_all(b"<p>nothing happened</p>").unwrap();
        for i in 0..src.len() {
            let mut e = src.by_index(i).unwrap();
            let name = e.name().to_string();
            let mut b = Vec::new();
            e.read_to_end(&mut b).unwrap();
            out.start_file(name, opts).unwrap();
            out.write_all(&b).unwrap();
        }
        let mut z = out.finish().unwrap().into_inner();
        // Renamed in place (same length), in its local header and the
        // directory: two entries called report.html.
        while let Some(at) = z.windows(11).position(|w| w == b"xeport.html") {
            z[at..at + 11].copy_from_slice(b"report.html");
        }
        z
    };
    let err = custodian_app::cases::verify_bundle(std::io::Cursor::new(forged), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("report.html appears twice"), "{err}");
}

#[tokio::test]
async fn the_person_page_pseudonymises_until_a_logged_reveal() {
    let w = world().await;
    let (cookie, csrf) = login(&w, Role::Analyst).await;
    let h = [("cookie", cookie.as_str())];
    let person_url = format!("/ui/people/{}", w.person);
    let (s, page, _) = call(&w, "GET", &person_url, &h, None).await;
    assert_eq!(s, StatusCode::OK);
    let page = page.as_str().unwrap().to_string();
    // The week of the print outside their scope is drawn at its level.
    assert!(page.contains("<rect class=\"week confidential\""), "{page}");
    assert!(page
        .contains("printed confidential &#39;PX price list&#39; (12 pages), outside their scope"));
    assert!(
        !page.contains("Taro Yamada") && !page.contains("E10001"),
        "{page}"
    );
    // An unknown pseudonym is a 404, not someone else.
    let (s, _, _) = call(&w, "GET", "/ui/people/P-000000", &h, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Revealing needs a reason and the form's CSRF token, and is ledgered.
    let form = |c: &str, reason: &str| {
        Some(Value::String(format!(
            "form:csrf={}&reason={reason}",
            urlencode(c)
        )))
    };
    let reveal = format!("{person_url}/reveal");
    let (s, _, _) = call(&w, "POST", &reveal, &h, form("wrong", "interview")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = call(&w, "POST", &reveal, &h, form(&csrf, "no")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(w
        .store
        .custody_records("reveal", None, None)
        .await
        .unwrap()
        .is_empty());
    let before = w.store.ledger_record_count("custody").await.unwrap();
    let (s, page, _) = call(&w, "POST", &reveal, &h, form(&csrf, "case+interview")).await;
    assert_eq!(s, StatusCode::OK);
    let page = page.as_str().unwrap();
    assert!(
        page.contains("<b class=\"revealed\">Taro Yamada</b>"),
        "{page}"
    );
    let reveals = w
        .store
        .custody_records("reveal", None, Some("E10001"))
        .await
        .unwrap();
    assert_eq!(reveals.len(), 1);
    let body: Value = serde_json::from_str(&reveals[0].body).unwrap();
    assert_eq!(body["by"], "analyst");
    assert_eq!(body["reason"], "case interview");
    assert_eq!(
        w.store.ledger_record_count("custody").await.unwrap(),
        before + 1
    );
    // The next plain view is pseudonymised again, and lists the reveal.
    let (_, page, _) = call(&w, "GET", &person_url, &h, None).await;
    let page = page.as_str().unwrap();
    assert!(!page.contains("Taro Yamada"));
    assert!(page.contains("name revealed to analyst (reason: case interview)"));
}

#[tokio::test]
async fn alerts_filter_and_acknowledge_and_the_auditor_proves_and_verifies() {
    let w = world().await;
    let (cookie, csrf) = login(&w, Role::Analyst).await;
    let h = [("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str())];
    let ids = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, v, _) = call(&w, "GET", "/api/alerts?severity=high", &h, None).await;
    assert_eq!(ids(&v), ["A-1"]);
    let (_, v, _) = call(&w, "GET", "/api/alerts?severity=low", &h, None).await;
    assert!(ids(&v).is_empty());
    let (_, v, _) = call(&w, "GET", "/api/alerts?min_score=81", &h, None).await;
    assert!(ids(&v).is_empty());
    let (_, v, _) = call(
        &w,
        "GET",
        "/api/alerts?user=E10001&unacknowledged=1",
        &h,
        None,
    )
    .await;
    assert_eq!(ids(&v), ["A-1"]);
    assert_eq!(v[0]["acknowledged"], Value::Null);
    let (s, _, _) = call(&w, "POST", "/api/alerts/A-9/ack", &h, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v, _) = call(
        &w,
        "POST",
        "/api/alerts/A-1/ack",
        &h,
        Some(json!({"note": "seen, benign"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, v, _) = call(&w, "GET", "/api/alerts?unacknowledged=1", &h, None).await;
    assert!(ids(&v).is_empty());
    let (_, v, _) = call(&w, "GET", "/api/alerts", &h, None).await;
    assert_eq!(v[0]["acknowledged"]["by"], "analyst");
    assert_eq!(v[0]["acknowledged"]["note"], "seen, benign");

    // The auditor: checkpoint, a proof that verifies offline, full verify.
    let (cookie, csrf) = login(&w, Role::Auditor).await;
    let h = [("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str())];
    let (s, note, _) = call(&w, "GET", "/api/ledger/checkpoint", &h, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(note.as_str().unwrap().starts_with("test.example/ledger\n"));
    let (s, proof, _) = call(&w, "GET", "/api/ledger/proofs/alert/A-1", &h, None).await;
    assert_eq!(s, StatusCode::OK, "{proof}");
    let bundle: custodian_ledger::entry::ProofBundle = serde_json::from_value(proof).unwrap();
    let key = custodian_ledger::NoteSigner::from_seed("test.example/ledger", [9; 32])
        .unwrap()
        .verifier();
    bundle.verify(&key).unwrap();
    let (s, _, _) = call(&w, "GET", "/api/ledger/proofs/alert/A-404", &h, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v, _) = call(&w, "POST", "/api/ledger/verify", &h, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["verified"], true, "{v}");
}

/// The table's rows as docs/api.md shows them.
fn documented_rows() -> Vec<String> {
    ROUTES
        .iter()
        .map(|route| {
            let mut cells = vec![format!("{} `{}`", route.method, route.path)];
            for who in std::iter::once(None).chain(Role::ALL.into_iter().map(Some)) {
                let s = expected(route, who).as_u16().to_string();
                cells.push(match (route.access, who) {
                    (Access::Console(_), None) => format!("{s} (to login)"),
                    _ => s,
                });
            }
            cells.push(route.summary.to_string());
            format!("| {} |", cells.join(" | "))
        })
        .collect()
}

#[test]
fn the_documented_table_is_the_tested_table() {
    // CUSTODIAN_PRINT_TABLE=1 prints the rows to paste into the document.
    if std::env::var_os("CUSTODIAN_PRINT_TABLE").is_some() {
        println!("{}", documented_rows().join("\n"));
    }
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/api.md")).unwrap();
    let missing: Vec<String> = documented_rows()
        .into_iter()
        .filter(|row| !doc.contains(row.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/api.md lacks these rows of the tested table:\n{}",
        missing.join("\n")
    );
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

#[tokio::test]
async fn a_proof_of_an_unknown_kind_or_record_is_not_found() {
    let w = world().await;
    let (cookie, _) = login(&w, Role::Auditor).await;
    let h = [("cookie", cookie.as_str())];
    for path in [
        "/api/ledger/proofs/nonsense/A-1",
        "/api/ledger/proofs/alert/nonsense",
        "/api/ledger/proofs/event/A-1",
        "/api/ledger/proofs/%00/%00",
    ] {
        let (s, v, _) = call(&w, "GET", path, &h, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}: {v}");
    }
}

#[tokio::test]
async fn analysts_read_every_contact_report_linked_or_not() {
    let w = world().await;
    let (cookie, csrf) = login(&w, Role::Employee).await;
    let h = [("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str())];
    let (s, v, _) = call(
        &w,
        "POST",
        "/api/contact-reports",
        &h,
        Some(contact_report()),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let (cookie, _) = login(&w, Role::Analyst).await;
    let h = [("cookie", cookie.as_str())];
    let (_, v, _) = call(&w, "GET", "/api/contacts/groups", &h, None).await;
    assert_eq!(v, json!([]), "a lone report is no group");
    let (_, v, _) = call(&w, "GET", "/api/contacts/groups?all=1", &h, None).await;
    assert_eq!(v[0]["reports"][0]["id"], id.as_str());
    let (s, page, _) = call(&w, "GET", "/ui/contacts", &h, None).await;
    assert_eq!(s, StatusCode::OK);
    let page = page.as_str().unwrap();
    assert!(page.contains("Reports not linked to any other"), "{page}");
    assert!(page.contains(&id));
    // The reporter appears as a pseudonym, never as a user id, on the
    // page and in the API.
    assert!(!page.contains("E10000"), "{page}");
    assert_eq!(names_someone(&v), None, "{v}");
    let (_, v, _) = call(&w, "GET", "/api/alerts", &h, None).await;
    assert_eq!(v[0]["user"], w.person.as_str(), "{v}");
    assert_eq!(names_someone(&v), None, "{v}");
    let (_, v, _) = call(&w, "GET", &format!("/api/cases/{}", w.case), &h, None).await;
    assert_eq!(names_someone(&v), None, "{v}");
    // Exporting the bundle is a ledgered reveal of its subject.
    let before = w
        .store
        .custody_records("reveal", None, Some("E10001"))
        .await
        .unwrap()
        .len();
    let (s, _, _) = call(
        &w,
        "GET",
        &format!("/api/cases/{}/bundle", w.case),
        &h,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let reveals = w
        .store
        .custody_records("reveal", None, Some("E10001"))
        .await
        .unwrap();
    assert_eq!(reveals.len(), before + 1);
    assert!(reveals
        .iter()
        .any(|r| r.body.contains("evidence bundle of")));
}

/// A login from a given client address (as `serve` would see it).
async fn login_from(w: &World, addr: &str, user: &str, password: &str) -> StatusCode {
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
