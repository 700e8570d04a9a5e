//! OCSP (RFC 6960, RFC 5019 profile): the request and response types, and the pieces of the
//! responder that need no authority state: request parsing (size, count and nonce limits), the
//! CertID hashes, the responderID and the signed `BasicOCSPResponse`.
//!
//! The ASN.1 types are certval's `certval::ocsp` (a copy of RustCrypto's x509-ocsp on the der 0.8
//! generation; x509-ocsp on crates.io is der 0.7, DESIGN.md §3); only Common-PKI's `CertHash` is
//! written here. Which CA answers, and the status, are `Authority::ocsp_response`'s
//! (`authority/ocsp.rs`). Time is a parameter: ca-core reads no clock.

use crate::engine::crl;
use crate::engine::digest::DigestAlgorithm;
use crate::engine::key::{KeyError, SigningKey};
use crate::engine::oid;
use crate::engine::store::Revocation;
use der::asn1::{BitString, GeneralizedTime, OctetString};
use der::{DateTime, Decode, Encode, Tagged};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::CrlReason;
use x509_cert::name::Name;

pub use certval::ocsp::ext::{ArchiveCutoff, Nonce};
pub use certval::ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspGeneralizedTime, OcspRequest, OcspResponse,
    OcspResponseStatus, Request, ResponderId, ResponseBytes, ResponseData, RevokedInfo,
    SingleResponse, TbsRequest, Version,
};

/// The largest request accepted, in octets: one CertID with a nonce is about 120; a signed
/// request with its certificates fits too. Larger ones are malformedRequest, undecoded.
pub const MAX_REQUEST_LEN: usize = 16 * 1024;

/// CertIDs answered in one response (RFC 5019 §2.1.1 clients send one); more are malformedRequest.
pub const MAX_CERT_IDS: usize = 16;

/// RFC 8954 §2.1: `Nonce ::= OCTET STRING(SIZE(1..32))`; others are malformedRequest.
pub const MAX_NONCE_LEN: usize = 32;

/// Common-PKI `CertHash ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier, certificateHash OCTET
/// STRING }` (`1.3.36.8.3.13`, `iso17090.md` table): the hash of the whole certificate, as a
/// single extension, so a relying party knows the responder saw that very certificate.
#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
pub struct CertHash {
    /// `hashAlgorithm`: SHA-256 here.
    pub hash_algorithm: AlgorithmIdentifierOwned,
    /// `certificateHash`: the hash of the certificate's DER.
    pub certificate_hash: OctetString,
}

/// What one answer said, for metrics and caching: one per CertID of a successful response, or
/// `Error` for a response without one (malformedRequest, unauthorized, internalError).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OcspStatus {
    /// `good`: issued by that CA and not revoked.
    Good,
    /// `revoked` (or on hold).
    Revoked,
    /// `unknown`: that CA never issued the serial.
    Unknown,
    /// No status: the response is an error status.
    Error,
}

impl OcspStatus {
    /// The metric label: `good`, `revoked`, `unknown`, `error`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Good => "good",
            Self::Revoked => "revoked",
            Self::Unknown => "unknown",
            Self::Error => "error",
        }
    }
}

/// A DER `OCSPResponse` with what it says.
#[derive(Clone, Debug)]
pub struct OcspAnswer {
    /// The `OCSPResponse`, DER.
    pub der: Vec<u8>,
    /// Its `responseStatus`.
    pub response_status: OcspResponseStatus,
    /// One per SingleResponse, in order; `[Error]` when not successful.
    pub statuses: Vec<OcspStatus>,
    /// Unix seconds: the nextUpdate of every SingleResponse (None when not successful): a
    /// cache may keep the answer until then (RFC 5019 §6.2).
    pub next_update: Option<u64>,
}

impl OcspAnswer {
    /// An unsigned error response (RFC 6960 §2.3): malformedRequest, internalError, unauthorized…
    pub fn error(status: OcspResponseStatus) -> Self {
        let response = OcspResponse {
            response_status: status,
            response_bytes: None,
        };
        // Two fixed octets of ENUMERATED: encoding cannot fail.
        let der = response.to_der().unwrap_or_default();
        Self {
            der,
            response_status: status,
            statuses: vec![OcspStatus::Error],
            next_update: None,
        }
    }
}

