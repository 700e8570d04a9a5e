//! DSA parameter inheritance (RFC 5280 §6.1.4(f), RFC 3279 §2.3.2): a DSA subject key whose
//! AlgorithmIdentifier omits its parameters (or has NULL) takes the domain parameters of the key
//! that signed its certificate. certval hands the signature callback a certificate's key as it
//! is, so the verifier completes such keys first, from an issuing certificate: one whose subject
//! is the certificate's issuer, whose own key is DSA (§6.1.4(f): another algorithm leaves the
//! parameters null) and whose completed key verifies the certificate's signature.

use crate::engine::key;
use crate::engine::oid;
use der::Encode;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;

/// Most issuer hops followed (a chain of CAs that all inherit).
const MAX_DEPTH: usize = 8;
/// Most signatures checked to complete one key: a pool of same-named DSA CAs stays cheap.
const MAX_CHECKS: usize = 64;

/// The DER of the id-dsa OID (tag, length, value): a certificate without it has no DSA key.
const ID_DSA_DER: [u8; 9] = [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01];

/// A DSA key without its domain parameters.
pub(crate) fn needs_parameters(spki: &SubjectPublicKeyInfoOwned) -> bool {
    spki.algorithm.oid == oid::ID_DSA
        && spki
            .algorithm
            .parameters
            .as_ref()
            .is_none_or(|p| p.is_null())
}

/// Whether `der` may hold a DSA key (a byte scan, no decoding): most inputs never pay more.
pub(crate) fn may_hold_dsa(der: &[u8]) -> bool {
    der.windows(ID_DSA_DER.len()).any(|w| w == ID_DSA_DER)
}

/// `cert`'s key with its inherited parameters filled in, from among `issuers`; `None` when no
/// issuing certificate provides them. A key that needs none is returned as it is.
pub(crate) fn completed_key(
    cert: &Certificate,
    issuers: &[&Certificate],
) -> Option<SubjectPublicKeyInfoOwned> {
    let mut checks = 0;
    complete(cert, issuers, MAX_DEPTH, &mut checks)
}

fn complete(
    cert: &Certificate,
    issuers: &[&Certificate],
    depth: usize,
    checks: &mut usize,
) -> Option<SubjectPublicKeyInfoOwned> {
    let tbs = cert.tbs_certificate();
    let spki = tbs.subject_public_key_info();
    if !needs_parameters(spki) {
        return Some(spki.clone());
    }
    let depth = depth.checked_sub(1)?;
    let signed = tbs.to_der().ok()?;
    let signature = cert.signature().as_bytes()?;
    issuers
        .iter()
        .filter(|i| {
            i.tbs_certificate().subject() == tbs.issuer()
                && i.tbs_certificate().subject_public_key_info().algorithm.oid == oid::ID_DSA
        })
        .find_map(|issuer| {
            let key = complete(issuer, issuers, depth, checks)?;
            *checks += 1;
            if *checks > MAX_CHECKS {
                return None;
            }
            key::verify(&key, cert.signature_algorithm(), &signed, signature).ok()?;
            Some(SubjectPublicKeyInfoOwned {
                algorithm: AlgorithmIdentifierOwned {
                    oid: oid::ID_DSA,
                    parameters: key.algorithm.parameters,
                },
                subject_public_key: spki.subject_public_key.clone(),
            })
        })
}

/// The keys of a validated path (target first, trust anchor last) as RFC 5280 §6.1.4(f) makes
/// them: a DSA key without parameters takes those of the key above it, when that is DSA.
pub(crate) fn chain_keys(chain: &[&Certificate]) -> Vec<SubjectPublicKeyInfoOwned> {
    let mut keys: Vec<SubjectPublicKeyInfoOwned> = Vec::with_capacity(chain.len());
    let mut above: Option<AlgorithmIdentifierOwned> = None;
    for cert in chain.iter().rev() {
        let mut spki = cert.tbs_certificate().subject_public_key_info().clone();
        if needs_parameters(&spki)
            && let Some(up) = above.as_ref().filter(|a| a.oid == oid::ID_DSA)
        {
            spki.algorithm.parameters = up.parameters.clone();
        }
        above = Some(spki.algorithm.clone());
        keys.push(spki);
    }
    keys.reverse();
    keys
}
