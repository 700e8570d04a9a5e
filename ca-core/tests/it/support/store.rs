//! Stores for tests: sled in temporary directories (reopening one this process just closed),
//! PostgreSQL in fresh databases, the backend factory the conformance suite runs over, and audit
//! events.

use super::postgres::TestDatabase;
use ca_core::audit::{AuditAction, AuditEvent};
use ca_core::store::{PgStore, SledStore, Store};
use std::path::Path;

/// Retries `open` while the database lock is still held. sled 0.34 releases its file lock on
/// background threads shortly after the last handle drops (spacejam/sled#1234), so an immediate
/// reopen can briefly see the lock held (sled's "could not acquire lock", `StoreError::InUse`
/// from `SledStore`); wait for the release (bounded), fail on anything else.
pub fn wait_for_lock<T, E: std::fmt::Display + std::fmt::Debug>(
    mut open: impl FnMut() -> Result<T, E>,
) -> T {
    for _ in 0..500 {
        match open() {
            Err(e)
                if e.to_string().contains("could not acquire lock")
                    || e.to_string().contains("in use by another process") =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return other.unwrap(),
        }
    }
    panic!("the database lock was never released");
}

/// Reopens a store this process just closed.
pub fn reopen(dir: &Path) -> SledStore {
    wait_for_lock(|| SledStore::open(dir))
}

/// An administrator's event at a fixed time, without details.
pub fn event(action: AuditAction, object: &str) -> AuditEvent {
    AuditEvent {
        time: 1_700_000_000,
        actor: "cli:root".into(),
        action,
        object: object.into(),
        details: vec![],
    }
}

/// A place a store lives, fresh per test: the conformance suite runs each test over every one.
pub trait Backend {
    /// The store it opens.
    type Store: Store + 'static;
    /// A new, empty place.
    fn fresh() -> Self;
    /// Opens (or reopens, after the previous handle was dropped) the store.
    fn open(&self) -> Self::Store;
}

/// sled in a temporary directory.
pub struct Sled(tempfile::TempDir);

impl Backend for Sled {
    type Store = SledStore;
    fn fresh() -> Self {
        Self(tempfile::tempdir().unwrap())
    }
    fn open(&self) -> SledStore {
        reopen(self.0.path())
    }
}

/// PostgreSQL in a fresh database (`support::postgres`).
pub struct Postgres(TestDatabase);

impl Backend for Postgres {
    type Store = PgStore;
    fn fresh() -> Self {
        Self(TestDatabase::new())
    }
    fn open(&self) -> PgStore {
        PgStore::open(&self.0.url).unwrap()
    }
}

/// One `#[test]` per backend for each generic test fn `name<B: Backend>()` listed: modules
/// `sled::name` and `postgres::name`.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sled {
            $(#[test]
            fn $name() {
                super::$name::<crate::support::store::Sled>()
            })*
        }
        mod postgres {
            $(#[test]
            fn $name() {
                super::$name::<crate::support::store::Postgres>()
            })*
        }
    };
}
pub(crate) use conformance;
