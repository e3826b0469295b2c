//! A person as an analyst sees them: a timeline of activity, alerts,
//! contact reports and custody records, and the week-by-week highest level
//! touched outside the person's own scope (the escalation at a glance).
//!
//! "Own scope" here is what the register says: a document is in a person's
//! scope when it is on one of their projects (need to know), or, for a
//! document open to everyone, when its owner works in the person's unit.
//! Anything else they opened, printed, downloaded, were briefed on or were
//! refused is outside it. (The detection engine's own notion, "what the
//! person's unit reads", is learned from everyone's activity; the chart
//! uses the register so that it can be drawn from one person's records.)

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate};
use serde_json::Value;

use custodian_core::model::{Document, Person, Projects};
use custodian_core::Level;
use custodian_store::{Store, StoreError};

/// Events read for one person's page (newest first); older ones are left
/// out and the page says so.
pub const MAX_EVENTS: u32 = 50_000;
/// Timeline items shown, newest first.
pub const MAX_ITEMS: usize = 400;

/// One week of the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Week {
    /// The Monday the week starts on.
    pub start: NaiveDate,
    /// The highest level opened (or printed, downloaded, briefed) outside
    /// the person's scope this week.
    pub reached: Option<Level>,
    /// The highest level refused outside the person's scope this week.
    pub refused: Option<Level>,
    /// Document events this week, in and out of scope.
    pub doc_events: u32,
}

