//! `hash`: streaming SHA-256 of 10 MB and 100 MB through the signing path's `DocumentHasher` (fed
//! in 64 KB chunks, as a request body arrives) vs one ring digest call over the whole buffer.

use benches::{MB, document};
use ca_core::sign::{DigestAlgorithm, DocumentHasher};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

/// The chunk size of the streamed HTTP body (actix delivers ≤ 64 KB chunks).
pub const CHUNK: usize = 64 * 1024;

fn hash(c: &mut Criterion) {
    let mut group = c.benchmark_group("hash");
    group
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(10);
    for (label, len) in [("10MB", 10 * MB), ("100MB", 100 * MB)] {
        let doc = document(len);
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(BenchmarkId::new("ring-raw", label), |b| {
            b.iter(|| ring::digest::digest(&ring::digest::SHA256, black_box(&doc)))
        });
        group.bench_function(BenchmarkId::new("hpki-stream", label), |b| {
            b.iter(|| {
                let mut hasher = DocumentHasher::new(DigestAlgorithm::Sha256);
                for chunk in black_box(&doc).chunks(CHUNK) {
                    hasher.update(chunk);
                }
                hasher.finish()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, hash);
criterion_main!(benches);
