//! PostgreSQL's side of the ledgered write ([`custodian_store::ledgered`]):
//! the shared statements, run on the connection of the caller's
//! transaction, which holds the ledger lock.

use sqlx::PgConnection;

use crate::{run_row, tile_from_row};

custodian_store::sql_ledger_tx!(PgConnection, run_row, tile_from_row);
