//! Failed authentications (issue 12 item 7): counted per client in the metrics
//! (`hpki_auth_failures_total`, labels bounded by `metrics::AUTH_FAILURE_CLIENTS`) and logged
//! at a bounded rate, so a credential-guessing client is visible without flooding the log.

use super::AppState;
use super::problem;
use actix_web::HttpRequest;
use ca_core::client_auth::ClientAuthError;
use ca_core::token::{TokenError, Unrecognised};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Why a request did not authenticate.
pub enum AuthFailure {
    /// No `Authorization` header and no client certificate.
    NoCredentials,
    /// An `Authorization` header that is not `Bearer <token>` (the detail says how).
    Header(&'static str),
    Token(TokenError),
    Certificate(ClientAuthError),
}

impl AuthFailure {
    /// The metric label and log field; `None` for a failure on the service's side (the store),
    /// which is not the client's.
    fn reason(&self) -> Option<&'static str> {
        match self {
            Self::NoCredentials => Some("no_credentials"),
            Self::Header(_) => Some("malformed_header"),
            Self::Token(e) => problem::token_reason(e),
            Self::Certificate(e) => problem::certificate_reason(e),
        }
    }

    /// Whom the failure is counted against: a stored token's id when the token names one (the
    /// store bounds those), else the peer address. Never an id the store does not hold: the
    /// client chooses it, and each would be a new series.
    fn client(&self, req: &HttpRequest) -> String {
        match self {
            Self::Token(
                TokenError::Unrecognised {
                    id,
                    cause: Unrecognised::WrongSecret,
                }
                | TokenError::Expired(id)
                | TokenError::Revoked(id),
            ) => format!("token:{id}"),
            _ => req
                .peer_addr()
                .map_or_else(|| "ip:unknown".to_owned(), |a| format!("ip:{}", a.ip())),
        }
    }
}

/// At most [`LOG_LINES`] log lines per [`LOG_WINDOW`] for all clients together; the first line of
/// a later window says how many were left out before it. The metrics count every failure.
const LOG_LINES: u32 = 10;
const LOG_WINDOW: Duration = Duration::from_secs(60);

/// The log budget of failed authentications (one per service).
pub struct AuthFailureLog(Mutex<Window>);

struct Window {
    started: Instant,
    logged: u32,
    suppressed: u64,
}

impl Default for AuthFailureLog {
    fn default() -> Self {
        Self(Mutex::new(Window {
            started: Instant::now(),
            logged: 0,
            suppressed: 0,
        }))
    }
}

impl AuthFailureLog {
    /// `Some(lines suppressed since the last one logged)` when this failure may be logged.
    fn admit(&self, now: Instant) -> Option<u64> {
        let mut w = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if now.duration_since(w.started) >= LOG_WINDOW {
            w.started = now;
            w.logged = 0;
        }
        if w.logged >= LOG_LINES {
            w.suppressed += 1;
            return None;
        }
        w.logged += 1;
        Some(std::mem::take(&mut w.suppressed))
    }
}

/// Counts `failure` in the metrics and logs it within the budget.
pub fn record(state: &AppState, req: &HttpRequest, failure: &AuthFailure) {
    let Some(reason) = failure.reason() else {
        return;
    };
    let client = failure.client(req);
    state.metrics.count_auth_failure(&client, reason);
    if let Some(suppressed) = state.auth_failure_log.admit(Instant::now()) {
        tracing::warn!(%client, reason, suppressed, "authentication failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_budget_is_per_window_and_reports_what_it_left_out() {
        let log = AuthFailureLog::default();
        let start = Instant::now();
        let admitted = (0..25).filter(|_| log.admit(start).is_some()).count();
        assert_eq!(admitted, LOG_LINES as usize);
        // The next window's first line carries the 15 left out.
        assert_eq!(log.admit(start + LOG_WINDOW), Some(15));
        assert_eq!(log.admit(start + LOG_WINDOW), Some(0));
    }
}
