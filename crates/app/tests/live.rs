//! Continuous detection against batch detection on a real (SQLite) store:
//! the simulated company's events posted in small batches, a little out of
//! step, across restarts, give exactly the alerts `detect --from-store`
//! gives; events later than the window are counted, never dropped.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset};
use rand::{Rng, SeedableRng};

use custodian_app::detection::live::{Live, LiveOptions};
use custodian_app::ingest::{ingest_batch, KnownPeople};
use custodian_detect::Config;
use custodian_ingest::{import_folder, ImportOptions, NoProgress, Progress};
use custodian_store::conformance::ctx;
use custodian_store::Store;
use custodian_store_sqlite::SqliteStore;

fn now() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2026-12-01T09:00:00+09:00").unwrap()
}

/// The simulated company in `dir`, and its events' lines (in the file's
/// order, which is time order).
fn company(dir: &Path, people: usize, days: u32) -> Vec<String> {
    custodian_sim::generate(
        &custodian_sim::SimConfig {
            people,
            days,
            seed: 31,
            ..Default::default()
        },
        dir,
    )
    .unwrap();
    std::fs::read_to_string(dir.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

async fn store_in(dir: &Path, name: &str) -> SqliteStore {
    SqliteStore::open(&format!("sqlite://{}", dir.join(name).display()))
        .await
        .unwrap()
}

/// The company's directory, register, HR and contacts, without events.
async fn context_only(store: &dyn Store, sim: &Path, work: &Path) {
    let bare = work.join("bare");
    std::fs::create_dir_all(&bare).unwrap();
    for f in std::fs::read_dir(sim).unwrap() {
        let f = f.unwrap().path();
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        if name != "events.jsonl" && name != "truth.jsonl" && f.is_file() {
            std::fs::copy(&f, bare.join(&name)).unwrap();
        }
    }
    std::fs::write(bare.join("events.jsonl"), "").unwrap();
    let opts = ImportOptions::new(work.join("rejects-bare.jsonl"), now());
    let progress: Arc<dyn Progress> = Arc::new(NoProgress);
    import_folder(store, &bare, &opts, &ctx(), progress)
        .await
        .unwrap();
}

/// What `detect --from-store` stores over the whole folder.
async fn batch_alerts(sim: &Path, work: &Path) -> BTreeSet<String> {
    let store = store_in(work, "batch.db").await;
    let opts = ImportOptions::new(work.join("rejects-batch.jsonl"), now());
    let progress: Arc<dyn Progress> = Arc::new(NoProgress);
    import_folder(&store, sim, &opts, &ctx(), progress.clone())
        .await
        .unwrap();
    custodian_app::detection::detect_store(
        &store,
        &ctx(),
        &Config::default(),
        64 * 1024,
        &progress,
    )
    .await
    .unwrap();
    alert_ids(&store).await
}

/// The stored alerts that stand (not withdrawn).
async fn alert_ids(store: &dyn Store) -> BTreeSet<String> {
    let statuses = custodian_app::triage::statuses(store).await.unwrap();
    store
        .alerts(u32::MAX)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| {
            statuses
                .get(&a.id)
                .is_none_or(|s| s.status != custodian_app::triage::WITHDRAWN)
        })
        .map(|a| a.id)
        .collect()
}

/// Posts `lines` in batches of 1 to `max_batch` lines, each batch's lines
/// shuffled and, now and then, a batch held back behind the next few (at
/// most `lag` lines later); steps after every batch, and reopens the
/// engine (a restart) every `restart_every` batches.
#[allow(clippy::too_many_arguments)]
async fn post_live(
    store: &SqliteStore,
    lines: &[String],
    opts: LiveOptions,
    max_batch: usize,
    lag: usize,
    restart_every: usize,
    seed: u64,
) -> custodian_app::detection::live::LiveStats {
    let ledger = ctx();
    let known = KnownPeople::default();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut batches: Vec<Vec<String>> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let n = rng.gen_range(1..=max_batch).min(lines.len() - i);
        let mut b = lines[i..i + n].to_vec();
        rand::seq::SliceRandom::shuffle(&mut b[..], &mut rng);
        batches.push(b);
        i += n;
    }
    // Some batches arrive after later ones (a source out of step).
    let mut k = 0;
    while k + 1 < batches.len() {
        if rng.gen_bool(0.2) {
            let mut j = k;
            let mut span = 0;
            while j + 1 < batches.len() && span + batches[j + 1].len() <= lag {
                span += batches[j + 1].len();
                j += 1;
            }
            batches[k..=j].rotate_left(1);
            k = j + 1;
        } else {
            k += 1;
        }
    }
    let mut live = Live::open(store, Config::default(), opts).await.unwrap();
    for (n, b) in batches.iter().enumerate() {
        let body = b.join("\n");
        ingest_batch(store, &ledger, &known, "test", now(), body.as_bytes())
            .await
            .unwrap();
        live.step(store, &ledger, now()).await.unwrap();
        if restart_every > 0 && n % restart_every == restart_every - 1 {
            // The process stops here: only what the checkpoint holds
            // survives (every step may checkpoint).
            live = Live::open(store, Config::default(), opts).await.unwrap();
        }
    }
    live.step(store, &ledger, now()).await.unwrap();
    live.stats()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posted_in_batches_across_restarts_the_alerts_are_the_batchs() {
    let work = tempfile::tempdir().unwrap();
    let sim = work.path().join("sim");
    let lines = company(&sim, 120, 50);
    let want = batch_alerts(&sim, work.path()).await;
    assert!(want.len() >= 3, "the company raises alerts: {}", want.len());
    let store = store_in(work.path(), "live.db").await;
    context_only(&store, &sim, work.path()).await;
    // Batches of up to a fifth of a day, some a third of a day late: within
    // a window of four days even across a weekend.
    let opts = LiveOptions {
        late_secs: 96 * 3600,
        checkpoint_every: 0,
    };
    let stats = post_live(&store, &lines, opts, 120, 200, 23, 1).await;
    assert_eq!(stats.events, lines.len() as u64, "{stats:?}");
    assert_eq!(stats.late, 0, "{stats:?}");
    assert!(
        stats.head_restarts > 1,
        "out of step batches restart the head: {stats:?}"
    );
    let got = alert_ids(&store).await;
    assert_eq!(got, want, "live {} alerts, batch {}", got.len(), want.len());
}

/// Batches longer than the window (two and a half days of events each,
/// over weekends too) against the default window of 48 hours: the head
/// takes each batch's events before the watermark settles them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_longer_than_the_window_give_the_batchs_alerts() {
    let work = tempfile::tempdir().unwrap();
    let sim = work.path().join("sim");
    let lines = company(&sim, 120, 50);
    let want = batch_alerts(&sim, work.path()).await;
    let store = store_in(work.path(), "live.db").await;
    context_only(&store, &sim, work.path()).await;
    let opts = LiveOptions {
        late_secs: 48 * 3600,
        checkpoint_every: 0,
    };
    let stats = post_live(&store, &lines, opts, 3000, 0, 5, 3).await;
    assert_eq!(
        (stats.events, stats.late),
        (lines.len() as u64, 0),
        "{stats:?}"
    );
    let got = alert_ids(&store).await;
    assert_eq!(got, want, "live {} alerts, batch {}", got.len(), want.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_later_than_the_window_are_counted_not_dropped() {
    let work = tempfile::tempdir().unwrap();
    let sim = work.path().join("sim");
    let lines = company(&sim, 40, 20);
    let store = store_in(work.path(), "live.db").await;
    context_only(&store, &sim, work.path()).await;
    // A window of one minute: batches shuffled and out of step are late.
    let opts = LiveOptions {
        late_secs: 60,
        checkpoint_every: 0,
    };
    let stats = post_live(&store, &lines, opts, 500, 2000, 0, 2).await;
    assert_eq!(stats.events, lines.len() as u64, "{stats:?}");
    assert!(stats.late > 0, "{stats:?}");
    // A fresh start after a restart reads nothing twice.
    let mut again = Live::open(&store, Config::default(), opts).await.unwrap();
    let step = again.step(&store, &ctx(), now()).await.unwrap();
    assert_eq!(step.stats.events, lines.len() as u64, "{step:?}");
    assert_eq!(step.stored, 0, "{step:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_directory_starts_afresh() {
    let work = tempfile::tempdir().unwrap();
    let sim = work.path().join("sim");
    let lines = company(&sim, 40, 15);
    let store = store_in(work.path(), "live.db").await;
    context_only(&store, &sim, work.path()).await;
    let opts = LiveOptions::default();
    let ledger = ctx();
    ingest_batch(
        &store,
        &ledger,
        &KnownPeople::default(),
        "t",
        now(),
        lines.join("\n").as_bytes(),
    )
    .await
    .unwrap();
    // An alert stored before (by an earlier run, another configuration)
    // that this engine would not raise: it stands.
    let earlier = custodian_store::NewAlert {
        id: "A-earlier".into(),
        user: store.people().await.unwrap()[0].user_id.clone(),
        raised_at: DateTime::parse_from_rfc3339("2025-04-10T10:00:00+09:00").unwrap(),
        severity: "medium".into(),
        score: 12.0,
        body: "{}".into(),
    };
    store.insert_alerts(&[earlier], &ledger).await.unwrap();
    let mut live = Live::open(&store, Config::default(), opts).await.unwrap();
    live.step(&store, &ledger, now()).await.unwrap();
    assert_eq!(live.stats().fresh_starts, 0);
    assert!(
        alert_ids(&store).await.contains("A-earlier"),
        "settled before: it stands"
    );
    let mut people = store.people().await.unwrap();
    people[0].org_unit = "Another unit".into();
    store.put_people(&people[..1]).await.unwrap();
    let step = live.step(&store, &ledger, now()).await.unwrap();
    assert_eq!(step.stats.fresh_starts, 1, "{step:?}");
    assert_eq!(
        step.stats.events,
        lines.len() as u64,
        "every event read again: {step:?}"
    );
    // A checkpoint made before the change is not taken after a restart.
    let mut people = store.people().await.unwrap();
    people[0].org_unit = "A third unit".into();
    store.put_people(&people[..1]).await.unwrap();
    let mut reopened = Live::open(&store, Config::default(), opts).await.unwrap();
    assert_eq!(reopened.stats().fresh_starts, 1, "its counts start again");
    let step = reopened.step(&store, &ledger, now()).await.unwrap();
    assert_eq!(step.stats.events, lines.len() as u64, "{step:?}");
}

/// The evidence of an alert held back and posted a little later (within
/// the window): the head first raises something else, then, taking the
/// late events in their place, what the batch raises; what it raised
/// before is withdrawn, on the record, and the standing alerts are the
/// batch's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_a_late_event_changes_is_withdrawn() {
    let work = tempfile::tempdir().unwrap();
    let sim = work.path().join("sim");
    let lines = company(&sim, 120, 50);
    let want = batch_alerts(&sim, work.path()).await;
    let batch = store_in(work.path(), "batch.db").await;
    // The batch's first alert, and the events it cites.
    let mut alerts = batch.alerts(u32::MAX).await.unwrap();
    alerts.sort_by_key(|a| a.raised_at);
    let first = &alerts[0];
    let body: serde_json::Value = serde_json::from_str(&first.body).unwrap();
    let cited: BTreeSet<String> = body["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["evidence"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e.as_str().map(str::to_string))
        .collect();
    let id_of = |l: &str| -> String {
        serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (late, on_time): (Vec<String>, Vec<String>) = lines
        .iter()
        .cloned()
        .partition(|l| cited.contains(&id_of(l)));
    assert!(!late.is_empty());
    let store = store_in(work.path(), "live.db").await;
    context_only(&store, &sim, work.path()).await;
    let ledger = ctx();
    let known = KnownPeople::default();
    let opts = LiveOptions {
        late_secs: 20 * 24 * 3600,
        checkpoint_every: 0,
    };
    let mut live = Live::open(&store, Config::default(), opts).await.unwrap();
    // Everything on time up to a day after the alert, then the cited
    // events, then the rest.
    let cut = first.raised_at + chrono::Duration::days(1);
    let ts_of = |l: &str| {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        DateTime::parse_from_rfc3339(v["ts"].as_str().unwrap()).unwrap()
    };
    let (before, after): (Vec<String>, Vec<String>) =
        on_time.into_iter().partition(|l| ts_of(l) <= cut);
    for part in [before, late, after] {
        for chunk in part.chunks(500) {
            ingest_batch(
                &store,
                &ledger,
                &known,
                "t",
                now(),
                chunk.join("\n").as_bytes(),
            )
            .await
            .unwrap();
            live.step(&store, &ledger, now()).await.unwrap();
        }
    }
    let stats = live.stats();
    assert_eq!(stats.late, 0, "{stats:?}");
    assert!(stats.withdrawn >= 1, "{stats:?}");
    assert_eq!(alert_ids(&store).await, want);
    let records = store
        .custody_records("alert_status", None, None)
        .await
        .unwrap();
    assert!(records.iter().any(|r| r.body.contains("\"withdrawn\"")
        && r.body.contains("superseded")
        && r.body.contains("\"detection\"")));
}
