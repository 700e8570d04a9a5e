//! Suspension (issue 12 item 4): certificateHold lists a certificate on the full CRL and stops its
//! credential; release takes it off the next CRL and the credential signs again. removeFromCRL
//! (a delta-CRL marker, RFC 5280 §5.3.1) is refused as a revocation reason.

use crate::support::credential::*;
use ca_core::audit::AuditAction;
use ca_core::authority::AuthorityError;
use ca_core::credential::{CredentialError, SignDocument};
use ca_core::purpose::SigningPolicy;
use ca_core::store::audit_verify;
use ca_core::store::{RevocationReason, Store, StoreError};
use std::path::Path;
use std::process::{Command, Output};

fn openssl(args: &[&str]) -> Output {
    Command::new("openssl").args(args).output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Writes `der` as PEM (`kind`: x509 or crl) to `dir/name` and returns the path.
fn pem(dir: &Path, name: &str, kind: &str, der: &[u8]) -> String {
    let der_path = dir.join(format!("{name}.der"));
    std::fs::write(&der_path, der).unwrap();
    let pem_path = dir.join(format!("{name}.pem"));
    let out = openssl(&[
        kind,
        "-inform",
        "DER",
        "-in",
        der_path.to_str().unwrap(),
        "-out",
        pem_path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    pem_path.to_str().unwrap().to_owned()
}

fn last_action(env: &Env) -> AuditAction {
    let log = env.authority.store().audit_log().unwrap();
    log.last().unwrap().event.action
}

#[test]
fn held_is_on_the_crl_and_released_is_not() {
    let env = env();
    let cred = doctor(&env, "dr");
    let dir = env.dir.path();
    let root = pem(
        dir,
        "root",
        "x509",
        env.authority.ca_certificate("root").unwrap(),
    );
    let sign = pem(
        dir,
        "sign",
        "x509",
        env.authority.ca_certificate("sign").unwrap(),
    );
    let leaf = pem(dir, "leaf", "x509", &cred.certificate);
    // OpenSSL checks validity at this time (the CRL's thisUpdate is NOW + 20 or later).
    let at = (NOW + DAY).to_string();
    let verify = |crl: &str| {
        openssl(&[
            "verify",
            "-no-CAfile",
            "-no-CApath",
            "-attime",
            &at,
            "-crl_check",
            "-CAfile",
            &root,
            "-untrusted",
            &sign,
            "-CRLfile",
            crl,
            &leaf,
        ])
    };

    env.authority
        .revoke(
            &cred.serial,
            RevocationReason::CertificateHold,
            None,
            NOW + 10,
            ACTOR,
        )
        .unwrap();
    assert_eq!(last_action(&env), AuditAction::Hold);
    let log = env.authority.store().audit_log().unwrap();
    assert!(
        log.last()
            .unwrap()
            .event
            .details
            .contains(&("reason".to_owned(), "certificateHold".to_owned())),
        "the RFC 5280 name, not Debug output: {:?}",
        log.last()
    );
    let stored = env.authority.store().certificate(&cred.serial).unwrap();
    assert_eq!(
        stored.unwrap().revocation.unwrap().reason,
        RevocationReason::CertificateHold
    );
    let crl = pem(
        dir,
        "held",
        "crl",
        &env.authority.crl("sign", NOW + 20, ACTOR).unwrap(),
    );
    let listing = openssl(&["crl", "-in", &crl, "-noout", "-text"]);
    let listing = text(&listing);
    assert!(listing.contains("Certificate Hold"), "{listing}");
    assert!(
        listing.contains(&hex::encode_upper(&cred.serial)),
        "{listing}"
    );
    let out = verify(&crl);
    assert!(!out.status.success());
    assert!(text(&out).contains("certificate revoked"), "{}", text(&out));

    env.authority
        .release(&cred.serial, NOW + 30, ACTOR)
        .unwrap();
    assert_eq!(last_action(&env), AuditAction::Release);
    let stored = env.authority.store().certificate(&cred.serial).unwrap();
    assert_eq!(stored.unwrap().revocation, None);
    assert!(env.authority.store().revoked("sign").unwrap().is_empty());
    let crl = pem(
        dir,
        "released",
        "crl",
        &env.authority.crl("sign", NOW + 40, ACTOR).unwrap(),
    );
    let listing = text(&openssl(&["crl", "-in", &crl, "-noout", "-text"]));
    assert!(listing.contains("No Revoked Certificates"), "{listing}");
    let out = verify(&crl);
    assert!(out.status.success(), "{}", text(&out));
    audit_verify(env.authority.store()).unwrap();
}

#[test]
fn remove_from_crl_is_not_a_revocation_reason() {
    let env = env();
    let cred = doctor(&env, "dr");
    let before = audit_len(&env);
    let err = env
        .authority
        .revoke(
            &cred.serial,
            RevocationReason::RemoveFromCrl,
            None,
            NOW + 10,
            ACTOR,
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            AuthorityError::Store(StoreError::RemoveFromCrlNotAReason)
        ),
        "{err}"
    );
    assert!(err.to_string().contains("release"), "{err}");
    assert_eq!(audit_len(&env), before);
    assert!(env.authority.store().revoked("sign").unwrap().is_empty());
}

#[test]
fn only_a_held_certificate_is_released_and_a_hold_may_become_a_revocation() {
    let env = env();
    let cred = doctor(&env, "dr");
    let not_on_hold = |env: &Env| {
        let before = audit_len(env);
        let err = env
            .authority
            .release(&cred.serial, NOW + 50, ACTOR)
            .unwrap_err();
        assert!(
            matches!(&err, AuthorityError::Store(StoreError::NotOnHold(s)) if *s == hex::encode(&cred.serial)),
            "{err}"
        );
        assert_eq!(audit_len(env), before);
    };
    not_on_hold(&env);
    let revoke = |reason, at| env.authority.revoke(&cred.serial, reason, None, at, ACTOR);
    revoke(RevocationReason::CertificateHold, NOW + 10).unwrap();
    // Held twice: already revoked.
    assert!(matches!(
        revoke(RevocationReason::CertificateHold, NOW + 15),
        Err(AuthorityError::Store(StoreError::AlreadyRevoked(_)))
    ));
    // The suspended practitioner's key is compromised: the hold becomes a revocation for good.
    revoke(RevocationReason::KeyCompromise, NOW + 20).unwrap();
    assert_eq!(last_action(&env), AuditAction::Revoke);
    let revoked = env.authority.store().revoked("sign").unwrap();
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].1.reason, RevocationReason::KeyCompromise);
    not_on_hold(&env);
}

