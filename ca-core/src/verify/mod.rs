//! Offline verification of CMS/CAdES signatures and certificates (issue 4, `iso17090.md` §5.6):
//! parse → digest → signature → ESS binding → path at the validation time with CRLs and policies
//! (certval) → key usage → role → [`Report`].
//!
//! Reads no clock, file or environment: the validation time and every byte arrive as arguments.

mod algorithms;
mod archive;
mod build;
mod cache;
mod conformance;
mod epoch;
mod inherit;
mod names;
mod ocsp;
mod path;
mod report;
mod revocation;
mod timestamp;

pub use algorithms::{AlgorithmCatalogue, CatalogueError, Refusal};
pub use cache::Verifier;
pub use ocsp::MAX_OCSP_RESPONSE_LEN;

pub use crate::engine::tsp::{GenTimeError, parse_gen_time};
pub use report::{
    AlgorithmReport, CertSummary, Check, Indication, Outcome, Report, RevocationSource, RoleReport,
    SignatureReport, SubIndication, TimestampReport,
};
pub(crate) use timestamp::judge_token;

use crate::engine::cades::Level;
use crate::engine::digest::{DigestAlgorithm, DocumentHasher};
use crate::engine::hcrole::{self, HcRole};
use crate::engine::key::{self, KeyAlgorithm, KeyError};
use crate::engine::oid;
use crate::engine::purpose::{PurposeError, SigningPolicy};
use crate::engine::sign::{CommitmentTypeIndication, SigningCertificateV2};
use base64::Engine as _;
use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use const_oid::ObjectIdentifier;
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Decode, Encode};
use names::NameTexts;
use spki::AlgorithmIdentifierOwned;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use x509_cert::Certificate;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    CertificatePolicies, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::serial_number::SerialNumber;

/// Largest signature file accepted (attached content included).
pub const MAX_SIGNATURE_LEN: usize = 64 << 20;
/// Largest certificate file (a PEM bundle) accepted.
pub const MAX_CERTIFICATE_FILE_LEN: usize = 4 << 20;
/// Largest CRL accepted.
pub const MAX_CRL_LEN: usize = 64 << 20;
/// Most certificates taken from a bundle, a pool or a CMS `certificates` field.
pub const MAX_CERTIFICATES: usize = 2_000;
/// Most signers checked in one document.
pub(crate) const MAX_SIGNERS: usize = 64;

/// `id-aa-signingCertificate` (ESS v1, RFC 2634 §5.4): SHA-1 certificate hash.
const ID_AA_SIGNING_CERTIFICATE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.12");
/// anyExtendedKeyUsage (RFC 5280 §4.2.1.12).
const ANY_EKU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37.0");

/// Input that cannot be verified at all.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Larger than its limit (size, limit in bytes).
    #[error("input is {0} bytes, more than the {1} allowed")]
    TooLarge(usize, usize),
    /// Does not decode (the decoder's message).
    #[error("{0}")]
    Malformed(String),
}

fn malformed(what: &str, e: impl std::fmt::Display) -> VerifyError {
    VerifyError::Malformed(format!("{what}: {e}"))
}

/// What the signer's certificate must allow (RFC 5280 §4.2.1.3 keyUsage).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyUsageRule {
    /// keyUsage must be present with nonRepudiation (contentCommitment): ISO 17090 signing.
    NonRepudiation,
    /// keyUsage must be present with digitalSignature.
    DigitalSignature,
    /// RFC 5280 + RFC 5652: keyUsage absent (no restriction, RFC 5280 §4.2.1.3), or present with
    /// digitalSignature or nonRepudiation.
    NonRepudiationOrDigitalSignature,
    /// Reported, never failed on.
    ReportOnly,
}

/// The named signature validation policy (EN 319 102-1 §5.2.8 "validation constraints"): the
/// rules a signature is judged by beyond RFC 5280 and RFC 5652.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ValidationPolicy {
    /// ISO 17090 document signing, the default: the signer certificate carries nonRepudiation,
    /// and the signer's certified hcRole may sign for the signature's commitment type (the role
    /// gate of `policies/purposes/signing.toml`).
    #[default]
    Iso17090,
    /// RFC 5280 + RFC 5652 only: keyUsage absent, or with digitalSignature or nonRepudiation;
    /// no role gate. For other documents and for path tests.
    Generic,
}

impl ValidationPolicy {
    /// The name the CLI and the report use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Iso17090 => "iso17090",
            Self::Generic => "generic",
        }
    }

    /// What this policy wants of a signer certificate's keyUsage.
    pub fn signer_key_usage(self) -> KeyUsageRule {
        match self {
            Self::Iso17090 => KeyUsageRule::NonRepudiation,
            Self::Generic => KeyUsageRule::NonRepudiationOrDigitalSignature,
        }
    }
}

/// What the end-entity certificate's extendedKeyUsage must allow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EkuRule {
    /// Any EKU, or none, is acceptable (`--eku any`).
    Any,
    /// The EKU extension must list this purpose (or anyExtendedKeyUsage).
    Required(ObjectIdentifier),
}

/// Everything the relying party decides; the defaults follow issue 4.
#[derive(Clone, Debug)]
pub struct Policy {
    /// DER certificates; need not be self-signed.
    pub trust_anchors: Vec<Vec<u8>>,
    /// Untrusted DER certificates for path building.
    pub cert_pool: Vec<Vec<u8>>,
    /// DER CRLs; any CRL turns on revocation checking of every certificate in the path.
    pub crls: Vec<Vec<u8>>,
    /// DER OCSPResponses (RFC 6960) the relying party supplies; like a CRL, any turns on
    /// revocation checking, and a certificate a usable response answers for needs no CRL.
    pub ocsp_responses: Vec<Vec<u8>>,
    /// Unix seconds.
    pub validation_time: u64,
    /// RFC 5280 §6.1.1 (c) user-initial-policy-set; empty is `{anyPolicy}`.
    pub initial_policies: Vec<ObjectIdentifier>,
    /// RFC 5280 §6.1.1 (f) initial-explicit-policy.
    pub require_explicit_policy: bool,
    /// RFC 5280 §6.1.1 (e) initial-policy-mapping-inhibit.
    pub inhibit_policy_mapping: bool,
    /// RFC 5280 §6.1.1 (g) initial-any-policy-inhibit.
    pub inhibit_any_policy: bool,
    /// The EKU the end-entity certificate must allow; `None` checks nothing.
    pub eku: Option<EkuRule>,
    /// Most intermediate CA certificates in a path.
    pub max_depth: Option<u8>,
    /// The signer must hold this hcRole (scheme and text compared).
    pub require_role: Option<HcRole>,
    /// The signer's certificate must assert one of these policies (when not empty).
    pub accept_policies: Vec<ObjectIdentifier>,
    /// The named policy signatures are judged by (default ISO 17090).
    pub validation_policy: ValidationPolicy,
    /// Overrides the key-usage rule: for a signature, `None` is the validation policy's rule;
    /// for a certificate alone ([`verify_certificate`]), `None` reports keyUsage unchecked.
    pub key_usage: Option<KeyUsageRule>,
    /// The role × purpose table of the ISO 17090 policy; `None` is the one shipped in
    /// `policies/purposes/signing.toml`.
    pub signing_policy: Option<Arc<SigningPolicy>>,
    /// `false` (`--no-chain`): signature and signed attributes only.
    pub check_chain: bool,
    /// Absence of ESS signingCertificate(V2) is a failure.
    pub require_cades: bool,
    /// Which algorithms are acceptable at the validation time (default: the embedded
    /// `policies/algorithms/catalogue.toml`, parsed once and shared).
    pub algorithms: std::sync::Arc<AlgorithmCatalogue>,
    /// The trust-anchor certificate's own constraints (name constraints, pathLenConstraint,
    /// policies, policy constraints, inhibitAnyPolicy; RFC 5937) and profile apply. `false`
    /// (`--no-anchor-constraints`): the anchor is a name and a key only.
    pub anchor_constraints: bool,
}

impl Policy {
    /// The defaults at `validation_time` (Unix seconds): no anchors, pool or CRLs yet.
    pub fn new(validation_time: u64) -> Self {
        Self {
            trust_anchors: Vec::new(),
            cert_pool: Vec::new(),
            crls: Vec::new(),
            ocsp_responses: Vec::new(),
            validation_time,
            initial_policies: Vec::new(),
            require_explicit_policy: false,
            inhibit_policy_mapping: false,
            inhibit_any_policy: false,
            eku: None,
            max_depth: None,
            require_role: None,
            accept_policies: Vec::new(),
            validation_policy: ValidationPolicy::Iso17090,
            key_usage: None,
            signing_policy: None,
            check_chain: true,
            require_cades: false,
            algorithms: AlgorithmCatalogue::embedded(),
            anchor_constraints: true,
        }
    }
}

use crate::engine::time::rfc3339;

fn date_time(unix: u64) -> der::DateTime {
    der::DateTime::from_unix_duration(Duration::from_secs(unix)).unwrap_or(der::DateTime::INFINITY)
}

// ---- Input decoding: DER, PEM or base64 ----

fn check_len(bytes: &[u8], max: usize) -> Result<(), VerifyError> {
    if bytes.len() > max {
        Err(VerifyError::TooLarge(bytes.len(), max))
    } else {
        Ok(())
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

fn is_pem(bytes: &[u8]) -> bool {
    trim(bytes).starts_with(b"-----BEGIN ")
}

/// Bytes that are all base64 alphabet and whitespace (DER starts with 0x30, which is '0': so a
/// leading SEQUENCE tag never reads as base64 alone).
fn looks_base64(bytes: &[u8]) -> bool {
    let t = trim(bytes);
    !t.is_empty()
        && t[0] != 0x30
        && t.iter().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'+' | b'/' | b'=' | b'\r' | b'\n' | b' ' | b'\t')
        })
}

