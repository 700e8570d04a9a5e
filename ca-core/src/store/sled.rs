//! The sled backend (the embedded default): one database directory, one process.
//!
//! Audit records on their own (`append_audit`, one per signature) are group-committed
//! (`group_commit`): the writer thread chains each batch onto the newest record it knows, appends
//! it to the audit journal (`journal`: one write and one `fdatasync`) and answers the callers.
//! The records reach sled later, in large batches, on the folder thread (sled inserts were a
//! quarter of the service's CPU, issue 15); whatever reads the log or appends to it in a sled
//! transaction folds the journaled tail into sled first, so it sees every acknowledged record.
//! Once the journal is large, sled is flushed and the journal emptied; `open` replays the frames
//! sled lost in a crash (records at or below sled's head are never applied twice).

mod copy;

use super::group_commit::GroupCommit;
use super::journal::{self, Journal};
use super::{
    AuditDone, AuditHead, AuthorityRecord, CertificateRecord, CredentialRecord, Durability,
    ExportItems, Revocation, Store, StoreError, StoreItem, StoreSummary, TokenRecord,
};
use crate::engine::audit::{AuditEvent, AuditMac, AuditRecord, GENESIS_HASH};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{
    ConflictableTransactionError, ConflictableTransactionResult, TransactionError,
    TransactionalTree,
};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::{JoinHandle, Thread};
use std::time::Duration;

// Layout of the sled database. Public so that tests and admin tooling can open the raw database
// (e.g. to demonstrate that tampering is detected); not an API for writing.

/// Certificates: key = serial bytes, value = JSON `CertificateRecord`.
pub const CERTIFICATES_TREE: &str = "certificates";
/// Revocation index: key = `issuer_ca` 0x00 serial, value = JSON `Revocation`. Lets `revoked`
/// scan one CA's revoked entries only.
pub const REVOKED_TREE: &str = "revoked";
/// Authorities: key = id, value = JSON `AuthorityRecord`.
pub(crate) const AUTHORITIES_TREE: &str = "authorities";
/// Settings: key = setting name, value = the raw bytes given to `initialise`.
pub const SETTINGS_TREE: &str = "settings";
/// Last CRL number per CA: key = `issuer_ca`, value = JSON u64.
pub(crate) const CRL_NUMBERS_TREE: &str = "crl_numbers";
/// Audit records: key = seq as u64 big-endian (so sled order is sequence order), value = JSON
/// `AuditRecord`.
pub const AUDIT_TREE: &str = "audit";
/// Store metadata; see the `*_KEY` constants.
pub const META_TREE: &str = "meta";
/// Credentials: key = credential id, value = JSON `CredentialRecord`.
pub const CREDENTIALS_TREE: &str = "credentials";
/// Owner index of credentials: key = owner length (u32 big-endian) ‖ owner ‖ credential id, value
/// empty. The length prefix makes the owner part unambiguous whatever bytes an owner holds, so a
/// prefix scan finds exactly one owner's credentials, in id order.
pub const CREDENTIAL_OWNERS_TREE: &str = "credential_owners";
/// API tokens: key = token id, value = JSON `TokenRecord` (a hash of the secret, never the secret).
pub const TOKENS_TREE: &str = "tokens";
/// In `META_TREE`: JSON `{"seq": u64, "hash": hex}` of the newest audit record.
pub const AUDIT_HEAD_KEY: &str = "audit_head";
/// In `META_TREE`: present once `initialise` has committed.
pub(crate) const INITIALISED_KEY: &str = "initialised";
/// The audit journal, a file beside sled's in the store directory (see `append_audit`).
pub const JOURNAL_FILE: &str = "audit.journal";

/// The sled implementation.
pub struct SledStore {
    /// First, so that dropping the store finishes the writer's queue before anything else goes.
    writer: GroupCommit,
    /// Second: folds what the writer journaled last.
    _folder: Folder,
    db: sled::Db,
    certificates: sled::Tree,
    revoked: sled::Tree,
    authorities: sled::Tree,
    settings: sled::Tree,
    crl_numbers: sled::Tree,
    audit: sled::Tree,
    meta: sled::Tree,
    credentials: sled::Tree,
    credential_owners: sled::Tree,
    tokens: sled::Tree,
    /// Held by whatever extends the audit chain: a transaction with `append_tx` until it is
    /// flushed, or the writer thread for a batch. Without it a transaction could chain onto a
    /// head the writer is replacing; and a batch journaled onto a record sled has not flushed
    /// would not attach to sled's head after a crash, so it could not be replayed. Also the
    /// journaled records not yet in sled, which readers fold in first.
    chain: Arc<Chain>,
    /// The MAC key of audit records, shared with the writer thread; unset until the authority
    /// opens the store (records appended before carry no MAC).
    audit_mac: Arc<OnceLock<AuditMac>>,
    /// Running in `Durability::Write` only; dropped (final sync) with the store.
    _syncer: Option<journal::Syncer>,
}

fn poisoned() -> StoreError {
    StoreError::Backend("audit chain lock poisoned".into())
}

