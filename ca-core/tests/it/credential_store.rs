//! `SledStore` credentials and tokens: atomic with their audit record, flushed, durable across a
//! reopen, and nothing written when a write is refused.

use crate::support::store::{event, reopen};
use ca_core::audit::{AuditAction, AuditRecord};
use ca_core::store::audit_verify;
use ca_core::store::{
    CREDENTIAL_OWNERS_TREE, CREDENTIALS_TREE, CertificateRecord, CredentialRecord, SledStore,
    Store, StoreError, TOKENS_TREE, TokenRecord, TokenScope,
};

fn cert(serial: u8) -> CertificateRecord {
    CertificateRecord {
        serial: vec![serial, 0x01],
        issuer_ca: "sign".into(),
        profile: "rhp-sign".into(),
        subject: format!("CN=holder {serial}"),
        not_after: 1_800_000_000,
        der: vec![0x30, 0x03, 0x02, 0x01, serial],
        revocation: None,
    }
}

fn cred(id: &str, owner: &str, serial: u8) -> CredentialRecord {
    CredentialRecord {
        id: id.into(),
        owner: owner.into(),
        serial: vec![serial, 0x01],
        profile: "rhp-sign".into(),
        sealed_key: vec![0xEE; 80],
        created_at: 1_700_000_000,
        pkcs11: None,
    }
}

fn token(id: &str) -> TokenRecord {
    TokenRecord {
        id: id.into(),
        secret_hash: "ab".repeat(32),
        scope: TokenScope::Signer {
            practitioner: "dr".into(),
        },
        created_at: 1_700_000_000,
        expires_at: 1_700_086_400,
        revoked: false,
    }
}

/// Inserts credential `id` of `owner`, its record naming serial `cred_serial`, with the
/// certificate of serial `cert_serial`.
fn try_insert(
    store: &SledStore,
    id: &str,
    owner: &str,
    cert_serial: u8,
    cred_serial: u8,
) -> Result<AuditRecord, StoreError> {
    store.insert_credential(
        &cert(cert_serial),
        &cred(id, owner, cred_serial),
        event(AuditAction::CreateCredential, id),
    )
}

fn insert(store: &SledStore, id: &str, owner: &str, serial: u8) {
    try_insert(store, id, owner, serial, serial).unwrap();
}

#[test]
fn credential_certificate_and_audit_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let audit = {
        let store = SledStore::open(dir.path()).unwrap();
        store
            .insert_credential(
                &cert(1),
                &cred("cred_1", "dr", 1),
                event(AuditAction::CreateCredential, "credential:cred_1"),
            )
            .unwrap()
    };
    let store = reopen(dir.path());
    assert_eq!(store.certificate(&[1, 1]).unwrap(), Some(cert(1)));
    assert_eq!(
        store.credential("cred_1").unwrap(),
        Some(cred("cred_1", "dr", 1))
    );
    assert_eq!(
        store.credentials_of("dr").unwrap(),
        vec![cred("cred_1", "dr", 1)]
    );
    let log = store.audit_log().unwrap();
    assert_eq!(log, vec![audit]);
    assert_eq!(audit_verify(&store).unwrap(), 1);
}

#[test]
fn duplicate_serial_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    insert(&store, "cred_1", "dr", 1);
    let err = try_insert(&store, "cred_2", "dr", 1, 1).unwrap_err();
    assert!(
        matches!(err, StoreError::DuplicateSerial(ref s) if s == "0101"),
        "{err}"
    );
    assert_eq!(store.credential("cred_2").unwrap(), None);
    assert_eq!(store.credentials_of("dr").unwrap().len(), 1);
    assert_eq!(store.audit_log().unwrap().len(), 1);
    audit_verify(&store).unwrap();
}

#[test]
fn duplicate_credential_id_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    insert(&store, "cred_1", "dr", 1);
    let err = try_insert(&store, "cred_1", "other", 2, 2).unwrap_err();
    assert!(matches!(err, StoreError::DuplicateCredential(ref id) if id == "cred_1"));
    assert!(
        !store.contains_serial(&[2, 1]).unwrap(),
        "certificate written"
    );
    assert!(store.credentials_of("other").unwrap().is_empty());
    assert_eq!(store.audit_log().unwrap().len(), 1);
}

