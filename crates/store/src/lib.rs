//! The storage interface of Custodian's shell.
//!
//! One trait, [`Store`], implemented by one crate per backend
//! (`custodian-store-sqlite`, `custodian-store-postgres`), each with its own
//! migrations. Stores persist what they are given without judging it: the
//! rules (what is a duplicate, what a register change means) live in the
//! core and the shell; a store only guarantees atomic batches and
//! idempotence by id.

use async_trait::async_trait;
use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use custodian_core::{ContactReport, Document, Event, HrEvent, Level, Person};

pub mod audit;
#[cfg(feature = "conformance")]
pub mod conformance;
mod event_cols;
pub mod ledger;
pub mod ledgered;
pub mod private;
pub mod sql_store;

pub use event_cols::EventCols;

pub use ledger::{
    CheckpointRow, LeafChunk, LeafChunkBuilder, LeafRead, LeafStop, LedgerContext, LedgerRecord,
    LedgerRun, LedgerSnapshot, LedgerUpdate,
};

/// Which backend a store is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Errors a store reports. Driver errors are turned into text here, never
/// passed through, so callers do not depend on a driver.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot reach the store at {target}: {reason}")]
    Unreachable { target: String, reason: String },
    #[error("the store's schema could not be brought up to date: {0}")]
    Migration(String),
    #[error("no {what} '{id}'")]
    NotFound { what: &'static str, id: String },
    #[error("{what} '{id}' already exists")]
    Conflict { what: &'static str, id: String },
    #[error("the store holds a value it cannot read ({0})")]
    Corrupt(String),
    #[error("store error: {0}")]
    Backend(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// An accepted activity event, ready to store: the event and its
/// [`event_rest`](custodian_core::interchange::event_rest) as JSON text (host,
/// the action's fields and extension fields), kept next to the indexed
/// columns so nothing is lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub event: Event,
    pub rest: String,
    /// The event's ledger leaf hash, computed where it is parsed (off the
    /// store's critical path).
    pub leaf: custodian_ledger::Hash,
}

impl NewEvent {
    pub fn new(event: Event) -> NewEvent {
        let rest = custodian_core::interchange::event_rest_json(&event);
        let leaf = ledger::event_leaf(&event, &rest);
        NewEvent { event, rest, leaf }
    }
}

/// An accepted contact report and the text it arrived as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewContact {
    pub report: ContactReport,
    pub raw: String,
}

/// An alert to keep: its id is derived from its content, so running
/// detection again over the same data stores nothing new.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewAlert {
    pub id: String,
    pub user: String,
    pub raised_at: DateTime<FixedOffset>,
    pub severity: String,
    pub score: f64,
    /// The alert in the interchange format's shape, canonical JSON (sorted
    /// keys); this is what the ledger logs.
    pub body: String,
}

/// A stored alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredAlert {
    pub seq: i64,
    pub id: String,
    pub user: String,
    pub raised_at: DateTime<FixedOffset>,
    pub severity: String,
    pub score: f64,
    pub body: String,
}

/// A local account of the server. The password is kept only as an Argon2id
/// PHC string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub username: String,
    /// employee, owner, analyst, auditor or admin.
    pub role: String,
    /// The person in the directory the account belongs to, if any.
    pub user_id: Option<String>,
    pub password_hash: String,
    pub disabled: bool,
}

/// A detection engine's saved state (`custodian_app::detection::live`):
/// derived data, not ledgered, replaced as a whole each time it is saved.
/// `meta` is the saver's JSON (the store sequence and data time it
/// covers, what it was made from); `state` the engine's own bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineCheckpoint {
    pub name: String,
    pub meta: String,
    pub state: Vec<u8>,
    pub saved_at: String,
}

/// An API token for a machine: only its SHA-256 is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub token_sha256: String,
    pub name: String,
    pub role: String,
    pub created_at: String,
    /// When it was revoked (RFC 3339); a revoked token is refused.
    pub revoked_at: Option<String>,
}

/// A register entry's content, encrypted (see `custodian-broker`): the
/// store never holds the plaintext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedContent {
    pub doc_id: String,
    /// Which content key sealed it.
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
    /// SHA-256 of the plaintext, hex.
    pub sha256: String,
    pub media_type: String,
    pub size: u64,
}

