//! RFC 5280 §6.3 CRL processing for each certificate of a path that certval validated (§6.1):
//! complete and delta CRLs, indirect CRLs, CRL issuers other than the certificate's issuer,
//! distribution points and reasons. The supplied CRLs are decoded once per validation
//! ([`CrlSet`]); signatures and the paths of CRL signers outside the path go through the caller
//! ([`Signers`]).
//!
//! Validation at a past time: a CRL current then (thisUpdate ≤ time ≤ nextUpdate) answers; so
//! does a CRL issued later (thisUpdate > time, nextUpdate not needed): not listed there means not
//! revoked then either, and a listing counts from the lesser of revocationDate and invalidityDate
//! (§5.3.2, EN 319 102-1 §5.2.5). A listing after the validation time leaves the path valid and
//! is reported as [`RevokedLater`].

use super::ocsp::{OcspSet, Response, Said};
use super::rfc3339;
use certval::compare_names;
use const_oid::db::rfc5280 as id;
use der::asn1::{Any, BitString, GeneralizedTime, Uint};
use der::{Decode, Encode, Sequence};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use x509_cert::Certificate;
use x509_cert::crl::{CertificateList, RevokedCert};
use x509_cert::ext::Extensions;
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName, GeneralNames};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BaseCrlNumber, BasicConstraints, CrlDistributionPoints, CrlNumber,
    CrlReason, ExtendedKeyUsage, IssuingDistributionPoint, KeyUsage,
};
use x509_cert::name::{Name, RdnSequence};
use x509_cert::time::Time;

/// RFC 5280 §5.1 CertificateList with `tbsCertList` kept as received: the signature is over
/// those octets.
#[derive(Sequence)]
struct SignedCrl {
    tbs_cert_list: Any,
    signature_algorithm: AlgorithmIdentifierOwned,
    signature: BitString,
}

/// RFC 5280 §5.1 TBSCertList. `version` is OPTIONAL (absent in a v1 CRL, §5.1.2.1), where
/// x509-cert 0.3's `TbsCertList` requires it.
#[derive(Sequence)]
struct TbsCertList {
    version: Option<x509_cert::Version>,
    signature: AlgorithmIdentifierOwned,
    issuer: Name,
    this_update: Time,
    next_update: Option<Time>,
    revoked_certificates: Option<Vec<RevokedCert>>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    crl_extensions: Option<Extensions>,
}

/// Checks that `der` is a CRL (v1 or v2), for callers that take CRL files.
pub(crate) fn check_decodes(der: &[u8]) -> der::Result<()> {
    Crl::decode(0, der).map(|_| ())
}

/// ReasonFlags bits (RFC 5280 §4.2.1.13) as x509-cert numbers them: bit n is `1 << n`.
type Reasons = u16;
/// `all-reasons` of §6.3.3: keyCompromise (1) through aACompromise (8); `unused` (0) is not one.
const ALL_REASONS: Reasons = 0x1FE;

/// A certificate a CRL lists (§5.1.2.6, §5.3).
struct Entry {
    serial: Vec<u8>,
    /// Index into [`Crl::entry_issuers`]: the certificateIssuer in force (§5.3.3, carried
    /// forward from the previous entry); `None`: the CRL issuer.
    issuer: Option<usize>,
    revoked_at: u64,
    invalid_since: Option<u64>,
    reason: Option<CrlReason>,
}

/// One supplied CRL, decoded: the fields §6.3.3 consults.
pub(crate) struct Crl {
    /// Position among the supplied CRLs, for reasons.
    index: usize,
    tbs: Vec<u8>,
    algorithm: AlgorithmIdentifierOwned,
    signature: BitString,
    issuer: Name,
    this_update: u64,
    next_update: Option<u64>,
    /// cRLNumber (§5.2.3), big-endian without leading zeros.
    number: Option<Vec<u8>>,
    /// BaseCRLNumber of a delta CRL (deltaCRLIndicator, §5.2.4).
    base: Option<Vec<u8>>,
    idp: Option<IssuingDistributionPoint>,
    /// The IDP's DER: a delta CRL's scope must equal its complete CRL's (§6.3.3 (c)(2)).
    idp_der: Option<Vec<u8>>,
    /// authorityKeyIdentifier keyIdentifier (§5.2.1).
    aki: Option<Vec<u8>>,
    /// Why the CRL must not be used at all (§5.2, §5.3: an unrecognised critical extension).
    refused: Option<String>,
    entries: Vec<Entry>,
    entry_issuers: Vec<GeneralNames>,
}

fn secs(t: &Time) -> u64 {
    t.to_unix_duration().as_secs()
}

/// The value octets of an INTEGER without leading zeros, so that length then bytes orders them.
fn number(u: &Uint) -> Vec<u8> {
    let b = u.as_bytes();
    let skip = b.iter().take_while(|&&x| x == 0).count();
    b[skip..].to_vec()
}

fn number_le(a: &[u8], b: &[u8]) -> bool {
    (a.len(), a) <= (b.len(), b)
}

