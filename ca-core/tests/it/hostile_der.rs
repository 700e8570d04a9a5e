//! Hostile input to the verification engine (issue 6 part 4): adversarial DER and CMS made with
//! the der / x509-cert / cms crates (only the broken length bytes are written by hand), certificate
//! pools that are loops, meshes and very long chains. Every case ends with a verdict, never a panic,
//! within a generous time guard (not a benchmark).

use crate::support::sign_fixture::{self, SIGN_AT, pki, signer};
use crate::support::x509::{Ca, Issue, path_policy};
use ca_core::sign::{DigestAlgorithm, SignatureRequest, sign};
use ca_core::verify::{
    Indication, Policy, Report, SignedDocument, SubIndication, decode_certificates, decode_crls,
    verify_bytes, verify_certificate,
};
use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{CertificateSet, SignedData, SignerInfos};
use const_oid::ObjectIdentifier;
use der::asn1::{OctetString, UintRef};
use der::{Any, Decode, Encode};
use std::time::{Duration, Instant};
use x509_cert::ext::Extension;

/// Guard: each hostile case must end well within this (they take milliseconds to a few seconds).
const BOUND: Duration = Duration::from_secs(30);

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = f();
    let took = started.elapsed();
    assert!(took < BOUND, "{what} took {took:?}");
    out
}

fn show(r: &Report) -> String {
    serde_json::to_string_pretty(r).unwrap()
}

fn path_check(r: &Report) -> (String, Option<SubIndication>) {
    let check = r.signatures[0]
        .checks
        .iter()
        .find(|c| c.name == "certificate-path")
        .unwrap_or_else(|| panic!("no certificate-path check: {}", show(r)));
    (check.reason.clone(), check.sub_indication)
}

#[test]
fn chains_loops_and_meshes_end_with_a_verdict_within_the_work_budget() {
    let root = Ca::new("root");
    let root_der = root.self_signed();

    // A chain of 5 CAs validates: the budget refuses nothing ordinary.
    let cas: Vec<Ca> = (0..20).map(|i| Ca::new(&format!("CA {i}"))).collect();
    let mut chain = vec![root.issue(&cas[0], Issue::ca(2))];
    for i in 1..cas.len() {
        chain.push(cas[i - 1].issue(&cas[i], Issue::ca(10 + i as u32)));
    }
    let leaf = Ca::new("leaf");
    let short_leaf = cas[4].issue(&leaf, Issue::signer(100, vec![]));
    let r = timed("chain of 5", || {
        verify_certificate(&short_leaf, &path_policy(&root_der, chain[..5].to_vec()))
    });
    assert!(r.is_valid(), "{}", show(&r));

    // A chain of 20 CAs is longer than path building goes (certval: 15 certificates): no chain.
    let long_leaf = cas[19].issue(&leaf, Issue::signer(101, vec![]));
    let r = timed("chain of 20", || {
        verify_certificate(&long_leaf, &path_policy(&root_der, chain.clone()))
    });
    assert_eq!(
        r.sub_indication,
        Some(SubIndication::NoCertificateChainFound),
        "{}",
        show(&r)
    );

    // Two CAs certify each other (a loop) beside the root's certificate of A: the path is
    // found and the loop does not trap the builder.
    let (a, b) = (Ca::new("A"), Ca::new("B"));
    let pool = vec![
        root.issue(&a, Issue::ca(200)),
        a.issue(&b, Issue::ca(201)),
        b.issue(&a, Issue::ca(202)),
    ];
    let loop_leaf = b.issue(&leaf, Issue::signer(203, vec![]));
    let r = timed("cross-certified loop", || {
        verify_certificate(&loop_leaf, &path_policy(&root_der, pool))
    });
    assert!(r.is_valid(), "{}", show(&r));
    assert_eq!(r.signatures[0].chain.len(), 4, "{}", show(&r));

    // A mesh of n CAs, each certifying every other; with an exit, the root certifies the first.
    let mesh = |n: usize, exit: bool| -> (Vec<Vec<u8>>, Vec<u8>) {
        let cas: Vec<Ca> = (0..n).map(|i| Ca::new(&format!("Mesh {i}"))).collect();
        let mut pool = Vec::new();
        if exit {
            pool.push(root.issue(&cas[0], Issue::ca(300)));
        }
        for (i, from) in cas.iter().enumerate() {
            for (j, to) in cas.iter().enumerate() {
                if i != j {
                    pool.push(from.issue(to, Issue::ca(1_000 + (i * n + j) as u32)));
                }
            }
        }
        (pool, cas[n - 1].issue(&leaf, Issue::signer(301, vec![])))
    };
    // Meshes of 5 and 10 with an exit validate: depth first, the first path found is valid.
    for n in [5, 10] {
        let (pool, target) = mesh(n, true);
        let r = timed(&format!("mesh of {n}"), || {
            verify_certificate(&target, &path_policy(&root_der, pool))
        });
        assert!(r.is_valid(), "{}", show(&r));
    }

    // A mesh of 10 without an exit has about a million paths from the target (9!·e) to search
    // for an anchor, none found: the budget stops the search with a clear reason instead of
    // searching for minutes.
    let (pool, target) = mesh(10, false);
    let r = timed("mesh of 10 without an exit", || {
        verify_certificate(&target, &path_policy(&root_der, pool))
    });
    let (reason, sub) = path_check(&r);
    assert_eq!(
        sub,
        Some(SubIndication::CertificateChainGeneralFailure),
        "{}",
        show(&r)
    );
    assert!(
        reason.contains("work budget") && reason.contains("10000 partial paths"),
        "{reason}"
    );
    assert_eq!(r.indication, Indication::Indeterminate);
}

