//! The HTTP API (actix-web). Handlers turn wire DTOs into `ca_core` calls; CPU work (signing,
//! issuing, verifying) runs on the blocking pool, never on the async executor.

pub mod augment;
pub mod auth;
pub mod auth_failures;
mod ca;
pub mod certificates;
pub mod credentials;
pub mod limits;
pub mod metrics;
pub mod ocsp;
pub mod openapi;
mod ops;
pub mod problem;
pub mod signatures;
mod timestamps;
mod verifications;

use crate::config::Config;
use crate::datadir::ServiceStore;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::{App, ResponseError, web};
use ca_core::authority::Authority;
use ca_core::purpose::SigningPolicy;
use problem::{Problem, RequestError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use utoipa_actix_web::AppExt;

/// Shared by every worker.
pub struct AppState {
    pub authority: Authority<ServiceStore>,
    pub purposes: std::sync::Arc<SigningPolicy>,
    pub config: Config,
    pub metrics: metrics::Metrics,
    /// The log budget of failed authentications.
    pub auth_failure_log: auth_failures::AuthFailureLog,
    /// The per-client rate limit; `None` when configured off.
    pub rate: Option<limits::ClientRate>,
    /// The bytes of request bodies held in memory at once (`limits.buffer_bytes`).
    pub bodies: limits::BodyBudget,
    /// Whether a store call may run on an async worker: true for sled (reads from its cache,
    /// audit appends queued to its writer thread); false for PostgreSQL, whose every call
    /// blocks on the network, so token checks and signing go to the blocking pool.
    pub store_on_worker: bool,
}

impl AsRef<Authority<ServiceStore>> for AppState {
    fn as_ref(&self) -> &Authority<ServiceStore> {
        &self.authority
    }
}

/// The clock is read here, at the edge (DESIGN.md §5 invariant 1).
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The application: every route registered through `utoipa_actix_web`, so the OpenAPI document
/// lists exactly the routes served.
pub fn app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Response = ServiceResponse<impl MessageBody>,
        Config = (),
        InitError = (),
        Error = actix_web::Error,
    >,
> {
    let json_limit = state.config.limits.json_bytes;
    let (app, mut api) = App::new()
        .into_utoipa_app()
        .openapi(<openapi::ApiDoc as utoipa::OpenApi>::openapi())
        .app_data(state.clone())
        .app_data(
            web::JsonConfig::default()
                .limit(json_limit)
                .error_handler(|err, _| json_error(err).into()),
        )
        .app_data(web::PathConfig::default().error_handler(|err, _| {
            Problem::from(RequestError::Parameters(err.to_string())).into()
        }))
        .app_data(web::QueryConfig::default().error_handler(|err, _| {
            Problem::from(RequestError::Parameters(err.to_string())).into()
        }))
        // Resources are tried in this order and the paths with `{…}` are regex matches: the
        // signing route comes first so that a signature does not pay for four of them.
        .service(signatures::sign)
        .service(ops::health)
        .service(ops::metrics)
        .service(ca::ca_certificates)
        .service(ca::ca_certificate)
        .service(ca::crl)
        .service(ca::profiles)
        .service(ocsp::post)
        .service(ocsp::get)
        .service(certificates::issue)
        .service(certificates::list)
        .service(certificates::get)
        .service(certificates::revoke)
        .service(certificates::release)
        .service(credentials::create)
        .service(credentials::list)
        .service(credentials::create_token)
        .service(credentials::list_tokens)
        .service(credentials::revoke_token)
        .service(verifications::create)
        .service(augment::create)
        .service(timestamps::create)
        .service(timestamps::certificate)
        .split_for_parts();
    api.paths.paths.insert(
        "/openapi.json".into(),
        utoipa::openapi::path::PathItem::new(
            utoipa::openapi::HttpMethod::Get,
            utoipa::openapi::path::OperationBuilder::new()
                .summary(Some("This OpenAPI document"))
                .response(
                    "200",
                    utoipa::openapi::ResponseBuilder::new()
                        .description("OpenAPI 3.1 JSON")
                        .content(
                            "application/json",
                            utoipa::openapi::ContentBuilder::new()
                                .schema(Some(
                                    utoipa::openapi::ObjectBuilder::new()
                                        .schema_type(utoipa::openapi::Type::Object),
                                ))
                                .build(),
                        ),
                ),
        ),
    );
    let doc = web::Data::new(openapi::Document::new(&api, &state));
    app.app_data(doc)
        .route("/openapi.json", web::get().to(ops::openapi))
        .default_service(web::to(unrouted))
        // Inside the metrics layer below, so refusals are counted too.
        .wrap_fn(|mut req, srv| {
            use actix_web::dev::Service;
            // RFC 9110 §9.3.2: HEAD is served as GET; actix-http's codec, which saw HEAD,
            // sends the head of the response without its body.
            if req.method() == actix_web::http::Method::HEAD {
                req.head_mut().method = actix_web::http::Method::GET;
            }
            let seconds = req
                .app_data::<web::Data<AppState>>()
                .map_or(u64::MAX, |s| s.config.limits.request_seconds);
            let call = match limits::refusal(&req) {
                None => Ok(srv.call(req)),
                Some(refusal) => Err(req.into_response(refusal)),
            };
            async move {
                let fut = match call {
                    Ok(fut) => fut,
                    Err(refused) => return Ok(refused.map_into_right_body()),
                };
                // Dropping the handler on the deadline also drops a slowly trickling body. The
                // request itself went to the handler, so the 408 leaves as an error response.
                match actix_web::rt::time::timeout(Duration::from_secs(seconds), fut).await {
                    Ok(res) => Ok(problem_body(res?)),
                    Err(_) => Err(Problem::timeout(seconds).into()),
                }
            }
        })
        .wrap_fn(|req, srv| {
            use actix_web::dev::Service;
            let started = Instant::now();
            let state = req.app_data::<web::Data<AppState>>().cloned();
            // A label per extension method would be a series per client-chosen string.
            let method: &'static str = match req.method().as_str() {
                "GET" => "GET",
                "HEAD" => "HEAD",
                "POST" => "POST",
                "PUT" => "PUT",
                "DELETE" => "DELETE",
                "PATCH" => "PATCH",
                "OPTIONS" => "OPTIONS",
                _ => "other",
            };
            let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
            let fut = srv.call(req);
            async move {
                let res = fut.await;
                if let Some(state) = state {
                    // An error (the 408 of the deadline) is answered by actix from its problem.
                    let (status, reason) = match &res {
                        Ok(res) => (
                            res.status(),
                            res.response()
                                .extensions()
                                .get::<problem::Reason>()
                                .map(|r| r.0),
                        ),
                        Err(e) => (
                            e.as_response_error().status_code(),
                            e.as_error::<Problem>().map(|p| p.reason),
                        ),
                    };
                    let secs = started.elapsed().as_secs_f64();
                    state.metrics.observe(&route, method, status.as_u16(), secs);
                    if let Some(reason) = reason {
                        state
                            .metrics
                            .count("hpki_http_problems_total", &[("reason", reason)]);
                    }
                }
                res
            }
        })
}