/// Past this many journaled records not yet in sled, the folder is woken before its interval.
const FOLD_AT: usize = 1024;
/// How often the folder moves the journaled tail into sled when fewer than `FOLD_AT` wait.
const FOLD_INTERVAL: Duration = Duration::from_millis(100);

/// The audit chain as this process knows it, ahead of sled: batches of `append_audit` are
/// durable once journaled and reach sled later, in large batches, on the folder thread.
#[derive(Default)]
struct Chain {
    state: Mutex<ChainState>,
    /// Held while the tail moves into sled, and by whoever needs sled to hold every record
    /// (readers of the log, transactions that append to it): taken before `state`.
    fold: Mutex<()>,
}

#[derive(Default)]
struct ChainState {
    /// The newest record, when this process knows it; `None`: sled's head is the newest (the
    /// tail is then empty).
    last: Option<AuditRecord>,
    /// Records durable in the journal, not yet inserted into sled, in chain order.
    tail: Vec<Journaled>,
}

/// A journaled record as sled stores it.
struct Journaled {
    seq: u64,
    hash: String,
    payload: Vec<u8>,
}

impl Chain {
    fn state(&self) -> Result<MutexGuard<'_, ChainState>, StoreError> {
        self.state.lock().map_err(|_| poisoned())
    }

    fn fold_lock(&self) -> Result<MutexGuard<'_, ()>, StoreError> {
        self.fold.lock().map_err(|_| poisoned())
    }

    /// Moves the tail into sled, not flushed (the journal keeps it durable until sled is
    /// flushed), without holding `state` while inserting: the writer goes on meanwhile. The
    /// caller holds `fold`. On failure the tail is put back, to be retried.
    /// Returns whether it moved anything.
    fn fold(&self, audit: &sled::Tree, meta: &sled::Tree) -> Result<bool, StoreError> {
        let tail = std::mem::take(&mut self.state()?.tail);
        if tail.is_empty() {
            return Ok(false);
        }
        insert_records(audit, meta, &tail).inspect_err(|_| {
            let mut state = self
                .state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            state.tail.splice(0..0, tail);
        })?;
        Ok(true)
    }
}

impl ChainState {
    /// [`Chain::fold`] holding `state` (and `fold`): when it returns `Ok`, sled holds every
    /// acknowledged record until `state` is released.
    fn fold(&mut self, audit: &sled::Tree, meta: &sled::Tree) -> Result<(), StoreError> {
        insert_records(audit, meta, &self.tail)?;
        self.tail.clear();
        Ok(())
    }
}

/// Inserts journaled records into sled without a transaction, then the head: sled recovers a
/// prefix of its log, so never a head without its records. Inserting a record again is harmless.
fn insert_records(
    audit: &sled::Tree,
    meta: &sled::Tree,
    records: &[Journaled],
) -> Result<(), StoreError> {
    let Some(newest) = records.last() else {
        return Ok(());
    };
    for record in records {
        audit
            .insert(audit_key(record.seq), record.payload.as_slice())
            .map_err(backend)?;
    }
    let head = encode(&Head {
        seq: newest.seq,
        hash: newest.hash.clone(),
    })?;
    meta.insert(AUDIT_HEAD_KEY, head).map_err(backend)?;
    Ok(())
}

/// The folder thread: moves the journaled tail into sled every `FOLD_INTERVAL`, or sooner when
/// the writer wakes it. Dropping it folds once more and stops it.
struct Folder {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Folder {
    fn start(
        chain: Arc<Chain>,
        db: sled::Db,
        audit: sled::Tree,
        meta: sled::Tree,
    ) -> Result<Self, StoreError> {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new()
            .name("audit-folder".into())
            .spawn(move || {
                loop {
                    let last_round = stopping.load(Ordering::Acquire);
                    // A failure is retried next round: the records are durable in the journal,
                    // and readers fold (or report the error) themselves.
                    let folded = chain
                        .fold_lock()
                        .is_ok_and(|_fold| chain.fold(&audit, &meta).unwrap_or(false));
                    // sled's own flush (every 500 ms) would write these pages anyway; flushed
                    // here, the writer's flush before it empties a full journal is short, so
                    // that batch's callers do not wait for 4 MiB of records.
                    if folded {
                        let _ = db.flush();
                    }
                    if last_round {
                        break;
                    }
                    std::thread::park_timeout(FOLD_INTERVAL);
                }
            })
            .map_err(|e| StoreError::Backend(format!("starting the audit folder: {e}")))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }

