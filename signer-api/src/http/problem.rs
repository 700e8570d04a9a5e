//! The one place that maps errors to HTTP statuses (DESIGN.md §5 invariant 6): RFC 9457
//! `application/problem+json` bodies. Server-side failures are logged and answered without detail.

use actix_web::http::StatusCode;
use actix_web::http::header::{ALLOW, RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::{HttpResponse, ResponseError};
use ca_core::authority::access::AccessError;
use ca_core::authority::{AugmentError, AuthorityError, CrlError, TimestampError};
use ca_core::client_auth::ClientAuthError;
use ca_core::credential::CredentialError;
use ca_core::issue::IssueError;
use ca_core::ocsp::OcspError;
use ca_core::profile::ProfileError;
use ca_core::purpose::PurposeError;
use ca_core::sign::SignError;
use ca_core::store::StoreError;
use ca_core::token::{TokenError, Unrecognised};
use ca_core::tsp::TspError;
use serde::Serialize;

use super::auth_failures::AuthFailure;

#[derive(Debug, Serialize)]
pub struct Problem {
    /// RFC 9457 §4.2.1: `about:blank`, the status says it all.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    /// What went wrong as a stable name (`not_owner`, `too_large`, …): the metrics' label and the
    /// logs' word for it. Not sent: the status and detail say it to the client.
    #[serde(skip)]
    pub reason: &'static str,
    /// What the response says in a header beside the body; one field for the three, which never
    /// meet, so that a `Result<_, Problem>` stays small (clippy `result_large_err`).
    #[serde(skip)]
    header: Option<Header>,
}

/// A header a problem response carries besides the ones of every problem.
#[derive(Debug)]
enum Header {
    /// RFC 9110 §10.2.3 `Retry-After` delay-seconds (429, 503): at least 1.
    RetryAfter(u64),
    /// RFC 6750 §3.1 error code of a 401's `WWW-Authenticate` challenge, when a token was
    /// presented and refused.
    BearerError(&'static str),
    /// RFC 9110 §10.2.1 `Allow` of a 405: the methods the path is served with.
    Allow(Box<str>),
}

/// The seconds a client is asked to wait while the store's database is unreachable: a
/// restarting PostgreSQL is usually back within them, and a client retrying sooner only adds to
/// the connection attempts.
pub const STORE_RETRY_AFTER: u64 = 5;

/// The seconds a client is asked to wait while the keys' PKCS#11 token is unavailable: the
/// module is initialized again every `keyhealth::REINIT_INTERVAL` meanwhile.
pub const KEY_RETRY_AFTER: u64 = 5;

/// The realm of every `WWW-Authenticate` challenge (RFC 6750 §3, RFC 9110 §11.6.1).
pub const REALM: &str = "hpki";

/// What is wrong with a request's envelope (media type, size, JSON, parameters, a field's value)
/// before ca-core judges it. Handlers return these; the statuses are set below.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("{0}")]
    UnsupportedMedia(&'static str),
    #[error("body exceeds the limit of {0} bytes")]
    TooLarge(u64),
    #[error("reading the body: {0}")]
    Body(String),
    #[error("malformed JSON: {0}")]
    Json(String),
    /// actix-web's query or path deserialisation error.
    #[error("{0}")]
    Parameters(String),
    #[error("{0} is not valid base64")]
    Base64(&'static str),
    /// A required parameter is absent; the message says how to give it.
    #[error("{0}")]
    Missing(&'static str),
    /// A field's value is refused; the message names the field.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("no such route")]
    NoRoute,
    /// The path is served, not with this method; `allow` lists the methods it is served with.
    #[error("{method} is not served at this path; allowed: {allow}")]
    MethodNotAllowed { method: String, allow: String },
}

impl Problem {
    /// A problem of `status`, named `reason` for metrics and logs.
    fn new(status: StatusCode, reason: &'static str, detail: impl Into<String>) -> Self {
        Self {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: detail.into(),
            reason,
            header: None,
        }
    }
    /// A presented bearer token was refused: RFC 6750 §3.1 `invalid_token`.
    fn invalid_token(reason: &'static str, detail: impl Into<String>) -> Self {
        Self {
            header: Some(Header::BearerError("invalid_token")),
            ..Self::new(StatusCode::UNAUTHORIZED, reason, detail)
        }
    }
    pub fn timeout(seconds: u64) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            format!("the request took longer than {seconds} s"),
        )
    }
    /// The client went over its rate limit; it may retry after `retry_after` seconds.
    pub fn too_many_requests(retry_after: u64) -> Self {
        let retry_after = retry_after.max(1);
        Self {
            header: Some(Header::RetryAfter(retry_after)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("rate limit exceeded; retry after {retry_after} s"),
            )
        }
    }
    /// The bodies being buffered use the whole budget (`limits.buffer_bytes`); the request may
    /// succeed once they are done (RFC 9110 §15.6.4).
    pub fn busy(budget: u64, retry_after: u64) -> Self {
        let retry_after = retry_after.max(1);
        Self {
            header: Some(Header::RetryAfter(retry_after)),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "buffer_budget",
                format!(
                    "the service is holding its limit of {budget} bytes of request bodies; \
                     retry after {retry_after} s"
                ),
            )
        }
    }
    /// The store's database cannot be reached (`StoreError::Unavailable`): 503 with Retry-After
    /// (RFC 9110 §15.6.4), since the same request may succeed once it is back. The cause is
    /// logged, at most once a second (a down database fails every request); the client is told
    /// only that the database is unreachable.
    pub fn store_unavailable(error: &dyn std::fmt::Display) -> Self {
        static LOGGED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let second = super::now();
        if LOGGED.swap(second, std::sync::atomic::Ordering::Relaxed) != second {
            tracing::warn!(%error, "store unavailable");
        }
        Self {
            header: Some(Header::RetryAfter(STORE_RETRY_AFTER)),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                format!("the database is unreachable; retry after {STORE_RETRY_AFTER} s"),
            )
        }
    }
    /// A key that cannot sign: `KeyError::Unavailable` (its PKCS#11 token removed, its sessions
    /// gone) is 503 with Retry-After, since the same request succeeds once the token is back
    /// (`crate::keyhealth` initializes the module again meanwhile); the cause is logged at most
    /// once a second. Any other key error is ours: 500.
    pub fn key(error: &ca_core::key::KeyError) -> Self {
        let unavailable = match error {
            ca_core::key::KeyError::Unavailable(_) => true,
            // Every session of the token in use past the wait: overload, not a lost token, so
            // no re-initialization (it would close every session).
            ca_core::key::KeyError::Busy(_) => false,
            _ => return Self::internal(error),
        };
        if !unavailable {
            return Self {
                header: Some(Header::RetryAfter(1)),
                ..Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "key_busy",
                    "every session of the signing key's token (HSM) is in use; retry after 1 s",
                )
            };
        }
        crate::keyhealth::report_unavailable();
        static LOGGED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let second = super::now();
        if LOGGED.swap(second, std::sync::atomic::Ordering::Relaxed) != second {
            tracing::warn!(%error, "signing key unavailable");
        }
        Self {
            header: Some(Header::RetryAfter(KEY_RETRY_AFTER)),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "key_unavailable",
                format!(
                    "the signing key's token (HSM) is unavailable; retry after {KEY_RETRY_AFTER} s"
                ),
            )
        }
    }
    /// A failure on our side: logged in full, answered without internals.
    pub fn internal(error: &dyn std::fmt::Display) -> Self {
        tracing::error!(%error, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the server log",
        )
    }
    /// A problem for an error response actix-web made itself (an extractor or protocol error
    /// that reached no handler of ours), so that no error leaves without a problem body.
    pub fn from_status(status: StatusCode, detail: impl Into<String>) -> Self {
        if status.is_server_error() {
            return Self::internal(&detail.into());
        }
        // A status is a number, not an enum: the names of the ones actix-web makes, else the
        // generic client error.
        const REASONS: [(StatusCode, &str); 7] = [
            (StatusCode::NOT_FOUND, "not_found"),
            (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media"),
            (StatusCode::REQUEST_TIMEOUT, "timeout"),
            (StatusCode::UNAUTHORIZED, "unauthenticated"),
            (StatusCode::FORBIDDEN, "forbidden"),
            (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
        ];
        let reason = REASONS
            .iter()
            .find(|(known, _)| *known == status)
            .map_or("client_error", |(_, reason)| reason);
        Self::new(status, reason, detail)
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.title, self.detail)
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.content_type("application/problem+json");
        match &self.header {
            Some(Header::RetryAfter(seconds)) => {
                response.insert_header((RETRY_AFTER, *seconds));
            }
            Some(Header::Allow(methods)) => {
                response.insert_header((ALLOW, &**methods));
            }
            Some(Header::BearerError(_)) | None => {}
        }
        // RFC 9110 §15.5.2: every 401 carries a challenge. RFC 6750 §3: Bearer, with the error
        // code when a token was presented (never its description: the detail says it).
        if self.status == StatusCode::UNAUTHORIZED.as_u16() {
            let challenge = match self.header {
                Some(Header::BearerError(error)) => {
                    format!("Bearer realm=\"{REALM}\", error=\"{error}\"")
                }
                Some(Header::RetryAfter(_) | Header::Allow(_)) | None => {
                    format!("Bearer realm=\"{REALM}\"")
                }
            };
            response.insert_header((WWW_AUTHENTICATE, challenge));
        }
        let mut response = response.json(self);
        response.extensions_mut().insert(Reason(self.reason));
        response
    }
}