impl Crl {
    fn decode(index: usize, der: &[u8]) -> der::Result<Self> {
        let signed = SignedCrl::from_der(der)?;
        let tbs_der = signed.tbs_cert_list.to_der()?;
        let t = TbsCertList::from_der(&tbs_der)?;
        // As x509-cert's types (an absent version is v1, §5.1.2.1) for the §5 profile checks;
        // moved in and out, not copied.
        let list = CertificateList {
            tbs_cert_list: x509_cert::crl::TbsCertList {
                version: t.version.unwrap_or(x509_cert::Version::V1),
                signature: t.signature,
                issuer: t.issuer,
                this_update: t.this_update,
                next_update: t.next_update,
                revoked_certificates: t.revoked_certificates,
                crl_extensions: t.crl_extensions,
            },
            signature_algorithm: signed.signature_algorithm,
            signature: signed.signature,
        };
        let profile = super::conformance::crl(&list);
        let CertificateList {
            tbs_cert_list: tbs,
            signature_algorithm,
            signature,
        } = list;
        let mut crl = Self {
            index,
            tbs: tbs_der,
            algorithm: signature_algorithm,
            signature,
            issuer: tbs.issuer,
            this_update: secs(&tbs.this_update),
            next_update: tbs.next_update.as_ref().map(secs),
            number: None,
            base: None,
            idp: None,
            idp_der: None,
            aki: None,
            refused: None,
            entries: Vec::new(),
            entry_issuers: Vec::new(),
        };
        // §5.1.1.2: the outer algorithm MUST equal the signed one.
        if tbs.signature != crl.algorithm {
            crl.refused = Some("its signature algorithm differs from the signed one".into());
        }
        if let Err(why) = profile {
            crl.refused = Some(why);
        }
        for ext in tbs.crl_extensions.iter().flatten() {
            let value = ext.extn_value.as_bytes();
            let decoded = match ext.extn_id {
                id::ID_CE_CRL_NUMBER => {
                    CrlNumber::from_der(value).map(|n| crl.number = Some(number(&n.0)))
                }
                id::ID_CE_DELTA_CRL_INDICATOR => {
                    BaseCrlNumber::from_der(value).map(|n| crl.base = Some(number(&n.0)))
                }
                id::ID_CE_ISSUING_DISTRIBUTION_POINT => IssuingDistributionPoint::from_der(value)
                    .map(|idp| {
                        crl.idp = Some(idp);
                        crl.idp_der = Some(value.to_vec());
                    }),
                id::ID_CE_AUTHORITY_KEY_IDENTIFIER => AuthorityKeyIdentifier::from_der(value)
                    .map(|aki| crl.aki = aki.key_identifier.map(|k| k.as_bytes().to_vec())),
                // Recognised, nothing to do with them here.
                id::ID_CE_FRESHEST_CRL
                | id::ID_CE_ISSUER_ALT_NAME
                | id::ID_PE_AUTHORITY_INFO_ACCESS => Ok(()),
                other if ext.critical => {
                    crl.refused =
                        Some(format!("it has an unrecognised critical extension {other}"));
                    Ok(())
                }
                _ => Ok(()),
            };
            if decoded.is_err() {
                crl.refused = Some(format!("its extension {} does not decode", ext.extn_id));
            }
        }
        let mut issuer: Option<usize> = None;
        for entry in tbs.revoked_certificates.into_iter().flatten() {
            let mut e = Entry {
                serial: entry.serial_number.as_bytes().to_vec(),
                issuer,
                revoked_at: secs(&entry.revocation_date),
                invalid_since: None,
                reason: None,
            };
            for ext in entry.crl_entry_extensions.iter().flatten() {
                let value = ext.extn_value.as_bytes();
                let decoded = match ext.extn_id {
                    id::ID_CE_CRL_REASONS => CrlReason::from_der(value).map(|r| e.reason = Some(r)),
                    id::ID_CE_INVALIDITY_DATE => GeneralizedTime::from_der(value)
                        .map(|t| e.invalid_since = Some(t.to_unix_duration().as_secs())),
                    id::ID_CE_CERTIFICATE_ISSUER => GeneralNames::from_der(value).map(|names| {
                        crl.entry_issuers.push(names);
                        issuer = Some(crl.entry_issuers.len() - 1);
                        e.issuer = issuer;
                    }),
                    id::ID_CE_HOLD_INSTRUCTION_CODE => Ok(()),
                    other if ext.critical => {
                        crl.refused = Some(format!(
                            "an entry has an unrecognised critical extension {other}"
                        ));
                        Ok(())
                    }
                    _ => Ok(()),
                };
                if decoded.is_err() {
                    crl.refused = Some(format!(
                        "an entry's extension {} does not decode",
                        ext.extn_id
                    ));
                }
            }
            crl.entries.push(e);
        }
        Ok(crl)
    }

    fn name(&self) -> String {
        let delta = if self.base.is_some() { "delta " } else { "" };
        format!("{delta}CRL #{} (issuer {})", self.index, self.issuer)
    }

    /// thisUpdate ≤ `at` ≤ nextUpdate (an absent nextUpdate never goes stale).
    fn current_at(&self, at: u64) -> bool {
        self.this_update <= at && self.next_update.is_none_or(|n| at <= n)
    }

    /// The entry listing `cert`: same serial, and the entry's issuer (the CRL issuer or the
    /// certificateIssuer in force, §5.3.3) names the certificate's issuer.
    fn listing(&self, cert: &Certificate) -> Option<&Entry> {
        let tbs = cert.tbs_certificate();
        let serial = tbs.serial_number().as_bytes();
        self.entries.iter().find(|e| {
            e.serial == serial
                && match e.issuer {
                    None => compare_names(&self.issuer, tbs.issuer()),
                    Some(i) => self.entry_issuers[i]
                        .iter()
                        .any(|g| directory_is(g, tbs.issuer())),
                }
        })
    }
}

