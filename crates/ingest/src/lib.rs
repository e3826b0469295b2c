//! Loading a dataset folder in the interchange format into a store.
//!
//! One path in for every source: lines are parsed by `custodian-core`, the
//! same functions the server's ingest uses. Events stream: a reader thread
//! parses and checks lines while the store writes the previous batch, so a
//! 250 MB `events.jsonl` is never held in memory. Each batch is one
//! transaction and idempotent by id, so an import killed at any moment and
//! run again ends with exactly what one clean import gives.
//!
//! A bad line or row is reported with its file, line and reason, written in
//! full to the rejects file and kept in the store; the lines around it are
//! unaffected.

pub mod cert;
mod cert_import;
mod dataset;
mod rejects;
mod source;
mod spans;

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use custodian_core::interchange::{
    self, files, parse_contact, parse_document, parse_event, parse_hr, parse_person, CsvItem,
    CsvRecords, HeaderError, LineReader, DIRECTORY_COLUMNS, DOCUMENTS_COLUMNS,
};
use custodian_core::{Document, Person};
use custodian_store::{LedgerContext, NewContact, NewEvent, RegisterChange, Store, StoreError};

pub use cert_import::import_cert;
pub use dataset::{block_lines, for_each_block, read_context, read_dataset, Block, Dataset};
pub use rejects::{RejectSink, RejectedLine};
pub use source::SourceFile;
pub use spans::{for_each_span, Span};

/// Lines longer than this are kept whole in the rejects file up to here.
const KEEP_LIMIT: usize = 16 << 20;

/// How an import runs.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Events per store transaction.
    pub batch_size: usize,
    /// A line longer than this is rejected.
    pub max_line_bytes: usize,
    /// Where rejected lines are written in full (created on the first one).
    pub rejects_path: PathBuf,
    /// Wall-clock time of the import, for the register's history.
    pub now: DateTime<FixedOffset>,
    /// At most this many rejects are listed in the summary (all are counted
    /// and all go to the rejects file).
    pub list_rejects: usize,
    /// An events file at least this large is loaded in bulk mode
    /// ([`Store::begin_bulk_load`]).
    pub bulk_threshold_bytes: u64,
}

impl ImportOptions {
    pub fn new(rejects_path: PathBuf, now: DateTime<FixedOffset>) -> Self {
        ImportOptions {
            batch_size: 20_000,
            max_line_bytes: 64 * 1024,
            rejects_path,
            now,
            list_rejects: 10_000,
            bulk_threshold_bytes: 32 << 20,
        }
    }
}

/// Progress of a long import; the CLI draws a bar, tests ignore it.
pub trait Progress: Send + Sync {
    fn begin(&self, _file: &str, _total_bytes: u64) {}
    fn position(&self, _bytes: u64) {}
    fn end(&self, _file: &str) {}
}

/// Reports nothing.
pub struct NoProgress;
impl Progress for NoProgress {}

