//! Issuing a copy of a 100-page PDF, against a baseline measured in the
//! same run (lopdf loading and saving the same file unchanged), and reading
//! plus tracing a 20-page leak against 100,000 issued copies.
//!
//! Needs the test PDFs (`scripts/fetch-test-pdfs`, which sets out
//! `CUSTODIAN_TEST_PDFS`); without them it says so and measures nothing.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use criterion::{criterion_group, criterion_main, Criterion};
use custodian_fingerprint::CodeParams;
use custodian_pdfmark::{code_for, issue_copy, read_code, Limits, Mark, Pdf};

fn pdfs() -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("CUSTODIAN_TEST_PDFS")?;
    Some(std::path::PathBuf::from(dir))
}

fn bench(c: &mut Criterion) {
    let Some(dir) = pdfs() else {
        eprintln!("SKIPPED: CUSTODIAN_TEST_PDFS is unset (run scripts/fetch-test-pdfs)");
        return;
    };
    let limits = Limits::default();
    let Ok(big) = std::fs::read(dir.join("asymptote-100.pdf")) else {
        eprintln!("SKIPPED: no asymptote-100.pdf in {}", dir.display());
        return;
    };
    let params = CodeParams {
        recipients: 100_000,
        colluders: 4,
        epsilon: 1e-6,
    };
    let pages = Pdf::load(&big, &limits)
        .and_then(|p| p.read_pages(&limits))
        .expect("the test PDF reads");
    let code = code_for(&pages, [7u8; 32], &params);
    let mark = Mark {
        banner: "極秘 SECRET".into(),
        lines: vec![
            "E10003".into(),
            "CP-0000000000000001".into(),
            "2026-11-26".into(),
        ],
        notice: "Trade secret; disclosure prohibited.".into(),
        qr: "custodian:CP-0000000000000001:00112233".into(),
        token: "CP-0000000000000001.00112233".into(),
    };
    let mut g = c.benchmark_group("pdf-100-pages");
    g.sample_size(10);
    g.bench_function("baseline: lopdf load + save unchanged", |b| {
        b.iter(|| {
            let mut d = lopdf::Document::load_mem(&big).expect("loads");
            let mut out = Vec::new();
            d.save_to(&mut out).expect("saves");
            out
        })
    });
    let mut i = 0u64;
    g.bench_function("issue a traceable copy", |b| {
        b.iter(|| {
            i += 1;
            issue_copy(&big, &code, i, &mark, &limits).expect("issues")
        })
    });
    g.finish();

    let Ok(small) = std::fs::read(dir.join("asymptote-20.pdf")) else {
        return;
    };
    let orig = Pdf::load(&small, &limits)
        .and_then(|p| p.read_pages(&limits))
        .expect("reads");
    let code = code_for(&orig, [9u8; 32], &params);
    let copy = issue_copy(&small, &code, 4242, &mark, &limits).expect("issues");
    let mut g = c.benchmark_group("trace-20-page-leak");
    g.sample_size(10);
    g.bench_function("read the leak and trace 100,000 copies", |b| {
        b.iter(|| {
            let leak = Pdf::load(&copy, &limits)
                .and_then(|p| p.read_pages(&limits))
                .expect("reads");
            let r = read_code(&orig, &leak, &code);
            let acc = code.trace(&r.symbols, 100_000, 1e-6);
            assert_eq!(acc.first().map(|a| a.recipient), Some(4242));
            acc
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
