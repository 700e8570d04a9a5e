//! Durable state behind the `Store` trait: the domain records (`records`), the trait, and its
//! backends; sled (`sled`) is the embedded default (DESIGN.md §3), PostgreSQL (`postgres`) the
//! store several processes share.
//!
//! Every method that returns `Ok` for a write has made it durable first: an acknowledged write
//! survives `kill -9` and power loss. Writes that belong together (a certificate and its audit
//! record) are one transaction: all or nothing, durable before returning.

mod copy;
mod group_commit;
mod journal;
mod pg_tls;
mod postgres;
mod records;
mod sled;

pub use self::copy::{
    CopyError, CopyReport, ExportItems, StoreItem, StoreSummary, copy, copy_to_new_sled,
};
pub use self::postgres::PgStore;
pub use self::records::{
    AuthorityRecord, CertificateRecord, CredentialRecord, Revocation, RevocationReason,
    TokenRecord, TokenScope,
};
pub use self::sled::{
    AUDIT_HEAD_KEY, AUDIT_TREE, CERTIFICATES_TREE, CREDENTIAL_OWNERS_TREE, CREDENTIALS_TREE,
    JOURNAL_FILE, META_TREE, REVOKED_TREE, SETTINGS_TREE, SledStore, TOKENS_TREE,
};

use crate::engine::audit::{
    AuditError, AuditEvent, AuditKey, AuditMac, AuditRecord, AuditReport, AuditVerifyError,
    Checkpoint,
};
use serde::{Deserialize, Serialize};

/// A store operation that failed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend (sled, the journal) failed.
    #[error("storage: {0}")]
    Backend(String),
    /// The database cannot be reached now (PostgreSQL stopped, restarting, unreachable): the
    /// call was not acknowledged and may succeed later. A write whose connection was lost while
    /// it committed may have landed all the same (all of it, being one transaction).
    #[error("database unreachable: {0}")]
    Unavailable(String),
    /// Stored bytes do not decode.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A certificate with that serial is already stored.
    #[error("serial number {0} already exists")]
    DuplicateSerial(String),
    /// No certificate with that serial.
    #[error("no certificate with serial number {0}")]
    NotFound(String),
    /// The certificate is already revoked.
    #[error("certificate {0} is already revoked")]
    AlreadyRevoked(String),
    /// RFC 5280 §5.3.1: removeFromCRL only appears on delta CRLs, to lift a hold; on a full CRL
    /// relying parties (OpenSSL) read the certificate as not revoked.
    #[error(
        "removeFromCRL is not a revocation reason; to lift a certificateHold, release the certificate"
    )]
    RemoveFromCrlNotAReason,
    /// Only a certificate on hold can be released.
    #[error(
        "certificate {0} is not on hold (certificateHold): only a held certificate can be released"
    )]
    NotOnHold(String),
    /// `init` on a store that already holds CAs.
    #[error("the store is already initialised")]
    AlreadyInitialised,
    /// A revocation reason name that RFC 5280 §5.3.1 does not define.
    #[error("unknown revocation reason {0:?}")]
    UnknownReason(String),
    /// A CA id containing NUL, which would make revocation-index keys ambiguous.
    #[error("invalid CA id {0:?}")]
    InvalidCaId(String),
    /// A credential with that id already exists.
    #[error("credential id {0} already exists")]
    DuplicateCredential(String),
    /// A token with that id already exists.
    #[error("token id {0} already exists")]
    DuplicateToken(String),
    /// No token with that id.
    #[error("no token with id {0}")]
    TokenNotFound(String),
    /// The token is already revoked.
    #[error("token {0} is already revoked")]
    TokenAlreadyRevoked(String),
    /// A durability name other than `fsync` or `write`.
    #[error("unknown durability {0:?}: expected \"fsync\" or \"write\"")]
    UnknownDurability(String),
    /// Another process (or another handle in this one) has the store open: its backend's
    /// exclusive lock is held.
    #[error("the store is in use by another process")]
    InUse,
    /// `import` into a store that already holds records.
    #[error("the store is not empty")]
    NotEmpty,
}

