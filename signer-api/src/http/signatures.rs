//! `POST /v1/signatures`: a CAdES signature over a raw document (streamed) or a client digest.

use super::auth::Caller;
use super::limits::{Reservation, declared_length};
use super::openapi::Binary;
use super::problem::{Problem, RequestError};
use super::{AppState, blocking, now};
use actix_web::http::header::{CONTENT_TYPE, HeaderMap};
use actix_web::{HttpRequest, HttpResponse, post, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ca_core::authority::AugmentError;
use ca_core::cades::Level;
use ca_core::credential::{CredentialError, SignDocument, Signed, Signer};
use ca_core::sign::{DigestAlgorithm, DocumentHasher};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DigestRequest {
    #[schema(schema_with = super::openapi::credential_id)]
    credential: String,
    /// Base64 digest of the document (the document never reaches the service): 32, 48 or 64
    /// octets as `digest_algorithm` says.
    digest: String,
    /// sha256, sha384 or sha512 (letter case and hyphens are ignored: SHA-256): must be the
    /// credential key's (P-256 → sha256, P-384 → sha384, Ed25519 → sha512).
    #[schema(value_type = DigestName)]
    digest_algorithm: String,
    /// Signature purpose, e.g. "author" (ASTM E1762) or "proof-of-origin" (ETSI); the signer's
    /// roles must allow it.
    purpose: String,
    #[schema(schema_with = super::openapi::claimed_role)]
    claimed_role: Option<String>,
    #[schema(value_type = Option<LevelName>)]
    level: Option<String>,
}

/// The CAdES baseline level to sign at (ETSI EN 319 122-1): B-B (no time-stamp), B-T (a
/// signature time-stamp), B-LT (and the certificates, CRLs and OCSP answers that validate the
/// signer and the time-stamp), B-LTA (and an archive time-stamp). Default: B-T when a
/// time-stamping authority is configured (the built-in one is by default), else B-B.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documents the names `Level::from_str` reads
pub enum LevelName {
    #[schema(rename = "B-B")]
    BB,
    #[schema(rename = "B-T")]
    BT,
    #[schema(rename = "B-LT")]
    BLT,
    #[schema(rename = "B-LTA")]
    BLTA,
}

/// A digest algorithm of the signatures the service makes.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // documents the names `DigestAlgorithm::from_name` reads
pub enum DigestName {
    Sha256,
    Sha384,
    Sha512,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DigestSignature {
    /// Base64 DER CMS SignedData (detached).
    signature: String,
    credential: String,
    /// The serial number of the signer's certificate, hex.
    serial: String,
    /// The CAdES level the signature was made at.
    #[schema(value_type = LevelName)]
    level: &'static str,
}

/// The refusal of an unknown `digest_algorithm` (digest signing and verification requests).
pub(super) const DIGEST_ALGORITHMS: &str = "digest_algorithm must be sha256, sha384 or sha512";

/// Parameters of a raw-document request, from the query or `Hpki-*` headers.
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DocumentParams {
    /// The credential (or the Hpki-Credential header); a raw document needs one of them. The
    /// parameters are for a raw document: a JSON digest request with any is refused (400).
    #[param(schema_with = super::openapi::credential_id_or_null)]
    credential: Option<String>,
    /// The signature purpose (or the Hpki-Purpose header); a raw document needs one of them.
    purpose: Option<String>,
    /// Encapsulate the document in the signature (default false: detached; or the
    /// Hpki-Attached header).
    attached: Option<bool>,
    /// Or the Hpki-Claimed-Role header.
    #[param(schema_with = super::openapi::claimed_role)]
    claimed_role: Option<String>,
    /// The CAdES level (or the Hpki-Level header); see `LevelName`.
    #[param(value_type = Option<LevelName>)]
    level: Option<String>,
}

/// The level a request names (`None`: the authority's default), refused before anything is
/// read or signed when unknown (400) or when it needs a time-stamp and no TSA is configured
/// (409).
fn level(state: &AppState, name: Option<&str>) -> Result<Level, Problem> {
    let level = match name {
        None => return Ok(state.authority.default_level()),
        Some(name) => name
            .parse::<Level>()
            .map_err(|e| RequestError::Invalid(format!("level: {e}")))?,
    };
    if level != Level::BB && state.authority.timestamp_source().is_none() {
        return Err(AugmentError::NoTimestampSource(level).into());
    }
    Ok(level)
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Sign a document (`application/octet-stream`, returns `application/pkcs7-signature` DER) or a
/// digest (`application/json`, returns JSON with the signature in base64).
#[utoipa::path(params(DocumentParams),
    request_body(description = "A JSON digest request, or the raw document (query parameters or Hpki-* headers say how to sign it)",
        content((DigestRequest = "application/json"), (Binary = "application/octet-stream"))),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "CMS SignedData with CAdES attributes", content(
            (Binary = "application/pkcs7-signature"), (DigestSignature = "application/json"))),
        (status = 400, description = "Malformed JSON, digest or parameters; no credential or purpose for a document; an unknown purpose; a digest algorithm not the credential's"),
        (status = 403, description = "The caller is not a practitioner, not the credential's owner, or its roles do not allow the purpose; the credential is revoked, expired or under a revoked CA"),
        (status = 404, description = "No such credential"),
        (status = 409, description = "The level needs a time-stamp and no time-stamping authority is configured; the built-in TSA's certificate is revoked or expired"),
        (status = 413), (status = 415),
        (status = 502, description = "The foreign time-stamping authority did not answer, refused, or its token is not trusted"),
        (status = 503, description = "Over the service's budget of buffered request bodies (attached signatures)"),
        (status = 500)))]
