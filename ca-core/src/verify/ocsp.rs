//! OCSP responses as revocation data for path validation (RFC 6960 §3.2, §4.2.2.2; EN 319 102-1
//! §5.2.5): responses the relying party supplies ([`super::Policy::ocsp_responses`]) and those a
//! signature carries (`SignedData.crls`, RevocationInfoChoice `other` id-ri-ocsp-response, RFC
//! 5940 §4.1), decoded once per validation ([`OcspSet`]). Which response may speak for a
//! certificate (CertID, freshness, the responder's authority and signature) is decided in
//! `revocation.rs`, which holds the signature checks and the CRLs a responder's own status needs.

use crate::engine::digest::DigestAlgorithm;
use crate::engine::ocsp::{
    CertStatus, OcspResponse, OcspResponseStatus, ResponderId, ResponseData, SingleResponse,
    cert_id_digest, responder_key_hash,
};
use crate::engine::oid;
use der::asn1::{Any, BitString};
use der::{Decode, Encode, Sequence};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;

/// Largest OCSP response file accepted.
pub const MAX_OCSP_RESPONSE_LEN: usize = 1 << 20;

/// RFC 6960 §4.2.1 BasicOCSPResponse with `tbsResponseData` kept as received: the signature is
/// over those octets.
#[derive(Sequence)]
struct SignedBasic {
    tbs_response_data: Any,
    signature_algorithm: AlgorithmIdentifierOwned,
    signature: BitString,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    certs: Option<Vec<Any>>,
}

/// One decoded BasicOCSPResponse.
pub(crate) struct Response {
    /// Position among the responses validation was given (supplied first, then embedded).
    pub index: usize,
    pub tbs: Vec<u8>,
    pub algorithm: AlgorithmIdentifierOwned,
    pub signature: BitString,
    pub responder: ResponderId,
    pub produced_at: u64,
    pub singles: Vec<SingleResponse>,
    /// The certificates it carries (a delegated responder's own first, usually), with their DER.
    pub certs: Vec<(Vec<u8>, Certificate)>,
}

fn secs(t: &der::asn1::GeneralizedTime) -> u64 {
    t.to_unix_duration().as_secs()
}

/// What a SingleResponse says (RFC 6960 §4.2.1).
pub(crate) enum Said {
    Good,
    /// revocationTime (Unix seconds) and the reason's RFC 5280 name.
    Revoked(u64, &'static str),
    Unknown,
}

/// One SingleResponse with its times.
pub(crate) struct Single {
    pub said: Said,
    pub this_update: u64,
    pub next_update: Option<u64>,
}

impl Response {
    /// Decodes an OCSPResponse (RFC 6960 §4.2.1; successful, id-pkix-ocsp-basic), or a bare
    /// BasicOCSPResponse as some tools store it.
    pub(crate) fn decode(index: usize, der: &[u8]) -> Result<Self, String> {
        if der.len() > MAX_OCSP_RESPONSE_LEN {
            return Err(format!(
                "{} bytes, more than the {MAX_OCSP_RESPONSE_LEN} allowed",
                der.len()
            ));
        }
        let basic = match OcspResponse::from_der(der) {
            Ok(r) => {
                if r.response_status != OcspResponseStatus::Successful {
                    return Err(format!(
                        "responseStatus is {:?}, not successful: it says nothing about a \
                         certificate",
                        r.response_status
                    ));
                }
                let bytes = r
                    .response_bytes
                    .ok_or("a successful OCSPResponse without responseBytes")?;
                if bytes.response_type != oid::ID_PKIX_OCSP_BASIC {
                    return Err(format!(
                        "responseType {} is not id-pkix-ocsp-basic",
                        bytes.response_type
                    ));
                }
                SignedBasic::from_der(bytes.response.as_bytes())
                    .map_err(|e| format!("BasicOCSPResponse: {e}"))?
            }
            Err(e) => SignedBasic::from_der(der).map_err(|_| format!("OCSPResponse: {e}"))?,
        };
        let tbs = basic
            .tbs_response_data
            .to_der()
            .map_err(|e| format!("tbsResponseData: {e}"))?;
        let data = ResponseData::from_der(&tbs).map_err(|e| format!("tbsResponseData: {e}"))?;
        let mut certs = Vec::new();
        for c in basic.certs.iter().flatten() {
            let der = c.to_der().map_err(|e| format!("certs: {e}"))?;
            let cert = Certificate::from_der(&der).map_err(|e| format!("certs: {e}"))?;
            certs.push((der, cert));
        }
        Ok(Self {
            index,
            tbs,
            algorithm: basic.signature_algorithm,
            signature: basic.signature,
            responder: data.responder_id,
            produced_at: secs(&data.produced_at.0),
            singles: data.responses,
            certs,
        })
    }

