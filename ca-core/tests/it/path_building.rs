//! Path building with backtracking (issue 11, Build 3): every candidate issuer is tried, so a
//! path through a self-issued certificate with a new key or through a cross certificate is found
//! behind a first candidate that fails. NIST PKITS runs (test-vectors/pkits, at its validation
//! time 2012-01-01T00:00:00Z) and CAs made here with generated P-256 keys.

use crate::support::x509::{Ca, Issue, path_policy};
use ca_core::key::{KeyAlgorithm, SigningKey};
use ca_core::verify::{
    Indication, KeyUsageRule, Outcome, Policy, Report, SubIndication, verify_bytes,
    verify_certificate,
};
use der::Decode;
use std::path::{Path, PathBuf};
use x509_cert::Certificate;
use x509_cert::ext::pkix::{KeyUsage, KeyUsages};

fn show(r: &Report) -> String {
    serde_json::to_string_pretty(r).unwrap()
}

/// The reason of the check that decided a failed report.
fn failed_reason(r: &Report) -> String {
    r.signatures[0]
        .checks
        .iter()
        .find(|c| c.outcome == Outcome::Failed)
        .map(|c| c.reason.clone())
        .unwrap_or_else(|| panic!("no failed check: {}", show(r)))
}

fn subjects(r: &Report) -> Vec<String> {
    r.signatures[0]
        .chain
        .iter()
        .map(|c| c.subject.clone())
        .collect()
}

// ---- PKITS ----

/// 2012-01-01T00:00:00Z, the validation time of the PKITS manifest.
const PKITS_AT: u64 = 1_325_376_000;

fn pkits_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-vectors/pkits")
}

fn manifest() -> toml::Value {
    toml::from_str(&std::fs::read_to_string(pkits_dir().join("manifest.toml")).unwrap()).unwrap()
}

fn run<'m>(manifest: &'m toml::Value, id: &str) -> &'m toml::Value {
    manifest["run"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"].as_str() == Some(id))
        .unwrap_or_else(|| panic!("no PKITS run {id}"))
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(pkits_dir().join(rel)).unwrap()
}

fn files(run: &toml::Value, key: &str) -> Vec<Vec<u8>> {
    run[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| read(f.as_str().unwrap()))
        .collect()
}

/// The run's policy as `verifier-cli verify-path` builds it (generic: key usage reported only).
fn pkits_policy(manifest: &toml::Value, run: &toml::Value) -> Policy {
    let mut p = Policy::new(PKITS_AT);
    p.trust_anchors = vec![read(manifest["trust_anchor"].as_str().unwrap())];
    p.cert_pool = files(run, "certs");
    p.crls = files(run, "crls");
    p.key_usage = Some(KeyUsageRule::ReportOnly);
    let flag = |k: &str| run.get(k).and_then(toml::Value::as_bool).unwrap_or(false);
    p.require_explicit_policy = flag("require_explicit_policy");
    p.inhibit_policy_mapping = flag("inhibit_policy_mapping");
    p.inhibit_any_policy = flag("inhibit_any_policy");
    if let Some(set) = run.get("initial_policies").and_then(toml::Value::as_array) {
        p.initial_policies = set
            .iter()
            .map(|o| o.as_str().unwrap().parse().unwrap())
            .collect();
    }
    p
}

/// The run's end entity through `verify_certificate`: the manifest's indication and
/// sub-indication.
fn pkits_run(manifest: &toml::Value, id: &str) -> Report {
    let run = run(manifest, id);
    let r = verify_certificate(
        &read(run["ee"].as_str().unwrap()),
        &pkits_policy(manifest, run),
    );
    let json = serde_json::to_value(&r).unwrap();
    let expected = |k: &str| run.get(k).and_then(toml::Value::as_str);
    assert_eq!(
        (json["indication"].as_str(), json["sub_indication"].as_str()),
        (expected("indication"), expected("sub_indication")),
        "PKITS {id} {}: {}",
        run["name"],
        show(&r)
    );
    r
}