#[post("/v1/signatures")]
pub async fn sign(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    let practitioner = caller.identity.practitioner()?.to_owned();
    let content_type = header(req.headers(), CONTENT_TYPE.as_str()).unwrap_or_default();
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let result = match essence.as_str() {
        "application/json" => sign_digest(&state, &req, caller, practitioner, payload).await,
        "application/octet-stream" => {
            sign_stream(&state, &req, caller, practitioner, payload).await
        }
        _ => Err(RequestError::UnsupportedMedia(
            "send application/octet-stream (a document) or application/json (a digest)",
        )
        .into()),
    };
    let outcome = super::outcome(&result);
    state
        .metrics
        .count("hpki_signatures_total", &[("outcome", outcome)]);
    result
}

/// Reads a whole body of at most `limit` bytes, held under the body budget: the returned
/// reservation must live as long as the bytes (or what is decoded from them) do.
pub(super) async fn read_limited(
    state: &AppState,
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: u64,
) -> Result<(Vec<u8>, Reservation), Problem> {
    let declared = declared_length(req.headers());
    if declared.is_some_and(|n| n > limit) {
        return Err(RequestError::TooLarge(limit).into());
    }
    let mut reservation = state.bodies.reserve(declared)?;
    // Exactly what was reserved: growing by doubling could hold twice the budget.
    let mut body = Vec::with_capacity(declared.unwrap_or(0) as usize);
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| RequestError::Body(e.to_string()))?;
        let len = (body.len() + chunk.len()) as u64;
        if len > limit {
            return Err(RequestError::TooLarge(limit).into());
        }
        reservation.hold(len)?;
        body.extend_from_slice(&chunk);
    }
    Ok((body, reservation))
}

