//! The ledgered write, written once for every backend.
//!
//! Rules:
//! - A ledgered insert runs in one write transaction of the backend: read
//!   the kind's highest `seq`, insert each record unless its id is stored
//!   already, append the new records' leaves to the ledger (the right-edge
//!   tiles read, the changed tiles, the run and the signed checkpoint
//!   written), and the caller commits. A crash at any point leaves nothing
//!   of the batch: the records and their leaves land together or not at all.
//! - A record whose id is stored already is skipped and gets no leaf: a
//!   re-delivery is counted once, and the ledger's size is the number of
//!   records.
//! - New records take the `seq`s after the highest, in the order given,
//!   without gaps; their leaves are appended in that order, so a run's
//!   `seq`s and its leaves line up one to one (what `ledger verify` checks).
//! - A backend supplies only [`LedgerTx`], the narrow part that speaks
//!   SQL; what is written and in which order is decided here. Both SQL
//!   backends get theirs from [`sql_ledger_tx!`](crate::sql_ledger_tx): the
//!   same statements for both.
//! - The stored bytes are those the backends wrote before this module
//!   existed (the same columns and values, the same leaves), so stores
//!   written earlier still verify (tried: SQLite and PostgreSQL stores
//!   written by the previous binary, extended by this one, verify).
//! - Events keep their own multi-row insert (the bulk path) but append
//!   their leaves through [`append_ledger`] like every other kind.

use async_trait::async_trait;
use custodian_core::interchange::hr_to_json;
use custodian_core::HrEvent;
use custodian_ledger::entry::kinds;
use custodian_ledger::tiles::{Tile, TileId};
use custodian_ledger::Hash;

use crate::ledger::{
    alert_leaf, contact_leaf, custody_leaf, edge_ids, hr_leaf, ledger_update, register_change_id,
    register_change_leaf, size_after, LedgerContext, LedgerRun, LedgerUpdate,
};
use crate::{
    ts_to_db, CustodyRecord, Inserted, NewAlert, NewContact, RegisterChange, Result, StoreError,
};

/// One value of a row, as a backend binds it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    /// Text or SQL NULL.
    MaybeText(Option<String>),
    Int(i64),
    /// A 32-bit integer column (an offset from UTC in seconds).
    Int32(i32),
    Real(f64),
}

/// A record kind that is ledgered: where its rows go and what its leaf is.
pub trait Ledgered: Sync {
    /// The ledger kind its runs carry ([`kinds`]).
    const KIND: &'static str;
    const TABLE: &'static str;
    /// The columns after `seq`, in the order of [`Ledgered::cells`]; the
    /// first is the record's id, unique in the table.
    const COLUMNS: &'static [&'static str];
    fn cells(&self) -> Vec<Cell>;
    fn leaf(&self) -> Hash;
}

/// The part of a backend's write transaction the ledger needs. Every
/// method runs inside the one transaction the caller opened and commits.
#[async_trait]
pub trait LedgerTx: Send {
    /// The table's highest `seq`, 0 when it is empty.
    async fn max_seq(&mut self, table: &'static str) -> Result<i64>;
    /// Inserts `(seq, columns…)` unless a row with the same id (the first
    /// column) exists; whether it was inserted.
    async fn insert_if_new(
        &mut self,
        table: &'static str,
        columns: &'static [&'static str],
        seq: i64,
        cells: Vec<Cell>,
    ) -> Result<bool>;
    /// The ledger's last run, if any.
    async fn last_run(&mut self) -> Result<Option<LedgerRun>>;
    /// A stored tile, read as `width` wide; `None` if it is not stored.
    async fn tile(&mut self, id: TileId, width: usize) -> Result<Option<Tile>>;
    /// Writes an update: its tiles (replacing the stored ones of the same
    /// level and index), its run and its checkpoint.
    async fn write_update(&mut self, update: &LedgerUpdate) -> Result<()>;
}

/// Appends `leaves` (records of `kind` whose `seq`s start at `first_seq`)
/// to the ledger inside `tx`.
pub async fn append_ledger<T: LedgerTx + ?Sized>(
    tx: &mut T,
    ctx: &LedgerContext,
    kind: &str,
    first_seq: i64,
    leaves: &[Hash],
) -> Result<()> {
    if leaves.is_empty() {
        return Ok(());
    }
    let last = tx.last_run().await?;
    let size = size_after(last.as_ref());
    let mut edge = Vec::new();
    for (id, width) in edge_ids(size) {
        let tile = tx.tile(id, width).await?.ok_or_else(|| {
            StoreError::Corrupt(format!("ledger tile {}/{} is missing", id.level, id.index))
        })?;
        edge.push(tile);
    }
    let update = ledger_update(ctx, size, edge, kind, first_seq, leaves)?;
    tx.write_update(&update).await
}

