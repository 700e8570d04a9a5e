//! Every legal algorithm combination verifies (issue 11, Build 5): `openssl cms -sign` with a
//! P-256 key and SHA-384, RSA-PSS with OpenSSL's default (maximum) salt and with salt = hash
//! length, P-521 with SHA-256, SHA-1; a tampered one is SIG_CRYPTO_FAILURE; and the dated
//! algorithm catalogue decides whether a verified signature is still acceptable.

use crate::support::openssl::{now, openssl, p521_chain};
use crate::support::sign_fixture::{self, SIGN_AT, pki, signer};
use ca_core::sign::{DigestAlgorithm, SignatureRequest, sign};
use ca_core::verify::{
    AlgorithmCatalogue, Indication, Outcome, Policy, Report, SubIndication, verify_bytes,
};

const DOC: &[u8] = b"Discharge letter: follow-up in two weeks.\n";

/// The fixture's trust anchor at `at`.
fn policy_at(at: u64) -> Policy {
    let mut p = Policy::new(at);
    p.trust_anchors = vec![pki().root.clone()];
    p.require_cades = true;
    p
}

/// For OpenSSL's signatures: it writes the clock's time as signingTime (it cannot be told
/// another), and a signingTime after the validation time is not TOTAL-PASSED.
fn policy() -> Policy {
    policy_at(now() + 1)
}

fn show(r: &Report) -> String {
    serde_json::to_string_pretty(r).unwrap()
}

fn pem(label: &str, der: &[u8]) -> String {
    der::pem::encode_string(label, der::pem::LineEnding::LF, der).unwrap()
}

/// `openssl cms -sign -cades -binary -nodetach` by the fixture's `alg` signer with `extra`
/// arguments (digest, padding).
fn openssl_sign(alg: &str, extra: &[&str]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = signer(alg);
    std::fs::write(d.join("doc.txt"), DOC).unwrap();
    std::fs::write(
        d.join("key.pem"),
        pem("PRIVATE KEY", &s.key.to_pkcs8().expect("software key")),
    )
    .unwrap();
    std::fs::write(d.join("cert.pem"), pem("CERTIFICATE", &s.certificate)).unwrap();
    let chain: String = s.chain.iter().map(|c| pem("CERTIFICATE", c)).collect();
    std::fs::write(d.join("chain.pem"), chain).unwrap();
    let mut args = vec![
        "cms",
        "-sign",
        "-cades",
        "-binary",
        "-nodetach",
        "-outform",
        "DER",
        "-in",
        "doc.txt",
        "-signer",
        "cert.pem",
        "-inkey",
        "key.pem",
        "-certfile",
        "chain.pem",
        "-out",
        "out.p7s",
    ];
    args.extend_from_slice(extra);
    openssl(d, &args);
    std::fs::read(d.join("out.p7s")).unwrap()
}

fn check<'a>(r: &'a Report, name: &str) -> &'a ca_core::verify::Check {
    r.signatures[0]
        .checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no {name} check: {}", show(r)))
}

/// The signature value's last octet flipped (the signature is the last field of the DER).
fn tampered(cms: &[u8]) -> Vec<u8> {
    let mut bad = cms.to_vec();
    let n = bad.len();
    bad[n - 3] ^= 1;
    bad
}

fn assert_valid_with(cms: &[u8], consistency: &str) {
    let r = verify_bytes(cms, None, &policy());
    assert!(r.is_valid(), "{}", show(&r));
    let c = check(&r, "algorithm-consistency");
    assert!(
        c.reason.contains(consistency),
        "{consistency:?} not in {:?}",
        c.reason
    );
    assert_eq!(check(&r, "algorithms").outcome, Outcome::Passed);
    // The same signature with one bit changed does not verify: a crypto failure, nothing else.
    let r = verify_bytes(&tampered(cms), None, &policy());
    assert_eq!(r.indication, Indication::TotalFailed, "{}", show(&r));
    assert_eq!(r.sub_indication, Some(SubIndication::SigCryptoFailure));
    assert_eq!(
        check(&r, "signature").reason,
        "signature value does not verify"
    );
}

/// RFC 5754 / RFC 5758: SHA-384 with a P-256 key is legal (the cms builder trap of DESIGN.md §3
/// is about signing, not verifying).
#[test]
fn openssl_cades_p256_with_sha384_verifies() {
    let cms = openssl_sign("p256", &["-md", "sha384"]);
    assert_valid_with(&cms, "SHA-384 with ECDSA with SHA-384");
}