/// A broker record: an acknowledgement of the secrecy policy, an owner's
/// approval, a copy issued, or a refused request. Ledgered (kind
/// `custody`) with its body as the canonical encoding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustodyRecord {
    /// Derived from the body.
    pub id: String,
    /// `acknowledgement`, `approval`, `copy` or `refusal`.
    pub kind: String,
    pub doc_id: Option<String>,
    pub user_id: String,
    pub at: DateTime<FixedOffset>,
    /// Canonical JSON (sorted keys).
    pub body: String,
}

impl CustodyRecord {
    /// A record whose id is derived from its body (canonical JSON: sorted
    /// keys), so the same record made twice is stored once.
    pub fn new(
        kind: &str,
        doc: Option<&str>,
        user: &str,
        at: DateTime<FixedOffset>,
        body: &serde_json::Value,
    ) -> CustodyRecord {
        use sha2::Digest;
        // serde_json's map is ordered by key: this is sorted-key JSON.
        let body = body.to_string();
        let h = sha2::Sha256::digest(body.as_bytes());
        CustodyRecord {
            id: format!("K-{}", hex::encode(&h[..12])),
            kind: kind.into(),
            doc_id: doc.map(str::to_string),
            user_id: user.into(),
            at,
            body,
        }
    }
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredEvent {
    pub id: String,
    pub ts: DateTime<FixedOffset>,
    pub user: String,
    pub action: String,
    pub doc: Option<String>,
    /// The event's canonical encoding
    /// ([`event_to_json`](custodian_core::interchange::event_to_json)).
    pub canonical: String,
}

impl StoredEvent {
    /// Rebuilds a stored event from its columns.
    pub fn from_columns(
        id: String,
        ts: DateTime<FixedOffset>,
        user: String,
        action: String,
        doc: Option<String>,
        rest: &str,
    ) -> Result<StoredEvent> {
        use custodian_core::interchange::{event_from_parts, event_to_json};
        let event = event_from_parts(&id, &ts.to_rfc3339(), &user, &action, rest)
            .map_err(|e| StoreError::Corrupt(format!("event '{id}': {e}")))?;
        Ok(StoredEvent {
            canonical: event_to_json(&event),
            id,
            ts,
            user,
            action,
            doc,
        })
    }
}

/// A line or row that could not be accepted, kept aside with its place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reject {
    /// The file, as the importer names it (the dataset folder's path and the
    /// file name).
    pub file: String,
    pub line: u64,
    pub reason: String,
    /// The line's bytes (possibly cut at the reader's limit).
    #[serde(skip)]
    pub raw: Vec<u8>,
}

/// One change to the register: the evidence that secrecy was managed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegisterChange {
    pub doc_id: String,
    pub at: DateTime<FixedOffset>,
    /// Who made it: a user id, or `import:<folder>` for a dataset import.
    pub actor: String,
    /// `designated` (entered the register), `level`, `owner`, `projects`,
    /// `title`, `kind`.
    pub field: String,
    pub old: Option<String>,
    pub new: String,
}

/// How many of each record a store holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Counts {
    pub people: u64,
    pub documents: u64,
    pub events: u64,
    pub hr_events: u64,
    pub contact_reports: u64,
    pub rejected_lines: u64,
    pub register_changes: u64,
}

/// What a batch write did: how many records were new. The rest were already
/// there (re-deliveries) and were left as they were.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Inserted(pub u64);

/// The store Custodian's shell works with.
///
/// Every batch method is atomic: after a crash either the whole batch is
/// visible or none of it. Batches are idempotent by id.
#[async_trait]
pub trait Store: Send + Sync {
    fn backend(&self) -> Backend;

    /// Where the store is, safe to print (no password).
    fn location(&self) -> String;

    /// Inserts people or replaces them by `user_id`.
    async fn put_people(&self, people: &[Person]) -> Result<()>;

    /// Inserts register entries or replaces them by `doc_id`, together with
    /// the register changes that describe the difference, in one
    /// transaction; the changes are appended to the ledger.
    async fn put_documents(
        &self,
        docs: &[Document],
        changes: &[RegisterChange],
        ledger: &LedgerContext,
    ) -> Result<()>;

    /// Inserts events whose id is new and appends them to the ledger;
    /// returns how many were new. Takes the batch by value so drivers can
    /// move strings instead of copying them.
    async fn insert_events(
        &self,
        events: Vec<NewEvent>,
        ledger: &LedgerContext,
    ) -> Result<Inserted>;

