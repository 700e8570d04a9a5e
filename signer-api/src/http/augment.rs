//! `POST /v1/signatures/augment`: raises a CAdES signature, this service's or anyone's, to B-LT
//! or B-LTA, or renews a B-LTA with a further archive time-stamp (`Authority::augment`), with the
//! service's time-stamping authority (the built-in one or the configured foreign one).
//!
//! Who may: the registration authority (an archive system's ra token) or a practitioner
//! (`Principal::may_augment`). The signature holds no secret, but every raise spends time-stamp
//! tokens and audit records of the installation, so an anonymous client, or a device's
//! certificate, may not. Validation data comes from what the signature carries, from this
//! installation (its chains, CRLs and OCSP answers for the certificates it issued) and, in the
//! JSON form, from the caller (`certificates`, `crls`, `ocsp_responses`: a foreign signer's).
//!
//! Two forms: the signature itself (`application/pkcs7-signature`, `level` in the query; the
//! answer is the raised signature, DER, of the same type), or JSON with the signature, the
//! detached content, validation data and the level (the answer is JSON). The body limit is
//! `limits.verification_bytes`, as for a verification: the same inputs.
//!
//! Every SignerInfo is raised (a co-signed document is archived whole) unless `signer` (query
//! or JSON field, 0-based in the order carried) selects one.

use super::auth::Caller;
use super::openapi::Binary;
use super::problem::{Problem, RequestError};
use super::signatures::read_limited;
use super::verifications::base64_field;
use super::{AppState, blocking, now};
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, post, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ca_core::authority::{AugmentError, Augmented, RaisedSigner, SignerSelection, ValidationData};
use ca_core::cades::{CadesError, Level};
use serde::{Deserialize, Serialize};

/// The media type of a raw signature, in and out (RFC 5751 §3.2.1).
const PKCS7_SIGNATURE: &str = "application/pkcs7-signature";
/// The header of a raw answer that says the level reached.
const LEVEL_HEADER: &str = "Hpki-Level";

/// The level asked for (here and by `signer-api augment --level`).
#[derive(Clone, Copy, Debug, Deserialize, utoipa::ToSchema, clap::ValueEnum)]
pub enum TargetLevel {
    /// The validation data of the signer and of every time-stamp (and a signature time-stamp
    /// when there is none).
    #[serde(rename = "B-LT")]
    #[value(name = "B-LT")]
    BLt,
    /// B-LT and an archive time-stamp over all of it; on a B-LTA signature, one more (renewal).
    #[serde(rename = "B-LTA")]
    #[value(name = "B-LTA")]
    BLta,
}

impl From<TargetLevel> for Level {
    fn from(level: TargetLevel) -> Self {
        match level {
            TargetLevel::BLt => Level::BLT,
            TargetLevel::BLta => Level::BLTA,
        }
    }
}

/// JSON request.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AugmentRequest {
    /// Base64 CMS SignedData (ContentInfo), DER or BER; the octets its hashes cover are kept.
    #[schema(schema_with = super::openapi::base64)]
    signature: String,
    /// Base64 content of a detached signature (B-LTA's archive time-stamp covers it).
    #[schema(schema_with = super::openapi::base64_or_null)]
    content: Option<String>,
    level: TargetLevel,
    /// Base64 DER certificates to embed besides this installation's (a foreign signer's chain).
    #[schema(schema_with = super::openapi::base64_list)]
    certificates: Option<Vec<String>>,
    /// Base64 DER CRLs to embed (a foreign signer's revocation data).
    #[schema(schema_with = super::openapi::base64_list)]
    crls: Option<Vec<String>>,
    /// Base64 DER OCSPResponses (successful) to embed as id-ri-ocsp-response.
    #[schema(schema_with = super::openapi::base64_list)]
    ocsp_responses: Option<Vec<String>>,
    /// Raise only this SignerInfo (0-based, in the order carried); every one when absent.
    #[schema(minimum = 0)]
    signer: Option<usize>,
}

