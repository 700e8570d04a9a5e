//! Refusals of `Authority::signer` and `Authority::sign`: each check returns before any key is used, and a refused
//! attempt on an existing credential writes one `sign_refused` audit record naming the reason
//! (issue 12 item 7), durable before the refusal returns. (Successful signing is in
//! `credential_sign.rs`.)

use crate::support::credential::*;
use crate::support::fresh_ca;
use ca_core::audit::{AuditAction, AuditRecord};
use ca_core::credential::{ClientTextError, Credential, CredentialError, SignDocument, Signed};
use ca_core::key::{KeyAlgorithm, SigningKey};
use ca_core::purpose::{PurposeError, SigningPolicy};
use ca_core::sign::{DigestAlgorithm, SignError};
use ca_core::store::audit_verify;
use ca_core::store::{CredentialRecord, RevocationReason, Store};

fn policy() -> SigningPolicy {
    SigningPolicy::embedded().unwrap()
}

/// A signing attempt: `document` with credential `credential`, opened by `caller`.
struct Attempt<'a> {
    credential: &'a str,
    caller: &'a str,
    document: SignDocument<'a>,
}

impl<'a> std::ops::Deref for Attempt<'a> {
    type Target = SignDocument<'a>;
    fn deref(&self) -> &SignDocument<'a> {
        &self.document
    }
}

impl std::ops::DerefMut for Attempt<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.document
    }
}

/// An author signature of a SHA-256 `digest` with credential `id`, asked for by `caller`.
fn by_id<'a>(id: &'a str, caller: &'a str, digest: &'a [u8]) -> Attempt<'a> {
    Attempt {
        credential: id,
        caller,
        document: SignDocument {
            digest,
            digest_algorithm: DigestAlgorithm::Sha256,
            purpose: "author",
            claimed_role: None,
            attached: None,
            level: ca_core::cades::Level::BB,
        },
    }
}

/// [`by_id`] with `cred`, its digest algorithm.
fn request<'a>(cred: &'a Credential, caller: &'a str, digest: &'a [u8]) -> Attempt<'a> {
    let mut attempt = by_id(&cred.id, caller, digest);
    attempt.digest_algorithm = cred.digest_algorithm();
    attempt
}

/// The one way to sign: open the credential, sign, wait for the audit record.
fn attempt(env: &Env, a: &Attempt<'_>, now: u64, actor: &str) -> Result<Signed, CredentialError> {
    let signer = env.authority.signer(a.credential, a.caller, actor, now)?;
    env.authority
        .sign(&signer, &policy(), &a.document, now)
        .wait()
}

/// The RA revokes `cred`'s certificate at `at`.
fn revoke(env: &Env, cred: &Credential, reason: RevocationReason, at: u64) {
    env.authority
        .revoke(&cred.serial, reason, None, at, "test:ra")
        .unwrap();
}

/// Signs `request` at `now` and expects a refusal: an attempt on an existing credential adds
/// exactly one `sign_refused` record (see [`refusal_record`]), an unknown credential none; the
/// chain still verifies, with the audit key too.
#[track_caller]
fn refused(env: &Env, request: &Attempt<'_>, now: u64) -> CredentialError {
    let before = audit_len(env);
    let err = attempt(env, request, now, "test:api").expect_err("signing should be refused");
    let log = env.authority.store().audit_log().unwrap();
    match err.refusal() {
        None => assert_eq!(log.len(), before, "refusal {err} wrote an audit record"),
        Some(refusal) => {
            assert_eq!(log.len(), before + 1, "refusal {err}: not one audit record");
            let record = refusal_record(&log[before..]);
            assert_eq!(
                record.event.object,
                format!("credential:{}", request.credential)
            );
            assert_eq!(detail(record, "reason"), Some(refusal.name()));
            assert_eq!(detail(record, "caller"), Some(request.caller));
        }
    }
    audit_verify(env.authority.store()).unwrap();
    env.authority.verify_audit(None).unwrap();
    err
}

/// The one `sign_refused` record among `new` ones, checked for what it must never hold.
#[track_caller]
fn refusal_record(new: &[AuditRecord]) -> &AuditRecord {
    let [record] = new else {
        panic!("expected one record: {new:?}")
    };
    assert_eq!(record.event.action, AuditAction::SignRefused);
    assert_eq!(record.event.actor, "test:api");
    assert!(record.mac.is_some(), "refusals are authenticated too");
    for (key, value) in &record.event.details {
        assert!(
            ["reason", "caller", "purpose"].contains(&key.as_str()),
            "unexpected detail {key}={value}"
        );
        assert!(!value.contains("Debug") && !value.contains('{'), "{value}");
    }
    record
}

