//! Tampering with the raw sled database behind a `SledStore` is caught by the audit chain.
//!
//! Each case builds a store, closes it, edits the `audit` tree directly as an intruder with file
//! access would, reopens the store and verifies.

use crate::support::store::{self, reopen, wait_for_lock};
use ca_core::audit::{AuditAction, AuditError, AuditEvent, AuditVerifyError, verify_chain};
use ca_core::store::{
    AUDIT_HEAD_KEY, AUDIT_TREE, CertificateRecord, META_TREE, Revocation, RevocationReason,
    SledStore, Store, StoreError,
};
use ca_core::store::{AuditLogError, audit_verify};
use std::path::Path;
use tempfile::TempDir;

const RECORDS: u64 = 6;

fn raw_open(dir: &Path) -> sled::Db {
    wait_for_lock(|| sled::open(dir))
}

fn event(action: AuditAction, object: &str) -> AuditEvent {
    AuditEvent {
        details: vec![("profile".into(), "physician".into())],
        ..store::event(action, object)
    }
}

/// A store with RECORDS audit records from the different write paths.
fn populated() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    for serial in 1..=3u8 {
        let cert = CertificateRecord {
            serial: vec![serial],
            issuer_ca: "sign".into(),
            profile: "physician".into(),
            subject: format!("CN={serial}"),
            not_after: 1_800_000_000,
            der: vec![serial],
            revocation: None,
        };
        store
            .insert_certificate(&cert, event(AuditAction::Issue, "certificate"))
            .unwrap();
    }
    let revocation = Revocation {
        reason: RevocationReason::Superseded,
        revoked_at: 1_750_000_000,
        invalidity_date: None,
    };
    store
        .revoke(
            &[2],
            revocation,
            event(AuditAction::Revoke, "certificate:02"),
        )
        .unwrap();
    store
        .next_crl_number("sign", event(AuditAction::Crl, "crl:sign"))
        .unwrap();
    store
        .append_audit(event(AuditAction::Sign, "document"))
        .unwrap();
    assert_eq!(audit_verify(&store).unwrap(), RECORDS);
    dir
}

/// Runs `edit` on the raw audit tree of the closed store.
fn tamper(dir: &Path, edit: impl FnOnce(&sled::Tree)) {
    let db = raw_open(dir);
    let audit = db.open_tree(AUDIT_TREE).unwrap();
    edit(&audit);
    db.flush().unwrap();
}

fn key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

/// Reopens the store and returns where verification says the chain breaks.
fn broken_at(dir: &Path) -> (u64, String) {
    let store = reopen(dir);
    let records = store.audit_log().unwrap();
    let head = store.audit_head().unwrap();
    let direct = verify_chain(&records, head.as_ref().map(|(s, h)| (*s, h.as_str())));
    let Err(AuditError::Broken { seq, reason }) = direct else {
        panic!("tampered chain accepted: {direct:?}");
    };
    // The CLI helper reports the same break.
    match audit_verify(&store) {
        Err(AuditLogError::Verify(AuditVerifyError::Chain(AuditError::Broken {
            seq: s, ..
        }))) => {
            assert_eq!(s, seq)
        }
        other => panic!("audit_verify: {other:?}"),
    }
    (seq, reason)
}

#[test]
fn untouched_store_verifies() {
    let dir = populated();
    tamper(dir.path(), |_| {});
    let store = reopen(dir.path());
    assert_eq!(audit_verify(&store).unwrap(), RECORDS);
}

#[test]
fn edited_field_is_detected() {
    let dir = populated();
    tamper(dir.path(), |audit| {
        let raw = audit.get(key(3)).unwrap().unwrap();
        let mut record: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        record["event"]["actor"] = "cli:someone-else".into();
        audit
            .insert(key(3), serde_json::to_vec(&record).unwrap())
            .unwrap();
    });
    let (seq, reason) = broken_at(dir.path());
    assert_eq!(seq, 3);
    assert!(reason.contains("hash mismatch (record edited)"), "{reason}");
}

#[test]
fn deleted_middle_record_is_detected() {
    let dir = populated();
    tamper(dir.path(), |audit| {
        audit.remove(key(3)).unwrap().unwrap();
    });
    let (seq, reason) = broken_at(dir.path());
    assert_eq!(seq, 3);
    assert!(reason.contains("sequence gap"), "{reason}");
}

#[test]
fn swapped_records_are_detected() {
    let dir = populated();
    tamper(dir.path(), |audit| {
        let two = audit.get(key(2)).unwrap().unwrap();
        let four = audit.get(key(4)).unwrap().unwrap();
        audit.insert(key(2), four).unwrap();
        audit.insert(key(4), two).unwrap();
    });
    let (seq, reason) = broken_at(dir.path());
    assert_eq!(seq, 2);
    assert!(
        reason.contains("sequence gap (record deleted or reordered)"),
        "{reason}"
    );
}

#[test]
fn deleted_newest_record_is_detected_and_the_log_is_not_extended() {
    let dir = populated();
    tamper(dir.path(), |audit| {
        audit.remove(key(RECORDS)).unwrap().unwrap();
    });
    let (seq, reason) = broken_at(dir.path());
    assert_eq!(seq, RECORDS);
    assert!(
        reason.contains("chain ends at seq 5 but head says 6 (newest record removed)"),
        "{reason}"
    );

    // New records would paper over the hole, so the store refuses to append.
    let store = reopen(dir.path());
    let err = store
        .append_audit(event(AuditAction::Sign, "document"))
        .unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    assert_eq!(store.audit_log().unwrap().len() as u64, RECORDS - 1);
}

#[test]
fn deleted_head_is_detected() {
    let dir = populated();
    {
        let db = raw_open(dir.path());
        db.open_tree(META_TREE)
            .unwrap()
            .remove(AUDIT_HEAD_KEY)
            .unwrap()
            .unwrap();
        db.flush().unwrap();
    }
    let (seq, reason) = broken_at(dir.path());
    assert_eq!(seq, RECORDS);
    assert!(reason.contains("no head"), "{reason}");
}
