//! The ledger's page: its status, and a full verification on request.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::{esc, page, t, Lang, NoFields, Page, Post};
use crate::{AppState, Principal};

pub(crate) async fn ledger_page(Page { state, p, l, .. }: Page) -> Response {
    ledger_response(&state, &p, l, None).await
}

pub(crate) async fn ledger_verify(Post(Page { state, p, l, .. }, _f): Post<NoFields>) -> Response {
    let outcome = crate::verify_ledger(&state).await;
    ledger_response(&state, &p, l, Some(outcome)).await
}

pub(crate) async fn ledger_response(
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