/// OpenSSL's default PSS salt is the maximum (2048-bit key, SHA-256: 256 - 32 - 2 = 222
/// octets), which ring cannot verify.
#[test]
fn openssl_rsa_pss_with_the_default_maximum_salt_verifies() {
    let cms = openssl_sign("rsa", &["-md", "sha256", "-keyopt", "rsa_padding_mode:pss"]);
    assert_valid_with(
        &cms,
        "RSASSA-PSS with SHA-256, MGF1 SHA-256, salt 222 octets",
    );
}

#[test]
fn openssl_rsa_pss_with_salt_of_the_hash_length_verifies() {
    let cms = openssl_sign(
        "rsa",
        &[
            "-md",
            "sha384",
            "-keyopt",
            "rsa_padding_mode:pss",
            "-keyopt",
            "rsa_pss_saltlen:digest",
        ],
    );
    assert_valid_with(
        &cms,
        "RSASSA-PSS with SHA-384, MGF1 SHA-384, salt 48 octets",
    );
}

/// RSA PKCS#1 v1.5 with SHA-512 and ECDSA P-384 with SHA-256, by OpenSSL.
#[test]
fn openssl_other_hash_and_key_pairings_verify() {
    let cms = openssl_sign("rsa", &["-md", "sha512"]);
    assert_valid_with(&cms, "SHA-512 with RSA PKCS#1 v1.5 with SHA-512");
    let cms = openssl_sign("p384", &["-md", "sha256"]);
    assert_valid_with(&cms, "SHA-256 with ECDSA with SHA-256");
}

/// SHA-1 verifies cryptographically, then the catalogue refuses it today (sunset 2014-01-01),
/// naming the algorithm and date; under a catalogue without that rule it is valid.
#[test]
fn openssl_sha1_signature_is_refused_by_the_catalogue_not_by_the_crypto() {
    let cms = openssl_sign("p256", &["-md", "sha1"]);
    let r = verify_bytes(&cms, None, &policy());
    assert_eq!(r.indication, Indication::Indeterminate, "{}", show(&r));
    assert_eq!(
        r.sub_indication,
        Some(SubIndication::CryptoConstraintsFailureNoPoe)
    );
    assert_eq!(check(&r, "signature").outcome, Outcome::Passed);
    let c = check(&r, "algorithms");
    assert_eq!(c.outcome, Outcome::Failed);
    assert!(
        c.reason
            .contains("the signature verifies, but SHA-1 is not acceptable from 2014-01-01 on"),
        "{}",
        c.reason
    );
    let mut lenient = policy();
    lenient.algorithms = std::sync::Arc::new(AlgorithmCatalogue::empty());
    let r = verify_bytes(&cms, None, &lenient);
    assert!(r.is_valid(), "{}", show(&r));
    // A tampered SHA-1 signature is a crypto failure, whatever the catalogue says.
    let r = verify_bytes(&tampered(&cms), None, &policy());
    assert_eq!(r.sub_indication, Some(SubIndication::SigCryptoFailure));
}

/// Ed25519 through our own signer and verifier (OpenSSL 3.0 cannot verify Ed25519 CMS with
/// signed attributes, DESIGN.md §3).
#[test]
fn ed25519_verifies_and_passes_the_catalogue() {
    let s = signer("ed25519");
    let digest = DigestAlgorithm::for_key(&s.key).digest(DOC);
    let cms = sign(&SignatureRequest {
        attached: Some(DOC),
        ..sign_fixture::request(s, &digest)
    })
    .unwrap();
    let r = verify_bytes(&cms, None, &policy_at(SIGN_AT));
    assert!(r.is_valid(), "{}", show(&r));
    assert!(
        check(&r, "algorithms")
            .reason
            .starts_with("SHA-512, Ed25519: acceptable")
    );
}

