//! Who is calling: an API token (`Authorization: Bearer hpki_…`) or, with mTLS, a client
//! certificate issued by our authentication CA under an authentication profile (ISO 17090-5).

use super::AppState;
use super::problem::Problem;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use ca_core::store::{Store, TokenScope};
use std::future::{Ready, ready};
use x509_cert::der::Decode;

/// The peer certificate of a mutually authenticated TLS connection (DER), set at connect time.
#[derive(Clone, Debug)]
pub struct PeerCertificate(pub Vec<u8>);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identity {
    /// Registration authority.
    Ra,
    /// A practitioner, by identity (the subject serialNumber of their certificates).
    Practitioner(String),
}

#[derive(Clone, Debug)]
pub struct Caller {
    pub identity: Identity,
    /// For the audit log: `token:<id>` or `certificate:<serial>`; never a secret.
    pub label: String,
}

impl Caller {
    pub fn require_ra(&self) -> Result<(), Problem> {
        match self.identity {
            Identity::Ra => Ok(()),
            Identity::Practitioner(_) => Err(Problem::forbidden(
                "this route needs a registration-authority (ra) token",
            )),
        }
    }

    pub fn practitioner(&self) -> Result<&str, Problem> {
        match &self.identity {
            Identity::Practitioner(p) => Ok(p),
            Identity::Ra => Err(Problem::forbidden(
                "this route needs a signer token or certificate bound to a practitioner",
            )),
        }
    }
}

/// A caller who must be the registration authority. Placed before the body among a handler's
/// arguments, it refuses any other caller (403) before the body is read or judged, so a signer
/// token learns nothing from an RA route's validation messages.
pub struct RaCaller(pub Caller);

impl FromRequest for RaCaller {
    type Error = Problem;
    type Future = Ready<Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(identify(req).and_then(|caller| {
            caller.require_ra()?;
            Ok(RaCaller(caller))
        }))
    }
}

impl FromRequest for Caller {
    type Error = Problem;
    type Future = Ready<Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(identify(req))
    }
}

fn identify(req: &HttpRequest) -> Result<Caller, Problem> {
    // The rate limiter verified this request's token already (`limits::client`).
    if let Some(caller) = req.extensions().get::<Caller>() {
        return Ok(caller.clone());
    }
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| Problem::internal(&"application state missing"))?;
    let now = super::now();
    if let Some(header) = req.headers().get(actix_web::http::header::AUTHORIZATION) {
        let value = header
            .to_str()
            .map_err(|_| Problem::unauthorized("malformed Authorization header"))?;
        let token = value
            .strip_prefix("Bearer ")
            .ok_or_else(|| Problem::unauthorized("expected Authorization: Bearer <token>"))?;
        return token_caller(state, token.trim(), now);
    }
    if let Some(peer) = req.conn_data::<PeerCertificate>() {
        return identify_certificate(state, &peer.0, now);
    }
    Err(Problem::unauthorized(
        "no credentials: send Authorization: Bearer <token> or a client certificate",
    ))
}

/// The caller an API token names, once it verifies at `now`.
pub fn token_caller(state: &AppState, token: &str, now: u64) -> Result<Caller, Problem> {
    let scope = ca_core::token::verify(state.authority.store(), token, now)?;
    // A verified token is `hpki_<id>_<secret>`: only the public id goes into audit records.
    let id = token.split('_').nth(1).unwrap_or_default();
    let identity = match scope {
        TokenScope::Ra => Identity::Ra,
        TokenScope::Signer { practitioner } => Identity::Practitioner(practitioner),
    };
    Ok(Caller {
        identity,
        label: format!("token:{id}"),
    })
}

/// A client certificate identifies a practitioner only if we issued it under a profile made for
/// authentication (keyUsage without nonRepudiation, EKU clientAuth), it is within validity and
/// not revoked. A signing certificate never authenticates.
pub fn identify_certificate(state: &AppState, der: &[u8], now: u64) -> Result<Caller, Problem> {
    let cert = x509_cert::Certificate::from_der(der)
        .map_err(|_| Problem::unauthorized("client certificate does not parse"))?;
    let serial = cert.tbs_certificate().serial_number().as_bytes().to_vec();
    let record = state
        .authority
        .store()
        .certificate(&serial)?
        .filter(|r| r.der == der)
        .ok_or_else(|| Problem::unauthorized("client certificate was not issued by this CA"))?;
    let profile = state.authority.profiles().get(&record.profile)?;
    let eku = profile.extended_key_usage();
    let signs = profile
        .key_usage()
        .0
        .contains(x509_cert::ext::pkix::KeyUsages::NonRepudiation);
    if signs || !eku.contains(&ca_core::oid::ID_KP_CLIENT_AUTH) {
        return Err(Problem::unauthorized(format!(
            "a {} certificate cannot authenticate; use an authentication certificate",
            record.profile
        )));
    }
    if record.revocation.is_some() {
        return Err(Problem::unauthorized("client certificate is revoked"));
    }
    match state.authority.check_ca_chain(&record.issuer_ca) {
        Err(ca_core::authority::AuthorityError::CaRevoked(_)) => {
            return Err(Problem::unauthorized(
                "client certificate's issuing CA is revoked",
            ));
        }
        other => other?,
    }
    let validity = cert.tbs_certificate().validity();
    if now < validity.not_before.to_unix_duration().as_secs() || now > record.not_after {
        return Err(Problem::unauthorized(
            "client certificate is outside its validity",
        ));
    }
    let practitioner = practitioner_id(cert.tbs_certificate().subject()).ok_or_else(|| {
        Problem::unauthorized("client certificate subject has no serialNumber identity")
    })?;
    Ok(Caller {
        identity: Identity::Practitioner(practitioner),
        label: format!("certificate:{}", hex::encode(&serial)),
    })
}

/// A practitioner's identity: the subject serialNumber attribute (X.520), which the CA keeps
/// unique per person, as the Japanese HPKI does.
pub fn practitioner_id(subject: &x509_cert::name::Name) -> Option<String> {
    use x509_cert::der::Tagged;
    subject
        .iter()
        .find(|atv| atv.oid == const_oid::db::rfc4519::SERIAL_NUMBER)
        .filter(|atv| atv.value.tag() == x509_cert::der::Tag::PrintableString)
        .and_then(|atv| {
            std::str::from_utf8(atv.value.value())
                .ok()
                .map(str::to_owned)
        })
}
