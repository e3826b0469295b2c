//! One SQL store, two engines: the [`Store`](crate::Store) methods whose
//! statements PostgreSQL and SQLite both run, written once.
//!
//! Rules:
//! - Only statements both engines accept are written here: numbered `$n`
//!   placeholders (sqlx's SQLite driver binds them by number, and a number
//!   used twice is one parameter), `INSERT … ON CONFLICT … DO UPDATE` /
//!   `DO NOTHING`, `CAST(… AS TEXT)`, `count(*)`. What differs between the
//!   engines is a parameter of the macro, never a branch on the backend:
//!   the integer types its `INTEGER` and `SMALLINT` columns decode to, and
//!   the collation that makes text order byte order (PostgreSQL's `"C"`;
//!   SQLite's default already is).
//! - What only one engine does well stays in the backend: the event batch
//!   insert (PostgreSQL's `COPY`, SQLite's multi-row insert), reading events
//!   back in bulk, the ledger's leaves and tiles in bulk, opening and
//!   locking. The backend provides them as the hooks listed on
//!   [`sql_store!`], which the shared methods call.
//! - The rows a backend reads are decoded here too (one decoder per table,
//!   each naming the column it could not read), so both backends build the
//!   same values from the same columns ([`rows`]); so is the ledger's side
//!   read back ([`reads`]).

mod reads;
mod rows;

