//! Public CA material: certificates, CRLs, profiles. No authentication: relying parties need them.

use super::openapi::Binary;
use super::problem::{Problem, RequestError};
use super::{AppState, blocking, now};
use actix_web::{HttpResponse, get, web};
use ca_core::profile::IssuerRef;
use serde::Serialize;
use x509_cert::der::pem::LineEnding;

pub(super) fn pem(der: &[u8]) -> Result<String, Problem> {
    x509_cert::der::pem::encode_string("CERTIFICATE", LineEnding::LF, der)
        .map_err(|e| Problem::internal(&e))
}

/// Every CA certificate as PEM: the issuing CAs first, the root last.
#[utoipa::path(responses(
    (status = 200, description = "PEM bundle of the CA certificates", body = String, content_type = "application/pem-certificate-chain"),
    (status = 500)))]
#[get("/v1/ca/certificates")]
pub async fn ca_certificates(state: web::Data<AppState>) -> Result<HttpResponse, Problem> {
    let mut ids: Vec<&str> = state.authority.ca_ids().collect();
    // Root last, so the bundle reads as chains towards the anchor.
    ids.sort_by_key(|id| (*id == "root", *id));
    let mut out = String::new();
    for id in ids {
        out.push_str(&pem(state.authority.ca_certificate(id)?)?);
    }
    Ok(HttpResponse::Ok()
        .content_type("application/pem-certificate-chain")
        .body(out))
}

const CA_FILE: &str = "expected <ca>.der or <ca>.pem";

/// One CA certificate: `{ca}.der` (the AIA caIssuers URL in our certificates) or `{ca}.pem`.
#[utoipa::path(params(("file" = String, Path, description = "`<ca>.der` (also .cer, .crt) or `<ca>.pem`")),
    responses(
        (status = 200, description = "The certificate", content(
            (Binary = "application/pkix-cert"), (String = "application/x-pem-file"))),
        (status = 404, description = "No such CA, or another extension"), (status = 500)))]
#[get("/v1/ca/{file}")]
pub async fn ca_certificate(
    state: web::Data<AppState>,
    file: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let (id, ext) = file
        .rsplit_once('.')
        .ok_or(RequestError::NotFound(CA_FILE.into()))?;
    let der = state.authority.ca_certificate(id)?;
    match ext {
        "der" | "cer" | "crt" => Ok(HttpResponse::Ok()
            .content_type("application/pkix-cert")
            .body(der.to_vec())),
        "pem" => Ok(HttpResponse::Ok()
            .content_type("application/x-pem-file")
            .body(pem(der)?)),
        _ => Err(RequestError::NotFound(CA_FILE.into()).into()),
    }
}

/// The CA's current CRL (DER). Re-signed after each revocation and half-way to nextUpdate, so
/// reading it never floods the CRL numbers or the audit log (the decision is the authority's).
#[utoipa::path(params(("ca" = String, Path, description = "A CA id: sign, auth or root")),
    responses((status = 200, description = "DER CRL", body = Binary, content_type = "application/pkix-crl"),
        (status = 404, description = "No such CA"), (status = 500)))]
#[get("/v1/crl/{ca}")]
pub async fn crl(
    state: web::Data<AppState>,
    ca: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let ca = ca.into_inner();
    state.authority.ca_certificate(&ca)?;
    let der = blocking(move || current_crl(&state, &ca, false)).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/pkix-crl")
        .body(der))
}

/// The current CRL of `ca` (see `Authority::current_crl`), re-signed when `stale` (a revocation
/// happened) or due.
pub(super) fn current_crl(state: &AppState, ca: &str, stale: bool) -> Result<Vec<u8>, Problem> {
    Ok(state.authority.current_crl(ca, now(), "service", stale)?)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ProfileView {
    id: String,
    title: String,
    issuer: String,
    max_validity_days: u32,
    hc_role: String,
}

#[utoipa::path(responses((status = 200, description = "The certificate profiles", body = [ProfileView])))]
#[get("/v1/profiles")]
pub async fn profiles(state: web::Data<AppState>) -> HttpResponse {
    let list: Vec<ProfileView> = state
        .authority
        .profiles()
        .profiles()
        .map(|p| ProfileView {
            id: p.id().to_owned(),
            title: p.title().to_owned(),
            issuer: match p.issuer() {
                IssuerRef::SelfSigned => "self".into(),
                IssuerRef::Ca(id) => id.clone(),
            },
            max_validity_days: p.max_validity_days(),
            hc_role: format!("{:?}", p.hc_role()).to_lowercase(),
        })
        .collect();
    HttpResponse::Ok().json(list)
}
