//! CAdES baseline levels built onto signatures (`ca_core::cades`, ETSI EN 319 122-1): B-T with a
//! real token from `tsp::Tsa`, checked by OpenSSL (`cms -verify`, `ts -verify`) and by our
//! verifier, on our own DER signatures and on OpenSSL's streamed BER ones; imprints are
//! recomputed here independently, from the raw octets, with ring.

use crate::support::openssl;
use crate::support::sign_fixture::{self, SIGN_AT, pki, signer};
use crate::support::tsa;

use ca_core::cades::{self, CadesError};
use ca_core::oid;
use ca_core::sign::{DigestAlgorithm, sign};
use cms::cert::CertificateChoices;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    DigestAlgorithmIdentifiers, EncapsulatedContentInfo, SignerInfo, SignerInfos,
};
use const_oid::ObjectIdentifier;
use der::asn1::SetOfVec;
use der::{Any, Decode, Encode, Tagged};
use std::path::Path;
use std::process::Command;

const DOC: &[u8] = b"Discharge letter: patient stable, follow-up in two weeks.\n";
/// When the tokens are stamped: shortly after the signature.
const STAMP_AT: u64 = SIGN_AT + 60;

fn sha256(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

/// A detached or attached B-B signature by the P-256 signer.
fn b_b(attached: bool) -> Vec<u8> {
    let s = signer("p256");
    let digest = sign_fixture::digest_for(&s.key, DOC);
    let mut request = sign_fixture::request(s, &digest);
    request.attached = attached.then_some(DOC);
    sign(&request).unwrap()
}

/// RFC 5652 §5.1 SignedData with its `crls` as raw elements: cms 0.3's
/// `OtherRevocationInfoFormat` has an AlgorithmIdentifier where RFC 5652 §10.2.1 has an OBJECT
/// IDENTIFIER, so it cannot decode an `other` choice (the verifier uses `Any` too).
#[derive(Clone, Debug, der::Sequence)]
struct SignedData {
    version: CmsVersion,
    digest_algorithms: DigestAlgorithmIdentifiers,
    encap_content_info: EncapsulatedContentInfo,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    certificates: Option<SetOfVec<CertificateChoices>>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    crls: Option<Vec<Any>>,
    signer_infos: SignerInfos,
}

/// `OtherRevocationInfoFormat ::= SEQUENCE { otherRevInfoFormat OBJECT IDENTIFIER, otherRevInfo
/// ANY }` (RFC 5652 §10.2.1).
#[derive(der::Sequence)]
struct OtherRevocationInfo {
    format: ObjectIdentifier,
    info: Any,
}

/// The CRLs and the OCSP responses (`other` with id-ri-ocsp-response) of `sd.crls`, as DER.
fn revocation_data(sd: &SignedData) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let (mut crls, mut responses) = (Vec::new(), Vec::new());
    for choice in sd.crls.iter().flatten() {
        if choice.tag() == der::Tag::Sequence {
            crls.push(choice.to_der().unwrap());
        } else {
            assert_eq!(choice.tag().number().value(), 1, "other [1]");
            let other = Any::new(der::Tag::Sequence, choice.value()).unwrap();
            let other: OtherRevocationInfo = other.decode_as().unwrap();
            assert_eq!(other.format, oid::ID_RI_OCSP_RESPONSE);
            responses.push(other.info.to_der().unwrap());
        }
    }
    (crls, responses)
}

/// Decodes a ContentInfo → SignedData (DER or BER).
fn signed_data(der: &[u8]) -> SignedData {
    let info = ContentInfo::from_der(der)
        .or_else(|_| ContentInfo::from_ber(der))
        .unwrap();
    assert_eq!(info.content_type, oid::ID_SIGNED_DATA);
    let inner = info.content.to_der().unwrap();
    SignedData::from_der(&inner)
        .or_else(|_| SignedData::from_ber(&inner))
        .unwrap()
}

fn first_signer(sd: &SignedData) -> &SignerInfo {
    sd.signer_infos.0.get(0).unwrap()
}

/// The values of unsigned attribute `kind`, each as its DER.
fn unsigned_values(si: &SignerInfo, kind: ObjectIdentifier) -> Vec<Vec<u8>> {
    si.unsigned_attrs
        .iter()
        .flat_map(|attrs| attrs.iter())
        .filter(|a| a.oid == kind)
        .flat_map(|a| a.values.iter().map(|v| v.to_der().unwrap()))
        .collect()
}

/// B-T: a signature time-stamp from the fixture TSA over the signature of signer 0.
fn b_t(signature: &[u8]) -> Vec<u8> {
    let imprint =
        cades::signature_timestamp_imprint(signature, 0, DigestAlgorithm::Sha256).unwrap();
    let token = tsa::stamp(&imprint, STAMP_AT);
    cades::add_signature_timestamp(signature, 0, &token).unwrap()
}