/// Every PEM block labelled `labels` in `bytes`, decoded.
fn pem_blocks(bytes: &[u8], labels: &[&str]) -> Result<Vec<Vec<u8>>, VerifyError> {
    let text = std::str::from_utf8(bytes).map_err(|e| malformed("PEM", e))?;
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let block = &rest[start..];
        let label_end = block[11..]
            .find("-----")
            .ok_or_else(|| VerifyError::Malformed("PEM: unterminated BEGIN line".into()))?;
        let label = &block[11..11 + label_end];
        let end_marker = format!("-----END {label}-----");
        let end = block
            .find(&end_marker)
            .ok_or_else(|| VerifyError::Malformed(format!("PEM: no END line for {label}")))?;
        let one = &block[..end + end_marker.len()];
        if labels.contains(&label) {
            let (_, der) = der::pem::decode_vec(one.as_bytes()).map_err(|e| malformed("PEM", e))?;
            out.push(der);
            if out.len() > MAX_CERTIFICATES {
                return Err(VerifyError::Malformed("too many PEM blocks".into()));
            }
        }
        rest = &block[end + end_marker.len()..];
    }
    Ok(out)
}

fn from_base64(bytes: &[u8]) -> Result<Vec<u8>, VerifyError> {
    let compact: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|e| malformed("base64", e))
}

/// Certificates from a file: a PEM bundle, or one DER certificate.
pub fn decode_certificates(bytes: &[u8]) -> Result<Vec<Vec<u8>>, VerifyError> {
    check_len(bytes, MAX_CERTIFICATE_FILE_LEN)?;
    let ders = if is_pem(bytes) {
        pem_blocks(
            bytes,
            &["CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE"],
        )?
    } else {
        vec![bytes.to_vec()]
    };
    if ders.is_empty() {
        return Err(VerifyError::Malformed(
            "no CERTIFICATE in the PEM file".into(),
        ));
    }
    for der in &ders {
        epoch::decode(der).map_err(|e| malformed("certificate", e))?;
    }
    Ok(ders)
}

/// An OCSP response from a file (`openssl ocsp -respout`): a DER OCSPResponse (successful,
/// id-pkix-ocsp-basic, RFC 6960 §4.2.1), or a bare BasicOCSPResponse.
pub fn decode_ocsp_response(bytes: &[u8]) -> Result<Vec<u8>, VerifyError> {
    check_len(bytes, MAX_OCSP_RESPONSE_LEN)?;
    ocsp::check_decodes(bytes).map_err(|e| malformed("OCSP response", e))?;
    Ok(bytes.to_vec())
}

/// CRLs from a file: PEM (one or more `X509 CRL`), or one DER CRL.
pub fn decode_crls(bytes: &[u8]) -> Result<Vec<Vec<u8>>, VerifyError> {
    check_len(bytes, MAX_CRL_LEN)?;
    let ders = if is_pem(bytes) {
        pem_blocks(bytes, &["X509 CRL"])?
    } else {
        vec![bytes.to_vec()]
    };
    if ders.is_empty() {
        return Err(VerifyError::Malformed("no X509 CRL in the PEM file".into()));
    }
    // v1 CRLs too (RFC 5280 §5.1: version OPTIONAL).
    for der in &ders {
        revocation::check_decodes(der).map_err(|e| malformed("CRL", e))?;
    }
    Ok(ders)
}

// ---- CMS ----

/// A parsed CMS SignedData (RFC 5652 §5.1), ready to verify. `Debug` shows sizes and counts,
/// never the encapsulated content (a clinical document, also inside `signed_data`).
#[derive(Clone)]
pub struct SignedDocument {
    /// `certificates` and `crls` left out: the certificates are in [`Self::carried`].
    signed_data: SignedData,
    /// The X.509 certificates of `certificates`, each decoded once.
    carried: Vec<Carried>,
    /// The encapsulated content (attached signature).
    content: Option<Vec<u8>>,
    /// The CRLs of `crls` (RevocationInfoChoice, RFC 5652 §10.2.1, the CertificateList choice),
    /// as carried: B-LT validation data, read only when a time-stamp proves the signature's time.
    crls: Vec<Vec<u8>>,
    /// The OCSPResponses of `crls` (RevocationInfoChoice `other` with id-ri-ocsp-response, RFC
    /// 5940 §4.1), as carried: B-LT validation data like the CRLs.
    ocsp: Vec<Vec<u8>>,
    /// How many other `other` RevocationInfoChoices `crls` holds (formats not read).
    other_revocation: usize,
    /// The ContentInfo as received, kept only when a signer has an archive-time-stamp-v3: its
    /// imprint covers fields as received (EN 319 122-1 §5.5.3), which decoding may normalise.
    raw: Option<Arc<Vec<u8>>>,
}

/// A certificate a CMS carries (RFC 5652 §10.2.2 CertificateChoices, the X.509 choice): its DER
/// as carried, and decoded, so that neither finding the signer nor path building decodes it again.
#[derive(Clone)]
pub(crate) struct Carried {
    pub der: Vec<u8>,
    pub cert: Certificate,
}

impl std::fmt::Debug for SignedDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedDocument")
            .field("content_type", &self.content_type())
            .field("content_bytes", &self.content.as_ref().map(Vec::len))
            .field("signers", &self.signer_count())
            .field("certificates", &self.carried.len())
            .finish()
    }
}

/// DER first; BER (indefinite lengths, constructed strings, as OpenSSL streams) second.
fn decode_der_or_ber<T: for<'a> Decode<'a, Error = der::Error>>(
    bytes: &[u8],
    what: &str,
) -> Result<T, VerifyError> {
    match T::from_der(bytes) {
        Ok(v) => Ok(v),
        Err(der_err) => T::from_ber(bytes).map_err(|_| malformed(what, der_err)),
    }
}

impl SignedDocument {
    /// Parses a ContentInfo holding SignedData from DER, BER, PEM (`CMS`/`PKCS7`) or base64.
    /// Trailing data after the ContentInfo is refused.
    pub fn parse(input: &[u8]) -> Result<Self, VerifyError> {
        check_len(input, MAX_SIGNATURE_LEN)?;
        let der = if is_pem(input) {
            pem_blocks(input, &["CMS", "PKCS7", "PKCS #7 SIGNED DATA"])?
                .into_iter()
                .next()
                .ok_or_else(|| VerifyError::Malformed("no CMS or PKCS7 PEM block".into()))?
        } else if looks_base64(input) {
            from_base64(input)?
        } else {
            input.to_vec()
        };
        let ci: ContentInfo = decode_der_or_ber(&der, "ContentInfo")?;
        if ci.content_type != oid::ID_SIGNED_DATA {
            return Err(VerifyError::Malformed(format!(
                "ContentInfo holds {}, not signed-data",
                ci.content_type
            )));
        }
        let inner = ci
            .content
            .to_der()
            .map_err(|e| malformed("SignedData", e))?;
        let parts: SignedDataParts = decode_der_or_ber(&inner, "SignedData")?;
        // Refused, not truncated: a cut set may drop the signer's certificate and mislead.
        let certificates = parts.certificates.as_ref().map_or(0, Vec::len);
        if certificates > MAX_CERTIFICATES {
            return Err(VerifyError::Malformed(format!(
                "too many certificates ({certificates}; the limit is {MAX_CERTIFICATES})"
            )));
        }
        let carried = parts
            .certificates
            .iter()
            .flatten()
            .filter_map(carried)
            .collect::<Result<_, _>>()?;
        let mut crls = Vec::new();
        let mut ocsp = Vec::new();
        let mut other_revocation = 0;
        for choice in parts.crls.iter().flatten().take(MAX_CERTIFICATES) {
            if der::Tagged::tag(choice) == der::Tag::Sequence {
                crls.push(choice.to_der().map_err(|e| malformed("CMS crls", e))?);
            } else if let Some(response) = ocsp_choice(choice) {
                ocsp.push(response);
            } else {
                other_revocation += 1;
            }
        }
        let content = parts
            .encap_content_info
            .econtent
            .map(|octets| Vec::from(octets.into_bytes()));
        let signed_data = SignedData {
            version: parts.version,
            digest_algorithms: parts.digest_algorithms,
            // The content is kept once, in `content`.
            encap_content_info: cms::signed_data::EncapsulatedContentInfo {
                econtent_type: parts.encap_content_info.econtent_type,
                econtent: None,
            },
            certificates: None,
            crls: None,
            signer_infos: parts.signer_infos,
        };
        if signed_data.signer_infos.0.len() > MAX_SIGNERS {
            return Err(VerifyError::Malformed("too many signers".into()));
        }
        let archived = signed_data.signer_infos.0.iter().any(|si| {
            si.unsigned_attrs
                .iter()
                .flat_map(|a| a.iter())
                .any(|a| a.oid == oid::ID_AA_ETS_ARCHIVE_TIMESTAMP_V3)
        });
        Ok(Self {
            signed_data,
            carried,
            content,
            crls,
            ocsp,
            other_revocation,
            raw: archived.then(|| Arc::new(der)),
        })
    }

    /// No encapsulated content: the document travels beside the signature.
    pub fn is_detached(&self) -> bool {
        self.content.is_none()
    }

    /// The digest algorithms the signers used, for hashing detached content in one pass.
    pub fn digest_algorithms(&self) -> Vec<DigestAlgorithm> {
        let mut out = Vec::new();
        for si in self.signed_data.signer_infos.0.iter() {
            if let Some(d) = digest_algorithm(&si.digest_alg)
                && !out.contains(&d)
            {
                out.push(d);
            }
        }
        out
    }

    /// Some signer has no signed attributes, so its signature covers the content itself and the
    /// detached content's bytes (not only its digest) are needed.
    pub fn needs_content_bytes(&self) -> bool {
        self.signed_data
            .signer_infos
            .0
            .iter()
            .any(|si| si.signed_attrs.is_none())
    }

