//! `custodian detect`: the risk engine over a dataset folder (interchange
//! format or the CERT r4.2 layout) or over the store.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context as _, Result};

use std::ops::ControlFlow;
use std::rc::Rc;

use custodian_core::interchange::{parse_event, RecordError};
use custodian_core::Event;
use custodian_detect::fast::{self, Packed};
use custodian_detect::{Alert, Context, Engine, Names, Severity};
use custodian_ingest::{
    for_each_block, read_context, Block, ImportOptions, NoProgress, Progress, RejectSink,
    SourceFile,
};
use custodian_store::{NewAlert, Store};

use crate::settings::Settings;

mod by_time;

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

fn write_scores(path: &Option<PathBuf>, engine: &Engine) -> Result<()> {
    let Some(path) = path else { return Ok(()) };
    let mut out = BufWriter::new(
        super::open_private(path).with_context(|| format!("cannot write {}", path.display()))?,
    );
    for (user, score) in engine.max_scores() {
        serde_json::to_writer(
            &mut out,
            &serde_json::json!({"user": user, "max_score": score}),
        )?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// What a run found, for printing and for the demo.
#[derive(Debug, serde::Serialize)]
pub struct DetectSummary {
    pub events_read: u64,
    pub events_used: u64,
    pub rejected: u64,
    pub rejects_file: Option<String>,
    pub people: usize,
    pub contact_groups: usize,
    pub alerts: usize,
    pub people_alerted: [usize; 3],
    pub detect_seconds: f64,
    pub output: Option<String>,
    /// The severity lines at the end (they follow the alert budget).
    pub lines: custodian_detect::Lines,
    /// Register entries whose folder permissions let many people open them
    /// without need to know (`custodian register exposure`).
    pub exposed_documents: usize,
    /// Those findings (every document opened without need to know).
    #[serde(skip)]
    pub exposures: Vec<custodian_detect::DocExposure>,
}

fn print_trace(engine: &mut Engine) {
    for l in engine.take_trace() {
        eprintln!("trace: {l}");
    }
}

pub fn progress(wanted: bool) -> Arc<dyn Progress> {
    match super::import::bar_if_terminal(
        wanted,
        "{msg:>16} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        Some(b) => Arc::new(super::import::Bar(b)),
        None => Arc::new(NoProgress),
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
    let show_progress = fo.show_progress;
    let now = crate::clock::now();
    let rejects = fo.rejects.clone().unwrap_or_else(|| {
        settings
            .rejects_dir
            .join(format!("detect-{}.jsonl", now.format("%Y%m%dT%H%M%S")))
    });
    let mut opts = ImportOptions::new(rejects, now);
    opts.max_line_bytes = settings.max_line_bytes;
    let t = Instant::now();
    if format == Format::CertR42 {
        return detect_cert(settings, dir, fo);
    }
    let bar = progress(show_progress);
    let (mut ds, src, mut sink) = read_context(dir, &opts, &bar)?;
    let ctx = Context {
        people: std::mem::take(&mut ds.people),
        documents: std::mem::take(&mut ds.documents),
        hr: std::mem::take(&mut ds.hr),
        contacts: std::mem::take(&mut ds.contacts),
    };
    let max_line = opts.max_line_bytes;
    let mut run = EventRun::default();
    // First try the file as it comes: most exports are in time order, and
    // then nothing needs holding. The first event out of order sends the
    // run to the second pass, which sorts.
    let new_engine = || {
        let mut e = Engine::new(&ctx, settings.detect.clone());
        if let Some(t) = &fo.trace {
            if !e.trace(t) {
                tracing::warn!("--trace: no such user in the directory");
            }
        }
        e
    };
    let mut engine = new_engine();
    let names = engine.names();
    let mut alerts = Vec::new();
    let mut tie: Vec<(Rc<ParsedBlock>, u32)> = Vec::new();
    // A plain file is sampled first: one whose sources were concatenated
    // (each in order, the whole not) is seen at once and merged by time
    // (see `by_time`), instead of detecting over its first part in vain.
    let plain = !src.gzip;
    let sampled_out_of_order = plain && out_of_order_by_sampling(&src.path);
    if sampled_out_of_order {
        tracing::info!("events are not in time order (sampled); merging them by time");
    }
    let mut in_order = !sampled_out_of_order;
    // A compressed file whose order breaks keeps the rest (parsed) to be
    // sorted; only the part already fed to the engine is read again.
    let mut blocks: Vec<ParsedBlock> = Vec::new();
    let mut break_seq: Option<u64> = None;
    // Set once the order breaks: from then on blocks are parsed to be held.
    let hold = std::sync::atomic::AtomicBool::new(false);
    let huge = if sampled_out_of_order {
        Vec::new()
    } else {
        for_each_block(
            &src,
            &bar,
            |b| {
                parse_block(
                    b,
                    &names,
                    max_line,
                    hold.load(std::sync::atomic::Ordering::Relaxed),
                )
            },
            |parsed| {
                run.note(&src, &mut sink, &parsed);
                if !in_order {
                    blocks.push(parsed);
                    return ControlFlow::Continue(());
                }
                let rc = Rc::new(parsed);
                for i in 0..rc.items.len() {
                    let ts = item_ts(&rc.items[i]);
                    if let Some((g, gi)) = tie.first() {
                        let gts = item_ts(&g.items[*gi as usize]);
                        if ts < gts {
                            in_order = false;
                            hold.store(true, std::sync::atomic::Ordering::Relaxed);
                            break_seq = Some(rc.seq);
                            tie.clear();
                            if plain {
                                return ControlFlow::Break(());
                            }
                            if let Ok(block) = Rc::try_unwrap(rc) {
                                blocks.push(block);
                            }
                            return ControlFlow::Continue(());
                        }
                        if ts > gts {
                            flush_tie(&mut tie, &mut engine, &names, &mut alerts, &mut run);
                        }
                    }
                    tie.push((rc.clone(), i as u32));
                }
                ControlFlow::Continue(())
            },
        )
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", src.path.display()))?
    };
    if in_order {
        run.huge(&src, &mut sink, huge, max_line)?;
        flush_tie(&mut tie, &mut engine, &names, &mut alerts, &mut run);
    } else {
        run.used = 0;
        run.duplicates = 0;
        engine = new_engine();
        let names = engine.names();
        alerts.clear();
        let mut merged = false;
        if plain {
            // What the in-order pass read is the by-time pass's to report.
            let pass = by_time::Pass {
                src: &src,
                names: &names,
                max_line,
                reported_upto: break_seq,
                progress: &bar,
            };
            match by_time::detect_by_time(&pass, &mut engine, &mut alerts, &mut run, &mut sink)? {
                by_time::Outcome::Done => merged = true,
                by_time::Outcome::Misordered => {
                    run.used = 0;
                    run.duplicates = 0;
                    engine = new_engine();
                    alerts.clear();
                }
            }
        } else {
            run.huge(&src, &mut sink, huge, max_line)?;
        }
        if !merged {
            tracing::info!("events are not in time order; sorting them in memory");
            // Blocks already reported (an in-order pass, or the compressed
            // file's held rest) are not reported again.
            let reported: Option<u64> = if plain { break_seq } else { Some(u64::MAX) };
            let held_from = if plain {
                u64::MAX
            } else {
                break_seq.unwrap_or(0)
            };
            let mut head: Vec<ParsedBlock> = Vec::new();
            let huge_again = for_each_block(
                &src,
                &progress(false),
                |b| parse_block(b, &names, max_line, true),
                |parsed| {
                    if parsed.seq >= held_from {
                        return ControlFlow::Break(());
                    }
                    if reported.is_none_or(|r| parsed.seq > r) {
                        run.note(&src, &mut sink, &parsed);
                    }
                    head.push(parsed);
                    ControlFlow::Continue(())
                },
            )
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", src.path.display()))?;
            if plain {
                run.huge(&src, &mut sink, huge_again, max_line)?;
            }
            head.append(&mut blocks);
            let blocks = head;
            let merge = Instant::now();
            run_sorted(&blocks, &mut engine, &names, &mut alerts, &mut run);
            tracing::info!(
                read_ms = (merge - t).as_millis() as u64,
                merge_and_detect_ms = merge.elapsed().as_millis() as u64,
                "sorted run"
            );
            // Dropping two million parsed events one by one is slow and the
            // process is about to end; let the OS take the memory back.
            std::mem::forget(blocks);
        }
    }
    print_trace(&mut engine);
    write_scores(&fo.scores, &engine)?;
    let stats = engine.stats();
    let summary = DetectSummary {
        lines: engine.lines(),
        exposed_documents: engine.exposures().iter().filter(|x| x.exposed).count(),
        exposures: engine.exposures(),
        events_read: run.read,
        events_used: run.used,
        rejected: sink.total(),
        rejects_file: sink.path_if_written().map(|p| p.display().to_string()),
        people: stats.people,
        contact_groups: stats.contact_groups,
        alerts: alerts.len(),
        people_alerted: people_alerted(&alerts),
        detect_seconds: t.elapsed().as_secs_f64(),
        output: None,
    };
    Ok((alerts, summary))
}

/// Parsed lines of one block: fast-path events, the rare event that needed
/// the ordinary parser, and rejects.
#[derive(Default)]
pub struct ParsedBlock {
    seq: u64,
    /// The ids and domains of the fast items (their ranges point here).
    text: String,
    items: Vec<Item>,
    rejects: Vec<(u64, String, Vec<u8>)>,
    read: u64,
}

enum Item {
    Fast(Packed),
    Slow(Box<Event>),
}

fn item_ts(i: &Item) -> i64 {
    match i {
        Item::Fast(p) => p.ts_us,
        Item::Slow(e) => e.ts.timestamp_micros(),
    }
}

/// One parsed item into the engine.
fn feed(engine: &mut Engine, names: &Names, blk: &ParsedBlock, item: &Item) -> Option<Alert> {
    match item {
        Item::Fast(p) => engine.push_ev(&p.ev(&blk.text)),
        Item::Slow(e) => engine.push_ev(&names.compact(e)),
    }
}

fn item_key(i: &Item) -> (i64, u64) {
    match i {
        Item::Fast(p) => p.key(),
        Item::Slow(e) => (e.ts.timestamp_micros(), custodian_detect::id_hash(&e.id)),
    }
}

fn item_id<'a>(b: &'a ParsedBlock, i: &'a Item) -> &'a str {
    match i {
        Item::Fast(p) => p.id(&b.text),
        Item::Slow(e) => e.id.as_str(),
    }
}

fn parse_block(b: Block, names: &Names, max_line: usize, keep: bool) -> ParsedBlock {
    let mut out = ParsedBlock {
        seq: b.seq,
        ..Default::default()
    };
    // The fast path needs text: check the block once. A block with a line
    // that is not UTF-8 takes the ordinary parser, which names the line.
    let first_line = b.first_line;
    let (bytes, text) = match String::from_utf8(b.data) {
        Ok(t) => (Vec::new(), Some(t)),
        Err(e) => (e.into_bytes(), None),
    };
    let data: &[u8] = text.as_ref().map_or(&bytes[..], |t| t.as_bytes());
    // Sized once: grown by pushes, a block's items were copied about ten
    // times into fresh pages.
    out.items
        .reserve_exact(memchr::memchr_iter(b'\n', data).count() + 1);
    for (no, line) in custodian_ingest::block_lines(first_line, data) {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        out.read += 1;
        if line.len() > max_line {
            out.rejects.push((
                no,
                format!(
                    "line of {} bytes exceeds the limit of {max_line} bytes",
                    line.len()
                ),
                line.to_vec(),
            ));
            continue;
        }
        if let Some(text) = &text {
            let start = line.as_ptr() as usize - data.as_ptr() as usize;
            if let Some(l) = text.get(start..start + line.len()) {
                if let Ok(p) = fast::parse_line(text, l, names) {
                    out.items.push(Item::Fast(p));
                    continue;
                }
            }
        }
        match parse_event(line) {
            Ok(e) if names.user(&e.user) != custodian_detect::NONE => {
                out.items.push(Item::Slow(Box::new(e)))
            }
            Ok(e) => out.rejects.push((
                no,
                RecordError::field(
                    "user",
                    format!(
                        "unknown user '{}' (not in directory.csv)",
                        e.user.chars().take(60).collect::<String>()
                    ),
                )
                .to_string(),
                line.to_vec(),
            )),
            Err(err) => out.rejects.push((no, err.to_string(), line.to_vec())),
        }
    }
    // A block that will be held (the file is out of order) keeps only the
    // strings the engine reads (ids, domains), packed: a tenth of the text,
    // which is freed here on the parser thread. A block streamed straight
    // to the engine is dropped soon and keeps its text as it is.
    if let Some(text) = text.as_ref().filter(|_| keep) {
        let mut arena = String::with_capacity(out.items.len() * 24);
        for it in &mut out.items {
            if let Item::Fast(p) = it {
                for r in p.ranges_mut() {
                    let (a, n) = (r.0 as usize, r.1 as usize);
                    let at = arena.len() as u32;
                    arena.push_str(text.get(a..a + n).unwrap_or(""));
                    *r = (at, r.1);
                }
            }
        }
        arena.shrink_to_fit();
        out.text = arena;
        out.items.shrink_to_fit();
    } else if let Some(text) = text {
        out.text = text;
    }
    // Each block sorted here, on the parser threads: an unordered file is
    // then merged from sorted runs instead of sorted whole on one thread.
    // A block in time order needs only its ties on a time put in id-hash
    // order, each tie on its own (a few events), not a sort of the block.
    if out
        .items
        .windows(2)
        .all(|w| item_ts(&w[0]) <= item_ts(&w[1]))
    {
        let mut at = 0;
        while at < out.items.len() {
            let ts = item_ts(&out.items[at]);
            let end = at
                + out.items[at..]
                    .iter()
                    .position(|i| item_ts(i) != ts)
                    .unwrap_or(out.items.len() - at);
            if end - at > 1 {
                out.items[at..end].sort_by_key(item_key);
            }
            at = end;
        }
    } else {
        out.items.sort_by_key(item_key);
    }
    debug_assert!(out
        .items
        .windows(2)
        .all(|w| item_key(&w[0]) <= item_key(&w[1])));
    out
}

#[derive(Default)]
struct EventRun {
    read: u64,
    used: u64,
    duplicates: u64,
}

impl EventRun {
    fn note(&mut self, src: &SourceFile, sink: &mut RejectSink, p: &ParsedBlock) {
        self.read += p.read;
        for (no, why, raw) in &p.rejects {
            if let Err(e) = sink.reject(src, *no, why.clone(), raw.clone(), None) {
                tracing::warn!("cannot record a rejected line: {e}");
            }
        }
    }

    fn huge(
        &mut self,
        src: &SourceFile,
        sink: &mut RejectSink,
        huge: Vec<(u64, u64, Vec<u8>)>,
        max_line: usize,
    ) -> Result<()> {
        for (line, len, raw) in huge {
            self.read += 1;
            sink.reject(
                src,
                line,
                format!("line of {len} bytes exceeds the limit of {max_line} bytes"),
                raw,
                Some(len),
            )?;
        }
        Ok(())
    }
}

/// (sort key, block, item)
type Head = ((i64, u64), usize, usize);

/// The blocks as runs: consecutive blocks that continue one another in
/// the engine's order (a source's part of a concatenated export is one
/// run, however many blocks it spans).
fn runs(blocks: &[ParsedBlock]) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut last: Option<(i64, u64)> = None;
    for (b, blk) in blocks.iter().enumerate() {
        let (Some(first), Some(end)) = (blk.items.first(), blk.items.last()) else {
            continue;
        };
        match (last, out.last_mut()) {
            (Some(l), Some(run)) if item_key(first) >= l => run.push(b),
            _ => out.push(vec![b]),
        }
        last = Some(item_key(end));
    }
    out
}

/// Merges the runs of `runs` and sends the merged order in chunks.
fn merge_runs(
    blocks: &[ParsedBlock],
    runs: &[Vec<usize>],
    tx: std::sync::mpsc::SyncSender<Vec<Head>>,
) {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    /// (key, run, position of the block in the run, item)
    type Cursor = ((i64, u64), usize, usize, usize);
    let mut heap: BinaryHeap<Reverse<Cursor>> = BinaryHeap::new();
    for (r, run) in runs.iter().enumerate() {
        if let Some(&b) = run.first() {
            heap.push(Reverse((item_key(&blocks[b].items[0]), r, 0, 0)));
        }
    }
    let mut chunk = Vec::with_capacity(8192);
    while let Some(Reverse((k, r, pos, i))) = heap.pop() {
        let b = runs[r][pos];
        // The run's next item: in this block, or the first of its next.
        let next = if i + 1 < blocks[b].items.len() {
            Some((pos, i + 1))
        } else {
            runs[r].get(pos + 1).map(|_| (pos + 1, 0))
        };
        if let Some((np, ni)) = next {
            let nb = runs[r][np];
            heap.push(Reverse((item_key(&blocks[nb].items[ni]), r, np, ni)));
        }
        chunk.push((k, b, i));
        if chunk.len() == 8192
            && tx
                .send(std::mem::replace(&mut chunk, Vec::with_capacity(8192)))
                .is_err()
        {
            return;
        }
    }
    if !chunk.is_empty() {
        let _ = tx.send(chunk);
    }
}

/// One merged stream, a chunk at a time.
struct Stream {
    rx: std::sync::mpsc::Receiver<Vec<Head>>,
    chunk: std::vec::IntoIter<Head>,
    head: Option<Head>,
}

impl Stream {
    fn new(rx: std::sync::mpsc::Receiver<Vec<Head>>) -> Stream {
        let mut s = Stream {
            rx,
            chunk: Vec::new().into_iter(),
            head: None,
        };
        s.advance();
        s
    }
    fn advance(&mut self) {
        self.head = self.chunk.next().or_else(|| {
            self.chunk = self.rx.recv().ok()?.into_iter();
            self.chunk.next()
        });
    }
}

/// Feeds parsed blocks to the engine in (`ts`, id hash) order, once per
/// id: each block is sorted already; the blocks are read as runs (see
/// [`runs`]); two threads merge half the runs each while this one merges
/// their two streams and runs the engine.
fn run_sorted(
    blocks: &[ParsedBlock],
    engine: &mut Engine,
    names: &Names,
    alerts: &mut Vec<Alert>,
    run: &mut EventRun,
) {
    let all = runs(blocks);
    tracing::debug!(blocks = blocks.len(), runs = all.len(), "merging");
    let mid = all.len() / 2;
    let (left, right) = all.split_at(mid);
    std::thread::scope(|s| {
        let (tx_a, rx_a) = std::sync::mpsc::sync_channel(8);
        let (tx_b, rx_b) = std::sync::mpsc::sync_channel(8);
        s.spawn(move || merge_runs(blocks, left, tx_a));
        s.spawn(move || merge_runs(blocks, right, tx_b));
        let (mut a, mut b) = (Stream::new(rx_a), Stream::new(rx_b));
        let mut prev: Option<Head> = None;
        loop {
            let next = match (a.head, b.head) {
                (Some(x), Some(y)) if x <= y => {
                    a.advance();
                    x
                }
                (Some(_), Some(y)) | (None, Some(y)) => {
                    b.advance();
                    y
                }
                (Some(x), None) => {
                    a.advance();
                    x
                }
                (None, None) => break,
            };
            let (k, bi, i) = next;
            // A re-delivery repeats the time and the id (so the hash too).
            if let Some((pk, pb, pi)) = prev {
                if pk == k
                    && item_id(&blocks[pb], &blocks[pb].items[pi])
                        == item_id(&blocks[bi], &blocks[bi].items[i])
                {
                    run.duplicates += 1;
                    continue;
                }
            }
            prev = Some(next);
            run.used += 1;
            alerts.extend(feed(engine, names, &blocks[bi], &blocks[bi].items[i]));
        }
    });
}

/// Whether a plain events file is out of time order, judged from a few
/// dozen lines read at evenly spaced places (a file whose sources were
/// concatenated goes back in time at each seam). Unsure (unreadable,
/// unparseable samples) is "no": the streaming pass then finds out.
fn out_of_order_by_sampling(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    const SAMPLES: u64 = 64;
    let Ok(mut f) = File::open(path) else {
        return false;
    };
    let Ok(size) = f.metadata().map(|m| m.len()) else {
        return false;
    };
    let mut buf = vec![0u8; 64 * 1024];
    let mut last: Option<i64> = None;
    for k in 0..SAMPLES {
        let at = size * k / SAMPLES;
        if f.seek(SeekFrom::Start(at)).is_err() {
            return false;
        }
        let Ok(n) = f.read(&mut buf) else {
            return false;
        };
        let data = &buf[..n];
        // The first whole line after the seek point.
        let start = if at == 0 {
            0
        } else {
            match memchr::memchr(b'\n', data) {
                Some(i) => i + 1,
                None => continue,
            }
        };
        let Some(len) = memchr::memchr(b'\n', &data[start..]) else {
            continue;
        };
        let line = &data[start..start + len];
        let Some(ts) = sample_ts(line) else { continue };
        if last.is_some_and(|l| ts < l) {
            return true;
        }
        last = Some(ts);
    }
    false
}

/// A line's `ts`, in UTC microseconds, if it is spelt the usual way.
fn sample_ts(line: &[u8]) -> Option<i64> {
    static KEY: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\"ts\""));
    let key = KEY.find(line)?;
    let rest = &line[key + 4..];
    let q = memchr::memchr(b'"', rest)?;
    let rest = &rest[q + 1..];
    let end = memchr::memchr(b'"', rest)?;
    let text = std::str::from_utf8(&rest[..end]).ok()?;
    fast::parse_rfc3339(text).map(|(us, _)| us)
}

