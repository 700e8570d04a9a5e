//! The `Store` conformance suite: each test runs against sled in a temporary directory and
//! against PostgreSQL in a fresh database (`support::store::Backend`).

use crate::support::store::{Backend, Postgres, Sled, conformance, event};
use ca_core::audit::{AuditAction, verify_chain};
use ca_core::store::audit_verify;
use ca_core::store::{
    AuthorityRecord, CertificateRecord, Revocation, RevocationReason, Store, StoreError,
};
use std::str::FromStr;

fn cert(serial: &[u8], ca: &str) -> CertificateRecord {
    CertificateRecord {
        serial: serial.to_vec(),
        issuer_ca: ca.into(),
        profile: "physician".into(),
        subject: format!("CN=holder {}", hex::encode(serial)),
        not_after: 1_800_000_000,
        der: vec![0x30, 0x03, 0x02, 0x01, serial[0]],
        revocation: None,
    }
}

fn revocation(reason: RevocationReason) -> Revocation {
    Revocation {
        reason,
        revoked_at: 1_750_000_000,
        invalidity_date: Some(1_749_000_000),
    }
}

fn issue(store: &impl Store, serial: &[u8], ca: &str) {
    store
        .insert_certificate(&cert(serial, ca), event(AuditAction::Issue, "certificate"))
        .unwrap();
}

fn revoke(store: &impl Store, serial: &[u8]) -> Result<CertificateRecord, StoreError> {
    store.revoke(
        serial,
        revocation(RevocationReason::KeyCompromise),
        event(AuditAction::Revoke, "certificate"),
    )
}

fn chain_ok(store: &impl Store) -> u64 {
    audit_verify(store).unwrap()
}

fn certificate_and_audit_record_survive_reopen_on<B: Backend>() {
    let backend = B::fresh();
    let record = cert(&[0x01, 0x23], "sign");
    let audit = {
        let store = backend.open();
        store
            .insert_certificate(&record, event(AuditAction::Issue, "certificate:0123"))
            .unwrap()
    };
    let store = backend.open();
    assert_eq!(
        store.certificate(&[0x01, 0x23]).unwrap(),
        Some(record.clone())
    );
    assert!(store.contains_serial(&[0x01, 0x23]).unwrap());
    assert!(!store.contains_serial(&[0x01]).unwrap());
    assert_eq!(store.certificates().unwrap(), vec![record]);
    assert_eq!(store.audit_log().unwrap(), vec![audit.clone()]);
    assert_eq!(store.audit_head().unwrap(), Some((1, audit.hash)));
    assert_eq!(chain_ok(&store), 1);
}

/// Named by docs/threat-model.md (O3), which finds tests by their `#[test]` line: both backends.
#[test]
fn certificate_and_audit_record_survive_reopen() {
    certificate_and_audit_record_survive_reopen_on::<Sled>();
    certificate_and_audit_record_survive_reopen_on::<Postgres>();
}

fn audit_chain_continues_across_reopen<B: Backend>() {
    let backend = B::fresh();
    let first = {
        let store = backend.open();
        store
            .append_audit(event(AuditAction::Sign, "doc:1"))
            .unwrap()
    };
    let store = backend.open();
    let second = store
        .append_audit(event(AuditAction::Sign, "doc:2"))
        .unwrap();
    assert_eq!(second.seq, 2);
    assert_eq!(second.prev_hash, first.hash);
    assert_eq!(chain_ok(&store), 2);
}

