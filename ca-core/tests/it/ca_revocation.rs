//! A subordinate CA is revoked like any certificate, on its issuer's CRL (RFC 5280 §5.3): init
//! records the sub-CA certificates in the inventory; once one is revoked the root's CRL lists it,
//! it issues nothing more, its credentials no longer sign, and a signature made under it before
//! no longer validates for a relying party holding the root's CRL.

use crate::support::credential::*;
use crate::support::fresh_ca;
use ca_core::authority::AuthorityError;
use ca_core::credential::{CredentialError, SignDocument};
use ca_core::key::KeyAlgorithm;
use ca_core::purpose::SigningPolicy;
use ca_core::store::{RevocationReason, Store, StoreError};
use ca_core::verify::{Indication, Policy, SubIndication, verify_bytes};
use x509_cert::crl::CertificateList;
use x509_cert::der::Decode;

const DOC: &[u8] = b"discharge summary";

fn sign_at(env: &Env, id: &str, owner: &str, at: u64) -> Result<Vec<u8>, CredentialError> {
    let signer = env.authority.signer(id, owner, ACTOR, at)?;
    env.authority
        .sign(
            &signer,
            &SigningPolicy::embedded().unwrap(),
            &SignDocument {
                digest: &sha256(DOC),
                digest_algorithm: ca_core::sign::DigestAlgorithm::Sha256,
                purpose: "author",
                claimed_role: None,
                attached: None,
                level: ca_core::cades::Level::BB,
            },
            at,
        )
        .wait()
        .map(|s| s.cms)
}

fn crl_serials(der: &[u8]) -> Vec<Vec<u8>> {
    let crl: CertificateList = CertificateList::from_der(der).unwrap();
    crl.tbs_cert_list
        .revoked_certificates
        .unwrap_or_default()
        .iter()
        .map(|r| r.serial_number.as_bytes().to_vec())
        .collect()
}

fn relying_party(env: &Env, at: u64, crls: Vec<Vec<u8>>) -> Policy {
    let mut p = Policy::new(at);
    p.trust_anchors = vec![env.authority.ca_certificate("root").unwrap().to_vec()];
    p.cert_pool = vec![env.authority.ca_certificate("sign").unwrap().to_vec()];
    p.crls = crls;
    p
}

#[test]
fn a_revoked_sub_ca_is_listed_by_the_root_and_stops_issuing_and_signing() {
    let env = env();
    let store = env.authority.store();

    // The inventory holds both sub-CAs, issued by the root; the root itself is an anchor, not
    // a revocable certificate.
    let cas: Vec<_> = store
        .certificates()
        .unwrap()
        .into_iter()
        .filter(|r| r.issuer_ca == "root")
        .collect();
    assert_eq!(cas.len(), 2, "{cas:?}");
    for id in ["sign", "auth"] {
        let der = env.authority.ca_certificate(id).unwrap();
        assert!(
            cas.iter().any(|r| r.der == der),
            "CA {id} not in the inventory"
        );
    }
    let sign_ca = cas
        .iter()
        .find(|r| r.der == env.authority.ca_certificate("sign").unwrap())
        .unwrap()
        .clone();

    let doctor = doctor(&env, "DR-1");
    let before = sign_at(&env, &doctor.id, "DR-1", NOW + 60).unwrap();
    let first_crls = vec![
        env.authority.crl("root", NOW + 60, ACTOR).unwrap(),
        env.authority.crl("sign", NOW + 60, ACTOR).unwrap(),
    ];
    let report = verify_bytes(
        &before,
        Some(DOC),
        &relying_party(&env, NOW + 120, first_crls),
    );
    assert_eq!(report.indication, Indication::TotalPassed, "{report:?}");

    let audit = audit_len(&env);
    env.authority
        .revoke(
            &sign_ca.serial,
            RevocationReason::KeyCompromise,
            None,
            NOW + 600,
            ACTOR,
        )
        .unwrap();
    assert_eq!(audit_len(&env), audit + 1, "the revocation is audited");
    assert!(matches!(
        env.authority.revoke(
            &sign_ca.serial,
            RevocationReason::KeyCompromise,
            None,
            NOW + 601,
            ACTOR
        ),
        Err(AuthorityError::Store(StoreError::AlreadyRevoked(_)))
    ));

    let root_crl = env.authority.crl("root", NOW + 700, ACTOR).unwrap();
    assert_eq!(crl_serials(&root_crl), vec![sign_ca.serial.clone()]);

    // The revoked CA issues nothing: neither from a CSR-less credential nor for signing.
    let audit = audit_len(&env);
    let certificates = store.certificates().unwrap().len();
    let refused = env.authority.create_credential(
        &request(
            "DR-2",
            registration(
                "rhp-sign",
                "C=JP,O=hpki Test Hospital,CN=DR-2,serialNumber=DR-2",
                &["Medical Doctor"],
            ),
            KeyAlgorithm::P256,
        ),
        NOW + 700,
        ACTOR,
    );
    assert!(
        matches!(refused, Err(CredentialError::Authority(AuthorityError::CaRevoked(ref id))) if id == "sign"),
        "{refused:?}"
    );
    let refused = sign_at(&env, &doctor.id, "DR-1", NOW + 700);
    assert!(
        matches!(refused, Err(CredentialError::CaRevoked { ref ca, .. }) if ca == "sign"),
        "{refused:?}"
    );
    // The issuance refusal writes nothing; the signing attempt is a `sign_refused` record.
    let log = store.audit_log().unwrap();
    assert_eq!(
        log.len(),
        audit + 1,
        "one record: the refused signing attempt"
    );
    assert_eq!(
        log[audit].event.action,
        ca_core::audit::AuditAction::SignRefused
    );
    assert!(
        log[audit]
            .event
            .details
            .contains(&("reason".to_owned(), "ca_revoked".to_owned())),
        "{:?}",
        log[audit]
    );
    assert_eq!(store.certificates().unwrap().len(), certificates);

    // The authentication CA is not under the revoked one and stays usable.
    env.authority.check_ca_chain("auth").unwrap();
    env.authority.check_ca_chain("root").unwrap();
    assert!(matches!(
        env.authority.check_ca_chain("sign"),
        Err(AuthorityError::CaRevoked(ref id)) if id == "sign"
    ));

    // A relying party with the root's new CRL refuses what the CA's signer made before.
    let crls = vec![
        root_crl,
        env.authority.crl("sign", NOW + 700, ACTOR).unwrap(),
    ];
    let report = verify_bytes(&before, Some(DOC), &relying_party(&env, NOW + 800, crls));
    assert_eq!(report.indication, Indication::TotalFailed, "{report:?}");
    assert_eq!(
        report.sub_indication,
        Some(SubIndication::Revoked),
        "{report:?}"
    );
}

