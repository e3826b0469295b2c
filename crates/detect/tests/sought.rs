//! Sought, not stumbled on: confidential documents of a project not one's
//! own opened or tried within minutes of a search are their own behaviour
//! (`sought_outside_scope`), judged like every other against the person's
//! and their peers' rates; the same opens without the searches are not it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::{DateTime, FixedOffset};

use custodian_core::{Action, Document, Event, Level, Person};
use custodian_detect::{order_events, Alert, Config, Context, Engine};

const PEOPLE: usize = 40;
const DAYS: i64 = 120;

fn doc(project: &str, k: usize) -> Document {
    let id = format!("{project}-{k}");
    let title = format!("{project} design review {k}");
    let mut d = common::document(&id, &title, Level::Confidential, project);
    d.owner_id = "U039".into();
    d
}

fn at(day: i64, minute: i64) -> DateTime<FixedOffset> {
    common::at_minute(day, 9 * 60 + minute)
}

/// A design team on project A: each working day everyone logs on, looks
/// something up and opens documents of their own project. From day 60,
/// U000 also opens two of project B's confidential documents every other
/// working day, each right after a search for it when `searched`.
fn company(searched: bool) -> (Context, Vec<Event>) {
    let people: Vec<Person> = (0..PEOPLE)
        .map(|i| common::person(i, "Design", "A"))
        .collect();
    let mut log = common::Log::default();
    let mut ev = |user: &str, ts: DateTime<FixedOffset>, action: Action| log.push(user, ts, action);
    for day in 0..DAYS {
        if matches!(day % 7, 4 | 5) {
            continue;
        }
        for (i, p) in people.iter().enumerate() {
            let u = p.user_id.as_str();
            ev(u, at(day, 0), Action::Logon);
            let query = "design review".to_string();
            ev(u, at(day, 30), Action::DocSearch { query });
            for k in 0..3 {
                let doc = format!("A-{}", (day as usize * 3 + i + k) % 30);
                ev(
                    u,
                    at(day, 31 + 60 * k as i64),
                    Action::DocView { doc, bytes: None },
                );
            }
            if i == 0 && day >= 60 && day % 2 == 0 {
                for k in 0..2 {
                    let minute = 400 + 40 * k;
                    if searched {
                        let query = "B design".to_string();
                        ev(u, at(day, minute), Action::DocSearch { query });
                    }
                    let doc = format!("B-{}", (day as usize + k as usize) % 12);
                    ev(u, at(day, minute + 1), Action::DocView { doc, bytes: None });
                }
            }
        }
    }
    let mut events = log.events;
    order_events(&mut events);
    let mut documents: Vec<Document> = (0..30).map(|k| doc("A", k)).collect();
    documents.extend((0..12).map(|k| doc("B", k)));
    let ctx = Context {
        people,
        documents,
        hr: Vec::new(),
        contacts: Vec::new(),
    };
    (ctx, events)
}

fn alerts_of(ctx: &Context, events: &[Event], user: &str) -> Vec<Alert> {
    let mut engine = Engine::new(ctx, Config::default());
    events
        .iter()
        .filter_map(|e| engine.push(e))
        .filter(|a| a.user == user)
        .collect()
}

fn says_sought(alerts: &[Alert]) -> bool {
    alerts.iter().any(|a| {
        a.indicators
            .iter()
            .any(|i| i.detail.contains("right after a search"))
    })
}

#[test]
fn documents_of_another_project_opened_after_searches_are_sought() {
    let (ctx, events) = company(true);
    let alerts = alerts_of(&ctx, &events, "U000");
    assert!(says_sought(&alerts), "{alerts:#?}");
    // Nobody else sought anything: their searches found their own work.
    for i in 1..PEOPLE {
        let who = format!("U{i:03}");
        assert!(!says_sought(&alerts_of(&ctx, &events, &who)), "{who}");
    }
}

#[test]
fn the_same_opens_without_searches_are_not_sought() {
    let (ctx, events) = company(false);
    assert!(!says_sought(&alerts_of(&ctx, &events, "U000")));
}
