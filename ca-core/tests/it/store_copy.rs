//! `store::copy` (issue 15 item 5): a real installation (CAs, certificates revoked and on hold,
//! CRL numbers, a credential, tokens, MACed audit log) copied sled → PostgreSQL, PostgreSQL →
//! sled and sled → sled, record for record; the copy serves (signs, chains onto the copied
//! head); a non-empty target, a tampered source and an inconsistent revocation index are refused
//! with nothing written.

use crate::support::credential::{NOW, registration};
use crate::support::fresh_ca;
use crate::support::store::{Backend, Postgres, Sled, reopen, wait_for_lock};
use ca_core::audit::AuditAction;
use ca_core::audit::AuditMac;
use ca_core::authority::{Authority, stored_audit_mac};
use ca_core::cades::Level;
use ca_core::credential::{NewCredential, SignDocument};
use ca_core::key::{KeyAlgorithm, SigningKey};
use ca_core::profile::{CaUrls, ProfileSet};
use ca_core::purpose::SigningPolicy;
use ca_core::seal::Sealer;
use ca_core::store::{
    AUDIT_TREE, CopyError, REVOKED_TREE, RevocationReason, SledStore, Store, StoreItem, TokenScope,
    copy, copy_to_new_sled,
};

const SEAL: [u8; 32] = [7u8; 32];

fn sealer() -> Sealer {
    Sealer::from_key(&SEAL)
}

/// The source's audit MAC key, as the CLI unseals it with the master secret.
fn audit_mac(store: &dyn Store) -> Option<AuditMac> {
    stored_audit_mac(store, &sealer()).unwrap()
}

/// Every record of `store`, as it exports them.
fn items(store: &dyn Store) -> Vec<StoreItem> {
    store.export().unwrap().map(Result::unwrap).collect()
}

/// What a copy must carry: an initialised installation with certificates issued, one revoked,
/// one on hold, CRLs of two CAs, a credential and two tokens (one revoked), then one signature.
/// Returns the credential (id, owner) and a live token.
fn populate<S: Store>(store: S) -> (Authority<S>, (String, String), String) {
    let authority = Authority::init(
        store,
        ProfileSet::embedded().unwrap(),
        sealer(),
        fresh_ca::request(
            "hpki Copy Test",
            "2.25.2026120705",
            CaUrls::default(),
            NOW - 86_400,
            "test:init",
        ),
    )
    .unwrap();
    let mut serials = Vec::new();
    for n in 0..3 {
        let key = SigningKey::generate(KeyAlgorithm::P256).unwrap();
        let subject = format!("C=JP,O=hpki Test Hospital,CN=D{n},serialNumber=D{n}");
        let issued = authority
            .issue(
                &registration("rhp-sign", &subject, &["Medical Doctor"]),
                &fresh_ca::csr(&key),
                NOW,
                "test:ra",
            )
            .unwrap();
        serials.push(issued.serial);
    }
    authority
        .revoke(
            &serials[0],
            RevocationReason::KeyCompromise,
            Some(NOW - 60),
            NOW,
            "test:ra",
        )
        .unwrap();
    authority
        .revoke(
            &serials[1],
            RevocationReason::CertificateHold,
            None,
            NOW,
            "test:ra",
        )
        .unwrap();
    authority.crl("sign", NOW, "test:crl").unwrap();
    authority.crl("sign", NOW, "test:crl").unwrap();
    authority.crl("root", NOW, "test:crl").unwrap();
    let credential = authority
        .create_credential(
            &NewCredential {
                owner: Some("D9".into()),
                registration: registration(
                    "rhp-sign",
                    "C=JP,O=hpki Test Hospital,CN=D9,serialNumber=D9",
                    &["Medical Doctor"],
                ),
                key_algorithm: KeyAlgorithm::P256,
            },
            NOW,
            "test:ra",
        )
        .unwrap();
    let token = authority
        .create_token(
            TokenScope::Signer {
                practitioner: "D9".into(),
            },
            86_400,
            NOW,
            "test:ra",
        )
        .unwrap();
    let revoked = authority
        .create_token(TokenScope::Ra, 86_400, NOW, "test:ra")
        .unwrap();
    authority
        .revoke_token(revoked.id(), NOW, "test:ra")
        .unwrap();
    let ids = (credential.id.clone(), credential.owner.clone());
    sign(&authority, &ids);
    (authority, ids, token.expose().to_owned())
}

