//! The bulk reader: read-only rusqlite connections (the same libsqlite3 as
//! sqlx) on reader threads, fed chunks from one job queue, that re-read
//! and hash events in place for verification and serve tiles for proofs.

use std::time::Duration;

use custodian_ledger::entry::kinds;
use custodian_ledger::{Tile, TileId};
use custodian_store::{EventCols, LeafChunk, LeafChunkBuilder, LedgerRecord, Result, StoreError};

use crate::events::utf8_field;

/// The bulk reader (read-only connections opened on first use):
/// reader threads ([`event_readers`]), each with its own connection, that take
/// read jobs from one queue in order (so verification's chunks go to
/// whichever is free and the queue can run far ahead of the tree), and one
/// connection for the stored tiles verification compares meanwhile.
#[derive(Default)]
pub(crate) struct BulkConns {
    pub(crate) jobs: std::sync::Mutex<Option<flume::Sender<ReadJob>>>,
    pub(crate) tiles: std::sync::Mutex<Option<rusqlite::Connection>>,
}

pub(crate) type Bulk = std::sync::Arc<BulkConns>;

/// Work for a reader thread: given its connection, or why it has none.
pub(crate) type ReadJob = Box<dyn FnOnce(std::result::Result<&rusqlite::Connection, &str>) + Send>;

/// Reader threads: one per core (at least two, at most eight); more
/// would only contend with the thread that rebuilds the tree.
pub(crate) fn event_readers() -> usize {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(2)
        .clamp(2, 8)
}

/// Rows per chunk a reader reads and hashes in one go.
pub(crate) const READ_CHUNK: u64 = 4_096;

pub(crate) fn rb(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

pub(crate) fn poisoned<T>(_: T) -> StoreError {
    StoreError::Backend("the bulk reader's lock is poisoned".into())
}

pub(crate) fn open_bulk(file: &std::path::Path) -> Result<rusqlite::Connection> {
    let c = rusqlite::Connection::open_with_flags(
        file,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(rb)?;
    c.busy_timeout(Duration::from_secs(30)).map_err(rb)?;
    c.pragma_update(None, "cache_size", -65536).map_err(rb)?;
    c.pragma_update(None, "mmap_size", 4_294_967_296_i64)
        .map_err(rb)?;
    Ok(c)
}

/// Queues `job` for the reader threads (started on first use; they end
/// when the store is dropped) and waits for its answer.
pub(crate) async fn on_reader<T: Send + 'static>(
    bulk: &BulkConns,
    file: &std::path::Path,
    job: impl FnOnce(&rusqlite::Connection) -> Result<T> + Send + 'static,
) -> Result<T> {
    let rx = queue_read(bulk, file, job)?;
    rx.await
        .map_err(|_| StoreError::Backend("a bulk reader thread ended".into()))?
}

/// Queues `job` for the reader threads; its answer comes on the receiver.
pub(crate) fn queue_read<T: Send + 'static>(
    bulk: &BulkConns,
    file: &std::path::Path,
    job: impl FnOnce(&rusqlite::Connection) -> Result<T> + Send + 'static,
) -> Result<tokio::sync::oneshot::Receiver<Result<T>>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: ReadJob = Box::new(move |conn| {
        let out = match conn {
            Ok(c) => job(c),
            Err(why) => Err(StoreError::Backend(why.to_string())),
        };
        let _ = tx.send(out);
    });
    let mut jobs = bulk.jobs.lock().map_err(poisoned)?;
    let sender = match jobs.as_ref() {
        Some(s) => s,
        None => {
            let (s, r) = flume::unbounded::<ReadJob>();
            for i in 0..event_readers() {
                let (r, file) = (r.clone(), file.to_path_buf());
                std::thread::Builder::new()
                    .name(format!("ledger-reader-{i}"))
                    .spawn(move || {
                        let conn = open_bulk(&file).map_err(|e| e.to_string());
                        while let Ok(job) = r.recv() {
                            job(conn.as_ref().map_err(|e| e.as_str()));
                        }
                    })
                    .map_err(|e| StoreError::Backend(format!("a bulk reader thread: {e}")))?;
            }
            jobs.insert(s)
        }
    };
    sender
        .send(job)
        .map_err(|_| StoreError::Backend("the bulk readers ended".into()))?;
    Ok(rx)
}