/// Why a folder could not be imported at all.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0} is not a dataset folder: it has no directory.csv")]
    NoDirectory(PathBuf),
    #[error("{folder} lacks the required file {file}")]
    MissingFile { folder: PathBuf, file: &'static str },
    #[error("cannot read {path}: {source}")]
    Unreadable { path: PathBuf, source: io::Error },
    #[error("{path}: {source}")]
    Header { path: PathBuf, source: HeaderError },
    #[error("cannot write the rejects file {path}: {source}")]
    RejectsFile { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one import did. Serialised as the `--json` summary.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportSummary {
    pub folder: String,
    pub records_read: u64,
    pub records_imported: u64,
    pub records_duplicate: u64,
    pub people_read: u64,
    pub people_new: u64,
    pub people_updated: u64,
    pub documents_read: u64,
    pub documents_new: u64,
    pub documents_changed: u64,
    pub events_read: u64,
    pub events_imported: u64,
    pub events_duplicate: u64,
    /// Events with an action this version does not know (kept, counted).
    pub events_unknown_action: u64,
    pub hr_read: u64,
    pub hr_imported: u64,
    pub hr_duplicate: u64,
    pub contacts_read: u64,
    pub contacts_imported: u64,
    pub contacts_duplicate: u64,
    /// Every rejected line, counted.
    pub rejected_count: u64,
    /// Rejected lines with their place and reason (up to `list_rejects`).
    pub rejected: Vec<RejectedLine>,
    /// Where the rejected lines were written in full, if there were any.
    pub rejects_file: Option<String>,
    pub elapsed_seconds: f64,
}

fn unreadable(path: &Path) -> impl FnOnce(io::Error) -> ImportError + '_ {
    move |source| ImportError::Unreadable {
        path: path.to_path_buf(),
        source,
    }
}

/// Imports the dataset folder `dir` into `store`.
///
/// Every accepted record is appended to the custody ledger (signed with
/// `ledger`) in the same transaction that stores it.
pub async fn import_folder(
    store: &dyn Store,
    dir: &Path,
    opts: &ImportOptions,
    ledger: &LedgerContext,
    progress: Arc<dyn Progress>,
) -> Result<ImportSummary, ImportError> {
    let started = Instant::now();
    let dir = std::fs::canonicalize(dir).map_err(unreadable(dir))?;
    if !dir.is_dir() {
        return Err(ImportError::Unreadable {
            path: dir,
            source: io::Error::new(io::ErrorKind::InvalidInput, "not a folder"),
        });
    }
    let directory = SourceFile::find(&dir, files::DIRECTORY)
        .map_err(unreadable(&dir))?
        .ok_or_else(|| ImportError::NoDirectory(dir.clone()))?;
    let documents = SourceFile::find(&dir, files::DOCUMENTS)
        .map_err(unreadable(&dir))?
        .ok_or(ImportError::MissingFile {
            folder: dir.clone(),
            file: files::DOCUMENTS,
        })?;
    let events = SourceFile::find(&dir, files::EVENTS)
        .map_err(unreadable(&dir))?
        .ok_or(ImportError::MissingFile {
            folder: dir.clone(),
            file: files::EVENTS,
        })?;
    let hr = SourceFile::find(&dir, files::HR).map_err(unreadable(&dir))?;
    let contacts = SourceFile::find(&dir, files::CONTACTS).map_err(unreadable(&dir))?;

    let mut sum = ImportSummary {
        folder: dir.display().to_string(),
        ..Default::default()
    };
    let mut sink = RejectSink::new(opts.rejects_path.clone(), opts.list_rejects);

    let people = read_csv(
        &directory,
        &mut sink,
        &progress,
        &DIRECTORY_COLUMNS,
        parse_person,
    )?;
    sum.people_read = people.len() as u64 + sink.count_for(&directory.name);
    let known = put_changed_people(store, people, &mut sum).await?;

    let docs = read_csv(
        &documents,
        &mut sink,
        &progress,
        &DOCUMENTS_COLUMNS,
        parse_document,
    )?;
    sum.documents_read = docs.len() as u64 + sink.count_for(&documents.name);
    let (changed_docs, changes, new_docs) = register_diff(store, &docs, &dir, opts.now).await?;
    sum.documents_new = new_docs;
    sum.documents_changed = changed_docs.len() as u64 - new_docs;
    store.put_documents(&changed_docs, &changes, ledger).await?;
    sink.flush_to(store).await?;

    if let Some(hr) = &hr {
        let (read, accepted) = read_jsonl(hr, &mut sink, &progress, opts, &known, |l| {
            parse_hr(l).map(|e| {
                let user = e.user.clone();
                (e, user)
            })
        })?;
        let mut imported = 0;
        for chunk in accepted.chunks(opts.batch_size.max(1)) {
            imported += store.insert_hr_events(chunk, ledger).await?.0;
        }
        sum.hr_read = read;
        sum.hr_imported = imported;
        sum.hr_duplicate = accepted.len() as u64 - imported;
        sink.flush_to(store).await?;
    }

    // A large load rebuilds secondary indexes once at the end instead of
    // maintaining them row by row (several times faster on SQLite).
    // Only when the load is large against what the table already holds: a
    // re-import of the same file mostly finds duplicates and must not pay
    // for a rebuild.
    let stored_events = store.counts().await?.events;
    let estimated_lines = events.size / if events.gzip { 20 } else { 150 };
    let bulk = events.size >= opts.bulk_threshold_bytes
        && estimated_lines > stored_events.saturating_mul(2);
    if bulk {
        store.begin_bulk_load().await?;
    }
    let ev = stream_events(
        store,
        &events,
        &mut sink,
        progress.clone(),
        opts,
        ledger,
        known.clone(),
    )
    .await;
    if bulk {
        store.end_bulk_load().await?;
    }
    let ev = ev?;
    sum.events_read = ev.read;
    sum.events_imported = ev.imported;
    sum.events_duplicate = ev.accepted - ev.imported;
    sum.events_unknown_action = ev.unknown_action;
    sink.flush_to(store).await?;

    if let Some(c) = &contacts {
        let (read, accepted) = read_jsonl(c, &mut sink, &progress, opts, &known, |l| {
            parse_contact(l).map(|report| {
                let user = report.reporter.clone();
                let raw = String::from_utf8_lossy(l).into_owned();
                (NewContact { report, raw }, user)
            })
        })?;
        let mut imported = 0;
        for chunk in accepted.chunks(opts.batch_size.max(1)) {
            imported += store.insert_contacts(chunk, ledger).await?.0;
        }
        sum.contacts_read = read;
        sum.contacts_imported = imported;
        sum.contacts_duplicate = accepted.len() as u64 - imported;
        sink.flush_to(store).await?;
    }

    sum.records_read =
        sum.people_read + sum.documents_read + sum.events_read + sum.hr_read + sum.contacts_read;
    sum.records_imported = sum.people_new
        + sum.people_updated
        + sum.documents_new
        + sum.documents_changed
        + sum.events_imported
        + sum.hr_imported
        + sum.contacts_imported;
    sum.records_duplicate = sum.events_duplicate + sum.hr_duplicate + sum.contacts_duplicate;
    sum.rejected_count = sink.total();
    sum.rejects_file = sink.path_if_written().map(|p| p.display().to_string());
    sum.rejected = sink.into_listed();
    sum.elapsed_seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        folder = %sum.folder,
        events_imported = sum.events_imported,
        events_duplicate = sum.events_duplicate,
        rejected = sum.rejected_count,
        "import finished"
    );
    Ok(sum)
}

