//! The verification report: ETSI EN 319 102-1 §5.1.3 indications and sub-indications, every check
//! with its outcome and reason, and what the relying party needs to know about the signer.

use crate::engine::cades::Level;
use serde::Serialize;

fn level_name<S: serde::Serializer>(level: &Option<Level>, s: S) -> Result<S::Ok, S::Error> {
    match level {
        Some(l) => s.serialize_str(l.as_str()),
        None => s.serialize_none(),
    }
}

/// Main status indication (ETSI EN 319 102-1 §5.1.3, Table 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Indication {
    /// Every check passed.
    #[serde(rename = "TOTAL-PASSED")]
    TotalPassed,
    /// The checks could not decide (missing data, unproven time, a budget reached).
    #[serde(rename = "INDETERMINATE")]
    Indeterminate,
    /// A check failed: the signature is not valid.
    #[serde(rename = "TOTAL-FAILED")]
    TotalFailed,
}

impl std::fmt::Display for Indication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::TotalPassed => "TOTAL-PASSED",
            Self::Indeterminate => "INDETERMINATE",
            Self::TotalFailed => "TOTAL-FAILED",
        })
    }
}

/// Sub-indications (ETSI EN 319 102-1 §5.1.3, Tables 5 and 6). Each belongs to one indication.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SubIndication {
    // TOTAL-FAILED (Table 5)
    /// The signature or its container cannot be processed.
    FormatFailure,
    /// The content's digest does not match the signed one.
    HashFailure,
    /// The signature value does not verify under the signer's key.
    SigCryptoFailure,
    /// The signer's certificate is revoked.
    Revoked,
    /// The signer's certificate had expired.
    Expired,
    /// The signer's certificate was not yet valid.
    NotYetValid,
    // INDETERMINATE (Table 6)
    /// The signature breaks the validation policy's constraints (role, purpose, attributes).
    SigConstraintsFailure,
    /// The path breaks a path-validation constraint (RFC 5280 §6.1).
    ChainConstraintsFailure,
    /// The path could not be validated for another reason (e.g. the work budget).
    CertificateChainGeneralFailure,
    /// An algorithm is past its sunset, and no proof of existence predates the sunset.
    CryptoConstraintsFailureNoPoe,
    /// The signer's certificate is neither in the signature nor in the pool.
    NoSigningCertificateFound,
    /// No path from the signer's certificate to a trust anchor.
    NoCertificateChainFound,
    /// No usable revocation information at the validation time.
    RevocationOutOfBounds,
    /// The signer's certificate is revoked after the validation time, and no proof of existence
    /// shows the signature was made before.
    RevokedNoPoe,
    /// The same for a CA certificate of the path.
    RevokedCaNoPoe,
    /// The signer's claimed signingTime lies outside the certificate's validity, and no proof of
    /// existence places the signature inside it.
    OutOfBoundsNoPoe,
    /// A proof of existence is missing to place the signature before some event.
    NoPoe,
    /// Revocation information may become available later.
    TryLater,
    /// The signer's claimed signingTime is after the time a signature time-stamp proves the
    /// signature existed: the claim and the proof disagree on the order of events.
    TimestampOrderFailure,
    /// The signed content is missing (a detached signature without its content).
    SignedDataNotFound,
}

impl SubIndication {
    /// The indication it belongs to.
    pub fn indication(self) -> Indication {
        match self {
            Self::FormatFailure
            | Self::HashFailure
            | Self::SigCryptoFailure
            | Self::Revoked
            | Self::Expired
            | Self::NotYetValid => Indication::TotalFailed,
            _ => Indication::Indeterminate,
        }
    }
    /// The ETSI spelling, as in the JSON report.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FormatFailure => "FORMAT_FAILURE",
            Self::HashFailure => "HASH_FAILURE",
            Self::SigCryptoFailure => "SIG_CRYPTO_FAILURE",
            Self::Revoked => "REVOKED",
            Self::Expired => "EXPIRED",
            Self::NotYetValid => "NOT_YET_VALID",
            Self::SigConstraintsFailure => "SIG_CONSTRAINTS_FAILURE",
            Self::ChainConstraintsFailure => "CHAIN_CONSTRAINTS_FAILURE",
            Self::CertificateChainGeneralFailure => "CERTIFICATE_CHAIN_GENERAL_FAILURE",
            Self::CryptoConstraintsFailureNoPoe => "CRYPTO_CONSTRAINTS_FAILURE_NO_POE",
            Self::NoSigningCertificateFound => "NO_SIGNING_CERTIFICATE_FOUND",
            Self::NoCertificateChainFound => "NO_CERTIFICATE_CHAIN_FOUND",
            Self::RevocationOutOfBounds => "REVOCATION_OUT_OF_BOUNDS_NO_POE",
            Self::RevokedNoPoe => "REVOKED_NO_POE",
            Self::RevokedCaNoPoe => "REVOKED_CA_NO_POE",
            Self::OutOfBoundsNoPoe => "OUT_OF_BOUNDS_NO_POE",
            Self::NoPoe => "NO_POE",
            Self::TryLater => "TRY_LATER",
            Self::TimestampOrderFailure => "TIMESTAMP_ORDER_FAILURE",
            Self::SignedDataNotFound => "SIGNED_DATA_NOT_FOUND",
        }
    }
}

