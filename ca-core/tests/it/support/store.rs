//! Sled stores in temporary directories: reopening one this process just closed, and audit events.

use ca_core::audit::{AuditAction, AuditEvent};
use ca_core::store::SledStore;
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
