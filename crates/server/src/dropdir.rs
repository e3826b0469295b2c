//! The drop folder of `custodian serve`: events files a collector or a
//! nightly export leaves there are ingested through the API's own path.
//!
//! Rules:
//! - Only whole files are taken: `*.jsonl` or `*.jsonl.gz` (a writer
//!   writes under another name, `*.part` say, and renames when done);
//!   dot-files and everything else are left alone.
//! - A file is read line by line in batches (at most
//!   `custodian_app::ingest::MAX_BATCH_LINES` lines and 8 MiB) through
//!   `custodian_app::ingest::ingest_batch`: bad lines are kept as rejects
//!   with the file's name and line, the good ones stored once by id, so a
//!   file taken again after a crash adds nothing twice. A line over 64 KiB
//!   is rejected, never held whole.
//! - A file done is moved to `done/` beside it, one that cannot be read
//!   (not gzip, not UTF-8 at all) to `failed/`; nothing is deleted.
//! - Continuous detection is rung after every file that stored events.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use custodian_app::ingest::{ingest_batch, MAX_BATCH_LINES};

use crate::{now_of, AppState};

const MAX_LINE: usize = 64 * 1024;
const BATCH_BYTES: usize = 8 << 20;

/// The files ready in `dir`, oldest name first.
fn ready(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !n.starts_with('.') && (n.ends_with(".jsonl") || n.ends_with(".jsonl.gz"))
        })
        .collect();
    v.sort();
    v
}

fn move_to(file: &Path, sub: &str) -> std::io::Result<()> {
    let dir = file.parent().unwrap_or(Path::new(".")).join(sub);
    std::fs::create_dir_all(&dir)?;
    let name = file.file_name().unwrap_or_default();
    std::fs::rename(file, dir.join(name))
}

/// Why a file was not taken: it cannot be read (moved to `failed/`), or
/// the store failed (left where it is, tried again).
enum Untaken {
    Unreadable(String),
    Store(String),
}

/// Ingests one file; the number of new events.
async fn take(state: &AppState, file: &Path) -> Result<u64, Untaken> {
    let f = std::fs::File::open(file).map_err(|e| Untaken::Unreadable(e.to_string()))?;
    let gz = file.extension().is_some_and(|e| e == "gz");
    let reader: Box<dyn Read + Send> = if gz {
        Box::new(flate2::read::MultiGzDecoder::new(f))
    } else {
        Box::new(f)
    };
    let mut r = BufReader::new(reader);
    let source = format!(
        "drop:{}",
        file.file_name().and_then(|n| n.to_str()).unwrap_or("?")
    );
    let (mut batch, mut lines, mut new) = (Vec::new(), 0usize, 0u64);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut r)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| Untaken::Unreadable(format!("cannot be read: {e}")))?;
        let end = n == 0;
        if n > MAX_LINE && !line.ends_with(b"\n") {
            // Too long: kept as a short reject line, the rest skipped.
            batch.extend_from_slice(b"{\"line over 64 KiB\":true}\n");
            let mut rest = Vec::new();
            let _ = r.read_until(b'\n', &mut rest);
            lines += 1;
        } else if !end {
            batch.extend_from_slice(&line);
            if !line.ends_with(b"\n") {
                batch.push(b'\n');
            }
            lines += 1;
        }
        if (end || lines >= MAX_BATCH_LINES || batch.len() >= BATCH_BYTES) && !batch.is_empty() {
            let b = ingest_batch(
                state.store.as_ref(),
                &state.ledger,
                &state.known_people,
                &source,
                now_of(state),
                &batch,
            )
            .await
            .map_err(|e| Untaken::Store(e.to_string()))?;
            new += b.new;
            batch.clear();
            lines = 0;
        }
        if end {
            return Ok(new);
        }
    }
}

/// Starts watching `dir` (made if missing), looking every `interval`.
pub fn spawn(
    state: Arc<AppState>,
    dir: PathBuf,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(e) = std::fs::create_dir_all(&dir) {
            tracing::error!(error = %e, "the drop folder cannot be made; not watching it");
            return;
        }
        loop {
            for file in ready(&dir) {
                let name = file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let to = match take(&state, &file).await {
                    Ok(new) => {
                        tracing::info!(file = %name, new, "drop folder: file ingested");
                        if new > 0 {
                            state.detecting.ring();
                        }
                        "done"
                    }
                    Err(Untaken::Unreadable(why)) => {
                        tracing::warn!(file = %name, "drop folder: file cannot be read: {why}");
                        "failed"
                    }
                    Err(Untaken::Store(why)) => {
                        tracing::error!(file = %name, "drop folder: the store failed, trying again: {why}");
                        break;
                    }
                };
                if let Err(e) = move_to(&file, to) {
                    tracing::error!(file = %name, error = %e, "drop folder: file cannot be moved; stopping");
                    return;
                }
            }
            tokio::time::sleep(interval).await;
        }
    })
}
