//! The PostgreSQL pool's cap (`pool_size` in the URL): one process never holds more connections
//! than that, however many threads call; a caller that finds every slot taken waits for one
//! (bounded by the connect timeout), then gets `StoreError::Unavailable` (the service's 503),
//! and the store serves again once a slot is freed.

use crate::support::postgres::TestDatabase;
use crate::support::store::event;
use ca_core::audit::AuditAction;
use ca_core::store::{PgStore, Store, StoreError};
use std::time::{Duration, Instant};

fn with(url: &str, parameters: &str) -> String {
    let joint = if url.contains('?') { '&' } else { '?' };
    format!("{url}{joint}{parameters}")
}

/// Connections the server has open to `url`'s database, counted from another connection.
fn connections(db: &TestDatabase) -> i64 {
    let mut client = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0)
}

#[test]
fn a_pool_of_two_serves_eight_threads_on_two_connections() {
    let db = TestDatabase::new();
    let store = PgStore::open(&with(&db.url, "pool_size=2")).unwrap();
    std::thread::scope(|scope| {
        for t in 0..8 {
            let store = &store;
            scope.spawn(move || {
                for i in 0..10 {
                    store
                        .append_audit(event(AuditAction::Sign, &format!("{t}-{i}")))
                        .unwrap();
                    store.audit_head().unwrap();
                }
            });
        }
        // Sampled while the threads run: never more than the cap.
        for _ in 0..20 {
            let open = connections(&db);
            assert!(open <= 2, "{open} connections open with pool_size=2");
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    assert_eq!(store.audit_log().unwrap().len(), 80);
    assert!(connections(&db) <= 2);
}

#[test]
fn every_slot_taken_is_unavailable_after_the_connect_timeout_and_serves_once_one_is_freed() {
    let db = TestDatabase::new();
    let store = PgStore::open(&with(&db.url, "pool_size=1&connect_timeout=1")).unwrap();
    store.append_audit(event(AuditAction::Sign, "a")).unwrap();
    // An export holds its connection (one snapshot) until it is dropped.
    let export = store.export().unwrap();
    let started = Instant::now();
    let error = store.audit_head().unwrap_err();
    let waited = started.elapsed();
    assert!(matches!(error, StoreError::Unavailable(_)), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("all 1 database connections of this process are in use"),
        "{error}"
    );
    assert!(
        waited >= Duration::from_millis(900),
        "gave up after {waited:?}"
    );
    drop(export);
    assert!(store.audit_head().unwrap().is_some());
}

#[test]
fn a_pool_size_out_of_range_is_refused() {
    let db = TestDatabase::new();
    for bad in ["pool_size=0", "pool_size=1001", "pool_size=many"] {
        let Err(error) = PgStore::open(&with(&db.url, bad)) else {
            panic!("{bad} opened");
        };
        assert!(error.to_string().contains("pool_size"), "{bad}: {error}");
    }
}
