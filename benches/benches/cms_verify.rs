//! `cms_verify`: 4 KB detached CAdES signatures of the product's chain (root → signature CA → signer,
//! a CRL per CA) verified by hpki cold (everything from scratch), hpki batch (one `Verifier` for
//! documents of one signer: the path is validated once) and OpenSSL `CMS_verify` (same trust store
//! and CRLs), against raw ring ECDSA P-256 verify (the limit).

use benches::{KB, VerifyFixture, init_authority};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::time::Duration;

fn verify(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tmp");
    let authority = init_authority(dir.path());
    let f = VerifyFixture::new(&authority, 4 * KB);
    assert!(
        f.hpki_cold(0) && f.hpki_batch(0) && f.openssl(0) && f.raw(),
        "fixture verifies"
    );
    let mut group = c.benchmark_group("verify");
    group
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(20);
    group.bench_function(BenchmarkId::new("ring-raw/p256", "4KB"), |b| {
        b.iter(|| f.raw())
    });
    let mut i = 0;
    let mut next = move || {
        i += 1;
        i
    };
    group.bench_function(BenchmarkId::new("hpki/cold", "4KB"), |b| {
        b.iter(|| f.hpki_cold(next()))
    });
    group.bench_function(BenchmarkId::new("hpki/batch", "4KB"), |b| {
        b.iter(|| f.hpki_batch(next()))
    });
    group.bench_function(BenchmarkId::new("openssl/cms", "4KB"), |b| {
        b.iter(|| f.openssl(next()))
    });
    group.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);