/// What a timeline item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    Activity,
    Alert,
    Report,
    Custody,
    Hr,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Activity => "activity",
            ItemKind::Alert => "alert",
            ItemKind::Report => "contact report",
            ItemKind::Custody => "custody",
            ItemKind::Hr => "hr",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Item {
    pub at: DateTime<FixedOffset>,
    pub kind: ItemKind,
    pub text: String,
    pub level: Option<Level>,
    pub outside: bool,
    /// Links to a page of the console (an alert's case form, …), if any.
    pub alert_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PersonView {
    pub person: Person,
    pub weeks: Vec<Week>,
    pub items: Vec<Item>,
    /// Timeline items left out (beyond [`MAX_ITEMS`]).
    pub items_hidden: usize,
    pub events_read: usize,
    /// True when the person has more than [`MAX_EVENTS`] events.
    pub events_truncated: bool,
}

/// Whether `doc` is in `person`'s scope (see the module text).
pub fn in_scope(person: &Person, doc: &Document, owner_unit: Option<&str>) -> bool {
    match &doc.projects {
        Projects::Groups(g) => g.iter().any(|p| person.projects.contains(p)),
        Projects::Everyone => owner_unit == Some(person.org_unit.as_str()),
    }
}

fn monday(d: NaiveDate) -> NaiveDate {
    d - Duration::days(i64::from(d.weekday().num_days_from_monday()))
}

/// The chart from document events `(date, level, in scope, refused)`,
/// every week from the first to the last, empty weeks included.
pub fn weeks(events: &[(NaiveDate, Level, bool, bool)]) -> Vec<Week> {
    let mut by: BTreeMap<NaiveDate, Week> = BTreeMap::new();
    for &(day, level, scoped, refused) in events {
        let start = monday(day);
        let w = by.entry(start).or_insert(Week {
            start,
            reached: None,
            refused: None,
            doc_events: 0,
        });
        w.doc_events += 1;
        if scoped {
            continue;
        }
        let slot = if refused {
            &mut w.refused
        } else {
            &mut w.reached
        };
        if slot.is_none_or(|l| level > l) {
            *slot = Some(level);
        }
    }
    let (Some(first), Some(last)) = (by.keys().next().copied(), by.keys().next_back().copied())
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut d = first;
    while d <= last {
        out.push(by.remove(&d).unwrap_or(Week {
            start: d,
            reached: None,
            refused: None,
            doc_events: 0,
        }));
        d += Duration::days(7);
    }
    out
}

fn action_text(action: &str) -> &str {
    match action {
        "doc.view" => "opened",
        "doc.download" => "downloaded",
        "doc.print" => "printed",
        "doc.denied" => "was refused",
        "briefing" => "was briefed on",
        "usb.write" => "wrote to USB",
        "email.send" => "sent mail",
        "web.upload" => "uploaded",
        "print.job" => "printed",
        other => other,
    }
}

/// Everything the person page shows, from the store.
pub async fn view(store: &dyn Store, user: &str) -> Result<Option<PersonView>, StoreError> {
    let Some(person) = store.person(user).await? else {
        return Ok(None);
    };
    let people = store.people().await?;
    let unit_of: HashMap<&str, &str> = people
        .iter()
        .map(|p| (p.user_id.as_str(), p.org_unit.as_str()))
        .collect();
    let docs: HashMap<String, Document> = store
        .documents()
        .await?
        .into_iter()
        .map(|d| (d.doc_id.clone(), d))
        .collect();
    let mut events = store.recent_events_for(user, MAX_EVENTS).await?;
    let events_truncated = events.len() as u32 >= MAX_EVENTS;
    events.reverse();
    let mut points = Vec::new();
    let mut items = Vec::new();
    for e in &events {
        let v: Value = serde_json::from_str(&e.canonical).unwrap_or(Value::Null);
        let refused = e.action == "doc.denied";
        if let Some(d) = e.doc.as_deref().and_then(|d| docs.get(d)) {
            let scoped = in_scope(&person, d, unit_of.get(d.owner_id.as_str()).copied());
            points.push((e.ts.date_naive(), d.classification, scoped, refused));
            // The timeline keeps what matters: anything outside the scope,
            // refusals, and confidential or secret material.
            if !scoped || refused || d.classification >= Level::Confidential {
                let extra = match e.action.as_str() {
                    "doc.print" => format!(" ({} pages)", v["pages"].as_u64().unwrap_or(0)),
                    _ => String::new(),
                };
                items.push(Item {
                    at: e.ts,
                    kind: ItemKind::Activity,
                    text: format!(
                        "{} {} '{}'{extra}{}",
                        action_text(&e.action),
                        d.classification.as_str(),
                        d.title,
                        if scoped { "" } else { ", outside their scope" }
                    ),
                    level: Some(d.classification),
                    outside: !scoped,
                    alert_id: None,
                });
            }
        } else {
            // Data leaving: USB, outside mail, uploads.
            let out = match e.action.as_str() {
                "usb.write" => Some(format!(
                    "wrote {} files ({}) to USB",
                    v["files"].as_u64().unwrap_or(0),
                    custodian_detect::human_bytes(v["bytes"].as_u64().unwrap_or(0))
                )),
                "email.send" if v["external"] == true => Some(format!(
                    "mailed {} to {}",
                    custodian_detect::human_bytes(v["bytes"].as_u64().unwrap_or(0)),
                    v["to_domain"].as_str().unwrap_or("?")
                )),
                "web.upload" => Some(format!(
                    "uploaded {} to {}",
                    custodian_detect::human_bytes(v["bytes"].as_u64().unwrap_or(0)),
                    v["domain"].as_str().unwrap_or("?")
                )),
                _ => None,
            };
            if let Some(text) = out {
                items.push(Item {
                    at: e.ts,
                    kind: ItemKind::Activity,
                    text,
                    level: None,
                    outside: false,
                    alert_id: None,
                });
            }
        }
    }
    for a in store.alerts(u32::MAX).await? {
        if a.user != user {
            continue;
        }
        let body: Value = serde_json::from_str(&a.body).unwrap_or(Value::Null);
        items.push(Item {
            at: a.raised_at,
            kind: ItemKind::Alert,
            text: format!(
                "{} alert, score {:.0}: {}",
                a.severity,
                a.score,
                body["summary"].as_str().unwrap_or("")
            ),
            level: None,
            outside: false,
            alert_id: Some(a.id.clone()),
        });
    }
    for r in store.contact_reports().await? {
        if r.reporter != user {
            continue;
        }
        items.push(Item {
            at: r.reported_at,
            kind: ItemKind::Report,
            text: format!(
                "reported an approach ({}{}{}), {} meeting(s){}",
                r.approach.as_str(),
                r.counterpart
                    .claimed_name
                    .as_deref()
                    .map(|n| format!(", by '{n}'"))
                    .unwrap_or_default(),
                if r.place.is_empty() {
                    String::new()
                } else {
                    format!(" at {}", r.place)
                },
                r.meetings,
                if r.gifts_jpy > 0 {
                    format!(", ¥{} in gifts or cash", r.gifts_jpy)
                } else {
                    String::new()
                }
            ),
            level: None,
            outside: false,
            alert_id: None,
        });
    }
    for h in store.hr_events_for(user).await? {
        items.push(Item {
            at: h.ts,
            kind: ItemKind::Hr,
            text: format!(
                "{}{}",
                h.kind.name(),
                h.detail.map(|d| format!(": {d}")).unwrap_or_default()
            ),
            level: None,
            outside: false,
            alert_id: None,
        });
    }
    for kind in ["copy", "refusal", "acknowledgement", "reveal"] {
        for r in store.custody_records(kind, None, Some(user)).await? {
            let v: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
            let text = match kind {
                "reveal" => format!(
                    "name revealed to {} (reason: {})",
                    v["by"].as_str().unwrap_or("?"),
                    v["reason"].as_str().unwrap_or("")
                ),
                _ => format!(
                    "{kind}{}",
                    r.doc_id
                        .as_deref()
                        .map(|d| format!(" of '{}'", docs.get(d).map_or(d, |x| x.title.as_str())))
                        .unwrap_or_default()
                ),
            };
            items.push(Item {
                at: r.at,
                kind: ItemKind::Custody,
                text,
                level: r
                    .doc_id
                    .as_deref()
                    .and_then(|d| docs.get(d))
                    .map(|d| d.classification),
                outside: false,
                alert_id: None,
            });
        }
    }
    items.sort_by_key(|i| std::cmp::Reverse(i.at));
    let items_hidden = items.len().saturating_sub(MAX_ITEMS);
    items.truncate(MAX_ITEMS);
    Ok(Some(PersonView {
        person,
        weeks: weeks(&points),
        items,
        items_hidden,
        events_read: events.len(),
        events_truncated,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn weeks_keep_the_highest_outside_level_and_the_empty_weeks() {
        let w = weeks(&[
            (d("2026-03-02"), Level::Secret, true, false), // in scope: not drawn
            (d("2026-03-03"), Level::Public, false, false),
            (d("2026-03-18"), Level::Internal, false, false),
            (d("2026-03-19"), Level::Public, false, false),
            (d("2026-03-20"), Level::Confidential, false, true),
        ]);
        assert_eq!(w.len(), 3, "{w:?}");
        assert_eq!(w[0].start, d("2026-03-02"));
        assert_eq!(w[0].reached, Some(Level::Public));
        assert_eq!(w[0].doc_events, 2);
        assert_eq!(w[1].reached, None);
        assert_eq!(w[1].doc_events, 0);
        assert_eq!(w[2].start, d("2026-03-16"));
        assert_eq!(w[2].reached, Some(Level::Internal));
        assert_eq!(w[2].refused, Some(Level::Confidential));
        assert!(weeks(&[]).is_empty());
    }
}
