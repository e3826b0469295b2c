//! Contact-report groups: reports of the same approacher linked across staff.

use axum::response::Response;

use super::{esc, page, t, Page};

pub(crate) async fn contacts_page(Page { state, p, l, .. }: Page) -> Response {
    let (reports, groups) = match custodian_app::cases::contact_groups(state.store.as_ref()).await {
        Ok(x) => x,
        Err(e) => return crate::app_error(e),
    };
    let mut html = String::new();
    let mut n = 0;
    // Linked groups first, then the reports nothing else describes (an
    // analyst reads every report).
    let mut ordered: Vec<_> = groups.iter().collect();
    ordered.sort_by_key(|g| g.members.len() < 2);
    let mut singles_started = false;
    for g in ordered {
        if g.members.len() >= 2 {
            n += 1;
        } else if !singles_started {
            singles_started = true;
            html.push_str(&format!(
                "<h2 class=\"unlinked\">{}</h2>",
                t(
                    l,
                    "Reports not linked to any other",
                    "他の報告と結び付いていない報告"
                )
            ));
        }
        let mut rows = String::new();
        for &i in &g.members {
            let r = &reports[i];
            let c = &r.counterpart;
            let described: Vec<String> = [
                c.claimed_name.as_deref(),
                c.claimed_nationality.as_deref(),
                c.claimed_affiliation.as_deref(),
                c.phone.as_deref(),
                c.email.as_deref(),
            ]
            .into_iter()
            .flatten()
            .map(esc)
            .collect();
            let reporter = state.pseudonym(&r.reporter);
            rows.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td><a href=\"/ui/people/{reporter}\">{reporter}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td></tr>",
                esc(&r.id),
                r.met_on.map(|d| d.to_string()).unwrap_or_default(),
                esc(&r.place),
                esc(r.approach.as_str()),
                described.join(" · "),
                if r.gifts_jpy > 0 { format!("¥{} ", r.gifts_jpy) } else { String::new() },
                esc(&r.requests.join(", ")),
            ));
        }
        html.push_str(&format!(
            "<section class=\"group\"><h2>{} — {} {}, {} {}</h2><p>{}: {} · {}: {}</p>\
             <table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>{rows}</table></section>",
            esc(g.name.as_deref().unwrap_or(t(l, "unnamed approacher", "名前不明の人物"))),
            g.members.len(),
            t(l, "reports", "件の報告"),
            g.reporters.len(),
            t(l, "reporters", "人の報告者"),
            t(l, "first met", "最初の接触"),
            g.first_met.map(|d| d.to_string()).unwrap_or_default(),
            t(l, "last report", "最新の報告"),
            g.last_reported.format("%Y-%m-%d"),
            t(l, "report", "報告"),
            t(l, "met on", "接触日"),
            t(l, "reporter", "報告者"),
            t(l, "place", "場所"),
            t(l, "approach", "きっかけ"),
            t(l, "as described", "人物の特徴"),
            t(l, "asked for", "求められたもの"),
        ));
    }
    let body = format!(
        "<p>{} {} {} {}</p>{html}",
        reports.len(),
        t(l, "reports;", "件の報告、"),
        n,
        t(l, "groups that describe the same approacher (partial and differing descriptions are matched).",
             "グループ（同一人物と思われる報告。名前の一部や異なる場所でも照合します）。")
    );
    page(
        l,
        Some(p.role),
        t(l, "Contact-report groups", "接触報告のグループ"),
        &body,
    )
}
