//! Who is calling: an API token (`Authorization: Bearer hpki_…`) or, with mTLS, a client
//! certificate issued by our authentication CA under an authentication profile (ISO 17090-5).

use super::AppState;
use super::auth_failures::{self, AuthFailure};
use super::problem::Problem;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use ca_core::authority::access::Principal;
use std::future::{Ready, ready};

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
    type Future = Ready<Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(identify(req).and_then(|caller| {
            caller.identity.require_ra()?;
            Ok(RaCaller(caller))
        }))
    }
}

impl FromRequest for Caller {
    type Error = Problem;
    type Future = Ready<Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(identify(req))
    }
}

fn identify(req: &HttpRequest) -> Result<Caller, Problem> {
    // The rate limiter verified this request's token already (`limits::client`).
    if let Some(caller) = req.extensions().get::<Caller>() {
        return Ok(caller.clone());
    }
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| Problem::internal(&"application state missing"))?;
    authenticate(req, state, super::now()).map_err(|failure| {
        auth_failures::record(state, req, &failure);
        failure.into()
    })
}

fn authenticate(req: &HttpRequest, state: &AppState, now: u64) -> Result<Caller, AuthFailure> {
    if let Some(header) = req.headers().get(actix_web::http::header::AUTHORIZATION) {
        let value = header
            .to_str()
            .map_err(|_| AuthFailure::Header("malformed Authorization header"))?;
        let token = value.strip_prefix("Bearer ").ok_or(AuthFailure::Header(
            "expected Authorization: Bearer <token>",
        ))?;
        return verified_token(state, token.trim(), now).map_err(AuthFailure::Token);
    }
    if let Some(peer) = req.conn_data::<PeerCertificate>() {
        return certificate_caller(state, &peer.0, now).map_err(AuthFailure::Certificate);
    }
    Err(AuthFailure::NoCredentials)
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
