//! A person's page for analysts: the timeline and the weekly chart of
//! outside-scope reading by level, under a pseudonym until a ledgered reveal.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Datelike as _;

use super::{esc, page, person_of, t, Lang, Page, Post};
use crate::{AppState, Principal};

pub(crate) const LEVEL_COLOURS: [&str; 4] = ["#9cc3e6", "#f2c14e", "#e8743b", "#c0392b"];

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
    reason: String,
}

pub(crate) async fn person_page(
    axum::extract::Path(who): axum::extract::Path<String>,
    Page { state, p, l, .. }: Page,
) -> Response {
    person_response(&state, &p, &who, l, None).await
}

pub(crate) async fn reveal_name(
    axum::extract::Path(who): axum::extract::Path<String>,
    Post(Page { state, p, l, .. }, f): Post<RevealForm>,
) -> Response {
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
    let mut r = person_response(&state, &p, &who, l, Some(user.clone())).await;
    // The one subject this response may name (see `pseudonyms`).
    r.extensions_mut().insert(crate::pseudonyms::Revealed(user));
    r
}

pub(crate) async fn person_response(
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
    // On the record before it is shown.
    let viewed = custodian_app::access::Viewed::Person;
    let at = crate::now_of(state);
    let led = &state.ledger;
    let store = state.store.as_ref();
    if let Err(e) =
        custodian_app::access::record(store, led, at, &p.name, viewed, &user, &user).await
    {
        return crate::app_error(e);
    }
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
            esc(&super::when(&it.at)),
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
