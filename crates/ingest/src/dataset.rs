//! Reading a whole dataset folder into memory, without a store: what
//! `custodian detect --input DIR` runs on.
//!
//! The same parsers and the same rules as an import (unknown users, over-long
//! lines and malformed lines are set aside with file, line and reason; the
//! rest is kept), but the events file is cut into blocks at line ends and
//! the blocks are parsed on every core.

use std::collections::{BTreeMap, HashSet};
use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use custodian_core::interchange::{
    self, files, parse_contact, parse_document, parse_event, parse_hr, parse_person,
    DIRECTORY_COLUMNS, DOCUMENTS_COLUMNS,
};
use custodian_core::{ContactReport, Document, Event, HrEvent, Person};

use crate::{
    read_csv, read_jsonl, unknown_user, unreadable, ImportError, ImportOptions, Progress,
    RejectSink, SourceFile, KEEP_LIMIT,
};

/// A dataset folder, parsed.
#[derive(Debug, Default)]
pub struct Dataset {
    pub people: Vec<Person>,
    pub documents: Vec<Document>,
    pub hr: Vec<HrEvent>,
    pub contacts: Vec<ContactReport>,
    /// In file order; see `custodian_detect::order_events`.
    pub events: Vec<Event>,
    pub events_read: u64,
    pub events_unknown_action: u64,
    pub rejected: u64,
    pub rejects_file: Option<String>,
}

const BLOCK: usize = 1 << 20;

#[derive(Default)]
struct Parsed {
    events: Vec<Event>,
    rejects: Vec<(u64, String, Vec<u8>)>,
    read: u64,
    unknown_action: u64,
}

/// Reads `dir` whole. Rejected lines go to `opts.rejects_path`.
pub fn read_dataset(
    dir: &Path,
    opts: &ImportOptions,
    progress: Arc<dyn Progress>,
) -> Result<Dataset, ImportError> {
    let (mut ds, events, mut sink) = read_context(dir, opts, &progress)?;
    let known: HashSet<String> = ds.people.iter().map(|p| p.user_id.clone()).collect();
    read_events(&events, &mut sink, &progress, opts, &known, &mut ds)?;
    ds.rejected = sink.total();
    ds.rejects_file = sink.path_if_written().map(|p| p.display().to_string());
    Ok(ds)
}

/// Reads everything but the events: the directory, the register, HR
/// events and contact reports. Returns them (events empty), the events file
/// to stream, and the sink that holds the rejects so far.
pub fn read_context(
    dir: &Path,
    opts: &ImportOptions,
    progress: &Arc<dyn Progress>,
) -> Result<(Dataset, SourceFile, RejectSink), ImportError> {
    let find = |name: &'static str| SourceFile::find(dir, name).map_err(unreadable(dir));
    let directory = find(files::DIRECTORY)?.ok_or_else(|| ImportError::NoDirectory(dir.into()))?;
    let documents = find(files::DOCUMENTS)?.ok_or(ImportError::MissingFile {
        folder: dir.into(),
        file: files::DOCUMENTS,
    })?;
    let events = find(files::EVENTS)?.ok_or(ImportError::MissingFile {
        folder: dir.into(),
        file: files::EVENTS,
    })?;
    let mut sink = RejectSink::new(opts.rejects_path.clone(), opts.list_rejects);
    let people = read_csv(
        &directory,
        &mut sink,
        progress,
        &DIRECTORY_COLUMNS,
        parse_person,
    )?;
    let documents = read_csv(
        &documents,
        &mut sink,
        progress,
        &DOCUMENTS_COLUMNS,
        parse_document,
    )?;
    let known: HashSet<String> = people.iter().map(|p| p.user_id.clone()).collect();
    let mut ds = Dataset {
        people,
        documents,
        ..Default::default()
    };
    if let Some(hr) = find(files::HR)? {
        ds.hr = read_jsonl(&hr, &mut sink, progress, opts, &known, |l| {
            parse_hr(l).map(|e| {
                let u = e.user.clone();
                (e, u)
            })
        })?
        .1;
    }
    if let Some(c) = find(files::CONTACTS)? {
        ds.contacts = read_jsonl(&c, &mut sink, progress, opts, &known, |l| {
            parse_contact(l).map(|r| {
                let u = r.reporter.clone();
                (r, u)
            })
        })?
        .1;
    }
    Ok((ds, events, sink))
}