/// Signs a digest with the credential; returns the signature's audit sequence number.
fn sign<S: Store>(authority: &Authority<S>, (id, owner): &(String, String)) -> u64 {
    let signer = authority.signer(id, owner, "test:api", NOW + 60).unwrap();
    let digest = [0x5au8; 32];
    authority
        .sign(
            &signer,
            &SigningPolicy::embedded().unwrap(),
            &SignDocument {
                digest: &digest,
                digest_algorithm: ca_core::sign::DigestAlgorithm::Sha256,
                purpose: "author",
                claimed_role: None,
                attached: None,
                level: Level::BB,
            },
            NOW + 60,
        )
        .wait()
        .unwrap()
        .audit_seq
}

/// The copy holds exactly the source's records and works: the authority opens on it, the token
/// authenticates, a signature's audit record chains onto the copied head, the log verifies.
fn check_copy<S: Store>(
    source: &[StoreItem],
    target: S,
    credential: &(String, String),
    token: &str,
) {
    let copied = items(&target);
    assert_eq!(
        copied, source,
        "the copy holds the source's records, as stored"
    );
    let Some(StoreItem::AuditHead((head_seq, head_hash))) = copied.last().cloned() else {
        panic!("no audit head: {:?}", copied.last());
    };
    let authority =
        Authority::open(target, ProfileSet::embedded().unwrap(), sealer(), NOW + 60).unwrap();
    // Opening writes nothing (the OCSP responders and the TSA came along).
    assert_eq!(
        authority.store().audit_head().unwrap(),
        Some((head_seq, head_hash.clone()))
    );
    assert!(authority.authenticate(token, NOW + 60).is_ok());
    let seq = sign(&authority, credential);
    assert_eq!(seq, head_seq + 1);
    let log = authority.store().audit_log().unwrap();
    let last = log.last().unwrap();
    assert_eq!(last.event.action, AuditAction::Sign);
    assert_eq!(last.prev_hash, head_hash, "chained onto the copied head");
    let report = authority.verify_audit(None).unwrap();
    assert_eq!(report.records, head_seq + 1);
    assert_eq!(
        report.authenticated_from, 1,
        "MACed from init, in the copy too"
    );
}

fn revoked_entries(items: &[StoreItem]) -> usize {
    items
        .iter()
        .filter(|i| matches!(i, StoreItem::Revoked { .. }))
        .count()
}

fn copy_into_backend<From: Backend, To: Backend>() {
    let from = From::fresh();
    let (authority, credential, token) = populate(from.open());
    let source = items(authority.store());
    assert_eq!(revoked_entries(&source), 2, "revoked and held");
    assert!(
        source.iter().any(
            |i| matches!(i, StoreItem::CrlNumber { issuer_ca, last: 2 } if issuer_ca == "sign")
        )
    );
    let to = To::fresh();
    {
        let target = to.open();
        let report = copy(
            authority.store(),
            &target,
            audit_mac(authority.store()).as_ref(),
        )
        .unwrap();
        assert_eq!(report.authenticated_from, Some(1));
        assert_eq!(report.summary.revoked, 2);
        assert_eq!(report.summary.tokens, 2);
        assert_eq!(report.summary.credentials, 1);
        assert_eq!(
            report.summary.audit_records,
            authority.store().audit_head().unwrap().unwrap().0
        );
        assert_eq!(
            report.summary.audit_head,
            authority.store().audit_head().unwrap()
        );
    }
    // The source is unchanged.
    assert_eq!(items(authority.store()), source);
    drop(authority);
    check_copy(&source, to.open(), &credential, &token);
}

#[test]
fn sled_to_postgres_copies_every_record_and_the_copy_serves() {
    copy_into_backend::<Sled, Postgres>();
}

#[test]
fn postgres_to_postgres_copies_every_record_and_the_copy_serves() {
    copy_into_backend::<Postgres, Postgres>();
}

/// A sled target is built beside its directory and renamed into place.
fn copy_into_new_sled<From: Backend>() {
    let from = From::fresh();
    let (authority, credential, token) = populate(from.open());
    let source = items(authority.store());
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("copy");
    // An empty directory is an empty target: the copy replaces it.
    std::fs::create_dir(&dir).unwrap();
    let report = copy_to_new_sled(
        authority.store(),
        &dir,
        audit_mac(authority.store()).as_ref(),
    )
    .unwrap();
    assert_eq!(
        report.summary.audit_head,
        authority.store().audit_head().unwrap()
    );
    assert_eq!(
        std::fs::read_dir(parent.path()).unwrap().count(),
        1,
        "only the copy, no staging directory left"
    );
    drop(authority);
    check_copy(&source, reopen(&dir), &credential, &token);
}

