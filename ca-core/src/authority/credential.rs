//! Server-held signing credentials and document signing (DESIGN.md §4, sign flow): the key is made
//! in the service, its certificate issued through the same profile checks as any other, the key
//! sealed at rest; signing checks ownership, validity, revocation and the role gate, and audits
//! before returning.

use crate::engine::audit::{AuditAction, AuditEvent, AuditRecord};
use crate::engine::authority::augment::{
    AugmentError, Content, TimestampSource, Token, ValidationData,
};
use crate::engine::authority::{Authority, AuthorityError, Prepared, PublicKeySource};
use crate::engine::cades::Level;
use crate::engine::digest::DigestAlgorithm;
use crate::engine::hcrole::HcRole;
use crate::engine::issue::Registration;
use crate::engine::key::{KeyAlgorithm, KeyError, SigningKey};
use crate::engine::purpose::{PurposeError, SigningPolicy};
use crate::engine::seal::SealError;
use crate::engine::sign::{PreparedSigner, SignError, SignatureParams};
use crate::engine::store::{
    CertificateRecord, CredentialRecord, RevocationReason, Store, StoreError,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use x509_cert::Certificate;
use x509_cert::der::Decode;
use x509_cert::ext::pkix::{KeyUsage, KeyUsages};

/// Credential ids are `cred_` and 8 random octets in hex: unguessable enough for an identifier
/// (authorisation is the owner check, not secrecy of the id).
const ID_PREFIX: &str = "cred_";
const ID_RANDOM_LEN: usize = 8;
/// Longest credential id looked up: a request value, so bounded before it reaches the store.
const MAX_ID_LEN: usize = 64;
/// Longest claimed role accepted: it is signed into the CMS and written to the audit log.
pub const MAX_CLAIMED_ROLE_LEN: usize = 256;
/// Unsealed keys kept at most; beyond it the cache starts over (cheap, and bounds memory).
const KEY_CACHE_CAPACITY: usize = 4096;

/// A credential's unsealed key and, once it has signed, its [`PreparedSigner`] (encoded
/// certificates, sid, ESS attribute): both fixed for the credential's life.
#[derive(Clone)]
pub(crate) struct CachedKey {
    key: Arc<SigningKey>,
    prepared: Option<Arc<PreparedSigner>>,
}

/// Per-credential values that never change once the credential exists, by credential id (see
/// `Authority::credential_keys` and `Authority::signing_credentials`).
pub(crate) struct CredentialCache<T>(Mutex<HashMap<String, T>>);

impl<T> Default for CredentialCache<T> {
    fn default() -> Self {
        Self(Mutex::default())
    }
}

impl<T: Clone> CredentialCache<T> {
    fn get(&self, id: &str) -> Option<T> {
        self.0.lock().ok()?.get(id).cloned()
    }
    fn put(&self, id: &str, value: T) {
        // A poisoned lock only loses the cache; signing still works by loading again.
        if let Ok(mut map) = self.0.lock() {
            if map.len() >= KEY_CACHE_CAPACITY {
                map.clear();
            }
            map.insert(id.to_owned(), value);
        }
    }
}

fn digest_name(algorithm: DigestAlgorithm) -> &'static str {
    match algorithm {
        DigestAlgorithm::Sha256 => "sha256",
        DigestAlgorithm::Sha384 => "sha384",
        DigestAlgorithm::Sha512 => "sha512",
        // Never a credential's (`DigestAlgorithm::for_algorithm`); named for completeness.
        DigestAlgorithm::Sha1 => "sha1",
        DigestAlgorithm::Sha224 => "sha224",
    }
}

/// A credential as callers see it (never the key).
#[derive(Clone, Debug)]
pub struct Credential {
    /// Its id (random hex).
    pub id: String,
    /// The practitioner id that may sign with it.
    pub owner: String,
    /// Id of the profile its certificate was issued under.
    pub profile: String,
    /// Its certificate's serialNumber content octets.
    pub serial: Vec<u8>,
    /// DER of the certificate, then its chain (issuing CA first, root last).
    pub certificate: Vec<u8>,
    /// DER, issuing CA first, root last.
    pub chain: Vec<Vec<u8>>,
    /// The hcRoles its certificate carries.
    pub hc_roles: Vec<HcRole>,
    /// Algorithm of its key.
    pub key_algorithm: KeyAlgorithm,
    /// Unix seconds.
    pub not_after: u64,
}

impl Credential {
    /// The digest algorithm documents must be hashed with for this credential.
    pub fn digest_algorithm(&self) -> DigestAlgorithm {
        DigestAlgorithm::for_algorithm(self.key_algorithm)
    }
}

/// The profile of a new credential whose registration names none: a regulated health
/// professional's signing certificate (ISO 17090-2).
pub const DEFAULT_PROFILE: &str = "rhp-sign";
/// Longest practitioner identity that may own a credential, in characters.
pub const MAX_OWNER_LEN: usize = 128;

/// A request to create a credential.
#[derive(Clone, Debug)]
pub struct NewCredential {
    /// Practitioner identity that will own it. When the subject has a serialNumber, the identity
    /// a practitioner's authentication certificate maps to (`client_auth`), it must be that; when
    /// absent, it is that.
    pub owner: Option<String>,
    /// Subject, hcRole and profile (a signing profile: rhp-sign, org-seal, …).
    pub registration: Registration,
    /// Algorithm of the key made for it.
    pub key_algorithm: KeyAlgorithm,
}

