//! PostgreSQL stopped and started again under load (issue 15 item 3): the real `serve` on port 0
//! over a throwaway cluster of its own. While the database is down every route that needs the
//! store answers 503 problem+json with Retry-After and `/health` says why; once it is back the
//! same process signs again; every signature that was acknowledged has exactly one audit
//! record, and the chain verifies.

mod support;

#[path = "../../ca-core/tests/it/support/postgres.rs"]
mod pg;

use base64::Engine;
use ca_core::audit::AuditAction;
use ca_core::store::{PgStore, Store, audit_verify};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A reply with its Retry-After header, which `support::Reply` does not keep.
struct Answer {
    status: u16,
    retry_after: Option<String>,
    content_type: String,
    body: serde_json::Value,
}

fn call(req: ureq::Request, body: Option<&serde_json::Value>) -> Answer {
    let outcome = match body {
        Some(body) => req.send_json(body.clone()),
        None => req.call(),
    };
    let response = match outcome {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(ureq::Error::Transport(t)) => panic!("the service must answer: {t}"),
    };
    Answer {
        status: response.status(),
        retry_after: response.header("Retry-After").map(str::to_owned),
        content_type: response.content_type().to_owned(),
        body: response.into_json().unwrap_or(serde_json::Value::Null),
    }
}

/// Asserts the 503 of an unreachable database: problem+json, Retry-After, the reason.
fn assert_unavailable(answer: &Answer, what: &str) {
    assert_eq!(answer.status, 503, "{what}: {}", answer.body);
    assert_eq!(answer.content_type, "application/problem+json", "{what}");
    assert_eq!(answer.retry_after.as_deref(), Some("5"), "{what}");
    assert_eq!(answer.body["status"], 503, "{what}");
    assert_eq!(
        answer.body["detail"], "the database is unreachable; retry after 5 s",
        "{what}"
    );
}

fn sign_body(credential: &str, digest: &[u8]) -> serde_json::Value {
    serde_json::json!({"credential": credential,
        "digest": base64::engine::general_purpose::STANDARD.encode(digest),
        "digest_algorithm": "sha256", "purpose": "author"})
}

