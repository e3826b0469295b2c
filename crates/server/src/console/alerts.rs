//! The analysts' alert queue (one row a person, pseudonymised, filtered,
//! sorted and paged by `custodian_app::queue`) and acknowledging an alert.

use std::collections::BTreeSet;

use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use custodian_app::queue;
use serde_json::Value;

use super::{esc, page, t, NoFields, Page, Post};

pub(crate) async fn alert_queue(Page { state, p, l, q }: Page) -> Response {
    let (list, acks) = match crate::alerts_and_acks(&state).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let acked: BTreeSet<String> = acks.keys().cloned().collect();
    let statuses = match custodian_app::triage::statuses(state.store.as_ref()).await {
        Ok(s) => s,
        Err(e) => return crate::app_error(e),
    };
    let some = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let query = queue::Query {
        severity: some("severity").map(str::to_string),
        unacknowledged: some("unacknowledged").is_some(),
        status: some("status").map(str::to_string),
        suppressed: some("suppressed").is_some(),
        indicator: some("indicator").map(str::to_string),
        unit: some("unit").map(str::to_string),
        since: some("since").and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()),
        sort: some("sort")
            .and_then(queue::Sort::parse)
            .unwrap_or_default(),
        page: some("page").and_then(|n| n.parse().ok()).unwrap_or(1),
        per_page: PER_PAGE,
    };
    let suppressions = match custodian_app::triage::Suppressions::load(state.store.as_ref()).await {
        Ok(s) => s,
        Err(e) => return crate::app_error(e),
    };
    let units: std::collections::BTreeMap<String, String> = match state.store.people().await {
        Ok(people) => people
            .into_iter()
            .map(|p| (p.user_id, p.org_unit))
            .collect(),
        Err(e) => return crate::internal(e),
    };
    let mut unit_names: Vec<&String> = units.values().collect();
    unit_names.sort();
    unit_names.dedup();
    let unit_options: String = unit_names
        .iter()
        .map(|u| {
            let selected = if some("unit") == Some(u.as_str()) {
                " selected"
            } else {
                ""
            };
            format!("<option value=\"{0}\"{selected}>{0}</option>", esc(u))
        })
        .collect();
    let triage = queue::Triage {
        acknowledged: acked,
        statuses,
        suppressions,
        units,
    };
    let qp = queue::page(&list, &triage, &query);
    let statuses = &triage.statuses;
    let csrf = esc(p.csrf.as_deref().unwrap_or(""));
    let mut rows = String::new();
    for r in &qp.rows {
        let a = &r.latest;
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
        let status = statuses.get(&a.id);
        let triage = triage_form(l, &csrf, &a.id, status);
        let (arrow, trend) = match r.trend {
            queue::Trend::New => ("•", t(l, "first alert", "初回")),
            queue::Trend::Rising => ("↑", t(l, "rising", "上昇")),
            queue::Trend::Falling => ("↓", t(l, "falling", "低下")),
            queue::Trend::Steady => ("→", t(l, "steady", "横ばい")),
        };
        rows.push_str(&format!(
            "<tr class=\"alert\" data-alert=\"{id}\"><td>{:.0}</td><td>{}</td><td title=\"{trend}\" class=\"trend\">{arrow}</td><td><a href=\"/ui/people/{who}\">{who}</a></td><td class=\"count\">{} ({} {})</td><td>{}</td><td><a href=\"/ui/alerts/{id}\" class=\"alert-link\">{}</a></td><td>{ack}</td><td class=\"triage\">{triage}</td><td><form method=\"post\" action=\"/ui/cases\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"alert\" value=\"{id}\"><button type=\"submit\">{}</button></form></td></tr>",
            a.score,
            esc(&a.severity),
            r.alerts,
            r.unacknowledged,
            t(l, "open", "未確認"),
            esc(&crate::console::when(&a.raised_at)),
            esc(&summary),
            t(l, "Open a case", "案件を開く"),
            id = esc(&a.id),
            who = esc(&who),
        ));
    }
    let sel = |k: &str, v: &str| {
        if some(k) == Some(v) {
            " selected"
        } else {
            ""
        }
    };
    // The pager keeps the filters and the order.
    let keep: String = [
        "severity",
        "status",
        "unacknowledged",
        "indicator",
        "since",
        "sort",
    ]
    .iter()
    .filter_map(|k| some(k).map(|v| format!("&{k}={}", urlencoding(v))))
    .collect();
    let link = |n: usize, text: &str| {
        format!("<a href=\"/ui/alerts?page={n}{keep}\" class=\"page\">{text}</a>")
    };
    let mut pager = String::new();
    if qp.page > 1 {
        pager.push_str(&link(qp.page - 1, t(l, "previous", "前へ")));
    }
    if qp.page < qp.pages {
        pager.push_str(&link(qp.page + 1, t(l, "next", "次へ")));
    }
    let count = match l {
        super::Lang::Ja => format!(
            "{}人、アラート{}件（{}/{}ページ）",
            qp.people, qp.alerts, qp.page, qp.pages
        ),
        super::Lang::En => format!(
            "{} people, {} alerts (page {} of {})",
            qp.people, qp.alerts, qp.page, qp.pages
        ),
    };
    let precision = precision_table(l, &list, statuses);
    let held = if qp.held_out > 0 && !query.suppressed {
        format!(
            "<p class=\"held-out\">{} {} <a href=\"/ui/alerts?suppressed=1{keep}\">{}</a></p>",
            qp.held_out,
            t(
                l,
                "alerts held out by suppressions.",
                "件のアラートが抑止中です。"
            ),
            t(l, "Show them", "表示する")
        )
    } else {
        String::new()
    };
    let body = format!(
        "<p>{}</p><form method=\"get\" action=\"/ui/alerts\" class=\"filter\"><label>{}<select name=\"severity\"><option value=\"\">{}</option>\
         <option value=\"high\"{}>high</option><option value=\"medium\"{}>medium</option><option value=\"low\"{}>low</option></select></label>\
         <label>{}<select name=\"status\"><option value=\"\">{}</option>{}</select></label>\
         <label>{}<input name=\"indicator\" value=\"{}\" placeholder=\"need_to_know_violation\"></label>\
         <label>{}<select name=\"unit\"><option value=\"\">{}</option>{unit_options}</select></label>\
         <label>{}<input name=\"since\" type=\"date\" value=\"{}\"></label>\
         <label>{}<select name=\"sort\"><option value=\"latest\"{}>{}</option><option value=\"top\"{}>{}</option><option value=\"count\"{}>{}</option><option value=\"recent\"{}>{}</option></select></label>\
         <label><input type=\"checkbox\" name=\"unacknowledged\" value=\"1\"{} style=\"width:auto\"> {}</label><button type=\"submit\">{}</button></form>\
         <p class=\"count\">{count}</p>{held}\
         <table><tr><th>{}</th><th>{}</th><th></th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th></th><th>{}</th><th></th></tr>{rows}</table><p class=\"pager\">{pager}</p>{precision}",
        t(l, "One row a person: their latest alert, highest score first. Names are pseudonymised; revealing one is a logged action.", "対象者ごとに1行（最新のアラート、スコアの高い順）。氏名は仮名化されています（実名の表示は記録されます）。"),
        t(l, "Severity", "重大度"),
        t(l, "all", "すべて"),
        sel("severity", "high"),
        sel("severity", "medium"),
        sel("severity", "low"),
        t(l, "Triage status", "対応状況"),
        t(l, "all", "すべて"),
        custodian_app::triage::STATUSES
            .iter()
            .chain([&custodian_app::triage::WITHDRAWN])
            .map(|v| format!("<option value=\"{v}\"{}>{v}</option>", sel("status", v)))
            .collect::<String>(),
        t(l, "Indicator", "指標"),
        esc(some("indicator").unwrap_or("")),
        t(l, "Unit", "部署"),
        t(l, "all", "すべて"),
        t(l, "Raised on or after", "発生日（以降）"),
        esc(some("since").unwrap_or("")),
        t(l, "Order", "並び順"),
        sel("sort", "latest"),
        t(l, "latest score", "最新スコア"),
        sel("sort", "top"),
        t(l, "highest score", "最高スコア"),
        sel("sort", "count"),
        t(l, "most alerts", "件数"),
        sel("sort", "recent"),
        t(l, "most recent", "新しい順"),
        if query.unacknowledged { " checked" } else { "" },
        t(l, "only those nobody acknowledged", "未確認のみ"),
        t(l, "Filter", "絞り込む"),
        t(l, "score", "スコア"),
        t(l, "severity", "重大度"),
        t(l, "person", "対象者"),
        t(l, "alerts", "件数"),
        t(l, "raised", "発生日時"),
        t(l, "what it saw and what to do", "検知内容と推奨対応"),
        t(l, "triage", "対応"),
    );
    page(l, Some(p.role), t(l, "Alert queue", "アラート一覧"), &body)
}