fn initialise_records_authorities_settings_and_event_once<B: Backend>() {
    let backend = B::fresh();
    let store = backend.open();
    let root = AuthorityRecord {
        id: "root".into(),
        certificate_der: vec![1, 2, 3],
        sealed_key: vec![4, 5, 6],
        pkcs11: None,
    };
    // A key in a token: the record holds its reference and no sealed blob (issue 16).
    let sign = AuthorityRecord {
        id: "sign".into(),
        certificate_der: vec![7],
        sealed_key: Vec::new(),
        pkcs11: Some(ca_core::key::Pkcs11KeyRef {
            module: "/usr/lib/softhsm/libsofthsm2.so".into(),
            token: "hpki".into(),
            label: "hpki ca sign 0a0b0c0d".into(),
            id: "00112233445566778899aabbccddeeff".into(),
            algorithm: ca_core::key::KeyAlgorithm::P256,
        }),
    };
    let sign_certificate = cert(&[0x51], "root");
    let rec = store
        .initialise(
            &[root.clone(), sign.clone()],
            std::slice::from_ref(&sign_certificate),
            &[("crl_validity_days", b"7"), ("blob", &[0, 255])],
            event(AuditAction::Init, "installation"),
        )
        .unwrap();
    assert_eq!(rec.seq, 1);
    drop(store);

    let store = backend.open();
    assert_eq!(store.authority("root").unwrap(), Some(root.clone()));
    assert_eq!(store.authority("sign").unwrap(), Some(sign));
    assert_eq!(store.authority("auth").unwrap(), None);
    assert_eq!(
        store.setting("crl_validity_days").unwrap(),
        Some(b"7".to_vec())
    );
    assert_eq!(store.setting("blob").unwrap(), Some(vec![0, 255]));
    assert_eq!(store.setting("missing").unwrap(), None);
    // The sub-CA's certificate is in the inventory, revocable on its issuer's CRL.
    assert_eq!(
        store.certificates().unwrap(),
        vec![sign_certificate.clone()]
    );

    let again = store.initialise(
        &[root],
        &[cert(&[0x52], "root")],
        &[("x", b"y")],
        event(AuditAction::Init, "again"),
    );
    assert!(
        matches!(again, Err(StoreError::AlreadyInitialised)),
        "{again:?}"
    );
    assert_eq!(store.setting("x").unwrap(), None);
    assert_eq!(store.certificates().unwrap(), vec![sign_certificate]);
    assert_eq!(chain_ok(&store), 1);
}

fn duplicate_serial_writes_nothing<B: Backend>() {
    let backend = B::fresh();
    let store = backend.open();
    issue(&store, &[0x42], "sign");
    let before_log = store.audit_log().unwrap();
    let before_head = store.audit_head().unwrap();

    let mut other = cert(&[0x42], "auth");
    other.subject = "CN=someone else".into();
    let err = store
        .insert_certificate(&other, event(AuditAction::Issue, "certificate:42"))
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::DuplicateSerial(s) if s == "42"),
        "{err:?}"
    );

    assert_eq!(
        store.certificate(&[0x42]).unwrap(),
        Some(cert(&[0x42], "sign"))
    );
    assert_eq!(store.audit_log().unwrap(), before_log);
    assert_eq!(store.audit_head().unwrap(), before_head);
}

fn revoke_not_found_and_already_revoked_write_nothing<B: Backend>() {
    let backend = B::fresh();
    let store = backend.open();
    issue(&store, &[0x10], "sign");

    let err = revoke(&store, &[0x99]).unwrap_err();
    assert!(
        matches!(&err, StoreError::NotFound(s) if s == "99"),
        "{err:?}"
    );
    assert_eq!(store.audit_log().unwrap().len(), 1);

    let revoked = revoke(&store, &[0x10]).unwrap();
    assert_eq!(
        revoked.revocation,
        Some(revocation(RevocationReason::KeyCompromise))
    );
    assert_eq!(store.certificate(&[0x10]).unwrap(), Some(revoked.clone()));
    let log = store.audit_log().unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[1].event.action, AuditAction::Revoke);

    let err = store
        .revoke(
            &[0x10],
            revocation(RevocationReason::Superseded),
            event(AuditAction::Revoke, "certificate:10"),
        )
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::AlreadyRevoked(s) if s == "10"),
        "{err:?}"
    );
    // The first revocation stands and no audit record was added.
    assert_eq!(store.certificate(&[0x10]).unwrap(), Some(revoked));
    assert_eq!(store.audit_log().unwrap(), log);
    assert_eq!(
        store.revoked("sign").unwrap(),
        vec![(vec![0x10], revocation(RevocationReason::KeyCompromise))]
    );
    assert_eq!(chain_ok(&store), 2);
}

