//! `issue`: issuance from a CSR (proof of possession, profile check, random serial, CA signature)
//! with the durable store (one flushed transaction per certificate).

use benches::{AT, csr, init_authority, registration};
use ca_core::key::{KeyAlgorithm, SigningKey};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::time::Duration;

fn issue(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tmp");
    let authority = init_authority(dir.path());
    // Key generation is the requester's work, not the CA's: CSRs are made beforehand.
    let requests: Vec<Vec<u8>> = (0..64)
        .map(|_| csr(&SigningKey::generate(KeyAlgorithm::P256).expect("key")))
        .collect();
    let registrations: Vec<_> = (0..64).map(registration).collect();
    let mut group = c.benchmark_group("issue");
    group
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(10)
        .throughput(Throughput::Elements(1));
    let mut i = 0;
    group.bench_function("csr-p256-durable", |b| {
        b.iter(|| {
            i = (i + 1) % requests.len();
            authority
                .issue(&registrations[i], &requests[i], AT, "bench")
                .expect("issue")
        })
    });
    group.finish();
}

criterion_group!(benches, issue);
criterion_main!(benches);
