//! The custody ledger end to end: tampering with plain SQL is detected and
//! named, proofs verify offline, and `kill -9` never leaves a log that does
//! not verify or loses what a reader saw committed.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

/// Runs SQL against a store with a plain driver connection.
fn sql(store: &str, statements: &[&str]) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        if let Some(path) = store.strip_prefix("sqlite://") {
            let pool = sqlx::SqlitePool::connect(&format!("sqlite://{path}"))
                .await
                .unwrap();
            for s in statements {
                sqlx::query(s)
                    .execute(&pool)
                    .await
                    .unwrap_or_else(|e| panic!("{s}: {e}"));
            }
            pool.close().await;
        } else {
            let pg = custodian_store_postgres::PgStore::open(store)
                .await
                .unwrap();
            for s in statements {
                sqlx::query(s)
                    .execute(pg.pool())
                    .await
                    .unwrap_or_else(|e| panic!("{s}: {e}"));
            }
        }
    });
}

fn verify(cwd: &Path, store: &str, extra: &[&str]) -> (bool, String) {
    let out = custodian(cwd, store)
        .args(["ledger", "verify"])
        .args(extra)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn imported(cwd: &Path, store: &str, data: &Path) {
    ok(custodian(cwd, store)
        .arg("import")
        .arg(data)
        .output()
        .unwrap());
}

/// The UPDATE that makes the log's right-edge tile one hash wider than
/// the log: a well-formed tile holding a made-up hash (the tile is read
/// through the store, the statement is plain SQL).
fn extend_edge_tile_sql(store: &str) -> String {
    use custodian_store::Store;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let edge = rt.block_on(async {
        let s: Box<dyn Store> = if store.starts_with("sqlite://") {
            Box::new(
                custodian_store_sqlite::SqliteStore::open(store)
                    .await
                    .unwrap(),
            )
        } else {
            Box::new(
                custodian_store_postgres::PgStore::open(store)
                    .await
                    .unwrap(),
            )
        };
        let size: u64 = s.ledger_runs().await.unwrap().iter().map(|r| r.count).sum();
        s.ledger_tiles_from(0, size / 256, 1)
            .await
            .unwrap()
            .pop()
            .unwrap()
    });
    assert!(!edge.is_full(), "the edge tile is partial");
    let mut base = edge.base().to_vec();
    base.push([0xab; 32]);
    let hex: String = custodian_ledger::Tile::from_base(edge.id, &base)
        .to_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let blob = if store.starts_with("sqlite://") {
        format!("X'{hex}'")
    } else {
        format!("decode('{hex}', 'hex')")
    };
    format!(
        "UPDATE ledger_tiles SET width = {}, nodes = {blob} WHERE level = 0 AND idx = {}",
        base.len(),
        edge.id.index
    )
}

/// Stands for [`extend_edge_tile_sql`]'s statement in a scenario.
const EXTEND_EDGE_TILE: &str = "-- the UPDATE of extend_edge_tile_sql";

#[test]
fn tampering_with_plain_sql_is_detected_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let data = simulate(tmp.path(), "t", 40, 6, 5, &[]);
    let scenarios: &[(&str, &[&str], &str)] = &[
        (
            "event-byte",
            &["UPDATE events SET rest = replace(rest, '\"host\":\"pc-', '\"host\":\"pX-') WHERE seq = 100"],
            "(event '",
        ),
        (
            "register-change",
            &["UPDATE register_changes SET actor = 'someone-else' WHERE seq = 3"],
            "(register-change 'rc-",
        ),
        ("tile-byte", &["UPDATE ledger_tiles SET nodes = zeroblob(length(nodes)) WHERE level = 0 AND idx = 1"], "leaf 256 (event '"),
        ("deleted-row", &["DELETE FROM events WHERE seq = 700"], "missing from the store"),
        (
            "swapped-rows",
            &[
                "UPDATE events SET user_id = 'SWAP' WHERE seq = 800",
                "UPDATE events SET user_id = (SELECT user_id FROM events WHERE seq = 801) WHERE seq = 800",
                "UPDATE events SET user_id = 'E10000' WHERE seq = 801",
            ],
            "(event '",
        ),
        (
            "record-outside-the-ledger",
            &["INSERT INTO events (seq, id, ts_us, ts_off, user_id, action, doc, rest) VALUES (999999, 'forged', 0, 0, 'E10001', 'logon', NULL, '{}')"],
            "outside the ledger",
        ),
        ("extended-edge-tile", &[EXTEND_EDGE_TILE], "more than the log's"),
        (
            "truncated-log",
            &["DELETE FROM ledger_runs WHERE first_leaf = (SELECT max(first_leaf) FROM ledger_runs)"],
            "truncated",
        ),
    ];
    for store in stores(tmp.path(), "tamper") {
        for (name, statements, must_name) in scenarios {
            let store = if store.starts_with("sqlite") {
                format!(
                    "sqlite://{}",
                    tmp.path().join(format!("tamper-{name}.db")).display()
                )
            } else {
                format!("{store}_{}", name.replace('-', "_"))
            };
            imported(tmp.path(), &store, &data);
            let (good, text) = verify(tmp.path(), &store, &[]);
            assert!(good, "{name}: a clean import verifies: {text}");
            let statements: Vec<String> = statements
                .iter()
                .map(|s| {
                    if *s == EXTEND_EDGE_TILE {
                        extend_edge_tile_sql(&store)
                    } else if store.starts_with("postgres") {
                        s.replace(
                            "zeroblob(length(nodes))",
                            "decode(repeat('00', length(nodes)), 'hex')",
                        )
                    } else {
                        s.to_string()
                    }
                })
                .collect();
            sql(
                &store,
                &statements.iter().map(String::as_str).collect::<Vec<_>>(),
            );
            let (good, text) = verify(tmp.path(), &store, &[]);
            assert!(!good, "{name} on {store}: tampering went unnoticed");
            assert!(text.contains("LEDGER DOES NOT VERIFY"), "{name}: {text}");
            assert!(
                text.contains(must_name),
                "{name} on {store}: the failure does not name it ({must_name}): {text}"
            );
            cleanup(&store);
        }
    }
}

