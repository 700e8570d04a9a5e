//! Three `signer-api serve` processes on one PostgreSQL database (issue 15 items 2 and 3): the
//! real binary on port 0, clients on every instance at once.
//!
//! How an instance joins (README "Running several instances"): the first `serve` on an empty
//! database makes the installation (or `init` does); every other `serve` opens it. Instance A
//! made it in data directory `a`; B has a data directory of its own holding a copy of `a`'s key
//! file (as on another host); C shares `a` (another process on the same host: with PostgreSQL
//! `serve` makes no admin socket, so nothing in the directory is contended).

mod support;

#[path = "../../ca-core/tests/it/support/postgres.rs"]
mod pg;

use base64::Engine;
use ca_core::store::{PgStore, Store};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use support::{Demo, JP_DOCTOR, Server};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The requests the tests make, on a started `Server` or on a client thread's `Remote`.
trait Http {
    fn base(&self) -> &str;

    /// A POST of `body` as JSON; `Err` on a transport error (the server died).
    fn try_post_json(
        &self,
        path: &str,
        token: Option<&str>,
        body: &serde_json::Value,
    ) -> Result<support::Reply, String> {
        let req = support::bearer(
            support::agent().post(&format!("{}{path}", self.base())),
            token,
        );
        support::reply(req.send_json(body.clone()))
    }

    fn post_json(
        &self,
        path: &str,
        token: Option<&str>,
        body: &serde_json::Value,
    ) -> support::Reply {
        self.try_post_json(path, token, body)
            .unwrap_or_else(|e| panic!("transport: {e}"))
    }

    fn get(&self, path: &str, token: Option<&str>) -> support::Reply {
        let req = support::bearer(
            support::agent().get(&format!("{}{path}", self.base())),
            token,
        );
        support::received(req.call())
    }

    fn delete(&self, path: &str, token: Option<&str>) -> support::Reply {
        let url = format!("{}{path}", self.base());
        support::received(support::bearer(support::agent().delete(&url), token).call())
    }
}

impl Http for Server {
    fn base(&self) -> &str {
        &self.base
    }
}

/// An instance's address, for a client thread.
struct Remote(String);

impl Remote {
    fn at(base: String) -> Self {
        Self(base)
    }
}

impl Http for Remote {
    fn base(&self) -> &str {
        &self.0
    }
}

struct Cluster {
    db: pg::TestDatabase,
    /// Keeps the data directories.
    _dir: tempfile::TempDir,
    /// A's (and C's) data directory.
    a: PathBuf,
    /// B's.
    b: PathBuf,
    servers: Vec<Server>,
    demo: Demo,
}

impl Cluster {
    fn start() -> Self {
        let db = pg::TestDatabase::new();
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        let env = [("HPKI_STORE", db.url.as_str())];
        let (first, demo) = support::start_fresh(&a, &env);
        copy_key_file(&a, &b);
        let second = support::spawn_joining(&b, &env, None);
        let third = support::spawn_joining(&a, &env, Some(&dir.path().join("c.log")));
        Cluster {
            db,
            _dir: dir,
            a,
            b,
            servers: vec![first, second, third],
            demo,
        }
    }

    /// `signer-api` with this cluster's store, on A's data directory.
    fn cli(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_signer-api"))
            .arg("--data-dir")
            .arg(&self.a)
            .args(args)
            .env_remove("HPKI_PASSPHRASE")
            .env("HPKI_STORE", &self.db.url)
            .output()
            .unwrap()
    }