#[test]
fn a_pool_of_too_many_ca_certificates_is_refused_and_end_entities_are_ignored() {
    let root = Ca::new("root");
    let root_der = root.self_signed();
    let ca = Ca::new("issuing");
    let leaf = Ca::new("leaf");
    let target = ca.issue(&leaf, Issue::signer(2, vec![]));
    let ca_cert = root.issue(&ca, Issue::ca(3));
    // 1,500 end-entity certificates in the pool (not intermediates) cost nothing.
    let mut pool: Vec<Vec<u8>> = (0..1_500)
        .map(|i| ca.issue(&leaf, Issue::signer(10_000 + i, vec![])))
        .collect();
    pool.push(ca_cert.clone());
    let r = timed("1,500 end entities", || {
        verify_certificate(&target, &path_policy(&root_der, pool))
    });
    assert!(r.is_valid(), "{}", show(&r));

    // 600 CA certificates exceed the pool budget (512).
    let other = Ca::new("other");
    let mut pool: Vec<Vec<u8>> = (0..600)
        .map(|i| root.issue(&other, Issue::ca(20_000 + i)))
        .collect();
    pool.push(ca_cert);
    let r = timed("600 CAs", || {
        verify_certificate(&target, &path_policy(&root_der, pool))
    });
    let (reason, sub) = path_check(&r);
    assert_eq!(sub, Some(SubIndication::CertificateChainGeneralFailure));
    assert!(
        reason.contains("work budget") && reason.contains("512"),
        "{reason}"
    );
}

#[test]
fn a_certificate_with_10000_extensions_gets_a_verdict() {
    let root = Ca::new("root");
    let root_der = root.self_signed();
    let leaf = Ca::new("leaf");
    let extra: Vec<Extension> = (0..10_000u32)
        .map(|i| Extension {
            extn_id: ObjectIdentifier::new(&format!("1.3.6.1.4.1.55555.{i}")).unwrap(),
            critical: false,
            extn_value: OctetString::new(vec![0x05, 0x00]).unwrap(),
        })
        .collect();
    let cert = root.issue(&leaf, Issue::signer(2, extra));
    assert!(cert.len() > 100_000);
    let r = timed("10,000 extensions", || {
        verify_certificate(&cert, &path_policy(&root_der, vec![]))
    });
    // Unknown non-critical extensions are ignored (RFC 5280 §4.2): the path validates.
    assert!(r.is_valid(), "{}", show(&r));

    // The same with the first unknown extension critical: refused, not ignored.
    let mut critical: Vec<Extension> = (0..10_000u32)
        .map(|i| Extension {
            extn_id: ObjectIdentifier::new(&format!("1.3.6.1.4.1.55555.{i}")).unwrap(),
            critical: false,
            extn_value: OctetString::new(vec![0x05, 0x00]).unwrap(),
        })
        .collect();
    critical[0].critical = true;
    let cert = root.issue(&leaf, Issue::signer(3, critical));
    let r = timed("10,000 extensions, one critical", || {
        verify_certificate(&cert, &path_policy(&root_der, vec![]))
    });
    assert!(!r.is_valid(), "{}", show(&r));
}

