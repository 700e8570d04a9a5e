//! Append-only, hash-chained audit records (DESIGN.md §5 invariant 2).
//!
//! Each record's hash covers its sequence number, its event and the previous record's hash, so an
//! edited, reordered or deleted record breaks the chain; the store keeps the head (last sequence and
//! hash) apart from the records so that removing the newest record is caught too.
//!
//! The hashes use no key, so whoever can write the store could recompute them all. Each record
//! therefore also carries a MAC (HMAC-SHA-256, RFC 2104) of its hash under the installation's
//! audit key ([`AuditKey`], sealed in the store like the CA keys): as the hash covers the previous
//! hash, a record's MAC authenticates the whole chain up to it. What a MAC cannot show is a log
//! cut short at an earlier, authentic record; a [`Checkpoint`] (a head signed with a key derived
//! from the audit key, kept by an auditor outside the service) can.

use crate::engine::seal::{SealError, Sealer};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::{digest, hkdf, hmac, signature};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// What happened. Serialized as lowercase strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// The CA hierarchy was initialised.
    Init,
    /// A certificate was issued.
    Issue,
    /// A certificate was revoked.
    Revoke,
    /// A revocation with reason certificateHold (suspension).
    Hold,
    /// A hold lifted.
    Release,
    /// A CRL was issued.
    Crl,
    /// A server-held signing credential was created.
    CreateCredential,
    /// A document was signed with a credential.
    Sign,
    /// An API token was created.
    CreateToken,
    /// An API token was revoked.
    RevokeToken,
    /// A signing attempt on a credential that was refused (the reason's name in the details).
    SignRefused,
    /// The audit key was created for a store that had none (a data directory made before the
    /// log was keyed); records before this one are chained but not authenticated.
    AuditKey,
    /// A time-stamp token was granted (RFC 3161): its serial, the imprint and the policy.
    Timestamp,
    /// The time-stamping authority's key and certificate were made for a store that had none.
    TsaKey,
    /// A CAdES signature was raised to a higher level (time-stamps, validation data): which
    /// signature, the level reached and the serials of the tokens added.
    Augment,
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
            AuditAction::SignRefused => "sign_refused",
            AuditAction::AuditKey => "audit_key",
            AuditAction::Timestamp => "timestamp",
            AuditAction::TsaKey => "tsa_key",
            AuditAction::Augment => "augment",
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
    /// What was done.
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
    /// The event recorded.
    pub event: AuditEvent,
    /// Hex SHA-256 of the previous record (64 zeros for the first).
    pub prev_hash: String,
    /// Hex SHA-256 over (seq, event, prev_hash) in a fixed encoding.
    pub hash: String,
    /// Hex HMAC-SHA-256 of `hash` under the audit key ([`AuditMac::tag`]); absent on records
    /// written before the store had an audit key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

/// An audit chain that does not verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuditError {
    /// Record `seq` breaks the chain (its hash, sequence or link), for `reason`.
    #[error("audit record {seq}: {reason}")]
    Broken {
        /// The first record that does not verify.
        seq: u64,
        /// What is wrong with it.
        reason: String,
    },
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
            mac: None,
        }
    }

    /// This record with its MAC under `key`, when there is a key.
    pub fn authenticated(mut self, key: Option<&AuditMac>) -> AuditRecord {
        self.mac = key.map(|k| k.tag(&self.hash));
        self
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
    let mut chain = ChainVerifier::new(None);
    for rec in records {
        chain.push(rec)?;
    }
    Ok(chain.finish(head)?.records)
}

/// [`verify_chain`] (and, given the MAC key, [`verify_macs`]) one record at a time, for logs
/// too long to hold (`store::copy` streams them): `push` each record in stored order, then
/// `finish` with the head.
pub(crate) struct ChainVerifier {
    /// Sequence number and hash of the last record pushed.
    prev: Option<(u64, String)>,
    records: u64,
    mac: Option<AuditMac>,
    /// The first record with a MAC, once one was pushed (with `mac` only).
    first_keyed: Option<u64>,
}