/// Writes the people who are new or changed, counting them; returns every
/// known user id (stored or new).
pub(crate) async fn put_changed_people(
    store: &dyn Store,
    people: Vec<Person>,
    sum: &mut ImportSummary,
) -> Result<Arc<HashSet<String>>, ImportError> {
    let existing: HashMap<String, Person> = store
        .people()
        .await?
        .into_iter()
        .map(|p| (p.user_id.clone(), p))
        .collect();
    let mut changed_people = Vec::new();
    for p in &people {
        match existing.get(&p.user_id) {
            None => {
                sum.people_new += 1;
                changed_people.push(p.clone());
            }
            Some(old) if old != p => {
                sum.people_updated += 1;
                changed_people.push(p.clone());
            }
            Some(_) => {}
        }
    }
    store.put_people(&changed_people).await?;
    let mut known: HashSet<String> = existing.into_keys().collect();
    known.extend(people.into_iter().map(|p| p.user_id));
    Ok(Arc::new(known))
}

/// Compares the dataset's register with the stored one: which entries to
/// write and the register changes that record the difference.
async fn register_diff(
    store: &dyn Store,
    docs: &[Document],
    dir: &Path,
    now: DateTime<FixedOffset>,
) -> Result<(Vec<Document>, Vec<RegisterChange>, u64), ImportError> {
    let stored: HashMap<String, Document> = store
        .documents()
        .await?
        .into_iter()
        .map(|d| (d.doc_id.clone(), d))
        .collect();
    let actor = format!("import:{}", dir.display());
    let mut write = Vec::new();
    let mut changes = Vec::new();
    let mut new = 0;
    for d in docs {
        let change = |field: &str, old: Option<String>, new: String| RegisterChange {
            doc_id: d.doc_id.clone(),
            at: now,
            actor: actor.clone(),
            field: field.to_string(),
            old,
            new,
        };
        match stored.get(&d.doc_id) {
            None => {
                new += 1;
                changes.push(change("designated", None, d.classification.to_string()));
                write.push(d.clone());
            }
            Some(old) if old != d => {
                if old.classification != d.classification {
                    changes.push(change(
                        "level",
                        Some(old.classification.to_string()),
                        d.classification.to_string(),
                    ));
                }
                if old.owner_id != d.owner_id {
                    changes.push(change(
                        "owner",
                        Some(old.owner_id.clone()),
                        d.owner_id.clone(),
                    ));
                }
                if old.projects != d.projects {
                    changes.push(change(
                        "projects",
                        Some(old.projects.to_field()),
                        d.projects.to_field(),
                    ));
                }
                write.push(d.clone());
            }
            Some(_) => {}
        }
    }
    Ok((write, changes, new))
}