fn directory_is(g: &GeneralName, name: &Name) -> bool {
    matches!(g, GeneralName::DirectoryName(n) if compare_names(n, name))
}

/// Two GeneralNames are the same name: directory names by RFC 5280 §7.1 comparison, others as
/// encoded.
fn same_name(a: &GeneralName, b: &GeneralName) -> bool {
    match (a, b) {
        (GeneralName::DirectoryName(a), GeneralName::DirectoryName(b)) => compare_names(a, b),
        _ => a == b,
    }
}

/// The full names of a distribution point name: nameRelativeToCRLIssuer is appended to the CRL
/// issuer's name (§4.2.1.13, §5.2.5).
fn full_names(dp: &DistributionPointName, crl_issuer: &Name) -> Vec<GeneralName> {
    match dp {
        DistributionPointName::FullName(names) => names.clone(),
        DistributionPointName::NameRelativeToCRLIssuer(rdn) => {
            let mut name: RdnSequence = crl_issuer.clone().into();
            name.push(rdn.clone());
            // x509-cert builds a `Name` from an RdnSequence only by decoding.
            name.to_der()
                .and_then(|der| Name::from_der(&der))
                .map(GeneralName::DirectoryName)
                .into_iter()
                .collect()
        }
    }
}

/// The supplied CRLs, decoded once for one validation (and the CRL signers' validations).
pub(crate) struct CrlSet {
    crls: Vec<Crl>,
    /// The supplied CRLs that do not decode, by position.
    undecodable: Vec<usize>,
}

impl CrlSet {
    pub(crate) fn decode(ders: &[Vec<u8>]) -> Self {
        let mut set = Self {
            crls: Vec::with_capacity(ders.len()),
            undecodable: Vec::new(),
        };
        for (i, der) in ders.iter().enumerate() {
            match Crl::decode(i, der) {
                Ok(crl) => set.crls.push(crl),
                Err(_) => set.undecodable.push(i),
            }
        }
        set
    }
}

/// What revocation checking needs from path validation.
pub(crate) trait Signers {
    /// Whether `signature` over `message` verifies with `spki`.
    fn verify(
        &self,
        message: &[u8],
        signature: &BitString,
        algorithm: &AlgorithmIdentifierOwned,
        spki: &SubjectPublicKeyInfoOwned,
    ) -> Result<(), Refused>;
    /// The supplied certificates (pool and trust anchors) named `subject`, with their DER.
    fn named<'s>(&'s self, subject: &Name) -> Vec<(&'s [u8], Cow<'s, Certificate>)>;
    /// Validates the path of `cert` (DER) from `anchor` (DER) at the same time and with the same
    /// inputs, revocation included (§6.3.3 (f)); the reason when it does not validate.
    fn validate(&self, cert: &[u8], anchor: &[u8]) -> Result<(), String>;
}

/// Why a signature was not accepted.
pub(crate) enum Refused {
    /// The algorithm (or key type) is not one hpki verifies.
    Unsupported,
    /// The signature does not verify.
    Bad,
}

/// A revocation after the validation time (RFC 5280 §5.3.2; EN 319 102-1 §5.2.5: without a proof
/// of existence before it, REVOKED_NO_POE or REVOKED_CA_NO_POE): the path was valid then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RevokedLater {
    /// In the chain: 0 = the target.
    pub index: usize,
    /// Unix seconds: the entry's revocationDate, or its invalidityDate when earlier.
    pub revoked_at: u64,
    /// The entry's reasonCode as RFC 5280 §5.3.1 names it (`unspecified` when absent).
    pub reason: String,
}

/// An OCSP response that answered `good` for a certificate of the path (RFC 6960).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OcspUse {
    /// In the chain: 0 = the target.
    pub index: usize,
    /// The response's position among those validation was given.
    pub response: usize,
    /// The SingleResponse's thisUpdate, Unix seconds.
    pub this_update: u64,
    /// The hash of the response's signature algorithm, and the signing responder's key: for the
    /// algorithm catalogue.
    pub hash: Option<crate::engine::digest::DigestAlgorithm>,
    pub key: Option<crate::engine::key::KeyParams>,
}

/// What spoke for the path besides the CRLs: the OCSP answers used, and why others were not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Evidence {
    pub ocsp: Vec<OcspUse>,
    /// An OCSP response about a certificate of the path that was not used, and why.
    pub unused: Vec<String>,
}

/// The outcome of revocation checking for a path.
pub(crate) enum Status {
    /// No certificate is revoked at the validation time.
    Good(Option<RevokedLater>, Evidence),
    /// A certificate is listed as revoked (or on hold) on a usable CRL: the reason.
    Revoked(String),
    /// A certificate's status is not determined: the reason, naming each unusable CRL.
    Undetermined(String),
}

/// One certificate's status.
enum CertStatus {
    Good(Option<RevokedLater>),
    Revoked(String),
    Undetermined(String),
}