/// The reason of a problem response, left in the response's extensions for the metrics layer.
#[derive(Clone, Copy, Debug)]
pub struct Reason(pub &'static str);

// Each match below names every variant (no wildcard arm), so a new error kind in ca-core does
// not compile until it is given a status here.

fn conflict(reason: &'static str, e: &dyn std::fmt::Display) -> Problem {
    Problem::new(StatusCode::CONFLICT, reason, e.to_string())
}

fn bad(reason: &'static str, e: &dyn std::fmt::Display) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, reason, e.to_string())
}

fn forbidden(reason: &'static str, e: &dyn std::fmt::Display) -> Problem {
    Problem::new(StatusCode::FORBIDDEN, reason, e.to_string())
}

fn not_found(reason: &'static str, e: &dyn std::fmt::Display) -> Problem {
    Problem::new(StatusCode::NOT_FOUND, reason, e.to_string())
}

impl From<RequestError> for Problem {
    fn from(e: RequestError) -> Self {
        let (status, reason) = match &e {
            RequestError::UnsupportedMedia(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media")
            }
            RequestError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            RequestError::Body(_) => (StatusCode::BAD_REQUEST, "body"),
            RequestError::Json(_) => (StatusCode::BAD_REQUEST, "json"),
            RequestError::Parameters(_) => (StatusCode::BAD_REQUEST, "parameters"),
            RequestError::Base64(_) => (StatusCode::BAD_REQUEST, "base64"),
            RequestError::Missing(_) => (StatusCode::BAD_REQUEST, "missing"),
            RequestError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid"),
            RequestError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            RequestError::NoRoute => (StatusCode::NOT_FOUND, "no_route"),
            RequestError::MethodNotAllowed { allow, .. } => {
                return Self {
                    header: Some(Header::Allow(allow.as_str().into())),
                    ..Self::new(
                        StatusCode::METHOD_NOT_ALLOWED,
                        "method_not_allowed",
                        e.to_string(),
                    )
                };
            }
        };
        Self::new(status, reason, e.to_string())
    }
}

impl From<AuthFailure> for Problem {
    fn from(failure: AuthFailure) -> Self {
        match failure {
            AuthFailure::NoCredentials => Self::new(
                StatusCode::UNAUTHORIZED,
                "no_credentials",
                "no credentials: send Authorization: Bearer <token> or a client certificate",
            ),
            AuthFailure::Header(detail) => {
                Self::new(StatusCode::UNAUTHORIZED, "malformed_header", detail)
            }
            AuthFailure::Token(e) => e.into(),
            AuthFailure::Certificate(e) => e.into(),
        }
    }
}

impl From<AccessError> for Problem {
    fn from(e: AccessError) -> Self {
        let reason = match e {
            AccessError::NeedsRa => "needs_ra",
            AccessError::NeedsPractitioner | AccessError::NotPractitioner { .. } => {
                "needs_practitioner"
            }
            AccessError::OthersCredentials => "others_credentials",
            AccessError::MintNeedsToken => "mint_needs_token",
            AccessError::NeedsAccountableCaller { .. } => "needs_accountable_caller",
            // A request short of what it must say, not a refusal of the caller.
            AccessError::OwnerNotNamed => return bad("owner_not_named", &e),
        };
        forbidden(reason, &e)
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(_) => not_found("no_certificate", &e),
            StoreError::TokenNotFound(_) => not_found("no_token", &e),
            StoreError::AlreadyRevoked(_) => conflict("already_revoked", &e),
            StoreError::DuplicateSerial(_)
            | StoreError::DuplicateCredential(_)
            | StoreError::DuplicateToken(_) => conflict("duplicate", &e),
            StoreError::TokenAlreadyRevoked(_) => conflict("token_already_revoked", &e),
            StoreError::NotOnHold(_) => conflict("not_on_hold", &e),
            StoreError::UnknownReason(_) => bad("unknown_reason", &e),
            StoreError::RemoveFromCrlNotAReason => bad("remove_from_crl", &e),
            StoreError::Unavailable(_) => Self::store_unavailable(&e),
            StoreError::Backend(_)
            | StoreError::Corrupt(_)
            | StoreError::AlreadyInitialised
            | StoreError::InvalidCaId(_)
            | StoreError::UnknownDurability(_)
            | StoreError::InUse
            | StoreError::NotEmpty => Self::internal(&e),
        }
    }
}