async fn sign_digest(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    caller: Caller,
    practitioner: String,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    // Not ignored: a client that sent them meant something the JSON body does not say.
    if !req.query_string().is_empty() {
        return Err(RequestError::Invalid(
            "query parameters are for a raw document; a digest request carries them in its JSON body"
                .into(),
        )
        .into());
    }
    let (body, budget) =
        read_limited(state, req, payload, state.config.limits.json_bytes as u64).await?;
    let request: DigestRequest =
        serde_json::from_slice(&body).map_err(|e| RequestError::Json(e.to_string()))?;
    let level = level(state, request.level.as_deref())?;
    // Only the decoded digest is kept from here on.
    drop((body, budget));
    let algorithm = DigestAlgorithm::from_name(&request.digest_algorithm)
        .ok_or(RequestError::Invalid(DIGEST_ALGORITHMS.into()))?;
    // Its length is ca-core's check (`Authority::sign`), which audits a wrong one as a refusal.
    let digest = B64
        .decode(request.digest.as_bytes())
        .map_err(|_| RequestError::Base64("digest"))?;
    // A credential that has signed before is cached; the first signature loads it from the
    // store, on the blocking pool.
    let signer = state
        .authority
        .cached_signer(&request.credential, &practitioner, &caller.label);
    let credential = request.credential.clone();
    let signed = sign_request(
        state,
        signer,
        Request {
            credential: request.credential,
            caller: practitioner,
            digest,
            algorithm,
            purpose: request.purpose,
            claimed_role: request.claimed_role,
            content: None,
            level,
            _budget: None,
        },
        caller.label,
    )
    .await?;
    Ok(HttpResponse::Created().json(DigestSignature {
        signature: B64.encode(&signed.cms),
        credential,
        serial: hex::encode(&signed.serial),
        level: signed.level.as_str(),
    }))
}

async fn sign_stream(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    caller: Caller,
    practitioner: String,
    mut payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    let query = web::Query::<DocumentParams>::from_query(req.query_string())
        .map_err(|e| RequestError::Parameters(e.to_string()))?
        .into_inner();
    let headers = req.headers();
    let credential = query
        .credential
        .or_else(|| header(headers, "hpki-credential"))
        .ok_or(RequestError::Missing(
            "give ?credential= or an Hpki-Credential header",
        ))?;
    let purpose = query
        .purpose
        .or_else(|| header(headers, "hpki-purpose"))
        .ok_or(RequestError::Missing(
            "give ?purpose= or an Hpki-Purpose header",
        ))?;
    let attached = match query.attached {
        Some(a) => a,
        None => match header(headers, "hpki-attached").as_deref() {
            None | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            Some(_) => {
                return Err(
                    RequestError::Invalid("Hpki-Attached must be true or false".into()).into(),
                );
            }
        },
    };
    let claimed_role = query
        .claimed_role
        .or_else(|| header(headers, "hpki-claimed-role"));
    let level = level(
        state,
        query
            .level
            .or_else(|| header(headers, "hpki-level"))
            .as_deref(),
    )?;

    // Refuse before reading a possibly large body: unknown credential or not the caller's. The
    // credential opened here is the one that signs (`sign` re-checks revocation and the rest).
    // A credential that has signed before is cached: checked here without a blocking-pool hop
    // (each hop is two thread switches, which dominate a small request on a busy machine).
    let signer = match state
        .authority
        .cached_signer(&credential, &practitioner, &caller.label)
    {
        Some(signer) => signer,
        None => {
            let st = state.clone();
            let (cred, owner, actor) = (
                credential.clone(),
                practitioner.clone(),
                caller.label.clone(),
            );
            blocking(move || Ok(st.authority.signer(&cred, &owner, &actor, now())?)).await?
        }
    };
    let algorithm = signer.digest_algorithm();

    // An attached document is held whole, under the body budget: one larger than the whole
    // budget could never be signed, so it is too large; detached documents only pass through.
    let limits = &state.config.limits;
    let (limit, mut budget, mut content) = if attached {
        let limit = limits.document_bytes.min(limits.buffer_bytes);
        let declared = declared_length(headers);
        if declared.is_some_and(|n| n > limit) {
            return Err(RequestError::TooLarge(limit).into());
        }
        let budget = state.bodies.reserve(declared)?;
        // Exactly what was reserved: growing by doubling could hold twice the budget.
        let content = Vec::with_capacity(declared.unwrap_or(0) as usize);
        (limit, Some(budget), content)
    } else {
        (limits.document_bytes, None, Vec::new())
    };
    let mut hasher = DocumentHasher::new(algorithm);
    let mut seen: u64 = 0;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| RequestError::Body(e.to_string()))?;
        seen += chunk.len() as u64;
        if seen > limit {
            return Err(RequestError::TooLarge(limit).into());
        }
        // Hashing a chunk costs microseconds; detached documents are never kept.
        hasher.update(&chunk);
        if let Some(budget) = &mut budget {
            budget.hold(seen)?;
            content.extend_from_slice(&chunk);
        }
    }
    let request = Request {
        credential,
        caller: practitioner,
        digest: hasher.finish(),
        algorithm,
        purpose,
        claimed_role,
        content: attached.then_some(content),
        level,
        _budget: budget,
    };
    let signed = sign_request(state, Some(signer), request, caller.label).await?;
    Ok(HttpResponse::Created()
        .content_type("application/pkcs7-signature")
        .insert_header(("Hpki-Level", signed.level.as_str()))
        .body(signed.cms))
}

