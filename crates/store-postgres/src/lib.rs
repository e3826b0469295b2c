//! Custodian's scale-out store on PostgreSQL, through sqlx.
//!
//! Events go in through `COPY` into a temporary staging table and one
//! `INSERT … SELECT … ON CONFLICT (id) DO NOTHING` per batch, in one
//! transaction: idempotent by id and atomic per batch.
//!
//! The URL may carry `schema=NAME` as a query parameter (Custodian's own,
//! removed before connecting): the store then lives in that schema, created
//! if missing. Tests use it to run side by side in one database.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{ConnectOptions, PgPool, Row};

use custodian_core::interchange::{hr_to_json, parse_contact, parse_hr};
use custodian_core::{ContactReport, Document, HrEvent, Person};
use custodian_store::{
    columns, level_to_db, reject_key, ts_from_db, ts_to_db, Backend, Counts, Inserted, NewContact,
    NewEvent, RegisterChange, Reject, Result, Store, StoreError, StoredEvent,
};

/// The secondary index a bulk load drops and rebuilds.
const USER_TS_INDEX: &str = "CREATE INDEX IF NOT EXISTS events_user_ts ON events (user_id, ts_us)";

pub struct PgStore {
    pool: PgPool,
    location: String,
    schema: Option<String>,
}

fn be(e: sqlx::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Splits Custodian's `schema=` parameter off a PostgreSQL URL.
pub fn split_schema(url: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), None);
    };
    let mut schema = None;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|kv| match kv.strip_prefix("schema=") {
            Some(s) => {
                schema = Some(s.to_string());
                false
            }
            None => !kv.is_empty(),
        })
        .collect();
    let url = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    (url, schema)
}

/// A URL with any password replaced by `***`, for messages and logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((auth, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

