//! Health, metrics and the OpenAPI document.

use super::openapi::Document;
use super::problem::Problem;
use super::{AppState, blocking};
use actix_web::{HttpResponse, get, web};
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
/// unreachable out of rotation; sled is in the process.
#[utoipa::path(responses((status = 200, description = "The service and its store are up", body = Health),
    (status = 503, description = "The store's database is unreachable (the detail says so)")))]
#[get("/health")]
pub async fn health(state: web::Data<AppState>) -> Result<HttpResponse, Problem> {
    if !state.store_on_worker {
        let st = state.clone();
        blocking(move || Ok(st.authority.store().probe()?)).await?;
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