/// A signing request's owned parts, so that it can move to the blocking pool (`credential` and
/// `caller` open the signer there when it was not cached).
struct Request {
    credential: String,
    caller: String,
    digest: Vec<u8>,
    algorithm: DigestAlgorithm,
    purpose: String,
    claimed_role: Option<String>,
    /// The document, for an attached signature.
    content: Option<Vec<u8>>,
    level: Level,
    /// The body budget the document holds, given back when the request is dropped.
    _budget: Option<Reservation>,
}

impl Request {
    fn document(&self) -> SignDocument<'_> {
        SignDocument {
            digest: &self.digest,
            digest_algorithm: self.algorithm,
            purpose: &self.purpose,
            claimed_role: self.claimed_role.as_deref(),
            attached: self.content.as_deref(),
            level: self.level,
        }
    }
}

/// Attached content up to this size is signed on the async worker (see `sign_inline`).
const INLINE_CONTENT_BYTES: usize = 64 * 1024;

/// Signs with `signer` on the async worker, unless the credential still has to be opened from
/// the store or a large attached document is copied into the CMS: that work goes to the blocking
/// pool.
async fn sign_request(
    state: &web::Data<AppState>,
    signer: Option<Signer>,
    request: Request,
    actor: String,
) -> Result<Signed, Problem> {
    let small = request
        .content
        .as_ref()
        .is_none_or(|c| c.len() <= INLINE_CONTENT_BYTES);
    // B-B, and B-T from the built-in TSA, are quick; a foreign TSA or validation data (CRLs)
    // may wait, off the executor.
    if let Some(signer) = &signer
        && small
        && state.store_on_worker
        && state.authority.signs_inline(request.level)
    {
        return sign_inline(state, signer, &request.document()).await;
    }
    let st = state.clone();
    blocking(move || {
        let signer = match signer {
            Some(signer) => signer,
            None => st
                .authority
                .signer(&request.credential, &request.caller, &actor, now())?,
        };
        Ok(st
            .authority
            .sign(&signer, &st.purposes, &request.document(), now())
            .wait()?)
    })
    .await
}

async fn sign_inline(
    state: &web::Data<AppState>,
    signer: &Signer,
    document: &SignDocument<'_>,
) -> Result<Signed, Problem> {
    let (tx, rx) = tokio::sync::oneshot::channel::<Result<Signed, CredentialError>>();
    state
        .authority
        .sign(signer, &state.purposes, document, now())
        .then(move |outcome| {
            let _ = tx.send(outcome);
        });
    let outcome = rx
        .await
        .map_err(|_| Problem::internal(&"the audit writer dropped a signature"))?;
    Ok(outcome?)
}
