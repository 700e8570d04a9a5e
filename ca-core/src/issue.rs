//! Issuance: a registration request and a PKCS#10 CSR become a certificate under a profile.
//!
//! The CSR contributes only its public key, after its signature proves possession of the private
//! key (RFC 2986 §3). Subject, SANs and hcRole come from the registration request, which the RA
//! vouches for; the profile decides everything else (DESIGN.md §4, issue flow).

use crate::engine::digest::DigestAlgorithm;
use crate::engine::hcrole::HcRole;
use crate::engine::key::{self, KeyError, RawSignature, SigningKey};
use crate::engine::profile::{
    CertRequest, ExtensionContext, Profile, ProfileError, ProfileViolation,
};
use std::time::Duration;
use x509_cert::Certificate;
use x509_cert::builder::{Builder, CertificateBuilder, profile::BuilderProfile};
use x509_cert::certificate::TbsCertificate;
use x509_cert::der::DateTime;
use x509_cert::der::{Decode, DecodePem, Encode};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::name::Name;
use x509_cert::request::CertReq;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use x509_cert::time::{Time, Validity};

/// Largest CSR accepted, PEM or DER.
pub(crate) const MAX_CSR_LEN: usize = 64 * 1024;
/// Serial numbers carry this many random octets (RFC 5280 §4.1.2.2 allows 20; CA/B asks ≥ 64 bits).
const SERIAL_LEN: usize = 16;

/// What the registration authority vouches for.
#[derive(Clone, Debug)]
pub struct Registration {
    /// Id of the profile to issue under.
    pub profile: String,
    /// The subject, in certificate order.
    pub subject: Name,
    /// subjectAltNames.
    pub sans: Vec<GeneralName>,
    /// hcRoles to certify (ISO 17090-2 §7.3).
    pub hc_roles: Vec<HcRole>,
    /// Requested validity; the profile's maximum when `None`.
    pub validity_days: Option<u32>,
}

/// Why a certificate was not issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// The CSR is larger than `MAX_CSR_LEN` (its size).
    #[error("CSR is {0} bytes; the limit is {MAX_CSR_LEN}")]
    CsrTooLarge(usize),
    /// The CSR does not decode as PKCS#10 (RFC 2986).
    #[error("CSR is not a PKCS#10 request in PEM or DER: {0}")]
    CsrMalformed(String),
    /// The CSR's signature does not verify: no proof of possession.
    #[error("CSR signature does not verify, so it proves no possession of the key: {0}")]
    CsrSignature(KeyError),
    /// The CSR's (or the request's) public key is not usable.
    #[error("CSR public key: {0}")]
    CsrKey(KeyError),
    /// The issuing key could not sign (e.g. its token is unavailable).
    #[error("signing the certificate: {0}")]
    Sign(KeyError),
    /// The request breaks the profile.
    #[error(transparent)]
    Violation(#[from] ProfileViolation),
    /// The profile is unknown or invalid.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// A CA profile: CAs are made by `init` only.
    #[error("profile {0} makes CA certificates; CAs are created by init")]
    CaProfile(String),
    /// The certificate could not be built or signed.
    #[error("building the certificate: {0}")]
    Build(String),
    /// No free random serial number was found.
    #[error("no random serial number free after several tries")]
    Serial,
}

/// Parses a CSR in PEM or DER, within `MAX_CSR_LEN` (64 KiB).
pub fn parse_csr(bytes: &[u8]) -> Result<CertReq, IssueError> {
    if bytes.len() > MAX_CSR_LEN {
        return Err(IssueError::CsrTooLarge(bytes.len()));
    }
    let trimmed = bytes.trim_ascii_start();
    let parsed = if trimmed.starts_with(b"-----BEGIN") {
        CertReq::from_pem(trimmed)
    } else {
        CertReq::from_der(bytes)
    };
    parsed.map_err(|e| IssueError::CsrMalformed(e.to_string()))
}

/// Checks the CSR's self-signature: proof of possession of the private key.
pub fn check_proof_of_possession(csr: &CertReq) -> Result<(), IssueError> {
    let info = csr
        .info
        .to_der()
        .map_err(|e| IssueError::CsrMalformed(e.to_string()))?;
    let signature = csr
        .signature
        .as_bytes()
        .ok_or_else(|| IssueError::CsrMalformed("signature has unused bits".into()))?;
    // key::verify also takes what old documents use (SHA-1, SHA-224, DSA); a request for a new
    // certificate is signed with SHA-256/384/512 or Ed25519, as hpki signs.
    let scheme =
        key::SignatureScheme::from_identifier(&csr.algorithm).map_err(IssueError::CsrSignature)?;
    let modern = matches!(
        scheme.hash(),
        None | Some(DigestAlgorithm::Sha256 | DigestAlgorithm::Sha384 | DigestAlgorithm::Sha512)
    );
    if !modern || matches!(scheme, key::SignatureScheme::Dsa(_)) {
        return Err(IssueError::CsrSignature(KeyError::Unsupported(format!(
            "CSR signature algorithm {scheme}"
        ))));
    }
    key::verify(&csr.info.public_key, &csr.algorithm, &info, signature)
        .map_err(IssueError::CsrSignature)
}