fn crl_number(der: &[u8]) -> u64 {
    let crl: CertificateList = CertificateList::from_der(der).unwrap();
    let ext = crl
        .tbs_cert_list
        .crl_extensions
        .unwrap()
        .into_iter()
        .find(|e| e.extn_id == const_oid::db::rfc5280::ID_CE_CRL_NUMBER)
        .unwrap();
    let n = x509_cert::ext::pkix::CrlNumber::from_der(ext.extn_value.as_bytes()).unwrap();
    u64::try_from(
        n.0.as_bytes()
            .iter()
            .fold(0u128, |a, b| a << 8 | u128::from(*b)),
    )
    .unwrap()
}

/// Issue 12 item 6: reading the current CRL re-signs it only when due (half its validity has
/// passed) or a revocation made it stale, so unauthenticated reads burn no CRL numbers.
#[test]
fn the_current_crl_is_re_signed_only_when_due_or_stale() {
    let env = env();
    let read = |at: u64, stale: bool| env.authority.current_crl("sign", at, ACTOR, stale).unwrap();
    let first = read(NOW + 60, false);
    let audit = audit_len(&env);
    assert_eq!(read(NOW + 61, false), first);
    assert_eq!(read(NOW + 60 + 3 * DAY, false), first);
    assert_eq!(audit_len(&env), audit, "a served CRL is no audit event");
    let due = read(NOW + 60 + 7 * DAY / 2, false);
    assert_eq!(crl_number(&due), crl_number(&first) + 1);
    let stale = read(NOW + 60 + 7 * DAY / 2 + 1, true);
    assert_eq!(crl_number(&stale), crl_number(&due) + 1);
    assert_eq!(read(NOW + 60 + 7 * DAY / 2 + 2, false), stale);
}

/// Issue 12 item 6 (fails on main, which accepted it): a CRL valid for 0 days is refused at init.
#[test]
fn init_refuses_a_crl_validity_of_zero_days() {
    let dir = tempfile::tempdir().unwrap();
    let mut request = fresh_ca::request("Org", "2.25.7", fresh_ca::invalid_urls(), NOW, ACTOR);
    request.config.crl_validity_days = 0;
    let err = ca_core::authority::Authority::init(
        ca_core::store::SledStore::open(&dir.path().join("store")).unwrap(),
        ca_core::profile::ProfileSet::embedded().unwrap(),
        ca_core::seal::Sealer::from_key(&[9u8; 32]),
        request,
    )
    .unwrap_err();
    assert!(
        matches!(&err, AuthorityError::Config(m) if m == "CRL validity must be at least 1 day"),
        "{err}"
    );
}
