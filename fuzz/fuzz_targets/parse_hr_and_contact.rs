//! Any bytes as an `hr.jsonl` or `contacts.jsonl` line: never a panic, and
//! an accepted record survives its own encoding.
#![no_main]

use custodian_core::interchange::{contact_to_json, hr_to_json, parse_contact, parse_hr};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = parse_hr(data) {
        let back = parse_hr(hr_to_json(&h).as_bytes()).expect("hr encoding parses");
        assert_eq!(back, h);
    }
    if let Ok(c) = parse_contact(data) {
        let _ = parse_contact(contact_to_json(&c).as_bytes()).expect("contact encoding parses");
    }
});