/// What [`ChainVerifier::finish`] established.
pub(crate) struct ChainSummary {
    /// Records checked.
    pub(crate) records: u64,
    /// The first authenticated record, when the MACs were checked.
    pub(crate) authenticated_from: Option<u64>,
}

impl ChainVerifier {
    /// Checks MACs too when given the key.
    pub(crate) fn new(mac: Option<&AuditMac>) -> Self {
        Self {
            prev: None,
            records: 0,
            mac: mac.cloned(),
            first_keyed: None,
        }
    }

    /// The next record of the log.
    pub(crate) fn push(&mut self, rec: &AuditRecord) -> Result<(), AuditError> {
        let expected = self.prev.as_ref().map_or(1, |p| p.0 + 1);
        if rec.seq != expected {
            return Err(broken(
                expected,
                format!(
                    "sequence gap (record deleted or reordered): found seq {} where {expected} belongs",
                    rec.seq
                ),
            ));
        }
        let expected_prev = self.prev.as_ref().map_or(GENESIS_HASH, |p| p.1.as_str());
        if rec.prev_hash != expected_prev {
            return Err(broken(
                rec.seq,
                "prev_hash does not match the previous record's hash (chain relinked)",
            ));
        }
        if rec.compute_hash() != rec.hash {
            return Err(broken(rec.seq, "hash mismatch (record edited)"));
        }
        if let Some(mac) = &self.mac {
            check_mac(rec, &mac.key(), &mut self.first_keyed)?;
        }
        self.prev = Some((rec.seq, rec.hash.clone()));
        self.records += 1;
        Ok(())
    }

    /// Ends the log at `head` (the store's, read at the same moment as the records).
    pub(crate) fn finish(self, head: Option<(u64, &str)>) -> Result<ChainSummary, AuditError> {
        match (&self.prev, head) {
            (None, None) => {}
            (Some((last, _)), None) => {
                return Err(broken(
                    *last,
                    format!("chain ends at seq {last} but no head is recorded (head removed)"),
                ));
            }
            (None, Some((head_seq, _))) => {
                return Err(broken(
                    1,
                    format!("no records but head says {head_seq} (records removed)"),
                ));
            }
            (Some((last, last_hash)), Some((head_seq, head_hash))) => {
                if *last < head_seq {
                    return Err(broken(
                        last + 1,
                        format!(
                            "chain ends at seq {last} but head says {head_seq} (newest record removed)"
                        ),
                    ));
                } else if *last > head_seq {
                    return Err(broken(
                        head_seq + 1,
                        format!(
                            "chain continues to seq {last} past head {head_seq} (records appended outside the store)"
                        ),
                    ));
                } else if last_hash != head_hash {
                    return Err(broken(
                        *last,
                        "hash differs from the head's (newest record replaced)",
                    ));
                }
            }
        }
        let authenticated_from = match (&self.mac, self.first_keyed, &self.prev) {
            (Some(_), None, Some((last, _))) => return Err(no_keyed_record(*last)),
            (Some(_), first, _) => first,
            (None, _, _) => None,
        };
        Ok(ChainSummary {
            records: self.records,
            authenticated_from,
        })
    }
}

/// Why `verify_log` failed: the chain is broken or not authentic, or the log does not extend a
/// checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum AuditVerifyError {
    /// The hash chain is broken.
    #[error(transparent)]
    Chain(#[from] AuditError),
    /// The checkpoint is malformed, of another key, or its signature does not verify.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The log ends below the checkpointed record.
    #[error(
        "the audit log was truncated: the checkpoint is at record {checkpoint}, the log ends at \
         record {log}"
    )]
    Truncated {
        /// The checkpointed record's sequence number.
        checkpoint: u64,
        /// The last record's sequence number.
        log: u64,
    },
    /// The log holds another record where the checkpoint was taken.
    #[error(
        "audit record {seq} is not the one checkpointed (hash {found}, checkpoint {checkpoint}): \
         the log was rewritten"
    )]
    Rewritten {
        /// The checkpointed record's sequence number.
        seq: u64,
        /// The hash of the record the log holds there (hex).
        found: String,
        /// The hash the checkpoint signed (hex).
        checkpoint: String,
    },
}