fn run(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the openssl CLI is required by these tests (.ci/run installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn pems(certs: &[&[u8]]) -> String {
    certs.iter().map(|c| sign_fixture::pem(c)).collect()
}

/// `openssl cms -verify` of `sig` (DER) at `at`, with the signers' root trusted.
fn cms_verify(dir: &Path, sig: &[u8], content: Option<&[u8]>, at: u64) -> (bool, String) {
    std::fs::write(dir.join("root.pem"), pems(&[&pki().root])).unwrap();
    std::fs::write(dir.join("sig.der"), sig).unwrap();
    let at = at.to_string();
    let mut args = vec![
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        "sig.der",
        "-CAfile",
        "root.pem",
        "-no-CApath",
        "-attime",
        &at,
        "-out",
        "/dev/null",
    ];
    if let Some(content) = content {
        std::fs::write(dir.join("doc"), content).unwrap();
        args.extend(["-content", "doc"]);
    }
    run(dir, &args)
}

/// `openssl ts -verify -digest <hex> -in token -token_in` against the TSA's root.
fn ts_verify(dir: &Path, token: &[u8], imprint: &[u8]) -> (bool, String) {
    let f = tsa::fixture();
    std::fs::write(dir.join("tsa-root.pem"), pems(&[&f.root])).unwrap();
    let chain: Vec<&[u8]> = f.chain.iter().map(Vec::as_slice).collect();
    std::fs::write(dir.join("tsa-chain.pem"), pems(&chain)).unwrap();
    std::fs::write(dir.join("token.der"), token).unwrap();
    let digest = hex::encode(imprint);
    run(
        dir,
        &[
            "ts",
            "-verify",
            "-digest",
            &digest,
            "-in",
            "token.der",
            "-token_in",
            "-CAfile",
            "tsa-root.pem",
            "-untrusted",
            "tsa-chain.pem",
        ],
    )
}

#[test]
fn the_signature_time_stamp_imprint_is_the_hash_of_the_signature_value() {
    let signature = b_b(false);
    let sd = signed_data(&signature);
    let value = first_signer(&sd).signature.as_bytes().to_vec();
    assert_eq!(
        cades::signature_timestamp_imprint(&signature, 0, DigestAlgorithm::Sha256).unwrap(),
        sha256(&value)
    );
    let sha384 = ring::digest::digest(&ring::digest::SHA384, &value);
    assert_eq!(
        cades::signature_timestamp_imprint(&signature, 0, DigestAlgorithm::Sha384).unwrap(),
        sha384.as_ref()
    );
    // A bare SignedData works as well as its ContentInfo.
    let bare = sd.to_der().unwrap();
    assert_eq!(
        cades::signature_timestamp_imprint(&bare, 0, DigestAlgorithm::Sha256).unwrap(),
        sha256(&value)
    );
    // SHA-1 would let a collision be time-stamped.
    assert!(matches!(
        cades::signature_timestamp_imprint(&signature, 0, DigestAlgorithm::Sha1),
        Err(CadesError::HashNotAccepted(_))
    ));
    assert!(matches!(
        cades::archive_timestamp_v3_imprint(&signature, 0, Some(DOC), DigestAlgorithm::Sha1),
        Err(CadesError::HashNotAccepted(_))
    ));
    assert!(matches!(
        cades::signature_timestamp_imprint(&signature, 1, DigestAlgorithm::Sha256),
        Err(CadesError::NoSigner { index: 1, count: 1 })
    ));
    for garbage in [&b""[..], b"\x30\x80", &pki().root, &value] {
        assert!(
            matches!(
                cades::signature_timestamp_imprint(garbage, 0, DigestAlgorithm::Sha256),
                Err(CadesError::Malformed(_))
            ),
            "{garbage:?}"
        );
    }
}

#[test]
fn b_t_verifies_with_openssl_attached_and_detached_and_the_token_with_openssl_ts() {
    let dir = tempfile::tempdir().unwrap();
    for attached in [false, true] {
        let before = b_b(attached);
        let stamped = b_t(&before);
        let sd = signed_data(&stamped);
        let si = first_signer(&sd);
        let tokens = unsigned_values(si, oid::ID_AA_SIGNATURE_TIME_STAMP_TOKEN);
        assert_eq!(tokens.len(), 1);
        // Nothing else moved: the SignerInfo's other fields and the rest of the SignedData.
        let old = signed_data(&before);
        let old_si = first_signer(&old);
        assert_eq!(si.signed_attrs, old_si.signed_attrs);
        assert_eq!(si.signature, old_si.signature);
        assert_eq!(sd.certificates, old.certificates);
        assert_eq!(sd.encap_content_info, old.encap_content_info);

        let content = (!attached).then_some(DOC);
        let (ok, text) = cms_verify(dir.path(), &stamped, content, STAMP_AT);
        assert!(ok && text.contains("Verification successful"), "{text}");

        let imprint = sha256(si.signature.as_bytes());
        let (ok, text) = ts_verify(dir.path(), &tokens[0], &imprint);
        assert!(ok && text.contains("Verification: OK"), "{text}");
        // Not over another signature value.
        let (ok, text) = ts_verify(dir.path(), &tokens[0], &sha256(b"other"));
        assert!(!ok, "a token verified over another imprint: {text}");
    }
}

#[test]
fn a_token_over_something_else_is_refused() {
    let signature = b_b(false);
    let token = tsa::stamp(&sha256(b"not this signature"), STAMP_AT);
    assert!(matches!(
        cades::add_signature_timestamp(&signature, 0, &token),
        Err(CadesError::ImprintMismatch("signature"))
    ));
    assert!(matches!(
        cades::add_signature_timestamp(&signature, 0, b"\x30\x03\x02\x01\x01"),
        Err(CadesError::Token(_))
    ));
}

#[test]
fn two_signature_time_stamps_are_two_attributes() {
    let once = b_t(&b_b(false));
    let twice = b_t(&once);
    let sd = signed_data(&twice);
    let tokens = unsigned_values(first_signer(&sd), oid::ID_AA_SIGNATURE_TIME_STAMP_TOKEN);
    assert_eq!(tokens.len(), 2);
    assert_ne!(tokens[0], tokens[1]);
}

/// `openssl cms -sign -stream`: BER with indefinite lengths and a constructed eContent.
fn openssl_stream(dir: &Path) -> Vec<u8> {
    let s = signer("p256");
    let pem = |label, der: &[u8]| der::pem::encode_string(label, der::pem::LineEnding::LF, der);
    std::fs::write(
        dir.join("k.pem"),
        pem("PRIVATE KEY", &s.key.to_pkcs8().expect("software key")).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join("c.pem"), sign_fixture::pem(&s.certificate)).unwrap();
    let chain: Vec<&[u8]> = s.chain.iter().map(Vec::as_slice).collect();
    std::fs::write(dir.join("chain.pem"), pems(&chain)).unwrap();
    std::fs::write(dir.join("doc"), DOC).unwrap();
    openssl::openssl(
        dir,
        &[
            "cms",
            "-sign",
            "-stream",
            "-binary",
            "-nodetach",
            "-outform",
            "DER",
            "-md",
            "sha256",
            "-signer",
            "c.pem",
            "-inkey",
            "k.pem",
            "-certfile",
            "chain.pem",
            "-in",
            "doc",
            "-out",
            "s.p7m",
        ],
    );
    let ber = std::fs::read(dir.join("s.p7m")).unwrap();
    assert_eq!(&ber[..2], [0x30, 0x80], "indefinite-length BER");
    ber
}

fn find(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn b_t_of_an_openssl_streamed_ber_signature_keeps_the_hashed_octets() {
    let dir = tempfile::tempdir().unwrap();
    let ber = openssl_stream(dir.path());
    let stamped = b_t(&ber);
    // The outer wrappers are rewritten with definite lengths; the encapsulated content keeps
    // its BER (indefinite [0], constructed OCTET STRING), and the SignerInfo's fields their
    // octets.
    assert_eq!(stamped[0], 0x30);
    assert_ne!(stamped[1], 0x80);
    assert!(find(&stamped, &[0xA0, 0x80, 0x24, 0x80]));
    let old = signed_data(&ber);
    let new = signed_data(&stamped);
    let (old_si, new_si) = (first_signer(&old), first_signer(&new));
    let signed_attrs = old_si.signed_attrs.as_ref().unwrap().to_der().unwrap();
    assert!(find(&stamped, &signed_attrs[2..]));
    assert_eq!(new_si.signature, old_si.signature);
    assert_eq!(
        unsigned_values(new_si, oid::ID_AA_SIGNATURE_TIME_STAMP_TOKEN).len(),
        1
    );

    // OpenSSL signed at the real clock.
    let now = openssl::now() + 1;
    let (ok, text) = cms_verify(dir.path(), &stamped, None, now);
    assert!(ok && text.contains("Verification successful"), "{text}");
    let mut policy = ca_core::verify::Policy::new(now);
    policy.trust_anchors = vec![pki().root.clone()];
    let report = ca_core::verify::verify_bytes(&stamped, None, &policy);
    let json = serde_json::to_string_pretty(&report).unwrap();
    assert_eq!(
        report.indication,
        ca_core::verify::Indication::TotalPassed,
        "{json}"
    );
    for name in ["message-digest", "signature", "certificate-path"] {
        let check = report.signatures[0]
            .checks
            .iter()
            .find(|c| c.name == name)
            .unwrap();
        assert_eq!(check.outcome, ca_core::verify::Outcome::Passed, "{json}");
    }
    let token = unsigned_values(new_si, oid::ID_AA_SIGNATURE_TIME_STAMP_TOKEN).remove(0);
    let (ok, text) = ts_verify(dir.path(), &token, &sha256(new_si.signature.as_bytes()));
    assert!(ok && text.contains("Verification: OK"), "{text}");
}

// ---- B-LT: validation data in SignedData.certificates and SignedData.crls ----

/// A successful OCSP response made by `openssl ocsp` (an empty index: status unknown) about
/// the signer's certificate, signed by a throwaway OpenSSL responder.
fn ocsp_response(dir: &Path) -> Vec<u8> {
    let s = signer("p256");
    std::fs::write(dir.join("ee.pem"), sign_fixture::pem(&s.certificate)).unwrap();
    std::fs::write(dir.join("issuer.pem"), sign_fixture::pem(&s.chain[0])).unwrap();
    std::fs::write(dir.join("index.txt"), "").unwrap();
    openssl::openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "responder.key",
            "-subj",
            "/CN=OCSP test responder",
            "-days",
            "3",
            "-out",
            "responder.pem",
        ],
    );
    openssl::openssl(
        dir,
        &[
            "ocsp",
            "-issuer",
            "issuer.pem",
            "-cert",
            "ee.pem",
            "-no_nonce",
            "-reqout",
            "req.der",
        ],
    );
    openssl::openssl(
        dir,
        &[
            "ocsp",
            "-index",
            "index.txt",
            "-CA",
            "issuer.pem",
            "-rsigner",
            "responder.pem",
            "-rkey",
            "responder.key",
            "-reqin",
            "req.der",
            "-respout",
            "resp.der",
            "-ndays",
            "1",
        ],
    );
    std::fs::read(dir.join("resp.der")).unwrap()
}

/// The signer's certificate and chain, and the TSA's chain (its certificate comes out of the
/// token by itself).
fn certificates() -> Vec<Vec<u8>> {
    let s = signer("p256");
    let mut certs = vec![s.certificate.clone()];
    certs.extend(s.chain.iter().cloned());
    certs.extend(tsa::fixture().chain.iter().cloned());
    certs
}

fn b_lt(b_t: &[u8], ocsp: &[u8]) -> Vec<u8> {
    cades::add_validation_data(b_t, &certificates(), &tsa::fixture().crls, &[ocsp.to_vec()])
        .unwrap()
}

/// The DER of every certificate in `SignedData.certificates`.
fn carried_certificates(sd: &SignedData) -> Vec<Vec<u8>> {
    sd.certificates
        .iter()
        .flat_map(|set| set.iter())
        .map(|c| c.to_der().unwrap())
        .collect()
}

#[test]
fn b_lt_carries_certificates_crls_and_ocsp_responses_and_no_values_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let ocsp = ocsp_response(dir.path());
    let stamped = b_t(&b_b(false));
    let lt = b_lt(&stamped, &ocsp);
    let sd = signed_data(&lt);

    let carried = carried_certificates(&sd);
    for cert in certificates() {
        assert_eq!(carried.iter().filter(|c| **c == cert).count(), 1);
    }
    // The TSA certificate, copied out of the token.
    assert!(carried.contains(&tsa::fixture().certificate));

    let (mut crls, responses) = revocation_data(&sd);
    let mut want_crls = tsa::fixture().crls.clone();
    want_crls.sort();
    crls.sort();
    assert_eq!(crls, want_crls);
    assert_eq!(responses, std::slice::from_ref(&ocsp));
    // RFC 5652 §5.1: an `other` RevocationInfoChoice makes the version 5.
    assert_eq!(sd.version, CmsVersion::V5);

    let si = first_signer(&sd);
    for forbidden in [oid::ID_AA_ETS_CERT_VALUES, oid::ID_AA_ETS_REVOCATION_VALUES] {
        assert!(unsigned_values(si, forbidden).is_empty());
    }
    assert_eq!(
        unsigned_values(si, oid::ID_AA_SIGNATURE_TIME_STAMP_TOKEN),
        unsigned_values(
            first_signer(&signed_data(&stamped)),
            oid::ID_AA_SIGNATURE_TIME_STAMP_TOKEN
        )
    );

    // Still a valid signature to OpenSSL (detached).
    let (ok, text) = cms_verify(dir.path(), &lt, Some(DOC), STAMP_AT);
    assert!(ok && text.contains("Verification successful"), "{text}");
    assert_b_b_checks_pass(&lt, Some(DOC), STAMP_AT);
}

