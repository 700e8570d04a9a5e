//! A PKCS#11 token that went away (issue 16): the routes that sign answer 503 with Retry-After
//! (`Problem::key_unavailable`), `/health` says why, and the module is initialized again
//! (`Pkcs11Token::reinitialize_module`: SoftHSM, for one, sees a token that came back only then)
//! at most once per [`REINIT_INTERVAL`], until a probe signature succeeds. No restart needed.

use crate::datadir::ServiceStore;
use ca_core::authority::Authority;
use ca_core::key::KeyError;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// Least time between two re-initializations: each waits for every call in the module to end
/// and drops every session, so a flapping token must not make them back to back.
pub const REINIT_INTERVAL: Duration = Duration::from_secs(2);

/// Set when a request found the token unavailable; cleared by a probe that signs.
static TROUBLE: AtomicBool = AtomicBool::new(false);
static LAST_REINIT: Mutex<Option<Instant>> = Mutex::new(None);

/// A request was answered 503 because the token is unavailable: the watcher takes over.
pub fn report_unavailable() {
    TROUBLE.store(true, Ordering::Relaxed);
}

/// Whether a re-initialization may run now (and, if so, records it).
fn reinit_due() -> bool {
    let mut last = LAST_REINIT.lock().unwrap_or_else(|e| e.into_inner());
    let now = Instant::now();
    if last.is_some_and(|at| now.duration_since(at) < REINIT_INTERVAL) {
        return false;
    }
    *last = Some(now);
    true
}

/// Probes the token with one signature; when it is unavailable, initializes the module again
/// (rate-limited) and probes once more. `Ok` at once with software keys. Blocks: call it off
/// the async workers.
pub fn check(authority: &Authority<ServiceStore>) -> Result<(), KeyError> {
    let first = match authority.probe_keys() {
        Ok(()) => {
            TROUBLE.store(false, Ordering::Relaxed);
            return Ok(());
        }
        Err(e @ KeyError::Unavailable(_)) => e,
        Err(e) => return Err(e),
    };
    TROUBLE.store(true, Ordering::Relaxed);
    let Some(token) = authority.key_backend().token() else {
        return Err(first);
    };
    if !reinit_due() {
        return Err(first);
    }
    if let Err(e) = token.reinitialize_module() {
        tracing::warn!(error = %e, "PKCS#11 module not initialized again");
        return Err(e);
    }
    authority.probe_keys().inspect(|()| {
        tracing::info!(token = token.label(), "PKCS#11 token available again");
        TROUBLE.store(false, Ordering::Relaxed);
    })
}

/// With keys in a token: a thread that, while a request has found the token unavailable, runs
/// [`check`] every second until it answers, so the service recovers though nobody asks
/// `/health`. It holds the authority weakly and ends with it.
pub fn watch<T: AsRef<Authority<ServiceStore>> + Send + Sync + 'static>(
    state: Arc<T>,
) -> Option<std::thread::JoinHandle<()>> {
    state.as_ref().as_ref().key_backend().token()?;
    let state: Weak<T> = Arc::downgrade(&state);
    std::thread::Builder::new()
        .name("hpki-key-watch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(1));
                let Some(state) = state.upgrade() else { return };
                if TROUBLE.load(Ordering::Relaxed) {
                    let _ = check(state.as_ref().as_ref());
                }
            }
        })
        .ok()
}
