//! Raising a CAdES signature, ours or anyone's, to B-T, B-LT or B-LTA (ETSI EN 319 122-1 §5.3 –
//! §5.5), and where its time-stamps come from: the installation's own TSA (each token audited
//! like one `Authority::timestamp` grants) or a foreign RFC 3161 TSA that the edge reaches over
//! the network for ca-core ([`TsaTransport`]). ca-core builds the request (a random nonce),
//! checks the answer (`TimeStampReq::accept`) and trusts a foreign token only when its TSA
//! certificate chains to the configured anchor with the timeStamping EKU, critical and alone
//! (RFC 3161 §2.3), valid at genTime.
//!
//! The validation data B-LT adds: what the signature and its tokens carry and what the caller
//! supplies; and for every certificate of this installation among them (the signer's, the
//! TSA's) its chain, the current CRL of each CA of that chain (the root's included, which
//! covers the sub-CAs) and an answer of this installation's OCSP responder.

use crate::engine::audit::{AuditAction, AuditEvent};
use crate::engine::authority::timestamp::{Answer, TimestampError};
use crate::engine::authority::{Authority, AuthorityError};
use crate::engine::cades::{self, CadesError, Level};
use crate::engine::digest::DigestAlgorithm;
use crate::engine::oid;
use crate::engine::seal::{SealError, Sealer};
use crate::engine::store::{Store, StoreError};
use crate::engine::tsp::{self, ClientError, TimeStampReq};
use crate::engine::verify::{self, MAX_SIGNATURE_LEN, Outcome, Policy, SignedDocument};
use der::{Decode, Encode};
use std::sync::Arc;
use x509_cert::Certificate;

/// Octets of the nonce of each request this side sends (RFC 3161 §2.4.1; within
/// `tsp::NONCE_LEN`).
const NONCE_LEN: usize = 16;
/// How far a foreign TSA's genTime may be ahead of the caller's clock: clocks differ by seconds.
const CLOCK_SKEW: u64 = 300;
/// The hash of new time-stamps when nothing else decides it.
const DEFAULT_HASH: DigestAlgorithm = DigestAlgorithm::Sha256;

/// How ca-core reaches a foreign TSA: the edge sends the DER `TimeStampReq` (RFC 3161 §3.4:
/// HTTP POST, `application/timestamp-query`) and returns the DER `TimeStampResp`. It blocks:
/// call what uses it off an async executor.
pub trait TsaTransport: Send + Sync {
    /// One request and its response; `Err` says why none came (never a secret).
    fn exchange(&self, request_der: &[u8]) -> Result<Vec<u8>, String>;
}

/// A foreign RFC 3161 TSA: who it is (for messages and the audit log), the trust anchors its
/// certificate must chain to, and how to reach it. `Debug` never shows the transport (it may
/// hold credentials).
pub struct ForeignTsa {
    name: String,
    trust_anchors: Vec<Vec<u8>>,
    transport: Box<dyn TsaTransport>,
}

impl std::fmt::Debug for ForeignTsa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForeignTsa")
            .field("name", &self.name)
            .field("trust_anchors", &self.trust_anchors.len())
            .finish_non_exhaustive()
    }
}

impl ForeignTsa {
    /// `name` (its URL, without credentials), `trust_anchors` (DER certificates, at least one).
    pub fn new(
        name: impl Into<String>,
        trust_anchors: Vec<Vec<u8>>,
        transport: Box<dyn TsaTransport>,
    ) -> Result<Self, AugmentError> {
        if trust_anchors.is_empty() {
            return Err(AugmentError::Config(
                "a foreign TSA needs a trust anchor".into(),
            ));
        }
        for (i, der) in trust_anchors.iter().enumerate() {
            Certificate::from_der(der)
                .map_err(|e| AugmentError::Config(format!("foreign TSA trust anchor {i}: {e}")))?;
        }
        Ok(Self {
            name: name.into(),
            trust_anchors,
            transport,
        })
    }