/// No route for this method and path: 405 with `Allow` when the path is served with other methods
/// (RFC 9110 §15.5.6), else 404.
async fn unrouted(
    req: actix_web::HttpRequest,
    doc: web::Data<openapi::Document>,
) -> actix_web::HttpResponse {
    let Some(methods) = doc.allowed(req.path()) else {
        return Problem::from(RequestError::NoRoute).error_response();
    };
    let allow = methods
        .iter()
        .map(actix_web::http::Method::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    Problem::from(RequestError::MethodNotAllowed {
        method: req.method().to_string(),
        allow,
    })
    .error_response()
}

/// An error response that actix-web made itself (an extractor's or the router's, anything that
/// is not one of our problems) gets a problem+json body of its status, its headers kept, so no
/// error leaves with an empty or plain-text body. Heads that actix-http cannot parse at all
/// (400, 431) and the header timeout (408) are answered before any service runs: those bodies
/// stay empty.
fn problem_body<B>(res: ServiceResponse<B>) -> ServiceResponse<EitherBody<B>> {
    let status = res.status();
    let is_problem = res
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/problem+json");
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return res.map_into_left_body();
    }
    let detail = res.response().error().map_or_else(
        || status.canonical_reason().unwrap_or("error").to_owned(),
        ToString::to_string,
    );
    let (request, response) = res.into_parts();
    let mut replaced = Problem::from_status(status, detail).error_response();
    for (name, value) in response.headers() {
        if name != CONTENT_TYPE && name != CONTENT_LENGTH && !replaced.headers().contains_key(name)
        {
            replaced.headers_mut().append(name.clone(), value.clone());
        }
    }
    ServiceResponse::new(request, replaced).map_into_right_body()
}