#[test]
fn validation_data_already_present_is_not_added_twice() {
    let dir = tempfile::tempdir().unwrap();
    let ocsp = ocsp_response(dir.path());
    let lt = b_lt(&b_t(&b_b(true)), &ocsp);
    // The same data again, and the signer's own certificate (already in since B-B): no change.
    assert_eq!(b_lt(&lt, &ocsp), lt);
    let again =
        cades::add_validation_data(&lt, &[signer("p256").certificate.clone()], &[], &[]).unwrap();
    assert_eq!(again, lt);
    // Duplicates within one call count once.
    let b_t = b_t(&b_b(true));
    let twice = cades::add_validation_data(
        &b_t,
        &[
            tsa::fixture().chain[0].clone(),
            tsa::fixture().chain[0].clone(),
        ],
        &[
            tsa::fixture().crls[0].clone(),
            tsa::fixture().crls[0].clone(),
        ],
        &[ocsp.clone(), ocsp.clone()],
    )
    .unwrap();
    let sd = signed_data(&twice);
    let carried = carried_certificates(&sd);
    assert_eq!(
        carried
            .iter()
            .filter(|c| **c == tsa::fixture().chain[0])
            .count(),
        1
    );
    assert_eq!(sd.crls.as_ref().unwrap().len(), 2);
}

