//! The one-process summary: re-measures the figures the issue sets targets for and prints the
//! table of ratios. Runs after the criterion groups (bench targets run in name order).
//!
//! hpki against its peer (OpenSSL) and its limit (raw ring) is measured per pair of short
//! back-to-back slices ([`benches::paired`]): the ratio cells are the median of the per-pair
//! ratios with their interquartile range, and the rate cells the median time per operation of
//! each side. Other figures interleave in rounds of longer slices (medians), so that drift of
//! the shared machine hits all alike.

use benches::{
    AT, KB, MB, OcspFixture, OpensslSigner, PairedRatio, RawKey, Service, TspFixture,
    VerifyFixture, authority_with, bench_serial, csr, document, init_authority, issue_signer,
    issue_token_signer, median, paired, rate, registration,
};
use ca_core::key::{KeyAlgorithm, SigningKey};
use ca_core::sign::{DigestAlgorithm, DocumentHasher};
use ca_core::store::RevocationReason;
use std::hint::black_box;
use std::time::{Duration, Instant};

const ROUNDS: usize = 5;
const SLICE: Duration = Duration::from_millis(400);
/// Pairs per paired ratio.
const PAIRS: usize = 300;

fn main() {
    // First: in the parent this runs the summary again with SOFTHSM2_CONF naming a fresh token
    // and exits; without SoftHSM it says so and the SoftHSM row is left out.
    let hsm = benches::softhsm::token();
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: then only smoke-run.
    let quick = !std::env::args().any(|a| a == "--bench");
    let rounds = if quick { 1 } else { ROUNDS };
    let slice = if quick {
        Duration::from_millis(20)
    } else {
        SLICE
    };
    let pairs = if quick { 4 } else { PAIRS };
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
    // 32 signatures a side: ~1 ms (hpki) to ~3 ms (OpenSSL) per slice.
    let sign = |_| {
        black_box(signer.cms_sign(&prepared, black_box(&doc), false));
    };
    let vs_peer = paired(pairs, 32, sign, |_| {
        black_box(peer.sign(black_box(&doc), false));
    });
    let vs_limit = paired(pairs, 32, sign, |_| {
        black_box(raw.sign(&rng, black_box(&doc)));
    });
    let s: Vec<f64> = (0..rounds)
        .map(|_| {
            rate(slice, || {
                black_box(service.sign(&authority, black_box(&digest)));
            })
        })
        .collect();
    let limit_rate = 1.0 / vs_limit.b_secs;
    rows.push(Row::paired(
        "CMS sign 4 KB P-256 detached (signs/s)",
        Some(&vs_peer),
        &vs_limit,
        "≥0.85× limit, ≥3× peer",
        vs_limit.median >= 0.85 && vs_peer.median >= 3.0,
    ));
    // The same signer path with the key in SoftHSM: peer = the software key above, limit = raw
    // ring with that key. 8 a side: a token signature costs several software ones.
    if let Some(token) = &hsm {
        let in_token = issue_token_signer(&authority, token, 2);
        let token_prepared = in_token.prepared();
        let token_sign = |_| {
            black_box(in_token.cms_sign(&token_prepared, black_box(&doc), false));
        };
        let vs_software = paired(pairs, 8, token_sign, sign);
        let vs_raw = paired(pairs, 8, token_sign, |_| {
            black_box(raw.sign(&rng, black_box(&doc)));
        });
        rows.push(Row::paired(
            "CMS sign 4 KB P-256 detached, key in SoftHSM; peer = software key (signs/s)",
            Some(&vs_software),
            &vs_raw,
            "(informative)",
            true,
        ));
    }
    rows.push(Row::plain(
        "sign_document 4 KB, durable audit (signs/s)",
        mid(s),
        Some(limit_rate),
        "(informative)",
        true,
    ));

    // Verify, 4 KB, P-256, root → signature CA → signer with a CRL per CA: limit = one ring
    // ECDSA verification of the document; peer = OpenSSL CMS_verify with the same store and CRLs.
    let vf = VerifyFixture::new(&authority, 4 * KB);
    // 8 verifications a side: ~1 ms (raw ring) to ~10 ms (OpenSSL) per slice.
    let cold = |i| assert!(vf.hpki_cold(i));
    let batch = |i| assert!(vf.hpki_batch(i));
    let openssl = |i| assert!(vf.openssl(i));
    let limit = |_| assert!(vf.raw());
    let cold_peer = paired(pairs, 8, cold, openssl);
    let cold_limit = paired(pairs, 8, cold, limit);
    rows.push(Row::paired(
        "verify 4 KB cold, 2-level chain + CRLs (verifies/s)",
        Some(&cold_peer),
        &cold_limit,
        "≥1.5× peer",
        cold_peer.median >= 1.5,
    ));
    let batch_peer = paired(pairs, 8, batch, openssl);
    let batch_limit = paired(pairs, 8, batch, limit);
    rows.push(Row::paired(
        "verify 4 KB batch, one signer (verifies/s)",
        Some(&batch_peer),
        &batch_limit,
        "≥4× peer",
        batch_peer.median >= 4.0,
    ));

    // OCSP answer with a nonce (signed per request) and RFC 3161 token: limit = ring signing with
    // a P-256 key (OCSP: a fresh one over the same tbsResponseData; TSP: the TSA's own key). No
    // OpenSSL peer: the openssl crate binds neither OCSP_basic_sign nor TS_RESP_create_response.
    let of = OcspFixture::new(&authority);
    // 16 a side: ~0.5 ms (raw ring) to a few ms per slice.
    let ocsp_limit = paired(
        pairs,
        16,
        |i| assert!(of.hpki(&authority, i, false)),
        |_| {
            black_box(of.raw(&rng));
        },
    );
    rows.push(Row::paired(
        "OCSP response, good, nonce (responses/s)",
        None,
        &ocsp_limit,
        "(informative)",
        true,
    ));
    let tf = TspFixture::new(&authority);
    let tsp_limit = paired(
        pairs,
        16,
        |i| {
            black_box(tf.hpki(i));
        },
        |i| {
            black_box(tf.raw(&rng, i));
        },
    );
    rows.push(Row::paired(
        "RFC 3161 token, SHA-256, certReq (tokens/s)",
        None,
        &tsp_limit,
        "(informative)",
        true,
    ));
    let mut k = 0;
    let t: Vec<f64> = (0..rounds)
        .map(|_| {
            rate(slice, || {
                k += 1;
                assert!(tf.authority(&authority, k));
            })
        })
        .collect();
    rows.push(Row::plain(
        "Authority::timestamp, durable audit (tokens/s)",
        mid(t),
        Some(1.0 / tsp_limit.b_secs),
        "(informative)",
        true,
    ));

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
    rows.push(Row::plain(
        "streaming SHA-256 100 MB (MB/s)",
        hash_hpki,
        Some(hash_raw),
        "≥0.8× limit",
        hash_hpki >= 0.8 * hash_raw,
    ));
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
    rows.push(Row::plain(
        "issuance from CSR, durable (certs/s)",
        issue_rate,
        None,
        "≥1,000/s",
        issue_rate >= 1000.0,
    ));

    // CRL of 100k entries; revoking one more with 0 and with 100k revoked.
    let n = if quick { 1_000 } else { 100_000 };
    let (big_ca, _d1) = authority_with(n, 2_000);
    let (small_ca, _d2) = authority_with(0, 2_000);
    let crl_time = median(rounds.max(3), || {
        black_box(big_ca.crl("sign", AT, "bench").expect("crl"));
    });
    rows.push(Row::plain(
        "CRL of 100k entries (s)",
        crl_time.as_secs_f64(),
        None,
        "<1 s",
        crl_time < Duration::from_secs(1),
    ));
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
    rows.push(Row::plain(
        "revoke one with 100k revoked (µs)",
        full,
        Some(empty),
        "O(1): ≈ with 0 revoked",
        full <= 1.5 * empty,
    ));

    print(&rows, quick, pairs, hsm.is_some());
}