#[test]
fn a_consistent_rollback_is_caught_by_an_outsiders_checkpoint_and_foreign_keys_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = simulate(tmp.path(), "r", 40, 6, 6, &[]);
    for store in stores(tmp.path(), "rollback") {
        imported(tmp.path(), &store, &data);
        let status = run_json(tmp.path(), &store, &["ledger", "status", "--json"]);
        let note = status["latest_checkpoint"].as_str().unwrap();
        let kept = tmp.path().join("kept-checkpoint");
        std::fs::write(&kept, note).unwrap();
        let size = status["size"].as_u64().unwrap();
        // Roll back the last batch consistently: records, run, tiles' checkpoint.
        let runs_last = "(SELECT max(first_leaf) FROM ledger_runs)";
        sql(&store, &[
            &format!("DELETE FROM events WHERE seq >= (SELECT first_seq FROM ledger_runs WHERE first_leaf = {runs_last}) AND (SELECT kind FROM ledger_runs WHERE first_leaf = {runs_last}) = 'event'"),
            &format!("DELETE FROM contact_reports WHERE (SELECT kind FROM ledger_runs WHERE first_leaf = {runs_last}) = 'contact-report'"),
            &format!("DELETE FROM ledger_checkpoints WHERE size > {runs_last}"),
            &format!("DELETE FROM ledger_runs WHERE first_leaf = {runs_last}"),
        ]);
        let (_, text) = verify(tmp.path(), &store, &[]);
        let (good, text2) = verify(
            tmp.path(),
            &store,
            &["--checkpoint", kept.to_str().unwrap()],
        );
        assert!(!good, "{store}: a rollback of a log of {size} went unnoticed with the outsider's checkpoint ({text})");
        assert!(text2.contains("trusted checkpoint"), "{text2}");
        // A checkpoint signed with another key is rejected.
        let other = tmp.path().join(format!(
            "other-{}.key",
            if store.starts_with("sqlite") {
                "sqlite"
            } else {
                "pg"
            }
        ));
        ok(custodian(tmp.path(), &store)
            .args(["ledger", "keygen", "--out", other.to_str().unwrap()])
            .output()
            .unwrap());
        let other_pub = String::from_utf8(
            Command::new(bin())
                .current_dir(tmp.path())
                .env("CUSTODIAN_LEDGER_KEY_FILE", &other)
                .args(["ledger", "pubkey"])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        let (good, text) = verify(tmp.path(), &store, &["--key", other_pub.trim()]);
        assert!(
            !good && (text.contains("no signature by key") || text.contains("does not verify")),
            "{text}"
        );
        cleanup(&store);
    }
}

