//! RFC 5280 §6 path validation: candidate paths from our own builder ([`build`]: backtracking
//! over every candidate issuer), each validated by `certval` (DESIGN.md §3: we do not write our
//! own validator) with validity at the validation time, constraints, policies with the four
//! user inputs, and CRLs for every certificate in the path, until one is valid.
//! Every signature certval checks (certificates and CRLs) goes through [`key::verify`],
//! at most once per validation: candidate paths share certificates, and [`Verified`] answers
//! the second time.

use super::build::{self, MAX_INTERMEDIATES, MAX_PARTIAL_PATHS};
use super::epoch;
use super::ocsp::OcspSet;
use super::report::SubIndication;
pub(crate) use super::revocation::RevokedLater;
use super::revocation::{self, CrlSet, Refused, Signers};
pub(crate) use super::revocation::{Evidence, OcspUse};
use crate::engine::key::{self, KeyError};
use certval::{
    CertFile, CertVector, CertificationPath, CertificationPathResults, CertificationPathSettings,
    Error as CvError, ObjectIdentifierSet, PDVCertificate, PDVTrustAnchorChoice,
    PathValidationStatus as Pvs, PkiEnvironment, TaSource, TimeOfInterest,
    calculate_hash_rust_crypto, compare_names, valid_at_time, validate_path_rfc5280,
};
use const_oid::ObjectIdentifier;
use der::Decode;
use der::asn1::BitString;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use std::borrow::Cow;
use std::sync::Arc;
use x509_cert::Certificate;
use x509_cert::name::Name;

/// Work budget of path building, with [`build::MAX_PARTIAL_PATHS`]: a mesh of cross-certified
/// CAs has factorially many paths; these bounds keep a hostile pool to seconds. A pool of more
/// CA certificates than this is refused rather than searched.
pub(crate) const MAX_PATH_POOL: usize = 512;
/// Most candidate paths validated for one target before giving up.
pub(crate) const MAX_CANDIDATE_PATHS: usize = 64;
/// How deep the paths of CRL signers outside the path (RFC 5280 §6.3.3 (f)) may nest: a CRL
/// signer's certificate is checked against CRLs whose signers may need their own path, and so on.
const MAX_CRL_SIGNER_DEPTH: usize = 2;

/// The RFC 5280 §6.1.1 user inputs and what else path validation needs.
pub(crate) struct PathInputs<'a> {
    pub trust_anchors: &'a [Vec<u8>],
    /// Untrusted certificates (the pool and the CMS certificates).
    pub pool: &'a [Untrusted<'a>],
    pub crls: &'a [Vec<u8>],
    /// DER OCSPResponses (RFC 6960), revocation data besides the CRLs.
    pub ocsp: &'a [Vec<u8>],
    pub at: der::DateTime,
    /// Empty means `{anyPolicy}`.
    pub initial_policies: &'a [ObjectIdentifier],
    pub require_explicit_policy: bool,
    pub inhibit_policy_mapping: bool,
    pub inhibit_any_policy: bool,
    /// Largest number of intermediate CA certificates.
    pub max_depth: Option<u8>,
    /// Apply the trust-anchor certificate's own constraints (RFC 5937).
    pub anchor_constraints: bool,
}

/// An untrusted certificate for path building: its DER, and the certificate decoded when the
/// caller has it (the CMS's), so that it is not decoded again.
pub(crate) struct Untrusted<'a> {
    pub der: &'a [u8],
    pub decoded: Option<&'a Certificate>,
}

/// A certificate's DER and the certificate, decoded here or borrowed from the caller.
type Decoded<'a> = (&'a [u8], Cow<'a, Certificate>);

/// A validated path, target first, trust anchor last (DER).
pub(crate) struct ValidPath<'a> {
    pub chain: Vec<Vec<u8>>,
    /// `chain[i]` decoded, where path building had it decoded already (anchor and pool).
    pub decoded: Vec<Option<Cow<'a, Certificate>>>,
    pub revocation_checked: bool,
    /// A certificate of the path that a usable CRL lists as revoked since a time after the
    /// validation time: valid then, but a signature needs a proof of existence before it.
    pub revoked_later: Option<RevokedLater>,
    /// The OCSP answers used, and those not used with why.
    pub evidence: Evidence,
}

/// Why no path validated: the sub-indication, a reason, and the path of the best attempt.
pub(crate) struct PathFailure {
    pub sub: SubIndication,
    pub reason: String,
    pub chain: Vec<Vec<u8>>,
}

/// Most signatures [`Verified`] remembers: a validation over an ordinary pool checks a handful;
/// past this (a large mesh of CAs) later ones are verified again, never assumed.
const MAX_VERIFIED: usize = 1_024;