    /// Prepares for loading many events: drops secondary indexes that are
    /// cheaper to rebuild once than to maintain row by row. Uniqueness of
    /// ids is still enforced. Opening the store rebuilds whatever a killed
    /// load left dropped.
    async fn begin_bulk_load(&self) -> Result<()>;

    /// Rebuilds what [`Store::begin_bulk_load`] dropped.
    async fn end_bulk_load(&self) -> Result<()>;

    /// Inserts HR events whose (derived) id is new; ledgered.
    async fn insert_hr_events(
        &self,
        events: &[HrEvent],
        ledger: &LedgerContext,
    ) -> Result<Inserted>;

    /// Inserts contact reports whose id is new; ledgered.
    async fn insert_contacts(
        &self,
        reports: &[NewContact],
        ledger: &LedgerContext,
    ) -> Result<Inserted>;

    /// Keeps rejected lines; the same (file, line, bytes) is kept once.
    async fn insert_rejects(&self, rejects: &[Reject]) -> Result<Inserted>;

    async fn person(&self, user_id: &str) -> Result<Option<Person>>;
    async fn people(&self) -> Result<Vec<Person>>;
    async fn document(&self, doc_id: &str) -> Result<Option<Document>>;
    async fn documents(&self) -> Result<Vec<Document>>;

    /// HR events of one person, oldest first.
    async fn hr_events_for(&self, user_id: &str) -> Result<Vec<HrEvent>>;

    /// Every HR event, oldest first.
    async fn hr_events(&self) -> Result<Vec<HrEvent>>;

    /// Up to `limit` events after store position `after_seq`, in store
    /// order, each with its position and as an `events.jsonl` line.
    async fn event_lines(&self, after_seq: i64, limit: u32) -> Result<Vec<(i64, String)>>;

    /// Stores (or replaces) a register entry's sealed content and, in the
    /// same transaction, the register change that records it (ledgered).
    async fn put_content(
        &self,
        content: &SealedContent,
        change: &RegisterChange,
        ledger: &LedgerContext,
    ) -> Result<()>;

    /// A register entry's sealed content.
    async fn content(&self, doc_id: &str) -> Result<Option<SealedContent>>;

    /// Which key sealed each stored content: (doc_id, key_id).
    async fn content_keys(&self) -> Result<Vec<(String, String)>>;

    /// Saves a checkpoint, replacing the one of the same name (in one
    /// statement: after a crash the old one or the new one is there).
    async fn put_engine_checkpoint(&self, checkpoint: &EngineCheckpoint) -> Result<()>;
    async fn engine_checkpoint(&self, name: &str) -> Result<Option<EngineCheckpoint>>;

    /// Creates or replaces an account.
    async fn put_account(&self, account: &Account) -> Result<()>;
    async fn account(&self, username: &str) -> Result<Option<Account>>;
    async fn accounts(&self) -> Result<Vec<Account>>;
    /// Adds an API token; a name already taken is `StoreError::Conflict`.
    async fn put_api_token(&self, token: &ApiToken) -> Result<()>;
    async fn api_token(&self, token_sha256: &str) -> Result<Option<ApiToken>>;
    /// Every token, revoked ones too, by name.
    async fn api_tokens(&self) -> Result<Vec<ApiToken>>;
    /// Marks the token called `name` revoked at `at` (RFC 3339); false when
    /// there is no such token or it was revoked already.
    async fn revoke_api_token(&self, name: &str, at: &str) -> Result<bool>;

    /// Inserts broker records whose id is new; ledgered.
    async fn insert_custody(
        &self,
        records: &[CustodyRecord],
        ledger: &LedgerContext,
    ) -> Result<Inserted>;

    /// Broker records of a kind, oldest first, optionally for one document
    /// and/or one person.
    async fn custody_records(
        &self,
        kind: &str,
        doc_id: Option<&str>,
        user_id: Option<&str>,
    ) -> Result<Vec<CustodyRecord>>;

    /// Inserts alerts whose id is new; ledgered.
    async fn insert_alerts(&self, alerts: &[NewAlert], ledger: &LedgerContext) -> Result<Inserted>;

    /// Stored alerts, highest score first.
    async fn alerts(&self, limit: u32) -> Result<Vec<StoredAlert>>;

