//! Health, metrics and the OpenAPI document.

use super::AppState;
use super::openapi::Document;
use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use std::fmt::Write;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always "ok": the service answers.
    #[schema(pattern = "^ok$")]
    status: &'static str,
}

#[utoipa::path(responses((status = 200, description = "The service is up", body = Health)))]
#[get("/health")]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
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