/// Checks every certificate of `chain` (target first, trust anchor last, which is not checked)
/// at `at` (Unix seconds). A revoked certificate anywhere wins over undetermined ones.
pub(crate) fn check(
    chain: &[(&[u8], &Certificate)],
    crls: &CrlSet,
    ocsp: &OcspSet,
    at: u64,
    signers: &dyn Signers,
) -> Status {
    let mut undetermined: Option<String> = None;
    let mut later: Option<RevokedLater> = None;
    let evidence = RefCell::new(Evidence::default());
    for i in 0..chain.len().saturating_sub(1) {
        let checker = Checker {
            chain,
            i,
            crls,
            ocsp,
            at,
            signers,
            evidence: &evidence,
        };
        match checker.status() {
            CertStatus::Revoked(reason) => return Status::Revoked(reason),
            CertStatus::Undetermined(reason) => {
                undetermined.get_or_insert(reason);
            }
            CertStatus::Good(Some(l))
                if later.as_ref().is_none_or(|b| l.revoked_at < b.revoked_at) =>
            {
                later = Some(l);
            }
            CertStatus::Good(_) => {}
        }
    }
    match undetermined {
        Some(reason) => Status::Undetermined(reason),
        None => Status::Good(later, evidence.into_inner()),
    }
}

/// Whether a CRL answers for the validation time itself or was issued after it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Window {
    Current,
    Later,
}

/// The §6.3.3 state for `chain[i]`.
struct Checker<'c> {
    chain: &'c [(&'c [u8], &'c Certificate)],
    i: usize,
    crls: &'c CrlSet,
    ocsp: &'c OcspSet,
    at: u64,
    signers: &'c dyn Signers,
    evidence: &'c RefCell<Evidence>,
}

/// What the OCSP responses said about one certificate.
enum OcspOutcome {
    /// No usable response about it.
    Silent,
    /// A usable response says good.
    Good,
    /// A usable response says revoked at the validation time.
    Revoked(String),
}

/// What one complete CRL (with its delta) said about the certificate.
enum Answer<'c> {
    /// Not usable for this certificate (a reason when it was meant for it).
    Unusable(Option<String>),
    /// Its signer lies outside the path: validating that path is left until needed.
    Deferred,
    /// Usable: the reasons it covers, and the entry listing the certificate if any.
    Covers(Reasons, Option<Listed<'c>>),
}

/// The entry listing the certificate, and the CRL (complete or delta) that lists it.
struct Listed<'c> {
    crl: &'c Crl,
    revoked_at: u64,
    invalid_since: Option<u64>,
    reason: Option<CrlReason>,
}

impl Listed<'_> {
    /// Revoked since: the lesser of revocationDate and invalidityDate (§5.3.2).
    fn since(&self) -> u64 {
        self.invalid_since
            .map_or(self.revoked_at, |i| i.min(self.revoked_at))
    }
}

impl<'c> Checker<'c> {
    fn cert(&self) -> &Certificate {
        self.chain[self.i].1
    }

    fn describe(&self) -> String {
        let tbs = self.cert().tbs_certificate();
        format!(
            "{} (serial {})",
            tbs.subject(),
            hex::encode(tbs.serial_number().as_bytes())
        )
    }

    fn status(&self) -> CertStatus {
        let tbs = self.cert().tbs_certificate();
        let mut later: Option<RevokedLater> = None;
        // RFC 6960 answers first; a CRL listing the certificate still wins over a `good`.
        let mut why: Vec<String> = Vec::new();
        let by_ocsp = match self.ocsp_status(&mut later, &mut why) {
            OcspOutcome::Revoked(text) => return CertStatus::Revoked(text),
            OcspOutcome::Good => true,
            OcspOutcome::Silent => false,
        };
        let dps: Vec<DistributionPoint> = match tbs.get_extension::<CrlDistributionPoints>() {
            Ok(Some((_, dps))) => dps.0,
            // No cRLDistributionPoints: the CRLs of the certificate's issuer, all reasons.
            Ok(None) => vec![DistributionPoint {
                distribution_point: None,
                reasons: None,
                crl_issuer: None,
            }],
            Err(_) if by_ocsp => return CertStatus::Good(later),
            Err(_) => {
                return CertStatus::Undetermined(format!(
                    "revocation status of {} not determined: its cRLDistributionPoints does not decode",
                    self.describe()
                ));
            }
        };
        let mut mask: Reasons = 0;
        why.extend(
            self.crls
                .undecodable
                .iter()
                .map(|i| format!("CRL #{i} does not decode")),
        );
        for window in [Window::Current, Window::Later] {
            let mut deferred: Vec<(&DistributionPoint, &Crl)> = Vec::new();
            for dp in &dps {
                for crl in self.crls.crls.iter().filter(|c| c.base.is_none()) {
                    match self.answer(dp, crl, window, mask, false) {
                        Answer::Unusable(reason) => why.extend(reason),
                        Answer::Deferred => deferred.push((dp, crl)),
                        Answer::Covers(reasons, listed) => {
                            if let Some(status) = self.listed(listed, &mut later) {
                                return status;
                            }
                            mask |= reasons;
                        }
                    }
                }
            }
            // §6.3.3 (e): a CRL whose signer needs its own path only while reasons are missing,
            // or (issued later) when it lists the certificate.
            for (dp, crl) in deferred {
                let listed_later = window == Window::Later && self.may_list(crl);
                if mask == ALL_REASONS && !listed_later {
                    continue;
                }
                match self.answer(dp, crl, window, mask, true) {
                    Answer::Unusable(reason) => why.extend(reason),
                    Answer::Deferred => {}
                    Answer::Covers(reasons, listed) => {
                        if let Some(status) = self.listed(listed, &mut later) {
                            return status;
                        }
                        mask |= reasons;
                    }
                }
            }
        }
        if mask == ALL_REASONS || by_ocsp {
            return CertStatus::Good(later);
        }
        let mut seen = std::collections::HashSet::new();
        why.retain(|w| seen.insert(w.clone()));
        if mask != 0 {
            why.push("the usable CRLs cover only some revocation reasons (onlySomeReasons)".into());
        }
        if why.is_empty() {
            // A delta CRL alone says nothing (§5.2.4): name it, it is what the caller supplied.
            let issuers: Vec<&Name> = dps
                .iter()
                .flat_map(|dp| dp.crl_issuer.iter().flatten())
                .filter_map(|g| match g {
                    GeneralName::DirectoryName(n) => Some(n),
                    _ => None,
                })
                .chain(std::iter::once(tbs.issuer()))
                .collect();
            let orphans = self.crls.crls.iter().filter(|c| {
                c.base.is_some() && issuers.iter().any(|i| compare_names(i, &c.issuer))
            });
            why.extend(orphans.map(|c| format!("{} has no complete CRL to apply to", c.name())));
        }
        if why.is_empty() {
            why.push(format!(
                "no CRL from {} and no OCSP response covers it",
                tbs.issuer()
            ));
        }
        CertStatus::Undetermined(format!(
            "revocation status of {} not determined at {}: {}",
            self.describe(),
            rfc3339(self.at),
            why.join("; ")
        ))
    }