/// An alert's status and the form that changes it (a dismissal needs a
/// reason code).
fn triage_form(
    l: super::Lang,
    csrf: &str,
    alert: &str,
    status: Option<&custodian_app::triage::Status>,
) -> String {
    let now = match status {
        Some(s) => format!(
            "<b class=\"status\">{}</b>{} ({})",
            esc(&s.status),
            s.reason
                .as_deref()
                .map(|r| format!(": {}", esc(r)))
                .unwrap_or_default(),
            esc(&s.by)
        ),
        None => "<b class=\"status\">new</b>".to_string(),
    };
    let options = |vs: &[&str]| -> String {
        vs.iter()
            .map(|v| format!("<option value=\"{v}\">{v}</option>"))
            .collect()
    };
    format!(
        "{now}<form method=\"post\" action=\"/ui/alerts/{}/status\" class=\"triage\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <select name=\"status\">{}</select><select name=\"reason\"><option value=\"\">{}</option>{}</select>\
         <input name=\"note\" placeholder=\"{}\"><label>{}<input name=\"suppress_days\" type=\"number\" min=\"0\" max=\"90\" value=\"0\"></label><button type=\"submit\">{}</button></form>",
        esc(alert),
        options(&["in_review", "escalated", "dismissed"]),
        t(l, "reason (to dismiss)", "理由（却下時）"),
        options(&custodian_app::triage::REASONS),
        t(l, "note", "メモ"),
        t(l, "and hold out like alerts for (days, on dismissal)", "同種のアラートを抑止（日数、却下時）"),
        t(l, "Set", "設定")
    )
}