    fn waker(&self) -> Option<Thread> {
        self.thread.as_ref().map(|t| t.thread().clone())
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// What the writer thread owns: the trees, the chain, the journal.
struct ChainWriter {
    db: sled::Db,
    audit: sled::Tree,
    meta: sled::Tree,
    chain: Arc<Chain>,
    audit_mac: Arc<OnceLock<AuditMac>>,
    /// `None` once a failed journal write could not be undone: from then on batches go into
    /// sled at once and are made durable by sled's flush.
    journal: Option<Journal>,
    durability: Durability,
    /// Wakes the folder when the tail is long.
    folder: Option<Thread>,
}

impl ChainWriter {
    /// Chains `events` onto the newest record, journals them (one write, one `fdatasync` with
    /// `Durability::Fsync`) and adds them to the tail that the folder moves into sled. A full
    /// journal is emptied first: the tail folded, sled flushed, the journal truncated.
    fn write(&mut self, events: Vec<AuditEvent>) -> Result<Vec<AuditRecord>, StoreError> {
        let chain = self.chain.clone();
        let in_sled = self
            .journal
            .as_ref()
            .is_none_or(|j| j.len() >= journal::TRUNCATE_AT);
        // Taken before the state, as everywhere: the folder must not be inserting a tail it took.
        let _fold = if in_sled {
            Some(chain.fold_lock()?)
        } else {
            None
        };
        let mut state = chain.state()?;
        let head = match &state.last {
            Some(last) => Some(last.clone()),
            None => {
                if !state.tail.is_empty() {
                    return Err(StoreError::Corrupt(
                        "journaled audit records without a newest record".into(),
                    ));
                }
                self.sled_head()?
            }
        };
        let mac = self.audit_mac.get();
        let mut records: Vec<AuditRecord> = Vec::with_capacity(events.len());
        let mut journaled = Vec::with_capacity(events.len());
        for event in events {
            let record =
                AuditRecord::next(records.last().or(head.as_ref()), event).authenticated(mac);
            journaled.push(Journaled {
                seq: record.seq,
                hash: record.hash.clone(),
                payload: encode(&record)?,
            });
            records.push(record);
        }
        if records.is_empty() {
            return Ok(records);
        }
        if in_sled {
            state.fold(&self.audit, &self.meta)?;
            self.db.flush().map_err(backend)?;
            if let Some(journal) = self.journal.as_mut()
                && journal.truncate().is_err()
            {
                self.journal = None;
            }
        }
        let Some(journal) = self.journal.as_mut() else {
            // Without a journal: into sled and flushed before the callers hear of it.
            insert_records(&self.audit, &self.meta, &journaled)?;
            self.db.flush().map_err(backend)?;
            state.last = records.last().cloned();
            return Ok(records);
        };
        let payloads: Vec<&[u8]> = journaled.iter().map(|j| j.payload.as_slice()).collect();
        let before = journal.len();
        if let Err(e) = journal.append(&payloads, self.durability == Durability::Fsync) {
            // Not acknowledged, so not in the journal either: a partial or unsynced frame must
            // not be replayed after a crash, nor sit before the next batch's frames.
            if journal.rewind(before).is_err() {
                self.journal = None;
            }
            return Err(e);
        }
        state.last = records.last().cloned();
        state.tail.extend(journaled);
        let wake = state.tail.len() >= FOLD_AT;
        drop(state);
        if wake && let Some(folder) = &self.folder {
            folder.unpark();
        }
        Ok(records)
    }

    /// sled's newest record, checked against the head as `append_tx` does, and nothing stored
    /// beyond it.
    fn sled_head(&self) -> Result<Option<AuditRecord>, StoreError> {
        let next = match self.meta.get(AUDIT_HEAD_KEY).map_err(backend)? {
            None => None,
            Some(raw) => {
                let head: Head = decode(&raw, "audit head")?;
                let Some(raw_prev) = self.audit.get(audit_key(head.seq)).map_err(backend)? else {
                    return Err(StoreError::Corrupt(format!(
                        "audit head names seq {} but that record is missing",
                        head.seq
                    )));
                };
                let prev: AuditRecord = decode(&raw_prev, "audit record")?;
                if prev.seq != head.seq || prev.hash != head.hash {
                    return Err(StoreError::Corrupt(format!(
                        "audit record {} does not match the audit head",
                        head.seq
                    )));
                }
                Some(prev)
            }
        };
        let seq = next.as_ref().map_or(1, |r| r.seq + 1);
        if self.audit.contains_key(audit_key(seq)).map_err(backend)? {
            return Err(StoreError::Corrupt(format!(
                "audit record {seq} exists beyond the audit head"
            )));
        }
        Ok(next)
    }
}

/// Holds the audit chain for a transaction that appends to it, with every journaled record
/// folded into sled first (the transaction reads sled's head); pass it to
/// [`SledStore::committed`], which releases it once the transaction is flushed.
struct ChainGuard<'a> {
    _state: MutexGuard<'a, ChainState>,
    _fold: MutexGuard<'a, ()>,
}

/// sled's page cache (its default is 1 GiB, which a busy service fills as the store grows): the
/// service's resident memory stays bounded whatever the store's size.
const SLED_CACHE_BYTES: u64 = 16 * 1024 * 1024;

impl SledStore {
    /// One transaction that changes the revocation state of certificate `serial`: `change`
    /// decides it from the stored record (or refuses), then the record, the revocation index and
    /// `event` are written together.
    fn change_revocation(
        &self,
        serial: &[u8],
        event: AuditEvent,
        change: impl Fn(&CertificateRecord) -> Result<Option<Revocation>, StoreError>,
    ) -> Result<CertificateRecord, StoreError> {
        let chain = self.chain()?;
        let outcome = (&self.certificates, &self.revoked, &self.audit, &self.meta).transaction(
            |(certs_t, revoked_t, audit_t, meta_t)| {
                let Some(raw) = certs_t.get(serial)? else {
                    return abort(StoreError::NotFound(hex::encode(serial)));
                };
                let mut record: CertificateRecord = tx(decode(&raw, "certificate"))?;
                let revocation = tx(change(&record))?;
                let key = revoked_key(&record.issuer_ca, serial);
                match &revocation {
                    Some(r) => revoked_t.insert(key, tx(encode(r))?)?,
                    None => revoked_t.remove(key)?,
                };
                record.revocation = revocation;
                certs_t.insert(serial, tx(encode(&record))?)?;
                append_tx(audit_t, meta_t, event.clone(), self.audit_mac.get())?;
                Ok(record)
            },
        );
        self.committed(chain, outcome)
    }

