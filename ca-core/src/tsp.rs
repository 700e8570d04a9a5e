//! The time-stamping authority (RFC 3161, with RFC 5816's ESS signingCertificateV2): answers a
//! `TimeStampReq` with a `TimeStampResp` whose token is a CMS SignedData over a `TSTInfo`.
//!
//! The types are written with `der` derive: `x509-tsp` on crates.io is on the der 0.7 generation
//! (DESIGN.md §3). genTime is a parameter: ca-core reads no clock.

use crate::engine::ber::Tlv;
use crate::engine::digest::DigestAlgorithm;
use crate::engine::key::SigningKey;
use crate::engine::oid;
use crate::engine::sign::{PreparedSigner, SignError, SignatureParams};
use const_oid::ObjectIdentifier;
use der::asn1::{BitString, GeneralizedTime, Int, OctetString};
use der::{Any, Decode, Encode, Tagged};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::ext::Extensions;
use x509_cert::ext::pkix::ExtendedKeyUsage;
use x509_cert::ext::pkix::name::GeneralName;

/// The largest request accepted, in octets: an imprint, a policy, a nonce and a few extensions
/// fit in far less; anything bigger is refused before decoding.
pub const MAX_REQUEST_LEN: usize = 16 * 1024;

/// Octets of the random TSTInfo serialNumber, as for certificate serials (≥ 120 random bits;
/// RFC 3161 §2.4.2 allows up to 160 bits).
const SERIAL_LEN: usize = 16;

/// `PKIStatus` granted (RFC 3161 §2.4.2).
pub const STATUS_GRANTED: u8 = 0;
/// `PKIStatus` grantedWithMods (RFC 3161 §2.4.2): a token, with modifications the requester
/// should read in the TSTInfo.
pub const STATUS_GRANTED_WITH_MODS: u8 = 1;
/// `PKIStatus` rejection (RFC 3161 §2.4.2).
pub const STATUS_REJECTION: u8 = 2;

/// `TimeStampReq ::= SEQUENCE { version INTEGER { v1(1) }, messageImprint MessageImprint,
/// reqPolicy TSAPolicyId OPTIONAL, nonce INTEGER OPTIONAL, certReq BOOLEAN DEFAULT FALSE,
/// extensions [0] IMPLICIT Extensions OPTIONAL }` (RFC 3161 §2.4.1).
#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
pub struct TimeStampReq {
    /// `version`: 1.
    pub version: u8,
    /// `messageImprint`: the hash to time-stamp.
    pub message_imprint: MessageImprint,
    /// `reqPolicy`: the policy the requester wants.
    #[asn1(optional = "true")]
    pub req_policy: Option<ObjectIdentifier>,
    /// `nonce`: echoed in the TSTInfo.
    #[asn1(optional = "true")]
    pub nonce: Option<Int>,
    /// `certReq`: include the TSA certificate in the token.
    #[asn1(default = "Default::default")]
    pub cert_req: bool,
    /// `[0] extensions`.
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pub extensions: Option<Extensions>,
}

/// `MessageImprint ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier, hashedMessage OCTET STRING }`
/// (RFC 3161 §2.4.1).
#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
pub struct MessageImprint {
    /// `hashAlgorithm`.
    pub hash_algorithm: AlgorithmIdentifierOwned,
    /// `hashedMessage`.
    pub hashed_message: OctetString,
}

/// `TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken TimeStampToken OPTIONAL }`
/// (RFC 3161 §2.4.2); the token, a `ContentInfo`, is kept as its DER.
#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
pub struct TimeStampResp {
    /// `status`.
    pub status: PkiStatusInfo,
    /// `timeStampToken`: a ContentInfo holding SignedData over a TSTInfo.
    #[asn1(optional = "true")]
    pub time_stamp_token: Option<Any>,
}

