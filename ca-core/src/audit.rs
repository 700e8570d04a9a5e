//! Append-only, hash-chained audit records (DESIGN.md §5 invariant 2).
//!
//! Each record's hash covers its sequence number, its event and the previous record's hash, so an
//! edited, reordered or deleted record breaks the chain; the store keeps the head (last sequence and
//! hash) apart from the records so that removing the newest record is caught too.

use crate::store::{Store, StoreError};
use ring::digest;
use serde::{Deserialize, Serialize};

/// What happened. Serialized as lowercase strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Init,
    Issue,
    Revoke,
    /// A revocation with reason certificateHold (suspension).
    Hold,
    /// A hold lifted.
    Release,
    Crl,
    CreateCredential,
    Sign,
    CreateToken,
    RevokeToken,
}

impl AuditAction {
    /// The serialized name. Spelled out here (not taken from serde) because it is part of the
    /// hash input: renaming a serde attribute must not silently change record hashes.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Init => "init",
            AuditAction::Issue => "issue",
            AuditAction::Revoke => "revoke",
            AuditAction::Hold => "hold",
            AuditAction::Release => "release",
            AuditAction::Crl => "crl",
            AuditAction::CreateCredential => "create_credential",
            AuditAction::Sign => "sign",
            AuditAction::CreateToken => "create_token",
            AuditAction::RevokeToken => "revoke_token",
        }
    }
}

/// One auditable event, before it is chained.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Unix seconds, supplied by the caller (ca-core reads no clock).
    pub time: u64,
    /// Who did it (e.g. "cli:root", a token id, a practitioner id).
    pub actor: String,
    pub action: AuditAction,
    /// What it was done to (e.g. "certificate:0a1b…", "crl:sign:7").
    pub object: String,
    /// Extra facts as key/value pairs (profile, reason, digest, …); never secrets or document content.
    pub details: Vec<(String, String)>,
}

/// A chained record as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// 1 for the first record, then +1.
    pub seq: u64,
    pub event: AuditEvent,
    /// Hex SHA-256 of the previous record (64 zeros for the first).
    pub prev_hash: String,
    /// Hex SHA-256 over (seq, event, prev_hash) in a fixed encoding.
    pub hash: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuditError {
    #[error("audit record {seq}: {reason}")]
    Broken { seq: u64, reason: String },
}

/// `prev_hash` of the first record.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Domain tag and version of the hash input below.
const HASH_TAG: &[u8] = b"hpki-audit-v1\0";

impl AuditRecord {
    /// The record that follows `prev` (or starts the chain when `prev` is `None`).
    pub fn next(prev: Option<&AuditRecord>, event: AuditEvent) -> AuditRecord {
        let (seq, prev_hash) = match prev {
            Some(p) => (p.seq + 1, p.hash.clone()),
            None => (1, GENESIS_HASH.to_owned()),
        };
        let hash = record_hash(seq, &event, &prev_hash);
        AuditRecord {
            seq,
            event,
            prev_hash,
            hash,
        }
    }

    /// Recomputes the hash from `seq`, `event` and `prev_hash` (ignoring the stored `hash`).
    pub fn compute_hash(&self) -> String {
        record_hash(self.seq, &self.event, &self.prev_hash)
    }
}

/// Hex SHA-256 over the version-1 encoding of a record. The encoding is a stored format: every
/// existing chain depends on it, so it must never change (the `pinned_hash_*` tests guard it); a
/// new encoding needs a new tag and a migration story.
///
/// ```text
/// "hpki-audit-v1" 0x00      (14 raw bytes)
/// seq                       u64 big-endian
/// event.time                u64 big-endian
/// event.actor               str
/// event.action              str (AuditAction::as_str)
/// event.object              str
/// event.details.len()       u64 big-endian, then per pair: key str, value str
/// prev_hash                 str
/// ```
/// where `str` is its UTF-8 byte length as u64 big-endian followed by the bytes. Length prefixes
/// make the encoding injective: no two different records share an input.
fn record_hash(seq: u64, event: &AuditEvent, prev_hash: &str) -> String {
    struct Input(digest::Context);
    impl Input {
        fn u64(&mut self, n: u64) {
            self.0.update(&n.to_be_bytes());
        }
        fn str(&mut self, s: &str) {
            self.u64(s.len() as u64);
            self.0.update(s.as_bytes());
        }
    }
    let mut h = Input(digest::Context::new(&digest::SHA256));
    h.0.update(HASH_TAG);
    h.u64(seq);
    h.u64(event.time);
    h.str(&event.actor);
    h.str(event.action.as_str());
    h.str(&event.object);
    h.u64(event.details.len() as u64);
    for (k, v) in &event.details {
        h.str(k);
        h.str(v);
    }
    h.str(prev_hash);
    hex::encode(h.0.finish().as_ref())
}

