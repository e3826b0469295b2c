//! The embedded default store: one SQLite file in WAL mode, through sqlx.
//!
//! Batches are written in one transaction each with multi-row
//! `INSERT OR IGNORE` statements, so a re-delivered id is ignored and a crash
//! leaves either the whole batch or none of it. `synchronous = FULL`: a
//! committed batch survives power loss, not only a killed process.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Row, SqlitePool};

use custodian_core::interchange::{hr_to_json, parse_contact, parse_hr};
use custodian_core::{ContactReport, Document, HrEvent, Person};
use custodian_store::{
    columns, level_to_db, reject_key, ts_from_db, ts_to_db, Backend, Counts, Inserted, NewContact,
    NewEvent, RegisterChange, Reject, Result, Store, StoreError, StoredEvent,
};

/// Rows per multi-row statement (7 parameters each, under SQLite's
/// 32,766-parameter limit).
const ROWS_PER_STATEMENT: usize = 4000;

const INSERT_EVENTS: &str =
    "INSERT OR IGNORE INTO events (id, ts_us, ts_off, user_id, action, doc, rest) VALUES ";

/// The secondary index a bulk load drops and rebuilds.
const USER_TS_INDEX: &str = "CREATE INDEX IF NOT EXISTS events_user_ts ON events (user_id, ts_us)";

pub struct SqliteStore {
    pool: SqlitePool,
    location: String,
}