/// The request as the responder needs it.
pub(crate) struct ParsedRequest {
    pub(crate) cert_ids: Vec<CertId>,
    /// The request's nonce extension, to echo unchanged (RFC 8954 §2.1).
    pub(crate) nonce: Option<Extension>,
}

/// Decodes a DER `OCSPRequest` within the limits above; `None` is malformedRequest. A signed
/// request is accepted and its signature ignored (RFC 6960 §4.1.2: optional, and we answer
/// anyone). An unknown critical request extension makes it malformed; non-critical ones are
/// ignored.
pub(crate) fn parse_request(der: &[u8]) -> Option<ParsedRequest> {
    if der.len() > MAX_REQUEST_LEN {
        return None;
    }
    let request = OcspRequest::from_der(der).ok()?;
    let tbs = request.tbs_request;
    if tbs.request_list.is_empty() || tbs.request_list.len() > MAX_CERT_IDS {
        return None;
    }
    let mut nonce = None;
    for ext in tbs.request_extensions.iter().flatten() {
        if ext.extn_id == oid::ID_PKIX_OCSP_NONCE {
            let value = OctetString::from_der(ext.extn_value.as_bytes()).ok()?;
            if !(1..=MAX_NONCE_LEN).contains(&value.as_bytes().len()) || nonce.is_some() {
                return None;
            }
            nonce = Some(Extension {
                extn_id: oid::ID_PKIX_OCSP_NONCE,
                critical: false,
                extn_value: ext.extn_value.clone(),
            });
        } else if ext.critical {
            return None;
        }
    }
    let mut cert_ids = Vec::with_capacity(tbs.request_list.len());
    for single in tbs.request_list {
        if single
            .single_request_extensions
            .iter()
            .flatten()
            .any(|e| e.critical)
        {
            return None;
        }
        cert_ids.push(single.req_cert);
    }
    Some(ParsedRequest { cert_ids, nonce })
}

/// The digest of a CertID's `hashAlgorithm` (parameters absent or NULL): SHA-1 (what RFC 5019
/// clients send), SHA-256, SHA-384, SHA-512.
pub(crate) fn cert_id_digest(alg: &AlgorithmIdentifierOwned) -> Option<DigestAlgorithm> {
    let params_ok = match &alg.parameters {
        None => true,
        Some(p) => p.tag() == der::Tag::Null && p.value().is_empty(),
    };
    let digest = DigestAlgorithm::from_oid(&alg.oid)?;
    (params_ok && digest != DigestAlgorithm::Sha224).then_some(digest)
}

/// Whether `id` names the issuer with `name` and `spki` (RFC 6960 §4.1.1: issuerNameHash over
/// the DER of the issuer's name, issuerKeyHash over its subjectPublicKey BIT STRING value).
pub(crate) fn names_issuer(
    id: &CertId,
    digest: DigestAlgorithm,
    name: &Name,
    spki: &SubjectPublicKeyInfoOwned,
) -> bool {
    let Ok(name_der) = name.to_der() else {
        return false;
    };
    digest.digest(&name_der) == id.issuer_name_hash.as_bytes()
        && digest.digest(spki.subject_public_key.raw_bytes()) == id.issuer_key_hash.as_bytes()
}

/// RFC 6960 §4.2.1 `ResponderID byKey`: SHA-1 over the value of the responder's subjectPublicKey
/// BIT STRING (tag, length and unused-bits octet excluded) — not its subjectKeyIdentifier,
/// which hpki derives otherwise (`issue::key_identifier`).
pub fn responder_key_hash(spki: &SubjectPublicKeyInfoOwned) -> [u8; 20] {
    let mut out = [0u8; 20];
    out.copy_from_slice(&DigestAlgorithm::Sha1.digest(spki.subject_public_key.raw_bytes()));
    out
}

/// One SingleResponse to sign.
pub(crate) struct Single {
    pub(crate) cert_id: CertId,
    /// `None`: unknown. `Some(None)`: good. `Some(Some(r))`: revoked.
    pub(crate) status: Option<Option<Revocation>>,
    /// The certificate's DER when known, for CertHash.
    pub(crate) certificate: Option<Vec<u8>>,
}

/// How the responder signs, and the optional single extensions of its profile.
pub(crate) struct Signing<'a> {
    pub(crate) key: &'a SigningKey,
    /// The responder's certificates to include (its own first).
    pub(crate) certs: &'a [Certificate],
    pub(crate) cert_hash: bool,
    /// Unix seconds: archiveCutoff to state, when the profile keeps status past expiry.
    pub(crate) archive_cutoff: Option<u64>,
}

