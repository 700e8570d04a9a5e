//! Cold verify vs OpenSSL as a ratio per pair of short back-to-back slices (8 verifications
//! each, the order alternating), median and quartiles of 300 pairs: on the shared 2-core box a
//! neighbour's burst lasts longer than a pair, so it hits both sides alike, where the `summary`
//! bench's 400 ms slices each meet a different mix. `cargo run --release -p benches --example
//! verify_ratio`.

use benches::{KB, VerifyFixture, init_authority};
use std::time::Instant;

fn per_op(n: usize, mut f: impl FnMut(usize)) -> f64 {
    let t = Instant::now();
    for i in 0..n {
        f(i);
    }
    t.elapsed().as_secs_f64() / n as f64
}

fn main() {
    let dir = tempfile::tempdir().expect("tmp");
    let authority = init_authority(dir.path());
    let f = VerifyFixture::new(&authority, 4 * KB);
    let (mut q, mut c, mut o) = (vec![], vec![], vec![]);
    for k in 0..300 {
        // Alternate which goes first so a neighbour's burst hits both alike.
        let (cold, peer) = if k % 2 == 0 {
            let a = per_op(8, |i| assert!(f.hpki_cold(i)));
            (a, per_op(8, |i| assert!(f.openssl(i))))
        } else {
            let b = per_op(8, |i| assert!(f.openssl(i)));
            (per_op(8, |i| assert!(f.hpki_cold(i))), b)
        };
        q.push(peer / cold);
        c.push(cold);
        o.push(peer);
    }
    let mid = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[v.len() / 4], v[v.len() / 2], v[3 * v.len() / 4])
    };
    let (q1, q2, q3) = mid(q);
    let (_, c2, _) = mid(c);
    let (_, o2, _) = mid(o);
    println!(
        "cold/OpenSSL per-pair ratio median {q2:.2}x (IQR {q1:.2}-{q3:.2}); medians: cold {:.0} µs, OpenSSL {:.0} µs",
        c2 * 1e6,
        o2 * 1e6
    );
}
