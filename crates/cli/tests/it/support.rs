use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_custodian")
}

/// A `custodian` command running in `cwd` with a clean environment.
pub fn custodian(cwd: &Path, store: &str) -> Command {
    let mut c = Command::new(bin());
    c.current_dir(cwd)
        .env_remove("CUSTODIAN_STORE")
        .env_remove("CUSTODIAN_STORE_FILE")
        .env_remove("CUSTODIAN_CONFIG")
        .env_remove("RUST_LOG")
        .arg("--store")
        .arg(store);
    c
}

/// A fresh SQLite store in a test's folder holding the sample company
/// (examples/sample-company), and `custodian` commands run against it with
/// the content key in that folder.
pub struct Sample {
    pub store: String,
    dir: PathBuf,
}

impl Sample {
    /// Imports the sample company into `dir/file`.
    pub fn imported(dir: &Path, file: &str) -> Sample {
        let s = Sample {
            store: format!("sqlite://{}", dir.join(file).display()),
            dir: dir.to_path_buf(),
        };
        let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sample-company");
        ok(s.run(&["import", sample.to_str().unwrap()]));
        s
    }

    pub fn run(&self, args: &[&str]) -> Output {
        custodian(&self.dir, &self.store)
            .env_remove("CUSTODIAN_CONTENT_KEY_FILE")
            .args(args)
            .output()
            .unwrap()
    }
}

pub fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "custodian failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn json(out: Output) -> Value {
    let text = ok(out);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// `custodian ARGS` against `store`, its output read as JSON.
pub fn run_json(cwd: &Path, store: &str, args: &[&str]) -> Value {
    json(custodian(cwd, store).args(args).output().unwrap())
}

/// `custodian import --json FOLDER` into `store`.
pub fn import_json(cwd: &Path, store: &str, folder: &Path) -> Value {
    json(
        custodian(cwd, store)
            .args(["import", "--json"])
            .arg(folder)
            .output()
            .unwrap(),
    )
}

/// The stores to test against: a fresh SQLite file, and a fresh PostgreSQL
/// schema when CUSTODIAN_TEST_POSTGRES is set (otherwise says it skipped).
pub fn stores(dir: &Path, test: &str) -> Vec<String> {
    let mut v = vec![format!(
        "sqlite://{}",
        dir.join(format!("{test}.db")).display()
    )];
    match std::env::var("CUSTODIAN_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => {
            let sep = if url.contains('?') { '&' } else { '?' };
            v.push(format!(
                "{url}{sep}schema=t_it_{test}_{}",
                std::process::id()
            ));
        }
        _ => eprintln!("SKIPPED the PostgreSQL half of {test}: CUSTODIAN_TEST_POSTGRES is not set"),
    }
    v
}

/// Drops a test's PostgreSQL schema.
pub fn cleanup(store: &str) {
    if !store.starts_with("postgres") {
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        custodian_store_postgres::PgStore::open(store)
            .await
            .unwrap()
            .drop_schema()
            .await
            .unwrap();
    });
}

pub fn simulate(
    dir: &Path,
    name: &str,
    people: u32,
    days: u32,
    seed: u64,
    extra: &[&str],
) -> PathBuf {
    let out = dir.join(name);
    let o = Command::new(bin())
        .args([
            "simulate",
            "--people",
            &people.to_string(),
            "--days",
            &days.to_string(),
        ])
        .args(["--seed", &seed.to_string(), "--out"])
        .arg(&out)
        .args(extra)
        .output()
        .unwrap();
    ok(o);
    out
}

/// The simulated company the service tests share (60 people, 40 days,
/// seed 7: a few alerts) in `dir/sim`, and the same folder without its
/// events (the directory, register, HR and contacts alone) in `dir/bare`.
pub fn simulated(dir: &Path) -> (PathBuf, PathBuf) {
    let sim = dir.join("sim");
    ok(custodian(dir, "sqlite://unused.db")
        .args([
            "simulate", "--people", "60", "--days", "40", "--seed", "7", "--out",
        ])
        .arg(&sim)
        .output()
        .unwrap());
    let bare = dir.join("bare");
    std::fs::create_dir_all(&bare).unwrap();
    for f in std::fs::read_dir(&sim).unwrap() {
        let f = f.unwrap().path();
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        if f.is_file() && name != "events.jsonl" && name != "truth.jsonl" {
            std::fs::copy(&f, bare.join(&name)).unwrap();
        }
    }
    std::fs::write(bare.join("events.jsonl"), "").unwrap();
    (sim, bare)
}
