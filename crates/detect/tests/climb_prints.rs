//! The story where broad roles have everyone browse every product line:
//! the insider has read the other line's brochures, manuals and
//! development data before, like colleagues read the brochures and
//! manuals; then prints them, a few at a time in the evening, climbing in
//! level. The prints of what was already read are the climb's steps.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;

use chrono::{DateTime, FixedOffset};
use rand::{Rng, SeedableRng};

use custodian_core::{Action, Event, Level, Person};
use custodian_detect::{order_events, Config, Context, Engine};

const PEOPLE: usize = 80;
const DAYS: i64 = 150;

fn at(day: i64, hour: i64, minute: i64) -> DateTime<FixedOffset> {
    common::at_minute(day, hour * 60 + minute)
}

fn company(insider_prints: bool) -> (Context, Vec<Event>) {
    let people: Vec<Person> = (0..PEOPLE)
        .map(|i| common::person(i, "Service", "A"))
        .collect();
    let doc = |id: String, level: Level, project: &str| {
        let mut d = common::document(&id, &id, level, project);
        d.owner_id = "U079".into();
        d
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
    let mut log = common::Log::default();
    let mut push =
        |user: &str, ts: DateTime<FixedOffset>, action: Action| log.push(user, ts, action);
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
    let mut events = log.events;
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