fn parse_block(b: &Block, max_line: usize, known: &HashSet<String>) -> Parsed {
    let mut out = Parsed::default();
    for (this, line) in b.lines() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        out.read += 1;
        if line.len() > max_line {
            out.rejects.push((
                this,
                format!(
                    "line of {} bytes exceeds the limit of {max_line} bytes",
                    line.len()
                ),
                line.to_vec(),
            ));
            continue;
        }
        match parse_event(line) {
            Ok(e) if known.contains(&e.user) => {
                out.unknown_action += u64::from(!e.action.is_known());
                out.events.push(e);
            }
            Ok(e) => out.rejects.push((
                this,
                interchange::RecordError::field("user", unknown_user(&e.user)).to_string(),
                line.to_vec(),
            )),
            Err(e) => out.rejects.push((this, e.to_string(), line.to_vec())),
        }
    }
    out
}

fn read_events(
    src: &SourceFile,
    sink: &mut RejectSink,
    progress: &Arc<dyn Progress>,
    opts: &ImportOptions,
    known: &HashSet<String>,
    ds: &mut Dataset,
) -> Result<(), ImportError> {
    let max_line = opts.max_line_bytes;
    let mut rejects = Vec::new();
    let huge = for_each_block(
        src,
        progress,
        |b| parse_block(&b, max_line, known),
        |p: Parsed| {
            ds.events_read += p.read;
            ds.events_unknown_action += p.unknown_action;
            ds.events.extend(p.events);
            rejects.extend(p.rejects);
            std::ops::ControlFlow::Continue(())
        },
    )
    .map_err(unreadable(&src.path))?;
    ds.events_read += huge.len() as u64;
    rejects.extend(huge.into_iter().map(|(line, len, raw)| {
        (
            line,
            format!("line of {len} bytes exceeds the limit of {max_line} bytes"),
            raw,
        )
    }));
    rejects.sort_by_key(|r| r.0);
    for (line, why, raw) in rejects {
        sink.reject(src, line, why, raw, None)?;
    }
    Ok(())
}

/// A run of whole lines of a file.
#[derive(Debug)]
pub struct Block {
    pub seq: u64,
    /// The line number of the block's first line (1-based).
    pub first_line: u64,
    /// Where the block's bytes start in the (decompressed) file.
    pub offset: u64,
    pub data: Vec<u8>,
}

impl Block {
    /// The block's lines with their numbers.
    pub fn lines(&self) -> impl Iterator<Item = (u64, &[u8])> {
        block_lines(self.first_line, &self.data)
    }
}

/// The lines of a block's bytes, numbered from `first_line`.
pub fn block_lines(first_line: u64, data: &[u8]) -> impl Iterator<Item = (u64, &[u8])> {
    let mut at = 0usize;
    let mut n = first_line;
    std::iter::from_fn(move || {
        if at >= data.len() {
            return None;
        }
        let end = memchr::memchr(b'\n', &data[at..]).map_or(data.len(), |p| at + p);
        let line = &data[at..end];
        at = end + 1;
        n += 1;
        Some((n - 1, line))
    })
}

