//! Credentials (server-held signing keys) and API tokens.

use super::auth::{Caller, Identity, RaCaller};
use super::ca::pem;
use super::certificates::registration;
use super::problem::{AccessError, Problem, RequestError};
use super::{AppState, blocking, now};
use actix_web::{HttpResponse, delete, get, post, web};
use ca_core::client_auth::practitioner_id;
use ca_core::credential::{Credential, NewCredential};
use ca_core::key::KeyAlgorithm;
use ca_core::store::TokenScope;
use ca_core::time::rfc3339;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCredential {
    /// Practitioner identity; defaults to the subject's serialNumber, and must equal it when both are given.
    owner: Option<String>,
    /// A signing profile: rhp-sign (default), sponsored-sign, org-seal.
    profile: Option<String>,
    subject: String,
    #[serde(default)]
    hc_roles: Vec<String>,
    validity_days: Option<u32>,
    /// p256 (default), p384 or ed25519.
    #[schema(value_type = Option<String>)]
    key_algorithm: Option<KeyAlgorithm>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CredentialView {
    id: String,
    owner: String,
    profile: String,
    serial: String,
    hc_roles: Vec<String>,
    key_algorithm: String,
    /// RFC 3339, as every time in the API.
    not_after: String,
    certificate: String,
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

#[utoipa::path(request_body = CreateCredential, security(("bearer" = [])),
    responses((status = 201, body = CredentialView), (status = 400, body = Problem), (status = 403, body = Problem)))]
#[post("/v1/credentials")]
pub async fn create(
    state: web::Data<AppState>,
    RaCaller(caller): RaCaller,
    body: web::Json<CreateCredential>,
) -> Result<HttpResponse, Problem> {
    let body = body.into_inner();
    let reg = registration(
        body.profile.unwrap_or_else(|| "rhp-sign".into()),
        &body.subject,
        &body.hc_roles,
        &[],
        body.validity_days,
    )?;
    let owner = match (body.owner, practitioner_id(&reg.subject)) {
        (Some(o), Some(s)) if o != s => {
            return Err(RequestError::Invalid(format!(
                "owner {o:?} differs from the subject serialNumber {s:?}"
            ))
            .into());
        }
        (Some(o), _) | (None, Some(o)) => o,
        (None, None) => {
            return Err(RequestError::Missing("give an owner or a subject serialNumber").into());
        }
    };
    if owner.is_empty() || owner.len() > 128 {
        return Err(RequestError::Invalid("owner must be 1 to 128 characters".into()).into());
    }
    let request = NewCredential {
        owner,
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
    /// ra only: whose credentials.
    owner: Option<String>,
}

/// The caller's own credentials (ra: those of `owner`).
#[utoipa::path(params(ListQuery), security(("bearer" = [])), responses((status = 200, body = [CredentialView])))]
#[get("/v1/credentials")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, Problem> {
    let owner = match (&caller.identity, &query.owner) {
        (Identity::Ra, Some(o)) => o.clone(),
        (Identity::Ra, None) => return Err(RequestError::Missing("ra: give ?owner=").into()),
        (_, Some(_)) => {
            return Err(AccessError::OthersCredentials.into());
        }
        // A certificate bound to no practitioner is refused here (403).
        (_, None) => caller.practitioner()?.to_owned(),
    };
    let st = state.clone();
    let list = blocking(move || Ok(st.authority.credentials_of(&owner)?)).await?;
    let views: Vec<_> = list.iter().map(view).collect::<Result<_, _>>()?;
    Ok(HttpResponse::Ok().json(views))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// "ra" or "signer".
    scope: String,
    /// For signer tokens: the practitioner identity it is bound to.
    practitioner: Option<String>,
    /// Default from the configuration (tokens.*_lifetime_days); at most tokens.max_days. The new
    /// token never outlives the token that creates it: its expiry is capped to that one's.
    lifetime_days: Option<u32>,
    /// Exact lifetime in seconds (for short-lived tokens); overrides `lifetime_days`.
    lifetime_seconds: Option<u64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenView {
    /// Shown once; only its hash is stored.
    token: String,
    /// RFC 3339.
    expires_at: String,
}

#[utoipa::path(request_body = CreateToken, security(("bearer" = [])),
    responses((status = 201, body = TokenView), (status = 400, body = Problem), (status = 403, body = Problem)))]
#[post("/v1/tokens")]
pub async fn create_token(
    state: web::Data<AppState>,
    RaCaller(caller): RaCaller,
    body: web::Json<CreateToken>,
) -> Result<HttpResponse, Problem> {
    let limits = &state.config.tokens;
    let (scope, default_days) = match (body.scope.as_str(), &body.practitioner) {
        ("ra", None) => (TokenScope::Ra, limits.ra_lifetime_days),
        ("signer", Some(p)) if !p.is_empty() && p.len() <= 128 => (
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
    id: String,
    /// "ra" or "signer".
    scope: String,
    /// For signer tokens: the practitioner it is bound to.
    #[serde(skip_serializing_if = "Option::is_none")]
    practitioner: Option<String>,
    /// RFC 3339.
    created_at: String,
    /// RFC 3339.
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
    responses((status = 200, body = [TokenInfo]), (status = 401, body = Problem), (status = 403, body = Problem)))]
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
#[utoipa::path(params(("id" = String, Path, description = "the token's public id")), security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
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