    /// The latest `limit` events of one person, newest first.
    async fn recent_events_for(&self, user_id: &str, limit: u32) -> Result<Vec<StoredEvent>>;

    /// The register's history of one entry, oldest first.
    async fn register_history(&self, doc_id: &str) -> Result<Vec<RegisterChange>>;

    /// Contact reports, newest first.
    async fn contact_reports(&self) -> Result<Vec<ContactReport>>;

    /// The most recent rejected lines, newest first.
    async fn rejects(&self, limit: u32) -> Result<Vec<Reject>>;

    async fn counts(&self) -> Result<Counts>;

    /// The ledger's runs, in leaf order.
    async fn ledger_runs(&self) -> Result<Vec<LedgerRun>>;

    /// The runs, the checkpoints and how many records of each of `kinds`
    /// are stored, read in one consistent snapshot: verification compares
    /// them, and a batch committed between separate reads would look like
    /// records outside the ledger or a checkpoint beyond the log.
    async fn ledger_snapshot(&self, kinds: &[&str]) -> Result<LedgerSnapshot>;

    /// Records of `kind` with seq in `[first_seq, first_seq + count)`, in
    /// seq order, with their canonical encodings. Missing rows are simply
    /// absent (verification notices).
    async fn ledger_records(
        &self,
        kind: &str,
        first_seq: i64,
        count: u64,
    ) -> Result<Vec<LedgerRecord>>;

    /// How many records of `kind` the store holds.
    async fn ledger_record_count(&self, kind: &str) -> Result<u64>;

    /// The leaf hashes of the records of `kind` with seq `[first_seq,
    /// first_seq + count)`, recomputed from what is stored (what
    /// verification compares with the log): chunks in seq order, each
    /// continuing the one before; the first missing or unreadable record
    /// stops its chunk and ends the list. The default hashes
    /// [`Store::ledger_records`]; a backend may read and hash chunks in
    /// parallel.
    async fn ledger_leaves(
        &self,
        kind: &str,
        first_seq: i64,
        count: u64,
    ) -> Result<Vec<LeafChunk>> {
        default_ledger_leaves(self, kind, first_seq, count).await
    }

    /// The seq of the record of `kind` with id `record_id`.
    async fn record_seq(&self, kind: &str, record_id: &str) -> Result<Option<i64>>;

    /// Tiles by id, each at least the given width (possibly wider, from a
    /// cache of earlier reads); absent ones are left out. For proofs and
    /// export; verification reads with [`Store::ledger_tiles_from`].
    async fn ledger_tiles(
        &self,
        want: &[(custodian_ledger::TileId, usize)],
    ) -> Result<Vec<custodian_ledger::Tile>>;

    /// Up to `limit` tiles of `level` from index `from`, in index order.
    async fn ledger_tiles_from(
        &self,
        level: u8,
        from: u64,
        limit: u32,
    ) -> Result<Vec<custodian_ledger::Tile>>;

    /// Every stored checkpoint, smallest first.
    async fn ledger_checkpoints(&self) -> Result<Vec<CheckpointRow>>;
}

/// [`Store::ledger_leaves`] by hashing [`Store::ledger_records`] (for
/// backends that override it for some kinds only).
pub async fn default_ledger_leaves<S: Store + ?Sized>(
    store: &S,
    kind: &str,
    first_seq: i64,
    count: u64,
) -> Result<Vec<LeafChunk>> {
    let records = store.ledger_records(kind, first_seq, count).await?;
    let rows = records.into_iter().map(|r| {
        let leaf = match r.canonical {
            Ok(c) => {
                let data = custodian_ledger::entry::encode_entry(kind, &r.record_id, &c);
                Ok((custodian_ledger::leaf_hash(&data), data.len() as u64))
            }
            Err(why) => Err((r.record_id, why)),
        };
        (r.seq, leaf)
    });
    Ok(vec![LeafChunk::collect(first_seq, count, rows)])
}