#[test]
fn validation_data_must_be_what_it_claims() {
    let signature = b_t(&b_b(false));
    let crl = tsa::fixture().crls[0].clone();
    let cert = pki().root.clone();
    let failed_ocsp = vec![0x30, 0x03, 0x0a, 0x01, 0x01]; // malformedRequest, no bytes
    for (certs, crls, ocsp, want) in [
        (vec![crl.clone()], vec![], vec![], "certificate 0"),
        (vec![], vec![cert.clone()], vec![], "CRL 0"),
        (vec![], vec![], vec![cert.clone()], "OCSP response 0"),
        (vec![], vec![], vec![failed_ocsp], "not successful"),
        (vec![b"\x30\x80".to_vec()], vec![], vec![], "certificate 0"),
    ] {
        let err = cades::add_validation_data(&signature, &certs, &crls, &ocsp).unwrap_err();
        assert!(
            matches!(&err, CadesError::ValidationData(m) if m.contains(want)),
            "{err}"
        );
    }
}

// ---- B-LTA: archive-time-stamp-v3 with ats-hash-index-v3, and its renewal ----

/// B-LTA over `signature` (attached or with `content`), stamped with `hash`.
fn b_lta(signature: &[u8], content: Option<&[u8]>, hash: DigestAlgorithm) -> Vec<u8> {
    let imprint = cades::archive_timestamp_v3_imprint(signature, 0, content, hash).unwrap();
    let token = tsa::stamp_with(hash, &imprint, STAMP_AT + 600);
    cades::add_archive_timestamp_v3(signature, 0, content, &token).unwrap()
}