/// Reads `src` in blocks of whole lines, parses the blocks on every core
/// with `parse`, and hands the results to `consume` on the calling thread,
/// in file order. `consume` may stop the reading early.
///
/// Returns the lines too long to hold (over 16 MiB without a line end),
/// with their line number, length and first 16 MiB, for the caller to
/// reject; they are not given to `parse`.
pub fn for_each_block<T: Send>(
    src: &SourceFile,
    progress: &Arc<dyn Progress>,
    parse: impl Fn(Block) -> T + Sync,
    mut consume: impl FnMut(T) -> std::ops::ControlFlow<()>,
) -> io::Result<Vec<(u64, u64, Vec<u8>)>> {
    let stop = std::sync::atomic::AtomicBool::new(false);
    let stop = &stop;
    let counter = Arc::new(AtomicU64::new(0));
    let mut reader = src.open(counter.clone())?;
    progress.begin(&src.name, src.size);
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 8);
    let (block_tx, block_rx) = mpsc::sync_channel::<Block>(workers * 2);
    let block_rx = Arc::new(Mutex::new(block_rx));
    let (done_tx, done_rx) = mpsc::sync_channel::<(u64, T)>(workers * 2);
    let mut huge: Vec<(u64, u64, Vec<u8>)> = Vec::new();
    let parse = &parse;
    let result = std::thread::scope(|s| -> io::Result<()> {
        for _ in 0..workers {
            let rx = block_rx.clone();
            let tx = done_tx.clone();
            s.spawn(move || loop {
                let next = match rx.lock() {
                    Ok(r) => r.recv(),
                    Err(_) => return,
                };
                let Ok(b) = next else { return };
                let seq = b.seq;
                let parsed = parse(b);
                if tx.send((seq, parsed)).is_err() {
                    return;
                }
            });
        }
        drop(done_tx);
        // The reader runs on its own thread; this one puts blocks back in
        // order and consumes them.
        let reading = s.spawn(move || -> io::Result<Vec<(u64, u64, Vec<u8>)>> {
            let mut carry: Vec<u8> = Vec::new();
            let mut seq = 0u64;
            let mut line = 1u64;
            // Bytes taken from the reader so far: `buf` always ends there.
            let mut consumed = 0u64;
            // An over-long line with no end in sight: (line, kept, length).
            let mut skipping: Option<(u64, Vec<u8>, u64)> = None;
            let mut huge_local = Vec::new();
            let out = loop {
                let mut buf = std::mem::take(&mut carry);
                buf.reserve(BLOCK);
                // Appends without zeroing the buffer first.
                let n = (&mut reader).take(BLOCK as u64).read_to_end(&mut buf)?;
                consumed += n as u64;
                if let Some((at, raw, len)) = skipping.as_mut() {
                    match buf.iter().position(|&c| c == b'\n') {
                        Some(p) => {
                            *len += p as u64;
                            let keep = KEEP_LIMIT.saturating_sub(raw.len()).min(p);
                            raw.extend_from_slice(&buf[..keep]);
                            huge_local.push((*at, *len, std::mem::take(raw)));
                            skipping = None;
                            buf.drain(..=p);
                            line += 1;
                        }
                        None => {
                            *len += buf.len() as u64;
                            if n == 0 {
                                huge_local.push((*at, *len, std::mem::take(raw)));
                                break Ok(());
                            }
                            let keep = KEEP_LIMIT.saturating_sub(raw.len()).min(buf.len());
                            raw.extend_from_slice(&buf[..keep]);
                            continue;
                        }
                    }
                }
                if n == 0 && buf.is_empty() {
                    break Ok(());
                }
                let cut = if n == 0 {
                    buf.len()
                } else {
                    match memchr::memrchr(b'\n', &buf) {
                        Some(p) => p + 1,
                        None if buf.len() >= KEEP_LIMIT => {
                            let len = buf.len() as u64;
                            skipping = Some((line, std::mem::take(&mut buf), len));
                            continue;
                        }
                        None => {
                            carry = buf;
                            continue;
                        }
                    }
                };
                let offset = consumed - buf.len() as u64;
                carry = buf.split_off(cut);
                let data = buf;
                let lines = memchr::memchr_iter(b'\n', &data).count() as u64;
                let b = Block {
                    seq,
                    first_line: line,
                    offset,
                    data,
                };
                seq += 1;
                line += lines;
                if stop.load(Ordering::Relaxed) || block_tx.send(b).is_err() {
                    // The consumer stopped early.
                    break Ok(());
                }
                if n == 0 {
                    break Ok(());
                }
            };
            drop(block_tx);
            out.map(|()| huge_local)
        });
        let mut pending: BTreeMap<u64, T> = BTreeMap::new();
        let mut next = 0u64;
        let mut stopped = false;
        for (seq, t) in done_rx.iter() {
            if stopped {
                continue;
            }
            pending.insert(seq, t);
            while let Some(t) = pending.remove(&next) {
                next += 1;
                progress.position(counter.load(Ordering::Relaxed));
                if consume(t).is_break() {
                    stopped = true;
                    stop.store(true, Ordering::Relaxed);
                    pending.clear();
                    break;
                }
            }
        }
        let read = reading
            .join()
            .map_err(|_| io::Error::other("the reader thread failed"))?;
        huge = read?;
        Ok(())
    });
    result?;
    progress.end(&src.name);
    Ok(huge)
}
