//! `custodian simulate`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use custodian_sim::{generate, Background, Layout, SimConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LayoutArg {
    /// The interchange format.
    Interchange,
    /// The CERT r4.2 layout (no register).
    #[value(name = "cert-r4.2")]
    CertR42,
}

impl From<LayoutArg> for Layout {
    fn from(l: LayoutArg) -> Layout {
        match l {
            LayoutArg::Interchange => Layout::Interchange,
            LayoutArg::CertR42 => Layout::CertR42,
        }
    }
}

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
    /// The honest background, `key=value,…` over the defaults (curiosity,
    /// acl_loose, refusals, personal_mail, personal_mail_rate,
    /// personal_docs, usb, usb_manuals, odd_hours, broad, crunches,
    /// transfers, activity, job_browsing, roaming, personal_sender), or the
    /// name of a point of the sweep's grid (`noisy`, `independent`, …).
    #[arg(long, default_value = "default")]
    background: String,
    /// How to write it.
    #[arg(long, value_enum, default_value = "interchange")]
    layout: LayoutArg,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    /// Where to write the ground truth (planted insiders and the honest
    /// people planted to confuse naive rules); default OUT/truth.jsonl.
    #[arg(long)]
    truth: Option<PathBuf>,
}

/// A background by grid name or as `key=value,…`.
pub fn background(text: &str) -> Result<Background> {
    if let Some(p) = custodian_sim::sweep_grid()
        .into_iter()
        .find(|p| p.name == text)
    {
        return Ok(p.background);
    }
    Ok(Background::parse(text)?)
}

pub fn run(args: &Args) -> Result<ExitCode> {
    let cfg = SimConfig {
        people: args.people,
        days: args.days,
        seed: args.seed,
        start: args.start,
        gzip: args.gzip,
        truth: args.truth.clone(),
        background: background(&args.background)?,
        layout: args.layout.into(),
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
