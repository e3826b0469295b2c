//! Any bytes as a block of events.jsonl through the first pass of detection
//! by time (`custodian_app::detection::first_pass`), which reads each line's
//! `ts` without parsing it: it never panics; a block's earliest time is at
//! most every time it read; and for a line the parser accepts whose first
//! key is `ts`, the time it reads is the parser's or none (never another,
//! which would make the merge start over).
#![no_main]

use custodian_app::detection::first_pass::{earliest, sample_ts};
use custodian_core::interchange::parse_event;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let min = earliest(data);
    for line in data.split(|b| *b == b'\n') {
        let read = sample_ts(line);
        if let Some(t) = read {
            assert!(min <= t, "the block's earliest {min} is after a line's {t}");
        }
        if line.starts_with(b"{\"ts\":") {
            if let (Ok(e), Some(t)) = (parse_event(line), read) {
                assert_eq!(t, e.ts.timestamp_micros(), "the first pass read another time");
            }
        }
    }
});
