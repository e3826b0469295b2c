//! Cases and the evidence bundle, end to end on both stores: an analyst
//! opens a case from the top alert, notes, assigns and closes it (each
//! action ledgered), exports the bundle, and an outsider verifies it with
//! no store; a bundle with a changed file, a forged proof or the wrong key
//! is refused and the failure named.

use std::io::{Read as _, Write as _};

use crate::support::{cleanup, custodian, json, ok, simulate, stores};

/// Rewrites a zip with `f` applied to each (name, bytes).
fn rewrite(path: &std::path::Path, out: &std::path::Path, f: impl Fn(&str, Vec<u8>) -> Vec<u8>) {
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut w = zip::ZipWriter::new(std::fs::File::create(out).unwrap());
    for i in 0..z.len() {
        let mut e = z.by_index(i).unwrap();
        let name = e.name().to_string();
        let mut b = Vec::new();
        e.read_to_end(&mut b).unwrap();
        w.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(&f(&name, b)).unwrap();
    }
    w.finish().unwrap();
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

#[test]
fn a_case_exports_a_bundle_that_verifies_offline_and_tampering_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let data = simulate(tmp.path(), "co", 200, 75, 11, &[]);
    for store in stores(tmp.path(), "case") {
        let run = |args: &[&str]| custodian(tmp.path(), &store).args(args).output().unwrap();
        ok(run(&["import", data.to_str().unwrap()]));
        ok(run(&["detect", "--from-store"]));
        // Contact reports describing the same approacher are grouped.
        let groups = json(run(&["contacts", "--json"]));
        let groups = groups.as_array().unwrap();
        assert!(
            !groups.is_empty(),
            "the simulated handler is reported by several people"
        );
        for g in groups {
            let members = g["members"].as_array().unwrap();
            assert!(members.len() >= 2, "{g}");
            let reporters = g["reporters"].as_array().unwrap().len();
            assert!((1..=members.len()).contains(&reporters), "{g}");
            assert_eq!(
                g["reports"].as_u64().unwrap() as usize,
                members.len(),
                "{g}"
            );
        }
        let alerts = json(run(&["alerts", "--json", "--limit", "5"]));
        let top = alerts[0]["id"].as_str().expect("an alert").to_string();
        let subject = alerts[0]["user"].as_str().unwrap().to_string();
        let out = ok(run(&["case", "open", &top, "--by", "S0001"]));
        let case = out.split_whitespace().nth(1).unwrap().to_string();
        assert!(case.starts_with("CASE-"), "{out}");
        ok(run(&[
            "case",
            "note",
            &case,
            "Preserved the print logs.",
            "--by",
            "S0001",
        ]));
        ok(run(&[
            "case", "assign", &case, "--to", "S0002", "--by", "S0001",
        ]));
        ok(run(&[
            "case",
            "status",
            &case,
            "--set",
            "closed",
            "--by",
            "S0002",
            "--reason",
            "referred to police",
        ]));
        assert!(
            !run(&["case", "status", &case, "--set", "closed", "--by", "S0002"])
                .status
                .success(),
            "already closed"
        );
        let shown = json(run(&["case", "show", &case, "--json"]));
        assert_eq!(shown["state"]["status"], "closed");
        assert_eq!(shown["state"]["assignee"], "S0002");
        assert_eq!(shown["state"]["subject"], subject.as_str());
        assert_eq!(shown["actions"].as_array().unwrap().len(), 4);
        let bundle = tmp.path().join("bundle.zip");
        ok(run(&[
            "case",
            "export",
            &case,
            "--out",
            bundle.to_str().unwrap(),
        ]));
        // Offline: no store, only the zip (and the published key).
        let offline = |args: &[&str]| {
            std::process::Command::new(crate::support::bin())
                .current_dir(tmp.path())
                .args(args)
                .output()
                .unwrap()
        };
        let v = json(offline(&[
            "bundle",
            "verify",
            bundle.to_str().unwrap(),
            "--json",
        ]));
        assert_eq!(v["verified"], true, "{v}");
        assert_eq!(v["by_kind"]["alert"], 1, "{v}");
        assert!(
            v["by_kind"]["custody"].as_u64().unwrap() >= 4,
            "the case's actions: {v}"
        );
        assert!(
            v["by_kind"]["event"].as_u64().unwrap() >= 1,
            "the alert's evidence: {v}"
        );
        let key = ok(run(&["ledger", "pubkey"]));
        let v = json(offline(&[
            "bundle",
            "verify",
            bundle.to_str().unwrap(),
            "--key",
            key.trim(),
            "--json",
        ]));
        assert_eq!(v["verified"], true, "{v}");
        // Another company's key.
        if !tmp.path().join("other.key").exists() {
            ok(offline(&["ledger", "keygen", "--out", "other.key"]));
        }
        let other = ok(std::process::Command::new(crate::support::bin())
            .current_dir(tmp.path())
            .env("CUSTODIAN_LEDGER_KEY_FILE", tmp.path().join("other.key"))
            .args(["ledger", "pubkey"])
            .output()
            .unwrap());
        let o = offline(&[
            "bundle",
            "verify",
            bundle.to_str().unwrap(),
            "--key",
            other.trim(),
        ]);
        assert!(!o.status.success());
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("not the key given"),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        // A changed timeline.
        let bad = tmp.path().join("bad.zip");
        rewrite(&bundle, &bad, |n, b| {
            if n == "timeline.json" {
                String::from_utf8(b)
                    .unwrap()
                    .replacen("S0001", "S9999", 1)
                    .into_bytes()
            } else {
                b
            }
        });
        let o = offline(&["bundle", "verify", bad.to_str().unwrap()]);
        assert!(!o.status.success());
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("timeline.json was changed"),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        // A forged record with the manifest updated to match: the proof fails.
        let forged = tmp.path().join("forged.zip");
        let victim = std::cell::RefCell::new(None::<(String, String)>);
        let first_pass = tmp.path().join("pass1.zip");
        rewrite(&bundle, &first_pass, |n, b| {
            if n.starts_with("proofs/") && n.ends_with("-custody.json") && victim.borrow().is_none()
            {
                let t = String::from_utf8(b).unwrap().replacen("S0001", "S0666", 1);
                *victim.borrow_mut() = Some((n.to_string(), sha256_hex(t.as_bytes())));
                t.into_bytes()
            } else {
                b
            }
        });
        let (name, digest) = victim.borrow().clone().unwrap();
        rewrite(&first_pass, &forged, |n, b| {
            if n == "manifest.json" {
                let mut m: serde_json::Value = serde_json::from_slice(&b).unwrap();
                m["files"][name.as_str()] = serde_json::json!(digest);
                serde_json::to_vec(&m).unwrap()
            } else {
                b
            }
        });
        let o = offline(&["bundle", "verify", forged.to_str().unwrap()]);
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(&name), "names the forged proof: {err}");
        cleanup(&store);
    }
}