impl std::fmt::Display for SubIndication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How one check ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It passed.
    Passed,
    /// It failed; its sub-indication says how.
    Failed,
    /// Not run: an earlier check failed, or the policy turned it off (`Policy::check_chain`).
    Skipped,
    /// Passed with a remark the relying party should see (e.g. no ESS binding, not CAdES).
    Warning,
}

/// One check and why it ended as it did.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// Stable name of the check (e.g. `signature`).
    pub name: &'static str,
    /// How it ended.
    pub outcome: Outcome,
    /// Why, in words.
    pub reason: String,
    /// For a failed check, its sub-indication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_indication: Option<SubIndication>,
}

/// A certificate as a person reads it.
#[derive(Clone, Debug, Serialize)]
pub struct CertSummary {
    /// RFC 4514 subject.
    pub subject: String,
    /// RFC 4514 issuer.
    pub issuer: String,
    /// Hex, as OpenSSL prints it.
    pub serial: String,
    /// notBefore, RFC 3339.
    pub not_before: String,
    /// notAfter, RFC 3339.
    pub not_after: String,
}

/// A certified healthcare role (ISO 17090-2 hcRole).
#[derive(Clone, Debug, Serialize)]
pub struct RoleReport {
    /// The role scheme's OID (dotted).
    pub scheme: String,
    /// The role's code, when coded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The role's free text, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// An algorithm identifier: the OID and, when known, its name (const-oid's database).
#[derive(Clone, Debug, Serialize)]
pub struct AlgorithmReport {
    /// Dotted OID.
    pub oid: String,
    /// Its name, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl AlgorithmReport {
    pub(crate) fn new(oid: &const_oid::ObjectIdentifier) -> Self {
        Self {
            oid: crate::engine::oid::dotted(oid),
            name: crate::engine::oid::name(oid).map(str::to_owned),
        }
    }
}

impl std::fmt::Display for AlgorithmReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name.as_deref().unwrap_or(&self.oid))
    }
}

/// One time-stamp of a signature and its verdict (ETSI EN 319 102-1 §5.4).
#[derive(Clone, Debug, Serialize)]
pub struct TimestampReport {
    /// Its number among the signature's time-stamps of its kind, from 1, in the order carried.
    pub number: usize,
    /// `signature-time-stamp` (id-aa-signatureTimeStampToken) or `archive-time-stamp-v3`.
    pub kind: &'static str,
    /// TSTInfo genTime, RFC 3339 (fractions of a second truncated), when it decoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gen_time: Option<String>,
    #[serde(skip)]
    pub(crate) gen_time_unix: Option<u64>,
    /// The TSA certificate's subject, when found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tsa: Option<String>,
    /// TSTInfo policy (dotted), when it decoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// What proves the token itself existed while its TSA certificate and algorithms were still
    /// good, when the validation time alone does not (EN 319 102-1 §5.6.2.3), e.g.
    /// `archive-time-stamp-v3 #1 (genTime 2027-01-01T00:00:00Z)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proof_of_existence: Option<String>,
    /// Passed (a proof of existence at genTime) or failed (none).
    pub outcome: Outcome,
    /// Why, in words.
    pub reason: String,
    /// For a failed time-stamp, its sub-indication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_indication: Option<SubIndication>,
    /// The earliest notAfter (Unix seconds) among the TSA certificate (`None`) and its CA
    /// certificates (the subject).
    #[serde(skip)]
    pub(crate) expiry: Option<(u64, Option<String>)>,
    /// The earliest catalogue sunset among the token's own algorithms (`None`) and the
    /// signatures on the certificates of the TSA's path (the subject signed so): Unix seconds,
    /// what it refuses, where.
    #[serde(skip)]
    pub(crate) sunset: Option<(u64, super::Refusal, Option<String>)>,
    /// A certificate of the TSA's path revoked after genTime (Unix seconds, the revocation in
    /// words): the token fails REVOKED(_CA)_NO_POE unless an archive time-stamp proves it existed
    /// before then (EN 319 102-1 §5.6.2.1, §5.6.3).
    #[serde(skip)]
    pub(crate) revoked_later: Option<(u64, String)>,
    /// The unsigned attribute this token is (attrType ‖ attrValue, DER), as an archive
    /// time-stamp's ats-hash-index-v3 lists it.
    #[serde(skip)]
    pub(crate) attribute: Vec<u8>,
    /// For an archive time-stamp: the hashes of the unsigned attribute values its index lists.
    #[serde(skip)]
    pub(crate) covers: Option<(crate::engine::digest::DigestAlgorithm, Vec<Vec<u8>>)>,
}

