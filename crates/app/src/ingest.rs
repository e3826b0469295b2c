//! Events in over the API: the same path as `custodian import`.
//!
//! Rules:
//! - A batch is at most [`MAX_BATCH_BYTES`] and [`MAX_BATCH_LINES`] lines;
//!   a line at most [`MAX_LINE_BYTES`] (the import's default limit). A batch
//!   over a bound is refused whole, before anything is stored.
//! - Each line is taken as the import takes it
//!   (`custodian_ingest::accept_event_line`: parsed by `core`, its user in
//!   the directory). A refused line is answered with its line number and
//!   reason and kept as a reject, like an import's (file `api:<source>`,
//!   line, reason, its first 64 KiB), so `custodian status` counts it; the
//!   good lines around it are stored.
//! - A repeated event id is stored once (the store's insert-if-new).
//! - The directory is held by [`KnownPeople`], not read per batch: it is
//!   read again only when a batch names someone it does not know, at most
//!   once per [`RELOAD_SECONDS`] of the caller's clock, so a person added
//!   since is accepted and a stream of strangers costs one read per period.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, FixedOffset};
use custodian_store::{Inserted, LedgerContext, Reject, Store};

use crate::error::{AppError, Result};

/// Lines per batch and bytes per batch and line the ingest takes.
pub const MAX_BATCH_LINES: usize = 20_000;
pub const MAX_BATCH_BYTES: usize = 16 << 20;
pub const MAX_LINE_BYTES: usize = 64 << 10;
/// How much of a refused line is kept.
pub const KEPT_BYTES: usize = 64 << 10;
/// The least time between two reads of the directory.
pub const RELOAD_SECONDS: i64 = 5;

/// The directory's user ids, read when needed.
#[derive(Default)]
pub struct KnownPeople {
    held: Mutex<Option<(i64, Arc<HashSet<String>>)>>,
}

impl KnownPeople {
    /// The ids as last read (reading them if never read, or if `stale` and
    /// the last read is [`RELOAD_SECONDS`] old).
    async fn get(&self, store: &dyn Store, now: i64, stale: bool) -> Result<Arc<HashSet<String>>> {
        let held = self.held.lock().ok().and_then(|h| h.clone());
        if let Some((at, set)) = held {
            if !stale || now - at < RELOAD_SECONDS {
                return Ok(set);
            }
        }
        let set: Arc<HashSet<String>> = Arc::new(
            store
                .people()
                .await?
                .into_iter()
                .map(|p| p.user_id)
                .collect(),
        );
        if let Ok(mut h) = self.held.lock() {
            *h = Some((now, set.clone()));
        }
        Ok(set)
    }
}

/// What a batch came to.
#[derive(Debug, serde::Serialize)]
pub struct Batch {
    pub accepted: usize,
    pub new: u64,
    pub already_stored: u64,
    /// (line, reason) of every refused line.
    pub rejected: Vec<(u64, String)>,
}

/// A refused line: (line number, reason, its bytes).
type Refused<'a> = (u64, String, &'a [u8]);

/// The batch's lines as the import takes them, against `people`; and
/// whether a line named someone `people` does not hold.
fn take<'a>(
    lines: &[(u64, &'a [u8])],
    people: &HashSet<String>,
) -> (Vec<custodian_store::NewEvent>, Vec<Refused<'a>>, bool) {
    let missed = std::cell::Cell::new(false);
    let mut events = Vec::new();
    let mut refused: Vec<Refused<'a>> = Vec::new();
    for &(no, line) in lines {
        if line.len() > MAX_LINE_BYTES {
            refused.push((
                no,
                format!(
                    "line of {} bytes exceeds the limit of {MAX_LINE_BYTES} bytes",
                    line.len()
                ),
                line,
            ));
            continue;
        }
        let known = |u: &str| {
            let k = people.contains(u);
            if !k {
                missed.set(true);
            }
            k
        };
        match custodian_ingest::accept_event_line(line, known) {
            Ok(e) => events.push(e),
            Err(why) => refused.push((no, why, line)),
        }
    }
    (events, refused, missed.get())
}

/// Takes a batch of `events.jsonl` lines from `source` (who sent it, for
/// the rejects' file name) at `now`.
pub async fn ingest_batch(
    store: &dyn Store,
    ledger: &LedgerContext,
    known: &KnownPeople,
    source: &str,
    now: DateTime<FixedOffset>,
    body: &[u8],
) -> Result<Batch> {
    if body.len() > MAX_BATCH_BYTES {
        return Err(AppError::TooLarge(format!(
            "a batch is at most {MAX_BATCH_BYTES} bytes"
        )));
    }
    let lines: Vec<(u64, &[u8])> = body
        .split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace))
        .map(|(i, l)| (i as u64 + 1, l))
        .collect();
    if lines.len() > MAX_BATCH_LINES {
        return Err(AppError::TooLarge(format!(
            "a batch is at most {MAX_BATCH_LINES} lines"
        )));
    }
    let mut people = known.get(store, now.timestamp(), false).await?;
    let (mut events, mut refused, missed) = take(&lines, &people);
    if missed {
        let again = known.get(store, now.timestamp(), true).await?;
        if !Arc::ptr_eq(&again, &people) {
            people = again;
            (events, refused, _) = take(&lines, &people);
        }
    }
    let accepted = events.len();
    let Inserted(new) = store.insert_events(events, ledger).await?;
    if !refused.is_empty() {
        let file = format!("api:{source}");
        let rejects: Vec<Reject> = refused
            .iter()
            .map(|(no, why, raw)| Reject {
                file: file.clone(),
                line: *no,
                reason: why.clone(),
                raw: raw[..raw.len().min(KEPT_BYTES)].to_vec(),
            })
            .collect();
        store.insert_rejects(&rejects).await?;
    }
    Ok(Batch {
        accepted,
        new,
        already_stored: accepted as u64 - new.min(accepted as u64),
        rejected: refused.into_iter().map(|(no, why, _)| (no, why)).collect(),
    })
}