/// The signatures that verified during one validation, compared in full (signed bytes, signature
/// value, algorithm and key) rather than by a digest: certval's own signature cache keys by a
/// software SHA-256 of all of them, ≈ 3 % of a cold document verification, to save one ECDSA
/// check. Only successes are kept, so a bad signature is checked, and refused, every time.
#[derive(Default)]
struct Verified {
    seen: std::sync::Mutex<Vec<VerifiedSignature>>,
    stand_ins: std::sync::Mutex<StandIns>,
    /// DSA keys of the inputs that inherit their parameters (RFC 5280 §6.1.4(f)), each with its
    /// completed key, which certval does not do ([`super::inherit`]).
    inherited: Vec<(SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoOwned)>,
}

/// The stand-ins of certificates valid since before 1970 in one validation: a signature certval
/// checks over a stand-in's TBSCertificate is checked over the original's.
#[derive(Default)]
struct StandIns {
    made: Vec<epoch::StandIn>,
    /// TBSCertificates of certificates that themselves begin at 1970-01-01T00:00:00Z. One that
    /// is a stand-in's twin, byte for byte, gets no such help: its signature is checked over its
    /// own bytes, and so is the stand-in's (fail closed).
    dated_at_epoch: Vec<Vec<u8>>,
}

impl StandIns {
    /// The bytes a signature over `message` must verify over.
    fn signed_bytes<'m>(&'m self, message: &'m [u8]) -> &'m [u8] {
        if self.dated_at_epoch.iter().any(|t| t == message) {
            return message;
        }
        self.made
            .iter()
            .find(|s| s.tbs == message)
            .map_or(message, |s| s.original_tbs.as_slice())
    }
}

struct VerifiedSignature {
    signature: Vec<u8>,
    message: Vec<u8>,
    algorithm: AlgorithmIdentifierOwned,
    spki: SubjectPublicKeyInfoOwned,
}

impl Verified {
    fn stand_in(&self, stand_in: epoch::StandIn) {
        // A poisoned lock loses the stand-in: its signature is then checked over the stand-in's
        // bytes and fails, never passes.
        if let Ok(mut stand_ins) = self.stand_ins.lock() {
            stand_ins.made.push(stand_in);
        }
    }

    /// `der`, decoded as it is, begins at 1970-01-01T00:00:00Z (see [`StandIns`]).
    fn dated_at_epoch(&self, der: &[u8]) {
        // A poisoned lock maps no stand-in at all (`verify`).
        if let Ok(mut stand_ins) = self.stand_ins.lock() {
            stand_ins.dated_at_epoch.extend(epoch::tbs(der));
        }
    }

    /// certval's message-signature callback, backed by [`key::verify`] for every algorithm hpki verifies.
    fn verify(
        &self,
        message: &[u8],
        signature: &BitString,
        algorithm: &AlgorithmIdentifierOwned,
        spki: &SubjectPublicKeyInfoOwned,
    ) -> certval::Result<()> {
        let bad = CvError::PathValidation(Pvs::SignatureVerificationFailure);
        let Some(signature) = signature.as_bytes() else {
            return Err(bad);
        };
        let spki = if super::inherit::needs_parameters(spki) {
            self.inherited
                .iter()
                .find(|(k, _)| k == spki)
                .map_or(spki, |(_, completed)| completed)
        } else {
            spki
        };
        let stand_ins = self.stand_ins.lock().ok();
        let message = stand_ins
            .as_ref()
            .map_or(message, |s| s.signed_bytes(message));
        // A poisoned lock only loses the memo, never a check.
        let mut seen = self.seen.lock().ok();
        let known = seen.as_ref().is_some_and(|seen| {
            seen.iter().any(|v| {
                v.signature == signature
                    && v.spki == *spki
                    && v.algorithm == *algorithm
                    && v.message == message
            })
        });
        if known {
            return Ok(());
        }
        #[cfg(test)]
        tests::SIGNATURE_CHECKS.with(|n| n.set(n.get() + 1));
        match key::verify(spki, algorithm, message, signature) {
            Ok(()) => {
                if let Some(seen) = seen.as_mut().filter(|s| s.len() < MAX_VERIFIED) {
                    seen.push(VerifiedSignature {
                        signature: signature.to_vec(),
                        message: message.to_vec(),
                        algorithm: algorithm.clone(),
                        spki: spki.clone(),
                    });
                }
                Ok(())
            }
            // "not mine" lets certval say the algorithm is unsupported rather than the signature bad.
            Err(KeyError::Unsupported(_)) => Err(CvError::Unrecognized),
            Err(_) => Err(bad),
        }
    }
}

