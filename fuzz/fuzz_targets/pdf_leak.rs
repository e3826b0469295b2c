//! A leaked PDF handed in for tracing is untrusted: loading it, reading its
//! pages' text placement and its token must never crash or run unbounded,
//! whatever the bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

use custodian_pdfmark::{Limits, Pdf};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_bytes: 1 << 20,
        max_pages: 64,
        max_ops_per_page: 100_000,
        max_time: std::time::Duration::from_secs(2),
        max_stream_bytes: 4 << 20,
        max_decoded_bytes: 16 << 20,
    };
    if let Ok(pdf) = Pdf::load(data, &limits) {
        let _ = pdf.token();
        if let Ok(pages) = pdf.read_pages(&limits) {
            let _ = custodian_pdfmark::read(&pages, &pages);
        }
    }
});