/// Implements [`Store`](crate::Store) for a SQL backend, with its ledgered
/// transaction ([`sql_ledger_tx!`](crate::sql_ledger_tx)), its row decoders
/// and its ledger readers, in a module `sql` of the invoking crate.
///
/// ```ignore
/// custodian_store::sql_store! {
///     store: PgStore, db: sqlx::Postgres, conn: sqlx::PgConnection,
///     row: sqlx::postgres::PgRow, int: i32, small: i16, collate: " COLLATE \"C\"",
///     backend: Backend::Postgres,
/// }
/// ```
///
/// The store type (named by `store`, in the invoking module) provides:
/// - fields `pool: sqlx::Pool<db>`, `tiles: custodian_store::ledger::TileCache`
///   and `location: String` (what [`Store::location`](crate::Store::location)
///   says);
/// - `async fn begin_write(&self) -> Result<sqlx::Transaction<'static, db>>`
///   for writes outside the ledger, and `async fn write_tx(&self)` for
///   ledgered writes (holding whatever makes ledger writers take turns);
/// - `async fn snapshot_tx(&self)`: a read-only transaction whose reads all
///   see one snapshot;
/// - `fn prepare_event_rows(events: Vec<NewEvent>) -> Rows`, run before the
///   ledger lock is taken, and `async fn insert_event_rows(&self, tx: &mut
///   conn, s0: i64, rows: Rows) -> Result<u64>`: inserts the events whose
///   ids are new, numbered `s0 + 1…` in their order, skipping repeated ids
///   (the first wins), and says how many it inserted;
/// - `async fn event_lines_in(&self, after_seq: i64, limit: u32)`, the
///   events after a position as interchange lines;
/// - `async fn event_records(&self, first_seq: i64, count: u64) ->
///   Result<Vec<LedgerRecord>>` and `async fn event_leaves_in(&self,
///   first_seq: i64, count: u64) -> Result<Option<Vec<LeafChunk>>>` (None:
///   hash [`event_records`] one by one);
/// - `async fn read_tiles(&self, ids: &[TileId]) -> Result<Vec<Tile>>` and
///   `async fn tiles_from_in(&self, level: u8, from: u64, limit: u32)`
///   (`tiles_from_rows`, generated here, reads them row by row).
#[macro_export]
macro_rules! sql_store {
    (
        store: $store:ident,
        db: $db:ty,
        conn: $conn:ty,
        row: $row:ty,
        int: $int:ty,
        small: $small:ty,
        collate: $collate:literal,
        backend: $backend:expr $(,)?
    ) => {
        /// The statements this backend shares with the other SQL backend
        /// (expanded from `custodian_store::sql_store!`).
        pub(crate) mod sql {
            use super::$store;
            use ::custodian_core::interchange::{contact_to_json, hr_to_json, parse_contact, parse_hr};
            use ::custodian_core::{ContactReport, Document, HrEvent, Person};
            use ::custodian_ledger::entry::kinds;
            use ::custodian_ledger::{Hash, Tile, TileId};
            use ::sqlx::Row;
            use $crate::ledgered::{append_ledger, insert_ledgered, LedgerTx};
            use $crate::ledger::register_change_json;
            use $crate::{
                columns, level_to_db, reject_key, ts_from_db, Account, ApiToken, EngineCheckpoint,
                CheckpointRow, Counts, CustodyRecord, Inserted, LeafChunk, LedgerContext,
                LedgerRecord, LedgerRun, LedgerSnapshot, NewAlert, NewContact, NewEvent,
                RegisterChange, Reject, Result, SealedContent, Store, StoreError, StoredAlert,
                StoredEvent,
            };

            $crate::sql_ledger_tx!($conn, run_row, tile_from_row);

            pub(crate) fn be(e: ::sqlx::Error) -> StoreError {
                $crate::ledgered::backend_error(e)
            }

            /// The table that holds the records of a ledgered kind.
            pub(crate) fn table_of(kind: &str) -> Result<&'static str> {
                Ok(match kind {
                    kinds::EVENT => "events",
                    kinds::HR_EVENT => "hr_events",
                    kinds::CONTACT_REPORT => "contact_reports",
                    kinds::REGISTER_CHANGE => "register_changes",
                    kinds::ALERT => "alerts",
                    kinds::CUSTODY => "custody_records",
                    other => {
                        return Err(StoreError::Backend(format!("unknown ledger kind '{other}'")))
                    }
                })
            }

            $crate::sql_rows!($row, $int, $small);

            $crate::sql_ledger_reads!($store, $db, $conn, $small);

            #[::async_trait::async_trait]
            impl Store for $store {
                fn backend(&self) -> $crate::Backend {
                    $backend
                }

                fn location(&self) -> String {
                    self.location.clone()
                }

                async fn event_lines(&self, after_seq: i64, limit: u32) -> Result<Vec<(i64, String)>> {
                    self.event_lines_in(after_seq, limit).await
                }

                async fn ledger_records(
                    &self,
                    kind: &str,
                    first_seq: i64,
                    count: u64,
                ) -> Result<Vec<LedgerRecord>> {
                    if kind == kinds::EVENT {
                        return self.event_records(first_seq, count).await;
                    }
                    let mut conn = self.pool.acquire().await.map_err(be)?;
                    fetch_records(&mut conn, kind, first_seq, count).await
                }

                async fn ledger_leaves(
                    &self,
                    kind: &str,
                    first_seq: i64,
                    count: u64,
                ) -> Result<Vec<LeafChunk>> {
                    if kind == kinds::EVENT {
                        if let Some(chunks) = self.event_leaves_in(first_seq, count).await? {
                            return Ok(chunks);
                        }
                    }
                    $crate::default_ledger_leaves(self, kind, first_seq, count).await
                }

                async fn ledger_tiles_from(&self, level: u8, from: u64, limit: u32) -> Result<Vec<Tile>> {
                    self.tiles_from_in(level, from, limit).await
                }

                async fn put_people(&self, people: &[Person]) -> Result<()> {
                    let mut tx = self.begin_write().await?;
                    for p in people {
                        ::sqlx::query(
                            "INSERT INTO people (user_id, name, email, org_unit, site, role, manager_id, clearance, projects, hire_date, leave_date) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)
                             ON CONFLICT (user_id) DO UPDATE SET name=EXCLUDED.name, email=EXCLUDED.email, org_unit=EXCLUDED.org_unit, site=EXCLUDED.site, role=EXCLUDED.role, manager_id=EXCLUDED.manager_id, clearance=EXCLUDED.clearance, projects=EXCLUDED.projects, hire_date=EXCLUDED.hire_date, leave_date=EXCLUDED.leave_date",
                        )
                        .bind(&p.user_id)
                        .bind(&p.name)
                        .bind(&p.email)
                        .bind(&p.org_unit)
                        .bind(&p.site)
                        .bind(&p.role)
                        .bind(&p.manager_id)
                        .bind(<$small>::from(level_to_db(p.clearance)))
                        .bind(columns::person_projects(p))
                        .bind(columns::date(p.hire_date))
                        .bind(p.leave_date.map(columns::date))
                        .execute(&mut *tx)
                        .await
                        .map_err(be)?;
                    }
                    tx.commit().await.map_err(be)
                }

                async fn put_documents(
                    &self,
                    docs: &[Document],
                    changes: &[RegisterChange],
                    ledger: &LedgerContext,
                ) -> Result<()> {
                    let mut tx = self.write_tx().await?;
                    for d in docs {
                        ::sqlx::query(
                            "INSERT INTO documents (doc_id, title, classification, owner_id, projects, kind, created, medium) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)
                             ON CONFLICT (doc_id) DO UPDATE SET title=EXCLUDED.title, classification=EXCLUDED.classification, owner_id=EXCLUDED.owner_id, projects=EXCLUDED.projects, kind=EXCLUDED.kind, created=EXCLUDED.created, medium=EXCLUDED.medium",
                        )
                        .bind(&d.doc_id)
                        .bind(&d.title)
                        .bind(<$small>::from(level_to_db(d.classification)))
                        .bind(&d.owner_id)
                        .bind(d.projects.to_field())
                        .bind(&d.kind)
                        .bind(columns::date(d.created))
                        .bind(d.medium.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(be)?;
                    }
                    insert_changes(&mut tx, changes, ledger).await?;
                    tx.commit().await.map_err(be)
                }

                async fn put_content(
                    &self,
                    content: &SealedContent,
                    change: &RegisterChange,
                    ledger: &LedgerContext,
                ) -> Result<()> {
                    let mut tx = self.write_tx().await?;
                    ::sqlx::query(
                        "INSERT INTO contents (doc_id, key_id, nonce, ciphertext, sha256, media_type, size) VALUES ($1,$2,$3,$4,$5,$6,$7)
                         ON CONFLICT (doc_id) DO UPDATE SET key_id = EXCLUDED.key_id, nonce = EXCLUDED.nonce, ciphertext = EXCLUDED.ciphertext,
                         sha256 = EXCLUDED.sha256, media_type = EXCLUDED.media_type, size = EXCLUDED.size",
                    )
                    .bind(&content.doc_id)
                    .bind(&content.key_id)
                    .bind(&content.nonce)
                    .bind(&content.ciphertext)
                    .bind(&content.sha256)
                    .bind(&content.media_type)
                    .bind(content.size as i64)
                    .execute(&mut *tx)
                    .await
                    .map_err(be)?;
                    insert_changes(&mut tx, std::slice::from_ref(change), ledger).await?;
                    tx.commit().await.map_err(be)
                }

                async fn content(&self, doc_id: &str) -> Result<Option<SealedContent>> {
                    ::sqlx::query("SELECT * FROM contents WHERE doc_id = $1")
                        .bind(doc_id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(be)?
                        .map(|r| content_row(&r))
                        .transpose()
                }

                async fn content_keys(&self) -> Result<Vec<(String, String)>> {
                    let rows = ::sqlx::query(concat!("SELECT doc_id, key_id FROM contents ORDER BY doc_id", $collate))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(be)?;
                    rows.iter()
                        .map(|r| Ok((r.try_get(0).map_err(be)?, r.try_get(1).map_err(be)?)))
                        .collect()
                }

                async fn put_engine_checkpoint(&self, c: &EngineCheckpoint) -> Result<()> {
                    ::sqlx::query("INSERT INTO engine_checkpoints (name, meta, state, saved_at) VALUES ($1,$2,$3,$4) ON CONFLICT (name) DO UPDATE SET meta = EXCLUDED.meta, state = EXCLUDED.state, saved_at = EXCLUDED.saved_at")
                        .bind(&c.name)
                        .bind(&c.meta)
                        .bind(&c.state)
                        .bind(&c.saved_at)
                        .execute(&self.pool)
                        .await
                        .map_err(be)?;
                    Ok(())
                }

                async fn engine_checkpoint(&self, name: &str) -> Result<Option<EngineCheckpoint>> {
                    let row = ::sqlx::query("SELECT name, meta, state, saved_at FROM engine_checkpoints WHERE name = $1")
                        .bind(name)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(be)?;
                    row.map(|r| {
                        Ok(EngineCheckpoint {
                            name: r.try_get("name").map_err(be)?,
                            meta: r.try_get("meta").map_err(be)?,
                            state: r.try_get("state").map_err(be)?,
                            saved_at: r.try_get("saved_at").map_err(be)?,
                        })
                    })
                    .transpose()
                }

                async fn put_account(&self, a: &Account) -> Result<()> {
                    ::sqlx::query("INSERT INTO accounts (username, role, user_id, password_hash, disabled) VALUES ($1,$2,$3,$4,$5) ON CONFLICT (username) DO UPDATE SET role = EXCLUDED.role, user_id = EXCLUDED.user_id, password_hash = EXCLUDED.password_hash, disabled = EXCLUDED.disabled")
                        .bind(&a.username)
                        .bind(&a.role)
                        .bind(&a.user_id)
                        .bind(&a.password_hash)
                        .bind(a.disabled)
                        .execute(&self.pool)
                        .await
                        .map_err(be)?;
                    Ok(())
                }

                async fn account(&self, username: &str) -> Result<Option<Account>> {
                    ::sqlx::query("SELECT * FROM accounts WHERE username = $1")
                        .bind(username)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(be)?
                        .map(|r| account_row(&r))
                        .transpose()
                }

                async fn accounts(&self) -> Result<Vec<Account>> {
                    let rows = ::sqlx::query("SELECT * FROM accounts ORDER BY username")
                        .fetch_all(&self.pool)
                        .await
                        .map_err(be)?;
                    rows.iter().map(account_row).collect()
                }

                async fn put_api_token(&self, t: &ApiToken) -> Result<()> {
                    ::sqlx::query(
                        "INSERT INTO api_tokens (token_sha256, name, role, created_at) VALUES ($1,$2,$3,$4)",
                    )
                    .bind(&t.token_sha256)
                    .bind(&t.name)
                    .bind(&t.role)
                    .bind(&t.created_at)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| match &e {
                        // Names are unique (and so, by chance never met,
                        // are hashes): a second one is a conflict, not a
                        // failure of the store.
                        ::sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict {
                            what: "API token",
                            id: t.name.clone(),
                        },
                        _ => be(e),
                    })?;
                    Ok(())
                }

                async fn api_token(&self, token_sha256: &str) -> Result<Option<ApiToken>> {
                    ::sqlx::query("SELECT * FROM api_tokens WHERE token_sha256 = $1")
                        .bind(token_sha256)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(be)?
                        .map(|r| token_row(&r))
                        .transpose()
                }

                async fn api_tokens(&self) -> Result<Vec<ApiToken>> {
                    let rows = ::sqlx::query("SELECT * FROM api_tokens ORDER BY name")
                        .fetch_all(&self.pool)
                        .await
                        .map_err(be)?;
                    rows.iter().map(token_row).collect()
                }

                async fn revoke_api_token(&self, name: &str, at: &str) -> Result<bool> {
                    let done = ::sqlx::query(
                        "UPDATE api_tokens SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL",
                    )
                    .bind(at)
                    .bind(name)
                    .execute(&self.pool)
                    .await
                    .map_err(be)?;
                    Ok(done.rows_affected() == 1)
                }

                async fn insert_events(
                    &self,
                    events: Vec<NewEvent>,
                    ledger: &LedgerContext,
                ) -> Result<Inserted> {
                    if events.is_empty() {
                        return Ok(Inserted(0));
                    }
                    let total = events.len();
                    // (id, leaf) of the batch: if some ids were already
                    // stored, the new rows' ids (read back in seq order) pick
                    // their leaves from here.
                    let keyed: Vec<(String, Hash)> = events
                        .iter()
                        .map(|e| (e.event.id.clone(), e.leaf))
                        .collect();
                    let rows = <$store>::prepare_event_rows(events);
                    let mut tx = self.write_tx().await?;
                    let s0 = Tx(&mut tx).max_seq("events").await?;
                    let inserted = self.insert_event_rows(&mut *tx, s0, rows).await?;
                    let new_leaves: Vec<Hash> = if inserted as usize == total {
                        keyed.into_iter().map(|(_, h)| h).collect()
                    } else {
                        let mut by_id: std::collections::HashMap<String, Hash> =
                            std::collections::HashMap::with_capacity(keyed.len());
                        for (id, h) in keyed {
                            by_id.entry(id).or_insert(h);
                        }
                        let ids: Vec<String> =
                            ::sqlx::query_scalar("SELECT id FROM events WHERE seq > $1 ORDER BY seq")
                                .bind(s0)
                                .fetch_all(&mut *tx)
                                .await
                                .map_err(be)?;
                        ids.iter()
                            .map(|id| {
                                by_id.get(id).copied().ok_or_else(|| {
                                    StoreError::Corrupt(format!("event '{id}' appeared during the batch"))
                                })
                            })
                            .collect::<Result<Vec<_>>>()?
                    };
                    append_ledger(&mut Tx(&mut tx), ledger, kinds::EVENT, s0 + 1, &new_leaves).await?;
                    tx.commit().await.map_err(be)?;
                    Ok(Inserted(inserted))
                }

                async fn begin_bulk_load(&self) -> Result<()> {
                    ::sqlx::query("DROP INDEX IF EXISTS events_user_ts")
                        .execute(&self.pool)
                        .await
                        .map_err(be)?;
                    Ok(())
                }

                async fn end_bulk_load(&self) -> Result<()> {
                    ::sqlx::query($crate::sql_store::USER_TS_INDEX)
                        .execute(&self.pool)
                        .await
                        .map_err(be)?;
                    Ok(())
                }

                async fn insert_hr_events(
                    &self,
                    events: &[HrEvent],
                    ledger: &LedgerContext,
                ) -> Result<Inserted> {
                    self.insert_ledgered(ledger, events).await
                }

                async fn insert_contacts(
                    &self,
                    reports: &[NewContact],
                    ledger: &LedgerContext,
                ) -> Result<Inserted> {
                    self.insert_ledgered(ledger, reports).await
                }

                async fn insert_rejects(&self, rejects: &[Reject]) -> Result<Inserted> {
                    let mut tx = self.begin_write().await?;
                    let mut n = 0;
                    for r in rejects {
                        n += ::sqlx::query(
                            "INSERT INTO rejects (file, line, reason, raw, key) VALUES ($1,$2,$3,$4,$5) ON CONFLICT (key) DO NOTHING",
                        )
                        .bind(&r.file)
                        .bind(i64::try_from(r.line).unwrap_or(i64::MAX))
                        .bind(&r.reason)
                        .bind(&r.raw)
                        .bind(reject_key(r))
                        .execute(&mut *tx)
                        .await
                        .map_err(be)?
                        .rows_affected();
                    }
                    tx.commit().await.map_err(be)?;
                    Ok(Inserted(n))
                }

                async fn person(&self, user_id: &str) -> Result<Option<Person>> {
                    ::sqlx::query("SELECT * FROM people WHERE user_id = $1")
                        .bind(user_id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(be)?
                        .map(|r| person_row(&r))
                        .transpose()
                }

                async fn people(&self) -> Result<Vec<Person>> {
                    let rows = ::sqlx::query(concat!("SELECT * FROM people ORDER BY user_id", $collate))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(be)?;
                    rows.iter().map(person_row).collect()
                }

                async fn document(&self, doc_id: &str) -> Result<Option<Document>> {
                    ::sqlx::query("SELECT * FROM documents WHERE doc_id = $1")
                        .bind(doc_id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(be)?
                        .map(|r| document_row(&r))
                        .transpose()
                }

                async fn documents(&self) -> Result<Vec<Document>> {
                    let rows = ::sqlx::query(concat!("SELECT * FROM documents ORDER BY doc_id", $collate))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(be)?;
                    rows.iter().map(document_row).collect()
                }

                async fn hr_events_for(&self, user_id: &str) -> Result<Vec<HrEvent>> {
                    let rows = ::sqlx::query(concat!("SELECT body FROM hr_events WHERE user_id = $1 ORDER BY ts_us, id", $collate))
                        .bind(user_id)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(be)?;
                    rows.iter().map(hr_row).collect()
                }

                async fn hr_events(&self) -> Result<Vec<HrEvent>> {
                    let rows = ::sqlx::query(concat!("SELECT body FROM hr_events ORDER BY ts_us, id", $collate))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(be)?;
                    rows.iter().map(hr_row).collect()
                }

                async fn insert_custody(
                    &self,
                    records: &[CustodyRecord],
                    ledger: &LedgerContext,
                ) -> Result<Inserted> {
                    self.insert_ledgered(ledger, records).await
                }

                async fn custody_records(
                    &self,
                    kind: &str,
                    doc_id: Option<&str>,
                    user_id: Option<&str>,
                ) -> Result<Vec<CustodyRecord>> {
                    let rows = ::sqlx::query("SELECT * FROM custody_records WHERE kind = $1 AND (CAST($2 AS TEXT) IS NULL OR doc_id = $2) AND (CAST($3 AS TEXT) IS NULL OR user_id = $3) ORDER BY seq")
                        .bind(kind)
                        .bind(doc_id)
                        .bind(user_id)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(be)?;
                    rows.iter().map(custody_row).collect()
                }

                async fn insert_alerts(&self, alerts: &[NewAlert], ledger: &LedgerContext) -> Result<Inserted> {
                    self.insert_ledgered(ledger, alerts).await
                }

                async fn alerts(&self, limit: u32) -> Result<Vec<StoredAlert>> {
                    let rows = ::sqlx::query(concat!("SELECT * FROM alerts ORDER BY score DESC, raised_us, id", $collate, " LIMIT $1"))
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(be)?;
                    rows.iter().map(alert_row).collect()
                }

                async fn recent_events_for(&self, user_id: &str, limit: u32) -> Result<Vec<StoredEvent>> {
                    let rows = ::sqlx::query(concat!(
                        "SELECT id, ts_us, ts_off, user_id, action, doc, rest FROM events WHERE user_id = $1 ORDER BY ts_us DESC, id",
                        $collate,
                        " DESC LIMIT $2"
                    ))
                    .bind(user_id)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(be)?;
                    rows.iter().map(stored_event).collect()
                }

                async fn register_history(&self, doc_id: &str) -> Result<Vec<RegisterChange>> {
                    let rows = ::sqlx::query("SELECT * FROM register_changes WHERE doc_id = $1 ORDER BY seq")
                        .bind(doc_id)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(be)?;
                    rows.iter().map(register_change_row).collect()
                }

                async fn contact_reports(&self) -> Result<Vec<ContactReport>> {
                    let rows = ::sqlx::query(concat!("SELECT raw FROM contact_reports ORDER BY reported_us DESC, id", $collate))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(be)?;
                    rows.iter().map(contact_row).collect()
                }

                async fn rejects(&self, limit: u32) -> Result<Vec<Reject>> {
                    let rows = ::sqlx::query("SELECT file, line, reason, raw FROM rejects ORDER BY seq DESC LIMIT $1")
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(be)?;
                    rows.iter().map(reject_row).collect()
                }

                async fn counts(&self) -> Result<Counts> {
                    let row = ::sqlx::query(
                        "SELECT (SELECT count(*) FROM people), (SELECT count(*) FROM documents), (SELECT count(*) FROM events), (SELECT count(*) FROM hr_events), (SELECT count(*) FROM contact_reports), (SELECT count(*) FROM rejects), (SELECT count(*) FROM register_changes)",
                    )
                    .fetch_one(&self.pool)
                    .await
                    .map_err(be)?;
                    let g = |i: usize| -> Result<u64> {
                        let v: i64 = row.try_get(i).map_err(be)?;
                        Ok(u64::try_from(v).unwrap_or(0))
                    };
                    Ok(Counts {
                        people: g(0)?,
                        documents: g(1)?,
                        events: g(2)?,
                        hr_events: g(3)?,
                        contact_reports: g(4)?,
                        rejected_lines: g(5)?,
                        register_changes: g(6)?,
                    })
                }

                async fn ledger_runs(&self) -> Result<Vec<LedgerRun>> {
                    read_runs(&self.pool).await
                }

                async fn ledger_snapshot(&self, kinds: &[&str]) -> Result<LedgerSnapshot> {
                    let mut tx = self.snapshot_tx().await?;
                    let runs = read_runs(&mut *tx).await?;
                    let checkpoints = read_checkpoints(&mut *tx).await?;
                    let mut counts = std::collections::BTreeMap::new();
                    for kind in kinds {
                        counts.insert(kind.to_string(), read_count(&mut *tx, kind).await?);
                    }
                    tx.rollback().await.map_err(be)?;
                    Ok(LedgerSnapshot {
                        runs,
                        checkpoints,
                        counts,
                    })
                }

                async fn ledger_record_count(&self, kind: &str) -> Result<u64> {
                    read_count(&self.pool, kind).await
                }

                async fn record_seq(&self, kind: &str, record_id: &str) -> Result<Option<i64>> {
                    ::sqlx::query_scalar(&format!("SELECT seq FROM {} WHERE id = $1", table_of(kind)?))
                        .bind(record_id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(be)
                }

                async fn ledger_tiles(&self, want: &[(TileId, usize)]) -> Result<Vec<Tile>> {
                    let (mut out, ids) = self.tiles.split(want);
                    let read = self.read_tiles(&ids).await?;
                    self.tiles.keep(&read);
                    out.extend(read);
                    Ok(out)
                }

                async fn ledger_checkpoints(&self) -> Result<Vec<CheckpointRow>> {
                    read_checkpoints(&self.pool).await
                }
            }
        }
    };
}

/// The secondary index a bulk load drops and rebuilds.
pub const USER_TS_INDEX: &str =
    "CREATE INDEX IF NOT EXISTS events_user_ts ON events (user_id, ts_us)";