fn settings(inputs: &PathInputs<'_>) -> CertificationPathSettings {
    let mut cps = CertificationPathSettings::new();
    cps.set_time_of_interest(TimeOfInterest(inputs.at));
    if !inputs.initial_policies.is_empty() {
        let set: ObjectIdentifierSet = inputs.initial_policies.iter().copied().collect();
        cps.set_initial_policy_set_from_oid_set(set);
    }
    cps.set_initial_explicit_policy_indicator(inputs.require_explicit_policy);
    cps.set_initial_policy_mapping_inhibit_indicator(inputs.inhibit_policy_mapping);
    cps.set_initial_inhibit_any_policy_indicator(inputs.inhibit_any_policy);
    if let Some(depth) = inputs.max_depth {
        cps.set_initial_path_length_constraint(depth);
    }
    // Revocation is ours (`revocation.rs`); nothing fetched (DESIGN.md §5 inv. 1).
    cps.set_check_revocation_status(false);
    cps.set_check_crldp_http(false);
    cps.set_check_ocsp_from_aia(false);
    cps.set_retrieve_from_aia_sia_http(false);
    cps
}

fn cert_file(i: usize, bytes: &[u8]) -> CertFile {
    CertFile {
        filename: format!("#{i}"),
        bytes: bytes.to_vec(),
    }
}

/// Builds and validates paths for `target` (DER); the first valid path wins. Any CRL turns on
/// revocation checking of every certificate of the path (RFC 5280 §6.3, `revocation.rs`).
pub(crate) fn validate<'a>(
    target: &[u8],
    inputs: &PathInputs<'a>,
) -> Result<ValidPath<'a>, PathFailure> {
    // Decoded once, and signatures remembered, for this validation and its CRL signers' paths.
    let crls = CrlSet::decode(inputs.crls);
    let ocsp = OcspSet::decode(inputs.ocsp);
    let verified = Arc::new(Verified {
        inherited: inherited_dsa_keys(target, inputs),
        ..Verified::default()
    });
    validate_with(target, inputs, &crls, &ocsp, &verified, 0)
}

