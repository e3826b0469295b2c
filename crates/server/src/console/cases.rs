//! Cases: the list, opening one from an alert, a case's page and its notes.

use axum::response::{IntoResponse, Redirect, Response};

use super::{esc, page, pseudonym, t, Page, Post};

pub(crate) async fn cases_page(Page { state, p, l, .. }: Page) -> Response {
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

#[derive(serde::Deserialize)]
pub struct OpenForm {
    alert: String,
}

pub(crate) async fn open_case(Post(Page { state, p, .. }, f): Post<OpenForm>) -> Response {
    match custodian_app::cases::open(
        state.store.as_ref(),
        &state.ledger,
        crate::now_of(&state),
        &f.alert,
        &p.name,
    )
    .await
    {
        Ok(o) => Redirect::to(&format!("/ui/cases/{}", o.case)).into_response(),
        Err(e) => crate::app_error(e),
    }
}

pub(crate) async fn case_page(
    axum::extract::Path(case): axum::extract::Path<String>,
    Page { state, p, l, .. }: Page,
) -> Response {
    let (actions, st) = match custodian_app::cases::existing(state.store.as_ref(), &case).await {
        Ok(x) => x,
        Err(e) => return crate::app_error(e),
    };
    let key = state.pseudonym_key();
    let subject = st["subject"].as_str().unwrap_or("");
    if let Err(r) = crate::api::cases::case_viewed(&state, &p, &case, subject).await {
        return r;
    }
    let mut rows = String::new();
    for (r, v) in &actions {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&super::when(&r.at)),
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
    let status = st["status"].as_str().unwrap_or("open");
    let assignee = st["assignee"].as_str().unwrap_or("");
    let (next, next_label) = if status == "closed" {
        ("reopen", t(l, "Reopen the case", "案件を再開"))
    } else {
        ("close", t(l, "Close the case", "案件を終了"))
    };
    let actions = format!(
        "<form method=\"post\" action=\"/ui/cases/{c}/actions\" class=\"assign\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"action\" value=\"assign\">\
         <label>{}<input name=\"to\" value=\"{}\" required></label><p><button type=\"submit\">{}</button></p></form>\
         <form method=\"post\" action=\"/ui/cases/{c}/actions\" class=\"status\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"action\" value=\"{next}\">\
         <label>{}<input name=\"reason\" required minlength=\"4\"></label><p><button type=\"submit\">{next_label}</button></p></form>",
        t(l, "Assigned to (account name)", "担当者（アカウント名）"),
        esc(assignee),
        t(l, "Assign", "担当を設定"),
        t(l, "Why", "理由"),
        c = esc(&case),
    );
    let body = format!(
        "<p>{}: <b class=\"case-status\">{}</b> · {}: <b class=\"assignee\">{}</b> · {}: {} · {}: {}</p>{actions}<table><tr><th>{}</th><th>{}</th><th>{}</th><th></th></tr>{rows}</table>\
         <form method=\"post\" action=\"/ui/cases/{c}/notes\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label>{}<textarea name=\"text\" rows=\"3\" required></textarea></label><p><button type=\"submit\">{}</button></p></form>\
         <p><a href=\"/ui/cases/{c}/bundle\">{}</a></p>",
        t(l, "Status", "状態"),
        esc(status),
        t(l, "assigned to", "担当"),
        if assignee.is_empty() { "-".to_string() } else { esc(assignee) },
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
pub struct CaseActionForm {
    action: String,
    to: Option<String>,
    reason: Option<String>,
}

/// Assign, close or reopen a case (ledgered, as over the API).
pub(crate) async fn case_action_form(
    axum::extract::Path(case): axum::extract::Path<String>,
    Post(Page { state, p, .. }, f): Post<CaseActionForm>,
) -> Response {
    use custodian_app::cases::CaseAction;
    let action = match f.action.as_str() {
        "assign" => CaseAction::Assign {
            to: f.to.unwrap_or_default(),
        },
        "close" | "reopen" => CaseAction::Status {
            status: if f.action == "close" {
                "closed"
            } else {
                "open"
            }
            .into(),
            reason: f.reason.filter(|r| !r.trim().is_empty()),
        },
        _ => {
            return crate::problem(
                axum::http::StatusCode::BAD_REQUEST,
                "action is assign, close or reopen",
            )
        }
    };
    match custodian_app::cases::apply(
        state.store.as_ref(),
        &state.ledger,
        crate::now_of(&state),
        &case,
        action,
        &p.name,
    )
    .await
    {
        Ok(_) => Redirect::to(&format!("/ui/cases/{case}")).into_response(),
        Err(e) => crate::app_error(e),
    }
}

#[derive(serde::Deserialize)]
pub struct NoteForm {
    text: String,
}

pub(crate) async fn add_note(
    axum::extract::Path(case): axum::extract::Path<String>,
    Post(Page { state, p, .. }, f): Post<NoteForm>,
) -> Response {
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
