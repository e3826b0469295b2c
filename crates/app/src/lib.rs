//! Custodian's use cases, one home for every frontend.
//!
//! Rules:
//! - A use case is a function over the store (and, where it writes, the
//!   ledger context and the time it happens at, passed in: no use case
//!   reads the clock). The CLI and the server only authorise, parse, call
//!   one of these and render the result; neither holds a product rule.
//! - Every write that is evidence goes through the store's ledgered
//!   inserts, so it is in the ledger in the same transaction.
//! - Nothing here speaks HTTP or draws a terminal: errors are typed
//!   (one [`error::AppError`]) and the frontends map them to
//!   statuses and exit codes in one place each.

pub mod access;
pub mod accounts;
pub mod bundle;
pub mod cases;
pub mod contacts;
pub mod custody;
pub mod detection;
pub mod error;
pub mod evidence;
pub mod exposure;
pub mod html;
pub mod ingest;
pub mod notify;
pub mod people;
pub mod queue;
pub mod records;
pub mod register;
pub mod tokens;
pub mod trace;
pub mod triage;
mod zip_entries;
