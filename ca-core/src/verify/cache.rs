//! Batch verification (issue 5): a [`Verifier`] holds one [`Policy`] and remembers the outcome of
//! path validation per signer certificate, so that many documents from one signer pay for
//! certval's path building, certificate and CRL signatures and CRL parsing once.
//!
//! Why caching is sound: under a fixed policy (anchors, pool, CRLs, validation time, RFC 5280
//! inputs) the outcome of [`path::validate`] depends only on the signer certificate and the
//! certificates the CMS carries. The key is exactly those DER encodings, compared byte for byte,
//! so a different certificate (or a different CMS pool) never meets another's entry, and failures
//! (revoked, expired, no chain) are remembered as faithfully as successes.

use super::names::NameTexts;
use super::path;
use super::report::{CertSummary, SignatureReport, SubIndication};
use super::{Carried, MAX_CERTIFICATES, Policy, date_time, rfc3339, summary_with};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use x509_cert::Certificate;

/// Most remembered paths by default; past it the least recently used goes (bounded memory for
/// any batch).
pub(crate) const MAX_CACHED_PATHS: usize = 4_096;

/// What path validation concluded for one signer certificate, ready to go into a report.
#[derive(Debug)]
pub(crate) enum PathVerdict {
    NoTrustAnchor,
    Valid {
        chain: Vec<CertSummary>,
        revocation_checked: bool,
        revoked_later: Option<path::RevokedLater>,
        evidence: path::Evidence,
        life: PathLife,
    },
    Failed {
        chain: Vec<CertSummary>,
        sub: SubIndication,
        reason: String,
    },
}

impl PathVerdict {
    /// Validates the path of `cert_der` with the policy's pool plus the CMS certificates.
    /// `signer`: `cert_der` decoded and the report's summary of it, reused for the chain's first
    /// entry.
    pub(crate) fn validate(
        cert_der: &[u8],
        cms_certs: &[Carried],
        policy: &Policy,
        signer: Option<(&Certificate, &CertSummary)>,
    ) -> Self {
        if policy.trust_anchors.is_empty() {
            return Self::NoTrustAnchor;
        }
        // A trust anchor in the pool only makes certval build and verify partial paths up to
        // itself a second time: paths end at an anchor.
        let is_anchor = |c: &[u8]| policy.trust_anchors.iter().any(|a| a == c);
        let mut pool: Vec<path::Untrusted<'_>> = policy
            .cert_pool
            .iter()
            .filter(|c| !is_anchor(c))
            .map(|der| path::Untrusted { der, decoded: None })
            .collect();
        pool.extend(
            cms_certs
                .iter()
                .filter(|c| c.der != cert_der && !is_anchor(&c.der))
                .map(|c| path::Untrusted {
                    der: &c.der,
                    decoded: Some(&c.cert),
                }),
        );
        pool.truncate(MAX_CERTIFICATES);
        let inputs = path::PathInputs {
            trust_anchors: &policy.trust_anchors,
            pool: &pool,
            crls: &policy.crls,
            ocsp: &policy.ocsp_responses,
            at: date_time(policy.validation_time),
            initial_policies: &policy.initial_policies,
            require_explicit_policy: policy.require_explicit_policy,
            inhibit_policy_mapping: policy.inhibit_policy_mapping,
            inhibit_any_policy: policy.inhibit_any_policy,
            max_depth: policy.max_depth,
            anchor_constraints: policy.anchor_constraints,
        };
        match path::validate(cert_der, &inputs) {
            Ok(valid) => match path_algorithms(&valid, signer.map(|(c, _)| c), policy) {
                Ok(life) => Self::Valid {
                    chain: summaries(&valid.chain, &valid.decoded, cert_der, signer),
                    revocation_checked: valid.revocation_checked,
                    revoked_later: valid.revoked_later,
                    evidence: valid.evidence,
                    life,
                },
                Err(reason) => Self::Failed {
                    chain: summaries(&valid.chain, &valid.decoded, cert_der, signer),
                    sub: SubIndication::CryptoConstraintsFailureNoPoe,
                    reason,
                },
            },
            Err(f) => Self::Failed {
                chain: summaries(&f.chain, &[], cert_der, signer),
                sub: f.sub,
                reason: f.reason,
            },
        }
    }

