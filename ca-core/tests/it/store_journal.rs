//! The audit journal (`ca-core/src/journal.rs`): group-committed audit records are acknowledged
//! once they are in the journal, not once sled is flushed. A child process appends, says "ACK"
//! and is killed with SIGKILL; the parent then reopens the store (replaying the journal) or first
//! damages the journal or rolls sled back to before the appends.

use crate::support::killed_child::{
    KillOnDrop, append_concurrently_and_wait, kill_after_ack, spawn,
};
use ca_core::audit::{AuditAction, AuditEvent, AuditRecord};
use ca_core::store::audit_verify;
use ca_core::store::{
    AUDIT_HEAD_KEY, AUDIT_TREE, CertificateRecord, Durability, JOURNAL_FILE, META_TREE, SledStore,
    Store, StoreError,
};
use std::io::Write;
use std::path::Path;

/// Set in a child to `write:DIR`, `write-nosync:DIR` (`Durability::Write`), `rollback:DIR` or
/// `rollback-foreign-head:DIR`.
const CHILD_ENV: &str = "HPKI_JOURNAL_CHILD";
const APPENDERS: usize = 4;
const APPENDS: usize = 5;
/// Records after the child's writes: one issuance, then the appends.
const RECORDS: u64 = 1 + (APPENDERS * APPENDS) as u64;

fn event(action: AuditAction, object: &str) -> AuditEvent {
    AuditEvent {
        time: 1_700_000_000,
        actor: "token:t".into(),
        action,
        object: object.into(),
        details: vec![("digest".into(), "ab".repeat(32))],
    }
}

/// Runs the child's part when this process is one; returns otherwise.
fn child_role() {
    let Ok(role) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (mode, dir) = role.split_once(':').unwrap();
    let dir = Path::new(dir);
    match mode {
        "write" => write_and_wait(dir, Durability::Fsync),
        "write-nosync" => write_and_wait(dir, Durability::Write),
        "rollback" => {
            rollback_sled(dir, None);
            std::process::exit(0);
        }
        "rollback-foreign-head" => {
            rollback_sled(dir, Some("ff".repeat(32)));
            std::process::exit(0);
        }
        _ => panic!("unknown child mode {mode}"),
    }
}

/// Issues one certificate (flushed), appends concurrently (journaled), acknowledges, waits.
fn write_and_wait(dir: &Path, durability: Durability) -> ! {
    let store = SledStore::open_with(dir, durability).unwrap();
    let cert = CertificateRecord {
        serial: vec![1],
        issuer_ca: "sign".into(),
        profile: "physician".into(),
        subject: "CN=journal".into(),
        not_after: 1_800_000_000,
        der: vec![0x30, 0x01, 1],
        revocation: None,
    };
    store
        .insert_certificate(&cert, event(AuditAction::Issue, "certificate:01"))
        .unwrap();
    append_concurrently_and_wait(&store, APPENDERS, APPENDS, |t, i| {
        event(AuditAction::Sign, &format!("credential:{t}-{i}"))
    })
}

/// What sled alone may hold after a crash: the flushed issuance, none of the journaled appends
/// (its background flush may or may not have run before the kill).
/// `head_hash` replaces the head's hash: a head the journal does not chain onto.
fn rollback_sled(dir: &Path, head_hash: Option<String>) {
    let db = sled::open(dir).unwrap();
    let audit = db.open_tree(AUDIT_TREE).unwrap();
    let meta = db.open_tree(META_TREE).unwrap();
    let first: AuditRecord =
        serde_json::from_slice(&audit.get(1u64.to_be_bytes()).unwrap().unwrap()).unwrap();
    for seq in 2..=RECORDS {
        audit.remove(seq.to_be_bytes()).unwrap();
    }
    let head = serde_json::json!({ "seq": 1, "hash": head_hash.unwrap_or(first.hash) });
    meta.insert(AUDIT_HEAD_KEY, serde_json::to_vec(&head).unwrap())
        .unwrap();
    db.flush().unwrap();
}

/// This test alone in a child with role `role` (see [`CHILD_ENV`]).
fn spawn_role(test: &str, role: String) -> KillOnDrop {
    spawn(module_path!(), test, (CHILD_ENV, &role))
}

