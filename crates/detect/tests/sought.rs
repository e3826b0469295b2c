//! Sought, not stumbled on: confidential documents of a project not one's
//! own opened or tried within minutes of a search are their own behaviour
//! (`sought_outside_scope`), judged like every other against the person's
//! and their peers' rates; the same opens without the searches are not it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone};

use custodian_core::{Action, Document, Event, Level, Medium, Person, Projects};
use custodian_detect::{order_events, Alert, Config, Context, Engine};

const PEOPLE: usize = 40;
const DAYS: i64 = 120;

fn person(i: usize) -> Person {
    Person {
        user_id: format!("U{i:03}"),
        name: format!("Person {i}"),
        email: format!("u{i}@example.co.jp"),
        org_unit: "Design".into(),
        site: "Tokyo".into(),
        role: "engineer".into(),
        manager_id: None,
        clearance: Level::Confidential,
        projects: BTreeSet::from(["A".to_string()]),
        hire_date: NaiveDate::from_ymd_opt(2015, 4, 1).unwrap(),
        leave_date: None,
    }
}

fn doc(project: &str, k: usize) -> Document {
    Document {
        doc_id: format!("{project}-{k}"),
        title: format!("{project} design review {k}"),
        classification: Level::Confidential,
        owner_id: "U039".into(),
        projects: Projects::Groups(BTreeSet::from([project.to_string()])),
        kind: "report".into(),
        created: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
        medium: Medium::File,
    }
}

fn at(day: i64, minute: i64) -> DateTime<FixedOffset> {
    let jst = FixedOffset::east_opt(9 * 3600).unwrap();
    jst.with_ymd_and_hms(2025, 4, 1, 9, 0, 0).unwrap()
        + Duration::days(day)
        + Duration::minutes(minute)
}

/// A design team on project A: each working day everyone logs on, looks
/// something up and opens documents of their own project. From day 60,
/// U000 also opens two of project B's confidential documents every other
/// working day, each right after a search for it when `searched`.
fn company(searched: bool) -> (Context, Vec<Event>) {
    let people: Vec<Person> = (0..PEOPLE).map(person).collect();
    let mut events = Vec::new();
    let mut seq = 0u64;
    let mut ev = |user: &str, ts: DateTime<FixedOffset>, action: Action| {
        seq += 1;
        events.push(Event {
            id: format!("e{seq}"),
            ts,
            user: user.into(),
            host: Some(format!("PC-{user}")),
            action,
            extra: Default::default(),
        });
    };
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