/// `PKIStatusInfo ::= SEQUENCE { status PKIStatus, statusString PKIFreeText OPTIONAL, failInfo
/// PKIFailureInfo OPTIONAL }` (RFC 3161 §2.4.2, from RFC 4210).
#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
pub struct PkiStatusInfo {
    /// `status`: [`STATUS_GRANTED`], [`STATUS_REJECTION`], …
    pub status: u8,
    /// `statusString`: `SEQUENCE OF UTF8String`.
    #[asn1(optional = "true")]
    pub status_string: Option<Vec<String>>,
    /// `failInfo`: a named BIT STRING ([`FailureInfo`]).
    #[asn1(optional = "true")]
    pub fail_info: Option<BitString>,
}

impl PkiStatusInfo {
    /// Whether `failInfo` has `bit` set.
    pub fn has_failure(&self, bit: FailureInfo) -> bool {
        self.fail_info
            .as_ref()
            .and_then(|bits| bits.get(bit as usize))
            .unwrap_or(false)
    }
}

/// The `PKIFailureInfo` bits a TSA sends (RFC 3161 §2.4.2).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum FailureInfo {
    /// `badAlg`: unrecognized or unsupported algorithm.
    BadAlg = 0,
    /// `badRequest`: transaction not permitted or supported.
    BadRequest = 2,
    /// `badDataFormat`: the data submitted has the wrong format.
    BadDataFormat = 5,
    /// `unacceptedPolicy`: the requested TSA policy is not supported.
    UnacceptedPolicy = 15,
    /// `unacceptedExtension`: the requested extension is not supported.
    UnacceptedExtension = 16,
}

impl FailureInfo {
    /// The DER named BIT STRING with only this bit: trailing zero bits removed (X.690 §11.2.2).
    fn bit_string(self) -> Result<BitString, der::Error> {
        let bit = self as usize;
        let mut bytes = vec![0u8; bit / 8 + 1];
        bytes[bit / 8] = 0x80 >> (bit % 8);
        BitString::new(7 - (bit % 8) as u8, bytes)
    }
}

/// `TSTInfo ::= SEQUENCE { version INTEGER { v1(1) }, policy TSAPolicyId, messageImprint,
/// serialNumber INTEGER, genTime GeneralizedTime, accuracy Accuracy OPTIONAL, ordering BOOLEAN
/// DEFAULT FALSE, nonce INTEGER OPTIONAL, tsa [0] GeneralName OPTIONAL, extensions [1] IMPLICIT
/// Extensions OPTIONAL }` (RFC 3161 §2.4.2).
#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
pub struct TstInfo {
    /// `version`: 1.
    pub version: u8,
    /// `policy`: the TSA policy the token was issued under.
    pub policy: ObjectIdentifier,
    /// `messageImprint`: the request's, unchanged.
    pub message_imprint: MessageImprint,
    /// `serialNumber`: unique per token.
    pub serial_number: Int,
    /// `genTime`.
    pub gen_time: GeneralizedTime,
    /// `accuracy`.
    #[asn1(optional = "true")]
    pub accuracy: Option<Accuracy>,
    /// `ordering`.
    #[asn1(default = "Default::default")]
    pub ordering: bool,
    /// `nonce`: the request's.
    #[asn1(optional = "true")]
    pub nonce: Option<Int>,
    /// `[0] tsa`: explicit, GeneralName being a CHOICE (X.680 §31.2.7).
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub tsa: Option<GeneralName>,
    /// `[1] extensions`.
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub extensions: Option<Extensions>,
}

/// `Accuracy ::= SEQUENCE { seconds INTEGER OPTIONAL, millis [0] INTEGER (1..999) OPTIONAL,
/// micros [1] INTEGER (1..999) OPTIONAL }` (RFC 3161 §2.4.2).
#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
pub struct Accuracy {
    /// `seconds`.
    #[asn1(optional = "true")]
    pub seconds: Option<u32>,
    /// `[0] millis`.
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pub millis: Option<u16>,
    /// `[1] micros`.
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub micros: Option<u16>,
}

