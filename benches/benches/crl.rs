//! `crl`: `Authority::crl` (store scan, CRL number, build, sign) with 1k, 10k and 100k revoked
//! entries; revoking one certificate when 0 and when 100k are already revoked (must not grow).

use benches::{AT, authority_with, bench_serial};
use ca_core::store::RevocationReason;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::time::{Duration, Instant};

/// Revocable certificates per store: more than criterion's iterations at ~0.3 ms each.
const SPARE: usize = 40_000;

fn crl(c: &mut Criterion) {
    let mut group = c.benchmark_group("crl");
    group
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(10);
    for n in [1_000, 10_000, 100_000] {
        let spare = if n == 100_000 { SPARE } else { 0 };
        let (authority, _dir) = authority_with(n, spare);
        group.bench_function(BenchmarkId::new("generate", n), |b| {
            b.iter(|| authority.crl("sign", AT, "bench").expect("crl"))
        });
        if n == 100_000 {
            revoke_one(&mut group, &authority, n);
        }
    }
    let (empty, _dir) = authority_with(0, SPARE);
    revoke_one(&mut group, &empty, 0);
    group.finish();
}

fn revoke_one(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    authority: &ca_core::authority::Authority<ca_core::store::SledStore>,
    already: usize,
) {
    let mut next = 0;
    group.bench_function(BenchmarkId::new("revoke-one", already), |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                assert!(next < SPARE, "out of revocable certificates");
                authority
                    .revoke(
                        &bench_serial(next, false),
                        RevocationReason::KeyCompromise,
                        None,
                        AT,
                        "bench",
                    )
                    .expect("revoke");
                next += 1;
            }
            start.elapsed()
        })
    });
}

criterion_group!(benches, crl);
criterion_main!(benches);