fn json_error(err: actix_web::error::JsonPayloadError) -> Problem {
    use actix_web::error::JsonPayloadError as E;
    match err {
        E::OverflowKnownLength { limit, .. } | E::Overflow { limit } => {
            RequestError::TooLarge(limit as u64).into()
        }
        E::ContentType => {
            RequestError::UnsupportedMedia("expected Content-Type: application/json").into()
        }
        other => RequestError::Json(other.to_string()).into(),
    }
}

/// The `outcome` label of a counted operation: `ok`, or the reason of its problem (a fixed set
/// of names, so a label never holds client text).
pub fn outcome<T>(result: &Result<T, Problem>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(problem) => problem.reason,
    }
}

/// A time field of a request, `field` naming it in the refusal: RFC 3339's `date-time` production
/// (§5.6), which is what the OpenAPI document's `format: date-time` means, so with `T` between
/// date and time; the space that §5.6's NOTE allows, and `ca_core::time` reads for the CLI, is
/// refused here.
pub fn time_field(field: &str, value: &str) -> Result<u64, Problem> {
    let hint = "RFC 3339, e.g. 2026-12-07T09:00:00Z";
    if value.as_bytes().get(10) == Some(&b' ') {
        return Err(RequestError::Invalid(format!(
            "{field}: separate the date and the time with T ({hint})"
        ))
        .into());
    }
    ca_core::time::parse_rfc3339(value)
        .map_err(|e| RequestError::Invalid(format!("{field}: {e} ({hint})")).into())
}

/// Runs CPU-bound or blocking work (signing, issuing, storage flushes) on actix's blocking pool.
pub async fn blocking<T, F>(work: F) -> Result<T, Problem>
where
    F: FnOnce() -> Result<T, Problem> + Send + 'static,
    T: Send + 'static,
{
    web::block(work).await?
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::HttpResponse;
    use actix_web::http::StatusCode;
    use actix_web::http::header::ALLOW;

    /// An error response actix-web makes itself (here a bare 405 with `Allow`) leaves as
    /// problem+json of its status, its headers kept; a success or a problem is left alone.
    #[test]
    fn actix_error_responses_get_a_problem_body() {
        let request = || actix_web::test::TestRequest::default().to_http_request();
        let bare = HttpResponse::MethodNotAllowed()
            .insert_header((ALLOW, "GET"))
            .finish();
        let res = problem_body(ServiceResponse::new(request(), bare));
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(res.headers().get(ALLOW).unwrap(), "GET");
        assert_eq!(
            res.headers().get(CONTENT_TYPE).unwrap(),
            "application/problem+json"
        );
        let body = actix_web::rt::System::new()
            .block_on(actix_web::body::to_bytes(res.into_body()))
            .ok()
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["status"], 405);
        assert_eq!(json["title"], "Method Not Allowed");

        let ok = problem_body(ServiceResponse::new(
            request(),
            HttpResponse::Ok().body("x"),
        ));
        assert_eq!(ok.status(), StatusCode::OK);
        assert!(ok.headers().get(CONTENT_TYPE).is_none());
    }
}
