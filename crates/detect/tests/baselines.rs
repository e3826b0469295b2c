//! The baselines' promises, on synthetic companies built event by event:
//! a person whose behaviour does not change is never alerted however large
//! their constant rate, and scaling everyone's activity together does not
//! raise alerts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, FixedOffset, TimeZone};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};

use custodian_core::{Action, Event, Person};
use custodian_detect::{order_events, Config, Context, Engine, Severity};

const PEOPLE: usize = 60;
const DAYS: i64 = 120;

fn person(i: usize) -> Person {
    let unit = if i.is_multiple_of(2) {
        "Design"
    } else {
        "Production"
    };
    common::person(i, unit, "")
}

fn at(day: i64, minute: i64) -> DateTime<FixedOffset> {
    let jst = FixedOffset::east_opt(9 * 3600).unwrap();
    jst.with_ymd_and_hms(2025, 4, 1, 9, 0, 0).unwrap()
        + Duration::days(day)
        + Duration::minutes(minute)
}

/// One behaviour, `n` times on a day, spread over the working day.
#[derive(Debug, Clone, Copy)]
enum Habit {
    Downloads,
    Prints,
    Usb,
    Mail,
    Uploads,
}

const HABITS: [Habit; 5] = [
    Habit::Downloads,
    Habit::Prints,
    Habit::Usb,
    Habit::Mail,
    Habit::Uploads,
];

fn push_habit(out: &mut Vec<Event>, user: &str, day: i64, habit: Habit, n: u64, seq: &mut u64) {
    let mut ev = |minute: i64, action: Action| {
        *seq += 1;
        out.push(Event {
            id: format!("e{seq}"),
            ts: at(day, minute),
            user: user.into(),
            host: Some(format!("PC-{user}")),
            action,
            extra: Default::default(),
        });
    };
    for k in 0..n as i64 {
        let minute = 10 + (k * 470) / (n as i64).max(1);
        match habit {
            Habit::Downloads => ev(
                minute,
                Action::DocDownload {
                    doc: format!("X-{k}"),
                    bytes: Some(1_000_000),
                },
            ),
            Habit::Prints => ev(
                minute,
                Action::PrintJob {
                    pages: 12,
                    doc: None,
                },
            ),
            Habit::Usb => {
                ev(
                    minute,
                    Action::Other {
                        name: "device.connect".into(),
                    },
                );
                ev(
                    minute,
                    Action::UsbWrite {
                        bytes: 20_000_000,
                        files: 4,
                        doc: None,
                    },
                );
            }
            Habit::Mail => ev(
                minute,
                Action::EmailSend {
                    to_domain: "partner.example.com".into(),
                    external: true,
                    bytes: 200_000,
                    attachments: 1,
                    doc: None,
                    from_domain: None,
                    recipients: Some(2),
                },
            ),
            Habit::Uploads => ev(
                minute,
                Action::WebUpload {
                    domain: "supplier-portal.example.com".into(),
                    bytes: 3_000_000,
                    doc: None,
                },
            ),
        }
    }
}

/// A company of steady people: everyone logs on each working day and does
/// a little of everything at their own Poisson rates (`scale` times them);
/// `heavy`, if given, does `n` of one behaviour every working day from the
/// first to the last.
fn company(seed: u64, scale: u64, heavy: Option<(Habit, u64)>) -> (Context, Vec<Event>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let people: Vec<Person> = (0..PEOPLE).map(person).collect();
    // Each person's own rates per working day.
    let rates: Vec<[f64; 5]> = (0..PEOPLE)
        .map(|_| {
            [
                rng.gen_range(0.5..3.0),
                rng.gen_range(0.2..1.5),
                rng.gen_range(0.0..0.3),
                rng.gen_range(0.3..2.0),
                rng.gen_range(0.0..0.4),
            ]
        })
        .collect();
    let mut events = Vec::new();
    let mut seq = 0;
    for day in 0..DAYS {
        if matches!(day % 7, 4 | 5) {
            continue; // 2025-04-05 and -06 were a weekend
        }
        for (i, p) in people.iter().enumerate() {
            seq += 1;
            events.push(Event {
                id: format!("e{seq}"),
                ts: at(day, 0),
                user: p.user_id.clone(),
                host: Some(format!("PC-{}", p.user_id)),
                action: Action::Logon,
                extra: Default::default(),
            });
            if i == 0 {
                if let Some((habit, n)) = heavy {
                    push_habit(&mut events, &p.user_id, day, habit, n, &mut seq);
                    continue;
                }
            }
            for (h, &rate) in HABITS.iter().zip(rates[i].iter()) {
                // Poisson by inversion, then scaled.
                let mut n = 0u64;
                let mut acc = rng.gen::<f64>();
                let limit = (-rate).exp();
                while acc > limit {
                    n += 1;
                    acc *= rng.gen::<f64>();
                }
                push_habit(&mut events, &p.user_id, day, *h, n * scale, &mut seq);
            }
        }
    }
    order_events(&mut events);
    let ctx = Context {
        people,
        documents: Vec::new(),
        hr: Vec::new(),
        contacts: Vec::new(),
    };
    (ctx, events)
}

fn alerted(ctx: &Context, events: &[Event], at_least: Severity) -> BTreeSet<String> {
    let mut engine = Engine::new(ctx, Config::default());
    events
        .iter()
        .filter_map(|e| engine.push(e))
        .filter(|a| a.severity >= at_least)
        .map(|a| a.user)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// However large a steady habit is (a hundred downloads a day, forty
    /// USB copies), it is the person's own: never alerted, at any severity.
    #[test]
    fn a_constant_habit_is_never_alerted(
        habit in prop::sample::select(HABITS.to_vec()),
        n in prop::sample::select(vec![1u64, 3, 10, 40, 100]),
        seed in 0u64..1000,
    ) {
        let (ctx, events) = company(seed, 1, Some((habit, n)));
        let who = alerted(&ctx, &events, Severity::Low);
        prop_assert!(!who.contains("U000"), "{habit:?} x{n}: {who:?}");
    }
}

/// The same habit beginning half-way through is a change, and alerted:
/// the property above is not true merely because nothing ever alerts.
#[test]
fn the_same_habit_beginning_later_is_alerted() {
    let (ctx, mut events) = company(7, 1, None);
    let mut seq = 10_000_000;
    for day in 60..DAYS {
        if !matches!(day % 7, 4 | 5) {
            push_habit(&mut events, "U000", day, Habit::Downloads, 40, &mut seq);
        }
    }
    order_events(&mut events);
    let who = alerted(&ctx, &events, Severity::Medium);
    assert!(who.contains("U000"), "{who:?}");
}

/// Everyone doing five times as much of everything (a busier company, or a
/// source that logs more rows per action) does not raise more alerts.
#[test]
fn scaling_everyone_does_not_raise_alerts() {
    for seed in [1, 2, 3] {
        let (ctx, base) = company(seed, 1, None);
        let (_, busy) = company(seed, 5, None);
        let a = alerted(&ctx, &base, Severity::Medium);
        let b = alerted(&ctx, &busy, Severity::Medium);
        assert!(b.len() <= a.len(), "seed {seed}: {a:?} then {b:?}");
    }
}