    /// The certificates the CMS carries (DER), X.509 ones only.
    pub fn certificates(&self) -> Vec<Vec<u8>> {
        self.carried.iter().map(|c| c.der.clone()).collect()
    }

    /// The eContentType of the encapsulated content (RFC 5652 §5.2).
    pub fn content_type(&self) -> ObjectIdentifier {
        self.signed_data.encap_content_info.econtent_type
    }

    /// How many SignerInfos it carries.
    pub fn signer_count(&self) -> usize {
        self.signed_data.signer_infos.0.len()
    }

    /// The SignerInfos as decoded (RFC 5652 §5.3), for display (`verifier-cli inspect`).
    pub fn signer_infos(&self) -> &[SignerInfo] {
        self.signed_data.signer_infos.0.as_slice()
    }

    /// The digestAlgorithms field as written (RFC 5652 §5.1), supported or not.
    pub fn digest_algorithm_identifiers(&self) -> &[AlgorithmIdentifierOwned] {
        self.signed_data.digest_algorithms.as_slice()
    }

    /// Length of the encapsulated content; `None` when detached.
    pub fn content_len(&self) -> Option<usize> {
        self.content.as_ref().map(Vec::len)
    }
}

/// RFC 5652 §5.1 SignedData with `certificates` and `crls` left undecoded. The certificates are
/// decoded one by one ([`carried`]) so that each keeps the DER it came in, which path building
/// and the path cache need (re-encoding every one cost as much as decoding it). The CRLs are
/// kept undecoded: x509-cert 0.3 requires the TBSCertList `version`, which RFC 5280 §5.1 makes
/// OPTIONAL, so a v1 CRL (RFC 4134 §4.4, §4.11) would fail the whole SignedData; they are used
/// only when a signature time-stamp proves the signature's time (B-LT validation data).
#[derive(der::Sequence)]
struct SignedDataParts {
    version: cms::content_info::CmsVersion,
    digest_algorithms: cms::signed_data::DigestAlgorithmIdentifiers,
    encap_content_info: EncapsulatedContentParts,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    certificates: Option<Vec<Any>>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    crls: Option<Vec<Any>>,
    signer_infos: cms::signed_data::SignerInfos,
}

/// RFC 5652 §5.2 EncapsulatedContentInfo, with eContent decoded as the OCTET STRING it is rather
/// than as `Any`: in BER (`openssl cms -sign -stream`) it is a constructed, indefinite-length
/// OCTET STRING whose segments the decoder joins, so that the message digest covers the content
/// octets alone (§5.4), never the segments' tags and lengths.
#[derive(der::Sequence)]
struct EncapsulatedContentParts {
    econtent_type: ObjectIdentifier,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    econtent: Option<OctetString>,
}

/// One CertificateChoices (RFC 5652 §10.2.2): the X.509 certificate (untagged SEQUENCE) decoded
/// with its DER; the other choices (`[0]`–`[3]`: PKCS #6, attribute certificates, other) are
/// checked to be CertificateChoices as before and left out, as no path uses them.
fn carried(choice: &Any) -> Option<Result<Carried, VerifyError>> {
    let der = match choice.to_der() {
        Ok(der) => der,
        Err(e) => return Some(Err(malformed("CMS certificate", e))),
    };
    if der::Tagged::tag(choice) != der::Tag::Sequence {
        return match decode_der_or_ber::<CertificateChoices>(&der, "CMS certificate") {
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        };
    }
    Some(match epoch::decode(&der) {
        Ok(cert) => Ok(Carried { der, cert }),
        // A BER certificate (inside BER CMS) is carried in its DER re-encoding, as before.
        Err(der_err) => Certificate::from_ber(&der)
            .map_err(|_| malformed("CMS certificate", der_err))
            .and_then(|cert| {
                let der = cert.to_der().map_err(|e| malformed("CMS certificate", e))?;
                Ok(Carried { der, cert })
            }),
    })
}

/// The OCSPResponse of a RevocationInfoChoice `other` (`[1] IMPLICIT OtherRevocationInfoFormat
/// ::= SEQUENCE { otherRevInfoFormat OID, otherRevInfo ANY }`, RFC 5652 §10.2.1) whose format
/// is id-ri-ocsp-response (RFC 5940 §4.1), as carried. Read from the raw element: cms 0.3
/// declares OtherRevocationInfoFormat otherwise.
fn ocsp_choice(choice: &Any) -> Option<Vec<u8>> {
    use der::Reader as _;
    let tag = der::Tagged::tag(choice);
    if tag.number() != der::TagNumber(1) || !tag.is_context_specific() || !tag.is_constructed() {
        return None;
    }
    let mut reader = der::SliceReader::new(choice.value()).ok()?;
    let format: ObjectIdentifier = reader.decode().ok()?;
    let info: Any = reader.decode().ok()?;
    reader.finish().ok()?;
    (format == oid::ID_RI_OCSP_RESPONSE)
        .then(|| info.to_der().ok())
        .flatten()
}

/// Digests of the content, one per algorithm.
pub(crate) type Digests = Vec<(DigestAlgorithm, Vec<u8>)>;

/// The content as the caller has it.
pub enum Content<'a> {
    /// Use the encapsulated content.
    Encapsulated,
    /// Detached: digests computed by the caller (streaming, [`DocumentHasher`]) for the
    /// algorithms of [`SignedDocument::digest_algorithms`], and the bytes when
    /// [`SignedDocument::needs_content_bytes`].
    Detached {
        /// Each digest algorithm with the content's digest under it.
        digests: &'a [(DigestAlgorithm, Vec<u8>)],
        /// The content, when one of its signers needs the bytes themselves.
        bytes: Option<&'a [u8]>,
    },
}

/// Digests of `content` for every algorithm in `algorithms`, in one pass over the chunks.
pub fn digest_chunks<'a>(
    algorithms: &[DigestAlgorithm],
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Vec<(DigestAlgorithm, Vec<u8>)> {
    let mut hashers: Vec<_> = algorithms
        .iter()
        .map(|a| (*a, DocumentHasher::new(*a)))
        .collect();
    for chunk in chunks {
        for (_, h) in &mut hashers {
            h.update(chunk);
        }
    }
    hashers.into_iter().map(|(a, h)| (a, h.finish())).collect()
}

fn digest_algorithm(alg: &AlgorithmIdentifierOwned) -> Option<DigestAlgorithm> {
    // RFC 5754 §2, RFC 3370 §2.1: parameters absent or NULL.
    if alg.parameters.as_ref().is_some_and(|p| !p.is_null()) {
        return None;
    }
    DigestAlgorithm::from_oid(&alg.oid)
}

/// Parses and verifies `input` (CMS in any accepted encoding). Malformed input is a verdict
/// (TOTAL-FAILED / FORMAT_FAILURE), never an error. `detached` is the content of a detached
/// signature, when held in memory.
pub fn verify_bytes(input: &[u8], detached: Option<&[u8]>, policy: &Policy) -> Report {
    verify_bytes_with(input, detached, policy, None)
}

fn verify_bytes_with(
    input: &[u8],
    detached: Option<&[u8]>,
    policy: &Policy,
    paths: Option<&cache::PathCache>,
) -> Report {
    let doc = match SignedDocument::parse(input) {
        Ok(d) => d,
        Err(e) => return Report::format_failure(rfc3339(policy.validation_time), e.to_string()),
    };
    match detached {
        None => verify_document_with(&doc, Content::Encapsulated, policy, paths),
        Some(bytes) => {
            let digests = digest_chunks(&doc.digest_algorithms(), [bytes]);
            verify_document_with(
                &doc,
                Content::Detached {
                    digests: &digests,
                    bytes: Some(bytes),
                },
                policy,
                paths,
            )
        }
    }
}

/// Verifies every signer of `doc` (RFC 5652 §5.6) under `policy`.
pub fn verify_document(doc: &SignedDocument, content: Content<'_>, policy: &Policy) -> Report {
    verify_document_with(doc, content, policy, None)
}

/// `paths`: a [`Verifier`]'s cache of validated signer paths.
fn verify_document_with(
    doc: &SignedDocument,
    content: Content<'_>,
    policy: &Policy,
    paths: Option<&cache::PathCache>,
) -> Report {
    let at = rfc3339(policy.validation_time);
    let mut checks = Vec::new();
    let content_check = |outcome, reason: String, sub| Check {
        name: "content",
        outcome,
        reason,
        sub_indication: sub,
    };
    if doc.signed_data.signer_infos.0.is_empty() {
        return Report::format_failure(
            at,
            "SignedData has no SignerInfo: a certificates-only message (RFC 5652 §5.2), no signature to verify".into(),
        );
    }
    let (digests, bytes): (Digests, Option<&[u8]>) = match (&content, &doc.content) {
        (Content::Encapsulated, Some(c)) => {
            checks.push(content_check(
                Outcome::Passed,
                format!("encapsulated, {} bytes", c.len()),
                None,
            ));
            (
                digest_chunks(&doc.digest_algorithms(), [c.as_slice()]),
                Some(c.as_slice()),
            )
        }
        (Content::Encapsulated, None) => {
            let reason = "detached signature: the signed content was not supplied".to_string();
            return Report {
                indication: Indication::Indeterminate,
                sub_indication: Some(SubIndication::SignedDataNotFound),
                validation_time: at,
                checks: vec![content_check(
                    Outcome::Failed,
                    reason,
                    Some(SubIndication::SignedDataNotFound),
                )],
                signatures: Vec::new(),
            };
        }
        (Content::Detached { .. }, Some(_)) => {
            return Report::format_failure(
                at,
                "content supplied for a signature that encapsulates its own content".into(),
            );
        }
        (Content::Detached { digests, bytes }, None) => {
            checks.push(content_check(
                Outcome::Passed,
                "detached, supplied by the caller".into(),
                None,
            ));
            (digests.to_vec(), *bytes)
        }
    };
    let cms_certs = &doc.carried;
    let signatures = doc
        .signed_data
        .signer_infos
        .0
        .iter()
        .map(|si| verify_signer(doc, si, &digests, bytes, cms_certs, policy, paths, true))
        .collect();
    Report::from_signatures(at, checks, signatures)
}