    /// Opens (or creates) the store in `dir`.
    ///
    /// sled holds an exclusive file lock while open, so a second open fails with
    /// [`StoreError::InUse`]. sled 0.34 releases that lock on its background threads, a
    /// moment after the last handle is dropped, so an immediate reopen in the same process can
    /// fail the same way (spacejam/sled#1234); keep one store per process.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(dir, Durability::Fsync)
    }

    /// [`SledStore::open`] acknowledging audit appends as `durability` says.
    pub fn open_with(dir: &Path, durability: Durability) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(SLED_CACHE_BYTES)
            .open()
            .map_err(|e| match e {
                // sled 0.34 (config.rs) reports a held lock as an `Other` I/O error by this text.
                sled::Error::Io(io) if io.to_string().starts_with("could not acquire lock") => {
                    StoreError::InUse
                }
                e => backend(e),
            })?;
        let tree = |name: &str| db.open_tree(name).map_err(backend);
        let (audit, meta) = (tree(AUDIT_TREE)?, tree(META_TREE)?);
        let chain: Arc<Chain> = Arc::default();
        let audit_mac: Arc<OnceLock<AuditMac>> = Arc::default();
        // sled's lock is held from here: no other process touches the journal.
        let (mut journal, records) = Journal::open(dir)?;
        let replayed = replay(&db, &audit, &meta, &records)?;
        if replayed && journal.len() > 0 {
            journal.truncate()?;
        }
        let syncer = match durability {
            Durability::Write => Some(journal.syncer()?),
            Durability::Fsync => None,
        };
        let folder = Folder::start(chain.clone(), db.clone(), audit.clone(), meta.clone())?;
        let mut writer = ChainWriter {
            db: db.clone(),
            audit: audit.clone(),
            meta: meta.clone(),
            chain: chain.clone(),
            audit_mac: audit_mac.clone(),
            journal: Some(journal),
            durability,
            folder: folder.waker(),
        };
        Ok(SledStore {
            writer: GroupCommit::start(Box::new(move |events| writer.write(events)))?,
            _folder: folder,
            certificates: tree(CERTIFICATES_TREE)?,
            revoked: tree(REVOKED_TREE)?,
            authorities: tree(AUTHORITIES_TREE)?,
            settings: tree(SETTINGS_TREE)?,
            crl_numbers: tree(CRL_NUMBERS_TREE)?,
            audit,
            meta,
            credentials: tree(CREDENTIALS_TREE)?,
            credential_owners: tree(CREDENTIAL_OWNERS_TREE)?,
            tokens: tree(TOKENS_TREE)?,
            chain,
            audit_mac,
            _syncer: syncer,
            db,
        })
    }

    /// The audit chain for a transaction that appends to it (see [`ChainGuard`]).
    fn chain(&self) -> Result<ChainGuard<'_>, StoreError> {
        let fold = self.chain.fold_lock()?;
        let mut state = self.chain.state()?;
        state.fold(&self.audit, &self.meta)?;
        // The transaction moves sled's head: the writer reads it afresh.
        state.last = None;
        Ok(ChainGuard {
            _state: state,
            _fold: fold,
        })
    }

    /// The audit head as sled holds it: [`Store::audit_head`] once the tail is folded, or under
    /// a [`ChainGuard`] (which folded it).
    fn stored_audit_head(&self) -> Result<Option<AuditHead>, StoreError> {
        Ok(self
            .meta
            .get(AUDIT_HEAD_KEY)
            .map_err(backend)?
            .map(|raw| decode::<Head>(&raw, "audit head"))
            .transpose()?
            .map(|head| (head.seq, head.hash)))
    }

    /// Every audit record acknowledged before the call in sled, until the guard is dropped.
    fn folded(&self) -> Result<MutexGuard<'_, ()>, StoreError> {
        let fold = self.chain.fold_lock()?;
        self.chain.fold(&self.audit, &self.meta)?;
        Ok(fold)
    }

    /// Turns a transaction's outcome into the method's result, flushing first when it committed:
    /// sled otherwise syncs only every 500 ms, and an acknowledged write must survive `kill -9`.
    fn committed<A>(
        &self,
        _chain: ChainGuard<'_>,
        outcome: Result<A, TransactionError<StoreError>>,
    ) -> Result<A, StoreError> {
        let value = outcome.map_err(|e| match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => backend(e),
        })?;
        self.db.flush().map_err(backend)?;
        Ok(value)
    }
}

