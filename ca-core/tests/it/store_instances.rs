//! Several `Authority` instances on one PostgreSQL database, as several service processes would
//! run (issue 15): each has its own `PgStore` (its own connections and audit writer), and the
//! database alone keeps serials unique, CRL numbers increasing and the audit chain linear.

use crate::support::credential::{NOW, registration};
use crate::support::fresh_ca;
use crate::support::postgres::TestDatabase;
use ca_core::audit::{AuditAction, AuditEvent};
use ca_core::authority::Authority;
use ca_core::key::{KeyAlgorithm, SigningKey};
use ca_core::profile::{CaUrls, ProfileSet};
use ca_core::seal::Sealer;
use ca_core::store::{PgStore, Store, audit_verify};
use std::collections::BTreeSet;
use std::sync::{Arc, Barrier};
use x509_cert::crl::CertificateList;
use x509_cert::der::Decode;

const INSTANCES: usize = 3;
const PER_INSTANCE: usize = 8;
const SEAL: [u8; 32] = [5u8; 32];

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
    n.0.as_bytes()
        .iter()
        .fold(0u64, |a, b| a << 8 | u64::from(*b))
}

fn instances(db: &TestDatabase) -> Vec<Authority<PgStore>> {
    let first = Authority::init(
        PgStore::open(&db.url).unwrap(),
        ProfileSet::embedded().unwrap(),
        Sealer::from_key(&SEAL),
        fresh_ca::request(
            "hpki Instances Test",
            "2.25.2026120701",
            CaUrls::default(),
            NOW - 86_400,
            "test:init",
        ),
    )
    .unwrap();
    let mut all = vec![first];
    for _ in 1..INSTANCES {
        all.push(
            Authority::open(
                PgStore::open(&db.url).unwrap(),
                ProfileSet::embedded().unwrap(),
                Sealer::from_key(&SEAL),
                NOW,
            )
            .unwrap(),
        );
    }
    all
}

/// Issue 15 item 2 (serials, CRL numbers, the audit chain) with three instances issuing,
/// signing CRLs and appending audit records at once.
#[test]
fn three_instances_issue_concurrently_with_unique_serials_and_one_linear_audit_chain() {
    let db = TestDatabase::new();
    let authorities = Arc::new(instances(&db));
    let before = audit_verify(authorities[0].store()).unwrap();
    let start = Arc::new(Barrier::new(INSTANCES));
    let workers: Vec<_> = (0..INSTANCES)
        .map(|n| {
            let authorities = Arc::clone(&authorities);
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                let authority = &authorities[n];
                start.wait();
                let mut serials = Vec::new();
                let mut crls = Vec::new();
                let mut seqs = Vec::new();
                for i in 0..PER_INSTANCE {
                    let key = SigningKey::generate(KeyAlgorithm::P256).unwrap();
                    let subject =
                        format!("C=JP,O=hpki Test Hospital,CN=D{n}-{i},serialNumber=D{n}-{i}");
                    let issued = authority
                        .issue(
                            &registration("rhp-sign", &subject, &["Medical Doctor"]),
                            &fresh_ca::csr(&key),
                            NOW,
                            &format!("instance:{n}"),
                        )
                        .unwrap();
                    seqs.push(issued.audit_seq);
                    serials.push(issued.serial);
                    let crl = authority.crl("sign", NOW, "test:crl").unwrap();
                    crls.push(crl_number(&crl));
                    // The group-committed path, as a signature's audit record takes it.
                    let record = authority
                        .store()
                        .append_audit(AuditEvent {
                            time: NOW,
                            actor: format!("instance:{n}"),
                            action: AuditAction::Sign,
                            object: format!("doc:{n}-{i}"),
                            details: vec![],
                        })
                        .unwrap();
                    seqs.push(record.seq);
                }
                (serials, crls, seqs)
            })
        })
        .collect();
    let mut serials = BTreeSet::new();
    let mut crl_numbers = Vec::new();
    let mut seqs = Vec::new();
    for worker in workers {
        let (s, c, q) = worker.join().unwrap();
        // Each instance sees its own CRL numbers strictly increase.
        assert!(c.windows(2).all(|w| w[0] < w[1]), "{c:?}");
        for serial in s {
            assert!(serials.insert(serial.clone()), "serial {serial:02x?} twice");
        }
        crl_numbers.extend(c);
        seqs.extend(q);
    }
    let total = INSTANCES * PER_INSTANCE;
    assert_eq!(serials.len(), total);
    // Every CRL number was handed out once, none skipped: 1..=n in some order.
    crl_numbers.sort_unstable();
    let first_crl = crl_numbers[0];
    assert_eq!(
        crl_numbers,
        (first_crl..first_crl + total as u64).collect::<Vec<_>>()
    );
    // The acknowledged audit records of all instances are distinct sequence numbers.
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), 2 * total);

    // One linear chain, every record's predecessor the previous committed one, whoever wrote it:
    // verified with MACs by each instance, and structurally on a fresh handle.
    let expected = before + 3 * total as u64;
    for authority in authorities.iter() {
        assert_eq!(authority.verify_audit(None).unwrap().records, expected);
    }
    let fresh = PgStore::open(&db.url).unwrap();
    assert_eq!(audit_verify(&fresh).unwrap(), expected);
    let log = fresh.audit_log().unwrap();
    for pair in log.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
        assert_eq!(pair[1].seq, pair[0].seq + 1);
    }
    let issued: BTreeSet<Vec<u8>> = fresh
        .certificates()
        .unwrap()
        .into_iter()
        .map(|c| c.serial)
        .collect();
    assert!(serials.is_subset(&issued));
}

