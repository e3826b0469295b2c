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
    let some = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let query = queue::Query {
        severity: some("severity").map(str::to_string),
        unacknowledged: some("unacknowledged").is_some(),
        indicator: some("indicator").map(str::to_string),
        since: some("since").and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()),
        sort: some("sort")
            .and_then(queue::Sort::parse)
            .unwrap_or_default(),
        page: some("page").and_then(|n| n.parse().ok()).unwrap_or(1),
        per_page: PER_PAGE,
    };
    let qp = queue::page(&list, &acked, &query);
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
        let (arrow, trend) = match r.trend {
            queue::Trend::New => ("•", t(l, "first alert", "初回")),
            queue::Trend::Rising => ("↑", t(l, "rising", "上昇")),
            queue::Trend::Falling => ("↓", t(l, "falling", "低下")),
            queue::Trend::Steady => ("→", t(l, "steady", "横ばい")),
        };
        rows.push_str(&format!(
            "<tr class=\"alert\" data-alert=\"{id}\"><td>{:.0}</td><td>{}</td><td title=\"{trend}\" class=\"trend\">{arrow}</td><td><a href=\"/ui/people/{who}\">{who}</a></td><td class=\"count\">{} ({} {})</td><td>{}</td><td>{}</td><td>{ack}</td><td><form method=\"post\" action=\"/ui/cases\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"alert\" value=\"{id}\"><button type=\"submit\">{}</button></form></td></tr>",
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
    let keep: String = ["severity", "unacknowledged", "indicator", "since", "sort"]
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
    let body = format!(
        "<p>{}</p><form method=\"get\" action=\"/ui/alerts\" class=\"filter\"><label>{}<select name=\"severity\"><option value=\"\">{}</option>\
         <option value=\"high\"{}>high</option><option value=\"medium\"{}>medium</option><option value=\"low\"{}>low</option></select></label>\
         <label>{}<input name=\"indicator\" value=\"{}\" placeholder=\"need_to_know_violation\"></label>\
         <label>{}<input name=\"since\" type=\"date\" value=\"{}\"></label>\
         <label>{}<select name=\"sort\"><option value=\"latest\"{}>{}</option><option value=\"top\"{}>{}</option><option value=\"count\"{}>{}</option><option value=\"recent\"{}>{}</option></select></label>\
         <label><input type=\"checkbox\" name=\"unacknowledged\" value=\"1\"{} style=\"width:auto\"> {}</label><button type=\"submit\">{}</button></form>\
         <p class=\"count\">{count}</p>\
         <table><tr><th>{}</th><th>{}</th><th></th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th></th><th></th></tr>{rows}</table><p class=\"pager\">{pager}</p>",
        t(l, "One row a person: their latest alert, highest score first. Names are pseudonymised; revealing one is a logged action.", "対象者ごとに1行（最新のアラート、スコアの高い順）。氏名は仮名化されています（実名の表示は記録されます）。"),
        t(l, "Severity", "重大度"),
        t(l, "all", "すべて"),
        sel("severity", "high"),
        sel("severity", "medium"),
        sel("severity", "low"),
        t(l, "Indicator", "指標"),
        esc(some("indicator").unwrap_or("")),
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
    );
    page(l, Some(p.role), t(l, "Alert queue", "アラート一覧"), &body)
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
