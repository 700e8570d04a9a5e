//! `PgStore` while its database is stopped and started again (issue 15 item 3), on a throwaway
//! cluster of its own: calls fail at once with `StoreError::Unavailable`, the audit writer
//! answers its batch as failed and lives on, and the same store serves again once the server is
//! back, on new connections, the chain continuing from the last committed record.

use crate::support::postgres::OwnCluster;
use crate::support::store::event;
use ca_core::audit::AuditAction;
use ca_core::store::{PgStore, Store, StoreError, audit_verify};
use std::time::{Duration, Instant};

#[test]
fn a_stopped_database_is_unavailable_and_the_store_recovers() {
    let Some(cluster) = OwnCluster::start(|_| String::new()) else {
        return;
    };
    let db = cluster.database();
    let store = PgStore::open(&db.url).unwrap();
    let first = store
        .append_audit(event(AuditAction::Sign, "before"))
        .unwrap();
    // Idle connections now sit in the pool; the server goes away under them.
    store.probe().unwrap();
    cluster.stop();

    let started = Instant::now();
    for outcome in [
        store
            .append_audit(event(AuditAction::Sign, "during"))
            .map(drop),
        store.audit_head().map(drop),
        store.token("t").map(drop),
        store.probe(),
    ] {
        let error = outcome.unwrap_err();
        assert!(matches!(error, StoreError::Unavailable(_)), "{error:?}");
        assert!(
            error
                .to_string()
                .starts_with("database unreachable: postgres:"),
            "{error}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    cluster.start_again();
    store.probe().unwrap();
    let next = store
        .append_audit(event(AuditAction::Sign, "after"))
        .unwrap();
    // The failed append left nothing: the next record follows the last committed one.
    assert_eq!(next.seq, first.seq + 1);
    assert_eq!(next.prev_hash, first.hash);
    assert_eq!(audit_verify(&store).unwrap(), next.seq);
}