fn flush_tie(
    tie: &mut Vec<(Rc<ParsedBlock>, u32)>,
    engine: &mut Engine,
    names: &Names,
    alerts: &mut Vec<Alert>,
    run: &mut EventRun,
) {
    if tie.len() > 1 {
        tie.sort_by_key(|(b, i)| item_key(&b.items[*i as usize]));
    }
    let mut prev_id: Option<String> = None;
    for (blk, i) in tie.iter() {
        let item = &blk.items[*i as usize];
        if tie.len() > 1 {
            let id = item_id(blk, item);
            if prev_id.as_deref() == Some(id) {
                run.duplicates += 1;
                continue;
            }
            prev_id = Some(id.to_string());
        }
        run.used += 1;
        alerts.extend(feed(engine, names, blk, item));
    }
    tie.clear();
}

/// CERT r4.2: streamed, merged by date straight into the engine.
fn detect_cert(
    settings: &Settings,
    dir: &Path,
    fo: &FolderOptions,
) -> Result<(Vec<Alert>, DetectSummary)> {
    let show_progress = fo.show_progress;
    let t = Instant::now();
    let ds = custodian_ingest::cert::CertDataset::open(
        dir,
        chrono::FixedOffset::east_opt(0).unwrap_or_else(|| crate::clock::now().offset().to_owned()),
    )?;
    let ctx = Context {
        people: ds.people.clone(),
        documents: vec![],
        hr: ds.hr.clone(),
        contacts: vec![],
    };
    let mut engine = Engine::new(&ctx, settings.detect.clone());
    if let Some(t) = &fo.trace {
        engine.trace(t);
    }
    let mut events = ds.events()?;
    let bar = super::import::bar_if_terminal(show_progress, "{spinner} {pos} events {per_sec}");
    let mut alerts = Vec::new();
    let mut used = 0u64;
    for e in events.by_ref() {
        used += 1;
        if used.is_multiple_of(100_000) {
            if let Some(b) = &bar {
                b.set_position(used);
            }
        }
        if let Some(a) = engine.push(&e) {
            alerts.push(a);
        }
    }
    for r in events.rejects.iter().take(20) {
        eprintln!("rejected: {} line {}: {}", r.file, r.line, r.reason);
    }
    let stats = engine.stats();
    if events.out_of_order > 0 {
        tracing::warn!(
            rows = events.out_of_order,
            "CERT rows earlier than their file's previous row"
        );
    }
    let secs = t.elapsed().as_secs_f64();
    print_trace(&mut engine);
    write_scores(&fo.scores, &engine)?;
    let summary = DetectSummary {
        lines: engine.lines(),
        exposed_documents: 0,
        exposures: Vec::new(),
        events_read: events.rows,
        events_used: used,
        rejected: events.rejects.len() as u64,
        rejects_file: None,
        people: stats.people,
        contact_groups: 0,
        alerts: alerts.len(),
        people_alerted: people_alerted(&alerts),
        detect_seconds: secs,
        output: None,
    };
    Ok((alerts, summary))
}