/// An ats-hash-index-v3 as decoded here: the algorithm when not the DEFAULT SHA-256, and the
/// three lists of hashes (EN 319 122-1 §5.5.2).
#[derive(Debug, PartialEq)]
struct HashIndex {
    algorithm: Option<spki::AlgorithmIdentifierOwned>,
    certificates: Vec<Vec<u8>>,
    crls: Vec<Vec<u8>>,
    unsigned_attrs: Vec<Vec<u8>>,
}

fn decode_index(der: &[u8]) -> HashIndex {
    let fields: Vec<Any> = Vec::from_der(der).unwrap();
    let (algorithm, lists) = match fields.len() {
        3 => (None, &fields[..]),
        4 => (Some(fields[0].decode_as().unwrap()), &fields[1..]),
        n => panic!("ATSHashIndexV3 with {n} fields"),
    };
    let list = |any: &Any| -> Vec<Vec<u8>> {
        any.decode_as::<Vec<der::asn1::OctetString>>()
            .unwrap()
            .into_iter()
            .map(|o| o.as_bytes().to_vec())
            .collect()
    };
    HashIndex {
        algorithm,
        certificates: list(&lists[0]),
        crls: list(&lists[1]),
        unsigned_attrs: list(&lists[2]),
    }
}

/// The SignedData inside a time-stamp token.
fn token_signed_data(token: &[u8]) -> SignedData {
    signed_data(token)
}

/// The ats-hash-index-v3 value (DER) in the token's own SignerInfo.
fn index_in_token(token: &[u8]) -> Vec<u8> {
    let sd = token_signed_data(token);
    let values = unsigned_values(first_signer(&sd), oid::ID_AA_ATS_HASH_INDEX_V3);
    assert_eq!(values.len(), 1, "one ats-hash-index-v3 in the token");
    values[0].clone()
}

/// The message imprint of an archive time-stamp recomputed here, piece by piece from the
/// decoded SignedData (every piece re-encoded as DER equals its octets in our DER output):
/// eContentType ‖ SHA-256(content) ‖ version ‖ sid ‖ digestAlgorithm ‖ signedAttrs as `[0]` ‖
/// signatureAlgorithm ‖ signature ‖ the index as carried in the token (EN 319 122-1 §5.5.3).
fn recompute_imprint(sd: &SignedData, content: &[u8], index_der: &[u8]) -> Vec<u8> {
    let si = first_signer(sd);
    let mut input = sd.encap_content_info.econtent_type.to_der().unwrap();
    input.extend(sha256(content));
    input.extend(si.version.to_der().unwrap());
    input.extend(si.sid.to_der().unwrap());
    input.extend(si.digest_alg.to_der().unwrap());
    let mut signed_attrs = si.signed_attrs.as_ref().unwrap().to_der().unwrap();
    assert_eq!(signed_attrs[0], 0x31);
    signed_attrs[0] = 0xA0; // [0] IMPLICIT SET OF Attribute, as the field is present
    input.extend(signed_attrs);
    input.extend(si.signature_algorithm.to_der().unwrap());
    input.extend(si.signature.to_der().unwrap());
    input.extend_from_slice(index_der);
    sha256(&input)
}

/// What the index must list for `sd` when the archive time-stamp `ats` (and any after it) was
/// not yet there: SHA-256 of each certificate, each revocation element, and each unsigned
/// attribute value prefixed by its type, in DER order.
fn expected_index(sd: &SignedData, leave_out: &[Vec<u8>]) -> HashIndex {
    let si = first_signer(sd);
    let mut unsigned_attrs = Vec::new();
    for attribute in si.unsigned_attrs.iter().flat_map(|a| a.iter()) {
        for value in attribute.values.iter() {
            let value = value.to_der().unwrap();
            if leave_out.contains(&value) {
                continue;
            }
            let mut bytes = attribute.oid.to_der().unwrap();
            bytes.extend(value);
            unsigned_attrs.push(sha256(&bytes));
        }
    }
    HashIndex {
        algorithm: None,
        certificates: carried_certificates(sd).iter().map(|c| sha256(c)).collect(),
        crls: sd
            .crls
            .iter()
            .flatten()
            .map(|c| sha256(&c.to_der().unwrap()))
            .collect(),
        unsigned_attrs,
    }
}

fn archive_time_stamps(sd: &SignedData) -> Vec<Vec<u8>> {
    unsigned_values(first_signer(sd), oid::ID_AA_ETS_ARCHIVE_TIMESTAMP_V3)
}

/// The TSTInfo message imprint of `token`.
fn token_imprint(token: &[u8]) -> Vec<u8> {
    ca_core::tsp::tst_info(token)
        .unwrap()
        .message_imprint
        .hashed_message
        .as_bytes()
        .to_vec()
}

