use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::Duration;

use custodian_sim::faults;

use crate::support::*;

#[test]
fn broken_lines_are_rejected_with_their_place_and_good_ones_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let data = simulate(tmp.path(), "broken", 120, 20, 11, &[]);
    let injected = faults::inject(&data, 5).unwrap();
    assert!(injected.redelivered > 0);
    for store in stores(tmp.path(), "broken") {
        let s = import_json(tmp.path(), &store, &data);
        assert_eq!(s["events_imported"], injected.good_events, "{store}");
        assert_eq!(s["events_duplicate"], injected.redelivered, "{store}");
        let got: BTreeSet<(String, u64)> = s["rejected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["file"].as_str().unwrap().to_string(),
                    r["line"].as_u64().unwrap(),
                )
            })
            .collect();
        let want: BTreeSet<(String, u64)> = injected
            .bad
            .iter()
            .map(|b| (b.file.clone(), b.line))
            .collect();
        assert_eq!(
            got, want,
            "{store}: rejected lines differ from the injected ones"
        );
        for r in s["rejected"].as_array().unwrap() {
            assert!(!r["reason"].as_str().unwrap().is_empty());
        }
        let reasons: Vec<&str> = s["rejected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["reason"].as_str().unwrap())
            .collect();
        for needle in [
            "truncated JSON",
            "field `ts`",
            "unknown user",
            "not UTF-8",
            "exceeds the limit",
            "broken CSV quoting",
            "unknown level",
            "field `pages`",
        ] {
            assert!(
                reasons.iter().any(|r| r.contains(needle)),
                "{store}: no reason mentions {needle:?}: {reasons:#?}"
            );
        }
        // The rejects file holds every rejected line; an over-long one as
        // its first 64 KiB, with its full length.
        let rejects_file = s["rejects_file"].as_str().unwrap();
        let kept = std::fs::read_to_string(rejects_file).unwrap();
        assert_eq!(kept.lines().count(), injected.bad.len());
        let long: Vec<serde_json::Value> = kept
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| {
                v["truncated_from_bytes"]
                    .as_u64()
                    .is_some_and(|n| n > 1_000_000)
            })
            .collect();
        assert_eq!(long.len(), 1, "the 1 MB line is named with its length");
        assert!(long[0]["text"].as_str().unwrap().len() <= 64 << 10);
        assert!(
            kept.lines().all(|l| l.len() < 200_000),
            "no line kept whole past 64 KiB"
        );
        assert!(
            kept.contains("\"base64\""),
            "non-UTF-8 bytes are kept as base64"
        );

        // Importing again adds nothing.
        let again = import_json(tmp.path(), &store, &data);
        assert_eq!(again["events_imported"], 0);
        assert_eq!(again["people_new"], 0);
        assert_eq!(again["documents_new"], 0);
        assert_eq!(again["hr_imported"], 0);
        assert_eq!(again["contacts_imported"], 0);
        assert_eq!(
            again["events_duplicate"],
            injected.good_events + injected.redelivered
        );
        let st = run_json(tmp.path(), &store, &["status", "--json"]);
        assert_eq!(st["counts"]["events"], injected.good_events);
        assert_eq!(
            st["counts"]["rejected_lines"],
            injected.bad.len() as u64,
            "rejects kept once"
        );
        cleanup(&store);
    }
}

#[test]
fn gzip_events_read_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = simulate(tmp.path(), "plain", 60, 10, 3, &[]);
    let gz = simulate(tmp.path(), "gz", 60, 10, 3, &["--gzip"]);
    assert!(gz.join("events.jsonl.gz").exists());
    let a = import_json(tmp.path(), "sqlite://a.db", &plain);
    let b = import_json(tmp.path(), "sqlite://b.db", &gz);
    assert_eq!(a["events_imported"], b["events_imported"]);
    assert!(a["events_imported"].as_u64().unwrap() > 1000);
}