/// [`validate`] with the CRLs decoded, the signature memo, and how deep in CRL signers' paths.
fn validate_with<'a>(
    target: &[u8],
    inputs: &PathInputs<'a>,
    crls: &CrlSet,
    ocsp: &OcspSet,
    verified: &Arc<Verified>,
    depth: usize,
) -> Result<ValidPath<'a>, PathFailure> {
    let failure = |sub, reason: String| PathFailure {
        sub,
        reason,
        chain: Vec::new(),
    };
    let cps = settings(inputs);
    let checking = !inputs.crls.is_empty() || !inputs.ocsp.is_empty();
    let mut pe = PkiEnvironment::new();
    pe.add_validate_path_callback(validate_path_rfc5280);
    pe.add_calculate_hash_callback(calculate_hash_rust_crypto);
    // Lives as long as this one validation (nothing outlives the call).
    let checks = Arc::clone(verified);
    pe.add_verify_signature_message_callback(
        move |_: &PkiEnvironment,
              m: &[u8],
              s: &BitString,
              a: &AlgorithmIdentifierOwned,
              k: &SubjectPublicKeyInfoOwned| { checks.verify(m, s, a, k) },
    );

    let mut tas = TaSource::new();
    for (i, ta) in inputs.trust_anchors.iter().enumerate() {
        tas.push(cert_file(i, ta));
    }
    if let Err(e) = tas.initialize() {
        return Err(failure(
            SubIndication::NoCertificateChainFound,
            format!("trust anchors unusable: {e:?}"),
        ));
    }
    pe.add_trust_anchor_source(Box::new(tas));

    let mut candidates = match pool_certificates(inputs.pool) {
        Ok(c) => c,
        Err(reason) => {
            return Err(failure(
                SubIndication::CertificateChainGeneralFailure,
                reason,
            ));
        }
    };
    let mut anchors: Vec<Decoded<'a>> = inputs
        .trust_anchors
        .iter()
        .filter_map(|a| Some((a.as_slice(), Cow::Owned(Certificate::from_der(a).ok()?))))
        .collect();

    let target_der = target;
    let target = match certificate(target, verified) {
        Ok(t) => t,
        Err(e) => {
            return Err(failure(
                SubIndication::FormatFailure,
                format!("certificate does not decode: {e:?}"),
            ));
        }
    };
    // As certval's builder did: a target outside its validity is EXPIRED / NOT_YET_VALID even
    // when no path leads to it.
    if let Err(e) = valid_at_time(
        target.decoded().tbs_certificate(),
        cps.get_time_of_interest(),
        true,
    ) {
        let (sub, reason) = classify(&e);
        return Err(failure(sub, reason));
    }
    // The target decoded for revocation checking (certval's copy is of another profile type).
    let target_cert = if checking {
        match epoch::decode(target_der) {
            Ok(c) => Some(c),
            Err(e) => {
                return Err(failure(
                    SubIndication::FormatFailure,
                    format!("certificate does not decode: {e}"),
                ));
            }
        }
    } else {
        None
    };
    let signers = PathSigners {
        inputs,
        crls,
        ocsp,
        verified,
        depth,
    };
    let at = inputs.at.unix_duration().as_secs();
    let mut paths = build::Paths::new(
        build::Facts::of(target.decoded()),
        anchors
            .iter()
            .map(|(_, c)| build::Facts::of(c.as_ref()))
            .collect(),
        candidates
            .iter()
            .map(|(_, c)| build::Facts::of(c.as_ref()))
            .collect(),
        inputs.at,
    );
    let mut best: Option<PathFailure> = None;
    for (tried, next) in paths.by_ref().enumerate() {
        let Ok(candidate) = next else {
            return Err(over_budget(
                format!(
                    "path building work budget: more than {MAX_PARTIAL_PATHS} partial paths \
                     (a mesh of cross-certified CAs?)"
                ),
                best,
            ));
        };
        if tried == MAX_CANDIDATE_PATHS {
            return Err(over_budget(
                format!(
                    "path building work budget: stopped after {MAX_CANDIDATE_PATHS} candidate \
                     paths"
                ),
                best,
            ));
        }
        let (anchor_der, _) = anchors[candidate.anchor];
        let chain: Vec<Vec<u8>> = std::iter::once(target_der)
            .chain(
                candidate
                    .intermediates
                    .iter()
                    .rev()
                    .map(|&i| candidates[i].0),
            )
            .chain(std::iter::once(anchor_der))
            .map(<[u8]>::to_vec)
            .collect();
        let path =
            match certification_path(&pe, &target, &candidate, anchor_der, &candidates, verified) {
                Ok(path) => path,
                Err(reason) => {
                    keep_most_telling(
                        &mut best,
                        PathFailure {
                            sub: SubIndication::NoCertificateChainFound,
                            reason,
                            chain,
                        },
                    );
                    continue;
                }
            };
        let path = &path;
        // Step 2: RFC 5280 §4 profile of every certificate, the anchor's constraints (RFC 5937).
        let step2 = match super::conformance::candidate(path, &cps, inputs.anchor_constraints) {
            Ok(c) => c,
            Err(reason) => {
                if best
                    .as_ref()
                    .is_none_or(|b| b.sub == SubIndication::NoCertificateChainFound)
                {
                    best = Some(PathFailure {
                        sub: SubIndication::ChainConstraintsFailure,
                        reason,
                        chain,
                    });
                }
                continue;
            }
        };
        let mut cpr = CertificationPathResults::new();
        let mut result = pe
            .validate_path(&pe, &step2.settings, path, &mut cpr)
            .map_err(|e| match e {
                CvError::PathValidation(Pvs::SignatureVerificationFailure) => {
                    bad_signature(&chain, verified)
                }
                e => classify(&e),
            });
        let mut revoked_later = None;
        let mut evidence = Evidence::default();
        if let (Ok(()), Some(target_cert)) = (&result, &target_cert) {
            let decoded: Vec<(&[u8], Cow<'_, Certificate>)> = chain
                .iter()
                .enumerate()
                .filter_map(|(i, der)| {
                    let known = candidates.iter().chain(&anchors).find(|(d, _)| *d == der);
                    let cert = match known {
                        _ if i == 0 => Cow::Borrowed(target_cert),
                        Some((_, c)) => Cow::Borrowed(c.as_ref()),
                        None => Cow::Owned(Certificate::from_der(der).ok()?),
                    };
                    Some((der.as_slice(), cert))
                })
                .collect();
            let refs: Vec<(&[u8], &Certificate)> =
                decoded.iter().map(|(d, c)| (*d, c.as_ref())).collect();
            result = match revocation::check(&refs, crls, ocsp, at, &signers) {
                revocation::Status::Good(later, found) => {
                    revoked_later = later;
                    evidence = found;
                    Ok(())
                }
                revocation::Status::Revoked(reason) => Err((SubIndication::Revoked, reason)),
                revocation::Status::Undetermined(reason) => Err((SubIndication::TryLater, reason)),
            };
        }
        match result {
            Ok(()) => {
                // Moved, not decoded again, for the report's chain.
                let mut take = |der: &Vec<u8>| {
                    if let Some(i) = candidates.iter().position(|(d, _)| *d == der.as_slice()) {
                        return Some(candidates.swap_remove(i).1);
                    }
                    let i = anchors.iter().position(|(d, _)| *d == der.as_slice())?;
                    Some(anchors.swap_remove(i).1)
                };
                let decoded = chain.iter().map(&mut take).collect();
                return Ok(ValidPath {
                    chain,
                    decoded,
                    revocation_checked: checking,
                    revoked_later,
                    evidence,
                });
            }
            Err((sub, mut reason)) => {
                if sub == SubIndication::ChainConstraintsFailure
                    && !step2.anchor_constraints.is_empty()
                {
                    reason = format!(
                        "{reason}; the trust anchor's own {} applied (RFC 5937 anchor \
                         constraints are enforced)",
                        step2.anchor_constraints.join(", ")
                    );
                }
                keep_most_telling(&mut best, PathFailure { sub, reason, chain });
            }
        }
    }
    Err(best.unwrap_or_else(|| {
        let within = if paths.too_deep() {
            format!(" within {MAX_INTERMEDIATES} intermediate CA certificates")
        } else {
            String::new()
        };
        failure(
            SubIndication::NoCertificateChainFound,
            format!("no path from the trust anchors through the pool to the certificate{within}"),
        )
    }))
}