/// Why no response could be made at all. A request that decodes but is not acceptable gets a
/// rejection response instead (RFC 3161 §2.4.2).
#[derive(Debug, thiserror::Error)]
pub enum TspError {
    /// The request is larger than [`MAX_REQUEST_LEN`].
    #[error("time-stamp request is {len} octets; at most {MAX_REQUEST_LEN} are accepted")]
    TooLarge {
        /// Its length in octets.
        len: usize,
    },
    /// The request is not a DER TimeStampReq.
    #[error("not a DER TimeStampReq: {0}")]
    Malformed(String),
    /// The TSA certificate does not suit a TSA, or does not certify its key.
    #[error("TSA certificate: {0}")]
    Certificate(String),
    /// The token could not be signed.
    #[error("signing the time-stamp token: {0}")]
    Sign(#[from] SignError),
    /// A response could not be encoded, or no random serial drawn.
    #[error("building the time-stamp response: {0}")]
    Build(String),
}

impl From<der::Error> for TspError {
    fn from(e: der::Error) -> Self {
        TspError::Build(e.to_string())
    }
}

/// A DER TimeStampResp and what it answered ([`Tsa::respond`]).
#[derive(Clone, Debug)]
pub struct TsaResponse {
    /// The TimeStampResp, DER.
    pub der: Vec<u8>,
    /// Granted or rejected.
    pub outcome: TsaOutcome,
}

/// What a [`TsaResponse`] says.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum TsaOutcome {
    /// A token was issued.
    Granted {
        /// TSTInfo.serialNumber, content octets.
        serial: Vec<u8>,
        /// The imprint's hash algorithm.
        hash: DigestAlgorithm,
        /// The imprint (the requester's hash: no document content).
        imprint: Vec<u8>,
        /// TSTInfo.policy.
        policy: ObjectIdentifier,
    },
    /// Status rejection with this failure bit.
    Rejected(FailureInfo),
}

/// A time-stamping unit: its key, its certificate and chain, and the policy it issues under.
pub struct Tsa {
    key: SigningKey,
    /// Signs tokens that carry the TSA certificate and chain (certReq TRUE).
    with_certificates: PreparedSigner,
    /// Signs tokens without certificates (certReq FALSE).
    without_certificates: PreparedSigner,
    policy: ObjectIdentifier,
}