/// The tile reader, opened on first use.
pub(crate) fn tile_reader<'a>(
    bulk: &'a BulkConns,
    file: &std::path::Path,
) -> Result<std::sync::MutexGuard<'a, Option<rusqlite::Connection>>> {
    let mut guard = bulk.tiles.lock().map_err(poisoned)?;
    if guard.is_none() {
        *guard = Some(open_bulk(file)?);
    }
    Ok(guard)
}

/// Stored tiles of one level from `from` on, read in place on bulk
/// connection 2 (verification compares every tile it rebuilds).
pub(crate) fn bulk_tiles_from(
    bulk: &Bulk,
    file: &std::path::Path,
    level: u8,
    from: u64,
    limit: u32,
) -> Result<Vec<Tile>> {
    let guard = tile_reader(bulk, file)?;
    let Some(conn) = guard.as_ref() else {
        return Err(StoreError::Backend("no bulk reader".into()));
    };
    let mut stmt = conn
        .prepare_cached(
            "SELECT idx, width, nodes FROM ledger_tiles WHERE level = ?1 AND idx >= ?2 ORDER BY idx LIMIT ?3",
        )
        .map_err(rb)?;
    let mut rows = stmt
        .query(rusqlite::params![
            i64::from(level),
            from as i64,
            i64::from(limit)
        ])
        .map_err(rb)?;
    let mut out = Vec::with_capacity(limit as usize);
    while let Some(r) = rows.next().map_err(rb)? {
        let idx: i64 = r.get(0).map_err(rb)?;
        let id = TileId {
            level,
            index: idx as u64,
        };
        out.push(tile_from_ref(
            id,
            r.get(1).map_err(rb)?,
            r.get_ref(2).map_err(rb)?,
        )?);
    }
    Ok(out)
}

/// Stored tiles by id (those that exist), on bulk connection 2.
pub(crate) fn bulk_read_tiles(
    bulk: &Bulk,
    file: &std::path::Path,
    ids: &[TileId],
) -> Result<Vec<Tile>> {
    let guard = tile_reader(bulk, file)?;
    let Some(conn) = guard.as_ref() else {
        return Err(StoreError::Backend("no bulk reader".into()));
    };
    let mut stmt = conn
        .prepare_cached("SELECT width, nodes FROM ledger_tiles WHERE level = ?1 AND idx = ?2")
        .map_err(rb)?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let mut rows = stmt
            .query(rusqlite::params![i64::from(id.level), id.index as i64])
            .map_err(rb)?;
        if let Some(r) = rows.next().map_err(rb)? {
            out.push(tile_from_ref(
                *id,
                r.get(0).map_err(rb)?,
                r.get_ref(1).map_err(rb)?,
            )?);
        }
    }
    Ok(out)
}