/// The DSA keys among the anchors, the pool and the target that inherit their parameters, each
/// completed from its issuer ([`super::inherit`]). Inputs without a DSA key are only scanned.
fn inherited_dsa_keys(
    target: &[u8],
    inputs: &PathInputs<'_>,
) -> Vec<(SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoOwned)> {
    use super::inherit;
    let ders = || {
        inputs
            .trust_anchors
            .iter()
            .map(Vec::as_slice)
            .chain(inputs.pool.iter().map(|u| u.der))
            .chain(std::iter::once(target))
    };
    if !ders().any(inherit::may_hold_dsa) {
        return Vec::new();
    }
    let certs: Vec<Certificate> = ders()
        .filter(|d| inherit::may_hold_dsa(d))
        .filter_map(|d| Certificate::from_der(d).ok())
        .collect();
    let issuers: Vec<&Certificate> = certs.iter().collect();
    certs
        .iter()
        .filter(|c| inherit::needs_parameters(c.tbs_certificate().subject_public_key_info()))
        .filter_map(|c| {
            let completed = inherit::completed_key(c, &issuers)?;
            Some((
                c.tbs_certificate().subject_public_key_info().clone(),
                completed,
            ))
        })
        .collect()
}

/// Keeps the most telling failure: a definite one (revoked, expired) over "no chain".
fn keep_most_telling(best: &mut Option<PathFailure>, failure: PathFailure) {
    let better = best.as_ref().is_none_or(|b| {
        b.sub == SubIndication::NoCertificateChainFound
            && failure.sub != SubIndication::NoCertificateChainFound
    });
    if better {
        *best = Some(failure);
    }
}

/// Past a work budget: INDETERMINATE / CERTIFICATE_CHAIN_GENERAL_FAILURE, as no path could be
/// shown valid or all shown invalid; the best failure so far is named.
fn over_budget(reason: String, best: Option<PathFailure>) -> PathFailure {
    match best {
        Some(b) => PathFailure {
            sub: SubIndication::CertificateChainGeneralFailure,
            reason: format!("{reason}; the paths tried failed: {}", b.reason),
            chain: b.chain,
        },
        None => PathFailure {
            sub: SubIndication::CertificateChainGeneralFailure,
            reason,
            chain: Vec::new(),
        },
    }
}

/// certval's certificate for `der`; one valid since before 1970 as its stand-in
/// ([`epoch::StandIn`]), whose signature `verified` then checks over the original bytes.
fn certificate(der: &[u8], verified: &Verified) -> der::Result<PDVCertificate> {
    match PDVCertificate::try_from(der) {
        Ok(cert) => {
            let validity = cert.decoded().tbs_certificate().validity();
            if validity.not_before.to_unix_duration().is_zero() {
                verified.dated_at_epoch(der);
            }
            Ok(cert)
        }
        Err(e) => {
            let stand_in = epoch::StandIn::of(der).ok_or(e)?;
            let cert = PDVCertificate::try_from(stand_in.der.as_slice())?;
            verified.stand_in(stand_in);
            Ok(cert)
        }
    }
}

/// The candidate as certval's path; the anchor as the trust anchor source has it decoded.
fn certification_path(
    pe: &PkiEnvironment,
    target: &PDVCertificate,
    candidate: &build::Candidate,
    anchor: &[u8],
    pool: &[Decoded<'_>],
    verified: &Verified,
) -> Result<CertificationPath, String> {
    let anchor = match pe
        .get_trust_anchors()
        .into_iter()
        .find(|a| a.as_bytes() == anchor)
    {
        Some(known) => known.clone(),
        None => PDVTrustAnchorChoice::try_from(anchor)
            .map_err(|e| format!("trust anchor unusable: {e}"))?,
    };
    let intermediates = candidate
        .intermediates
        .iter()
        .map(|&i| certificate(pool[i].0, verified))
        .collect::<der::Result<Vec<_>>>()
        .map_err(|e| format!("certificate does not decode: {e}"))?;
    Ok(CertificationPath::new(
        anchor,
        intermediates,
        target.clone(),
    ))
}

/// The pool certificates, parsed; undecodable ones are skipped (certval would skip them) and
/// duplicates go. End-entity certificates stay: path building tries them last, so that a path
/// whose only issuer is not a CA is refused for that (RFC 5280 §6.1.4 (k), PKITS 4.6.1–4.6.3)
/// rather than not found. CA certificates count against [`MAX_PATH_POOL`].
fn pool_certificates<'a>(pool: &[Untrusted<'a>]) -> Result<Vec<Decoded<'a>>, String> {
    let mut out: Vec<Decoded<'a>> = Vec::new();
    let mut cas = 0;
    for &Untrusted { der, decoded } in pool {
        if out.iter().any(|(d, _)| *d == der) {
            continue;
        }
        let cert = match decoded {
            Some(cert) => Cow::Borrowed(cert),
            None => match epoch::decode(der) {
                Ok(cert) => Cow::Owned(cert),
                Err(_) => continue,
            },
        };
        if build::is_ca(&cert) {
            cas += 1;
            if cas > MAX_PATH_POOL {
                return Err(format!(
                    "path building work budget: more than {MAX_PATH_POOL} CA certificates in the \
                     pool"
                ));
            }
        }
        out.push((der, cert));
    }
    Ok(out)
}

