//! ECDSA P-521 (issue 4; ring has none, RustCrypto `p521` verifies): an OpenSSL-made P-521 chain
//! signs CMS with `openssl cms -sign`; the engine verifies the signature and, through certval, the
//! P-521 certificate signatures of the path. Tampering is caught.

use crate::support::openssl;
use ca_core::verify::{Policy, SubIndication, decode_certificates, verify_bytes};

const DOC: &[u8] = b"Radiology report: no acute findings.\n";

#[test]
fn openssl_p521_cms_verifies_with_its_p521_chain() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("doc.txt"), DOC).unwrap();
    openssl::p521_chain(d, "sha512");
    for (detached, out) in [(false, "attached.p7s"), (true, "detached.p7s")] {
        let mut args = vec![
            "cms", "-sign", "-binary", "-cades", "-md", "sha512", "-outform", "DER", "-in",
            "doc.txt", "-signer", "ee.pem", "-inkey", "ee.key", "-out", out,
        ];
        if !detached {
            args.push("-nodetach");
        }
        openssl::openssl(d, &args);
    }

    let root = decode_certificates(&std::fs::read(d.join("root.pem")).unwrap()).unwrap();
    let mut policy = Policy::new(openssl::now() + 60);
    policy.trust_anchors = root;
    policy.require_cades = true;
    let show = |r: &ca_core::verify::Report| serde_json::to_string_pretty(r).unwrap();

    let attached = std::fs::read(d.join("attached.p7s")).unwrap();
    let r = verify_bytes(&attached, None, &policy);
    assert!(r.is_valid(), "{}", show(&r));
    let checks = &r.signatures[0].checks;
    let check = |name: &str| checks.iter().find(|c| c.name == name).unwrap();
    assert!(
        check("algorithm-consistency")
            .reason
            .contains("SHA-512 with ECDSA with SHA-512"),
        "{}",
        show(&r)
    );
    assert!(
        check("certificate-path").reason.contains("2 certificates"),
        "{}",
        show(&r)
    );
    assert_eq!(r.signatures[0].chain.len(), 2);

    let detached = std::fs::read(d.join("detached.p7s")).unwrap();
    assert!(verify_bytes(&detached, Some(DOC), &policy).is_valid());
    let r = verify_bytes(&detached, Some(b"Radiology report: mass found.\n"), &policy);
    assert_eq!(
        r.sub_indication,
        Some(SubIndication::HashFailure),
        "{}",
        show(&r)
    );

    // The signature value is the last field of the DER: flip a bit of its `s`.
    let mut bad = attached.clone();
    let n = bad.len();
    bad[n - 3] ^= 1;
    let r = verify_bytes(&bad, None, &policy);
    assert_eq!(
        r.sub_indication,
        Some(SubIndication::SigCryptoFailure),
        "{}",
        show(&r)
    );
}