impl std::fmt::Debug for Tsa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tsa")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Tsa {
    /// A TSA signing with `key`, certified by `certificate` (DER), with `chain` (issuing CA first)
    /// to include when asked. The certificate must carry extendedKeyUsage timeStamping, critical
    /// and alone (RFC 3161 §2.3), which the `tsa` profile issues.
    pub fn new(
        key: SigningKey,
        certificate: &[u8],
        chain: &[Vec<u8>],
        policy: ObjectIdentifier,
    ) -> Result<Self, TspError> {
        check_tsa_certificate(certificate)?;
        let signer = PreparedSigner::new(&key, certificate, chain)?
            .with_content_type(oid::ID_CT_TST_INFO)?;
        Ok(Self {
            key,
            without_certificates: signer.clone().without_certificates(),
            with_certificates: signer,
            policy,
        })
    }

    /// The policy OID of every token.
    pub fn policy(&self) -> ObjectIdentifier {
        self.policy
    }

    /// Its signing key (for listings: where it is).
    pub(crate) fn key(&self) -> &SigningKey {
        &self.key
    }

    /// This TSA issuing under `policy` instead (the policy is configuration, not key material).
    pub fn with_policy(mut self, policy: ObjectIdentifier) -> Self {
        self.policy = policy;
        self
    }

    /// Answers `request_der` (a DER TimeStampReq) with a DER TimeStampResp: granted with a token
    /// stamped `gen_time` (Unix seconds), or a rejection naming the failure. `Err` only for a
    /// request that is too large or not a TimeStampReq at all, or when signing fails.
    pub fn timestamp(&self, request_der: &[u8], gen_time: u64) -> Result<Vec<u8>, TspError> {
        check_len(request_der)?;
        let request =
            TimeStampReq::from_der(request_der).map_err(|e| TspError::Malformed(e.to_string()))?;
        Ok(self.answer(request, gen_time)?.der)
    }

    /// As [`Tsa::timestamp`], for a service that answers every request it can read with a
    /// TimeStampResp (RFC 3161 §2.4.2): a request that is not a DER TimeStampReq gets a rejection
    /// with badDataFormat. Says what was answered, for the service's audit log and metrics.
    pub fn respond(&self, request_der: &[u8], gen_time: u64) -> Result<TsaResponse, TspError> {
        check_len(request_der)?;
        match TimeStampReq::from_der(request_der) {
            Ok(request) => self.answer(request, gen_time),
            Err(e) => rejection(
                FailureInfo::BadDataFormat,
                format!("not a DER TimeStampReq: {e}"),
            ),
        }
    }

    /// The response to a decoded request.
    fn answer(&self, request: TimeStampReq, gen_time: u64) -> Result<TsaResponse, TspError> {
        if let Err((failure, text)) = self.check(&request) {
            return rejection(failure, text);
        }
        let hash = DigestAlgorithm::from_oid(&request.message_imprint.hash_algorithm.oid)
            .ok_or_else(|| TspError::Build("imprint algorithm checked but unknown".into()))?;
        let imprint = request.message_imprint.hashed_message.as_bytes().to_vec();

        let mut serial: [u8; SERIAL_LEN] = crate::engine::seal::Sealer::random_bytes()
            .map_err(|_| TspError::Build("no random serial".into()))?;
        // Positive and of fixed length, as certificate serials (issue::random_serial).
        serial[0] = (serial[0] & 0x7f) | 0x01;
        let gen_time_der =
            GeneralizedTime::from_unix_duration(std::time::Duration::from_secs(gen_time))?;
        let info = TstInfo {
            version: 1,
            policy: self.policy,
            message_imprint: request.message_imprint,
            serial_number: Int::new(&serial)?,
            gen_time: gen_time_der,
            // genTime is the caller's clock read to the second.
            accuracy: Some(Accuracy {
                seconds: Some(1),
                millis: None,
                micros: None,
            }),
            ordering: false,
            nonce: request.nonce,
            tsa: None,
            extensions: None,
        }
        .to_der()?;

        let signer = if request.cert_req {
            &self.with_certificates
        } else {
            &self.without_certificates
        };
        let token = signer.sign(
            &self.key,
            &SignatureParams {
                digest: &signer.digest_algorithm().digest(&info),
                // RFC 3161 neither asks for nor forbids signingTime; it says genTime again.
                signing_time: gen_time,
                commitment_type: None,
                claimed_role: None,
                attached: Some(&info),
            },
        )?;
        let der = TimeStampResp {
            status: PkiStatusInfo {
                status: STATUS_GRANTED,
                status_string: None,
                fail_info: None,
            },
            time_stamp_token: Some(Any::from_der(&token)?),
        }
        .to_der()?;
        Ok(TsaResponse {
            der,
            outcome: TsaOutcome::Granted {
                serial: serial.to_vec(),
                hash,
                imprint,
                policy: self.policy,
            },
        })
    }

    /// What RFC 3161 §2.4.1 makes a TSA refuse, with the failure to answer.
    fn check(&self, request: &TimeStampReq) -> Result<(), (FailureInfo, String)> {
        if request.version != 1 {
            return Err((
                FailureInfo::BadRequest,
                format!("version {} (only v1)", request.version),
            ));
        }
        let imprint = &request.message_imprint;
        let algorithm = &imprint.hash_algorithm;
        // SHA-2 only: a SHA-1 imprint would let a collision be time-stamped. Parameters absent or
        // NULL (RFC 5754 §2).
        let hash = DigestAlgorithm::from_oid(&algorithm.oid)
            .filter(|d| {
                matches!(
                    d,
                    DigestAlgorithm::Sha256 | DigestAlgorithm::Sha384 | DigestAlgorithm::Sha512
                )
            })
            .filter(|_| {
                algorithm
                    .parameters
                    .as_ref()
                    .is_none_or(|p| p.tag() == der::Tag::Null && p.value().is_empty())
            })
            .ok_or_else(|| {
                (
                    FailureInfo::BadAlg,
                    format!("hash algorithm {}", oid::describe(&algorithm.oid)),
                )
            })?;
        let len = imprint.hashed_message.as_bytes().len();
        if len != hash.len() {
            return Err((
                FailureInfo::BadDataFormat,
                format!("{hash} imprint of {len} octets, not {}", hash.len()),
            ));
        }
        if let Some(policy) = request.req_policy
            && policy != self.policy
        {
            return Err((
                FailureInfo::UnacceptedPolicy,
                format!("policy {policy} (this TSA issues under {})", self.policy),
            ));
        }
        // Any extension, critical or not, that the TSA does not recognise is refused (§2.4.1);
        // this TSA recognises none.
        if let Some(extension) = request.extensions.as_ref().and_then(|e| e.first()) {
            return Err((
                FailureInfo::UnacceptedExtension,
                format!("extension {}", oid::describe(&extension.extn_id)),
            ));
        }
        Ok(())
    }
}

