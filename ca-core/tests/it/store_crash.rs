//! An acknowledged write survives `kill -9`: a child process writes, says "ACK", and is killed
//! with SIGKILL at once; the parent then reopens the store. The writes include audit appends from
//! concurrent threads, which the store group-commits.

use crate::support::killed_child::{append_concurrently_and_wait, kill_after_ack, spawn};
use crate::support::store;
use ca_core::audit::{AuditAction, AuditEvent};
use ca_core::store::audit_verify;
use ca_core::store::{CertificateRecord, Revocation, RevocationReason, SledStore, Store};
use std::path::Path;

/// Set in the child to the store directory; its presence makes the test act as the child.
const CHILD_ENV: &str = "HPKI_STORE_CRASH_CHILD_DIR";
const TEST_NAME: &str = "acknowledged_writes_survive_sigkill";
/// Threads appending audit records at once in the child, and appends per thread.
const APPENDERS: usize = 4;
const APPENDS: usize = 5;

fn event(action: AuditAction, object: &str) -> AuditEvent {
    AuditEvent {
        details: vec![("profile".into(), "physician".into())],
        ..store::event(action, object)
    }
}

fn cert(serial: u8) -> CertificateRecord {
    CertificateRecord {
        serial: vec![serial],
        issuer_ca: "sign".into(),
        profile: "physician".into(),
        subject: format!("CN=crash {serial}"),
        not_after: 1_800_000_000,
        der: vec![0x30, 0x01, serial],
        revocation: None,
    }
}

fn revocation() -> Revocation {
    Revocation {
        reason: RevocationReason::KeyCompromise,
        revoked_at: 1_750_000_000,
        invalidity_date: None,
    }
}

/// The child: write, acknowledge on stdout, then wait to be killed.
fn child(dir: &Path) -> ! {
    let store = SledStore::open(dir).unwrap();
    store
        .insert_certificate(&cert(1), event(AuditAction::Issue, "certificate:01"))
        .unwrap();
    store
        .insert_certificate(&cert(2), event(AuditAction::Issue, "certificate:02"))
        .unwrap();
    store
        .revoke(
            &[2],
            revocation(),
            event(AuditAction::Revoke, "certificate:02"),
        )
        .unwrap();
    append_concurrently_and_wait(&store, APPENDERS, APPENDS, |t, i| {
        event(AuditAction::Sign, &format!("credential:{t}-{i}"))
    })
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        child(Path::new(&dir));
    }
    let dir = tempfile::tempdir().unwrap();
    kill_after_ack(spawn(
        module_path!(),
        TEST_NAME,
        (CHILD_ENV, dir.path().to_str().unwrap()),
    ));

    let store = SledStore::open(dir.path()).unwrap();
    assert_eq!(store.certificate(&[1]).unwrap(), Some(cert(1)));
    let revoked = store.certificate(&[2]).unwrap().unwrap();
    assert_eq!(revoked.revocation, Some(revocation()));
    assert_eq!(
        store.revoked("sign").unwrap(),
        vec![(vec![2], revocation())]
    );
    let log = store.audit_log().unwrap();
    let actions: Vec<_> = log.iter().map(|r| (r.seq, r.event.action)).collect();
    let mut expected = vec![
        (1, AuditAction::Issue),
        (2, AuditAction::Issue),
        (3, AuditAction::Revoke),
    ];
    let appended = (APPENDERS * APPENDS) as u64;
    expected.extend((4..4 + appended).map(|seq| (seq, AuditAction::Sign)));
    assert_eq!(actions, expected);
    assert_eq!(audit_verify(&store).unwrap(), 3 + appended);
}
