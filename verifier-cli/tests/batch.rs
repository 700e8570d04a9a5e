//! `verify-batch` over 1,000 documents (issue 4): shows progress, shares the work between worker
//! threads, and prints a summary whose counts match what was planted in the folder.

use ca_core::key::SigningKey;
use ca_core::sign::{DigestAlgorithm, SignatureRequest, sign};
use ca_core::verify::decode_certificates;
use std::path::Path;
use std::process::Command;
use x509_cert::der::Decode;

const BIN: &str = env!("CARGO_BIN_EXE_verifier-cli");
const PKI: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../test-vectors/pki/");
/// The vectors' validation time (test-vectors/pki/manifest.toml).
const AT: &str = "2026-01-01T03:00:00Z";
const SIGNED_AT: u64 = 1_767_236_400; // 2026-01-01T03:00:00Z

struct Signer {
    key: SigningKey,
    certificate: Vec<u8>,
    chain: Vec<Vec<u8>>,
}

/// The vector certificate `file` and, among the vector keys, the one that matches it.
fn signer(file: &str) -> Signer {
    let pem = std::fs::read(format!("{PKI}{file}")).unwrap();
    let certificate = decode_certificates(&pem).unwrap().remove(0);
    let cert = x509_cert::Certificate::from_der(&certificate).unwrap();
    let spki = cert.tbs_certificate().subject_public_key_info().clone();
    let key = std::fs::read_dir(format!("{PKI}keys"))
        .unwrap()
        .filter_map(|e| SigningKey::from_pkcs8(&std::fs::read(e.unwrap().path()).ok()?).ok())
        .find(|k| *k.public_key_info() == spki)
        .unwrap_or_else(|| panic!("no vector key for {file}"));
    let ca = std::fs::read(format!("{PKI}ca/sign.pem")).unwrap();
    Signer {
        key,
        certificate,
        chain: decode_certificates(&ca).unwrap(),
    }
}

fn write_signed(s: &Signer, dir: &Path, name: &str, content: &[u8]) {
    let digest = DigestAlgorithm::for_key(&s.key).digest(content);
    let cms = sign(&SignatureRequest {
        key: &s.key,
        certificate: &s.certificate,
        chain: &s.chain,
        digest: &digest,
        signing_time: SIGNED_AT - 60,
        commitment_type: None,
        claimed_role: None,
        attached: None,
    })
    .unwrap();
    std::fs::write(dir.join(name), content).unwrap();
    std::fs::write(dir.join(format!("{name}.p7s")), cms).unwrap();
}

#[test]
fn a_thousand_documents_with_progress_workers_and_summary() {
    let dir = tempfile::tempdir().unwrap();
    let good = signer("rhp-sign.pem");
    let revoked = signer("rhp-sign-revoked.pem");
    // 990 good, 5 whose content was altered after signing, 3 by a revoked signer, 2 not CMS.
    for i in 0..995 {
        let name = format!("doc{i:04}.txt");
        write_signed(
            &good,
            dir.path(),
            &name,
            format!("lab result #{i}: normal\n").as_bytes(),
        );
        if i % 199 == 0 {
            std::fs::write(dir.path().join(&name), b"lab result: altered\n").unwrap();
        }
    }
    for i in 0..3 {
        let name = format!("revoked{i}.txt");
        write_signed(&revoked, dir.path(), &name, b"prescription\n");
    }
    for i in 0..2 {
        std::fs::write(dir.path().join(format!("junk{i}.p7s")), b"not a signature").unwrap();
    }

    let pki = |f: &str| format!("{PKI}{f}");
    let out = Command::new(BIN)
        .arg("verify-batch")
        .arg("--dir")
        .arg(dir.path())
        .args(["--trust-anchor", &pki("ca/root.pem")])
        .args(["--cert-pool", &pki("ca/sign.pem")])
        .args(["--crl", &pki("crl/sign.crl"), "--crl", &pki("crl/root.crl")])
        .args(["--at", AT, "--format", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "some are not valid: {stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["total"], 1000);
    assert_eq!(summary["valid"], 990, "{stderr}");
    assert_eq!(summary["not_valid"], 10);
    assert_eq!(summary["errors"], 0);
    let subs = |want: &str| {
        summary["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["report"]["sub_indication"] == want)
            .count()
    };
    assert_eq!(subs("HASH_FAILURE"), 5);
    assert_eq!(subs("REVOKED"), 3);
    assert_eq!(subs("FORMAT_FAILURE"), 2);

    // Progress on stderr (not a terminal here: one line per tenth, then the last).
    assert!(stderr.contains("verified 100/1000"), "{stderr}");
    assert!(stderr.contains("verified 1000/1000"), "{stderr}");

    // One worker per core by default, and every worker took a share of the documents.
    let cores = std::thread::available_parallelism().unwrap().get();
    assert_eq!(summary["workers"], cores);
    let shares: Vec<u64> = summary["verified_per_worker"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect();
    assert_eq!(shares.len(), cores);
    assert_eq!(shares.iter().sum::<u64>(), 1000);
    assert!(shares.iter().all(|n| *n > 0), "idle worker: {shares:?}");

    // The text summary, with two workers asked for explicitly.
    let out = Command::new(BIN)
        .arg("verify-batch")
        .arg("--dir")
        .arg(dir.path())
        .args(["--jobs", "2", "--trust-anchor", &pki("ca/root.pem")])
        .args(["--crl", &pki("crl/sign.crl"), "--crl", &pki("crl/root.crl")])
        .args(["--at", AT])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "1000 documents at 2026-01-01T03:00:00Z: 990 valid, 10 not valid, 0 could not be read"
        ),
        "{text}"
    );
    assert!(text.contains("  HASH_FAILURE: 5\n"), "{text}");
    assert!(text.contains("  REVOKED: 3\n"), "{text}");
    assert!(text.contains("  2 workers verified "), "{text}");
}
