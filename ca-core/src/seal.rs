//! Private keys at rest: AES-256-GCM under a key-encryption key that comes from a passphrase
//! (Argon2id) or from a random key file. The edge reads the passphrase or file; this module only
//! transforms bytes.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

/// Length of a key-encryption key, and of a demo key file's contents.
pub const KEK_LEN: usize = 32;
/// Length of the Argon2 salt kept beside the data.
pub const SALT_LEN: usize = 16;

/// Why sealing or opening failed. No variant carries key material.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// Argon2id failed (its parameters).
    #[error("key derivation failed")]
    Kdf,
    /// Not a sealed blob of this format.
    #[error("sealed data is malformed")]
    Malformed,
    /// Does not decrypt: wrong secret, wrong context, or altered data.
    #[error("cannot decrypt: wrong passphrase or key file, or the data was altered")]
    Open,
    /// Encryption (or its randomness) failed.
    #[error("encryption failed")]
    Seal,
}

/// Format version of a sealed blob: 1 = AES-256-GCM, 96-bit random nonce.
const VERSION: u8 = 1;
const NONCE_LEN: usize = ring::aead::NONCE_LEN;
const TAG_LEN: usize = 16;
/// version ‖ nonce ‖ ciphertext ‖ tag
const OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;

/// Argon2id cost: OWASP's minimum recommendation (m = 19 MiB, t = 2, p = 1). Changing these
/// changes every derived KEK, so existing sealed keys would no longer open.
const ARGON2_M_KIB: u32 = 19_456;
const ARGON2_T: u32 = 2;
const ARGON2_P: u32 = 1;

/// Holds a key-encryption key. `Debug` never shows it; it is zeroized on drop.
pub struct Sealer {
    kek: Zeroizing<[u8; KEK_LEN]>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    /// Argon2id(passphrase, salt) → KEK.
    pub fn from_passphrase(passphrase: &[u8], salt: &[u8; SALT_LEN]) -> Result<Self, SealError> {
        let params = argon2::Params::new(ARGON2_M_KIB, ARGON2_T, ARGON2_P, Some(KEK_LEN))
            .map_err(|_| SealError::Kdf)?;
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut kek = Zeroizing::new([0u8; KEK_LEN]);
        argon
            .hash_password_into(passphrase, salt, kek.as_mut())
            .map_err(|_| SealError::Kdf)?;
        Ok(Self { kek })
    }
    /// A KEK read from a key file.
    pub fn from_key(key: &[u8; KEK_LEN]) -> Self {
        Self {
            kek: Zeroizing::new(*key),
        }
    }
    /// Fresh random bytes for a new key file or salt.
    pub fn random_bytes<const N: usize>() -> Result<[u8; N], SealError> {
        let mut out = [0u8; N];
        SystemRandom::new()
            .fill(&mut out)
            .map_err(|_| SealError::Seal)?;
        Ok(out)
    }
    /// Encrypts with a fresh random nonce; `context` is bound as associated data (e.g. the CA id), so a
    /// sealed blob moved to another record fails to open.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>, SealError> {
        let nonce = Self::random_bytes::<NONCE_LEN>()?;
        // Exact capacity: no reallocation may leave a plaintext copy behind in freed memory.
        let mut out = Vec::with_capacity(plaintext.len() + OVERHEAD);
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let tag = self
            .key()?
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context),
                &mut out[1 + NONCE_LEN..],
            )
            .map_err(|_| SealError::Seal)?;
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }
    /// Decrypts a blob made by `seal` with the same `context`.
    pub fn open(
        &self,
        sealed: &[u8],
        context: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, SealError> {
        if sealed.len() < OVERHEAD || sealed[0] != VERSION {
            return Err(SealError::Malformed);
        }
        let nonce = Nonce::try_assume_unique_for_key(&sealed[1..1 + NONCE_LEN])
            .map_err(|_| SealError::Malformed)?;
        let mut buf = Zeroizing::new(sealed[1 + NONCE_LEN..].to_vec());
        let len = self
            .key()?
            .open_in_place(nonce, Aad::from(context), &mut buf)
            .map_err(|_| SealError::Open)?
            .len();
        buf.truncate(len);
        Ok(buf)
    }

    /// ring's expanded key is not zeroized on drop, so it lives only for one operation.
    fn key(&self) -> Result<LessSafeKey, SealError> {
        UnboundKey::new(&AES_256_GCM, self.kek.as_ref())
            .map(LessSafeKey::new)
            .map_err(|_| SealError::Seal)
    }
}
