//! Detecting over a plain events file whose lines are not in time order
//! (sources concatenated one after another, as real exports are) without
//! holding the file in memory.
//!
//! Rules:
//! - A first pass reads only each line's `ts` (no parsing) and keeps, per
//!   block, where it lies and its earliest time.
//! - The second pass parses the blocks in order of their earliest time on
//!   every core and merges the open blocks into the engine's order (`ts`,
//!   then id hash), once per id (a re-delivery repeats both).
//! - An event is fed only when no block still to come can hold an earlier
//!   one: every later block starts at or after the next block's earliest
//!   time. So the blocks held are those that overlap in time (about one per
//!   source), not the file.
//! - A line whose `ts` the first pass cannot read makes its block start "at
//!   the beginning" (opened first, held longer), never late.
//! - If a parsed block starts before what was already fed (the first pass
//!   misread a time), the pass stops and says so, having reported nothing;
//!   the caller then sorts in memory. Rejected lines are reported once, in
//!   file order, when the pass has finished.

use std::cmp::Reverse;
use std::collections::binary_heap::PeekMut;
use std::collections::BinaryHeap;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Instant;

use custodian_detect::{Alert, Engine, Names};
use custodian_ingest::{for_each_block, for_each_span, Progress, RejectSink, SourceFile, Span};

use super::blocks::{feed, item_id, item_key, parse_block, sample_ts, EventRun, ParsedBlock};
use crate::error::{AppError, Result};

/// How the pass ended.
pub(crate) enum Outcome {
    /// Every event was fed; rejected lines are reported.
    Done,
    /// A block began before events already fed: the engine has seen part
    /// of the file and must be started again by the caller.
    Misordered,
}

/// What the pass needs from its caller.
pub(crate) struct Pass<'a> {
    pub src: &'a SourceFile,
    pub names: &'a Names,
    pub max_line: usize,
    /// Blocks up to this `seq` were read (and their rejects reported) by
    /// an earlier in-order pass that stopped there.
    pub reported_upto: Option<u64>,
    pub progress: &'a Arc<dyn Progress>,
}

/// A line's earliest readable time in a block; `i64::MIN` when a line's
/// time cannot be read without parsing it.
pub fn earliest(data: &[u8]) -> i64 {
    let mut min = i64::MAX;
    let mut at = 0;
    while at < data.len() {
        let end = memchr::memchr(b'\n', &data[at..]).map_or(data.len(), |p| at + p);
        let line = &data[at..end];
        at = end + 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match sample_ts(line) {
            Some(ts) => min = min.min(ts),
            None => return i64::MIN,
        }
    }
    min
}

/// Runs the two passes, feeding `engine` and collecting `alerts`.
pub(crate) fn detect_by_time(
    pass: &Pass<'_>,
    engine: &mut Engine,
    alerts: &mut Vec<Alert>,
    run: &mut EventRun,
    sink: &mut RejectSink,
) -> Result<Outcome> {
    let started = Instant::now();
    let mut spans: Vec<(i64, Span)> = Vec::new();
    let huge = for_each_block(
        pass.src,
        pass.progress,
        |b| (earliest(&b.data), Span::of(&b)),
        |x| {
            spans.push(x);
            ControlFlow::Continue(())
        },
    )
    .map_err(|e| AppError::Failed(format!("cannot read {}: {e}", pass.src.path.display())))?;
    spans.sort_by_key(|(min, s)| (*min, s.seq));
    let scanned = started.elapsed();
    let order: Vec<Span> = spans.iter().map(|(_, s)| *s).collect();

    let mut merge = Merge::default();
    let mut misordered = false;
    let mut pending: Vec<(u64, String, Vec<u8>)> = Vec::new();
    let mut read = 0u64;
    let mut position = 0u64;
    for_each_span(
        pass.src,
        &order,
        |b| parse_block(b, pass.names, pass.max_line, false),
        |mut blk| {
            let k = merge.taken;
            let (min, span) = spans[k];
            merge.taken += 1;
            position += span.len;
            pass.progress.position(position);
            if pass.reported_upto.is_none_or(|upto| blk.seq > upto) {
                read += blk.read;
                pending.append(&mut blk.rejects);
            }
            // Nothing to come starts before `min`: feed what lies before it.
            merge.feed_before(Some(min), engine, pass.names, alerts, run);
            if blk
                .items
                .first()
                .is_some_and(|f| merge.prev.is_some_and(|(l, _, _)| item_key(f) < l))
            {
                misordered = true;
                return ControlFlow::Break(());
            }
            merge.open(blk);
            ControlFlow::Continue(())
        },
    )
    .map_err(|e| AppError::Failed(format!("cannot read {}: {e}", pass.src.path.display())))?;
    if misordered {
        tracing::warn!(
            "a block of {} holds an event earlier than its first pass read; sorting in memory instead",
            pass.src.name
        );
        return Ok(Outcome::Misordered);
    }
    merge.feed_before(None, engine, pass.names, alerts, run);
    run.read += read;
    pending.sort_by_key(|r| r.0);
    for (no, why, raw) in pending {
        if let Err(e) = sink.reject(pass.src, no, why, raw, None) {
            tracing::warn!("cannot record a rejected line: {e}");
        }
    }
    run.huge(pass.src, sink, huge, pass.max_line)?;
    tracing::info!(
        blocks = order.len(),
        most_open = merge.most_open,
        scan_ms = scanned.as_millis() as u64,
        total_ms = started.elapsed().as_millis() as u64,
        "merged by time"
    );
    Ok(Outcome::Done)
}

