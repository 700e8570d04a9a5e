//! The one-process summary: re-measures the figures the issue sets targets for, interleaving
//! hpki, peer and limit in rounds so drift of the shared machine hits all alike, and prints the
//! table of ratios. Runs after the criterion groups (bench targets run in name order).

use benches::{
    AT, KB, MB, OpensslSigner, RawKey, Service, VerifyFixture, authority_with, bench_serial, csr,
    document, init_authority, issue_signer, median, rate, registration,
};
use ca_core::key::{KeyAlgorithm, SigningKey};
use ca_core::sign::{DigestAlgorithm, DocumentHasher};
use ca_core::store::RevocationReason;
use std::hint::black_box;
use std::time::{Duration, Instant};

const ROUNDS: usize = 5;
const SLICE: Duration = Duration::from_millis(400);

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: then only smoke-run.
    let quick = !std::env::args().any(|a| a == "--bench");
    let rounds = if quick { 1 } else { ROUNDS };
    let slice = if quick {
        Duration::from_millis(20)
    } else {
        SLICE
    };
    let mut rows = Vec::new();

    // Sign, 4 KB, P-256: limit = ring signing the document (hash + ECDSA), same key.
    let dir = tempfile::tempdir().expect("tmp");
    let authority = init_authority(dir.path());
    let signer = issue_signer(&authority, KeyAlgorithm::P256, 1);
    let prepared = signer.prepared();
    let raw = RawKey::new(&signer.key);
    let peer = OpensslSigner::new(&signer);
    let rng = ring::rand::SystemRandom::new();
    let doc = document(4 * KB);
    let digest = benches::sha256(&doc);
    let service = Service::new(&authority);
    let (mut r, mut h, mut o, mut s) = (vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        r.push(rate(slice, || {
            black_box(raw.sign(&rng, black_box(&doc)));
        }));
        h.push(rate(slice, || {
            black_box(signer.cms_sign(&prepared, black_box(&doc), false));
        }));
        o.push(rate(slice, || {
            black_box(peer.sign(black_box(&doc), false));
        }));
        s.push(rate(slice, || {
            black_box(service.sign(&authority, black_box(&digest)));
        }));
    }
    let (raw_rate, hpki_rate, peer_rate, service_rate) = (mid(r), mid(h), mid(o), mid(s));
    rows.push(Row {
        measure: "CMS sign 4 KB P-256 detached (signs/s)",
        hpki: hpki_rate,
        peer: Some(peer_rate),
        limit: Some(raw_rate),
        target: "≥0.85× limit, ≥3× peer",
        met: hpki_rate >= 0.85 * raw_rate && hpki_rate >= 3.0 * peer_rate,
    });
    rows.push(Row {
        measure: "sign_document 4 KB, durable audit (signs/s)",
        hpki: service_rate,
        peer: None,
        limit: Some(raw_rate),
        target: "(informative)",
        met: true,
    });

    // Verify, 4 KB, P-256, root → signature CA → signer with a CRL per CA: limit = one ring
    // ECDSA verification of the document; peer = OpenSSL CMS_verify with the same store and CRLs.
    let vf = VerifyFixture::new(&authority, 4 * KB);
    let mut i = 0;
    let (mut vr, mut vc, mut vb, mut vo) = (vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        vr.push(rate(slice, || {
            assert!(vf.raw());
        }));
        vc.push(rate(slice, || {
            i += 1;
            assert!(vf.hpki_cold(i));
        }));
        vb.push(rate(slice, || {
            i += 1;
            assert!(vf.hpki_batch(i));
        }));
        vo.push(rate(slice, || {
            i += 1;
            assert!(vf.openssl(i));
        }));
    }
    let (v_raw, v_cold, v_batch, v_peer) = (mid(vr), mid(vc), mid(vb), mid(vo));
    rows.push(Row {
        measure: "verify 4 KB cold, 2-level chain + CRLs (verifies/s)",
        hpki: v_cold,
        peer: Some(v_peer),
        limit: Some(v_raw),
        target: "≥1.5× peer",
        met: v_cold >= 1.5 * v_peer,
    });
    rows.push(Row {
        measure: "verify 4 KB batch, one signer (verifies/s)",
        hpki: v_batch,
        peer: Some(v_peer),
        limit: Some(v_raw),
        target: "≥4× peer",
        met: v_batch >= 4.0 * v_peer,
    });

    // Streaming hash, 100 MB (10 MB when smoke-running), 64 KB chunks vs one ring call.
    let big = document(if quick { 10 * MB } else { 100 * MB });
    let (mut hr, mut hs) = (vec![], vec![]);
    for _ in 0..rounds {
        hr.push(mb_per_s(big.len(), || {
            black_box(ring::digest::digest(&ring::digest::SHA256, &big));
        }));
        hs.push(mb_per_s(big.len(), || {
            let mut hasher = DocumentHasher::new(DigestAlgorithm::Sha256);
            for chunk in big.chunks(64 * 1024) {
                hasher.update(chunk);
            }
            black_box(hasher.finish());
        }));
    }
    let (hash_raw, hash_hpki) = (mid(hr), mid(hs));
    rows.push(Row {
        measure: "streaming SHA-256 100 MB (MB/s)",
        hpki: hash_hpki,
        peer: None,
        limit: Some(hash_raw),
        target: "≥0.8× limit",
        met: hash_hpki >= 0.8 * hash_raw,
    });
    drop(big);

    // Issuance from CSRs, durable store.
    let requests: Vec<_> = (0..16)
        .map(|_| csr(&SigningKey::generate(KeyAlgorithm::P256).expect("key")))
        .collect();
    let regs: Vec<_> = (0..16).map(registration).collect();
    let mut i = 0;
    let issue_rate = rate(slice * rounds as u32, || {
        i = (i + 1) % requests.len();
        black_box(
            authority
                .issue(&regs[i], &requests[i], AT, "bench")
                .expect("issue"),
        );
    });
    rows.push(Row {
        measure: "issuance from CSR, durable (certs/s)",
        hpki: issue_rate,
        peer: None,
        limit: None,
        target: "≥1,000/s",
        met: issue_rate >= 1000.0,
    });

    // CRL of 100k entries; revoking one more with 0 and with 100k revoked.
    let n = if quick { 1_000 } else { 100_000 };
    let (big_ca, _d1) = authority_with(n, 2_000);
    let (small_ca, _d2) = authority_with(0, 2_000);
    let crl_time = median(rounds.max(3), || {
        black_box(big_ca.crl("sign", AT, "bench").expect("crl"));
    });
    rows.push(Row {
        measure: "CRL of 100k entries (s)",
        hpki: crl_time.as_secs_f64(),
        peer: None,
        limit: None,
        target: "<1 s",
        met: crl_time < Duration::from_secs(1),
    });
    let revoke = |ca: &ca_core::authority::Authority<_>, from: usize| {
        let mut k = from;
        median(201, || {
            ca.revoke(
                &bench_serial(k, false),
                RevocationReason::Superseded,
                None,
                AT,
                "b",
            )
            .expect("revoke");
            k += 1;
        })
    };
    let (mut t_full, mut t_empty) = (vec![], vec![]);
    for round in 0..rounds {
        t_full.push(revoke(&big_ca, round * 201).as_secs_f64() * 1e6);
        t_empty.push(revoke(&small_ca, round * 201).as_secs_f64() * 1e6);
    }
    let (full, empty) = (mid(t_full), mid(t_empty));
    rows.push(Row {
        measure: "revoke one with 100k revoked (µs)",
        hpki: full,
        peer: None,
        limit: Some(empty),
        target: "O(1): ≈ with 0 revoked",
        met: full <= 1.5 * empty,
    });

    print(&rows, quick);
}

