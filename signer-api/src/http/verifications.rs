//! `POST /v1/verifications`: the offline verifier's engine (`ca_core::verify`) run against this
//! service's trust anchor, CA certificates and current CRLs; the answer is the JSON report.
//!
//! Any authenticated caller may verify (RA or signer token, or an authentication certificate):
//! nothing secret is revealed, but path validation is CPU work the service does not give away.
//! A verification always answers 200 with a report when the request itself is well formed: a
//! signature that does not parse is a verdict (TOTAL-FAILED / FORMAT_FAILURE), as in
//! `verifier-cli`; only a malformed request envelope (JSON, base64, `at`) is a 400.

use super::auth::Caller;
use super::openapi::Binary;
use super::problem::{Problem, RequestError};
use super::signatures::{DIGEST_ALGORITHMS, read_limited};
use super::{AppState, blocking, now};
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, post, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ca_core::sign::DigestAlgorithm;
use ca_core::verify::{self, Content, Policy, Report, SignedDocument, ValidationPolicy};
use serde::{Deserialize, Serialize};

/// JSON request: the signature and, for a detached one, its content or the content's digest.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerificationRequest {
    /// Base64 CMS SignedData (DER; PEM or BER are accepted too).
    #[schema(schema_with = super::openapi::base64)]
    signature: String,
    /// Base64 content of a detached signature.
    #[schema(schema_with = super::openapi::base64_or_null)]
    content: Option<String>,
    /// Base64 digest of the detached content, instead of `content` (the document never reaches
    /// the service; only for signatures with signed attributes).
    #[schema(schema_with = super::openapi::base64_or_null)]
    content_digest: Option<String>,
    /// sha256, sha384 or sha512 (letter case and hyphens are ignored): the algorithm of
    /// `content_digest`.
    #[schema(value_type = Option<super::signatures::DigestName>)]
    digest_algorithm: Option<String>,
    /// Validation time (default: now).
    #[schema(schema_with = super::openapi::date_time)]
    at: Option<String>,
}

/// Parameters of a raw-signature request.
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VerificationParams {
    /// Validation time (default: now); a JSON body's `at` overrides it.
    #[param(schema_with = super::openapi::date_time)]
    at: Option<String>,
}

/// The report (ETSI EN 319 102-1 indications), as `verifier-cli verify --format json` prints it.
#[derive(Serialize, utoipa::ToSchema)]
#[allow(dead_code)] // documents the shape of ca_core::verify::Report in the OpenAPI document
pub struct VerificationReport {
    /// TOTAL-PASSED, INDETERMINATE or TOTAL-FAILED.
    indication: String,
    /// e.g. HASH_FAILURE, SIG_CRYPTO_FAILURE, REVOKED, FORMAT_FAILURE.
    sub_indication: Option<String>,
    /// RFC 3339, as every time in the API.
    #[schema(format = DateTime)]
    validation_time: String,
    /// Structural checks (format, content).
    checks: Vec<serde_json::Value>,
    /// One per signer: indication, signer, hc_roles, certificate_policies, purpose, chain, checks;
    /// level (B-B, B-T, B-LT, B-LTA) and, for a time-stamped signature, best_signature_time,
    /// best_signature_time_proof, timestamps, revocation_sources (CRL or OCSP, embedded or
    /// supplied) and renewal_due / renewal_due_reason.
    signatures: Vec<serde_json::Value>,
}

fn validation_time(at: Option<&str>) -> Result<u64, Problem> {
    match at {
        None => Ok(now()),
        Some(t) => super::time_field("at", t),
    }
}

pub(super) fn base64_field(name: &'static str, value: &str) -> Result<Vec<u8>, Problem> {
    B64.decode(value.as_bytes())
        .map_err(|_| RequestError::Base64(name).into())
}

/// What the detached content arrives as.
enum Detached {
    None,
    Bytes(Vec<u8>),
    Digest(DigestAlgorithm, Vec<u8>),
}

/// Verify a CMS signature. Send the signature itself (`application/pkcs7-signature` or
/// `application/pkcs7-mime`: DER, PEM or base64; attached content), or JSON with the signature and
/// the detached content (or its digest) in base64. Trust anchor: this service's root; path
/// building: its CA certificates and those in the signature; revocation: its current CRLs.
#[utoipa::path(params(VerificationParams),
    request_body(description = "JSON, or the signature itself (DER, PEM or base64; `at` in the query)",
        content((VerificationRequest = "application/json"), (Binary = "application/pkcs7-signature"),
            (Binary = "application/pkcs7-mime"))),
    security(("bearer" = [])),
    responses((status = 200, description = "Verification report (the verdict is in `indication`)", body = VerificationReport),
        (status = 400, description = "Malformed JSON, base64 or `at`"),
        (status = 413), (status = 415),
        (status = 503, description = "Over the service's budget of buffered request bodies"),
        (status = 500)))]
