//! Rows to domain types: one decoder per table, each naming the column it
//! could not read.

use sqlx::postgres::PgRow;
use sqlx::Row;

use custodian_core::{Document, Person};
use custodian_ledger::{Tile, TileId};
use custodian_store::{
    columns, ts_from_db, Account, ApiToken, LedgerRun, RegisterChange, Result, StoreError,
    StoredEvent,
};

use crate::be;

pub(crate) fn run_row(r: &PgRow) -> Result<LedgerRun> {
    let first_leaf: i64 = r.try_get("first_leaf").map_err(be)?;
    let count: i64 = r.try_get("count").map_err(be)?;
    Ok(LedgerRun {
        first_leaf: first_leaf as u64,
        kind: r.try_get("kind").map_err(be)?,
        first_seq: r.try_get("first_seq").map_err(be)?,
        count: count as u64,
    })
}

pub(crate) fn tile_from_row(id: TileId, r: &PgRow, want_width: Option<usize>) -> Result<Tile> {
    let width: i32 = r.try_get("width").map_err(be)?;
    let nodes: Vec<u8> = r.try_get("nodes").map_err(be)?;
    if let Some(w) = want_width {
        if w as i32 != width {
            return Err(StoreError::Corrupt(format!(
                "ledger tile {}/{} has width {width}, expected {w}",
                id.level, id.index
            )));
        }
    }
    Tile::from_bytes(id, width as usize, &nodes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn stored_event(r: &PgRow) -> Result<StoredEvent> {
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
}

pub(crate) fn register_change_row(r: &PgRow) -> Result<RegisterChange> {
    let off: i32 = r.try_get("at_off").map_err(be)?;
    Ok(RegisterChange {
        doc_id: r.try_get("doc_id").map_err(be)?,
        at: ts_from_db(r.try_get("at_us").map_err(be)?, i64::from(off))?,
        actor: r.try_get("actor").map_err(be)?,
        field: r.try_get("field").map_err(be)?,
        old: r.try_get("old").map_err(be)?,
        new: r.try_get("new").map_err(be)?,
    })
}

pub(crate) fn person_row(r: &PgRow) -> Result<Person> {
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

pub(crate) fn document_row(r: &PgRow) -> Result<Document> {
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

pub(crate) fn account_from_row(r: &PgRow) -> Result<Account> {
    Ok(Account {
        username: r.try_get("username").map_err(be)?,
        role: r.try_get("role").map_err(be)?,
        user_id: r.try_get("user_id").map_err(be)?,
        password_hash: r.try_get("password_hash").map_err(be)?,
        disabled: r.try_get("disabled").map_err(be)?,
    })
}

pub(crate) fn token_from_row(r: &sqlx::postgres::PgRow) -> Result<ApiToken> {
    Ok(ApiToken {
        token_sha256: r.try_get("token_sha256").map_err(be)?,
        name: r.try_get("name").map_err(be)?,
        role: r.try_get("role").map_err(be)?,
        created_at: r.try_get("created_at").map_err(be)?,
        revoked_at: r.try_get("revoked_at").map_err(be)?,
    })
}