fn be(e: sqlx::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn values_sql(head: &str, cols: usize, rows: usize, tail: &str) -> String {
    let mut one = String::from("(");
    for c in 0..cols {
        if c > 0 {
            one.push(',');
        }
        one.push('?');
    }
    one.push(')');
    let mut sql = String::with_capacity(head.len() + rows * (one.len() + 1) + tail.len());
    sql.push_str(head);
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push_str(&one);
    }
    sql.push_str(tail);
    sql
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url`
    /// (`sqlite://PATH` or `sqlite:PATH`) and brings its schema up to date.
    pub async fn open(url: &str) -> Result<SqliteStore> {
        let unreachable = |reason: String| StoreError::Unreachable {
            target: url.to_string(),
            reason,
        };
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| unreachable(e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(30))
            .pragma("cache_size", "-65536")
            .pragma("wal_autocheckpoint", "4000")
            .log_slow_statements(tracing::log::LevelFilter::Debug, Duration::from_secs(5));
        let location = opts.get_filename().display().to_string();
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        // A bulk load killed half-way leaves the index dropped: rebuild it.
        sqlx::query(USER_TS_INDEX)
            .execute(&pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        tracing::debug!(%location, "sqlite store open");
        Ok(SqliteStore { pool, location })
    }

    /// The pool, for backend-specific work (the ledger's tables).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn location(&self) -> String {
        format!("sqlite://{}", self.location)
    }

    async fn put_people(&self, people: &[Person]) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(be)?;
        for p in people {
            sqlx::query(
                "INSERT OR REPLACE INTO people (user_id, name, email, org_unit, site, role, manager_id, clearance, projects, hire_date, leave_date) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            )
            .bind(&p.user_id)
            .bind(&p.name)
            .bind(&p.email)
            .bind(&p.org_unit)
            .bind(&p.site)
            .bind(&p.role)
            .bind(&p.manager_id)
            .bind(level_to_db(p.clearance))
            .bind(columns::person_projects(p))
            .bind(columns::date(p.hire_date))
            .bind(p.leave_date.map(columns::date))
            .execute(&mut *tx)
            .await
            .map_err(be)?;
        }
        tx.commit().await.map_err(be)
    }

    async fn put_documents(&self, docs: &[Document], changes: &[RegisterChange]) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(be)?;
        for d in docs {
            sqlx::query(
                "INSERT OR REPLACE INTO documents (doc_id, title, classification, owner_id, projects, kind, created, medium) VALUES (?,?,?,?,?,?,?,?)",
            )
            .bind(&d.doc_id)
            .bind(&d.title)
            .bind(level_to_db(d.classification))
            .bind(&d.owner_id)
            .bind(d.projects.to_field())
            .bind(&d.kind)
            .bind(columns::date(d.created))
            .bind(d.medium.as_str())
            .execute(&mut *tx)
            .await
            .map_err(be)?;
        }
        for c in changes {
            let (us, off) = ts_to_db(&c.at);
            sqlx::query(
                "INSERT INTO register_changes (doc_id, at_us, at_off, actor, field, old, new) VALUES (?,?,?,?,?,?,?)",
            )
            .bind(&c.doc_id)
            .bind(us)
            .bind(off)
            .bind(&c.actor)
            .bind(&c.field)
            .bind(&c.old)
            .bind(&c.new)
            .execute(&mut *tx)
            .await
            .map_err(be)?;
        }
        tx.commit().await.map_err(be)
    }

    async fn insert_events(&self, events: Vec<NewEvent>) -> Result<Inserted> {
        if events.is_empty() {
            return Ok(Inserted(0));
        }
        let mut tx = self.pool.begin().await.map_err(be)?;
        let mut inserted = 0;
        let full_sql = values_sql(INSERT_EVENTS, 7, ROWS_PER_STATEMENT, "");
        let mut rows = events.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<NewEvent> = rows.by_ref().take(ROWS_PER_STATEMENT).collect();
            let short_sql;
            let sql = if chunk.len() == ROWS_PER_STATEMENT {
                &full_sql
            } else {
                short_sql = values_sql(INSERT_EVENTS, 7, chunk.len(), "");
                &short_sql
            };
            let mut q = sqlx::query(sql);
            for e in chunk {
                let (us, off) = ts_to_db(&e.event.ts);
                let doc = e.event.action.doc().map(str::to_string);
                let action = e.event.action.name().to_string();
                q = q
                    .bind(e.event.id)
                    .bind(us)
                    .bind(off)
                    .bind(e.event.user)
                    .bind(action)
                    .bind(doc)
                    .bind(e.rest);
            }
            inserted += q.execute(&mut *tx).await.map_err(be)?.rows_affected();
        }
        tx.commit().await.map_err(be)?;
        Ok(Inserted(inserted))
    }

    async fn begin_bulk_load(&self) -> Result<()> {
        sqlx::query("DROP INDEX IF EXISTS events_user_ts")
            .execute(&self.pool)
            .await
            .map_err(be)?;
        Ok(())
    }

    async fn end_bulk_load(&self) -> Result<()> {
        sqlx::query(USER_TS_INDEX)
            .execute(&self.pool)
            .await
            .map_err(be)?;
        Ok(())
    }

    async fn insert_hr_events(&self, events: &[HrEvent]) -> Result<Inserted> {
        let mut tx = self.pool.begin().await.map_err(be)?;
        let mut n = 0;
        for e in events {
            n += sqlx::query(
                "INSERT OR IGNORE INTO hr_events (id, ts_us, user_id, type, body) VALUES (?,?,?,?,?)",
            )
            .bind(&e.id)
            .bind(e.ts.timestamp_micros())
            .bind(&e.user)
            .bind(e.kind.name())
            .bind(hr_to_json(e))
            .execute(&mut *tx)
            .await
            .map_err(be)?
            .rows_affected();
        }
        tx.commit().await.map_err(be)?;
        Ok(Inserted(n))
    }

    async fn insert_contacts(&self, reports: &[NewContact]) -> Result<Inserted> {
        let mut tx = self.pool.begin().await.map_err(be)?;
        let mut n = 0;
        for c in reports {
            n += sqlx::query(
                "INSERT OR IGNORE INTO contact_reports (id, reported_us, reporter, raw) VALUES (?,?,?,?)",
            )
            .bind(&c.report.id)
            .bind(c.report.reported_at.timestamp_micros())
            .bind(&c.report.reporter)
            .bind(&c.raw)
            .execute(&mut *tx)
            .await
            .map_err(be)?
            .rows_affected();
        }
        tx.commit().await.map_err(be)?;
        Ok(Inserted(n))
    }

    async fn insert_rejects(&self, rejects: &[Reject]) -> Result<Inserted> {
        let mut tx = self.pool.begin().await.map_err(be)?;
        let mut n = 0;
        for r in rejects {
            n += sqlx::query(
                "INSERT OR IGNORE INTO rejects (file, line, reason, raw, key) VALUES (?,?,?,?,?)",
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
        let row = sqlx::query("SELECT * FROM people WHERE user_id = ?")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(be)?;
        row.map(|r| person_row(&r)).transpose()
    }

    async fn people(&self) -> Result<Vec<Person>> {
        let rows = sqlx::query("SELECT * FROM people ORDER BY user_id")
            .fetch_all(&self.pool)
            .await
            .map_err(be)?;
        rows.iter().map(person_row).collect()
    }

    async fn document(&self, doc_id: &str) -> Result<Option<Document>> {
        let row = sqlx::query("SELECT * FROM documents WHERE doc_id = ?")
            .bind(doc_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(be)?;
        row.map(|r| document_row(&r)).transpose()
    }

    async fn documents(&self) -> Result<Vec<Document>> {
        let rows = sqlx::query("SELECT * FROM documents ORDER BY doc_id")
            .fetch_all(&self.pool)
            .await
            .map_err(be)?;
        rows.iter().map(document_row).collect()
    }

    async fn hr_events_for(&self, user_id: &str) -> Result<Vec<HrEvent>> {
        let rows = sqlx::query("SELECT body FROM hr_events WHERE user_id = ? ORDER BY ts_us, id")
            .bind(user_id)
            .fetch_all(&self.pool)
            .await
            .map_err(be)?;
        rows.iter()
            .map(|r| {
                let body: String = r.try_get("body").map_err(be)?;
                parse_hr(body.as_bytes()).map_err(|e| StoreError::Corrupt(format!("hr event: {e}")))
            })
            .collect()
    }

    async fn recent_events_for(&self, user_id: &str, limit: u32) -> Result<Vec<StoredEvent>> {
        let rows = sqlx::query(
            "SELECT id, ts_us, ts_off, user_id, action, doc, rest FROM events WHERE user_id = ? ORDER BY ts_us DESC, id DESC LIMIT ?",
        )
        .bind(user_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(be)?;
        rows.iter()
            .map(|r| {
                let rest: String = r.try_get("rest").map_err(be)?;
                StoredEvent::from_columns(
                    r.try_get("id").map_err(be)?,
                    ts_from_db(
                        r.try_get("ts_us").map_err(be)?,
                        r.try_get("ts_off").map_err(be)?,
                    )?,
                    r.try_get("user_id").map_err(be)?,
                    r.try_get("action").map_err(be)?,
                    r.try_get("doc").map_err(be)?,
                    &rest,
                )
            })
            .collect()
    }

    async fn register_history(&self, doc_id: &str) -> Result<Vec<RegisterChange>> {
        let rows = sqlx::query("SELECT * FROM register_changes WHERE doc_id = ? ORDER BY seq")
            .bind(doc_id)
            .fetch_all(&self.pool)
            .await
            .map_err(be)?;
        rows.iter()
            .map(|r| {
                Ok(RegisterChange {
                    doc_id: r.try_get("doc_id").map_err(be)?,
                    at: ts_from_db(
                        r.try_get("at_us").map_err(be)?,
                        r.try_get("at_off").map_err(be)?,
                    )?,
                    actor: r.try_get("actor").map_err(be)?,
                    field: r.try_get("field").map_err(be)?,
                    old: r.try_get("old").map_err(be)?,
                    new: r.try_get("new").map_err(be)?,
                })
            })
            .collect()
    }

    async fn contact_reports(&self) -> Result<Vec<ContactReport>> {
        let rows = sqlx::query("SELECT raw FROM contact_reports ORDER BY reported_us DESC, id")
            .fetch_all(&self.pool)
            .await
            .map_err(be)?;
        rows.iter()
            .map(|r| {
                let raw: String = r.try_get("raw").map_err(be)?;
                parse_contact(raw.as_bytes())
                    .map_err(|e| StoreError::Corrupt(format!("contact report: {e}")))
            })
            .collect()
    }

    async fn rejects(&self, limit: u32) -> Result<Vec<Reject>> {
        let rows =
            sqlx::query("SELECT file, line, reason, raw FROM rejects ORDER BY seq DESC LIMIT ?")
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(be)?;
        rows.iter()
            .map(|r| {
                let line: i64 = r.try_get("line").map_err(be)?;
                Ok(Reject {
                    file: r.try_get("file").map_err(be)?,
                    line: u64::try_from(line).unwrap_or(0),
                    reason: r.try_get("reason").map_err(be)?,
                    raw: r.try_get("raw").map_err(be)?,
                })
            })
            .collect()
    }

    async fn counts(&self) -> Result<Counts> {
        let row = sqlx::query(
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
}

fn person_row(r: &sqlx::sqlite::SqliteRow) -> Result<Person> {
    let s = |c: &str| -> Result<String> { r.try_get(c).map_err(be) };
    let leave: Option<String> = r.try_get("leave_date").map_err(be)?;
    columns::person(
        s("user_id")?,
        s("name")?,
        s("email")?,
        s("org_unit")?,
        s("site")?,
        s("role")?,
        r.try_get("manager_id").map_err(be)?,
        r.try_get("clearance").map_err(be)?,
        &s("projects")?,
        &s("hire_date")?,
        leave.as_deref(),
    )
}

fn document_row(r: &sqlx::sqlite::SqliteRow) -> Result<Document> {
    let s = |c: &str| -> Result<String> { r.try_get(c).map_err(be) };
    columns::document(
        s("doc_id")?,
        s("title")?,
        r.try_get("classification").map_err(be)?,
        s("owner_id")?,
        &s("projects")?,
        s("kind")?,
        &s("created")?,
        &s("medium")?,
    )
}