/// The run's end entity through `verify_certificate` without the run's CRLs: path validation
/// alone.
fn pkits_path_only(manifest: &toml::Value, id: &str) -> Report {
    let run = run(manifest, id);
    let mut policy = pkits_policy(manifest, run);
    policy.crls.clear();
    let r = verify_certificate(&read(run["ee"].as_str().unwrap()), &policy);
    assert!(r.is_valid(), "PKITS {id} {}: {}", run["name"], show(&r));
    r
}

/// Valid paths through a self-issued certificate, each behind a first candidate issuer that
/// fails: 4.6.15 and 4.6.17 (the end entity's issuer name is that of a CA certified by the trust
/// anchor with its old key and of a self-issued certificate of its new key; pathLenConstraint
/// does not count self-issued certificates, RFC 5280 §6.1.4 (l)), 4.5.1 (key rollover: the end
/// entity signed with the old key, certified by the new), and the self-issued policy and
/// name-constraint runs 4.9.6, 4.11.7, 4.12.7, 4.12.9, 4.13.19. Without their CRLs: each run's
/// CRL is signed by the CA's other key, which takes the CRL issuer's own path (RFC 5280 §6.3.3
/// (f), issue 11 Build 2); with them the verdict is TRY_LATER until then.
#[test]
fn pkits_self_issued_paths_are_found() {
    let m = manifest();
    let r = pkits_path_only(&m, "4.6.15");
    let ca = "CN=pathLenConstraint0 CA,O=Test Certificates 2011,C=US";
    assert_eq!(
        subjects(&r),
        [
            "CN=Valid Self-Issued pathLenConstraint EE Certificate Test15,O=Test Certificates 2011,C=US",
            ca,
            ca,
            "CN=Trust Anchor,O=Test Certificates 2011,C=US",
        ],
        "{}",
        show(&r)
    );
    for (id, certificates) in [
        ("4.6.17", 6),
        ("4.5.1", 4),
        ("4.9.6", 4),
        ("4.11.7", 5),
        ("4.12.7", 5),
        ("4.12.9", 6),
        ("4.13.19", 4),
    ] {
        let r = pkits_path_only(&m, id);
        assert_eq!(
            r.signatures[0].chain.len(),
            certificates,
            "{id}: {}",
            show(&r)
        );
    }
}

/// With their CRLs, the runs of 4.2 (validity), 4.6 (basic constraints) and the self-issued
/// runs whose CRLs the engine processes get the manifest's verdict, a failure for its own
/// reason: a path is built even through an intermediate that is not a CA, expired or not yet
/// valid, and refused for it (certval's builder left such certificates out: "no path").
#[test]
fn pkits_runs_get_the_manifest_verdict_for_the_right_reason() {
    let m = manifest();
    let not_ca = "basicConstraints";
    let path_len = "pathLenConstraint";
    let policy = "no acceptable certificate policy";
    let runs = [
        ("4.2.1", "not yet valid"),
        ("4.2.2", "not yet valid"),
        ("4.2.4", ""),
        ("4.2.5", "expired"),
        ("4.2.6", "expired"),
        ("4.2.7", "expired"),
        ("4.2.8", ""),
        ("4.5.3", ""),
        ("4.5.8", not_ca),
        ("4.6.1", not_ca),
        ("4.6.2", not_ca),
        ("4.6.3", not_ca),
        ("4.6.4", ""),
        ("4.6.5", path_len),
        ("4.6.6", path_len),
        ("4.6.7", ""),
        ("4.6.8", ""),
        ("4.6.9", path_len),
        ("4.6.10", path_len),
        ("4.6.11", path_len),
        ("4.6.12", path_len),
        ("4.6.13", ""),
        ("4.6.14", ""),
        ("4.6.16", path_len),
        ("4.9.7", policy),
        ("4.9.8", policy),
        ("4.11.8", policy),
        ("4.12.8", policy),
        ("4.13.20", "name constraints violated"),
    ];
    for (id, reason) in runs {
        let r = pkits_run(&m, id);
        if !reason.is_empty() {
            assert!(failed_reason(&r).contains(reason), "{id}: {}", show(&r));
        }
    }
}

