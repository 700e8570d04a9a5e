//! Credentials (server-held signing keys) and API tokens.

use super::auth::{Caller, RaCaller};
use super::ca::pem;
use super::certificates::registration;
use super::problem::{Problem, RequestError};
use super::{AppState, blocking, now};
use actix_web::{HttpResponse, delete, get, post, web};
use ca_core::authority::access::AccessError;
use ca_core::credential::{Credential, NewCredential};
use ca_core::key::KeyAlgorithm;
use ca_core::store::TokenScope;
use ca_core::time::rfc3339;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCredential {
    /// Practitioner identity; defaults to the subject's serialNumber, and must equal it when both are given.
    #[schema(min_length = 1, max_length = 128)]
    owner: Option<String>,
    /// A document-signing profile (default rhp-sign).
    profile: Option<String>,
    /// Subject in certificate order, e.g. "C=JP,O=Example Hospital,CN=Taro Yamada,serialNumber=D-1";
    /// at most 4,096 bytes; the profile says which attributes it needs.
    #[schema(max_length = 4096)]
    subject: String,
    /// Certified roles, "SCHEME_OID:TEXT", from the profile's role vocabulary.
    #[serde(default)]
    #[schema(max_items = 32)]
    hc_roles: Vec<String>,
    /// Default and maximum: the profile's max_validity_days.
    #[schema(minimum = 1)]
    validity_days: Option<u32>,
    /// The key made in the service (default p256); the profile may allow fewer.
    #[schema(value_type = Option<NewKeyAlgorithm>)]
    key_algorithm: Option<KeyAlgorithm>,
}

/// The key algorithms the service generates.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // documents the names `KeyAlgorithm` deserialises that a credential may use
pub enum NewKeyAlgorithm {
    P256,
    P384,
    Ed25519,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CredentialView {
    /// `cred_` and 16 hex digits.
    #[schema(pattern = "^cred_[0-9a-f]{16}$")]
    id: String,
    owner: String,
    profile: String,
    /// The certificate's serial number, hex.
    serial: String,
    hc_roles: Vec<String>,
    key_algorithm: String,
    /// RFC 3339, as every time in the API.
    #[schema(format = DateTime)]
    not_after: String,
    /// PEM.
    certificate: String,
    /// PEM, issuing CA first, root last.
    chain: Vec<String>,
}

fn view(c: &Credential) -> Result<CredentialView, Problem> {
    Ok(CredentialView {
        id: c.id.clone(),
        owner: c.owner.clone(),
        profile: c.profile.clone(),
        serial: hex::encode(&c.serial),
        hc_roles: c.hc_roles.iter().map(ToString::to_string).collect(),
        key_algorithm: c.key_algorithm.name().to_owned(),
        not_after: rfc3339(c.not_after),
        certificate: pem(&c.certificate)?,
        chain: c.chain.iter().map(|d| pem(d)).collect::<Result<_, _>>()?,
    })
}

/// Create a credential: a key made and sealed in the service, certified under a signing profile
/// (ra only).
#[utoipa::path(request_body = CreateCredential, security(("bearer" = [])),
    responses((status = 201, description = "Created", body = CredentialView),
        (status = 400, description = "Malformed JSON, or a request the profile refuses"),
        (status = 403, description = "Not an ra token"),
        (status = 409, description = "The issuing CA is revoked"),
        (status = 413), (status = 415), (status = 500)))]
#[post("/v1/credentials")]
pub async fn create(
    state: web::Data<AppState>,
    RaCaller(caller): RaCaller,
    body: web::Json<CreateCredential>,
) -> Result<HttpResponse, Problem> {
    let body = body.into_inner();
    let reg = registration(
        body.profile
            .unwrap_or_else(|| ca_core::credential::DEFAULT_PROFILE.into()),
        &body.subject,
        &body.hc_roles,
        &[],
        body.validity_days,
    )?;
    let request = NewCredential {
        owner: body.owner,
        registration: reg,
        key_algorithm: body.key_algorithm.unwrap_or(KeyAlgorithm::P256),
    };
    let st = state.clone();
    let result = blocking(move || {
        Ok(st
            .authority
            .create_credential(&request, now(), &caller.label)?)
    })
    .await;
    let outcome = super::outcome(&result);
    state
        .metrics
        .count("hpki_credentials_created_total", &[("outcome", outcome)]);
    Ok(HttpResponse::Created().json(view(&result?)?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Whose credentials: required with an ra token, refused with any other caller.
    owner: Option<String>,
}

/// The caller's own credentials (ra: those of `owner`).
#[utoipa::path(params(ListQuery), security(("bearer" = [])),
    responses((status = 200, description = "The credentials", body = [CredentialView]),
        (status = 400, description = "An ra token without owner, or a malformed query"),
        (status = 403, description = "owner given by a practitioner, or a caller bound to no practitioner"),
        (status = 500)))]
#[get("/v1/credentials")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, Problem> {
    let owner = caller
        .identity
        .credentials_owner(query.owner.as_deref())?
        .to_owned();
    let st = state.clone();
    let list = blocking(move || Ok(st.authority.credentials_of(&owner)?)).await?;
    let views: Vec<_> = list.iter().map(view).collect::<Result<_, _>>()?;
    Ok(HttpResponse::Ok().json(views))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    #[schema(value_type = Scope)]
    scope: String,
    #[schema(schema_with = super::openapi::practitioner)]
    practitioner: Option<String>,
    /// Default from the configuration (tokens.*_lifetime_days); at most tokens.max_days. The new
    /// token never outlives the token that creates it: its expiry is capped to that one's.
    #[schema(minimum = 1)]
    lifetime_days: Option<u32>,
    /// Exact lifetime in seconds (for short-lived tokens); overrides `lifetime_days`; at most
    /// tokens.max_days.
    #[schema(minimum = 1)]
    lifetime_seconds: Option<u64>,
}

