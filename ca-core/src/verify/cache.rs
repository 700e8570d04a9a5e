//! Batch verification (issue 5): a [`Verifier`] holds one [`Policy`] and remembers the outcome of
//! path validation per signer certificate, so that many documents from one signer pay for
//! certval's path building, certificate and CRL signatures and CRL parsing once.
//!
//! Why caching is sound: under a fixed policy (anchors, pool, CRLs, validation time, RFC 5280
//! inputs) the outcome of [`path::validate`] depends only on the signer certificate and the
//! certificates the CMS carries. The key is a SHA-256 over exactly those DER encodings, so a
//! different certificate (or a different CMS pool) never meets another's entry, and failures
//! (revoked, expired, no chain) are remembered as faithfully as successes.

use super::path;
use super::report::{CertSummary, SignatureReport, SubIndication};
use super::{MAX_CERTIFICATES, NameTexts, Policy, date_time, rfc3339, summary_with};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use x509_cert::Certificate;

/// Most remembered paths; past it the cache starts over (bounded memory for any batch).
const MAX_CACHED_PATHS: usize = 4_096;

/// What path validation concluded for one signer certificate, ready to go into a report.
#[derive(Debug)]
pub(crate) enum PathVerdict {
    NoTrustAnchor,
    Valid {
        chain: Vec<CertSummary>,
        revocation_checked: bool,
    },
    Failed {
        chain: Vec<CertSummary>,
        sub: SubIndication,
        reason: String,
    },
}

impl PathVerdict {
    /// Validates the path of `cert_der` with the policy's pool plus the CMS certificates.
    /// `signer`: the report's summary of `cert_der`, reused for the chain's first entry.
    pub(crate) fn validate(
        cert_der: &[u8],
        cms_certs: &[Vec<u8>],
        policy: &Policy,
        signer: Option<&CertSummary>,
    ) -> Self {
        if policy.trust_anchors.is_empty() {
            return Self::NoTrustAnchor;
        }
        // A trust anchor in the pool only makes certval build and verify partial paths up to
        // itself a second time: paths end at an anchor.
        let is_anchor = |c: &Vec<u8>| policy.trust_anchors.contains(c);
        let mut pool: Vec<Vec<u8>> = policy
            .cert_pool
            .iter()
            .filter(|c| !is_anchor(c))
            .cloned()
            .collect();
        pool.extend(
            cms_certs
                .iter()
                .filter(|c| c.as_slice() != cert_der && !is_anchor(c))
                .cloned(),
        );
        pool.truncate(MAX_CERTIFICATES);
        let inputs = path::PathInputs {
            trust_anchors: &policy.trust_anchors,
            pool: &pool,
            crls: &policy.crls,
            at: date_time(policy.validation_time),
            initial_policies: &policy.initial_policies,
            require_explicit_policy: policy.require_explicit_policy,
            inhibit_policy_mapping: policy.inhibit_policy_mapping,
            inhibit_any_policy: policy.inhibit_any_policy,
            max_depth: policy.max_depth,
        };
        match path::validate(cert_der, &inputs) {
            Ok(valid) => Self::Valid {
                chain: summaries(&valid.chain, cert_der, signer),
                revocation_checked: valid.revocation_checked,
            },
            Err(f) => Self::Failed {
                chain: summaries(&f.chain, cert_der, signer),
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
                if *revocation_checked {
                    r.pass(
                        "revocation",
                        "no certificate of the path is revoked (CRLs supplied)",
                    );
                } else {
                    r.skip("revocation", "no CRL supplied: revocation not checked");
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

/// The chain as the report shows it; `signer`, the summary of `cert_der`, stands for it when it
/// heads the chain, and its names are not formatted again for the rest.
fn summaries(chain: &[Vec<u8>], cert_der: &[u8], signer: Option<&CertSummary>) -> Vec<CertSummary> {
    use der::Decode;
    let certs: Vec<(&[u8], Certificate)> = chain
        .iter()
        .filter_map(|c| Some((c.as_slice(), Certificate::from_der(c).ok()?)))
        .collect();
    let mut names = NameTexts::default();
    certs
        .iter()
        .map(|(der, cert)| match signer {
            Some(s) if *der == cert_der => {
                let tbs = cert.tbs_certificate();
                names.remember(tbs.subject(), s.subject.clone());
                names.remember(tbs.issuer(), s.issuer.clone());
                s.clone()
            }
            _ => summary_with(cert, &mut names),
        })
        .collect()
}

/// Validated paths by SHA-256 of (signer certificate, the CMS's other certificates).
#[derive(Debug, Default)]
pub(crate) struct PathCache {
    paths: Mutex<HashMap<[u8; 32], Arc<PathVerdict>>>,
}

impl PathCache {
    fn key(cert_der: &[u8], cms_certs: &[Vec<u8>]) -> [u8; 32] {
        // DER encodings are self-delimiting, so the concatenation names the inputs unambiguously.
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(cert_der);
        for c in cms_certs.iter().filter(|c| c.as_slice() != cert_der) {
            ctx.update(c);
        }
        let mut key = [0u8; 32];
        key.copy_from_slice(ctx.finish().as_ref());
        key
    }

    pub(crate) fn verdict(
        &self,
        cert_der: &[u8],
        cms_certs: &[Vec<u8>],
        policy: &Policy,
        signer: Option<&CertSummary>,
    ) -> Arc<PathVerdict> {
        let key = Self::key(cert_der, cms_certs);
        // A poisoned lock only means another thread panicked mid-insert; the map stays usable.
        if let Some(v) = self
            .paths
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return Arc::clone(v);
        }
        // Validated outside the lock: other signers' documents proceed meanwhile.
        let verdict = Arc::new(PathVerdict::validate(cert_der, cms_certs, policy, signer));
        let mut paths = self.paths.lock().unwrap_or_else(PoisonError::into_inner);
        if paths.len() >= MAX_CACHED_PATHS {
            paths.clear();
        }
        paths.insert(key, Arc::clone(&verdict));
        verdict
    }

    fn len(&self) -> usize {
        self.paths
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
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
    pub fn new(policy: Policy) -> Self {
        Self {
            policy,
            paths: PathCache::default(),
        }
    }

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
