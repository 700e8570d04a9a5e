//! Issue 11 item 6: BER input. `openssl cms -sign -stream` writes indefinite lengths and a
//! constructed eContent OCTET STRING (4096-octet segments); the message digest is over the
//! content octets alone, and the signed attributes are checked over their DER encoding (RFC 5652
//! §5.4), attached, detached and large content alike.

use crate::support::openssl;
use crate::support::sign_fixture::{pki, signer};
use ca_core::verify::{Indication, Outcome, Policy, Report, SubIndication, verify_bytes};
use std::path::Path;
use std::process::Command;

const DOC: &[u8] = b"Rx: amoxicillin 250 mg, three times a day for 7 days\n";

fn pem(label: &str, der: &[u8]) -> String {
    der::pem::encode_string(label, der::pem::LineEnding::LF, der).unwrap()
}

/// `openssl cms -sign -stream` (attached, BER) of `content` by the fixture's P-256 signer.
fn openssl_stream(dir: &Path, content: &[u8]) -> Vec<u8> {
    let s = signer("p256");
    let (key, cert, doc, out) = (
        dir.join("k.pem"),
        dir.join("c.pem"),
        dir.join("doc"),
        dir.join("s.p7m"),
    );
    std::fs::write(
        &key,
        pem("PRIVATE KEY", &s.key.to_pkcs8().expect("software key")),
    )
    .unwrap();
    std::fs::write(&cert, pem("CERTIFICATE", &s.certificate)).unwrap();
    std::fs::write(&doc, content).unwrap();
    let chain: String = s.chain.iter().map(|c| pem("CERTIFICATE", c)).collect();
    std::fs::write(dir.join("chain.pem"), chain).unwrap();
    let status = Command::new("openssl")
        .args(["cms", "-sign", "-stream", "-binary", "-nodetach"])
        .args(["-outform", "DER", "-md", "sha256", "-signer"])
        .arg(&cert)
        .arg("-inkey")
        .arg(&key)
        .arg("-certfile")
        .arg(dir.join("chain.pem"))
        .arg("-in")
        .arg(&doc)
        .arg("-out")
        .arg(&out)
        .status()
        .expect("the openssl CLI is required by these tests");
    assert!(status.success());
    let ber = std::fs::read(&out).unwrap();
    // BER, as OpenSSL streams it: indefinite lengths (ContentInfo `30 80`) and a constructed
    // eContent (`A0 80 24 80`).
    assert_eq!(&ber[..2], [0x30, 0x80]);
    assert!(find(&ber, &[0xA0, 0x80, 0x24, 0x80]).is_some());
    ber
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// OpenSSL claims the real clock as signingTime: validate just after it.
fn policy() -> Policy {
    let mut p = Policy::new(openssl::now() + 1);
    p.trust_anchors = vec![pki().root.clone()];
    p
}

fn show(r: &Report) -> String {
    serde_json::to_string_pretty(r).unwrap()
}

fn assert_passed(r: &Report) {
    assert_eq!(r.indication, Indication::TotalPassed, "{}", show(r));
    let sig = &r.signatures[0];
    for name in ["message-digest", "signature", "certificate-path"] {
        let c = sig.checks.iter().find(|c| c.name == name).unwrap();
        assert_eq!(c.outcome, Outcome::Passed, "{}", show(r));
    }
}

fn assert_hash_failure(r: &Report) {
    assert_eq!(
        r.sub_indication,
        Some(SubIndication::HashFailure),
        "{}",
        show(r)
    );
    let c = r.signatures[0].first_failure().unwrap();
    assert_eq!(c.name, "message-digest");
    assert!(c.reason.contains("the content was altered"), "{}", c.reason);
}

/// Flips one octet of the content inside `ber` (found by its 16 octets at `at`).
fn tamper(ber: &[u8], content: &[u8], at: usize) -> Vec<u8> {
    let mut out = ber.to_vec();
    let i = find(&out, &content[at..at + 16]).unwrap();
    out[i] ^= 0x01;
    out
}

#[test]
fn an_openssl_stream_signature_verifies_and_its_content_is_the_octets() {
    let dir = tempfile::tempdir().unwrap();
    let ber = openssl_stream(dir.path(), DOC);
    let r = verify_bytes(&ber, None, &policy());
    assert_passed(&r);
    // The content is the document's octets, not the segments' encoding.
    assert_eq!(
        r.checks[0].reason,
        format!("encapsulated, {} bytes", DOC.len())
    );
    assert_hash_failure(&verify_bytes(&tamper(&ber, DOC, 10), None, &policy()));
}

/// Several megabytes, streamed in 4096-octet segments.
#[test]
fn a_large_streamed_signature_verifies_and_a_changed_byte_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let content: Vec<u8> = (0..5_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let ber = openssl_stream(dir.path(), &content);
    assert!(ber.len() > content.len());
    let r = verify_bytes(&ber, None, &policy());
    assert_passed(&r);
    assert_eq!(
        r.checks[0].reason,
        format!("encapsulated, {} bytes", content.len())
    );
    assert_hash_failure(&verify_bytes(
        &tamper(&ber, &content, 3_000_001),
        None,
        &policy(),
    ));
}

/// The same BER without its eContent (OpenSSL streams attached only): the enclosing lengths are
/// indefinite, so cutting `[0] { OCTET STRING … }` out leaves a valid detached signature.
#[test]
fn a_detached_ber_signature_verifies_against_its_content() {
    let dir = tempfile::tempdir().unwrap();
    let ber = openssl_stream(dir.path(), DOC);
    let start = find(&ber, &[0xA0, 0x80, 0x24, 0x80]).unwrap();
    // `A0 80 24 80`, one segment `04 len DOC`, then the two EOCs.
    let end = start + 4 + 2 + DOC.len() + 4;
    assert_eq!(ber[start + 4..start + 6], [0x04, DOC.len() as u8]);
    assert_eq!(ber[end - 4..end], [0, 0, 0, 0]);
    let detached = [&ber[..start], &ber[end..]].concat();
    let r = verify_bytes(&detached, Some(DOC), &policy());
    assert_passed(&r);
    assert_hash_failure(&verify_bytes(
        &detached,
        Some(b"Rx: amoxicillin 500 mg"),
        &policy(),
    ));
}

/// A BER SET OF need not be sorted; the signature covers the DER encoding, which is (X.690
/// §11.6). With two signed attributes swapped in the input, it still verifies.
#[test]
fn signed_attributes_are_checked_over_their_der_encoding() {
    let dir = tempfile::tempdir().unwrap();
    let ber = openssl_stream(dir.path(), DOC);
    // contentType (`30 18 06 09 … 09 03`), then signingTime (`30 1C 06 09 … 09 05`), as
    // OpenSSL sorts them.
    let content_type = [
        0x30, 0x18, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x03,
    ];
    let i = find(&ber, &content_type).unwrap();
    let (a, b) = (26, 30);
    assert_eq!(
        ber[i + a..i + a + 13],
        [
            0x30, 0x1C, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x05
        ]
    );
    let swapped = [
        &ber[..i],
        &ber[i + a..i + a + b],
        &ber[i..i + a],
        &ber[i + a + b..],
    ]
    .concat();
    assert_ne!(swapped, ber);
    assert_passed(&verify_bytes(&swapped, None, &policy()));
}