/// A TimeStampResp with status rejection, `failure` and `text` (RFC 3161 §2.4.2: no token).
fn rejection(failure: FailureInfo, text: String) -> Result<TsaResponse, TspError> {
    let der = TimeStampResp {
        status: PkiStatusInfo {
            status: STATUS_REJECTION,
            status_string: Some(vec![text]),
            fail_info: Some(failure.bit_string()?),
        },
        time_stamp_token: None,
    }
    .to_der()?;
    Ok(TsaResponse {
        der,
        outcome: TsaOutcome::Rejected(failure),
    })
}

fn check_len(request_der: &[u8]) -> Result<(), TspError> {
    if request_der.len() > MAX_REQUEST_LEN {
        return Err(TspError::TooLarge {
            len: request_der.len(),
        });
    }
    Ok(())
}

// ---- The requester's side (RFC 3161 §2.4): ask a TSA, any TSA, and check its answer ----

/// Octets of a request nonce: at least 64 bits so that replays are caught (RFC 3161 §2.4.1
/// recommends a large random number), at most 256.
pub const NONCE_LEN: std::ops::RangeInclusive<usize> = 8..=32;

/// Why a time-stamp could not be requested or its response was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The request itself cannot be made: imprint length or nonce.
    #[error("time-stamp request: {0}")]
    Request(String),
    /// The response is not a TimeStampResp, or its token not a SignedData over a TSTInfo.
    #[error("not a time-stamp response: {0}")]
    Malformed(String),
    /// The TSA did not grant the request (RFC 3161 §2.4.2 PKIStatus other than 0 or 1).
    #[error("time-stamp not granted: status {status}{text}")]
    NotGranted {
        /// The PKIStatus.
        status: u8,
        /// The statusString and failInfo, as the TSA sent them (", …" or empty).
        text: String,
    },
    /// Status granted, but no token (RFC 3161 §2.4.2 requires one).
    #[error("time-stamp granted without a token")]
    NoToken,
    /// The token time-stamps another hash than the one asked for (RFC 3161 §2.4.2).
    #[error("the token's messageImprint is not the request's")]
    ImprintMismatch,
    /// The token does not echo the request's nonce (RFC 3161 §2.4.2): a replayed or foreign token.
    #[error("the token's nonce is not the request's")]
    NonceMismatch,
}

impl TimeStampReq {
    /// A v1 request for `imprint` (the `hash` of the data to time-stamp) with the caller's random
    /// `nonce` (big-endian, [`NONCE_LEN`] octets; ca-core draws no randomness of its own here so
    /// the caller can log or replay it) and certReq TRUE: the token carries the TSA certificate,
    /// which B-LT needs (EN 319 122-1 §5.5).
    pub fn new(hash: DigestAlgorithm, imprint: &[u8], nonce: &[u8]) -> Result<Self, ClientError> {
        if imprint.len() != hash.len() {
            return Err(ClientError::Request(format!(
                "{hash} imprint of {} octets, not {}",
                imprint.len(),
                hash.len()
            )));
        }
        if !NONCE_LEN.contains(&nonce.len()) {
            return Err(ClientError::Request(format!(
                "nonce of {} octets; {} to {} are sent",
                nonce.len(),
                NONCE_LEN.start(),
                NONCE_LEN.end()
            )));
        }
        // A positive INTEGER in its minimal encoding (X.690 §8.3.2).
        let digits = &nonce[nonce.iter().take_while(|b| **b == 0).count()..];
        let mut value = Vec::with_capacity(digits.len() + 1);
        if digits.first().is_none_or(|b| b & 0x80 != 0) {
            value.push(0);
        }
        value.extend_from_slice(digits);
        let bad = |e: der::Error| ClientError::Request(e.to_string());
        Ok(Self {
            version: 1,
            message_imprint: MessageImprint {
                // Parameters absent, as the TSA side expects (RFC 5754 §2).
                hash_algorithm: AlgorithmIdentifierOwned {
                    oid: hash.oid(),
                    parameters: None,
                },
                hashed_message: OctetString::new(imprint).map_err(bad)?,
            },
            req_policy: None,
            nonce: Some(Int::new(&value).map_err(bad)?),
            cert_req: true,
            extensions: None,
        })
    }

