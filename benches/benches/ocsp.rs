//! `ocsp`: `Authority::ocsp_response` for a good and a revoked certificate, a nonce in every
//! request (so every answer is signed, RFC 8954), against raw ring signing the same
//! `tbsResponseData` with a P-256 key (the responder's type), same run. No OpenSSL peer: the
//! `openssl` crate (and `openssl-sys`) binds no `OCSP_basic_sign` / `OCSP_basic_add1_status`,
//! and the workspace forbids the unsafe FFI it would take.
//!
//! `tsp` (here, not in a target of its own: targets run in name order and the summary must run
//! last): `ca_core::tsp::Tsa::timestamp` of a SHA-256 request against raw ring signing with the
//! TSA's own key, and `Authority::timestamp` with its durable audit record.

use benches::{OcspFixture, TspFixture, init_authority};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

fn ocsp(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tmp");
    let authority = init_authority(dir.path());
    let fixture = OcspFixture::new(&authority);
    let rng = ring::rand::SystemRandom::new();
    let mut group = c.benchmark_group("ocsp");
    group
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(20);
    group.bench_function(BenchmarkId::new("ring-raw", "p256"), |b| {
        b.iter(|| fixture.raw(&rng))
    });
    for (label, revoked) in [("good", false), ("revoked", true)] {
        let mut i = 0;
        group.bench_function(BenchmarkId::new("hpki/nonce", label), |b| {
            b.iter(|| {
                i += 1;
                assert!(fixture.hpki(&authority, black_box(i), revoked));
            })
        });
    }
    group.finish();
}

fn tsp(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tmp");
    let authority = init_authority(dir.path());
    let fixture = TspFixture::new(&authority);
    let rng = ring::rand::SystemRandom::new();
    let mut group = c.benchmark_group("tsp");
    group
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(20);
    let mut i = 0;
    group.bench_function(BenchmarkId::new("ring-raw", "p256"), |b| {
        b.iter(|| {
            i += 1;
            fixture.raw(&rng, black_box(i))
        })
    });
    let mut i = 0;
    group.bench_function(BenchmarkId::new("hpki/tsa", "sha256"), |b| {
        b.iter(|| {
            i += 1;
            fixture.hpki(black_box(i))
        })
    });
    // The service path without HTTP: the authority's TSA, each token's audit record synced.
    let mut i = 0;
    group.bench_function(BenchmarkId::new("hpki/authority-durable", "sha256"), |b| {
        b.iter(|| {
            i += 1;
            assert!(fixture.authority(&authority, black_box(i)));
        })
    });
    group.finish();
}

criterion_group!(benches, ocsp, tsp);
criterion_main!(benches);