/// What a token may do: ra (registration authority) or signer (one practitioner's credentials).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // documents the names `create_token` matches
pub enum Scope {
    Ra,
    Signer,
}

/// The longest practitioner identity a signer token is bound to, in characters.
pub const MAX_PRACTITIONER_LEN: usize = ca_core::credential::MAX_OWNER_LEN;

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenView {
    /// Shown once; only its hash is stored.
    token: String,
    /// RFC 3339.
    #[schema(format = DateTime)]
    expires_at: String,
}

/// Create an API token (ra only).
#[utoipa::path(request_body = CreateToken, security(("bearer" = [])),
    responses((status = 201, description = "Created; the token is shown once", body = TokenView),
        (status = 400, description = "Malformed JSON, or a lifetime out of range"),
        (status = 403, description = "Not an ra token"),
        (status = 413), (status = 415), (status = 500)))]
#[post("/v1/tokens")]
pub async fn create_token(
    state: web::Data<AppState>,
    RaCaller(caller): RaCaller,
    body: web::Json<CreateToken>,
) -> Result<HttpResponse, Problem> {
    let limits = &state.config.tokens;
    let (scope, default_days) = match (body.scope.as_str(), &body.practitioner) {
        ("ra", None) => (TokenScope::Ra, limits.ra_lifetime_days),
        // ca-core judges the practitioner's text (`Authority::mint_token`).
        ("signer", Some(p)) => (
            TokenScope::Signer {
                practitioner: p.clone(),
            },
            limits.signer_lifetime_days,
        ),
        _ => {
            return Err(RequestError::Invalid(
                "scope is \"ra\" (no practitioner) or \"signer\" with a practitioner".into(),
            )
            .into());
        }
    };
    // Each given lifetime is judged, the one that is not used too: a request is refused or
    // accepted as a whole.
    if body
        .lifetime_days
        .is_some_and(|d| d == 0 || d > limits.max_days)
    {
        return Err(RequestError::Invalid(format!(
            "lifetime_days is 1 to {} (tokens.max_days)",
            limits.max_days
        ))
        .into());
    }
    let lifetime = match (body.lifetime_seconds, body.lifetime_days) {
        (Some(secs), _) => secs,
        (None, days) => u64::from(days.unwrap_or(default_days)) * 86_400,
    };
    let max_lifetime = u64::from(limits.max_days) * 86_400;
    let minter = caller.token.clone().ok_or(AccessError::MintNeedsToken)?;
    let st = state.clone();
    let (token, expires_at) = blocking(move || {
        let token = st.authority.mint_token(
            &minter,
            scope,
            lifetime,
            max_lifetime,
            now(),
            &caller.label,
        )?;
        Ok((token.expose().to_owned(), token.expires_at()))
    })
    .await?;
    Ok(HttpResponse::Created().json(TokenView {
        token,
        expires_at: rfc3339(expires_at),
    }))
}

/// A token as listed (API and `token list`): never its secret nor the secret's hash. `id` first,
/// so a shell can cut it from a JSON line.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenInfo {
    /// The public id: 32 hex digits, the `<id>` of `hpki_<id>_<secret>`.
    #[schema(pattern = "^[0-9a-f]{32}$")]
    id: String,
    #[schema(value_type = Scope)]
    scope: String,
    /// For signer tokens: the practitioner it is bound to.
    #[serde(skip_serializing_if = "Option::is_none")]
    practitioner: Option<String>,
    /// RFC 3339.
    #[schema(format = DateTime)]
    created_at: String,
    /// RFC 3339.
    #[schema(format = DateTime)]
    expires_at: String,
    revoked: bool,
}

impl From<ca_core::store::TokenRecord> for TokenInfo {
    fn from(r: ca_core::store::TokenRecord) -> Self {
        let (scope, practitioner) = match r.scope {
            TokenScope::Ra => ("ra", None),
            TokenScope::Signer { practitioner } => ("signer", Some(practitioner)),
        };
        Self {
            id: r.id,
            scope: scope.to_owned(),
            practitioner,
            created_at: rfc3339(r.created_at),
            expires_at: rfc3339(r.expires_at),
            revoked: r.revoked,
        }
    }
}

/// Every API token, revoked and expired ones included (ra only).
#[utoipa::path(security(("bearer" = [])),
    responses((status = 200, description = "Every token", body = [TokenInfo]),
        (status = 403, description = "Not an ra token"), (status = 500)))]
#[get("/v1/tokens")]
pub async fn list_tokens(
    state: web::Data<AppState>,
    RaCaller(_caller): RaCaller,
) -> Result<HttpResponse, Problem> {
    let st = state.clone();
    let tokens = blocking(move || Ok(st.authority.tokens()?)).await?;
    let views: Vec<TokenInfo> = tokens.into_iter().map(TokenInfo::from).collect();
    Ok(HttpResponse::Ok().json(views))
}

/// Revokes an API token by its public id (ra only); it is refused from its next request on.
#[utoipa::path(params(("id" = String, Path, description = "The token's public id (32 hex digits)", pattern = "^[0-9a-f]{32}$")),
    security(("bearer" = [])),
    responses((status = 204, description = "Revoked"), (status = 403, description = "Not an ra token"),
        (status = 404, description = "No token with this id"), (status = 409, description = "Already revoked"),
        (status = 500)))]
#[delete("/v1/tokens/{id}")]
pub async fn revoke_token(
    state: web::Data<AppState>,
    RaCaller(caller): RaCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let id = id.into_inner();
    let st = state.clone();
    blocking(move || Ok(st.authority.revoke_token(&id, now(), &caller.label)?)).await?;
    Ok(HttpResponse::NoContent().finish())
}