/// Revocation checking's access to signatures and to the paths of CRL signers outside the path.
struct PathSigners<'s, 'a> {
    inputs: &'s PathInputs<'a>,
    crls: &'s CrlSet,
    ocsp: &'s OcspSet,
    verified: &'s Arc<Verified>,
    depth: usize,
}

impl Signers for PathSigners<'_, '_> {
    fn verify(
        &self,
        message: &[u8],
        signature: &BitString,
        algorithm: &AlgorithmIdentifierOwned,
        spki: &SubjectPublicKeyInfoOwned,
    ) -> Result<(), Refused> {
        match self.verified.verify(message, signature, algorithm, spki) {
            Ok(()) => Ok(()),
            Err(CvError::Unrecognized) => Err(Refused::Unsupported),
            Err(_) => Err(Refused::Bad),
        }
    }

    fn named<'s>(&'s self, subject: &Name) -> Vec<(&'s [u8], Cow<'s, Certificate>)> {
        let pool = self.inputs.pool.iter().map(|u| (u.der, u.decoded));
        let anchors = self
            .inputs
            .trust_anchors
            .iter()
            .map(|a| (a.as_slice(), None));
        pool.chain(anchors)
            .filter_map(|(der, decoded)| {
                let cert = match decoded {
                    Some(c) => Cow::Borrowed(c),
                    None => Cow::Owned(Certificate::from_der(der).ok()?),
                };
                compare_names(cert.tbs_certificate().subject(), subject).then_some((der, cert))
            })
            .collect()
    }

    fn validate(&self, cert: &[u8], anchor: &[u8]) -> Result<(), String> {
        if self.depth >= MAX_CRL_SIGNER_DEPTH {
            return Err(format!(
                "CRL signers' paths nest deeper than {MAX_CRL_SIGNER_DEPTH}"
            ));
        }
        // §6.3.3 (f): from the trust anchor of the path being checked.
        let anchors = [anchor.to_vec()];
        let inputs = PathInputs {
            trust_anchors: &anchors,
            ..*self.inputs
        };
        validate_with(
            cert,
            &inputs,
            self.crls,
            self.ocsp,
            self.verified,
            self.depth + 1,
        )
        .map(|_| ())
        .map_err(|f| f.reason)
    }
}

/// Which certificate of `chain` (target first) has the signature that does not verify, in EN
/// 319 102-1 terms. An issuer named like the real one but with another key (its SKI is not the
/// certificate's AKI) means the real issuer was not supplied: no chain. A signature that does not
/// verify under the key of the issuer it names by key identifier too is a broken chain; a
/// self-signed certificate named like the issuer is another CA altogether: no chain.
fn bad_signature(chain: &[Vec<u8>], verified: &Verified) -> (SubIndication, String) {
    let general = |reason: String| (SubIndication::CertificateChainGeneralFailure, reason);
    for pair in chain.windows(2) {
        let (Ok(cert), Ok(issuer)) = (epoch::decode(&pair[0]), epoch::decode(&pair[1])) else {
            continue;
        };
        let Some(tbs) = epoch::tbs(&pair[0]) else {
            continue;
        };
        let key = issuer.tbs_certificate().subject_public_key_info();
        if verified
            .verify(&tbs, cert.signature(), cert.signature_algorithm(), key)
            .is_ok()
        {
            continue;
        }
        let (subject, by) = (
            cert.tbs_certificate().subject(),
            issuer.tbs_certificate().subject(),
        );
        let own_key = cert.tbs_certificate().subject_public_key_info();
        if verified
            .verify(&tbs, cert.signature(), cert.signature_algorithm(), own_key)
            .is_ok()
        {
            return (
                SubIndication::NoCertificateChainFound,
                format!("{subject} is self-signed: another CA than {by}, whose name it shares"),
            );
        }
        let facts = (build::Facts::of(&cert), build::Facts::of(&issuer));
        return match (facts.0.authority_key_id(), facts.1.key_id()) {
            (Some(wanted), Some(held)) if wanted != held => (
                SubIndication::NoCertificateChainFound,
                format!(
                    "the issuer of {subject} (key identifier {}) was not supplied: {by} has \
                     another key ({}) (RFC 5280 §4.2.1.1)",
                    hex::encode(wanted),
                    hex::encode(held)
                ),
            ),
            _ => general(format!(
                "the signature of {subject} does not verify with the key of its issuer {by}"
            )),
        };
    }
    general(describe(Pvs::SignatureVerificationFailure))
}

