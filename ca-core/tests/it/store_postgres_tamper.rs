//! A database administrator (or anyone with write access to the PostgreSQL database) edits the
//! audit log (threat model TB6): an edit is found by the hash chain; an edit whose hash and head
//! are recomputed, by the MAC, whose key is sealed under the installation's master secret and so
//! not in the database.

use crate::support::fresh_ca;
use crate::support::postgres::TestDatabase;
use crate::support::store::event;
use ca_core::audit::{AuditAction, AuditRecord};
use ca_core::authority::Authority;
use ca_core::profile::{CaUrls, ProfileSet};
use ca_core::seal::Sealer;
use ca_core::store::{PgStore, Store};

const NOW: u64 = 1_796_601_600;

fn installation(db: &TestDatabase) -> Authority<PgStore> {
    Authority::init(
        PgStore::open(&db.url).unwrap(),
        ProfileSet::embedded().unwrap(),
        Sealer::from_key(&[9u8; 32]),
        fresh_ca::request(
            "hpki DBA Test",
            "2.25.2026120709",
            CaUrls::default(),
            NOW,
            "test:init",
        ),
    )
    .unwrap()
}

fn rewrite(db: &TestDatabase, record: &AuditRecord, head: bool) {
    let mut client = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    let body = serde_json::to_vec(record).unwrap();
    let seq = i64::try_from(record.seq).unwrap();
    let n = client
        .execute("UPDATE audit SET body = $1 WHERE seq = $2", &[&body, &seq])
        .unwrap();
    assert_eq!(n, 1);
    if head {
        client
            .execute("UPDATE audit_head SET hash = $1", &[&record.hash])
            .unwrap();
    }
}

#[test]
fn an_audit_record_edited_in_the_database_is_found_even_with_its_hash_recomputed() {
    let db = TestDatabase::new();
    let authority = installation(&db);
    authority
        .store()
        .append_audit(event(AuditAction::Sign, "credential:c1"))
        .unwrap();
    let log = authority.store().audit_log().unwrap();
    assert!(log.len() >= 2, "{log:?}");
    assert!(authority.verify_audit(None).is_ok());
    let (prev, last) = (&log[log.len() - 2], log.last().unwrap().clone());

    // The actor changed in place: the record's hash no longer matches it.
    let mut edited = last.clone();
    edited.event.actor = "someone else".into();
    rewrite(&db, &edited, false);
    let e = authority.verify_audit(None).unwrap_err().to_string();
    assert!(e.contains(&format!("audit record {}", last.seq)), "{e}");

    // The same edit with the hash and the head recomputed: the chain holds, the MAC does not.
    let mut forged = AuditRecord::next(Some(prev), edited.event.clone());
    forged.mac = last.mac.clone();
    assert_eq!(forged.seq, last.seq);
    rewrite(&db, &forged, true);
    let e = authority.verify_audit(None).unwrap_err().to_string();
    assert!(
        e.contains(&format!("{}", last.seq)) && e.to_lowercase().contains("mac"),
        "{e}"
    );

    // Put back, it verifies again.
    rewrite(&db, &last, true);
    assert!(authority.verify_audit(None).is_ok());
}
