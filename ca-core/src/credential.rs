//! Server-held signing credentials and document signing (DESIGN.md §4, sign flow): the key is made
//! in the service, its certificate issued through the same profile checks as any other, the key
//! sealed at rest; signing checks ownership, validity, revocation and the role gate, and audits
//! before returning.

use crate::authority::{Authority, AuthorityError};
use crate::hcrole::HcRole;
use crate::issue::Registration;
use crate::key::KeyAlgorithm;
use crate::purpose::{PurposeError, SigningPolicy};
use crate::sign::{DigestAlgorithm, SignError};
use crate::store::{Store, StoreError};

/// A credential as callers see it (never the key).
#[derive(Clone, Debug)]
pub struct Credential {
    pub id: String,
    pub owner: String,
    pub profile: String,
    pub serial: Vec<u8>,
    /// DER of the certificate, then its chain (issuing CA first, root last).
    pub certificate: Vec<u8>,
    pub chain: Vec<Vec<u8>>,
    pub hc_roles: Vec<HcRole>,
    pub key_algorithm: KeyAlgorithm,
    /// Unix seconds.
    pub not_after: u64,
}

/// A request to create a credential.
#[derive(Clone, Debug)]
pub struct NewCredential {
    /// Practitioner identity that will own it.
    pub owner: String,
    /// Subject, hcRole and profile (a signing profile: rhp-sign, org-seal, …).
    pub registration: Registration,
    pub key_algorithm: KeyAlgorithm,
}

/// A request to sign one document.
#[derive(Clone, Debug)]
pub struct SignDocument<'a> {
    pub credential: &'a str,
    /// The authenticated practitioner; must own the credential.
    pub caller: &'a str,
    pub digest: &'a [u8],
    pub digest_algorithm: DigestAlgorithm,
    /// Purpose name (see `SigningPolicy::purposes`).
    pub purpose: &'a str,
    pub claimed_role: Option<&'a str>,
    /// Encapsulate this content; `None` for a detached signature.
    pub attached: Option<&'a [u8]>,
}

/// A signature made.
#[derive(Clone, Debug)]
pub struct Signed {
    /// DER ContentInfo (SignedData).
    pub cms: Vec<u8>,
    pub serial: Vec<u8>,
    pub audit_seq: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("no credential {0:?}")]
    NotFound(String),
    #[error("credential {0:?} belongs to another practitioner")]
    NotOwner(String),
    #[error("the certificate of credential {0:?} is revoked")]
    Revoked(String),
    #[error("the certificate of credential {0:?} is expired or not yet valid")]
    OutOfValidity(String),
    #[error("profile {0} is not a document-signing profile (keyUsage lacks nonRepudiation)")]
    NotSigningProfile(String),
    #[error("credential key needs a {want:?} digest, got {got:?}")]
    DigestAlgorithm {
        want: DigestAlgorithm,
        got: DigestAlgorithm,
    },
    #[error(transparent)]
    Purpose(#[from] PurposeError),
    #[error(transparent)]
    Sign(#[from] SignError),
    #[error(transparent)]
    Authority(#[from] AuthorityError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl<S: Store> Authority<S> {
    /// Generates a key in the service, issues its certificate under the registration's profile,
    /// seals the key and stores certificate, credential and audit record in one write.
    pub fn create_credential(
        &self,
        request: &NewCredential,
        now: u64,
        actor: &str,
    ) -> Result<Credential, CredentialError> {
        let _ = (request, now, actor);
        todo!()
    }

    pub fn credential(&self, id: &str) -> Result<Credential, CredentialError> {
        let _ = id;
        todo!()
    }

    /// Credentials owned by `owner`.
    pub fn credentials_of(&self, owner: &str) -> Result<Vec<Credential>, CredentialError> {
        let _ = owner;
        todo!()
    }

    /// Signs a document digest with a credential after every check; the audit record (credential,
    /// serial, digest, purpose, caller, time — never content) is durable before this returns.
    pub fn sign_document(
        &self,
        policy: &SigningPolicy,
        request: &SignDocument<'_>,
        now: u64,
        actor: &str,
    ) -> Result<Signed, CredentialError> {
        let _ = (policy, request, now, actor);
        todo!()
    }
}