#[test]
fn postgres_to_new_sled_copies_every_record_and_the_copy_serves() {
    copy_into_new_sled::<Postgres>();
}

#[test]
fn sled_to_new_sled_copies_every_record_and_the_copy_serves() {
    copy_into_new_sled::<Sled>();
}

#[test]
fn a_non_empty_target_is_refused_and_left_alone() {
    let from = Sled::fresh();
    let (authority, _, _) = populate(from.open());
    // PostgreSQL holding one record.
    let to = Postgres::fresh();
    let target = to.open();
    target
        .append_audit(crate::support::store::event(AuditAction::Sign, "doc:1"))
        .unwrap();
    let before = items(&target);
    let err = copy(
        authority.store(),
        &target,
        audit_mac(authority.store()).as_ref(),
    )
    .unwrap_err();
    assert!(matches!(err, CopyError::TargetNotEmpty(_)), "{err}");
    assert!(err.to_string().contains("not empty"), "{err}");
    assert_eq!(items(&target), before);
    // A sled directory holding anything.
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("occupied");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), b"keep me").unwrap();
    let err = copy_to_new_sled(
        authority.store(),
        &dir,
        audit_mac(authority.store()).as_ref(),
    )
    .unwrap_err();
    assert!(matches!(err, CopyError::TargetNotEmpty(_)), "{err}");
    assert_eq!(std::fs::read(dir.join("notes.txt")).unwrap(), b"keep me");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 1);
    // An empty source is refused too (most likely a wrong path).
    let empty = Sled::fresh();
    let err = copy(&empty.open(), &Postgres::fresh().open(), None).unwrap_err();
    assert!(matches!(err, CopyError::SourceEmpty), "{err}");
}

/// A sled source built by `populate`, closed, its raw trees edited by `edit`, reopened.
fn tampered_sled(edit: impl FnOnce(&sled::Db)) -> (tempfile::TempDir, SledStore) {
    let dir = tempfile::tempdir().unwrap();
    drop(populate(SledStore::open(dir.path()).unwrap()));
    {
        let db = wait_for_lock(|| sled::open(dir.path()));
        edit(&db);
        db.flush().unwrap();
    }
    let store = reopen(dir.path());
    (dir, store)
}

/// Rewrites audit record `seq` with `f` applied to its JSON.
fn edit_audit(db: &sled::Db, seq: u64, f: impl FnOnce(&mut ca_core::audit::AuditRecord)) {
    let tree = db.open_tree(AUDIT_TREE).unwrap();
    let mut record: ca_core::audit::AuditRecord =
        serde_json::from_slice(&tree.get(seq.to_be_bytes()).unwrap().unwrap()).unwrap();
    f(&mut record);
    tree.insert(seq.to_be_bytes(), serde_json::to_vec(&record).unwrap())
        .unwrap();
}

/// The target after a refused copy: PostgreSQL rolled back (every certificate had gone in
/// before the audit log failed), sled's directory never made.
fn assert_nothing_written(source: &SledStore, sealer: Option<&Sealer>, want: &str) {
    let mac = sealer.and_then(|sealer| stored_audit_mac(source, sealer).unwrap());
    let to = Postgres::fresh();
    let target = to.open();
    let err = copy(source, &target, mac.as_ref()).unwrap_err();
    assert!(err.to_string().contains(want), "{err}");
    assert!(target.is_empty().unwrap(), "rolled back");
    let parent = tempfile::tempdir().unwrap();
    let err = copy_to_new_sled(source, &parent.path().join("copy"), mac.as_ref()).unwrap_err();
    assert!(err.to_string().contains(want), "{err}");
    assert_eq!(
        std::fs::read_dir(parent.path()).unwrap().count(),
        0,
        "neither the copy nor its staging directory"
    );
}

