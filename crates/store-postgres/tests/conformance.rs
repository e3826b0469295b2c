//! The shared conformance story against PostgreSQL, one fresh schema per
//! case. Runs when `CUSTODIAN_TEST_POSTGRES` holds a URL (`.ci/run` sets
//! it); otherwise every case prints that it was skipped.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use custodian_store::Store;
use custodian_store_postgres::PgStore;

fn url_for(case: &str) -> Option<String> {
    let url = std::env::var("CUSTODIAN_TEST_POSTGRES").ok()?;
    let schema = format!("t_conf_{}_{}", case, std::process::id());
    let sep = if url.contains('?') { '&' } else { '?' };
    Some(format!("{url}{sep}schema={schema}"))
}

async fn make(case: &str) -> Option<Box<dyn Store>> {
    let Some(url) = url_for(case) else {
        eprintln!("SKIPPED {case}: CUSTODIAN_TEST_POSTGRES is not set, the PostgreSQL half of the conformance suite did not run");
        return None;
    };
    Some(Box::new(PgStore::open(&url).await.unwrap()))
}

async fn done(case: &str) {
    if let Some(url) = url_for(case) {
        PgStore::open(&url)
            .await
            .unwrap()
            .drop_schema()
            .await
            .unwrap();
    }
}

custodian_store::conformance_tests!(make, done);