#[test]
fn b_lta_indexes_every_certificate_crl_and_attribute_value_and_its_imprint_recomputes() {
    let dir = tempfile::tempdir().unwrap();
    let ocsp = ocsp_response(dir.path());
    let lt = b_lt(&b_t(&b_b(false)), &ocsp);
    let lta = b_lta(&lt, Some(DOC), DigestAlgorithm::Sha256);
    let sd = signed_data(&lta);
    let ats = archive_time_stamps(&sd);
    assert_eq!(ats.len(), 1);

    let index_der = index_in_token(&ats[0]);
    let index = decode_index(&index_der);
    let want = expected_index(&sd, &ats);
    assert_eq!(index, want);
    // One per certificate (signer, its CAs, the TSA's), per CRL and the OCSP response, per
    // unsigned attribute value (the signature time-stamp).
    assert_eq!(index.certificates.len(), carried_certificates(&sd).len());
    assert!(index.certificates.len() >= 5);
    assert_eq!(index.crls.len(), tsa::fixture().crls.len() + 1);
    assert_eq!(index.unsigned_attrs.len(), 1);
    assert_eq!(
        recompute_imprint(&sd, DOC, &index_der),
        token_imprint(&ats[0])
    );

    // Everything else as at B-LT.
    let before = signed_data(&lt);
    assert_eq!(carried_certificates(&sd), carried_certificates(&before));
    assert_eq!(sd.crls, before.crls);
    assert_eq!(first_signer(&sd).signature, first_signer(&before).signature);
    // The token still verifies: the index is an unsigned attribute of its SignerInfo.
    let (ok, text) = ts_verify(dir.path(), &ats[0], &token_imprint(&ats[0]));
    assert!(ok && text.contains("Verification: OK"), "{text}");
    let (ok, text) = cms_verify(dir.path(), &lta, Some(DOC), STAMP_AT);
    assert!(ok && text.contains("Verification successful"), "{text}");

    // One octet changed in a covered certificate (the signer's, in its signature value): the
    // index no longer lists it and the imprint recomputed over the altered data differs.
    let cert = &signer("p256").certificate;
    let at = lta
        .windows(cert.len())
        .position(|w| w == &cert[..])
        .unwrap()
        + cert.len()
        - 1;
    let mut altered = lta.clone();
    altered[at] ^= 0x01;
    let altered_sd = signed_data(&altered);
    let altered_want = expected_index(&altered_sd, &ats);
    assert_ne!(altered_want.certificates, index.certificates);
    let mut altered_index = index_der.clone();
    let old_hash = sha256(cert);
    let new_hash = {
        let mut c = cert.clone();
        let last = c.len() - 1;
        c[last] ^= 0x01;
        sha256(&c)
    };
    let i = altered_index
        .windows(32)
        .position(|w| w == old_hash.as_slice())
        .unwrap();
    altered_index[i..i + 32].copy_from_slice(&new_hash);
    assert_ne!(
        recompute_imprint(&altered_sd, DOC, &altered_index),
        token_imprint(&ats[0])
    );
    // …and the engine refuses that token over B-LT with the certificate altered, while it
    // takes it over B-LT as it was.
    let at = lt.windows(cert.len()).position(|w| w == &cert[..]).unwrap() + cert.len() - 1;
    let mut altered_lt = lt.clone();
    altered_lt[at] ^= 0x01;
    let as_sent = strip_index(&ats[0]);
    assert!(matches!(
        cades::add_archive_timestamp_v3(&altered_lt, 0, Some(DOC), &as_sent),
        Err(CadesError::ImprintMismatch(_))
    ));
    assert_eq!(
        cades::add_archive_timestamp_v3(&lt, 0, Some(DOC), &as_sent).unwrap(),
        lta
    );
}

/// The token as the TSA sent it: the same SignedData without its unsigned attributes (our TSA
/// puts none there), re-encoded here with der.
fn strip_index(token: &[u8]) -> Vec<u8> {
    let mut sd = token_signed_data(token);
    let mut infos: Vec<SignerInfo> = sd.signer_infos.0.iter().cloned().collect();
    infos[0].unsigned_attrs = None;
    sd.signer_infos = SignerInfos(SetOfVec::try_from(infos).unwrap());
    ContentInfo {
        content_type: oid::ID_SIGNED_DATA,
        content: Any::encode_from(&sd).unwrap(),
    }
    .to_der()
    .unwrap()
}

#[test]
fn renewal_adds_a_second_archive_time_stamp_whose_index_covers_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let ocsp = ocsp_response(dir.path());
    // Attached content: no detached content to give.
    let lt = b_lt(&b_t(&b_b(true)), &ocsp);
    let first = b_lta(&lt, None, DigestAlgorithm::Sha256);
    let second = b_lta(&first, None, DigestAlgorithm::Sha256);
    let (sd1, sd2) = (signed_data(&first), signed_data(&second));
    let ats1 = archive_time_stamps(&sd1);
    let ats2 = archive_time_stamps(&sd2);
    assert_eq!(ats1.len(), 1);
    assert_eq!(ats2.len(), 2);
    assert!(ats2.contains(&ats1[0]), "the first keeps its octets");
    let newer = ats2.iter().find(|a| **a != ats1[0]).unwrap().clone();

    let index1 = decode_index(&index_in_token(&ats1[0]));
    let index2_der = index_in_token(&newer);
    let index2 = decode_index(&index2_der);
    assert_eq!(index2, expected_index(&sd2, std::slice::from_ref(&newer)));
    let mut first_ats = oid::ID_AA_ETS_ARCHIVE_TIMESTAMP_V3.to_der().unwrap();
    first_ats.extend(&ats1[0]);
    assert!(index2.unsigned_attrs.contains(&sha256(&first_ats)));
    assert!(!index1.unsigned_attrs.contains(&sha256(&first_ats)));
    assert_eq!(index2.unsigned_attrs.len(), index1.unsigned_attrs.len() + 1);
    assert_eq!(
        recompute_imprint(&sd2, DOC, &index2_der),
        token_imprint(&newer)
    );
    assert_eq!(cades::detect_level(&second, 0).unwrap(), cades::Level::BLTA);
    // The first archive time-stamp, checked over the renewed signature from the index it
    // carries: the imprint prefix is unchanged by renewal.
    let index1_der = index_in_token(&ats1[0]);
    let sha256_alg = DigestAlgorithm::Sha256;
    assert_eq!(
        cades::archive_timestamp_v3_imprint_with_index(&second, 0, None, sha256_alg, &index1_der)
            .unwrap(),
        token_imprint(&ats1[0])
    );
    assert_eq!(
        cades::archive_timestamp_v3_imprint_with_index(&second, 0, None, sha256_alg, &index2_der)
            .unwrap(),
        token_imprint(&newer)
    );
    // Another index (the first one's, with one hash changed) gives another imprint.
    let mut forged = index1_der.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    assert_ne!(
        cades::archive_timestamp_v3_imprint_with_index(&second, 0, None, sha256_alg, &forged)
            .unwrap(),
        token_imprint(&ats1[0])
    );
    let (ok, text) = cms_verify(dir.path(), &second, None, STAMP_AT);
    assert!(ok && text.contains("Verification successful"), "{text}");
    assert_b_b_checks_pass(&second, None, STAMP_AT);
}

