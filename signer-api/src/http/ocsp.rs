//! The OCSP responder over HTTP (RFC 6960 Appendix A, RFC 5019 §5–6). No authentication: OCSP
//! clients send none; the per-client rate limit applies as everywhere. The answer is ca-core's
//! (`Authority::ocsp_response`); this module only moves bytes and sets the caching headers.
//!
//! A request that is not a valid OCSPRequest (bad DER, bad base64, a nonce of the wrong length,
//! too many CertIDs) is answered 200 with an OCSPResponse of status malformedRequest, as RFC 6960
//! §2.3 says: OCSP clients read the OCSP status, not the HTTP one. Only what is wrong with the
//! HTTP envelope is a problem+json: another Content-Type (415), a body over
//! `ca_core::ocsp::MAX_REQUEST_LEN` (413), the responder turned off (404).

use super::openapi::Binary;
use super::problem::{Problem, RequestError};
use super::signatures::read_limited;
use super::{AppState, blocking, now};
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use base64::Engine;
use ca_core::authority::AuthorityError;
use ca_core::issue::IssueError;
use ca_core::key::KeyError;
use ca_core::ocsp::OcspError;
use ca_core::ocsp::{MAX_REQUEST_LEN, OcspAnswer, OcspResponseStatus};
use ca_core::store::StoreError;

const OCSP_RESPONSE: &str = "application/ocsp-response";

/// Path prefix of the GET form; the rest of the path is the request.
const GET_PREFIX: &str = "/v1/ocsp/";

/// Answer an OCSP request sent in the body (RFC 6960 A.1.1, `application/ocsp-request`).
#[utoipa::path(
    request_body(content((Binary = "application/ocsp-request")),
        description = "A DER OCSPRequest (RFC 6960 §4.1)"),
    responses(
        (status = 200, description = "A DER OCSPResponse: successful and signed, or an error status \
            (malformedRequest, unauthorized, internalError) without signature", body = Binary,
            content_type = "application/ocsp-response"),
        (status = 404, description = "The OCSP responder is turned off"),
        (status = 413, description = "The body exceeds 16 KiB"),
        (status = 415, description = "Content-Type other than application/ocsp-request"),
        (status = 503, description = "Over the service's budget of buffered request bodies")))]
#[post("/v1/ocsp")]
pub async fn post(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    enabled(&state)?;
    let essence = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence != "application/ocsp-request" {
        return Err(RequestError::UnsupportedMedia("send application/ocsp-request").into());
    }
    let (body, _budget) = read_limited(&state, &req, payload, MAX_REQUEST_LEN as u64).await?;
    let answer = answer(state.clone(), body).await?;
    // POST answers are not cached by HTTP caches (RFC 9111 §3); say so for the errors too.
    let cache = match answer.response_status {
        OcspResponseStatus::Successful => None,
        _ => Some("no-store".to_owned()),
    };
    Ok(respond(answer, cache))
}

/// Answer an OCSP request sent in the URL (RFC 6960 A.1.1: the base64 of the DER request,
/// URL-encoded; base64url is accepted too). A successful answer may be cached by HTTP caches up
/// to its nextUpdate (RFC 5019 §6).
#[utoipa::path(
    params(("request" = String, Path, description = "base64 (percent-encoded) or base64url of a DER OCSPRequest")),
    responses(
        (status = 200, description = "A DER OCSPResponse (see POST /v1/ocsp)", body = Binary,
            content_type = "application/ocsp-response",
            headers(("Cache-Control" = String, description = "max-age up to nextUpdate on a successful answer, no-store on an error status"))),
        (status = 404, description = "The OCSP responder is turned off")))]