impl From<IssueError> for Problem {
    fn from(e: IssueError) -> Self {
        match e {
            IssueError::CsrTooLarge(_) => {
                Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.to_string())
            }
            IssueError::CsrMalformed(_) => bad("csr_malformed", &e),
            IssueError::CsrSignature(_) => bad("csr_signature", &e),
            IssueError::CsrKey(_) => bad("csr_key", &e),
            IssueError::Violation(_) => bad("profile_violation", &e),
            IssueError::CaProfile(_) => bad("ca_profile", &e),
            IssueError::Profile(p) => p.into(),
            IssueError::Sign(k) => Self::key(&k),
            IssueError::Build(_) | IssueError::Serial => Self::internal(&e),
        }
    }
}

impl From<ProfileError> for Problem {
    fn from(e: ProfileError) -> Self {
        match e {
            ProfileError::Unknown(_) => bad("unknown_profile", &e),
            ProfileError::Violation(_) => bad("profile_violation", &e),
            ProfileError::Invalid { .. } | ProfileError::Io { .. } | ProfileError::Der(_) => {
                Self::internal(&e)
            }
        }
    }
}

impl From<AuthorityError> for Problem {
    fn from(e: AuthorityError) -> Self {
        match e {
            AuthorityError::Issue(e) => e.into(),
            AuthorityError::Store(e) => e.into(),
            AuthorityError::Profile(e) => e.into(),
            AuthorityError::UnknownCa(_) => not_found("unknown_ca", &e),
            AuthorityError::CaRevoked(_) => conflict("ca_revoked", &e),
            AuthorityError::Key(k)
            | AuthorityError::Crl(CrlError::Sign(k))
            | AuthorityError::Ocsp(OcspError::Sign(k)) => Self::key(&k),
            AuthorityError::Crl(CrlError::Der(_) | CrlError::Time(_))
            | AuthorityError::Ocsp(_)
            | AuthorityError::Seal(_)
            | AuthorityError::NotInitialised
            // Only `init` (the CLI) imports CA keys: never an HTTP request.
            | AuthorityError::SoftwareCaKeyRefused
            | AuthorityError::Config(_) => Self::internal(&e),
        }
    }
}

