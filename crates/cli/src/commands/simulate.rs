//! `custodian simulate`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use custodian_sim::{generate, SimConfig};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// How many employees.
    #[arg(long, default_value_t = 200)]
    people: usize,
    /// How many days of activity.
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Random seed; the same seed gives the same dataset.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// First day (YYYY-MM-DD).
    #[arg(long, default_value = "2025-04-01")]
    start: chrono::NaiveDate,
    /// Write events.jsonl.gz.
    #[arg(long)]
    gzip: bool,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    /// Where to write the ground truth (planted insiders and the honest
    /// people planted to confuse naive rules); default OUT/truth.jsonl.
    #[arg(long)]
    truth: Option<PathBuf>,
}

pub fn run(args: &Args) -> Result<ExitCode> {
    let cfg = SimConfig {
        people: args.people,
        days: args.days,
        seed: args.seed,
        start: args.start,
        gzip: args.gzip,
        truth: args.truth.clone(),
    };
    let stats = generate(&cfg, &args.out)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    println!(
        "wrote {}: {} people, {} documents, {} events, {} HR events, {} contact reports, {} planted insiders",
        args.out.display(),
        stats.people,
        stats.documents,
        stats.events,
        stats.hr_events,
        stats.contacts,
        stats.insiders
    );
    Ok(ExitCode::SUCCESS)
}
