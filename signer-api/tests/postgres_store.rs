//! `serve` on a PostgreSQL store (`HPKI_STORE=postgres://…`, issue 15): the real binary on port 0
//! with a fresh database; the data directory keeps only the key file and the CA certificates.

mod support;

#[path = "../../ca-core/tests/it/support/postgres.rs"]
mod pg;

use base64::Engine;
use ca_core::audit::AuditAction;
use ca_core::store::{PgStore, Store, audit_verify};

#[test]
fn serve_on_a_postgres_store_signs_and_audits_in_the_database() {
    let db = pg::TestDatabase::new();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (server, demo) = support::start_fresh(&data, &[("HPKI_STORE", db.url.as_str())]);

    // Token checks run on the blocking pool with PostgreSQL: a wrong token is still a 401
    // problem, not a dropped connection (the sync client panics on an async worker).
    // The demo token with its last character changed: a stored id, a wrong secret.
    let (head, last) = demo.signer.split_at(demo.signer.len() - 1);
    let wrong = format!("{head}{}", if last == "0" { "1" } else { "0" });
    let r = server.get("/v1/credentials", Some(&wrong));
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(r.problem(401).contains("token"), "{}", r.text());

    // A certificate read by serial runs on the blocking pool too: on an actix worker the sync
    // client would panic and the connection would drop without an answer.
    let serial = server.get("/v1/credentials", Some(&demo.signer)).json()[0]["serial"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = server.get(&format!("/v1/certificates/{serial}"), Some(&demo.ra));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["serial"], serial.as_str());
    // So does /health, which asks the database.
    let r = server.get("/health", None);
    assert_eq!((r.status, r.json()["status"].as_str()), (200, Some("ok")));

    let digest =
        base64::engine::general_purpose::STANDARD.encode(support::sha256(b"discharge summary"));
    let r = server.post_json(
        "/v1/signatures",
        Some(&demo.signer),
        &serde_json::json!({"credential": demo.credential, "digest": digest,
                            "digest_algorithm": "sha256", "purpose": "author"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let der = base64::engine::general_purpose::STANDARD
        .decode(r.json()["signature"].as_str().unwrap())
        .unwrap();
    {
        use x509_cert::der::Decode;
        cms::content_info::ContentInfo::from_der(&der).unwrap();
    }
    drop(server);

    // Everything is in the database: no sled store in the data directory, and the signature's
    // audit record closes a chain that verifies.
    assert!(!data.join("store").exists());
    let store = PgStore::open(&db.url).unwrap();
    let log = store.audit_log().unwrap();
    let last = log.last().unwrap();
    assert_eq!(last.event.action, AuditAction::Sign, "{last:?}");
    assert_eq!(last.event.object, format!("credential:{}", demo.credential));
    assert_eq!(audit_verify(&store).unwrap(), log.len() as u64);
    assert!(store.credential(&demo.credential).unwrap().is_some());

    // The admin subcommands find the same store through HPKI_STORE.
    let admin = |env: &str, args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_signer-api"))
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            .env_remove("HPKI_PASSPHRASE")
            .env("HPKI_STORE", env)
            .output()
            .unwrap()
    };
    let out = admin(&db.url, &["audit", "verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("audit log OK: {} records", log.len())),
        "{stdout}"
    );
    let out = admin(&db.url, &["audit", "list"]);
    let listed = String::from_utf8_lossy(&out.stdout).lines().count();
    assert_eq!(listed, log.len());
    // A store setting that names no backend is refused: exit 2, nothing opened.
    let out = admin("mysql://db/hpki", &["audit", "list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("HPKI_STORE: store: expected"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `store = "sled:DIR"`: sled as before, in `DIR` rather than the data directory's `store/`.
#[test]
fn a_sled_dir_store_lives_outside_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let elsewhere = dir.path().join("elsewhere");
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_signer-api"))
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            .env_remove("HPKI_PASSPHRASE")
            .env("HPKI_STORE", format!("sled:{}", elsewhere.display()))
            .output()
            .unwrap()
    };
    let out = run(&["init"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(elsewhere.join("conf").exists() || elsewhere.join("db").exists());
    assert!(!data.join("store").exists());
    assert!(data.join("master.key").exists());
    let out = run(&["audit", "verify"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("audit log OK"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
