//! Signing keys: ring backend (PKCS#11 may follow), plus adapters to the RustCrypto builder traits.

use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use std::fmt;

/// Key algorithms hpki generates or imports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyAlgorithm {
    P256,
    P384,
    Ed25519,
    /// Imported only: ring cannot generate RSA keys.
    Rsa,
}

/// Algorithm and size of a public key, as profiles constrain them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyParams {
    pub algorithm: KeyAlgorithm,
    /// Modulus bits for RSA, curve bits for EC, 256 for Ed25519.
    pub bits: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("unsupported key algorithm: {0}")]
    Unsupported(String),
    #[error("malformed key")]
    Malformed,
    #[error("signature does not verify")]
    BadSignature,
    #[error("key generation failed")]
    Generation,
    #[error("signing failed")]
    Signing,
}

/// A private signing key. Its `Debug` output never shows key material.
pub struct SigningKey {
    _private: (),
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey").finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a key (P-256, P-384, Ed25519). RSA is refused with `Unsupported`.
    pub fn generate(algorithm: KeyAlgorithm) -> Result<Self, KeyError> {
        let _ = algorithm;
        todo!()
    }
    /// Imports a PKCS#8 private key (RSA ≥ 2048, P-256, P-384, Ed25519 v1 or v2).
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, KeyError> {
        let _ = der;
        todo!()
    }
    /// The PKCS#8 DER, for sealing at rest only.
    pub fn to_pkcs8(&self) -> zeroize::Zeroizing<Vec<u8>> {
        todo!()
    }
    pub fn algorithm(&self) -> KeyAlgorithm {
        todo!()
    }
    pub fn params(&self) -> KeyParams {
        todo!()
    }
    pub fn public_key_info(&self) -> &SubjectPublicKeyInfoOwned {
        todo!()
    }
    /// The signature algorithm this key signs with: ecdsa-with-SHA256 (P-256), ecdsa-with-SHA384
    /// (P-384), Ed25519, sha256WithRSAEncryption (RSA).
    pub fn signature_algorithm(&self) -> AlgorithmIdentifierOwned {
        todo!()
    }
    /// Signs `message` (ECDSA signatures are DER-encoded as X.509 and CMS expect).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let _ = message;
        todo!()
    }
}

/// Algorithm and size of `spki`; `Unsupported` for anything hpki cannot verify.
pub fn key_params(spki: &SubjectPublicKeyInfoOwned) -> Result<KeyParams, KeyError> {
    let _ = spki;
    todo!()
}

/// Verifies `signature` over `message` by the key in `spki` under `algorithm`
/// (RSA PKCS#1 v1.5 and PSS with SHA-256/384/512, ECDSA P-256/P-384 with SHA-256/384, Ed25519).
pub fn verify(
    spki: &SubjectPublicKeyInfoOwned,
    algorithm: &AlgorithmIdentifierOwned,
    message: &[u8],
    signature: &[u8],
) -> Result<(), KeyError> {
    let _ = (spki, algorithm, message, signature);
    todo!()
}
