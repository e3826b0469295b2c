//! `custodian detect`: the risk engine over a dataset folder (interchange
//! format or the CERT r4.2 layout) or over the store. The pipeline and the
//! rules are `custodian_app::detection`'s; this file reads the settings and
//! the clock, draws progress, and prints.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context as _, Result};

use custodian_app::detection::{self, Layout};
pub use custodian_app::detection::{top_alerts, DetectSummary};
use custodian_detect::Alert;
use custodian_ingest::{NoProgress, Progress};
use custodian_store::Store;

use crate::settings::Settings;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The interchange format (directory.csv, documents.csv, events.jsonl, …).
    Interchange,
    /// The CERT Insider Threat Test Dataset r4.2 (logon, device, file,
    /// email, http CSVs and the LDAP folder).
    #[value(name = "cert-r4.2")]
    CertR42,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The dataset folder.
    #[arg(long, value_name = "DIR", required_unless_present = "from_store")]
    pub input: Option<PathBuf>,
    /// Read what the store holds instead of a folder; alerts are stored and
    /// appended to the ledger.
    #[arg(long, conflicts_with = "input")]
    pub from_store: bool,
    /// The folder's layout.
    #[arg(long, value_enum, default_value = "interchange")]
    pub format: Format,
    /// Where to write the alerts (JSONL); `-` for stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Where to write rejected lines (default custodian-rejects/detect-TIME.jsonl).
    #[arg(long, value_name = "FILE")]
    pub rejects: Option<PathBuf>,
    /// How many of the top alerts to print.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Print the run's summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Write down every judgement about one person (by user id) on stderr:
    /// each count weighed, how surprising it was against whom, what it
    /// added. For "why (not) this person?".
    #[arg(long, value_name = "USER")]
    pub trace: Option<String>,
    /// Also write every person's highest score (alerted or not) as JSONL,
    /// for evaluations that rank people at any budget.
    #[arg(long, value_name = "FILE")]
    pub scores: Option<PathBuf>,
}

/// How a folder is detected over.
#[derive(Debug, Clone, Default)]
pub struct FolderOptions {
    pub rejects: Option<PathBuf>,
    pub show_progress: bool,
    pub trace: Option<String>,
    pub scores: Option<PathBuf>,
}

