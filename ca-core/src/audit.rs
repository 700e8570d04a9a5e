//! Append-only, hash-chained audit records (DESIGN.md §5 invariant 2).
//!
//! Each record's hash covers its sequence number, its event and the previous record's hash, so an
//! edited, reordered or deleted record breaks the chain; the store keeps the head (last sequence and
//! hash) apart from the records so that removing the newest record is caught too.

use serde::{Deserialize, Serialize};

/// What happened. Serialized as lowercase strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Init,
    Issue,
    Revoke,
    Crl,
    CreateCredential,
    Sign,
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

impl AuditRecord {
    /// The record that follows `prev` (or starts the chain when `prev` is `None`).
    pub fn next(prev: Option<&AuditRecord>, event: AuditEvent) -> AuditRecord {
        let _ = (prev, event);
        todo!()
    }
}

/// Checks `records` (in stored order) form an unbroken chain ending at `head` (last seq, hash).
/// Returns the number of records checked.
pub fn verify_chain(records: &[AuditRecord], head: Option<(u64, &str)>) -> Result<u64, AuditError> {
    let _ = (records, head);
    todo!()
}