/// Durable state of one installation.
pub trait Store: Send + Sync {
    /// Records the authorities, the certificates of the subordinate CAs (so that they can be
    /// revoked on their issuer's CRL like any certificate), settings and the `Init` audit event
    /// at once; fails with `AlreadyInitialised` when authorities exist.
    fn initialise(
        &self,
        authorities: &[AuthorityRecord],
        ca_certificates: &[CertificateRecord],
        settings: &[(&str, &[u8])],
        event: AuditEvent,
    ) -> Result<AuditRecord, StoreError>;
    /// The CA record `id`, if stored.
    fn authority(&self, id: &str) -> Result<Option<AuthorityRecord>, StoreError>;
    /// The setting `key`, if stored.
    fn setting(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Inserts a certificate and its audit record atomically; `DuplicateSerial` if the serial exists.
    fn insert_certificate(
        &self,
        record: &CertificateRecord,
        event: AuditEvent,
    ) -> Result<AuditRecord, StoreError>;
    /// Inserts a certificate, sets setting `key` to `value` (created or replaced) and appends the
    /// audit record atomically; `DuplicateSerial` if the serial exists. A delegated OCSP
    /// responder's certificate and its sealed key are written this way, so neither is ever
    /// stored without the other.
    fn insert_certificate_with_setting(
        &self,
        record: &CertificateRecord,
        key: &str,
        value: &[u8],
        event: AuditEvent,
    ) -> Result<AuditRecord, StoreError>;
    /// The certificate with content octets `serial`, if stored.
    fn certificate(&self, serial: &[u8]) -> Result<Option<CertificateRecord>, StoreError>;
    /// Whether a certificate with content octets `serial` is stored.
    fn contains_serial(&self, serial: &[u8]) -> Result<bool, StoreError>;
    /// All certificates, ordered by serial.
    fn certificates(&self) -> Result<Vec<CertificateRecord>, StoreError>;

    /// Marks a certificate revoked (or on hold, reason certificateHold) and appends the audit
    /// record atomically. A held certificate may then be revoked for good (RFC 5280 §5.3.1);
    /// removeFromCRL is refused.
    fn revoke(
        &self,
        serial: &[u8],
        revocation: Revocation,
        event: AuditEvent,
    ) -> Result<CertificateRecord, StoreError>;
    /// Lifts the hold (certificateHold) of a certificate: it leaves the revocation index, so the
    /// next full CRL omits it (RFC 5280 §5.3.1), and `event` is appended atomically.
    fn release(&self, serial: &[u8], event: AuditEvent) -> Result<CertificateRecord, StoreError>;
    /// Revoked certificates of one issuing CA (serial, revocation), ordered by serial. Cost is
    /// proportional to the revoked entries of that CA, not to all certificates.
    fn revoked(&self, issuer_ca: &str) -> Result<Vec<(Vec<u8>, Revocation)>, StoreError>;

    /// The revocation of one certificate, from the revocation index: a point lookup, for checks
    /// that must see a revocation made after the certificate record was read.
    fn revocation(&self, issuer_ca: &str, serial: &[u8]) -> Result<Option<Revocation>, StoreError>;

    /// Allocates the next CRL number of `issuer_ca` (1, 2, …) and appends `event` atomically.
    fn next_crl_number(
        &self,
        issuer_ca: &str,
        event: AuditEvent,
    ) -> Result<(u64, AuditRecord), StoreError>;

    /// Allocates the next CRL number of `issuer_ca` and reads the CA's revocation index as of
    /// that allocation, appending the audit event `event` makes of the number of entries,
    /// atomically: a revocation committed before the number was allocated is on the list, one
    /// committed after it on the next number's list, so a CRL never lists less than a CRL of a
    /// lower number did (RFC 5280 §5.2.3: the higher number supersedes) unless a hold was
    /// released. This default reads the index, then allocates: right for a store one process
    /// holds (sled), whose authority signs one CRL at a time; a store several processes share
    /// does both in one transaction.
    fn next_crl(
        &self,
        issuer_ca: &str,
        event: &dyn Fn(usize) -> AuditEvent,
    ) -> Result<NumberedCrl, StoreError> {
        let revoked = self.revoked(issuer_ca)?;
        let (number, _) = self.next_crl_number(issuer_ca, event(revoked.len()))?;
        Ok((number, revoked))
    }

    /// Appends one audit record on its own, durable before it returns. Concurrent calls may be
    /// made durable together (one journal sync); each still returns its own record.
    fn append_audit(&self, event: AuditEvent) -> Result<AuditRecord, StoreError>;
    /// [`Store::append_audit`] without waiting: `done` gets the outcome once the record is
    /// durable (or could not be made so), possibly on another thread, so that an async caller
    /// need not block one of its threads on the sync. `done` must be quick (send on a channel).
    fn append_audit_then(&self, event: AuditEvent, done: AuditDone) {
        done(self.append_audit(event));
    }
    /// Every audit record in sequence order.
    fn audit_log(&self) -> Result<Vec<AuditRecord>, StoreError>;
    /// Sequence number and hash of the newest audit record, kept apart from the records.
    fn audit_head(&self) -> Result<Option<AuditHead>, StoreError>;
    /// From now on every audit record appended carries a MAC under `mac` (see `audit`). Set once,
    /// when the authority opens the store; a second call fails.
    fn set_audit_mac(&self, mac: AuditMac) -> Result<(), StoreError>;
    /// Records setting `key`, which must not exist yet, with its audit record atomically (e.g.
    /// the sealed audit key of a store made before audit keys).
    fn add_setting(
        &self,
        key: &str,
        value: &[u8],
        event: AuditEvent,
    ) -> Result<AuditRecord, StoreError>;

    /// Inserts a credential's certificate, the credential and the audit record atomically.
    fn insert_credential(
        &self,
        certificate: &CertificateRecord,
        credential: &CredentialRecord,
        event: AuditEvent,
    ) -> Result<AuditRecord, StoreError>;
    /// The credential `id`, if stored.
    fn credential(&self, id: &str) -> Result<Option<CredentialRecord>, StoreError>;
    /// Credentials owned by `owner`, ordered by id.
    fn credentials_of(&self, owner: &str) -> Result<Vec<CredentialRecord>, StoreError>;

    /// Stores a new token and its audit record atomically.
    fn insert_token(
        &self,
        token: &TokenRecord,
        event: AuditEvent,
    ) -> Result<AuditRecord, StoreError>;
    /// The token `id`, if stored.
    fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError>;
    /// Every token record, ordered by id.
    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;
    /// Marks a token revoked, with its audit record.
    fn revoke_token(&self, id: &str, event: AuditEvent) -> Result<AuditRecord, StoreError>;

    /// Whether the store can serve calls now: `Err(StoreError::Unavailable)` while its database
    /// cannot be reached. An embedded store is always there.
    fn probe(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Whether the store holds no record of any kind.
    fn is_empty(&self) -> Result<bool, StoreError>;
    /// Every record as stored, streamed in [`StoreItem`]'s order, as of one moment: sled's
    /// lock keeps other processes out (the caller must not write meanwhile); PostgreSQL reads
    /// in one REPEATABLE READ, READ ONLY transaction. For [`copy`].
    fn export(&self) -> Result<ExportItems<'_>, StoreError>;
    /// Writes `items` (in [`StoreItem`]'s order) into this store, which must be empty
    /// (`NotEmpty`, nothing written), as given: no audit record is made, none re-chained. All or
    /// nothing: an error item, or any failure, leaves the store empty. Before it commits, it reads
    /// back what it holds (the audit chain verified against the head) and refuses a difference
    /// from what it was given; returns that summary. For [`copy`].
    fn import(
        &self,
        items: &mut dyn Iterator<Item = Result<StoreItem, StoreError>>,
    ) -> Result<StoreSummary, StoreError>;
}

/// A store chosen at run time (sled or PostgreSQL, by configuration): `Authority<Box<dyn Store>>`.
impl Store for Box<dyn Store> {
    fn initialise(
        &self,
        authorities: &[AuthorityRecord],
        ca_certificates: &[CertificateRecord],
        settings: &[(&str, &[u8])],
        event: AuditEvent,
    ) -> Result<AuditRecord, StoreError> {
        (**self).initialise(authorities, ca_certificates, settings, event)
    }
    fn authority(&self, id: &str) -> Result<Option<AuthorityRecord>, StoreError> {
        (**self).authority(id)
    }
    fn setting(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        (**self).setting(key)
    }
    fn insert_certificate(
        &self,
        record: &CertificateRecord,
        event: AuditEvent,
    ) -> Result<AuditRecord, StoreError> {
        (**self).insert_certificate(record, event)
    }
    fn insert_certificate_with_setting(
        &self,
        record: &CertificateRecord,
        key: &str,
        value: &[u8],
        event: AuditEvent,
    ) -> Result<AuditRecord, StoreError> {
        (**self).insert_certificate_with_setting(record, key, value, event)
    }
    fn certificate(&self, serial: &[u8]) -> Result<Option<CertificateRecord>, StoreError> {
        (**self).certificate(serial)
    }
    fn contains_serial(&self, serial: &[u8]) -> Result<bool, StoreError> {
        (**self).contains_serial(serial)
    }
    fn certificates(&self) -> Result<Vec<CertificateRecord>, StoreError> {
        (**self).certificates()
    }
    fn revoke(
        &self,
        serial: &[u8],
        revocation: Revocation,
        event: AuditEvent,
    ) -> Result<CertificateRecord, StoreError> {
        (**self).revoke(serial, revocation, event)
    }
    fn release(&self, serial: &[u8], event: AuditEvent) -> Result<CertificateRecord, StoreError> {
        (**self).release(serial, event)
    }
    fn revoked(&self, issuer_ca: &str) -> Result<Vec<(Vec<u8>, Revocation)>, StoreError> {
        (**self).revoked(issuer_ca)
    }
    fn revocation(&self, issuer_ca: &str, serial: &[u8]) -> Result<Option<Revocation>, StoreError> {
        (**self).revocation(issuer_ca, serial)
    }
    fn next_crl_number(
        &self,
        issuer_ca: &str,
        event: AuditEvent,
    ) -> Result<(u64, AuditRecord), StoreError> {
        (**self).next_crl_number(issuer_ca, event)
    }
    fn next_crl(
        &self,
        issuer_ca: &str,
        event: &dyn Fn(usize) -> AuditEvent,
    ) -> Result<NumberedCrl, StoreError> {
        (**self).next_crl(issuer_ca, event)
    }
    fn append_audit(&self, event: AuditEvent) -> Result<AuditRecord, StoreError> {
        (**self).append_audit(event)
    }
    fn append_audit_then(&self, event: AuditEvent, done: AuditDone) {
        (**self).append_audit_then(event, done)
    }
    fn audit_log(&self) -> Result<Vec<AuditRecord>, StoreError> {
        (**self).audit_log()
    }
    fn audit_head(&self) -> Result<Option<AuditHead>, StoreError> {
        (**self).audit_head()
    }
    fn set_audit_mac(&self, mac: AuditMac) -> Result<(), StoreError> {
        (**self).set_audit_mac(mac)
    }
    fn add_setting(
        &self,
        key: &str,
        value: &[u8],
        event: AuditEvent,
    ) -> Result<AuditRecord, StoreError> {
        (**self).add_setting(key, value, event)
    }
    fn insert_credential(
        &self,
        certificate: &CertificateRecord,
        credential: &CredentialRecord,
        event: AuditEvent,
    ) -> Result<AuditRecord, StoreError> {
        (**self).insert_credential(certificate, credential, event)
    }
    fn credential(&self, id: &str) -> Result<Option<CredentialRecord>, StoreError> {
        (**self).credential(id)
    }
    fn credentials_of(&self, owner: &str) -> Result<Vec<CredentialRecord>, StoreError> {
        (**self).credentials_of(owner)
    }
    fn insert_token(
        &self,
        token: &TokenRecord,
        event: AuditEvent,
    ) -> Result<AuditRecord, StoreError> {
        (**self).insert_token(token, event)
    }
    fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        (**self).token(id)
    }
    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        (**self).tokens()
    }
    fn revoke_token(&self, id: &str, event: AuditEvent) -> Result<AuditRecord, StoreError> {
        (**self).revoke_token(id, event)
    }
    fn probe(&self) -> Result<(), StoreError> {
        (**self).probe()
    }
    fn is_empty(&self) -> Result<bool, StoreError> {
        (**self).is_empty()
    }
    fn export(&self) -> Result<ExportItems<'_>, StoreError> {
        (**self).export()
    }
    fn import(
        &self,
        items: &mut dyn Iterator<Item = Result<StoreItem, StoreError>>,
    ) -> Result<StoreSummary, StoreError> {
        (**self).import(items)
    }
}