/// What `verify_log` established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditReport {
    /// Records checked.
    pub records: u64,
    /// The first record with a MAC: it and every later record are authenticated; earlier ones
    /// predate the audit key (chained only).
    pub authenticated_from: u64,
    /// The checkpointed record the log was shown to extend, if a checkpoint was given.
    pub checkpoint: Option<u64>,
}

/// Verifies an audit log (`records` in sequence order, read at one moment with the store's `head`)
/// with the audit key: the chain and head as [`verify_chain`], every record's MAC from the first
/// keyed one on, and, given a `checkpoint` signed by this key, that the log still holds the
/// checkpointed record unchanged (so it was neither rewritten nor truncated below it).
pub(crate) fn verify_log(
    records: &[AuditRecord],
    head: Option<(u64, &str)>,
    key: &AuditKey,
    checkpoint: Option<&Checkpoint>,
) -> Result<AuditReport, AuditVerifyError> {
    if let Some(checkpoint) = checkpoint {
        key.check(checkpoint)?;
    }
    if let Some(checkpoint) = checkpoint {
        let log = records.last().map_or(0, |r| r.seq);
        if log.max(head.map_or(0, |h| h.0)) < checkpoint.seq {
            return Err(AuditVerifyError::Truncated {
                checkpoint: checkpoint.seq,
                log,
            });
        }
    }
    let count = verify_chain(records, head)?;
    let authenticated_from = verify_macs(records, &key.mac())?;
    if let Some(checkpoint) = checkpoint {
        // The chain has no gap, so record n is at index n - 1.
        let index = usize::try_from(checkpoint.seq - 1).unwrap_or(usize::MAX);
        let found = records.get(index).map(|r| r.hash.as_str()).unwrap_or("");
        if found != checkpoint.hash {
            return Err(AuditVerifyError::Rewritten {
                seq: checkpoint.seq,
                found: found.to_owned(),
                checkpoint: checkpoint.hash.clone(),
            });
        }
    }
    Ok(AuditReport {
        records: count,
        authenticated_from,
        checkpoint: checkpoint.map(|c| c.seq),
    })
}

/// Checks the MACs of `records` (a chain [`verify_chain`] accepted) under `mac`: records before
/// the first keyed one predate the audit key; from it on every record must carry a valid MAC.
/// Returns the first keyed record's sequence number.
///
/// An intruder who rewrites a record must recompute the hashes after it, and every MAC from
/// there on then fails; one who strips the MACs leaves a keyed log with no keyed record, or an
/// unkeyed record after a keyed one. Only cutting the log short at an authentic record passes,
/// which is what checkpoints are for.
pub(crate) fn verify_macs(records: &[AuditRecord], mac: &AuditMac) -> Result<u64, AuditError> {
    let key = mac.key();
    let mut first = None;
    for record in records {
        check_mac(record, &key, &mut first)?;
    }
    first.ok_or_else(|| no_keyed_record(records.last().map_or(1, |r| r.seq)))
}

/// One record's part of [`verify_macs`]: `first` is the first keyed record seen so far.
fn check_mac(
    record: &AuditRecord,
    key: &hmac::Key,
    first: &mut Option<u64>,
) -> Result<(), AuditError> {
    match (&record.mac, *first) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(broken(
            record.seq,
            "no MAC after authenticated records (written without the audit key)",
        )),
        (Some(tag), _) => {
            let tag = hex::decode(tag).unwrap_or_default();
            if hmac::verify(key, &mac_input(&record.hash), &tag).is_err() {
                return Err(broken(
                    record.seq,
                    "MAC does not match (record rewritten, or not written with this \
                     installation's audit key)",
                ));
            }
            first.get_or_insert(record.seq);
            Ok(())
        }
    }
}

fn no_keyed_record(last: u64) -> AuditError {
    broken(
        last,
        "no record carries a MAC of the audit key (log rewritten without the key, or cut \
         short before the key's first record)",
    )
}

/// Domain tags: the MAC input and the key derivations (RFC 5869 info strings).
const MAC_TAG: &[u8] = b"hpki-audit-mac-v1\0";
const HKDF_SALT: &[u8] = b"hpki-audit-key-v1";
const INFO_MAC: &[u8] = b"record mac";
const INFO_CHECKPOINT: &[u8] = b"checkpoint signing key";