pub fn progress(wanted: bool) -> Arc<dyn Progress> {
    bar(
        wanted,
        "{msg:>16} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
}

fn bar(wanted: bool, template: &str) -> Arc<dyn Progress> {
    match super::import::bar_if_terminal(wanted, template) {
        Some(b) => Arc::new(super::import::Bar(b)),
        None => Arc::new(NoProgress),
    }
}

fn print_trace(summary: &DetectSummary) {
    for l in &summary.trace {
        eprintln!("trace: {l}");
    }
}

/// Runs detection over a dataset folder: returns the alerts (in data-time
/// order) and the summary.
pub fn detect_folder(
    settings: &Settings,
    dir: &Path,
    format: Format,
    fo: &FolderOptions,
) -> Result<(Vec<Alert>, DetectSummary)> {
    let now = crate::clock::now();
    let rejects = fo.rejects.clone().unwrap_or_else(|| {
        settings
            .rejects_dir
            .join(format!("detect-{}.jsonl", now.format("%Y%m%dT%H%M%S")))
    });
    let layout = match format {
        Format::Interchange => Layout::Interchange,
        Format::CertR42 => Layout::CertR42,
    };
    let progress = match layout {
        Layout::Interchange => progress(fo.show_progress),
        Layout::CertR42 => bar(fo.show_progress, "{spinner} {pos} rows {per_sec}"),
    };
    let out = detection::detect_folder(
        dir,
        layout,
        &detection::FolderOptions {
            config: settings.detect.clone(),
            rejects,
            now,
            max_line_bytes: settings.max_line_bytes,
            progress,
            trace: fo.trace.clone(),
            scores: fo.scores.clone(),
        },
    )?;
    print_trace(&out.1);
    Ok(out)
}

/// Detection over what the store holds; alerts are stored and ledgered.
pub async fn detect_store(
    settings: &Settings,
    store: &dyn Store,
    show_progress: bool,
) -> Result<(Vec<Alert>, DetectSummary, u64)> {
    let ledger = super::ledger::context(settings)?;
    let progress = bar(
        show_progress,
        "{msg:>16} [{bar:40}] {pos}/{len} events {per_sec} eta {eta}",
    );
    let out = detection::detect_store(
        store,
        &ledger,
        &settings.detect,
        settings.max_line_bytes,
        &progress,
    )
    .await?;
    print_trace(&out.1);
    Ok(out)
}

pub fn write_alerts(path: &Path, alerts: &[Alert]) -> Result<()> {
    let mut out: Box<dyn Write> = if path == Path::new("-") {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(BufWriter::new(
            super::open_private(path)
                .with_context(|| format!("cannot write {}", path.display()))?,
        ))
    };
    for a in alerts {
        serde_json::to_writer(&mut out, a)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

pub fn print_alert(a: &Alert) {
    println!(
        "  {:<6} {:>5.1}  {}  {}",
        a.severity.as_str(),
        a.score,
        a.raised_at.format("%Y-%m-%d %H:%M"),
        a.user
    );
    println!("         {}", a.summary);
    for i in a.indicators.iter().take(5) {
        println!(
            "         - {:<26} {:>5.1}  {} ({} events)",
            i.name,
            i.weight,
            i.detail,
            i.evidence.len()
        );
    }
}

pub fn run_folder(settings: &Settings, args: &Args) -> Result<ExitCode> {
    let Some(dir) = &args.input else {
        bail!("--input DIR or --from-store is required");
    };
    let (alerts, mut summary) = detect_folder(
        settings,
        dir,
        args.format,
        &FolderOptions {
            rejects: args.rejects.clone(),
            show_progress: !args.json,
            trace: args.trace.clone(),
            scores: args.scores.clone(),
        },
    )?;
    if let Some(out) = &args.output {
        write_alerts(out, &alerts)?;
        summary.output = Some(out.display().to_string());
    }
    report(&alerts, &summary, args.top, args.json)?;
    Ok(ExitCode::SUCCESS)
}

pub fn report(alerts: &[Alert], summary: &DetectSummary, top: usize, json: bool) -> Result<()> {
    if json {
        return crate::output::json(summary);
    }
    let [low, medium, high] = summary.people_alerted;
    eprintln!(
        "read {} events ({} used, {} rejected{}) in {:.1} s",
        summary.events_read,
        summary.events_used,
        summary.rejected,
        summary
            .rejects_file
            .as_deref()
            .map(|f| format!(", see {f}"))
            .unwrap_or_default(),
        summary.detect_seconds
    );
    println!(
        "{} alerts; people alerted: {high} high, {medium} medium, {low} low (of {}); {} contact-report groups",
        summary.alerts, summary.people, summary.contact_groups
    );
    println!(
        "severity lines at the end: medium from {:.1}, high from {:.1} (they follow the alert budget)",
        summary.lines.medium, summary.lines.high
    );
    if summary.exposed_documents > 0 {
        println!(
            "{} register entries opened without need to know by several people: their folder permissions are wider than the register (custodian register exposure)",
            summary.exposed_documents
        );
    }
    if let Some(o) = &summary.output {
        if o != "-" {
            println!("alerts written to {o}");
        }
    }
    let best = top_alerts(alerts, top);
    if !best.is_empty() {
        println!("top alerts:");
        for a in best {
            print_alert(a);
        }
    }
    Ok(())
}

pub async fn run_store(settings: &Settings, store: &dyn Store, args: &Args) -> Result<ExitCode> {
    let (alerts, mut summary, stored) = detect_store(settings, store, !args.json).await?;
    if let Some(out) = &args.output {
        write_alerts(out, &alerts)?;
        summary.output = Some(out.display().to_string());
    }
    report(&alerts, &summary, args.top, args.json)?;
    if !args.json {
        println!(
            "{stored} new alerts stored in {} and appended to the ledger ({} were already there)",
            store.location(),
            alerts.len() as u64 - stored
        );
    }
    Ok(ExitCode::SUCCESS)
}