    /// The time-stamp token (a ContentInfo, its octets exactly as the TSA sent them) of
    /// `response_der`, once the status is granted or grantedWithMods and the token's TSTInfo
    /// carries this request's messageImprint and nonce (RFC 3161 §2.4.2). The token's signature
    /// and TSA certificate are the verifier's to judge.
    pub fn accept(&self, response_der: &[u8]) -> Result<Vec<u8>, ClientError> {
        let malformed = |e: &dyn std::fmt::Display| ClientError::Malformed(e.to_string());
        let response = Tlv::parse(response_der).map_err(|e| malformed(&e))?;
        if response.tag_byte() != 0x30 {
            return Err(malformed(&"a TimeStampResp is a SEQUENCE"));
        }
        let parts = response.children().map_err(|e| malformed(&e))?;
        let (status, token) = match parts.as_slice() {
            [status] => (status, None),
            [status, token] => (status, Some(token)),
            _ => return Err(malformed(&"a TimeStampResp has a status and a token")),
        };
        let status = PkiStatusInfo::from_der(status.raw)
            .or_else(|_| PkiStatusInfo::from_ber(status.raw))
            .map_err(|e| malformed(&e))?;
        if status.status != STATUS_GRANTED && status.status != STATUS_GRANTED_WITH_MODS {
            let mut text = String::new();
            for line in status.status_string.iter().flatten() {
                text.push_str(", ");
                text.push_str(line);
            }
            for (bit, name) in [
                (FailureInfo::BadAlg, "badAlg"),
                (FailureInfo::BadRequest, "badRequest"),
                (FailureInfo::BadDataFormat, "badDataFormat"),
                (FailureInfo::UnacceptedPolicy, "unacceptedPolicy"),
                (FailureInfo::UnacceptedExtension, "unacceptedExtension"),
            ] {
                if status.has_failure(bit) {
                    text.push_str(", ");
                    text.push_str(name);
                }
            }
            return Err(ClientError::NotGranted {
                status: status.status,
                text,
            });
        }
        let token = token.ok_or(ClientError::NoToken)?;
        let info = tst_info(token.raw)?;
        // RFC 3161 §2.4.2: the same hash over the same data. Absent and NULL hash parameters
        // are the same algorithm (RFC 5754 §2), and TSAs differ in which they echo.
        let (sent, got) = (&self.message_imprint, &info.message_imprint);
        let absent_or_null = |p: &Option<Any>| {
            p.as_ref()
                .is_none_or(|p| p.tag() == der::Tag::Null && p.value().is_empty())
        };
        let same_algorithm = sent.hash_algorithm == got.hash_algorithm
            || (sent.hash_algorithm.oid == got.hash_algorithm.oid
                && absent_or_null(&sent.hash_algorithm.parameters)
                && absent_or_null(&got.hash_algorithm.parameters));
        if !same_algorithm || sent.hashed_message != got.hashed_message {
            return Err(ClientError::ImprintMismatch);
        }
        if info.nonce != self.nonce {
            return Err(ClientError::NonceMismatch);
        }
        Ok(token.raw.to_vec())
    }
}

