//! What every request meets before a handler: the per-client rate limit (429 with Retry-After),
//! a declared body larger than any route accepts (413), and a deadline on the whole request
//! (408), so slow or greedy clients cannot hold the service. Header timeouts, keep-alive and
//! connection caps are set on the server itself (`serve.rs`). Bodies a handler holds in memory
//! (attached documents, verification requests) share one budget of bytes (`BodyBudget`): beyond
//! it, 503 with Retry-After.

use super::AppState;
use super::problem::{Problem, RequestError};
use crate::config::Limits;
use actix_web::dev::ServiceRequest;
use actix_web::http::header::{AUTHORIZATION, CONTENT_LENGTH, HeaderMap};
use actix_web::{HttpMessage, HttpResponse, ResponseError, web};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Checks between two sweeps of idle clients out of the limiter's map, which keeps its memory
/// bounded by the clients seen within one burst period.
const SWEEP_EVERY: u64 = 1024;

/// One GCRA budget per client, shared by every worker.
pub struct ClientRate {
    limiter: DefaultKeyedRateLimiter<String>,
    checks: AtomicU64,
}

impl ClientRate {
    /// `None` when the configured rate is 0 (no limit).
    pub fn new(limits: &Limits) -> Option<Self> {
        let rate = NonZeroU32::new(limits.rate_per_second)?;
        let burst = NonZeroU32::new(limits.rate_burst).unwrap_or(rate);
        Some(Self {
            limiter: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
            checks: AtomicU64::new(0),
        })
    }

    /// Counts one request of `client`; `Err(seconds)` to wait when it is over its rate.
    fn check(&self, client: String) -> Result<(), u64> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter.check_key(&client).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}

/// The client a request counts against: the public id of its API token (`hpki_<id>_…`) when the
/// token verifies, else its IP address (mTLS and anonymous callers, and every token that does not
/// verify). Unverified ids by address, because an id is attacker-chosen: random ids would each get
/// a fresh budget, and a known id (ids appear in audit records) with a wrong secret would spend
/// its owner's. Valid tokens keep budgets of their own, because behind a hospital's NAT or
/// integration engine many practitioners and systems share one address. The verified caller is
/// left in the request's extensions, where the `Caller` extractor takes it instead of verifying
/// the token again.
///
/// With PostgreSQL (`AppState::store_on_worker` false) a token is not verified here, on the
/// async worker: every request counts against its address.
fn client(req: &ServiceRequest, state: &AppState) -> String {
    let caller = Some(req)
        .filter(|_| state.store_on_worker)
        .and_then(|req| {
            req.headers()
                .get(AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
        })
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|t| super::auth::token_caller(state, t.trim(), super::now()).ok());
    match (caller, req.peer_addr()) {
        (Some(caller), _) => {
            let key = caller.label.clone();
            req.extensions_mut().insert(caller);
            key
        }
        (None, Some(peer)) => format!("ip:{}", peer.ip()),
        (None, None) => "ip:unknown".to_owned(),
    }
}

/// The answer to a request refused before its handler, if it is: 429 over the client's rate,
/// 413 when its declared length exceeds the largest body any route takes (before a byte of it
/// is read).
pub fn refusal(req: &ServiceRequest) -> Option<HttpResponse> {
    let state = req.app_data::<web::Data<AppState>>()?;
    if let Some(rate) = &state.rate
        && let Err(wait) = rate.check(client(req, state))
    {
        return Some(Problem::too_many_requests(wait).error_response());
    }
    let limits = &state.config.limits;
    let largest = limits.document_bytes.max(limits.json_bytes as u64);
    declared_length(req.headers())
        .is_some_and(|n| n > largest)
        .then(|| Problem::from(RequestError::TooLarge(largest)).error_response())
}

/// The body length a request declares (`Content-Length`), if it declares one.
pub fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// Seconds a client refused for the body budget is asked to wait: the time a large body in
/// flight on a LAN takes to arrive and be signed.
const BUDGET_RETRY_SECONDS: u64 = 2;

/// The bytes of request bodies that handlers hold in memory at once, across every worker
/// (`limits.buffer_bytes`). Streamed detached documents hold none: only their digest is kept.
pub struct BodyBudget {
    limit: u64,
    used: Arc<AtomicU64>,
}

impl BodyBudget {
    pub fn new(limits: &Limits) -> Self {
        Self {
            limit: limits.buffer_bytes,
            used: Arc::default(),
        }
    }

    /// A reservation for a body about to be buffered, holding its `declared` length from the
    /// start, so a body that cannot fit is refused before a byte of it is read.
    pub fn reserve(&self, declared: Option<u64>) -> Result<Reservation, Problem> {
        let mut reservation = Reservation {
            limit: self.limit,
            used: Arc::clone(&self.used),
            held: 0,
        };
        reservation.hold(declared.unwrap_or(0))?;
        Ok(reservation)
    }

    /// Bytes reserved now.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }
}

/// Bytes of the budget held for one body; given back when dropped (the handler finished, or its
/// future was dropped at the request deadline or on a client disconnect).
pub struct Reservation {
    limit: u64,
    used: Arc<AtomicU64>,
    held: u64,
}

impl Reservation {
    /// Makes the reservation cover `total` bytes (a body arriving without a declared length
    /// grows it chunk by chunk); 503 when the budget cannot hold them.
    pub fn hold(&mut self, total: u64) -> Result<(), Problem> {
        let more = total.saturating_sub(self.held);
        if more == 0 {
            return Ok(());
        }
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(more).filter(|n| *n <= self.limit)
            })
            .map_err(|_| Problem::busy(self.limit, BUDGET_RETRY_SECONDS))?;
        self.held = total;
        Ok(())
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.used.fetch_sub(self.held, Ordering::AcqRel);
    }
}
