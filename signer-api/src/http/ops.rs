//! Health, metrics and the OpenAPI document.

use super::openapi::Document;
use super::problem::Problem;
use super::{AppState, blocking};
use actix_web::{HttpResponse, get, web};
use ca_core::key::KeyError;
use serde::Serialize;
use std::fmt::Write;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always "ok": the service answers and its store can be reached.
    #[schema(pattern = "^ok$")]
    status: &'static str,
}

/// Up when the store can serve: with PostgreSQL the database is asked (a round trip on the
/// blocking pool, at most 2 s), so a load balancer takes an instance whose database is
/// unreachable out of rotation; sled is in the process. With keys in a PKCS#11 token, a probe
/// signature: a token gone is 503 saying why (and the module is initialized again).
#[utoipa::path(responses((status = 200, description = "The service, its store and its keys are up", body = Health),
    (status = 503, description = "The store's database or the keys' PKCS#11 token is unreachable (the detail says which and why)")))]
#[get("/health")]
pub async fn health(state: web::Data<AppState>) -> Result<HttpResponse, Problem> {
    if !state.store_on_worker {
        let st = state.clone();
        blocking(move || Ok(st.authority.store().probe()?)).await?;
    }
    // Keys in a token: one probe signature (and, when it fails, the module initialized again).
    if state.authority.key_backend().token().is_some() {
        let st = state.clone();
        blocking(move || {
            crate::keyhealth::check(&st.authority).map_err(|e| {
                // Whatever the key error (a PIN refused too), 503 saying why: the service is
                // up, its keys are not usable. The reason names PKCS#11 return values, no secret.
                let e = match e {
                    e @ KeyError::Unavailable(_) => e,
                    e => KeyError::Unavailable(e.to_string()),
                };
                let mut problem = Problem::key(&e);
                problem.detail = format!("the keys' PKCS#11 token: {e}");
                problem
            })
        })
        .await?;
    }
    Ok(HttpResponse::Ok().json(Health { status: "ok" }))
}

#[utoipa::path(responses((status = 200, description = "Prometheus text format 0.0.4", body = String, content_type = "text/plain")))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let mut text = state.metrics.render();
    // The body budget (`limits.buffer_bytes`): what is held now, and its limit.
    let _ = write!(
        text,
        "# TYPE hpki_buffered_body_bytes gauge\nhpki_buffered_body_bytes {}\n\
         # TYPE hpki_buffered_body_limit_bytes gauge\nhpki_buffered_body_limit_bytes {}\n",
        state.bodies.used(),
        state.config.limits.buffer_bytes
    );
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(text)
}

pub async fn openapi(doc: web::Data<Document>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.json())
}
