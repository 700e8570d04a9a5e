//! Load without loss (issue #6 part 3): 200 concurrent clients on loopback for a bounded time
//! against the signing and issuance routes, with invalid requests mixed in. No 5xx and no
//! transport error; every 2xx signature verifies (ca_core's verifier, path to the root);
//! the audit log holds exactly one record per acknowledged signature and issuance, and none
//! for a refusal; the server's peak resident memory stays under a stated bound.
//!
//! `HPKI_LOAD_SECS` (default 10; `.ci/run` sets the 60 s of the issue) and `HPKI_LOAD_CLIENTS`
//! (default 200) size the run.

mod support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ca_core::verify::{Indication, Policy};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{Demo, Rng, agent, audit_list, detail, reply, sha256, start_fresh};

/// The server's peak RSS must stay below this: 200 connections, a blocking-pool thread per
/// in-flight signature, sled's cache.
const PEAK_RSS_BOUND: u64 = 128 * 1024 * 1024;

#[derive(Default)]
struct Tally {
    /// Status → count.
    statuses: BTreeMap<u16, u64>,
    /// (document, signature DER) of every 2xx signature.
    signatures: Vec<(Vec<u8>, Vec<u8>)>,
    /// Serials of every 2xx issuance.
    serials: Vec<String>,
    /// Requests whose status was not the one its kind must get.
    wrong: Vec<String>,
}

fn client(base: String, demo: Arc<Demo>, csr: Arc<String>, id: u64, until: Instant) -> Tally {
    let agent = agent();
    let mut rng = Rng(id);
    let mut tally = Tally::default();
    let bearer = |t: &str| format!("Bearer {t}");
    let url = |p: &str| format!("{base}{p}");
    let sign_url = url(&format!(
        "/v1/signatures?credential={}&purpose=author",
        demo.credential
    ));
    let mut i = 0;
    while Instant::now() < until {
        i += 1;
        let dice = rng.range(0, 100);
        let doc = format!("client {id} document {i}: {}", rng.next()).into_bytes();
        // (request, the status it must get: 201 or the refusal's 4xx)
        let (result, want) = if dice < 40 {
            let r = agent
                .post(&url("/v1/signatures"))
                .set("Authorization", &bearer(&demo.signer))
                .send_json(serde_json::json!({"credential": demo.credential,
                    "digest": B64.encode(sha256(&doc)), "digest_algorithm": "sha256", "purpose": "author"}));
            (r, 201)
        } else if dice < 55 {
            let r = agent
                .post(&sign_url)
                .set("Authorization", &bearer(&demo.signer))
                .set("Content-Type", "application/octet-stream")
                .send_bytes(&doc);
            (r, 201)
        } else if dice < 70 {
            let r = agent
                .post(&url("/v1/certificates"))
                .set("Authorization", &bearer(&demo.ra))
                .send_json(serde_json::json!({"profile": "rhp-sign",
                    "subject": format!("C=JP,O=Load Hospital,CN=Doctor {i},serialNumber=L{id}-{i}"),
                    "hc_roles": [support::JP_DOCTOR], "csr": *csr}));
            (r, 201)
        } else {
            invalid(&agent, &url, &sign_url, &demo, rng.range(0, 7))
        };
        let r = match reply(result) {
            Ok(r) => r,
            Err(e) => {
                tally.wrong.push(format!("transport error: {e}"));
                continue;
            }
        };
        *tally.statuses.entry(r.status).or_default() += 1;
        // The rate limit may refuse anything; that is a 4xx, never a loss.
        if r.status == 429 {
            continue;
        }
        if r.status != want {
            tally
                .wrong
                .push(format!("{} where {want} was due: {}", r.status, r.text()));
            continue;
        }
        if want == 201 && dice < 40 {
            let sig = B64.decode(r.json()["signature"].as_str().unwrap()).unwrap();
            tally.signatures.push((doc, sig));
        } else if want == 201 && dice < 55 {
            tally.signatures.push((doc, r.body));
        } else if want == 201 {
            tally
                .serials
                .push(r.json()["serial"].as_str().unwrap().to_owned());
        }
    }
    tally
}

/// One of the invalid requests a real service sees, and the status it must get.
fn invalid(
    agent: &ureq::Agent,
    url: &dyn Fn(&str) -> String,
    sign_url: &str,
    demo: &Demo,
    kind: u64,
) -> (Result<ureq::Response, ureq::Error>, u16) {
    let signer = format!("Bearer {}", demo.signer);
    match kind {
        0 => (agent.post(sign_url).send_bytes(b"no token"), 401),
        1 => (
            agent
                .post(&url("/v1/signatures"))
                .set("Authorization", &signer)
                .set("Content-Type", "application/json")
                .send_string("{not json"),
            400,
        ),
        2 => (
            agent
                .post(&url("/v1/signatures"))
                .set("Authorization", &signer)
                .send_json(serde_json::json!({"credential": demo.credential,
                    "digest": "%%%", "digest_algorithm": "sha256", "purpose": "author"})),
            400,
        ),
        3 => (
            agent
                .post(sign_url)
                .set("Authorization", &signer)
                .set("Content-Type", "text/plain")
                .send_bytes(b"wrong type"),
            415,
        ),
        4 => (
            // The RA is not a practitioner: it cannot sign.
            agent
                .post(sign_url)
                .set("Authorization", &format!("Bearer {}", demo.ra))
                .set("Content-Type", "application/octet-stream")
                .send_bytes(b"ra signs"),
            403,
        ),
        5 => (
            agent
                .post(&url("/v1/certificates"))
                .set("Authorization", &format!("Bearer {}", demo.ra))
                .send_json(serde_json::json!({"profile": "rhp-sign",
                    "subject": "C=JP,CN=x,serialNumber=x", "csr": "not a CSR"})),
            400,
        ),
        _ => (
            agent
                .post(&url("/v1/signatures"))
                .set("Authorization", &signer)
                .send_json(serde_json::json!({"credential": "cred_nope",
                    "digest": B64.encode([0u8; 32]), "digest_algorithm": "sha256", "purpose": "author"})),
            404,
        ),
    }
}

