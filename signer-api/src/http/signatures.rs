//! `POST /v1/signatures`: a CAdES signature over a raw document (streamed) or a client digest.

use super::auth::Caller;
use super::problem::Problem;
use super::{AppState, blocking, now};
use actix_web::http::header::{CONTENT_TYPE, HeaderMap};
use actix_web::{HttpRequest, HttpResponse, post, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ca_core::credential::{CredentialError, SignDocument, Signed, SigningCredential};
use ca_core::sign::{DigestAlgorithm, DocumentHasher};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DigestRequest {
    credential: String,
    /// Base64 digest of the document; the document never reaches the service.
    digest: String,
    /// sha256, sha384 or sha512: must be the credential key's (P-256 → sha256, P-384 → sha384, Ed25519 → sha512).
    digest_algorithm: String,
    /// Signature purpose, e.g. "author" (ASTM E1762) or "proof-of-origin" (ETSI).
    purpose: String,
    claimed_role: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DigestSignature {
    /// Base64 DER CMS SignedData (detached).
    signature: String,
    credential: String,
    serial: String,
}

/// Parameters of a raw-document request, from the query or `Hpki-*` headers.
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DocumentParams {
    credential: Option<String>,
    purpose: Option<String>,
    /// Encapsulate the document in the signature (default false: detached).
    attached: Option<bool>,
    claimed_role: Option<String>,
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Sign a document (`application/octet-stream`, returns `application/pkcs7-signature` DER) or a
/// digest (`application/json`, returns JSON with the signature in base64).
#[utoipa::path(params(DocumentParams), request_body(content = DigestRequest, description = "JSON digest request, or the raw document as application/octet-stream"),
    security(("bearer" = [])),
    responses((status = 201, description = "CMS SignedData: DER (application/pkcs7-signature) or JSON", body = DigestSignature),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 413, body = Problem), (status = 415, body = Problem)))]
#[post("/v1/signatures")]
pub async fn sign(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    let practitioner = caller.practitioner()?.to_owned();
    let content_type = header(req.headers(), CONTENT_TYPE.as_str()).unwrap_or_default();
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let result = match essence.as_str() {
        "application/json" => sign_digest(&state, caller, practitioner, payload).await,
        "application/octet-stream" => {
            sign_stream(&state, &req, caller, practitioner, payload).await
        }
        _ => Err(Problem::unsupported_media(
            "send application/octet-stream (a document) or application/json (a digest)",
        )),
    };
    let outcome = match &result {
        Ok(_) => "ok",
        Err(p) if p.status == 403 => "forbidden",
        Err(_) => "refused",
    };
    state
        .metrics
        .count("hpki_signatures_total", &[("outcome", outcome)]);
    result
}