fn detail<'a>(record: &'a AuditRecord, key: &str) -> Option<&'a str> {
    record
        .event
        .details
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The reason name (the audit vocabulary) of one refusal of each kind, and the purpose named
/// only when it is one of the policy's.
#[test]
fn refusals_are_audited_by_reason_name() {
    let env = env();
    let cred = doctor(&env, "dr");
    let pharmacist = person(&env, "ph", "Pharmacist", KeyAlgorithm::P256);
    let digest = sha256(b"doc");
    let short = vec![1u8; 20];
    let mut unknown = request(&cred, "dr", &digest);
    unknown.purpose = "authorship";
    let cases: [(Attempt<'_>, &str, Option<&str>); 4] = [
        (request(&cred, "mallory", &digest), "not_owner", None),
        (
            request(&pharmacist, "ph", &digest),
            "role_gate",
            Some("author"),
        ),
        (unknown, "unknown_purpose", None),
        (
            request(&cred, "dr", &short),
            "wrong_digest_length",
            Some("author"),
        ),
    ];
    for (req, reason, purpose) in cases {
        let before = audit_len(&env);
        refused(&env, &req, NOW);
        let log = env.authority.store().audit_log().unwrap();
        let record = refusal_record(&log[before..]);
        assert_eq!(detail(record, "reason"), Some(reason));
        assert_eq!(detail(record, "purpose"), purpose, "{reason}");
    }
    // A hold and a revocation are told apart.
    revoke(&env, &cred, RevocationReason::CertificateHold, NOW + 10);
    let err = refused(&env, &request(&cred, "dr", &digest), NOW + 20);
    assert!(
        matches!(&err, CredentialError::OnHold(id) if *id == cred.id),
        "{err}"
    );
    env.authority
        .release(&cred.serial, NOW + 30, "test:ra")
        .unwrap();
    revoke(&env, &cred, RevocationReason::KeyCompromise, NOW + 40);
    let err = refused(&env, &request(&cred, "dr", &digest), NOW + 50);
    assert_eq!(err.refusal().map(|r| r.name()), Some("revoked"));
}

#[test]
fn unknown_credential() {
    let env = env();
    let digest = sha256(b"doc");
    let err = refused(&env, &by_id("cred_ffffffffffffffff", "dr", &digest), NOW);
    assert!(
        matches!(&err, CredentialError::NotFound(id) if id == "cred_ffffffffffffffff"),
        "{err}"
    );
    // An oversized id is refused the same way, without echoing it whole.
    let long = "x".repeat(10_000);
    let err = refused(&env, &by_id(&long, "dr", &digest), NOW);
    assert!(matches!(err, CredentialError::NotFound(_)));
    assert!(err.to_string().len() < 200);
}

#[test]
fn not_owner() {
    let env = env();
    let cred = doctor(&env, "dr-sato");
    let digest = sha256(b"doc");
    let err = refused(&env, &request(&cred, "dr-suzuki", &digest), NOW);
    assert!(
        matches!(&err, CredentialError::NotOwner(id) if *id == cred.id),
        "{err}"
    );
    // Owner comparison is exact.
    let err = refused(&env, &request(&cred, "DR-SATO", &digest), NOW);
    assert!(matches!(err, CredentialError::NotOwner(_)), "{err}");
}

#[test]
fn revoked_certificate() {
    let env = env();
    let cred = doctor(&env, "dr");
    revoke(&env, &cred, RevocationReason::KeyCompromise, NOW + 10);
    let digest = sha256(b"doc");
    let err = refused(&env, &request(&cred, "dr", &digest), NOW + 20);
    assert!(
        matches!(&err, CredentialError::Revoked(id) if *id == cred.id),
        "{err}"
    );
}

#[test]
fn expired_and_not_yet_valid() {
    let env = env();
    let cred = doctor(&env, "dr");
    let digest = sha256(b"doc");
    for now in [cred.not_after + 1, cred.not_after + 365 * DAY, NOW - 1, 0] {
        let err = refused(&env, &request(&cred, "dr", &digest), now);
        assert!(
            matches!(&err, CredentialError::OutOfValidity(id) if *id == cred.id),
            "at {now}: {err}"
        );
    }
}

#[test]
fn wrong_digest_algorithm() {
    let env = env();
    let cred = doctor(&env, "dr"); // P-256: SHA-256
    let digest = vec![0u8; 48];
    let mut req = request(&cred, "dr", &digest);
    req.digest_algorithm = DigestAlgorithm::Sha384;
    let err = refused(&env, &req, NOW);
    assert!(
        matches!(
            err,
            CredentialError::DigestAlgorithm {
                want: DigestAlgorithm::Sha256,
                got: DigestAlgorithm::Sha384
            }
        ),
        "{err}"
    );

    let cred = person(&env, "dr-384", "Medical Doctor", KeyAlgorithm::P384);
    let digest = sha256(b"doc");
    let mut req = request(&cred, "dr-384", &digest);
    req.digest_algorithm = DigestAlgorithm::Sha256;
    let err = refused(&env, &req, NOW);
    assert!(
        matches!(
            err,
            CredentialError::DigestAlgorithm {
                want: DigestAlgorithm::Sha384,
                got: DigestAlgorithm::Sha256
            }
        ),
        "{err}"
    );
}

#[test]
fn wrong_digest_length() {
    let env = env();
    let cred = doctor(&env, "dr");
    for len in [0usize, 20, 31, 33, 64, 100_000] {
        let digest = vec![7u8; len];
        let err = refused(&env, &request(&cred, "dr", &digest), NOW);
        assert!(
            matches!(
                err,
                CredentialError::Sign(SignError::DigestLength {
                    algorithm: DigestAlgorithm::Sha256,
                    got,
                    want: 32
                }) if got == len
            ),
            "{len}: {err}"
        );
    }
}

#[test]
fn pharmacist_may_not_sign_as_author() {
    let env = env();
    let cred = person(&env, "ph", "Pharmacist", KeyAlgorithm::P256);
    let digest = sha256(b"prescription");
    let err = refused(&env, &request(&cred, "ph", &digest), NOW);
    assert_eq!(
        match err {
            CredentialError::Purpose(e) => e,
            other => panic!("{other}"),
        },
        PurposeError::Forbidden {
            role: format!("{JP}:Pharmacist"),
            purpose: "author".into()
        }
    );
}

#[test]
fn seal_may_not_sign_as_author() {
    let env = env();
    let cred = seal(&env, "org");
    let digest = sha256(b"letter");
    let err = refused(&env, &request(&cred, "org", &digest), NOW);
    let msg = err.to_string();
    assert!(
        matches!(
            &err,
            CredentialError::Purpose(PurposeError::Forbidden { role, purpose })
                if role == "(no hcRole)" && purpose == "author"
        ),
        "{msg}"
    );
    assert!(
        msg.contains("(no hcRole)") && msg.contains("author"),
        "{msg}"
    );
}

#[test]
fn unknown_purpose() {
    let env = env();
    let cred = doctor(&env, "dr");
    let digest = sha256(b"doc");
    for purpose in ["authorship", "", "Author", "1.2.840.10065.1.12.1.1"] {
        let mut req = request(&cred, "dr", &digest);
        req.purpose = purpose;
        let err = refused(&env, &req, NOW);
        assert_eq!(
            match err {
                CredentialError::Purpose(e) => e,
                other => panic!("{other}"),
            },
            PurposeError::Unknown(purpose.into())
        );
    }
}

#[test]
fn order_of_checks_owner_before_state() {
    // A stranger learns nothing about a revoked credential's state.
    let env = env();
    let cred = doctor(&env, "dr");
    revoke(&env, &cred, RevocationReason::Superseded, NOW);
    let digest = sha256(b"doc");
    let err = refused(&env, &request(&cred, "mallory", &digest), NOW);
    assert!(matches!(err, CredentialError::NotOwner(_)), "{err}");
}

/// A credential record pointing at an authentication certificate cannot be made through
/// `create_credential`; plant one in the store to show signing refuses it anyway.
#[test]
fn authentication_certificate_never_signs() {
    let env = env();
    let key = SigningKey::generate(KeyAlgorithm::P256).unwrap();
    let csr = fresh_ca::csr(&key);
    let issued = env
        .authority
        .issue(
            &registration(
                "rhp-auth",
                "C=JP,O=hpki Test Hospital,CN=Auth User,serialNumber=T-9",
                &["Medical Doctor"],
            ),
            &csr,
            NOW,
            ACTOR,
        )
        .unwrap();
    let store = env.authority.store();
    let mut cert = store.certificate(&issued.serial).unwrap().unwrap();
    cert.serial = vec![0x42; 16]; // a fresh record for the same (auth) certificate
    let planted = CredentialRecord {
        id: "cred_aaaaaaaaaaaaaaaa".into(),
        owner: "dr".into(),
        serial: cert.serial.clone(),
        profile: "rhp-auth".into(),
        sealed_key: vec![1; 64],
        created_at: NOW,
        pkcs11: None,
    };
    let planted_event = ca_core::audit::AuditEvent {
        time: NOW,
        actor: "test".into(),
        action: ca_core::audit::AuditAction::CreateCredential,
        object: "credential:cred_aaaaaaaaaaaaaaaa".into(),
        details: vec![],
    };
    store
        .insert_credential(&cert, &planted, planted_event.clone())
        .unwrap();
    let digest = sha256(b"doc");
    let err = refused(&env, &by_id("cred_aaaaaaaaaaaaaaaa", "dr", &digest), NOW);
    assert!(
        matches!(&err, CredentialError::NotSigningProfile(p) if p == "rhp-auth"),
        "{err}"
    );

    // Same certificate under a record claiming a signing profile: the certificate's own
    // keyUsage (digitalSignature, no nonRepudiation) still refuses it.
    let mut cert2 = cert.clone();
    cert2.serial = vec![0x43; 16];
    let mut lying = planted.clone();
    lying.id = "cred_bbbbbbbbbbbbbbbb".into();
    lying.serial = cert2.serial.clone();
    lying.profile = "rhp-sign".into();
    store
        .insert_credential(&cert2, &lying, planted_event)
        .unwrap();
    let err = refused(&env, &by_id("cred_bbbbbbbbbbbbbbbb", "dr", &digest), NOW);
    assert!(
        matches!(err, CredentialError::NotSigningProfile(_)),
        "{err}"
    );
}

#[test]
fn errors_name_no_secrets() {
    let env = env();
    let cred = doctor(&env, "dr");
    let stored = env.authority.store().credential(&cred.id).unwrap().unwrap();
    let digest = sha256(b"doc");
    let err = refused(&env, &request(&cred, "eve", &digest), NOW);
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(
            !text.contains(&hex::encode(&stored.sealed_key[..16])),
            "{text}"
        );
    }
}