fn valid_schema(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

/// Escapes a value for `COPY … FROM STDIN` text format.
fn copy_text(out: &mut Vec<u8>, s: &str) {
    for b in s.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => out.push(b),
        }
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://…`, optionally `?schema=NAME`) and
    /// brings the schema up to date.
    pub async fn open(url: &str) -> Result<PgStore> {
        let (conn_url, schema) = split_schema(url);
        let shown = redact(url);
        let unreachable = |reason: String| StoreError::Unreachable {
            target: shown.clone(),
            reason,
        };
        let mut opts = PgConnectOptions::from_str(&conn_url)
            .map_err(|e| unreachable(e.to_string()))?
            .log_slow_statements(tracing::log::LevelFilter::Debug, Duration::from_secs(5));
        if let Some(s) = &schema {
            if !valid_schema(s) {
                return Err(unreachable(format!(
                    "schema '{s}' must be lower-case letters, digits and _"
                )));
            }
            opts = opts.options([("search_path", s.as_str())]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        if let Some(s) = &schema {
            sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{s}\""))
                .execute(&pool)
                .await
                .map_err(|e| StoreError::Migration(e.to_string()))?;
        }
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        // A bulk load killed half-way leaves the index dropped: rebuild it.
        sqlx::query(USER_TS_INDEX)
            .execute(&pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        tracing::debug!(location = %shown, "postgres store open");
        Ok(PgStore {
            pool,
            location: shown,
            schema,
        })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Drops this store's schema with everything in it (tests' cleanup).
    /// Refuses when the store was not opened with `schema=`.
    pub async fn drop_schema(self) -> Result<()> {
        let Some(s) = &self.schema else {
            return Err(StoreError::Backend(
                "refusing to drop the default schema".into(),
            ));
        };
        sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{s}\" CASCADE"))
            .execute(&self.pool)
            .await
            .map_err(be)?;
        self.pool.close().await;
        Ok(())
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn location(&self) -> String {
        self.location.clone()
    }

    async fn put_people(&self, people: &[Person]) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(be)?;
        for p in people {
            sqlx::query(
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
                "INSERT INTO documents (doc_id, title, classification, owner_id, projects, kind, created, medium) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)
                 ON CONFLICT (doc_id) DO UPDATE SET title=EXCLUDED.title, classification=EXCLUDED.classification, owner_id=EXCLUDED.owner_id, projects=EXCLUDED.projects, kind=EXCLUDED.kind, created=EXCLUDED.created, medium=EXCLUDED.medium",
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
                "INSERT INTO register_changes (doc_id, at_us, at_off, actor, field, old, new) VALUES ($1,$2,$3,$4,$5,$6,$7)",
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
        let mut buf = Vec::with_capacity(events.len() * 256);
        for e in events {
            let (us, off) = ts_to_db(&e.event.ts);
            copy_text(&mut buf, &e.event.id);
            buf.push(b'\t');
            buf.extend_from_slice(us.to_string().as_bytes());
            buf.push(b'\t');
            buf.extend_from_slice(off.to_string().as_bytes());
            buf.push(b'\t');
            copy_text(&mut buf, &e.event.user);
            buf.push(b'\t');
            copy_text(&mut buf, e.event.action.name());
            buf.push(b'\t');
            match e.event.action.doc() {
                Some(d) => copy_text(&mut buf, d),
                None => buf.extend_from_slice(b"\\N"),
            }
            buf.push(b'\t');
            copy_text(&mut buf, &e.rest);
            buf.push(b'\n');
        }
        let mut tx = self.pool.begin().await.map_err(be)?;
        sqlx::query(
            "CREATE TEMP TABLE IF NOT EXISTS staging_events (id TEXT, ts_us BIGINT, ts_off INTEGER, user_id TEXT, action TEXT, doc TEXT, rest TEXT) ON COMMIT DELETE ROWS",
        )
        .execute(&mut *tx)
        .await
        .map_err(be)?;
        let mut copy = tx
            .copy_in_raw(
                "COPY staging_events (id, ts_us, ts_off, user_id, action, doc, rest) FROM STDIN",
            )
            .await
            .map_err(be)?;
        copy.send(buf).await.map_err(be)?;
        copy.finish().await.map_err(be)?;
        let n = sqlx::query(
            "INSERT INTO events (id, ts_us, ts_off, user_id, action, doc, rest) SELECT id, ts_us, ts_off, user_id, action, doc, rest FROM staging_events ON CONFLICT (id) DO NOTHING",
        )
        .execute(&mut *tx)
        .await
        .map_err(be)?
        .rows_affected();
        tx.commit().await.map_err(be)?;
        Ok(Inserted(n))
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
                "INSERT INTO hr_events (id, ts_us, user_id, type, body) VALUES ($1,$2,$3,$4,$5) ON CONFLICT (id) DO NOTHING",
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
                "INSERT INTO contact_reports (id, reported_us, reporter, raw) VALUES ($1,$2,$3,$4) ON CONFLICT (id) DO NOTHING",
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
        let row = sqlx::query("SELECT * FROM people WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(be)?;
        row.map(|r| person_row(&r)).transpose()
    }

    async fn people(&self) -> Result<Vec<Person>> {
        let rows = sqlx::query("SELECT * FROM people ORDER BY user_id COLLATE \"C\"")
            .fetch_all(&self.pool)
            .await
            .map_err(be)?;
        rows.iter().map(person_row).collect()
    }

    async fn document(&self, doc_id: &str) -> Result<Option<Document>> {
        let row = sqlx::query("SELECT * FROM documents WHERE doc_id = $1")
            .bind(doc_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(be)?;
        row.map(|r| document_row(&r)).transpose()
    }

    async fn documents(&self) -> Result<Vec<Document>> {
        let rows = sqlx::query("SELECT * FROM documents ORDER BY doc_id COLLATE \"C\"")
            .fetch_all(&self.pool)
            .await
            .map_err(be)?;
        rows.iter().map(document_row).collect()
    }

    async fn hr_events_for(&self, user_id: &str) -> Result<Vec<HrEvent>> {
        let rows = sqlx::query(
            "SELECT body FROM hr_events WHERE user_id = $1 ORDER BY ts_us, id COLLATE \"C\"",
        )
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
            "SELECT id, ts_us, ts_off, user_id, action, doc, rest FROM events WHERE user_id = $1 ORDER BY ts_us DESC, id COLLATE \"C\" DESC LIMIT $2",
        )
        .bind(user_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(be)?;
        rows.iter()
            .map(|r| {
                let off: i32 = r.try_get("ts_off").map_err(be)?;
                let rest: String = r.try_get("rest").map_err(be)?;
                StoredEvent::from_columns(
                    r.try_get("id").map_err(be)?,
                    ts_from_db(r.try_get("ts_us").map_err(be)?, i64::from(off))?,
                    r.try_get("user_id").map_err(be)?,
                    r.try_get("action").map_err(be)?,
                    r.try_get("doc").map_err(be)?,
                    &rest,
                )
            })
            .collect()
    }

    async fn register_history(&self, doc_id: &str) -> Result<Vec<RegisterChange>> {
        let rows = sqlx::query("SELECT * FROM register_changes WHERE doc_id = $1 ORDER BY seq")
            .bind(doc_id)
            .fetch_all(&self.pool)
            .await
            .map_err(be)?;
        rows.iter()
            .map(|r| {
                let off: i32 = r.try_get("at_off").map_err(be)?;
                Ok(RegisterChange {
                    doc_id: r.try_get("doc_id").map_err(be)?,
                    at: ts_from_db(r.try_get("at_us").map_err(be)?, i64::from(off))?,
                    actor: r.try_get("actor").map_err(be)?,
                    field: r.try_get("field").map_err(be)?,
                    old: r.try_get("old").map_err(be)?,
                    new: r.try_get("new").map_err(be)?,
                })
            })
            .collect()
    }

    async fn contact_reports(&self) -> Result<Vec<ContactReport>> {
        let rows = sqlx::query(
            "SELECT raw FROM contact_reports ORDER BY reported_us DESC, id COLLATE \"C\"",
        )
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
            sqlx::query("SELECT file, line, reason, raw FROM rejects ORDER BY seq DESC LIMIT $1")
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

fn person_row(r: &PgRow) -> Result<Person> {
    let s = |c: &str| -> Result<String> { r.try_get(c).map_err(be) };
    let leave: Option<String> = r.try_get("leave_date").map_err(be)?;
    let clearance: i16 = r.try_get("clearance").map_err(be)?;
    columns::person(
        s("user_id")?,
        s("name")?,
        s("email")?,
        s("org_unit")?,
        s("site")?,
        s("role")?,
        r.try_get("manager_id").map_err(be)?,
        i64::from(clearance),
        &s("projects")?,
        &s("hire_date")?,
        leave.as_deref(),
    )
}

fn document_row(r: &PgRow) -> Result<Document> {
    let s = |c: &str| -> Result<String> { r.try_get(c).map_err(be) };
    let level: i16 = r.try_get("classification").map_err(be)?;
    columns::document(
        s("doc_id")?,
        s("title")?,
        i64::from(level),
        s("owner_id")?,
        &s("projects")?,
        s("kind")?,
        &s("created")?,
        &s("medium")?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_param_is_split_off() {
        assert_eq!(
            split_schema("postgres://u@h/db?schema=t_1&sslmode=disable"),
            (
                "postgres://u@h/db?sslmode=disable".into(),
                Some("t_1".into())
            )
        );
        assert_eq!(
            split_schema("postgres://u@h/db"),
            ("postgres://u@h/db".into(), None)
        );
        assert_eq!(
            split_schema("postgres://u@h/db?schema=x"),
            ("postgres://u@h/db".into(), Some("x".into()))
        );
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://u:hunter2@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }

    #[test]
    fn copy_escapes() {
        let mut out = vec![];
        copy_text(&mut out, "a\tb\\c\nd");
        assert_eq!(out, b"a\\tb\\\\c\\nd");
    }
}
