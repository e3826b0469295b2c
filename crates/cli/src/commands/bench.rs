//! `custodian bench ledger`: the custody ledger's figures (`bench live`
//! is in `bench_live.rs`), measured in one
//! run on a fresh store (fsync on) so they can be compared with each other
//! and with raw SHA-256 on the same machine.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use chrono::{Duration, TimeZone};
use rand::{Rng, SeedableRng};
use serde_json::json;
use sha2::{Digest, Sha256};

use custodian_core::{Action, Event};
use custodian_ledger::NoteSigner;
use custodian_store::audit;
use custodian_store::{LedgerContext, NewEvent};

#[derive(Debug, clap::Subcommand)]
pub enum Cmd {
    /// Appends/s, inclusion-proof latency and verification speed of the ledger.
    Ledger {
        /// How many entries to append.
        #[arg(long, default_value_t = 1_000_000)]
        entries: u64,
        /// Entries per store transaction (one checkpoint each).
        #[arg(long, default_value_t = 20_000)]
        batch: u64,
        /// Full verifications to time (the median is reported; these
        /// machines are noisy).
        #[arg(long, default_value_t = 3)]
        verify_runs: u32,
        /// Store URL (default: a fresh SQLite file in a temporary folder).
        #[arg(long = "bench-store")]
        store: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Events/s through the live path (ingest + engine + store + ledger)
    /// against the batch import and detection in the same run, and the
    /// latency from ingest to stored alert.
    Live(super::bench_live::Args),
}

fn synthetic(i: u64) -> NewEvent {
    let ts = chrono::FixedOffset::east_opt(9 * 3600)
        .and_then(|o| o.with_ymd_and_hms(2025, 4, 1, 9, 0, 0).single())
        .map(|t| t + Duration::milliseconds(i as i64 * 37))
        .unwrap_or_default();
    let action = match i % 4 {
        0 => Action::DocView {
            doc: format!("D-{:04}", i % 5000),
            bytes: Some(i * 13 % 9_000_000),
        },
        1 => Action::DocPrint {
            doc: format!("D-{:04}", i % 5000),
            pages: i % 40 + 1,
        },
        2 => Action::WebVisit {
            domain: "example.com".into(),
            url: Some(format!("https://example.com/{i}")),
        },
        _ => Action::Logon,
    };
    NewEvent::new(Event {
        id: format!("bench-{i:010}"),
        ts,
        user: format!("E{:05}", 10_000 + i % 2000),
        host: Some(format!("pc-{}", i % 2000)),
        action,
        extra: Default::default(),
    })
}

/// SHA-256 throughput over messages of `len` bytes, in bytes per second.
fn raw_sha256(len: usize, total: usize) -> f64 {
    let msg = vec![0x5au8; len];
    let n = total / len;
    let t = Instant::now();
    let mut acc = [0u8; 32];
    for i in 0..n {
        let mut h = Sha256::new();
        h.update([i as u8]);
        h.update(&msg);
        let d = h.finalize();
        acc[0] ^= d[0];
    }
    std::hint::black_box(acc);
    (n * (len + 1)) as f64 / t.elapsed().as_secs_f64()
}

pub async fn run(cmd: Cmd) -> Result<ExitCode> {
    let (entries, batch, verify_runs, store, json) = match cmd {
        Cmd::Ledger {
            entries,
            batch,
            verify_runs,
            store,
            json,
        } => (entries, batch, verify_runs, store, json),
        Cmd::Live(args) => return super::bench_live::run(args).await,
    };
    let tmp = std::env::temp_dir().join(format!("custodian-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let url = store.unwrap_or_else(|| format!("sqlite://{}", tmp.join("bench.db").display()));
    let settings =
        crate::settings::Settings::resolve(None, Some(&url), &crate::settings::ProcessEnv)?;
    let store = super::open_store(&settings).await?;
    let ctx = LedgerContext {
        signer: NoteSigner::generate("bench.custodian/ledger")
            .map_err(|e| anyhow::anyhow!("{e}"))?,
        origin: "bench.custodian/ledger".into(),
    };

    // Appends, in batches, each a transaction with its checkpoint (fsync on).
    let mut append_secs = 0.0;
    let mut i = 0;
    while i < entries {
        let n = batch.min(entries - i);
        let b: Vec<NewEvent> = (i..i + n).map(synthetic).collect();
        let t = Instant::now();
        store.insert_events(b, &ctx).await?;
        append_secs += t.elapsed().as_secs_f64();
        i += n;
    }
    let appends_per_s = entries as f64 / append_secs;

    // Inclusion proofs read from the store's tiles, at random leaves.
    let size: u64 = store.ledger_runs().await?.iter().map(|r| r.count).sum();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut lat = Vec::new();
    for _ in 0..2000 {
        let leaf = rng.gen_range(0..size);
        let t = Instant::now();
        let p = audit::inclusion_proof_from_store(store.as_ref(), leaf, size).await?;
        lat.push(t.elapsed().as_secs_f64() * 1e6);
        std::hint::black_box(p);
    }
    lat.sort_by(f64::total_cmp);

    let p50 = lat[lat.len() / 2];
    let p99 = lat[lat.len() * 99 / 100];

    // Full verification against raw SHA-256 on messages of the same size.
    let mut times = Vec::new();
    let mut report = None;
    for _ in 0..verify_runs.max(1) {
        let t = Instant::now();
        let r = audit::verify(store.as_ref(), &ctx.signer.verifier(), None, &|_, _| {})
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        times.push(t.elapsed().as_secs_f64());
        report = Some(r);
    }
    let report = report.ok_or_else(|| anyhow::anyhow!("no verification ran"))?;
    times.sort_by(f64::total_cmp);
    let verify_secs = times[times.len() / 2];
    let verify_best = times[0];
    let avg_entry = (report.bytes_hashed / report.size.max(1)) as usize;
    let raw = raw_sha256(avg_entry.max(64), 256 << 20);
    let verify_bps = report.bytes_hashed as f64 / verify_secs;
    let out = json!({
        "entries": entries,
        "backend": store.backend(),
        "appends_per_second": appends_per_s.round(),
        "inclusion_proof_us": {"p50": p50, "p99": p99},
        "verify_seconds": verify_secs,
        "verify_seconds_best": verify_best,
        "verify_runs": times.len(),
        "verify_bytes_per_second": verify_bps.round(),
        "raw_sha256_bytes_per_second": raw.round(),
        "verify_fraction_of_raw_sha256": verify_bps / raw,
        "average_hashed_bytes_per_entry": avg_entry,
    });
    if json {
        crate::output::json(&out)?;
    } else {
        println!(
            "ledger bench, {} entries on {:?} (fsync on)",
            entries,
            store.backend()
        );
        println!("  appends            {:>12.0} entries/s (batches of {batch}, one signed checkpoint each)", appends_per_s);
        println!(
            "  inclusion proof    p50 {:.1} µs, p99 {:.1} µs (tiles read from the store)",
            p50, p99
        );
        println!(
            "  full verification  {:.2} s (median of {}; best {:.2} s = {:.0} %), {:.0} MB/s hashed = {:.0} % of raw SHA-256 ({:.0} MB/s on {}-byte messages, same run)",
            verify_secs,
            times.len(),
            verify_best,
            100.0 * report.bytes_hashed as f64 / verify_best / raw,
            verify_bps / 1e6,
            100.0 * verify_bps / raw,
            raw / 1e6,
            avg_entry
        );
    }
    drop(store);
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(ExitCode::SUCCESS)
}