fn revoked_lists_only_that_ca_sorted_by_serial<B: Backend>() {
    let backend = B::fresh();
    {
        let store = backend.open();
        for serial in [[0x05], [0x01], [0x03], [0x02], [0x04]] {
            issue(&store, &serial, "sign");
        }
        for serial in [[0x11], [0x12]] {
            issue(&store, &serial, "auth");
        }
        // A CA whose id extends another's must not leak into it.
        issue(&store, &[0x21], "signer");
        for serial in [[0x04], [0x01], [0x05], [0x12], [0x21]] {
            revoke(&store, &serial).unwrap();
        }
        // Inserted already revoked: indexed too.
        let mut pre = cert(&[0x03, 0x00], "sign");
        pre.revocation = Some(revocation(RevocationReason::CessationOfOperation));
        store
            .insert_certificate(&pre, event(AuditAction::Issue, "certificate:0300"))
            .unwrap();
    }
    let store = backend.open();
    let sign: Vec<Vec<u8>> = store
        .revoked("sign")
        .unwrap()
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(
        sign,
        vec![vec![0x01], vec![0x03, 0x00], vec![0x04], vec![0x05]]
    );
    assert_eq!(
        store.revoked("sign").unwrap()[1].1.reason,
        RevocationReason::CessationOfOperation
    );
    assert_eq!(
        store.revoked("auth").unwrap(),
        vec![(vec![0x12], revocation(RevocationReason::KeyCompromise))]
    );
    assert_eq!(store.revoked("signer").unwrap().len(), 1);
    assert_eq!(store.revoked("root").unwrap(), vec![]);
    assert_eq!(store.revoked("sig").unwrap(), vec![]);
    assert_eq!(store.certificates().unwrap().len(), 9);
    assert_eq!(chain_ok(&store), 14);
}

fn ca_ids_with_nul_are_refused<B: Backend>() {
    let backend = B::fresh();
    let store = backend.open();
    let err = store
        .insert_certificate(&cert(&[1], "sign\0x"), event(AuditAction::Issue, "c"))
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidCaId(_)), "{err:?}");
    assert!(store.audit_log().unwrap().is_empty());
    assert_eq!(store.revoked("sign\0").unwrap(), vec![]);
}

fn crl_numbers_count_per_ca_and_persist<B: Backend>() {
    let backend = B::fresh();
    {
        let store = backend.open();
        for expected in 1..=3 {
            let (n, rec) = store
                .next_crl_number("sign", event(AuditAction::Crl, "crl:sign"))
                .unwrap();
            assert_eq!(n, expected);
            assert_eq!(rec.event.action, AuditAction::Crl);
        }
        let (n, _) = store
            .next_crl_number("auth", event(AuditAction::Crl, "crl:auth"))
            .unwrap();
        assert_eq!(n, 1);
    }
    let store = backend.open();
    let (n, rec) = store
        .next_crl_number("sign", event(AuditAction::Crl, "crl:sign"))
        .unwrap();
    assert_eq!(n, 4);
    assert_eq!(rec.seq, 5);
    let (n, _) = store
        .next_crl_number("auth", event(AuditAction::Crl, "crl:auth"))
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(
        store
            .next_crl_number("root", event(AuditAction::Crl, "crl:root"))
            .unwrap()
            .0,
        1
    );
    assert_eq!(chain_ok(&store), 7);
}

/// `next_crl`: the number and the CA's revocation index as of it, with the audit record made of
/// the entry count, in one write.
fn next_crl_numbers_the_revocation_index_with_its_record<B: Backend>() {
    let backend = B::fresh();
    let store = backend.open();
    issue(&store, &[0x11], "sign");
    issue(&store, &[0x12], "sign");
    issue(&store, &[0x13], "auth");
    revoke(&store, &[0x12]).unwrap();
    revoke(&store, &[0x13]).unwrap();
    let named = |entries: usize| event(AuditAction::Crl, &format!("crl:sign:{entries}"));
    let (number, revoked) = store.next_crl("sign", &named).unwrap();
    assert_eq!(number, 1);
    assert_eq!(
        revoked,
        vec![(vec![0x12], revocation(RevocationReason::KeyCompromise))]
    );
    assert_eq!(
        store.audit_log().unwrap().last().unwrap().event.object,
        "crl:sign:1"
    );
    revoke(&store, &[0x11]).unwrap();
    let (number, revoked) = store.next_crl("sign", &named).unwrap();
    assert_eq!(number, 2);
    let serials: Vec<Vec<u8>> = revoked.into_iter().map(|(s, _)| s).collect();
    assert_eq!(serials, [vec![0x11], vec![0x12]]);
    assert_eq!(
        store.audit_log().unwrap().last().unwrap().event.object,
        "crl:sign:2"
    );
    // Numbered on the same counter as `next_crl_number`.
    let (number, _) = store
        .next_crl_number("sign", event(AuditAction::Crl, "crl:sign"))
        .unwrap();
    assert_eq!(number, 3);
    assert_eq!(chain_ok(&store), 9);
}