pub(super) async fn read_limited(
    mut payload: web::Payload,
    limit: u64,
) -> Result<Vec<u8>, Problem> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| Problem::bad_request(format!("reading the body: {e}")))?;
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(Problem::too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

async fn sign_digest(
    state: &web::Data<AppState>,
    caller: Caller,
    practitioner: String,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    let body = read_limited(payload, state.config.limits.json_bytes as u64).await?;
    let request: DigestRequest = serde_json::from_slice(&body)
        .map_err(|e| Problem::bad_request(format!("malformed JSON: {e}")))?;
    let algorithm = DigestAlgorithm::from_name(&request.digest_algorithm)
        .ok_or_else(|| Problem::bad_request("digest_algorithm must be sha256, sha384 or sha512"))?;
    let digest = B64
        .decode(request.digest.as_bytes())
        .map_err(|_| Problem::bad_request("digest is not valid base64"))?;
    if digest.len() != algorithm.len() {
        return Err(Problem::bad_request(format!(
            "digest is {} octets; {} needs {}",
            digest.len(),
            request.digest_algorithm,
            algorithm.len()
        )));
    }
    let cached = state
        .authority
        .cached_signing_credential(&request.credential, &practitioner);
    let signed = match cached {
        Some(loaded) => {
            let document = SignDocument {
                credential: &request.credential,
                caller: &practitioner,
                digest: &digest,
                digest_algorithm: algorithm,
                purpose: &request.purpose,
                claimed_role: request.claimed_role.as_deref(),
                attached: None,
            };
            sign_inline(state, &loaded?, &document, &caller.label).await?
        }
        // The first signature of a credential loads it from the store, off the async worker.
        None => {
            let st = state.clone();
            let request = (
                request.credential.clone(),
                request.purpose,
                request.claimed_role,
            );
            blocking(move || {
                let (credential, purpose, claimed_role) = request;
                Ok(st.authority.sign_document(
                    &st.purposes,
                    &SignDocument {
                        credential: &credential,
                        caller: &practitioner,
                        digest: &digest,
                        digest_algorithm: algorithm,
                        purpose: &purpose,
                        claimed_role: claimed_role.as_deref(),
                        attached: None,
                    },
                    now(),
                    &caller.label,
                )?)
            })
            .await?
        }
    };
    let credential = request.credential;
    Ok(HttpResponse::Created().json(DigestSignature {
        signature: B64.encode(&signed.cms),
        credential,
        serial: hex::encode(&signed.serial),
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
        .map_err(|e| Problem::bad_request(e.to_string()))?
        .into_inner();
    let headers = req.headers();
    let credential = query
        .credential
        .or_else(|| header(headers, "hpki-credential"))
        .ok_or_else(|| Problem::bad_request("give ?credential= or an Hpki-Credential header"))?;
    let purpose = query
        .purpose
        .or_else(|| header(headers, "hpki-purpose"))
        .ok_or_else(|| Problem::bad_request("give ?purpose= or an Hpki-Purpose header"))?;
    let attached = match query.attached {
        Some(a) => a,
        None => match header(headers, "hpki-attached").as_deref() {
            None | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            Some(_) => return Err(Problem::bad_request("Hpki-Attached must be true or false")),
        },
    };
    let claimed_role = query
        .claimed_role
        .or_else(|| header(headers, "hpki-claimed-role"));

    // Refuse before reading a possibly large body: unknown credential or not the caller's. The
    // credential loaded here is the one that signs (`sign_with` re-checks revocation and the rest).
    // A credential that has signed before is cached: checked here without a blocking-pool hop
    // (each hop is two thread switches, which dominate a small request on a busy machine).
    let loaded = match state
        .authority
        .cached_signing_credential(&credential, &practitioner)
    {
        Some(loaded) => loaded?,
        None => {
            let st = state.clone();
            let (cred, owner) = (credential.clone(), practitioner.clone());
            blocking(move || Ok(st.authority.signing_credential(&cred, &owner)?)).await?
        }
    };
    let algorithm = loaded.digest_algorithm();

    let limit = state.config.limits.document_bytes;
    let mut hasher = DocumentHasher::new(algorithm);
    let mut content = Vec::new();
    let mut seen: u64 = 0;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| Problem::bad_request(format!("reading the body: {e}")))?;
        seen += chunk.len() as u64;
        if seen > limit {
            return Err(Problem::too_large(limit));
        }
        // Hashing a chunk costs microseconds; detached documents are never kept.
        hasher.update(&chunk);
        if attached {
            content.extend_from_slice(&chunk);
        }
    }
    let digest = hasher.finish();
    let signed = if content.len() <= INLINE_CONTENT_BYTES {
        let document = SignDocument {
            credential: &credential,
            caller: &practitioner,
            digest: &digest,
            digest_algorithm: algorithm,
            purpose: &purpose,
            claimed_role: claimed_role.as_deref(),
            attached: attached.then_some(content.as_slice()),
        };
        sign_inline(state, &loaded, &document, &caller.label).await?
    } else {
        // A large attached document is copied into the CMS: that is work for the blocking pool.
        let st = state.clone();
        blocking(move || {
            Ok(st.authority.sign_with(
                &loaded,
                &st.purposes,
                &SignDocument {
                    credential: &credential,
                    caller: &practitioner,
                    digest: &digest,
                    digest_algorithm: algorithm,
                    purpose: &purpose,
                    claimed_role: claimed_role.as_deref(),
                    attached: Some(content.as_slice()),
                },
                now(),
                &caller.label,
            )?)
        })
        .await?
    };
    Ok(HttpResponse::Created()
        .content_type("application/pkcs7-signature")
        .body(signed.cms))
}

/// Attached content up to this size is signed on the async worker (see `sign_inline`).
const INLINE_CONTENT_BYTES: usize = 64 * 1024;

/// Signs on the async worker and awaits the audit record without blocking it. The checks, the
/// CMS encoding and one signature take tens of microseconds, less than the two thread switches
/// of a hop to the blocking pool, which dominated a small request (perf, issue 5); the wait for
/// the journal's sync happens on the store's writer thread while this worker serves others.
async fn sign_inline(
    state: &web::Data<AppState>,
    loaded: &SigningCredential,
    document: &SignDocument<'_>,
    actor: &str,
) -> Result<Signed, Problem> {
    let (tx, rx) = tokio::sync::oneshot::channel::<Result<Signed, CredentialError>>();
    state.authority.sign_with_then(
        loaded,
        &state.purposes,
        document,
        now(),
        actor,
        move |outcome| {
            let _ = tx.send(outcome);
        },
    );
    let outcome = rx
        .await
        .map_err(|_| Problem::internal(&"the audit writer dropped a signature"))?;
    Ok(outcome?)
}