#[test]
fn mismatched_serial_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let err = try_insert(&store, "cred_1", "dr", 1, 2).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
    assert!(store.audit_log().unwrap().is_empty());
}

#[test]
fn credentials_of_is_per_owner_and_ordered_by_id() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    insert(&store, "cred_c", "dr", 1);
    insert(&store, "cred_a", "dr", 2);
    insert(&store, "cred_b", "dr", 3);
    // Owners that are prefixes of each other, or contain NUL, stay apart.
    insert(&store, "cred_d", "d", 4);
    insert(&store, "r_x", "d", 5);
    insert(&store, "cred_e", "dr\0cred_z", 6);
    insert(&store, "cred_f", "", 7);
    let ids = |owner: &str| {
        store
            .credentials_of(owner)
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids("dr"), ["cred_a", "cred_b", "cred_c"]);
    assert_eq!(ids("d"), ["cred_d", "r_x"]);
    assert_eq!(ids("dr\0cred_z"), ["cred_e"]);
    assert_eq!(ids(""), ["cred_f"]);
    assert!(ids("nobody").is_empty());
    assert_eq!(store.audit_log().unwrap().len(), 7);
}

#[test]
fn trees_are_named() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SledStore::open(dir.path()).unwrap();
        insert(&store, "cred_1", "dr", 1);
        store
            .insert_token(&token("t1"), event(AuditAction::CreateToken, "token:t1"))
            .unwrap();
    }
    // Tooling may open the raw database by the public tree names.
    let db = {
        let mut tries = 0;
        loop {
            match sled::open(dir.path()) {
                Ok(db) => break db,
                Err(_) if tries < 500 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => panic!("{e}"),
            }
        }
    };
    assert!(
        db.open_tree(CREDENTIALS_TREE)
            .unwrap()
            .contains_key("cred_1")
            .unwrap()
    );
    assert_eq!(db.open_tree(CREDENTIAL_OWNERS_TREE).unwrap().len(), 1);
    assert!(
        db.open_tree(TOKENS_TREE)
            .unwrap()
            .contains_key("t1")
            .unwrap()
    );
}

#[test]
fn token_insert_lookup_revoke() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SledStore::open(dir.path()).unwrap();
        store
            .insert_token(&token("t1"), event(AuditAction::CreateToken, "token:t1"))
            .unwrap();
        let err = store
            .insert_token(&token("t1"), event(AuditAction::CreateToken, "token:t1"))
            .unwrap_err();
        assert!(matches!(err, StoreError::DuplicateToken(ref id) if id == "t1"));
        assert_eq!(store.audit_log().unwrap().len(), 1);
        let rec = store
            .revoke_token("t1", event(AuditAction::RevokeToken, "token:t1"))
            .unwrap();
        assert_eq!(rec.seq, 2);
        assert_eq!(rec.event.action, AuditAction::RevokeToken);
    }
    let store = reopen(dir.path());
    let mut want = token("t1");
    want.revoked = true;
    assert_eq!(store.token("t1").unwrap(), Some(want));
    assert_eq!(store.token("t2").unwrap(), None);

    let err = store
        .revoke_token("t1", event(AuditAction::RevokeToken, "token:t1"))
        .unwrap_err();
    assert!(matches!(err, StoreError::TokenAlreadyRevoked(ref id) if id == "t1"));
    let err = store
        .revoke_token("nope", event(AuditAction::RevokeToken, "token:nope"))
        .unwrap_err();
    assert!(matches!(err, StoreError::TokenNotFound(ref id) if id == "nope"));
    assert_eq!(store.audit_log().unwrap().len(), 2);
    assert_eq!(audit_verify(&store).unwrap(), 2);
}

#[test]
fn concurrent_credentials_keep_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(SledStore::open(dir.path()).unwrap());
    let threads: Vec<_> = (0..8u8)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..10u8 {
                    let serial = t * 10 + i + 1;
                    insert(
                        &store,
                        &format!("cred_{serial:03}"),
                        &format!("dr{t}"),
                        serial,
                    );
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(audit_verify(&*store).unwrap(), 80);
    for t in 0..8 {
        assert_eq!(store.credentials_of(&format!("dr{t}")).unwrap().len(), 10);
    }
}
