//! NIST PKITS 4.1.4-4.1.6 (DSA-1024 with SHA-1; 4.1.5's CA and end entity inherit their DSA
//! parameters, RFC 5280 §6.1.4(f)) at PKITS' validation time 2012-01-01T00:00:00Z, before the
//! algorithm catalogue's sunsets: the path (as `verify-path`) and the S/MIME signature (as
//! `verify --cms`) are valid; the same at 2026 are CRYPTO_CONSTRAINTS_FAILURE_NO_POE naming
//! the algorithm and its sunset; a bad DSA signature stays a signature failure.

use ca_core::verify::{
    Indication, Policy, Report, SubIndication, ValidationPolicy, verify_bytes, verify_certificate,
};
use std::path::PathBuf;

/// 2012-01-01T00:00:00Z (PKITS' validation time, test-vectors/pkits/manifest.toml).
const PKITS_AT: u64 = 1_325_376_000;
/// 2026-01-01T00:00:00Z: after the SHA-1 and DSA-1024 sunsets, before the certificates expire.
const TODAY: u64 = 1_767_225_600;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../test-vectors/pkits")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn show(r: &Report) -> String {
    serde_json::to_string_pretty(r).unwrap()
}

/// The PKITS inputs of a run under the generic validation policy (RFC 5280 + RFC 5652 only).
fn policy(at: u64, certs: &[&str], crls: &[&str]) -> Policy {
    let mut p = Policy::new(at);
    p.trust_anchors = vec![read("certs/TrustAnchorRootCertificate.crt")];
    p.cert_pool = certs.iter().map(|c| read(&format!("certs/{c}"))).collect();
    p.crls = crls.iter().map(|c| read(&format!("crls/{c}"))).collect();
    p.validation_policy = ValidationPolicy::Generic;
    p
}

/// A PKITS multipart/signed message: (the signed first body part, CRLF line ends; the CMS).
fn smime(name: &str) -> (Vec<u8>, Vec<u8>) {
    use base64::Engine as _;
    let text = String::from_utf8(read(&format!("smime/{name}"))).unwrap();
    let text = text.replace("\r\n", "\n");
    let boundary = text
        .split("boundary=\"")
        .nth(1)
        .and_then(|b| b.split('"').next())
        .unwrap();
    let delimiter = format!("\n--{boundary}\n");
    let mut parts = text.split(&delimiter).skip(1);
    let content = parts.next().unwrap().replace('\n', "\r\n");
    let signature = parts.next().unwrap();
    let body = signature.split("\n\n").nth(1).unwrap();
    let b64: String = body.lines().take_while(|l| !l.starts_with("--")).collect();
    let cms = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .unwrap();
    (content.into_bytes(), cms)
}

struct Run {
    ee: &'static str,
    smime: &'static str,
    certs: &'static [&'static str],
    crls: &'static [&'static str],
}

const DSA_4: Run = Run {
    ee: "ValidDSASignaturesTest4EE.crt",
    smime: "SignedValidDSASignaturesTest4.eml",
    certs: &["DSACACert.crt"],
    crls: &["DSACACRL.crl", "TrustAnchorRootCRL.crl"],
};

const DSA_INHERITED_5: Run = Run {
    ee: "ValidDSAParameterInheritanceTest5EE.crt",
    smime: "SignedValidDSAParameterInheritanceTest5.eml",
    certs: &["DSACACert.crt", "DSAParametersInheritedCACert.crt"],
    crls: &[
        "DSACACRL.crl",
        "DSAParametersInheritedCACRL.crl",
        "TrustAnchorRootCRL.crl",
    ],
};

fn both(run: &Run, at: u64) -> [Report; 2] {
    let p = policy(at, run.certs, run.crls);
    // verify-path: keyUsage reported, not checked (Policy::key_usage None).
    let path = p.clone();
    let (content, cms) = smime(run.smime);
    [
        verify_certificate(&read(&format!("certs/{}", run.ee)), &path),
        verify_bytes(&cms, Some(&content), &p),
    ]
}

#[test]
fn pkits_4_1_4_and_4_1_5_dsa_paths_and_signatures_are_valid_in_2012() {
    for run in [&DSA_4, &DSA_INHERITED_5] {
        for r in both(run, PKITS_AT) {
            assert!(r.is_valid(), "{}: {}", run.ee, show(&r));
            let revocation = r.signatures[0]
                .checks
                .iter()
                .find(|c| c.name == "revocation")
                .unwrap();
            assert!(revocation.reason.contains("CRLs supplied"), "{}", show(&r));
        }
    }
}

