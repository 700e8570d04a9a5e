//! Shared set-up for the credential, token and signing tests: a fresh CA hierarchy in a temporary
//! sled store, and credentials made through `Authority::create_credential`.

use super::fresh_ca;

use ca_core::authority::Authority;
use ca_core::credential::{Credential, NewCredential};
use ca_core::hcrole::HcRole;
use ca_core::issue::Registration;
use ca_core::key::KeyAlgorithm;
use ca_core::profile::CaUrls;
use ca_core::store::{SledStore, Store};

/// 2026-01-01T00:00:00Z.
pub const NOW: u64 = 1_767_225_600;
pub const DAY: u64 = 86_400;
pub const JP: &str = "1.2.392.100495.1.6.1.1";
pub const ACTOR: &str = "test:ra";

pub struct Env {
    // Dropped after the authority (field order): the store lives in it.
    pub authority: Authority<SledStore>,
    pub dir: tempfile::TempDir,
}

pub fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let request = fresh_ca::request(
        "hpki Credential Tests",
        "2.25.2026112802",
        CaUrls::default(),
        NOW - DAY,
        "test:init",
    );
    let authority = fresh_ca::init(dir.path(), &[9u8; 32], request);
    Env { authority, dir }
}

pub fn jp(text: &str) -> HcRole {
    HcRole {
        scheme: const_oid::ObjectIdentifier::new(JP).unwrap(),
        code: None,
        text: Some(text.to_owned()),
    }
}

pub fn registration(profile: &str, subject: &str, roles: &[&str]) -> Registration {
    Registration {
        profile: profile.to_owned(),
        subject: ca_core::name::parse_subject(subject).unwrap(),
        sans: vec![],
        hc_roles: roles.iter().map(|r| jp(r)).collect(),
        validity_days: Some(365),
    }
}

pub fn request(owner: &str, registration: Registration, key: KeyAlgorithm) -> NewCredential {
    NewCredential {
        owner: Some(owner.to_owned()),
        registration,
        key_algorithm: key,
    }
}

/// A Medical Doctor's rhp-sign credential owned by `owner`.
pub fn doctor(env: &Env, owner: &str) -> Credential {
    person(env, owner, "Medical Doctor", KeyAlgorithm::P256)
}

/// An rhp-sign credential with one JP role.
pub fn person(env: &Env, owner: &str, role: &str, key: KeyAlgorithm) -> Credential {
    let subject = format!("C=JP,O=hpki Test Hospital,CN={owner},serialNumber={owner}");
    env.authority
        .create_credential(
            &request(owner, registration("rhp-sign", &subject, &[role]), key),
            NOW,
            ACTOR,
        )
        .unwrap()
}

/// The hospital's seal (org-seal, no hcRole).
pub fn seal(env: &Env, owner: &str) -> Credential {
    env.authority
        .create_credential(
            &request(
                owner,
                registration(
                    "org-seal",
                    &format!(
                        "C=JP,O=hpki Test Hospital,CN=hpki Test Hospital Seal,serialNumber={owner}"
                    ),
                    &[],
                ),
                KeyAlgorithm::P256,
            ),
            NOW,
            ACTOR,
        )
        .unwrap()
}

pub fn audit_len(env: &Env) -> usize {
    env.authority.store().audit_log().unwrap().len()
}

pub fn sha256(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .to_vec()
}
