//! Deliberately broken input, for the tests and benchmarks that prove an
//! import keeps every good record and rejects each bad one with its place.
//!
//! [`inject`] rewrites a simulated dataset's `events.jsonl`,
//! `directory.csv` and `documents.csv`, inserting one line of each kind of
//! damage at spread-out places, and re-delivering some good events. It
//! returns where every bad line ended up.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A line that an import must reject.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct BadLine {
    pub file: String,
    pub line: u64,
    pub kind: &'static str,
}

/// What [`inject`] did.
#[derive(Debug, Clone, Default)]
pub struct Injected {
    pub bad: Vec<BadLine>,
    /// Good events written a second time (same id): counted once.
    pub redelivered: u64,
    /// Good events in the rewritten file, counting each id once.
    pub good_events: u64,
}

const EVENT_FAULTS: [&str; 9] = [
    "truncated-json",
    "missing-field",
    "unknown-user",
    "malformed-timestamp",
    "random-bytes",
    "one-megabyte-line",
    "wrong-type",
    "not-an-object",
    "unknown-user-2",
];

fn damage(kind: &str, good: &str, rng: &mut ChaCha8Rng) -> Vec<u8> {
    match kind {
        "truncated-json" => good.as_bytes()[..good.len() / 2].to_vec(),
        "missing-field" => good
            .replacen("\"ts\":", "\"time\":", 1)
            .replacen("\"id\":\"", "\"id\":\"nots-", 1)
            .into_bytes(),
        "unknown-user" | "unknown-user-2" => {
            let start = good.find("\"user\":\"").map(|i| i + 8).unwrap_or(0);
            let end = good[start..].find('"').map(|i| start + i).unwrap_or(start);
            format!(
                "{}X99999{}",
                good[..start].replacen("\"id\":\"", &format!("\"id\":\"{kind}-"), 1),
                &good[end..]
            )
            .into_bytes()
        }
        "malformed-timestamp" => {
            let start = good.find("\"ts\":\"").map(|i| i + 6).unwrap_or(0);
            let end = good[start..].find('"').map(|i| start + i).unwrap_or(start);
            format!(
                "{}2025-13-45T25:61:00+09:00{}",
                good[..start].replacen("\"id\":\"", "\"id\":\"badts-", 1),
                &good[end..]
            )
            .into_bytes()
        }
        "random-bytes" => (0..300)
            .map(|_| loop {
                let b: u8 = rng.gen();
                if b != b'\n' {
                    break b;
                }
            })
            .collect(),
        "one-megabyte-line" => format!(
            "{{\"id\":\"huge-1\",\"ts\":\"2025-04-01T10:00:00+09:00\",\"user\":\"E10000\",\"action\":\"doc.search\",\"query\":\"{}\"}}",
            "A".repeat(1 << 20)
        )
        .into_bytes(),
        "wrong-type" => br#"{"id":"wrongtype-1","ts":"2025-04-01T10:00:00+09:00","user":"E10000","action":"doc.print","doc":"D-LX-BROCHURE-00","pages":"ten"}"#
            .to_vec(),
        _ => b"[\"not\",\"an\",\"object\"]".to_vec(),
    }
}

/// Breaks a dataset in `dir` (plain `events.jsonl`) in every way the
/// import must survive. Deterministic for a seed.
pub fn inject(dir: &Path, seed: u64) -> std::io::Result<Injected> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Injected::default();

    // events.jsonl: stream through, inserting faults at spread-out places.
    let src = dir.join("events.jsonl");
    let tmp = dir.join("events.jsonl.tmp");
    let total = BufReader::new(File::open(&src)?).lines().count() as u64;
    let mut w = BufWriter::new(File::create(&tmp)?);
    let step = (total / (EVENT_FAULTS.len() as u64 + 2)).max(1);
    let mut written = 0u64;
    let mut next_fault = 0usize;
    let mut recent: Vec<String> = Vec::new();
    for (i, line) in BufReader::new(File::open(&src)?).lines().enumerate() {
        let line = line?;
        w.write_all(line.as_bytes())?;
        w.write_all(b"\n")?;
        written += 1;
        out.good_events += 1;
        if recent.len() < 64 {
            recent.push(line.clone());
        }
        let i = i as u64;
        if i > 0 && i.is_multiple_of(step) && next_fault < EVENT_FAULTS.len() {
            let kind = EVENT_FAULTS[next_fault];
            next_fault += 1;
            w.write_all(&damage(kind, &line, &mut rng))?;
            w.write_all(b"\n")?;
            written += 1;
            out.bad.push(BadLine {
                file: "events.jsonl".into(),
                line: written,
                kind,
            });
        }
        // Re-deliver a recent good event now and then.
        if i > 0 && i.is_multiple_of((step / 3).max(1)) && !recent.is_empty() {
            let again = &recent[rng.gen_range(0..recent.len())];
            w.write_all(again.as_bytes())?;
            w.write_all(b"\n")?;
            written += 1;
            out.redelivered += 1;
            recent.clear();
        }
    }
    w.flush()?;
    drop(w);
    std::fs::rename(&tmp, &src)?;

    // directory.csv: two broken rows for people who do no events.
    let dir_csv = dir.join("directory.csv");
    let mut text = std::fs::read_to_string(&dir_csv)?;
    let rows_before = text.lines().count() as u64;
    text.push_str("E99990,Broken Quote,\"bq@x.example,Sales,Tokyo,sales,,internal,,2020-04-01,\n");
    text.push_str("E99991,Wrong Level,wl@x.example,Sales,Tokyo,sales,,top-secret,,2020-04-01,\n");
    text.push_str("E99992,Bad Date,bd@x.example,Sales,Tokyo,sales,,internal,,2020-02-30,\n");
    std::fs::write(&dir_csv, text)?;
    for (k, kind) in ["broken-csv-quoting", "wrong-level-name", "malformed-date"]
        .iter()
        .enumerate()
    {
        out.bad.push(BadLine {
            file: "directory.csv".into(),
            line: rows_before + 1 + k as u64,
            kind,
        });
    }

    // documents.csv: one wrong level name.
    let docs_csv = dir.join("documents.csv");
    let mut text = std::fs::read_to_string(&docs_csv)?;
    let rows_before = text.lines().count() as u64;
    text.push_str("D-BAD-01,Broken entry,classified,E10000,*,manual,2024-01-01,file\n");
    std::fs::write(&docs_csv, text)?;
    out.bad.push(BadLine {
        file: "documents.csv".into(),
        line: rows_before + 1,
        kind: "wrong-level-name",
    });
    out.bad.sort();
    Ok(out)
}
