//! Registration-authority routes: issue, inventory, revoke.

use super::auth::RaCaller;
use super::ca::{current_crl, pem};
use super::problem::{Problem, RequestError};
use super::{AppState, blocking, now};
use actix_web::{HttpResponse, get, post, web};
use ca_core::hcrole::HcRole;
use ca_core::issue::Registration;
use ca_core::store::{CertificateRecord, RevocationReason, Store};
use ca_core::time::rfc3339;
use serde::{Deserialize, Serialize};
use std::str::FromStr;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueRequest {
    /// Profile id (GET /v1/profiles); not a CA profile.
    profile: String,
    /// Subject in certificate order, e.g. "C=JP,O=Example Hospital,CN=Taro Yamada,serialNumber=D-1";
    /// at most 4,096 bytes; the profile says which attributes it needs.
    #[schema(max_length = 4096)]
    subject: String,
    /// Certified roles, "SCHEME_OID:TEXT", from the profile's role vocabulary.
    #[serde(default)]
    #[schema(max_items = 32)]
    hc_roles: Vec<String>,
    /// Subject alternative names: "dns:…", "email:…", "uri:…", "ip:…", "dir:…".
    #[serde(default)]
    #[schema(max_items = 32)]
    sans: Vec<String>,
    /// Default and maximum: the profile's max_validity_days.
    #[schema(minimum = 1)]
    validity_days: Option<u32>,
    /// PKCS#10 request, PEM, signed by its key (proof of possession).
    csr: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Issued {
    serial: String,
    /// PEM.
    certificate: String,
    /// PEM, issuing CA first, root last.
    chain: Vec<String>,
}

/// A field value that did not parse, refused with the parser's message (which names it).
fn invalid(e: impl std::fmt::Display) -> Problem {
    RequestError::Invalid(e.to_string()).into()
}

/// Bounds on the lists of a registration, so a request cannot ask for unbounded work.
const MAX_LIST: usize = 32;

/// A request's registration from its wire fields (public for `fuzz/`'s `api_json`).
pub fn registration(
    profile: String,
    subject: &str,
    roles: &[String],
    sans: &[String],
    validity_days: Option<u32>,
) -> Result<Registration, Problem> {
    if roles.len() > MAX_LIST || sans.len() > MAX_LIST {
        return Err(
            RequestError::Invalid(format!("at most {MAX_LIST} roles and {MAX_LIST} SANs")).into(),
        );
    }
    Ok(Registration {
        profile,
        subject: ca_core::name::parse_subject(subject).map_err(invalid)?,
        sans: sans
            .iter()
            .map(|s| ca_core::name::parse_san(s).map_err(invalid))
            .collect::<Result<_, _>>()?,
        hc_roles: roles
            .iter()
            .map(|r| HcRole::from_str(r).map_err(invalid))
            .collect::<Result<_, _>>()?,
        validity_days,
    })
}

/// Issue a certificate for a PKCS#10 request under a profile (ra only).
#[utoipa::path(request_body = IssueRequest, security(("bearer" = [])),
    responses((status = 201, description = "Issued", body = Issued),
        (status = 400, description = "Malformed JSON, or a request the profile or the CSR check refuses"),
        (status = 403, description = "Not an ra token"),
        (status = 409, description = "The issuing CA is revoked"),
        (status = 413), (status = 415), (status = 500)))]
