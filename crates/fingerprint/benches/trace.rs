//! Tracing a leak against 100,000 issued copies (goal: under 1 s), with
//! codeword generation alone as the same-run baseline.

use criterion::{criterion_group, criterion_main, Criterion};
use custodian_fingerprint::{Code, CodeParams};

fn bench(c: &mut Criterion) {
    let params = CodeParams {
        recipients: 100_000,
        colluders: 4,
        epsilon: 1e-6,
    };
    let code = Code::for_params([5; 32], &params);
    let w = code.codeword(31_337);
    let read: Vec<Option<bool>> = (0..code.len()).map(|i| Some(Code::bit(&w, i))).collect();
    let mut g = c.benchmark_group("tardos");
    g.sample_size(10);
    g.bench_function("codeword x1000", |b| {
        b.iter(|| (0..1000).map(|j| code.codeword(j)[0]).sum::<u64>())
    });
    g.bench_function("trace against 100k copies", |b| {
        b.iter(|| {
            let a = code.trace(&read, 100_000, 1e-6);
            assert_eq!(a.len(), 1);
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
