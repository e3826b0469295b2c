//! The console, server-rendered (no JavaScript build step), Japanese and
//! English (from the browser's language or `?lang=ja|en`). This file holds
//! the frame every page shares (language, navigation by role, the page
//! shell with its headers, pseudonyms, the CSRF check); each page is its own
//! file: `login`, `report` (the contact-report form), `alerts`, `people`,
//! `contacts`, `cases`, `exposure`, `ledger`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::{AppState, Principal, Role};

mod access;
mod alert_page;
mod alerts;
mod cases;
mod contacts;
mod exposure;
mod ledger;
mod login;
mod people;
mod report;

pub(crate) use access::*;
pub(crate) use alert_page::*;
pub(crate) use alerts::*;
pub(crate) use cases::*;
pub(crate) use contacts::*;
pub(crate) use exposure::*;
pub(crate) use ledger::*;
pub(crate) use login::*;
pub use people::escalation_svg;
pub(crate) use people::*;
pub(crate) use report::*;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ja,
    En,
}

/// `?lang=` first (the switch on every page, remembered in a cookie), then
/// the cookie, then the browser's Accept-Language.
pub fn lang(query: &std::collections::HashMap<String, String>, headers: &HeaderMap) -> Lang {
    match query.get("lang").map(String::as_str) {
        Some("ja") => return Lang::Ja,
        Some("en") => return Lang::En,
        _ => {}
    }
    let cookie = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    for c in cookie.split(';') {
        match c.trim() {
            "custodian_lang=ja" => return Lang::Ja,
            "custodian_lang=en" => return Lang::En,
            _ => {}
        }
    }
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if accept.trim_start().starts_with("ja") {
        Lang::Ja
    } else {
        Lang::En
    }
}

pub(crate) fn t(l: Lang, en: &'static str, ja: &'static str) -> &'static str {
    match l {
        Lang::En => en,
        Lang::Ja => ja,
    }
}

pub use custodian_app::html::esc;

/// The console's links, for the caller's role.
/// Each role's pages, its work first: the analyst's queue, the auditor's
/// ledger, the owner's and the administrator's register exposure, the
/// employee's report form.
fn links(l: Lang, role: Option<Role>) -> Vec<(&'static str, &'static str)> {
    let mut links: Vec<(&'static str, &'static str)> = Vec::new();
    match role {
        Some(Role::Analyst) => {
            links.push(("/ui/alerts", t(l, "Alert queue", "アラート一覧")));
            links.push(("/ui/cases", t(l, "Cases", "案件")));
            links.push(("/ui/contacts", t(l, "Contact groups", "接触報告グループ")));
            links.push(("/ui/report", t(l, "Report an approach", "接触の報告")));
        }
        Some(Role::Auditor) => {
            links.push(("/ui/ledger", t(l, "Ledger", "台帳")));
            links.push(("/ui/access", t(l, "Analysts' reads", "分析者の閲覧記録")));
        }
        Some(Role::Employee) => {
            links.push(("/ui/report", t(l, "Report an approach", "接触の報告")))
        }
        Some(Role::Owner) => {
            links.push((
                "/ui/register/exposure",
                t(l, "Register exposure", "登録文書の露出"),
            ));
            links.push(("/ui/report", t(l, "Report an approach", "接触の報告")));
        }
        Some(Role::Admin) => links.push((
            "/ui/register/exposure",
            t(l, "Register exposure", "登録文書の露出"),
        )),
        None => {}
    }
    links
}

/// A table's header row, its cells already translated (escaped here).
pub(crate) fn header_row(cells: &[&str]) -> String {
    let ths: String = cells
        .iter()
        .map(|c| format!("<th>{}</th>", esc(c)))
        .collect();
    format!("<tr>{ths}</tr>")
}

/// A time as every console page shows it: to the minute, with its UTC
/// offset (the event's own zone).
pub(crate) fn when(at: &chrono::DateTime<chrono::FixedOffset>) -> String {
    at.format("%Y-%m-%d %H:%M %:z").to_string()
}

/// Where a role lands after logging in: the first of its pages.
pub(crate) fn home(role: Role) -> &'static str {
    links(Lang::En, Some(role))
        .first()
        .map_or("/ui/report", |(href, _)| href)
}

/// `/ui/` (and `/`): the caller's own first page.
pub(crate) async fn home_page(page: Page) -> Response {
    axum::response::Redirect::to(home(page.p.role)).into_response()
}

pub(crate) fn nav(l: Lang, role: Option<Role>) -> String {
    let links = links(l, role);
    let mut out: String = links
        .iter()
        .map(|(href, text)| format!("<a href=\"{href}\">{text}</a>"))
        .collect();
    out.push_str("<a href=\"?lang=ja\" hreflang=\"ja\">日本語</a><a href=\"?lang=en\" hreflang=\"en\">English</a>");
    if role.is_some() {
        out.push_str(&format!(
            "<form method=\"post\" action=\"/ui/logout\" class=\"inline\"><button type=\"submit\">{}</button></form>",
            t(l, "Log out", "ログアウト")
        ));
    }
    out
}

