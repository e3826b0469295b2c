//! Every role against every route, with the expected answer, on a real
//! SQLite store: the table of issue 6, the documented table, the OpenAPI
//! document covering every route, proofs of unknown records. Sessions and
//! logins are in `sessions.rs`, the console and its use cases in
//! `console.rs`; what they share in `common/`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use serde_json::{json, Value};

use custodian_server::{Access, Role, ROUTES};

use common::*;

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
        // Reads of one person: say whose.
        let path = match route.path {
            "/api/access" | "/ui/access" => format!("{path}?person=E10001"),
            _ => path,
        };
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
            ("POST", "/ui/alerts/{alert}/status") => Some(Value::String(format!(
                "form:csrf={}&status=in_review",
                urlencode(&csrf_of(role))
            ))),
            ("POST", "/ui/cases/{case}/actions") => Some(Value::String(format!(
                "form:csrf={}&action=assign&to=ana",
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
