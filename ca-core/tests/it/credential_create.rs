//! `Authority::create_credential`, `credential` and `credentials_of`: the key is generated in the
//! service, certified through the profile checks, sealed, and stored with one audit record; every
//! refusal writes nothing.

use crate::support::credential::*;
use ca_core::audit::AuditAction;
use ca_core::authority::AuthorityError;
use ca_core::credential::{ClientTextError, CredentialError, OwnerError};
use ca_core::issue::IssueError;
use ca_core::key::KeyAlgorithm;
use ca_core::profile::ProfileError;
use ca_core::sign::DigestAlgorithm;
use ca_core::store::Store;
use ca_core::store::audit_verify;
use x509_cert::Certificate;
use x509_cert::der::Decode;
use x509_cert::ext::pkix::{KeyUsage, KeyUsages};

#[test]
fn doctor_credential_is_certified_stored_and_audited() {
    let env = env();
    let before = audit_len(&env);
    let cred = doctor(&env, "dr-sato");

    assert!(cred.id.starts_with("cred_"), "{}", cred.id);
    assert_eq!(cred.id.len(), "cred_".len() + 16);
    assert_eq!(cred.owner, "dr-sato");
    assert_eq!(cred.profile, "rhp-sign");
    assert_eq!(cred.hc_roles, vec![jp("Medical Doctor")]);
    assert_eq!(cred.key_algorithm, KeyAlgorithm::P256);
    assert_eq!(cred.digest_algorithm(), DigestAlgorithm::Sha256);
    assert_eq!(cred.not_after, NOW + 365 * DAY);

    // The certificate: nonRepudiation only, our key, issued by the sign CA; chain sign → root.
    let cert = Certificate::from_der(&cred.certificate).unwrap();
    let (_, ku) = cert
        .tbs_certificate()
        .get_extension::<KeyUsage>()
        .unwrap()
        .unwrap();
    assert!(ku.0.contains(KeyUsages::NonRepudiation));
    assert!(!ku.0.contains(KeyUsages::DigitalSignature));
    assert_eq!(
        cert.tbs_certificate().serial_number().as_bytes(),
        cred.serial
    );
    let a = &env.authority;
    assert_eq!(
        cred.chain,
        vec![
            a.ca_certificate("sign").unwrap().to_vec(),
            a.ca_certificate("root").unwrap().to_vec()
        ]
    );

    // Stored: certificate record, credential record (key sealed), one audit record.
    let store = a.store();
    let record = store.certificate(&cred.serial).unwrap().unwrap();
    assert_eq!(record.profile, "rhp-sign");
    assert_eq!(record.issuer_ca, "sign");
    assert_eq!(record.der, cred.certificate);
    assert!(record.revocation.is_none());
    let stored = store.credential(&cred.id).unwrap().unwrap();
    assert_eq!(stored.owner, "dr-sato");
    assert_eq!(stored.serial, cred.serial);
    assert!(!stored.sealed_key.is_empty());
    assert_eq!(stored.created_at, NOW);

    let log = store.audit_log().unwrap();
    assert_eq!(
        log.len(),
        before + 1,
        "one record for certificate + credential"
    );
    let event = &log.last().unwrap().event;
    assert_eq!(event.action, AuditAction::CreateCredential);
    assert_eq!(event.object, format!("credential:{}", cred.id));
    assert_eq!(event.actor, ACTOR);
    assert_eq!(event.time, NOW);
    let detail = |k: &str| {
        event
            .details
            .iter()
            .filter(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(detail("owner"), ["dr-sato"]);
    assert_eq!(detail("profile"), ["rhp-sign"]);
    assert_eq!(detail("serial"), [hex::encode(&cred.serial)]);
    assert_eq!(detail("hc_role"), [format!("{JP}:Medical Doctor")]);
    assert_eq!(detail("issuer"), ["sign"]);
    // Never key material: no detail carries the sealed key or anything key-sized in hex.
    let sealed_hex = hex::encode(&stored.sealed_key);
    for (k, v) in &event.details {
        assert!(!sealed_hex.contains(v.as_str()) || v.len() < 16, "{k}={v}");
        assert!(v.len() < 200, "{k} is suspiciously long");
    }
    assert_eq!(audit_verify(store).unwrap(), log.len() as u64);
}

#[test]
fn lookups_return_the_same_view() {
    let env = env();
    let a = doctor(&env, "dr-a");
    let b = person(&env, "dr-a", "Pharmacist", KeyAlgorithm::P384);
    let other = doctor(&env, "dr-b");

    let got = env.authority.credential(&a.id).unwrap();
    assert_eq!(
        (
            &got.id,
            &got.certificate,
            &got.chain,
            &got.hc_roles,
            got.not_after
        ),
        (&a.id, &a.certificate, &a.chain, &a.hc_roles, a.not_after)
    );
    let mine = env.authority.credentials_of("dr-a").unwrap();
    let mut want = vec![a.id.clone(), b.id.clone()];
    want.sort();
    assert_eq!(mine.iter().map(|c| c.id.clone()).collect::<Vec<_>>(), want);
    assert!(mine.iter().all(|c| c.owner == "dr-a"));
    let theirs = env.authority.credentials_of("dr-b").unwrap();
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].id, other.id);
    assert!(env.authority.credentials_of("dr-").unwrap().is_empty());
    assert!(env.authority.credentials_of("").unwrap().is_empty());
    assert!(matches!(
        env.authority.credential("cred_0000000000000000"),
        Err(CredentialError::NotFound(_))
    ));
}

