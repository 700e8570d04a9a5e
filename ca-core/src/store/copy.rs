//! Copying a whole store to another backend (`signer-api store copy`): sled → PostgreSQL, back,
//! or sled → sled.
//!
//! The source streams its records ([`Store::export`], read at one moment) through [`Checked`],
//! which refuses a source that does not hold together (a broken or unauthenticated audit chain,
//! a revocation index that disagrees with its certificates) before the target commits anything;
//! the target writes them all or nothing ([`Store::import`]: one PostgreSQL transaction; for
//! sled, [`copy_to_new_sled`] builds the store in a directory beside the target and renames it
//! into place) and, before it commits, reads back what it holds and compares it with what it was
//! given. Records are copied as stored: audit records keep their sequence numbers, hashes and
//! MACs, tokens their hashes, keys stay sealed. Nothing is decrypted: the caller may give the
//! source's audit MAC key (unsealed with the master secret), which checks the MACs on the way.
//!
//! Streaming keeps memory bounded by the revoked certificates (held until their index entries
//! pass), not by the store: a million certificates are never all in memory.

use super::{
    AuditHead, AuthorityRecord, CertificateRecord, CredentialRecord, Revocation, SledStore, Store,
    StoreError, TokenRecord,
};
use crate::engine::audit::{AuditError, AuditMac, AuditRecord, ChainVerifier};
use crate::engine::seal::Sealer;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One record of a store as [`Store::export`] yields it and [`Store::import`] takes it. A store
/// yields its records in the order of these variants (the marker, the CAs, settings,
/// certificates, the revocation index, CRL numbers, credentials, tokens, the audit log, its
/// head), so a target can write each after what it refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreItem {
    /// The store was initialised (`Store::initialise` committed).
    Initialised,
    /// A CA (certificate and sealed key).
    Authority(AuthorityRecord),
    /// A setting, as stored (sealed keys stay sealed).
    Setting {
        /// Its name.
        key: String,
        /// Its bytes.
        value: Vec<u8>,
    },
    /// A certificate with its revocation state.
    Certificate(CertificateRecord),
    /// An entry of the revocation index the CRLs and OCSP answers are built from.
    Revoked {
        /// The issuing CA.
        issuer_ca: String,
        /// The certificate's serial (content octets).
        serial: Vec<u8>,
        /// As the certificate's record says.
        revocation: Revocation,
    },
    /// The last CRL number a CA allocated.
    CrlNumber {
        /// The CA.
        issuer_ca: String,
        /// Its last CRL number.
        last: u64,
    },
    /// A server-held signing credential (its key sealed).
    Credential(CredentialRecord),
    /// An API token (its secret's hash, never the secret).
    Token(TokenRecord),
    /// An audit record, unchanged (sequence number, hash, MAC).
    Audit(AuditRecord),
    /// The audit head: sequence number and hash of the newest record.
    AuditHead(AuditHead),
}

impl StoreItem {
    /// Position of the variant in the export order.
    fn rank(&self) -> u8 {
        match self {
            Self::Initialised => 0,
            Self::Authority(_) => 1,
            Self::Setting { .. } => 2,
            Self::Certificate(_) => 3,
            Self::Revoked { .. } => 4,
            Self::CrlNumber { .. } => 5,
            Self::Credential(_) => 6,
            Self::Token(_) => 7,
            Self::Audit(_) => 8,
            Self::AuditHead(_) => 9,
        }
    }
}

/// The records of a store, counted by kind, and its audit head: what a copy wrote, read back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreSummary {
    /// Whether the store was initialised.
    pub initialised: bool,
    /// CAs.
    pub authorities: u64,
    /// Settings.
    pub settings: u64,
    /// Certificates.
    pub certificates: u64,
    /// Entries of the revocation index.
    pub revoked: u64,
    /// CAs with a CRL number.
    pub crl_numbers: u64,
    /// Credentials.
    pub credentials: u64,
    /// API tokens.
    pub tokens: u64,
    /// Audit records.
    pub audit_records: u64,
    /// The audit head.
    pub audit_head: Option<AuditHead>,
}

