//! Durable state behind the `Store` trait; sled is the embedded default (DESIGN.md §3).
//!
//! Every method that returns `Ok` for a write has flushed it to disk first: an acknowledged write
//! survives `kill -9`. Writes that belong together (a certificate and its audit record) are one
//! transaction: all or nothing.

use crate::audit::{AuditEvent, AuditRecord};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// RFC 5280 §5.3.1 CRLReason codes hpki accepts (7 is unused in the RFC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RevocationReason {
    Unspecified,
    KeyCompromise,
    CaCompromise,
    AffiliationChanged,
    Superseded,
    CessationOfOperation,
    CertificateHold,
    RemoveFromCrl,
    PrivilegeWithdrawn,
    AaCompromise,
}

impl RevocationReason {
    /// The RFC 5280 code.
    pub fn code(self) -> u8 {
        todo!()
    }
}

impl std::str::FromStr for RevocationReason {
    type Err = StoreError;
    /// Accepts the RFC 5280 names in camelCase or kebab-case (`keyCompromise`, `key-compromise`).
    fn from_str(s: &str) -> Result<Self, StoreError> {
        let _ = s;
        todo!()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
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
    pub profile: String,
    /// RFC 4514 subject, for listings.
    pub subject: String,
    /// Unix seconds.
    pub not_after: u64,
    pub der: Vec<u8>,
    pub revocation: Option<Revocation>,
}

/// A certification authority held by this installation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorityRecord {
    /// "root", "sign", "auth".
    pub id: String,
    pub certificate_der: Vec<u8>,
    /// PKCS#8 sealed by `seal::Sealer` with the id as context. Never plaintext.
    pub sealed_key: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage: {0}")]
    Backend(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("serial number {0} already exists")]
    DuplicateSerial(String),
    #[error("no certificate with serial number {0}")]
    NotFound(String),
    #[error("certificate {0} is already revoked")]
    AlreadyRevoked(String),
    #[error("the store is already initialised")]
    AlreadyInitialised,
    #[error("unknown revocation reason {0:?}")]
    UnknownReason(String),
}

/// Durable state of one installation.
pub trait Store: Send + Sync {
    /// Records the authorities, settings and the `Init` audit event at once; fails with
    /// `AlreadyInitialised` when authorities exist.
    fn initialise(
        &self,
        authorities: &[AuthorityRecord],
        settings: &[(&str, &[u8])],
        event: AuditEvent,
    ) -> Result<AuditRecord, StoreError>;
    fn authority(&self, id: &str) -> Result<Option<AuthorityRecord>, StoreError>;
    fn setting(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Inserts a certificate and its audit record atomically; `DuplicateSerial` if the serial exists.
    fn insert_certificate(
        &self,
        record: &CertificateRecord,
        event: AuditEvent,
    ) -> Result<AuditRecord, StoreError>;
    fn certificate(&self, serial: &[u8]) -> Result<Option<CertificateRecord>, StoreError>;
    fn contains_serial(&self, serial: &[u8]) -> Result<bool, StoreError>;
    /// All certificates, ordered by serial.
    fn certificates(&self) -> Result<Vec<CertificateRecord>, StoreError>;

    /// Marks a certificate revoked and appends the audit record atomically.
    fn revoke(
        &self,
        serial: &[u8],
        revocation: Revocation,
        event: AuditEvent,
    ) -> Result<CertificateRecord, StoreError>;
    /// Revoked certificates of one issuing CA (serial, revocation), ordered by serial. Cost is
    /// proportional to the revoked entries of that CA, not to all certificates.
    fn revoked(&self, issuer_ca: &str) -> Result<Vec<(Vec<u8>, Revocation)>, StoreError>;

    /// Allocates the next CRL number of `issuer_ca` (1, 2, …) and appends `event` atomically.
    fn next_crl_number(
        &self,
        issuer_ca: &str,
        event: AuditEvent,
    ) -> Result<(u64, AuditRecord), StoreError>;

    /// Appends one audit record on its own.
    fn append_audit(&self, event: AuditEvent) -> Result<AuditRecord, StoreError>;
    /// Every audit record in sequence order.
    fn audit_log(&self) -> Result<Vec<AuditRecord>, StoreError>;
    /// Sequence number and hash of the newest audit record, kept apart from the records.
    fn audit_head(&self) -> Result<Option<(u64, String)>, StoreError>;
}

/// The sled implementation.
pub struct SledStore {
    _private: (),
}

impl SledStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let _ = dir;
        todo!()
    }
}