fn mac_input(hash: &str) -> Vec<u8> {
    let mut input = Vec::with_capacity(MAC_TAG.len() + hash.len());
    input.extend_from_slice(MAC_TAG);
    input.extend_from_slice(hash.as_bytes());
    input
}

/// The key that MACs audit records, derived from the `AuditKey`. `Debug` never shows it; it is
/// zeroized on drop.
#[derive(Clone)]
pub struct AuditMac(Zeroizing<[u8; AuditKey::LEN]>);

impl std::fmt::Debug for AuditMac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditMac(..)")
    }
}

impl AuditMac {
    /// ring's key is not zeroized on drop, so it lives for one operation (as in `seal`).
    fn key(&self) -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, self.0.as_ref())
    }

    /// Hex HMAC-SHA-256 of a record hash (hex), with a domain tag.
    pub fn tag(&self, hash: &str) -> String {
        hex::encode(hmac::sign(&self.key(), &mac_input(hash)))
    }
}

/// The installation's audit secret: 32 random octets, generated at init (or when a store made
/// before audit keys is opened) and stored sealed like the CA keys. Two keys are derived from it
/// with HKDF-SHA-256 (RFC 5869): the records' MAC key and the Ed25519 key that signs
/// checkpoints, so one sealed secret serves both and neither is ever stored. `Debug` never shows
/// it; it is zeroized on drop.
pub(crate) struct AuditKey(Zeroizing<[u8; AuditKey::LEN]>);

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("AuditKey").field(&self.key_id()).finish()
    }
}

impl AuditKey {
    /// Length of the secret.
    pub(crate) const LEN: usize = 32;

    /// A fresh random secret.
    pub(crate) fn generate() -> Result<Self, SealError> {
        Ok(Self(Zeroizing::new(Sealer::random_bytes()?)))
    }

    /// The secret as unsealed from the store; `None` unless it is [`AuditKey::LEN`] octets.
    pub(crate) fn from_secret(secret: &[u8]) -> Option<Self> {
        Some(Self(Zeroizing::new(secret.try_into().ok()?)))
    }

    /// The secret, to be sealed; never stored or shown otherwise.
    pub(crate) fn secret(&self) -> &[u8] {
        self.0.as_ref()
    }

    fn derive(&self, info: &[u8]) -> Zeroizing<[u8; Self::LEN]> {
        let mut out = Zeroizing::new([0u8; Self::LEN]);
        hkdf::Salt::new(hkdf::HKDF_SHA256, HKDF_SALT)
            .extract(self.0.as_ref())
            .expand(&[info], hkdf::HKDF_SHA256)
            .and_then(|okm| okm.fill(out.as_mut()))
            .expect("HKDF-SHA-256 yields 32 octets");
        out
    }

    /// The key that MACs records.
    pub(crate) fn mac(&self) -> AuditMac {
        AuditMac(self.derive(INFO_MAC))
    }

    fn signing_key(&self) -> signature::Ed25519KeyPair {
        signature::Ed25519KeyPair::from_seed_unchecked(self.derive(INFO_CHECKPOINT).as_ref())
            .expect("any 32 octets are an Ed25519 seed")
    }

    /// The raw Ed25519 public key that verifies checkpoints (RFC 8032).
    pub(crate) fn public_key(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(signature::KeyPair::public_key(&self.signing_key()).as_ref());
        out
    }

    /// Hex SHA-256 of [`AuditKey::public_key`]: names the audit key in records and checkpoints,
    /// reveals nothing of it.
    pub(crate) fn key_id(&self) -> String {
        hex::encode(digest::digest(&digest::SHA256, &self.public_key()))
    }

    /// A checkpoint of the record `seq` with `hash` (the head), taken at `now` (Unix seconds).
    pub(crate) fn checkpoint(&self, seq: u64, hash: &str, now: u64) -> Checkpoint {
        let mut checkpoint = Checkpoint {
            format: CHECKPOINT_FORMAT.to_owned(),
            seq,
            hash: hash.to_owned(),
            time: crate::engine::time::rfc3339(now),
            key_id: self.key_id(),
            public_key: public_key_pem(&self.public_key()),
            signature: String::new(),
        };
        checkpoint.signature = B64.encode(self.signing_key().sign(&checkpoint.signed_message()));
        checkpoint
    }

