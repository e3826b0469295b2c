//! `custodian demo`: a simulated company through the whole pipeline on the
//! embedded store, in about a minute.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, Result};

use custodian_ingest::{import_folder, ImportOptions, NoProgress, Progress};
use custodian_sim::{generate, SimConfig};

use crate::settings::{Settings, Source, StoreUrl};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Employees in the simulated company.
    #[arg(long, default_value_t = 2000)]
    people: usize,
    /// Days of activity.
    #[arg(long, default_value_t = 180)]
    days: u32,
    /// Simulation seed.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Where the demo keeps its dataset, store and key (replaced if it holds
    /// an earlier demo).
    #[arg(long, default_value = "custodian-demo")]
    dir: PathBuf,
    /// How many of the top alerts to show.
    #[arg(long, default_value_t = 5)]
    top: usize,
}

impl Args {
    /// The defaults, with this directory and size.
    pub fn new(dir: PathBuf, people: usize, days: u32) -> Args {
        Args {
            people,
            days,
            seed: 2026,
            dir,
            top: 5,
        }
    }
}

pub async fn run(base: &Settings, args: &Args) -> Result<ExitCode> {
    let started = Instant::now();
    let dir = &args.dir;
    let dataset = dir.join("dataset");
    let db = dir.join("custodian.db");
    if dir.exists() {
        // Only ever remove what a demo created.
        for f in [
            "custodian.db",
            "custodian.db-wal",
            "custodian.db-shm",
            "alerts.jsonl",
            "truth.jsonl",
        ] {
            let p = dir.join(f);
            if p.exists() {
                std::fs::remove_file(&p)
                    .with_context(|| format!("cannot remove {}", p.display()))?;
            }
        }
        if dataset.exists() {
            std::fs::remove_dir_all(&dataset)
                .with_context(|| format!("cannot remove {}", dataset.display()))?;
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut settings = base.clone();
    settings.store = StoreUrl::Sqlite(format!("sqlite://{}", db.display()));
    settings.store_source = Source::Flag;
    settings.ledger_key_file = dir.join("custodian-ledger.key");
    settings.rejects_dir = dir.join("rejects");

    println!(
        "1/4 simulating {} people over {} days (seed {}) into {}",
        args.people,
        args.days,
        args.seed,
        dataset.display()
    );
    let t = Instant::now();
    let truth = dir.join("truth.jsonl");
    let stats = generate(
        &SimConfig {
            people: args.people,
            days: args.days,
            seed: args.seed,
            truth: Some(truth.clone()),
            ..Default::default()
        },
        &dataset,
    )
    .with_context(|| format!("cannot write {}", dataset.display()))?;
    println!(
        "    {} events, {} documents, {} HR events, {} contact reports, {} planted insiders ({:.1} s)",
        stats.events,
        stats.documents,
        stats.hr_events,
        stats.contacts,
        stats.insiders,
        t.elapsed().as_secs_f64()
    );

    println!(
        "2/4 importing into {} with the custody ledger on",
        db.display()
    );
    let t = Instant::now();
    let store = super::open_store(&settings).await?;
    let ledger = super::ledger::context(&settings)?;
    let now = crate::clock::now();
    let mut opts = ImportOptions::new(settings.rejects_dir.join("demo.jsonl"), now);
    opts.batch_size = settings.batch_size;
    let progress: Arc<dyn Progress> = match super::import::bar_if_terminal(
        true,
        "{msg:>16} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        Some(b) => Arc::new(super::import::Bar(b)),
        None => Arc::new(NoProgress),
    };
    let sum = import_folder(store.as_ref(), &dataset, &opts, &ledger, progress.clone()).await?;
    drop(progress);
    println!(
        "    {} events imported, {} rejected ({:.1} s, {:.0} events/s)",
        sum.events_imported,
        sum.rejected_count,
        t.elapsed().as_secs_f64(),
        sum.events_imported as f64 / t.elapsed().as_secs_f64().max(1e-9)
    );

    println!("3/4 detecting over the store; alerts are stored and ledgered");
    let t = Instant::now();
    let (alerts, summary, stored) =
        super::detect::detect_store(&settings, store.as_ref(), true).await?;
    let [low, medium, high] = summary.people_alerted;
    println!(
        "    {} alerts ({stored} stored): people alerted {high} high, {medium} medium, {low} low; {} contact-report groups ({:.1} s)",
        alerts.len(),
        summary.contact_groups,
        t.elapsed().as_secs_f64()
    );
    let alerts_file = dir.join("alerts.jsonl");
    super::detect::write_alerts(&alerts_file, &alerts)?;
    println!("top alerts (each person's highest):");
    for a in super::detect::top_alerts(&alerts, args.top) {
        super::detect::print_alert(a);
    }

    println!(
        "4/4 scoring against the simulator's ground truth ({})",
        truth.display()
    );
    let truth_lines = super::evaluate::read_truth(&truth)?;
    let card = super::evaluate::score(
        &truth_lines,
        &alerts_file,
        args.people as u64,
        f64::from(args.days),
        3.0,
    )?;
    super::evaluate::print_scorecard(&card);
    println!(
        "done in {:.0} s. Explore:\n  custodian serve --demo --demo-dir {}   # the console on this company\n  CUSTODIAN_LEDGER_KEY_FILE={} custodian --store sqlite://{} ledger verify   # or status, people show USER",
        started.elapsed().as_secs_f64(),
        dir.display(),
        settings.ledger_key_file.display(),
        db.display()
    );
    Ok(ExitCode::SUCCESS)
}