/// PKITS 4.2.3: the end entity's notBefore is the UTCTime 500101120100Z, 1950 (RFC 5280
/// §4.1.2.5.1: YY ≥ 50 is 19YY). Valid through verify-path and inside its signed message; the
/// validity it is judged by starts at 1970-01-01, der's first date.
#[test]
fn pkits_a_certificate_valid_since_1950_validates() {
    let m = manifest();
    let r = pkits_run(&m, "4.2.3");
    assert_eq!(r.signatures[0].chain.len(), 3, "{}", show(&r));

    let run = run(&m, "4.2.3");
    let (content, signature) = smime_parts(&read(run["smime"].as_str().unwrap()));
    let mut policy = pkits_policy(&m, run);
    // The message carries the path; the relying party supplies the anchor and the CRLs only.
    policy.cert_pool.clear();
    policy.key_usage = Some(KeyUsageRule::NonRepudiationOrDigitalSignature);
    let r = verify_bytes(&signature, Some(&content), &policy);
    assert_eq!(r.indication, Indication::TotalPassed, "{}", show(&r));
    assert_eq!(r.signatures[0].chain.len(), 3, "{}", show(&r));
    let signer = r.signatures[0].signer.as_ref().unwrap();
    assert!(
        signer.subject.contains("pre2000 UTC notBefore"),
        "{signer:?}"
    );
}

/// A signature over bytes other than the original TBSCertificate is refused, though its stand-in
/// decodes: the 1950 end entity with one octet of its signature changed no longer validates.
#[test]
fn pkits_a_1950_certificate_with_a_broken_signature_is_refused() {
    let m = manifest();
    let run = run(&m, "4.2.3");
    let mut ee = read(run["ee"].as_str().unwrap());
    let last = ee.len() - 1;
    ee[last] ^= 1;
    let r = verify_certificate(&ee, &pkits_policy(&m, run));
    assert_ne!(r.indication, Indication::TotalPassed, "{}", show(&r));
    assert_eq!(
        r.sub_indication,
        Some(SubIndication::CertificateChainGeneralFailure),
        "{}",
        show(&r)
    );
    assert!(
        failed_reason(&r)
            .contains("the signature of CN=Valid pre2000 UTC notBefore Date EE Certificate Test3"),
        "{}",
        failed_reason(&r)
    );
}