    /// RFC 6960 §3.2 for this certificate: every response with a SingleResponse whose CertID
    /// names it, current at the validation time (thisUpdate ≤ time ≤ nextUpdate) or issued after
    /// it (as a CRL issued later: `good` then means not revoked at the time either, EN 319 102-1
    /// §5.2.5), from an authorised responder whose signature verifies. A response not used is
    /// noted in `why` and in the evidence, with the reason.
    fn ocsp_status(&self, later: &mut Option<RevokedLater>, why: &mut Vec<String>) -> OcspOutcome {
        let Some((_, issuer)) = self.chain.get(self.i + 1) else {
            return OcspOutcome::Silent;
        };
        let mut notes = Vec::new();
        let mut good = None;
        for r in &self.ocsp.responses {
            let singles = r.about(self.cert(), issuer);
            if singles.is_empty() {
                continue;
            }
            let signer_key = match self.responder_authorised(r, issuer) {
                Ok(key) => key,
                Err(reason) => {
                    notes.push(format!(
                        "{} about {} not used: {reason}",
                        r.name(),
                        self.describe()
                    ));
                    continue;
                }
            };
            let used = OcspUse {
                index: self.i,
                response: r.index,
                this_update: 0,
                hash: crate::engine::key::SignatureScheme::from_identifier(&r.algorithm)
                    .ok()
                    .and_then(|s| s.hash()),
                key: crate::engine::key::key_params(&signer_key).ok(),
            };
            for s in singles {
                let issued_later = s.this_update > self.at;
                if !issued_later && s.next_update.is_some_and(|n| self.at > n) {
                    notes.push(format!(
                        "{} about {} not used: stale, nextUpdate {} is before the validation \
                         time (RFC 6960 §3.2 (6))",
                        r.name(),
                        self.describe(),
                        s.next_update.map_or_else(String::new, rfc3339)
                    ));
                    continue;
                }
                match s.said {
                    Said::Good => {
                        good.get_or_insert(OcspUse {
                            this_update: s.this_update,
                            ..used.clone()
                        });
                    }
                    Said::Revoked(since, reason) => {
                        let text = format!(
                            "{} is revoked: {} says revoked on {} (reason {reason})",
                            self.describe(),
                            r.name(),
                            rfc3339(since)
                        );
                        if !issued_later || since <= self.at {
                            self.note(notes, why);
                            return OcspOutcome::Revoked(text);
                        }
                        if later.as_ref().is_none_or(|b| since < b.revoked_at) {
                            *later = Some(RevokedLater {
                                index: self.i,
                                revoked_at: since,
                                reason: reason.to_owned(),
                            });
                        }
                        good.get_or_insert(OcspUse {
                            this_update: s.this_update,
                            ..used.clone()
                        });
                    }
                    Said::Unknown => notes.push(format!(
                        "{} says unknown for {}: the responder does not know the certificate \
                         (RFC 6960 §2.2)",
                        r.name(),
                        self.describe()
                    )),
                }
            }
        }
        for (i, e) in &self.ocsp.undecodable {
            notes.push(format!("OCSP response #{i} does not decode: {e}"));
        }
        self.note(notes, why);
        match good {
            Some(used) => {
                self.evidence.borrow_mut().ocsp.push(used);
                OcspOutcome::Good
            }
            None => OcspOutcome::Silent,
        }
    }

    fn note(&self, notes: Vec<String>, why: &mut Vec<String>) {
        let mut evidence = self.evidence.borrow_mut();
        for n in &notes {
            if !evidence.unused.contains(n) {
                evidence.unused.push(n.clone());
            }
        }
        why.extend(notes);
    }