    /// The certificate-path and revocation checks of the report.
    pub(crate) fn report(&self, r: &mut SignatureReport, validation_time: u64) {
        match self {
            Self::NoTrustAnchor => r.fail(
                "certificate-path",
                SubIndication::NoCertificateChainFound,
                "no trust anchor supplied",
            ),
            Self::Valid {
                chain,
                revocation_checked,
                revoked_later,
                evidence,
                ..
            } => {
                r.chain = chain.clone();
                r.pass(
                    "certificate-path",
                    format!(
                        "valid path of {} certificates at {}",
                        chain.len(),
                        rfc3339(validation_time)
                    ),
                );
                if let Some((later, who)) = revoked_later.as_ref().zip(self.revoked_later_subject())
                {
                    r.warn(
                        "revocation",
                        format!(
                            "{who} is listed as revoked since {} ({}) on a CRL issued after the \
                             validation time",
                            rfc3339(later.revoked_at),
                            later.reason
                        ),
                    );
                } else if *revocation_checked {
                    r.pass(
                        "revocation",
                        if evidence.ocsp.is_empty() {
                            "no certificate of the path is revoked (CRLs supplied)"
                        } else {
                            "no certificate of the path is revoked (CRLs and OCSP responses)"
                        },
                    );
                } else {
                    r.skip("revocation", "no CRL supplied: revocation not checked");
                }
                for note in &evidence.unused {
                    r.warn("revocation-data", note.clone());
                }
            }
            Self::Failed { chain, sub, reason } => {
                r.chain = chain.clone();
                let name = match sub {
                    SubIndication::Revoked
                    | SubIndication::TryLater
                    | SubIndication::RevocationOutOfBounds => "revocation",
                    _ => "certificate-path",
                };
                r.fail(name, *sub, reason.clone());
            }
        }
    }
}

impl PathVerdict {
    /// The OCSP answers that spoke for the valid path.
    pub(crate) fn ocsp_used(&self) -> &[path::OcspUse] {
        match self {
            Self::Valid { evidence, .. } => &evidence.ocsp,
            _ => &[],
        }
    }

    /// When the valid path's CA certificates and signatures stop being acceptable.
    pub(crate) fn life(&self) -> Option<&PathLife> {
        match self {
            Self::Valid { life, .. } => Some(life),
            _ => None,
        }
    }

    /// A certificate of the valid path revoked after the validation time, and its subject.
    pub(crate) fn revoked_later(&self) -> Option<(&path::RevokedLater, &str)> {
        match self {
            Self::Valid {
                revoked_later: Some(later),
                ..
            } => Some((later, self.revoked_later_subject()?)),
            _ => None,
        }
    }

    fn revoked_later_subject(&self) -> Option<&str> {
        match self {
            Self::Valid {
                chain,
                revoked_later: Some(later),
                ..
            } => Some(
                chain
                    .get(later.index)
                    .map_or("a certificate of the path", |c| c.subject.as_str()),
            ),
            _ => None,
        }
    }
}

/// The first moment an element of a valid path stops being acceptable after its validation
/// time, which a proof of existence made with it must precede or be renewed by (EN 319 102-1
/// §5.6.2.3): the earliest notAfter of its CA certificates (the target's own is the caller's;
/// the trust anchor is no certificate of the path, RFC 5280 §6.1.1 (d)), and the earliest
/// catalogue sunset of the signatures on its certificates.
#[derive(Debug, Clone, Default)]
pub(crate) struct PathLife {
    /// notAfter (Unix seconds) and the CA certificate's subject.
    pub expiry: Option<(u64, String)>,
    /// The sunset (Unix seconds), what it refuses, and the subject of the certificate signed so.
    pub sunset: Option<(u64, super::Refusal, String)>,
}