    /// `audit verify` (hash chain, head and every record's MAC) must pass; returns its line.
    fn audit_verified(&self) -> String {
        let out = self.cli(&["audit", "verify"]);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success() && stdout.contains("audit log OK"),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// The audit log read from the database, after checking it is one linear chain: every
    /// record's predecessor is the record before it, whichever instance wrote either.
    fn linear_log(&self) -> Vec<ca_core::audit::AuditRecord> {
        let log = PgStore::open(&self.db.url).unwrap().audit_log().unwrap();
        assert_eq!(log[0].seq, 1);
        for pair in log.windows(2) {
            assert_eq!(pair[1].seq, pair[0].seq + 1, "{:?}", pair[1]);
            assert_eq!(pair[1].prev_hash, pair[0].hash, "{:?}", pair[1]);
        }
        log
    }

    /// A token of `scope` (`ra`, or `signer` for `practitioner`) minted through instance `on`.
    fn token(&self, on: usize, body: serde_json::Value) -> String {
        let r = self.servers[on].post_json("/v1/tokens", Some(&self.demo.ra), &body);
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()["token"].as_str().unwrap().to_owned()
    }
}

/// B's data directory: 0700, with a copy of A's key file (0600), nothing else.
fn copy_key_file(from: &Path, to: &Path) {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new().mode(0o700).create(to).unwrap();
    let key = to.join("master.key");
    std::fs::copy(from.join("master.key"), &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// The public id of a token `hpki_<id>_<secret>`.
fn token_id(token: &str) -> &str {
    token.split('_').nth(1).unwrap()
}

fn sign_body(credential: &str, document: &str) -> serde_json::Value {
    serde_json::json!({"credential": credential, "level": "B-B", "purpose": "author",
        "digest_algorithm": "sha256", "digest": B64.encode(support::sha256(document.as_bytes()))})
}

fn issue_body(csr: &str, name: &str) -> serde_json::Value {
    serde_json::json!({"profile": "rhp-sign", "csr": csr, "hc_roles": [JP_DOCTOR],
        "subject": format!("C=JP,O=hpki Cluster Hospital,CN={name},serialNumber={name}")})
}

fn revoke(server: &impl Http, ra: &str, serial: &str) -> support::Reply {
    server.post_json(
        &format!("/v1/certificates/{serial}/revoke"),
        Some(ra),
        &serde_json::json!({"reason": "keyCompromise"}),
    )
}

/// The serial numbers (hex) a DER CRL lists.
fn crl_serials(der: &[u8]) -> BTreeSet<String> {
    use x509_cert::der::Decode;
    let crl: x509_cert::crl::CertificateList =
        x509_cert::crl::CertificateList::from_der(der).unwrap();
    crl.tbs_cert_list
        .revoked_certificates
        .unwrap_or_default()
        .iter()
        .map(|r| hex::encode(r.serial_number.as_bytes()))
        .collect()
}

/// What `openssl ocsp` says of certificate `cert` (PEM file) asking `server`'s responder.
fn ocsp_status(server: &impl Http, dir: &Path, cert: &Path) -> String {
    let bundle = dir.join("cas.pem");
    std::fs::write(&bundle, server.get("/v1/ca/certificates", None).body).unwrap();
    let sign = dir.join("sign.pem");
    std::fs::write(&sign, server.get("/v1/ca/sign.pem", None).body).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["ocsp", "-no_nonce", "-issuer"])
        .arg(&sign)
        .arg("-cert")
        .arg(cert)
        .arg("-CAfile")
        .arg(&bundle)
        .args(["-url", &format!("{}/v1/ocsp", server.base())])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("Response verify OK"), "{text}");
    text
}

/// Joining: a `serve` whose data directory lacks the key file of an initialised database is
/// refused with what to do; a joiner with the key file publishes the CA certificates; C, sharing
/// A's directory, made no admin socket there.
#[test]
fn an_instance_joins_an_initialised_database_with_a_copy_of_the_key_file() {
    let cluster = Cluster::start();
    let lone = cluster._dir.path().join("lone");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_signer-api"))
        .arg("--data-dir")
        .arg(&lone)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("HPKI_PASSPHRASE")
        .env("HPKI_STORE", &cluster.db.url)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("master.key is missing") && stderr.contains("copy that file here"),
        "{stderr}"
    );
    // The database was not touched: still one installation, its `init` record first.
    let log = cluster.linear_log();
    assert_eq!(
        log.iter()
            .filter(|r| r.event.action == ca_core::audit::AuditAction::Init)
            .count(),
        1
    );
    for id in ["root", "sign", "auth"] {
        let pem = |d: &Path| std::fs::read(d.join("ca").join(format!("{id}.pem"))).unwrap();
        assert_eq!(pem(&cluster.b), pem(&cluster.a), "{id}");
    }
    assert!(!cluster.a.join("admin.sock").exists());
    // Every instance is the same CA.
    let root = cluster.servers[0].get("/v1/ca/root.der", None).body;
    for server in &cluster.servers[1..] {
        assert_eq!(server.get("/v1/ca/root.der", None).body, root);
    }

