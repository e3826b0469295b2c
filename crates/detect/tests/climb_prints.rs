//! The story where broad roles have everyone browse every product line:
//! the insider has read the other line's brochures, manuals and
//! development data before, like colleagues read the brochures and
//! manuals; then prints them, a few at a time in the evening, climbing in
//! level. The prints of what was already read are the climb's steps.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone};
use rand::{Rng, SeedableRng};

use custodian_core::model::{Document, Medium, Projects};
use custodian_core::{Action, Event, Level, Person};
use custodian_detect::{order_events, Config, Context, Engine};

const PEOPLE: usize = 80;
const DAYS: i64 = 150;

fn at(day: i64, hour: i64, minute: i64) -> DateTime<FixedOffset> {
    let jst = FixedOffset::east_opt(9 * 3600).unwrap();
    jst.with_ymd_and_hms(2025, 4, 1, 0, 0, 0).unwrap()
        + Duration::days(day)
        + Duration::hours(hour)
        + Duration::minutes(minute)
}

fn company(insider_prints: bool) -> (Context, Vec<Event>) {
    let people: Vec<Person> = (0..PEOPLE)
        .map(|i| Person {
            user_id: format!("U{i:03}"),
            name: format!("Person {i}"),
            email: format!("u{i}@example.co.jp"),
            org_unit: "Service".into(),
            site: "Tokyo".into(),
            role: "engineer".into(),
            manager_id: None,
            clearance: Level::Confidential,
            projects: ["A".to_string()].into_iter().collect(),
            hire_date: NaiveDate::from_ymd_opt(2015, 4, 1).unwrap(),
            leave_date: None,
        })
        .collect();
    let doc = |id: String, level: Level, project: &str| Document {
        doc_id: id.clone(),
        title: id,
        classification: level,
        owner_id: "U079".into(),
        projects: Projects::parse(project),
        kind: "manual".into(),
        created: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
        medium: Medium::File,
    };
    let mut documents = Vec::new();
    for (project, n) in [("A", 20), ("B", 12)] {
        for k in 0..n {
            documents.push(doc(
                format!("{project}-brochure-{k}"),
                Level::Public,
                project,
            ));
            documents.push(doc(
                format!("{project}-manual-{k}"),
                Level::Internal,
                project,
            ));
            documents.push(doc(
                format!("{project}-dev-{k}"),
                Level::Confidential,
                project,
            ));
        }
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let mut events = Vec::new();
    let mut seq = 0u64;
    let mut push = |user: &str, ts: DateTime<FixedOffset>, action: Action| {
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
        if matches!(day % 7, 5 | 6) {
            continue;
        }
        for i in 0..PEOPLE {
            let u = format!("U{i:03}");
            push(&u, at(day, 9, i as i64 % 50), Action::Logon);
            // Their own line: reading and printing, every level.
            for _ in 0..rng.gen_range(1..5) {
                let kind = ["brochure", "manual", "dev"][rng.gen_range(0..3)];
                let d = format!("A-{kind}-{}", rng.gen_range(0..20));
                let ts = at(day, rng.gen_range(9..18), rng.gen_range(0..60));
                let action = if rng.gen_bool(0.15) {
                    Action::DocPrint {
                        doc: d,
                        pages: rng.gen_range(1..30),
                    }
                } else {
                    Action::DocView {
                        doc: d,
                        bytes: None,
                    }
                };
                push(&u, ts, action);
            }
            // Broad roles: the other line's brochures and manuals, read.
            if rng.gen_bool(0.3) {
                let kind = ["brochure", "manual"][rng.gen_range(0..2)];
                let d = format!("B-{kind}-{}", rng.gen_range(0..12));
                push(
                    &u,
                    at(day, rng.gen_range(9..18), rng.gen_range(0..60)),
                    Action::DocView {
                        doc: d,
                        bytes: None,
                    },
                );
            }
        }
        // The insider also read the other line's development data early.
        if day < 40 && day % 4 == 0 {
            let d = format!("B-dev-{}", (day / 4) % 12);
            push(
                "U000",
                at(day, 11, 5),
                Action::DocView {
                    doc: d,
                    bytes: None,
                },
            );
        }
        // From day 70, every fifth working day, in the evening: two or three
        // prints of what was read, brochures, then manuals, then
        // development data.
        if insider_prints && day >= 70 && day % 5 == 0 {
            let step = (day - 70) / 5;
            let kind = match step {
                0..=2 => "brochure",
                3..=5 => "manual",
                _ => "dev",
            };
            for k in 0..3 {
                let d = format!("B-{kind}-{}", (step * 3 + k) % 12);
                push(
                    "U000",
                    at(day, 19, 20 + k * 4),
                    Action::DocPrint { doc: d, pages: 8 },
                );
            }
        }
    }
    order_events(&mut events);
    (
        Context {
            people,
            documents,
            hr: Vec::new(),
            contacts: Vec::new(),
        },
        events,
    )
}

fn climbers(ctx: &Context, events: &[Event]) -> BTreeSet<String> {
    let mut engine = Engine::new(ctx, Config::default());
    events
        .iter()
        .filter_map(|e| engine.push(e))
        .filter(|a| {
            a.indicators
                .iter()
                .any(|i| i.name == "escalation_outside_scope")
        })
        .map(|a| a.user)
        .collect()
}

#[test]
fn prints_of_what_was_read_before_are_the_climb() {
    let (ctx, events) = company(true);
    let who = climbers(&ctx, &events);
    assert!(who.contains("U000"), "{who:?}");
}

#[test]
fn reading_alone_is_no_climb() {
    let (ctx, events) = company(false);
    let who = climbers(&ctx, &events);
    assert!(!who.contains("U000"), "{who:?}");
}
