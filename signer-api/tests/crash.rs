//! Crash consistency (issue #6 part 2): the real server under concurrent issuance, signing,
//! revocation and CRL fetches is `kill -9`ed at a random moment, round after round. After each
//! kill, with the server stopped: `audit verify` passes and the audit log (`audit list`) holds
//! exactly one record for every acknowledged signature, issuance and revocation, and no serial
//! twice. After each restart: every acknowledged certificate is served with its status, the store
//! lists no serial twice, and the CRL number is above every one seen before.
//!
//! `HPKI_CRASH_ROUNDS` (default 20) and `HPKI_CRASH_SEED` (default: from the clock, printed)
//! replay a run: the seed fixes every kill moment and every client's choice of operations.

mod support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{Demo, Rng, Server, agent, audit_list, crl_number, detail, reply, sha256};

/// Concurrent clients per round.
const CLIENTS: u64 = 8;

/// What the clients saw acknowledged, over all rounds.
#[derive(Default)]
struct Ledger {
    /// Serial (hex) → revocation acknowledged.
    certificates: BTreeMap<String, bool>,
    /// Hex SHA-256 of each signed document (every document is unique).
    signatures: BTreeSet<String>,
    /// CRL number → SHA-256 of the CRL carrying it.
    crls: BTreeMap<u64, Vec<u8>>,
}

impl Ledger {
    fn merge(&mut self, other: Ledger, seed: u64) {
        for (serial, revoked) in other.certificates {
            let seen = self.certificates.entry(serial).or_default();
            *seen |= revoked;
        }
        self.signatures.extend(other.signatures);
        for (n, hash) in other.crls {
            self.crl(n, hash, seed);
        }
    }

    /// Two different CRLs must never carry the same number.
    fn crl(&mut self, number: u64, hash: Vec<u8>, seed: u64) {
        let seen = self.crls.entry(number).or_insert_with(|| hash.clone());
        assert_eq!(
            *seen, hash,
            "seed {seed}: two different CRLs with number {number}"
        );
    }
}

struct Client {
    base: String,
    demo: Arc<Demo>,
    csr: Arc<String>,
    seed: u64,
    label: String,
}

impl Client {
    /// Runs operations until the server dies under it; returns what was acknowledged.
    fn run(self, mut rng: Rng) -> Ledger {
        let agent = agent();
        let mut ledger = Ledger::default();
        let mut unrevoked: Vec<String> = Vec::new();
        let auth = |t: &str| format!("Bearer {t}");
        for i in 0.. {
            let dice = rng.range(0, 100);
            let url = |p: &str| format!("{}{p}", self.base);
            let doc = format!("{} op {i} {}", self.label, rng.next());
            let digest = sha256(doc.as_bytes());
            let result = if dice < 35 {
                agent
                    .post(&url("/v1/signatures"))
                    .set("Authorization", &auth(&self.demo.signer))
                    .send_json(serde_json::json!({
                        "credential": self.demo.credential, "digest": B64.encode(&digest),
                        "digest_algorithm": "sha256", "purpose": "author"}))
            } else if dice < 50 {
                agent
                    .post(&url(&format!(
                        "/v1/signatures?credential={}&purpose=author",
                        self.demo.credential
                    )))
                    .set("Authorization", &auth(&self.demo.signer))
                    .set("Content-Type", "application/octet-stream")
                    .send_bytes(doc.as_bytes())
            } else if dice < 80 {
                agent
                    .post(&url("/v1/certificates"))
                    .set("Authorization", &auth(&self.demo.ra))
                    .send_json(serde_json::json!({
                        "profile": "rhp-sign",
                        "subject": format!("C=JP,O=Crash Hospital,CN=Doctor {i},serialNumber={}-{i}", self.label),
                        "hc_roles": [support::JP_DOCTOR], "csr": *self.csr}))
            } else if dice < 92 && !unrevoked.is_empty() {
                let serial = unrevoked.swap_remove(rng.range(0, unrevoked.len() as u64) as usize);
                let r = agent
                    .post(&url(&format!("/v1/certificates/{serial}/revoke")))
                    .set("Authorization", &auth(&self.demo.ra))
                    .send_json(serde_json::json!({"reason": "superseded"}));
                match reply(r) {
                    Ok(r) => {
                        assert_eq!(r.status, 200, "seed {}: revoke: {}", self.seed, r.text());
                        ledger.certificates.insert(serial, true);
                    }
                    Err(_) => return ledger,
                }
                continue;
            } else {
                agent.get(&url("/v1/crl/sign")).call()
            };
            let Ok(r) = reply(result) else {
                // The server was killed mid-request: this operation was not acknowledged.
                return ledger;
            };
            if dice < 50 {
                assert_eq!(r.status, 201, "seed {}: sign: {}", self.seed, r.text());
                ledger.signatures.insert(hex::encode(&digest));
            } else if dice < 80 {
                assert_eq!(r.status, 201, "seed {}: issue: {}", self.seed, r.text());
                let serial = r.json()["serial"].as_str().unwrap().to_owned();
                assert!(
                    ledger.certificates.insert(serial.clone(), false).is_none(),
                    "seed {}: serial {serial} acknowledged twice",
                    self.seed
                );
                unrevoked.push(serial);
            } else {
                assert_eq!(r.status, 200, "seed {}: crl: {}", self.seed, r.text());
                ledger.crl(crl_number(&r.body), sha256(&r.body), self.seed);
            }
        }
        unreachable!()
    }
}

