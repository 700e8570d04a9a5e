//! Health, metrics and the OpenAPI document.

use super::AppState;
use actix_web::{HttpResponse, get, web};
use std::fmt::Write;

#[utoipa::path(responses((status = 200, description = "The service is up")))]
#[get("/health")]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

#[utoipa::path(responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
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

pub async fn openapi(doc: web::Data<utoipa::openapi::OpenApi>) -> HttpResponse {
    HttpResponse::Ok().json(doc.get_ref())
}
