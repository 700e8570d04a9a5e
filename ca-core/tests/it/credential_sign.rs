//! Signing with a credential, end to end: CMS out, commitment type = purpose OID, audit record
//! durable before the reply.

use crate::support::credential::*;
use ca_core::audit::AuditAction;
use ca_core::credential::{Credential, SignDocument, Signed};
use ca_core::key::KeyAlgorithm;
use ca_core::purpose::SigningPolicy;
use ca_core::sign::{DigestAlgorithm, DocumentHasher};
use ca_core::store::Store;
use ca_core::store::audit_verify;
use x509_cert::der::{Decode, Encode};

fn sign(
    env: &Env,
    cred: &Credential,
    purpose: &str,
    digest: &[u8],
    attached: Option<&[u8]>,
) -> Signed {
    let signer = env
        .authority
        .signer(&cred.id, &cred.owner, "api:token:abc", NOW + 60)
        .unwrap();
    env.authority
        .sign(
            &signer,
            &SigningPolicy::embedded().unwrap(),
            &SignDocument {
                digest,
                digest_algorithm: cred.digest_algorithm(),
                purpose,
                claimed_role: None,
                attached,
                level: ca_core::cades::Level::BB,
            },
            NOW + 60,
        )
        .wait()
        .unwrap()
}

fn hash(algorithm: DigestAlgorithm, data: &[u8]) -> Vec<u8> {
    let mut h = DocumentHasher::new(algorithm);
    h.update(data);
    h.finish()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn digest_lengths_match_ring() {
    for d in [
        DigestAlgorithm::Sha256,
        DigestAlgorithm::Sha384,
        DigestAlgorithm::Sha512,
    ] {
        assert_eq!(hash(d, b"x").len(), d.len());
    }
}

#[test]
fn doctor_signs_as_author_and_it_is_audited() {
    let env = env();
    let cred = doctor(&env, "dr-sato");
    let digest = sha256(b"Rp. amoxicillin 250 mg");
    let before = audit_len(&env);
    let signed = sign(&env, &cred, "author", &digest, None);

    assert_eq!(signed.serial, cred.serial);
    let info = cms::content_info::ContentInfo::from_der(&signed.cms).unwrap();
    assert_eq!(info.content_type, const_oid::db::rfc5911::ID_SIGNED_DATA);
    // commitment-type-indication carries the ASTM E1762 author OID; the signer's certificate is in.
    let author = const_oid::ObjectIdentifier::new_unwrap("1.2.840.10065.1.12.1.1")
        .to_der()
        .unwrap();
    assert!(contains(&signed.cms, &author));
    assert!(contains(&signed.cms, &cred.certificate));

    let log = env.authority.store().audit_log().unwrap();
    assert_eq!(log.len(), before + 1);
    let record = log.last().unwrap();
    assert_eq!(record.seq, signed.audit_seq);
    assert_eq!(record.event.action, AuditAction::Sign);
    assert_eq!(record.event.object, format!("credential:{}", cred.id));
    assert_eq!(record.event.time, NOW + 60);
    assert_eq!(record.event.actor, "api:token:abc");
    let d = &record.event.details;
    assert!(d.contains(&("serial".into(), hex::encode(&cred.serial))));
    assert!(d.contains(&("digest".into(), hex::encode(&digest))));
    assert!(d.contains(&("digest_algorithm".into(), "sha256".into())));
    assert!(d.contains(&("purpose".into(), "author".into())));
    assert!(d.contains(&("caller".into(), "dr-sato".into())));
    assert!(
        !format!("{d:?}").contains("amoxicillin"),
        "no content in audit"
    );
    audit_verify(env.authority.store()).unwrap();
}

/// `{:?}` of anything carrying a document shows its size, never its bytes: as text, as a Debug
/// byte list or as hex (a request or a parsed signature in a log must not leak patient data).
#[test]
fn debug_output_shows_no_document_content() {
    const CONTENT: &[u8] = b"Prescription: amoxicillin 500 mg, three times daily, 7 days.";
    let assert_hidden = |what: &str, debug: String| {
        let list = format!("{:?}", &CONTENT[..8]);
        for shown in [
            "amoxicillin".to_owned(),
            list[1..list.len() - 1].to_owned(),
            hex::encode(&CONTENT[..8]),
            hex::encode_upper(&CONTENT[..8]),
        ] {
            assert!(!debug.contains(&shown), "{what} shows {shown:?}: {debug}");
        }
    };
    let env = env();
    let cred = doctor(&env, "dr-sato");
    let digest = hash(cred.digest_algorithm(), CONTENT);
    let request = SignDocument {
        digest: &digest,
        digest_algorithm: cred.digest_algorithm(),
        purpose: "author",
        claimed_role: None,
        attached: Some(CONTENT),
        level: ca_core::cades::Level::BB,
    };
    assert_hidden("SignDocument", format!("{request:?}"));
    let signed = sign(&env, &cred, "author", &digest, Some(CONTENT));
    assert!(contains(&signed.cms, CONTENT), "attached");
    assert_hidden("Signed", format!("{signed:?}"));
    let params = ca_core::sign::SignatureParams {
        digest: &digest,
        signing_time: NOW,
        commitment_type: None,
        claimed_role: None,
        attached: Some(CONTENT),
    };
    assert_hidden("SignatureParams", format!("{params:?}"));
    let doc = ca_core::verify::SignedDocument::parse(&signed.cms).unwrap();
    let debug = format!("{doc:?}");
    assert_hidden("SignedDocument", debug.clone());
    // What it does show: the sizes and the signer count.
    assert!(debug.contains(&format!("{}", CONTENT.len())), "{debug}");
    assert!(debug.contains("signers: 1"), "{debug}");
}

#[test]
fn every_algorithm_signs_with_its_digest() {
    let env = env();
    for alg in [
        KeyAlgorithm::P256,
        KeyAlgorithm::P384,
        KeyAlgorithm::Ed25519,
    ] {
        let cred = person(&env, &format!("dr-{alg:?}"), "Medical Doctor", alg);
        let digest = hash(cred.digest_algorithm(), b"report");
        let signed = sign(&env, &cred, "verification", &digest, None);
        assert!(!signed.cms.is_empty(), "{alg:?}");
    }
}

#[test]
fn attached_signature_and_pharmacist_and_seal() {
    let env = env();
    let ph = person(&env, "ph", "Pharmacist", KeyAlgorithm::P256);
    let content = b"dispensed";
    let signed = sign(
        &env,
        &ph,
        "proof-of-receipt",
        &sha256(content),
        Some(content),
    );
    assert!(contains(&signed.cms, content));

    let org = seal(&env, "org");
    let signed = sign(&env, &org, "proof-of-origin", &sha256(b"letter"), None);
    let origin = const_oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.6.1")
        .to_der()
        .unwrap();
    assert!(contains(&signed.cms, &origin));
}

#[test]
fn repeated_signing_uses_the_cached_key_and_audits_each() {
    let env = env();
    let cred = doctor(&env, "dr");
    let before = audit_len(&env);
    let a = sign(&env, &cred, "author", &sha256(b"1"), None);
    let b = sign(&env, &cred, "review", &sha256(b"2"), None);
    assert_eq!(b.audit_seq, a.audit_seq + 1);
    assert_eq!(audit_len(&env), before + 2);
}
