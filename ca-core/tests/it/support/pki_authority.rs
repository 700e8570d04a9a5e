//! The authority behind `test-vectors/pki/`, rebuilt from its fixed keys at its fixed time:
//! `vectors.rs` issues the pki vectors with it and `cms_vectors.rs` issues the extra signers of
//! `test-vectors/cms/` under the same CA certificates.

use super::fresh_ca;

use ca_core::authority::{Authority, InitRequest, SerialSource};
use ca_core::key::{KeyAlgorithm, SigningKey};
use ca_core::profile::{CaUrls, ProfileSet};
use ca_core::seal::Sealer;
use ca_core::store::SledStore;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// 2026-01-01T00:00:00Z.
pub const NOW: u64 = 1_767_225_600;
pub const REVOKED_AT: u64 = NOW + 3_600;
/// The invalidity date of the revoked vector (keyCompromise).
pub const INVALID_SINCE: u64 = NOW + 60;
pub const CRL_AT: u64 = NOW + 7_200;
/// Inside every certificate's and CRL's validity: the time to validate vectors at.
pub const CHECK_AT: u64 = NOW + 10_800;
pub const JP: &str = "1.2.392.100495.1.6.1.1";

pub fn pki_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-vectors/pki")
}

pub fn writing() -> bool {
    std::env::var_os("HPKI_WRITE_VECTORS").is_some()
}

/// The fixed key `dir/keys/{name}.p8`; with HPKI_WRITE_VECTORS a missing one is created once, its
/// algorithm taken from the name (`ee-p384*`, `ee-ed25519*`, `ee-rsa2048*`, else P-256).
pub fn fixed_key(dir: &Path, name: &str) -> SigningKey {
    let path = dir.join("keys").join(format!("{name}.p8"));
    if !path.exists() && writing() {
        let key = if name.starts_with("ee-rsa2048") {
            SigningKey::generate_rsa(2048)
        } else if name.starts_with("ee-p384") {
            SigningKey::generate(KeyAlgorithm::P384)
        } else if name.starts_with("ee-ed25519") {
            SigningKey::generate(KeyAlgorithm::Ed25519)
        } else {
            SigningKey::generate(KeyAlgorithm::P256)
        }
        .unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, key.to_pkcs8().expect("software key").as_slice()).unwrap();
    }
    let der = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    SigningKey::from_pkcs8(&der).unwrap()
}

/// `init` with the RSA-3072 CA keys of `test-vectors/pki/keys`, at [`NOW`], with derived serials:
/// the same CA certificates every time.
pub fn authority(store: SledStore, profiles: ProfileSet) -> Authority<SledStore> {
    let mut imported = BTreeMap::new();
    for ca in ["root", "sign", "auth"] {
        imported.insert(ca.to_owned(), fixed_key(&pki_dir(), ca));
    }
    Authority::init(
        store,
        profiles,
        Sealer::from_key(&[7u8; 32]),
        InitRequest {
            imported_keys: imported,
            allow_software_ca_keys: false,
            serials: SerialSource::Derived([0x17u8; 32]),
            // A fixed demo arc for the vectors only (see `signer-api init` on 2.25 arcs).
            ..fresh_ca::request(
                "hpki Test Vectors",
                "2.25.2026112801",
                // Without the OCSP URL the layout gained with the responder: the vectors (and
                // every CMS vector over them) stay byte-identical; `ocsp::` tests the AIA entry.
                CaUrls {
                    ocsp: None,
                    ..fresh_ca::invalid_urls()
                },
                NOW,
                "vectors",
            )
        },
    )
    .unwrap()
}

pub fn rfc3339(unix: u64) -> String {
    x509_cert::der::DateTime::from_unix_duration(std::time::Duration::from_secs(unix))
        .unwrap()
        .to_string()
}
