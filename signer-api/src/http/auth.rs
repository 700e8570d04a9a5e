//! Who is calling: an API token (`Authorization: Bearer hpki_…`) or, with mTLS, a client
//! certificate issued by our authentication CA under an authentication profile (ISO 17090-5).

use super::AppState;
use super::auth_failures::{self, AuthFailure};
use super::problem::Problem;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use ca_core::authority::access::Principal;
use std::future::{Future, ready};
use std::pin::Pin;

/// The verified peer certificate chain of a mutually authenticated TLS connection (DER, end
/// entity first), set at connect time.
#[derive(Clone, Debug)]
pub struct PeerCertificate(pub Vec<Vec<u8>>);

/// An authenticated request's caller: who ca-core says it is, and how the audit log names it.
#[derive(Clone, Debug)]
pub struct Caller {
    /// What ca-core's access rules judge (`Principal::require_ra`, `practitioner`, ...).
    pub identity: Principal,
    /// For the audit log: `token:<id>` or `certificate:<ca>:<serial>`; never a secret.
    pub label: String,
    /// The public id of the API token that authenticated the caller, if one did.
    pub token: Option<String>,
}

/// A caller who must be the registration authority. Placed before the body among a handler's
/// arguments, it refuses any other caller (403) before the body is read or judged, so a signer
/// token learns nothing from an RA route's validation messages.
pub struct RaCaller(pub Caller);

impl FromRequest for RaCaller {
    type Error = Problem;
    type Future = Identified<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let caller = identify(req);
        Box::pin(async move {
            let caller = caller.await?;
            caller.identity.require_ra()?;
            Ok(RaCaller(caller))
        })
    }
}

impl FromRequest for Caller {
    type Error = Problem;
    type Future = Identified<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        identify(req)
    }
}

/// What the extractors return: ready at once with sled; with PostgreSQL the token lookup runs
/// on the blocking pool (`AppState::store_on_worker`).
pub type Identified<T> = Pin<Box<dyn Future<Output = Result<T, Problem>>>>;

fn identify(req: &HttpRequest) -> Identified<Caller> {
    // The rate limiter verified this request's token already (`limits::client`).
    if let Some(caller) = req.extensions().get::<Caller>() {
        return Box::pin(ready(Ok(caller.clone())));
    }
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Box::pin(ready(Err(Problem::internal(&"application state missing"))));
    };
    let presented = presented(req);
    let req = req.clone();
    Box::pin(async move {
        let now = super::now();
        let outcome = if state.store_on_worker {
            authenticate(&state, presented, now)
        } else {
            let st = state.clone();
            web::block(move || authenticate(&st, presented, now)).await?
        };
        outcome.map_err(|failure| {
            auth_failures::record(&state, &req, &failure);
            failure.into()
        })
    })
}

/// The credentials a request presents, read from it before any store access, which may run on
/// another thread.
enum Presented {
    Token(String),
    Certificate(Vec<Vec<u8>>),
    Refused(AuthFailure),
}

fn presented(req: &HttpRequest) -> Presented {
    if let Some(header) = req.headers().get(actix_web::http::header::AUTHORIZATION) {
        let Ok(value) = header.to_str() else {
            return Presented::Refused(AuthFailure::Header("malformed Authorization header"));
        };
        let Some(token) = value.strip_prefix("Bearer ") else {
            return Presented::Refused(AuthFailure::Header(
                "expected Authorization: Bearer <token>",
            ));
        };
        return Presented::Token(token.trim().to_owned());
    }
    if let Some(peer) = req.conn_data::<PeerCertificate>() {
        return Presented::Certificate(peer.0.clone());
    }
    Presented::Refused(AuthFailure::NoCredentials)
}

fn authenticate(state: &AppState, presented: Presented, now: u64) -> Result<Caller, AuthFailure> {
    match presented {
        Presented::Token(token) => verified_token(state, &token, now).map_err(AuthFailure::Token),
        Presented::Certificate(chain) => {
            certificate_caller(state, &chain, now).map_err(AuthFailure::Certificate)
        }
        Presented::Refused(failure) => Err(failure),
    }
}

/// The caller an API token names, once it verifies at `now`.
pub fn token_caller(state: &AppState, token: &str, now: u64) -> Result<Caller, Problem> {
    Ok(verified_token(state, token, now)?)
}

fn verified_token(
    state: &AppState,
    token: &str,
    now: u64,
) -> Result<Caller, ca_core::token::TokenError> {
    let scope = state.authority.authenticate(token, now)?;
    // A verified token is `hpki_<id>_<secret>`: only the public id goes into audit records.
    let id = token.split('_').nth(1).unwrap_or_default();
    Ok(Caller {
        identity: scope.into(),
        label: format!("token:{id}"),
        token: Some(id.to_owned()),
    })
}

/// The caller a verified client certificate chain (end entity first) authenticates at `now`;
/// ca-core decides (`Authority::authenticate_client`).
fn certificate_caller(
    state: &AppState,
    chain: &[Vec<u8>],
    now: u64,
) -> Result<Caller, ca_core::client_auth::ClientAuthError> {
    let client = state.authority.authenticate_client(chain, now)?;
    let label = format!("certificate:{}:{}", client.ca, hex::encode(&client.serial));
    Ok(Caller {
        identity: client.into(),
        label,
        token: None,
    })
}