/// Inserts the new ones of `records` and ledgers them, inside `tx`.
pub async fn insert_ledgered<T: LedgerTx + ?Sized, R: Ledgered>(
    tx: &mut T,
    ctx: &LedgerContext,
    records: &[R],
) -> Result<Inserted> {
    let first = tx.max_seq(R::TABLE).await? + 1;
    let mut leaves = Vec::new();
    for r in records {
        let seq = first + leaves.len() as i64;
        if tx
            .insert_if_new(R::TABLE, R::COLUMNS, seq, r.cells())
            .await?
        {
            leaves.push(r.leaf());
        }
    }
    append_ledger(tx, ctx, R::KIND, first, &leaves).await?;
    Ok(Inserted(leaves.len() as u64))
}

/// `INSERT INTO table (seq, columns…) VALUES (…)`, placeholders written
/// by `placeholder(n)` for n = 1, 2, …; the backend adds its "unless the
/// id exists" clause.
pub fn insert_sql(table: &str, columns: &[&str], placeholder: impl Fn(usize) -> String) -> String {
    let names = std::iter::once("seq")
        .chain(columns.iter().copied())
        .collect::<Vec<_>>()
        .join(", ");
    let values = (1..=columns.len() + 1)
        .map(placeholder)
        .collect::<Vec<_>>()
        .join(",");
    format!("INSERT INTO {table} ({names}) VALUES ({values})")
}

/// Implements [`LedgerTx`] as `Tx` over a sqlx connection type, for a
/// backend to expand once. Both SQL backends run the same statements
/// (numbered `$n` placeholders, which sqlx's SQLite driver binds by number;
/// `ON CONFLICT`; the integer widths PostgreSQL's columns take and SQLite
/// accepts), so they are written here once. The backend passes its
/// connection type and its readers of a ledger run row and a tile row
/// (`fn(&Row) -> Result<LedgerRun>`, `fn(TileId, &Row, Option<usize>) ->
/// Result<Tile>`).
#[macro_export]
macro_rules! sql_ledger_tx {
    ($conn:ty, $run_row:path, $tile_from_row:path) => {
        /// A write transaction's connection, seen by the ledger.
        pub struct Tx<'c>(pub &'c mut $conn);

        #[::async_trait::async_trait]
        impl $crate::ledgered::LedgerTx for Tx<'_> {
            async fn max_seq(&mut self, table: &'static str) -> $crate::Result<i64> {
                let sql = format!("SELECT CAST(COALESCE(MAX(seq), 0) AS BIGINT) FROM {table}");
                ::sqlx::query_scalar(&sql)
                    .fetch_one(&mut *self.0)
                    .await
                    .map_err($crate::ledgered::backend_error)
            }

            async fn insert_if_new(
                &mut self,
                table: &'static str,
                columns: &'static [&'static str],
                seq: i64,
                cells: Vec<$crate::ledgered::Cell>,
            ) -> $crate::Result<bool> {
                use $crate::ledgered::Cell;
                let sql = format!(
                    "{} ON CONFLICT (id) DO NOTHING",
                    $crate::ledgered::insert_sql(table, columns, |n| format!("${n}"))
                );
                let mut q = ::sqlx::query(&sql).bind(seq);
                for c in cells {
                    q = match c {
                        Cell::Text(s) => q.bind(s),
                        Cell::MaybeText(s) => q.bind(s),
                        Cell::Int(i) => q.bind(i),
                        Cell::Int32(i) => q.bind(i),
                        Cell::Real(x) => q.bind(x),
                    };
                }
                let done = q
                    .execute(&mut *self.0)
                    .await
                    .map_err($crate::ledgered::backend_error)?;
                Ok(done.rows_affected() == 1)
            }

            async fn last_run(&mut self) -> $crate::Result<Option<$crate::LedgerRun>> {
                ::sqlx::query(
                    "SELECT first_leaf, kind, first_seq, count FROM ledger_runs ORDER BY first_leaf DESC LIMIT 1",
                )
                .fetch_optional(&mut *self.0)
                .await
                .map_err($crate::ledgered::backend_error)?
                .map(|r| $run_row(&r))
                .transpose()
            }

            async fn tile(
                &mut self,
                id: ::custodian_ledger::TileId,
                width: usize,
            ) -> $crate::Result<Option<::custodian_ledger::Tile>> {
                ::sqlx::query("SELECT width, nodes FROM ledger_tiles WHERE level = $1 AND idx = $2")
                    .bind(i16::from(id.level))
                    .bind(id.index as i64)
                    .fetch_optional(&mut *self.0)
                    .await
                    .map_err($crate::ledgered::backend_error)?
                    .map(|row| $tile_from_row(id, &row, Some(width)))
                    .transpose()
            }

            async fn write_update(&mut self, update: &$crate::LedgerUpdate) -> $crate::Result<()> {
                for t in &update.tiles {
                    ::sqlx::query(
                        "INSERT INTO ledger_tiles (level, idx, width, nodes) VALUES ($1,$2,$3,$4) ON CONFLICT (level, idx) DO UPDATE SET width = excluded.width, nodes = excluded.nodes",
                    )
                    .bind(i16::from(t.id.level))
                    .bind(t.id.index as i64)
                    .bind(t.width() as i32)
                    .bind(t.to_bytes())
                    .execute(&mut *self.0)
                    .await
                    .map_err($crate::ledgered::backend_error)?;
                }
                ::sqlx::query(
                    "INSERT INTO ledger_runs (first_leaf, kind, first_seq, count) VALUES ($1,$2,$3,$4)",
                )
                .bind(update.run.first_leaf as i64)
                .bind(&update.run.kind)
                .bind(update.run.first_seq)
                .bind(update.run.count as i64)
                .execute(&mut *self.0)
                .await
                .map_err($crate::ledgered::backend_error)?;
                ::sqlx::query("INSERT INTO ledger_checkpoints (size, note) VALUES ($1,$2)")
                    .bind(update.checkpoint.size as i64)
                    .bind(&update.checkpoint.note)
                    .execute(&mut *self.0)
                    .await
                    .map_err($crate::ledgered::backend_error)?;
                Ok(())
            }
        }
    };
}

