//! The console, server-rendered (no JavaScript build step): the login
//! page, the contact-report form any employee fills in a minute (with the
//! known approach pattern explained), and the analysts' alert queue with
//! pseudonymised names. Japanese and English, from the browser's language
//! or `?lang=ja|en`.

use std::sync::Arc;

use chrono::Datelike as _;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::{AppState, Principal, Role};

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

fn t(l: Lang, en: &'static str, ja: &'static str) -> &'static str {
    match l {
        Lang::En => en,
        Lang::Ja => ja,
    }
}

pub use custodian_app::html::esc;

/// The console's links, for the caller's role.
fn nav(l: Lang, role: Option<Role>) -> String {
    let mut links: Vec<(&str, &str)> = Vec::new();
    match role {
        Some(Role::Analyst) => {
            links.push(("/ui/alerts", t(l, "Alert queue", "アラート一覧")));
            links.push(("/ui/cases", t(l, "Cases", "案件")));
            links.push(("/ui/contacts", t(l, "Contact groups", "接触報告グループ")));
            links.push(("/ui/report", t(l, "Report an approach", "接触の報告")));
        }
        Some(Role::Auditor) => links.push(("/ui/ledger", t(l, "Ledger", "台帳"))),
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

fn page(l: Lang, role: Option<Role>, title: &str, body: &str) -> Response {
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
    page(l, None, t(l, "Log in", "ログイン"), &body)
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
    page(
        l,
        Some(p.role),
        t(l, "Report an approach", "接触の報告"),
        &body,
    )
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
    match custodian_app::contacts::file_report(
        state.store.as_ref(),
        &state.ledger,
        p.user_id.as_deref(),
        crate::now_of(&state),
        v,
    )
    .await
    {
        Ok(id) => Redirect::to(&format!("/ui/report?filed={id}")).into_response(),
        Err(e) => crate::app_error(e),
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
    let (list, acks) = match crate::alerts_and_acks(&state).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let filter = crate::AlertFilter::from_query(&q);
    let csrf = esc(p.csrf.as_deref().unwrap_or(""));
    let mut rows = String::new();
    let mut shown = 0;
    for a in list
        .iter()
        .filter(|a| filter.admits(a, acks.contains_key(&a.id)))
    {
        shown += 1;
        if shown > 200 {
            break;
        }
        let body: Value = serde_json::from_str(&a.body).unwrap_or(Value::Null);
        let who = state.pseudonym(&a.user);
        // The explanation names people; the queue shows pseudonyms.
        let summary = body["summary"]
            .as_str()
            .unwrap_or("")
            .replace(&a.user, &who);
        let ack = match acks.get(&a.id) {
            Some(v) => format!(
                "{} {}",
                t(l, "acknowledged by", "確認済み:"),
                esc(v["by"].as_str().unwrap_or("?"))
            ),
            None => format!(
                "<form method=\"post\" action=\"/ui/alerts/{}/ack\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><button type=\"submit\">{}</button></form>",
                esc(&a.id),
                t(l, "Acknowledge", "確認済みにする")
            ),
        };
        rows.push_str(&format!(
            "<tr class=\"alert\" data-alert=\"{id}\"><td>{:.0}</td><td>{}</td><td><a href=\"/ui/people/{who}\">{who}</a></td><td>{}</td><td>{}</td><td>{ack}</td><td><form method=\"post\" action=\"/ui/cases\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"alert\" value=\"{id}\"><button type=\"submit\">{}</button></form></td></tr>",
            a.score,
            esc(&a.severity),
            esc(&a.raised_at.format("%Y-%m-%d").to_string()),
            esc(&summary),
            t(l, "Open a case", "案件を開く"),
            id = esc(&a.id),
            who = esc(&who),
        ));
    }
    let sel = |v: &str| {
        if filter.severity.as_deref() == Some(v) {
            " selected"
        } else {
            ""
        }
    };
    let body = format!(
        "<p>{}</p><form method=\"get\" action=\"/ui/alerts\" class=\"filter\"><label>{}<select name=\"severity\"><option value=\"\">{}</option>\
         <option value=\"high\"{}>high</option><option value=\"medium\"{}>medium</option><option value=\"low\"{}>low</option></select></label>\
         <label><input type=\"checkbox\" name=\"unacknowledged\" value=\"1\"{} style=\"width:auto\"> {}</label><button type=\"submit\">{}</button></form>\
         <table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th></th><th></th></tr>{rows}</table>",
        t(l, "Highest score first. Names are pseudonymised; revealing one is a logged action.", "スコアの高い順。氏名は仮名化されています（実名の表示は記録されます）。"),
        t(l, "Severity", "重大度"),
        t(l, "all", "すべて"),
        sel("high"),
        sel("medium"),
        sel("low"),
        if filter.unacknowledged { " checked" } else { "" },
        t(l, "only those nobody acknowledged", "未確認のみ"),
        t(l, "Filter", "絞り込む"),
        t(l, "score", "スコア"),
        t(l, "severity", "重大度"),
        t(l, "person", "対象者"),
        t(l, "raised", "発生日"),
        t(l, "what it saw and what to do", "検知内容と推奨対応"),
    );
    page(l, Some(p.role), t(l, "Alert queue", "アラート一覧"), &body)
}

#[derive(serde::Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

pub(crate) async fn ack_alert(
    State(state): State<Arc<AppState>>,
    axum::Extension(p): axum::Extension<Principal>,
    axum::extract::Path(alert): axum::extract::Path<String>,
    axum::Form(f): axum::Form<CsrfForm>,
) -> Response {
    if let Some(r) = check_csrf(&p, &f.csrf) {
        return r;
    }
    match custodian_app::cases::acknowledge(
        state.store.as_ref(),
        &state.ledger,
        crate::now_of(&state),
        &alert,
        &p.name,
        None,
    )
    .await
    {
        Ok(_) => Redirect::to("/ui/alerts").into_response(),
        Err(e) => crate::app_error(e),
    }
}

pub(crate) async fn logout(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    crate::revoke(&state, &headers);
    let mut r = Redirect::to("/ui/login").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "custodian_session=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0",
        ),
    );
    r
}

/// The person a pseudonym stands for.
async fn person_of(state: &AppState, pseudonym: &str) -> Result<Option<String>, Response> {
    let people = state.store.people().await.map_err(crate::internal)?;
    Ok(people
        .into_iter()
        .map(|p| p.user_id)
        .find(|u| state.pseudonym(u) == pseudonym))
}

const LEVEL_COLOURS: [&str; 4] = ["#9cc3e6", "#f2c14e", "#e8743b", "#c0392b"];

/// The weekly chart of the highest level touched outside the person's
/// scope, as inline SVG (no script): a bar per week, its height and colour
/// the level; refusals as an outlined bar.
pub fn escalation_svg(l: Lang, weeks: &[custodian_app::people::Week]) -> String {
    let (w, h, left, bottom) = (760.0_f64, 180.0_f64, 86.0_f64, 24.0_f64);
    let n = weeks.len().max(1) as f64;
    let step = (w - left - 8.0) / n;
    let bar = (step * 0.8).max(1.0);
    let y_of = |rank: f64| h - bottom - rank * (h - bottom - 10.0) / 4.0;
    let mut out = format!(
        "<svg class=\"escalation\" role=\"img\" viewBox=\"0 0 {w} {h}\" width=\"100%\" xmlns=\"http://www.w3.org/2000/svg\"><title>{}</title>",
        t(l, "Highest level touched outside own scope, week by week", "自分の担当範囲外で触れた最高の機密区分（週ごと）")
    );
    for (i, name) in ["public", "internal", "confidential", "secret"]
        .iter()
        .enumerate()
    {
        let y = y_of(i as f64 + 1.0);
        out.push_str(&format!(
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{name}</text>",
            w - 4.0,
            left - 6.0,
            y + 4.0
        ));
    }
    let mut next_label_x = 0.0;
    for (i, wk) in weeks.iter().enumerate() {
        let x = left + i as f64 * step;
        let label = format!(
            "{}: {}{}, {} {}",
            wk.start,
            wk.reached.map_or("—", |v| v.as_str()),
            wk.refused
                .map(|v| format!(" (refused {})", v.as_str()))
                .unwrap_or_default(),
            wk.doc_events,
            t(l, "document events", "件の文書操作")
        );
        if let Some(v) = wk.refused.filter(|r| wk.reached.is_none_or(|x| *r > x)) {
            let y = y_of(f64::from(v.rank()) + 1.0);
            out.push_str(&format!(
                "<rect class=\"refused\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar:.1}\" height=\"{:.1}\" fill=\"none\" stroke=\"{}\" stroke-dasharray=\"3 2\"><title>{}</title></rect>",
                h - bottom - y,
                LEVEL_COLOURS[v.rank() as usize],
                esc(&label)
            ));
        }
        if let Some(v) = wk.reached {
            let y = y_of(f64::from(v.rank()) + 1.0);
            out.push_str(&format!(
                "<rect class=\"week {}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{}</title></rect>",
                v.as_str(),
                h - bottom - y,
                LEVEL_COLOURS[v.rank() as usize],
                esc(&label)
            ));
        }
        // A date under the first week of each month (with room for it).
        let new_month = i == 0 || weeks[i - 1].start.month() != wk.start.month();
        if new_month && x >= next_label_x {
            next_label_x = x + 60.0;
            out.push_str(&format!(
                "<text x=\"{x:.1}\" y=\"{}\">{}</text>",
                h - 6.0,
                wk.start.format("%Y-%m")
            ));
        }
    }
    out.push_str("</svg>");
    out
}

#[derive(serde::Deserialize)]
pub struct RevealForm {
    csrf: String,
    reason: String,
}

pub(crate) async fn person_page(
    State(state): State<Arc<AppState>>,
    axum::Extension(p): axum::Extension<Principal>,
    axum::extract::Path(who): axum::extract::Path<String>,
    Query(q): Q,
    headers: HeaderMap,
) -> Response {
    person_response(&state, &p, &who, lang(&q, &headers), None).await
}

pub(crate) async fn reveal_name(
    State(state): State<Arc<AppState>>,
    axum::Extension(p): axum::Extension<Principal>,
    axum::extract::Path(who): axum::extract::Path<String>,
    Query(q): Q,
    headers: HeaderMap,
    axum::Form(f): axum::Form<RevealForm>,
) -> Response {
    if let Some(r) = check_csrf(&p, &f.csrf) {
        return r;
    }
    let user = match person_of(&state, &who).await {
        Ok(Some(u)) => u,
        Ok(None) => return (StatusCode::NOT_FOUND, "no such person").into_response(),
        Err(r) => return r,
    };
    if let Err(e) = custodian_app::cases::reveal(
        state.store.as_ref(),
        &state.ledger,
        crate::now_of(&state),
        &user,
        &p.name,
        &f.reason,
    )
    .await
    {
        return crate::app_error(e);
    }
    tracing::info!(by = %p.name, pseudonym = %who, "name revealed");
    let mut r = person_response(&state, &p, &who, lang(&q, &headers), Some(user.clone())).await;
    // The one subject this response may name (see `pseudonyms`).
    r.extensions_mut().insert(crate::pseudonyms::Revealed(user));
    r
}

async fn person_response(
    state: &AppState,
    p: &Principal,
    who: &str,
    l: Lang,
    revealed: Option<String>,
) -> Response {
    let user = match person_of(state, who).await {
        Ok(Some(u)) => u,
        Ok(None) => return (StatusCode::NOT_FOUND, "no such person").into_response(),
        Err(r) => return r,
    };
    let view = match custodian_app::people::view(state.store.as_ref(), &user).await {
        Ok(Some(v)) => v,
        Ok(None) => return (StatusCode::NOT_FOUND, "no such person").into_response(),
        Err(e) => return crate::internal(e),
    };
    let csrf = esc(p.csrf.as_deref().unwrap_or(""));
    let person = &view.person;
    let name = match &revealed {
        Some(_) => format!(
            "<p class=\"note\">{} <b class=\"revealed\">{}</b> ({}, {}) — {}</p>",
            t(l, "Name:", "氏名:"),
            esc(&person.name),
            esc(&person.user_id),
            esc(&person.email),
            t(l, "this was recorded in the ledger", "この表示は台帳に記録されました")
        ),
        None => format!(
            "<form method=\"post\" action=\"/ui/people/{w}/reveal\" class=\"reveal\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <label>{}<input name=\"reason\" required minlength=\"4\" placeholder=\"{}\"></label><button type=\"submit\">{}</button></form>",
            t(l, "Reveal the name (recorded in the ledger with your reason)", "実名を表示（理由とともに台帳に記録されます）"),
            t(l, "e.g. case CASE-… needs an interview", "例: 案件 CASE-… で面談が必要"),
            t(l, "Reveal the name", "実名を表示"),
            w = esc(who),
        ),
    };
    let mut rows = String::new();
    for it in &view.items {
        let mut text = it.text.replace(&user, who);
        if revealed.is_none() {
            text = text.replace(&person.name, who);
        }
        let text = esc(&text);
        let text = match &it.alert_id {
            Some(id) => format!(
                "{text} <form method=\"post\" action=\"/ui/cases\" class=\"inline\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"alert\" value=\"{}\"><button type=\"submit\">{}</button></form>",
                esc(id),
                t(l, "Open a case", "案件を開く")
            ),
            None => text,
        };
        rows.push_str(&format!(
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td{}>{text}</td></tr>",
            it.kind.as_str().replace(' ', "-"),
            esc(&it.at.format("%Y-%m-%d %H:%M").to_string()),
            esc(it.kind.as_str()),
            if it.outside { " class=\"out\"" } else { "" },
        ));
    }
    let hidden = if view.items_hidden > 0 {
        format!(
            "<p>{} {}</p>",
            view.items_hidden,
            t(
                l,
                "older items not shown.",
                "件の古い項目は省略しています。"
            )
        )
    } else {
        String::new()
    };
    let truncated = if view.events_truncated {
        format!(
            "<p class=\"note\">{} {}</p>",
            t(
                l,
                "Only the most recent events are drawn:",
                "直近の操作のみ表示:"
            ),
            view.events_read
        )
    } else {
        String::new()
    };
    let projects: Vec<&str> = person.projects.iter().map(String::as_str).collect();
    let body = format!(
        "{name}<p>{}: {} · {}: {} · {}: {} · {}: {}</p>\
         <h2>{}</h2><p>{}</p>{}{truncated}\
         <h2>{}</h2>{hidden}<table class=\"timeline\"><tr><th>{}</th><th>{}</th><th></th></tr>{rows}</table>",
        t(l, "unit", "部署"),
        esc(&person.org_unit),
        t(l, "role", "職種"),
        esc(&person.role),
        t(l, "clearance", "取扱資格"),
        person.clearance.as_str(),
        t(l, "projects", "プロジェクト"),
        esc(&projects.join(", ")),
        t(l, "Outside their own scope, week by week", "担当範囲外のアクセス（週ごと）"),
        t(l, "Each bar is the highest level opened, printed, downloaded or briefed that week among documents neither on the person's projects nor, for documents open to all, owned by their unit; a dashed bar is a refusal. A staircase from public to confidential is the known approach pattern.",
             "各棒は、その週に開いた・印刷した・ダウンロードした文書のうち、本人のプロジェクト外（全社公開文書なら他部署所有）のものの最高区分。点線は拒否されたアクセス。公開→社外秘→秘と階段状に上がるのが既知の手口です。"),
        escalation_svg(l, &view.weeks),
        t(l, "Timeline", "タイムライン"),
        t(l, "when", "日時"),
        t(l, "what", "種類"),
    );
    page(
        l,
        Some(p.role),
        &format!("{} {who}", t(l, "Person", "対象者")),
        &body,
    )
}

pub(crate) async fn contacts_page(
    State(state): State<Arc<AppState>>,
    axum::Extension(p): axum::Extension<Principal>,
    Query(q): Q,
    headers: HeaderMap,
) -> Response {
    let l = lang(&q, &headers);
    let (reports, groups) = match custodian_app::cases::contact_groups(state.store.as_ref()).await {
        Ok(x) => x,
        Err(e) => return crate::app_error(e),
    };
    let mut html = String::new();
    let mut n = 0;
    // Linked groups first, then the reports nothing else describes (an
    // analyst reads every report).
    let mut ordered: Vec<_> = groups.iter().collect();
    ordered.sort_by_key(|g| g.members.len() < 2);
    let mut singles_started = false;
    for g in ordered {
        if g.members.len() >= 2 {
            n += 1;
        } else if !singles_started {
            singles_started = true;
            html.push_str(&format!(
                "<h2 class=\"unlinked\">{}</h2>",
                t(
                    l,
                    "Reports not linked to any other",
                    "他の報告と結び付いていない報告"
                )
            ));
        }
        let mut rows = String::new();
        for &i in &g.members {
            let r = &reports[i];
            let c = &r.counterpart;
            let described: Vec<String> = [
                c.claimed_name.as_deref(),
                c.claimed_nationality.as_deref(),
                c.claimed_affiliation.as_deref(),
                c.phone.as_deref(),
                c.email.as_deref(),
            ]
            .into_iter()
            .flatten()
            .map(esc)
            .collect();
            let reporter = state.pseudonym(&r.reporter);
            rows.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td><a href=\"/ui/people/{reporter}\">{reporter}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td></tr>",
                esc(&r.id),
                r.met_on.map(|d| d.to_string()).unwrap_or_default(),
                esc(&r.place),
                esc(r.approach.as_str()),
                described.join(" · "),
                if r.gifts_jpy > 0 { format!("¥{} ", r.gifts_jpy) } else { String::new() },
                esc(&r.requests.join(", ")),
            ));
        }
        html.push_str(&format!(
            "<section class=\"group\"><h2>{} — {} {}, {} {}</h2><p>{}: {} · {}: {}</p>\
             <table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>{rows}</table></section>",
            esc(g.name.as_deref().unwrap_or(t(l, "unnamed approacher", "名前不明の人物"))),
            g.members.len(),
            t(l, "reports", "件の報告"),
            g.reporters.len(),
            t(l, "reporters", "人の報告者"),
            t(l, "first met", "最初の接触"),
            g.first_met.map(|d| d.to_string()).unwrap_or_default(),
            t(l, "last report", "最新の報告"),
            g.last_reported.format("%Y-%m-%d"),
            t(l, "report", "報告"),
            t(l, "met on", "接触日"),
            t(l, "reporter", "報告者"),
            t(l, "place", "場所"),
            t(l, "approach", "きっかけ"),
            t(l, "as described", "人物の特徴"),
            t(l, "asked for", "求められたもの"),
        ));
    }
    let body = format!(
        "<p>{} {} {} {}</p>{html}",
        reports.len(),
        t(l, "reports;", "件の報告、"),
        n,
        t(l, "groups that describe the same approacher (partial and differing descriptions are matched).",
             "グループ（同一人物と思われる報告。名前の一部や異なる場所でも照合します）。")
    );
    page(
        l,
        Some(p.role),
        t(l, "Contact-report groups", "接触報告のグループ"),
        &body,
    )
}

