//! The batch [`Verifier`] (issue 5) caches validated signer paths: it must never change a verdict.
//! Real CA hierarchies (sled in a temp dir), real keys, real CRLs; two installations whose CAs
//! carry the same names, so a cache keyed by names rather than certificates would be caught.

use crate::support::credential::{ACTOR, NOW, env, registration};
use crate::support::{assert_names_no_flag, fresh_ca};
use ca_core::authority::Authority;
use ca_core::key::{KeyAlgorithm, SigningKey};
use ca_core::sign::{DigestAlgorithm, SignatureRequest, sign};
use ca_core::store::{RevocationReason, SledStore};
use ca_core::verify::{Policy, Report, SubIndication, Verifier, verify_bytes};
use der::Decode;
use x509_cert::Certificate;

const DOC: &[u8] = b"Rx: amoxicillin 250 mg, three times a day for 7 days\n";
const AT: u64 = NOW + 600;

struct Signer {
    key: SigningKey,
    serial: Vec<u8>,
    certificate: Vec<u8>,
    chain: Vec<Vec<u8>>,
}

fn issue(authority: &Authority<SledStore>, n: usize) -> Signer {
    let key = SigningKey::generate(KeyAlgorithm::P256).unwrap();
    let csr = fresh_ca::csr(&key);
    let subject = format!("C=JP,O=hpki Test Hospital,CN=Doctor {n},serialNumber=C-{n}");
    let issued = authority
        .issue(
            &registration("rhp-sign", &subject, &["Medical Doctor"]),
            &csr,
            NOW,
            ACTOR,
        )
        .unwrap();
    Signer {
        key,
        serial: issued.serial,
        certificate: issued.certificate,
        chain: issued.chain,
    }
}

/// Detached CAdES signature of `DOC`.
fn signed(s: &Signer) -> Vec<u8> {
    sign(&SignatureRequest {
        key: &s.key,
        certificate: &s.certificate,
        chain: &s.chain,
        digest: &DigestAlgorithm::Sha256.digest(DOC),
        signing_time: NOW + 300,
        commitment_type: None,
        claimed_role: None,
        attached: None,
    })
    .unwrap()
}

struct Fixture {
    policy: Policy,
    good: Signer,
    other: Signer,
    revoked: Signer,
    /// Issued by another installation whose CAs have the same names and other keys.
    stranger: Signer,
    _envs: [crate::support::credential::Env; 2],
}

fn fixture() -> Fixture {
    let ours = env();
    let theirs = env();
    let a = &ours.authority;
    let (good, other, revoked) = (issue(a, 1), issue(a, 2), issue(a, 3));
    let stranger = issue(&theirs.authority, 1);
    a.revoke(
        &revoked.serial,
        RevocationReason::KeyCompromise,
        None,
        NOW + 100,
        ACTOR,
    )
    .unwrap();
    let mut policy = Policy::new(AT);
    policy.trust_anchors = vec![a.ca_certificate("root").unwrap().to_vec()];
    policy.crls = vec![
        a.crl("root", NOW + 200, ACTOR).unwrap(),
        a.crl("sign", NOW + 200, ACTOR).unwrap(),
    ];
    Fixture {
        policy,
        good,
        other,
        revoked,
        stranger,
        _envs: [ours, theirs],
    }
}

fn json(r: &Report) -> String {
    serde_json::to_string_pretty(r).unwrap()
}

fn signer_serial(r: &Report) -> String {
    r.signatures[0].signer.as_ref().unwrap().serial.clone()
}

#[test]
fn a_cached_path_is_not_reused_for_another_certificate() {
    let f = fixture();
    let v = Verifier::new(f.policy.clone());
    let first = v.verify_bytes(&signed(&f.good), Some(DOC));
    assert!(first.is_valid(), "{}", json(&first));
    assert_eq!(v.cached_paths(), 1);

    // Same issuer name, same subject, another CA key: no chain to our root.
    let stranger = v.verify_bytes(&signed(&f.stranger), Some(DOC));
    assert_eq!(
        stranger.sub_indication,
        Some(SubIndication::NoCertificateChainFound),
        "{}",
        json(&stranger)
    );
    assert_eq!(v.cached_paths(), 2);

    // Another good signer gets its own path, starting with its own certificate.
    let other = v.verify_bytes(&signed(&f.other), Some(DOC));
    assert!(other.is_valid(), "{}", json(&other));
    assert_eq!(other.signatures[0].chain[0].serial, signer_serial(&other));
    assert_ne!(signer_serial(&other), signer_serial(&first));
    assert_eq!(v.cached_paths(), 3);

    // The first signer again: served from the cache, still valid, nothing new remembered.
    let again = v.verify_bytes(&signed(&f.good), Some(DOC));
    assert_eq!(json(&again), json(&first));
    assert_eq!(v.cached_paths(), 3);
}