    // A clean stop (SIGTERM) of an instance that used the database exits 0: its connections
    // are closed off actix's threads (a `postgres::Client` closed on one panicked).
    let mut cluster = cluster;
    let c = &mut cluster.servers[2];
    let r = c.post_json(
        "/v1/signatures",
        Some(&cluster.demo.signer),
        &sign_body(&cluster.demo.credential, "before the stop"),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let term = std::process::Command::new("kill")
        .args(["-TERM", &c.pid().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = c.child.wait().unwrap();
    let log = std::fs::read_to_string(cluster._dir.path().join("c.log")).unwrap();
    assert!(
        status.success() && !log.contains("panicked"),
        "{status}: {log}"
    );
}

/// Two first starts at once on one empty database, under one passphrase: the database takes one
/// `init`; the other instance joins that installation instead of failing or making a second.
#[test]
fn instances_started_at_once_on_an_empty_database_make_one_installation() {
    let db = pg::TestDatabase::new();
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("HPKI_STORE", db.url.as_str()),
        ("HPKI_PASSPHRASE", "correct horse battery staple"),
    ];
    let servers: Vec<Server> = std::thread::scope(|scope| {
        let starts: Vec<_> = ["x", "y"]
            .map(|name| {
                let data = dir.path().join(name);
                scope.spawn(move || support::spawn_joining(&data, &env, None))
            })
            .into_iter()
            .collect();
        starts.into_iter().map(|s| s.join().unwrap()).collect()
    });
    let log = PgStore::open(&db.url).unwrap().audit_log().unwrap();
    let inits = log
        .iter()
        .filter(|r| r.event.action == ca_core::audit::AuditAction::Init)
        .count();
    assert_eq!(inits, 1);
    let root = servers[0].get("/v1/ca/root.der", None).body;
    assert_eq!(servers[1].get("/v1/ca/root.der", None).body, root);
    assert!(!dir.path().join("x").join("master.key").exists());
}

/// Issue 15 item 2: tokens and credentials made on one instance work on the others at once; a
/// revocation through A stops signing with that credential on B and C before A's call returns,
/// and B's and C's CRLs and OCSP answers say so; a token revoked on C is refused on A.
#[test]
fn tokens_credentials_and_revocations_take_effect_on_every_instance_at_once() {
    let cluster = Cluster::start();
    let tmp = tempfile::tempdir().unwrap();
    let [a, b, c] = [0, 1, 2].map(|i| &cluster.servers[i]);

    // A credential created on A, a signer token minted on B: C signs with them at once.
    let created = a.post_json(
        "/v1/credentials",
        Some(&cluster.demo.ra),
        &serde_json::json!({"subject": "C=JP,O=hpki Cluster Hospital,CN=P One,serialNumber=P-1",
                            "hc_roles": [JP_DOCTOR]}),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let credential = created.json()["id"].as_str().unwrap().to_owned();
    let serial = created.json()["serial"].as_str().unwrap().to_owned();
    let cert = tmp.path().join("p1.pem");
    std::fs::write(&cert, created.json()["certificate"].as_str().unwrap()).unwrap();
    let token = cluster.token(
        1,
        serde_json::json!({"scope": "signer", "practitioner": "P-1"}),
    );
    let r = c.post_json(
        "/v1/signatures",
        Some(&token),
        &sign_body(&credential, "first"),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["serial"], serial.as_str());
    let listed = c.get("/v1/credentials", Some(&token)).json();
    assert_eq!(listed[0]["id"], credential.as_str(), "{listed}");
    for server in [a, b, c] {
        assert!(ocsp_status(server, tmp.path(), &cert).contains(": good"));
    }
    // Every instance serves a CRL now, so each holds one that the revocation makes out of date.
    for server in [a, b, c] {
        let crl = server.get("/v1/crl/sign", None);
        assert_eq!(crl.status, 200);
        assert!(!crl_serials(&crl.body).contains(&serial));
    }

    // Signers on B and C sign with the credential in a loop while A revokes its certificate.
    let stop = Arc::new(AtomicBool::new(false));
    let signers: Vec<_> = [1, 2, 1, 2]
        .into_iter()
        .enumerate()
        .map(|(n, on)| {
            let base = cluster.servers[on].base.clone();
            let (stop, token, credential) = (stop.clone(), token.clone(), credential.clone());
            std::thread::spawn(move || {
                let server = Remote::at(base);
                let mut sent = Vec::new();
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let at = Instant::now();
                    let r = server.post_json(
                        "/v1/signatures",
                        Some(&token),
                        &sign_body(&credential, &format!("loop {n} {i}")),
                    );
                    sent.push((on, at, r.status, r.text()));
                    i += 1;
                }
                sent
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(400));
    let r = revoke(a, &cluster.demo.ra, &serial);
    let revoked = Instant::now();
    assert_eq!(r.status, 200, "{}", r.text());
    std::thread::sleep(Duration::from_millis(400));
    stop.store(true, Ordering::Relaxed);
    let mut after = [0usize; 3];
    let mut before = 0;
    for signer in signers {
        for (on, at, status, body) in signer.join().unwrap() {
            if at > revoked {
                // Sent once the revocation had returned: refused, whichever instance.
                assert_eq!(status, 403, "instance {on}: {body}");
                assert!(body.contains("is revoked"), "instance {on}: {body}");
                after[on] += 1;
            } else if status == 201 {
                before += 1;
            }
        }
    }
    assert!(before > 0, "no signature before the revocation");
    assert!(after[1] > 0 && after[2] > 0, "{after:?}");
    let r = a.post_json(
        "/v1/signatures",
        Some(&token),
        &sign_body(&credential, "late"),
    );
    assert!(r.problem(403).contains("is revoked"));

    // B's and C's CRLs (each held an older one) and OCSP answers agree with A's.
    for server in [a, b, c] {
        let crl = server.get("/v1/crl/sign", None);
        assert!(crl_serials(&crl.body).contains(&serial), "{}", server.base);
        let text = ocsp_status(server, tmp.path(), &cert);
        assert!(text.contains(": revoked"), "{}: {text}", server.base);
        assert!(text.contains("Reason: keyCompromise"), "{text}");
    }
    // Refusals are audited like signatures, in the one chain.
    let log = cluster.linear_log();
    assert!(log.iter().any(|r| {
        r.event.action == ca_core::audit::AuditAction::SignRefused
            && r.event.object == format!("credential:{credential}")
    }));

    // A token minted on A, revoked on C: A refuses it from then on.
    let ra2 = cluster.token(0, serde_json::json!({"scope": "ra"}));
    assert_eq!(b.get("/v1/tokens", Some(&ra2)).status, 200);
    let r = c.delete(&format!("/v1/tokens/{}", token_id(&ra2)), Some(&ra2));
    assert!((200..300).contains(&r.status), "{}", r.text());
    let r = a.get("/v1/tokens", Some(&ra2));
    assert!(r.problem(401).contains("revoked"), "{}", r.text());
    cluster.audit_verified();
}

/// Issue 15 item 2, concurrently through all three instances: every serial number unique, CRL
/// numbers allocated once each and increasing, a CRL fetched from one instance after a
/// revocation on another lists it, and one linear audit chain holding every instance's records.
#[test]
fn three_instances_under_load_keep_serials_crl_numbers_and_one_audit_chain() {
    const THREADS_PER_INSTANCE: usize = 2;
    const ROUNDS: usize = 5;
    let cluster = Cluster::start();
    let tmp = tempfile::tempdir().unwrap();
    let csr = support::csr(tmp.path());
    // Each instance's clients use their own ra token (minted on another instance), so the
    // audit log's actors say which instance wrote each record.
    let ras: Vec<String> = (0..3)
        .map(|n| cluster.token((n + 1) % 3, serde_json::json!({"scope": "ra"})))
        .collect();
    let workers: Vec<_> = (0..3 * THREADS_PER_INSTANCE)
        .map(|t| {
            let on = t % 3;
            let bases: Vec<String> = cluster.servers.iter().map(|s| s.base.clone()).collect();
            let (ra, csr) = (ras[on].clone(), csr.clone());
            let (signer, credential) =
                (cluster.demo.signer.clone(), cluster.demo.credential.clone());
            std::thread::spawn(move || {
                let here = Remote::at(bases[on].clone());
                let next = Remote::at(bases[(on + 1) % 3].clone());
                let mut issued = Vec::new();
                let mut crls = Vec::new();
                for round in 0..ROUNDS {
                    let r = here.post_json(
                        "/v1/certificates",
                        Some(&ra),
                        &issue_body(&csr, &format!("T{t}-{round}")),
                    );
                    assert_eq!(r.status, 201, "{}", r.text());
                    let serial = r.json()["serial"].as_str().unwrap().to_owned();
                    let r = here.post_json(
                        "/v1/signatures",
                        Some(&signer),
                        &sign_body(&credential, &format!("T{t}-{round}")),
                    );
                    assert_eq!(r.status, 201, "{}", r.text());
                    let r = revoke(&here, &ra, &serial);
                    assert_eq!(r.status, 200, "{}", r.text());
                    // Fetched from the next instance, after the revocation returned.
                    let crl = next.get("/v1/crl/sign", None);
                    assert_eq!(crl.status, 200);
                    assert!(
                        crl_serials(&crl.body).contains(&serial),
                        "instance {} served a CRL without {serial}, revoked on {on}",
                        (on + 1) % 3
                    );
                    crls.push(crl.body);
                    issued.push(serial);
                }
                (issued, crls)
            })
        })
        .collect();
    let mut serials = BTreeSet::new();
    let mut by_number: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    for worker in workers {
        let (issued, crls) = worker.join().unwrap();
        for serial in issued {
            assert!(
                serials.insert(serial.clone()),
                "serial {serial} issued twice"
            );
        }
        let numbers: Vec<u64> = crls.iter().map(|d| support::crl_number(d)).collect();
        // Each fetch followed a new revocation of this client's, which the previous CRL it saw
        // lacked: a CRL signed later, so a higher number.
        assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
        for (number, der) in numbers.into_iter().zip(crls) {
            // A number is never reused for another CRL.
            assert_eq!(by_number.entry(number).or_insert_with(|| der.clone()), &der);
        }
    }
    assert_eq!(serials.len(), 3 * THREADS_PER_INSTANCE * ROUNDS);
    // Nothing is ever released here: a higher CRL number lists every serial a lower one does (a
    // CRL numbered after another supersedes it, RFC 5280 §5.2.3, and must not un-revoke).
    let mut listed = BTreeSet::new();
    for (number, der) in &by_number {
        let now_listed = crl_serials(der);
        let dropped: Vec<_> = listed.difference(&now_listed).collect();
        assert!(dropped.is_empty(), "CRL {number} drops {dropped:?}");
        listed = now_listed;
    }
    let store = PgStore::open(&cluster.db.url).unwrap();
    let stored: BTreeSet<String> = store
        .certificates()
        .unwrap()
        .iter()
        .map(|c| hex::encode(&c.serial))
        .collect();
    assert!(serials.is_subset(&stored));

    let log = cluster.linear_log();
    // CRL numbers 1..=n, each allocated once with its audit record: the database's counter is
    // the number of `crl:sign` records, and every CRL seen is one of them.
    let crl_records = log.iter().filter(|r| r.event.object == "crl:sign").count() as u64;
    let mut client = postgres::Client::connect(&cluster.db.url, postgres::NoTls).unwrap();
    let last: i64 = client
        .query_one("SELECT last FROM crl_numbers WHERE issuer_ca = 'sign'", &[])
        .unwrap()
        .get(0);
    assert_eq!(u64::try_from(last).unwrap(), crl_records);
    assert!(*by_number.keys().last().unwrap() <= crl_records);
    // Every instance wrote into the one chain, interleaved.
    let actor_of = |n: usize| format!("token:{}", token_id(&ras[n]));
    for n in 0..3 {
        let issues = log
            .iter()
            .filter(|r| r.event.actor == actor_of(n) && r.event.action.as_str() == "issue")
            .count();
        assert_eq!(issues, THREADS_PER_INSTANCE * ROUNDS, "instance {n}");
    }
    let switches = log
        .windows(2)
        .filter(|w| w[0].event.actor != w[1].event.actor)
        .count();
    assert!(switches > 3 * ROUNDS, "{switches}");
    let verified = cluster.audit_verified();
    assert!(
        verified.contains(&format!("audit log OK: {} records", log.len())),
        "{verified}"
    );
}

/// What a client was told had been done (and so must be in the audit log exactly once).
#[derive(Debug)]
enum Acked {
    Signed { digest: String },
    Issued { serial: String },
    Revoked { serial: String },
}

/// Issue 15 item 3: `kill -9` of one instance while clients load all three loses no
/// acknowledged write: every acknowledged signature, issuance and revocation is in the audit
/// log exactly once, the chain verifies, and the other two instances kept serving.
#[test]
fn kill_9_of_one_instance_under_load_loses_no_acknowledged_write() {
    let mut cluster = Cluster::start();
    let tmp = tempfile::tempdir().unwrap();
    let csr = support::csr(tmp.path());
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let workers: Vec<_> = (0..6)
        .map(|t| {
            let on = t % 3;
            let base = cluster.servers[on].base.clone();
            let (stop, csr) = (stop.clone(), csr.clone());
            let demo = (
                cluster.demo.ra.clone(),
                cluster.demo.signer.clone(),
                cluster.demo.credential.clone(),
            );
            std::thread::spawn(move || {
                let (ra, signer, credential) = demo;
                let server = Remote::at(base);
                let mut acked = Vec::new();
                let mut last_ack = None;
                let mut unrevoked: Option<String> = None;
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let document = format!("kill test {t} {i}");
                    let outcome = match (i % 4, unrevoked.take()) {
                        (3, Some(serial)) => server
                            .try_post_json(
                                &format!("/v1/certificates/{serial}/revoke"),
                                Some(&ra),
                                &serde_json::json!({"reason": "superseded"}),
                            )
                            .map(|r| (r, Acked::Revoked { serial })),
                        (2, None) => server
                            .try_post_json(
                                "/v1/certificates",
                                Some(&ra),
                                &issue_body(&csr, &format!("K{t}-{i}")),
                            )
                            .map(|r| {
                                let serial = r.json()["serial"].as_str().unwrap_or("").to_owned();
                                unrevoked = Some(serial.clone());
                                (r, Acked::Issued { serial })
                            }),
                        (_, pending) => {
                            unrevoked = pending;
                            server
                                .try_post_json(
                                    "/v1/signatures",
                                    Some(&signer),
                                    &sign_body(&credential, &document),
                                )
                                .map(|r| {
                                    let digest = hex::encode(support::sha256(document.as_bytes()));
                                    (r, Acked::Signed { digest })
                                })
                        }
                    };
                    match outcome {
                        Ok((r, what)) if (200..300).contains(&r.status) => {
                            acked.push(what);
                            last_ack = Some(Instant::now());
                        }
                        Ok((r, what)) => panic!("instance {on}: {what:?}: {}", r.text()),
                        // The killed instance: nothing more to ask of it.
                        Err(_) => break,
                    }
                }
                (on, acked, last_ack)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(2500));
    cluster.servers[1].kill();
    let killed = Instant::now();
    std::thread::sleep(Duration::from_millis(2000));
    stop.store(true, Ordering::Relaxed);
    let mut acked = Vec::new();
    for worker in workers {
        let (on, done, last) = worker.join().unwrap();
        assert!(!done.is_empty(), "instance {on} acknowledged nothing");
        if on != 1 {
            assert!(
                last.is_some_and(|l| l > killed + Duration::from_millis(500)),
                "instance {on} stopped serving when instance 1 was killed"
            );
        }
        acked.extend(done);
    }
    eprintln!(
        "kill -9: {} acknowledged writes in {:?}",
        acked.len(),
        started.elapsed()
    );

    // The survivors still serve, and the log is one verified chain holding each acknowledged
    // write exactly once.
    let r = cluster.servers[2].post_json(
        "/v1/signatures",
        Some(&cluster.demo.signer),
        &sign_body(&cluster.demo.credential, "after the kill"),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    cluster.audit_verified();
    let log = cluster.linear_log();
    // How many times each (action, key) is in the log: a signature by its digest, an issuance
    // and a revocation by the certificate's serial.
    let mut seen: BTreeMap<(&str, String), usize> = BTreeMap::new();
    for record in &log {
        let key = match record.event.action.as_str() {
            "sign" => record
                .event
                .details
                .iter()
                .find(|(k, _)| k == "digest")
                .map(|(_, v)| v.clone()),
            "issue" | "revoke" => record
                .event
                .object
                .strip_prefix("certificate:")
                .map(str::to_owned),
            _ => None,
        };
        if let Some(key) = key {
            *seen.entry((record.event.action.as_str(), key)).or_default() += 1;
        }
    }
    for write in &acked {
        let key = match write {
            Acked::Signed { digest } => ("sign", digest.clone()),
            Acked::Issued { serial } => ("issue", serial.clone()),
            Acked::Revoked { serial } => ("revoke", serial.clone()),
        };
        let n = seen.get(&key).copied().unwrap_or(0);
        assert_eq!(n, 1, "{write:?} is in the audit log {n} times");
    }
}