#[post("/v1/certificates")]
pub async fn issue(
    state: web::Data<AppState>,
    RaCaller(caller): RaCaller,
    body: web::Json<IssueRequest>,
) -> Result<HttpResponse, Problem> {
    let body = body.into_inner();
    let reg = registration(
        body.profile,
        &body.subject,
        &body.hc_roles,
        &body.sans,
        body.validity_days,
    )?;
    // A metric label only ever holds a configured profile's name: the request's string is the
    // caller's, and every distinct label value is a series kept for the process's life.
    let profile = match state.authority.profiles().get(&reg.profile) {
        Ok(_) => reg.profile.clone(),
        Err(_) => "unknown".to_owned(),
    };
    let st = state.clone();
    let result = blocking(move || {
        Ok(st
            .authority
            .issue(&reg, body.csr.as_bytes(), now(), &caller.label)?)
    })
    .await;
    let outcome = super::outcome(&result);
    state.metrics.count(
        "hpki_certificates_issued_total",
        &[("profile", &profile), ("outcome", outcome)],
    );
    let issued = result?;
    Ok(HttpResponse::Created().json(Issued {
        serial: hex::encode(&issued.serial),
        certificate: pem(&issued.certificate)?,
        chain: issued
            .chain
            .iter()
            .map(|c| pem(c))
            .collect::<Result<_, _>>()?,
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CertificateView {
    /// Hex.
    serial: String,
    profile: String,
    /// The issuing CA's id.
    issuer: String,
    subject: String,
    /// RFC 3339, as every time in the API.
    #[schema(format = DateTime)]
    not_after: String,
    status: CertificateStatus,
    /// RFC 5280 reason name, when revoked or held.
    revocation_reason: Option<String>,
    /// RFC 3339.
    #[schema(format = DateTime)]
    revoked_at: Option<String>,
    /// PEM.
    certificate: String,
}

/// A certificate's status: held is certificateHold (until released).
#[derive(Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CertificateStatus {
    Good,
    Held,
    Revoked,
    Expired,
}

fn view(r: &CertificateRecord, now: u64) -> Result<CertificateView, Problem> {
    Ok(CertificateView {
        serial: hex::encode(&r.serial),
        profile: r.profile.clone(),
        issuer: r.issuer_ca.clone(),
        subject: r.subject.clone(),
        not_after: rfc3339(r.not_after),
        status: status(r, now),
        revocation_reason: r.revocation.as_ref().map(|v| v.reason.name().to_owned()),
        revoked_at: r.revocation.as_ref().map(|v| rfc3339(v.revoked_at)),
        certificate: pem(&r.der)?,
    })
}

fn status(r: &CertificateRecord, now: u64) -> CertificateStatus {
    if let Some(revocation) = &r.revocation {
        match revocation.reason {
            RevocationReason::CertificateHold => CertificateStatus::Held,
            _ => CertificateStatus::Revoked,
        }
    } else if now > r.not_after {
        CertificateStatus::Expired
    } else {
        CertificateStatus::Good
    }
}

/// The serial number in a path.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // documents the `{serial}` segment the handlers read as a string
pub struct SerialPath {
    /// Hex, 1 to 20 octets (RFC 5280 §4.1.2.2), optionally prefixed by 0x.
    #[param(pattern = "^(0x)?([0-9A-Fa-f]{2}){1,20}$")]
    serial: String,
}

fn parse_serial(s: &str) -> Result<Vec<u8>, Problem> {
    let digits = s.strip_prefix("0x").unwrap_or(s);
    // RFC 5280 §4.1.2.2: at most 20 octets.
    if digits.is_empty() || digits.len() > 40 {
        return Err(
            RequestError::Invalid("a serial number is 1 to 20 octets in hex".into()).into(),
        );
    }
    hex::decode(digits)
        .map_err(|_| RequestError::Invalid("serial number must be hex".into()).into())
}

/// One certificate of the inventory (ra only).
#[utoipa::path(params(SerialPath), security(("bearer" = [])),
    responses((status = 200, description = "The certificate and its status", body = CertificateView),
        (status = 400, description = "Not a hex serial number"), (status = 403, description = "Not an ra token"),
        (status = 404, description = "No certificate with this serial number"), (status = 500)))]
#[get("/v1/certificates/{serial}")]
pub async fn get(
    state: web::Data<AppState>,
    _ra: RaCaller,
    serial: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let serial = parse_serial(&serial)?;
    // A store read: on the blocking pool, as the PostgreSQL client must be.
    let st = state.clone();
    let lookup = serial.clone();
    let record = blocking(move || Ok(st.authority.store().certificate(&lookup)?))
        .await?
        .ok_or_else(|| {
            RequestError::NotFound(format!(
                "no certificate with serial {}",
                hex::encode(&serial)
            ))
        })?;
    Ok(HttpResponse::Ok().json(view(&record, now())?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[param(inline)]
    status: Option<CertificateStatus>,
    /// Only the certificates of this profile.
    profile: Option<String>,
    /// From 1 (default).
    #[param(minimum = 1, maximum = 4294967295_u64, format = Int64)]
    page: Option<u32>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    per_page: Option<u32>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Page {
    items: Vec<CertificateView>,
    #[schema(minimum = 1, maximum = 4294967295_u64, format = Int64)]
    page: u32,
    #[schema(minimum = 1, maximum = 500)]
    per_page: u32,
    /// Matching certificates on every page.
    total: usize,
}

/// The inventory, filtered and paged (ra only).
#[utoipa::path(params(ListQuery), security(("bearer" = [])),
    responses((status = 200, description = "One page of matching certificates", body = Page),
        (status = 400, description = "A query parameter out of its range"),
        (status = 403, description = "Not an ra token"), (status = 500)))]
#[get("/v1/certificates")]
pub async fn list(
    state: web::Data<AppState>,
    _ra: RaCaller,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, Problem> {
    let per_page = query.per_page.unwrap_or(50);
    let page = query.page.unwrap_or(1);
    if !(1..=500).contains(&per_page) || page == 0 {
        return Err(RequestError::Invalid("page starts at 1; per_page is 1 to 500".into()).into());
    }
    let now = now();
    let st = state.clone();
    let all = blocking(move || Ok(st.authority.store().certificates()?)).await?;
    let matching: Vec<_> = all
        .iter()
        .filter(|r| query.status.is_none_or(|s| status(r, now) == s))
        .filter(|r| query.profile.as_deref().is_none_or(|p| r.profile == p))
        .collect();
    let items = matching
        .iter()
        .skip((page as usize - 1).saturating_mul(per_page as usize))
        .take(per_page as usize)
        .map(|r| view(r, now))
        .collect::<Result<_, _>>()?;
    Ok(HttpResponse::Ok().json(Page {
        items,
        page,
        per_page,
        total: matching.len(),
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// RFC 5280 reason name, e.g. keyCompromise (kebab-case and any letter case are accepted
    /// too); default unspecified. certificateHold suspends (undone by `release`); removeFromCRL
    /// is refused.
    reason: Option<String>,
    /// When the key is known or suspected to have been compromised (RFC 5280 §5.3.2).
    #[schema(schema_with = super::openapi::date_time)]
    invalidity_date: Option<String>,
}

/// Revoke or hold a certificate (ra only); its CA's CRL is re-signed at once.
#[utoipa::path(params(SerialPath), request_body = RevokeRequest, security(("bearer" = [])),
    responses((status = 200, description = "The certificate, revoked", body = CertificateView),
        (status = 400, description = "Not a hex serial number, malformed JSON, or an unknown reason"),
        (status = 403, description = "Not an ra token"),
        (status = 404, description = "No certificate with this serial number"),
        (status = 409, description = "Already revoked"), (status = 413), (status = 415), (status = 500)))]
#[post("/v1/certificates/{serial}/revoke")]
pub async fn revoke(
    state: web::Data<AppState>,
    RaCaller(caller): RaCaller,
    serial: web::Path<String>,
    body: web::Json<RevokeRequest>,
) -> Result<HttpResponse, Problem> {
    let serial = parse_serial(&serial)?;
    let reason = RevocationReason::from_str(body.reason.as_deref().unwrap_or("unspecified"))?;
    let invalidity = body
        .invalidity_date
        .as_deref()
        .map(|t| super::time_field("invalidity_date", t))
        .transpose()?;
    let st = state.clone();
    let result = blocking(move || {
        let record = st
            .authority
            .revoke(&serial, reason, invalidity, now(), &caller.label)?;
        // Publish at once: relying parties should not wait half a CRL period.
        current_crl(&st, &record.issuer_ca, true)?;
        Ok(record)
    })
    .await;
    let outcome = super::outcome(&result);
    state
        .metrics
        .count("hpki_revocations_total", &[("outcome", outcome)]);
    Ok(HttpResponse::Ok().json(view(&result?, now())?))
}

/// Lifts the hold (certificateHold) of a certificate; the CRL published at once omits it.
#[utoipa::path(params(SerialPath), security(("bearer" = [])),
    responses((status = 200, description = "The certificate, good again", body = CertificateView),
        (status = 400, description = "Not a hex serial number"), (status = 403, description = "Not an ra token"),
        (status = 404, description = "No certificate with this serial number"),
        (status = 409, description = "Not on hold"), (status = 500)))]
#[post("/v1/certificates/{serial}/release")]
pub async fn release(
    state: web::Data<AppState>,
    RaCaller(caller): RaCaller,
    serial: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let serial = parse_serial(&serial)?;
    let st = state.clone();
    let record = blocking(move || {
        let record = st.authority.release(&serial, now(), &caller.label)?;
        current_crl(&st, &record.issuer_ca, true)?;
        Ok(record)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view(&record, now())?))
}