/// Puts back the journal's records that sled lost in a crash, then flushes sled; false when
/// it left sled and the journal alone (see below). Records at or below sled's audit head are
/// skipped: the journal restores what sled lost, it does not judge what sled holds (tampering
/// with stored records is `audit verify`'s finding, with the journal kept as evidence when
/// sled has records but no head). The rest must chain onto sled's head in order.
fn replay(
    db: &sled::Db,
    audit: &sled::Tree,
    meta: &sled::Tree,
    records: &[AuditRecord],
) -> Result<bool, StoreError> {
    let Some(newest) = records.last() else {
        return Ok(true);
    };
    let head = meta.get(AUDIT_HEAD_KEY).map_err(backend)?;
    let head = head
        .map(|raw| decode::<Head>(&raw, "audit head"))
        .transpose()?;
    let (mut seq, mut hash) = match head {
        Some(head) => (head.seq, head.hash),
        // Never after a crash (the head is written with every record): a removed head.
        None if !audit.is_empty() => return Ok(false),
        None => (0, GENESIS_HASH.to_owned()),
    };
    if newest.seq <= seq {
        return Ok(true);
    }
    let mut missing = Vec::new();
    for record in records {
        if record.seq <= seq && missing.is_empty() {
            continue;
        }
        if record.seq != seq + 1 || record.prev_hash != hash || record.compute_hash() != record.hash
        {
            return Err(StoreError::Corrupt(format!(
                "audit journal record {} does not chain onto record {seq}",
                record.seq
            )));
        }
        seq = record.seq;
        hash = record.hash.clone();
        missing.push(record);
    }
    if missing.is_empty() {
        return Ok(true);
    }
    let head = encode(&Head { seq, hash })?;
    let values = missing
        .iter()
        .map(|r| encode(*r))
        .collect::<Result<Vec<_>, _>>()?;
    (audit, meta)
        .transaction(|(audit_t, meta_t)| {
            for (record, value) in missing.iter().zip(&values) {
                audit_t.insert(&audit_key(record.seq), value.as_slice())?;
            }
            meta_t.insert(AUDIT_HEAD_KEY, head.as_slice())?;
            Ok(())
        })
        .map_err(|e: TransactionError<StoreError>| match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => backend(e),
        })?;
    db.flush().map_err(backend)?;
    Ok(true)
}

/// The audit head as stored under `AUDIT_HEAD_KEY`.
#[derive(Serialize, Deserialize)]
struct Head {
    seq: u64,
    hash: String,
}

fn backend(e: sled::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Backend(format!("encoding: {e}")))
}

