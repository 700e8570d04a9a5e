//! Certification path building, step 1 of `path::validate`: from the target towards the trust
//! anchors, depth first over every certificate whose subject is the name of the issuer sought
//! (RFC 5280 §7.1 comparison, certval's `compare_names`), trying CA certificates, those the
//! authority key identifier names and those valid at the validation time first (RFC 4158 §3.5:
//! sorted, not eliminated, so that a path that fails says why). Every complete
//! path is yielded in turn, so that when one fails validation the next is tried: a path through
//! a self-issued certificate with a new key (key rollover, PKITS 4.6.15/4.6.17) or through a
//! cross certificate is found behind a first candidate that leads nowhere or fails. Signatures
//! are not checked here: path validation checks those of every path yielded.
//!
//! A trust anchor ends a path; no certificate, and no subject name with the same key, appears
//! twice in one path. A mesh of cross-certified CAs has factorially many paths, so the search
//! counts the partial paths it extends and stops past [`MAX_PARTIAL_PATHS`].

use certval::{PS_MAX_PATH_LENGTH_CONSTRAINT, compare_names};
use der::DateTime;
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::certificate::{CertificateInner, Profile};
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, BasicConstraints, SubjectKeyIdentifier};
use x509_cert::name::Name;

/// Most partial paths (a path from the target extended by one issuer) one search considers.
pub(crate) const MAX_PARTIAL_PATHS: u64 = 10_000;
/// Most intermediate certificates in a path: 14, as deep as certval's own builder went
/// (16 certificates with the target and the trust anchor).
pub(crate) const MAX_INTERMEDIATES: usize = PS_MAX_PATH_LENGTH_CONSTRAINT as usize - 1;

/// What path building reads of a certificate (RFC 5280 §4.1.2).
pub(crate) struct Facts<'c> {
    subject: &'c Name,
    issuer: &'c Name,
    key: &'c SubjectPublicKeyInfoOwned,
    serial: &'c [u8],
    /// May be an intermediate certificate (§6.1.4 (k)).
    ca: bool,
    /// §4.2.1.2 subjectKeyIdentifier.
    key_id: Option<SubjectKeyIdentifier>,
    /// §4.2.1.1 authorityKeyIdentifier.
    authority_key: Option<AuthorityKeyIdentifier>,
    not_before: DateTime,
    not_after: DateTime,
}

impl<'c> Facts<'c> {
    /// The subjectKeyIdentifier's octets.
    pub(crate) fn key_id(&self) -> Option<&[u8]> {
        self.key_id.as_ref().map(|k| k.0.as_bytes())
    }

    /// The authorityKeyIdentifier's keyIdentifier octets.
    pub(crate) fn authority_key_id(&self) -> Option<&[u8]> {
        self.authority_key
            .as_ref()?
            .key_identifier
            .as_ref()
            .map(|k| k.as_bytes())
    }

    pub(crate) fn of<P: Profile>(cert: &'c CertificateInner<P>) -> Self {
        let tbs = cert.tbs_certificate();
        let validity = tbs.validity();
        Self {
            subject: tbs.subject(),
            issuer: tbs.issuer(),
            key: tbs.subject_public_key_info(),
            serial: tbs.serial_number().as_bytes(),
            ca: is_ca(cert),
            // An extension that does not decode only loses its preference; validation judges it.
            key_id: tbs.get_extension().ok().flatten().map(|(_, k)| k),
            authority_key: tbs.get_extension().ok().flatten().map(|(_, k)| k),
            not_before: validity.not_before.to_date_time(),
            not_after: validity.not_after.to_date_time(),
        }
    }

    /// The same subject with the same key: the same CA for a path, whatever the certificate.
    fn same_entity(&self, other: &Facts<'_>) -> bool {
        self.key == other.key && compare_names(self.subject, other.subject)
    }

    /// Order in which `issuer` (its subject already matched to this certificate's issuer) is
    /// tried, lowest first: CA certificates before others (whose paths fail, but tell why);
    /// then the key identifiers agree, say nothing or disagree; then valid at `at` first.
    fn rank(&self, issuer: &Facts<'_>, at: DateTime) -> u8 {
        let named = self.authority_key.as_ref().and_then(|aki| {
            if let Some(id) = &aki.key_identifier {
                return issuer.key_id.as_ref().map(|k| k.0 == *id);
            }
            let serial = aki.authority_cert_serial_number.as_ref()?;
            Some(serial.as_bytes() == issuer.serial)
        });
        let keys = match named {
            Some(true) => 0,
            None => 1,
            Some(false) => 2,
        };
        let expired = !(issuer.not_before <= at && at <= issuer.not_after);
        u8::from(!issuer.ca) * 6 + keys * 2 + u8::from(expired)
    }
}