/// Verifies a certificate alone (`verify-path`): path, key usage, EKU, role, policy.
pub fn verify_certificate(certificate: &[u8], policy: &Policy) -> Report {
    let at = rfc3339(policy.validation_time);
    let cert = match check_len(certificate, MAX_CERTIFICATE_FILE_LEN)
        .and_then(|()| epoch::decode(certificate).map_err(|e| malformed("certificate", e)))
    {
        Ok(c) => c,
        Err(e) => return Report::format_failure(at, e.to_string()),
    };
    let mut r = SignatureReport::new();
    r.signer = Some(summary(&cert));
    let roles = hcrole::roles_of(&cert);
    describe_signer(&mut r, &cert, &roles);
    // A certificate alone has no signature to judge: keyUsage is checked only when asked.
    let key_usage = policy.key_usage.unwrap_or(KeyUsageRule::ReportOnly);
    let signer = Signer {
        cert: &cert,
        der: certificate,
        roles: &roles,
    };
    check_certificate(&mut r, &signer, &[], policy, None, key_usage);
    Report::from_signatures(at, Vec::new(), vec![r])
}

/// The baseline level `si` shows (EN 319 122-1 §4), by `ca_core::cades::detect_level`'s rules
/// on the already decoded document: B-LT needs certificates and revocation data in SignedData
/// and no certificate-values / revocation-values attributes (§5.5).
fn level(doc: &SignedDocument, si: &SignerInfo) -> Level {
    let has = |id| {
        si.unsigned_attrs
            .iter()
            .flat_map(|a| a.iter())
            .any(|a| a.oid == id)
    };
    let validation_data = !doc.carried.is_empty()
        && (!doc.crls.is_empty() || !doc.ocsp.is_empty() || doc.other_revocation > 0);
    if !has(oid::ID_AA_SIGNATURE_TIME_STAMP_TOKEN) {
        Level::BB
    } else if !validation_data
        || has(oid::ID_AA_ETS_CERT_VALUES)
        || has(oid::ID_AA_ETS_REVOCATION_VALUES)
    {
        Level::BT
    } else if has(oid::ID_AA_ETS_ARCHIVE_TIMESTAMP_V3) {
        Level::BLTA
    } else {
        Level::BLT
    }
}

/// `stamps`: read the signature time-stamps (false for a time-stamp token's own signer).
#[allow(clippy::too_many_arguments)]
fn verify_signer(
    doc: &SignedDocument,
    si: &SignerInfo,
    digests: &[(DigestAlgorithm, Vec<u8>)],
    content: Option<&[u8]>,
    cms_certs: &[Carried],
    policy: &Policy,
    paths: Option<&cache::PathCache>,
    stamps: bool,
) -> SignatureReport {
    let mut r = SignatureReport::new();
    if stamps {
        r.level = Some(level(doc, si));
    }
    // 1. Signer certificate (RFC 5652 §5.3 sid) among the CMS certificates and the pool.
    let Some((cert_der, cert)) = find_signer(&si.sid, cms_certs, &policy.cert_pool) else {
        r.fail(
            "signer-certificate",
            SubIndication::NoSigningCertificateFound,
            format!(
                "no certificate matches the signer identifier ({})",
                sid_text(&si.sid)
            ),
        );
        return r;
    };
    r.signer = Some(summary(&cert));
    // Decoded once: reported, and read by the role checks of steps 5 and 7.
    let roles = hcrole::roles_of(&cert);
    describe_signer(&mut r, &cert, &roles);
    r.pass(
        "signer-certificate",
        format!("found by {}", sid_kind(&si.sid)),
    );

    // 2. Algorithms: an accepted key, a supported digest, consistent with the signature algorithm.
    r.digest_algorithm = Some(AlgorithmReport::new(&si.digest_alg.oid));
    r.signature_algorithm = Some(AlgorithmReport::new(&si.signature_algorithm.oid));
    let completed;
    let mut spki = cert.tbs_certificate().subject_public_key_info();
    if inherit::needs_parameters(spki) {
        match signer_dsa_key(&cert, cms_certs, policy) {
            Some(key) => {
                completed = key;
                spki = &completed;
            }
            None => {
                r.fail(
                    "signer-key",
                    SubIndication::CryptoConstraintsFailureNoPoe,
                    "DSA key without domain parameters, and no issuing certificate to inherit them from (RFC 5280 §6.1.4(f))",
                );
                return r;
            }
        }
    }
    let key_params = match key::key_params(spki) {
        Ok(k) => k,
        Err(KeyError::Unsupported(what)) => {
            r.fail(
                "signer-key",
                SubIndication::CryptoConstraintsFailureNoPoe,
                format!("not accepted: {what} (RSA, ECDSA P-256/P-384/P-521, Ed25519, DSA are)"),
            );
            return r;
        }
        Err(e) => {
            r.fail(
                "signer-key",
                SubIndication::FormatFailure,
                format!("signer public key: {e}"),
            );
            return r;
        }
    };
    let Some(digest_alg) = digest_algorithm(&si.digest_alg) else {
        r.fail(
            "digest-algorithm",
            SubIndication::CryptoConstraintsFailureNoPoe,
            format!(
                "digest algorithm {} is not supported (SHA-1, SHA-224/256/384/512 are)",
                oid::describe(&si.digest_alg.oid)
            ),
        );
        return r;
    };
    let signature_alg = match signature_algorithm(spki, &si.signature_algorithm, digest_alg) {
        Ok(a) => a,
        Err((sub, reason)) => {
            r.fail("algorithm-consistency", sub, reason);
            return r;
        }
    };
    let scheme = key::SignatureScheme::from_identifier(&signature_alg).ok();
    r.pass(
        "algorithm-consistency",
        match scheme {
            Some(s) => format!("{digest_alg} with {s}"),
            None => format!("{digest_alg} with {}", oid::describe(&signature_alg.oid)),
        },
    );

    // 3. Signed attributes (RFC 5652 §5.4, §11) or the content itself.
    let signed_message: Vec<u8> = match &si.signed_attrs {
        Some(attrs) => {
            if !check_signed_attributes(&mut r, doc, attrs, digest_alg, digests) {
                return r;
            }
            if !check_ess(&mut r, attrs, cert_der, &cert, policy.require_cades) {
                return r;
            }
            // RFC 5652 §5.4: the signature covers the DER encoding of the SET OF attributes,
            // whose elements DER sorts by their encodings (X.690 §11.6); the decoder sorts a DER
            // input's set, not a BER one's.
            let der = SetOfVec::try_from(attrs.iter().cloned().collect::<Vec<_>>())
                .and_then(|set| set.to_der());
            match der {
                Ok(der) => der,
                Err(e) => {
                    r.fail(
                        "signed-attributes",
                        SubIndication::FormatFailure,
                        format!("re-encoding: {e}"),
                    );
                    return r;
                }
            }
        }
        None => {
            if policy.require_cades {
                r.fail(
                    "cades",
                    SubIndication::FormatFailure,
                    "no signed attributes, so no signingCertificateV2: not a CAdES signature (the policy requires CAdES)",
                );
                return r;
            }
            // RFC 5652 §5.4: without signed attributes eContentType must be id-data.
            if doc.content_type() != oid::ID_DATA {
                r.fail(
                    "content-type",
                    SubIndication::FormatFailure,
                    "no signed attributes with a content type other than id-data (RFC 5652 §5.3)",
                );
                return r;
            }
            r.warn(
                "cades",
                "no signed attributes: the signature covers the content only, no ESS binding",
            );
            match content {
                Some(c) => c.to_vec(),
                None => {
                    r.fail(
                        "content",
                        SubIndication::SignedDataNotFound,
                        "signature without signed attributes covers the content bytes, which were not supplied",
                    );
                    return r;
                }
            }
        }
    };

    // 4. The signature value, then its proof of existence: the signature time-stamps (EN 319
    // 102-1 §5.4), whose earliest valid genTime is the best-signature-time (§5.6.2.2). With one,
    // the signature is judged at that time (past signature validation, §5.6.2.1) with the
    // validation data it carries (B-LT) besides the relying party's.
    // Archive time-stamps (B-LTA, EN 319 122-1 §5.5.3) newest first, each over what it covered,
    // lend their proof of existence to the time-stamps they cover (§5.6.3).
    let stamps = stamps.then(|| {
        let index = doc
            .raw
            .as_deref()
            .and_then(|raw| archive::signer_position(raw, si.signature.as_bytes()));
        timestamp::long_term(doc, si, index, content, policy)
    });
    let poe = stamps.as_ref().and_then(|s| s.best);
    if let Some(s) = stamps {
        timestamp::report_stamps(&mut r, &s.reports);
        r.timestamps = s.reports;
        if let Some((due, what)) = s.renewal {
            r.renewal_due = Some(rfc3339(due));
            r.renewal_due_reason = Some(what);
        }
    }
    if poe.is_some() && doc.other_revocation > 0 {
        r.warn(
            "revocation-data",
            format!(
                "{} revocation entries in SignedData.crls of a format other than CRL and OCSP \
                 response are not read",
                doc.other_revocation
            ),
        );
    }
    let poe_policy;
    let (judged, paths) = match poe {
        Some((t, number)) => {
            r.best_signature_time = Some(rfc3339(t));
            r.best_signature_time_proof = Some(format!("signature time-stamp #{number}"));
            poe_policy = Policy {
                validation_time: t,
                crls: timestamp::each_once(&[&policy.crls, &doc.crls]),
                ocsp_responses: timestamp::each_once(&[&policy.ocsp_responses, &doc.ocsp]),
                ..policy.clone()
            };
            // The cache holds paths at the policy's own time only.
            (&poe_policy, None)
        }
        None => (policy, paths),
    };
    let at_text = match poe {
        Some((t, n)) => format!(
            "{} (best-signature-time, signature time-stamp #{n})",
            rfc3339(t)
        ),
        None => rfc3339(policy.validation_time),
    };
    match key::verify(
        spki,
        &signature_alg,
        &signed_message,
        si.signature.as_bytes(),
    ) {
        Ok(()) => {
            r.pass(
                "signature",
                "signature value verifies with the signer's key",
            );
            // Verified, so the catalogue decides whether it is still acceptable (EN 319 102-1
            // §5.2.8): the digest, the signature's own hash and the key.
            let hashes: Vec<DigestAlgorithm> = scheme
                .and_then(|s| s.hash())
                .into_iter()
                .chain([digest_alg])
                .collect();
            match judged
                .algorithms
                .check(judged.validation_time, &hashes, Some(key_params))
            {
                Ok(()) => r.pass(
                    "algorithms",
                    format!(
                        "{digest_alg}, {key_params}: acceptable at {at_text} (algorithm catalogue)"
                    ),
                ),
                Err(refusal) => {
                    r.fail(
                        "algorithms",
                        SubIndication::CryptoConstraintsFailureNoPoe,
                        format!("the signature verifies, but {refusal}; validation time {at_text}"),
                    );
                    return r;
                }
            }
        }
        Err(KeyError::BadSignature) => {
            r.fail(
                "signature",
                SubIndication::SigCryptoFailure,
                "signature value does not verify",
            );
            return r;
        }
        Err(KeyError::Unsupported(what)) => {
            r.fail(
                "signature",
                SubIndication::CryptoConstraintsFailureNoPoe,
                format!("not accepted: {what}"),
            );
            return r;
        }
        Err(e) => {
            r.fail("signature", SubIndication::FormatFailure, e.to_string());
            return r;
        }
    }

    // 5. The certificate: path, usage, role, policy.
    let key_usage = policy
        .key_usage
        .unwrap_or(policy.validation_policy.signer_key_usage());
    let signer = Signer {
        cert: &cert,
        der: cert_der,
        roles: &roles,
    };
    let path = check_certificate(&mut r, &signer, cms_certs, judged, paths, key_usage);
    r.path.clone_from(&path);
    if poe.is_some() || !judged.ocsp_responses.is_empty() {
        let used = path
            .as_deref()
            .map_or(&[][..], cache::PathVerdict::ocsp_used);
        revocation_sources(&mut r, judged, doc, used);
    }
    if let Some((t, number)) = poe {
        // Revoked at the best-signature-time: the time-stamp proves the signature existed only
        // after the revocation (EN 319 102-1 §5.6.2.1: past signature validation cannot place it
        // before), so the path's REVOKED stands, and the report says why the POE did not help.
        if r.sub_indication == Some(SubIndication::Revoked) {
            r.fail(
                "proof-of-existence",
                SubIndication::Revoked,
                format!(
                    "the best-signature-time {} (signature time-stamp #{number}) is not before \
                     the revocation: nothing shows the signature was made while the certificate \
                     was valid",
                    rfc3339(t)
                ),
            );
        }
    }

    // 6. Time: what the validation time may rest on (DESIGN.md §5 invariant 8).
    let revoked_later = path.as_deref().and_then(cache::PathVerdict::revoked_later);
    check_time(
        &mut r,
        si.signed_attrs.as_ref(),
        &cert,
        revoked_later,
        policy.validation_time,
        poe,
    );

    // 7. Signature acceptance (EN 319 102-1 §5.2.8): the validation policy's constraints.
    if policy.validation_policy == ValidationPolicy::Iso17090 {
        check_role_gate(&mut r, si.signed_attrs.as_ref(), &roles, policy);
    }
    r
}