impl From<PurposeError> for Problem {
    fn from(e: PurposeError) -> Self {
        match e {
            PurposeError::Unknown(_) => bad("unknown_purpose", &e),
            PurposeError::Forbidden { .. } => forbidden("role_purpose", &e),
            PurposeError::Invalid { .. } => Self::internal(&e),
        }
    }
}

impl From<SignError> for Problem {
    fn from(e: SignError) -> Self {
        match e {
            SignError::DigestLength { .. } => bad("digest_length", &e),
            SignError::ContentMismatch => bad("content_mismatch", &e),
            SignError::Key(k) => Self::key(&k),
            SignError::Certificate(_) | SignError::Build(_) => Self::internal(&e),
        }
    }
}

impl From<CredentialError> for Problem {
    fn from(e: CredentialError) -> Self {
        match e {
            CredentialError::NotFound(_) => not_found("no_credential", &e),
            CredentialError::NotOwner(_) => forbidden("not_owner", &e),
            CredentialError::Revoked(_) => forbidden("credential_revoked", &e),
            CredentialError::OnHold(_) => forbidden("credential_on_hold", &e),
            CredentialError::OutOfValidity(_) => forbidden("credential_expired", &e),
            CredentialError::CaRevoked { .. } => forbidden("ca_revoked", &e),
            CredentialError::NotSigningProfile(_) => bad("not_signing_profile", &e),
            CredentialError::DigestAlgorithm { .. } => bad("digest_algorithm", &e),
            CredentialError::ClientText(_) => bad("client_text", &e),
            CredentialError::Owner(_) => bad("owner", &e),
            CredentialError::Key(k) => Self::key(&k),
            CredentialError::Seal(_) => Self::internal(&e),
            CredentialError::Purpose(e) => e.into(),
            CredentialError::Sign(e) => e.into(),
            CredentialError::Authority(e) => e.into(),
            CredentialError::Store(e) => e.into(),
            CredentialError::Level(e) => e.into(),
        }
    }
}

