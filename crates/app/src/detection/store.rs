//! Detection over what the store holds: every stored event read back in
//! pages, parsed on the blocking pool, merged into the engine's order; the
//! alerts are stored and ledgered (an alert's id derives from its content,
//! so running again over the same data stores nothing new) and the
//! register's exposure findings recorded.

use std::sync::Arc;
use std::time::Instant;

use custodian_detect::{Alert, Config, Context, Engine};
use custodian_ingest::{Block, Progress};
use custodian_store::{LedgerContext, NewAlert, Store};

use super::blocks::{parse_block, run_sorted, EventRun, Item};
use super::{new_alert, DetectSummary};
use crate::error::{AppError, Result};

/// Detection over what the store holds; alerts are stored and ledgered.
pub async fn detect_store(
    store: &dyn Store,
    ledger: &LedgerContext,
    config: &Config,
    max_line_bytes: usize,
    progress: &Arc<dyn Progress>,
) -> Result<(Vec<Alert>, DetectSummary, u64)> {
    let t = Instant::now();
    let ctx = Context {
        people: store.people().await?,
        documents: store.documents().await?,
        hr: store.hr_events().await?,
        contacts: store.contact_reports().await?,
    };
    let total = store.counts().await?.events;
    progress.begin("stored events", total);
    let mut engine = Engine::new(&ctx, config.clone());
    let names = engine.names();
    let mut blocks = Vec::new();
    let mut after = 0i64;
    let mut run = EventRun::default();
    let mut read = 0u64;
    loop {
        let page = store.event_lines(after, 50_000).await?;
        let Some(last) = page.last() else { break };
        after = last.0;
        let mut data = Vec::with_capacity(page.iter().map(|(_, l)| l.len() + 1).sum());
        for (_, l) in &page {
            data.extend_from_slice(l.as_bytes());
            data.push(b'\n');
        }
        let block = Block {
            seq: blocks.len() as u64,
            first_line: 1,
            offset: 0,
            data,
        };
        let n = page.len() as u64;
        let names = names.clone();
        let parsed =
            tokio::task::spawn_blocking(move || parse_block(block, &names, max_line_bytes, true))
                .await
                .map_err(|e| AppError::Failed(format!("the parser task failed: {e}")))?;
        run.read += parsed.read;
        let slow = parsed
            .items
            .iter()
            .filter(|i| matches!(i, Item::Slow(_)))
            .count();
        if slow > 0 {
            tracing::debug!(slow, "events read back through the ordinary parser");
        }
        for (_, why, _) in parsed.rejects.iter().take(3) {
            tracing::warn!("a stored event cannot be read back: {why}");
        }
        blocks.push(parsed);
        read += n;
        progress.position(read);
    }
    progress.end("stored events");
    let mut alerts = Vec::new();
    run_sorted(&blocks, &mut engine, &names, &mut alerts, &mut run);
    std::mem::forget(blocks);
    let new: Vec<NewAlert> = alerts.iter().map(new_alert).collect::<Result<_>>()?;
    let stored = super::store_alerts(store, ledger, &new).await?;
    let exposures = engine.exposures();
    let recorded = crate::exposure::record(store, &exposures, ledger).await?;
    if recorded > 0 {
        tracing::info!(recorded, "register exposure findings recorded");
    }
    let seconds = t.elapsed().as_secs_f64();
    let summary = DetectSummary::of(
        &mut engine,
        &alerts,
        exposures,
        (run.read, run.used),
        seconds,
    );
    Ok((alerts, summary, stored))
}