fn broken(seq: u64, reason: impl Into<String>) -> AuditError {
    AuditError::Broken {
        seq,
        reason: reason.into(),
    }
}

/// Checks `records` (in stored order) form an unbroken chain ending at `head` (last seq, hash).
/// Returns the number of records checked.
///
/// The error names the first position where the chain breaks: for a gap that is the missing
/// sequence number (the one expected there), otherwise the offending record's.
pub fn verify_chain(records: &[AuditRecord], head: Option<(u64, &str)>) -> Result<u64, AuditError> {
    let mut prev: Option<&AuditRecord> = None;
    for rec in records {
        let expected = prev.map_or(1, |p| p.seq + 1);
        if rec.seq != expected {
            return Err(broken(
                expected,
                format!(
                    "sequence gap (record deleted or reordered): found seq {} where {expected} belongs",
                    rec.seq
                ),
            ));
        }
        let expected_prev = prev.map_or(GENESIS_HASH, |p| p.hash.as_str());
        if rec.prev_hash != expected_prev {
            return Err(broken(
                rec.seq,
                "prev_hash does not match the previous record's hash (chain relinked)",
            ));
        }
        if rec.compute_hash() != rec.hash {
            return Err(broken(rec.seq, "hash mismatch (record edited)"));
        }
        prev = Some(rec);
    }
    match (prev, head) {
        (None, None) => Ok(0),
        (Some(last), None) => Err(broken(
            last.seq,
            format!(
                "chain ends at seq {} but no head is recorded (head removed)",
                last.seq
            ),
        )),
        (None, Some((head_seq, _))) => Err(broken(
            1,
            format!("no records but head says {head_seq} (records removed)"),
        )),
        (Some(last), Some((head_seq, head_hash))) => {
            if last.seq < head_seq {
                Err(broken(
                    last.seq + 1,
                    format!(
                        "chain ends at seq {} but head says {head_seq} (newest record removed)",
                        last.seq
                    ),
                ))
            } else if last.seq > head_seq {
                Err(broken(
                    head_seq + 1,
                    format!(
                        "chain continues to seq {} past head {head_seq} (records appended outside the store)",
                        last.seq
                    ),
                ))
            } else if last.hash != head_hash {
                Err(broken(
                    last.seq,
                    "hash differs from the head's (newest record replaced)",
                ))
            } else {
                Ok(records.len() as u64)
            }
        }
    }
}

/// Why [`audit_verify`] failed: the store could not be read, or the chain is broken.
#[derive(Debug, thiserror::Error)]
pub enum AuditVerifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Chain(#[from] AuditError),
}

/// Verifies the whole audit log of `store` against its head (what `signer-api audit verify` runs).
/// Returns the number of records checked.
///
/// The log and the head are separate reads; a head that is the same before and after reading the
/// log shows no append landed in between, so a live store is not misreported as tampered.
pub fn audit_verify(store: &dyn Store) -> Result<u64, AuditVerifyError> {
    const ATTEMPTS: usize = 100;
    for _ in 0..ATTEMPTS {
        let before = store.audit_head()?;
        let records = store.audit_log()?;
        if store.audit_head()? == before {
            let head = before.as_ref().map(|(seq, hash)| (*seq, hash.as_str()));
            return Ok(verify_chain(&records, head)?);
        }
    }
    Err(StoreError::Backend(format!(
        "audit log kept changing during {ATTEMPTS} verification attempts"
    ))
    .into())
}