/// The schema is versioned: a new database gets every migration; opening again applies none.
#[test]
fn migrations_are_recorded_and_applied_once() {
    let db = TestDatabase::new();
    let first = PgStore::open(&db.url).unwrap();
    assert_eq!(first.schema_version().unwrap(), 1);
    let second = PgStore::open(&db.url).unwrap();
    assert_eq!(second.schema_version().unwrap(), 1);
    let mut client = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    let rows = client
        .query("SELECT version FROM schema_version ORDER BY version", &[])
        .unwrap();
    assert_eq!(rows.iter().map(|r| r.get(0)).collect::<Vec<i32>>(), [1]);
    // A database migrated by a newer release is refused rather than misread.
    client
        .execute("INSERT INTO schema_version (version) VALUES (99)", &[])
        .unwrap();
    let err = PgStore::open(&db.url).err().unwrap();
    assert!(err.to_string().contains("schema is version 99"), "{err}");
}

fn crl_serials(der: &[u8]) -> Vec<Vec<u8>> {
    let crl: CertificateList = CertificateList::from_der(der).unwrap();
    crl.tbs_cert_list
        .revoked_certificates
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.serial_number.as_bytes().to_vec())
        .collect()
}

/// Issue 15 item 2 (fails on main, where each authority served the CRL it last signed until
/// its own revocation made it stale): a revocation or release through one instance is on the
/// current CRL every instance serves from then on, and a read with no change burns no number.
#[test]
fn the_current_crl_of_every_instance_follows_a_revocation_on_another() {
    use ca_core::store::RevocationReason;
    let db = TestDatabase::new();
    let authorities = instances(&db);
    let (a, b) = (&authorities[0], &authorities[1]);
    let key = SigningKey::generate(KeyAlgorithm::P256).unwrap();
    let issued = a
        .issue(
            &registration(
                "rhp-sign",
                "C=JP,O=hpki Test Hospital,CN=Held,serialNumber=H-1",
                &["Medical Doctor"],
            ),
            &fresh_ca::csr(&key),
            NOW,
            "instance:a",
        )
        .unwrap();
    let before = b.current_crl("sign", NOW + 1, "instance:b", false).unwrap();
    assert!(crl_serials(&before).is_empty());
    assert_eq!(
        b.current_crl("sign", NOW + 2, "instance:b", false).unwrap(),
        before,
        "no change, no new CRL"
    );

    a.revoke(
        &issued.serial,
        RevocationReason::CertificateHold,
        None,
        NOW + 3,
        "instance:a",
    )
    .unwrap();
    let held = b.current_crl("sign", NOW + 4, "instance:b", false).unwrap();
    assert_eq!(crl_serials(&held), vec![issued.serial.clone()]);
    assert!(crl_number(&held) > crl_number(&before));

    a.release(&issued.serial, NOW + 5, "instance:a").unwrap();
    let released = b.current_crl("sign", NOW + 6, "instance:b", false).unwrap();
    assert!(crl_serials(&released).is_empty());
    assert!(crl_number(&released) > crl_number(&held));
}
