//! A scan or photo handed in for tracing is untrusted: decoding it within
//! limits and looking for QR codes must never crash or run unbounded.
#![no_main]
use libfuzzer_sys::fuzz_target;

use custodian_pdfmark::scan::{load_gray, read_qr, ImageLimits};

fuzz_target!(|data: &[u8]| {
    let limits = ImageLimits {
        max_bytes: 1 << 20,
        max_width: 512,
        max_height: 512,
        max_alloc: 16 << 20,
        ..ImageLimits::default()
    };
    if let Ok(img) = load_gray(data, &limits) {
        let _ = read_qr(&img);
    }
});
