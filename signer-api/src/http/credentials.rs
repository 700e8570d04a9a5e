//! Credentials (server-held signing keys) and API tokens.

use super::auth::{Caller, Identity, RaCaller};
use super::ca::pem;
use super::certificates::registration;
use super::problem::Problem;
use super::{AppState, blocking, now};
use actix_web::{HttpResponse, get, post, web};
use ca_core::client_auth::practitioner_id;
use ca_core::credential::{Credential, NewCredential};
use ca_core::key::KeyAlgorithm;
use ca_core::store::TokenScope;
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
    not_after: u64,
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
        key_algorithm: format!("{:?}", c.key_algorithm).to_lowercase(),
        not_after: c.not_after,
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
            return Err(Problem::bad_request(format!(
                "owner {o:?} differs from the subject serialNumber {s:?}"
            )));
        }
        (Some(o), _) | (None, Some(o)) => o,
        (None, None) => {
            return Err(Problem::bad_request(
                "give an owner or a subject serialNumber",
            ));
        }
    };
    if owner.is_empty() || owner.len() > 128 {
        return Err(Problem::bad_request("owner must be 1 to 128 characters"));
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
    let outcome = if result.is_ok() { "ok" } else { "refused" };
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
        (Identity::Ra, None) => return Err(Problem::bad_request("ra: give ?owner=")),
        (_, Some(_)) => {
            return Err(Problem::forbidden(
                "a practitioner sees only their own credentials",
            ));
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
    /// Default from the configuration (tokens.*_lifetime_days).
    lifetime_days: Option<u32>,
    /// Exact lifetime in seconds (for short-lived tokens); overrides `lifetime_days`.
    lifetime_seconds: Option<u64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenView {
    /// Shown once; only its hash is stored.
    token: String,
    expires_at: u64,
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
            return Err(Problem::bad_request(
                "scope is \"ra\" (no practitioner) or \"signer\" with a practitioner",
            ));
        }
    };
    let days = body.lifetime_days.unwrap_or(default_days);
    if !(1..=3650).contains(&days) {
        return Err(Problem::bad_request("lifetime_days must be 1 to 3650"));
    }
    let lifetime = match body.lifetime_seconds {
        Some(secs) if (1..=3650 * 86_400).contains(&secs) => secs,
        Some(_) => {
            return Err(Problem::bad_request(
                "lifetime_seconds must be 1 to 10 years",
            ));
        }
        None => u64::from(days) * 86_400,
    };
    let st = state.clone();
    let (token, expires_at) = blocking(move || {
        let now = now();
        let token = st
            .authority
            .create_token(scope, lifetime, now, &caller.label)?;
        Ok((token.expose().to_owned(), now + lifetime))
    })
    .await?;
    Ok(HttpResponse::Created().json(TokenView { token, expires_at }))
}
