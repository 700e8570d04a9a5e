//! Who a TLS client certificate authenticates (ISO 17090-5): the decision behind mTLS, made here
//! so that the HTTP layer only translates (DESIGN.md §5 invariant 9).
//!
//! A certificate authenticates only if this installation issued it (the stored record has the same
//! DER) under a profile whose policy file says what it authenticates as (`authenticates`), it is
//! within validity, and neither it nor a CA above it is revoked. Only a practitioner profile maps
//! to a practitioner; the others authenticate as what they are.

use crate::engine::authority::{Authority, AuthorityError};
use crate::engine::profile::{Authenticates, ProfileError};
use crate::engine::store::{Store, StoreError};
use x509_cert::Certificate;
use x509_cert::der::Decode;
use x509_cert::name::Name;

/// The subject a verified client certificate authenticates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientIdentity {
    /// The issuing CA's id: an identity is only meaningful within the CA that vouches for it.
    pub ca: String,
    /// What the certificate's profile authenticates as.
    pub kind: Authenticates,
    /// `Practitioner`: the practitioner id (subject serialNumber, kept unique per person by the
    /// CA, as the Japanese HPKI does). Others: the subject (RFC 4514).
    pub id: String,
    /// The certificate's serial number (content octets).
    pub serial: Vec<u8>,
    /// The profile it was issued under.
    pub profile: String,
}

impl ClientIdentity {
    /// The practitioner this identity is, if it is one.
    pub fn practitioner(&self) -> Option<&str> {
        (self.kind == Authenticates::Practitioner).then_some(self.id.as_str())
    }
}

/// Why a client certificate does not authenticate. Every variant but `Store` is the client's.
#[derive(Debug, thiserror::Error)]
pub enum ClientAuthError {
    /// The request carried no client certificate.
    #[error("no client certificate")]
    Missing,
    /// The client certificate does not parse.
    #[error("client certificate does not parse")]
    Malformed,
    /// Not a certificate of this installation's CAs.
    #[error("client certificate was not issued by this CA")]
    NotIssuedHere,
    /// Its profile does not authenticate (the profile's id).
    #[error("a {0} certificate cannot authenticate; use an authentication certificate")]
    NotForAuthentication(String),
    /// The certificate is revoked or on hold.
    #[error("client certificate is revoked")]
    Revoked,
    /// A CA above it is revoked.
    #[error("client certificate's issuing CA is revoked")]
    CaRevoked,
    /// Outside its validity at the time given.
    #[error("client certificate is outside its validity")]
    OutsideValidity,
    /// A practitioner certificate whose subject has no serialNumber.
    #[error("client certificate subject has no serialNumber identity")]
    NoPractitionerId,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored record names a profile or CA this installation no longer has.
    #[error("client certificate: {0}")]
    Inconsistent(String),
}

impl From<ProfileError> for ClientAuthError {
    fn from(e: ProfileError) -> Self {
        Self::Inconsistent(e.to_string())
    }
}

impl<S: Store> Authority<S> {
    /// The identity of a client certificate chain (end entity first) that TLS verified, at `now`.
    /// Only the end entity decides: it must be ours, so the chain above it is ours too.
    pub fn authenticate_client<C: AsRef<[u8]>>(
        &self,
        chain: &[C],
        now: u64,
    ) -> Result<ClientIdentity, ClientAuthError> {
        let der = chain.first().ok_or(ClientAuthError::Missing)?.as_ref();
        let cert = Certificate::from_der(der).map_err(|_| ClientAuthError::Malformed)?;
        let tbs = cert.tbs_certificate();
        let serial = tbs.serial_number().as_bytes().to_vec();
        let record = self
            .store
            .certificate(&serial)?
            .filter(|r| r.der == der)
            .ok_or(ClientAuthError::NotIssuedHere)?;
        let profile = self.profiles.get(&record.profile)?;
        let kind = profile
            .authenticates()
            .ok_or_else(|| ClientAuthError::NotForAuthentication(record.profile.clone()))?;
        if record.revocation.is_some() {
            return Err(ClientAuthError::Revoked);
        }
        match self.check_ca_chain(&record.issuer_ca) {
            Ok(()) => {}
            Err(AuthorityError::CaRevoked(_)) => return Err(ClientAuthError::CaRevoked),
            Err(AuthorityError::Store(e)) => return Err(e.into()),
            Err(e) => return Err(ClientAuthError::Inconsistent(e.to_string())),
        }
        let not_before = tbs.validity().not_before.to_unix_duration().as_secs();
        if now < not_before || now > record.not_after {
            return Err(ClientAuthError::OutsideValidity);
        }
        let id = match kind {
            Authenticates::Practitioner => {
                practitioner_id(tbs.subject()).ok_or(ClientAuthError::NoPractitionerId)?
            }
            _ => record.subject.clone(),
        };
        Ok(ClientIdentity {
            ca: record.issuer_ca,
            kind,
            id,
            serial,
            profile: record.profile,
        })
    }
}

/// A practitioner's identity in a subject: the serialNumber attribute (X.520 §6.2.9), as a
/// PrintableString.
pub fn practitioner_id(subject: &Name) -> Option<String> {
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