pub(crate) async fn cases_page(
    State(state): State<Arc<AppState>>,
    axum::Extension(p): axum::Extension<Principal>,
    Query(q): Q,
    headers: HeaderMap,
) -> Response {
    let l = lang(&q, &headers);
    let list = match custodian_app::cases::list(state.store.as_ref()).await {
        Ok(c) => c,
        Err(e) => return crate::app_error(e),
    };
    let mut rows = String::new();
    for (id, st) in list.iter().rev() {
        let who = state.pseudonym(st["subject"].as_str().unwrap_or(""));
        rows.push_str(&format!(
            "<tr><td><a href=\"/ui/cases/{id}\">{id}</a></td><td>{}</td><td><a href=\"/ui/people/{who}\">{who}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(st["status"].as_str().unwrap_or("?")),
            esc(st["opened_at"].as_str().unwrap_or("")),
            esc(st["assignee"].as_str().unwrap_or("-")),
            st["notes"].as_u64().unwrap_or(0),
            id = esc(id),
            who = esc(&who),
        ));
    }
    let body = format!(
        "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>{rows}</table>",
        t(l, "case", "案件"),
        t(l, "status", "状態"),
        t(l, "person", "対象者"),
        t(l, "opened", "開始"),
        t(l, "assigned to", "担当"),
        t(l, "notes", "メモ"),
    );
    page(l, Some(p.role), t(l, "Cases", "案件"), &body)
}

