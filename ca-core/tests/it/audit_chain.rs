//! The audit hash chain on its own: the pinned hash format and every way `verify_chain` rejects.

use ca_core::audit::{
    AuditAction, AuditError, AuditEvent, AuditRecord, GENESIS_HASH, verify_chain,
};

fn event(n: u64) -> AuditEvent {
    AuditEvent {
        time: 1_700_000_000 + n,
        actor: "cli:root".into(),
        action: AuditAction::Issue,
        object: format!("certificate:{n:02x}"),
        details: vec![("profile".into(), "physician".into())],
    }
}

fn chain(n: u64) -> Vec<AuditRecord> {
    let mut out: Vec<AuditRecord> = Vec::new();
    for i in 1..=n {
        let next = AuditRecord::next(out.last(), event(i));
        out.push(next);
    }
    out
}

fn head(records: &[AuditRecord]) -> Option<(u64, &str)> {
    records.last().map(|r| (r.seq, r.hash.as_str()))
}

fn broken_seq(result: Result<u64, AuditError>) -> (u64, String) {
    match result {
        Err(AuditError::Broken { seq, reason }) => (seq, reason),
        Ok(n) => panic!("chain of {n} records accepted"),
    }
}

fn pinned_event() -> AuditEvent {
    AuditEvent {
        time: 1_735_689_600,
        actor: "cli:root".into(),
        action: AuditAction::CreateCredential,
        object: "credential:医師-0001".into(),
        details: vec![
            ("profile".into(), "physician".into()),
            ("hcRole".into(), "medical doctor".into()),
        ],
    }
}

/// Pins the stored hash format: if these literals change, every existing audit chain breaks.
/// (Values computed independently from the documented encoding with Python hashlib.)
#[test]
fn pinned_hash_of_a_fixed_record() {
    let first = AuditRecord::next(None, pinned_event());
    assert_eq!(first.seq, 1);
    assert_eq!(first.prev_hash, GENESIS_HASH);
    assert_eq!(
        first.hash,
        "3ebe4c643d99fb5f1c51b7a2fd9ed455f19288cffa22acf1141375c8acec7346"
    );
    let second = AuditRecord::next(Some(&first), pinned_event());
    assert_eq!(second.seq, 2);
    assert_eq!(second.prev_hash, first.hash);
    assert_eq!(
        second.hash,
        "643b0a7e4b4b3c7794257e255ca2a809aa518f560530aa1c965a2dfdad76d572"
    );
}

/// Rebuilds the documented encoding byte by byte, so the doc comment and the code cannot drift.
#[test]
fn pinned_hash_matches_the_documented_encoding() {
    fn str(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as u64).to_be_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    let ev = pinned_event();
    let mut input = b"hpki-audit-v1\0".to_vec();
    input.extend_from_slice(&1u64.to_be_bytes());
    input.extend_from_slice(&ev.time.to_be_bytes());
    str(&mut input, &ev.actor);
    str(&mut input, "create_credential");
    str(&mut input, &ev.object);
    input.extend_from_slice(&(ev.details.len() as u64).to_be_bytes());
    for (k, v) in &ev.details {
        str(&mut input, k);
        str(&mut input, v);
    }
    str(&mut input, GENESIS_HASH);
    let expected = hex::encode(ring::digest::digest(&ring::digest::SHA256, &input));
    assert_eq!(AuditRecord::next(None, ev).hash, expected);
}

#[test]
fn action_names_are_pinned_and_match_serde() {
    let all = [
        (AuditAction::Init, "init"),
        (AuditAction::Issue, "issue"),
        (AuditAction::Revoke, "revoke"),
        (AuditAction::Crl, "crl"),
        (AuditAction::CreateCredential, "create_credential"),
        (AuditAction::Sign, "sign"),
        (AuditAction::SignRefused, "sign_refused"),
        (AuditAction::AuditKey, "audit_key"),
        (AuditAction::Timestamp, "timestamp"),
        (AuditAction::TsaKey, "tsa_key"),
    ];
    for (action, name) in all {
        assert_eq!(action.as_str(), name);
        assert_eq!(
            serde_json::to_string(&action).unwrap(),
            format!("\"{name}\"")
        );
    }
}