#[test]
fn a_revoked_signer_stays_revoked_on_the_second_document() {
    let f = fixture();
    let v = Verifier::new(f.policy.clone());
    for round in 0..2 {
        let r = v.verify_bytes(&signed(&f.revoked), Some(DOC));
        assert_eq!(
            r.sub_indication,
            Some(SubIndication::Revoked),
            "document {round}: {}",
            json(&r)
        );
        assert!(!r.is_valid());
    }
    assert_eq!(v.cached_paths(), 1);
}

/// Name, CMS, detached content.
type Case<'a> = (&'a str, Vec<u8>, Option<&'a [u8]>);

#[test]
fn reports_with_and_without_the_cache_are_identical() {
    let f = fixture();
    let good = signed(&f.good);
    let mut bad_signature = good.clone();
    let n = bad_signature.len();
    bad_signature[n - 5] ^= 1;
    let cases: Vec<Case> = vec![
        ("good", good.clone(), Some(DOC)),
        (
            "altered content",
            good.clone(),
            Some(b"Rx: amoxicillin 500 mg"),
        ),
        ("no content", good.clone(), None),
        ("bad signature value", bad_signature, Some(DOC)),
        ("other signer", signed(&f.other), Some(DOC)),
        ("revoked signer", signed(&f.revoked), Some(DOC)),
        ("foreign CA", signed(&f.stranger), Some(DOC)),
        ("not CMS", b"not a signature".to_vec(), Some(DOC)),
        ("good again", good, Some(DOC)),
    ];
    let v = Verifier::new(f.policy.clone());
    // Twice: the second pass is served from the cache for every signer.
    for pass in 0..2 {
        for (name, cms, content) in &cases {
            let fresh = verify_bytes(cms, *content, &f.policy);
            let cached = v.verify_bytes(cms, *content);
            assert_eq!(json(&cached), json(&fresh), "pass {pass}: {name}");
        }
    }
    // good, other, revoked, foreign: the bad signature value stops before the path.
    assert_eq!(v.cached_paths(), 4);
    let verdicts: Vec<_> = cases
        .iter()
        .map(|(_, cms, content)| v.verify_bytes(cms, *content).sub_indication)
        .collect();
    for (_, cms, content) in &cases {
        assert_names_no_flag(&v.verify_bytes(cms, *content));
    }
    assert_eq!(
        verdicts,
        [
            None,
            Some(SubIndication::HashFailure),
            Some(SubIndication::SignedDataNotFound),
            Some(SubIndication::SigCryptoFailure),
            None,
            Some(SubIndication::Revoked),
            Some(SubIndication::NoCertificateChainFound),
            Some(SubIndication::FormatFailure),
            None,
        ]
    );
}

/// The report's chain (formatted names are reused along it: an issuer is the next certificate's
/// subject) names each certificate exactly as x509-cert prints it, cold and from the cache.
#[test]
fn the_chain_names_each_certificate_as_it_prints() {
    let f = fixture();
    let ders: Vec<&Vec<u8>> = std::iter::once(&f.good.certificate)
        .chain(&f.good.chain)
        .collect();
    let expected: Vec<[String; 3]> = ders
        .iter()
        .map(|der| {
            let cert = Certificate::from_der(der).unwrap();
            let tbs = cert.tbs_certificate();
            [
                tbs.subject().to_string(),
                tbs.issuer().to_string(),
                hex::encode_upper(tbs.serial_number().as_bytes()),
            ]
        })
        .collect();
    assert_eq!(expected.len(), 3, "signer, signature CA, root");
    assert_ne!(expected[0][0], expected[1][0]);
    let v = Verifier::new(f.policy.clone());
    let cms = signed(&f.good);
    for r in [
        verify_bytes(&cms, Some(DOC), &f.policy),
        v.verify_bytes(&cms, Some(DOC)),
        v.verify_bytes(&cms, Some(DOC)),
    ] {
        assert!(r.is_valid(), "{}", json(&r));
        let sig = &r.signatures[0];
        let got: Vec<[String; 3]> = sig
            .chain
            .iter()
            .map(|c| [c.subject.clone(), c.issuer.clone(), c.serial.clone()])
            .collect();
        assert_eq!(got, expected);
        let signer = sig.signer.as_ref().unwrap();
        assert_eq!(
            [&signer.subject, &signer.issuer, &signer.serial],
            [&expected[0][0], &expected[0][1], &expected[0][2]]
        );
    }
}
