//! OpenSSL, an independent CMS implementation, verifies what `sign` produces: detached and
//! attached, P-256, P-384 and RSA, with the chain taken from the CMS and only the root trusted.
//! OpenSSL 3.0 cannot verify Ed25519 CMS with signed attributes (DESIGN.md §3): for Ed25519 it
//! parses the structure and our own verifier checks the signature.

use crate::support::sign_fixture::{self, NOW, SIGN_AT, Signer, signer};
use ca_core::oid;
use ca_core::sign::{SignatureRequest, sign};
use std::path::Path;
use std::process::Command;

const DOC: &[u8] = b"Prescription: amoxicillin 250 mg, three times a day for 7 days.\n";

fn openssl(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("these tests need the openssl CLI on PATH (apt-get install openssl): {e}")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn request<'a>(
    s: &'a Signer,
    digest: &'a [u8],
    attached: Option<&'a [u8]>,
) -> SignatureRequest<'a> {
    SignatureRequest {
        commitment_type: Some(oid::ID_CTI.push_arc(1).unwrap()),
        claimed_role: Some("attending physician"),
        attached,
        ..sign_fixture::request(s, digest)
    }
}

/// `openssl cms -verify` with only the root trusted, at SIGN_AT. No `-purpose` is needed: OpenSSL's
/// default smimesign purpose accepts a nonRepudiation-only keyUsage and no EKU.
fn openssl_verify(dir: &Path, sig: &str, content: Option<&str>) -> (bool, String) {
    openssl_verify_at(dir, sig, content, SIGN_AT)
}

/// [`openssl_verify`] at the time `at`.
fn openssl_verify_at(dir: &Path, sig: &str, content: Option<&str>, at: u64) -> (bool, String) {
    let p = |f: &str| dir.join(f).to_str().unwrap().to_owned();
    let at = at.to_string();
    let (sig, root) = (p(sig), p("root.pem"));
    let mut args = vec![
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        &sig,
        "-CAfile",
        &root,
        "-no-CApath",
        "-attime",
        &at,
        "-out",
        "/dev/null",
    ];
    let content = content.map(p);
    if let Some(c) = &content {
        args.extend(["-content", c]);
    }
    openssl(&args)
}

fn check_with_openssl(alg: &str) {
    let s = signer(alg);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("root.pem"),
        sign_fixture::pem(&sign_fixture::pki().root),
    )
    .unwrap();
    std::fs::write(dir.path().join("doc"), DOC).unwrap();
    let mut tampered = DOC.to_vec();
    tampered[15] ^= 1;
    std::fs::write(dir.path().join("tampered"), &tampered).unwrap();
    let digest = sign_fixture::digest_for(&s.key, DOC);

    let detached = sign(&request(s, &digest, None)).unwrap();
    std::fs::write(dir.path().join("detached.der"), &detached).unwrap();
    let (ok, text) = openssl_verify(dir.path(), "detached.der", Some("doc"));
    assert!(
        ok && text.contains("Verification successful"),
        "{alg} detached: {text}"
    );
    let (ok, text) = openssl_verify(dir.path(), "detached.der", Some("tampered"));
    assert!(
        !ok && text.contains("content verify error"),
        "{alg}: OpenSSL accepted a detached signature over other content: {text}"
    );

    let attached = sign(&request(s, &digest, Some(DOC))).unwrap();
    std::fs::write(dir.path().join("attached.der"), &attached).unwrap();
    let (ok, text) = openssl_verify(dir.path(), "attached.der", None);
    assert!(
        ok && text.contains("Verification successful"),
        "{alg} attached: {text}"
    );
    // Flip one octet of the encapsulated content inside the CMS.
    let at = attached
        .windows(DOC.len())
        .position(|w| w == DOC)
        .expect("the attached content is encapsulated verbatim");
    let mut bad = attached.clone();
    bad[at + 15] ^= 1;
    std::fs::write(dir.path().join("attached-bad.der"), &bad).unwrap();
    let (ok, text) = openssl_verify(dir.path(), "attached-bad.der", None);
    assert!(
        !ok && text.contains("content verify error"),
        "{alg}: OpenSSL accepted tampered encapsulated content: {text}"
    );

    // Not yet valid: the certificates were issued at NOW, so a check before then must fail,
    // which shows -attime (and with it the path check) is in effect.
    let (ok, text) = openssl_verify_at(dir.path(), "attached.der", None, NOW - 86_400);
    assert!(
        !ok && text.contains("not yet valid"),
        "{alg}: verified before the certificates were valid: {text}"
    );
}