impl StoreSummary {
    /// Counts `item` in.
    pub(crate) fn add(&mut self, item: &StoreItem) {
        match item {
            StoreItem::Initialised => self.initialised = true,
            StoreItem::Authority(_) => self.authorities += 1,
            StoreItem::Setting { .. } => self.settings += 1,
            StoreItem::Certificate(_) => self.certificates += 1,
            StoreItem::Revoked { .. } => self.revoked += 1,
            StoreItem::CrlNumber { .. } => self.crl_numbers += 1,
            StoreItem::Credential(_) => self.credentials += 1,
            StoreItem::Token(_) => self.tokens += 1,
            StoreItem::Audit(_) => self.audit_records += 1,
            StoreItem::AuditHead(head) => self.audit_head = Some(head.clone()),
        }
    }

    /// A target's check before it commits: what it reads back is what it was given.
    pub(crate) fn arrived(&self, read_back: &StoreSummary) -> Result<(), StoreError> {
        if self == read_back {
            return Ok(());
        }
        Err(StoreError::Corrupt(format!(
            "the copy does not hold what was written: wrote {self:?}, read back {read_back:?}"
        )))
    }
}

/// What [`Store::export`] returns: the records, each read or decoded with its own outcome.
pub type ExportItems<'a> = Box<dyn Iterator<Item = Result<StoreItem, StoreError>> + 'a>;

/// What a copy established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyReport {
    /// The records copied, as the target read them back (equal to the source's).
    pub summary: StoreSummary,
    /// The first audit record whose MAC was checked under the audit key (every later one was
    /// too); `None` when no audit MAC key was given or the store predates audit keys.
    pub authenticated_from: Option<u64>,
}

/// Why a copy was refused or failed. Whatever the reason, the target holds nothing of it.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The target already holds records.
    #[error("the target store is not empty: {0}; a copy goes only into an empty store")]
    TargetNotEmpty(String),
    /// The source holds no record: most likely the wrong place.
    #[error("the source store is empty: nothing to copy")]
    SourceEmpty,
    /// The source's audit log does not verify (chain, head or MACs).
    #[error("the source's audit log does not verify: {0}")]
    SourceAudit(AuditError),
    /// The source's records contradict each other (order, revocation index).
    #[error("the source store is inconsistent: {0}")]
    SourceInconsistent(String),
    /// The target does not hold what the source gave.
    #[error("the copy does not match its source: {0}")]
    Mismatch(String),
    /// A backend failed (reading the source or writing the target).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The sled target's directory could not be prepared or renamed into place.
    #[error("{what} {}: {error}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// Where.
        path: PathBuf,
        /// The cause.
        error: std::io::Error,
    },
}

/// Copies every record of `source` into the empty store `target`, all or nothing (see the
/// module). With `audit_mac` (the source's, unsealed by `authority::stored_audit_mac` with the
/// installation's master secret), every audit record's MAC is checked, as `audit verify` does. The source must
/// not change meanwhile: a sled store is held by this process alone; PostgreSQL is read in one
/// REPEATABLE READ snapshot.
pub fn copy(
    source: &dyn Store,
    target: &dyn Store,
    audit_mac: Option<&AuditMac>,
) -> Result<CopyReport, CopyError> {
    if !target.is_empty()? {
        return Err(CopyError::TargetNotEmpty("it holds records".into()));
    }
    if source.is_empty()? {
        return Err(CopyError::SourceEmpty);
    }
    let mut checked = Checked::new(source.export()?, audit_mac);
    let imported = target.import(&mut checked);
    // The source's own failure first: the target only saw it as the end of its input.
    if let Some(failure) = checked.failure.take() {
        return Err(failure);
    }
    let imported = imported.map_err(|e| match e {
        StoreError::NotEmpty => CopyError::TargetNotEmpty("it holds records".into()),
        e => CopyError::Store(e),
    })?;
    // `Checked` ended the stream only after `finish` (else `failure` is set).
    let Some(authenticated_from) = checked.finished else {
        return Err(CopyError::Mismatch(
            "the source was not read to its end".into(),
        ));
    };
    if imported != checked.summary {
        return Err(CopyError::Mismatch(format!(
            "the source holds {:?}, the target read back {imported:?}",
            checked.summary
        )));
    }
    Ok(CopyReport {
        summary: imported,
        authenticated_from,
    })
}