#[test]
fn every_generated_algorithm_gets_its_digest() {
    let env = env();
    for (alg, digest) in [
        (KeyAlgorithm::P256, DigestAlgorithm::Sha256),
        (KeyAlgorithm::P384, DigestAlgorithm::Sha384),
        (KeyAlgorithm::Ed25519, DigestAlgorithm::Sha512),
    ] {
        let cred = person(&env, &format!("dr-{alg:?}"), "Medical Doctor", alg);
        assert_eq!(cred.key_algorithm, alg);
        assert_eq!(cred.digest_algorithm(), digest);
        assert_eq!(DigestAlgorithm::for_algorithm(alg), digest);
    }
    assert_eq!(
        DigestAlgorithm::for_algorithm(KeyAlgorithm::Rsa),
        DigestAlgorithm::Sha256
    );
}

#[test]
fn organisation_seal_needs_no_role() {
    let env = env();
    let cred = seal(&env, "org:hospital");
    assert_eq!(cred.profile, "org-seal");
    assert!(cred.hc_roles.is_empty());
}

/// Runs a refused creation and checks nothing was written.
#[track_caller]
fn refused(env: &Env, request: &ca_core::credential::NewCredential) -> CredentialError {
    let audit = audit_len(env);
    let certs = env.authority.store().certificates().unwrap().len();
    let err = env
        .authority
        .create_credential(request, NOW, ACTOR)
        .expect_err("creation should be refused");
    assert_eq!(audit_len(env), audit, "refusal {err} wrote an audit record");
    assert_eq!(
        env.authority.store().certificates().unwrap().len(),
        certs,
        "refusal {err} stored a certificate"
    );
    assert!(
        env.authority
            .credentials_of(request.owner.as_deref().unwrap_or_default())
            .unwrap()
            .is_empty(),
        "refusal {err} stored a credential"
    );
    err
}

const DR: &str = "C=JP,O=hpki Test Hospital,CN=Hanako Sato,serialNumber=dr";

/// The owner is the practitioner identity mTLS maps the subject's serialNumber to (issue 12: a
/// ca-core decision, not the HTTP handler's): named, it must be that serialNumber; absent, it is
/// that; without either there is no owner; and it is printable text, as it enters the audit log.
#[test]
fn the_owner_is_the_subjects_practitioner_id() {
    let env = env();
    let with = |owner: Option<&str>, subject: &str| ca_core::credential::NewCredential {
        owner: owner.map(str::to_owned),
        ..request(
            "unused",
            registration("rhp-sign", subject, &["Medical Doctor"]),
            KeyAlgorithm::P256,
        )
    };
    let err = refused(&env, &with(Some("mallory"), DR));
    assert!(
        matches!(&err, CredentialError::Owner(OwnerError::Mismatch { given, subject })
            if given == "mallory" && subject == "dr"),
        "{err}"
    );
    let no_id = "C=JP,O=hpki Test Hospital,CN=Hanako Sato";
    let err = refused(&env, &with(None, no_id));
    assert!(
        matches!(err, CredentialError::Owner(OwnerError::Missing)),
        "{err}"
    );
    let err = refused(&env, &with(Some("dr\u{202E}x"), no_id));
    assert!(
        matches!(
            err,
            CredentialError::Owner(OwnerError::Text(ClientTextError::Forbidden { .. }))
        ),
        "{err}"
    );
    let long = "d".repeat(ca_core::credential::MAX_OWNER_LEN + 1);
    let err = refused(&env, &with(Some(&long), no_id));
    assert!(
        matches!(
            err,
            CredentialError::Owner(OwnerError::Text(ClientTextError::TooLong { .. }))
        ),
        "{err}"
    );
    // Absent: the subject's serialNumber.
    let cred = env
        .authority
        .create_credential(&with(None, DR), NOW, ACTOR)
        .unwrap();
    assert_eq!(cred.owner, "dr");
}

