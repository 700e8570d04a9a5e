//! N cold verifications (or N OpenSSL ones) of the `verify` bench's fixture, for counting
//! instructions under callgrind: wall-clock time on the shared box is noise, instruction counts
//! repeat. Only [`run`] is counted (the set-up's sled threads would add noise); divide by N:
//!
//! ```sh
//! cargo build --release -p benches --example verify_count
//! valgrind --tool=callgrind --toggle-collect='verify_count::run' \
//!     target/release/examples/verify_count cold 20   # or: openssl 20, batch 20
//! ```

use benches::{KB, VerifyFixture, init_authority};

fn main() {
    let mut args = std::env::args().skip(1);
    let what = args.next().unwrap_or_else(|| "cold".into());
    let n: usize = args.next().map_or(10, |n| n.parse().expect("N"));
    let dir = tempfile::tempdir().expect("tmp");
    let authority = init_authority(dir.path());
    let f = VerifyFixture::new(&authority, 4 * KB);
    let verify: fn(&VerifyFixture, usize) -> bool = match what.as_str() {
        "cold" => VerifyFixture::hpki_cold,
        "batch" => VerifyFixture::hpki_batch,
        "openssl" => VerifyFixture::openssl,
        other => panic!("cold, batch or openssl, not {other}"),
    };
    run(&f, verify, n);
}

/// The counted part: `n` verifications, each asserted valid.
#[inline(never)]
fn run(f: &VerifyFixture, verify: fn(&VerifyFixture, usize) -> bool, n: usize) {
    for i in 0..n {
        assert!(verify(f, i), "verification {i} failed");
    }
}