/// In 2026 the same DSA-1024 / SHA-1 paths verify cryptographically but are past the
/// catalogue's sunsets: the certificate path check names the certificate, algorithm and date.
#[test]
fn pkits_dsa_runs_are_crypto_constraints_failures_today() {
    for run in [&DSA_4, &DSA_INHERITED_5] {
        let [path, cms] = both(run, TODAY);
        for r in [&path, &cms] {
            assert_eq!(r.indication, Indication::Indeterminate, "{}", show(r));
            assert_eq!(
                r.sub_indication,
                Some(SubIndication::CryptoConstraintsFailureNoPoe),
                "{}",
                show(r)
            );
        }
        let failed = |r: &Report| {
            r.signatures[0]
                .checks
                .iter()
                .find(|c| c.sub_indication.is_some())
                .map(|c| (c.name, c.reason.clone()))
                .unwrap()
        };
        let (name, reason) = failed(&path);
        assert_eq!(name, "certificate-path");
        assert!(
            reason.contains("verifies, but SHA-1 is not acceptable from 2014-01-01 on"),
            "{reason}"
        );
        assert!(reason.contains("Test Certificates 2011"), "{reason}");
        // The CMS signature itself (DSA with SHA-1) is refused first.
        let (name, reason) = failed(&cms);
        assert_eq!(name, "algorithms");
        assert!(
            reason.contains("the signature verifies, but SHA-1 is not acceptable from 2014-01-01"),
            "{reason}"
        );
    }
}

/// 4.1.6: the DSA CA's signature on the end entity's certificate is bad. Not valid in 2012 nor
/// today, and never a constraints failure for that certificate (the catalogue only judges
/// signatures that verify). Today the message's own DSA/SHA-1 signature, which does verify, is
/// refused by the catalogue before the path is looked at (the first failure decides).
#[test]
fn pkits_4_1_6_bad_dsa_certificate_signature_is_not_valid() {
    let run = Run {
        ee: "InvalidDSASignatureTest6EE.crt",
        smime: "SignedInvalidDSASignatureTest6.eml",
        certs: &["DSACACert.crt"],
        crls: &["DSACACRL.crl", "TrustAnchorRootCRL.crl"],
    };
    let [path_then, cms_then] = both(&run, PKITS_AT);
    let [path_now, cms_now] = both(&run, TODAY);
    for r in [&path_then, &cms_then, &path_now] {
        assert!(!r.is_valid(), "{}", show(r));
        assert_ne!(
            r.sub_indication,
            Some(SubIndication::CryptoConstraintsFailureNoPoe),
            "{}",
            show(r)
        );
        let path = r.signatures[0]
            .checks
            .iter()
            .find(|c| c.name == "certificate-path")
            .unwrap();
        assert!(path.sub_indication.is_some(), "{}", show(r));
    }
    let decisive = cms_now.signatures[0].first_failure().unwrap();
    assert_eq!(decisive.name, "algorithms", "{}", show(&cms_now));
    assert_eq!(
        cms_now.sub_indication,
        Some(SubIndication::CryptoConstraintsFailureNoPoe)
    );
}

/// 4.1.5 under a catalogue that retires only DSA below 2048 bits: the key sizes of the two
/// CAs whose keys inherit their parameters are those of the inherited p (1024 bits), for the
/// path and for the message's signer alike.
#[test]
fn inherited_dsa_parameters_give_the_key_its_size() {
    let catalogue = ca_core::verify::AlgorithmCatalogue::from_toml(
        "test.toml",
        "title = \"DSA only\"\n[[key]]\nfamily = \"dsa\"\nbelow_bits = 2048\n\
         sunset = 2014-01-01\nsource = \"test\"\n",
    )
    .unwrap();
    let run = &DSA_INHERITED_5;
    let mut p = policy(TODAY, run.certs, run.crls);
    p.algorithms = std::sync::Arc::new(catalogue);
    // verify-path: keyUsage reported, not checked (Policy::key_usage None).
    let path = p.clone();
    let (content, cms) = smime(run.smime);
    let path = verify_certificate(&read(&format!("certs/{}", run.ee)), &path);
    let cms = verify_bytes(&cms, Some(&content), &p);
    for (r, check) in [(&path, "certificate-path"), (&cms, "algorithms")] {
        let failure = r.signatures[0].first_failure().unwrap();
        assert_eq!(failure.name, check, "{}", show(r));
        assert!(
            failure
                .reason
                .contains("DSA 1024 (below 2048 bits) is not acceptable from 2014-01-01 on"),
            "{}",
            failure.reason
        );
    }
    assert!(
        path.signatures[0]
            .first_failure()
            .unwrap()
            .reason
            .contains("Valid DSA Parameter Inheritance EE Certificate Test5"),
        "{}",
        show(&path)
    );
}
