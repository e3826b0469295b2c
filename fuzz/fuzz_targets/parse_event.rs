//! Any bytes as an `events.jsonl` line: an event or an error, never a panic;
//! an accepted event's canonical encoding parses back to the same event.
#![no_main]

use custodian_core::interchange::{event_from_parts, event_rest_json, event_to_json, parse_event};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = parse_event(data) {
        let line = event_to_json(&e);
        let back = parse_event(line.as_bytes()).expect("canonical encoding parses");
        assert_eq!(back, e);
        let rest = event_rest_json(&e);
        let rebuilt = event_from_parts(&e.id, &e.ts.to_rfc3339(), &e.user, e.action.name(), &rest)
            .expect("stored form rebuilds");
        assert_eq!(rebuilt, e);
    }
});