/// A real CAdES signature from the engine, as a `SignedData` to tamper with.
fn signature() -> (Vec<u8>, SignedData) {
    let s = signer("p256");
    let digest = DigestAlgorithm::for_key(&s.key).digest(b"discharge summary");
    let der = sign(&SignatureRequest {
        signing_time: SIGN_AT - 60,
        attached: Some(b"discharge summary"),
        ..sign_fixture::request(s, &digest)
    })
    .unwrap();
    let sd = ContentInfo::from_der(&der)
        .unwrap()
        .content
        .decode_as::<SignedData>()
        .unwrap();
    (der, sd)
}

fn encode(sd: &SignedData) -> Vec<u8> {
    ContentInfo {
        content_type: ca_core::oid::ID_SIGNED_DATA,
        content: Any::encode_from(sd).unwrap(),
    }
    .to_der()
    .unwrap()
}

fn cms_policy() -> Policy {
    let mut p = Policy::new(SIGN_AT);
    p.trust_anchors = vec![pki().root.clone()];
    p
}

#[test]
fn cms_with_thousands_of_signers_or_certificates() {
    let (good, sd) = signature();
    assert!(verify_bytes(&good, None, &cms_policy()).is_valid());
    let si = sd.signer_infos.0.get(0).unwrap().clone();
    // Signer infos made distinct (a SET OF has no duplicates) by their signature value.
    let signers = |n: usize| {
        let mut copy = sd.clone();
        let list: Vec<_> = (0..n)
            .map(|i| {
                let mut s = si.clone();
                s.signature = OctetString::new((i as u32).to_be_bytes().to_vec()).unwrap();
                s
            })
            .collect();
        copy.signer_infos = SignerInfos::try_from(list).unwrap();
        encode(&copy)
    };
    let r = timed("3,000 signers", || {
        verify_bytes(&signers(3_000), None, &cms_policy())
    });
    assert_eq!(r.sub_indication, Some(SubIndication::FormatFailure));
    assert!(show(&r).contains("too many signers"), "{}", show(&r));
    // 64 signers (the limit), each with a bad signature: every one gets its verdict.
    let r = timed("64 bad signers", || {
        verify_bytes(&signers(64), None, &cms_policy())
    });
    assert_eq!(r.signatures.len(), 64);
    assert!(
        r.signatures
            .iter()
            .all(|s| s.sub_indication == Some(SubIndication::SigCryptoFailure)),
        "{}",
        show(&r)
    );

    // Extra certificates (end entities of a foreign CA) ride along: 1,500 are fine, 3,000 are
    // refused as a whole (a cut set could drop the signer's certificate).
    let foreign = Ca::new("foreign");
    let leaf = Ca::new("leaf");
    let extra: Vec<CertificateChoices> = (0..3_000)
        .map(|i| {
            let der = foreign.issue(&leaf, Issue::signer(50_000 + i, vec![]));
            CertificateChoices::Certificate(x509_cert::Certificate::from_der(&der).unwrap())
        })
        .collect();
    let with = |n: usize| {
        let mut copy = sd.clone();
        let mut certs: Vec<CertificateChoices> = copy.certificates.take().unwrap().0.into_vec();
        certs.extend_from_slice(&extra[..n]);
        copy.certificates = Some(CertificateSet::try_from(certs).unwrap());
        encode(&copy)
    };
    let r = timed("1,500 certificates", || {
        verify_bytes(&with(1_500), None, &cms_policy())
    });
    assert!(r.is_valid(), "{}", show(&r));
    let r = timed("3,000 certificates", || {
        verify_bytes(&with(3_000), None, &cms_policy())
    });
    assert_eq!(r.sub_indication, Some(SubIndication::FormatFailure));
    assert!(show(&r).contains("too many certificates"), "{}", show(&r));
}

