//! Interop both ways (issue 4): signatures from `ca_core::sign` and from `openssl cms -sign`
//! (with and without `-cades`, attached and detached, RSA and ECDSA) verify with the engine,
//! with the full path through certval; tampering is caught.

use crate::support::sign_fixture::{self, ALGORITHMS, SIGN_AT, pki, signer};
use crate::support::{assert_names_no_flag, openssl};
use ca_core::sign::{DigestAlgorithm, SignatureRequest, sign};
use ca_core::verify::{Indication, Policy, SubIndication, verify_bytes};
use std::process::Command;

const DOC: &[u8] = b"Rx: amoxicillin 250 mg, three times a day for 7 days\n";

fn policy() -> Policy {
    let mut p = Policy::new(SIGN_AT);
    p.trust_anchors = vec![pki().root.clone()];
    p
}

fn ours(alg: &str, attached: bool) -> Vec<u8> {
    let s = signer(alg);
    let digest = DigestAlgorithm::for_key(&s.key).digest(DOC);
    sign(&SignatureRequest {
        signing_time: SIGN_AT - 60,
        commitment_type: Some("1.2.840.10065.1.12.1.1".parse().unwrap()),
        attached: attached.then_some(DOC),
        ..sign_fixture::request(s, &digest)
    })
    .unwrap()
}

fn show(r: &ca_core::verify::Report) -> String {
    serde_json::to_string_pretty(r).unwrap()
}

#[test]
fn our_signatures_verify_attached_and_detached_for_every_algorithm() {
    for alg in ALGORITHMS {
        let mut p = policy();
        p.require_cades = true;
        let attached = verify_bytes(&ours(alg, true), None, &p);
        assert!(attached.is_valid(), "{alg}: {}", show(&attached));
        let sig = &attached.signatures[0];
        assert_eq!(sig.purpose.as_deref(), Some("1.2.840.10065.1.12.1.1"));
        assert!(sig.claimed_signing_time.is_some());
        assert_eq!(sig.hc_roles[0].text.as_deref(), Some("Medical Doctor"));
        let detached = verify_bytes(&ours(alg, false), Some(DOC), &p);
        assert!(detached.is_valid(), "{alg}: {}", show(&detached));
    }
}

#[test]
fn tampering_is_caught() {
    let p = policy();
    let r = verify_bytes(&ours("p256", false), Some(b"Rx: amoxicillin 500 mg"), &p);
    assert_eq!(
        r.sub_indication,
        Some(SubIndication::HashFailure),
        "{}",
        show(&r)
    );
    // Flip a byte of the signature value (the last bytes of the DER are the signature).
    let mut bad = ours("rsa", true);
    let n = bad.len();
    bad[n - 5] ^= 1;
    let r = verify_bytes(&bad, None, &p);
    assert_eq!(
        r.sub_indication,
        Some(SubIndication::SigCryptoFailure),
        "{}",
        show(&r)
    );
    // Detached signature without its content.
    let r = verify_bytes(&ours("p256", false), None, &p);
    assert_eq!(r.indication, Indication::Indeterminate);
}

#[test]
fn wrong_trust_anchor_finds_no_chain() {
    let mut p = policy();
    p.trust_anchors = vec![
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../test-vectors/jp-hpki/mhlw-root-ca-v2.der"
        ))
        .unwrap(),
    ];
    let r = verify_bytes(&ours("p256", true), None, &p);
    assert_eq!(
        r.sub_indication,
        Some(SubIndication::NoCertificateChainFound),
        "{}",
        show(&r)
    );
    // The signature itself is fine: --no-chain passes.
    p.check_chain = false;
    assert!(verify_bytes(&ours("p256", true), None, &p).is_valid());
}

fn pem(label: &str, der: &[u8]) -> String {
    der::pem::encode_string(label, der::pem::LineEnding::LF, der).unwrap()
}

/// Just after the signingTime OpenSSL writes.
fn openssl_now() -> u64 {
    openssl::now() + 1
}

/// `openssl cms -sign` with the fixture's RSA and P-256 signers.
#[test]
fn openssl_signatures_verify() {
    let dir = tempfile::tempdir().unwrap();
    let doc = dir.path().join("doc.txt");
    std::fs::write(&doc, DOC).unwrap();
    for alg in ["rsa", "p256"] {
        let s = signer(alg);
        let key = dir.path().join(format!("{alg}.key"));
        let cert = dir.path().join(format!("{alg}.pem"));
        let chain = dir.path().join(format!("{alg}-chain.pem"));
        std::fs::write(
            &key,
            pem("PRIVATE KEY", &s.key.to_pkcs8().expect("software key")),
        )
        .unwrap();
        std::fs::write(&cert, pem("CERTIFICATE", &s.certificate)).unwrap();
        let chain_pem: String = s.chain.iter().map(|c| pem("CERTIFICATE", c)).collect();
        std::fs::write(&chain, chain_pem).unwrap();
        for cades in [false, true] {
            for detached in [false, true] {
                let out = dir.path().join(format!("{alg}-{cades}-{detached}.p7s"));
                let mut cmd = Command::new("openssl");
                cmd.args([
                    "cms", "-sign", "-binary", "-outform", "DER", "-md", "sha256",
                ])
                .arg("-in")
                .arg(&doc)
                .arg("-signer")
                .arg(&cert)
                .arg("-inkey")
                .arg(&key)
                .arg("-certfile")
                .arg(&chain)
                .arg("-out")
                .arg(&out);
                if cades {
                    cmd.arg("-cades");
                }
                if !detached {
                    cmd.arg("-nodetach");
                }
                let status = cmd.status().unwrap();
                assert!(
                    status.success(),
                    "openssl cms -sign {alg} cades={cades} detached={detached}"
                );
                let cms = std::fs::read(&out).unwrap();
                let content = detached.then_some(DOC);
                // OpenSSL claims the real clock as signingTime: at the fixture's time, the
                // signature claims not to exist yet (issue 11 item 7).
                let early = verify_bytes(&cms, content, &policy());
                assert_eq!(
                    early.sub_indication,
                    Some(SubIndication::NoPoe),
                    "{}",
                    show(&early)
                );
                let mut p = policy();
                p.validation_time = openssl_now();
                p.require_cades = cades;
                let r = verify_bytes(&cms, content, &p);
                assert!(
                    r.is_valid(),
                    "{alg} cades={cades} detached={detached}: {}",
                    show(&r)
                );
                let ess = r.signatures[0]
                    .checks
                    .iter()
                    .find(|c| c.name == "signing-certificate")
                    .unwrap();
                assert_eq!(
                    ess.outcome,
                    if cades {
                        ca_core::verify::Outcome::Passed
                    } else {
                        ca_core::verify::Outcome::Warning
                    },
                    "{}",
                    show(&r)
                );
                // Tampered content is caught.
                if detached {
                    let r = verify_bytes(&cms, Some(b"tampered"), &p);
                    assert_eq!(r.sub_indication, Some(SubIndication::HashFailure));
                }
                // Without -cades, a policy requiring CAdES refuses it.
                if !cades {
                    let mut strict = policy();
                    strict.validation_time = p.validation_time;
                    strict.require_cades = true;
                    let r = verify_bytes(&cms, content, &strict);
                    assert_eq!(r.sub_indication, Some(SubIndication::FormatFailure));
                    let failure = r.signatures[0].first_failure().unwrap();
                    assert!(
                        failure.reason.ends_with("(the policy requires CAdES)"),
                        "{}",
                        failure.reason
                    );
                    assert_names_no_flag(&r);
                }
            }
        }
    }
}