/// What the dismissals so far say about each indicator.
fn precision_table(
    l: super::Lang,
    alerts: &[custodian_store::StoredAlert],
    statuses: &std::collections::BTreeMap<String, custodian_app::triage::Status>,
) -> String {
    let p = custodian_app::triage::precision(alerts, statuses);
    if p.is_empty() {
        return String::new();
    }
    let rows: String = p
        .iter()
        .map(|(name, x)| {
            format!(
                "<tr class=\"precision\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(name),
                x.escalated,
                x.benign,
                x.other,
                x.share().map_or("-".to_string(), |s| format!("{:.0} %", s * 100.0))
            )
        })
        .collect();
    const HEAD: [(&str, &str); 5] = [
        ("indicator", "指標"),
        ("escalated", "エスカレーション"),
        ("dismissed, benign", "却下（正当な理由）"),
        ("dismissed, other", "却下（その他）"),
        ("precision", "適合率"),
    ];
    let head = super::header_row(&HEAD.map(|(en, ja)| t(l, en, ja)));
    format!(
        "<h2>{}</h2><table>{head}{rows}</table>",
        t(l, "Indicators in triage", "指標ごとの対応結果")
    )
}

#[derive(serde::Deserialize)]
pub struct StatusForm {
    status: String,
    reason: Option<String>,
    note: Option<String>,
    /// On a dismissal: hold out the person's alerts made of the same
    /// indicators for this many days (0: none).
    suppress_days: Option<String>,
}

/// Sets an alert's triage status (ledgered).
pub(crate) async fn set_alert_status(
    axum::extract::Path(alert): axum::extract::Path<String>,
    Post(Page { state, p, .. }, f): Post<StatusForm>,
) -> Response {
    use axum::http::StatusCode;
    let store = state.store.as_ref();
    let a = match custodian_app::cases::stored_alert(store, &alert).await {
        Ok(a) => a,
        Err(e) => return crate::app_error(e),
    };
    let days: u32 = match f.suppress_days.as_deref().map(str::trim) {
        None | Some("") => 0,
        Some(d) => match d.parse() {
            Ok(n) => n,
            Err(_) => {
                return crate::problem(StatusCode::BAD_REQUEST, "suppress_days is a whole number")
            }
        },
    };
    // A form asking for a suppression it cannot have is a bad request.
    if let Err(e) = custodian_app::triage::check_suppression(&f.status, days) {
        return crate::problem(StatusCode::BAD_REQUEST, &e.to_string());
    }
    let settled = custodian_app::triage::settle(
        store,
        &state.ledger,
        crate::now_of(&state),
        &a,
        &f.status,
        f.reason.as_deref(),
        f.note.as_deref(),
        days,
        &p.name,
    );
    match settled.await {
        Ok(()) => Redirect::to("/ui/alerts").into_response(),
        Err(e) => crate::app_error(e),
    }
}

/// People a queue page.
const PER_PAGE: usize = 25;

/// A query value, percent-encoded.
fn urlencoding(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(crate) async fn ack_alert(
    axum::extract::Path(alert): axum::extract::Path<String>,
    Post(Page { state, p, .. }, _f): Post<NoFields>,
) -> Response {
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
