//! One alert, as an analyst works it: who (pseudonymised), how much and
//! how it is triaged; each indicator with its weight and what it compared
//! against; the events it cites as the ledger logged them, with document
//! titles, levels, hosts and sizes; the person's chart. Viewing it is a
//! read of the person, on the record (`custodian_app::access`).

use axum::response::Response;
use serde_json::Value;

use super::{esc, header_row, page, t, when, Page};

const INDICATOR_HEAD: [(&str, &str); 4] = [
    ("indicator", "指標"),
    ("weight", "重み"),
    ("how unusual, against whom", "どれほど異常か（比較対象）"),
    ("events", "件数"),
];

const EVIDENCE_HEAD: [(&str, &str); 7] = [
    ("when", "日時"),
    ("action", "操作"),
    ("document", "文書"),
    ("host", "端末"),
    ("size", "サイズ"),
    ("to", "宛先"),
    ("event", "イベント"),
];

pub(crate) async fn alert_page(
    axum::extract::Path(alert): axum::extract::Path<String>,
    Page { state, p, l, .. }: Page,
) -> Response {
    let store = state.store.as_ref();
    let a = match custodian_app::cases::stored_alert(store, &alert).await {
        Ok(a) => a,
        Err(e) => return crate::app_error(e),
    };
    let acks = match custodian_app::cases::acknowledgements(store).await {
        Ok(x) => x,
        Err(e) => return crate::app_error(e),
    };
    let viewed = custodian_app::access::Viewed::Person;
    let at = crate::now_of(&state);
    if let Err(e) =
        custodian_app::access::record(store, &state.ledger, at, &p.name, viewed, &a.user, &a.user)
            .await
    {
        return crate::app_error(e);
    }
    let who = state.pseudonym(&a.user);
    let masked = |s: &str| esc(&s.replace(&a.user, &who));
    let body: Value = serde_json::from_str(&a.body).unwrap_or(Value::Null);
    let status = match custodian_app::triage::statuses(store).await {
        Ok(s) => s.get(&a.id).map_or("new".to_string(), |s| s.status.clone()),
        Err(e) => return crate::app_error(e),
    };
    let mut indicators = String::new();
    let mut cited = Vec::new();
    for i in body["indicators"].as_array().into_iter().flatten() {
        let evidence: Vec<&str> = i["evidence"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        for id in &evidence {
            if !cited.contains(id) {
                cited.push(*id);
            }
        }
        indicators.push_str(&format!(
            "<tr class=\"indicator\"><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td></tr>",
            esc(i["name"].as_str().unwrap_or("")),
            i["weight"].as_f64().unwrap_or(0.0),
            masked(i["detail"].as_str().unwrap_or("")),
            evidence.len()
        ));
    }
    let mut events = String::new();
    for id in &cited {
        let e = match custodian_app::evidence::event(store, id).await {
            Ok(Some(e)) => e,
            Ok(None) => continue,
            Err(e) => return crate::internal(e),
        };
        let doc = match &e.doc {
            Some(d) => match store.document(d).await {
                Ok(Some(doc)) => format!(
                    "{} <span class=\"level\">({})</span>",
                    esc(&doc.title),
                    esc(doc.classification.as_str())
                ),
                Ok(None) => esc(d),
                Err(e) => return crate::internal(e),
            },
            None => String::new(),
        };
        let size = [
            e.bytes.map(custodian_detect::human_bytes),
            e.pages.map(|n| format!("{n} {}", t(l, "pages", "ページ"))),
            e.files
                .map(|n| format!("{n} {}", t(l, "files", "ファイル"))),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
        let ts = chrono::DateTime::parse_from_rfc3339(&e.ts).map_or(e.ts.clone(), |d| when(&d));
        events.push_str(&format!(
            "<tr class=\"evidence\"><td>{}</td><td>{}</td><td>{doc}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            esc(&ts),
            esc(&e.action),
            esc(e.host.as_deref().unwrap_or("")),
            esc(&size),
            esc(e.domain.as_deref().unwrap_or("")),
            esc(&e.id)
        ));
    }
    let chart = match custodian_app::people::view(store, &a.user).await {
        Ok(Some(v)) => super::escalation_svg(l, &v.weeks),
        Ok(None) => String::new(),
        Err(e) => return crate::internal(e),
    };
    let html = format!(
        "<p><a href=\"/ui/people/{w}\">{w}</a> · {} <b>{:.0}</b> · {} <b>{}</b> · {} {} · {} <b class=\"status\">{}</b>{}</p>\
         <p class=\"summary\">{}</p><h2>{}</h2><table>{}{indicators}</table><h2>{}</h2><table>{}{events}</table><h2>{}</h2>{chart}",
        t(l, "score", "スコア"),
        a.score,
        t(l, "severity", "重大度"),
        esc(&a.severity),
        t(l, "raised", "発生"),
        esc(&when(&a.raised_at)),
        t(l, "triage", "対応"),
        esc(&status),
        acks.get(&a.id).map_or(String::new(), |v| format!(
            " · {} {}",
            t(l, "acknowledged by", "確認済み:"),
            esc(v["by"].as_str().unwrap_or("?"))
        )),
        masked(body["summary"].as_str().unwrap_or("")),
        t(l, "Indicators", "指標"),
        header_row(&INDICATOR_HEAD.map(|(en, ja)| t(l, en, ja))),
        t(l, "Evidence events (as the ledger logged them)", "根拠となるイベント（台帳の記録どおり）"),
        header_row(&EVIDENCE_HEAD.map(|(en, ja)| t(l, en, ja))),
        t(l, "Highest level touched outside their scope, week by week", "担当範囲外で触れた最高区分（週ごと）"),
        w = esc(&who),
    );
    page(
        l,
        Some(p.role),
        &format!("{} {}", t(l, "Alert", "アラート"), a.id),
        &html,
    )
}