/// A store directory whose writer was killed with SIGKILL after acknowledging every record.
fn killed_writer(test: &str) -> tempfile::TempDir {
    killed_writer_in(test, "write")
}

fn killed_writer_in(test: &str, mode: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let role = format!("{mode}:{}", dir.path().display());
    kill_after_ack(spawn_role(test, role));
    assert!(
        journal_len(dir.path()) > 0,
        "the acknowledged appends must be in the journal"
    );
    dir
}

fn journal_len(dir: &Path) -> u64 {
    std::fs::metadata(dir.join(JOURNAL_FILE)).unwrap().len()
}

fn assert_complete(store: &SledStore) {
    let log = store.audit_log().unwrap();
    let actions: Vec<_> = log.iter().map(|r| (r.seq, r.event.action)).collect();
    let mut expected = vec![(1, AuditAction::Issue)];
    expected.extend((2..=RECORDS).map(|seq| (seq, AuditAction::Sign)));
    assert_eq!(actions, expected);
    assert_eq!(audit_verify(store).unwrap(), RECORDS);
}

#[test]
fn killed_with_a_journal_reopens_with_every_record() {
    child_role();
    let dir = killed_writer("killed_with_a_journal_reopens_with_every_record");
    let store = SledStore::open(dir.path()).unwrap();
    assert_complete(&store);
    // Replayed into sled and flushed: the journal is emptied.
    assert_eq!(journal_len(dir.path()), 0);
    // And the chain goes on from the replayed head.
    let next = store
        .append_audit(event(AuditAction::Sign, "credential:after"))
        .unwrap();
    assert_eq!(next.seq, RECORDS + 1);
    assert_eq!(audit_verify(&store).unwrap(), RECORDS + 1);
}

#[test]
fn journal_replays_what_sled_lost() {
    child_role();
    let test = "journal_replays_what_sled_lost";
    let dir = killed_writer(test);
    // sled as if its unflushed tail was lost; a child, since sled frees its lock late in-process.
    let mut rollback = spawn_role(test, format!("rollback:{}", dir.path().display()));
    assert!(rollback.0.wait().unwrap().success());
    let store = SledStore::open(dir.path()).unwrap();
    assert_complete(&store);
}

#[test]
fn torn_tail_is_ignored() {
    child_role();
    let dir = killed_writer("torn_tail_is_ignored");
    // A frame header promising 300 octets followed by 10 of them: a write cut short.
    let mut header = Vec::new();
    header.extend_from_slice(&300u32.to_le_bytes());
    header.extend_from_slice(&0u32.to_le_bytes());
    header.extend_from_slice(&crc32fast::hash(&header).to_le_bytes());
    header.extend_from_slice(b"{\"seq\":999");
    std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join(JOURNAL_FILE))
        .unwrap()
        .write_all(&header)
        .unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    assert_complete(&store);
}

