//! Private keys at rest: AES-256-GCM under a key-encryption key that comes from a passphrase
//! (Argon2id) or from a random key file. The edge reads the passphrase or file; this module only
//! transforms bytes.

/// Length of a key-encryption key, and of a demo key file's contents.
pub const KEK_LEN: usize = 32;
/// Length of the Argon2 salt kept beside the data.
pub const SALT_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("key derivation failed")]
    Kdf,
    #[error("sealed data is malformed")]
    Malformed,
    #[error("cannot decrypt: wrong passphrase or key file, or the data was altered")]
    Open,
    #[error("encryption failed")]
    Seal,
}

/// Holds a key-encryption key. `Debug` never shows it; it is zeroized on drop.
pub struct Sealer {
    _private: (),
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    /// Argon2id(passphrase, salt) → KEK.
    pub fn from_passphrase(passphrase: &[u8], salt: &[u8; SALT_LEN]) -> Result<Self, SealError> {
        let _ = (passphrase, salt);
        todo!()
    }
    /// A KEK read from a key file.
    pub fn from_key(key: &[u8; KEK_LEN]) -> Self {
        let _ = key;
        todo!()
    }
    /// Fresh random bytes for a new key file or salt.
    pub fn random_bytes<const N: usize>() -> Result<[u8; N], SealError> {
        todo!()
    }
    /// Encrypts with a fresh random nonce; `context` is bound as associated data (e.g. the CA id), so a
    /// sealed blob moved to another record fails to open.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>, SealError> {
        let _ = (plaintext, context);
        todo!()
    }
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<zeroize::Zeroizing<Vec<u8>>, SealError> {
        let _ = (sealed, context);
        todo!()
    }
}