pub(crate) fn page(l: Lang, role: Option<Role>, title: &str, body: &str) -> Response {
    let code = if l == Lang::Ja { "ja" } else { "en" };
    let html = format!(
        "<!doctype html><html lang=\"{code}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{} — Custodian</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:60em;margin:1.5em auto;padding:0 1em}}label{{display:block;margin:.6em 0 .2em}}input,textarea,select{{width:100%;padding:.3em}}\
         .note{{background:#fff6d6;border-left:4px solid #d9a400;padding:.6em 1em}}.bad{{background:#fde2e1;border-left:4px solid #c0392b;padding:.6em 1em}}.good{{background:#e3f6e5;border-left:4px solid #2e8b3d;padding:.6em 1em}}\
         table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:.3em;text-align:left;vertical-align:top}}\
         nav a{{margin-right:1em}}form.inline{{display:inline}}form.inline button{{margin-left:1em}}td.out{{color:#a33}}svg text{{font-size:11px}}</style></head>\
         <body><nav>{}</nav><h1>{}</h1>{}</body></html>",
        esc(title),
        nav(l, role),
        esc(title),
        body
    );
    let mut r = Html(html).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The language chosen is remembered (not a secret; read by the server).
    if let Ok(v) = HeaderValue::from_str(&format!(
        "custodian_lang={code}; Path=/; SameSite=Strict; Max-Age=31536000"
    )) {
        h.insert(header::SET_COOKIE, v);
    }
    r
}

pub(crate) type Q = Query<HashMap<String, String>>;

/// A stable pseudonym for a person (the same on every page), so analysts
/// work without names until they need one.
pub fn pseudonym(key: &[u8; 32], user: &str) -> String {
    let mut h = Sha256::new();
    h.update(key);
    h.update(b"pseudonym\n");
    h.update(user.as_bytes());
    let d = h.finalize();
    format!("P-{:02X}{:02X}{:02X}", d[0], d[1], d[2])
}

/// What every console page starts from: the server's state, who is signed
/// in (the session layer put them on the request; a request without one
/// never reaches a page), the query and the page's language.
pub(crate) struct Page {
    pub(crate) state: Arc<AppState>,
    pub(crate) p: Principal,
    pub(crate) l: Lang,
    pub(crate) q: HashMap<String, String>,
}

impl FromRequestParts<Arc<AppState>> for Page {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Response> {
        let p = parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| StatusCode::UNAUTHORIZED.into_response())?;
        let Query(q) = Query::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let l = lang(&q, &parts.headers);
        Ok(Page {
            state: state.clone(),
            p,
            l,
            q,
        })
    }
}

/// A posted form whose CSRF token (its field `csrf`) is the session's,
/// with its page: a handler never sees a form that failed the check (it is
/// refused with 403 before), and a form states only its own fields.
pub(crate) struct Post<F>(pub(crate) Page, pub(crate) F);

#[derive(serde::Deserialize)]
struct WithCsrf<F> {
    csrf: String,
    #[serde(flatten)]
    form: F,
}

impl<F: serde::de::DeserializeOwned + Send> FromRequest<Arc<AppState>> for Post<F> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let page = Page::from_request_parts(&mut parts, state).await?;
        let axum::Form(f) =
            axum::Form::<WithCsrf<F>>::from_request(Request::from_parts(parts, body), state)
                .await
                .map_err(IntoResponse::into_response)?;
        if let Some(r) = check_csrf(&page.p, &f.csrf) {
            return Err(r);
        }
        Ok(Post(page, f.form))
    }
}

/// A form that carries nothing but its CSRF token.
#[derive(serde::Deserialize)]
pub struct NoFields {}

/// The person a pseudonym stands for.
pub(crate) async fn person_of(
    state: &AppState,
    pseudonym: &str,
) -> Result<Option<String>, Response> {
    let people = state.store.people().await.map_err(crate::internal)?;
    Ok(people
        .into_iter()
        .map(|p| p.user_id)
        .find(|u| state.pseudonym(u) == pseudonym))
}

/// The refusal when a form's CSRF field is not the session's token.
fn check_csrf(p: &Principal, sent: &str) -> Option<Response> {
    use subtle::ConstantTimeEq;
    let expected = p.csrf.clone().unwrap_or_default();
    if bool::from(sent.as_bytes().ct_eq(expected.as_bytes())) && !expected.is_empty() {
        None
    } else {
        Some((StatusCode::FORBIDDEN, "missing or wrong CSRF token").into_response())
    }
}