/// For a backend's [`Store::ledger_leaves`]: splits the seqs from
/// `first_seq` on (`count` of them) into chunks of `chunk` rows, starts
/// every one with `start` (which hands it to other threads or tasks)
/// before awaiting any, and collects their leaves in order up to the
/// first chunk that stops.
pub async fn leaves_in_chunks<F>(
    first_seq: i64,
    count: u64,
    chunk: u64,
    mut start: impl FnMut(i64, u64) -> Result<F>,
) -> Result<Vec<LeafChunk>>
where
    F: std::future::Future<Output = Result<LeafChunk>>,
{
    let mut parts = Vec::new();
    let mut from = 0;
    while from < count {
        let n = chunk.max(1).min(count - from);
        parts.push(start(first_seq + from as i64, n)?);
        from += n;
    }
    let mut out = Vec::with_capacity(parts.len());
    for p in parts {
        let c = p.await?;
        let stopped = c.stop.is_some();
        out.push(c);
        if stopped {
            break;
        }
    }
    Ok(out)
}

/// The leaf index of a record, from the runs.
pub fn leaf_of(runs: &[LedgerRun], kind: &str, seq: i64) -> Option<u64> {
    runs.iter()
        .find(|r| r.kind == kind && seq >= r.first_seq && ((seq - r.first_seq) as u64) < r.count)
        .map(|r| r.first_leaf + (seq - r.first_seq) as u64)
}

/// Encodes a level for a store column.
pub fn level_to_db(l: Level) -> i16 {
    i16::from(l.rank())
}

/// Decodes a stored level.
pub fn level_from_db(v: i64) -> Result<Level> {
    u8::try_from(v)
        .ok()
        .and_then(Level::from_rank)
        .ok_or_else(|| StoreError::Corrupt(format!("level rank {v}")))
}

/// The key under which a rejected line is kept once: SHA-256 over the file,
/// the line number and the bytes.
pub fn reject_key(r: &Reject) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(r.file.as_bytes());
    h.update([0]);
    h.update(r.line.to_be_bytes());
    h.update([0]);
    h.update(&r.raw);
    hex::encode(h.finalize())
}

/// Splits a timestamp into UTC microseconds and the offset in seconds, the
/// form both backends store.
pub fn ts_to_db(ts: &DateTime<FixedOffset>) -> (i64, i32) {
    (ts.timestamp_micros(), ts.offset().local_minus_utc())
}

/// Rebuilds a timestamp stored by [`ts_to_db`].
pub fn ts_from_db(us: i64, offset: i64) -> Result<DateTime<FixedOffset>> {
    let off = i32::try_from(offset)
        .ok()
        .and_then(FixedOffset::east_opt)
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp offset {offset}")))?;
    DateTime::from_timestamp_micros(us)
        .map(|t| t.with_timezone(&off))
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp {us}")))
}

/// Column forms shared by both backends, so a row means the same thing in
/// each.
pub mod columns {
    use chrono::NaiveDate;
    use custodian_core::model::{join_projects, split_projects};
    use custodian_core::{Document, Medium, Person, Projects};

    use crate::{level_from_db, Result, StoreError};

    pub fn date(d: NaiveDate) -> String {
        d.format("%Y-%m-%d").to_string()
    }

    pub fn parse_date(s: &str) -> Result<NaiveDate> {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| StoreError::Corrupt(format!("date '{s}'")))
    }

    pub fn person_projects(p: &Person) -> String {
        join_projects(&p.projects)
    }

    /// A person row's fields, in table order.
    #[allow(clippy::too_many_arguments)]
    pub fn person(
        user_id: String,
        name: String,
        email: String,
        org_unit: String,
        site: String,
        role: String,
        manager_id: Option<String>,
        clearance: i64,
        projects: &str,
        hire_date: &str,
        leave_date: Option<&str>,
    ) -> Result<Person> {
        Ok(Person {
            user_id,
            name,
            email,
            org_unit,
            site,
            role,
            manager_id,
            clearance: level_from_db(clearance)?,
            projects: split_projects(projects),
            hire_date: parse_date(hire_date)?,
            leave_date: leave_date.map(parse_date).transpose()?,
        })
    }

    /// A document row's fields, in table order.
    #[allow(clippy::too_many_arguments)]
    pub fn document(
        doc_id: String,
        title: String,
        classification: i64,
        owner_id: String,
        projects: &str,
        kind: String,
        created: &str,
        medium: &str,
    ) -> Result<Document> {
        Ok(Document {
            doc_id,
            title,
            classification: level_from_db(classification)?,
            owner_id,
            projects: Projects::parse(projects),
            kind,
            created: parse_date(created)?,
            medium: Medium::parse(medium)
                .ok_or_else(|| StoreError::Corrupt(format!("medium '{medium}'")))?,
        })
    }
}