#[test]
fn a_tampered_source_audit_log_is_refused_and_nothing_is_written() {
    // An edited record: its hash no longer matches.
    let (_dir, source) = tampered_sled(|db| edit_audit(db, 3, |r| r.event.actor = "cl1".into()));
    assert_nothing_written(
        &source,
        Some(&sealer()),
        "the source's audit log does not verify: audit record 3: hash mismatch",
    );
    drop(source);
    // The newest record rewritten with its hash and the head recomputed, as anyone with
    // write access can: the chain holds, only the MAC tells, which the copy checks under the
    // audit key.
    let mut newest = 0;
    let (_dir, source) = tampered_sled(|db| {
        use ca_core::store::{AUDIT_HEAD_KEY, META_TREE};
        let meta = db.open_tree(META_TREE).unwrap();
        let head: serde_json::Value =
            serde_json::from_slice(&meta.get(AUDIT_HEAD_KEY).unwrap().unwrap()).unwrap();
        newest = head["seq"].as_u64().unwrap();
        let mut hash = String::new();
        edit_audit(db, newest, |r| {
            r.event.actor = "cl1".into();
            r.hash = r.compute_hash();
            hash = r.hash.clone();
        });
        let head = serde_json::json!({"seq": newest, "hash": hash});
        meta.insert(AUDIT_HEAD_KEY, serde_json::to_vec(&head).unwrap())
            .unwrap();
    });
    // Without the master secret the copy could not tell.
    assert_eq!(ca_core::store::audit_verify(&source).unwrap(), newest);
    assert_nothing_written(
        &source,
        Some(&sealer()),
        &format!("audit record {newest}: MAC does not match"),
    );
}

#[test]
fn a_revocation_index_that_disagrees_with_its_certificates_is_refused() {
    // A revoked certificate's index entry removed: CRLs and OCSP would call it good.
    let (_dir, source) = tampered_sled(|db| {
        let tree = db.open_tree(REVOKED_TREE).unwrap();
        let key = tree.iter().keys().next().unwrap().unwrap();
        tree.remove(key).unwrap();
    });
    assert_nothing_written(
        &source,
        Some(&sealer()),
        "is revoked but missing from the revocation index",
    );
}

/// Scale, run by hand (`cargo test -p ca-core --release --test it -- --ignored --nocapture
/// store_copy::scale`): 100,000 certificates, a tenth revoked, one audit record each, copied
/// sled → PostgreSQL → sled, each leg timed (7.8 s and 15.3 s on the 2-core CI machine).
#[test]
#[ignore]
fn scale_copies_a_large_store_both_ways() {
    use ca_core::audit::{AuditEvent, AuditRecord};
    use ca_core::store::{CertificateRecord, Revocation};
    let n: u32 = 100_000;
    let source_dir = tempfile::tempdir().unwrap();
    let source = SledStore::open(source_dir.path()).unwrap();
    let mut prev: Option<AuditRecord> = None;
    let mut items = vec![StoreItem::Initialised];
    let mut revoked = Vec::new();
    let mut audit = Vec::new();
    for i in 0..n {
        let serial = i.to_be_bytes().to_vec();
        let revocation = (i % 10 == 0).then_some(Revocation {
            reason: RevocationReason::Superseded,
            revoked_at: NOW,
            invalidity_date: None,
        });
        if let Some(r) = &revocation {
            revoked.push(StoreItem::Revoked {
                issuer_ca: "sign".into(),
                serial: serial.clone(),
                revocation: r.clone(),
            });
        }
        items.push(StoreItem::Certificate(CertificateRecord {
            serial: serial.clone(),
            issuer_ca: "sign".into(),
            profile: "rhp-sign".into(),
            subject: format!("C=JP,CN=D{i}"),
            not_after: NOW + 86_400,
            der: vec![0x30; 600],
            revocation,
        }));
        let record = AuditRecord::next(
            prev.as_ref(),
            AuditEvent {
                time: NOW,
                actor: "test".into(),
                action: AuditAction::Issue,
                object: format!("certificate:{}", hex::encode(&serial)),
                details: vec![],
            },
        );
        audit.push(StoreItem::Audit(record.clone()));
        prev = Some(record);
    }
    let head = prev.unwrap();
    items.extend(revoked);
    items.extend(audit);
    items.push(StoreItem::AuditHead((head.seq, head.hash.clone())));
    source.import(&mut items.into_iter().map(Ok)).unwrap();
    let to = Postgres::fresh();
    let started = std::time::Instant::now();
    let report = copy(&source, &to.open(), None).unwrap();
    eprintln!(
        "sled → PostgreSQL: {n} certificates in {:?}",
        started.elapsed()
    );
    assert_eq!(report.summary.certificates, u64::from(n));
    assert_eq!(report.summary.revoked, u64::from(n / 10));
    let parent = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let back = copy_to_new_sled(&to.open(), &parent.path().join("back"), None).unwrap();
    eprintln!(
        "PostgreSQL → sled: {n} certificates in {:?}",
        started.elapsed()
    );
    assert_eq!(back.summary, report.summary);
}