impl TimestampReport {
    pub(crate) fn failed(
        number: usize,
        kind: &'static str,
        sub: SubIndication,
        reason: String,
    ) -> Self {
        Self {
            number,
            kind,
            gen_time: None,
            gen_time_unix: None,
            tsa: None,
            policy: None,
            proof_of_existence: None,
            outcome: Outcome::Failed,
            reason,
            sub_indication: Some(sub),
            expiry: None,
            sunset: None,
            revoked_later: None,
            attribute: Vec::new(),
            covers: None,
        }
    }
}

/// Where the revocation status of a certificate of the path came from.
#[derive(Clone, Debug, Serialize)]
pub struct RevocationSource {
    /// The certificate's subject (as in `chain`).
    pub subject: String,
    /// `CRL` or `OCSP`.
    pub kind: &'static str,
    /// `embedded` (in the signature's `SignedData.crls`) or `supplied` (by the relying party).
    pub origin: &'static str,
    /// The CRL's thisUpdate, or the OCSP SingleResponse's, RFC 3339.
    pub this_update: String,
}

/// The verdict on one signature (or, for `verify-path`, one certificate).
#[derive(Clone, Debug, Serialize)]
pub struct SignatureReport {
    /// The verdict on this signature.
    pub indication: Indication,
    /// How it failed or is undecided; `None` when it passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_indication: Option<SubIndication>,
    /// The signer's certificate, when found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<CertSummary>,
    /// The hcRoles the signer's certificate carries.
    pub hc_roles: Vec<RoleReport>,
    /// The signer certificate's certificatePolicies OIDs (dotted).
    pub certificate_policies: Vec<String>,
    /// The signer's public key, e.g. `EC P-256`, `RSA 2048`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer_key: Option<String>,
    /// SignerInfo digestAlgorithm (RFC 5652 §5.3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest_algorithm: Option<AlgorithmReport>,
    /// SignerInfo signatureAlgorithm (RFC 5652 §5.3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature_algorithm: Option<AlgorithmReport>,
    /// commitment-type-indication (ETSI EN 319 122-1 §5.2.3): its OID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// The purpose's `name (title)` from `policies/purposes/signing.toml`, when it defines the OID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose_name: Option<String>,
    /// signingTime (RFC 5652 §11.3): claimed by the signer, not proven.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claimed_signing_time: Option<String>,
    /// Target first, trust anchor last.
    pub chain: Vec<CertSummary>,
    /// The baseline level the signature's structure shows (not for `verify-path`): `B-B`, `B-T`,
    /// `B-LT` or `B-LTA`.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "level_name")]
    pub level: Option<Level>,
    /// The earliest time a valid signature time-stamp proves the signature existed (EN 319 102-1
    /// §5.6.2.2), RFC 3339; the path was validated then. `None`: no proof of existence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best_signature_time: Option<String>,
    /// What proves the best-signature-time, e.g. `signature time-stamp #1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best_signature_time_proof: Option<String>,
    /// Each time-stamp of the signature and its verdict.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub timestamps: Vec<TimestampReport>,
    /// The CRLs that speak for each certificate of the path at the time it was validated, with
    /// their origin (only when validation data is embedded or a time-stamp proves the time).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub revocation_sources: Vec<RevocationSource>,
    /// When the signature's proof of existence must be renewed by (RFC 3339): the first moment
    /// an element of its newest valid archive time-stamp (B-LTA) or of its best signature
    /// time-stamp (B-T, B-LT: the first archive time-stamp is due) stops being acceptable: the
    /// notAfter of the TSA certificate or of a CA certificate of the TSA's path, the catalogue
    /// sunset of the token's algorithms or of a signature on that path. `None`: no valid
    /// time-stamp.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renewal_due: Option<String>,
    /// What falls due then, e.g. `the TSA certificate of archive-time-stamp-v3 #2 expires`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renewal_due_reason: Option<String>,
    /// Every check run on this signature, in order.
    pub checks: Vec<Check>,
    /// The path validation's verdict, for the time-stamp validation that needs more of it than
    /// the checks say (revocation after genTime, the path's life).
    #[serde(skip)]
    pub(crate) path: Option<std::sync::Arc<super::cache::PathVerdict>>,
}