/// Our verifier still passes the B-B checks of a raised signature (it does not judge the
/// time-stamps yet).
fn assert_b_b_checks_pass(signature: &[u8], content: Option<&[u8]>, at: u64) {
    let mut policy = ca_core::verify::Policy::new(at);
    policy.trust_anchors = vec![pki().root.clone()];
    let report = ca_core::verify::verify_bytes(signature, content, &policy);
    let json = serde_json::to_string_pretty(&report).unwrap();
    for name in ["message-digest", "signature", "certificate-path"] {
        let check = report.signatures[0]
            .checks
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no {name} check: {json}"));
        assert_eq!(check.outcome, ca_core::verify::Outcome::Passed, "{json}");
    }
}

#[test]
fn a_sha384_archive_time_stamp_names_its_algorithm() {
    let dir = tempfile::tempdir().unwrap();
    let lt = b_lt(&b_t(&b_b(false)), &ocsp_response(dir.path()));
    let lta = b_lta(&lt, Some(DOC), DigestAlgorithm::Sha384);
    let sd = signed_data(&lta);
    let index = decode_index(&index_in_token(&archive_time_stamps(&sd)[0]));
    assert_eq!(index.algorithm.unwrap().oid, oid::ID_SHA_384);
    assert!(index.certificates.iter().all(|h| h.len() == 48));
    let cert = &signer("p256").certificate;
    let h = ring::digest::digest(&ring::digest::SHA384, cert);
    assert!(index.certificates.iter().any(|c| c == h.as_ref()));
    // EN 319 122-1 §5.5.3: the ATS hash algorithm joins digestAlgorithms.
    let algorithms: Vec<_> = sd.digest_algorithms.iter().map(|a| a.oid).collect();
    assert!(algorithms.contains(&oid::ID_SHA_384), "{algorithms:?}");
    assert!(algorithms.contains(&oid::ID_SHA_256), "{algorithms:?}");
}

#[test]
fn an_archive_time_stamp_needs_the_content_and_the_current_state() {
    let dir = tempfile::tempdir().unwrap();
    let t = b_t(&b_b(false));
    assert!(matches!(
        cades::archive_timestamp_v3_imprint(&t, 0, None, DigestAlgorithm::Sha256),
        Err(CadesError::Content(_))
    ));
    assert!(matches!(
        cades::archive_timestamp_v3_imprint(&t, 0, Some(b"other"), DigestAlgorithm::Sha256).map(
            |i| i
                == cades::archive_timestamp_v3_imprint(&t, 0, Some(DOC), DigestAlgorithm::Sha256)
                    .unwrap()
        ),
        Ok(false)
    ));
    // A token requested before the validation data was added covers another state.
    let imprint =
        cades::archive_timestamp_v3_imprint(&t, 0, Some(DOC), DigestAlgorithm::Sha256).unwrap();
    let token = tsa::stamp(&imprint, STAMP_AT);
    let lt = b_lt(&t, &ocsp_response(dir.path()));
    assert!(matches!(
        cades::add_archive_timestamp_v3(&lt, 0, Some(DOC), &token),
        Err(CadesError::ImprintMismatch(_))
    ));
    assert!(cades::add_archive_timestamp_v3(&t, 0, Some(DOC), &token).is_ok());
}

// ---- Structural checklist per level (EN 319 122-1 §4, §5) ----

/// The unsigned attribute types of the first signer.
fn unsigned_types(sd: &SignedData) -> Vec<ObjectIdentifier> {
    first_signer(sd)
        .unsigned_attrs
        .iter()
        .flat_map(|a| a.iter().map(|a| a.oid))
        .collect()
}