#[test]
fn proofs_verify_offline_and_tiles_export() {
    let tmp = tempfile::tempdir().unwrap();
    let data = simulate(tmp.path(), "p", 40, 6, 7, &[]);
    let store = format!("sqlite://{}", tmp.path().join("p.db").display());
    imported(tmp.path(), &store, &data);
    let pubkey = ok(custodian(tmp.path(), &store)
        .args(["ledger", "pubkey"])
        .output()
        .unwrap());
    let proof = tmp.path().join("proof.json");
    let first_event: String = std::fs::read_to_string(data.join("events.jsonl"))
        .unwrap()
        .lines()
        .nth(10)
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["id"].as_str().unwrap().to_string()
        })
        .unwrap();
    ok(custodian(tmp.path(), &store)
        .args([
            "ledger",
            "prove",
            &first_event,
            "--out",
            proof.to_str().unwrap(),
        ])
        .output()
        .unwrap());
    // Offline: no store flag, no database in the folder.
    let elsewhere = tempfile::tempdir().unwrap();
    let out = Command::new(bin())
        .current_dir(elsewhere.path())
        .args(["ledger", "verify-proof"])
        .arg(&proof)
        .args(["--key", pubkey.trim(), "--json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verified"], true, "{v}");
    assert_eq!(v["proven"]["record_id"], first_event.as_str());
    assert!(
        !elsewhere.path().join("custodian.db").exists(),
        "verify-proof touched no store"
    );
    // A changed record in the proof file is refused.
    let mut bundle: Value =
        serde_json::from_str(&std::fs::read_to_string(&proof).unwrap()).unwrap();
    let entry = bundle["entry"].as_str().unwrap().to_string();
    let forged = entry.replacen("\nE1", "\nX1", 1);
    assert_ne!(forged, entry, "the test must change the record");
    bundle["entry"] = Value::String(forged);
    std::fs::write(&proof, bundle.to_string()).unwrap();
    let out = Command::new(bin())
        .current_dir(elsewhere.path())
        .args(["ledger", "verify-proof"])
        .arg(&proof)
        .args(["--key", pubkey.trim()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    // Static tiles.
    let dir = tmp.path().join("tiles");
    ok(custodian(tmp.path(), &store)
        .args(["ledger", "export-tiles", dir.to_str().unwrap()])
        .output()
        .unwrap());
    let cp = std::fs::read_to_string(dir.join("checkpoint")).unwrap();
    let size: u64 = cp.lines().nth(1).unwrap().parse().unwrap();
    let full = size / 256;
    assert!(dir.join("tile/0/000").exists() || full == 0);
    assert!(
        dir.join(format!("tile/0/{:03}.p/{}", full % 1000, size % 256))
            .exists()
            || size.is_multiple_of(256)
    );
    assert_eq!(
        std::fs::metadata(dir.join("tile/0/000")).unwrap().len(),
        256 * 32
    );
}

#[test]
fn kill_9_during_appends_never_breaks_the_log_nor_loses_what_was_committed() {
    let tmp = tempfile::tempdir().unwrap();
    let data = simulate(tmp.path(), "k", 200, 30, 9, &[]);
    ok(custodian(tmp.path(), "sqlite://unused.db")
        .args(["ledger", "keygen"])
        .output()
        .unwrap());
    for (store, rounds) in stores(tmp.path(), "ledgerkill9")
        .into_iter()
        .zip([20u64, 8])
    {
        let mut killed_mid = 0;
        for round in 0..rounds {
            let mut child = custodian(tmp.path(), &store)
                .args(["import", "--batch-size", "300"])
                .arg(&data)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            // Watch committed checkpoints while it runs.
            let mut seen = 0u64;
            let deadline =
                std::time::Instant::now() + Duration::from_millis(100 + (round * 137) % 900);
            while std::time::Instant::now() < deadline {
                let s = custodian(tmp.path(), &store)
                    .args(["ledger", "status", "--json"])
                    .output()
                    .unwrap();
                if let Ok(v) = serde_json::from_slice::<Value>(&s.stdout) {
                    seen = seen.max(v["size"].as_u64().unwrap_or(0));
                }
            }
            if child.try_wait().unwrap().is_none() {
                killed_mid += 1;
            }
            let _ = Command::new("kill")
                .args(["-9", &child.id().to_string()])
                .status();
            let _ = child.wait();
            let (good, text) = verify(tmp.path(), &store, &[]);
            assert!(good, "{store}, kill {round}: {text}");
            let after = run_json(tmp.path(), &store, &["ledger", "status", "--json"]);
            assert!(
                after["size"].as_u64().unwrap() >= seen,
                "{store}: committed entries were lost ({} < {seen})",
                after["size"]
            );
        }
        assert!(killed_mid > 0, "{store}: no kill landed mid-import");
        imported(tmp.path(), &store, &data);
        let (good, text) = verify(tmp.path(), &store, &[]);
        assert!(good, "{text}");
        cleanup(&store);
    }
}

/// A store written by the binary before the ledgered write, the use cases
/// and the typed custody records were rewritten
/// (`tests/fixtures/store-2026-12-01`): today's binary verifies it, reads
/// its custody records (its copy traces back to the recipient) and adds to
/// it with a ledger that still verifies.
#[test]
fn an_older_store_still_verifies_and_grows() {
    use std::io::Read as _;
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-2026-12-01");
    let tmp = tempfile::tempdir().unwrap();
    let mut db = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(fixture.join("old.db.gz")).unwrap())
        .read_to_end(&mut db)
        .unwrap();
    std::fs::write(tmp.path().join("old.db"), db).unwrap();
    let store = format!("sqlite://{}", tmp.path().join("old.db").display());
    an_older_store_grows(tmp.path(), &store, &fixture.join("copy.txt"));
}

