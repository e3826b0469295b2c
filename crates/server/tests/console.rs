//! The console and the use cases behind it, through the router on a real
//! SQLite store: Japanese pages, contact reports, cases and their bundle,
//! pseudonyms until a logged reveal, the alert queue, contact groups.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use custodian_server::Role;

use common::*;

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
        ("//evil.example/x", "/ui/"),
        ("https://evil.example/", "/ui/"),
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

/// Each role lands where its work is, on a page it may see (no role lands
/// on a refusal): `/ui/` after logging in, and `/` for anyone.
#[tokio::test]
async fn each_role_lands_on_its_own_first_page() {
    let w = world().await;
    let (s, _, _) = call(&w, "GET", "/", &[], None).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    for (role, want) in [
        (Role::Analyst, "/ui/alerts"),
        (Role::Auditor, "/ui/ledger"),
        (Role::Admin, "/ui/register/exposure"),
        (Role::Owner, "/ui/register/exposure"),
        (Role::Employee, "/ui/report"),
    ] {
        let (cookie, _) = login(&w, role).await;
        let req = Request::builder()
            .uri("/ui/")
            .header("cookie", &cookie)
            .body(Body::empty())
            .unwrap();
        let resp = w.router.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{role:?}");
        assert_eq!(resp.headers()["location"], want, "{role:?}");
        let (s, _, _) = call(&w, "GET", want, &[("cookie", &cookie)], None).await;
        assert_eq!(s, StatusCode::OK, "{role:?} on {want}");
    }
    // Without a session, `/ui/` asks for a login that comes back to it.
    let req = Request::builder().uri("/ui/").body(Body::empty()).unwrap();
    let resp = w.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.headers()["location"], "/ui/login?next=/ui/");
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
    // A-1 has its case (opened in the world): opening it again gives that
    // one, and writes nothing.
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["case"].as_str(), v["existing"].as_bool()),
        (Some(w.case.as_str()), Some(true))
    );
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