/// A fresh positive serial number with 16 random octets (≥ 120 bits of randomness).
pub(crate) fn random_serial() -> Result<SerialNumber, IssueError> {
    let mut bytes: [u8; SERIAL_LEN] =
        crate::engine::seal::Sealer::random_bytes().map_err(|_| IssueError::Serial)?;
    // Positive and of fixed length: clear the sign bit, never a zero first octet.
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    SerialNumber::new(&bytes).map_err(|e| IssueError::Build(e.to_string()))
}

/// Key identifier per RFC 7093 §2 method 1: the leftmost 160 bits of the SHA-256 of the
/// subjectPublicKey bits.
pub(crate) fn key_identifier(spki: &SubjectPublicKeyInfoOwned) -> Vec<u8> {
    let digest = ring::digest::digest(&ring::digest::SHA256, spki.subject_public_key.raw_bytes());
    digest.as_ref()[..20].to_vec()
}

/// Unix seconds as an X.509 Time (UTCTime before 2050, GeneralizedTime after: RFC 5280 §4.1.2.5).
pub(crate) fn x509_time(unix: u64) -> Result<Time, IssueError> {
    DateTime::from_unix_duration(Duration::from_secs(unix))
        .map(Time::from)
        .map_err(|e| IssueError::Build(e.to_string()))
}

/// The CA that signs: its name and key.
pub(crate) struct Signer<'a> {
    pub name: &'a Name,
    pub key: &'a SigningKey,
}

/// Everything that varies per certificate.
pub(crate) struct Draft<'a> {
    pub profile: &'a Profile,
    pub subject: &'a Name,
    pub spki: &'a SubjectPublicKeyInfoOwned,
    pub not_before: u64,
    pub not_after: u64,
    pub ext: ExtensionContext<'a>,
}

/// Check the request against the profile, then validity bounds, before any signing (public for
/// `fuzz/`, which drives issuance checks without a store).
pub fn check(
    profile: &Profile,
    set: &crate::engine::profile::ProfileSet,
    registration: &Registration,
    spki: &SubjectPublicKeyInfoOwned,
    not_before: u64,
    not_after: u64,
) -> Result<(), IssueError> {
    let key = key::key_params(spki).map_err(IssueError::CsrKey)?;
    profile.check(
        &CertRequest {
            subject: &registration.subject,
            sans: &registration.sans,
            hc_roles: &registration.hc_roles,
            key,
            not_before,
            not_after,
        },
        set,
    )?;
    Ok(())
}

/// Signs a certificate with x509-cert's builder; `signer` is `None` for a self-signed root.
pub(crate) fn build(
    draft: &Draft<'_>,
    serial: SerialNumber,
    signer: Option<&Signer<'_>>,
    own_key: Option<&SigningKey>,
) -> Result<Certificate, IssueError> {
    let extensions = draft.profile.extensions(&draft.ext)?;
    let (issuer, key) = match (signer, own_key) {
        (Some(s), _) => (s.name.clone(), s.key),
        (None, Some(k)) => (draft.subject.clone(), k),
        (None, None) => return Err(IssueError::Build("no signing key".into())),
    };
    let validity = Validity::new(x509_time(draft.not_before)?, x509_time(draft.not_after)?);
    let fixed = FixedProfile {
        issuer,
        subject: draft.subject.clone(),
        extensions,
    };
    let mut builder = CertificateBuilder::new(fixed, serial, validity, draft.spki.clone())
        .map_err(|e| IssueError::Build(e.to_string()))?;
    // Signed here, not through `Builder::build`, so a key's own error (a token gone:
    // `KeyError::Unavailable`) reaches the caller typed.
    let tbs = builder
        .finalize(key)
        .map_err(|e| IssueError::Build(e.to_string()))?;
    let signature = spki::SignatureBitStringEncoding::to_bitstring(&RawSignature(
        key.sign(&tbs).map_err(IssueError::Sign)?,
    ))
    .map_err(|e| IssueError::Build(e.to_string()))?;
    builder
        .assemble(signature, key)
        .map_err(|e| IssueError::Build(e.to_string()))
}

/// A builder profile whose names and extensions were decided beforehand by our `Profile`.
struct FixedProfile {
    issuer: Name,
    subject: Name,
    extensions: Vec<Extension>,
}

impl BuilderProfile for FixedProfile {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }
    fn get_subject(&self) -> Name {
        self.subject.clone()
    }
    fn build_extensions(
        &self,
        _spk: SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: SubjectPublicKeyInfoRef<'_>,
        _tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        Ok(self.extensions.clone())
    }
}