#[test]
fn corrupted_middle_frame_is_an_error() {
    child_role();
    let dir = killed_writer("corrupted_middle_frame_is_an_error");
    let path = dir.path().join(JOURNAL_FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    // An octet of the first frame's payload (frame header is 12 octets); frames follow it.
    bytes[12 + 20] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    match SledStore::open(dir.path()) {
        Err(StoreError::Corrupt(message)) => assert!(message.contains("journal"), "{message}"),
        Err(e) => panic!("expected Corrupt, got {e}"),
        Ok(_) => panic!("a corrupted journal frame must not open silently"),
    }
}

#[test]
fn write_durability_survives_sigkill() {
    // Acknowledged after write(2) only: the page cache still holds the journal after kill -9.
    child_role();
    let test = "write_durability_survives_sigkill";
    let dir = killed_writer_in(test, "write-nosync");
    let mut rollback = spawn_role(test, format!("rollback:{}", dir.path().display()));
    assert!(rollback.0.wait().unwrap().success());
    let store = SledStore::open(dir.path()).unwrap();
    assert_complete(&store);
}

#[test]
fn durability_names() {
    assert_eq!("fsync".parse::<Durability>().unwrap(), Durability::Fsync);
    assert_eq!("write".parse::<Durability>().unwrap(), Durability::Write);
    assert_eq!(Durability::default(), Durability::Fsync);
    assert!(matches!(
        "none".parse::<Durability>(),
        Err(StoreError::UnknownDurability(_))
    ));
}

#[test]
fn journal_not_chaining_onto_sled_is_an_error() {
    child_role();
    let test = "journal_not_chaining_onto_sled_is_an_error";
    let dir = killed_writer(test);
    let mut rollback = spawn_role(
        test,
        format!("rollback-foreign-head:{}", dir.path().display()),
    );
    assert!(rollback.0.wait().unwrap().success());
    match SledStore::open(dir.path()) {
        Err(StoreError::Corrupt(message)) => {
            assert!(message.contains("does not chain"), "{message}")
        }
        Err(e) => panic!("expected Corrupt, got {e}"),
        Ok(_) => panic!("records that do not chain onto sled's head must not be replayed"),
    }
}

/// Appends are journaled and reach sled later (the folder thread): the log read at once, a
/// transaction appending right after them, and a reopen all see every record, once, in order.
#[test]
fn journaled_records_are_read_and_chained_onto_before_they_reach_sled() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    for i in 0..3 {
        let record = store
            .append_audit(event(AuditAction::Sign, &format!("credential:{i}")))
            .unwrap();
        assert_eq!(record.seq, i + 1);
    }
    assert_eq!(store.audit_head().unwrap().unwrap().0, 3);
    let cert = CertificateRecord {
        serial: vec![7],
        issuer_ca: "sign".into(),
        profile: "physician".into(),
        subject: "CN=fold".into(),
        not_after: 1_800_000_000,
        der: vec![0x30, 0x01, 7],
        revocation: None,
    };
    let issued = store
        .insert_certificate(&cert, event(AuditAction::Issue, "certificate:07"))
        .unwrap();
    assert_eq!(issued.seq, 4);
    let after = store
        .append_audit(event(AuditAction::Sign, "credential:after"))
        .unwrap();
    assert_eq!(after.seq, 5);
    let expected = [
        (1, AuditAction::Sign),
        (2, AuditAction::Sign),
        (3, AuditAction::Sign),
        (4, AuditAction::Issue),
        (5, AuditAction::Sign),
    ];
    let actions = |store: &SledStore| -> Vec<_> {
        let log = store.audit_log().unwrap();
        log.iter().map(|r| (r.seq, r.event.action)).collect()
    };
    assert_eq!(actions(&store), expected);
    assert_eq!(audit_verify(&store).unwrap(), 5);
    drop(store);
    let store = crate::support::store::reopen(dir.path());
    assert_eq!(actions(&store), expected);
    assert_eq!(audit_verify(&store).unwrap(), 5);
}

/// Journaled appends racing transactions that append too (issuance) and readers: one linear
/// chain with every acknowledged record, whichever path wrote it.
#[test]
fn journaled_appends_racing_transactions_and_readers_keep_one_chain() {
    const THREADS: usize = 4;
    const APPENDS_EACH: usize = 150;
    const ISSUES: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let acknowledged = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let (store, acknowledged) = (&store, &acknowledged);
            scope.spawn(move || {
                for i in 0..APPENDS_EACH {
                    let r = store
                        .append_audit(event(AuditAction::Sign, &format!("credential:{t}-{i}")))
                        .unwrap();
                    acknowledged.lock().unwrap().push(r);
                }
            });
        }
        let (store, acknowledged) = (&store, &acknowledged);
        scope.spawn(move || {
            for i in 0..ISSUES {
                let cert = CertificateRecord {
                    serial: vec![1, i as u8],
                    issuer_ca: "sign".into(),
                    profile: "physician".into(),
                    subject: format!("CN=race {i}"),
                    not_after: 1_800_000_000,
                    der: vec![0x30, 0x01, i as u8],
                    revocation: None,
                };
                let r = store
                    .insert_certificate(&cert, event(AuditAction::Issue, &format!("cert:{i}")))
                    .unwrap();
                acknowledged.lock().unwrap().push(r);
            }
        });
        scope.spawn(move || {
            for _ in 0..20 {
                audit_verify(store).unwrap();
            }
        });
    });
    let total = (THREADS * APPENDS_EACH + ISSUES) as u64;
    assert_eq!(audit_verify(&store).unwrap(), total);
    let mut acknowledged = acknowledged.into_inner().unwrap();
    acknowledged.sort_by_key(|r| r.seq);
    assert_eq!(store.audit_log().unwrap(), acknowledged);
}