/// Field boundaries are length-prefixed: moving bytes between fields changes the hash.
#[test]
fn hash_separates_fields() {
    let mut a = event(1);
    a.actor = "ab".into();
    a.object = "c".into();
    let mut b = event(1);
    b.actor = "a".into();
    b.object = "bc".into();
    assert_ne!(
        AuditRecord::next(None, a).hash,
        AuditRecord::next(None, b).hash
    );

    let mut c = event(1);
    c.details = vec![("k".into(), "v1".into())];
    let mut d = event(1);
    d.details = vec![("k".into(), "v".into()), ("1".into(), String::new())];
    assert_ne!(
        AuditRecord::next(None, c).hash,
        AuditRecord::next(None, d).hash
    );
}

#[test]
fn intact_chains_verify() {
    assert_eq!(verify_chain(&[], None), Ok(0));
    let records = chain(5);
    assert_eq!(verify_chain(&records, head(&records)), Ok(5));
    for r in &records {
        assert_eq!(r.compute_hash(), r.hash);
    }
}

#[test]
fn edited_record_is_a_hash_mismatch() {
    let mut records = chain(5);
    records[2].event.actor = "intruder".into();
    let h = chain(5).last().map(|r| (r.seq, r.hash.clone())).unwrap();
    let (seq, reason) = broken_seq(verify_chain(&records, Some((h.0, &h.1))));
    assert_eq!(seq, 3);
    assert!(reason.contains("hash mismatch"), "{reason}");
}

#[test]
fn edited_record_with_recomputed_hash_breaks_the_next_link() {
    let original = chain(5);
    let mut records = original.clone();
    records[2].event.object = "certificate:ff".into();
    records[2].hash = records[2].compute_hash();
    let (seq, reason) = broken_seq(verify_chain(&records, head(&original)));
    assert_eq!(seq, 4);
    assert!(reason.contains("prev_hash"), "{reason}");
}

#[test]
fn deleted_record_is_a_gap_at_its_seq() {
    let original = chain(5);
    let mut records = original.clone();
    records.remove(2);
    let (seq, reason) = broken_seq(verify_chain(&records, head(&original)));
    assert_eq!(seq, 3);
    assert!(reason.contains("sequence gap"), "{reason}");
}

#[test]
fn deleted_first_record_is_detected() {
    let original = chain(3);
    let (seq, reason) = broken_seq(verify_chain(&original[1..], head(&original)));
    assert_eq!(seq, 1);
    assert!(reason.contains("sequence gap"), "{reason}");
}

#[test]
fn reordered_records_are_detected() {
    let original = chain(5);
    let mut records = original.clone();
    records.swap(1, 3);
    let (seq, reason) = broken_seq(verify_chain(&records, head(&original)));
    assert_eq!(seq, 2);
    assert!(reason.contains("sequence gap"), "{reason}");
}

#[test]
fn removed_newest_record_is_caught_by_the_head() {
    let original = chain(5);
    let (seq, reason) = broken_seq(verify_chain(&original[..4], head(&original)));
    assert_eq!(seq, 5);
    assert!(
        reason.contains("chain ends at seq 4 but head says 5"),
        "{reason}"
    );
}

#[test]
fn head_and_records_must_agree() {
    let records = chain(3);
    // Records but no head.
    assert_eq!(broken_seq(verify_chain(&records, None)).0, 3);
    // A head but no records.
    assert_eq!(broken_seq(verify_chain(&[], head(&records))).0, 1);
    // Records beyond the head.
    assert_eq!(broken_seq(verify_chain(&records, head(&records[..2]))).0, 3);
    // Same seq, different hash: the newest record was replaced wholesale.
    let other = AuditRecord::next(Some(&records[1]), event(99));
    let (seq, reason) = broken_seq(verify_chain(&records, Some((3, &other.hash))));
    assert_eq!(seq, 3);
    assert!(reason.contains("head"), "{reason}");
}

#[test]
fn first_record_must_start_from_genesis() {
    let mut records = chain(2);
    records[0].prev_hash = "11".repeat(32);
    records[0].hash = records[0].compute_hash();
    records[1] = AuditRecord::next(Some(&records[0]), event(2));
    let (seq, reason) = broken_seq(verify_chain(&records, head(&records)));
    assert_eq!(seq, 1);
    assert!(reason.contains("prev_hash"), "{reason}");
}
