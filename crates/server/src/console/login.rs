//! The login page, logging in (with a safe `next`) and logging out.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};

use super::{esc, lang, page, t, Q};
use crate::AppState;

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
        esc(q.get("next").map_or("/ui/", String::as_str)),
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

/// Only same-site paths of the console are followed after login; without
/// one, `/ui/` sends each role to its own first page.
pub(crate) fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with("/ui/") && !n.starts_with("//") && !n.contains("://") => n,
        _ => "/ui/",
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