#[test]
fn each_level_has_what_it_must_and_nothing_it_must_not() {
    let dir = tempfile::tempdir().unwrap();
    let ocsp = ocsp_response(dir.path());
    let bb = b_b(false);
    let bt = b_t(&bb);
    let blt = b_lt(&bt, &ocsp);
    let blta = b_lta(&blt, Some(DOC), DigestAlgorithm::Sha256);
    let forbidden_lt = [oid::ID_AA_ETS_CERT_VALUES, oid::ID_AA_ETS_REVOCATION_VALUES];

    // B-B: signed attributes only; no time-stamp, no revocation data.
    let sd = signed_data(&bb);
    assert_eq!(cades::detect_level(&bb, 0).unwrap(), cades::Level::BB);
    assert!(unsigned_types(&sd).is_empty());
    assert!(sd.crls.is_none());

    // B-T: exactly one signature time-stamp over the signature value; still no revocation data.
    let sd = signed_data(&bt);
    assert_eq!(cades::detect_level(&bt, 0).unwrap(), cades::Level::BT);
    assert_eq!(unsigned_types(&sd), [oid::ID_AA_SIGNATURE_TIME_STAMP_TOKEN]);
    let token = &unsigned_values(first_signer(&sd), oid::ID_AA_SIGNATURE_TIME_STAMP_TOKEN)[0];
    assert_eq!(
        token_imprint(token),
        sha256(first_signer(&sd).signature.as_bytes())
    );
    assert!(sd.crls.is_none());

    // B-LT: the signer's and the TSA's certificates and revocation data in the SignedData,
    // not in certificate-values / revocation-values attributes; no archive time-stamp.
    let sd = signed_data(&blt);
    assert_eq!(cades::detect_level(&blt, 0).unwrap(), cades::Level::BLT);
    let carried = carried_certificates(&sd);
    assert!(carried.contains(&signer("p256").certificate));
    assert!(carried.contains(&tsa::fixture().certificate));
    let (crls, responses) = revocation_data(&sd);
    assert!(!crls.is_empty() && !responses.is_empty());
    let types = unsigned_types(&sd);
    assert!(forbidden_lt.iter().all(|f| !types.contains(f)));
    assert!(!types.contains(&oid::ID_AA_ETS_ARCHIVE_TIMESTAMP_V3));

    // B-LTA: an archive-time-stamp-v3 whose token carries its ats-hash-index-v3; the ATS hash
    // algorithm among digestAlgorithms; B-LT's content unchanged.
    let sd = signed_data(&blta);
    assert_eq!(cades::detect_level(&blta, 0).unwrap(), cades::Level::BLTA);
    let types = unsigned_types(&sd);
    assert!(types.contains(&oid::ID_AA_SIGNATURE_TIME_STAMP_TOKEN));
    assert!(types.contains(&oid::ID_AA_ETS_ARCHIVE_TIMESTAMP_V3));
    assert!(forbidden_lt.iter().all(|f| !types.contains(f)));
    for ats in archive_time_stamps(&sd) {
        decode_index(&index_in_token(&ats));
    }
    assert!(
        sd.digest_algorithms
            .iter()
            .any(|a| a.oid == oid::ID_SHA_256)
    );

    // A B-T without revocation data is not B-LT even with certificates; an archive
    // time-stamp over a B-T (no validation data) does not make it B-LTA.
    let only_certs = cades::add_validation_data(&bt, &certificates(), &[], &[]).unwrap();
    assert_eq!(
        cades::detect_level(&only_certs, 0).unwrap(),
        cades::Level::BT
    );
    let archived_bt = b_lta(&bt, Some(DOC), DigestAlgorithm::Sha256);
    assert_eq!(
        cades::detect_level(&archived_bt, 0).unwrap(),
        cades::Level::BT
    );
    assert_eq!(cades::Level::BLTA.to_string(), "B-LTA");
}

#[test]
fn an_openssl_streamed_ber_signature_is_raised_to_b_lta() {
    let dir = tempfile::tempdir().unwrap();
    let ber = openssl_stream(dir.path());
    let ocsp = ocsp_response(dir.path());
    let lta = b_lta(&b_lt(&b_t(&ber), &ocsp), None, DigestAlgorithm::Sha256);
    assert_eq!(cades::detect_level(&lta, 0).unwrap(), cades::Level::BLTA);
    // The encapsulated content is still OpenSSL's BER, and the imprint hashes its octets.
    assert!(find(&lta, &[0xA0, 0x80, 0x24, 0x80]));
    let sd = signed_data(&lta);
    let ats = archive_time_stamps(&sd);
    let index_der = index_in_token(&ats[0]);
    assert_eq!(decode_index(&index_der), expected_index(&sd, &ats));
    assert_eq!(
        recompute_imprint(&sd, DOC, &index_der),
        token_imprint(&ats[0])
    );
    let now = openssl::now() + 1;
    let (ok, text) = cms_verify(dir.path(), &lta, None, now);
    assert!(ok && text.contains("Verification successful"), "{text}");
    assert_b_b_checks_pass(&lta, None, now);
}

#[test]
fn hostile_input_is_an_error_not_a_panic() {
    let signature = b_t(&b_b(false));
    // Deeply nested indefinite lengths, a length past the end, a SignerInfo that is an INTEGER.
    let mut nested = [0x30u8, 0x80].repeat(100_000);
    nested.extend([0u8; 200_000]);
    let mut truncated = signature.clone();
    truncated.truncate(signature.len() - 1);
    let mut wrong_signer = signature.clone();
    let at = signature.len()
        - first_signer(&signed_data(&signature))
            .to_der()
            .unwrap()
            .len();
    wrong_signer[at] = 0x02;
    for input in [
        &nested[..],
        &truncated,
        &wrong_signer,
        b"\x30\x84\xff\xff\xff\xff",
    ] {
        let sha256 = DigestAlgorithm::Sha256;
        assert!(cades::signature_timestamp_imprint(input, 0, sha256).is_err());
        assert!(cades::add_validation_data(input, &certificates(), &[], &[]).is_err());
        assert!(cades::archive_timestamp_v3_imprint(input, 0, Some(DOC), sha256).is_err());
        assert!(cades::detect_level(input, 0).is_err());
        assert!(ca_core::tsp::tst_info(input).is_err());
    }
}