/// Parameters of a raw-signature request.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AugmentParams {
    /// The level to raise the signature to (required for a raw signature; a JSON request
    /// carries it in its body and takes no query parameters).
    #[param(value_type = Option<TargetLevel>)]
    level: Option<TargetLevel>,
    /// Raise only this SignerInfo (0-based, in the order carried); every one when absent (a raw
    /// signature only).
    #[param(minimum = 0)]
    signer: Option<usize>,
}

/// JSON answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AugmentedSignature {
    /// Base64 DER CMS SignedData: the raised signature.
    signature: String,
    /// The lowest CAdES level the structure of a raised SignerInfo now reaches
    /// (`cades::detect_level`): B-LT or B-LTA, or B-T for a signature whose certificate-values / revocation-values attributes (CAdES-X-L)
    /// baseline B-LT forbids.
    #[schema(example = "B-LTA")]
    level: String,
    /// The serialNumbers (hex) of the time-stamp tokens added, in order.
    timestamp_tokens: Vec<String>,
    /// Each SignerInfo raised, in the order carried.
    signers: Vec<RaisedSignerInfo>,
}

/// One SignerInfo raised.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RaisedSignerInfo {
    /// Its position among the SignerInfos, as carried (0-based).
    index: usize,
    /// Its signer identifier (issuer and serial number, or subject key identifier).
    sid: String,
    /// The level its structure had.
    #[schema(example = "B-T")]
    from_level: String,
    /// The level its structure now reaches.
    #[schema(example = "B-LTA")]
    level: String,
}

impl From<RaisedSigner> for RaisedSignerInfo {
    fn from(r: RaisedSigner) -> Self {
        Self {
            index: r.index,
            sid: r.sid,
            from_level: r.from.as_str().to_owned(),
            level: r.level.as_str().to_owned(),
        }
    }
}

impl From<Augmented> for AugmentedSignature {
    fn from(a: Augmented) -> Self {
        Self {
            signature: B64.encode(&a.cms),
            level: a.level.as_str().to_owned(),
            timestamp_tokens: a.tokens.iter().map(hex::encode).collect(),
            signers: a.signers.into_iter().map(Into::into).collect(),
        }
    }
}

/// Raise a CAdES signature to B-LT or B-LTA, or renew its B-LTA (one more archive time-stamp,
/// before the previous one's TSA certificate or hash algorithm expires). Any signature, this
/// service's or another's, DER or BER: the signed attributes, the signature value and every
/// element an earlier time-stamp covers keep their octets. The service's time-stamping
/// authority makes the time-stamps; its chains, CRLs and OCSP answers are the validation data
/// of the certificates it issued.
#[utoipa::path(params(AugmentParams),
    request_body(description = "JSON, or the signature itself (DER or BER; `level` in the query)",
        content((AugmentRequest = "application/json"), (Binary = "application/pkcs7-signature"))),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The raised signature: DER for a raw request (its level in the Hpki-Level header), JSON for a JSON request",
            headers(("Hpki-Level" = String, description = "B-LT or B-LTA (raw answers)")),
            content((Binary = "application/pkcs7-signature"), (AugmentedSignature = "application/json"))),
        (status = 400, description = "Malformed JSON, base64 or level; a signer index that names no SignerInfo; not a CMS signature; a detached signature without its content (B-LTA), or content that differs from the encapsulated one; a supplied certificate, CRL or OCSP response that is not one"),
        (status = 403, description = "The caller is neither the registration authority nor a practitioner"),
        (status = 409, description = "This installation has no time-stamping authority, or its certificate (or a CA above it) is revoked or expired"),
        (status = 413), (status = 415),
        (status = 502, description = "The configured foreign time-stamping authority did not answer, refused, or its token does not validate"),
        (status = 503, description = "Over the service's budget of buffered request bodies"),
        (status = 500)))]
