//! A signer with their own key (not held by any service): a fresh CA made with the engine
//! (`ca-core/tests/it/support/fresh_ca.rs`), an `rhp-sign` certificate with a JP hcRole for a key
//! generated here, and CAdES signatures made with `ca_core::sign` at times the test chooses.
#![allow(dead_code)] // each test binary uses a different part

#[path = "../../../ca-core/tests/it/support/fresh_ca.rs"]
pub mod fresh_ca;

use ca_core::authority::Authority;
use ca_core::hcrole::HcRole;
use ca_core::issue::Registration;
use ca_core::key::{KeyAlgorithm, SigningKey};
use ca_core::profile::CaUrls;
use ca_core::purpose::SigningPolicy;
use ca_core::sign::{DigestAlgorithm, SignatureRequest};
use ca_core::store::SledStore;
use std::path::{Path, PathBuf};

/// 2026-01-01T00:00:00Z: the CA and the certificate are made then.
pub const NOW: u64 = 1_767_225_600;
pub const HOUR: u64 = 3_600;
pub const JP: &str = "1.2.392.100495.1.6.1.1";

pub struct OwnKey {
    // Dropped before the directory (field order): the store lives in it.
    pub authority: Authority<SledStore>,
    pub key: SigningKey,
    pub certificate: Vec<u8>,
    /// Issuing CA first, root last.
    pub chain: Vec<Vec<u8>>,
    pub serial: Vec<u8>,
    pub dir: tempfile::TempDir,
}

/// A fresh CA and an `rhp-sign` certificate with hcRole `role` (JP vocabulary), issued at
/// [`NOW`] for a P-256 key generated here.
pub fn signer(role: &str) -> OwnKey {
    let dir = tempfile::tempdir().unwrap();
    let request = fresh_ca::request(
        "hpki Own Key Tests",
        "2.25.2026120701",
        CaUrls::default(),
        NOW,
        "test:init",
    );
    let authority = fresh_ca::init(dir.path(), &[5u8; 32], request);
    let key = SigningKey::generate(KeyAlgorithm::P256).unwrap();
    let registration = Registration {
        profile: "rhp-sign".into(),
        subject: ca_core::name::parse_subject(
            "C=JP,O=hpki Own Key Pharmacy,CN=Jiro Suzuki,serialNumber=P-0001",
        )
        .unwrap(),
        sans: vec![],
        hc_roles: vec![HcRole {
            scheme: JP.parse().unwrap(),
            code: None,
            text: Some(role.into()),
        }],
        validity_days: Some(365),
    };
    let issued = authority
        .issue(&registration, &fresh_ca::csr(&key), NOW, "test:ra")
        .unwrap();
    OwnKey {
        authority,
        key,
        certificate: issued.certificate,
        chain: issued.chain,
        serial: issued.serial,
        dir,
    }
}

impl OwnKey {
    /// An attached CAdES signature of `document` for `purpose` (a name of the shipped signing
    /// policy), claiming signingTime `at`.
    pub fn sign(&self, document: &[u8], purpose: &str, at: u64) -> Vec<u8> {
        let purpose = SigningPolicy::embedded()
            .unwrap()
            .purpose(purpose)
            .unwrap()
            .oid;
        let digest = DigestAlgorithm::for_key(&self.key).digest(document);
        ca_core::sign::sign(&SignatureRequest {
            key: &self.key,
            certificate: &self.certificate,
            chain: &self.chain,
            digest: &digest,
            signing_time: at,
            commitment_type: Some(purpose),
            claimed_role: None,
            attached: Some(document),
        })
        .unwrap()
    }

    /// Writes `bytes` as `name` in the test directory.
    pub fn save(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// The root certificate, saved as `root.der`.
    pub fn root(&self) -> PathBuf {
        self.save("root.der", self.authority.ca_certificate("root").unwrap())
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}