    /// RFC 6960 §4.2.2.2: the response is signed by the CA that issued the certificate, or by a
    /// delegated responder whose certificate that CA issued with extendedKeyUsage
    /// id-kp-OCSPSigning (and digitalSignature when it has a keyUsage), valid at producedAt, and
    /// not revoked then (not checked when it carries id-pkix-ocsp-nocheck, §4.2.2.2.1; otherwise
    /// by the CRLs).
    fn responder_authorised(
        &self,
        r: &Response,
        issuer: &Certificate,
    ) -> Result<SubjectPublicKeyInfoOwned, String> {
        let signed_by = |cert: &Certificate| {
            self.signers
                .verify(
                    &r.tbs,
                    &r.signature,
                    &r.algorithm,
                    cert.tbs_certificate().subject_public_key_info(),
                )
                .is_ok()
        };
        let ca = issuer.tbs_certificate().subject();
        if r.names(issuer) {
            return if signed_by(issuer) {
                Ok(issuer.tbs_certificate().subject_public_key_info().clone())
            } else {
                Err(format!(
                    "its signature does not verify with the key of {ca}, the responder it names"
                ))
            };
        }
        let Some((der, responder)) = r.certs.iter().find(|(_, c)| r.names(c)) else {
            return Err(format!(
                "its responderID names neither {ca} (the certificate's issuer) nor a certificate \
                 the response carries (RFC 6960 §4.2.2.2)"
            ));
        };
        let rtbs = responder.tbs_certificate();
        let who = format!(
            "its responder {} (serial {})",
            rtbs.subject(),
            hex::encode(rtbs.serial_number().as_bytes())
        );
        if !signed_by(responder) {
            return Err(format!(
                "its signature does not verify with the key of {who}"
            ));
        }
        let issued_by_ca = compare_names(rtbs.issuer(), ca)
            && super::epoch::tbs(der).is_some_and(|tbs| {
                self.signers
                    .verify(
                        &tbs,
                        responder.signature(),
                        responder.signature_algorithm(),
                        issuer.tbs_certificate().subject_public_key_info(),
                    )
                    .is_ok()
            });
        if !issued_by_ca {
            return Err(format!(
                "{who} is not a delegated responder of {ca}: its certificate is not issued by \
                 that CA (RFC 6960 §4.2.2.2)"
            ));
        }
        let ocsp_signing = matches!(
            rtbs.get_extension::<ExtendedKeyUsage>(),
            Ok(Some((_, eku))) if eku.0.contains(&crate::engine::oid::ID_KP_OCSP_SIGNING)
        );
        if !ocsp_signing {
            return Err(format!(
                "{who} has no extendedKeyUsage id-kp-OCSPSigning (RFC 6960 §4.2.2.2)"
            ));
        }
        // RFC 5280 §4.2.1.3 / §4.2.1.12: a keyUsage, when present, must also allow the
        // response's signature (digitalSignature), whatever the extendedKeyUsage says.
        match rtbs.get_extension::<KeyUsage>() {
            Ok(Some((_, ku))) if !ku.digital_signature() => {
                return Err(format!(
                    "{who} has id-kp-OCSPSigning but a keyUsage without digitalSignature: its \
                     key may not sign responses (RFC 5280 §4.2.1.3, RFC 6960 §4.2.2.2)"
                ));
            }
            Err(e) => return Err(format!("{who} has a keyUsage that does not decode: {e}")),
            Ok(_) => {}
        }
        let validity = rtbs.validity();
        let (from, to) = (
            validity.not_before.to_unix_duration().as_secs(),
            validity.not_after.to_unix_duration().as_secs(),
        );
        if r.produced_at < from || r.produced_at > to {
            return Err(format!(
                "{who} is not valid at producedAt ({} to {})",
                rfc3339(from),
                rfc3339(to)
            ));
        }
        let nocheck = rtbs
            .extensions()
            .into_iter()
            .flatten()
            .any(|e| e.extn_id == crate::engine::oid::ID_PKIX_OCSP_NOCHECK);
        let key = rtbs.subject_public_key_info().clone();
        if nocheck {
            return Ok(key);
        }
        // Its own status, from the CRLs, at producedAt (OCSP not consulted: no circle).
        let mut chain: Vec<(&[u8], &Certificate)> = vec![(der.as_slice(), responder)];
        chain.extend_from_slice(&self.chain[self.i + 1..]);
        let none = OcspSet::empty();
        let scratch = RefCell::new(Evidence::default());
        let checker = Checker {
            chain: &chain,
            i: 0,
            crls: self.crls,
            ocsp: &none,
            at: r.produced_at,
            signers: self.signers,
            evidence: &scratch,
        };
        match checker.status() {
            CertStatus::Good(_) => Ok(key),
            CertStatus::Revoked(why) => Err(format!("{who}: {why}")),
            CertStatus::Undetermined(why) => Err(format!(
                "{who} has no id-pkix-ocsp-nocheck and its own status is not determined: {why}"
            )),
        }
    }

    /// A listing's verdict: revoked at the validation time, or later (kept in `later`).
    fn listed(
        &self,
        listed: Option<Listed<'_>>,
        later: &mut Option<RevokedLater>,
    ) -> Option<CertStatus> {
        let l = listed?;
        let crl = l.crl;
        let reason = l.reason.map_or("unspecified", reason_name);
        let invalid = l
            .invalid_since
            .map_or_else(String::new, |t| format!(", invalid since {}", rfc3339(t)));
        let text = format!(
            "{} is revoked: {} lists it, revoked on {}{invalid} (reason {reason})",
            self.describe(),
            crl.name(),
            rfc3339(l.revoked_at)
        );
        let since = l.since();
        if crl.this_update <= self.at || since <= self.at {
            return Some(CertStatus::Revoked(text));
        }
        if later.as_ref().is_none_or(|b| since < b.revoked_at) {
            *later = Some(RevokedLater {
                index: self.i,
                revoked_at: since,
                reason: reason.to_owned(),
            });
        }
        None
    }

