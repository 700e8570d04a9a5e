//! Shared by the `sign_*` tests: a real CA built with the engine, `rhp-sign` certificates (JP hcRole
//! "Medical Doctor") for each key algorithm, and helpers to decode what `sign` returns.

use super::fresh_ca;

use ca_core::hcrole::HcRole;
use ca_core::issue::Registration;
use ca_core::key::{KeyAlgorithm, SigningKey};
use ca_core::sign::SignatureRequest;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerInfo};
use const_oid::ObjectIdentifier;
use der::{Decode, Encode};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// 2026-01-01T00:00:00Z: certificates are issued then, valid for five years.
pub const NOW: u64 = 1_767_225_600;
/// When the tests sign and OpenSSL verifies (`-attime`).
pub const SIGN_AT: u64 = NOW + 3_600;
pub const JP: &str = "1.2.392.100495.1.6.1.1";

pub struct Signer {
    pub key: SigningKey,
    pub certificate: Vec<u8>,
    /// Issuing CA first, root last.
    pub chain: Vec<Vec<u8>>,
}

pub struct Pki {
    pub root: Vec<u8>,
    pub signers: BTreeMap<&'static str, Signer>,
}

pub const ALGORITHMS: [&str; 4] = ["p256", "p384", "ed25519", "rsa"];

/// Built once per test binary.
pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(build)
}

pub fn signer(alg: &str) -> &'static Signer {
    &pki().signers[alg]
}

fn build() -> Pki {
    let tmp = tempfile::tempdir().unwrap();
    let request = fresh_ca::request(
        "hpki Sign Tests",
        "2.25.2026112802",
        fresh_ca::invalid_urls(),
        NOW,
        "sign-tests",
    );
    let authority = fresh_ca::init(tmp.path(), &[7u8; 32], request);
    let mut signers = BTreeMap::new();
    for (i, alg) in ALGORITHMS.into_iter().enumerate() {
        let key = match alg {
            "p256" => SigningKey::generate(KeyAlgorithm::P256).unwrap(),
            "p384" => SigningKey::generate(KeyAlgorithm::P384).unwrap(),
            "ed25519" => SigningKey::generate(KeyAlgorithm::Ed25519).unwrap(),
            _ => SigningKey::from_pkcs8(include_bytes!("../data/rsa2048.pk8.der")).unwrap(),
        };
        let csr = fresh_ca::csr(&key);
        let subject = format!("C=JP,O=hpki Sign Hospital,CN=Hanako Sato,serialNumber=S-{i:04}");
        let registration = Registration {
            profile: "rhp-sign".into(),
            subject: ca_core::name::parse_subject(&subject).unwrap(),
            sans: vec![],
            hc_roles: vec![HcRole {
                scheme: ObjectIdentifier::new(JP).unwrap(),
                code: None,
                text: Some("Medical Doctor".into()),
            }],
            // The profile's five years: OpenSSL signs at the real clock (verify_interop.rs).
            validity_days: Some(1827),
        };
        let issued = authority
            .issue(&registration, &csr, NOW, "sign-tests")
            .unwrap();
        // The chain up to (not including) the trust anchor.
        let chain: Vec<Vec<u8>> = issued.chain.clone();
        signers.insert(
            alg,
            Signer {
                key,
                certificate: issued.certificate,
                chain,
            },
        );
    }
    Pki {
        root: authority.ca_certificate("root").unwrap().to_vec(),
        signers,
    }
}

/// The plainest request to sign `digest` as `s`: at [`SIGN_AT`], detached, no commitment type
/// or claimed role; tests set the fields they exercise.
pub fn request<'a>(s: &'a Signer, digest: &'a [u8]) -> SignatureRequest<'a> {
    SignatureRequest {
        key: &s.key,
        certificate: &s.certificate,
        chain: &s.chain,
        digest,
        signing_time: SIGN_AT,
        commitment_type: None,
        claimed_role: None,
        attached: None,
    }
}

/// SHA-256/384/512 (whichever the key uses) of `data`, with ring.
pub fn digest_for(key: &SigningKey, data: &[u8]) -> Vec<u8> {
    let alg = match ca_core::sign::DigestAlgorithm::for_key(key) {
        ca_core::sign::DigestAlgorithm::Sha256 => &ring::digest::SHA256,
        ca_core::sign::DigestAlgorithm::Sha384 => &ring::digest::SHA384,
        ca_core::sign::DigestAlgorithm::Sha512 => &ring::digest::SHA512,
        other => panic!("hpki keys never sign with {other}"),
    };
    ring::digest::digest(alg, data).as_ref().to_vec()
}

/// Decodes `ContentInfo` → `SignedData`, checking the content type is id-signedData.
pub fn signed_data(der: &[u8]) -> SignedData {
    let info = ContentInfo::from_der(der).unwrap();
    assert_eq!(info.content_type, ca_core::oid::ID_SIGNED_DATA);
    info.content.decode_as::<SignedData>().unwrap()
}

pub fn only_signer(sd: &SignedData) -> &SignerInfo {
    assert_eq!(sd.signer_infos.0.len(), 1);
    sd.signer_infos.0.get(0).unwrap()
}

/// The single value of signed attribute `oid`; panics when absent or multi-valued.
pub fn attribute(si: &SignerInfo, oid: ObjectIdentifier) -> der::Any {
    let attrs = si.signed_attrs.as_ref().expect("signed attributes");
    let found: Vec<_> = attrs.iter().filter(|a| a.oid == oid).collect();
    assert_eq!(
        found.len(),
        1,
        "attribute {oid} appears {} times",
        found.len()
    );
    assert_eq!(
        found[0].values.len(),
        1,
        "attribute {oid} must be single-valued"
    );
    found[0].values.get(0).unwrap().clone()
}

pub fn has_attribute(si: &SignerInfo, oid: ObjectIdentifier) -> bool {
    si.signed_attrs
        .as_ref()
        .is_some_and(|attrs| attrs.iter().any(|a| a.oid == oid))
}

/// Checks the SignerInfo's signature over the DER of the signed attributes SET (RFC 5652 §5.4)
/// with our ring-based verifier and the public key of `certificate`.
pub fn verify_signer_info(
    si: &SignerInfo,
    certificate: &[u8],
) -> Result<(), ca_core::key::KeyError> {
    let cert = x509_cert::Certificate::from_der(certificate).unwrap();
    let signed = si.signed_attrs.as_ref().unwrap().to_der().unwrap();
    ca_core::key::verify(
        cert.tbs_certificate().subject_public_key_info(),
        &si.signature_algorithm,
        &signed,
        si.signature.as_bytes(),
    )
}

pub fn pem(der: &[u8]) -> String {
    der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, der).unwrap()
}