/// The time checks of a signature without a proof of existence (no signature time-stamp is
/// supported yet), so that a verdict never rests on the caller's validation time or the signer's
/// claimed signingTime alone (DESIGN.md §5 invariant 8, EN 319 102-1 §5.2.5 and §5.6.2):
/// - a certificate of the path revoked after the validation time: nothing shows the signature
///   predates the revocation (a key compromised at T signs "at T−1" as easily as at T) →
///   REVOKED_NO_POE, or REVOKED_CA_NO_POE for a CA;
/// - the claimed signingTime outside the signer certificate's validity → OUT_OF_BOUNDS_NO_POE
///   (EN 319 102-1: the signing time cannot be ascertained to lie within the validity);
/// - the claimed signingTime after the validation time → NO_POE: the signer says the signature
///   did not exist yet at the validation time, so a verdict at that time proves nothing about
///   it, and only a proof of existence could place it earlier (NOT_YET_VALID and
///   TIMESTAMP_ORDER_FAILURE speak of certificates and time-stamps, not of the claim).
///
/// The claimed signingTime is always reported.
///
/// With a proof of existence `poe` (best-signature-time, time-stamp number), the path was
/// validated at that time (EN 319 102-1 §5.6.2.1 past signature validation): a certificate
/// revoked after it does not invalidate the signature; a claimed signingTime after it disagrees
/// with the proof (the signer claims a time after the signature provably existed) →
/// TIMESTAMP_ORDER_FAILURE.
fn check_time(
    r: &mut SignatureReport,
    attrs: Option<&SetOfVec<x509_cert::attr::Attribute>>,
    cert: &Certificate,
    revoked_later: Option<(&path::RevokedLater, &str)>,
    at: u64,
    poe: Option<(u64, usize)>,
) {
    if let Some((t, number)) = poe {
        let proof = format!(
            "best-signature-time {}, proven by signature time-stamp #{number}",
            rfc3339(t)
        );
        match revoked_later {
            Some((later, subject)) => r.pass(
                "proof-of-existence",
                format!(
                    "{proof}: {} {subject} was revoked on {} (reason {}), after it, so the \
                     signature was made before the revocation (EN 319 102-1 §5.6.2.1)",
                    if later.index == 0 {
                        "the signer's certificate"
                    } else {
                        "the CA certificate"
                    },
                    rfc3339(later.revoked_at),
                    later.reason
                ),
            ),
            None => r.pass("proof-of-existence", proof),
        }
        return check_claimed_time(r, attrs, cert, Some(t), at);
    }
    if let Some((later, subject)) = revoked_later {
        let (sub, what) = if later.index == 0 {
            (SubIndication::RevokedNoPoe, "the signer's certificate")
        } else {
            (SubIndication::RevokedCaNoPoe, "the CA certificate")
        };
        r.fail(
            "proof-of-existence",
            sub,
            format!(
                "{what} {subject} was revoked on {} (reason {}), after the validation time {}, \
                 and no proof of existence (signature time-stamp) shows the signature was made \
                 before the revocation",
                rfc3339(later.revoked_at),
                later.reason,
                rfc3339(at)
            ),
        );
    }
    check_claimed_time(r, attrs, cert, None, at);
}

/// The claimed signingTime against the signer certificate's validity and the validation time,
/// or against the best-signature-time `poe` when a time-stamp proves one.
fn check_claimed_time(
    r: &mut SignatureReport,
    attrs: Option<&SetOfVec<x509_cert::attr::Attribute>>,
    cert: &Certificate,
    poe: Option<u64>,
    at: u64,
) {
    const NAME: &str = "signing-time";
    let claimed =
        match attrs.map(|a| single_value::<x509_cert::time::Time>(a, oid::ID_SIGNING_TIME)) {
            None | Some(Ok(None)) => {
                r.skip(NAME, "no signingTime attribute: the signer claims no time");
                return;
            }
            Some(Err(e)) => {
                r.fail(NAME, SubIndication::FormatFailure, e);
                return;
            }
            Some(Ok(Some(t))) => t.to_unix_duration().as_secs(),
        };
    let validity = cert.tbs_certificate().validity();
    let (not_before, not_after) = (
        validity.not_before.to_unix_duration().as_secs(),
        validity.not_after.to_unix_duration().as_secs(),
    );
    let text = rfc3339(claimed);
    if claimed < not_before || claimed > not_after {
        r.fail(
            NAME,
            SubIndication::OutOfBoundsNoPoe,
            format!(
                "claimed signingTime {text} is outside the signer certificate's validity \
                 ({} to {})",
                rfc3339(not_before),
                rfc3339(not_after)
            ),
        );
    } else if let Some(t) = poe {
        if claimed > t {
            r.fail(
                NAME,
                SubIndication::TimestampOrderFailure,
                format!(
                    "claimed signingTime {text} is after the best-signature-time {}: the \
                     signature time-stamp proves the signature existed before the time its \
                     signer claims",
                    rfc3339(t)
                ),
            );
        } else {
            r.pass(
                NAME,
                format!(
                    "claimed {text}, within the signer certificate's validity and not after the \
                     best-signature-time {}",
                    rfc3339(t)
                ),
            );
        }
    } else if claimed > at {
        r.fail(
            NAME,
            SubIndication::NoPoe,
            format!(
                "claimed signingTime {text} is after the validation time {}: nothing proves the \
                 signature existed then",
                rfc3339(at)
            ),
        );
    } else {
        r.pass(
            NAME,
            format!(
                "claimed {text}, within the signer certificate's validity (a claim: no \
                 time-stamp proves it)"
            ),
        );
    }
}

