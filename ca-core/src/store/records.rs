//! The records the store keeps: certificates and their revocation, CAs, credentials and API
//! tokens, as serialised (JSON) by every backend.

use super::StoreError;
use crate::engine::key::Pkcs11KeyRef;
use serde::{Deserialize, Serialize};

/// RFC 5280 §5.3.1 CRLReason codes hpki accepts (7 is unused in the RFC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RevocationReason {
    /// unspecified (0).
    Unspecified,
    /// keyCompromise (1).
    KeyCompromise,
    /// cACompromise (2).
    CaCompromise,
    /// affiliationChanged (3).
    AffiliationChanged,
    /// superseded (4).
    Superseded,
    /// cessationOfOperation (5).
    CessationOfOperation,
    /// certificateHold (6): a suspension, which `release` lifts.
    CertificateHold,
    /// removeFromCRL (8): delta CRLs only, never a revocation's reason.
    RemoveFromCrl,
    /// privilegeWithdrawn (9).
    PrivilegeWithdrawn,
    /// aACompromise (10).
    AaCompromise,
}

impl RevocationReason {
    /// The RFC 5280 code.
    pub fn code(self) -> u8 {
        match self {
            Self::Unspecified => 0,
            Self::KeyCompromise => 1,
            Self::CaCompromise => 2,
            Self::AffiliationChanged => 3,
            Self::Superseded => 4,
            Self::CessationOfOperation => 5,
            Self::CertificateHold => 6,
            Self::RemoveFromCrl => 8,
            Self::PrivilegeWithdrawn => 9,
            Self::AaCompromise => 10,
        }
    }

    /// Every reason, in code order.
    pub const ALL: [RevocationReason; 10] = [
        Self::Unspecified,
        Self::KeyCompromise,
        Self::CaCompromise,
        Self::AffiliationChanged,
        Self::Superseded,
        Self::CessationOfOperation,
        Self::CertificateHold,
        Self::RemoveFromCrl,
        Self::PrivilegeWithdrawn,
        Self::AaCompromise,
    ];

    /// The reason with RFC 5280 code `code` (None for 7 and codes above 10).
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// The RFC 5280 ASN.1 name (`keyCompromise`, `cACompromise`, `removeFromCRL`, …).
    pub fn name(self) -> &'static str {
        self.names().0
    }

    /// (RFC 5280 camelCase name, kebab-case name).
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Self::Unspecified => ("unspecified", "unspecified"),
            Self::KeyCompromise => ("keyCompromise", "key-compromise"),
            Self::CaCompromise => ("cACompromise", "ca-compromise"),
            Self::AffiliationChanged => ("affiliationChanged", "affiliation-changed"),
            Self::Superseded => ("superseded", "superseded"),
            Self::CessationOfOperation => ("cessationOfOperation", "cessation-of-operation"),
            Self::CertificateHold => ("certificateHold", "certificate-hold"),
            Self::RemoveFromCrl => ("removeFromCRL", "remove-from-crl"),
            Self::PrivilegeWithdrawn => ("privilegeWithdrawn", "privilege-withdrawn"),
            Self::AaCompromise => ("aACompromise", "aa-compromise"),
        }
    }
}

impl std::str::FromStr for RevocationReason {
    type Err = StoreError;
    /// Accepts the RFC 5280 names in camelCase or kebab-case (`keyCompromise`, `key-compromise`).
    /// Case-insensitive, so `keycompromise` and `KEY-COMPROMISE` are accepted too.
    fn from_str(s: &str) -> Result<Self, StoreError> {
        Self::ALL
            .into_iter()
            .find(|r| {
                let (camel, kebab) = r.names();
                s.eq_ignore_ascii_case(camel) || s.eq_ignore_ascii_case(kebab)
            })
            .ok_or_else(|| StoreError::UnknownReason(s.to_owned()))
    }
}

/// A certificate's revocation: its reason and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// The CRLReason (RFC 5280 §5.3.1).
    pub reason: RevocationReason,
    /// Unix seconds.
    pub revoked_at: u64,
    /// Unix seconds: when the key is known or suspected to have been compromised (RFC 5280 §5.3.2).
    pub invalidity_date: Option<u64>,
}

/// An issued certificate and its status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateRecord {
    /// The certificate's serialNumber content octets (big-endian, as encoded).
    pub serial: Vec<u8>,
    /// Id of the issuing CA ("root", "sign", "auth").
    pub issuer_ca: String,
    /// Id of the profile it was issued under.
    pub profile: String,
    /// RFC 4514 subject, for listings.
    pub subject: String,
    /// Unix seconds.
    pub not_after: u64,
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// Set once it is revoked (or on hold).
    pub revocation: Option<Revocation>,
}

impl CertificateRecord {
    fn on_hold(&self) -> bool {
        self.revocation
            .as_ref()
            .is_some_and(|r| r.reason == RevocationReason::CertificateHold)
    }

