//! End-to-end tests: the real `custodian` binary against real stores
//! (SQLite always; PostgreSQL when CUSTODIAN_TEST_POSTGRES is set).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod bombs;
mod case;
mod cli;
mod detect;
mod import;
mod ledger;
mod live;
mod notify;
mod serve;
mod support;