fn decode<T: DeserializeOwned>(raw: &[u8], what: &str) -> Result<T, StoreError> {
    serde_json::from_slice(raw).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// Aborts the surrounding transaction with `e`; sled's own errors convert through `?`.
fn abort<A>(e: StoreError) -> ConflictableTransactionResult<A, StoreError> {
    Err(ConflictableTransactionError::Abort(e))
}

/// `?` for `StoreError` inside a transaction closure.
fn tx<A>(r: Result<A, StoreError>) -> ConflictableTransactionResult<A, StoreError> {
    r.map_err(ConflictableTransactionError::Abort)
}

/// Whether the certificate is on hold (certificateHold), the one revocation that may be lifted.
fn audit_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

fn revoked_prefix(issuer_ca: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(issuer_ca.len() + 1);
    key.extend_from_slice(issuer_ca.as_bytes());
    key.push(0);
    key
}

fn revoked_key(issuer_ca: &str, serial: &[u8]) -> Vec<u8> {
    let mut key = revoked_prefix(issuer_ca);
    key.extend_from_slice(serial);
    key
}

fn owner_prefix(owner: &str) -> Vec<u8> {
    // An owner longer than u32::MAX bytes cannot reach here (it would not fit a request), but
    // saturate rather than wrap so two owners can never share a prefix by overflow.
    let len = u32::try_from(owner.len()).unwrap_or(u32::MAX);
    let mut key = Vec::with_capacity(4 + owner.len());
    key.extend_from_slice(&len.to_be_bytes());
    key.extend_from_slice(owner.as_bytes());
    key
}

fn owner_key(owner: &str, credential_id: &str) -> Vec<u8> {
    let mut key = owner_prefix(owner);
    key.extend_from_slice(credential_id.as_bytes());
    key
}

/// Chains `event` onto the log inside a transaction. The head is read in the same transaction
/// as the writes, so concurrent appends serialise and can never reuse a sequence number.
/// Refuses (Corrupt) to extend a log whose head does not match its newest record: a damaged
/// chain must be investigated, not buried under new records.
fn append_tx(
    audit: &TransactionalTree,
    meta: &TransactionalTree,
    event: AuditEvent,
    mac: Option<&AuditMac>,
) -> ConflictableTransactionResult<AuditRecord, StoreError> {
    let prev = match meta.get(AUDIT_HEAD_KEY)? {
        None => None,
        Some(raw) => {
            let head: Head = tx(decode(&raw, "audit head"))?;
            let Some(raw_prev) = audit.get(audit_key(head.seq))? else {
                return abort(StoreError::Corrupt(format!(
                    "audit head names seq {} but that record is missing",
                    head.seq
                )));
            };
            let prev: AuditRecord = tx(decode(&raw_prev, "audit record"))?;
            if prev.seq != head.seq || prev.hash != head.hash {
                return abort(StoreError::Corrupt(format!(
                    "audit record {} does not match the audit head",
                    head.seq
                )));
            }
            Some(prev)
        }
    };
    let record = AuditRecord::next(prev.as_ref(), event).authenticated(mac);
    if audit.get(audit_key(record.seq))?.is_some() {
        return abort(StoreError::Corrupt(format!(
            "audit record {} exists beyond the audit head",
            record.seq
        )));
    }
    audit.insert(&audit_key(record.seq), tx(encode(&record))?)?;
    let head = Head {
        seq: record.seq,
        hash: record.hash.clone(),
    };
    meta.insert(AUDIT_HEAD_KEY, tx(encode(&head))?)?;
    Ok(record)
}

impl Store for SledStore {
    fn initialise(
        &self,
        authorities: &[AuthorityRecord],
        ca_certificates: &[CertificateRecord],
        settings: &[(&str, &[u8])],
        event: AuditEvent,
    ) -> Result<AuditRecord, StoreError> {
        // Transactions cannot scan a tree, so the "any authority exists" check is this fast
        // path plus the INITIALISED_KEY marker, which is read and written transactionally.
        if !self.authorities.is_empty() {
            return Err(StoreError::AlreadyInitialised);
        }
        let trees = (
            &self.authorities,
            &self.certificates,
            &self.settings,
            &self.audit,
            &self.meta,
        );
        let chain = self.chain()?;
        let outcome = trees.transaction(|(auth_t, certs_t, settings_t, audit_t, meta_t)| {
            if meta_t.get(INITIALISED_KEY)?.is_some() {
                return abort(StoreError::AlreadyInitialised);
            }
            for authority in authorities {
                if auth_t.get(authority.id.as_bytes())?.is_some() {
                    return abort(StoreError::AlreadyInitialised);
                }
                auth_t.insert(authority.id.as_bytes(), tx(encode(authority))?)?;
            }
            for record in ca_certificates {
                if certs_t.get(&record.serial)?.is_some() {
                    return abort(StoreError::DuplicateSerial(hex::encode(&record.serial)));
                }
                certs_t.insert(record.serial.as_slice(), tx(encode(record))?)?;
            }
            for (key, value) in settings {
                settings_t.insert(key.as_bytes(), *value)?;
            }
            meta_t.insert(INITIALISED_KEY, &[] as &[u8])?;
            append_tx(audit_t, meta_t, event.clone(), self.audit_mac.get())
        });
        self.committed(chain, outcome)
    }

    fn authority(&self, id: &str) -> Result<Option<AuthorityRecord>, StoreError> {
        self.authorities
            .get(id.as_bytes())
            .map_err(backend)?
            .map(|raw| decode(&raw, "authority"))
            .transpose()
    }

    fn setting(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .settings
            .get(key.as_bytes())
            .map_err(backend)?
            .map(|raw| raw.to_vec()))
    }

    fn insert_certificate(
        &self,
        record: &CertificateRecord,
        event: AuditEvent,
    ) -> Result<AuditRecord, StoreError> {
        if record.issuer_ca.contains('\0') {
            return Err(StoreError::InvalidCaId(record.issuer_ca.clone()));
        }
        let value = encode(record)?;
        let revocation = record.revocation.as_ref().map(encode).transpose()?;
        let chain = self.chain()?;
        let outcome = (&self.certificates, &self.revoked, &self.audit, &self.meta).transaction(
            |(certs_t, revoked_t, audit_t, meta_t)| {
                if certs_t.get(&record.serial)?.is_some() {
                    return abort(StoreError::DuplicateSerial(hex::encode(&record.serial)));
                }
                certs_t.insert(record.serial.as_slice(), value.as_slice())?;
                // A certificate stored as already revoked must show up in `revoked` too.
                if let Some(revocation) = &revocation {
                    revoked_t.insert(
                        revoked_key(&record.issuer_ca, &record.serial),
                        revocation.as_slice(),
                    )?;
                }
                append_tx(audit_t, meta_t, event.clone(), self.audit_mac.get())
            },
        );
        self.committed(chain, outcome)
    }

    fn insert_certificate_with_setting(
        &self,
        record: &CertificateRecord,
        key: &str,
        value: &[u8],
        event: AuditEvent,
    ) -> Result<AuditRecord, StoreError> {
        if record.issuer_ca.contains('\0') {
            return Err(StoreError::InvalidCaId(record.issuer_ca.clone()));
        }
        let encoded = encode(record)?;
        let chain = self.chain()?;
        let outcome = (&self.certificates, &self.settings, &self.audit, &self.meta).transaction(
            |(certs_t, settings_t, audit_t, meta_t)| {
                if certs_t.get(&record.serial)?.is_some() {
                    return abort(StoreError::DuplicateSerial(hex::encode(&record.serial)));
                }
                certs_t.insert(record.serial.as_slice(), encoded.as_slice())?;
                settings_t.insert(key.as_bytes(), value)?;
                append_tx(audit_t, meta_t, event.clone(), self.audit_mac.get())
            },
        );
        self.committed(chain, outcome)
    }

    fn certificate(&self, serial: &[u8]) -> Result<Option<CertificateRecord>, StoreError> {
        self.certificates
            .get(serial)
            .map_err(backend)?
            .map(|raw| decode(&raw, "certificate"))
            .transpose()
    }

    fn contains_serial(&self, serial: &[u8]) -> Result<bool, StoreError> {
        self.certificates.contains_key(serial).map_err(backend)
    }

    fn certificates(&self) -> Result<Vec<CertificateRecord>, StoreError> {
        self.certificates
            .iter()
            .values()
            .map(|raw| decode(&raw.map_err(backend)?, "certificate"))
            .collect()
    }

    fn revoke(
        &self,
        serial: &[u8],
        revocation: Revocation,
        event: AuditEvent,
    ) -> Result<CertificateRecord, StoreError> {
        self.change_revocation(serial, event, |record| {
            record.revoked_with(&revocation).map(Some)
        })
    }

    fn release(&self, serial: &[u8], event: AuditEvent) -> Result<CertificateRecord, StoreError> {
        self.change_revocation(serial, event, |record| record.released().map(|()| None))
    }

    fn revocation(&self, issuer_ca: &str, serial: &[u8]) -> Result<Option<Revocation>, StoreError> {
        // As in `revoked`: no stored CA id contains NUL.
        if issuer_ca.contains('\0') {
            return Ok(None);
        }
        self.revoked
            .get(revoked_key(issuer_ca, serial))
            .map_err(backend)?
            .map(|raw| decode(&raw, "revocation"))
            .transpose()
    }

    fn revoked(&self, issuer_ca: &str) -> Result<Vec<(Vec<u8>, Revocation)>, StoreError> {
        // No stored CA id contains NUL (insert refuses them); such a prefix would match another
        // CA's keys.
        if issuer_ca.contains('\0') {
            return Ok(Vec::new());
        }
        let prefix = revoked_prefix(issuer_ca);
        self.revoked
            .scan_prefix(&prefix)
            .map(|entry| {
                let (key, raw) = entry.map_err(backend)?;
                Ok((key[prefix.len()..].to_vec(), decode(&raw, "revocation")?))
            })
            .collect()
    }

    fn next_crl_number(
        &self,
        issuer_ca: &str,
        event: AuditEvent,
    ) -> Result<(u64, AuditRecord), StoreError> {
        let chain = self.chain()?;
        let outcome =
            (&self.crl_numbers, &self.audit, &self.meta).transaction(|(crl_t, audit_t, meta_t)| {
                let last: u64 = match crl_t.get(issuer_ca.as_bytes())? {
                    Some(raw) => tx(decode(&raw, "CRL number"))?,
                    None => 0,
                };
                let Some(number) = last.checked_add(1) else {
                    return abort(StoreError::Corrupt(format!(
                        "CRL number of {issuer_ca} is exhausted"
                    )));
                };
                crl_t.insert(issuer_ca.as_bytes(), tx(encode(&number))?)?;
                let record = append_tx(audit_t, meta_t, event.clone(), self.audit_mac.get())?;
                Ok((number, record))
            });
        self.committed(chain, outcome)
    }

    /// Queues the event for the writer thread and waits for its outcome.
    fn append_audit(&self, event: AuditEvent) -> Result<AuditRecord, StoreError> {
        self.writer.append(event)
    }

    /// Group commit: the writer thread takes everything queued while it wrote the previous
    /// batch, appends it in arrival order (chained as usual) and syncs the journal once.
    fn append_audit_then(&self, event: AuditEvent, done: AuditDone) {
        self.writer.submit(event, done);
    }

    fn audit_log(&self) -> Result<Vec<AuditRecord>, StoreError> {
        let _folded = self.folded()?;
        // Records are returned as stored, key order; `verify_chain` judges them.
        self.audit
            .iter()
            .values()
            .map(|raw| decode(&raw.map_err(backend)?, "audit record"))
            .collect()
    }

    fn audit_head(&self) -> Result<Option<(u64, String)>, StoreError> {
        let _folded = self.folded()?;
        self.stored_audit_head()
    }

    fn set_audit_mac(&self, mac: AuditMac) -> Result<(), StoreError> {
        self.audit_mac
            .set(mac)
            .map_err(|_| StoreError::Backend("the audit key is already set".into()))
    }

    fn add_setting(
        &self,
        key: &str,
        value: &[u8],
        event: AuditEvent,
    ) -> Result<AuditRecord, StoreError> {
        let chain = self.chain()?;
        let outcome = (&self.settings, &self.audit, &self.meta).transaction(
            |(settings_t, audit_t, meta_t)| {
                if settings_t.get(key.as_bytes())?.is_some() {
                    return abort(StoreError::Backend(format!("setting {key} already exists")));
                }
                settings_t.insert(key.as_bytes(), value)?;
                append_tx(audit_t, meta_t, event.clone(), self.audit_mac.get())
            },
        );
        self.committed(chain, outcome)
    }

    fn insert_credential(
        &self,
        certificate: &CertificateRecord,
        credential: &CredentialRecord,
        event: AuditEvent,
    ) -> Result<AuditRecord, StoreError> {
        if certificate.issuer_ca.contains('\0') {
            return Err(StoreError::InvalidCaId(certificate.issuer_ca.clone()));
        }
        if certificate.serial != credential.serial {
            return Err(StoreError::Corrupt(format!(
                "credential {} names serial {} but its certificate is {}",
                credential.id,
                hex::encode(&credential.serial),
                hex::encode(&certificate.serial)
            )));
        }
        let cert_value = encode(certificate)?;
        let cred_value = encode(credential)?;
        let index_key = owner_key(&credential.owner, &credential.id);
        let chain = self.chain()?;
        let outcome = (
            &self.certificates,
            &self.revoked,
            &self.credentials,
            &self.credential_owners,
            &self.audit,
            &self.meta,
        )
            .transaction(|(certs_t, revoked_t, creds_t, owners_t, audit_t, meta_t)| {
                if certs_t.get(&certificate.serial)?.is_some() {
                    return abort(StoreError::DuplicateSerial(hex::encode(
                        &certificate.serial,
                    )));
                }
                if creds_t.get(credential.id.as_bytes())?.is_some() {
                    return abort(StoreError::DuplicateCredential(credential.id.clone()));
                }
                certs_t.insert(certificate.serial.as_slice(), cert_value.as_slice())?;
                // As in `insert_certificate`: a record stored revoked is listed as revoked.
                if let Some(revocation) = &certificate.revocation {
                    revoked_t.insert(
                        revoked_key(&certificate.issuer_ca, &certificate.serial),
                        tx(encode(revocation))?,
                    )?;
                }
                creds_t.insert(credential.id.as_bytes(), cred_value.as_slice())?;
                owners_t.insert(index_key.as_slice(), &[] as &[u8])?;
                append_tx(audit_t, meta_t, event.clone(), self.audit_mac.get())
            });
        self.committed(chain, outcome)
    }

    fn credential(&self, id: &str) -> Result<Option<CredentialRecord>, StoreError> {
        self.credentials
            .get(id.as_bytes())
            .map_err(backend)?
            .map(|raw| decode(&raw, "credential"))
            .transpose()
    }

    fn credentials_of(&self, owner: &str) -> Result<Vec<CredentialRecord>, StoreError> {
        let prefix = owner_prefix(owner);
        self.credential_owners
            .scan_prefix(&prefix)
            .keys()
            .map(|key| {
                let key = key.map_err(backend)?;
                let id = std::str::from_utf8(&key[prefix.len()..]).map_err(|_| {
                    StoreError::Corrupt("credential owner index holds a non-UTF-8 id".into())
                })?;
                self.credential(id)?.ok_or_else(|| {
                    StoreError::Corrupt(format!("owner index names missing credential {id}"))
                })
            })
            .collect()
    }

    fn insert_token(
        &self,
        token: &TokenRecord,
        event: AuditEvent,
    ) -> Result<AuditRecord, StoreError> {
        let value = encode(token)?;
        let chain = self.chain()?;
        let outcome =
            (&self.tokens, &self.audit, &self.meta).transaction(|(tokens_t, audit_t, meta_t)| {
                if tokens_t.get(token.id.as_bytes())?.is_some() {
                    return abort(StoreError::DuplicateToken(token.id.clone()));
                }
                tokens_t.insert(token.id.as_bytes(), value.as_slice())?;
                append_tx(audit_t, meta_t, event.clone(), self.audit_mac.get())
            });
        self.committed(chain, outcome)
    }

    fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.tokens
            .get(id.as_bytes())
            .map_err(backend)?
            .map(|raw| decode(&raw, "token"))
            .transpose()
    }

    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.tokens
            .iter()
            .map(|entry| decode(&entry.map_err(backend)?.1, "token"))
            .collect()
    }

    fn revoke_token(&self, id: &str, event: AuditEvent) -> Result<AuditRecord, StoreError> {
        let chain = self.chain()?;
        let outcome =
            (&self.tokens, &self.audit, &self.meta).transaction(|(tokens_t, audit_t, meta_t)| {
                let Some(raw) = tokens_t.get(id.as_bytes())? else {
                    return abort(StoreError::TokenNotFound(id.to_owned()));
                };
                let mut record: TokenRecord = tx(decode(&raw, "token"))?;
                if record.revoked {
                    return abort(StoreError::TokenAlreadyRevoked(id.to_owned()));
                }
                record.revoked = true;
                tokens_t.insert(id.as_bytes(), tx(encode(&record))?)?;
                append_tx(audit_t, meta_t, event.clone(), self.audit_mac.get())
            });
        self.committed(chain, outcome)
    }

    fn is_empty(&self) -> Result<bool, StoreError> {
        let _folded = self.folded()?;
        self.copy_is_empty()
    }

    fn export(&self) -> Result<ExportItems<'_>, StoreError> {
        // The audit tree is read as the items are taken: with every record acknowledged so far.
        drop(self.folded()?);
        self.copy_export()
    }

    fn import(
        &self,
        items: &mut dyn Iterator<Item = Result<StoreItem, StoreError>>,
    ) -> Result<StoreSummary, StoreError> {
        self.copy_import(items)
    }
}
