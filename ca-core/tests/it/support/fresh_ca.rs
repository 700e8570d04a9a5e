//! The CA set-up the test fixtures share (`pki_authority`, `sign_fixture`, `credential`, and
//! `signer-api`'s and `verifier-cli`'s tests through `#[path]`):
//! a P-256 hierarchy's init request, `Authority::init` on a sled store in a directory with the
//! embedded profiles, and the CSRs the tests issue from (the CA ignores their subject).
#![allow(dead_code)] // the crates that include this file each use a part

use ca_core::authority::{Authority, AuthorityConfig, InitRequest, SerialSource};
use ca_core::key::{KeyAlgorithm, RawSignature, SigningKey};
use ca_core::profile::{CaUrls, ProfileSet};
use ca_core::seal::Sealer;
use ca_core::store::SledStore;
use std::collections::BTreeMap;
use std::path::Path;
use x509_cert::builder::{Builder, RequestBuilder};
use x509_cert::der::Encode;

/// The service's URL layout under a reserved name (RFC 6761 `.invalid`).
pub fn invalid_urls() -> CaUrls {
    CaUrls::published_at("http://hpki.invalid")
}

/// Generated P-256 CA keys, random serials, CRLs valid 7 days, no further settings.
pub fn request(
    organization: &str,
    policy_arc: &str,
    urls: CaUrls,
    now: u64,
    actor: &str,
) -> InitRequest {
    InitRequest {
        key_algorithm: KeyAlgorithm::P256,
        imported_keys: BTreeMap::new(),
        allow_software_ca_keys: false,
        organization: organization.into(),
        country: "JP".into(),
        config: AuthorityConfig {
            policy_arc: policy_arc.into(),
            urls,
            crl_validity_days: 7,
            tsa_policy: None,
        },
        settings: vec![],
        now,
        actor: actor.into(),
        serials: SerialSource::Random,
    }
}

/// `init` on a new sled store at `dir/store`, keys sealed under `seal_key`.
pub fn init(dir: &Path, seal_key: &[u8; 32], request: InitRequest) -> Authority<SledStore> {
    let store = SledStore::open(&dir.join("store")).unwrap();
    Authority::init(
        store,
        ProfileSet::embedded().unwrap(),
        Sealer::from_key(seal_key),
        request,
    )
    .unwrap()
}

/// A PKCS#10 request (DER) signed by `key`.
pub fn csr(key: &SigningKey) -> Vec<u8> {
    RequestBuilder::new(ca_core::name::parse_subject("CN=ignored").unwrap())
        .unwrap()
        .build::<_, RawSignature>(key)
        .unwrap()
        .to_der()
        .unwrap()
}