/// Issue 12 item 8 (NUL and U+202E fail on main, which signed them): a claimed role is signed and
/// audited, so it is bounded and holds no control or bidirectional-formatting character.
#[test]
fn claimed_role_must_be_bounded_printable_text() {
    let env = env();
    let cred = doctor(&env, "dr");
    let digest = sha256(b"doc");
    let audit = audit_len(&env);
    let long = "attending physician ".repeat(100);
    for (role, want) in [
        (
            long.as_str(),
            ClientTextError::TooLong {
                field: "claimed_role",
                len: long.len(),
                max: ca_core::credential::MAX_CLAIMED_ROLE_LEN,
            },
        ),
        (
            "nurse\0attending physician",
            ClientTextError::Forbidden {
                field: "claimed_role",
                code: 0,
                index: 5,
            },
        ),
        (
            "physician \u{202E}tsigoloidar",
            ClientTextError::Forbidden {
                field: "claimed_role",
                code: 0x202E,
                index: 10,
            },
        ),
        (
            "physician\nrole: radiologist",
            ClientTextError::Forbidden {
                field: "claimed_role",
                code: 0x0A,
                index: 9,
            },
        ),
    ] {
        let mut req = request(&cred, "dr", &digest);
        req.claimed_role = Some(role);
        let err = refused(&env, &req, NOW);
        assert!(
            matches!(&err, CredentialError::ClientText(e) if *e == want),
            "{role:?}: {err}"
        );
        assert!(err.to_string().starts_with("claimed_role "), "{err}");
    }
    let log = env.authority.store().audit_log().unwrap();
    assert_eq!(log.len(), audit + 4, "each refusal is audited");
    for record in &log[audit..] {
        assert_eq!(detail(record, "reason"), Some("invalid_claimed_role"));
        // The refused role itself is never written.
        assert!(
            record
                .event
                .details
                .iter()
                .all(|(k, _)| k != "claimed_role"),
            "{record:?}"
        );
    }
    // Printable text in any script is signed.
    let mut req = request(&cred, "dr", &digest);
    req.claimed_role = Some("主治医 attending physician (Ärztin)");
    attempt(&env, &req, NOW, ACTOR).unwrap();
}