/// Why a TSTInfo's genTime is not a time (RFC 3161 §2.4.2: `GeneralizedTime`, UTC, `Z`, with
/// optional fractional seconds).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GenTimeError {
    /// Not a GeneralizedTime at all.
    #[error("genTime is not a GeneralizedTime (tag {0})")]
    NotGeneralizedTime(der::Tag),
    /// A GeneralizedTime that is not `YYYYMMDDhhmmss[.f+]Z` or names no real instant.
    #[error("genTime {0:?} is not YYYYMMDDhhmmss[.fraction]Z (RFC 3161 §2.4.2)")]
    Malformed(String),
}

/// The genTime value octets as Unix seconds, fractions truncated toward the past: der 0.8 refuses
/// fractional seconds in GeneralizedTime, which real TSAs send (RFC 3161 §2.4.2 allows them), and
/// a time-stamp proves existence no later than its genTime, so the whole second before is safe.
pub fn parse_gen_time(value: &[u8]) -> Result<u64, GenTimeError> {
    let bad = || GenTimeError::Malformed(String::from_utf8_lossy(value).into_owned());
    let text = std::str::from_utf8(value).map_err(|_| bad())?;
    let body = text.strip_suffix('Z').ok_or_else(bad)?;
    let (whole, fraction) = match body.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (body, None),
    };
    if whole.len() != 14
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || fraction.is_some_and(|f| f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad());
    }
    let n = |r: std::ops::Range<usize>| whole[r].parse::<u16>().map_err(|_| bad());
    let (year, month, day) = (n(0..4)?, n(4..6)?, n(6..8)?);
    let (hour, minute, second) = (n(8..10)?, n(10..12)?, n(12..14)?);
    let at = der::DateTime::new(
        year,
        month as u8,
        day as u8,
        hour as u8,
        minute as u8,
        second as u8,
    )
    .map_err(|_| bad())?;
    Ok(at.unix_duration().as_secs())
}

/// The TSTInfo of a time-stamp token: `ContentInfo { id-signedData, SignedData { …,
/// encapContentInfo { id-ct-TSTInfo, eContent } } }` (RFC 3161 §2.4.2), DER or BER.
pub fn tst_info(token_der: &[u8]) -> Result<TstInfo, ClientError> {
    let malformed = |e: &dyn std::fmt::Display| ClientError::Malformed(e.to_string());
    let content_info = Tlv::parse(token_der).map_err(|e| malformed(&e))?;
    let parts = content_info.children().map_err(|e| malformed(&e))?;
    let [content_type, explicit] = parts.as_slice() else {
        return Err(malformed(&"a ContentInfo has a type and a content"));
    };
    if ObjectIdentifier::from_der(content_type.raw).ok() != Some(oid::ID_SIGNED_DATA)
        || explicit.tag_byte() != 0xa0
    {
        return Err(malformed(&"the token is not a SignedData"));
    }
    let signed_data = explicit.children().map_err(|e| malformed(&e))?;
    let [signed_data] = signed_data.as_slice() else {
        return Err(malformed(&"[0] holds one SignedData"));
    };
    let fields = signed_data.children().map_err(|e| malformed(&e))?;
    let encap = fields
        .get(2)
        .ok_or_else(|| malformed(&"SignedData without encapContentInfo"))?
        .children()
        .map_err(|e| malformed(&e))?;
    let [econtent_type, econtent] = encap.as_slice() else {
        return Err(malformed(&"a time-stamp token encapsulates its TSTInfo"));
    };
    if ObjectIdentifier::from_der(econtent_type.raw).ok() != Some(oid::ID_CT_TST_INFO) {
        return Err(malformed(&"eContentType is not id-ct-TSTInfo"));
    }
    let octets = match econtent.children().map_err(|e| malformed(&e))?.as_slice() {
        [octets] if econtent.tag_byte() == 0xa0 => octets.octets().map_err(|e| malformed(&e))?,
        _ => return Err(malformed(&"eContent is [0] { OCTET STRING }")),
    };
    TstInfo::from_der(&octets)
        .or_else(|_| TstInfo::from_ber(&octets))
        .or_else(|e| match whole_second_gen_time(&octets) {
            Some(der) => TstInfo::from_der(&der),
            None => Err(e),
        })
        .map_err(|e| malformed(&e))
}

