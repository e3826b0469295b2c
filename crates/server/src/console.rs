//! The console, server-rendered (no JavaScript build step): the login
//! page, the contact-report form any employee fills in a minute (with the
//! known approach pattern explained), and the analysts' alert queue with
//! pseudonymised names. Japanese and English, from the browser's language
//! or `?lang=ja|en`.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::{AppState, Principal};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ja,
    En,
}

/// `?lang=` first, then the browser's Accept-Language.
pub fn lang(query: &std::collections::HashMap<String, String>, headers: &HeaderMap) -> Lang {
    match query.get("lang").map(String::as_str) {
        Some("ja") => return Lang::Ja,
        Some("en") => return Lang::En,
        _ => {}
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

fn t(l: Lang, en: &'static str, ja: &'static str) -> &'static str {
    match l {
        Lang::En => en,
        Lang::Ja => ja,
    }
}

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(l: Lang, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{} — Custodian</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:52em;margin:1.5em auto;padding:0 1em}}label{{display:block;margin:.6em 0 .2em}}input,textarea,select{{width:100%;padding:.3em}}\
         .note{{background:#fff6d6;border-left:4px solid #d9a400;padding:.6em 1em}}table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:.3em;text-align:left;vertical-align:top}}\
         nav a{{margin-right:1em}}</style></head><body><nav><a href=\"/ui/report\">{}</a><a href=\"/ui/alerts\">{}</a>\
         <a href=\"?lang=ja\">日本語</a><a href=\"?lang=en\">English</a></nav><h1>{}</h1>{}</body></html>",
        if l == Lang::Ja { "ja" } else { "en" },
        esc(title),
        t(l, "Report an approach", "接触の報告"),
        t(l, "Alert queue", "アラート一覧"),
        esc(title),
        body
    );
    let mut r = Html(html).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

type Q = Query<std::collections::HashMap<String, String>>;

pub(crate) async fn login_page(Query(q): Q, headers: HeaderMap) -> Response {
    let l = lang(&q, &headers);
    let failed = q.contains_key("failed");
    let body = format!(
        "{}<form method=\"post\" action=\"/ui/login\"><label>{}<input name=\"username\" autocomplete=\"username\" required></label>\
         <label>{}<input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>\
         <input type=\"hidden\" name=\"next\" value=\"{}\"><p><button type=\"submit\">{}</button></p></form>",
        if failed {
            format!("<p class=\"note\">{}</p>", t(l, "Wrong name or password, or too many attempts: wait a minute.", "名前かパスワードが違うか、試行が多すぎます。1分待ってください。"))
        } else {
            String::new()
        },
        t(l, "Name", "ユーザー名"),
        t(l, "Password", "パスワード"),
        esc(q.get("next").map_or("/ui/report", String::as_str)),
        t(l, "Log in", "ログイン")
    );
    page(l, t(l, "Log in", "ログイン"), &body)
}

#[derive(serde::Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

/// Only same-site paths of the console are followed after login.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with("/ui/") && !n.starts_with("//") && !n.contains("://") => n,
        _ => "/ui/report",
    }
}

