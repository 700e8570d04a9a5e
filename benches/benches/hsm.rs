//! `hsm`: CMS signing of a 4 KB document with a P-256 key in SoftHSMv2 against the same signer
//! path with a software key and raw ring (the limit), same run. The token is made in a temporary
//! directory (`benches::softhsm`); without SoftHSM the token row is skipped and the rest runs.

use benches::{KB, RawKey, document, init_authority, issue_signer, issue_token_signer};
use ca_core::key::{KeyAlgorithm, Pkcs11Token};
use criterion::{BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::time::Duration;

fn hsm(c: &mut Criterion, token: Option<&Pkcs11Token>) {
    let dir = tempfile::tempdir().expect("tmp");
    let authority = init_authority(dir.path());
    let rng = ring::rand::SystemRandom::new();
    let mut group = c.benchmark_group("hsm");
    group
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(20)
        .throughput(Throughput::Bytes(4 * KB as u64));

    let doc = document(4 * KB);
    let software = issue_signer(&authority, KeyAlgorithm::P256, 10);
    let prepared = software.prepared();
    let raw = RawKey::new(&software.key);
    group.bench_function(BenchmarkId::new("ring-raw/p256", "4KB"), |b| {
        b.iter(|| raw.sign(&rng, black_box(&doc)))
    });
    group.bench_function(BenchmarkId::new("hpki/detached/software", "4KB"), |b| {
        b.iter(|| software.cms_sign(&prepared, black_box(&doc), false))
    });
    if let Some(token) = token {
        let in_token = issue_token_signer(&authority, token, 11);
        let prepared = in_token.prepared();
        group.bench_function(BenchmarkId::new("hpki/detached/softhsm", "4KB"), |b| {
            b.iter(|| in_token.cms_sign(&prepared, black_box(&doc), false))
        });
    }
    group.finish();
}

fn main() {
    // First: in the parent this runs the bench again with SOFTHSM2_CONF set and exits.
    let token = benches::softhsm::token();
    let mut c = Criterion::default().configure_from_args();
    hsm(&mut c, token.as_ref());
    c.final_summary();
}