/// [`copy`] into a new sled store at `dir`, which must not exist or be an empty directory. The
/// store is built in a directory beside it (`.NAME.copy-…`, mode 0700) and renamed into place
/// only once complete and verified, so `dir` never holds a partial store, even after a crash
/// (a leftover `.NAME.copy-…` can be removed).
pub fn copy_to_new_sled(
    source: &dyn Store,
    dir: &Path,
    audit_mac: Option<&AuditMac>,
) -> Result<CopyReport, CopyError> {
    let io = |what: &'static str, path: &Path| {
        let path = path.to_owned();
        move |error| CopyError::Io { what, path, error }
    };
    check_empty_dir(dir)?;
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| CopyError::Io {
            what: "naming",
            path: dir.to_owned(),
            error: std::io::Error::new(std::io::ErrorKind::InvalidInput, "no directory name"),
        })?;
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let suffix: [u8; 8] =
        Sealer::random_bytes().map_err(|e| StoreError::Backend(format!("randomness: {e}")))?;
    let staging = parent.join(format!(".{name}.copy-{}", hex::encode(suffix)));
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&staging)
            .map_err(io("creating", &staging))?;
    }
    let built = SledStore::open(&staging)
        .map_err(CopyError::from)
        .and_then(|store| copy(source, &store, audit_mac));
    let finished = built.and_then(|report| {
        // sled closes its files on background threads a moment after the last handle drops
        // (spacejam/sled#1234): rename only once it let go, so nothing writes by the old path.
        wait_for_release(&staging)?;
        // rename(2) replaces an empty directory at `dir`; a non-empty one fails it.
        std::fs::rename(&staging, dir).map_err(io("renaming the copy to", dir))?;
        std::fs::File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(io("syncing", parent))?;
        Ok(report)
    });
    if finished.is_err() {
        let _ = wait_for_release(&staging);
        let _ = std::fs::remove_dir_all(&staging);
    }
    finished
}

/// Refuses a `dir` that exists and is not an empty directory.
fn check_empty_dir(dir: &Path) -> Result<(), CopyError> {
    match std::fs::read_dir(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(CopyError::Io {
            what: "reading",
            path: dir.to_owned(),
            error,
        }),
        Ok(mut entries) => match entries.next() {
            None => Ok(()),
            Some(_) => Err(CopyError::TargetNotEmpty(format!(
                "{} exists and is not empty",
                dir.display()
            ))),
        },
    }
}

/// Waits (at most 30 s) until no sled handle holds the store in `dir`: sled's exclusive lock
/// on its `db` file is free.
fn wait_for_release(dir: &Path) -> Result<(), CopyError> {
    use fs2::FileExt;
    let db = dir.join("db");
    for _ in 0..3000 {
        let file = std::fs::File::open(&db).map_err(|error| CopyError::Io {
            what: "opening",
            path: db.clone(),
            error,
        })?;
        if file.try_lock_exclusive().is_ok() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Err(CopyError::Store(StoreError::InUse))
}

/// The source's records on their way to the target, checked as they pass: variants in export
/// order, the audit chain (hashes, sequence, MACs when keyed) ending at the head, every revoked
/// certificate in the revocation index as its record says and nothing else there. A failure
/// ends the stream with an error (so the target writes nothing) and is kept in `failure`.
struct Checked<'a> {
    items: ExportItems<'a>,
    rank: u8,
    chain: Option<ChainVerifier>,
    /// Revoked certificates whose index entry has not passed yet.
    revoked: HashMap<(String, Vec<u8>), Revocation>,
    summary: StoreSummary,
    failure: Option<CopyError>,
    /// Set once the stream ended well: the first authenticated audit record, if checked.
    finished: Option<Option<u64>>,
}