#[test]
fn authentication_profile_is_refused() {
    let env = env();
    let err = refused(
        &env,
        &request(
            "dr",
            registration("rhp-auth", DR, &["Medical Doctor"]),
            KeyAlgorithm::P256,
        ),
    );
    assert!(
        matches!(&err, CredentialError::NotSigningProfile(p) if p == "rhp-auth"),
        "{err}"
    );
    assert!(err.to_string().contains("nonRepudiation"), "{err}");
}

#[test]
fn ca_and_encryption_profiles_are_refused() {
    let env = env();
    for profile in ["sign-ca", "root-ca", "rhp-enc", "org-tls", "tsa"] {
        let err = refused(
            &env,
            &request("dr", registration(profile, DR, &[]), KeyAlgorithm::P256),
        );
        assert!(
            matches!(&err, CredentialError::NotSigningProfile(p) if p == profile),
            "{profile}: {err}"
        );
    }
}

#[test]
fn rsa_credentials_are_generated() {
    let env = env();
    let cred = person(&env, "dr-rsa", "Medical Doctor", KeyAlgorithm::Rsa);
    assert_eq!(cred.key_algorithm, KeyAlgorithm::Rsa);
    let cert = x509_cert::Certificate::from_der(&cred.certificate).unwrap();
    let params =
        ca_core::key::key_params(cert.tbs_certificate().subject_public_key_info()).unwrap();
    assert_eq!(params.bits, ca_core::key::RSA_GENERATED_BITS as u32);
}

#[test]
fn profile_rules_apply_as_at_issuance() {
    let env = env();
    fn violation(e: &CredentialError) -> bool {
        matches!(
            e,
            CredentialError::Authority(AuthorityError::Issue(IssueError::Violation(_)))
        )
    }
    fn unknown(e: &CredentialError) -> bool {
        matches!(
            e,
            CredentialError::Authority(AuthorityError::Profile(ProfileError::Unknown(_)))
        )
    }
    let no_roles: &[&str] = &[];
    for (profile, roles, expected) in [
        // rhp-sign makes hcRole mandatory.
        (
            "rhp-sign",
            no_roles,
            violation as fn(&CredentialError) -> bool,
        ),
        // A role outside the JP vocabulary.
        ("rhp-sign", &["Wizard"], violation),
        ("no-such", no_roles, unknown),
    ] {
        let err = refused(
            &env,
            &request("dr", registration(profile, DR, roles), KeyAlgorithm::P256),
        );
        assert!(expected(&err), "{profile} {roles:?}: {err}");
    }
}

#[test]
fn debug_output_shows_no_key_material() {
    let env = env();
    let cred = doctor(&env, "dr");
    let stored = env.authority.store().credential(&cred.id).unwrap().unwrap();
    let debug = format!("{stored:?}");
    assert!(!debug.contains(&hex::encode(&stored.sealed_key)), "{debug}");
    assert!(
        !debug.contains(&format!("{:?}", &stored.sealed_key[..8])),
        "{debug}"
    );
    assert!(debug.contains("sealed bytes"), "{debug}");
    assert!(!format!("{:?}", env.authority).contains("sealed"));
    // The CA records hold their sealed keys the same way.
    for id in ["root", "sign", "auth"] {
        let ca = env.authority.store().authority(id).unwrap().unwrap();
        let debug = format!("{ca:?}");
        assert!(!debug.contains(&hex::encode(&ca.sealed_key)), "{debug}");
        let list = format!("{:?}", &ca.sealed_key[..8]);
        assert!(!debug.contains(&list[1..list.len() - 1]), "{debug}");
        assert!(debug.contains("sealed bytes"), "{debug}");
    }
}

#[test]
fn issue_keeps_its_behaviour() {
    // `issue` now shares its checks with `create_credential`; a CSR is still required to prove
    // possession and is refused when malformed, with nothing written.
    let env = env();
    let before = audit_len(&env);
    let err = env
        .authority
        .issue(
            &registration("rhp-sign", DR, &["Medical Doctor"]),
            b"not a csr",
            NOW,
            ACTOR,
        )
        .unwrap_err();
    assert!(
        matches!(err, AuthorityError::Issue(IssueError::CsrMalformed(_))),
        "{err}"
    );
    assert_eq!(audit_len(&env), before);
}