/// With the server stopped: the audit chain holds, and the log has exactly one record for each
/// acknowledged operation and no serial issued twice.
fn check_offline(data: &Path, ledger: &Ledger, seed: u64, round: u64) {
    let (ok, out, err) = support::admin(data, &["audit", "verify"]);
    assert!(ok, "seed {seed} round {round}: audit verify: {out}{err}");
    let records = audit_list(data);
    let mut signed: BTreeMap<&str, usize> = BTreeMap::new();
    let mut issued: BTreeMap<&str, usize> = BTreeMap::new();
    let mut revoked: BTreeMap<&str, usize> = BTreeMap::new();
    let mut crls = 0u64;
    for r in &records {
        let object = r["event"]["object"].as_str().unwrap();
        match r["event"]["action"].as_str().unwrap() {
            "sign" => *signed.entry(detail(r, "digest").unwrap()).or_default() += 1,
            "issue" => *issued.entry(object).or_default() += 1,
            "revoke" => *revoked.entry(object).or_default() += 1,
            "crl" if object == "crl:sign" => crls += 1,
            _ => {}
        }
    }
    let ctx = format!("seed {seed} round {round}");
    for (map, what) in [
        (&signed, "signature"),
        (&issued, "issuance"),
        (&revoked, "revocation"),
    ] {
        if let Some((k, n)) = map.iter().find(|(_, n)| **n > 1) {
            panic!("{ctx}: {n} {what} records for {k}");
        }
    }
    for digest in &ledger.signatures {
        assert!(
            signed.contains_key(digest.as_str()),
            "{ctx}: acknowledged signature of {digest} has no audit record"
        );
    }
    for (serial, was_revoked) in &ledger.certificates {
        let object = format!("certificate:{serial}");
        assert!(
            issued.contains_key(object.as_str()),
            "{ctx}: acknowledged certificate {serial} has no issue record"
        );
        if *was_revoked {
            assert!(
                revoked.contains_key(object.as_str()),
                "{ctx}: acknowledged revocation of {serial} has no audit record"
            );
        }
    }
    // Each CRL number is allocated with its audit record in one transaction, from 1 upwards.
    if let Some((&highest, _)) = ledger.crls.last_key_value() {
        assert!(
            highest <= crls,
            "{ctx}: CRL number {highest} served but only {crls} CRL audit records"
        );
    }
}