impl<'a> Checked<'a> {
    fn new(items: ExportItems<'a>, mac: Option<&AuditMac>) -> Self {
        Self {
            items,
            rank: 0,
            chain: Some(ChainVerifier::new(mac)),
            revoked: HashMap::new(),
            summary: StoreSummary::default(),
            failure: None,
            finished: None,
        }
    }

    fn check(&mut self, item: &StoreItem) -> Result<(), CopyError> {
        let inconsistent = |s: String| CopyError::SourceInconsistent(s);
        if item.rank() < self.rank || (item.rank() == self.rank && self.rank == 9) {
            return Err(inconsistent(format!("{item:?} out of order")));
        }
        self.rank = item.rank();
        match item {
            StoreItem::Certificate(record) => {
                if let Some(revocation) = &record.revocation {
                    self.revoked.insert(
                        (record.issuer_ca.clone(), record.serial.clone()),
                        revocation.clone(),
                    );
                }
            }
            StoreItem::Revoked {
                issuer_ca,
                serial,
                revocation,
            } => {
                let key = (issuer_ca.clone(), serial.clone());
                if self.revoked.remove(&key).as_ref() != Some(revocation) {
                    return Err(inconsistent(format!(
                        "the revocation index entry of certificate {} (CA {issuer_ca}) does not \
                         match the certificate's record",
                        hex::encode(serial)
                    )));
                }
            }
            StoreItem::Audit(record) => {
                if let Some(chain) = self.chain.as_mut() {
                    chain.push(record).map_err(CopyError::SourceAudit)?;
                }
            }
            StoreItem::AuditHead(_)
            | StoreItem::Initialised
            | StoreItem::Authority(_)
            | StoreItem::Setting { .. }
            | StoreItem::CrlNumber { .. }
            | StoreItem::Credential(_)
            | StoreItem::Token(_) => {}
        }
        self.summary.add(item);
        Ok(())
    }

    /// The end of the stream: the chain ends at the head, the index missed no revocation.
    fn finish(&mut self) -> Result<Option<u64>, CopyError> {
        if let Some(((ca, serial), _)) = self.revoked.iter().next() {
            return Err(CopyError::SourceInconsistent(format!(
                "certificate {} (CA {ca}) is revoked but missing from the revocation index",
                hex::encode(serial)
            )));
        }
        let chain = self
            .chain
            .take()
            .ok_or_else(|| CopyError::SourceInconsistent("the audit log was read twice".into()))?;
        let head = self.summary.audit_head.as_ref();
        let summary = chain
            .finish(head.map(|(seq, hash)| (*seq, hash.as_str())))
            .map_err(CopyError::SourceAudit)?;
        Ok(summary.authenticated_from)
    }

    fn fail(&mut self, failure: CopyError) -> Option<Result<StoreItem, StoreError>> {
        let message = failure.to_string();
        self.failure = Some(failure);
        Some(Err(StoreError::Corrupt(message)))
    }
}

impl Iterator for Checked<'_> {
    type Item = Result<StoreItem, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failure.is_some() || self.finished.is_some() {
            return None;
        }
        match self.items.next() {
            Some(Ok(item)) => match self.check(&item) {
                Ok(()) => Some(Ok(item)),
                Err(e) => self.fail(e),
            },
            Some(Err(e)) => self.fail(CopyError::Store(e)),
            None => match self.finish() {
                Ok(authenticated_from) => {
                    self.finished = Some(authenticated_from);
                    None
                }
                Err(e) => self.fail(e),
            },
        }
    }
}
