//! What the fuzz targets share: the relying party's policy over the committed vectors.
#![forbid(unsafe_code)]

use ca_core::verify::{self, Policy};
use std::sync::OnceLock;

/// `validation_time` of `test-vectors/pki/manifest.toml` (2026-01-01T03:00:00Z): every vector
/// certificate and CRL is current then, so the fuzzer reaches path validation and revocation.
pub const VECTORS_TIME: u64 = 1_767_236_400;

/// Anchors = the vectors' root, pool = their intermediate CAs, CRLs = all three of theirs.
pub fn vector_policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        let certs = |pem: &[u8]| verify::decode_certificates(pem).expect("vector certificate");
        let crls = |pem: &[u8]| verify::decode_crls(pem).expect("vector CRL");
        let mut policy = Policy::new(VECTORS_TIME);
        policy.trust_anchors = certs(include_bytes!("../../test-vectors/pki/ca/root.pem"));
        policy.cert_pool = [
            certs(include_bytes!("../../test-vectors/pki/ca/sign.pem")),
            certs(include_bytes!("../../test-vectors/pki/ca/auth.pem")),
        ]
        .concat();
        policy.crls = [
            crls(include_bytes!("../../test-vectors/pki/crl/root.crl")),
            crls(include_bytes!("../../test-vectors/pki/crl/sign.crl")),
            crls(include_bytes!("../../test-vectors/pki/crl/auth.crl")),
        ]
        .concat();
        policy
    })
}

/// A current, unrevoked signing certificate of the vectors (DER).
pub fn rhp_sign() -> &'static [u8] {
    static DER: OnceLock<Vec<u8>> = OnceLock::new();
    DER.get_or_init(|| {
        let pem = include_bytes!("../../test-vectors/pki/rhp-sign.pem");
        verify::decode_certificates(pem)
            .expect("vector certificate")
            .remove(0)
    })
}
