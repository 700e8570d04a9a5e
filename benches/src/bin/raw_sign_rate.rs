//! Prints the single-thread raw ring ECDSA P-256 sign rate over a `SIZE`-octet document
//! (`raw-sign-rate [SECONDS] [SIZE]`, default 2 s, 1024): the limit `http-load.sh` divides by.
#![forbid(unsafe_code)]

use benches::{RawKey, document, rate};
use ca_core::key::{KeyAlgorithm, SigningKey};
use std::time::Duration;

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2.0);
    let size: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1024);
    let raw = RawKey::new(&SigningKey::generate(KeyAlgorithm::P256).expect("key"));
    let rng = ring::rand::SystemRandom::new();
    let doc = document(size);
    let per_s = rate(Duration::from_secs_f64(seconds), || {
        std::hint::black_box(raw.sign(&rng, std::hint::black_box(&doc)));
    });
    println!("{per_s:.0}");
}