/// One document to sign with a [`Signer`]. `Debug` shows the attached content's size, never its
/// bytes.
#[derive(Clone)]
pub struct SignDocument<'a> {
    /// The document's digest.
    pub digest: &'a [u8],
    /// The algorithm `digest` was made with (the credential's, see `Credential::digest_algorithm`).
    pub digest_algorithm: DigestAlgorithm,
    /// Purpose name (see `SigningPolicy::purposes`).
    pub purpose: &'a str,
    /// A role the signer claims, put into the CAdES signer-attributes-v2 attribute (ETSI EN 319 122-1 §5.2.6.1).
    pub claimed_role: Option<&'a str>,
    /// Encapsulate this content; `None` for a detached signature.
    pub attached: Option<&'a [u8]>,
    /// The CAdES level to sign at (EN 319 122-1): B-B, or B-T and above with a time-stamp from
    /// the authority's time-stamp source (see [`Authority::default_level`]).
    pub level: Level,
}

impl std::fmt::Debug for SignDocument<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignDocument")
            .field("digest", &hex::encode(self.digest))
            .field("digest_algorithm", &self.digest_algorithm)
            .field("purpose", &self.purpose)
            .field("claimed_role", &self.claimed_role)
            .field("attached_bytes", &self.attached.map(<[u8]>::len))
            .field("level", &self.level)
            .finish()
    }
}

/// Why a client-chosen string, to be signed or written to the audit log, was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientTextError {
    /// A text longer than its limit.
    #[error("{field} is {len} characters; the limit is {max}")]
    TooLong {
        /// The request field.
        field: &'static str,
        /// Its length in characters.
        len: usize,
        /// The limit in characters.
        max: usize,
    },
    /// A text holding a character that is refused.
    #[error(
        "{field} holds U+{code:04X} at character {index}: control, bidirectional-formatting and \
         separator characters are refused"
    )]
    Forbidden {
        /// The request field.
        field: &'static str,
        /// The code point.
        code: u32,
        /// Its index, in characters.
        index: usize,
    },
}

/// Checks a client-chosen string (`field` names it in the refusal) before it is signed or written
/// to the audit log, where a relying party or an auditor must read what was meant: at most `max`
/// characters, no C0/C1 control (NUL, ESC, line breaks), no Unicode bidirectional formatting character
/// (U+202E shows the text after it reversed; Unicode UAX #9 §2), no line or paragraph separator.
pub fn check_client_text(
    field: &'static str,
    value: &str,
    max: usize,
) -> Result<(), ClientTextError> {
    // Characters, as JSON Schema's maxLength counts them (the OpenAPI document states the limit).
    let len = value.chars().count();
    if len > max {
        return Err(ClientTextError::TooLong { field, len, max });
    }
    let forbidden = |c: char| {
        c.is_control()
            || matches!(
                c,
                '\u{061C}'
                    | '\u{200E}'
                    | '\u{200F}'
                    | '\u{202A}'..='\u{202E}'
                    | '\u{2066}'..='\u{2069}'
                    | '\u{2028}'
                    | '\u{2029}'
            )
    };
    match value.chars().enumerate().find(|(_, c)| forbidden(*c)) {
        Some((index, c)) => Err(ClientTextError::Forbidden {
            field,
            code: u32::from(c),
            index,
        }),
        None => Ok(()),
    }
}

/// A credential opened for signing by its owner ([`Authority::signer`]): the one way to sign.
/// It holds what does not change (the credential, its certificate, who opened it); every check
/// that can change (revocation, validity, profile, role gate) is made by [`Authority::sign`] for
/// each document. Cheap to clone and `'static`, so it can wait while a document streams in.
#[derive(Clone)]
pub struct Signer {
    loaded: SigningCredential,
    /// The practitioner who opened it (its owner).
    practitioner: Arc<str>,
    /// Who the audit log names (`token:<id>`, `certificate:<ca>:<serial>`); never a secret.
    actor: Arc<str>,
}

impl Signer {
    /// The digest algorithm documents must be hashed with for this credential.
    pub fn digest_algorithm(&self) -> DigestAlgorithm {
        self.loaded.0.digest_algorithm
    }

    /// The credential's id.
    pub fn credential(&self) -> &str {
        &self.loaded.0.credential.id
    }
}

/// A loaded credential, as the cache keeps it.
#[derive(Clone)]
pub(crate) struct SigningCredential(Arc<LoadedCredential>);

/// The stored credential, its certificate record as read at load time and the parsed
/// certificate. None of it changes after creation except the record's revocation, which
/// `Authority::sign` reads afresh from the revocation index.
pub(crate) struct LoadedCredential {
    credential: CredentialRecord,
    record: CertificateRecord,
    certificate: Certificate,
    digest_algorithm: DigestAlgorithm,
}

/// A signature made. `Debug` shows the CMS's size only: an attached signature holds the document.
#[derive(Clone)]
pub struct Signed {
    /// DER ContentInfo (SignedData).
    pub cms: Vec<u8>,
    /// Serial of the credential's certificate (content octets).
    pub serial: Vec<u8>,
    /// Sequence number of the signature's audit record.
    pub audit_seq: u64,
    /// The level it was made at.
    pub level: Level,
}