/// RFC 1847 multipart/signed: the first part (its MIME headers and body, CRLF line ends) and the
/// second's base64 signature.
fn smime_parts(eml: &[u8]) -> (Vec<u8>, Vec<u8>) {
    use base64::Engine as _;
    let text = std::str::from_utf8(eml).unwrap();
    let boundary = text
        .split("boundary=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap();
    let delimiter = format!("\n--{boundary}");
    let mut parts = text.split(delimiter.as_str()).skip(1);
    let first = parts.next().unwrap();
    // After the delimiter line's own line end.
    let content = &first[first.find('\n').unwrap() + 1..];
    let second = parts.next().unwrap();
    let body = second
        .split_once("\n\n")
        .or(second.split_once("\r\n\r\n"))
        .unwrap()
        .1;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let signature = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    (content.as_bytes().to_vec(), signature)
}

// ---- CAs made here ----

fn subject_of(der: &[u8]) -> String {
    let cert = Certificate::from_der(der).unwrap();
    cert.tbs_certificate().subject().to_string()
}

/// Two certificates for the issuing CA's name and key: the first in the pool, from the trust
/// anchor, lacks keyCertSign; the second, a cross certificate from a bridge CA the anchor
/// certified, is fine. The first path fails validation, the second is built and is valid.
#[test]
fn a_cross_certificate_is_tried_when_the_first_issuer_fails() {
    let root = Ca::new("Root");
    let root_der = root.self_signed();
    let (issuing, bridge, leaf) = (Ca::new("Issuing"), Ca::new("Bridge"), Ca::new("Leaf"));
    let unusable = root.issue(
        &issuing,
        Issue {
            key_usage: KeyUsage(KeyUsages::CRLSign.into()),
            ..Issue::ca(2)
        },
    );
    let cross = bridge.issue(&issuing, Issue::ca(3));
    let bridge_cert = root.issue(&bridge, Issue::ca(4));
    let target = issuing.issue(&leaf, Issue::leaf(5));

    // Alone, the first candidate gives its own failure.
    let r = verify_certificate(&target, &path_policy(&root_der, vec![unusable.clone()]));
    assert_eq!(
        r.sub_indication,
        Some(SubIndication::ChainConstraintsFailure),
        "{}",
        show(&r)
    );
    assert!(failed_reason(&r).contains("keyCertSign"), "{}", show(&r));

    let pool = vec![unusable, cross.clone(), bridge_cert.clone()];
    let r = verify_certificate(&target, &path_policy(&root_der, pool));
    assert!(r.is_valid(), "{}", show(&r));
    assert_eq!(
        subjects(&r),
        [
            subject_of(&target),
            subject_of(&cross),
            subject_of(&bridge_cert),
            subject_of(&root_der),
        ]
    );
}

/// A key rollover: the end entity is signed with the CA's new key. The pool holds, first, a
/// certificate of the new key from the trust anchor that lacks keyCertSign, then the self-issued
/// certificate of the new key signed with the old key, and the anchor's certificate of the old
/// key. The first path fails; the builder backtracks and goes through the self-issued
/// certificate to the old key.
#[test]
fn a_self_issued_certificate_with_a_new_key_is_found_behind_a_failing_issuer() {
    let root = Ca::new("Root");
    let root_der = root.self_signed();
    let old = Ca::new("Rolling");
    let new = Ca::with_key("Rolling", SigningKey::generate(KeyAlgorithm::P256).unwrap());
    let leaf = Ca::new("Leaf");
    let unusable = root.issue(
        &new,
        Issue {
            key_usage: KeyUsage(KeyUsages::CRLSign.into()),
            ..Issue::ca(2)
        },
    );
    let old_cert = root.issue(&old, Issue::ca(3));
    let new_with_old = old.issue(&new, Issue::ca(4));
    let target = new.issue(&leaf, Issue::leaf(5));

    let r = verify_certificate(&target, &path_policy(&root_der, vec![unusable.clone()]));
    assert_eq!(
        r.sub_indication,
        Some(SubIndication::ChainConstraintsFailure),
        "{}",
        show(&r)
    );
    assert!(failed_reason(&r).contains("keyCertSign"), "{}", show(&r));

    let r = verify_certificate(
        &target,
        &path_policy(
            &root_der,
            vec![unusable, new_with_old.clone(), old_cert.clone()],
        ),
    );
    assert!(r.is_valid(), "{}", show(&r));
    assert_eq!(
        subjects(&r),
        [
            subject_of(&target),
            subject_of(&new_with_old),
            subject_of(&old_cert),
            subject_of(&root_der),
        ]
    );
}

/// Certificates for the issuing CA's name and key from the trust anchor, none with keyCertSign:
/// each is a candidate path that fails. 64 are all tried and the verdict is their failure; with
/// a 65th the search stops at the budget: INDETERMINATE / CERTIFICATE_CHAIN_GENERAL_FAILURE
/// naming the budget and the failure of the paths tried.
#[test]
fn the_search_stops_after_64_candidate_paths() {
    let root = Ca::new("Root");
    let root_der = root.self_signed();
    let (issuing, leaf) = (Ca::new("Issuing"), Ca::new("Leaf"));
    let pool: Vec<Vec<u8>> = (0..65)
        .map(|i| {
            root.issue(
                &issuing,
                Issue {
                    key_usage: KeyUsage(KeyUsages::CRLSign.into()),
                    ..Issue::ca(100 + i)
                },
            )
        })
        .collect();
    let target = issuing.issue(&leaf, Issue::leaf(5));

    let r = verify_certificate(&target, &path_policy(&root_der, pool[..64].to_vec()));
    assert_eq!(
        r.sub_indication,
        Some(SubIndication::ChainConstraintsFailure),
        "{}",
        show(&r)
    );
    assert!(failed_reason(&r).contains("keyCertSign"), "{}", show(&r));

    let r = verify_certificate(&target, &path_policy(&root_der, pool));
    assert_eq!(r.indication, Indication::Indeterminate, "{}", show(&r));
    assert_eq!(
        r.sub_indication,
        Some(SubIndication::CertificateChainGeneralFailure),
        "{}",
        show(&r)
    );
    let reason = failed_reason(&r);
    assert!(
        reason.contains("work budget: stopped after 64 candidate paths")
            && reason.contains("keyCertSign"),
        "{reason}"
    );
}
