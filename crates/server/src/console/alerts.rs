//! The analysts' alert queue (pseudonymised) and acknowledging an alert.

use axum::response::{IntoResponse, Redirect, Response};
use serde_json::Value;

use super::{esc, page, t, NoFields, Page, Post};

pub(crate) async fn alert_queue(Page { state, p, l, q }: Page) -> Response {
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
