//! Continuous detection in the real `custodian serve`: a simulated
//! company's events posted over the API in small batches, with the server
//! killed (`kill -9`) and started again twice, give exactly the alerts that
//! `custodian detect --from-store` gives over the same events, soon after
//! the last batch (on SQLite, and on PostgreSQL when CUSTODIAN_TEST_POSTGRES
//! is set).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::serve::{http, start_server as start};
use crate::support::*;

/// The ids of the alerts a store holds.
fn alert_ids(store: &str) -> BTreeSet<String> {
    column(store, "SELECT id FROM alerts").into_iter().collect()
}

/// One text column of a query's rows.
fn column(store: &str, q: &str) -> Vec<String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        if let Some(path) = store.strip_prefix("sqlite://") {
            let pool = sqlx::SqlitePool::connect(&format!("sqlite://{path}"))
                .await
                .unwrap();
            let ids: Vec<(String,)> = sqlx::query_as(q).fetch_all(&pool).await.unwrap();
            pool.close().await;
            ids.into_iter().map(|r| r.0).collect::<Vec<_>>()
        } else {
            let pg = custodian_store_postgres::PgStore::open(store)
                .await
                .unwrap();
            let ids: Vec<(String,)> = sqlx::query_as(q).fetch_all(pg.pool()).await.unwrap();
            ids.into_iter().map(|r| r.0).collect::<Vec<_>>()
        }
    })
}

#[test]
fn alerts_raised_live_across_kill_9_are_the_batchs() {
    let tmp = tempfile::tempdir().unwrap();
    let (sim, bare) = simulated(tmp.path());
    let lines: Vec<String> = std::fs::read_to_string(sim.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    // The server looks every second and checkpoints at every step; its
    // window is four days (the batches below stay well within it).
    std::fs::write(
        tmp.path().join("custodian.toml"),
        "[serve]\nlate_hours = 96\ndetect_interval_seconds = 1\ncheckpoint_seconds = 0\n",
    )
    .unwrap();
    for (i, store) in stores(tmp.path(), "live").into_iter().enumerate() {
        let batch_store = if store.starts_with("sqlite://") {
            format!(
                "sqlite://{}",
                tmp.path().join(format!("batch{i}.db")).display()
            )
        } else {
            store.replace("schema=t_it_live", "schema=t_it_live_batch")
        };
        ok(custodian(tmp.path(), &batch_store)
            .arg("import")
            .arg(&sim)
            .output()
            .unwrap());
        ok(custodian(tmp.path(), &batch_store)
            .args(["detect", "--from-store"])
            .output()
            .unwrap());
        let want = alert_ids(&batch_store);
        assert!(want.len() >= 2, "the company raises alerts: {want:?}");

        ok(custodian(tmp.path(), &store)
            .arg("import")
            .arg(&bare)
            .output()
            .unwrap());
        let token = ok(custodian(tmp.path(), &store)
            .args(["token", "create", "--name", "collector", "--role", "admin"])
            .output()
            .unwrap());
        let auth = format!("Bearer {}", token.trim());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = start(tmp.path(), &store, port);
        let chunks: Vec<&[String]> = lines.chunks(97).collect();
        let kills = [chunks.len() / 3, 2 * chunks.len() / 3];
        let mut seen_live = false;
        for (n, chunk) in chunks.iter().enumerate() {
            let (status, _, body) = http(
                port,
                "POST",
                "/api/events",
                &[("Authorization", &auth)],
                &chunk.join("\n"),
            );
            assert_eq!(status, 200, "{body}");
            if kills.contains(&n) {
                // Give detection a moment, then kill it wherever it is.
                std::thread::sleep(Duration::from_millis(300 + 400 * (n % 2) as u64));
                seen_live |= !alert_ids(&store).is_empty();
                let _ = server.0.kill(); // SIGKILL
                let _ = server.0.wait();
                server = start(tmp.path(), &store, port);
            }
        }
        // Within seconds of the last batch, detection has read every stored
        // event and every alert is there, and no other.
        let stored = column(&store, "SELECT CAST(COUNT(*) AS TEXT) FROM events");
        let read_all = format!("custodian_detect_events_total {}\n", stored[0]);
        let posted = Instant::now();
        let metrics = || http(port, "GET", "/metrics", &[("Authorization", &auth)], "").2;
        while !metrics().contains(&read_all) && posted.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(100));
        }
        let got = alert_ids(&store);
        eprintln!(
            "{}: {} alerts, every event judged {:.1} s after the last batch",
            store.split(':').next().unwrap(),
            got.len(),
            posted.elapsed().as_secs_f64()
        );
        let m = metrics();
        assert!(m.contains(&read_all), "{m}");
        assert_eq!(got, want, "live {} alerts, batch {}", got.len(), want.len());
        assert!(seen_live, "alerts came while events still arrived");
        assert!(m.contains("custodian_detect_late_events_total 0\n"), "{m}");
        assert!(m.contains("custodian_alerts_withdrawn_total 0\n"), "{m}");
        drop(server);
    }
}

/// A gzipped events file left in the drop folder (written under another
/// name, then renamed) is ingested and judged: the same events and alerts
/// as an import and `detect --from-store`; a file that is not what its name
/// says goes to `failed/`.
#[test]
fn the_drop_folder_is_ingested_and_judged() {
    use std::io::Write as _;
    let tmp = tempfile::tempdir().unwrap();
    let (sim, bare) = simulated(tmp.path());
    let batch = format!("sqlite://{}", tmp.path().join("batch.db").display());
    ok(custodian(tmp.path(), &batch)
        .arg("import")
        .arg(&sim)
        .output()
        .unwrap());
    ok(custodian(tmp.path(), &batch)
        .args(["detect", "--from-store"])
        .output()
        .unwrap());
    let want = alert_ids(&batch);
    assert!(!want.is_empty(), "the company raises alerts");

    let store = format!("sqlite://{}", tmp.path().join("live.db").display());
    ok(custodian(tmp.path(), &store)
        .arg("import")
        .arg(&bare)
        .output()
        .unwrap());
    let drop = tmp.path().join("drop");
    std::fs::write(
        tmp.path().join("custodian.toml"),
        format!(
            "[serve]\ndetect_interval_seconds = 1\ndrop_dir = \"{}\"\n",
            drop.display()
        ),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _server = start(tmp.path(), &store, port);
    std::fs::create_dir_all(&drop).unwrap();
    let part = drop.join("events.part");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&part).unwrap(),
        flate2::Compression::fast(),
    );
    gz.write_all(&std::fs::read(sim.join("events.jsonl")).unwrap())
        .unwrap();
    gz.finish().unwrap();
    std::fs::rename(&part, drop.join("export-1.jsonl.gz")).unwrap();
    std::fs::write(drop.join("export-2.jsonl.gz"), "not gzip at all").unwrap();
    let t = Instant::now();
    let count = |s: &str| column(s, "SELECT CAST(COUNT(*) AS TEXT) FROM events")[0].clone();
    while (alert_ids(&store) != want || count(&store) != count(&batch))
        && t.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(count(&store), count(&batch));
    assert_eq!(alert_ids(&store), want);
    assert!(drop.join("done/export-1.jsonl.gz").exists());
    while !drop.join("failed/export-2.jsonl.gz").exists() && t.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(drop.join("failed/export-2.jsonl.gz").exists());
}
