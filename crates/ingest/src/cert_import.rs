//! Importing a CERT r4.2 folder into a store, so the console shows it and
//! `detect --from-store` reads it like any other company.
//!
//! Rules:
//! - The same mapping as detection over the folder (`cert`): the directory
//!   and HR events from the LDAP snapshots, the five activity files merged
//!   in detection's order. There is no register.
//! - Every record goes through the store's insert-if-new with the custody
//!   ledger, in batches, each one transaction: a re-import adds nothing, an
//!   import killed at any moment and run again ends where one clean import
//!   does.
//! - A row that cannot be read, or whose user no LDAP snapshot lists, is
//!   set aside in the rejects file with its file, line and reason; the rows
//!   around it are kept.
//! - Rows are read on a thread of their own while the store writes the
//!   previous batch.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use chrono::FixedOffset;

use custodian_store::{LedgerContext, NewEvent, Store};

use crate::cert::{CertDataset, CertReject};
use crate::{ImportError, ImportOptions, ImportSummary, Progress, RejectSink, SourceFile};

enum Msg {
    Batch(Vec<NewEvent>),
    Reject(CertReject),
}

fn source(dir: &Path, file: &str) -> SourceFile {
    let path = dir.join(file);
    SourceFile {
        size: std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0),
        path,
        name: file.to_string(),
        gzip: false,
    }
}

/// Imports the CERT r4.2 folder `dir` (dates read at `offset`).
pub async fn import_cert(
    store: &dyn Store,
    dir: &Path,
    offset: FixedOffset,
    opts: &ImportOptions,
    ledger: &LedgerContext,
    progress: Arc<dyn Progress>,
) -> Result<ImportSummary, ImportError> {
    let started = Instant::now();
    let ds = CertDataset::open(dir, offset).map_err(|e| ImportError::Unreadable {
        path: dir.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let mut sum = ImportSummary {
        folder: dir.display().to_string(),
        ..Default::default()
    };
    let mut sink = RejectSink::new(opts.rejects_path.clone(), opts.list_rejects);
    sum.people_read = ds.people.len() as u64;
    let known: Arc<HashSet<String>> =
        crate::put_changed_people(store, ds.people.clone(), &mut sum).await?;
    sum.hr_read = ds.hr.len() as u64;
    for chunk in ds.hr.chunks(opts.batch_size.max(1)) {
        sum.hr_imported += store.insert_hr_events(chunk, ledger).await?.0;
    }
    sum.hr_duplicate = sum.hr_read - sum.hr_imported;

    let total: u64 = ds.files().iter().map(|f| f.1).sum();
    progress.begin("CERT r4.2 activity", total);
    let mut events = ds.events().map_err(|e| ImportError::Unreadable {
        path: dir.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Msg>(4);
    let batch_size = opts.batch_size.max(1);
    let reader_progress = progress.clone();
    let reader = std::thread::Builder::new()
        .name("cert-reader".into())
        .spawn(move || -> (u64, u64, u64) {
            let send = |m: Msg| tx.blocking_send(m).is_ok();
            let mut batch = Vec::with_capacity(batch_size);
            let (mut accepted, mut unknown_action) = (0u64, 0u64);
            let mut rejected = 0usize;
            while let Some(e) = events.next() {
                // Rows the reader set aside come out as they happen.
                while rejected < events.rejects.len() {
                    if !send(Msg::Reject(events.rejects[rejected].clone())) {
                        return (events.rows, accepted, unknown_action);
                    }
                    rejected += 1;
                }
                if !known.contains(&e.user) {
                    let shown: String = e.user.chars().take(60).collect();
                    let r = CertReject {
                        file: e
                            .id
                            .split_once('-')
                            .map_or("activity".into(), |(k, _)| format!("{k}.csv")),
                        line: 0,
                        reason: format!(
                            "field `user`: unknown user '{shown}' (in no LDAP snapshot); event {}",
                            e.id.chars().take(80).collect::<String>()
                        ),
                        raw: Vec::new(),
                    };
                    if !send(Msg::Reject(r)) {
                        break;
                    }
                    continue;
                }
                accepted += 1;
                unknown_action += u64::from(!e.action.is_known());
                batch.push(NewEvent::new(e));
                if batch.len() >= batch_size {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(batch_size));
                    if !send(Msg::Batch(full)) {
                        break;
                    }
                    reader_progress.position(events.bytes_read());
                }
            }
            for r in events.rejects.iter().skip(rejected) {
                if !send(Msg::Reject(r.clone())) {
                    break;
                }
            }
            if !batch.is_empty() {
                send(Msg::Batch(batch));
            }
            if events.out_of_order > 0 {
                tracing::warn!(
                    rows = events.out_of_order,
                    "CERT rows earlier than their file's previous row"
                );
            }
            reader_progress.position(events.bytes_read());
            (events.rows, accepted, unknown_action)
        })
        .map_err(|e| ImportError::Unreadable {
            path: dir.to_path_buf(),
            source: e,
        })?;
    let mut failure = None;
    while let Some(msg) = rx.recv().await {
        match msg {
            Msg::Batch(b) => match store.insert_events(b, ledger).await {
                Ok(n) => sum.events_imported += n.0,
                Err(e) => {
                    failure = Some(ImportError::Store(e));
                    break;
                }
            },
            Msg::Reject(r) => {
                let src = source(ds.dir(), &r.file);
                if let Err(e) = sink.reject(&src, r.line, r.reason, r.raw, None) {
                    failure = Some(e);
                    break;
                }
            }
        }
    }
    drop(rx);
    let joined = tokio::task::spawn_blocking(move || reader.join())
        .await
        .ok()
        .and_then(Result::ok);
    if let Some(f) = failure {
        return Err(f);
    }
    let Some((rows, accepted, unknown_action)) = joined else {
        return Err(ImportError::Unreadable {
            path: dir.to_path_buf(),
            source: std::io::Error::other("the reader thread stopped unexpectedly"),
        });
    };
    progress.end("CERT r4.2 activity");
    sink.flush_to(store).await?;
    sum.events_read = rows;
    sum.events_duplicate = accepted - sum.events_imported;
    sum.events_unknown_action = unknown_action;
    sum.records_read = sum.people_read + sum.hr_read + sum.events_read;
    sum.records_imported =
        sum.people_new + sum.people_updated + sum.hr_imported + sum.events_imported;
    sum.records_duplicate = sum.events_duplicate + sum.hr_duplicate;
    sum.rejected_count = sink.total();
    sum.rejects_file = sink.path_if_written().map(|p| p.display().to_string());
    sum.rejected = sink.into_listed();
    sum.elapsed_seconds = started.elapsed().as_secs_f64();
    Ok(sum)
}
