//! What the fuzz targets share: the relying party's policy over the committed vectors.
#![forbid(unsafe_code)]

use ca_core::authority::{Authority, AuthorityConfig, InitRequest, SerialSource};
use ca_core::key::{KeyAlgorithm, SigningKey};
use ca_core::profile::{CaUrls, ProfileSet};
use ca_core::seal::Sealer;
use ca_core::store::SledStore;
use ca_core::verify::{self, Policy};
use std::collections::BTreeMap;
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

/// An authority with the vectors' CA keys, names and time (as `ca-core`'s vectors fixture makes
/// it), in a fresh sled store under the temp directory: OCSP CertIDs of the vector certificates
/// name its CAs, so requests reach the status lookup and signing, not only the parser.
pub fn vector_authority() -> &'static Authority<SledStore> {
    static AUTHORITY: OnceLock<Authority<SledStore>> = OnceLock::new();
    AUTHORITY.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("hpki-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = SledStore::open(&dir).expect("fuzz store");
        let key = |der: &[u8]| SigningKey::from_pkcs8(der).expect("vector CA key");
        let imported = BTreeMap::from([
            (
                "root".to_owned(),
                key(include_bytes!("../../test-vectors/pki/keys/root.p8")),
            ),
            (
                "sign".to_owned(),
                key(include_bytes!("../../test-vectors/pki/keys/sign.p8")),
            ),
            (
                "auth".to_owned(),
                key(include_bytes!("../../test-vectors/pki/keys/auth.p8")),
            ),
        ]);
        let request = InitRequest {
            key_algorithm: KeyAlgorithm::P256,
            imported_keys: imported,
            allow_software_ca_keys: false,
            organization: "hpki Test Vectors".into(),
            country: "JP".into(),
            config: AuthorityConfig {
                policy_arc: "2.25.2026112801".into(),
                urls: CaUrls::published_at("http://hpki.invalid"),
                crl_validity_days: 7,
                tsa_policy: None,
            },
            settings: vec![],
            now: VECTORS_TIME - 10_800,
            actor: "fuzz".into(),
            serials: SerialSource::Derived([0x17; 32]),
        };
        let profiles = ProfileSet::embedded().expect("shipped profiles load");
        Authority::init(store, profiles, Sealer::from_key(&[7; 32]), request).expect("fuzz init")
    })
}