/// Why a response could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum OcspError {
    /// DER encoding failed.
    #[error("encoding the OCSP response: {0}")]
    Der(#[from] der::Error),
    /// The responder key could not sign.
    #[error("signing the OCSP response: {0}")]
    Sign(#[from] KeyError),
    /// A time outside what GeneralizedTime encodes.
    #[error("time out of range: {0}")]
    Time(String),
}

fn generalized(unix: u64) -> Result<OcspGeneralizedTime, OcspError> {
    let dt = DateTime::from_unix_duration(std::time::Duration::from_secs(unix))
        .map_err(|e| OcspError::Time(e.to_string()))?;
    Ok(OcspGeneralizedTime(GeneralizedTime::from_date_time(dt)))
}

/// Signs a successful response: responderID byKey, producedAt = thisUpdate = `now`, nextUpdate =
/// `next_update` on every SingleResponse, the nonce echoed, the responder's certificates in
/// `certs` (RFC 5019 §2.2.2 / RFC 6960 §4.2.1).
pub(crate) fn sign_response(
    singles: &[Single],
    nonce: Option<Extension>,
    signing: &Signing<'_>,
    now: u64,
    next_update: u64,
) -> Result<OcspAnswer, OcspError> {
    let this_update = generalized(now)?;
    let next = generalized(next_update)?;
    let mut responses = Vec::with_capacity(singles.len());
    let mut statuses = Vec::with_capacity(singles.len());
    for single in singles {
        let (cert_status, status) = match &single.status {
            None => (CertStatus::unknown(), OcspStatus::Unknown),
            Some(None) => (CertStatus::good(), OcspStatus::Good),
            Some(Some(r)) => (
                CertStatus::revoked(RevokedInfo {
                    revocation_time: generalized(r.revoked_at)?,
                    // As on the CRL (crl.rs): no reason for unspecified (RFC 5280 §5.3.1).
                    revocation_reason: Some(crl::crl_reason(r.reason.code()))
                        .filter(|r| *r != CrlReason::Unspecified),
                }),
                OcspStatus::Revoked,
            ),
        };
        let mut exts = Vec::new();
        if signing.cert_hash
            && let Some(der) = &single.certificate
        {
            let hash = CertHash {
                hash_algorithm: DigestAlgorithm::Sha256.identifier(),
                certificate_hash: OctetString::new(DigestAlgorithm::Sha256.digest(der))?,
            };
            exts.push(Extension {
                extn_id: oid::ID_COMMON_PKI_CERT_HASH,
                critical: false,
                extn_value: OctetString::new(hash.to_der()?)?,
            });
        }
        if let Some(cutoff) = signing.archive_cutoff {
            exts.push(Extension {
                extn_id: oid::ID_PKIX_OCSP_ARCHIVE_CUTOFF,
                critical: false,
                extn_value: OctetString::new(generalized(cutoff)?.to_der()?)?,
            });
        }
        responses.push(SingleResponse {
            cert_id: single.cert_id.clone(),
            cert_status,
            this_update,
            next_update: Some(next),
            single_extensions: (!exts.is_empty()).then_some(exts),
        });
        statuses.push(status);
    }
    let key_hash = responder_key_hash(signing.key.public_key_info());
    let tbs = ResponseData {
        version: Version::V1,
        responder_id: ResponderId::ByKey(OctetString::new(key_hash.as_slice())?),
        produced_at: this_update,
        responses,
        response_extensions: nonce.map(|n| vec![n]),
    };
    let signature = signing.key.sign(&tbs.to_der()?)?;
    let basic = BasicOcspResponse {
        tbs_response_data: tbs,
        signature_algorithm: signing.key.signature_algorithm(),
        signature: BitString::from_bytes(&signature)?,
        certs: Some(signing.certs.to_vec()),
    };
    let response = OcspResponse {
        response_status: OcspResponseStatus::Successful,
        response_bytes: Some(ResponseBytes {
            response_type: oid::ID_PKIX_OCSP_BASIC,
            response: OctetString::new(basic.to_der()?)?,
        }),
    };
    Ok(OcspAnswer {
        der: response.to_der()?,
        response_status: OcspResponseStatus::Successful,
        statuses,
        next_update: Some(next_update),
    })
}
