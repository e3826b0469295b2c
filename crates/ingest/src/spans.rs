//! Reading a plain file's blocks again, in an order the caller chooses.
//!
//! Rules:
//! - A [`Span`] is a block as [`crate::for_each_block`] cut it (its `seq`,
//!   first line, byte offset and length), remembered from a first pass.
//! - The spans are read back with positioned reads (no shared cursor) and
//!   parsed on every core, and handed to `consume` on the calling thread in
//!   exactly the order given. At most a few blocks per core are read ahead
//!   of `consume`, so memory follows what the caller holds, not the file.
//! - Only plain files: a gzip stream cannot be entered in the middle.
//! - A span that no longer lies inside the file (it changed since the
//!   first pass) is an error, never a silently short block.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::ops::ControlFlow;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use crate::{Block, SourceFile};

/// Where one block lies in a plain file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub seq: u64,
    pub first_line: u64,
    pub offset: u64,
    pub len: u64,
}

impl Span {
    /// The span of a block read by [`crate::for_each_block`].
    pub fn of(b: &Block) -> Span {
        Span {
            seq: b.seq,
            first_line: b.first_line,
            offset: b.offset,
            len: b.data.len() as u64,
        }
    }
}

/// Reads `spans` of `src` in the order given, parses each with `parse` on
/// every core and hands the results to `consume` in that order. `consume`
/// may stop early.
pub fn for_each_span<T: Send>(
    src: &SourceFile,
    spans: &[Span],
    parse: impl Fn(Block) -> T + Sync,
    mut consume: impl FnMut(T) -> ControlFlow<()>,
) -> io::Result<()> {
    if src.gzip {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("{}: a compressed file is read only in order", src.name),
        ));
    }
    let file = File::open(&src.path)?;
    let size = file.metadata()?.len();
    if let Some(s) = spans
        .iter()
        .find(|s| s.offset.checked_add(s.len).is_none_or(|end| end > size))
    {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "{}: the block from line {} is no longer in the file (it changed while being read)",
                src.name, s.first_line
            ),
        ));
    }
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 8);
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::sync_channel::<(usize, io::Result<T>)>(workers * 2);
    let (file, parse, next, stop) = (&file, &parse, &next, &stop);
    std::thread::scope(|s| -> io::Result<()> {
        for _ in 0..workers {
            let tx = tx.clone();
            s.spawn(move || loop {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(span) = spans.get(i) else { return };
                let mut data = vec![0u8; span.len as usize];
                let out = file.read_exact_at(&mut data, span.offset).map(|()| {
                    parse(Block {
                        seq: span.seq,
                        first_line: span.first_line,
                        offset: span.offset,
                        data,
                    })
                });
                if tx.send((i, out)).is_err() {
                    return;
                }
            });
        }
        drop(tx);
        let mut pending: BTreeMap<usize, io::Result<T>> = BTreeMap::new();
        let mut want = 0usize;
        for (i, out) in rx.iter() {
            pending.insert(i, out);
            while let Some(out) = pending.remove(&want) {
                want += 1;
                let done = match out {
                    Ok(t) => consume(t).is_break(),
                    Err(e) => {
                        stop.store(true, Ordering::Relaxed);
                        return Err(e);
                    }
                };
                if done {
                    stop.store(true, Ordering::Relaxed);
                    return Ok(());
                }
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::for_each_block;
    use crate::NoProgress;
    use std::sync::Arc;

    fn source(dir: &std::path::Path, text: &str) -> SourceFile {
        let path = dir.join("events.jsonl");
        std::fs::write(&path, text).unwrap();
        SourceFile {
            path,
            name: "events.jsonl".into(),
            gzip: false,
            size: text.len() as u64,
        }
    }

    #[test]
    fn spans_read_back_the_same_bytes_in_any_order() {
        let dir = tempfile::tempdir().unwrap();
        // Over three blocks of 1 MiB, lines of varying length.
        let mut text = String::new();
        for i in 0..60_000 {
            text.push_str(&format!("{i} {}\n", "x".repeat(i % 97)));
        }
        let src = source(dir.path(), &text);
        let progress: Arc<dyn crate::Progress> = Arc::new(NoProgress);
        let mut first: Vec<(Span, Vec<u8>)> = Vec::new();
        for_each_block(
            &src,
            &progress,
            |b| (Span::of(&b), b.data),
            |x| {
                first.push(x);
                ControlFlow::Continue(())
            },
        )
        .unwrap();
        assert!(first.len() >= 3, "{} blocks", first.len());
        let mut spans: Vec<Span> = first.iter().map(|(s, _)| *s).collect();
        spans.reverse();
        let mut again: Vec<(u64, Vec<u8>)> = Vec::new();
        for_each_span(
            &src,
            &spans,
            |b| (b.seq, b.data),
            |x| {
                again.push(x);
                ControlFlow::Continue(())
            },
        )
        .unwrap();
        let want: Vec<(u64, Vec<u8>)> = first.into_iter().rev().map(|(s, d)| (s.seq, d)).collect();
        assert_eq!(again, want);
        // The blocks tile the file: their bytes, in seq order, are the file.
        let mut whole = again;
        whole.sort_by_key(|x| x.0);
        let joined: Vec<u8> = whole.into_iter().flat_map(|x| x.1).collect();
        assert_eq!(joined, text.as_bytes());
    }

    #[test]
    fn a_span_past_the_end_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let src = source(dir.path(), "a\nb\n");
        let spans = [Span {
            seq: 0,
            first_line: 1,
            offset: 2,
            len: 10,
        }];
        let err =
            for_each_span(&src, &spans, |b| b.data, |_| ControlFlow::Continue(())).unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
    }
}