fn read_csv<T>(
    src: &SourceFile,
    sink: &mut RejectSink,
    progress: &Arc<dyn Progress>,
    required: &[&str],
    parse: fn(
        &interchange::Columns,
        &interchange::CsvRecord,
    ) -> Result<T, interchange::RecordError>,
) -> Result<Vec<T>, ImportError> {
    let counter = Arc::new(AtomicU64::new(0));
    let reader = src.open(counter.clone()).map_err(unreadable(&src.path))?;
    let mut rows = CsvRecords::new(reader, KEEP_LIMIT).map_err(|source| match source {
        HeaderError::Io(e) => ImportError::Unreadable {
            path: src.path.clone(),
            source: e,
        },
        source => ImportError::Header {
            path: src.path.clone(),
            source,
        },
    })?;
    rows.columns()
        .require(required)
        .map_err(|source| ImportError::Header {
            path: src.path.clone(),
            source,
        })?;
    let cols = rows.columns().clone();
    progress.begin(&src.name, src.size);
    let mut out = Vec::new();
    while let Some(item) = rows.next_item().map_err(unreadable(&src.path))? {
        match item {
            CsvItem::Record(rec) => match parse(&cols, &rec) {
                Ok(v) => out.push((rec.line, v)),
                Err(e) => sink.reject(
                    src,
                    rec.line,
                    e.to_string(),
                    rec.fields.join(",").into_bytes(),
                    None,
                )?,
            },
            CsvItem::Bad { line, error, raw } => {
                sink.reject(src, line, error.to_string(), raw, None)?
            }
        }
    }
    progress.position(counter.load(Ordering::Relaxed));
    progress.end(&src.name);
    // A key repeated in the file: the last row wins when written, matching
    // the directory's "state at the end" meaning.
    Ok(out.into_iter().map(|(_, v)| v).collect())
}

/// Reads a small JSONL file (HR, contacts) whole: these are thousands of
/// lines, not millions.
fn read_jsonl<T>(
    src: &SourceFile,
    sink: &mut RejectSink,
    progress: &Arc<dyn Progress>,
    opts: &ImportOptions,
    known: &HashSet<String>,
    parse: impl Fn(&[u8]) -> Result<(T, String), interchange::RecordError>,
) -> Result<(u64, Vec<T>), ImportError> {
    let counter = Arc::new(AtomicU64::new(0));
    let reader = src.open(counter.clone()).map_err(unreadable(&src.path))?;
    let mut lines = LineReader::new(reader, KEEP_LIMIT);
    progress.begin(&src.name, src.size);
    let mut buf = Vec::new();
    let mut read = 0;
    let mut out = Vec::new();
    while let Some((line, truncated)) = lines.next_into(&mut buf).map_err(unreadable(&src.path))? {
        if buf.iter().all(|b| b.is_ascii_whitespace()) && truncated.is_none() {
            continue;
        }
        read += 1;
        let len = truncated.unwrap_or(buf.len() as u64);
        if len > opts.max_line_bytes as u64 {
            let why = format!(
                "line of {len} bytes exceeds the limit of {} bytes",
                opts.max_line_bytes
            );
            sink.reject(src, line, why, std::mem::take(&mut buf), truncated)?;
            continue;
        }
        match parse(&buf) {
            Ok((v, user)) if known.contains(&user) => out.push(v),
            Ok((_, user)) => sink.reject(src, line, unknown_user(&user), buf.clone(), None)?,
            Err(e) => sink.reject(src, line, e.to_string(), buf.clone(), None)?,
        }
    }
    progress.position(counter.load(Ordering::Relaxed));
    progress.end(&src.name);
    Ok((read, out))
}

/// One events.jsonl line as every way in takes it (folder import, HTTP
/// ingest): parsed by `core`, its user known to the directory, ready to
/// store; or the reason it is refused.
pub fn accept_event_line(
    line: &[u8],
    known_user: impl Fn(&str) -> bool,
) -> Result<NewEvent, String> {
    let event = parse_event(line).map_err(|e| e.to_string())?;
    if !known_user(&event.user) {
        return Err(interchange::RecordError::field("user", unknown_user(&event.user)).to_string());
    }
    Ok(NewEvent::new(event))
}

fn unknown_user(user: &str) -> String {
    let shown: String = user.chars().take(60).collect();
    format!("unknown user '{shown}' (not in directory.csv nor the store)")
}