    /// Its name (URL).
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Where the time-stamps of a signature come from.
#[derive(Clone, Debug)]
pub enum TimestampSource {
    /// This installation's TSA (`Authority::timestamp`); each token is audited.
    BuiltIn,
    /// A foreign TSA reached through the edge.
    Foreign(Arc<ForeignTsa>),
}

impl TimestampSource {
    /// `builtin`, or the foreign TSA's name: what the audit log says.
    pub fn name(&self) -> &str {
        match self {
            Self::BuiltIn => "builtin",
            Self::Foreign(tsa) => tsa.name(),
        }
    }
}

/// Validation data a caller supplies for B-LT, each element DER: for foreign certificates this
/// and what the signature carries are all that is added.
#[derive(Clone, Debug, Default)]
pub struct ValidationData {
    /// Certificates.
    pub certificates: Vec<Vec<u8>>,
    /// CRLs.
    pub crls: Vec<Vec<u8>>,
    /// OCSPResponses (successful).
    pub ocsp_responses: Vec<Vec<u8>>,
}

/// Which SignerInfos [`Authority::augment`] raises.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SignerSelection {
    /// Every one: a co-signed document (a prescription signed by the doctor, then the
    /// pharmacist) is archived only when each of its signatures is.
    #[default]
    All,
    /// SignerInfo `n` only (0-based, in the order the SignedData carries them).
    One(usize),
}

/// One SignerInfo [`Authority::augment`] raised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaisedSigner {
    /// Its position among the SignerInfos, as carried (0-based).
    pub index: usize,
    /// Its signer identifier (`verify::sid_text`).
    pub sid: String,
    /// The level its structure had.
    pub from: Level,
    /// The level its structure now reaches (`cades::detect_level`).
    pub level: Level,
}

/// A signature raised ([`Authority::augment`]). `Debug` shows sizes only: an attached
/// signature holds the document.
#[derive(Clone)]
pub struct Augmented {
    /// The signature, DER ContentInfo (octets a hash covers kept as received).
    pub cms: Vec<u8>,
    /// The lowest level the structure of a raised SignerInfo now reaches
    /// (`cades::detect_level`): for a single signer, its level.
    pub level: Level,
    /// Each SignerInfo raised, in the order carried.
    pub signers: Vec<RaisedSigner>,
    /// The TSTInfo serialNumbers (content octets) of the tokens added, in order.
    pub tokens: Vec<Vec<u8>>,
    /// Sequence number of the `augment` audit record.
    pub audit_seq: u64,
}

impl std::fmt::Debug for Augmented {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Augmented")
            .field("cms_bytes", &self.cms.len())
            .field("level", &self.level)
            .field("signers", &self.signers)
            .field(
                "tokens",
                &self.tokens.iter().map(hex::encode).collect::<Vec<_>>(),
            )
            .field("audit_seq", &self.audit_seq)
            .finish()
    }
}