/// certval's verdicts in ETSI EN 319 102-1 terms.
fn classify(e: &CvError) -> (SubIndication, String) {
    use SubIndication as S;
    let CvError::PathValidation(status) = e else {
        return (
            S::NoCertificateChainFound,
            format!("path validation: {e:?}"),
        );
    };
    let sub = match status {
        Pvs::InvalidNotAfterDate => S::Expired,
        Pvs::InvalidNotBeforeDate => S::NotYetValid,
        Pvs::CertificateRevoked
        | Pvs::CertificateRevokedEndEntity
        | Pvs::CertificateRevokedIntermediateCa
        | Pvs::CertificateOnHold
        | Pvs::CertificateBlocklisted => S::Revoked,
        Pvs::RevocationStatusNotDetermined => S::TryLater,
        Pvs::StatusCheckReliedOnStaleCrl => S::RevocationOutOfBounds,
        Pvs::NoPathsFound
        | Pvs::MissingTrustAnchor
        | Pvs::MissingTrustAnchorName
        | Pvs::NameChainingFailure => S::NoCertificateChainFound,
        Pvs::SignatureVerificationFailure => S::CertificateChainGeneralFailure,
        Pvs::EncodingError | Pvs::MissingCertificate => S::FormatFailure,
        _ => S::ChainConstraintsFailure,
    };
    (sub, describe(*status))
}

