//! CMS SignedData (RFC 5652) with CAdES baseline attributes (ETSI EN 319 122-1): the signatures the
//! service returns. Detached by default, attached on request, or over a digest the client computed.

use crate::key::SigningKey;
use const_oid::ObjectIdentifier;

/// Digest algorithms for documents and signed attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    Sha256,
    Sha384,
    Sha512,
}

impl DigestAlgorithm {
    /// The digest a key signs with: SHA-256 for P-256 and RSA, SHA-384 for P-384, SHA-512 for
    /// Ed25519 (RFC 8419 §3).
    pub fn for_key(key: &SigningKey) -> Self {
        let _ = key;
        todo!()
    }
    /// Output length in octets.
    pub fn len(self) -> usize {
        todo!()
    }
    pub fn oid(self) -> ObjectIdentifier {
        todo!()
    }
    /// "sha256", "sha384", "sha512" (also accepts "SHA-256" etc.).
    pub fn from_name(name: &str) -> Option<Self> {
        let _ = name;
        todo!()
    }
}

/// Hashes a document as a stream, so a large body is never held in memory.
pub struct DocumentHasher {
    _private: (),
}

impl DocumentHasher {
    pub fn new(algorithm: DigestAlgorithm) -> Self {
        let _ = algorithm;
        todo!()
    }
    pub fn update(&mut self, chunk: &[u8]) {
        let _ = chunk;
        todo!()
    }
    pub fn finish(self) -> Vec<u8> {
        todo!()
    }
}

/// What to sign and how.
pub struct SignatureRequest<'a> {
    pub key: &'a SigningKey,
    /// The signer's certificate (DER).
    pub certificate: &'a [u8],
    /// CA certificates to include after the signer's (DER), issuing CA first.
    pub chain: &'a [Vec<u8>],
    /// Digest of the content with `DigestAlgorithm::for_key(key)`.
    pub digest: &'a [u8],
    /// Unix seconds, for the signingTime attribute.
    pub signing_time: u64,
    /// commitment-type-indication (ETSI EN 319 122-1 §5.2.3), e.g. an ASTM E1762 purpose.
    pub commitment_type: Option<ObjectIdentifier>,
    /// A claimed role for signer-attributes-v2 (never trusted over the certified hcRole).
    pub claimed_role: Option<&'a str>,
    /// Encapsulate this content (attached signature); `None` for detached. Its digest must equal
    /// `digest`.
    pub attached: Option<&'a [u8]>,
}

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("digest is {got} octets; {algorithm:?} needs {want}")]
    DigestLength {
        algorithm: DigestAlgorithm,
        got: usize,
        want: usize,
    },
    #[error("the attached content does not match the digest")]
    ContentMismatch,
    #[error("signer certificate: {0}")]
    Certificate(String),
    #[error("building CMS: {0}")]
    Build(String),
    #[error("signing: {0}")]
    Key(#[from] crate::key::KeyError),
}

/// Signs: a DER `ContentInfo` holding `SignedData` with contentType, messageDigest, signingTime,
/// ESS signingCertificateV2 (RFC 5035), and commitment type / signer attributes when asked.
pub fn sign(request: &SignatureRequest<'_>) -> Result<Vec<u8>, SignError> {
    let _ = request;
    todo!()
}