/// An OpenSSL P-521 chain (root and signer) and `openssl cms -sign -md sha256`: RFC 5758
/// allows SHA-256 with P-521 (the hash is shorter than the order and used whole).
#[test]
fn openssl_p521_with_sha256_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("doc.txt"), DOC).unwrap();
    p521_chain(d, "sha256");
    openssl(
        d,
        &[
            "cms",
            "-sign",
            "-cades",
            "-binary",
            "-nodetach",
            "-md",
            "sha256",
            "-outform",
            "DER",
            "-in",
            "doc.txt",
            "-signer",
            "ee.pem",
            "-inkey",
            "ee.key",
            "-out",
            "out.p7s",
        ],
    );
    let cms = std::fs::read(d.join("out.p7s")).unwrap();
    let root =
        ca_core::verify::decode_certificates(&std::fs::read(d.join("root.pem")).unwrap()).unwrap();
    let mut p = Policy::new(now());
    p.trust_anchors = root;
    p.require_cades = true;
    let r = verify_bytes(&cms, None, &p);
    assert!(r.is_valid(), "{}", show(&r));
    assert!(
        check(&r, "algorithm-consistency")
            .reason
            .contains("SHA-256 with ECDSA with SHA-256"),
        "{}",
        show(&r)
    );
    assert!(check(&r, "algorithms").reason.contains("EC P-521"));
    let r = verify_bytes(&tampered(&cms), None, &p);
    assert_eq!(r.sub_indication, Some(SubIndication::SigCryptoFailure));
}

/// A path whose certificates are SHA-256 but whose CA's CRL is signed with SHA-1 (`openssl ca
/// -gencrl -md sha1`): the CRL speaks for the path, so the catalogue refuses it today, naming the
/// CRL's issuer, the algorithm and the date; without the SHA-1 rule the path is valid with that
/// CRL.
#[test]
fn a_sha1_crl_of_the_path_is_refused_by_the_catalogue() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("ee.ext"),
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
         subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
    )
    .unwrap();
    std::fs::write(
        d.join("ca.cnf"),
        "[ ca ]\ndefault_ca = CA_default\n[ CA_default ]\ndatabase = index.txt\n\
         crlnumber = crlnumber\ndefault_crl_days = 30\ncrl_extensions = crl_ext\n\
         [ crl_ext ]\nauthorityKeyIdentifier = keyid:always\n",
    )
    .unwrap();
    std::fs::write(d.join("index.txt"), "").unwrap();
    std::fs::write(d.join("crlnumber"), "01\n").unwrap();
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "root.key",
            "-subj",
            "/CN=SHA-1 CRL Root",
            "-days",
            "30",
            "-sha256",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-addext",
            "subjectKeyIdentifier=hash",
            "-out",
            "root.pem",
        ],
    );
    openssl(
        d,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ee.key",
            "-subj",
            "/CN=SHA-1 CRL Signer",
            "-out",
            "ee.csr",
        ],
    );
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "ee.csr",
            "-CA",
            "root.pem",
            "-CAkey",
            "root.key",
            "-CAcreateserial",
            "-days",
            "30",
            "-sha256",
            "-extfile",
            "ee.ext",
            "-outform",
            "DER",
            "-out",
            "ee.der",
        ],
    );
    openssl(
        d,
        &[
            "ca", "-gencrl", "-config", "ca.cnf", "-keyfile", "root.key", "-cert", "root.pem",
            "-md", "sha1", "-out", "crl.pem",
        ],
    );
    let read = |f: &str| std::fs::read(d.join(f)).unwrap();
    let mut p = Policy::new(now() + 60);
    p.trust_anchors = ca_core::verify::decode_certificates(&read("root.pem")).unwrap();
    p.crls = ca_core::verify::decode_crls(&read("crl.pem")).unwrap();
    let ee = read("ee.der");
    let r = ca_core::verify::verify_certificate(&ee, &p);
    assert_eq!(
        r.sub_indication,
        Some(SubIndication::CryptoConstraintsFailureNoPoe),
        "{}",
        show(&r)
    );
    let failure = r.signatures[0].first_failure().unwrap();
    assert!(
        failure
            .reason
            .contains("a CRL issued by CN=SHA-1 CRL Root (revocation of the path): SHA-1 is not acceptable from 2014-01-01 on"),
        "{}",
        failure.reason
    );
    p.algorithms = std::sync::Arc::new(
        AlgorithmCatalogue::from_toml(
            "test.toml",
            "title = \"no SHA-1 rule\"\n[[key]]\nfamily = \"rsa\"\nbelow_bits = 2048\n\
             sunset = 2014-01-01\nsource = \"test\"\n",
        )
        .unwrap(),
    );
    let r = ca_core::verify::verify_certificate(&ee, &p);
    assert!(r.is_valid(), "{}", show(&r));
    assert_eq!(check(&r, "revocation").outcome, Outcome::Passed);
}
