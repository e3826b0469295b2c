//! Detection over a dataset folder: the interchange layout (streamed when
//! in time order, merged by time when a plain file is not, held and sorted
//! when a compressed one is not) or CERT r4.2's (merged by date as it
//! streams).

use std::io::{BufWriter, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

use chrono::Offset as _;
use custodian_detect::{Alert, Context, Engine};
use custodian_ingest::{for_each_block, read_context, ImportOptions};

use super::blocks::{
    flush_tie, item_ts, out_of_order_by_sampling, parse_block, run_sorted, EventRun, ParsedBlock,
};
use super::{by_time, DetectSummary, FolderOptions, Layout};
use crate::error::{AppError, Result};

fn cannot_read(path: &Path, e: std::io::Error) -> AppError {
    AppError::Failed(format!("cannot read {}: {e}", path.display()))
}

/// Runs detection over a dataset folder: returns the alerts (in data-time
/// order) and the summary.
pub fn detect_folder(
    dir: &Path,
    layout: Layout,
    fo: &FolderOptions,
) -> Result<(Vec<Alert>, DetectSummary)> {
    let bar = &fo.progress;
    let mut opts = ImportOptions::new(fo.rejects.clone(), fo.now);
    opts.max_line_bytes = fo.max_line_bytes;
    let t = Instant::now();
    if layout == Layout::CertR42 {
        return detect_cert(dir, fo);
    }
    let (mut ds, src, mut sink) = read_context(dir, &opts, bar)?;
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
        let mut e = Engine::new(&ctx, fo.config.clone());
        if let Some(t) = &fo.trace {
            if !e.trace(t) {
                tracing::warn!("the user to trace is not in the directory");
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
            bar,
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
        .map_err(|e| cannot_read(&src.path, e))?
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
                progress: bar,
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
            let quiet: std::sync::Arc<dyn custodian_ingest::Progress> =
                std::sync::Arc::new(custodian_ingest::NoProgress);
            let huge_again = for_each_block(
                &src,
                &quiet,
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
            .map_err(|e| cannot_read(&src.path, e))?;
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
    write_scores(&fo.scores, &engine)?;
    let exposures = engine.exposures();
    let seconds = t.elapsed().as_secs_f64();
    let mut summary = DetectSummary::of(
        &mut engine,
        &alerts,
        exposures,
        (run.read, run.used),
        seconds,
    );
    summary.rejected = sink.total();
    summary.rejects_file = sink.path_if_written().map(|p| p.display().to_string());
    Ok((alerts, summary))
}

/// CERT r4.2: streamed, merged by date straight into the engine.
fn detect_cert(dir: &Path, fo: &FolderOptions) -> Result<(Vec<Alert>, DetectSummary)> {
    let t = Instant::now();
    let ds = custodian_ingest::cert::CertDataset::open(dir, chrono::Utc.fix())
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    let ctx = Context {
        people: ds.people.clone(),
        documents: vec![],
        hr: ds.hr.clone(),
        contacts: vec![],
    };
    let mut engine = Engine::new(&ctx, fo.config.clone());
    if let Some(t) = &fo.trace {
        engine.trace(t);
    }
    let mut events = ds.events().map_err(|e| AppError::Invalid(e.to_string()))?;
    let bar = &fo.progress;
    bar.begin("CERT r4.2 rows", 0);
    let mut alerts = Vec::new();
    let mut used = 0u64;
    for e in events.by_ref() {
        used += 1;
        if used.is_multiple_of(100_000) {
            bar.position(used);
        }
        if let Some(a) = engine.push(&e) {
            alerts.push(a);
        }
    }
    bar.end("CERT r4.2 rows");
    for r in events.rejects.iter().take(20) {
        tracing::warn!(file = %r.file, line = r.line, "rejected: {}", r.reason);
    }
    if events.out_of_order > 0 {
        tracing::warn!(
            rows = events.out_of_order,
            "CERT rows earlier than their file's previous row"
        );
    }
    let seconds = t.elapsed().as_secs_f64();
    write_scores(&fo.scores, &engine)?;
    let mut summary = DetectSummary::of(
        &mut engine,
        &alerts,
        Vec::new(),
        (events.rows, used),
        seconds,
    );
    summary.rejected = events.rejects.len() as u64;
    Ok((alerts, summary))
}

/// Every person's highest score as JSONL, to a file only its owner reads.
fn write_scores(path: &Option<PathBuf>, engine: &Engine) -> Result<()> {
    let Some(path) = path else { return Ok(()) };
    let file = custodian_store::private::open(path, custodian_store::private::Open::Truncate)
        .map_err(|e| AppError::Failed(format!("cannot write {}: {e}", path.display())))?;
    let mut out = BufWriter::new(file);
    for (user, score) in engine.max_scores() {
        serde_json::to_writer(
            &mut out,
            &serde_json::json!({"user": user, "max_score": score}),
        )
        .map_err(std::io::Error::from)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}