    /// The revocation state after `revocation` (RFC 5280 §5.3.1), the one rule of every backend:
    /// a certificate is revoked once, and a hold may become a revocation; removeFromCRL is a
    /// release, not a reason.
    pub(super) fn revoked_with(&self, revocation: &Revocation) -> Result<Revocation, StoreError> {
        if revocation.reason == RevocationReason::RemoveFromCrl {
            return Err(StoreError::RemoveFromCrlNotAReason);
        }
        if self.revocation.is_some()
            && (!self.on_hold() || revocation.reason == RevocationReason::CertificateHold)
        {
            return Err(StoreError::AlreadyRevoked(hex::encode(&self.serial)));
        }
        Ok(revocation.clone())
    }

    /// The revocation state after a release: only a hold is released.
    pub(super) fn released(&self) -> Result<(), StoreError> {
        if !self.on_hold() {
            return Err(StoreError::NotOnHold(hex::encode(&self.serial)));
        }
        Ok(())
    }
}

/// A certification authority held by this installation. `Debug` shows the sealed key's length
/// only, as for [`CredentialRecord`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorityRecord {
    /// "root", "sign", "auth".
    pub id: String,
    /// Its certificate, DER.
    pub certificate_der: Vec<u8>,
    /// PKCS#8 sealed by `seal::Sealer` with the id as context. Never plaintext. Empty when the
    /// key is in a token (`pkcs11`).
    #[serde(default)]
    pub sealed_key: Vec<u8>,
    /// Where the key is when a PKCS#11 token holds it (absent in records of software keys, and
    /// in every record written before issue 16).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pkcs11: Option<Pkcs11KeyRef>,
}

impl std::fmt::Debug for AuthorityRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorityRecord")
            .field("id", &self.id)
            .field(
                "certificate_der",
                &format_args!("<{} bytes>", self.certificate_der.len()),
            )
            .field(
                "sealed_key",
                &format_args!("<{} sealed bytes>", self.sealed_key.len()),
            )
            .field("pkcs11", &self.pkcs11)
            .finish()
    }
}

// Clone: one failed group commit is every queued caller's error.
/// A server-held signing key and its certificate, owned by one practitioner. `Debug` shows the
/// sealed key's length only: it is ciphertext, but has no business in logs.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialRecord {
    /// Its id (random hex).
    pub id: String,
    /// The practitioner identity that may sign with it.
    pub owner: String,
    /// Serial of its certificate (in the certificates tree).
    pub serial: Vec<u8>,
    /// Id of the profile its certificate was issued under.
    pub profile: String,
    /// PKCS#8 sealed by `seal::Sealer` with the credential id as context. Never plaintext.
    /// Empty when the key is in a token (`pkcs11`).
    #[serde(default)]
    pub sealed_key: Vec<u8>,
    /// Unix seconds.
    pub created_at: u64,
    /// Where the key is when a PKCS#11 token holds it (`[keys] credentials_in_token`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pkcs11: Option<Pkcs11KeyRef>,
}

impl std::fmt::Debug for CredentialRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialRecord")
            .field("id", &self.id)
            .field("owner", &self.owner)
            .field("serial", &hex::encode(&self.serial))
            .field("profile", &self.profile)
            .field(
                "sealed_key",
                &format_args!("<{} sealed bytes>", self.sealed_key.len()),
            )
            .field("created_at", &self.created_at)
            .field("pkcs11", &self.pkcs11)
            .finish()
    }
}

/// What an API token may do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scope", rename_all = "snake_case")]
pub enum TokenScope {
    /// Registration authority: issue, revoke, create credentials.
    Ra,
    /// Sign with the credentials of one practitioner.
    Signer {
        /// The practitioner id whose credentials it signs with.
        practitioner: String,
    },
}

/// An API token as stored: only a hash of its secret (the secret itself is 256 random bits, shown
/// once at creation; see `token`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Public lookup id (part of the token string).
    pub id: String,
    /// Hex SHA-256 of the secret part.
    pub secret_hash: String,
    /// What the token may do.
    pub scope: TokenScope,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds; the token is refused from then on.
    pub expires_at: u64,
    /// Whether it was revoked.
    pub revoked: bool,
}

/// Leaves out the secret's hash: with it, a leaked log line would let anyone test guesses of the
/// secret offline.
impl std::fmt::Debug for TokenRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRecord")
            .field("id", &self.id)
            .field("scope", &self.scope)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("revoked", &self.revoked)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records written before keys could be in a token still open; a software key's record is
    /// written as before (no `pkcs11` member), so an older binary reads it too.
    #[test]
    fn records_without_a_key_reference_read_and_write_as_before() {
        let old = br#"{"id":"root","certificate_der":[1,2],"sealed_key":[3,4]}"#;
        let record: AuthorityRecord = serde_json::from_slice(old).unwrap();
        assert_eq!(
            (record.sealed_key.as_slice(), &record.pkcs11),
            (&[3, 4][..], &None)
        );
        assert_eq!(serde_json::to_vec(&record).unwrap(), old);
        let old = br#"{"id":"cred_1","owner":"D-1","serial":[1],"profile":"rhp-sign","sealed_key":[9],"created_at":5}"#;
        let credential: CredentialRecord = serde_json::from_slice(old).unwrap();
        assert_eq!(credential.pkcs11, None);
        assert_eq!(serde_json::to_vec(&credential).unwrap(), old);
    }
}