/// For each certificate of the validated path but the anchor, the CRLs of its issuer that speak
/// for it at the validation time (current then, or issued after it: `revocation.rs`), and the
/// OCSP response that answered for it (`ocsp`), with their origin. Direct CRLs only; an indirect
/// CRL's coverage is in the revocation check's reason.
fn revocation_sources(
    r: &mut SignatureReport,
    judged: &Policy,
    doc: &SignedDocument,
    ocsp: &[path::OcspUse],
) {
    let embedded = &doc.crls;
    let at = judged.validation_time;
    let crls: Vec<(String, u64, &'static str)> = judged
        .crls
        .iter()
        .filter_map(|der| {
            let crl =
                x509_cert::crl::CertificateList::<x509_cert::certificate::Rfc5280>::from_der(der)
                    .ok()?;
            let tbs = &crl.tbs_cert_list;
            let this_update = tbs.this_update.to_unix_duration().as_secs();
            let next_update = tbs
                .next_update
                .as_ref()
                .map(|t| t.to_unix_duration().as_secs());
            let speaks = this_update > at || next_update.is_none_or(|n| at <= n);
            let origin = if embedded.contains(der) {
                "embedded"
            } else {
                "supplied"
            };
            speaks.then(|| (names::rfc4514(&tbs.issuer), this_update, origin))
        })
        .collect();
    let sources: Vec<RevocationSource> = r
        .chain
        .iter()
        .enumerate()
        .take(r.chain.len().saturating_sub(1))
        .flat_map(|(i, c)| {
            let by_crl = crls
                .iter()
                .filter(|(issuer, _, _)| *issuer == c.issuer)
                .map(|(_, this_update, origin)| RevocationSource {
                    subject: c.subject.clone(),
                    kind: "CRL",
                    origin,
                    this_update: rfc3339(*this_update),
                });
            let by_ocsp = ocsp.iter().filter(move |u| u.index == i).map(|u| {
                let der = judged.ocsp_responses.get(u.response);
                RevocationSource {
                    subject: c.subject.clone(),
                    kind: "OCSP",
                    origin: if der.is_some_and(|d| doc.ocsp.contains(d)) {
                        "embedded"
                    } else {
                        "supplied"
                    },
                    this_update: rfc3339(u.this_update),
                }
            });
            by_crl.chain(by_ocsp).collect::<Vec<_>>()
        })
        .collect();
    r.revocation_sources = sources;
}

/// The shipped role × purpose table, parsed once.
fn embedded_signing_policy() -> Result<&'static SigningPolicy, &'static PurposeError> {
    static EMBEDDED: OnceLock<Result<SigningPolicy, PurposeError>> = OnceLock::new();
    EMBEDDED.get_or_init(SigningPolicy::embedded).as_ref()
}

/// The ISO 17090 role gate, as the service applies it before signing: the purpose the signature
/// claims (CAdES commitment-type-indication, ETSI EN 319 122-1 §5.2.3: an ASTM E1762 purpose)
/// must be one the signer's certified hcRole may sign for in the signing policy. Without a
/// commitment type there is no purpose to gate: reported.
fn check_role_gate(
    r: &mut SignatureReport,
    attrs: Option<&SetOfVec<x509_cert::attr::Attribute>>,
    roles: &Result<Vec<HcRole>, hcrole::HcRoleError>,
    policy: &Policy,
) {
    const NAME: &str = "role-purpose";
    let table = match policy.signing_policy.as_deref() {
        Some(t) => t,
        None => match embedded_signing_policy() {
            Ok(t) => t,
            Err(e) => {
                r.fail(
                    NAME,
                    SubIndication::SigConstraintsFailure,
                    format!("signing policy unusable: {e}"),
                );
                return;
            }
        },
    };
    let cti = match attrs
        .map(|a| single_value::<CommitmentTypeIndication>(a, oid::ID_AA_ETS_COMMITMENT_TYPE))
    {
        None | Some(Ok(None)) => {
            r.warn(
                NAME,
                "no commitment-type-indication: no purpose to check the signer's role against",
            );
            return;
        }
        Some(Err(e)) => {
            r.fail(NAME, SubIndication::FormatFailure, e);
            return;
        }
        Some(Ok(Some(cti))) => cti.commitment_type_id,
    };
    let Some(purpose) = table.purposes().iter().find(|p| p.oid == cti) else {
        r.fail(
            NAME,
            SubIndication::SigConstraintsFailure,
            format!("commitment type {cti} is not a purpose of the signing policy"),
        );
        return;
    };
    let roles = match roles {
        Ok(roles) => roles,
        Err(e) => {
            r.fail(
                NAME,
                SubIndication::SigConstraintsFailure,
                format!("hcRole does not decode, so the role gate cannot pass: {e}"),
            );
            return;
        }
    };
    match table.check(roles, purpose) {
        Ok(()) => r.pass(
            NAME,
            format!(
                "the signer's role may sign as {} ({})",
                purpose.name, purpose.oid
            ),
        ),
        Err(e) => r.fail(
            NAME,
            SubIndication::SigConstraintsFailure,
            format!(
                "{e} (ISO 17090 signing policy; the generic validation policy has no role gate)"
            ),
        ),
    }
}

/// The signer's DSA key completed with the parameters it inherits (RFC 5280 §6.1.4(f)) from an
/// issuing certificate among those the CMS carries, the pool and the trust anchors.
fn signer_dsa_key(
    cert: &Certificate,
    cms_certs: &[Carried],
    policy: &Policy,
) -> Option<spki::SubjectPublicKeyInfoOwned> {
    let decoded: Vec<Certificate> = policy
        .cert_pool
        .iter()
        .chain(&policy.trust_anchors)
        .filter(|d| inherit::may_hold_dsa(d))
        .filter_map(|d| Certificate::from_der(d).ok())
        .collect();
    let issuers: Vec<&Certificate> = cms_certs
        .iter()
        .map(|c| &c.cert)
        .chain(decoded.iter())
        .collect();
    inherit::completed_key(cert, &issuers)
}

/// contentType and messageDigest (RFC 5652 §11.1, §11.2); signingTime and commitment type reported.
fn check_signed_attributes(
    r: &mut SignatureReport,
    doc: &SignedDocument,
    attrs: &SetOfVec<x509_cert::attr::Attribute>,
    digest_alg: DigestAlgorithm,
    digests: &[(DigestAlgorithm, Vec<u8>)],
) -> bool {
    match single_value::<ObjectIdentifier>(attrs, oid::ID_CONTENT_TYPE) {
        Ok(Some(ct)) if ct == doc.content_type() => r.pass("content-type", format!("{ct}")),
        Ok(Some(ct)) => {
            r.fail(
                "content-type",
                SubIndication::FormatFailure,
                format!(
                    "contentType attribute {ct} differs from eContentType {}",
                    doc.content_type()
                ),
            );
            return false;
        }
        Ok(None) => {
            r.fail(
                "content-type",
                SubIndication::FormatFailure,
                "contentType attribute missing",
            );
            return false;
        }
        Err(e) => {
            r.fail("content-type", SubIndication::FormatFailure, e);
            return false;
        }
    }
    let claimed = match single_value::<OctetString>(attrs, oid::ID_MESSAGE_DIGEST) {
        Ok(Some(d)) => d,
        Ok(None) => {
            r.fail(
                "message-digest",
                SubIndication::FormatFailure,
                "messageDigest attribute missing",
            );
            return false;
        }
        Err(e) => {
            r.fail("message-digest", SubIndication::FormatFailure, e);
            return false;
        }
    };
    let Some((_, computed)) = digests.iter().find(|(a, _)| *a == digest_alg) else {
        r.fail(
            "message-digest",
            SubIndication::SignedDataNotFound,
            format!("no {digest_alg:?} digest of the content was supplied"),
        );
        return false;
    };
    if claimed.as_bytes() != computed.as_slice() {
        r.fail(
            "message-digest",
            SubIndication::HashFailure,
            "the content's digest differs from the messageDigest attribute: the content was altered",
        );
        return false;
    }
    r.pass(
        "message-digest",
        format!("{digest_alg:?} digest of the content matches"),
    );
    if let Ok(Some(t)) = single_value::<x509_cert::time::Time>(attrs, oid::ID_SIGNING_TIME) {
        r.claimed_signing_time = Some(crate::engine::time::datetime(&t.to_date_time()));
    }
    if let Ok(Some(cti)) =
        single_value::<CommitmentTypeIndication>(attrs, oid::ID_AA_ETS_COMMITMENT_TYPE)
    {
        r.purpose = Some(oid::dotted(&cti.commitment_type_id));
        r.purpose_name = crate::engine::purpose::label(&cti.commitment_type_id);
    }
    true
}

/// ESS signingCertificateV2 (RFC 5035) or v1 (RFC 2634 §5.4): the first ESSCertID names the
/// signer's certificate by hash and, when present, issuerSerial. OpenSSL does not check this.
fn check_ess(
    r: &mut SignatureReport,
    attrs: &SetOfVec<x509_cert::attr::Attribute>,
    cert_der: &[u8],
    cert: &Certificate,
    require_cades: bool,
) -> bool {
    const NAME: &str = "signing-certificate";
    let v2 = single_value::<SigningCertificateV2>(attrs, oid::ID_AA_SIGNING_CERTIFICATE_V_2);
    let v1 = single_value::<SigningCertificateV1>(attrs, ID_AA_SIGNING_CERTIFICATE);
    let (hash_ok, issuer_serial, which) = match (v2, v1) {
        (Err(e), _) | (_, Err(e)) => {
            r.fail(NAME, SubIndication::FormatFailure, e);
            return false;
        }
        (Ok(Some(sc)), _) => {
            let Some(id) = sc.certs.first() else {
                r.fail(
                    NAME,
                    SubIndication::FormatFailure,
                    "signingCertificateV2 lists no certificate",
                );
                return false;
            };
            let alg = id.hash_algorithm();
            let Some(d) = digest_algorithm(&alg) else {
                r.fail(
                    NAME,
                    SubIndication::CryptoConstraintsFailureNoPoe,
                    format!("ESSCertIDv2 hash algorithm {} not accepted", alg.oid),
                );
                return false;
            };
            (
                d.digest(cert_der) == id.cert_hash.as_bytes(),
                id.issuer_serial.clone(),
                "signingCertificateV2",
            )
        }
        (Ok(None), Ok(Some(sc))) => {
            let Some(id) = sc.certs.first() else {
                r.fail(
                    NAME,
                    SubIndication::FormatFailure,
                    "signingCertificate lists no certificate",
                );
                return false;
            };
            let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, cert_der);
            (
                sha1.as_ref() == id.cert_hash.as_bytes(),
                id.issuer_serial.clone(),
                "signingCertificate (v1, SHA-1)",
            )
        }
        (Ok(None), Ok(None)) => {
            if require_cades {
                r.fail(
                    NAME,
                    SubIndication::FormatFailure,
                    "no signingCertificateV2 attribute: not a CAdES signature (the policy requires CAdES)",
                );
                return false;
            }
            r.warn(NAME, "no ESS signingCertificate(V2): the signer certificate is not bound to the signature");
            return true;
        }
    };
    // EN 319 102-1 §5.2.3.4: a reference that names another certificate leaves the signing
    // certificate unidentified.
    if !hash_ok {
        r.fail(
            NAME,
            SubIndication::NoSigningCertificateFound,
            format!("{which} hash does not match the signer certificate"),
        );
        return false;
    }
    if let Some(is) = issuer_serial {
        let tbs = cert.tbs_certificate();
        let issuer_ok = is
            .issuer
            .iter()
            .any(|gn| matches!(gn, GeneralName::DirectoryName(n) if n == tbs.issuer()));
        if !issuer_ok || is.serial_number != *tbs.serial_number() {
            r.fail(
                NAME,
                SubIndication::NoSigningCertificateFound,
                format!("{which} issuerSerial does not name the signer certificate"),
            );
            return false;
        }
    }
    r.pass(NAME, format!("{which} matches the signer certificate"));
    true
}