#[test]
fn revoked_after_signing_does_not_sign_again() {
    // The first signature caches the loaded credential; the revocation must still be seen, and
    // the cached owner must still be checked against each caller.
    let env = env();
    let cred = doctor(&env, "dr");
    let digest = sha256(b"doc");
    attempt(&env, &request(&cred, "dr", &digest), NOW, "test:api").unwrap();
    let err = refused(&env, &request(&cred, "DR-SATO", &digest), NOW);
    assert!(matches!(err, CredentialError::NotOwner(_)), "{err}");
    // The cache-only lookup of the HTTP handler: the owner gets it, a stranger is refused, an
    // id never loaded is not answered from the cache.
    // (A stranger gets nothing from the cache: `signer` refuses and audits.)
    let cached = env.authority.cached_signer(&cred.id, "dr", "test:api");
    assert_eq!(
        cached.map(|s| s.credential().to_owned()),
        Some(cred.id.clone())
    );
    let stranger = env.authority.cached_signer(&cred.id, "DR-SATO", "test:api");
    assert!(stranger.is_none());
    assert!(
        env.authority
            .cached_signer("cred_0000000000000000", "dr", "test:api")
            .is_none()
    );
    env.authority
        .revoke(
            &cred.serial,
            RevocationReason::KeyCompromise,
            None,
            NOW + 10,
            "test:ra",
        )
        .unwrap();
    let err = refused(&env, &request(&cred, "dr", &digest), NOW + 20);
    assert!(
        matches!(&err, CredentialError::Revoked(id) if *id == cred.id),
        "{err}"
    );
}

