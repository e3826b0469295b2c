//! The engine against the simulator: the planted insiders are caught, the
//! honest are left alone, and the order events arrive in does not matter.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Arc;

use custodian_detect::{order_events, run, Config, Context, Engine, Severity};
use custodian_ingest::{read_dataset, ImportOptions, NoProgress};
use custodian_sim::{generate, SimConfig};
use rand::seq::SliceRandom;
use rand::SeedableRng;

fn dataset(
    seed: u64,
    people: usize,
    days: u32,
) -> (custodian_ingest::Dataset, Vec<serde_json::Value>) {
    let dir = tempfile::tempdir().unwrap();
    generate(
        &SimConfig {
            people,
            days,
            seed,
            ..Default::default()
        },
        dir.path(),
    )
    .unwrap();
    let opts = ImportOptions::new(
        dir.path().join("rejects.jsonl"),
        chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap(),
    );
    let ds = read_dataset(dir.path(), &opts, Arc::new(NoProgress)).unwrap();
    let truth = std::fs::read_to_string(dir.path().join("truth.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (ds, truth)
}

fn context(ds: &custodian_ingest::Dataset) -> Context {
    Context {
        people: ds.people.clone(),
        documents: ds.documents.clone(),
        hr: ds.hr.clone(),
        contacts: ds.contacts.clone(),
    }
}

/// The default company: every planted insider ranks at the top of the
/// population by score (the analyst who works the queue from the top meets
/// them all within the budget), all but at most one is alerted at medium or
/// above (the budget's price: a drip can stay under the line in a company
/// this small), the escalation before development data, and the honest are
/// left alone.
#[test]
fn insiders_caught_honest_left_alone() {
    let (mut ds, truth) = dataset(424_242, 600, 150);
    order_events(&mut ds.events);
    let mut engine = Engine::new(&context(&ds), Config::default());
    let alerts: Vec<_> = ds.events.iter().filter_map(|e| engine.push(e)).collect();
    assert_eq!(engine.stats().out_of_order, 0);
    let insiders: BTreeSet<&str> = truth
        .iter()
        .filter(|t| t["insider"] == true)
        .map(|t| t["user"].as_str().unwrap())
        .collect();
    assert!(insiders.len() >= 5, "{truth:?}");
    let mut scores = engine.max_scores();
    scores.sort_by(|a, b| b.1.total_cmp(&a.1));
    // The top of the queue: the insiders and at most 1 % of the others.
    let top = insiders.len() + 6;
    let mut missed = Vec::new();
    for t in truth.iter().filter(|t| t["insider"] == true) {
        let user = t["user"].as_str().unwrap();
        let rank = scores.iter().position(|(u, _)| u == user).unwrap();
        assert!(
            rank < top,
            "{user} ({}) ranks {rank}: {scores:?}",
            t["kind"]
        );
        let first =
            chrono::DateTime::parse_from_rfc3339(t["first_misdeed"].as_str().unwrap()).unwrap();
        let hit = alerts
            .iter()
            .filter(|a| a.user == user && a.severity >= Severity::Medium && a.raised_at >= first)
            .map(|a| a.raised_at)
            .min();
        let Some(hit) = hit else {
            assert_ne!(t["kind"], "escalation", "the story was not alerted");
            missed.push(user);
            continue;
        };
        if let Some(dev) = t["development_data_at"].as_str() {
            let dev = chrono::DateTime::parse_from_rfc3339(dev).unwrap();
            assert!(
                hit < dev,
                "{user}: alerted {hit}, after reaching development data at {dev}"
            );
        }
    }
    assert!(missed.len() <= 1, "not alerted: {missed:?}");
    let false_alerted: BTreeSet<&str> = alerts
        .iter()
        .filter(|a| a.severity >= Severity::Medium && !insiders.contains(a.user.as_str()))
        .map(|a| a.user.as_str())
        .collect();
    let rate = false_alerted.len() as f64 / 0.6 / (150.0 / 30.0);
    assert!(
        rate <= 3.0,
        "{rate} false alerts per 1,000 per 30 days: {false_alerted:?}"
    );
    // Every alert explains itself with evidence that exists.
    let ids: BTreeSet<&str> = ds.events.iter().map(|e| e.id.as_str()).collect();
    for a in &alerts {
        assert!(!a.summary.is_empty() && !a.indicators.is_empty());
        for i in &a.indicators {
            for e in &i.evidence {
                assert!(
                    ids.contains(e.as_str()),
                    "evidence {e} of {} is not an event",
                    a.user
                );
            }
        }
    }
}

#[test]
fn arrival_order_and_redelivery_do_not_change_the_alerts() {
    let (mut ds, _) = dataset(99, 250, 60);
    let ctx = context(&ds);
    order_events(&mut ds.events);
    let (a, _) = run(&ctx, Config::default(), &ds.events);
    assert!(!a.is_empty());
    let mut shuffled = ds.events.clone();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    shuffled.shuffle(&mut rng);
    // Every tenth event delivered twice.
    let again: Vec<_> = shuffled.iter().step_by(10).cloned().collect();
    shuffled.extend(again);
    order_events(&mut shuffled);
    assert_eq!(shuffled.len(), ds.events.len());
    let (b, _) = run(&ctx, Config::default(), &shuffled);
    assert_eq!(a, b);
}

/// An engine stopped anywhere, checkpointed and restored goes on as if it
/// had never stopped: the same alerts, the same exposures, the same scores.
#[test]
fn a_restored_checkpoint_goes_on_as_the_engine_would_have() {
    let (mut ds, _) = dataset(98, 200, 50);
    let ctx = context(&ds);
    order_events(&mut ds.events);
    let (whole, _) = run(&ctx, Config::default(), &ds.events);
    assert!(!whole.is_empty());
    let mut whole_engine = Engine::new(&ctx, Config::default());
    for e in &ds.events {
        whole_engine.push(e);
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let mut cuts: Vec<usize> = (0..6)
        .map(|_| rand::Rng::gen_range(&mut rng, 0..ds.events.len()))
        .collect();
    cuts.sort_unstable();
    let mut engine = Engine::new(&ctx, Config::default());
    let mut alerts = Vec::new();
    let mut from = 0;
    for cut in cuts.into_iter().chain([ds.events.len()]) {
        for e in &ds.events[from..cut] {
            alerts.extend(engine.push(e));
        }
        from = cut;
        let bytes = engine.checkpoint();
        engine = Engine::restore(Config::default(), &bytes).unwrap();
    }
    assert_eq!(alerts, whole);
    assert_eq!(engine.exposures(), whole_engine.exposures());
    assert_eq!(engine.max_scores(), whole_engine.max_scores());
    assert_eq!(engine.stats(), whole_engine.stats());
    // A cloned engine is just as good.
    assert_eq!(engine.clone().max_scores(), whole_engine.max_scores());
}

#[test]
fn a_checkpoint_of_another_format_or_cut_short_is_refused() {
    let (ds, _) = dataset(97, 40, 5);
    let engine = Engine::new(&context(&ds), Config::default());
    let mut bytes = engine.checkpoint();
    assert!(Engine::restore(Config::default(), &bytes[..bytes.len() / 2]).is_err());
    assert!(Engine::restore(Config::default(), &bytes[..2]).is_err());
    bytes[0] ^= 0xff;
    let e = Engine::restore(Config::default(), &bytes).err().unwrap();
    assert!(e.to_string().contains("format"), "{e}");
}