/// The same on PostgreSQL (`tests/fixtures/store-pg-2026-12-01`, a dump of
/// the schema the previous binary wrote, loaded into a schema of its own).
#[test]
fn an_older_postgres_store_still_verifies_and_grows() {
    use std::io::Read as _;
    let Some(store) = stores(Path::new("."), "older_pg")
        .into_iter()
        .find(|s| s.starts_with("postgres"))
    else {
        return; // `stores` said SKIPPED
    };
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-pg-2026-12-01");
    let mut sql = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(fixture.join("old-pg.sql.gz")).unwrap())
        .read_to_string(&mut sql)
        .unwrap();
    let schema = store.rsplit("schema=").next().unwrap().to_string();
    let sql = sql.replace("fixture_2026_12_01", &schema);
    let base = store.split(['?', '&']).next().unwrap().to_string();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let pool = sqlx::PgPool::connect(&base).await.unwrap();
            sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                .execute(&pool)
                .await
                .unwrap();
            sqlx::raw_sql(&sql).execute(&pool).await.unwrap();
            pool.close().await;
        });
    let tmp = tempfile::tempdir().unwrap();
    an_older_store_grows(tmp.path(), &store, &fixture.join("copy.txt"));
    cleanup(&store);
}

/// An older store (with the keys of `tests/fixtures/store-2026-12-01`)
/// verifies, traces its copy `copy` to E10012, takes new records and
/// verifies again.
fn an_older_store_grows(dir: &Path, store: &str, copy: &Path) {
    let keys = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-2026-12-01");
    // A checkout leaves the keys readable by others, which Custodian
    // refuses: they are put in place as an installation would have them.
    for k in ["ledger.key", "content.key", "custodian-fingerprint.key"] {
        use std::os::unix::fs::PermissionsExt as _;
        let to = dir.join(k);
        std::fs::copy(keys.join(k), &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let run = |args: &[&str]| {
        custodian(dir, store)
            .env("CUSTODIAN_LEDGER_KEY_FILE", dir.join("ledger.key"))
            .env("CUSTODIAN_CONTENT_KEY_FILE", dir.join("content.key"))
            .env_remove("CUSTODIAN_FINGERPRINT_KEY_FILE")
            .args(args)
            .output()
            .unwrap()
    };
    let verified = ok(run(&["ledger", "verify"]));
    assert!(verified.contains("VERIFIED: 1453 entries"), "{verified}");
    // The old copy record reads as a typed record: the copy's token names
    // its recipient, with a valid tag.
    let report = json(run(&["trace", copy.to_str().unwrap(), "--json"]));
    assert_eq!(report["hint"]["recipient"], "E10012", "{report}");
    assert_eq!(report["hint"]["token_valid"], true, "{report}");
    let listed = ok(run(&["copy", "list", "D-LX-MANUAL-11"]));
    assert!(
        listed.contains("copy") && listed.contains("refusal"),
        "{listed}"
    );
    // New records join the old ledger: an acknowledgement, a level change
    // (the old approval is read back by the policy's reader) and detection
    // over the store.
    ok(run(&[
        "people",
        "acknowledge",
        "E10003",
        "--policy",
        "2026-12",
    ]));
    ok(run(&[
        "register",
        "set-level",
        "D-LX-MANUAL-11",
        "confidential",
        "--as",
        "E10012",
    ]));
    ok(run(&["detect", "--from-store"]));
    let again = ok(run(&["ledger", "verify"]));
    let n: u64 = again
        .split("VERIFIED: ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(n >= 1455, "{again}");
}
