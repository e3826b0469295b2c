//! Known-answer vectors of transparency-dev/merkle (testdata/, commit
//! 417fb0c, Apache-2.0, see testdata/merkle/LICENSE): every case, including
//! every one a verifier must reject.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::Value;

use custodian_ledger::proof::{
    verify_consistency, verify_inclusion, verify_subtree_consistency, verify_subtree_inclusion,
};
use custodian_ledger::Hash;

fn files(kind: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    fn walk(p: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(p).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/merkle/testdata")
            .join(kind),
        &mut out,
    );
    out.sort();
    assert!(!out.is_empty(), "no vectors for {kind}");
    out
}

/// A hash field: must be base64 of exactly 32 bytes, else the case is
/// malformed input that a verifier must refuse.
fn hash(v: &Value) -> Option<Hash> {
    let s = v.as_str()?;
    B64.decode(s).ok()?.try_into().ok()
}

/// A root: any bytes (compared, never hashed as a child unless 32 bytes).
fn root(v: &Value) -> Option<Vec<u8>> {
    B64.decode(v.as_str()?).ok()
}

fn proof(v: &Value) -> Option<Vec<Hash>> {
    match v {
        Value::Null => Some(vec![]),
        Value::Array(a) => a.iter().map(hash).collect(),
        _ => None,
    }
}

fn run(kind: &str, check: impl Fn(&Value) -> bool) -> usize {
    let mut n = 0;
    for f in files(kind) {
        let v: Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        let accepted = check(&v);
        let want_err = v["wantErr"].as_bool().unwrap();
        assert_eq!(accepted, !want_err, "{}: {}", f.display(), v["desc"]);
        n += 1;
    }
    n
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap()
}

#[test]
fn inclusion_vectors() {
    let n = run("inclusion", |v| {
        let (Some(leaf), Some(root), Some(p)) =
            (hash(&v["leafHash"]), root(&v["root"]), proof(&v["proof"]))
        else {
            return false;
        };
        verify_inclusion(u(&v["leafIdx"]), u(&v["treeSize"]), &leaf, &p, &root).is_ok()
    });
    assert!(n > 80, "{n}");
}

#[test]
fn consistency_vectors() {
    let n = run("consistency", |v| {
        let (Some(r1), Some(r2), Some(p)) =
            (root(&v["root1"]), root(&v["root2"]), proof(&v["proof"]))
        else {
            return false;
        };
        verify_consistency(u(&v["size1"]), u(&v["size2"]), &p, &r1, &r2).is_ok()
    });
    assert!(n > 80, "{n}");
}

#[test]
fn subtree_inclusion_vectors() {
    let n = run("subtreeinclusion", |v| {
        let (Some(leaf), Some(root), Some(p)) =
            (hash(&v["leafHash"]), root(&v["root"]), proof(&v["proof"]))
        else {
            return false;
        };
        verify_subtree_inclusion(
            u(&v["leafIdx"]),
            u(&v["start"]),
            u(&v["end"]),
            &leaf,
            &p,
            &root,
        )
        .is_ok()
    });
    assert!(n > 50, "{n}");
}

#[test]
fn subtree_consistency_vectors() {
    let n = run("subtreeconsistency", |v| {
        let (Some(r1), Some(r2), Some(p)) =
            (root(&v["root1"]), root(&v["root2"]), proof(&v["proof"]))
        else {
            return false;
        };
        verify_subtree_consistency(u(&v["start"]), u(&v["end"]), u(&v["size"]), &p, &r1, &r2)
            .is_ok()
    });
    assert!(n > 50, "{n}");
}