/// A signature whose audit record is not yet durable: never handed out as it is.
struct Unaudited {
    cms: Vec<u8>,
    serial: Vec<u8>,
    level: Level,
    /// What is still to be done to reach `level` above B-B.
    raise: Option<Box<Raise>>,
}

/// The time-stamps and validation data a signature above B-B still needs (done by `wait` or
/// `then` on the caller's thread, before any audit record is queued).
struct Raise {
    source: Option<TimestampSource>,
    /// The digest of a detached document (an archive time-stamp covers it).
    digest: Option<(DigestAlgorithm, Vec<u8>)>,
    now: u64,
    actor: String,
}

impl Unaudited {
    fn audited(self, record: &AuditRecord) -> Signed {
        Signed {
            cms: self.cms,
            serial: self.serial,
            audit_seq: record.seq,
            level: self.level,
        }
    }

    /// Raises the signature to its level: its tokens' audit events, then `event` naming the
    /// level and the tokens.
    fn raise<S: Store>(
        mut self,
        authority: &Authority<S>,
        mut event: AuditEvent,
    ) -> Result<(Self, Vec<AuditEvent>), CredentialError> {
        let Some(raise) = self.raise.take() else {
            return Ok((self, vec![event]));
        };
        let content = match &raise.digest {
            Some((hash, digest)) => Content::Digest(*hash, digest),
            None => Content::Bytes(None),
        };
        let mut tokens: Vec<Token> = Vec::new();
        self.cms = authority.raise(
            std::mem::take(&mut self.cms),
            content,
            &[(0, Level::BB)],
            self.level,
            &ValidationData::default(),
            raise.source.as_ref(),
            raise.now,
            &raise.actor,
            &mut tokens,
        )?;
        let serials: Vec<String> = tokens.iter().map(|t| hex::encode(&t.serial)).collect();
        event
            .details
            .push(("level".to_owned(), self.level.as_str().to_owned()));
        event
            .details
            .push(("timestamps".to_owned(), serials.join(",")));
        if let Some(source) = &raise.source {
            event
                .details
                .push(("tsa".to_owned(), source.name().to_owned()));
        }
        let mut events: Vec<AuditEvent> = tokens.into_iter().filter_map(|t| t.event).collect();
        events.push(event);
        Ok((self, events))
    }
}

/// A signature made, or a refusal, whose audit record is not yet durable
/// ([`Authority::sign`]): the signature is handed out, or the refusal answered, only once it is.
#[must_use = "a signature is handed out only once its audit record is durable: wait() or then()"]
pub struct PendingSignature<'a, S: Store> {
    authority: &'a Authority<S>,
    outcome: Result<(Unaudited, AuditEvent), (CredentialError, Option<AuditEvent>)>,
}

impl<S: Store> PendingSignature<'_, S> {
    /// Raises the signature to its level (a foreign TSA is asked on this thread), then blocks
    /// until its audit records (the tokens', then the signature's) are durable, then hands out
    /// the signature (or the refusal).
    pub fn wait(self) -> Result<Signed, CredentialError> {
        let store = &self.authority.store;
        match self.outcome {
            // B-B: one record, nothing more allocated (the hot path the benches measure).
            Ok((unaudited, event)) if unaudited.raise.is_none() => {
                Ok(unaudited.audited(&store.append_audit(event)?))
            }
            Ok((unaudited, event)) => {
                let (unaudited, events) = unaudited.raise(self.authority, event)?;
                let mut last = None;
                for event in events {
                    last = Some(store.append_audit(event)?);
                }
                let record = last.ok_or_else(|| StoreError::Corrupt("no audit record".into()))?;
                Ok(unaudited.audited(&record))
            }
            Err((refused, None)) => Err(refused),
            Err((refused, Some(event))) => {
                store.append_audit(event)?;
                Err(refused)
            }
        }
    }

    /// For an async caller: `done` gets the signature (or the refusal) once its audit records
    /// are durable, never before. A level above B-B is reached first on this thread: quick with
    /// the built-in TSA at B-T ([`Authority::signs_inline`]); other levels may wait on the
    /// network or the store, so call `wait` off the executor for them. The tokens' records and
    /// the signature's are queued together, so they join the same group commit. `done` may run
    /// on the store's writer thread: keep it quick (send on a channel).
    pub fn then(self, done: impl FnOnce(Result<Signed, CredentialError>) + Send + 'static) {
        let store = &self.authority.store;
        match self.outcome {
            // B-B: one record, nothing more allocated (the hot path the benches measure).
            Ok((unaudited, event)) if unaudited.raise.is_none() => store.append_audit_then(
                event,
                Box::new(move |outcome| {
                    done(outcome.map_err(Into::into).map(|a| unaudited.audited(&a)))
                }),
            ),
            Ok((unaudited, event)) => {
                let (unaudited, mut events) = match unaudited.raise(self.authority, event) {
                    Ok(raised) => raised,
                    Err(e) => return done(Err(e)),
                };
                let Some(event) = events.pop() else {
                    return done(Err(StoreError::Corrupt("no audit record".into()).into()));
                };
                // The writer commits in queue order and calls back in order: a token record
                // that failed is known before the signature's callback runs.
                let failed: Arc<Mutex<Option<StoreError>>> = Arc::default();
                for token_event in events {
                    let failed = failed.clone();
                    store.append_audit_then(
                        token_event,
                        Box::new(move |outcome| {
                            if let (Err(e), Ok(mut slot)) = (outcome, failed.lock()) {
                                slot.get_or_insert(e);
                            }
                        }),
                    );
                }
                store.append_audit_then(
                    event,
                    Box::new(move |outcome| {
                        let earlier = failed.lock().ok().and_then(|mut slot| slot.take());
                        done(match (earlier, outcome) {
                            (Some(e), _) | (None, Err(e)) => Err(e.into()),
                            (None, Ok(record)) => Ok(unaudited.audited(&record)),
                        })
                    }),
                )
            }
            Err((refused, None)) => done(Err(refused)),
            Err((refused, Some(event))) => store.append_audit_then(
                event,
                Box::new(move |outcome| {
                    done(Err(match outcome {
                        Ok(_) => refused,
                        Err(e) => e.into(),
                    }))
                }),
            ),
        }
    }
}

