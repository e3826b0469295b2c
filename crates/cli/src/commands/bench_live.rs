//! `custodian bench live`: continuous detection's figures, measured in one
//! run against the batch path on the same events and the same backend.
//!
//! What is measured, per backend (SQLite always; PostgreSQL with
//! `--postgres URL`):
//! - the baseline: `import` of the whole folder and `detect --from-store`
//!   over it, on a fresh store;
//! - the live path on another fresh store holding only the directory and
//!   register: the events in batches of `--batch` lines through the API's
//!   ingest use case (parsing, rejects, store, ledger), each batch followed
//!   by a detection step (the context's fingerprint, the engine, alerts
//!   stored and ledgered, a checkpoint when 30 s have passed), as `serve`
//!   does when a batch arrives. Events/s over the
//!   whole, and for each alert stored the time from the start of the
//!   ingest of the batch that raised it to the end of the step that stored
//!   it (p50, p99, max);
//! - that both give the same alerts (the figures are void otherwise);
//! - what a restart costs: the checkpoint's size, and opening from it.
//!
//! The HTTP layer is not in it (a request's own cost is the server's, and
//! the same for both paths).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Result};
use serde_json::json;

use custodian_app::detection::live::{Live, LiveOptions};
use custodian_app::ingest::{ingest_batch, KnownPeople};
use custodian_ingest::{import_folder, ImportOptions, NoProgress, Progress};
use custodian_ledger::NoteSigner;
use custodian_store::{LedgerContext, Store};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A dataset folder (default: a simulated company made for the run).
    #[arg(long)]
    dataset: Option<PathBuf>,
    /// The simulated company's size, when no dataset is given.
    #[arg(long, default_value_t = 300)]
    people: usize,
    #[arg(long, default_value_t = 90)]
    days: u32,
    /// Lines per ingest batch on the live path.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Also measure on this PostgreSQL database (in two fresh schemas,
    /// `bench_live_batch_PID` and `bench_live_PID`, left for inspection).
    #[arg(long)]
    postgres: Option<String>,
    #[arg(long)]
    json: bool,
}

fn ledger() -> Result<LedgerContext> {
    Ok(LedgerContext {
        signer: NoteSigner::generate("bench.custodian/ledger")
            .map_err(|e| anyhow::anyhow!("{e}"))?,
        origin: "bench.custodian/ledger".into(),
    })
}

async fn fresh(url: &str) -> Result<Box<dyn Store>> {
    let settings =
        crate::settings::Settings::resolve(None, Some(url), &crate::settings::ProcessEnv)?;
    super::open_store(&settings).await
}

/// The folder without its events: what the live store starts from.
fn bare_copy(dataset: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for f in std::fs::read_dir(dataset)? {
        let f = f?.path();
        let name = f
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        if f.is_file() && !name.starts_with("events.jsonl") && name != "truth.jsonl" {
            std::fs::copy(&f, to.join(&name))?;
        }
    }
    std::fs::write(to.join("events.jsonl"), "")?;
    Ok(())
}

async fn alert_ids(store: &dyn Store) -> Result<BTreeSet<String>> {
    Ok(store
        .alerts(u32::MAX)
        .await?
        .into_iter()
        .map(|a| a.id)
        .collect())
}

fn quantile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// One backend's figures.
async fn measure(
    label: &str,
    urls: (&str, &str),
    dataset: &Path,
    bare: &Path,
    lines: &[String],
    args: &Args,
    tmp: &Path,
) -> Result<serde_json::Value> {
    let progress: Arc<dyn Progress> = Arc::new(NoProgress);
    let now = crate::clock::now();
    let cfg = custodian_detect::Config::default();

    // The baseline: import, then detection over the store.
    let batch_store = fresh(urls.0).await?;
    let ctx = ledger()?;
    let opts = ImportOptions::new(tmp.join(format!("rejects-{label}-batch.jsonl")), now);
    let t = Instant::now();
    import_folder(batch_store.as_ref(), dataset, &opts, &ctx, progress.clone()).await?;
    let import_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    custodian_app::detection::detect_store(batch_store.as_ref(), &ctx, &cfg, 64 * 1024, &progress)
        .await?;
    let detect_secs = t.elapsed().as_secs_f64();
    let want = alert_ids(batch_store.as_ref()).await?;
    let events = batch_store.counts().await?.events;
    drop(batch_store);

    // The live path.
    let store = fresh(urls.1).await?;
    let ctx = ledger()?;
    let opts = ImportOptions::new(tmp.join(format!("rejects-{label}-live.jsonl")), now);
    import_folder(store.as_ref(), bare, &opts, &ctx, progress).await?;
    let known = KnownPeople::default();
    let mut live = Live::open(store.as_ref(), cfg.clone(), LiveOptions::default()).await?;
    let mut latencies = Vec::new();
    let mut rejected = 0;
    let (mut ingest_secs, mut step_secs) = (0.0, 0.0);
    let all = Instant::now();
    for chunk in lines.chunks(args.batch.max(1)) {
        let body = chunk.join("\n");
        let t = Instant::now();
        let b = ingest_batch(store.as_ref(), &ctx, &known, "bench", now, body.as_bytes()).await?;
        rejected += b.rejected.len();
        let ingested = t.elapsed().as_secs_f64();
        let step = live.step(store.as_ref(), &ctx, crate::clock::now()).await?;
        let total = t.elapsed().as_secs_f64();
        ingest_secs += ingested;
        step_secs += total - ingested;
        for _ in 0..step.stored {
            latencies.push(total * 1000.0);
        }
    }
    let live_secs = all.elapsed().as_secs_f64();
    let got = alert_ids(store.as_ref()).await?;
    if got != want {
        bail!(
            "{label}: the live path stored {} alerts, the batch {}: the figures would mean nothing ({} events, {rejected} rejected, {:?})",
            got.len(),
            want.len(),
            events,
            live.stats()
        );
    }
    // What a restart costs: the checkpoint's size and opening from it.
    let saved = live
        .checkpoint_now(store.as_ref(), crate::clock::now())
        .await?;
    let t = Instant::now();
    let reopened = Live::open(
        store.as_ref(),
        custodian_detect::Config::default(),
        LiveOptions::default(),
    )
    .await?;
    let reopen_secs = t.elapsed().as_secs_f64();
    drop(reopened);
    latencies.sort_by(f64::total_cmp);
    let batch_eps = events as f64 / (import_secs + detect_secs);
    let live_eps = events as f64 / live_secs;
    Ok(json!({
        "backend": label,
        "events": events,
        "alerts": got.len(),
        "batch_lines": args.batch,
        "import_seconds": import_secs,
        "detect_seconds": detect_secs,
        "batch_events_per_second": batch_eps.round(),
        "import_events_per_second": (events as f64 / import_secs).round(),
        "live_seconds": live_secs,
        "live_ingest_seconds": ingest_secs,
        "live_step_seconds": step_secs,
        "live_events_per_second": live_eps.round(),
        "live_over_batch": live_eps / batch_eps,
        "checkpoint_bytes": saved,
        "reopen_seconds": reopen_secs,
        "alert_latency_ms": {
            "p50": quantile(&latencies, 0.5),
            "p99": quantile(&latencies, 0.99),
            "max": latencies.last().copied().unwrap_or(0.0),
        },
    }))
}