/// Distinct people alerted at low, medium and high (their highest).
pub fn people_alerted(alerts: &[Alert]) -> [usize; 3] {
    let mut top: std::collections::BTreeMap<&str, Severity> = Default::default();
    for a in alerts {
        let e = top.entry(a.user.as_str()).or_insert(a.severity);
        *e = (*e).max(a.severity);
    }
    let mut n = [0; 3];
    for s in top.values() {
        n[*s as usize] += 1;
    }
    n
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

/// The highest alert of each person, best first.
pub fn top_alerts(alerts: &[Alert], n: usize) -> Vec<&Alert> {
    let mut best: std::collections::BTreeMap<&str, &Alert> = Default::default();
    for a in alerts {
        let e = best.entry(a.user.as_str()).or_insert(a);
        if a.score > e.score {
            *e = a;
        }
    }
    let mut v: Vec<&Alert> = best.into_values().collect();
    v.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.user.cmp(&b.user)));
    v.truncate(n);
    v
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

/// An alert as the store keeps it: canonical JSON (sorted keys) and an id
/// derived from it, so detecting again over the same data adds nothing.
pub fn new_alert(a: &Alert) -> Result<NewAlert> {
    use sha2::{Digest, Sha256};
    let body = serde_json::to_string(&serde_json::to_value(a)?)?;
    let id = format!("A-{}", &hex_lower(&Sha256::digest(body.as_bytes()))[..24]);
    Ok(NewAlert {
        id,
        user: a.user.clone(),
        raised_at: a.raised_at,
        severity: a.severity.as_str().into(),
        score: a.score,
        body,
    })
}

fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Detection over what the store holds; alerts are stored and ledgered.
pub async fn detect_store(
    settings: &Settings,
    store: &dyn Store,
    show_progress: bool,
) -> Result<(Vec<Alert>, DetectSummary, u64)> {
    let t = Instant::now();
    let ctx = Context {
        people: store.people().await?,
        documents: store.documents().await?,
        hr: store.hr_events().await?,
        contacts: store.contact_reports().await?,
    };
    let total = store.counts().await?.events;
    let bar = super::import::bar_if_terminal(
        show_progress,
        "{msg:>16} [{bar:40}] {pos}/{len} events {per_sec} eta {eta}",
    );
    if let Some(b) = &bar {
        b.set_length(total);
        b.set_message("reading events");
    }
    let mut engine = Engine::new(&ctx, settings.detect.clone());
    let names = engine.names();
    let mut blocks = Vec::new();
    let mut after = 0i64;
    let mut run = EventRun::default();
    loop {
        let page = store.event_lines(after, 50_000).await?;
        let Some(last) = page.last() else { break };
        after = last.0;
        let mut data = Vec::with_capacity(page.iter().map(|(_, l)| l.len() + 1).sum());
        for (_, l) in &page {
            data.extend_from_slice(l.as_bytes());
            data.push(b'\n');
        }
        let block = Block {
            seq: blocks.len() as u64,
            first_line: 1,
            offset: 0,
            data,
        };
        let n = page.len() as u64;
        let names = names.clone();
        let max_line = settings.max_line_bytes;
        let parsed =
            tokio::task::spawn_blocking(move || parse_block(block, &names, max_line, true)).await?;
        run.read += parsed.read;
        let slow = parsed
            .items
            .iter()
            .filter(|i| matches!(i, Item::Slow(_)))
            .count();
        if slow > 0 {
            tracing::debug!(slow, "events read back through the ordinary parser");
        }
        for (_, why, _) in parsed.rejects.iter().take(3) {
            tracing::warn!("a stored event cannot be read back: {why}");
        }
        blocks.push(parsed);
        if let Some(b) = &bar {
            b.inc(n);
        }
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let mut alerts = Vec::new();
    run_sorted(&blocks, &mut engine, &names, &mut alerts, &mut run);
    std::mem::forget(blocks);
    let ledger = super::ledger::context(settings)?;
    let mut stored = 0;
    let new: Vec<NewAlert> = alerts.iter().map(new_alert).collect::<Result<_>>()?;
    for chunk in new.chunks(1000) {
        stored += store.insert_alerts(chunk, &ledger).await?.0;
    }
    let exposures = engine.exposures();
    let recorded = custodian_app::exposure::record(store, &exposures, &ledger).await?;
    if recorded > 0 {
        tracing::info!(recorded, "register exposure findings recorded");
    }
    let stats = engine.stats();
    let summary = DetectSummary {
        lines: engine.lines(),
        exposed_documents: exposures.iter().filter(|x| x.exposed).count(),
        exposures,
        events_read: run.read,
        events_used: run.used,
        rejected: 0,
        rejects_file: None,
        people: stats.people,
        contact_groups: stats.contact_groups,
        alerts: alerts.len(),
        people_alerted: people_alerted(&alerts),
        detect_seconds: t.elapsed().as_secs_f64(),
        output: None,
    };
    Ok((alerts, summary, stored))
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