/// RFC 5280 §6.1.4 (k): a v3 certificate is a CA certificate when basicConstraints says cA;
/// v1 and v2 certificates carry no extensions and may be (§6.1.4 (k) leaves them to local
/// policy, as certval does).
pub(crate) fn is_ca<P: Profile>(cert: &CertificateInner<P>) -> bool {
    let tbs = cert.tbs_certificate();
    match tbs.get_extension::<BasicConstraints>() {
        Ok(Some((_, bc))) => bc.ca,
        Ok(None) => tbs.version() != x509_cert::Version::V3,
        Err(_) => false,
    }
}

/// A candidate issuer: a trust anchor, or a certificate of the pool (by index).
#[derive(Clone, Copy)]
enum Issuer {
    Anchor(usize),
    Pool(usize),
}

/// A complete path: the trust anchor, then the pool certificates from the one the anchor issued
/// to the target's issuer (certval's order for `CertificationPath::intermediates`).
pub(crate) struct Candidate {
    pub anchor: usize,
    pub intermediates: Vec<usize>,
}

/// The search passed [`MAX_PARTIAL_PATHS`].
pub(crate) struct OverBudget;

/// The paths from the target to the trust anchors, depth first, as an iterator: each item is a
/// complete path, or [`OverBudget`] once, after which the search is over.
pub(crate) struct Paths<'c> {
    target: Facts<'c>,
    anchors: Vec<Facts<'c>>,
    pool: Vec<Facts<'c>>,
    at: DateTime,
    /// Pool certificates with a trust anchor's subject and key: the path ends at the anchor.
    is_anchor: Vec<bool>,
    /// The candidate issuers of pool certificate `i` (at `i`) and of the target (last), in the
    /// order they are tried; found when first needed.
    issuers: Vec<Option<Vec<Issuer>>>,
    /// The path being extended, target first: (certificate, next candidate issuer to try).
    stack: Vec<(usize, usize)>,
    partial_paths: u64,
    too_deep: bool,
}

impl<'c> Paths<'c> {
    pub(crate) fn new(
        target: Facts<'c>,
        anchors: Vec<Facts<'c>>,
        pool: Vec<Facts<'c>>,
        at: DateTime,
    ) -> Self {
        let is_anchor = pool
            .iter()
            .map(|c| anchors.iter().any(|a| a.same_entity(c)))
            .collect();
        let n = pool.len();
        Self {
            target,
            anchors,
            pool,
            at,
            is_anchor,
            issuers: vec![None; n + 1],
            stack: vec![(n, 0)],
            partial_paths: 0,
            too_deep: false,
        }
    }

    /// Some path was cut at [`MAX_INTERMEDIATES`] intermediate certificates.
    pub(crate) fn too_deep(&self) -> bool {
        self.too_deep
    }

    fn facts(&self, node: usize) -> &Facts<'c> {
        self.pool.get(node).unwrap_or(&self.target)
    }

    /// The candidate issuers of `node`, best first (see [`Facts::rank`]); trust anchors before
    /// pool certificates of the same rank.
    fn issuers_of(&mut self, node: usize) -> &[Issuer] {
        if self.issuers[node].is_none() {
            let child = self.facts(node);
            let mut found: Vec<(u8, Issuer)> = Vec::new();
            for (i, anchor) in self.anchors.iter().enumerate() {
                if compare_names(child.issuer, anchor.subject) {
                    found.push((child.rank(anchor, self.at), Issuer::Anchor(i)));
                }
            }
            for (i, cert) in self.pool.iter().enumerate() {
                if !self.is_anchor[i] && compare_names(child.issuer, cert.subject) {
                    found.push((child.rank(cert, self.at), Issuer::Pool(i)));
                }
            }
            found.sort_by_key(|(rank, _)| *rank);
            self.issuers[node] = Some(found.into_iter().map(|(_, i)| i).collect());
        }
        self.issuers[node].as_deref().unwrap_or_default()
    }

    /// `cert` is in the path already, or its subject with its key is.
    fn in_path(&self, cert: usize) -> bool {
        let facts = &self.pool[cert];
        self.stack
            .iter()
            .any(|&(node, _)| node == cert || self.facts(node).same_entity(facts))
    }
}

impl Iterator for Paths<'_> {
    type Item = Result<Candidate, OverBudget>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let &(node, next) = self.stack.last()?;
            let Some(&issuer) = self.issuers_of(node).get(next) else {
                self.stack.pop();
                continue;
            };
            if let Some(top) = self.stack.last_mut() {
                top.1 += 1;
            }
            match issuer {
                Issuer::Anchor(anchor) => {
                    let intermediates = self.stack[1..].iter().rev().map(|&(c, _)| c).collect();
                    return Some(Ok(Candidate {
                        anchor,
                        intermediates,
                    }));
                }
                Issuer::Pool(cert) => {
                    if self.in_path(cert) {
                        continue;
                    }
                    // The stack holds the target and the intermediates so far.
                    if self.stack.len() > MAX_INTERMEDIATES {
                        self.too_deep = true;
                        continue;
                    }
                    self.partial_paths += 1;
                    if self.partial_paths > MAX_PARTIAL_PATHS {
                        self.stack.clear();
                        return Some(Err(OverBudget));
                    }
                    self.stack.push((cert, 0));
                }
            }
        }
    }
}