struct EventTotals {
    read: u64,
    accepted: u64,
    imported: u64,
    unknown_action: u64,
}

enum Msg {
    Batch(Vec<NewEvent>),
    Reject(u64, String, Vec<u8>, Option<u64>),
}

/// Parses `events.jsonl` on a reader thread while the store writes.
async fn stream_events(
    store: &dyn Store,
    src: &SourceFile,
    sink: &mut RejectSink,
    progress: Arc<dyn Progress>,
    opts: &ImportOptions,
    ledger: &LedgerContext,
    known: Arc<HashSet<String>>,
) -> Result<EventTotals, ImportError> {
    let counter = Arc::new(AtomicU64::new(0));
    let reader = src.open(counter.clone()).map_err(unreadable(&src.path))?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Msg>(4);
    let batch_size = opts.batch_size.max(1);
    let max_line = opts.max_line_bytes as u64;
    progress.begin(&src.name, src.size);
    let thread_progress = progress.clone();
    let reader_thread = std::thread::Builder::new()
        .name("events-reader".into())
        .spawn(move || -> io::Result<(u64, u64, u64)> {
            let mut lines = LineReader::new(reader, KEEP_LIMIT);
            let mut buf = Vec::with_capacity(1024);
            let mut batch = Vec::with_capacity(batch_size);
            let (mut read, mut accepted, mut unknown_action) = (0u64, 0u64, 0u64);
            let send = |m: Msg| tx.blocking_send(m).is_ok();
            while let Some((line, truncated)) = lines.next_into(&mut buf)? {
                if buf.iter().all(|b| b.is_ascii_whitespace()) && truncated.is_none() {
                    continue;
                }
                read += 1;
                let len = truncated.unwrap_or(buf.len() as u64);
                if len > max_line {
                    let why = format!("line of {len} bytes exceeds the limit of {max_line} bytes");
                    if !send(Msg::Reject(line, why, std::mem::take(&mut buf), truncated)) {
                        break;
                    }
                    continue;
                }
                let outcome = accept_event_line(&buf, |u| known.contains(u));
                match outcome {
                    Ok(e) => {
                        accepted += 1;
                        unknown_action += u64::from(!e.event.action.is_known());
                        batch.push(e);
                        if batch.len() >= batch_size {
                            let full =
                                std::mem::replace(&mut batch, Vec::with_capacity(batch_size));
                            if !send(Msg::Batch(full)) {
                                break;
                            }
                            thread_progress.position(counter.load(Ordering::Relaxed));
                        }
                    }
                    Err(e) => {
                        if !send(Msg::Reject(line, e, buf.clone(), None)) {
                            break;
                        }
                    }
                }
            }
            if !batch.is_empty() {
                send(Msg::Batch(batch));
            }
            thread_progress.position(counter.load(Ordering::Relaxed));
            Ok((read, accepted, unknown_action))
        })
        .map_err(unreadable(&src.path))?;

    let mut imported = 0;
    let mut failure = None;
    let (mut waited, mut writing) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
    loop {
        let t = Instant::now();
        let Some(msg) = rx.recv().await else { break };
        waited += t.elapsed();
        match msg {
            Msg::Batch(b) => {
                let t = Instant::now();
                let written = store.insert_events(b, ledger).await;
                writing += t.elapsed();
                match written {
                    Ok(n) => imported += n.0,
                    Err(e) => {
                        failure = Some(ImportError::Store(e));
                        break;
                    }
                }
            }
            Msg::Reject(line, why, raw, truncated) => {
                if let Err(e) = sink.reject(src, line, why, raw, truncated) {
                    failure = Some(e);
                    break;
                }
            }
        }
    }
    drop(rx);
    tracing::info!(
        waiting_for_reader_ms = waited.as_millis() as u64,
        writing_ms = writing.as_millis() as u64,
        "events loaded"
    );
    let joined = tokio::task::spawn_blocking(move || reader_thread.join())
        .await
        .ok()
        .and_then(Result::ok);
    if let Some(f) = failure {
        return Err(f);
    }
    let (read, accepted, unknown_action) = match joined {
        Some(r) => r.map_err(unreadable(&src.path))?,
        None => {
            return Err(ImportError::Unreadable {
                path: src.path.clone(),
                source: io::Error::other("the reader thread stopped unexpectedly"),
            })
        }
    };
    progress.end(&src.name);
    Ok(EventTotals {
        read,
        accepted,
        imported,
        unknown_action,
    })
}