/// What [`Store::next_crl`] returns: the CRL number and the CA's revoked certificates as of it
/// (serial, revocation), ordered by serial.
pub type NumberedCrl = (u64, Vec<(Vec<u8>, Revocation)>);

/// What [`Store::append_audit_then`] calls with the outcome.
pub type AuditDone = Box<dyn FnOnce(Result<AuditRecord, StoreError>) + Send>;

/// When `SledStore::append_audit` acknowledges a record (the service's `durability` setting).
/// Every other write is flushed by sled before it returns, whatever this says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// After `fdatasync` of the audit journal: survives `kill -9` and power loss.
    #[default]
    Fsync,
    /// After `write(2)` to the audit journal, which a background thread syncs every 10 ms:
    /// survives `kill -9` of the process (the page cache keeps the write), but power loss or a
    /// kernel crash can lose the records of the last ~10 ms, already acknowledged.
    Write,
}

impl std::str::FromStr for Durability {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        match s {
            "fsync" => Ok(Self::Fsync),
            "write" => Ok(Self::Write),
            _ => Err(StoreError::UnknownDurability(s.to_owned())),
        }
    }
}

/// Sequence number and hash of the newest audit record, as [`Store::audit_head`] reads it.
pub type AuditHead = (u64, String);

/// Why the audit log of a store does not verify: it could not be read, or it is not intact.
#[derive(Debug, thiserror::Error)]
pub enum AuditLogError {
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The log read does not verify.
    #[error(transparent)]
    Verify(#[from] AuditVerifyError),
}

impl From<AuditError> for AuditLogError {
    fn from(e: AuditError) -> Self {
        Self::Verify(e.into())
    }
}

/// The audit log and its head as of one moment: the log and the head are separate reads, and a
/// head that is the same before and after reading the log shows no append landed in between, so
/// a live store is not misreported as tampered.
fn audit_snapshot(store: &dyn Store) -> Result<(Vec<AuditRecord>, Option<AuditHead>), StoreError> {
    const ATTEMPTS: usize = 100;
    for _ in 0..ATTEMPTS {
        let before = store.audit_head()?;
        let records = store.audit_log()?;
        if store.audit_head()? == before {
            return Ok((records, before));
        }
    }
    Err(StoreError::Backend(format!(
        "audit log kept changing during {ATTEMPTS} verification attempts"
    )))
}

/// Verifies the structure of the audit log of `store` against its head: the hash chain, no gap,
/// nothing past or short of the head. Returns the number of records checked. This needs no
/// secret and so proves no authorship: whoever can write the store can recompute every hash.
/// `verify_audit_log` adds the audit key's MACs (what `signer-api audit verify` runs).
pub fn audit_verify(store: &dyn Store) -> Result<u64, AuditLogError> {
    let (records, head) = audit_snapshot(store)?;
    let head = head.as_ref().map(|(seq, hash)| (*seq, hash.as_str()));
    Ok(crate::engine::audit::verify_chain(&records, head)?)
}

/// [`crate::engine::audit::verify_log`] over the audit log of `store`, read at one moment.
pub(crate) fn verify_audit_log(
    store: &dyn Store,
    key: &AuditKey,
    checkpoint: Option<&Checkpoint>,
) -> Result<AuditReport, AuditLogError> {
    let (records, head) = audit_snapshot(store)?;
    let head = head.as_ref().map(|(seq, hash)| (*seq, hash.as_str()));
    Ok(crate::engine::audit::verify_log(
        &records, head, key, checkpoint,
    )?)
}