/// `SigningCertificate ::= SEQUENCE { certs SEQUENCE OF ESSCertID, policies … OPTIONAL }`,
/// `ESSCertID ::= SEQUENCE { certHash Hash (SHA-1), issuerSerial IssuerSerial OPTIONAL }`
/// (RFC 2634 §5.4).
#[derive(Clone, Debug, der::Sequence)]
struct SigningCertificateV1 {
    certs: Vec<EssCertIdV1>,
    #[asn1(optional = "true")]
    policies: Option<Vec<Any>>,
}

#[derive(Clone, Debug, der::Sequence)]
struct EssCertIdV1 {
    cert_hash: OctetString,
    #[asn1(optional = "true")]
    issuer_serial: Option<crate::engine::sign::IssuerSerial>,
}

/// The one value of a single-valued attribute (RFC 5652 §11: contentType, messageDigest,
/// signingTime, and the CAdES ones must appear once, with one value).
fn single_value<T: for<'a> Decode<'a, Error = der::Error>>(
    attrs: &SetOfVec<x509_cert::attr::Attribute>,
    id: ObjectIdentifier,
) -> Result<Option<T>, String> {
    let mut found = attrs.iter().filter(|a| a.oid == id);
    let Some(attr) = found.next() else {
        return Ok(None);
    };
    if found.next().is_some() || attr.values.len() != 1 {
        return Err(format!("attribute {id} must appear once with one value"));
    }
    let value = attr
        .values
        .iter()
        .next()
        .ok_or_else(|| format!("attribute {id} is empty"))?;
    value
        .to_der()
        .and_then(|der| T::from_der(&der))
        .map(Some)
        .map_err(|e| format!("attribute {id}: {e}"))
}

/// The signature algorithm to verify with, checked against the digest and the key. OpenSSL
/// writes the key's algorithm (`rsaEncryption`, `id-ecPublicKey`, `id-dsa`) as the signature
/// algorithm (RFC 3370 §3.2, RFC 5753 §7.1.1 allow it): the hash then comes from
/// digestAlgorithm. Any legal hash goes with any key size or curve (RFC 5754 §3, RFC 5758 §3):
/// whether it is still acceptable is the algorithm catalogue's question, asked later.
fn signature_algorithm(
    spki: &spki::SubjectPublicKeyInfoOwned,
    alg: &AlgorithmIdentifierOwned,
    digest: DigestAlgorithm,
) -> Result<AlgorithmIdentifierOwned, (SubIndication, String)> {
    use const_oid::db::rfc5912 as db;
    use key::SignatureScheme as S;
    let params = key::key_params(spki).map_err(|e| match e {
        KeyError::Unsupported(w) => (
            SubIndication::CryptoConstraintsFailureNoPoe,
            format!("not accepted: {w}"),
        ),
        e => (
            SubIndication::FormatFailure,
            format!("signer public key: {e}"),
        ),
    })?;
    let format = |what: String| (SubIndication::FormatFailure, what);
    let by_digest = |table: &[(DigestAlgorithm, ObjectIdentifier)]| {
        table
            .iter()
            .find(|(d, _)| *d == digest)
            .map(|(_, o)| *o)
            .ok_or_else(|| {
                (
                    SubIndication::CryptoConstraintsFailureNoPoe,
                    format!("not accepted: {} with {digest}", oid::describe(&alg.oid)),
                )
            })
    };
    use DigestAlgorithm as D;
    let alg = match params.algorithm {
        KeyAlgorithm::Rsa if alg.oid == oid::RSA_ENCRYPTION => AlgorithmIdentifierOwned {
            oid: by_digest(&[
                (D::Sha1, db::SHA_1_WITH_RSA_ENCRYPTION),
                (D::Sha224, db::SHA_224_WITH_RSA_ENCRYPTION),
                (D::Sha256, db::SHA_256_WITH_RSA_ENCRYPTION),
                (D::Sha384, db::SHA_384_WITH_RSA_ENCRYPTION),
                (D::Sha512, db::SHA_512_WITH_RSA_ENCRYPTION),
            ])?,
            parameters: Some(Any::null()),
        },
        KeyAlgorithm::P256 | KeyAlgorithm::P384 | KeyAlgorithm::P521
            if alg.oid == oid::ID_EC_PUBLIC_KEY =>
        {
            AlgorithmIdentifierOwned {
                oid: by_digest(&[
                    (D::Sha1, oid::ECDSA_WITH_SHA_1),
                    (D::Sha224, db::ECDSA_WITH_SHA_224),
                    (D::Sha256, db::ECDSA_WITH_SHA_256),
                    (D::Sha384, db::ECDSA_WITH_SHA_384),
                    (D::Sha512, db::ECDSA_WITH_SHA_512),
                ])?,
                parameters: None,
            }
        }
        KeyAlgorithm::Dsa if alg.oid == oid::ID_DSA => AlgorithmIdentifierOwned {
            oid: by_digest(&[
                (D::Sha1, db::DSA_WITH_SHA_1),
                (D::Sha224, db::DSA_WITH_SHA_224),
                (D::Sha256, db::DSA_WITH_SHA_256),
            ])?,
            parameters: None,
        },
        _ => alg.clone(),
    };
    let scheme = key::SignatureScheme::from_identifier(&alg).map_err(|e| match e {
        KeyError::Unsupported(w) => (
            SubIndication::CryptoConstraintsFailureNoPoe,
            format!("not accepted: {w}"),
        ),
        e => format(format!("signature algorithm {}: {e}", alg.oid)),
    })?;
    let fits = match scheme {
        S::RsaPkcs1(_) | S::RsaPss { .. } => params.algorithm == KeyAlgorithm::Rsa,
        S::Ecdsa(_) => matches!(
            params.algorithm,
            KeyAlgorithm::P256 | KeyAlgorithm::P384 | KeyAlgorithm::P521
        ),
        S::Dsa(_) => params.algorithm == KeyAlgorithm::Dsa,
        S::Ed25519 => params.algorithm == KeyAlgorithm::Ed25519,
    };
    if !fits {
        return Err(format(format!(
            "signature algorithm {scheme} with a {} key",
            key::algorithm_name(params.algorithm)
        )));
    }
    match scheme.hash() {
        Some(h) if h != digest => Err(format(format!(
            "signature algorithm {scheme} does not use digest algorithm {digest}"
        ))),
        // RFC 8419 §3.1: with signed attributes, SHA-512 digests the content.
        None if digest != DigestAlgorithm::Sha512 => Err(format(format!(
            "Ed25519 requires SHA-512 as digest algorithm, not {digest} (RFC 8419 §3.1)"
        ))),
        _ => Ok(alg),
    }
}

fn sid_kind(sid: &SignerIdentifier) -> &'static str {
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(_) => "issuerAndSerialNumber",
        SignerIdentifier::SubjectKeyIdentifier(_) => "subjectKeyIdentifier",
    }
}

/// A SignerInfo's `sid` (RFC 5652 §5.3) for people: issuer and serial, or the key identifier.
pub fn sid_text(sid: &SignerIdentifier) -> String {
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(ias) => {
            format!(
                "issuer {}, serial {}",
                ias.issuer,
                hex::encode(ias.serial_number.as_bytes())
            )
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => {
            format!("SKI {}", hex::encode(ski.0.as_bytes()))
        }
    }
}

fn subject_key_id(cert: &Certificate) -> Option<Vec<u8>> {
    let ext = cert
        .tbs_certificate()
        .extensions()?
        .iter()
        .find(|e| e.extn_id == oid::ID_CE_SUBJECT_KEY_IDENTIFIER)?;
    SubjectKeyIdentifier::from_der(ext.extn_value.as_bytes())
        .ok()
        .map(|s| s.0.as_bytes().to_vec())
}