/// Why a certificate did not authenticate, as the metrics and the log name it
/// (`hpki_auth_failures_total{reason}`, `hpki_http_problems_total{reason}`); `None` when the
/// failure is the service's, not the client's.
pub fn certificate_reason(e: &ClientAuthError) -> Option<&'static str> {
    Some(match e {
        ClientAuthError::Missing => "no_certificate",
        ClientAuthError::Malformed => "malformed_certificate",
        ClientAuthError::NotIssuedHere => "certificate_not_issued_here",
        ClientAuthError::NotForAuthentication(_) => "certificate_not_for_authentication",
        ClientAuthError::Revoked => "revoked_certificate",
        ClientAuthError::CaRevoked => "certificate_ca_revoked",
        ClientAuthError::OutsideValidity => "certificate_outside_validity",
        ClientAuthError::NoPractitionerId => "certificate_without_identity",
        ClientAuthError::Store(_) | ClientAuthError::Inconsistent(_) => return None,
    })
}

/// Why a token did not authenticate, as the metrics and the log name it; `None` for a token
/// error that is no failed authentication (a minting request, the store).
pub fn token_reason(e: &TokenError) -> Option<&'static str> {
    Some(match e {
        TokenError::Malformed => "malformed_token",
        // The answer is the same for both (`Unrecognised`); the counts tell them apart.
        TokenError::Unrecognised {
            cause: Unrecognised::UnknownId,
            ..
        } => "unknown_token",
        TokenError::Unrecognised {
            cause: Unrecognised::WrongSecret,
            ..
        } => "wrong_secret",
        TokenError::Expired(_) => "expired_token",
        TokenError::Revoked(_) => "revoked_token",
        TokenError::Invalid(_)
        | TokenError::NotRa(_)
        | TokenError::Random
        | TokenError::Store(_) => {
            return None;
        }
    })
}

impl From<ClientAuthError> for Problem {
    fn from(e: ClientAuthError) -> Self {
        match e {
            ClientAuthError::Store(e) => e.into(),
            ClientAuthError::Inconsistent(_) => Self::internal(&e),
            ClientAuthError::Missing
            | ClientAuthError::Malformed
            | ClientAuthError::NotIssuedHere
            | ClientAuthError::NotForAuthentication(_)
            | ClientAuthError::Revoked
            | ClientAuthError::CaRevoked
            | ClientAuthError::OutsideValidity
            | ClientAuthError::NoPractitionerId => Self::new(
                StatusCode::UNAUTHORIZED,
                certificate_reason(&e).unwrap_or("unauthenticated"),
                e.to_string(),
            ),
        }
    }
}

impl From<TokenError> for Problem {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Invalid(_) => bad("token_request", &e),
            TokenError::NotRa(_) => forbidden("not_ra", &e),
            TokenError::Random => Self::internal(&e),
            TokenError::Store(e) => e.into(),
            // An unknown id and a wrong secret answer alike, to the byte; the reason (for the
            // metrics) tells them apart.
            TokenError::Malformed
            | TokenError::Unrecognised { .. }
            | TokenError::Expired(_)
            | TokenError::Revoked(_) => {
                Self::invalid_token(token_reason(&e).unwrap_or("unauthenticated"), e.to_string())
            }
        }
    }
}

impl From<TimestampError> for Problem {
    fn from(e: TimestampError) -> Self {
        match e {
            TimestampError::NoTsa => not_found("no_tsa", &e),
            TimestampError::CallerRequired => {
                Self::new(StatusCode::UNAUTHORIZED, "no_credentials", e.to_string())
            }
            // As issuing under a revoked CA (`ca_revoked`): the TSA's state refuses it until an
            // operator acts.
            TimestampError::Unavailable(_) => conflict("tsa_unavailable", &e),
            TimestampError::Tsp(e) => e.into(),
            TimestampError::Store(e) => e.into(),
            TimestampError::Authority(e) => e.into(),
        }
    }
}