/// Register exposure: documents opened without need to know, for their
/// owners and the administrators (counts and units, no names).
pub(crate) async fn exposure_page(
    State(state): State<Arc<AppState>>,
    axum::Extension(p): axum::Extension<Principal>,
    Query(q): Q,
    headers: HeaderMap,
) -> Response {
    let l = lang(&q, &headers);
    let title = t(l, "Register exposure", "登録文書の露出");
    let Some(owner) = crate::exposure_scope(&p) else {
        let body = format!(
            "<p class=\"note\">{}</p>",
            t(
                l,
                "This account is not linked to a person of the directory, so it owns no documents.",
                "このアカウントは名簿の人物に結び付いていないため、所有する文書はありません。"
            )
        );
        return page(l, Some(p.role), title, &body);
    };
    let list = match custodian_app::exposure::current(state.store.as_ref(), owner.as_deref()).await
    {
        Ok(list) => list,
        Err(e) => return crate::internal(e),
    };
    let mut rows = String::new();
    for (f, _) in &list {
        let units: Vec<String> = f
            .units
            .iter()
            .take(5)
            .map(|(u, n)| format!("{} ({n})", esc(u)))
            .collect();
        rows.push_str(&format!(
            "<tr><td>{}<br><small>{}</small></td><td>{}</td><td>{}</td><td{}>{} ({} {})</td><td>{}</td><td>{} – {}</td><td>{}</td></tr>",
            esc(&f.doc),
            esc(&f.title),
            esc(f.level.as_str()),
            f.may,
            if f.exposed { " class=\"out\"" } else { "" },
            f.did,
            f.opens,
            t(l, "opens", "回"),
            esc(&f.owner),
            f.since.format("%Y-%m-%d"),
            f.last.format("%Y-%m-%d"),
            units.join(", "),
        ));
    }
    let intro = t(
        l,
        "Documents opened by people the register does not give a need to know (or clearance): the folder permissions are wider than the register. Where several people did, the permissions are wrong, which weakens the claim that the document is managed as secret: narrow them, or record who needs it. Readers are counted, not named; their access stays with the analysts.",
        "登録簿上の知る必要（またはクリアランス）のない人が開いた文書です。フォルダの権限が登録簿より広くなっています。複数の人が開いている場合は権限の誤りで、秘密として管理されているという主張を弱めます。権限を狭めるか、必要とする人を登録してください。閲覧者は人数のみで、氏名は表示しません。",
    );
    let body = if list.is_empty() {
        format!(
            "<p>{intro}</p><p class=\"good\">{}</p>",
            t(
                l,
                "No finding: nobody opened these documents without need to know (as of the last detection over the store).",
                "所見なし：知る必要なく開かれた文書はありません（最後の検知時点）。"
            )
        )
    } else {
        format!(
            "<p>{intro}</p><table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>{rows}</table>",
            t(l, "document", "文書"),
            t(l, "level", "区分"),
            t(l, "may open", "閲覧可能"),
            t(l, "opened without need to know", "知る必要なく閲覧"),
            t(l, "owner", "所有者"),
            t(l, "first – last", "初回 – 最終"),
            t(l, "from units", "部署"),
        )
    };
    page(l, Some(p.role), title, &body)
}