#[test]
fn openssl_verifies_p256_detached_and_attached() {
    check_with_openssl("p256");
}

#[test]
fn openssl_verifies_p384_detached_and_attached() {
    check_with_openssl("p384");
}

#[test]
fn openssl_verifies_rsa_detached_and_attached() {
    check_with_openssl("rsa");
}

#[test]
fn openssl_refuses_an_untrusted_root() {
    // The same signature checked against a different trust anchor (the signer's own certificate
    // is no CA): proves the CAfile matters, so the successes above are path validations.
    let s = signer("p256");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("root.pem"),
        sign_fixture::pem(&s.certificate),
    )
    .unwrap();
    std::fs::write(dir.path().join("doc"), DOC).unwrap();
    let digest = sign_fixture::digest_for(&s.key, DOC);
    std::fs::write(
        dir.path().join("sig.der"),
        sign(&request(s, &digest, None)).unwrap(),
    )
    .unwrap();
    let (ok, text) = openssl_verify(dir.path(), "sig.der", Some("doc"));
    assert!(!ok, "{text}");
}

/// OpenSSL's CMS printer names our attribute types and commitment type: an independent check of
/// the OIDs, and for Ed25519 a parse by a second implementation.
fn openssl_print(der: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sig.der");
    std::fs::write(&path, der).unwrap();
    let (ok, text) = openssl(&[
        "cms",
        "-cmsout",
        "-print",
        "-inform",
        "DER",
        "-in",
        path.to_str().unwrap(),
    ]);
    assert!(ok, "openssl cannot parse the CMS: {text}");
    text
}

#[test]
fn openssl_names_the_cades_attributes() {
    let s = signer("p256");
    let digest = sign_fixture::digest_for(&s.key, DOC);
    let text = openssl_print(&sign(&request(s, &digest, None)).unwrap());
    for name in [
        "contentType",
        "messageDigest",
        "signingTime",
        "id-smime-aa-signingCertificateV2 (1.2.840.113549.1.9.16.2.47)",
        "id-smime-aa-ets-commitmentType (1.2.840.113549.1.9.16.2.16)",
        // The commitment type itself, id-cti 1, inside the attribute value.
        "id-smime-cti-ets-proofOfOrigin",
        "ecdsa-with-SHA256",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
}

#[test]
fn ed25519_verifies_with_our_verifier_and_openssl_parses_it() {
    let s = signer("ed25519");
    let digest = sign_fixture::digest_for(&s.key, DOC);
    assert_eq!(digest.len(), 64);
    for attached in [None, Some(DOC)] {
        let der = sign(&request(s, &digest, attached)).unwrap();
        let sd = sign_fixture::signed_data(&der);
        let si = sign_fixture::only_signer(&sd);
        assert_eq!(si.digest_alg.oid, oid::ID_SHA_512);
        assert_eq!(si.signature_algorithm.oid, oid::ID_ED_25519);
        assert!(si.signature_algorithm.parameters.is_none());
        assert_eq!(
            sd.digest_algorithms
                .iter()
                .map(|a| a.oid)
                .collect::<Vec<_>>(),
            [oid::ID_SHA_512]
        );
        sign_fixture::verify_signer_info(si, &s.certificate).unwrap();
        // Drop one signed attribute: the signature must no longer verify.
        let mut bad = si.clone();
        let mut attrs = bad.signed_attrs.take().unwrap().into_vec();
        attrs.retain(|a| a.oid != oid::ID_SIGNING_TIME);
        bad.signed_attrs = Some(attrs.try_into().unwrap());
        assert!(sign_fixture::verify_signer_info(&bad, &s.certificate).is_err());

        let text = openssl_print(&der);
        assert!(text.contains("ED25519"), "{text}");
        assert!(text.contains("sha512"), "{text}");
    }
}