pub(crate) async fn login_submit(
    State(state): State<Arc<AppState>>,
    client: crate::ClientAddr,
    axum::Form(f): axum::Form<LoginForm>,
) -> Response {
    match crate::authenticate(&state, client.0, &f.username, &f.password).await {
        Ok((_, cookie)) => {
            let mut r = Redirect::to(safe_next(f.next.as_deref())).into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(_) => Redirect::to("/ui/login?failed=1").into_response(),
    }
}

pub(crate) async fn report_form(
    axum::Extension(p): axum::Extension<Principal>,
    Query(q): Q,
    headers: HeaderMap,
) -> Response {
    let l = lang(&q, &headers);
    let done = q
        .get("filed")
        .map(|id| {
            format!(
                "<p class=\"note\">{} {}</p>",
                t(
                    l,
                    "Thank you. Your report was recorded as",
                    "ご報告ありがとうございます。記録番号:"
                ),
                esc(id)
            )
        })
        .unwrap_or_default();
    let approaches = [
        ("asked_directions", "Asked for directions", "道を尋ねられた"),
        ("language_exchange", "Language exchange", "語学交換"),
        ("business_card", "Exchanged business cards", "名刺交換"),
        (
            "conference",
            "At a conference or trade fair",
            "展示会・学会",
        ),
        (
            "online",
            "Online (social network, e-mail)",
            "オンライン（SNS・メール）",
        ),
        ("recruiter", "A recruiter or headhunter", "転職の勧誘"),
        ("other", "Other", "その他"),
    ];
    let options: String = approaches
        .iter()
        .map(|(v, en, ja)| {
            format!(
                "<option value=\"{v}\">{}</option>",
                if l == Lang::Ja { ja } else { en }
            )
        })
        .collect();
    let field = |name: &str, en: &'static str, ja: &'static str, kind: &str| {
        format!(
            "<label>{}<input name=\"{name}\" type=\"{kind}\"></label>",
            t(l, en, ja)
        )
    };
    let body = format!(
        "{done}<div class=\"note\">{}</div>\
         <form method=\"post\" action=\"/ui/report\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <label>{}<input name=\"met_on\" type=\"date\" required></label>{}\
         <label>{}<select name=\"approach\">{options}</select></label>{}{}{}{}{}\
         <label>{}<textarea name=\"description\" rows=\"2\"></textarea></label>{}{}\
         <label>{}<input name=\"requests\" placeholder=\"brochure, manual, specification\"></label>\
         <label>{}<textarea name=\"narrative\" rows=\"4\"></textarea></label>\
         <p><button type=\"submit\">{}</button></p></form>",
        t(l, "A pattern seen before: someone asks an engineer for directions, insists on thanking him with dinner, and meets him again and again, asking first for public brochures, then internal training material and manuals, then development data, and paying in cash. Reporting early protects you: you have done nothing wrong by being approached.",
             "過去に見られた手口：技術者に道を尋ね、お礼にと食事に誘い、何度も会ううちに、最初は公開パンフレット、次に社内研修資料やマニュアル、やがて開発資料を求め、現金を渡す。早めの報告はあなた自身を守ります。声をかけられたこと自体は何も悪くありません。"),
        esc(p.csrf.as_deref().unwrap_or("")),
        t(l, "Date you met", "会った日"),
        field("place", "Place", "場所", "text"),
        t(l, "How the approach happened", "接触のきっかけ"),
        field("claimed_name", "Name they gave", "名乗った名前", "text"),
        field("claimed_nationality", "Nationality they claimed", "名乗った国籍", "text"),
        field("claimed_affiliation", "Organisation they claimed", "名乗った所属", "text"),
        field("phone", "Phone", "電話番号", "tel"),
        field("email", "E-mail", "メールアドレス", "email"),
        t(l, "What they looked like", "外見"),
        field("meetings", "Meetings so far", "これまでに会った回数", "number"),
        field("gifts_jpy", "Gifts or cash (yen)", "贈り物・現金（円）", "number"),
        t(l, "What they asked for", "求められたもの"),
        t(l, "Anything else", "その他"),
        t(l, "Send the report", "報告する"),
    );
    page(l, t(l, "Report an approach", "接触の報告"), &body)
}

#[derive(serde::Deserialize)]
pub struct ReportForm {
    csrf: String,
    met_on: String,
    #[serde(default)]
    place: String,
    approach: String,
    #[serde(default)]
    claimed_name: String,
    #[serde(default)]
    claimed_nationality: String,
    #[serde(default)]
    claimed_affiliation: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    meetings: String,
    #[serde(default)]
    gifts_jpy: String,
    #[serde(default)]
    requests: String,
    #[serde(default)]
    narrative: String,
}

pub(crate) async fn report_submit(
    State(state): State<Arc<AppState>>,
    axum::Extension(p): axum::Extension<Principal>,
    axum::Form(f): axum::Form<ReportForm>,
) -> Response {
    if let Some(r) = check_csrf(&p, &f.csrf) {
        return r;
    }
    let opt = |s: &str| (!s.trim().is_empty()).then(|| Value::String(s.trim().to_string()));
    let num = |s: &str| s.trim().parse::<u64>().unwrap_or(0);
    let mut counterpart = serde_json::Map::new();
    for (k, v) in [
        ("claimed_name", &f.claimed_name),
        ("claimed_nationality", &f.claimed_nationality),
        ("claimed_affiliation", &f.claimed_affiliation),
        ("phone", &f.phone),
        ("email", &f.email),
        ("description", &f.description),
    ] {
        if let Some(v) = opt(v) {
            counterpart.insert(k.into(), v);
        }
    }
    let requests: Vec<String> = f
        .requests
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let v = json!({"met_on": f.met_on, "place": f.place.trim(), "approach": f.approach, "counterpart": counterpart,
                   "meetings": num(&f.meetings), "gifts_jpy": num(&f.gifts_jpy), "requests": requests,
                   "narrative": f.narrative.trim()});
    match crate::store_contact_report(&state, &p, v).await {
        Ok(id) => Redirect::to(&format!("/ui/report?filed={id}")).into_response(),
        Err((s, why)) => (s, why).into_response(),
    }
}

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

pub(crate) async fn alert_queue(
    State(state): State<Arc<AppState>>,
    axum::Extension(p): axum::Extension<Principal>,
    Query(q): Q,
    headers: HeaderMap,
) -> Response {
    let l = lang(&q, &headers);
    let list = match crate::cases::ranked_alerts(state.store.as_ref(), 200).await {
        Ok(a) => a,
        Err(e) => return crate::internal(e),
    };
    let key = state.pseudonym_key();
    let csrf = esc(p.csrf.as_deref().unwrap_or(""));
    let mut rows = String::new();
    for a in &list {
        let body: Value = serde_json::from_str(&a.body).unwrap_or(Value::Null);
        // The explanation names people; the queue shows pseudonyms.
        let summary = body["summary"]
            .as_str()
            .unwrap_or("")
            .replace(&a.user, &pseudonym(&key, &a.user));
        rows.push_str(&format!(
            "<tr><td>{:.0}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><form method=\"post\" action=\"/ui/cases\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"alert\" value=\"{}\"><button type=\"submit\">{}</button></form></td></tr>",
            a.score,
            esc(&a.severity),
            esc(&pseudonym(&key, &a.user)),
            esc(&a.raised_at.format("%Y-%m-%d").to_string()),
            esc(&summary),
            esc(&a.id),
            t(l, "Open a case", "案件を開く"),
        ));
    }
    let body = format!(
        "<p>{}</p><table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th></th></tr>{rows}</table>",
        t(l, "Highest score first. Names are pseudonymised; revealing one is a logged action.", "スコアの高い順。氏名は仮名化されています（実名の表示は記録されます）。"),
        t(l, "score", "スコア"),
        t(l, "severity", "重大度"),
        t(l, "person", "対象者"),
        t(l, "raised", "発生日"),
        t(l, "what it saw and what to do", "検知内容と推奨対応"),
    );
    page(l, t(l, "Alert queue", "アラート一覧"), &body)
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

#[derive(serde::Deserialize)]
pub struct OpenForm {
    csrf: String,
    alert: String,
}

pub(crate) async fn open_case(
    State(state): State<Arc<AppState>>,
    axum::Extension(p): axum::Extension<Principal>,
    axum::Form(f): axum::Form<OpenForm>,
) -> Response {
    if let Some(r) = check_csrf(&p, &f.csrf) {
        return r;
    }
    match crate::cases::open(
        state.store.as_ref(),
        &state.ledger,
        crate::now_of(&state),
        &f.alert,
        &p.name,
    )
    .await
    {
        Ok((case, _, _)) => Redirect::to(&format!("/ui/cases/{case}")).into_response(),
        Err(e) => crate::case_error(e),
    }
}

pub(crate) async fn case_page(
    State(state): State<Arc<AppState>>,
    axum::Extension(p): axum::Extension<Principal>,
    axum::extract::Path(case): axum::extract::Path<String>,
    Query(q): Q,
    headers: HeaderMap,
) -> Response {
    let l = lang(&q, &headers);
    let (actions, st) = match crate::cases::existing(state.store.as_ref(), &case).await {
        Ok(x) => x,
        Err(e) => return crate::case_error(e),
    };
    let key = state.pseudonym_key();
    let subject = st["subject"].as_str().unwrap_or("");
    let mut rows = String::new();
    for (r, v) in &actions {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.at.format("%Y-%m-%d %H:%M").to_string()),
            esc(v["action"].as_str().unwrap_or("")),
            esc(v["by"].as_str().unwrap_or("")),
            esc(v["text"]
                .as_str()
                .or(v["to"].as_str())
                .or(v["status"].as_str())
                .unwrap_or(""))
        ));
    }
    let csrf = esc(p.csrf.as_deref().unwrap_or(""));
    let body = format!(
        "<p>{}: <b>{}</b> · {}: {} · {}: {}</p><table><tr><th>{}</th><th>{}</th><th>{}</th><th></th></tr>{rows}</table>\
         <form method=\"post\" action=\"/ui/cases/{c}/notes\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label>{}<textarea name=\"text\" rows=\"3\" required></textarea></label><p><button type=\"submit\">{}</button></p></form>\
         <p><a href=\"/ui/cases/{c}/bundle\">{}</a></p>",
        t(l, "Status", "状態"),
        esc(st["status"].as_str().unwrap_or("?")),
        t(l, "person", "対象者"),
        esc(&pseudonym(&key, subject)),
        t(l, "alert", "アラート"),
        esc(st["alert"].as_str().unwrap_or("?")),
        t(l, "when", "日時"),
        t(l, "action", "操作"),
        t(l, "by", "担当"),
        t(l, "Note", "メモ"),
        t(l, "Add the note", "メモを追加"),
        t(l, "Download the evidence bundle (verifies itself offline)", "証拠パッケージをダウンロード（単独で検証可能）"),
        c = esc(&case),
    );
    page(l, &format!("{} {case}", t(l, "Case", "案件")), &body)
}

#[derive(serde::Deserialize)]
pub struct NoteForm {
    csrf: String,
    text: String,
}

pub(crate) async fn add_note(
    State(state): State<Arc<AppState>>,
    axum::Extension(p): axum::Extension<Principal>,
    axum::extract::Path(case): axum::extract::Path<String>,
    axum::Form(f): axum::Form<NoteForm>,
) -> Response {
    if let Some(r) = check_csrf(&p, &f.csrf) {
        return r;
    }
    if let Err(e) = crate::cases::nonempty("the note", &f.text) {
        return crate::case_error(e);
    }
    match crate::cases::act(
        state.store.as_ref(),
        &state.ledger,
        crate::now_of(&state),
        &case,
        json!({"action": "note", "text": f.text, "by": p.name}),
    )
    .await
    {
        Ok(_) => Redirect::to(&format!("/ui/cases/{case}")).into_response(),
        Err(e) => crate::case_error(e),
    }
}
