//! Digest algorithms (RFC 5754 §2 SHA-2, RFC 3370 §2.1 SHA-1) and the streaming hasher of
//! documents: shared by signing, signature verification and the verifier, below all of them.

use crate::engine::oid;
use const_oid::ObjectIdentifier;
use spki::AlgorithmIdentifierOwned;

/// Digest algorithms for documents and signed attributes. hpki signs with SHA-256/384/512 only;
/// SHA-1 and SHA-224 are here for verification (old documents, certificates and CRLs), which
/// the verifier's algorithm catalogue judges by date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
    /// Verification only (RFC 3370 §2.1).
    Sha1,
    /// Verification only (RFC 5754 §2.1).
    Sha224,
}

impl DigestAlgorithm {
    /// Output length in octets.
    #[allow(clippy::len_without_is_empty)] // a digest length, never empty
    pub fn len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha224 => 28,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }
    /// Its OID (id-sha256 and so on, RFC 5754 §2).
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            Self::Sha256 => oid::ID_SHA_256,
            Self::Sha384 => oid::ID_SHA_384,
            Self::Sha512 => oid::ID_SHA_512,
            Self::Sha1 => oid::ID_SHA_1,
            Self::Sha224 => oid::ID_SHA_224,
        }
    }
    /// The algorithm of a hash OID, any of the five.
    pub fn from_oid(id: &ObjectIdentifier) -> Option<Self> {
        [
            Self::Sha256,
            Self::Sha384,
            Self::Sha512,
            Self::Sha1,
            Self::Sha224,
        ]
        .into_iter()
        .find(|d| d.oid() == *id)
    }
    /// "sha256", "sha384", "sha512" (also accepts "SHA-256" etc.): the algorithms hpki signs with.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().replace('-', "").as_str() {
            "sha256" => Some(Self::Sha256),
            "sha384" => Some(Self::Sha384),
            "sha512" => Some(Self::Sha512),
            _ => None,
        }
    }
    /// The DigestAlgorithmIdentifier, parameters absent as RFC 5754 §2 says to generate.
    pub fn identifier(self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: self.oid(),
            parameters: None,
        }
    }
    /// One-shot digest of `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        let mut hasher = DocumentHasher::new(self);
        hasher.update(data);
        hasher.finish()
    }
}

impl std::fmt::Display for DigestAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Sha1 => "SHA-1",
            Self::Sha224 => "SHA-224",
            Self::Sha256 => "SHA-256",
            Self::Sha384 => "SHA-384",
            Self::Sha512 => "SHA-512",
        })
    }
}

/// Hashes a document as a stream, so a large body is never held in memory.
pub struct DocumentHasher {
    context: Hasher,
}

/// ring for every digest it has; SHA-224 (verification only) through RustCrypto.
enum Hasher {
    Ring(ring::digest::Context),
    Sha224(sha2::Sha224),
}

impl DocumentHasher {
    /// A hasher for `algorithm`.
    pub fn new(algorithm: DigestAlgorithm) -> Self {
        use ring::digest as rd;
        let ring = |a: &'static rd::Algorithm| Hasher::Ring(rd::Context::new(a));
        let context = match algorithm {
            DigestAlgorithm::Sha256 => ring(&rd::SHA256),
            DigestAlgorithm::Sha384 => ring(&rd::SHA384),
            DigestAlgorithm::Sha512 => ring(&rd::SHA512),
            DigestAlgorithm::Sha1 => ring(&rd::SHA1_FOR_LEGACY_USE_ONLY),
            DigestAlgorithm::Sha224 => Hasher::Sha224(sha2::Digest::new()),
        };
        Self { context }
    }
    /// Hashes the next chunk.
    pub fn update(&mut self, chunk: &[u8]) {
        match &mut self.context {
            Hasher::Ring(c) => c.update(chunk),
            Hasher::Sha224(h) => sha2::Digest::update(h, chunk),
        }
    }
    /// The digest of every chunk given.
    pub fn finish(self) -> Vec<u8> {
        match self.context {
            Hasher::Ring(c) => c.finish().as_ref().to_vec(),
            Hasher::Sha224(h) => sha2::Digest::finalize(h).to_vec(),
        }
    }
}