/// The signer's certificate (DER and decoded) among those the CMS carries, then the pool.
fn find_signer<'a>(
    sid: &SignerIdentifier,
    cms_certs: &'a [Carried],
    pool: &'a [Vec<u8>],
) -> Option<(&'a [u8], std::borrow::Cow<'a, Certificate>)> {
    use std::borrow::Cow;
    let matches = |cert: &Certificate| {
        let tbs = cert.tbs_certificate();
        match sid {
            SignerIdentifier::IssuerAndSerialNumber(ias) => {
                ias.issuer == *tbs.issuer() && ias.serial_number == *tbs.serial_number()
            }
            SignerIdentifier::SubjectKeyIdentifier(ski) => {
                subject_key_id(cert).is_some_and(|k| k == ski.0.as_bytes())
            }
        }
    };
    if let Some(c) = cms_certs.iter().find(|c| matches(&c.cert)) {
        return Some((&c.der, Cow::Borrowed(&c.cert)));
    }
    pool.iter().find_map(|der| {
        let cert = epoch::decode(der).ok()?;
        matches(&cert).then_some((der.as_slice(), Cow::Owned(cert)))
    })
}

/// Whether `cert` is the one `sid` names (RFC 5652 §5.3).
pub(crate) fn names_certificate(sid: &SignerIdentifier, cert: &Certificate) -> bool {
    let tbs = cert.tbs_certificate();
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(ias) => {
            ias.issuer == *tbs.issuer() && ias.serial_number == *tbs.serial_number()
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => {
            subject_key_id(cert).is_some_and(|k| k == ski.0.as_bytes())
        }
    }
}

fn serial_hex(serial: &SerialNumber) -> String {
    hex::encode_upper(serial.as_bytes())
}

impl From<&Certificate> for CertSummary {
    fn from(cert: &Certificate) -> Self {
        summary(cert)
    }
}

fn summary(cert: &Certificate) -> CertSummary {
    summary_with(cert, &mut NameTexts::default())
}

fn summary_with<'a>(cert: &'a Certificate, names: &mut NameTexts<'a>) -> CertSummary {
    let tbs = cert.tbs_certificate();
    CertSummary {
        subject: names.text(tbs.subject()),
        issuer: names.text(tbs.issuer()),
        serial: serial_hex(tbs.serial_number()),
        not_before: crate::engine::time::datetime(&tbs.validity().not_before.to_date_time()),
        not_after: crate::engine::time::datetime(&tbs.validity().not_after.to_date_time()),
    }
}

fn extension(cert: &Certificate, id: ObjectIdentifier) -> Option<&[u8]> {
    cert.tbs_certificate()
        .extensions()?
        .iter()
        .find(|e| e.extn_id == id)
        .map(|e| e.extn_value.as_bytes())
}

fn policies_of(cert: &Certificate) -> Vec<ObjectIdentifier> {
    extension(cert, oid::ID_CE_CERTIFICATE_POLICIES)
        .and_then(|v| CertificatePolicies::from_der(v).ok())
        .map(|p| p.0.iter().map(|pi| pi.policy_identifier).collect())
        .unwrap_or_default()
}

/// The signer's certificate, its encoding and its hcRoles, decoded once per signature.
#[derive(Clone, Copy)]
struct Signer<'a> {
    cert: &'a Certificate,
    der: &'a [u8],
    roles: &'a Result<Vec<HcRole>, hcrole::HcRoleError>,
}

/// hcRoles and policies into the report (what the relying party reads first).
fn describe_signer(
    r: &mut SignatureReport,
    cert: &Certificate,
    roles: &Result<Vec<HcRole>, hcrole::HcRoleError>,
) {
    match roles {
        Ok(roles) => {
            r.hc_roles = roles
                .iter()
                .map(|h| RoleReport {
                    scheme: h.scheme.to_string(),
                    code: h.code.clone(),
                    text: h.text.clone(),
                })
                .collect();
        }
        Err(e) => r.warn("hc-role", format!("hcRole does not decode: {e}")),
    }
    r.certificate_policies = policies_of(cert).iter().map(oid::dotted).collect();
    r.signer_key = Some(key::describe_public_key(
        cert.tbs_certificate().subject_public_key_info(),
    ));
}

/// Path validation (certval; remembered in `paths` when given), then the signing-specific checks
/// on the certificate.
fn check_certificate(
    r: &mut SignatureReport,
    signer: &Signer<'_>,
    cms_certs: &[Carried],
    policy: &Policy,
    paths: Option<&cache::PathCache>,
    key_usage: KeyUsageRule,
) -> Option<Arc<cache::PathVerdict>> {
    let Signer {
        cert,
        der: cert_der,
        roles,
    } = *signer;
    let mut verdict = None;
    if policy.check_chain {
        let signer = r.signer.as_ref().map(|s| (cert, s));
        let v = match paths {
            Some(paths) => paths.verdict(cert_der, cms_certs, policy, signer),
            None => Arc::new(cache::PathVerdict::validate(
                cert_der, cms_certs, policy, signer,
            )),
        };
        v.report(r, policy.validation_time);
        verdict = Some(v);
    } else {
        r.skip(
            "certificate-path",
            "path validation is off in the policy: the certificate path was not validated",
        );
    }
    check_key_usage(r, cert, key_usage, policy.key_usage.is_some());
    if let Some(rule) = &policy.eku {
        check_eku(r, cert, rule);
    }
    if let Some(required) = &policy.require_role {
        let held = roles
            .iter()
            .flatten()
            .any(|h| h.scheme == required.scheme && h.text == required.text);
        if held {
            r.pass("hc-role", format!("holds {required}"));
        } else {
            r.fail(
                "hc-role",
                SubIndication::SigConstraintsFailure,
                format!("required hcRole {required} not held by the signer"),
            );
        }
    }
    if !policy.accept_policies.is_empty() {
        let held = policies_of(cert);
        match policy.accept_policies.iter().find(|p| held.contains(p)) {
            Some(p) => r.pass("certificate-policy", format!("asserts accepted policy {p}")),
            None => r.fail(
                "certificate-policy",
                SubIndication::ChainConstraintsFailure,
                "the certificate asserts none of the accepted policies",
            ),
        }
    }
    verdict
}

fn check_key_usage(
    r: &mut SignatureReport,
    cert: &Certificate,
    rule: KeyUsageRule,
    explicit: bool,
) {
    const NAME: &str = "key-usage";
    let ku = match extension(cert, oid::ID_CE_KEY_USAGE).map(KeyUsage::from_der) {
        None => None,
        Some(Err(e)) => {
            r.fail(
                NAME,
                SubIndication::FormatFailure,
                format!("keyUsage does not decode: {e}"),
            );
            return;
        }
        Some(Ok(ku)) => Some(ku),
    };
    let has = |bit| ku.as_ref().is_some_and(|k| k.0.contains(bit));
    let (nr, ds) = (
        has(KeyUsages::NonRepudiation),
        has(KeyUsages::DigitalSignature),
    );
    let text = ku.as_ref().map_or_else(
        || "no keyUsage extension".to_string(),
        |k| format!("keyUsage {:?}", k.0),
    );
    let refuse = |r: &mut SignatureReport, why: String| {
        r.fail(
            NAME,
            SubIndication::ChainConstraintsFailure,
            format!("{text}: {why}"),
        )
    };
    match rule {
        KeyUsageRule::NonRepudiation if !nr && explicit => refuse(
            r,
            "nonRepudiation is required (the policy's key-usage rule)".into(),
        ),
        KeyUsageRule::NonRepudiation if !nr => refuse(
            r,
            "nonRepudiation is required to sign documents (ISO 17090 signing policy; \
             the generic validation policy accepts digitalSignature)"
                .into(),
        ),
        KeyUsageRule::DigitalSignature if !ds => refuse(
            r,
            "digitalSignature is required (the policy's key-usage rule)".into(),
        ),
        KeyUsageRule::NonRepudiationOrDigitalSignature if ku.is_some() && !nr && !ds => refuse(
            r,
            "neither nonRepudiation nor digitalSignature (RFC 5280 §4.2.1.3, generic policy)"
                .into(),
        ),
        KeyUsageRule::ReportOnly => r.skip(NAME, format!("{text} (not checked)")),
        _ => r.pass(NAME, text),
    }
}

fn check_eku(r: &mut SignatureReport, cert: &Certificate, rule: &EkuRule) {
    const NAME: &str = "extended-key-usage";
    let eku = extension(cert, oid::ID_CE_EXT_KEY_USAGE).map(ExtendedKeyUsage::from_der);
    match (rule, eku) {
        (_, Some(Err(e))) => r.fail(
            NAME,
            SubIndication::FormatFailure,
            format!("EKU does not decode: {e}"),
        ),
        (EkuRule::Any, _) => r.pass(NAME, "any extended key usage accepted"),
        (EkuRule::Required(o), Some(Ok(list)))
            if list.0.contains(o) || list.0.contains(&ANY_EKU) =>
        {
            r.pass(NAME, format!("EKU lists {o}"))
        }
        (EkuRule::Required(o), _) => r.fail(
            NAME,
            SubIndication::ChainConstraintsFailure,
            format!("the certificate's EKU does not allow {o}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(name: &str) -> Vec<u8> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-vectors");
        std::fs::read(dir.join(name)).unwrap()
    }

    /// Each certificate a CMS carries is decoded once and kept with the DER it came in: bytes
    /// of the input, and the decoded certificate's own encoding.
    #[test]
    fn carried_certificates_keep_the_der_they_came_in() {
        let input = vector("cms/valid-attached-p256.p7s");
        let doc = SignedDocument::parse(&input).unwrap();
        assert_eq!(doc.carried.len(), 2);
        for c in &doc.carried {
            assert!(input.windows(c.der.len()).any(|w| w == c.der.as_slice()));
            assert_eq!(c.cert.to_der().unwrap(), c.der);
        }
        assert_eq!(
            doc.certificates(),
            doc.carried
                .iter()
                .map(|c| c.der.clone())
                .collect::<Vec<_>>()
        );
    }
}