#[get("/v1/ocsp/{request:.*}")]
pub async fn get(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, Problem> {
    enabled(&state)?;
    // The raw path: a router-decoded segment would have lost the difference between `/` and
    // `%2F` in standard base64.
    let raw = req.uri().path().strip_prefix(GET_PREFIX).unwrap_or("");
    let der = if raw.len() > 2 * MAX_REQUEST_LEN {
        None
    } else {
        percent_decode(raw).and_then(|text| decode_base64(&text))
    };
    let Some(der) = der else {
        let answer = OcspAnswer::error(OcspResponseStatus::MalformedRequest);
        count(&state, &answer);
        return Ok(respond(answer, Some("no-store".to_owned())));
    };
    let answer = answer(state.clone(), der).await?;
    // Read after the answer was made, so max-age never outlasts nextUpdate.
    let at = now();
    let cache = match answer.next_update {
        // RFC 5019 §6.2: max-age no later than nextUpdate.
        Some(next) if answer.response_status == OcspResponseStatus::Successful => Some(format!(
            "max-age={}, public, no-transform, must-revalidate",
            next.saturating_sub(at)
        )),
        _ => Some("no-store".to_owned()),
    };
    Ok(respond(answer, cache))
}

fn enabled(state: &AppState) -> Result<(), Problem> {
    if state.config.ocsp.enabled {
        Ok(())
    } else {
        Err(RequestError::NotFound("the OCSP responder is turned off (ocsp.enabled)".into()).into())
    }
}

/// ca-core's answer on the blocking pool (a store read and a signature; a renewal writes). A
/// store or key failure is logged and answered internalError (RFC 6960 §2.3), never a 500 an
/// OCSP client cannot read. A database that cannot be reached is a 503 with Retry-After, as on
/// every route, and so is a PKCS#11 token that is unavailable: unlike tryLater it says when to ask again, and no HTTP cache keeps it as an
/// answer (RFC 5019 §6).
async fn answer(state: web::Data<AppState>, der: Vec<u8>) -> Result<OcspAnswer, Problem> {
    let counted = state.clone();
    let answer = blocking(move || {
        Ok(match state.authority.ocsp_response(&der, now()) {
            Ok(answer) => answer,
            Err(AuthorityError::Store(e @ StoreError::Unavailable(_))) => return Err(e.into()),
            // The keys' token gone: 503 with Retry-After too, not tryLater (same reasons).
            Err(
                AuthorityError::Key(e @ (KeyError::Unavailable(_) | KeyError::Busy(_)))
                | AuthorityError::Ocsp(OcspError::Sign(
                    e @ (KeyError::Unavailable(_) | KeyError::Busy(_)),
                ))
                | AuthorityError::Issue(IssueError::Sign(
                    e @ (KeyError::Unavailable(_) | KeyError::Busy(_)),
                )),
            ) => return Err(Problem::key(&e)),
            Err(e) => {
                tracing::error!(error = %e, "OCSP response failed");
                OcspAnswer::error(OcspResponseStatus::InternalError)
            }
        })
    })
    .await?;
    count(&counted, &answer);
    Ok(answer)
}

fn count(state: &AppState, answer: &OcspAnswer) {
    for status in &answer.statuses {
        state
            .metrics
            .count("hpki_ocsp_responses_total", &[("status", status.name())]);
    }
}

fn respond(answer: OcspAnswer, cache: Option<String>) -> HttpResponse {
    let mut res = HttpResponse::Ok();
    res.content_type(OCSP_RESPONSE);
    if let Some(cache) = cache {
        res.insert_header((CACHE_CONTROL, cache));
    }
    res.body(answer.der)
}

/// `%XX` escapes decoded (RFC 3986 §2.1); `None` for a broken escape or a result that is not
/// ASCII (base64 is).
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok().filter(|s| s.is_ascii())
}

/// Standard base64 (RFC 4648 §4) or base64url (§5), padded or not.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let standard = GeneralPurpose::new(&base64::alphabet::STANDARD, config);
    let url = GeneralPurpose::new(&base64::alphabet::URL_SAFE, config);
    standard.decode(text).or_else(|_| url.decode(text)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_base64_alphabets_and_escapes_decode() {
        let der = [0xfbu8, 0xff, 0x30, 0x03];
        assert_eq!(decode_base64("+/8wAw==").unwrap(), der);
        assert_eq!(decode_base64("-_8wAw").unwrap(), der);
        assert_eq!(
            decode_base64(&percent_decode("%2B%2F8wAw%3D%3D").unwrap()).unwrap(),
            der
        );
        assert_eq!(percent_decode("%2"), None);
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(decode_base64("not base64!"), None);
    }
}