struct Row {
    measure: &'static str,
    hpki: f64,
    /// OpenSSL's figure, same unit.
    peer: Option<f64>,
    /// The limit's figure (raw ring; for revoke, the same with an empty CRL), same unit.
    limit: Option<f64>,
    /// hpki/limit and hpki/peer: median and quartiles (equal when not measured per pair).
    vs_limit: Option<Spread>,
    vs_peer: Option<Spread>,
    target: &'static str,
    met: bool,
}

/// A ratio's median and quartiles.
#[derive(Clone, Copy)]
struct Spread(f64, f64, f64);

impl Spread {
    fn of(r: &PairedRatio) -> Self {
        Self(r.median, r.q1, r.q3)
    }
}

impl Row {
    /// Rates per second from per-pair measurements against the limit and (if any) the peer.
    fn paired(
        measure: &'static str,
        vs_peer: Option<&PairedRatio>,
        vs_limit: &PairedRatio,
        target: &'static str,
        met: bool,
    ) -> Self {
        Self {
            measure,
            hpki: 1.0 / vs_peer.unwrap_or(vs_limit).a_secs,
            peer: vs_peer.map(|r| 1.0 / r.b_secs),
            limit: Some(1.0 / vs_limit.b_secs),
            vs_limit: Some(Spread::of(vs_limit)),
            vs_peer: vs_peer.map(Spread::of),
            target,
            met,
        }
    }

    /// A figure with no peer, and the limit measured apart.
    fn plain(
        measure: &'static str,
        hpki: f64,
        limit: Option<f64>,
        target: &'static str,
        met: bool,
    ) -> Self {
        Self {
            measure,
            hpki,
            peer: None,
            limit,
            vs_limit: limit.map(|l| Spread(hpki / l, hpki / l, hpki / l)),
            vs_peer: None,
            target,
            met,
        }
    }
}

fn print(rows: &[Row], quick: bool, pairs: usize, hsm: bool) {
    let fmt = |v: f64| {
        if v >= 100.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.3}")
        }
    };
    let opt = |v: Option<f64>| v.map(fmt).unwrap_or_else(|| "–".into());
    let ratio = |r: Option<Spread>| match r {
        None => "–".into(),
        Some(Spread(m, q1, q3)) if q1 == q3 => format!("{m:.2}"),
        Some(Spread(m, q1, q3)) => format!("{m:.2} ({q1:.2}–{q3:.2})"),
    };
    println!();
    if quick {
        println!("(smoke run: figures are not measurements)");
    }
    // The peer is OpenSSL unless the measure names another (the SoftHSM row: the software key).
    println!("| measure | hpki | peer | limit | hpki/limit | hpki/peer | target | met |");
    println!("|---|---:|---:|---:|---:|---:|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.measure,
            fmt(r.hpki),
            opt(r.peer),
            opt(r.limit),
            ratio(r.vs_limit),
            ratio(r.vs_peer),
            r.target,
            if r.met { "yes" } else { "**no**" }
        );
    }
    println!(
        "\nRatios with a range: median (interquartile range) of {pairs} per-pair ratios, each pair \
         back-to-back slices of hpki and the other side (benches::paired). Peer: OpenSSL, unless \
         the measure names another."
    );
    if !hsm {
        println!("No SoftHSM row: see \"SoftHSM rows skipped\" at the start.");
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