#[test]
fn unusable_folders_fail_with_a_clear_message() {
    let tmp = tempfile::tempdir().unwrap();
    // What `custodian import FOLDER` into `store` says on stderr; it must fail.
    let refused = |store: &str, folder: &std::path::Path| {
        let out = custodian(tmp.path(), store)
            .arg("import")
            .arg(folder)
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let err = refused("sqlite://x.db", &empty);
    assert!(err.contains("no directory.csv"), "{err}");

    assert!(refused("sqlite://x.db", &tmp.path().join("nope")).contains("nope"));

    let data = simulate(tmp.path(), "d", 20, 3, 1, &[]);
    std::fs::write(data.join("documents.csv"), "doc_id,title\nD1,x\n").unwrap();
    let err = refused("sqlite://x.db", &data);
    assert!(
        err.contains("documents.csv") && err.contains("classification"),
        "{err}"
    );

    let err = refused("postgres://nobody@127.0.0.1:1/none", &data);
    assert!(err.contains("cannot reach the store"), "{err}");
}

#[test]
fn kill_9_during_import_then_reimport_equals_a_clean_import() {
    let tmp = tempfile::tempdir().unwrap();
    let data = simulate(tmp.path(), "k", 300, 40, 21, &[]);
    faults::inject(&data, 2).unwrap();
    let clean = import_json(tmp.path(), "sqlite://clean.db", &data);
    let clean_status = run_json(tmp.path(), "sqlite://clean.db", &["status", "--json"]);
    assert!(clean["events_imported"].as_u64().unwrap() > 40_000);
    for store in stores(tmp.path(), "kill9") {
        let mut killed_mid_import = 0;
        for (round, delay_ms) in [150u64, 400, 800].into_iter().enumerate() {
            let mut child = custodian(tmp.path(), &store)
                .args(["import", "--batch-size", "1000"])
                .arg(&data)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(Duration::from_millis(delay_ms * (round as u64 + 1)));
            if child.try_wait().unwrap().is_none() {
                killed_mid_import += 1;
            }
            let _ = Command::new("kill")
                .args(["-9", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
        assert!(
            killed_mid_import > 0,
            "{store}: no kill landed during an import"
        );
        ok(custodian(tmp.path(), &store)
            .arg("import")
            .arg(&data)
            .output()
            .unwrap());
        let st = run_json(tmp.path(), &store, &["status", "--json"]);
        assert_eq!(
            st["counts"], clean_status["counts"],
            "{store}: after kill -9 and re-import"
        );
        cleanup(&store);
    }
}

#[cfg(unix)]
#[test]
fn the_store_and_rejects_are_private_implausible_counts_and_huge_lines_are_bounded() {
    use std::io::Write as _;
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let data = simulate(tmp.path(), "co", 40, 10, 5, &[]);
    {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(data.join("events.jsonl"))
            .unwrap();
        writeln!(
            f,
            r#"{{"id":"huge-usb","ts":"2025-04-02T10:00:00+09:00","user":"E10001","action":"usb.write","bytes":9223372036854775808,"files":1}}"#
        )
        .unwrap();
        // Three MiB on one line.
        writeln!(f, "{{\"id\":\"long\",\"x\":\"{}\"}}", "a".repeat(3 << 20)).unwrap();
    }
    let db = tmp.path().join("new-folder").join("store.db");
    let store = format!("sqlite://{}", db.display());
    let rejects = tmp.path().join("rej").join("r.jsonl");
    let s = json(
        custodian(tmp.path(), &store)
            .args(["import", "--json", "--rejects"])
            .arg(&rejects)
            .arg(&data)
            .output()
            .unwrap(),
    );
    let reasons: Vec<String> = s["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap().to_string())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("bytes") && r.contains("not plausible")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("exceeds the limit")),
        "{reasons:?}"
    );
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&db), 0o600, "the store");
    assert_eq!(mode(db.parent().unwrap()), 0o700, "the store's new folder");
    for side in ["store.db-wal", "store.db-shm"] {
        let p = db.parent().unwrap().join(side);
        if p.exists() {
            assert_eq!(mode(&p), 0o600, "{side}");
        }
    }
    assert_eq!(mode(&rejects), 0o600, "the rejects file");
    // The 3 MiB line is kept as its beginning, not in full.
    let size = std::fs::metadata(&rejects).unwrap().len();
    assert!(size < 512 << 10, "rejects file of {size} bytes");
}