impl From<AugmentError> for Problem {
    fn from(e: AugmentError) -> Self {
        let bad_gateway = |reason, e: &AugmentError| {
            tracing::warn!(error = %e, "time-stamping authority");
            Problem::new(StatusCode::BAD_GATEWAY, reason, e.to_string())
        };
        match e {
            AugmentError::TooLarge { .. } => {
                Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.to_string())
            }
            AugmentError::Cades(_) => bad("not_cades", &e),
            // The installation's configuration refuses it until an operator adds a TSA.
            AugmentError::NoTimestampSource(_) => conflict("no_tsa", &e),
            AugmentError::Timestamp(e) => e.into(),
            AugmentError::TsaUnreachable { .. } => bad_gateway("tsa_unreachable", &e),
            AugmentError::TsaResponse { .. } => bad_gateway("tsa_response", &e),
            AugmentError::UntrustedToken { .. } => bad_gateway("tsa_untrusted", &e),
            AugmentError::Config(_) | AugmentError::Random(_) => Self::internal(&e),
            AugmentError::Authority(e) => e.into(),
            AugmentError::Store(e) => e.into(),
        }
    }
}

impl From<TspError> for Problem {
    fn from(e: TspError) -> Self {
        match e {
            TspError::TooLarge { .. } => {
                Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.to_string())
            }
            // `Authority::timestamp` answers a malformed request with a rejection; a caller of
            // `Tsa::timestamp` would get this.
            TspError::Malformed(_) => bad("timestamp_request", &e),
            TspError::Sign(e) => e.into(),
            TspError::Certificate(_) | TspError::Build(_) => Self::internal(&e),
        }
    }
}

impl From<actix_web::error::BlockingError> for Problem {
    fn from(e: actix_web::error::BlockingError) -> Self {
        Self::internal(&e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9110 §10.2.3: Retry-After is delay-seconds; a wait that rounds to 0 is asked as 1.
    #[test]
    fn retry_after_is_at_least_one_second() {
        for problem in [Problem::too_many_requests(0), Problem::busy(1024, 0)] {
            let response = problem.error_response();
            assert_eq!(response.headers().get(RETRY_AFTER).unwrap(), "1");
        }
        let response = Problem::too_many_requests(3).error_response();
        assert_eq!(response.headers().get(RETRY_AFTER).unwrap(), "3");
    }

    /// RFC 9110 §15.5.6: a 405 says in `Allow` which methods the path is served with, and only a
    /// 405 has that header.
    #[test]
    fn a_405_allows_the_paths_methods() {
        let refused: Problem = RequestError::MethodNotAllowed {
            method: "PUT".into(),
            allow: "GET, HEAD".into(),
        }
        .into();
        assert_eq!(refused.reason, "method_not_allowed");
        assert_eq!(
            refused.detail,
            "PUT is not served at this path; allowed: GET, HEAD"
        );
        let response = refused.error_response();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers().get(ALLOW).unwrap(), "GET, HEAD");
        let unrouted = Problem::from(RequestError::NoRoute).error_response();
        assert_eq!(unrouted.status(), StatusCode::NOT_FOUND);
        assert!(unrouted.headers().get(ALLOW).is_none());
    }

    /// RFC 9110 §15.5.2: a 401 carries a challenge, whatever refused the caller.
    #[test]
    fn every_401_challenges() {
        let no_token: Problem = AuthFailure::NoCredentials.into();
        let refused: Problem = TokenError::Malformed.into();
        let certificate: Problem = ClientAuthError::Revoked.into();
        for (problem, challenge) in [
            (no_token, "Bearer realm=\"hpki\""),
            (refused, "Bearer realm=\"hpki\", error=\"invalid_token\""),
            (certificate, "Bearer realm=\"hpki\""),
        ] {
            let response = problem.error_response();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
            assert_eq!(response.headers().get(WWW_AUTHENTICATE).unwrap(), challenge);
        }
    }

    /// A token whose sessions are all in use is overload (503, retry soon), not a lost token
    /// (503 key_unavailable, which starts re-initializing the module); any other key error is
    /// ours (500).
    #[test]
    fn a_busy_token_is_503_and_apart_from_a_lost_one() {
        use ca_core::key::KeyError;
        for (error, status, reason, retry) in [
            (KeyError::Busy("8 sessions".into()), 503, "key_busy", "1"),
            (
                KeyError::Unavailable("gone".into()),
                503,
                "key_unavailable",
                "5",
            ),
            (KeyError::NotExportable, 500, "internal", ""),
        ] {
            let problem = Problem::key(&error);
            assert_eq!(
                (problem.status, problem.reason),
                (status, reason),
                "{error}"
            );
            let response = problem.error_response();
            let header = response
                .headers()
                .get(RETRY_AFTER)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            assert_eq!(header, retry, "{error}");
        }
    }
}
