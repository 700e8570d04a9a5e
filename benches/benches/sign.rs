//! `sign`: raw ring sign (the limit), hpki CMS sign (detached, attached, digest-only) and OpenSSL
//! CMS sign, same key and documents, same run. Also the service path without HTTP.

use benches::{KB, MB, OpensslSigner, RawKey, Service, document, init_authority, issue_signer};
use ca_core::key::KeyAlgorithm;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

fn sign(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tmp");
    let authority = init_authority(dir.path());
    let rng = ring::rand::SystemRandom::new();
    let mut group = c.benchmark_group("sign");
    group
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(20);

    let doc4k = document(4 * KB);
    for (i, (name, alg)) in [
        ("p256", KeyAlgorithm::P256),
        ("p384", KeyAlgorithm::P384),
        ("ed25519", KeyAlgorithm::Ed25519),
    ]
    .into_iter()
    .enumerate()
    {
        let raw = RawKey::new(&issue_signer(&authority, alg, i).key);
        group.bench_function(BenchmarkId::new(format!("ring-raw/{name}"), "4KB"), |b| {
            b.iter(|| raw.sign(&rng, black_box(&doc4k)))
        });
    }

    let signer = issue_signer(&authority, KeyAlgorithm::P256, 10);
    let prepared = signer.prepared();
    let raw = RawKey::new(&signer.key);
    let peer = OpensslSigner::new(&signer);
    for (label, len) in [("1KB", KB), ("4KB", 4 * KB), ("1MB", MB)] {
        let doc = document(len);
        let digest = benches::sha256(&doc);
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(BenchmarkId::new("ring-raw/p256", label), |b| {
            b.iter(|| raw.sign(&rng, black_box(&doc)))
        });
        group.bench_function(BenchmarkId::new("hpki/detached", label), |b| {
            b.iter(|| signer.cms_sign(&prepared, black_box(&doc), false))
        });
        group.bench_function(BenchmarkId::new("hpki/attached", label), |b| {
            b.iter(|| signer.cms_sign(&prepared, black_box(&doc), true))
        });
        group.bench_function(BenchmarkId::new("hpki/digest-only", label), |b| {
            b.iter(|| signer.cms_sign_digest(&prepared, black_box(&digest), None))
        });
        group.bench_function(BenchmarkId::new("openssl/detached", label), |b| {
            b.iter(|| peer.sign(black_box(&doc), false))
        });
        group.bench_function(BenchmarkId::new("openssl/attached", label), |b| {
            b.iter(|| peer.sign(black_box(&doc), true))
        });
    }

    // Per-call preparation (`sign::sign`) and the whole service call with its durable audit.
    let doc = document(4 * KB);
    let digest = benches::sha256(&doc);
    group.throughput(Throughput::Elements(1));
    group.bench_function(BenchmarkId::new("hpki/unprepared-digest", "4KB"), |b| {
        b.iter(|| {
            ca_core::sign::sign(&ca_core::sign::SignatureRequest {
                key: &signer.key,
                certificate: &signer.certificate,
                chain: &signer.chain,
                digest: &digest,
                signing_time: benches::AT,
                commitment_type: None,
                claimed_role: None,
                attached: None,
            })
            .expect("sign")
        })
    });
    let service = Service::new(&authority);
    group.bench_function(BenchmarkId::new("hpki/sign_document-durable", "4KB"), |b| {
        b.iter(|| service.sign(&authority, black_box(&digest)))
    });
    group.finish();
}

criterion_group!(benches, sign);
criterion_main!(benches);
