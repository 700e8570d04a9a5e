//! Where the authority makes and finds its private keys: sealed PKCS#8 in the store (software),
//! or a PKCS#11 token, of which the store keeps only a [`Pkcs11KeyRef`] (issue 16).
//!
//! The token is opened by the caller from its configuration (module, token label, PIN), never
//! from the store: `Pkcs11Token::key` refuses a reference naming another module or token, so a
//! store edited to point elsewhere opens nothing.

use super::{Authority, AuthorityError};
use crate::engine::key::{KeyAlgorithm, KeyError, Pkcs11KeyRef, Pkcs11Token, SigningKey};
use crate::engine::seal::Sealer;
use crate::engine::store::Store;

/// Where new keys are made and stored keys are found.
#[derive(Clone, Debug, Default)]
pub enum KeyBackend {
    /// Keys generated in the service and stored sealed (PKCS#8 under the master secret).
    #[default]
    Software,
    /// CA, TSA and OCSP responder keys generated in this token; the store holds references.
    Pkcs11 {
        /// The token, opened (and logged in) by the caller.
        token: Pkcs11Token,
        /// Practitioner credential keys are generated in the token too (else sealed).
        credentials: bool,
    },
}

/// Where one stored key is, for listings (`signer-api keys list`): never key material.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyLocation {
    /// PKCS#8 sealed in the store.
    Sealed,
    /// In a PKCS#11 token.
    Pkcs11(Pkcs11KeyRef),
}

/// A key of the installation and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyEntry {
    /// What it signs for: `ca:<id>`, `tsa`, `ocsp:<ca>`.
    pub role: String,
    /// Its algorithm.
    pub algorithm: KeyAlgorithm,
    /// Where it is.
    pub location: KeyLocation,
}

impl KeyBackend {
    /// The token, when keys are made in one.
    pub fn token(&self) -> Option<&Pkcs11Token> {
        match self {
            Self::Software => None,
            Self::Pkcs11 { token, .. } => Some(token),
        }
    }

    /// A new CA, TSA or OCSP responder key: in the token (labelled `hpki <role> <random>`, so a
    /// token shared by installations, or keys left by a failed init, never clash) or in software.
    pub(crate) fn generate(
        &self,
        algorithm: KeyAlgorithm,
        role: &str,
    ) -> Result<SigningKey, AuthorityError> {
        match self {
            Self::Software => Ok(SigningKey::generate(algorithm)?),
            Self::Pkcs11 { token, .. } => Ok(token.generate(algorithm, &label(role)?)?),
        }
    }

    /// A new practitioner credential key: in the token when `credentials` says so.
    pub(crate) fn generate_credential(
        &self,
        algorithm: KeyAlgorithm,
        id: &str,
    ) -> Result<SigningKey, KeyError> {
        match self {
            Self::Pkcs11 {
                token,
                credentials: true,
            } => token.generate(algorithm, &format!("hpki credential {id}")),
            _ => SigningKey::generate(algorithm),
        }
    }

    /// Opens a stored key: `reference` through the token, else the sealed PKCS#8.
    pub(crate) fn open(
        &self,
        sealer: &Sealer,
        sealed: &[u8],
        reference: Option<&Pkcs11KeyRef>,
        context: &[u8],
    ) -> Result<SigningKey, AuthorityError> {
        let Some(reference) = reference else {
            return Ok(SigningKey::from_pkcs8(&sealer.open(sealed, context)?)?);
        };
        match self {
            Self::Pkcs11 { token, .. } => Ok(token.key(reference)?),
            Self::Software => Err(AuthorityError::Config(format!(
                "key {:?} is in PKCS#11 token {:?} of {}: configure that token ([keys] backend = \
                 \"pkcs11\")",
                reference.label,
                reference.token,
                reference.module.display()
            ))),
        }
    }
}

/// What to store for `key`: its sealed PKCS#8 (software), or its reference (token), never both.
pub(crate) fn stored(
    sealer: &Sealer,
    key: &SigningKey,
    context: &[u8],
) -> Result<(Vec<u8>, Option<Pkcs11KeyRef>), AuthorityError> {
    match key.pkcs11_ref() {
        Some(reference) => Ok((Vec::new(), Some(reference.clone()))),
        None => Ok((sealer.seal(&key.to_pkcs8()?, context)?, None)),
    }
}

/// `hpki <role> <8 random hex digits>`.
fn label(role: &str) -> Result<String, AuthorityError> {
    let suffix: [u8; 4] = Sealer::random_bytes()?;
    Ok(format!("hpki {role} {}", hex::encode(suffix)))
}

/// The message [`Authority::probe_keys`] signs: never published, never a certificate or CRL.
const PROBE_MESSAGE: &[u8] = b"hpki key backend probe";

impl<S: Store> Authority<S> {
    /// Where new keys are made and stored keys are found.
    pub fn key_backend(&self) -> &KeyBackend {
        &self.keys
    }

    /// Every key the authority holds open (CAs, TSA, OCSP responders) and where it is: for
    /// listings, no key material.
    pub fn key_inventory(&self) -> Vec<KeyEntry> {
        let entry = |role: String, key: &SigningKey| KeyEntry {
            role,
            algorithm: key.algorithm(),
            location: match key.pkcs11_ref() {
                Some(r) => KeyLocation::Pkcs11(r.clone()),
                None => KeyLocation::Sealed,
            },
        };
        let mut out: Vec<KeyEntry> = self
            .cas
            .iter()
            .map(|(id, ca)| entry(format!("ca:{id}"), &ca.key))
            .collect();
        if let Some(tsa) = &self.tsa {
            out.push(entry("tsa".to_owned(), tsa.key()));
        }
        let responders = self.responders.read().unwrap_or_else(|e| e.into_inner());
        out.extend(
            responders
                .iter()
                .map(|(ca, r)| entry(format!("ocsp:{ca}"), r.key())),
        );
        out
    }

    /// Whether the token holding the keys answers now: one signature by a token-held CA key over
    /// a fixed message (a session that merely exists proves nothing: SoftHSM, its token gone,
    /// still hands out pooled sessions). `Ok` at once with software keys.
    pub fn probe_keys(&self) -> Result<(), KeyError> {
        let Some(key) = self
            .cas
            .values()
            .map(|ca| &ca.key)
            .find(|k| k.pkcs11_ref().is_some())
        else {
            return Ok(());
        };
        key.sign(PROBE_MESSAGE).map(drop)
    }
}