#[test]
fn held_credential_does_not_sign_until_released() {
    let env = env();
    let cred = doctor(&env, "dr");
    let policy = SigningPolicy::embedded().unwrap();
    let digest = sha256(b"doc");
    let request = SignDocument {
        digest: &digest,
        digest_algorithm: cred.digest_algorithm(),
        purpose: "author",
        claimed_role: None,
        attached: None,
        level: ca_core::cades::Level::BB,
    };
    let sign = |now| {
        let signer = env.authority.signer(&cred.id, "dr", "test:api", now)?;
        env.authority.sign(&signer, &policy, &request, now).wait()
    };
    // Signed once first, so the loaded credential is cached when the hold comes.
    sign(NOW).unwrap();
    env.authority
        .revoke(
            &cred.serial,
            RevocationReason::CertificateHold,
            None,
            NOW + 10,
            ACTOR,
        )
        .unwrap();
    let err = sign(NOW + 20).unwrap_err();
    // A hold is told apart from a revocation, to the caller and in the refusal's audit record.
    assert!(
        matches!(&err, CredentialError::OnHold(id) if *id == cred.id),
        "{err}"
    );
    assert!(err.to_string().contains("on hold"), "{err}");
    let last = env.authority.store().audit_log().unwrap().pop().unwrap();
    assert!(
        last.event
            .details
            .contains(&("reason".to_owned(), "on_hold".to_owned())),
        "{last:?}"
    );
    env.authority
        .release(&cred.serial, NOW + 30, ACTOR)
        .unwrap();
    sign(NOW + 40).unwrap();
}