/// An analyst's views of a person's page and of a case, and a reveal, are
/// on the record (ledgered custody records filed under the person); the
/// auditor lists them per person, by API and on the console; analysts
/// cannot read that list.
#[tokio::test]
async fn analysts_reads_are_on_the_record_for_the_auditor() {
    let w = world().await;
    let (cookie, csrf) = login(&w, Role::Analyst).await;
    let h = [("cookie", cookie.as_str())];
    // The same page twice in one second is one read.
    for _ in 0..2 {
        let (s, _, _) = call(&w, "GET", &format!("/ui/people/{}", w.person), &h, None).await;
        assert_eq!(s, StatusCode::OK);
    }
    let (s, _, _) = call(&w, "GET", &format!("/ui/cases/{}", w.case), &h, None).await;
    assert_eq!(s, StatusCode::OK);
    w.now.fetch_add(60, std::sync::atomic::Ordering::SeqCst);
    let reveal = Some(Value::String(format!(
        "form:csrf={}&reason=interview+planned",
        urlencode(&csrf)
    )));
    let url = format!("/ui/people/{}/reveal", w.person);
    let (s, _, _) = call(&w, "POST", &url, &h, reveal).await;
    assert_eq!(s, StatusCode::OK);
    // Custody records, so ledger entries: the two views, and the page the
    // reveal answers with (a view too).
    let access = w.store.custody_records("access", None, Some("E10001"));
    assert_eq!(access.await.unwrap().len(), 3);

    let (s, v, _) = call(&w, "GET", "/api/access?person=E10001", &h, None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "not for analysts: {v}");
    let (auditor, _) = login(&w, Role::Auditor).await;
    let a = [("cookie", auditor.as_str())];
    let (s, v, _) = call(&w, "GET", "/api/access?person=E10001", &a, None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let reads = v["reads"].as_array().unwrap();
    let whats: Vec<&str> = reads.iter().map(|r| r["what"].as_str().unwrap()).collect();
    for want in ["person", "case", "reveal"] {
        assert!(whats.contains(&want), "{want} in {whats:?}");
    }
    assert!(reads.iter().all(|r| r["by"] == "analyst"), "{reads:?}");
    assert!(reads.iter().any(|r| r["detail"] == w.case.as_str()));
    // Nobody else's reads: another person's list is empty.
    let (_, v, _) = call(&w, "GET", "/api/access?person=E10002", &a, None).await;
    assert_eq!(v["reads"].as_array().unwrap().len(), 0);
    let (s, _, _) = call(&w, "GET", "/api/access", &a, None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // The console page lists the same reads.
    let (s, page, _) = call(&w, "GET", "/ui/access?person=E10001", &a, None).await;
    assert_eq!(s, StatusCode::OK);
    let page = page.as_str().unwrap();
    assert_eq!(
        page.matches("<tr class=\"read\">").count(),
        reads.len(),
        "{page}"
    );
}

/// Triage from the queue: a dismissal needs a reason code, each status is
/// a ledgered record, the queue shows and filters by it, and the
/// dismissals feed each indicator's precision.
#[tokio::test]
async fn alerts_are_triaged_with_reasons_and_feed_precision() {
    let w = world().await;
    let (cookie, csrf) = login(&w, Role::Analyst).await;
    let h = [("cookie", cookie.as_str())];
    let form = |rest: &str| {
        Some(Value::String(format!(
            "form:csrf={}&{rest}",
            urlencode(&csrf)
        )))
    };
    let url = "/ui/alerts/A-1/status";
    let (s, v, _) = call(&w, "POST", url, &h, form("status=dismissed")).await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a dismissal needs a reason: {v}"
    );
    let (s, _, _) = call(&w, "POST", url, &h, form("status=closed")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "no such status");
    let (s, _, _) = call(
        &w,
        "POST",
        "/ui/alerts/A-404/status",
        &h,
        form("status=in_review"),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A suppression only with a dismissal, and for at most 90 days; a
    // refused one leaves no status behind.
    let rest = "status=dismissed&reason=benign_explained&suppress_days=200";
    let (s, _, _) = call(&w, "POST", url, &h, form(rest)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _, _) = call(
        &w,
        "POST",
        url,
        &h,
        form("status=in_review&suppress_days=5"),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let none = w
        .store
        .custody_records("alert_status", None, Some("E10001"));
    assert!(none.await.unwrap().is_empty());
    let (s, _, _) = call(&w, "POST", url, &h, form("status=in_review")).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    w.now.fetch_add(60, std::sync::atomic::Ordering::SeqCst);
    let rest = "status=dismissed&reason=benign_explained&note=printed+for+the+audit";
    let (s, _, _) = call(&w, "POST", url, &h, form(rest)).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let records = w
        .store
        .custody_records("alert_status", None, Some("E10001"));
    assert_eq!(
        records.await.unwrap().len(),
        2,
        "both changes on the record"
    );

    let (_, page, _) = call(&w, "GET", "/ui/alerts", &h, None).await;
    let page = page.as_str().unwrap().to_string();
    assert!(
        page.contains("<b class=\"status\">dismissed</b>: benign_explained (analyst)"),
        "{page}"
    );
    // (This world's alert names no indicators: precision per indicator is
    // custodian_app::triage's unit test.)
    let (_, page, _) = call(&w, "GET", "/ui/alerts?status=new", &h, None).await;
    assert!(
        !page.as_str().unwrap().contains("data-alert=\"A-1\""),
        "A-1 is not new"
    );
    let (_, page, _) = call(&w, "GET", "/ui/alerts?status=dismissed", &h, None).await;
    assert!(page.as_str().unwrap().contains("data-alert=\"A-1\""));
    // The unit filter: A-1 is on E10001 of R&D.
    let (_, page, _) = call(
        &w,
        "GET",
        "/ui/alerts?status=dismissed&unit=R%26D",
        &h,
        None,
    )
    .await;
    let page = page.as_str().unwrap().to_string();
    assert!(page.contains("data-alert=\"A-1\""), "{page}");
    assert!(
        page.contains("<option value=\"R&amp;D\" selected>"),
        "{page}"
    );
    let (_, page, _) = call(
        &w,
        "GET",
        "/ui/alerts?status=dismissed&unit=Sales",
        &h,
        None,
    )
    .await;
    assert!(!page.as_str().unwrap().contains("data-alert=\"A-1\""));
}

/// The alert's own page: pseudonymised, triage shown, and a read of the
/// person on the record.
#[tokio::test]
async fn the_alert_page_is_pseudonymised_and_on_the_record() {
    let w = world().await;
    let (cookie, _) = login(&w, Role::Analyst).await;
    let h = [("cookie", cookie.as_str())];
    let (_, queue, _) = call(&w, "GET", "/ui/alerts", &h, None).await;
    assert!(
        queue.as_str().unwrap().contains("href=\"/ui/alerts/A-1\""),
        "the queue links it"
    );
    let (s, page, _) = call(&w, "GET", "/ui/alerts/A-1", &h, None).await;
    assert_eq!(s, StatusCode::OK);
    let page = page.as_str().unwrap();
    assert!(
        page.contains(&w.person) && !page.contains("E10001"),
        "{page}"
    );
    assert!(page.contains("<b class=\"status\">new</b>"), "{page}");
    let reads = w.store.custody_records("access", None, Some("E10001"));
    assert_eq!(reads.await.unwrap().len(), 1);
    let (s, _, _) = call(&w, "GET", "/ui/alerts/A-404", &h, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// A case closed and reopened within one second is open: actions of the
/// same second count in the order they were stored.
#[tokio::test]
async fn a_case_closed_and_reopened_in_one_second_is_open() {
    let w = world().await;
    let (cookie, csrf) = login(&w, Role::Analyst).await;
    let h = [("cookie", cookie.as_str())];
    let url = format!("/ui/cases/{}/actions", w.case);
    // (Reasons differ: a record is named by its content, so the very same
    // action twice in one second is one record.)
    for (action, want, reason) in [
        ("close", "closed", "explained"),
        ("reopen", "open", "new+prints"),
        ("close", "closed", "explained+again"),
    ] {
        let form = format!(
            "form:csrf={}&action={action}&reason={reason}",
            urlencode(&csrf)
        );
        let (s, _, _) = call(&w, "POST", &url, &h, Some(Value::String(form))).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (_, page, _) = call(&w, "GET", &format!("/ui/cases/{}", w.case), &h, None).await;
        let page = page.as_str().unwrap();
        assert!(
            page.contains(&format!("<b class=\"case-status\">{want}</b>")),
            "after {action}: {page}"
        );
    }
}
