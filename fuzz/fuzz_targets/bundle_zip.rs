//! Any bytes as an evidence bundle handed in for checking: the verifier
//! never panics, never reads past its limits, and refuses what it cannot
//! check (duplicate names, entries outside the manifest, a directory whose
//! local headers disagree).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = custodian_app::cases::verify_bundle(std::io::Cursor::new(data), None);
});
