//! SQLite's side of the ledgered write ([`custodian_store::ledgered`]): the
//! shared statements, run on the connection of the caller's
//! `BEGIN IMMEDIATE` transaction.

use sqlx::SqliteConnection;

use crate::{run_row, tile_from_row};

custodian_store::sql_ledger_tx!(SqliteConnection, run_row, tile_from_row);