/// With the server restarted: every acknowledged certificate is there with its status, no serial
/// is listed twice, and the first CRL after the restart is numbered above every one before.
fn check_online(
    server: &Server,
    demo: &Demo,
    ledger: &mut Ledger,
    fresh: &[String],
    seed: u64,
    round: u64,
) {
    let ctx = format!("seed {seed} round {round}");
    let agent = agent();
    let auth = format!("Bearer {}", demo.ra);
    let mut listed = BTreeMap::new();
    for page in 1.. {
        let r = reply(
            agent
                .get(&format!(
                    "{}/v1/certificates?per_page=500&page={page}",
                    server.base
                ))
                .set("Authorization", &auth)
                .call(),
        )
        .unwrap();
        assert_eq!(r.status, 200, "{ctx}: {}", r.text());
        let page = r.json();
        let items = page["items"].as_array().unwrap();
        for item in items {
            let serial = item["serial"].as_str().unwrap().to_owned();
            let status = item["status"].as_str().unwrap().to_owned();
            assert!(
                listed.insert(serial.clone(), status).is_none(),
                "{ctx}: serial {serial} listed twice"
            );
        }
        if items.is_empty() || listed.len() >= page["total"].as_u64().unwrap() as usize {
            break;
        }
    }
    for (serial, revoked) in &ledger.certificates {
        let want = if *revoked { "revoked" } else { "good" };
        let status = listed
            .get(serial)
            .unwrap_or_else(|| panic!("{ctx}: acknowledged certificate {serial} lost"));
        // A revocation in flight at the kill may have landed without being acknowledged.
        assert!(
            status == want || (!revoked && status == "revoked"),
            "{ctx}: {serial} is {status}, acknowledged {want}"
        );
    }
    // And this round's by their own route (older ones were fetched in their own round and are
    // still in the listing above).
    for serial in fresh {
        let r = reply(
            agent
                .get(&format!("{}/v1/certificates/{serial}", server.base))
                .set("Authorization", &auth)
                .call(),
        )
        .unwrap();
        assert_eq!(r.status, 200, "{ctx}: GET {serial}: {}", r.text());
    }
    let r = reply(agent.get(&format!("{}/v1/crl/sign", server.base)).call()).unwrap();
    assert_eq!(r.status, 200, "{ctx}: {}", r.text());
    let number = crl_number(&r.body);
    if let Some((&before, _)) = ledger.crls.last_key_value() {
        assert!(
            number > before,
            "{ctx}: CRL number {number} after the restart, {before} before"
        );
    }
    // The new CRL lists every acknowledged revocation.
    use x509_cert::der::Decode;
    let crl: x509_cert::crl::CertificateList =
        x509_cert::crl::CertificateList::from_der(&r.body).unwrap();
    let on_crl: BTreeSet<String> = crl
        .tbs_cert_list
        .revoked_certificates
        .iter()
        .flatten()
        .map(|e| hex::encode(e.serial_number.as_bytes()))
        .collect();
    for (serial, _) in ledger.certificates.iter().filter(|(_, r)| **r) {
        assert!(
            on_crl.contains(serial),
            "{ctx}: {serial} missing from the CRL"
        );
    }
    ledger.crl(number, sha256(&r.body), seed);
}

#[test]
fn kill_9_at_random_moments_loses_and_duplicates_nothing() {
    let rounds = support::env_u64("HPKI_CRASH_ROUNDS").unwrap_or(20);
    let seed = support::env_u64("HPKI_CRASH_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    });
    // Shown with the failure output (cargo prints a failed test's stdout).
    println!("crash test seed {seed}: replay with HPKI_CRASH_SEED={seed}");
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let csr = Arc::new(support::csr(dir.path()));
    let (mut server, demo) = support::start_fresh(&data, &[]);
    let demo = Arc::new(demo);
    let mut rng = Rng(seed);
    let mut ledger = Ledger::default();
    let mut kills = 0;
    for round in 0..rounds {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|t| {
                let client = Client {
                    base: server.base.clone(),
                    demo: demo.clone(),
                    csr: csr.clone(),
                    seed,
                    label: format!("R{round}T{t}"),
                };
                let rng = Rng(rng.next());
                std::thread::spawn(move || client.run(rng))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(rng.range(50, 1500)));
        server.kill();
        kills += 1;
        let mut fresh = Vec::new();
        for c in clients {
            let acknowledged = c.join().expect("a client failed: see its message above");
            fresh.extend(acknowledged.certificates.keys().cloned());
            ledger.merge(acknowledged, seed);
        }
        check_offline(&data, &ledger, seed, round);
        server = support::spawn(&data, &[]).0;
        check_online(&server, &demo, &mut ledger, &fresh, seed, round);
    }
    println!(
        "{kills} kill -9 rounds in {:.1} s: {} certificates ({} revoked), {} signatures, {} CRLs acknowledged; nothing lost or duplicated",
        started.elapsed().as_secs_f64(),
        ledger.certificates.len(),
        ledger.certificates.values().filter(|r| **r).count(),
        ledger.signatures.len(),
        ledger.crls.len()
    );
    assert!(kills >= 20 || rounds < 20);
    assert!(
        !ledger.signatures.is_empty() && !ledger.certificates.is_empty(),
        "no operation was acknowledged: the test proved nothing"
    );
}
