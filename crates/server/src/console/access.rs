//! The auditor's page of analysts' reads of one person: who looked at
//! their page or their cases, and who was shown their name, when.

use axum::response::Response;

use super::{esc, page, t, Page};

pub(crate) async fn access_page(Page { state, p, l, q }: Page) -> Response {
    let person = q.get("person").map(|s| s.trim()).unwrap_or("");
    let form = format!(
        "<form method=\"get\" action=\"/ui/access\"><label>{}<input name=\"person\" value=\"{}\" required></label><p><button type=\"submit\">{}</button></p></form>",
        t(l, "Person (user id)", "対象者（ユーザーID）"),
        esc(person),
        t(l, "Show the reads", "閲覧記録を表示")
    );
    let mut body = form;
    if !person.is_empty() {
        let reads = match custodian_app::access::reads_of(state.store.as_ref(), person).await {
            Ok(r) => r,
            Err(e) => return crate::app_error(e),
        };
        if reads.is_empty() {
            body.push_str(&format!(
                "<p class=\"note\">{}</p>",
                t(
                    l,
                    "No analyst has read about this person.",
                    "この対象者の閲覧記録はありません。"
                )
            ));
        } else {
            body.push_str(&format!(
                "<table class=\"reads\"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
                t(l, "When", "日時"),
                t(l, "Who", "閲覧者"),
                t(l, "What", "内容"),
                t(l, "Which, or why", "対象・理由"),
                t(l, "Ledger record", "台帳記録")
            ));
            for r in &reads {
                body.push_str(&format!(
                    "<tr class=\"read\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                    esc(&r.at.to_rfc3339()),
                    esc(&r.by),
                    esc(&r.what),
                    esc(&r.detail),
                    esc(&r.record)
                ));
            }
            body.push_str("</table>");
        }
    }
    page(
        l,
        Some(p.role),
        t(l, "Analysts' reads", "分析者の閲覧記録"),
        &body,
    )
}
