//! Parsed blocks of an events file and the orders they are fed in.
//!
//! Rules:
//! - A block's lines become fast-path items (the engine's compact form,
//!   `custodian_detect::fast`) or, for anything unusual, the ordinary
//!   parser's event; a line neither reads is a reject with its line number
//!   and reason. Each block is left sorted in the engine's order (`ts`,
//!   then id hash) on the parser thread.
//! - Blocks are fed to the engine in that order, once per id (a
//!   re-delivery repeats the time and the id): streamed when the file is in
//!   order ([`flush_tie`] for ties on a time), merged from runs when it is
//!   held ([`run_sorted`]), or merged by time ([`super::by_time`]).

use std::fs::File;
use std::path::Path;
use std::rc::Rc;

use custodian_core::interchange::{parse_event, RecordError};
use custodian_core::Event;
use custodian_detect::fast::{self, Packed};
use custodian_detect::{Alert, Engine, Names};
use custodian_ingest::{Block, RejectSink, SourceFile};

use crate::error::Result;

/// Parsed lines of one block: fast-path events, the rare event that needed
/// the ordinary parser, and rejects.
#[derive(Default)]
pub struct ParsedBlock {
    pub(crate) seq: u64,
    /// The ids and domains of the fast items (their ranges point here).
    pub(crate) text: String,
    pub(crate) items: Vec<Item>,
    pub(crate) rejects: Vec<(u64, String, Vec<u8>)>,
    pub(crate) read: u64,
}

pub(crate) enum Item {
    Fast(Packed),
    Slow(Box<Event>),
}

pub(crate) fn item_ts(i: &Item) -> i64 {
    match i {
        Item::Fast(p) => p.ev.ts_us,
        Item::Slow(e) => e.ts.timestamp_micros(),
    }
}

/// One parsed item into the engine.
pub(crate) fn feed(
    engine: &mut Engine,
    names: &Names,
    blk: &ParsedBlock,
    item: &Item,
) -> Option<Alert> {
    match item {
        Item::Fast(p) => engine.push_ev(&p.ev(&blk.text)),
        Item::Slow(e) => engine.push_ev(&names.compact(e)),
    }
}

pub(crate) fn item_key(i: &Item) -> (i64, u64) {
    match i {
        Item::Fast(p) => p.key(),
        Item::Slow(e) => (e.ts.timestamp_micros(), custodian_detect::id_hash(&e.id)),
    }
}

pub(crate) fn item_id<'a>(b: &'a ParsedBlock, i: &'a Item) -> &'a str {
    match i {
        Item::Fast(p) => p.id(&b.text),
        Item::Slow(e) => e.id.as_str(),
    }
}

pub(crate) fn parse_block(b: Block, names: &Names, max_line: usize, keep: bool) -> ParsedBlock {
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
pub(crate) struct EventRun {
    pub(crate) read: u64,
    pub(crate) used: u64,
    pub(crate) duplicates: u64,
}

impl EventRun {
    pub(crate) fn note(&mut self, src: &SourceFile, sink: &mut RejectSink, p: &ParsedBlock) {
        self.read += p.read;
        for (no, why, raw) in &p.rejects {
            if let Err(e) = sink.reject(src, *no, why.clone(), raw.clone(), None) {
                tracing::warn!("cannot record a rejected line: {e}");
            }
        }
    }

    pub(crate) fn huge(
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
pub(crate) fn run_sorted(
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
pub(crate) fn out_of_order_by_sampling(path: &Path) -> bool {
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
pub fn sample_ts(line: &[u8]) -> Option<i64> {
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

pub(crate) fn flush_tie(
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