impl SignatureReport {
    pub(crate) fn new() -> Self {
        Self {
            indication: Indication::TotalPassed,
            sub_indication: None,
            signer: None,
            hc_roles: Vec::new(),
            certificate_policies: Vec::new(),
            signer_key: None,
            digest_algorithm: None,
            signature_algorithm: None,
            purpose: None,
            purpose_name: None,
            claimed_signing_time: None,
            chain: Vec::new(),
            level: None,
            best_signature_time: None,
            best_signature_time_proof: None,
            timestamps: Vec::new(),
            revocation_sources: Vec::new(),
            renewal_due: None,
            renewal_due_reason: None,
            checks: Vec::new(),
            path: None,
        }
    }

    pub(crate) fn pass(&mut self, name: &'static str, reason: impl Into<String>) {
        self.push(name, Outcome::Passed, reason.into(), None);
    }

    pub(crate) fn warn(&mut self, name: &'static str, reason: impl Into<String>) {
        self.push(name, Outcome::Warning, reason.into(), None);
    }

    pub(crate) fn skip(&mut self, name: &'static str, reason: impl Into<String>) {
        self.push(name, Outcome::Skipped, reason.into(), None);
    }

    /// Records a failure; the first failure decides the verdict.
    pub(crate) fn fail(
        &mut self,
        name: &'static str,
        sub: SubIndication,
        reason: impl Into<String>,
    ) {
        if self.sub_indication.is_none() {
            self.sub_indication = Some(sub);
            self.indication = sub.indication();
        }
        self.push(name, Outcome::Failed, reason.into(), Some(sub));
    }

    fn push(
        &mut self,
        name: &'static str,
        outcome: Outcome,
        reason: String,
        sub: Option<SubIndication>,
    ) {
        self.checks.push(Check {
            name,
            outcome,
            reason,
            sub_indication: sub,
        });
    }

    /// Whether it did not pass (a sub-indication is set: failed or undecided).
    pub fn failed(&self) -> bool {
        self.sub_indication.is_some()
    }

    /// The check that decided the verdict.
    pub fn first_failure(&self) -> Option<&Check> {
        self.checks.iter().find(|c| c.outcome == Outcome::Failed)
    }
}

/// The verdict on a whole document (or certificate).
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The verdict on the whole document.
    pub indication: Indication,
    /// How it failed or is undecided; `None` when it passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_indication: Option<SubIndication>,
    /// RFC 3339.
    pub validation_time: String,
    /// Structural checks before any signer (parsing, content).
    pub checks: Vec<Check>,
    /// One report per SignerInfo.
    pub signatures: Vec<SignatureReport>,
}

impl Report {
    /// Valid only when every signature passed (a document may carry several; one bad is not valid).
    pub fn is_valid(&self) -> bool {
        self.indication == Indication::TotalPassed
    }

    pub(crate) fn format_failure(validation_time: String, reason: String) -> Self {
        Self {
            indication: Indication::TotalFailed,
            sub_indication: Some(SubIndication::FormatFailure),
            validation_time,
            checks: vec![Check {
                name: "format",
                outcome: Outcome::Failed,
                reason,
                sub_indication: Some(SubIndication::FormatFailure),
            }],
            signatures: Vec::new(),
        }
    }

    /// The worst signature decides; among equals, the first.
    pub(crate) fn from_signatures(
        validation_time: String,
        checks: Vec<Check>,
        signatures: Vec<SignatureReport>,
    ) -> Self {
        let indication = signatures
            .iter()
            .map(|s| s.indication)
            .max()
            .unwrap_or(Indication::TotalPassed);
        let worst = signatures
            .iter()
            .filter(|s| s.indication == indication)
            .find_map(|s| s.sub_indication);
        Self {
            indication,
            sub_indication: worst,
            validation_time,
            checks,
            signatures,
        }
    }
}