/// Waits up to 60 s for `done`.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "waited 60 s for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn postgres_stopped_and_restarted_under_load() {
    let Some(cluster) = pg::OwnCluster::start(|_| String::new()) else {
        return;
    };
    let db = cluster.database();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (server, demo) = support::start_fresh(&data, &[("HPKI_STORE", db.url.as_str())]);
    let base = server.base.clone();
    let url = |path: &str| format!("{base}{path}");
    let bearer = |token: &str| format!("Bearer {token}");

    // An OCSP request for the signing CA, made while everything is up.
    let sign_ca = dir.path().join("sign.pem");
    std::fs::write(&sign_ca, &server.get("/v1/ca/sign.pem", None).body).unwrap();
    let ocsp_request = dir.path().join("req.der");
    let out = std::process::Command::new("openssl")
        .args(["ocsp", "-no_nonce", "-issuer"])
        .arg(&sign_ca)
        .args(["-serial", "0x01", "-reqout"])
        .arg(&ocsp_request)
        .output()
        .expect("the openssl CLI is required by these tests (.ci/run installs it)");
    assert!(out.status.success(), "{out:?}");
    let ocsp_request = std::fs::read(&ocsp_request).unwrap();
    // A certificate request and a time-stamp request, likewise.
    let csr = support::csr(dir.path());
    std::fs::write(dir.path().join("doc.txt"), b"discharge letter").unwrap();
    let out = std::process::Command::new("openssl")
        .current_dir(dir.path())
        .args([
            "ts", "-query", "-data", "doc.txt", "-sha256", "-cert", "-out", "req.tsq",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let tsq = std::fs::read(dir.path().join("req.tsq")).unwrap();

    // Four clients sign distinct digests until told to stop; every answer is kept.
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
    let unavailable = Arc::new(AtomicUsize::new(0));
    let slowest_refusal = Arc::new(Mutex::new(Duration::ZERO));
    let clients: Vec<_> = (0..4)
        .map(|client| {
            let (stop, acknowledged, unavailable, slowest) = (
                stop.clone(),
                acknowledged.clone(),
                unavailable.clone(),
                slowest_refusal.clone(),
            );
            let (sign_url, token, credential) = (
                url("/v1/signatures"),
                bearer(&demo.signer),
                demo.credential.clone(),
            );
            std::thread::spawn(move || {
                // Bounded: at most 20,000 requests per client, whatever happens.
                for n in 0..20_000u32 {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let digest =
                        support::sha256(format!("client {client} document {n}").as_bytes());
                    let started = Instant::now();
                    let answer = call(
                        support::agent()
                            .post(&sign_url)
                            .set("Authorization", &token),
                        Some(&sign_body(&credential, &digest)),
                    );
                    match answer.status {
                        201 => acknowledged.lock().unwrap().push(digest),
                        _ => {
                            assert_unavailable(&answer, "a signature while the database is down");
                            unavailable.fetch_add(1, Ordering::Relaxed);
                            let took = started.elapsed();
                            let mut slowest = slowest.lock().unwrap();
                            *slowest = (*slowest).max(took);
                            drop(slowest);
                            std::thread::sleep(Duration::from_millis(20));
                        }
                    }
                }
            })
        })
        .collect();
    let acks = || acknowledged.lock().unwrap().len();

    wait_for("signatures before the outage", || acks() >= 40);
    cluster.stop();
    wait_for("signatures refused during the outage", || {
        unavailable.load(Ordering::Relaxed) >= 20
    });

    // Every route that needs the store says the same, and health says why.
    let health = call(support::agent().get(&url("/health")), None);
    assert_unavailable(&health, "GET /health");
    let ra = bearer(&demo.ra);
    let signer = bearer(&demo.signer);
    for (what, answer) in [
        (
            "token check",
            call(
                support::agent()
                    .get(&url("/v1/credentials"))
                    .set("Authorization", &signer),
                None,
            ),
        ),
        (
            "revocation",
            call(
                support::agent()
                    .post(&url("/v1/certificates/0102/revoke"))
                    .set("Authorization", &ra),
                Some(&serde_json::json!({"reason": "keyCompromise"})),
            ),
        ),
        (
            "issuance",
            call(
                support::agent()
                    .post(&url("/v1/certificates"))
                    .set("Authorization", &ra),
                Some(&serde_json::json!({"profile": "rhp-sign",
                    "subject": "C=JP,O=Example Hospital,CN=Outage,serialNumber=D-OUT",
                    "hc_roles": [support::JP_DOCTOR], "csr": csr})),
            ),
        ),
        (
            "CRL",
            call(support::agent().get(&url("/v1/crl/auth")), None),
        ),
        (
            "certificate read",
            call(
                support::agent()
                    .get(&url("/v1/certificates/0102"))
                    .set("Authorization", &ra),
                None,
            ),
        ),
    ] {
        assert_unavailable(&answer, what);
    }
    let ocsp = support::agent()
        .post(&url("/v1/ocsp"))
        .set("Content-Type", "application/ocsp-request")
        .send_bytes(&ocsp_request);
    let ocsp = match ocsp {
        Err(ureq::Error::Status(503, r)) => r,
        other => panic!("OCSP while the database is down: {other:?}"),
    };
    assert_eq!(ocsp.header("Retry-After"), Some("5"));
    assert_eq!(ocsp.content_type(), "application/problem+json");
    let stamp = support::agent()
        .post(&url("/v1/timestamps"))
        .set("Content-Type", "application/timestamp-query")
        .send_bytes(&tsq);
    match stamp {
        Err(ureq::Error::Status(503, r)) => {
            assert_eq!(r.header("Retry-After"), Some("5"));
            assert_eq!(r.content_type(), "application/problem+json");
        }
        other => panic!("a time-stamp while the database is down: {other:?}"),
    }
    // Refused at once, not after a wait on a dead database.
    let slowest = *slowest_refusal.lock().unwrap();
    assert!(
        slowest < Duration::from_secs(5),
        "a refusal took {slowest:?}"
    );

    // Back: the same process recovers without a restart.
    let before_restart = acks();
    cluster.start_again();
    wait_for("GET /health to answer 200", || {
        call(support::agent().get(&url("/health")), None).status == 200
    });
    let digest = support::sha256(b"after the restart");
    let answer = call(
        support::agent()
            .post(&url("/v1/signatures"))
            .set("Authorization", &signer),
        Some(&sign_body(&demo.credential, &digest)),
    );
    assert_eq!(answer.status, 201, "{}", answer.body);
    acknowledged.lock().unwrap().push(digest);
    wait_for("the clients to sign again", || {
        acks() >= before_restart + 40
    });
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client
            .join()
            .expect("a client saw an answer other than 201 or the 503");
    }
    drop(server);

    // Nothing acknowledged was lost: one `sign` record per acknowledged digest.
    let store = PgStore::open(&db.url).unwrap();
    let log = store.audit_log().unwrap();
    let mut records: HashMap<String, usize> = HashMap::new();
    for record in log.iter().filter(|r| r.event.action == AuditAction::Sign) {
        let digest = record
            .event
            .details
            .iter()
            .find(|(k, _)| k == "digest")
            .map(|(_, v)| v.clone())
            .unwrap();
        *records.entry(digest).or_default() += 1;
    }
    let acknowledged = acknowledged.lock().unwrap();
    eprintln!(
        "{} signatures acknowledged, {} refused with 503; {} audit records",
        acknowledged.len(),
        unavailable.load(Ordering::Relaxed),
        log.len()
    );
    for digest in acknowledged.iter() {
        assert_eq!(
            records.get(&hex::encode(digest)),
            Some(&1),
            "an acknowledged signature's audit record"
        );
    }
    assert_eq!(audit_verify(&store).unwrap(), log.len() as u64);
    drop(store);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_signer-api"))
        .arg("--data-dir")
        .arg(&data)
        .args(["audit", "verify"])
        .env_remove("HPKI_PASSPHRASE")
        .env("HPKI_STORE", &db.url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains(&format!("audit log OK: {} records", log.len())),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A database that cannot be reached when `serve` starts is an error, never an empty store:
/// `serve` would initialise a new installation over the existing one (and a failed init removes
/// the key file that seals the CA keys).
#[test]
fn serve_does_not_start_on_an_unreachable_database() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let key = [7u8; 32];
    std::fs::write(data.join("master.key"), key).unwrap();
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_signer-api"))
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("HPKI_PASSPHRASE")
        .env(
            "HPKI_STORE",
            format!("postgres://hpki@127.0.0.1:{port}/hpki?connect_timeout=2"),
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("opening the PostgreSQL store: database unreachable"),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("demo signer token"));
    assert_eq!(std::fs::read(data.join("master.key")).unwrap(), key);
}
