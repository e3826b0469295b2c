//! Any bytes as each CERT r4.2 activity file: the reader never panics,
//! never loops, keeps rows bounded, and accounts for every row (converted,
//! or set aside with its line, in line order).
#![no_main]

use chrono::FixedOffset;
use custodian_ingest::cert::read_activity;
use libfuzzer_sys::fuzz_target;

const FILES: [&str; 5] = ["logon.csv", "device.csv", "file.csv", "email.csv", "http.csv"];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let file = FILES[pick as usize % FILES.len()];
    let utc = FixedOffset::east_opt(0).unwrap();
    let Ok((events, rejects)) = read_activity(file, rest, utc, "dtaa.com") else { return };
    let mut last = 0;
    for r in &rejects {
        assert!(r.line == 0 || r.line > last, "rejects come in line order, each once");
        last = r.line.max(last);
        assert!(r.raw.len() <= custodian_ingest::cert::MAX_ROW_BYTES * 2);
    }
    for e in &events {
        assert!(!e.id.is_empty() && !e.user.is_empty());
    }
});