/// A tile from a bulk-read row's width and nodes.
pub(crate) fn tile_from_ref(
    id: TileId,
    width: i64,
    nodes: rusqlite::types::ValueRef<'_>,
) -> Result<Tile> {
    let nodes = match nodes {
        rusqlite::types::ValueRef::Blob(b) | rusqlite::types::ValueRef::Text(b) => b,
        _ => &[],
    };
    Tile::from_bytes(id, usize::try_from(width).unwrap_or(usize::MAX), nodes)
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Steps the events of a seq range in place on a reader thread's
/// connection, calling `f` with each row's seq, id and fields until it
/// returns false. A stored value of the wrong type fails that record
/// (named), not the batch.
pub(crate) fn bulk_event_rows(
    conn: &rusqlite::Connection,
    first_seq: i64,
    count: u64,
    mut f: impl FnMut(i64, &[u8], std::result::Result<EventCols<'_>, String>) -> bool,
) -> Result<()> {
    use rusqlite::types::ValueRef;
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq, id, ts_us, ts_off, user_id, action, doc, rest FROM events WHERE seq >= ?1 AND seq < ?2 ORDER BY seq",
        )
        .map_err(rb)?;
    let mut rows = stmt
        .query(rusqlite::params![first_seq, first_seq + count as i64])
        .map_err(rb)?;
    fn text<'a>(v: ValueRef<'a>, what: &str) -> std::result::Result<&'a str, String> {
        match v {
            ValueRef::Text(b) | ValueRef::Blob(b) => utf8_field(b, what),
            ValueRef::Null => Err(format!("{what} is missing")),
            _ => Err(format!("{what} is not text")),
        }
    }
    fn int(v: ValueRef<'_>, what: &str) -> std::result::Result<i64, String> {
        match v {
            ValueRef::Integer(i) => Ok(i),
            other => Err(format!("{what} {other:?} is not an integer")),
        }
    }
    while let Some(r) = rows.next().map_err(rb)? {
        let seq: i64 = r.get(0).map_err(rb)?;
        let v = |i: usize| r.get_ref(i).map_err(rb);
        let id: &[u8] = match v(1)? {
            ValueRef::Text(b) | ValueRef::Blob(b) => b,
            _ => b"",
        };
        let (us, off, user, action, doc, rest) = (v(2)?, v(3)?, v(4)?, v(5)?, v(6)?, v(7)?);
        let cols = (|| {
            let off = int(off, "ts_off")?;
            Ok(EventCols {
                us: int(us, "ts_us")?,
                off: i32::try_from(off)
                    .ok()
                    .filter(|o| o.abs() < 86_400)
                    .ok_or_else(|| format!("ts_off {off} is not a UTC offset"))?,
                user: text(user, "user_id")?,
                action: text(action, "action")?,
                doc: match doc {
                    ValueRef::Null => None,
                    d => Some(text(d, "doc")?),
                },
                rest: text(rest, "rest")?,
            })
        })();
        if !f(seq, id, cols) {
            break;
        }
    }
    Ok(())
}

/// Events as ledger records, read by the bulk reader.
pub(crate) fn bulk_event_records(
    conn: &rusqlite::Connection,
    first_seq: i64,
    count: u64,
) -> Result<Vec<LedgerRecord>> {
    let mut out = Vec::with_capacity(count as usize);
    bulk_event_rows(conn, first_seq, count, |seq, id, cols| {
        let canonical = cols.and_then(|c| {
            let mut body = Vec::with_capacity(64 + c.rest.len());
            c.write_body(&mut body);
            String::from_utf8(body).map_err(|e| e.to_string())
        });
        out.push(LedgerRecord {
            seq,
            record_id: String::from_utf8_lossy(id).into_owned(),
            canonical,
        });
        true
    })?;
    Ok(out)
}

/// Events' leaf hashes, read and hashed in place on a reader thread's
/// connection (one buffer for every entry).
pub(crate) fn bulk_event_leaves(
    conn: &rusqlite::Connection,
    first_seq: i64,
    count: u64,
) -> Result<LeafChunk> {
    let mut out = LeafChunkBuilder::new(first_seq, count);
    let mut buf = custodian_ledger::entry::LeafBuf::new();
    bulk_event_rows(conn, first_seq, count, |seq, id, cols| {
        let leaf = match (std::str::from_utf8(id), cols) {
            (Ok(record_id), Ok(c)) => {
                let entry = buf.start(kinds::EVENT, record_id);
                c.write_body(entry);
                Ok(buf.finish())
            }
            (Ok(record_id), Err(why)) => Err((record_id.to_string(), why)),
            (Err(_), _) => Err((
                String::from_utf8_lossy(id).into_owned(),
                "id is not UTF-8 text".to_string(),
            )),
        };
        out.push(seq, leaf)
    })?;
    Ok(out.finish())
}