pub(crate) async fn ledger_page(
    State(state): State<Arc<AppState>>,
    axum::Extension(p): axum::Extension<Principal>,
    Query(q): Q,
    headers: HeaderMap,
) -> Response {
    let l = lang(&q, &headers);
    ledger_response(&state, &p, l, None).await
}

pub(crate) async fn ledger_verify(
    State(state): State<Arc<AppState>>,
    axum::Extension(p): axum::Extension<Principal>,
    Query(q): Q,
    headers: HeaderMap,
    axum::Form(f): axum::Form<CsrfForm>,
) -> Response {
    if let Some(r) = check_csrf(&p, &f.csrf) {
        return r;
    }
    let l = lang(&q, &headers);
    let outcome = crate::verify_ledger(&state).await;
    ledger_response(&state, &p, l, Some(outcome)).await
}

async fn ledger_response(
    state: &AppState,
    p: &Principal,
    l: Lang,
    verified: Option<Result<Value, (StatusCode, String)>>,
) -> Response {
    let status = match crate::ledger_status_json(state).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let csrf = esc(p.csrf.as_deref().unwrap_or(""));
    let result = match verified {
        None => String::new(),
        Some(Ok(v)) if v["verified"] == true => format!(
            "<p class=\"good verify-result\">{} {} {}, {} {}, {} {:.2} s.</p>",
            t(l, "VERIFIED:", "検証成功:"),
            v["report"]["size"],
            t(l, "entries", "件"),
            v["report"]["checkpoints_verified"],
            t(l, "signed checkpoints", "個の署名付きチェックポイント"),
            t(l, "in", "所要"),
            v["seconds"].as_f64().unwrap_or(0.0)
        ),
        Some(Ok(v)) => format!(
            "<p class=\"bad verify-result\">{} {}</p>",
            t(l, "THE LEDGER DOES NOT VERIFY:", "台帳の検証に失敗:"),
            esc(v["failure"]["what"].as_str().unwrap_or("?"))
        ),
        Some(Err((_, why))) => format!("<p class=\"bad verify-result\">{}</p>", esc(&why)),
    };
    let body = format!(
        "{result}<table><tr><th>{}</th><td class=\"size\">{}</td></tr><tr><th>{}</th><td><code>{}</code></td></tr><tr><th>{}</th><td>{}</td></tr>\
         <tr><th>{}</th><td><pre>{}</pre></td></tr></table>\
         <form method=\"post\" action=\"/ui/ledger/verify\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><p><button type=\"submit\">{}</button></p></form>\
         <p>{}</p>",
        t(l, "entries", "エントリ数"),
        status["size"],
        t(l, "root", "ルートハッシュ"),
        esc(status["root"].as_str().unwrap_or("-")),
        t(l, "signed checkpoints", "署名付きチェックポイント"),
        status["checkpoints"],
        t(l, "latest checkpoint", "最新のチェックポイント"),
        esc(status["latest_checkpoint"].as_str().unwrap_or("-")),
        t(l, "Verify the whole ledger now", "台帳全体を今すぐ検証"),
        t(l, "Verification rebuilds the tree from every stored record and checks every checkpoint's signature and root; outside the console: custodian ledger verify, or custodian ledger verify-proof on a proof with only the public key.",
             "検証は保存されたすべての記録から木を再構築し、各チェックポイントの署名とルートを確認します。コンソール外では custodian ledger verify、公開鍵のみで証明を確認するには custodian ledger verify-proof。"),
    );
    page(l, Some(p.role), t(l, "Ledger", "台帳"), &body)
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
    match custodian_app::cases::open(
        state.store.as_ref(),
        &state.ledger,
        crate::now_of(&state),
        &f.alert,
        &p.name,
    )
    .await
    {
        Ok((case, _, _)) => Redirect::to(&format!("/ui/cases/{case}")).into_response(),
        Err(e) => crate::app_error(e),
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
    let (actions, st) = match custodian_app::cases::existing(state.store.as_ref(), &case).await {
        Ok(x) => x,
        Err(e) => return crate::app_error(e),
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
        {
            let w = esc(&pseudonym(&key, subject));
            format!("<a href=\"/ui/people/{w}\">{w}</a>")
        },
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
    page(
        l,
        Some(p.role),
        &format!("{} {case}", t(l, "Case", "案件")),
        &body,
    )
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
    match custodian_app::cases::apply(
        state.store.as_ref(),
        &state.ledger,
        crate::now_of(&state),
        &case,
        custodian_app::cases::CaseAction::Note { text: f.text },
        &p.name,
    )
    .await
    {
        Ok(_) => Redirect::to(&format!("/ui/cases/{case}")).into_response(),
        Err(e) => crate::app_error(e),
    }
}