    /// §6.3.3 (a)–(l) for one distribution point and one complete CRL.
    fn answer(
        &self,
        dp: &DistributionPoint,
        crl: &'c Crl,
        window: Window,
        mask: Reasons,
        deep: bool,
    ) -> Answer<'c> {
        let cert = self.cert();
        let tbs = cert.tbs_certificate();
        // (b)(1): the CRL issuer is the DP's cRLIssuer (then the CRL must be indirect), else the
        // certificate's issuer.
        let indirect = crl.idp.as_ref().is_some_and(|idp| idp.indirect_crl);
        match &dp.crl_issuer {
            Some(names) => {
                if !names.iter().any(|g| directory_is(g, &crl.issuer)) {
                    return Answer::Unusable(None);
                }
                if !indirect {
                    return Answer::Unusable(Some(format!(
                        "{} is the certificate's cRLIssuer but not an indirect CRL (§6.3.3 (b)(1))",
                        crl.name()
                    )));
                }
            }
            None => {
                if !compare_names(&crl.issuer, tbs.issuer()) {
                    return Answer::Unusable(None);
                }
            }
        }
        let unusable = |why: String| Answer::Unusable(Some(format!("{}: {why}", crl.name())));
        // (a): the CRL's time.
        match window {
            Window::Current if crl.this_update > self.at => return Answer::Unusable(None),
            Window::Current if !crl.current_at(self.at) => {
                return unusable(format!(
                    "stale, nextUpdate {} is before the validation time",
                    crl.next_update.map_or_else(String::new, rfc3339)
                ));
            }
            Window::Later if crl.this_update <= self.at => return Answer::Unusable(None),
            _ => {}
        }
        if let Some(why) = &crl.refused {
            return unusable(why.clone());
        }
        // (b)(2): the IDP's scope.
        let dp_issuer = dp
            .crl_issuer
            .iter()
            .flatten()
            .find_map(|g| match g {
                GeneralName::DirectoryName(n) => Some(n),
                _ => None,
            })
            .unwrap_or(tbs.issuer());
        if let Some(idp) = &crl.idp {
            if let Some(idp_name) = &idp.distribution_point {
                let idp_names = full_names(idp_name, &crl.issuer);
                let dp_names = match (&dp.distribution_point, &dp.crl_issuer) {
                    (Some(name), _) => full_names(name, dp_issuer),
                    (None, Some(issuers)) => issuers.clone(),
                    (None, None) => vec![GeneralName::DirectoryName(tbs.issuer().clone())],
                };
                let meets = idp_names
                    .iter()
                    .any(|a| dp_names.iter().any(|b| same_name(a, b)));
                if !meets {
                    return unusable(
                        "its issuingDistributionPoint names none of the certificate's distribution \
                         points (§6.3.3 (b)(2)(i))"
                            .into(),
                    );
                }
            }
            let is_ca =
                matches!(tbs.get_extension::<BasicConstraints>(), Ok(Some((_, bc))) if bc.ca);
            if idp.only_contains_user_certs && is_ca {
                return unusable(
                    "it covers end-entity certificates only (onlyContainsUserCerts)".into(),
                );
            }
            if idp.only_contains_ca_certs && !is_ca {
                return unusable("it covers CA certificates only (onlyContainsCACerts)".into());
            }
            if idp.only_contains_attribute_certs {
                return unusable(
                    "it covers attribute certificates only (onlyContainsAttributeCerts)".into(),
                );
            }
        }
        // (d): interim_reasons_mask.
        let all = |r: Option<x509_cert::ext::pkix::crl::dp::ReasonFlags>| {
            r.map_or(ALL_REASONS, |f| f.bits())
        };
        let interim =
            all(crl.idp.as_ref().and_then(|i| i.only_some_reasons)) & all(dp.reasons) & ALL_REASONS;
        // (e): nothing new, unless it may tell a revocation.
        if interim & !mask == 0 && !self.may_list(crl) {
            return Answer::Unusable(None);
        }
        // (f), (g): the CRL's signer and its signature.
        let signer = match self.signer(crl, deep) {
            Ok(Some(spki)) => spki,
            Ok(None) => return Answer::Deferred,
            Err(why) => return unusable(why),
        };
        // (c), (h): the newest delta CRL for this complete CRL, signed by the same key.
        let delta = self.delta(crl, window, &signer);
        // (i)–(k): the delta's entry first (removeFromCRL undoes the complete CRL's hold).
        let entry = match delta.and_then(|d| d.listing(cert).map(|e| (d, e))) {
            Some((_, e)) if e.reason == Some(CrlReason::RemoveFromCRL) => None,
            Some((d, e)) => Some((d, e)),
            None => crl
                .listing(cert)
                .filter(|e| e.reason != Some(CrlReason::RemoveFromCRL))
                .map(|e| (crl, e)),
        };
        let listed = entry.map(|(c, e)| Listed {
            crl: c,
            revoked_at: e.revoked_at,
            invalid_since: e.invalid_since,
            reason: e.reason,
        });
        // (l).
        Answer::Covers(interim, listed)
    }

    /// Whether `crl` or a delta CRL of its issuer lists the certificate (before any signature).
    fn may_list(&self, crl: &Crl) -> bool {
        let cert = self.cert();
        crl.listing(cert).is_some()
            || self.crls.crls.iter().any(|d| {
                d.base.is_some()
                    && compare_names(&d.issuer, &crl.issuer)
                    && d.listing(cert).is_some()
            })
    }

    /// §6.3.3 (c): delta CRLs of `complete`: same issuer, same IDP, same AKI when both have one,
    /// BaseCRLNumber ≤ the complete CRL's number (§5.2.4), in the same window; the newest whose
    /// signature verifies with the complete CRL's signer (h).
    fn delta(
        &self,
        complete: &Crl,
        window: Window,
        signer: &SubjectPublicKeyInfoOwned,
    ) -> Option<&'c Crl> {
        let number = complete.number.as_deref()?;
        let mut best: Option<&Crl> = None;
        for d in &self.crls.crls {
            let Some(base) = d.base.as_deref() else {
                continue;
            };
            let fits = d.refused.is_none()
                && compare_names(&d.issuer, &complete.issuer)
                && d.idp_der == complete.idp_der
                && (d.aki.is_none() || complete.aki.is_none() || d.aki == complete.aki)
                && number_le(base, number)
                && d.number.as_deref().is_some_and(|n| !number_le(n, number))
                && match window {
                    Window::Current => d.current_at(self.at),
                    Window::Later => d.this_update > self.at,
                };
            let newer = best.is_none_or(|b| {
                b.number
                    .as_deref()
                    .zip(d.number.as_deref())
                    .is_some_and(|(b, n)| !number_le(n, b))
            });
            if fits
                && newer
                && self
                    .signers
                    .verify(&d.tbs, &d.signature, &d.algorithm, signer)
                    .is_ok()
            {
                best = Some(d);
            }
        }
        best
    }

    /// §6.3.3 (f), (g): the key that signed `crl`. A certificate of the path from this one up
    /// named as the CRL issuer (its path is this path's, being checked); else, when `deep`, a
    /// supplied certificate whose own path validates from the same trust anchor. Only a
    /// certificate whose keyUsage, if any, has cRLSign. `Ok(None)`: only an outside signer could
    /// do and `deep` is off.
    fn signer(&self, crl: &Crl, deep: bool) -> Result<Option<SubjectPublicKeyInfoOwned>, String> {
        let may_sign = |cert: &Certificate| match cert.tbs_certificate().get_extension::<KeyUsage>()
        {
            Ok(Some((_, ku))) => ku.crl_sign(),
            Ok(None) => true,
            Err(_) => false,
        };
        let unsupported = Cell::new(false);
        let verifies = |cert: &Certificate| {
            let result = self.signers.verify(
                &crl.tbs,
                &crl.signature,
                &crl.algorithm,
                cert.tbs_certificate().subject_public_key_info(),
            );
            unsupported.set(unsupported.get() || matches!(result, Err(Refused::Unsupported)));
            result.is_ok()
        };
        let describe = |cert: &Certificate| {
            let tbs = cert.tbs_certificate();
            format!(
                "{} (serial {})",
                tbs.subject(),
                hex::encode(tbs.serial_number().as_bytes())
            )
        };
        // The certificate whose key signed the CRL but whose keyUsage lacks cRLSign.
        let mut lacking: Option<String> = None;
        // From this certificate up: a CRL issuer's own certificate may be on the indirect CRL it
        // signs (PKITS 4.14.30).
        for (_, cert) in &self.chain[self.i..] {
            if compare_names(cert.tbs_certificate().subject(), &crl.issuer) && verifies(cert) {
                if may_sign(cert) {
                    return Ok(Some(
                        cert.tbs_certificate().subject_public_key_info().clone(),
                    ));
                }
                lacking.get_or_insert_with(|| describe(cert));
            }
        }
        if !deep {
            return Ok(None);
        }
        let anchor = self.chain.last().map_or(&[][..], |(der, _)| *der);
        let in_path = |der: &[u8]| self.chain.iter().any(|(d, _)| *d == der);
        let mut why = Vec::new();
        for (der, cert) in self.signers.named(&crl.issuer) {
            if in_path(der) || !verifies(&cert) {
                continue;
            }
            if !may_sign(&cert) {
                lacking.get_or_insert_with(|| describe(&cert));
                continue;
            }
            match self.signers.validate(der, anchor) {
                Ok(()) => {
                    return Ok(Some(
                        cert.tbs_certificate().subject_public_key_info().clone(),
                    ));
                }
                Err(reason) => why.push(format!(
                    "the path of its signer {} does not validate: {reason}",
                    describe(&cert)
                )),
            }
        }
        if let Some(cert) = lacking {
            why.push(format!(
                "its signer {cert} lacks cRLSign in keyUsage (§6.3.3 (f))"
            ));
        }
        if why.is_empty() && unsupported.get() {
            why.push(format!(
                "its signature algorithm {} is not supported",
                crl.algorithm.oid
            ));
        }
        if why.is_empty() {
            why.push(
                "its signature does not verify with the key of any supplied certificate of its \
                 issuer"
                    .into(),
            );
        }
        Err(why.join("; "))
    }
}

/// CRLReason names as RFC 5280 §5.3.1 spells them.
pub(crate) fn reason_name(r: CrlReason) -> &'static str {
    match r {
        CrlReason::Unspecified => "unspecified",
        CrlReason::KeyCompromise => "keyCompromise",
        CrlReason::CaCompromise => "cACompromise",
        CrlReason::AffiliationChanged => "affiliationChanged",
        CrlReason::Superseded => "superseded",
        CrlReason::CessationOfOperation => "cessationOfOperation",
        CrlReason::CertificateHold => "certificateHold",
        CrlReason::RemoveFromCRL => "removeFromCRL",
        CrlReason::PrivilegeWithdrawn => "privilegeWithdrawn",
        CrlReason::AaCompromise => "aACompromise",
    }
}