/// The algorithm catalogue over the signatures of a validated path: each certificate's signature
/// algorithm with its issuer's key (DSA parameters inherited as RFC 5280 §6.1.4(f) says). The
/// trust anchor's own signature is not part of the path. `signer`: the path's first certificate,
/// decoded. When it passes: the path's [`PathLife`].
fn path_algorithms(
    valid: &path::ValidPath<'_>,
    signer: Option<&Certificate>,
    policy: &Policy,
) -> Result<PathLife, String> {
    use crate::engine::key::{self, SignatureScheme};
    use der::Decode;
    let owned: Vec<Option<Certificate>> = valid
        .chain
        .iter()
        .enumerate()
        .map(|(i, der)| {
            let known =
                (i == 0 && signer.is_some()) || valid.decoded.get(i).is_some_and(Option::is_some);
            if known {
                None
            } else {
                Certificate::from_der(der).ok()
            }
        })
        .collect();
    let mut chain: Vec<&Certificate> = Vec::with_capacity(valid.chain.len());
    for (i, own) in owned.iter().enumerate() {
        let cert = match (i, signer) {
            (0, Some(s)) => Some(s),
            _ => valid
                .decoded
                .get(i)
                .and_then(|c| c.as_deref())
                .or(own.as_ref()),
        };
        // Validated, so it decoded once; a certificate that does not now is no algorithm's fault.
        chain.push(cert.ok_or("a certificate of the validated path does not decode")?);
    }
    let keys = super::inherit::chain_keys(&chain);
    let mut life = PathLife::default();
    for (i, cert) in chain.iter().enumerate().take(chain.len().saturating_sub(1)) {
        let hash = SignatureScheme::from_identifier(cert.signature_algorithm())
            .ok()
            .and_then(|s| s.hash());
        let issuer_key = key::key_params(&keys[i + 1]).ok();
        let subject = || cert.tbs_certificate().subject().to_string();
        if let Some((at, refusal)) = policy.algorithms.first_sunset(hash.as_slice(), issuer_key) {
            if policy.validation_time >= at {
                return Err(format!(
                    "the signature on certificate {} verifies, but {refusal}; validation time {}",
                    subject(),
                    rfc3339(policy.validation_time)
                ));
            }
            if life.sunset.as_ref().is_none_or(|(s, _, _)| at < *s) {
                life.sunset = Some((at, refusal, subject()));
            }
        }
        let not_after = cert
            .tbs_certificate()
            .validity()
            .not_after
            .to_unix_duration();
        if i > 0
            && life
                .expiry
                .as_ref()
                .is_none_or(|(e, _)| not_after.as_secs() < *e)
        {
            life.expiry = Some((not_after.as_secs(), subject()));
        }
    }
    // The CRLs that speak for the path: those its CAs issued (direct CRLs), signed with the
    // issuing CA's key. Read only as far as issuer and signature algorithm.
    if !valid.revocation_checked {
        return Ok(life);
    }
    for crl in &policy.crls {
        let Some((issuer, algorithm)) = super::algorithms::crl_signer(crl) else {
            continue;
        };
        let Some(i) = chain
            .iter()
            .position(|c| *c.tbs_certificate().subject() == issuer)
        else {
            continue;
        };
        let hash = SignatureScheme::from_identifier(&algorithm)
            .ok()
            .and_then(|s| s.hash());
        let key = key::key_params(&keys[i]).ok();
        if let Err(refusal) = policy
            .algorithms
            .check(policy.validation_time, hash.as_slice(), key)
        {
            return Err(format!(
                "a CRL issued by {issuer} (revocation of the path): {refusal}; validation time {}",
                rfc3339(policy.validation_time)
            ));
        }
    }
    // The OCSP answers that spoke for the path, likewise: their signature's hash and the key of
    // the responder that signed them.
    for used in &valid.evidence.ocsp {
        if let Err(refusal) =
            policy
                .algorithms
                .check(policy.validation_time, used.hash.as_slice(), used.key)
        {
            return Err(format!(
                "OCSP response #{} (revocation of the path): {refusal}; validation time {}",
                used.response,
                rfc3339(policy.validation_time)
            ));
        }
    }
    Ok(life)
}

