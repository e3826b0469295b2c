//! The JSON API's handlers, one file per resource: each authorises nothing
//! itself (the role table does, in `enforce`), parses the request, calls
//! one `custodian_app` use case or store read, and renders JSON.

pub mod access;
pub mod alerts;
pub mod cases;
pub mod contacts;
pub mod ingest;
pub mod ledger;
pub mod register;
pub mod tokens;