pub async fn run(args: Args) -> Result<ExitCode> {
    let tmp = std::env::temp_dir().join(format!("custodian-bench-live-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let dataset = match &args.dataset {
        Some(d) => d.clone(),
        None => {
            let d = tmp.join("company");
            custodian_sim::generate(
                &custodian_sim::SimConfig {
                    people: args.people,
                    days: args.days,
                    seed: 1,
                    ..Default::default()
                },
                &d,
            )?;
            d
        }
    };
    let events_file = dataset.join("events.jsonl");
    let Ok(text) = std::fs::read_to_string(&events_file) else {
        bail!(
            "{} cannot be read (a plain events.jsonl is needed)",
            events_file.display()
        );
    };
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    drop(text);
    let bare = tmp.join("bare");
    bare_copy(&dataset, &bare)?;
    let mut results = Vec::new();
    let sqlite = (
        format!("sqlite://{}", tmp.join("batch.db").display()),
        format!("sqlite://{}", tmp.join("live.db").display()),
    );
    results.push(
        measure(
            "sqlite",
            (&sqlite.0, &sqlite.1),
            &dataset,
            &bare,
            &lines,
            &args,
            &tmp,
        )
        .await?,
    );
    if let Some(pg) = &args.postgres {
        let sep = if pg.contains('?') { '&' } else { '?' };
        let id = std::process::id();
        let urls = (
            format!("{pg}{sep}schema=bench_live_batch_{id}"),
            format!("{pg}{sep}schema=bench_live_{id}"),
        );
        results.push(
            measure(
                "postgres",
                (&urls.0, &urls.1),
                &dataset,
                &bare,
                &lines,
                &args,
                &tmp,
            )
            .await?,
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
    let out = json!({ "results": results });
    if args.json {
        crate::output::json(&out)?;
        return Ok(ExitCode::SUCCESS);
    }
    for r in &results {
        println!(
            "live bench on {}: {} events, {} alerts (the same as the batch's), batches of {} lines",
            r["backend"].as_str().unwrap_or(""),
            r["events"],
            r["alerts"],
            r["batch_lines"]
        );
        println!(
            "  batch  import + detect --from-store  {:>8.0} events/s ({:.2} s + {:.2} s)",
            r["batch_events_per_second"].as_f64().unwrap_or(0.0),
            r["import_seconds"].as_f64().unwrap_or(0.0),
            r["detect_seconds"].as_f64().unwrap_or(0.0)
        );
        println!(
            "  live   ingest + step per batch      {:>8.0} events/s ({:.2} s: ingest {:.2} s, detection {:.2} s) = {:.2} x the batch",
            r["live_events_per_second"].as_f64().unwrap_or(0.0),
            r["live_seconds"].as_f64().unwrap_or(0.0),
            r["live_ingest_seconds"].as_f64().unwrap_or(0.0),
            r["live_step_seconds"].as_f64().unwrap_or(0.0),
            r["live_over_batch"].as_f64().unwrap_or(0.0)
        );
        println!(
            "  restart: checkpoint {:.1} MB, opened from it in {:.2} s",
            r["checkpoint_bytes"].as_f64().unwrap_or(0.0) / 1e6,
            r["reopen_seconds"].as_f64().unwrap_or(0.0)
        );
        let l = &r["alert_latency_ms"];
        println!(
            "  alert latency, ingest to stored alert: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            l["p50"].as_f64().unwrap_or(0.0),
            l["p99"].as_f64().unwrap_or(0.0),
            l["max"].as_f64().unwrap_or(0.0)
        );
    }
    Ok(ExitCode::SUCCESS)
}