#[test]
fn revoked_after_loading_does_not_sign() {
    // The streaming path loads the credential before the body arrives and signs with it after:
    // a revocation in between must still refuse, with its refusal record.
    let env = env();
    let cred = doctor(&env, "dr");
    let signer = env
        .authority
        .signer(&cred.id, "dr", "test:api", NOW)
        .unwrap();
    assert_eq!(signer.digest_algorithm(), cred.digest_algorithm());
    revoke(&env, &cred, RevocationReason::KeyCompromise, NOW + 10);
    let digest = sha256(b"doc");
    let before = audit_len(&env);
    let err = env
        .authority
        .sign(
            &signer,
            &policy(),
            &request(&cred, "dr", &digest).document,
            NOW + 20,
        )
        .wait()
        .expect_err("a credential revoked after loading must not sign");
    assert!(
        matches!(&err, CredentialError::Revoked(id) if *id == cred.id),
        "{err}"
    );
    let log = env.authority.store().audit_log().unwrap();
    assert_eq!(
        detail(refusal_record(&log[before..]), "reason"),
        Some("revoked")
    );
}

#[test]
fn a_signer_signs_with_its_own_credential_for_its_owner() {
    let env = env();
    let a = doctor(&env, "dr-a");
    let b = doctor(&env, "dr-b");
    let before = audit_len(&env);
    assert!(matches!(
        env.authority.signer(&a.id, "dr-b", "test:api", NOW),
        Err(CredentialError::NotOwner(_))
    ));
    let log = env.authority.store().audit_log().unwrap();
    let record = refusal_record(&log[before..]);
    assert_eq!(record.event.object, format!("credential:{}", a.id));
    assert_eq!(detail(record, "caller"), Some("dr-b"));
    let signer = env
        .authority
        .signer(&a.id, "dr-a", "test:ra-token", NOW)
        .unwrap();
    assert_eq!(signer.credential(), a.id);
    let digest = sha256(b"doc");
    // Whatever document it is given, the signer signs with its credential, and the audit
    // record names its opener.
    let signed = env
        .authority
        .sign(
            &signer,
            &policy(),
            &request(&b, "dr-b", &digest).document,
            NOW,
        )
        .wait()
        .unwrap();
    assert_eq!(signed.serial, a.serial);
    let log = env.authority.store().audit_log().unwrap();
    let record = log.last().unwrap();
    assert_eq!(record.event.object, format!("credential:{}", a.id));
    assert_eq!(record.event.actor, "test:ra-token");
    assert_eq!(detail(record, "caller"), Some("dr-a"));
}