/// The TSTInfo `der` with a fractional genTime (`20261207022212.487Z`, which real TSAs send and
/// RFC 3161 §2.4.2 allows) written as its whole second, or `None` if its genTime has no fraction
/// or is no time: der 0.8 refuses fractional seconds, and a token proves existence no later than
/// its genTime, so the second before is safe. Every other field keeps its octets.
fn whole_second_gen_time(der: &[u8]) -> Option<Vec<u8>> {
    let tst = Tlv::parse(der).ok()?;
    let fields = tst.children().ok()?;
    let gen_time = fields
        .get(4)
        .filter(|t| t.tag_byte() == 0x18 && t.content.contains(&b'.'))?;
    let seconds = parse_gen_time(gen_time.content).ok()?;
    let whole = GeneralizedTime::from_unix_duration(std::time::Duration::from_secs(seconds))
        .ok()?
        .to_der()
        .ok()?;
    let content: Vec<u8> = fields
        .iter()
        .enumerate()
        .flat_map(|(i, f)| if i == 4 { whole.as_slice() } else { f.raw })
        .copied()
        .collect();
    Some(crate::engine::ber::encode(0x30, &content))
}

/// RFC 3161 §2.3: the TSA certificate has exactly one extendedKeyUsage, timeStamping, critical.
fn check_tsa_certificate(der: &[u8]) -> Result<(), TspError> {
    let cert = Certificate::from_der(der).map_err(|e| TspError::Certificate(e.to_string()))?;
    let eku = cert
        .tbs_certificate()
        .extensions()
        .into_iter()
        .flatten()
        .find(|e| e.extn_id == oid::ID_CE_EXT_KEY_USAGE)
        .ok_or_else(|| {
            TspError::Certificate(
                "no extendedKeyUsage; RFC 3161 §2.3 needs timeStamping, critical".into(),
            )
        })?;
    let purposes = ExtendedKeyUsage::from_der(eku.extn_value.as_bytes())
        .map_err(|e| TspError::Certificate(format!("extendedKeyUsage: {e}")))?;
    if !eku.critical || purposes.0 != [oid::ID_KP_TIME_STAMPING] {
        return Err(TspError::Certificate(
            "extendedKeyUsage must be timeStamping alone and critical (RFC 3161 §2.3)".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_bits_are_der_named_bit_strings() {
        // unacceptedPolicy (15): two octets, the last bit of the second, no unused bits.
        let bits = FailureInfo::UnacceptedPolicy.bit_string().unwrap();
        assert_eq!(bits.to_der().unwrap(), [0x03, 0x03, 0x00, 0x00, 0x01]);
        // badAlg (0): one octet 0x80 with seven unused bits.
        let bits = FailureInfo::BadAlg.bit_string().unwrap();
        assert_eq!(bits.to_der().unwrap(), [0x03, 0x02, 0x07, 0x80]);
        let info = PkiStatusInfo {
            status: STATUS_REJECTION,
            status_string: None,
            fail_info: Some(FailureInfo::BadDataFormat.bit_string().unwrap()),
        };
        assert!(info.has_failure(FailureInfo::BadDataFormat));
        assert!(!info.has_failure(FailureInfo::BadAlg));
    }

    #[test]
    fn default_booleans_are_omitted() {
        // DER leaves out a value equal to its DEFAULT (X.690 §11.5): certReq and ordering FALSE.
        let accuracy = Accuracy {
            seconds: Some(1),
            millis: None,
            micros: None,
        };
        assert_eq!(accuracy.to_der().unwrap(), [0x30, 0x03, 0x02, 0x01, 0x01]);
        let request = TimeStampReq {
            version: 1,
            message_imprint: MessageImprint {
                hash_algorithm: DigestAlgorithm::Sha256.identifier(),
                hashed_message: OctetString::new([0u8; 32]).unwrap(),
            },
            req_policy: None,
            nonce: None,
            cert_req: false,
            extensions: None,
        };
        let der = request.to_der().unwrap();
        assert!(!der.windows(3).any(|w| w == [0x01, 0x01, 0x00]));
        assert_eq!(TimeStampReq::from_der(&der).unwrap(), request);
    }
}
