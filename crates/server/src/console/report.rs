//! The contact-report form any employee fills in a minute, with the known
//! approach pattern explained, and filing it.

use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{json, Value};

use super::{esc, page, t, Lang, Page, Post};

pub(crate) async fn report_form(Page { p, l, q, .. }: Page) -> Response {
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

pub(crate) async fn report_submit(Post(Page { state, p, .. }, f): Post<ReportForm>) -> Response {
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