    /// `#n (producedAt …)` for reasons.
    pub(crate) fn name(&self) -> String {
        format!(
            "OCSP response #{} (producedAt {})",
            self.index,
            super::rfc3339(self.produced_at)
        )
    }

    /// The SingleResponses about `cert`, issued by `issuer` (RFC 6960 §4.1.1 CertID: the hash of
    /// the issuer's name as in `cert`, of the issuer's subjectPublicKey value, and the serial;
    /// SHA-1 or SHA-2).
    pub(crate) fn about(&self, cert: &Certificate, issuer: &Certificate) -> Vec<Single> {
        let tbs = cert.tbs_certificate();
        let Ok(name) = tbs.issuer().to_der() else {
            return Vec::new();
        };
        let key = issuer
            .tbs_certificate()
            .subject_public_key_info()
            .subject_public_key
            .raw_bytes();
        self.singles
            .iter()
            .filter(|s| {
                let id = &s.cert_id;
                id.serial_number.as_bytes() == tbs.serial_number().as_bytes()
                    && cert_id_digest(&id.hash_algorithm).is_some_and(|d: DigestAlgorithm| {
                        d.digest(&name) == id.issuer_name_hash.as_bytes()
                            && d.digest(key) == id.issuer_key_hash.as_bytes()
                    })
            })
            .map(|s| Single {
                said: match &s.cert_status {
                    CertStatus::Good(_) => Said::Good,
                    CertStatus::Revoked(info) => Said::Revoked(
                        secs(&info.revocation_time.0),
                        info.revocation_reason
                            .map_or("unspecified", super::revocation::reason_name),
                    ),
                    CertStatus::Unknown(_) => Said::Unknown,
                },
                this_update: secs(&s.this_update.0),
                next_update: s.next_update.as_ref().map(|t| secs(&t.0)),
            })
            .collect()
    }

    /// Whether the responderID names `cert` (RFC 6960 §4.2.2.3: byName, or byKey, the SHA-1 of
    /// the subjectPublicKey value).
    pub(crate) fn names(&self, cert: &Certificate) -> bool {
        let tbs = cert.tbs_certificate();
        match &self.responder {
            ResponderId::ByName(n) => certval::compare_names(n, tbs.subject()),
            ResponderId::ByKey(hash) => {
                hash.as_bytes() == responder_key_hash(tbs.subject_public_key_info()).as_slice()
            }
        }
    }
}

/// The responses of one validation, decoded once.
pub(crate) struct OcspSet {
    pub responses: Vec<Response>,
    /// The responses that do not decode: position and why.
    pub undecodable: Vec<(usize, String)>,
}

impl OcspSet {
    pub(crate) fn empty() -> Self {
        Self {
            responses: Vec::new(),
            undecodable: Vec::new(),
        }
    }

    pub(crate) fn decode(ders: &[Vec<u8>]) -> Self {
        let mut set = Self {
            responses: Vec::with_capacity(ders.len()),
            undecodable: Vec::new(),
        };
        for (i, der) in ders.iter().enumerate() {
            match Response::decode(i, der) {
                Ok(r) => set.responses.push(r),
                Err(e) => set.undecodable.push((i, e)),
            }
        }
        set
    }
}

/// Checks that `der` is an OCSP response the verifier can read, for callers that take files.
pub(crate) fn check_decodes(der: &[u8]) -> Result<(), String> {
    Response::decode(0, der).map(drop)
}