    /// Checks that `checkpoint` was signed by this audit key.
    pub(crate) fn check(&self, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
        if checkpoint.format != CHECKPOINT_FORMAT {
            return Err(CheckpointError::Malformed(format!(
                "format {:?}, expected {CHECKPOINT_FORMAT:?}",
                checkpoint.format
            )));
        }
        let ours = self.key_id();
        if checkpoint.key_id != ours || checkpoint.public_key != public_key_pem(&self.public_key())
        {
            return Err(CheckpointError::OtherKey {
                checkpoint: checkpoint.key_id.clone(),
                ours,
            });
        }
        let signature_bytes = B64
            .decode(checkpoint.signature.as_bytes())
            .map_err(|_| CheckpointError::Malformed("signature is not base64".into()))?;
        signature::UnparsedPublicKey::new(&signature::ED25519, self.public_key())
            .verify(&checkpoint.signed_message(), &signature_bytes)
            .map_err(|_| CheckpointError::BadSignature)
    }
}

/// `format` of a version-1 checkpoint, and the first line of its signed message.
pub(crate) const CHECKPOINT_FORMAT: &str = "hpki-audit-checkpoint-v1";
/// Largest checkpoint file parsed (a real one is under 1 KiB).
pub(crate) const MAX_CHECKPOINT_LEN: usize = 16 * 1024;

/// A signed audit head for an auditor to keep: later, `audit verify --checkpoint` proves the log
/// still holds this record unchanged. Signed with Ed25519 (RFC 8032) by a key derived from the
/// audit key, not with a CA key: CA keys certify (keyCertSign, cRLSign; RFC 5280 §4.2.1.3) and
/// sign nothing else. The public key travels in the file so that an auditor can check the
/// signature with OpenSSL, and its id is in the log (the `init` or `audit_key` record), so a
/// checkpoint signed by another key is refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// The file format: always `hpki-audit-checkpoint-v1` (`CHECKPOINT_FORMAT`).
    pub format: String,
    /// Sequence number of the checkpointed record (the head when it was taken).
    pub seq: u64,
    /// Its hash (hex).
    pub hash: String,
    /// When it was taken, RFC 3339 UTC.
    pub time: String,
    /// `AuditKey::key_id` of the signing key.
    pub key_id: String,
    /// The Ed25519 public key, PEM SubjectPublicKeyInfo (RFC 8410).
    pub public_key: String,
    /// Base64 Ed25519 signature over [`Checkpoint::signed_message`].
    pub signature: String,
}

impl Checkpoint {
    /// The signed octets: `format`, `seq` (decimal), `hash` and `time`, each followed by a line
    /// feed (`printf '%s\n%s\n%s\n%s\n'` reproduces it for `openssl pkeyutl -verify -rawin`).
    pub fn signed_message(&self) -> Vec<u8> {
        format!(
            "{}\n{}\n{}\n{}\n",
            self.format, self.seq, self.hash, self.time
        )
        .into_bytes()
    }

    /// Parses a checkpoint file (JSON), refusing anything malformed.
    pub fn from_json(bytes: &[u8]) -> Result<Self, CheckpointError> {
        if bytes.len() > MAX_CHECKPOINT_LEN {
            return Err(CheckpointError::Malformed(format!(
                "{} bytes; a checkpoint is at most {MAX_CHECKPOINT_LEN}",
                bytes.len()
            )));
        }
        let checkpoint: Checkpoint =
            serde_json::from_slice(bytes).map_err(|e| CheckpointError::Malformed(e.to_string()))?;
        let hex64 = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
        if checkpoint.seq == 0 || !hex64(&checkpoint.hash) || !hex64(&checkpoint.key_id) {
            return Err(CheckpointError::Malformed(
                "seq must be at least 1, hash and key_id 64 hex digits".into(),
            ));
        }
        crate::engine::time::parse_rfc3339(&checkpoint.time)
            .map_err(|e| CheckpointError::Malformed(format!("time: {e}")))?;
        Ok(checkpoint)
    }