/// A backend's error as the store reports it.
pub fn backend_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl Ledgered for HrEvent {
    const KIND: &'static str = kinds::HR_EVENT;
    const TABLE: &'static str = "hr_events";
    const COLUMNS: &'static [&'static str] = &["id", "ts_us", "user_id", "type", "body"];
    fn cells(&self) -> Vec<Cell> {
        vec![
            Cell::Text(self.id.clone()),
            Cell::Int(self.ts.timestamp_micros()),
            Cell::Text(self.user.clone()),
            Cell::Text(self.kind.name().to_string()),
            Cell::Text(hr_to_json(self)),
        ]
    }
    fn leaf(&self) -> Hash {
        hr_leaf(self)
    }
}

impl Ledgered for NewContact {
    const KIND: &'static str = kinds::CONTACT_REPORT;
    const TABLE: &'static str = "contact_reports";
    const COLUMNS: &'static [&'static str] = &["id", "reported_us", "reporter", "raw"];
    fn cells(&self) -> Vec<Cell> {
        vec![
            Cell::Text(self.report.id.clone()),
            Cell::Int(self.report.reported_at.timestamp_micros()),
            Cell::Text(self.report.reporter.clone()),
            Cell::Text(self.raw.clone()),
        ]
    }
    fn leaf(&self) -> Hash {
        contact_leaf(&self.report)
    }
}

impl Ledgered for CustodyRecord {
    const KIND: &'static str = kinds::CUSTODY;
    const TABLE: &'static str = "custody_records";
    const COLUMNS: &'static [&'static str] =
        &["id", "kind", "doc_id", "user_id", "at_us", "at_off", "body"];
    fn cells(&self) -> Vec<Cell> {
        let (us, off) = ts_to_db(&self.at);
        vec![
            Cell::Text(self.id.clone()),
            Cell::Text(self.kind.clone()),
            Cell::MaybeText(self.doc_id.clone()),
            Cell::Text(self.user_id.clone()),
            Cell::Int(us),
            Cell::Int32(off),
            Cell::Text(self.body.clone()),
        ]
    }
    fn leaf(&self) -> Hash {
        custody_leaf(self)
    }
}

impl Ledgered for NewAlert {
    const KIND: &'static str = kinds::ALERT;
    const TABLE: &'static str = "alerts";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "user_id",
        "raised_us",
        "raised_off",
        "severity",
        "score",
        "body",
    ];
    fn cells(&self) -> Vec<Cell> {
        let (us, off) = ts_to_db(&self.raised_at);
        vec![
            Cell::Text(self.id.clone()),
            Cell::Text(self.user.clone()),
            Cell::Int(us),
            Cell::Int32(off),
            Cell::Text(self.severity.clone()),
            Cell::Real(self.score),
            Cell::Text(self.body.clone()),
        ]
    }
    fn leaf(&self) -> Hash {
        alert_leaf(self)
    }
}

impl Ledgered for RegisterChange {
    const KIND: &'static str = kinds::REGISTER_CHANGE;
    const TABLE: &'static str = "register_changes";
    const COLUMNS: &'static [&'static str] = &[
        "id", "doc_id", "at_us", "at_off", "actor", "field", "old", "new",
    ];
    fn cells(&self) -> Vec<Cell> {
        let (us, off) = ts_to_db(&self.at);
        vec![
            Cell::Text(register_change_id(self)),
            Cell::Text(self.doc_id.clone()),
            Cell::Int(us),
            Cell::Int32(off),
            Cell::Text(self.actor.clone()),
            Cell::Text(self.field.clone()),
            Cell::MaybeText(self.old.clone()),
            Cell::Text(self.new.clone()),
        ]
    }
    fn leaf(&self) -> Hash {
        register_change_leaf(self)
    }
}

#[cfg(test)]
mod tests {
    use super::insert_sql;

    #[test]
    fn the_insert_names_seq_first_and_numbers_every_value() {
        assert_eq!(
            insert_sql("t", &["id", "x"], |n| format!("${n}")),
            "INSERT INTO t (seq, id, x) VALUES ($1,$2,$3)"
        );
        assert_eq!(
            insert_sql("t", &["id"], |_| "?".into()),
            "INSERT INTO t (seq, id) VALUES (?,?)"
        );
    }
}
