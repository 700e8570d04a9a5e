//! The time-stamping authority over HTTP (RFC 3161 §3.4): `POST /v1/timestamps` answers a DER
//! TimeStampReq with a DER TimeStampResp, and `GET /v1/timestamps/certificate` serves the TSA
//! certificate and its chain. Open by default (RFC 3161 clients send no bearer token), under the
//! per-client rate limit; with `[tsa] require_auth` ca-core admits authenticated callers only.

use super::AppState;
use super::auth::Caller;
use super::ca::pem;
use super::openapi::Binary;
use super::problem::{Problem, RequestError};
use super::signatures::read_limited;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, get, post, web};
use ca_core::authority::{TimeStamped, TimestampError, TimestampStatus, TsaRequester};
use ca_core::tsp::MAX_REQUEST_LEN;

/// RFC 3161 §3.4's media types.
const QUERY: &str = "application/timestamp-query";
const REPLY: &str = "application/timestamp-reply";

/// Time-stamp a hash (RFC 3161): the body is a DER TimeStampReq, the reply a DER TimeStampResp,
/// granted with a token or a rejection naming its PKIFailureInfo (still 200: RFC 3161 §3.4).
#[utoipa::path(
    request_body(description = "A DER TimeStampReq (RFC 3161 §2.4.1), e.g. from `openssl ts -query`",
        content((Binary = "application/timestamp-query"))),
    responses(
        (status = 200, description = "A DER TimeStampResp (RFC 3161 §2.4.2): status granted with a time-stamp token, or rejection with its failInfo (badAlg, badRequest, badDataFormat, unacceptedPolicy, unacceptedExtension)",
            body = Binary, content_type = "application/timestamp-reply"),
        (status = 404, description = "This installation runs no time-stamping authority (its profiles have no tsa profile)"),
        (status = 409, description = "The TSA certificate, or a CA above it, is revoked, or the certificate is outside its validity"),
        (status = 413), (status = 415),
        (status = 503, description = "Over the service's budget of buffered request bodies"),
        (status = 500)))]
#[post("/v1/timestamps")]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    let actor = actor(&state, &req).await?;
    let essence = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if essence != QUERY {
        return Err(RequestError::UnsupportedMedia(
            "send a DER TimeStampReq as application/timestamp-query",
        )
        .into());
    }
    let (body, _reservation) = read_limited(&state, &req, payload, MAX_REQUEST_LEN as u64).await?;
    // Signing one token takes tens of microseconds: on the worker, then the audit record's group
    // commit is awaited without holding a thread (as signatures::sign_inline). With PostgreSQL
    // the revocation checks are network reads: all of it on the blocking pool.
    let stamped = if state.store_on_worker {
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<TimeStamped, TimestampError>>();
        state
            .authority
            .timestamp(&body, super::now(), &actor)
            .then(move |outcome| {
                let _ = tx.send(outcome);
            });
        rx.await
            .map_err(|_| Problem::internal(&"the audit writer dropped a time-stamp"))??
    } else {
        let st = state.clone();
        super::blocking(move || Ok(st.authority.timestamp(&body, super::now(), &actor).wait()?))
            .await?
    };
    let status = match stamped.status {
        TimestampStatus::Granted { .. } => "granted",
        TimestampStatus::Rejected(_) => "rejected",
    };
    state
        .metrics
        .count("hpki_timestamps_total", &[("status", status)]);
    Ok(HttpResponse::Ok()
        .content_type(REPLY)
        .body(stamped.response))
}

/// Who asks, as authenticated here; ca-core admits them or not (`[tsa] require_auth`) and names
/// the actor of their tokens' audit records.
async fn actor(state: &AppState, req: &HttpRequest) -> Result<String, Problem> {
    // The rate limiter verified a presented token already; otherwise a credential is checked
    // here, and its refusal is the answer when ca-core wants a caller.
    let verified = req.extensions().get::<Caller>().map(|c| c.label.clone());
    let caller = match verified {
        Some(label) => Ok(label),
        None => Caller::extract(req).await.map(|caller| caller.label),
    };
    let requester = match &caller {
        Ok(label) => TsaRequester::Caller(label),
        Err(_) => TsaRequester::Anonymous(req.peer_addr().map(|peer| peer.ip())),
    };
    match (state.authority.tsa_actor(requester), caller) {
        (Ok(actor), _) => Ok(actor),
        (Err(_), Err(why)) => Err(why),
        (Err(e), Ok(_)) => Err(e.into()),
    }
}

/// The TSA certificate, then the CA certificates above it (issuing CA first, root last), as
/// PEM: what a relying party needs to verify the tokens (`openssl ts -verify -untrusted`).
#[utoipa::path(responses(
    (status = 200, description = "PEM bundle: the TSA certificate (extendedKeyUsage timeStamping, critical), then its issuing CA and the root", body = String, content_type = "application/pem-certificate-chain"),
    (status = 404, description = "This installation runs no time-stamping authority"),
    (status = 500)))]
#[get("/v1/timestamps/certificate")]
pub async fn certificate(state: web::Data<AppState>) -> Result<HttpResponse, Problem> {
    let tsa = state.authority.tsa_certificate()?;
    let mut out = pem(&tsa.certificate)?;
    for ca in &tsa.chain {
        out.push_str(&pem(ca)?);
    }
    Ok(HttpResponse::Ok()
        .content_type("application/pem-certificate-chain")
        .body(out))
}
