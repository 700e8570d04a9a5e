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
    /// Profile id (GET /v1/profiles).
    profile: String,
    /// Subject in certificate order, e.g. "C=JP,O=Example Hospital,CN=Taro Yamada,serialNumber=D-1".
    subject: String,
    /// Certified roles, "SCHEME_OID:TEXT".
    #[serde(default)]
    hc_roles: Vec<String>,
    /// Subject alternative names: "dns:…", "email:…", "uri:…", "ip:…", "dir:…".
    #[serde(default)]
    sans: Vec<String>,
    validity_days: Option<u32>,
    /// PKCS#10 request, PEM.
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

#[utoipa::path(request_body = IssueRequest, security(("bearer" = [])),
    responses((status = 201, body = Issued), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
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
    serial: String,
    profile: String,
    issuer: String,
    subject: String,
    /// RFC 3339, as every time in the API.
    not_after: String,
    /// "good", "held" (certificateHold, until released), "revoked" or "expired".
    status: String,
    revocation_reason: Option<String>,
    /// RFC 3339.
    revoked_at: Option<String>,
    certificate: String,
}

fn view(r: &CertificateRecord, now: u64) -> Result<CertificateView, Problem> {
    Ok(CertificateView {
        serial: hex::encode(&r.serial),
        profile: r.profile.clone(),
        issuer: r.issuer_ca.clone(),
        subject: r.subject.clone(),
        not_after: rfc3339(r.not_after),
        status: status(r, now).into(),
        revocation_reason: r.revocation.as_ref().map(|v| v.reason.name().to_owned()),
        revoked_at: r.revocation.as_ref().map(|v| rfc3339(v.revoked_at)),
        certificate: pem(&r.der)?,
    })
}

fn status(r: &CertificateRecord, now: u64) -> &'static str {
    if let Some(revocation) = &r.revocation {
        match revocation.reason {
            RevocationReason::CertificateHold => "held",
            _ => "revoked",
        }
    } else if now > r.not_after {
        "expired"
    } else {
        "good"
    }
}

fn parse_serial(s: &str) -> Result<Vec<u8>, Problem> {
    if s.len() > 42 {
        return Err(RequestError::Invalid("serial number too long".into()).into());
    }
    hex::decode(s.trim_start_matches("0x"))
        .map_err(|_| RequestError::Invalid("serial number must be hex".into()).into())
}

#[utoipa::path(params(("serial" = String, Path, description = "hex")), security(("bearer" = [])),
    responses((status = 200, body = CertificateView), (status = 404, body = Problem)))]
#[get("/v1/certificates/{serial}")]
pub async fn get(
    state: web::Data<AppState>,
    _ra: RaCaller,
    serial: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let serial = parse_serial(&serial)?;
    let record = state
        .authority
        .store()
        .certificate(&serial)?
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
    /// good, held, revoked or expired.
    status: Option<String>,
    profile: Option<String>,
    /// From 1.
    page: Option<usize>,
    /// 1 to 500, default 50.
    per_page: Option<usize>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Page {
    items: Vec<CertificateView>,
    page: usize,
    per_page: usize,
    total: usize,
}

#[utoipa::path(params(ListQuery), security(("bearer" = [])), responses((status = 200, body = Page)))]
#[get("/v1/certificates")]
pub async fn list(
    state: web::Data<AppState>,
    _ra: RaCaller,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, Problem> {
    if let Some(s) = &query.status
        && !["good", "held", "revoked", "expired"].contains(&s.as_str())
    {
        return Err(
            RequestError::Invalid("status must be good, held, revoked or expired".into()).into(),
        );
    }
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
        .filter(|r| query.status.as_deref().is_none_or(|s| status(r, now) == s))
        .filter(|r| query.profile.as_deref().is_none_or(|p| r.profile == p))
        .collect();
    let items = matching
        .iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
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
    /// RFC 5280 reason name, e.g. keyCompromise; default unspecified. certificateHold suspends
    /// (undone by `release`); removeFromCRL is refused.
    reason: Option<String>,
    /// RFC 3339, e.g. 2026-11-01T00:00:00Z.
    invalidity_date: Option<String>,
}

#[utoipa::path(params(("serial" = String, Path, description = "hex")), request_body = RevokeRequest, security(("bearer" = [])),
    responses((status = 200, body = CertificateView), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
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
        .map(|t| {
            ca_core::time::parse_rfc3339(t)
                .map_err(|e| RequestError::Invalid(format!("invalidity_date: {e}")))
        })
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
#[utoipa::path(params(("serial" = String, Path, description = "hex")), security(("bearer" = [])),
    responses((status = 200, body = CertificateView), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "not on hold")))]
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