/// (key, block, item)
type Cursor = Reverse<((i64, u64), u32, u32)>;

/// The open blocks and the next event of each.
#[derive(Default)]
struct Merge {
    /// Blocks in the order opened; a finished one is emptied.
    blocks: Vec<ParsedBlock>,
    heap: BinaryHeap<Cursor>,
    /// The last event fed: (key, block, item).
    prev: Option<((i64, u64), u32, u32)>,
    /// A finished block kept until the next one finishes, for `prev`.
    finished: Option<u32>,
    taken: usize,
    open_now: usize,
    most_open: usize,
}

impl Merge {
    fn open(&mut self, blk: ParsedBlock) {
        let b = self.blocks.len() as u32;
        if let Some(first) = blk.items.first() {
            self.heap.push(Reverse((item_key(first), b, 0)));
            self.open_now += 1;
            self.most_open = self.most_open.max(self.open_now);
        }
        self.blocks.push(blk);
    }

    /// Feeds, in order, every open event earlier than `before` (all when
    /// `None`).
    fn feed_before(
        &mut self,
        before: Option<i64>,
        engine: &mut Engine,
        names: &Names,
        alerts: &mut Vec<Alert>,
        run: &mut EventRun,
    ) {
        while let Some(mut top) = self.heap.peek_mut() {
            let Reverse((k, b, i)) = *top;
            if before.is_some_and(|t| k.0 >= t) {
                break;
            }
            let blk = &self.blocks[b as usize];
            let item = &blk.items[i as usize];
            let repeated = self.prev.is_some_and(|(pk, pb, pi)| {
                pk == k && {
                    let p = &self.blocks[pb as usize];
                    item_id(p, &p.items[pi as usize]) == item_id(blk, item)
                }
            });
            if repeated {
                run.duplicates += 1;
            } else {
                run.used += 1;
                alerts.extend(feed(engine, names, blk, item));
            }
            self.prev = Some((k, b, i));
            if let Some(next) = blk.items.get(i as usize + 1) {
                *top = Reverse((item_key(next), b, i + 1));
            } else {
                PeekMut::pop(top);
                self.open_now -= 1;
                if let Some(old) = self.finished.replace(b) {
                    self.blocks[old as usize] = ParsedBlock::default();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::earliest;

    #[test]
    fn a_block_starts_at_its_earliest_line_or_at_the_beginning() {
        let a = br#"{"id":"e2","ts":"2026-03-02T09:00:00Z","user":"u"}
{"id":"e1","ts":"2026-03-01T09:00:00+09:00","user":"u"}

"#;
        let first = chrono::DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z")
            .unwrap()
            .timestamp_micros();
        assert_eq!(earliest(a), first);
        let b = br#"{"id":"e2","ts":"2026-03-02T09:00:00Z","user":"u"}
{"id":"e1","user":"u","when":"yesterday"}
"#;
        assert_eq!(earliest(b), i64::MIN);
    }
}
