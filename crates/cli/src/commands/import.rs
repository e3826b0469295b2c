//! `custodian import DIR`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};

use custodian_ingest::{
    import_cert, import_folder, ImportOptions, ImportSummary, NoProgress, Progress,
};
use custodian_store::Store;

use crate::settings::Settings;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The dataset folder.
    dir: PathBuf,
    /// Print the summary as one JSON object.
    #[arg(long)]
    json: bool,
    /// Where to write rejected lines (default custodian-rejects/FOLDER-TIME.jsonl).
    #[arg(long, value_name = "FILE")]
    rejects: Option<PathBuf>,
    /// Events per store transaction (default from config, else 20000).
    #[arg(long, value_name = "N")]
    batch_size: Option<usize>,
    /// The folder's layout: the interchange format, or the CERT r4.2
    /// layout (logon, device, file, email, http CSVs and the LDAP folder;
    /// dates read as UTC).
    #[arg(long, value_enum, default_value = "interchange")]
    format: super::detect::Format,
}

/// An import's progress bar on the terminal (also used by detection).
pub struct Bar(pub ProgressBar);

impl Progress for Bar {
    fn begin(&self, file: &str, total_bytes: u64) {
        self.0.reset();
        self.0.set_length(total_bytes);
        self.0.set_message(file.to_string());
    }
    fn position(&self, bytes: u64) {
        self.0.set_position(bytes);
    }
    fn end(&self, _file: &str) {
        let len = self.0.length().unwrap_or(0);
        self.0.set_position(len);
    }
}

pub async fn run(settings: &Settings, store: &dyn Store, args: Args) -> Result<ExitCode> {
    let now = crate::clock::now();
    let folder_name = args
        .dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "dataset".into());
    let rejects = args.rejects.unwrap_or_else(|| {
        settings.rejects_dir.join(format!(
            "{folder_name}-{}.jsonl",
            now.format("%Y%m%dT%H%M%S")
        ))
    });
    let mut opts = ImportOptions::new(rejects, now);
    opts.batch_size = args.batch_size.unwrap_or(settings.batch_size).max(1);
    opts.max_line_bytes = settings.max_line_bytes;
    let progress: Arc<dyn Progress> = match bar_if_terminal(
        !args.json,
        "{msg:>16} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        Some(bar) => Arc::new(Bar(bar)),
        None => Arc::new(NoProgress),
    };
    let ledger = super::ledger::context(settings)?;
    let summary = match args.format {
        super::detect::Format::Interchange => {
            import_folder(store, &args.dir, &opts, &ledger, progress.clone()).await?
        }
        super::detect::Format::CertR42 => {
            let utc = chrono::FixedOffset::east_opt(0).unwrap_or(*now.offset());
            import_cert(store, &args.dir, utc, &opts, &ledger, progress.clone()).await?
        }
    };
    drop(progress);
    if args.json {
        crate::output::json(&summary)?;
    } else {
        print_summary(&summary, &store.location());
    }
    Ok(ExitCode::SUCCESS)
}

/// A progress bar with `template` on a terminal, none when piped or not
/// `wanted`.
pub fn bar_if_terminal(wanted: bool, template: &str) -> Option<ProgressBar> {
    if !wanted || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    Some(bar)
}

fn print_summary(s: &ImportSummary, store: &str) {
    println!("Imported {} into {store}", s.folder);
    println!(
        "  records read {:>10}   imported {:>10}   duplicates {:>10}   rejected {:>6}",
        s.records_read, s.records_imported, s.records_duplicate, s.rejected_count
    );
    let row = |what: &str, read: u64, new: u64, rest: String| {
        println!("  {what:<13}read {read:>8}, new {new:>8}, {rest}");
    };
    let (people, docs) = (s.people_updated, s.documents_changed);
    row(
        "people",
        s.people_read,
        s.people_new,
        format!("updated {people:>6}"),
    );
    row(
        "documents",
        s.documents_read,
        s.documents_new,
        format!("changed {docs:>6}"),
    );
    let dup = |n: u64| format!("duplicate {n:>8}");
    row(
        "events",
        s.events_read,
        s.events_imported,
        format!(
            "{}, unknown action {}",
            dup(s.events_duplicate),
            s.events_unknown_action
        ),
    );
    row("hr events", s.hr_read, s.hr_imported, dup(s.hr_duplicate));
    row(
        "contacts",
        s.contacts_read,
        s.contacts_imported,
        dup(s.contacts_duplicate),
    );
    if s.rejected_count > 0 {
        println!("  rejected lines:");
        for r in s.rejected.iter().take(20) {
            println!("    {}:{}: {}", r.file, r.line, r.reason);
        }
        if s.rejected_count > 20 {
            println!("    … and {} more", s.rejected_count - 20);
        }
        if let Some(f) = &s.rejects_file {
            println!("  rejected lines are kept in full in {f}");
        }
    }
    let rate = if s.elapsed_seconds > 0.0 {
        s.events_read as f64 / s.elapsed_seconds
    } else {
        0.0
    };
    println!("  took {:.2} s ({rate:.0} events/s)", s.elapsed_seconds);
}
