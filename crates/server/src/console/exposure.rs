//! Register exposure for owners and administrators: entries opened
//! without need to know by many (an owner sees their own).

use axum::response::Response;

use super::{esc, page, t, Page};

/// Register exposure: documents opened without need to know, for their
/// owners and the administrators (counts and units, no names).
pub(crate) async fn exposure_page(Page { state, p, l, .. }: Page) -> Response {
    let title = t(l, "Register exposure", "登録文書の露出");
    let Some(owner) = crate::exposure_scope(&p) else {
        let body = format!(
            "<p class=\"note\">{}</p>",
            t(
                l,
                "This account is not linked to a person of the directory, so it owns no documents.",
                "このアカウントは名簿の人物に結び付いていないため、所有する文書はありません。"
            )
        );
        return page(l, Some(p.role), title, &body);
    };
    let list = match custodian_app::exposure::current(state.store.as_ref(), owner.as_deref()).await
    {
        Ok(list) => list,
        Err(e) => return crate::internal(e),
    };
    let mut rows = String::new();
    for (f, _) in &list {
        let units: Vec<String> = f
            .units
            .iter()
            .take(5)
            .map(|(u, n)| format!("{} ({n})", esc(u)))
            .collect();
        rows.push_str(&format!(
            "<tr><td>{}<br><small>{}</small></td><td>{}</td><td>{}</td><td{}>{} ({} {})</td><td>{}</td><td>{} – {}</td><td>{}</td></tr>",
            esc(&f.doc),
            esc(&f.title),
            esc(f.level.as_str()),
            f.may,
            if f.exposed { " class=\"out\"" } else { "" },
            f.did,
            f.opens,
            t(l, "opens", "回"),
            esc(&f.owner),
            f.since.format("%Y-%m-%d"),
            f.last.format("%Y-%m-%d"),
            units.join(", "),
        ));
    }
    let intro = t(
        l,
        "Documents opened by people the register does not give a need to know (or clearance): the folder permissions are wider than the register. Where several people did, the permissions are wrong, which weakens the claim that the document is managed as secret: narrow them, or record who needs it. Readers are counted, not named; their access stays with the analysts.",
        "登録簿上の知る必要（またはクリアランス）のない人が開いた文書です。フォルダの権限が登録簿より広くなっています。複数の人が開いている場合は権限の誤りで、秘密として管理されているという主張を弱めます。権限を狭めるか、必要とする人を登録してください。閲覧者は人数のみで、氏名は表示しません。",
    );
    let body = if list.is_empty() {
        format!(
            "<p>{intro}</p><p class=\"good\">{}</p>",
            t(
                l,
                "No finding: nobody opened these documents without need to know (as of the last detection over the store).",
                "所見なし：知る必要なく開かれた文書はありません（最後の検知時点）。"
            )
        )
    } else {
        let head = super::header_row(&[
            t(l, "document", "文書"),
            t(l, "level", "区分"),
            t(l, "may open", "閲覧可能"),
            t(l, "opened without need to know", "知る必要なく閲覧"),
            t(l, "owner", "所有者"),
            t(l, "first – last", "初回 – 最終"),
            t(l, "from units", "部署"),
        ]);
        format!("<p>{intro}</p><table>{head}{rows}</table>")
    };
    page(l, Some(p.role), title, &body)
}
