//! The one place that maps errors to HTTP statuses (DESIGN.md §5 invariant 6): RFC 9457
//! `application/problem+json` bodies. Server-side failures are logged and answered without detail.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use ca_core::authority::AuthorityError;
use ca_core::client_auth::ClientAuthError;
use ca_core::credential::CredentialError;
use ca_core::issue::IssueError;
use ca_core::profile::ProfileError;
use ca_core::purpose::PurposeError;
use ca_core::sign::SignError;
use ca_core::store::StoreError;
use ca_core::token::TokenError;
use serde::Serialize;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            kind: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            detail: detail.into(),
        }
    }
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, detail)
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }
    pub fn too_large(limit: u64) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("body exceeds the limit of {limit} bytes"),
        )
    }
    pub fn unsupported_media(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, detail)
    }
    pub fn timeout(seconds: u64) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            format!("the request took longer than {seconds} s"),
        )
    }
    /// The client went over its rate limit; it may retry after `retry_after` seconds.
    pub fn too_many_requests(retry_after: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("rate limit exceeded; retry after {retry_after} s"),
        )
    }
    /// A failure on our side: logged in full, answered without internals.
    pub fn internal(error: &dyn std::fmt::Display) -> Self {
        tracing::error!(%error, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error; see the server log",
        )
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
        HttpResponse::build(self.status_code())
            .content_type("application/problem+json")
            .json(self)
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(_) | StoreError::TokenNotFound(_) => {
                Self::not_found(e.to_string())
            }
            StoreError::AlreadyRevoked(_)
            | StoreError::DuplicateSerial(_)
            | StoreError::DuplicateCredential(_)
            | StoreError::DuplicateToken(_)
            | StoreError::TokenAlreadyRevoked(_)
            | StoreError::NotOnHold(_) => Self::new(StatusCode::CONFLICT, e.to_string()),
            StoreError::UnknownReason(_) | StoreError::RemoveFromCrlNotAReason => {
                Self::bad_request(e.to_string())
            }
            _ => Self::internal(&e),
        }
    }
}

impl From<IssueError> for Problem {
    fn from(e: IssueError) -> Self {
        match e {
            IssueError::CsrTooLarge(_) => Self::new(StatusCode::PAYLOAD_TOO_LARGE, e.to_string()),
            IssueError::CsrMalformed(_)
            | IssueError::CsrSignature(_)
            | IssueError::CsrKey(_)
            | IssueError::Violation(_)
            | IssueError::CaProfile(_) => Self::bad_request(e.to_string()),
            IssueError::Profile(p) => p.into(),
            IssueError::Build(_) | IssueError::Serial => Self::internal(&e),
        }
    }
}

impl From<ProfileError> for Problem {
    fn from(e: ProfileError) -> Self {
        match e {
            ProfileError::Unknown(_) | ProfileError::Violation(_) => {
                Self::bad_request(e.to_string())
            }
            _ => Self::internal(&e),
        }
    }
}

impl From<AuthorityError> for Problem {
    fn from(e: AuthorityError) -> Self {
        match e {
            AuthorityError::Issue(e) => e.into(),
            AuthorityError::Store(e) => e.into(),
            AuthorityError::Profile(e) => e.into(),
            AuthorityError::UnknownCa(_) => Self::not_found(e.to_string()),
            AuthorityError::CaRevoked(_) => Self::new(StatusCode::CONFLICT, e.to_string()),
            _ => Self::internal(&e),
        }
    }
}

impl From<PurposeError> for Problem {
    fn from(e: PurposeError) -> Self {
        match e {
            PurposeError::Unknown(_) => Self::bad_request(e.to_string()),
            PurposeError::Forbidden { .. } => Self::forbidden(e.to_string()),
            PurposeError::Invalid { .. } => Self::internal(&e),
        }
    }
}

impl From<SignError> for Problem {
    fn from(e: SignError) -> Self {
        match e {
            SignError::DigestLength { .. } | SignError::ContentMismatch => {
                Self::bad_request(e.to_string())
            }
            _ => Self::internal(&e),
        }
    }
}

impl From<CredentialError> for Problem {
    fn from(e: CredentialError) -> Self {
        match e {
            CredentialError::NotFound(_) => Self::not_found(e.to_string()),
            CredentialError::NotOwner(_)
            | CredentialError::Revoked(_)
            | CredentialError::OnHold(_)
            | CredentialError::OutOfValidity(_)
            | CredentialError::CaRevoked { .. } => Self::forbidden(e.to_string()),
            CredentialError::NotSigningProfile(_)
            | CredentialError::DigestAlgorithm { .. }
            | CredentialError::ClientText(_) => Self::bad_request(e.to_string()),
            CredentialError::Key(_) | CredentialError::Seal(_) => Self::internal(&e),
            CredentialError::Purpose(e) => e.into(),
            CredentialError::Sign(e) => e.into(),
            CredentialError::Authority(e) => e.into(),
            CredentialError::Store(e) => e.into(),
        }
    }
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
            | ClientAuthError::NoPractitionerId => Self::unauthorized(e.to_string()),
        }
    }
}

impl From<TokenError> for Problem {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Invalid(_) => Self::bad_request(e.to_string()),
            TokenError::NotRa(_) => Self::forbidden(e.to_string()),
            TokenError::Random => Self::internal(&e),
            TokenError::Store(e) => e.into(),
            _ => Self::unauthorized(e.to_string()),
        }
    }
}

impl From<actix_web::error::BlockingError> for Problem {
    fn from(e: actix_web::error::BlockingError) -> Self {
        Self::internal(&e)
    }
}