fn empty_store_verifies_and_has_no_head<B: Backend>() {
    let backend = B::fresh();
    let store = backend.open();
    assert_eq!(store.audit_head().unwrap(), None);
    assert_eq!(verify_chain(&store.audit_log().unwrap(), None), Ok(0));
    assert_eq!(chain_ok(&store), 0);
}

#[test]
fn reason_codes_follow_rfc_5280() {
    use RevocationReason::*;
    let codes = [
        (Unspecified, 0),
        (KeyCompromise, 1),
        (CaCompromise, 2),
        (AffiliationChanged, 3),
        (Superseded, 4),
        (CessationOfOperation, 5),
        (CertificateHold, 6),
        (RemoveFromCrl, 8),
        (PrivilegeWithdrawn, 9),
        (AaCompromise, 10),
    ];
    for (reason, code) in codes {
        assert_eq!(reason.code(), code, "{reason:?}");
        assert_eq!(RevocationReason::from_code(code), Some(reason));
    }
    assert_eq!(RevocationReason::ALL.len(), codes.len());
    assert_eq!(RevocationReason::from_code(7), None);
    assert_eq!(RevocationReason::from_code(11), None);
}

#[test]
fn reasons_parse_from_rfc_and_kebab_names() {
    use RevocationReason::*;
    let names = [
        (Unspecified, "unspecified", "unspecified"),
        (KeyCompromise, "keyCompromise", "key-compromise"),
        (CaCompromise, "cACompromise", "ca-compromise"),
        (
            AffiliationChanged,
            "affiliationChanged",
            "affiliation-changed",
        ),
        (Superseded, "superseded", "superseded"),
        (
            CessationOfOperation,
            "cessationOfOperation",
            "cessation-of-operation",
        ),
        (CertificateHold, "certificateHold", "certificate-hold"),
        (RemoveFromCrl, "removeFromCRL", "remove-from-crl"),
        (
            PrivilegeWithdrawn,
            "privilegeWithdrawn",
            "privilege-withdrawn",
        ),
        (AaCompromise, "aACompromise", "aa-compromise"),
    ];
    for (reason, camel, kebab) in names {
        assert_eq!(reason.name(), camel);
        for s in [
            camel.to_owned(),
            kebab.to_owned(),
            camel.to_uppercase(),
            camel.to_lowercase(),
        ] {
            assert_eq!(RevocationReason::from_str(&s).unwrap(), reason, "{s}");
        }
    }
    for bad in [
        "",
        "key_compromise",
        "keycompromise ",
        "compromise",
        "7",
        "key--compromise",
    ] {
        let err = RevocationReason::from_str(bad).unwrap_err();
        assert!(
            matches!(&err, StoreError::UnknownReason(s) if s == bad),
            "{bad:?}: {err:?}"
        );
    }
}

conformance!(
    audit_chain_continues_across_reopen,
    initialise_records_authorities_settings_and_event_once,
    duplicate_serial_writes_nothing,
    revoke_not_found_and_already_revoked_write_nothing,
    revoked_lists_only_that_ca_sorted_by_serial,
    ca_ids_with_nul_are_refused,
    crl_numbers_count_per_ca_and_persist,
    next_crl_numbers_the_revocation_index_with_its_record,
    empty_store_verifies_and_has_no_head,
);