/// The chain as the report shows it. `decoded[i]`, when there, is `chain[i]` decoded (by path
/// building); `signer` (the certificate `cert_der` decodes to and its summary) stands for
/// `cert_der` where it heads the chain, and its names are not formatted again for the rest.
/// Only what neither provides is decoded here.
fn summaries(
    chain: &[Vec<u8>],
    decoded: &[Option<std::borrow::Cow<'_, Certificate>>],
    cert_der: &[u8],
    signer: Option<(&Certificate, &CertSummary)>,
) -> Vec<CertSummary> {
    let signer = signer.filter(|_| chain.first().is_some_and(|c| c.as_slice() == cert_der));
    let skip = usize::from(signer.is_some());
    let parsed: Vec<Option<Certificate>> = chain
        .iter()
        .enumerate()
        .map(|(i, der)| {
            let known = i < skip || decoded.get(i).is_some_and(Option::is_some);
            if known {
                None
            } else {
                super::epoch::decode(der).ok()
            }
        })
        .collect();
    let mut names = NameTexts::default();
    let mut out = Vec::with_capacity(chain.len());
    if let Some((cert, summary)) = signer {
        let tbs = cert.tbs_certificate();
        names.remember(tbs.subject(), summary.subject.clone());
        names.remember(tbs.issuer(), summary.issuer.clone());
        out.push(summary.clone());
    }
    for (i, parsed) in parsed.iter().enumerate().skip(skip) {
        let cert = decoded
            .get(i)
            .and_then(|c| c.as_deref())
            .or(parsed.as_ref());
        if let Some(cert) = cert {
            out.push(summary_with(cert, &mut names));
        }
    }
    out
}

/// Validated paths by (signer certificate, the CMS's other certificates), at most
/// `capacity` of them: when full, the least recently used goes (a batch keeps its busy signers
/// however many others pass through).
#[derive(Debug)]
pub(crate) struct PathCache {
    paths: Mutex<Paths>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Paths {
    /// Each verdict with the tick of its last use, under its key's bytes: a few kilobytes an
    /// entry, and hashing them (SipHash) costs a tenth of a SHA-256 over them on every hit.
    entries: HashMap<Box<[u8]>, (Arc<PathVerdict>, u64)>,
    tick: u64,
}

impl Paths {
    fn touch(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }
}

impl Default for PathCache {
    fn default() -> Self {
        Self::with_capacity(MAX_CACHED_PATHS)
    }
}

impl PathCache {
    fn with_capacity(capacity: usize) -> Self {
        Self {
            paths: Mutex::default(),
            capacity: capacity.max(1),
        }
    }

    fn key(cert_der: &[u8], cms_certs: &[Carried]) -> Box<[u8]> {
        // DER encodings are self-delimiting, so the concatenation names the inputs unambiguously.
        let others = cms_certs.iter().filter(|c| c.der != cert_der);
        let mut key =
            Vec::with_capacity(cert_der.len() + others.clone().map(|c| c.der.len()).sum::<usize>());
        key.extend_from_slice(cert_der);
        for c in others {
            key.extend_from_slice(&c.der);
        }
        key.into_boxed_slice()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Paths> {
        // A poisoned lock only means another thread panicked mid-insert; the map stays usable.
        self.paths.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn verdict(
        &self,
        cert_der: &[u8],
        cms_certs: &[Carried],
        policy: &Policy,
        signer: Option<(&Certificate, &CertSummary)>,
    ) -> Arc<PathVerdict> {
        let key = Self::key(cert_der, cms_certs);
        {
            let mut paths = self.lock();
            let now = paths.touch();
            if let Some((v, used)) = paths.entries.get_mut(&key) {
                *used = now;
                return Arc::clone(v);
            }
        }
        // Validated outside the lock: other signers' documents proceed meanwhile.
        let verdict = Arc::new(PathVerdict::validate(cert_der, cms_certs, policy, signer));
        let mut paths = self.lock();
        if paths.entries.len() >= self.capacity && !paths.entries.contains_key(&key) {
            // A linear scan, on a miss only: next to the path validation just done (about a
            // millisecond) it is noise, and it needs no second index to keep in step.
            let oldest = paths
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                paths.entries.remove(&oldest);
            }
        }
        let now = paths.touch();
        paths.entries.insert(key, (Arc::clone(&verdict), now));
        verdict
    }

    fn len(&self) -> usize {
        self.lock().entries.len()
    }
}

/// Verifies many documents under one policy, remembering each signer's validated path (see the
/// module comment). `Sync`: share one across worker threads.
#[derive(Debug)]
pub struct Verifier {
    policy: Policy,
    paths: PathCache,
}

impl Verifier {
    /// Remembers up to `MAX_CACHED_PATHS` (4,096) signer paths.
    pub fn new(policy: Policy) -> Self {
        Self::with_capacity(policy, MAX_CACHED_PATHS)
    }

    /// Remembers up to `capacity` (at least one) signer paths, evicting the least recently used.
    pub fn with_capacity(policy: Policy, capacity: usize) -> Self {
        Self {
            policy,
            paths: PathCache::with_capacity(capacity),
        }
    }

    /// The policy every verification runs under.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// [`super::verify_bytes`] with the cache.
    pub fn verify_bytes(&self, input: &[u8], detached: Option<&[u8]>) -> super::Report {
        super::verify_bytes_with(input, detached, &self.policy, Some(&self.paths))
    }

    /// [`super::verify_document`] with the cache.
    pub fn verify_document(
        &self,
        doc: &super::SignedDocument,
        content: super::Content<'_>,
    ) -> super::Report {
        super::verify_document_with(doc, content, &self.policy, Some(&self.paths))
    }

    /// How many signer paths are remembered.
    pub fn cached_paths(&self) -> usize {
        self.paths.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No trust anchor: every verdict is [`PathVerdict::NoTrustAnchor`] at once, so the test
    /// exercises the cache's bookkeeping over many distinct keys without validating paths.
    fn lookup(cache: &PathCache, policy: &Policy, n: u32) -> Arc<PathVerdict> {
        cache.verdict(&n.to_be_bytes(), &[], policy, None)
    }

    #[test]
    fn a_hot_entry_survives_churn_and_the_size_stays_bounded() {
        let policy = Policy::new(0);
        let cache = PathCache::with_capacity(4);
        let hot = lookup(&cache, &policy, 0);
        let cold = lookup(&cache, &policy, 1);
        for n in 2..100 {
            lookup(&cache, &policy, n);
            assert!(cache.len() <= 4, "after {n}: {}", cache.len());
            // The same Arc: served from the cache, never validated again.
            assert!(Arc::ptr_eq(&hot, &lookup(&cache, &policy, 0)), "after {n}");
        }
        assert_eq!(cache.len(), 4);
        // The entry used once at the start was evicted: looked up again, it is validated anew.
        assert!(!Arc::ptr_eq(&cold, &lookup(&cache, &policy, 1)));
        assert_eq!(cache.len(), 4);
        // The most recent others are still there.
        let recent = lookup(&cache, &policy, 99);
        assert!(Arc::ptr_eq(&recent, &lookup(&cache, &policy, 99)));
        assert_eq!(cache.len(), 4);
    }

    #[test]
    fn a_full_cache_of_one_keeps_the_latest() {
        let policy = Policy::new(0);
        let cache = PathCache::with_capacity(0);
        let a = lookup(&cache, &policy, 1);
        assert!(Arc::ptr_eq(&a, &lookup(&cache, &policy, 1)));
        let b = lookup(&cache, &policy, 2);
        assert_eq!(cache.len(), 1);
        assert!(Arc::ptr_eq(&b, &lookup(&cache, &policy, 2)));
        assert!(!Arc::ptr_eq(&a, &lookup(&cache, &policy, 1)));
    }
}