#[post("/v1/verifications")]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    _caller: Caller,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    let essence = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let json = match essence.as_str() {
        "application/json" => true,
        "application/pkcs7-signature" | "application/pkcs7-mime" => false,
        _ => {
            return Err(RequestError::UnsupportedMedia(
                "send application/pkcs7-signature (the signature) or application/json",
            )
            .into());
        }
    };
    // The query's `at` applies to both forms (a JSON member overrides it), so a malformed one is
    // refused whatever the body is.
    let params = web::Query::<VerificationParams>::from_query(req.query_string())
        .map_err(|e| RequestError::Parameters(e.to_string()))?
        .into_inner();
    let query_at = validation_time(params.at.as_deref())?;
    let (body, budget) = read_limited(
        &state,
        &req,
        payload,
        state.config.limits.verification_bytes,
    )
    .await?;
    let (signature, detached, at) = if json {
        let r: VerificationRequest =
            serde_json::from_slice(&body).map_err(|e| RequestError::Json(e.to_string()))?;
        let detached = match (&r.content, &r.content_digest, &r.digest_algorithm) {
            (None, None, None) => Detached::None,
            (Some(c), None, None) => Detached::Bytes(base64_field("content", c)?),
            (None, Some(d), Some(a)) => {
                let alg = DigestAlgorithm::from_name(a)
                    .ok_or(RequestError::Invalid(DIGEST_ALGORITHMS.into()))?;
                let digest = base64_field("content_digest", d)?;
                if digest.len() != alg.len() {
                    return Err(RequestError::Invalid(format!(
                        "content_digest is {} octets; {a} needs {}",
                        digest.len(),
                        alg.len()
                    ))
                    .into());
                }
                Detached::Digest(alg, digest)
            }
            _ => {
                return Err(RequestError::Invalid(
                    "give content, or content_digest with digest_algorithm, or neither".into(),
                )
                .into());
            }
        };
        let at = match r.at.as_deref() {
            Some(at) => validation_time(Some(at))?,
            None => query_at,
        };
        (base64_field("signature", &r.signature)?, detached, at)
    } else {
        (body, Detached::None, query_at)
    };
    let st = state.clone();
    let report = blocking(move || {
        // The request's bytes stay budgeted until the verification is done with them.
        let _budget = budget;
        let policy = service_policy(&st, at)?;
        Ok(run(&signature, &detached, &policy))
    })
    .await?;
    state.metrics.count(
        "hpki_verifications_total",
        &[("indication", &report.indication.to_string())],
    );
    Ok(HttpResponse::Ok().json(report))
}

/// Trust anchors: the self-signed CAs of this service; pool: every CA certificate; CRLs: every
/// CA's current CRL (so revocation is checked for each certificate of the path; its CRLs and
/// its OCSP answers come from one revocation index, so no OCSP response is added; those a
/// signature embeds are read as the verifier reads them). The ISO 17090
/// validation policy with the service's own role × purpose table (the gate it applies before
/// signing), and a CAdES signing-certificate binding required.
fn service_policy(state: &AppState, at: u64) -> Result<Policy, Problem> {
    let mut policy = Policy::new(at);
    policy.validation_policy = ValidationPolicy::Iso17090;
    policy.signing_policy = Some(std::sync::Arc::clone(&state.purposes));
    policy.require_cades = true;
    for id in state.authority.ca_ids() {
        let der = state.authority.ca_certificate(id)?.to_vec();
        let cert = <x509_cert::Certificate as der::Decode>::from_der(&der)
            .map_err(|e| Problem::internal(&e))?;
        let tbs = cert.tbs_certificate();
        if tbs.subject() == tbs.issuer() {
            policy.trust_anchors.push(der.clone());
        }
        policy.cert_pool.push(der);
        policy.crls.push(super::ca::current_crl(state, id, false)?);
    }
    Ok(policy)
}

fn run(signature: &[u8], detached: &Detached, policy: &Policy) -> Report {
    match detached {
        Detached::None => verify::verify_bytes(signature, None, policy),
        Detached::Bytes(content) => verify::verify_bytes(signature, Some(content), policy),
        Detached::Digest(alg, digest) => match SignedDocument::parse(signature) {
            // Parse errors become the FORMAT_FAILURE report, with the parser's reason.
            Err(_) => verify::verify_bytes(signature, None, policy),
            Ok(doc) => verify::verify_document(
                &doc,
                Content::Detached {
                    digests: &[(*alg, digest.clone())],
                    bytes: None,
                },
                policy,
            ),
        },
    }
}