    /// The checkpoint as the JSON file an auditor keeps.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a checkpoint serializes") + "\n"
    }
}

/// Why a checkpoint was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Not a checkpoint file (the cause).
    #[error("malformed checkpoint: {0}")]
    Malformed(String),
    /// Signed under another audit key than this installation's (key ids).
    #[error(
        "the checkpoint was signed by audit key {checkpoint}, not by this installation's \
         ({ours}): it belongs to another installation, or the audit key was replaced"
    )]
    OtherKey {
        /// The key id the checkpoint names.
        checkpoint: String,
        /// This installation's key id.
        ours: String,
    },
    /// The signature does not verify over the checkpoint's content.
    #[error("the checkpoint's signature does not verify: the file was altered")]
    BadSignature,
}

/// PEM SubjectPublicKeyInfo of a raw Ed25519 public key (RFC 8410 §4: AlgorithmIdentifier
/// id-Ed25519 with absent parameters, then the 32 octets as a BIT STRING).
fn public_key_pem(raw: &[u8; 32]) -> String {
    const SPKI_PREFIX: [u8; 12] = [
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    let mut der = SPKI_PREFIX.to_vec();
    der.extend_from_slice(raw);
    x509_cert::der::pem::encode_string("PUBLIC KEY", x509_cert::der::pem::LineEnding::LF, &der)
        .expect("PEM of 44 octets")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> AuditKey {
        AuditKey::from_secret(&[byte; AuditKey::LEN]).unwrap()
    }

    fn event(n: u64) -> AuditEvent {
        AuditEvent {
            time: 1_700_000_000 + n,
            actor: "cli".into(),
            action: AuditAction::Issue,
            object: format!("certificate:{n:02x}"),
            details: vec![("profile".into(), "rhp-sign".into())],
        }
    }

    /// `n` records; those from `keyed_from` on carry a MAC under `key`.
    fn chain(n: u64, keyed_from: u64, key: &AuditKey) -> Vec<AuditRecord> {
        let mac = key.mac();
        let mut out: Vec<AuditRecord> = Vec::new();
        for i in 1..=n {
            let keyed = (i >= keyed_from).then_some(&mac);
            out.push(AuditRecord::next(out.last(), event(i)).authenticated(keyed));
        }
        out
    }

    /// Rechains `records` from index `from` on as an intruder without the key would: fresh
    /// unkeyed hashes, the old MACs left in place.
    fn rechain(records: &mut [AuditRecord], from: usize) {
        for i in from..records.len() {
            let prev = (i > 0).then(|| records[i - 1].clone());
            let mac = records[i].mac.clone();
            records[i] = AuditRecord::next(prev.as_ref(), records[i].event.clone());
            records[i].mac = mac;
        }
    }

    #[test]
    fn macs_authenticate_from_the_first_keyed_record() {
        let k = key(1);
        assert_eq!(verify_macs(&chain(5, 1, &k), &k.mac()), Ok(1));
        // A store keyed later: the records before are chained only.
        assert_eq!(verify_macs(&chain(5, 3, &k), &k.mac()), Ok(3));
    }

    #[test]
    fn a_rewrite_with_recomputed_hashes_fails_the_macs() {
        let k = key(1);
        let mut records = chain(5, 1, &k);
        records[1].event.actor = "cl1".into();
        rechain(&mut records, 1);
        let last = records.last().unwrap();
        // The unkeyed chain is perfect again: only the MAC tells.
        assert_eq!(
            verify_chain(&records, Some((last.seq, last.hash.as_str()))),
            Ok(5)
        );
        let err = verify_macs(&records, &k.mac()).unwrap_err();
        assert!(
            matches!(&err, AuditError::Broken { seq: 2, reason } if reason.contains("MAC does not match")),
            "{err}"
        );
    }

    #[test]
    fn stripped_or_foreign_macs_are_refused() {
        let k = key(1);
        // Every MAC stripped (a log rewritten without the key).
        let mut stripped = chain(4, 1, &k);
        for r in &mut stripped {
            r.mac = None;
        }
        let err = verify_macs(&stripped, &k.mac()).unwrap_err();
        assert!(err.to_string().contains("no record carries a MAC"), "{err}");
        // An unkeyed record appended after keyed ones.
        let mut tail = chain(4, 1, &k);
        tail[3].mac = None;
        assert!(matches!(
            verify_macs(&tail, &k.mac()),
            Err(AuditError::Broken { seq: 4, .. })
        ));
        // Another installation's key.
        assert!(matches!(
            verify_macs(&chain(4, 1, &key(2)), &k.mac()),
            Err(AuditError::Broken { seq: 1, .. })
        ));
    }

    /// The derivations are a stored format: a change would make every existing log and
    /// checkpoint fail to verify. The pinned values were computed with OpenSSL 3.0, not with this
    /// code: `openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt hexkey:0707… -kdfopt
    /// salt:hpki-audit-key-v1 -kdfopt info:"record mac" HKDF`, then `openssl dgst -sha256 -mac
    /// HMAC` of the tagged genesis hash; the key id is SHA-256 of the Ed25519 public key that
    /// `openssl pkey` derives from the "checkpoint signing key" seed.
    #[test]
    fn derived_keys_are_pinned() {
        let k = key(7);
        assert_eq!(k.key_id(), PINNED_KEY_ID);
        assert_eq!(k.mac().tag(GENESIS_HASH), PINNED_TAG);
    }
    const PINNED_KEY_ID: &str = "5a696a87e2876ac169110cfb53b912be0672681606f18926a3f99e511ae23b2c";
    const PINNED_TAG: &str = "c8d1b5f92064b5c541a8e92748c30791323daa41cb057f4b3f08aa9d02b0a65c";

    #[test]
    fn checkpoints_are_signed_by_the_audit_key() {
        let k = key(1);
        let cp = k.checkpoint(42, &"ab".repeat(32), 1_765_000_000);
        assert_eq!(cp.time, "2025-12-06T05:46:40Z");
        k.check(&cp).unwrap();
        let parsed = Checkpoint::from_json(cp.to_json().as_bytes()).unwrap();
        assert_eq!(parsed, cp);
        // Any signed field altered.
        for edit in [
            (|c: &mut Checkpoint| c.seq = 41) as fn(&mut Checkpoint),
            |c| c.hash = "cd".repeat(32),
            |c| c.time = "2025-12-06T05:46:41Z".into(),
        ] {
            let mut forged = cp.clone();
            edit(&mut forged);
            assert!(matches!(
                k.check(&forged),
                Err(CheckpointError::BadSignature)
            ));
        }
        // Another installation's checkpoint.
        assert!(matches!(
            key(2).check(&cp),
            Err(CheckpointError::OtherKey { .. })
        ));
        // Malformed files are refused before any key is used.
        for bad in [
            &b"not json"[..],
            br#"{"format":"hpki-audit-checkpoint-v1"}"#,
            cp.to_json().replace("\"seq\": 42", "\"seq\": 0").as_bytes(),
            cp.to_json()
                .replace(&cp.time, "2025-12-06T05:46:40+0\u{e9}00")
                .as_bytes(),
        ] {
            assert!(matches!(
                Checkpoint::from_json(bad),
                Err(CheckpointError::Malformed(_))
            ));
        }
    }

    /// An auditor can check a checkpoint with OpenSSL alone, as the README shows.
    #[test]
    fn openssl_verifies_a_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let cp = key(3).checkpoint(9, &"0f".repeat(32), 1_765_000_000);
        let (public, message, sig) = (
            dir.path().join("audit.pub"),
            dir.path().join("message"),
            dir.path().join("sig"),
        );
        std::fs::write(&public, &cp.public_key).unwrap();
        std::fs::write(&message, cp.signed_message()).unwrap();
        std::fs::write(&sig, B64.decode(&cp.signature).unwrap()).unwrap();
        let out = std::process::Command::new("openssl")
            .args(["pkeyutl", "-verify", "-pubin", "-rawin", "-inkey"])
            .arg(&public)
            .arg("-in")
            .arg(&message)
            .arg("-sigfile")
            .arg(&sig)
            .output()
            .expect("the openssl CLI is required by this test");
        assert!(out.status.success(), "{out:?}");
    }
}