/// Why a signature was not raised (nothing is handed out, nothing but tokens already audited
/// written).
#[derive(Debug, thiserror::Error)]
pub enum AugmentError {
    /// The signature (attached content included) or the detached content is too large.
    #[error("{what} is {len} octets; at most {MAX_SIGNATURE_LEN} are accepted")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its length.
        len: usize,
    },
    /// Not a CMS signature, or it cannot be raised as asked (a detached one without content
    /// for B-LTA, a supplied datum that is not one).
    #[error(transparent)]
    Cades(#[from] CadesError),
    /// The level needs a time-stamp and no time-stamping authority is configured.
    #[error(
        "level {0} needs a time-stamp and this installation has no time-stamping authority \
         (configure the built-in one or [tsa] url)"
    )]
    NoTimestampSource(Level),
    /// The built-in TSA refused or failed.
    #[error("time-stamping authority: {0}")]
    Timestamp(#[from] TimestampError),
    /// The foreign TSA could not be reached.
    #[error("time-stamping authority {tsa}: {why}")]
    TsaUnreachable {
        /// Its name.
        tsa: String,
        /// Why, as the transport says.
        why: String,
    },
    /// The TSA's answer is not a token for this request (not granted, wrong imprint or nonce).
    #[error("time-stamping authority {tsa}: {error}")]
    TsaResponse {
        /// Its name.
        tsa: String,
        /// What was wrong.
        error: ClientError,
    },
    /// A foreign token that does not validate against the configured anchor (path, EKU,
    /// signature, ESS binding).
    #[error("time-stamping authority {tsa}: its token is not trusted: {why}")]
    UntrustedToken {
        /// Its name.
        tsa: String,
        /// The time-stamp validation's reason.
        why: String,
    },
    /// A foreign TSA's configuration is unusable.
    #[error("foreign TSA: {0}")]
    Config(String),
    /// No random nonce could be drawn.
    #[error(transparent)]
    Random(#[from] SealError),
    /// The authority failed (CRL, OCSP, a CA lookup).
    #[error(transparent)]
    Authority(#[from] AuthorityError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A token obtained, and for the built-in TSA its audit event, to be made durable before the
/// signature that holds it is handed out.
pub(crate) struct Token {
    pub(crate) der: Vec<u8>,
    pub(crate) serial: Vec<u8>,
    pub(crate) event: Option<AuditEvent>,
}

/// What the signature's content is, for an archive time-stamp over a detached signature.
#[derive(Clone, Copy)]
pub(crate) enum Content<'a> {
    /// Encapsulated, or detached and these octets.
    Bytes(Option<&'a [u8]>),
    /// Detached, known only by this digest of this algorithm.
    Digest(DigestAlgorithm, &'a [u8]),
}

impl<S: Store> Authority<S> {
    /// Uses `tsa` for time-stamps from now on instead of the built-in TSA (the service's
    /// `[tsa] url`).
    pub fn with_foreign_tsa(mut self, tsa: ForeignTsa) -> Self {
        self.foreign_tsa = Some(Arc::new(tsa));
        self
    }

    /// Where this installation's time-stamps come from: the configured foreign TSA, else the
    /// built-in one when there is one, else none.
    pub fn timestamp_source(&self) -> Option<TimestampSource> {
        match (&self.foreign_tsa, &self.tsa) {
            (Some(foreign), _) => Some(TimestampSource::Foreign(foreign.clone())),
            (None, Some(_)) => Some(TimestampSource::BuiltIn),
            (None, None) => None,
        }
    }

    /// The level a signature is made at when the caller names none: B-T whenever a TSA is
    /// configured (EN 319 122-1: a signature without a time-stamp proves nothing once its
    /// certificate expires or is revoked), else B-B.
    pub fn default_level(&self) -> Level {
        if self.timestamp_source().is_some() {
            Level::BT
        } else {
            Level::BB
        }
    }

    /// Raises the SignerInfos `signers` selects (every one by default) of `signature` (a CMS
    /// ContentInfo, DER or BER, ours or anyone's) to `level` at `now`: B-T adds a signature
    /// time-stamp from `source` to each that has none; B-LT adds the certificates and revocation
    /// data that validate each signer and every time-stamp (see the module doc; `extra` for
    /// foreign certificates); B-LTA adds an archive-time-stamp-v3 to each, and over a B-LTA
    /// signature a further one (renewal), after refreshing the validation data. A signer
    /// already at or above `level` (B-LTA aside) is left as it is, still audited.
    /// `detached_content` is the content of a detached signature (needed for B-LTA). Every
    /// token of the built-in TSA gets its `timestamp` audit record, then the one `augment`
    /// record (for each raised signer its index, sid, signature-value hash and levels; the
    /// token serials, `actor`) is made durable before this returns. A selected index that names
    /// no SignerInfo is [`CadesError::NoSigner`], before anything is made. Blocks (a foreign
    /// TSA, the store): call it off an async executor.
    #[allow(clippy::too_many_arguments)]
    pub fn augment(
        &self,
        signature: &[u8],
        detached_content: Option<&[u8]>,
        level: Level,
        extra: &ValidationData,
        source: Option<&TimestampSource>,
        signers: SignerSelection,
        now: u64,
        actor: &str,
    ) -> Result<Augmented, AugmentError> {
        for (what, len) in [
            ("the signature", signature.len()),
            (
                "the detached content",
                detached_content.map_or(0, <[u8]>::len),
            ),
        ] {
            if len > MAX_SIGNATURE_LEN {
                return Err(AugmentError::TooLarge { what, len });
            }
        }
        let count = cades::signer_count(signature)?;
        let indices: Vec<usize> = match signers {
            SignerSelection::All if count > 0 => (0..count).collect(),
            SignerSelection::One(index) if index < count => vec![index],
            SignerSelection::All => return Err(CadesError::NoSigner { index: 0, count }.into()),
            SignerSelection::One(index) => {
                return Err(CadesError::NoSigner { index, count }.into());
            }
        };
        let from = indices
            .iter()
            .map(|&i| Ok((i, cades::detect_level(signature, i)?)))
            .collect::<Result<Vec<_>, CadesError>>()?;
        let mut tokens = Vec::new();
        let cms = self.raise(
            signature.to_vec(),
            Content::Bytes(detached_content),
            &from,
            level,
            extra,
            source,
            now,
            actor,
            &mut tokens,
        )?;
        let identities = identities(&cms, &indices)?;
        let mut raised = Vec::with_capacity(from.len());
        for (&(index, from), (sid, _)) in from.iter().zip(&identities) {
            raised.push(RaisedSigner {
                index,
                sid: sid.clone(),
                from,
                level: cades::detect_level(&cms, index)?,
            });
        }
        let reached = raised.iter().map(|r| r.level).min().unwrap_or(Level::BB);
        let event = augment_event(&raised, &identities, &tokens, source, now, actor);
        for token in &mut tokens {
            if let Some(event) = token.event.take() {
                self.store.append_audit(event)?;
            }
        }
        let record = self.store.append_audit(event)?;
        Ok(Augmented {
            cms,
            level: reached,
            signers: raised,
            tokens: tokens.into_iter().map(|t| t.serial).collect(),
            audit_seq: record.seq,
        })
    }

    /// The work of [`Authority::augment`] without its audit records, for the SignerInfos
    /// `signers` (index, level it has): the tokens obtained go to `tokens` (their events still
    /// to be made durable).
    ///
    /// The order matters when there are several (EN 319 122-1 §5.5.3): the
    /// archive-time-stamp-v3 of signer i covers the content, signer i's signed fields and,
    /// through its ats-hash-index-v3, the SignedData's certificates and CRLs (shared by every
    /// signer) and signer i's unsigned attributes only. So every signature time-stamp, then the
    /// validation data of every signer and token, go in first; then one archive time-stamp per
    /// signer, each over the state as it is then: adding signer j's afterwards changes only
    /// signer j's unsigned attributes (and perhaps digestAlgorithms), which signer i's neither
    /// hashes nor indexes, so each still verifies, and each covers all the validation data.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn raise(
        &self,
        mut cms: Vec<u8>,
        content: Content<'_>,
        signers: &[(usize, Level)],
        level: Level,
        extra: &ValidationData,
        source: Option<&TimestampSource>,
        now: u64,
        actor: &str,
        tokens: &mut Vec<Token>,
    ) -> Result<Vec<u8>, AugmentError> {
        let below = |target: Level| signers.iter().any(|&(_, from)| from < target);
        let needs_token = (level >= Level::BT && below(Level::BT)) || level == Level::BLTA;
        let source = match source {
            Some(source) => Some(source),
            None if needs_token => return Err(AugmentError::NoTimestampSource(level)),
            None => None,
        };
        if level == Level::BLTA {
            // Before any token or CRL is made: the archive time-stamp covers the content, so a
            // detached signature without it (or with other content) stops here.
            for &(index, _) in signers {
                self.archive_imprint(&cms, index, content)?;
            }
        }
        if level >= Level::BT {
            for &(index, _) in signers.iter().filter(|(_, from)| *from < Level::BT) {
                let imprint = cades::signature_timestamp_imprint(&cms, index, DEFAULT_HASH)?;
                let token = self.fetch_token(source, DEFAULT_HASH, &imprint, now, actor)?;
                cms = cades::add_signature_timestamp(&cms, index, &token.der)?;
                tokens.push(token);
            }
        }
        if level >= Level::BLT && (below(Level::BLT) || level == Level::BLTA) {
            let indices: Vec<usize> = signers.iter().map(|&(index, _)| index).collect();
            cms = self.add_validation_data(&cms, &indices, extra, now, actor)?;
        }
        if level == Level::BLTA {
            for &(index, _) in signers {
                let (hash, imprint) = self.archive_imprint(&cms, index, content)?;
                let token = self.fetch_token(source, hash, &imprint, now, actor)?;
                cms = match content {
                    Content::Bytes(bytes) => {
                        cades::add_archive_timestamp_v3(&cms, index, bytes, &token.der)?
                    }
                    Content::Digest(_, digest) => cades::add_archive_timestamp_v3_over_digest(
                        &cms, index, digest, &token.der,
                    )?,
                };
                tokens.push(token);
            }
        }
        Ok(cms)
    }

    /// The hash and imprint of an archive-time-stamp-v3 of SignerInfo `index` over `cms` as it
    /// is now.
    fn archive_imprint(
        &self,
        cms: &[u8],
        index: usize,
        content: Content<'_>,
    ) -> Result<(DigestAlgorithm, Vec<u8>), CadesError> {
        Ok(match content {
            Content::Bytes(bytes) => (
                DEFAULT_HASH,
                cades::archive_timestamp_v3_imprint(cms, index, bytes, DEFAULT_HASH)?,
            ),
            Content::Digest(hash, digest) => (
                hash,
                cades::archive_timestamp_v3_imprint_over_digest(cms, index, digest, hash)?,
            ),
        })
    }

    /// A token over `imprint` (of `hash`) from `source`, checked: the request's imprint and
    /// nonce (RFC 3161 §2.4.2), and for a foreign TSA its trust (EN 319 102-1 §5.4).
    pub(crate) fn fetch_token(
        &self,
        source: Option<&TimestampSource>,
        hash: DigestAlgorithm,
        imprint: &[u8],
        now: u64,
        actor: &str,
    ) -> Result<Token, AugmentError> {
        let source = source.ok_or(AugmentError::NoTimestampSource(Level::BT))?;
        let nonce = Sealer::random_bytes::<NONCE_LEN>()?;
        let rejected = |error| AugmentError::TsaResponse {
            tsa: source.name().to_owned(),
            error,
        };
        let request = TimeStampReq::new(hash, imprint, &nonce).map_err(rejected)?;
        let request_der = request
            .to_der()
            .map_err(|e| rejected(ClientError::Request(e.to_string())))?;
        let (response, event) = match source {
            TimestampSource::BuiltIn => match self.timestamp_unaudited(&request_der, now, actor)? {
                Answer::Granted {
                    response, event, ..
                } => (response, Some(event)),
                Answer::Rejected { response, .. } => (response, None),
            },
            TimestampSource::Foreign(tsa) => {
                let response = tsa.transport.exchange(&request_der).map_err(|why| {
                    AugmentError::TsaUnreachable {
                        tsa: tsa.name.clone(),
                        why,
                    }
                })?;
                (response, None)
            }
        };
        let der = request.accept(&response).map_err(rejected)?;
        if let TimestampSource::Foreign(tsa) = source {
            let mut policy = Policy::new(now + CLOCK_SKEW);
            policy.trust_anchors = tsa.trust_anchors.clone();
            let report = verify::judge_token(&der, imprint, &policy);
            if report.outcome != Outcome::Passed {
                return Err(AugmentError::UntrustedToken {
                    tsa: tsa.name.clone(),
                    why: report.reason,
                });
            }
        }
        let serial = tsp::tst_info(&der)
            .map_err(rejected)?
            .serial_number
            .as_bytes()
            .to_vec();
        Ok(Token { der, serial, event })
    }

    /// `cms` with the validation data of its SignerInfos `signers` and their time-stamps (B-LT,
    /// EN 319 122-1 §5.5): `extra`, and for each certificate of ours that the signature (the
    /// signers' own, or every one when all are raised) or one of their tokens carries, its
    /// chain, each CA's current CRL and our OCSP answer for it.
    fn add_validation_data(
        &self,
        cms: &[u8],
        signers: &[usize],
        extra: &ValidationData,
        now: u64,
        actor: &str,
    ) -> Result<Vec<u8>, AugmentError> {
        let mut certificates = extra.certificates.clone();
        let mut crls = extra.crls.clone();
        let mut ocsp = extra.ocsp_responses.clone();
        let mut cas_done: Vec<String> = Vec::new();
        for der in carried_certificates(cms, signers)? {
            let Ok(cert) = Certificate::from_der(&der) else {
                continue;
            };
            let serial = cert.tbs_certificate().serial_number().as_bytes();
            let Some(record) = self.store.certificate(serial)?.filter(|r| r.der == der) else {
                continue;
            };
            certificates.extend(self.chain(&record.issuer_ca)?);
            // The CRL of each CA from the issuer up to the root: the root's covers the sub-CA.
            let mut next = Some(record.issuer_ca.clone());
            while let Some(ca_id) = next {
                if !cas_done.contains(&ca_id) {
                    crls.push(self.current_crl(&ca_id, now, actor, false)?);
                    cas_done.push(ca_id.clone());
                }
                next = self.ca(&ca_id)?.parent.clone();
            }
            let request = self.ocsp_request_for(&cert, &record.issuer_ca)?;
            let answer = self.ocsp_response(&request, now)?;
            if answer.response_status == crate::engine::ocsp::OcspResponseStatus::Successful {
                ocsp.push(answer.der);
            }
        }
        Ok(cades::add_validation_data(
            cms,
            &certificates,
            &crls,
            &ocsp,
        )?)
    }

    /// An OCSPRequest for `cert` issued by CA `ca_id`: one CertID with SHA-1 hashes, as RFC 5019
    /// §2.1.1 clients send and every relying party matches.
    fn ocsp_request_for(&self, cert: &Certificate, ca_id: &str) -> Result<Vec<u8>, AugmentError> {
        use crate::engine::ocsp::{CertId, OcspRequest, Request, TbsRequest, Version};
        let ca = self.ca(ca_id)?;
        let build = |e: der::Error| AugmentError::Config(format!("OCSP request: {e}"));
        let sha1 = DigestAlgorithm::Sha1;
        let request = OcspRequest {
            tbs_request: TbsRequest {
                version: Version::V1,
                requestor_name: None,
                request_list: vec![Request {
                    req_cert: CertId {
                        hash_algorithm: sha1.identifier(),
                        issuer_name_hash: der::asn1::OctetString::new(
                            sha1.digest(&ca.name.to_der().map_err(build)?),
                        )
                        .map_err(build)?,
                        issuer_key_hash: der::asn1::OctetString::new(
                            sha1.digest(ca.key.public_key_info().subject_public_key.raw_bytes()),
                        )
                        .map_err(build)?,
                        serial_number: cert.tbs_certificate().serial_number().clone(),
                    },
                    single_request_extensions: None,
                }],
                request_extensions: None,
            },
            optional_signature: None,
        };
        request.to_der().map_err(build)
    }
}

/// The certificates of SignerInfos `signers` (positions as carried): when they are all of
/// them, every certificate `cms` carries, else the ones those signers' sids name; and every
/// certificate their time-stamp tokens (signature and archive) carry. Another signer's are left
/// out when one is selected, so its level stays as it was unless its data is shared.
fn carried_certificates(cms: &[u8], signers: &[usize]) -> Result<Vec<Vec<u8>>, AugmentError> {
    let malformed = |e: verify::VerifyError| CadesError::Malformed(e.to_string());
    let doc = SignedDocument::parse(cms).map_err(malformed)?;
    let mut selected = Vec::with_capacity(signers.len());
    for &index in signers {
        selected.push(signer_info(&doc, cms, index)?);
    }
    let mut out = doc.certificates();
    if selected.len() < doc.signer_count() {
        out.retain(|der| {
            Certificate::from_der(der).is_ok_and(|cert| {
                selected
                    .iter()
                    .any(|si| verify::names_certificate(&si.sid, &cert))
            })
        });
    }
    for si in selected {
        for attribute in si.unsigned_attrs.iter().flat_map(|a| a.iter()) {
            if attribute.oid != oid::ID_AA_SIGNATURE_TIME_STAMP_TOKEN
                && attribute.oid != oid::ID_AA_ETS_ARCHIVE_TIMESTAMP_V3
            {
                continue;
            }
            for token in attribute.values.iter() {
                let der = token
                    .to_der()
                    .map_err(|e| CadesError::Malformed(e.to_string()))?;
                out.extend(
                    SignedDocument::parse(&der)
                        .map_err(malformed)?
                        .certificates(),
                );
            }
        }
    }
    Ok(out)
}

/// The decoded SignerInfo at `index` among those `cms` carries: a decoder may sort the SET OF
/// (der's `SetOfVec`), so it is found by its signature value.
fn signer_info<'a>(
    doc: &'a SignedDocument,
    cms: &[u8],
    index: usize,
) -> Result<&'a ::cms::signed_data::SignerInfo, AugmentError> {
    let signature = cades::signature_value(cms, index)?;
    doc.signer_infos()
        .iter()
        .find(|si| si.signature.as_bytes() == signature)
        .ok_or_else(|| {
            CadesError::Malformed(format!("SignerInfo {index} does not decode as carried")).into()
        })
}

/// For each of SignerInfos `indices` of `cms`: its sid (`verify::sid_text`) and the SHA-256
/// (hex) of its signature value.
fn identities(cms: &[u8], indices: &[usize]) -> Result<Vec<(String, String)>, AugmentError> {
    let doc = SignedDocument::parse(cms)
        .map_err(|e: verify::VerifyError| CadesError::Malformed(e.to_string()))?;
    indices
        .iter()
        .map(|&index| {
            let si = signer_info(&doc, cms, index)?;
            Ok((
                verify::sid_text(&si.sid),
                hex::encode(DigestAlgorithm::Sha256.digest(si.signature.as_bytes())),
            ))
        })
        .collect()
}

/// The `augment` audit event: for each signature raised (`raised`, with `identities`' sid and
/// signature-value hash) its index, signer, hash and levels before and after, in that order;
/// then the tokens added and their source. Its object is the first signature raised.
pub(crate) fn augment_event(
    raised: &[RaisedSigner],
    identities: &[(String, String)],
    tokens: &[Token],
    source: Option<&TimestampSource>,
    now: u64,
    actor: &str,
) -> AuditEvent {
    let mut details = Vec::new();
    for (signer, (sid, signature_hash)) in raised.iter().zip(identities) {
        details.extend([
            ("signer_index".to_owned(), signer.index.to_string()),
            ("signer".to_owned(), sid.clone()),
            ("signature_sha256".to_owned(), signature_hash.clone()),
            ("from_level".to_owned(), signer.from.as_str().to_owned()),
            ("level".to_owned(), signer.level.as_str().to_owned()),
        ]);
    }
    details.push((
        "tokens".to_owned(),
        tokens
            .iter()
            .map(|t| hex::encode(&t.serial))
            .collect::<Vec<_>>()
            .join(","),
    ));
    if let Some(source) = source.filter(|_| !tokens.is_empty()) {
        details.push(("tsa".to_owned(), source.name().to_owned()));
    }
    let first = identities.first().map_or("", |(_, hash)| hash.as_str());
    AuditEvent {
        time: now,
        actor: actor.to_owned(),
        action: AuditAction::Augment,
        object: format!("signature:{first}"),
        details,
    }
}