#[test]
fn huge_integers_in_a_signature_value() {
    #[derive(der::Sequence)]
    struct EcdsaSig<'a> {
        r: UintRef<'a>,
        s: UintRef<'a>,
    }
    let (_, mut sd) = signature();
    let big = vec![0x7f; 100_000];
    let value = EcdsaSig {
        r: UintRef::new(&big).unwrap(),
        s: UintRef::new(&big).unwrap(),
    }
    .to_der()
    .unwrap();
    let mut si = sd.signer_infos.0.get(0).unwrap().clone();
    si.signature = OctetString::new(value).unwrap();
    sd.signer_infos = SignerInfos::try_from(vec![si]).unwrap();
    let r = timed("huge integers", || {
        verify_bytes(&encode(&sd), None, &cms_policy())
    });
    assert_eq!(
        r.sub_indication,
        Some(SubIndication::SigCryptoFailure),
        "{}",
        show(&r)
    );
}

/// Broken length bytes (the one thing written by hand): too long, too short, indefinite where DER
/// forbids it, nested a hundred thousand deep, a 4 GiB claim.
#[test]
fn broken_lengths_and_deep_nesting_are_format_failures() {
    let (good, _) = signature();
    let cert = signer("p256").certificate.clone();
    let mut longer = cert.clone();
    // 30 82 hi lo: add one to the two-octet length.
    longer[3] = longer[3].wrapping_add(1);
    let mut shorter = cert.clone();
    shorter[3] = shorter[3].wrapping_sub(1);
    let mut indefinite = vec![0x30, 0x80];
    indefinite.extend_from_slice(&cert[4..]);
    indefinite.extend_from_slice(&[0, 0]);
    let huge_claim = [0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x02, 0x01, 0x00];
    let deep_indefinite = [0x30, 0x80].repeat(100_000);
    let mut deep_definite = Vec::new();
    for _ in 0..10_000 {
        deep_definite.insert(0, 0x30);
        let len = deep_definite.len() - 1;
        // Short-form lengths only while they fit; then a 4-octet long form.
        let enc: Vec<u8> = if len < 128 {
            vec![len as u8]
        } else {
            let mut v = vec![0x84];
            v.extend_from_slice(&(len as u32).to_be_bytes());
            v
        };
        deep_definite.splice(1..1, enc);
    }
    let cases: [(&str, &[u8]); 6] = [
        ("length one too long", &longer),
        ("length one too short", &shorter),
        ("indefinite length", &indefinite),
        ("4 GiB length", &huge_claim),
        ("100,000 nested indefinite", &deep_indefinite),
        ("10,000 nested definite", &deep_definite),
    ];
    let policy = cms_policy();
    for (what, bytes) in cases {
        timed(what, || {
            assert!(decode_certificates(bytes).is_err(), "{what}: certificate");
            assert!(decode_crls(bytes).is_err(), "{what}: CRL");
            assert!(SignedDocument::parse(bytes).is_err(), "{what}: CMS");
            let r = verify_certificate(bytes, &policy);
            assert_eq!(
                r.sub_indication,
                Some(SubIndication::FormatFailure),
                "{what}"
            );
            let r = verify_bytes(bytes, None, &policy);
            assert_eq!(
                r.sub_indication,
                Some(SubIndication::FormatFailure),
                "{what}"
            );
        });
    }
    // The CMS with its outer length broken.
    let mut cms = good.clone();
    cms[3] = cms[3].wrapping_add(1);
    let r = timed("CMS length", || verify_bytes(&cms, None, &policy));
    assert_eq!(r.sub_indication, Some(SubIndication::FormatFailure));
}