#[test]
fn two_hundred_clients_lose_nothing_and_stay_bounded() {
    let secs = support::env_u64("HPKI_LOAD_SECS").unwrap_or(10);
    let clients = support::env_u64("HPKI_LOAD_CLIENTS").unwrap_or(200);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let csr = Arc::new(support::csr(dir.path()));
    let (mut server, demo) = start_fresh(&data, &[]);
    let demo = Arc::new(demo);
    let started = Instant::now();
    let until = started + Duration::from_secs(secs);
    let threads: Vec<_> = (0..clients)
        .map(|id| {
            let (base, demo, csr) = (server.base.clone(), demo.clone(), csr.clone());
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || client(base, demo, csr, id + 1, until))
                .unwrap()
        })
        .collect();
    let mut total = Tally::default();
    for t in threads {
        let t = t.join().unwrap();
        for (s, n) in t.statuses {
            *total.statuses.entry(s).or_default() += n;
        }
        total.signatures.extend(t.signatures);
        total.serials.extend(t.serials);
        total.wrong.extend(t.wrong);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let peak = support::peak_rss(server.pid());
    let root = reply(
        agent()
            .get(&format!("{}/v1/ca/root.der", server.base))
            .call(),
    )
    .unwrap();
    let sign_ca = reply(
        agent()
            .get(&format!("{}/v1/ca/sign.der", server.base))
            .call(),
    )
    .unwrap();
    server.kill();

    let served: u64 = total.statuses.values().sum();
    println!(
        "load: {clients} clients for {elapsed:.1} s: {served} requests served ({:.0}/s), by status {:?}; \
         {} signatures and {} certificates acknowledged; server peak RSS {} MiB (bound {} MiB)",
        served as f64 / elapsed,
        total.statuses,
        total.signatures.len(),
        total.serials.len(),
        peak >> 20,
        PEAK_RSS_BOUND >> 20
    );
    assert!(
        total.wrong.is_empty(),
        "{} requests got the wrong answer, e.g. {:?}",
        total.wrong.len(),
        &total.wrong[..total.wrong.len().min(5)]
    );
    assert!(
        total.statuses.keys().all(|s| *s < 500),
        "{:?}",
        total.statuses
    );
    assert!(
        !total.signatures.is_empty() && !total.serials.is_empty(),
        "nothing acknowledged"
    );
    assert!(
        peak < PEAK_RSS_BOUND,
        "server peak RSS {} MiB over the bound",
        peak >> 20
    );

    // Exactly one audit record per acknowledged operation, none for refusals or 429s.
    let records = audit_list(&data);
    let mut signed: BTreeMap<String, u64> = BTreeMap::new();
    let mut issued: BTreeMap<String, u64> = BTreeMap::new();
    for r in &records {
        match r["event"]["action"].as_str().unwrap() {
            "sign" => {
                *signed
                    .entry(detail(r, "digest").unwrap().to_owned())
                    .or_default() += 1
            }
            "issue" => {
                let object = r["event"]["object"].as_str().unwrap();
                *issued.entry(object.to_owned()).or_default() += 1;
            }
            _ => {}
        }
    }
    let acked: BTreeMap<String, u64> = total
        .signatures
        .iter()
        .map(|(doc, _)| (hex::encode(sha256(doc)), 1))
        .collect();
    assert_eq!(acked.len(), total.signatures.len(), "a document repeated");
    assert_eq!(
        signed, acked,
        "signature audit records differ from acknowledged signatures"
    );
    let acked: BTreeMap<String, u64> = total
        .serials
        .iter()
        .map(|s| (format!("certificate:{s}"), 1))
        .collect();
    assert_eq!(
        issued, acked,
        "issue audit records differ from acknowledged issuances"
    );
    let (ok, out, err) = support::admin(&data, &["audit", "verify"]);
    assert!(ok, "{out}{err}");

    // Every acknowledged signature verifies: its signature and signed attributes each time, and
    // the path to our root (the same signer certificate throughout) on every 100th, which keeps
    // the debug-built verifier within CI's time.
    let mut policy = Policy::new(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    );
    policy.trust_anchors = vec![root.body];
    policy.cert_pool = vec![sign_ca.body];
    let mut signature_only = policy.clone();
    signature_only.check_chain = false;
    let policies = Arc::new([policy, signature_only]);
    let signatures = Arc::new(total.signatures);
    let verified = Instant::now();
    let workers: Vec<_> = (0..2)
        .map(|w| {
            let (policies, signatures) = (policies.clone(), signatures.clone());
            std::thread::spawn(move || {
                for (i, (doc, sig)) in signatures.iter().enumerate().skip(w).step_by(2) {
                    let policy = &policies[usize::from(i % 100 != 0)];
                    let report = ca_core::verify::verify_bytes(sig, Some(doc), policy);
                    assert_eq!(report.indication, Indication::TotalPassed, "{report:?}");
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    println!(
        "load: {} signatures verified in {:.1} s",
        signatures.len(),
        verified.elapsed().as_secs_f64()
    );
}