impl std::fmt::Debug for Signed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signed")
            .field("cms_bytes", &self.cms.len())
            .field("serial", &hex::encode(&self.serial))
            .field("audit_seq", &self.audit_seq)
            .field("level", &self.level)
            .finish()
    }
}

/// Why the owner of a new credential was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OwnerError {
    /// The owner named is not the subject's serialNumber.
    #[error("owner {given:?} differs from the subject serialNumber {subject:?}")]
    Mismatch {
        /// The owner named.
        given: String,
        /// The subject's serialNumber.
        subject: String,
    },
    /// Neither an owner nor a subject serialNumber.
    #[error("give an owner or a subject serialNumber")]
    Missing,
    /// Not printable text, or too long.
    #[error(transparent)]
    Text(#[from] ClientTextError),
}

/// Why a credential operation failed; `refusal` names the refusals of a signing attempt.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// No credential with that id.
    #[error("no credential {0:?}")]
    NotFound(String),
    /// The caller does not own the credential.
    #[error("credential {0:?} belongs to another practitioner")]
    NotOwner(String),
    /// The credential's certificate is revoked.
    #[error("the certificate of credential {0:?} is revoked")]
    Revoked(String),
    /// The credential's certificate is on hold.
    #[error("the certificate of credential {0:?} is on hold (certificateHold)")]
    OnHold(String),
    /// A CA above the credential's certificate is revoked.
    #[error("credential {credential:?} is under CA {ca:?}, which is revoked")]
    CaRevoked {
        /// The credential's id.
        credential: String,
        /// The revoked CA's id.
        ca: String,
    },
    /// Outside its certificate's validity.
    #[error("the certificate of credential {0:?} is expired or not yet valid")]
    OutOfValidity(String),
    /// The credential's profile does not sign documents.
    #[error("profile {0} is not a document-signing profile (keyUsage lacks nonRepudiation)")]
    NotSigningProfile(String),
    /// A client text (claimed role) is too long or holds a refused character.
    #[error(transparent)]
    ClientText(#[from] ClientTextError),
    /// The new credential's owner was refused.
    #[error(transparent)]
    Owner(#[from] OwnerError),
    /// The credential key does not load or sign.
    #[error("credential key: {0}")]
    Key(#[from] KeyError),
    /// The credential key does not seal or unseal.
    #[error("credential key: {0}")]
    Seal(#[from] SealError),
    /// The digest was made with another algorithm than the key's.
    #[error("credential key needs a {want:?} digest, got {got:?}")]
    DigestAlgorithm {
        /// The credential's algorithm.
        want: DigestAlgorithm,
        /// The algorithm the request named.
        got: DigestAlgorithm,
    },
    /// Unknown purpose, or the role × purpose gate refuses.
    #[error(transparent)]
    Purpose(#[from] PurposeError),
    /// The CMS could not be made (e.g. a digest of the wrong length).
    #[error(transparent)]
    Sign(#[from] SignError),
    /// The authority failed (issuing the credential's certificate, its CA).
    #[error(transparent)]
    Authority(#[from] AuthorityError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The level asked for could not be reached: no TSA configured, or the TSA failed.
    #[error(transparent)]
    Level(#[from] AugmentError),
}

/// Why a signing attempt on an existing credential was refused, as the `sign_refused` audit
/// record names it: stable names, part of the audit log's vocabulary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignRefusal {
    /// The caller does not own the credential.
    NotOwner,
    /// Its certificate is revoked.
    Revoked,
    /// Its certificate is on hold.
    OnHold,
    /// A CA above it is revoked.
    CaRevoked,
    /// Outside its certificate's validity.
    OutsideValidity,
    /// Its profile does not sign documents.
    NotSigningProfile,
    /// The digest's algorithm is not the key's.
    WrongDigestAlgorithm,
    /// The digest's length is not its algorithm's.
    WrongDigestLength,
    /// The claimed role is too long or holds a refused character.
    InvalidClaimedRole,
    /// The purpose is not in the signing policy.
    UnknownPurpose,
    /// The signing policy's role × purpose gate: the certified roles may not sign for it.
    RoleGate,
}

impl SignRefusal {
    /// The name in the audit record.
    pub fn name(self) -> &'static str {
        match self {
            Self::NotOwner => "not_owner",
            Self::Revoked => "revoked",
            Self::OnHold => "on_hold",
            Self::CaRevoked => "ca_revoked",
            Self::OutsideValidity => "outside_validity",
            Self::NotSigningProfile => "not_signing_profile",
            Self::WrongDigestAlgorithm => "wrong_digest_algorithm",
            Self::WrongDigestLength => "wrong_digest_length",
            Self::InvalidClaimedRole => "invalid_claimed_role",
            Self::UnknownPurpose => "unknown_purpose",
            Self::RoleGate => "role_gate",
        }
    }
}

impl CredentialError {
    /// The refusal this error is, when it refuses a caller's attempt on an existing credential;
    /// `None` for a missing credential and for failures on the service's side.
    pub fn refusal(&self) -> Option<SignRefusal> {
        Some(match self {
            Self::NotOwner(_) => SignRefusal::NotOwner,
            Self::Revoked(_) => SignRefusal::Revoked,
            Self::OnHold(_) => SignRefusal::OnHold,
            Self::CaRevoked { .. } => SignRefusal::CaRevoked,
            Self::OutOfValidity(_) => SignRefusal::OutsideValidity,
            Self::NotSigningProfile(_) => SignRefusal::NotSigningProfile,
            Self::DigestAlgorithm { .. } => SignRefusal::WrongDigestAlgorithm,
            Self::Sign(SignError::DigestLength { .. }) => SignRefusal::WrongDigestLength,
            Self::ClientText(_) => SignRefusal::InvalidClaimedRole,
            Self::Purpose(PurposeError::Unknown(_)) => SignRefusal::UnknownPurpose,
            Self::Purpose(PurposeError::Forbidden { .. }) => SignRefusal::RoleGate,
            Self::NotFound(_)
            | Self::Owner(_)
            | Self::Purpose(PurposeError::Invalid { .. })
            | Self::Sign(_)
            | Self::Key(_)
            | Self::Seal(_)
            | Self::Authority(_)
            | Self::Level(_)
            | Self::Store(_) => return None,
        })
    }
}

/// The `sign_refused` audit event of `credential` for `refusal`: who asked (the actor's label and
/// the practitioner), why (the reason's name) and, when it is a purpose of the policy, for what.
/// Never the document, its digest or a refused client string.
fn refusal_event(
    credential: &str,
    refusal: SignRefusal,
    caller: &str,
    purpose: Option<&str>,
    now: u64,
    actor: &str,
) -> AuditEvent {
    let mut details = vec![
        ("reason".to_owned(), refusal.name().to_owned()),
        ("caller".to_owned(), caller.to_owned()),
    ];
    if let Some(purpose) = purpose {
        details.push(("purpose".to_owned(), purpose.to_owned()));
    }
    AuditEvent {
        time: now,
        actor: actor.to_owned(),
        action: AuditAction::SignRefused,
        object: format!("credential:{credential}"),
        details,
    }
}

impl<S: Store> Authority<S> {
    /// Generates a key in the service, issues its certificate under the registration's profile,
    /// seals the key and stores certificate, credential and audit record in one write.
    pub fn create_credential(
        &self,
        request: &NewCredential,
        now: u64,
        actor: &str,
    ) -> Result<Credential, CredentialError> {
        let registration = &request.registration;
        let profile = self
            .profiles
            .get(&registration.profile)
            .map_err(AuthorityError::from)?;
        // CA profiles carry no nonRepudiation either, so they stop here too.
        if !signs_documents(profile) {
            return Err(CredentialError::NotSigningProfile(profile.id().to_owned()));
        }
        let owner = owner_of(request.owner.as_deref(), &registration.subject)?;
        let id = format!(
            "{ID_PREFIX}{}",
            hex::encode(crate::engine::seal::Sealer::random_bytes::<ID_RANDOM_LEN>()?)
        );
        let key = self.keys.generate_credential(request.key_algorithm, &id)?;
        let Prepared { record, event } = self.prepare_certificate(
            registration,
            PublicKeySource::Own(key.public_key_info()),
            now,
            actor,
        )?;
        let (sealed_key, pkcs11) = match key.pkcs11_ref() {
            Some(reference) => (Vec::new(), Some(reference.clone())),
            None => (self.sealer.seal(&key.to_pkcs8()?, id.as_bytes())?, None),
        };
        let credential = CredentialRecord {
            id: id.clone(),
            owner: owner.clone(),
            serial: record.serial.clone(),
            profile: record.profile.clone(),
            sealed_key,
            created_at: now,
            pkcs11,
        };
        // One event for both facts: the certificate's issuance details, plus whose credential.
        let mut details = vec![
            ("owner".to_owned(), owner),
            ("serial".to_owned(), hex::encode(&record.serial)),
            (
                "key_algorithm".to_owned(),
                request.key_algorithm.name().to_owned(),
            ),
        ];
        details.extend(event.details);
        self.store.insert_credential(
            &record,
            &credential,
            AuditEvent {
                action: AuditAction::CreateCredential,
                object: format!("credential:{id}"),
                details,
                ..event
            },
        )?;
        self.credential_keys.put(
            &id,
            CachedKey {
                key: Arc::new(key),
                prepared: None,
            },
        );
        self.view(credential, &record)
    }

    /// The credential `id`, with its certificate and chain.
    pub fn credential(&self, id: &str) -> Result<Credential, CredentialError> {
        let (credential, certificate) = self.load(id)?;
        self.view(credential, &certificate)
    }

    /// Credentials owned by `owner`.
    pub fn credentials_of(&self, owner: &str) -> Result<Vec<Credential>, CredentialError> {
        self.store
            .credentials_of(owner)?
            .into_iter()
            .map(|credential| {
                let certificate = self.certificate_of(&credential)?;
                self.view(credential, &certificate)
            })
            .collect()
    }

    /// Opens credential `id` for signing by `practitioner`, who must own it; `actor` is who the
    /// audit log names. Loads the credential once (then cached). A caller who does not own it is
    /// refused, and the attempt audited at `now` before this returns.
    pub fn signer(
        &self,
        id: &str,
        practitioner: &str,
        actor: &str,
        now: u64,
    ) -> Result<Signer, CredentialError> {
        // Cached after the first load: decoding the stored records (JSON) and parsing the
        // certificate cost more than the signature itself under load (perf, issue 5).
        let loaded = match self.signing_credentials.get(id) {
            Some(loaded) => loaded,
            None => {
                let (credential, record) = self.load(id)?;
                let certificate = parse_certificate(&record)?;
                let spki = certificate.tbs_certificate().subject_public_key_info();
                let digest_algorithm =
                    DigestAlgorithm::for_algorithm(crate::engine::key::key_params(spki)?.algorithm);
                let loaded = SigningCredential(Arc::new(LoadedCredential {
                    credential,
                    record,
                    certificate,
                    digest_algorithm,
                }));
                self.signing_credentials.put(id, loaded.clone());
                loaded
            }
        };
        if loaded.0.credential.owner != practitioner {
            let refused = CredentialError::NotOwner(loaded.0.credential.id.clone());
            let event = refusal_event(id, SignRefusal::NotOwner, practitioner, None, now, actor);
            self.store.append_audit(event)?;
            return Err(refused);
        }
        Ok(Signer {
            loaded,
            practitioner: practitioner.into(),
            actor: actor.into(),
        })
    }

    /// [`Authority::signer`] from the cache alone: `Some` only when `id` is cached and owned by
    /// `practitioner`. No store access and no blocking, so a request handler can call it on its
    /// async worker and skip a hop to the blocking pool; on `None` it calls `signer`, which
    /// loads the credential or refuses (and audits) the attempt.
    pub fn cached_signer(&self, id: &str, practitioner: &str, actor: &str) -> Option<Signer> {
        self.signing_credentials
            .get(id)
            .filter(|loaded| &*loaded.0.credential.owner == practitioner)
            .map(|loaded| Signer {
                loaded,
                practitioner: practitioner.into(),
                actor: actor.into(),
            })
    }

    /// Signs `document` with `signer` after every check, made here at `now`: revocation (read
    /// afresh, so a credential revoked or put on hold while its document streamed does not sign),
    /// the CA chain, validity, the signing profile, the digest algorithm and the role × purpose
    /// gate of `policy`. The signature's audit record (credential, serial, digest, purpose,
    /// caller, time — never content), or a refusal's `sign_refused` record, is made durable by
    /// [`PendingSignature::wait`] or [`PendingSignature::then`] before either hands anything out.
    /// Quick enough (tens of microseconds) for an async worker.
    pub fn sign(
        &self,
        signer: &Signer,
        policy: &SigningPolicy,
        document: &SignDocument<'_>,
        now: u64,
    ) -> PendingSignature<'_, S> {
        let outcome = self
            .sign_unaudited(signer, policy, document, now)
            .map_err(|refused| {
                let event = refused_event(signer, policy, document, &refused, now);
                (refused, event)
            });
        PendingSignature {
            authority: self,
            outcome,
        }
    }

    /// Whether [`PendingSignature::then`] reaches `level` without waiting on the network or a
    /// CRL: B-B, and B-T from the built-in TSA.
    pub fn signs_inline(&self, level: Level) -> bool {
        match level {
            Level::BB => true,
            Level::BT => matches!(self.timestamp_source(), Some(TimestampSource::BuiltIn)),
            Level::BLT | Level::BLTA => false,
        }
    }

    /// Every check and the signature of [`Authority::sign`]: the signature and the audit event
    /// that must be durable before it is handed out.
    fn sign_unaudited(
        &self,
        signer: &Signer,
        policy: &SigningPolicy,
        request: &SignDocument<'_>,
        now: u64,
    ) -> Result<(Unaudited, AuditEvent), CredentialError> {
        let LoadedCredential {
            credential,
            record,
            certificate,
            ..
        } = &*signer.loaded.0;
        // The revocation index, not the loaded record: a hold placed or released after the
        // credential was loaded must count.
        if let Some(revocation) = self.store.revocation(&record.issuer_ca, &record.serial)? {
            return Err(match revocation.reason {
                RevocationReason::CertificateHold => CredentialError::OnHold(credential.id.clone()),
                _ => CredentialError::Revoked(credential.id.clone()),
            });
        }
        if let Err(e) = self.check_ca_chain(&record.issuer_ca) {
            return Err(match e {
                AuthorityError::CaRevoked(ca) => CredentialError::CaRevoked {
                    credential: credential.id.clone(),
                    ca,
                },
                other => other.into(),
            });
        }
        let validity = certificate.tbs_certificate().validity();
        let not_before = validity.not_before.to_unix_duration().as_secs();
        let not_after = validity.not_after.to_unix_duration().as_secs();
        if now < not_before || now > not_after {
            return Err(CredentialError::OutOfValidity(credential.id.clone()));
        }
        // The profile as configured now: a credential whose profile stopped being a signing
        // one (or an authentication certificate, however it got here) never signs.
        let profile = self
            .profiles
            .get(&credential.profile)
            .map_err(AuthorityError::from)?;
        // And the certificate itself must say so (an authentication certificate never signs).
        let key_usage = certificate
            .tbs_certificate()
            .get_extension::<KeyUsage>()
            .map_err(|e| corrupt(&credential.id, &format!("keyUsage: {e}")))?;
        let certified = key_usage.is_some_and(|(_, ku)| ku.0.contains(KeyUsages::NonRepudiation));
        if !signs_documents(profile) || !certified {
            return Err(CredentialError::NotSigningProfile(
                credential.profile.clone(),
            ));
        }
        let spki = certificate.tbs_certificate().subject_public_key_info();
        let key_algorithm = crate::engine::key::key_params(spki)?.algorithm;
        let want = DigestAlgorithm::for_algorithm(key_algorithm);
        if request.digest_algorithm != want {
            return Err(CredentialError::DigestAlgorithm {
                want,
                got: request.digest_algorithm,
            });
        }
        if request.digest.len() != want.len() {
            return Err(SignError::DigestLength {
                algorithm: want,
                got: request.digest.len(),
                want: want.len(),
            }
            .into());
        }
        if let Some(role) = request.claimed_role {
            check_client_text("claimed_role", role, MAX_CLAIMED_ROLE_LEN)?;
        }
        let purpose = policy.purpose(request.purpose)?;
        // Before anything is signed: a level that needs a time-stamp needs a TSA.
        let source = match request.level {
            Level::BB => None,
            level => Some(
                self.timestamp_source()
                    .ok_or(AugmentError::NoTimestampSource(level))?,
            ),
        };
        let roles = crate::engine::hcrole::roles_of(certificate)
            .map_err(|e| corrupt(&credential.id, &e.to_string()))?;
        policy.check(&roles, purpose)?;

        let (key, prepared) = self.signer_of(credential, record, spki)?;
        let cms = prepared.sign(
            &key,
            &SignatureParams {
                digest: request.digest,
                signing_time: now,
                commitment_type: Some(purpose.oid),
                claimed_role: request.claimed_role,
                attached: request.attached,
            },
        )?;
        let mut details = vec![
            ("serial".to_owned(), hex::encode(&record.serial)),
            ("digest".to_owned(), hex::encode(request.digest)),
            ("digest_algorithm".to_owned(), digest_name(want).to_owned()),
            ("purpose".to_owned(), purpose.name.clone()),
            ("caller".to_owned(), signer.practitioner.to_string()),
            (
                "mode".to_owned(),
                if request.attached.is_some() {
                    "attached"
                } else {
                    "detached"
                }
                .to_owned(),
            ),
        ];
        if let Some(role) = request.claimed_role {
            details.push(("claimed_role".to_owned(), role.to_owned()));
        }
        let event = AuditEvent {
            time: now,
            actor: signer.actor.to_string(),
            action: AuditAction::Sign,
            object: format!("credential:{}", credential.id),
            details,
        };
        let raise = source.map(|source| {
            Box::new(Raise {
                source: Some(source),
                digest: request
                    .attached
                    .is_none()
                    .then(|| (want, request.digest.to_vec())),
                now,
                actor: signer.actor.to_string(),
            })
        });
        let unaudited = Unaudited {
            cms,
            serial: record.serial.clone(),
            level: request.level,
            raise,
        };
        Ok((unaudited, event))
    }

    /// The credential and its certificate record.
    fn load(&self, id: &str) -> Result<(CredentialRecord, CertificateRecord), CredentialError> {
        let not_found = || CredentialError::NotFound(id.chars().take(MAX_ID_LEN).collect());
        if id.len() > MAX_ID_LEN {
            return Err(not_found());
        }
        let credential = self.store.credential(id)?.ok_or_else(not_found)?;
        let certificate = self.certificate_of(&credential)?;
        Ok((credential, certificate))
    }

    fn certificate_of(
        &self,
        credential: &CredentialRecord,
    ) -> Result<CertificateRecord, CredentialError> {
        self.store
            .certificate(&credential.serial)?
            .ok_or_else(|| corrupt(&credential.id, "its certificate is missing"))
    }

    fn view(
        &self,
        credential: CredentialRecord,
        record: &CertificateRecord,
    ) -> Result<Credential, CredentialError> {
        let certificate = parse_certificate(record)?;
        let hc_roles = crate::engine::hcrole::roles_of(&certificate)
            .map_err(|e| corrupt(&credential.id, &e.to_string()))?;
        let key_algorithm = crate::engine::key::key_params(
            certificate.tbs_certificate().subject_public_key_info(),
        )?
        .algorithm;
        Ok(Credential {
            chain: self.chain(&record.issuer_ca)?,
            id: credential.id,
            owner: credential.owner,
            profile: credential.profile,
            serial: record.serial.clone(),
            certificate: record.der.clone(),
            hc_roles,
            key_algorithm,
            not_after: record.not_after,
        })
    }

    /// The credential's key and prepared signer: from the cache, else the key unsealed (bound to
    /// the credential id) and checked against the certificate, so a record pointing at another
    /// key cannot sign, and the signer prepared from the stored certificate and chain.
    fn signer_of(
        &self,
        credential: &CredentialRecord,
        record: &CertificateRecord,
        spki: &x509_cert::spki::SubjectPublicKeyInfoOwned,
    ) -> Result<(Arc<SigningKey>, Arc<PreparedSigner>), CredentialError> {
        let cached = self
            .credential_keys
            .get(&credential.id)
            .filter(|c| c.key.public_key_info() == spki);
        if let Some(CachedKey {
            key,
            prepared: Some(prepared),
        }) = &cached
        {
            return Ok((key.clone(), prepared.clone()));
        }
        let key = match cached {
            Some(c) => c.key,
            None => {
                let key = match (&credential.pkcs11, self.keys.token()) {
                    (Some(reference), Some(token)) => token.key(reference)?,
                    (Some(reference), None) => {
                        return Err(corrupt(
                            &credential.id,
                            &format!(
                                "its key is in PKCS#11 token {:?}, and no token is configured",
                                reference.token
                            ),
                        ));
                    }
                    (None, _) => SigningKey::from_pkcs8(
                        &self
                            .sealer
                            .open(&credential.sealed_key, credential.id.as_bytes())?,
                    )?,
                };
                if key.public_key_info() != spki {
                    return Err(corrupt(
                        &credential.id,
                        "key does not match its certificate",
                    ));
                }
                Arc::new(key)
            }
        };
        let prepared = Arc::new(PreparedSigner::new(
            &key,
            &record.der,
            &self.chain(&record.issuer_ca)?,
        )?);
        self.credential_keys.put(
            &credential.id,
            CachedKey {
                key: key.clone(),
                prepared: Some(prepared.clone()),
            },
        );
        Ok((key, prepared))
    }
}

/// The `sign_refused` event of a signing attempt with `signer` that failed with `error`, if that
/// is a refusal (see [`CredentialError::refusal`]).
///
/// Refusals are recorded like signatures: queued to the store's audit writer, made durable by
/// its group commit and awaited before the refusal is answered; they never take a transaction
/// (and the chain lock) of their own, so they cannot stall the signatures' batches. How many an
/// attacker can add is bounded by the service's per-client rate limit, which every request
/// meets before it reaches a credential (signer-api `http/limits.rs`).
fn refused_event(
    signer: &Signer,
    policy: &SigningPolicy,
    request: &SignDocument<'_>,
    error: &CredentialError,
    now: u64,
) -> Option<AuditEvent> {
    let refusal = error.refusal()?;
    // Only a purpose of the policy is named: an unknown one is a client string of any length.
    let purpose = policy
        .purpose(request.purpose)
        .ok()
        .map(|p| p.name.as_str());
    Some(refusal_event(
        &signer.loaded.0.credential.id,
        refusal,
        &signer.practitioner,
        purpose,
        now,
        &signer.actor,
    ))
}

/// Who owns a new credential: `given`, which must be the subject's serialNumber when the subject
/// has one, else that serialNumber; printable text of at most [`MAX_OWNER_LEN`] characters, as it
/// enters the audit log.
fn owner_of(given: Option<&str>, subject: &x509_cert::name::Name) -> Result<String, OwnerError> {
    let owner = match (given, super::client_auth::practitioner_id(subject)) {
        (Some(given), Some(subject)) if given != subject => {
            return Err(OwnerError::Mismatch {
                given: given.to_owned(),
                subject,
            });
        }
        (Some(given), _) => given.to_owned(),
        (None, Some(subject)) => subject,
        (None, None) => return Err(OwnerError::Missing),
    };
    if owner.is_empty() {
        return Err(OwnerError::Missing);
    }
    check_client_text("owner", &owner, MAX_OWNER_LEN)?;
    Ok(owner)
}

/// A profile whose certificates sign documents: nonRepudiation (contentCommitment) in keyUsage.
/// Whether `profile` certifies document-signing keys (keyUsage nonRepudiation): the profiles a
/// credential may be created under.
pub fn signs_documents(profile: &crate::engine::profile::Profile) -> bool {
    profile.key_usage().0.contains(KeyUsages::NonRepudiation)
}

fn parse_certificate(record: &CertificateRecord) -> Result<Certificate, CredentialError> {
    Certificate::from_der(&record.der).map_err(|e| {
        StoreError::Corrupt(format!("certificate {}: {e}", hex::encode(&record.serial))).into()
    })
}

fn corrupt(id: &str, what: &str) -> CredentialError {
    StoreError::Corrupt(format!("credential {id}: {what}")).into()
}