struct Row {
    measure: &'static str,
    hpki: f64,
    /// OpenSSL's figure, same unit.
    peer: Option<f64>,
    /// The limit's figure (raw ring; for revoke, the same with an empty CRL), same unit.
    limit: Option<f64>,
    target: &'static str,
    met: bool,
}

fn print(rows: &[Row], quick: bool) {
    let fmt = |v: f64| {
        if v >= 100.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.3}")
        }
    };
    let opt = |v: Option<f64>| v.map(fmt).unwrap_or_else(|| "–".into());
    println!();
    if quick {
        println!("(smoke run: figures are not measurements)");
    }
    println!("| measure | hpki | OpenSSL | limit | hpki/limit | hpki/OpenSSL | target | met |");
    println!("|---|---:|---:|---:|---:|---:|---|---|");
    for r in rows {
        let ratio = |d: Option<f64>| {
            d.map(|d| format!("{:.2}", r.hpki / d))
                .unwrap_or_else(|| "–".into())
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.measure,
            fmt(r.hpki),
            opt(r.peer),
            opt(r.limit),
            ratio(r.limit),
            ratio(r.peer),
            r.target,
            if r.met { "yes" } else { "**no**" }
        );
    }
}

/// Median of one measure's rounds.
fn mid(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn mb_per_s(len: usize, mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    f();
    len as f64 / MB as f64 / t.elapsed().as_secs_f64()
}