fn describe(status: Pvs) -> String {
    let text = match status {
        Pvs::InvalidNotAfterDate => "a certificate in the path has expired at the validation time",
        Pvs::InvalidNotBeforeDate => {
            "a certificate in the path is not yet valid at the validation time"
        }
        Pvs::CertificateRevokedEndEntity => "the certificate is revoked",
        Pvs::CertificateRevokedIntermediateCa => "an intermediate CA certificate is revoked",
        Pvs::CertificateRevoked => "a certificate in the path is revoked",
        Pvs::RevocationStatusNotDetermined => {
            "revocation status not determined: no valid CRL covers a certificate of the path at the validation time"
        }
        Pvs::StatusCheckReliedOnStaleCrl => "only a stale CRL covers a certificate of the path",
        Pvs::NoPathsFound => "no path from a trust anchor to the certificate",
        Pvs::SignatureVerificationFailure => "a certificate signature in the path does not verify",
        Pvs::NullPolicySet => {
            "no acceptable certificate policy (RFC 5280 §6.1.3/6.1.5 policy processing)"
        }
        Pvs::InvalidKeyUsage => "a CA certificate lacks keyCertSign/cRLSign",
        Pvs::InvalidBasicConstraints | Pvs::MissingBasicConstraints => {
            "an intermediate certificate is not a CA (basicConstraints)"
        }
        Pvs::InvalidPathLength => {
            "path longer than a pathLenConstraint or the policy's maximum depth allows"
        }
        Pvs::NameConstraintsViolation => "name constraints violated",
        Pvs::UnprocessedCriticalExtension => "unrecognised critical extension",
        _ => "",
    };
    if text.is_empty() {
        format!("path validation: {status:?}")
    } else {
        format!("{text} ({status:?})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::Encode;
    use std::cell::Cell;
    use std::path::Path;

    thread_local! {
        /// Signatures [`Verified::verify`] checked with ring on this thread.
        pub(super) static SIGNATURE_CHECKS: Cell<usize> = const { Cell::new(0) };
    }

    fn vector(name: &str) -> Vec<u8> {
        std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../test-vectors")
                .join(name),
        )
        .unwrap()
    }

    /// The pki vectors' chain (root → sign CA → rhp-sign signer) with the CRLs of all three CAs:
    /// the sub-CA's signature is needed by path building and by path validation, yet checked
    /// once; every other signature (signer certificate, the root's and the sign CA's CRLs) once.
    #[test]
    fn each_signature_of_a_path_is_checked_once() {
        let cms =
            super::super::SignedDocument::parse(&vector("cms/valid-detached-p256.p7s")).unwrap();
        let carried = cms.certificates();
        let decoded: Vec<Certificate> = carried
            .iter()
            .map(|der| Certificate::from_der(der).unwrap())
            .collect();
        let target = carried
            .iter()
            .zip(&decoded)
            .find(|(_, cert)| !build::is_ca(cert))
            .unwrap()
            .0
            .clone();
        // Handed decoded, as the CMS's certificates are (the signer's left out, as
        // `cache::PathVerdict::validate` does): path building borrows them.
        let pool: Vec<Untrusted<'_>> = carried
            .iter()
            .zip(&decoded)
            .filter(|(der, _)| **der != target)
            .map(|(der, cert)| Untrusted {
                der,
                decoded: Some(cert),
            })
            .collect();
        let anchors = super::super::decode_certificates(&vector("pki/ca/root.pem")).unwrap();
        let crls: Vec<Vec<u8>> = ["root", "sign", "auth"]
            .iter()
            .map(|c| vector(&format!("pki/crl/{c}.crl")))
            .collect();
        let inputs = PathInputs {
            trust_anchors: &anchors,
            pool: &pool,
            crls: &crls,
            ocsp: &[],
            // 2026-01-01T03:00:00Z, the vectors' validation time.
            at: der::DateTime::new(2026, 1, 1, 3, 0, 0).unwrap(),
            initial_policies: &[],
            require_explicit_policy: false,
            inhibit_policy_mapping: false,
            inhibit_any_policy: false,
            max_depth: None,
            anchor_constraints: true,
        };
        SIGNATURE_CHECKS.with(|n| n.set(0));
        let valid = validate(&target, &inputs).unwrap_or_else(|f| panic!("{}", f.reason));
        assert_eq!(valid.chain.len(), 3);
        // The sub-CA (borrowed) and the anchor come decoded from path building, each the one in
        // the chain.
        assert!(valid.decoded[0].is_none());
        assert!(matches!(valid.decoded[1], Some(Cow::Borrowed(_))));
        for (der, cert) in valid.chain.iter().zip(&valid.decoded).skip(1) {
            assert_eq!(&cert.as_ref().unwrap().to_der().unwrap(), der);
        }
        assert!(valid.revocation_checked);
        assert_eq!(SIGNATURE_CHECKS.with(Cell::get), 4);
    }

    /// The memo answers only for the very signature that verified: the same signed bytes with
    /// another signature value or under another key are checked again, and refused.
    #[test]
    fn a_remembered_signature_vouches_for_itself_only() {
        let cert = |name: &str| {
            let der = super::super::decode_certificates(&vector(name)).unwrap();
            Certificate::from_der(&der[0]).unwrap()
        };
        let (root, sign) = (cert("pki/ca/root.pem"), cert("pki/ca/sign.pem"));
        let tbs = sign.tbs_certificate().to_der().unwrap();
        let alg = sign.signature_algorithm();
        let root_key = root.tbs_certificate().subject_public_key_info();
        let good = sign.signature();
        let mut forged = good.raw_bytes().to_vec();
        let last = forged.len() - 1;
        forged[last] ^= 1;
        let forged = BitString::from_bytes(&forged).unwrap();
        let checks = || SIGNATURE_CHECKS.with(Cell::get);
        SIGNATURE_CHECKS.with(|n| n.set(0));

        let verified = Verified::default();
        assert!(verified.verify(&tbs, good, alg, root_key).is_ok());
        assert!(verified.verify(&tbs, good, alg, root_key).is_ok());
        assert_eq!(checks(), 1, "the second time is answered by the memo");
        for _ in 0..2 {
            assert!(verified.verify(&tbs, &forged, alg, root_key).is_err());
        }
        let own_key = sign.tbs_certificate().subject_public_key_info();
        assert!(verified.verify(&tbs, good, alg, own_key).is_err());
        assert_eq!(checks(), 4, "each forgery was checked with ring");
    }

    /// A signature over a stand-in's TBSCertificate is checked over the original's (PKITS
    /// 4.2.3's end entity, notBefore 1950, issued by Good CA); once a certificate that is the
    /// stand-in byte for byte appears, neither is helped: the signature is refused.
    #[test]
    fn a_stand_in_is_checked_over_the_original_and_never_its_twin() {
        let pkits = |name: &str| vector(&format!("pkits/certs/{name}"));
        let ee = pkits("Validpre2000UTCnotBeforeDateTest3EE.crt");
        let ca = Certificate::from_der(&pkits("GoodCACert.crt")).unwrap();
        let key = ca.tbs_certificate().subject_public_key_info();
        let stand_in = epoch::StandIn::of(&ee).unwrap();
        let twin = stand_in.der.clone();
        let decoded = Certificate::from_der(&twin).unwrap();
        let (signature, alg) = (decoded.signature(), decoded.signature_algorithm());
        let tbs = stand_in.tbs.clone();

        let verified = Verified::default();
        assert!(verified.verify(&tbs, signature, alg, key).is_err());
        verified.stand_in(stand_in);
        assert!(verified.verify(&tbs, signature, alg, key).is_ok());

        let twin = certificate(&twin, &verified).unwrap();
        assert_eq!(
            twin.decoded()
                .tbs_certificate()
                .validity()
                .not_before
                .to_unix_duration(),
            std::time::Duration::ZERO
        );
        assert!(verified.verify(&tbs, signature, alg, key).is_err());
    }
}