#[post("/v1/signatures/augment")]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    let result = augment(&state, &req, caller, payload).await;
    state.metrics.count(
        "hpki_augmentations_total",
        &[("outcome", super::outcome(&result))],
    );
    result
}

async fn augment(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    caller: Caller,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    caller.identity.may_augment()?;
    let essence = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let params = web::Query::<AugmentParams>::from_query(req.query_string())
        .map_err(|e| RequestError::Parameters(e.to_string()))?
        .into_inner();
    // A raw signature says its level in the query; JSON in its body, and takes no query.
    let raw_level = match (essence.as_str(), params.level) {
        ("application/json", None) if params.signer.is_none() => None,
        ("application/json", _) => {
            return Err(RequestError::Invalid(
                "a JSON request carries its level and signer in its body, not in the query".into(),
            )
            .into());
        }
        (PKCS7_SIGNATURE, Some(level)) => Some(level),
        (PKCS7_SIGNATURE, None) => {
            return Err(
                RequestError::Missing("level (B-LT or B-LTA) is required in the query").into(),
            );
        }
        _ => {
            return Err(RequestError::UnsupportedMedia(
                "send application/pkcs7-signature (the signature, level in the query) or \
                 application/json",
            )
            .into());
        }
    };
    let (body, budget) =
        read_limited(state, req, payload, state.config.limits.verification_bytes).await?;
    let (signature, content, level, extra, signer) = match raw_level {
        Some(level) => (body, None, level, ValidationData::default(), params.signer),
        None => {
            let r: AugmentRequest =
                serde_json::from_slice(&body).map_err(|e| RequestError::Json(e.to_string()))?;
            let signature = base64_field("signature", &r.signature)?;
            let content = r
                .content
                .as_deref()
                .map(|c| base64_field("content", c))
                .transpose()?;
            let list = |name, items: &Option<Vec<String>>| {
                items
                    .iter()
                    .flatten()
                    .map(|item| base64_field(name, item))
                    .collect::<Result<Vec<_>, _>>()
            };
            let extra = ValidationData {
                certificates: list("certificates", &r.certificates)?,
                crls: list("crls", &r.crls)?,
                ocsp_responses: list("ocsp_responses", &r.ocsp_responses)?,
            };
            (signature, content, r.level, extra, r.signer)
        }
    };
    let json = raw_level.is_none();
    let st = state.clone();
    let actor = caller.label.clone();
    let augmented = blocking(move || {
        // The request's bytes stay budgeted until the signature is raised.
        let _budget = budget;
        check_supplied(&signature, &extra).map_err(|e| Problem::from(AugmentError::Cades(e)))?;
        let source = st.authority.timestamp_source();
        st.authority
            .augment(
                &signature,
                content.as_deref(),
                level.into(),
                &extra,
                source.as_ref(),
                signer.map_or(SignerSelection::All, SignerSelection::One),
                now(),
                &actor,
            )
            .map_err(Problem::from)
    })
    .await?;
    Ok(if json {
        HttpResponse::Ok().json(AugmentedSignature::from(augmented))
    } else {
        HttpResponse::Ok()
            .content_type(PKCS7_SIGNATURE)
            .insert_header((LEVEL_HEADER, augmented.level.as_str()))
            .body(augmented.cms)
    })
}

/// Refuses validation data a caller supplied that is not what it claims (a CRL that is not a
/// CRL, an OCSP response that is not a successful one), and a signature that is not one, before
/// `Authority::augment` asks for a token or makes a CRL: a dry run of
/// `cades::add_validation_data`, pure. The CLI calls it too.
pub fn check_supplied(signature: &[u8], extra: &ValidationData) -> Result<(), CadesError> {
    if extra.certificates.is_empty() && extra.crls.is_empty() && extra.ocsp_responses.is_empty() {
        return Ok(());
    }
    ca_core::cades::add_validation_data(
        signature,
        &extra.certificates,
        &extra.crls,
        &extra.ocsp_responses,
    )
    .map(drop)
}
