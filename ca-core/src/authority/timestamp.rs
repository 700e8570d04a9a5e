//! The installation's time-stamping authority (RFC 3161, RFC 5816): a key made at `init` (or
//! at the first `open` of a store made before), certified under the `tsa` profile by its issuing
//! CA as an ordinary certificate of the inventory (so its CA's revocation index and CRL cover
//! it), sealed like the CA keys. A granted token is recorded in the audit log through the
//! signatures' group commit and handed out only once that record is durable (DESIGN.md §5
//! invariant 2); a rejection is not recorded.
//!
//! The TSA policy (TSTInfo.policy) is `AuthorityConfig::tsa_policy`, else
//! `<the tsa profile's certificate policy>.1`: an OID under the installation's own arc, beside
//! the certificate policy of the TSA certificate, that the installation's time-stamp policy
//! document (RFC 3628) names.

use crate::engine::audit::{AuditAction, AuditEvent, AuditRecord};
use crate::engine::authority::{Authority, AuthorityError, Prepared, PublicKeySource};
use crate::engine::digest::DigestAlgorithm;
use crate::engine::issue::Registration;
use crate::engine::key::{KeyAlgorithm, SigningKey};
use crate::engine::oid;
use crate::engine::store::{CertificateRecord, Store, StoreError};
use crate::engine::tsp::{FailureInfo, Tsa, TsaOutcome, TspError};
use const_oid::ObjectIdentifier;
use serde::{Deserialize, Serialize};
use x509_cert::Certificate;
use x509_cert::der::Decode;

/// The profile the TSA certificate is issued under (`policies/tsa.toml`).
pub const TSA_PROFILE: &str = "tsa";
/// Store setting holding the TSA key, sealed (context `TSA_KEY_CONTEXT` and the certificate's
/// serial), and the serial of its certificate.
pub const SETTING_TSA_KEY: &str = "tsa.key";
/// Associated data of the sealed TSA key, followed by its certificate's serial: a CA key's or
/// the audit key's blob moved here does not open, nor does this one under another certificate.
const TSA_KEY_CONTEXT: &[u8] = b"tsa-key:";
/// The arc under the `tsa` profile's certificate policy of the default TSA policy.
const DEFAULT_POLICY_ARC: u32 = 1;

/// The value of [`SETTING_TSA_KEY`].
#[derive(Serialize, Deserialize)]
struct StoredTsaKey {
    /// The TSA certificate's serialNumber content octets, hex.
    serial: String,
    /// The PKCS#8 key sealed by `Sealer::seal`, hex; empty when the key is in a token.
    #[serde(default)]
    sealed_key: String,
    /// Where the key is when a PKCS#11 token holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pkcs11: Option<crate::engine::key::Pkcs11KeyRef>,
}

/// Who may ask the time-stamping authority for a token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TsaAccess {
    /// Anyone who reaches the service: RFC 3161 clients send no credential, and a token
    /// discloses nothing (it binds a hash the requester already has to a time).
    #[default]
    Open,
    /// Only an authenticated caller of the service (a token or a client certificate), where the
    /// installation must answer for every token it signs (`[tsa] require_auth`).
    Callers,
}

/// Who asks the TSA for a token, as the edge authenticated them.
#[derive(Clone, Copy, Debug)]
pub enum TsaRequester<'a> {
    /// An authenticated caller, by its audit label (`token:<id>`, `certificate:<ca>:<serial>`).
    Caller(&'a str),
    /// No credential, or none that authenticated: the client's network address when known.
    Anonymous(Option<std::net::IpAddr>),
}

/// The time-stamping authority an [`Authority`] holds.
pub(crate) struct TimeStamping {
    tsa: Tsa,
    record: CertificateRecord,
    not_before: u64,
}

impl TimeStamping {
    /// The TSA's signing key.
    pub(crate) fn key(&self) -> &SigningKey {
        self.tsa.key()
    }
}

/// A TSA made at init or open, not yet stored.
pub(crate) struct NewTsa {
    pub(crate) tsa: TimeStamping,
    /// The certificate, for the inventory.
    pub(crate) record: CertificateRecord,
    /// The value of [`SETTING_TSA_KEY`].
    pub(crate) setting: Vec<u8>,
    /// What the audit record says of it.
    pub(crate) details: Vec<(String, String)>,
}

/// The TSA's certificate, as relying parties need it.
#[derive(Clone, Debug)]
pub struct TsaCertificate {
    /// The TSA certificate, DER.
    pub certificate: Vec<u8>,
    /// Its serialNumber content octets.
    pub serial: Vec<u8>,
    /// The CA certificates above it, DER: issuing CA first, root last.
    pub chain: Vec<Vec<u8>>,
    /// The policy of its tokens (TSTInfo.policy).
    pub policy: ObjectIdentifier,
}

/// Why no TimeStampResp was made.
#[derive(Debug, thiserror::Error)]
pub enum TimestampError {
    /// The installation's profiles have no `tsa` profile: it runs no TSA.
    #[error(
        "this installation has no time-stamping authority (its profiles have no `tsa` profile)"
    )]
    NoTsa,
    /// The installation answers only authenticated callers ([`TsaAccess::Callers`]) and this
    /// one presented no credential.
    #[error("this time-stamping authority answers authenticated callers only: present a token")]
    CallerRequired,
    /// The TSA certificate is revoked, outside its validity, or under a revoked CA: no token
    /// it signs would validate.
    #[error("the time-stamping authority is unavailable: {0}")]
    Unavailable(String),
    /// The request is too large, or no response could be made.
    #[error(transparent)]
    Tsp(#[from] TspError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The authority failed (a CA lookup).
    #[error(transparent)]
    Authority(#[from] AuthorityError),
}

/// A TimeStampResp made ([`PendingTimestamp::wait`] or `then`).
#[derive(Clone, Debug)]
pub struct TimeStamped {
    /// The TimeStampResp, DER: what the client gets.
    pub response: Vec<u8>,
    /// Granted (with its audit record) or rejected.
    pub status: TimestampStatus,
}

/// What a [`TimeStamped`] answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimestampStatus {
    /// A token was issued and its audit record is durable.
    Granted {
        /// TSTInfo.serialNumber content octets.
        serial: Vec<u8>,
        /// Sequence number of the token's audit record.
        audit_seq: u64,
    },
    /// The request was rejected with this failure (not audited).
    Rejected(FailureInfo),
}

/// A TimeStampResp whose token's audit record is not yet durable ([`Authority::timestamp`]):
/// handed out only once it is.
#[must_use = "a token is handed out only once its audit record is durable: wait() or then()"]
pub struct PendingTimestamp<'a, S: Store> {
    store: &'a S,
    outcome: Result<Answer, TimestampError>,
}

/// A response made, before its audit record.
pub(crate) enum Answer {
    /// A token, to be handed out once `event` is durable.
    Granted {
        response: Vec<u8>,
        serial: Vec<u8>,
        event: AuditEvent,
    },
    /// A rejection: answered at once, not audited.
    Rejected {
        response: Vec<u8>,
        failure: FailureInfo,
    },
}

impl<S: Store> PendingTimestamp<'_, S> {
    /// Blocks until the token's audit record is durable, then hands out the response.
    pub fn wait(self) -> Result<TimeStamped, TimestampError> {
        match self.outcome? {
            Answer::Granted {
                response,
                serial,
                event,
            } => {
                let record = self.store.append_audit(event)?;
                Ok(granted(response, serial, &record))
            }
            Answer::Rejected { response, failure } => Ok(rejected(response, failure)),
        }
    }

    /// For an async caller: `done` gets the response once the token's audit record is durable,
    /// never before (a rejection at once). `done` may run on the store's writer thread: keep it
    /// quick (send on a channel).
    pub fn then(self, done: impl FnOnce(Result<TimeStamped, TimestampError>) + Send + 'static) {
        match self.outcome {
            Err(e) => done(Err(e)),
            Ok(Answer::Granted {
                response,
                serial,
                event,
            }) => self.store.append_audit_then(
                event,
                Box::new(move |outcome| {
                    done(
                        outcome
                            .map_err(Into::into)
                            .map(|record| granted(response, serial, &record)),
                    )
                }),
            ),
            Ok(Answer::Rejected { response, failure }) => done(Ok(rejected(response, failure))),
        }
    }
}

fn granted(response: Vec<u8>, serial: Vec<u8>, record: &AuditRecord) -> TimeStamped {
    TimeStamped {
        response,
        status: TimestampStatus::Granted {
            serial,
            audit_seq: record.seq,
        },
    }
}

fn rejected(response: Vec<u8>, failure: FailureInfo) -> TimeStamped {
    TimeStamped {
        response,
        status: TimestampStatus::Rejected(failure),
    }
}

fn hash_name(hash: DigestAlgorithm) -> &'static str {
    match hash {
        DigestAlgorithm::Sha256 => "sha256",
        DigestAlgorithm::Sha384 => "sha384",
        DigestAlgorithm::Sha512 => "sha512",
        // `Tsa` refuses these imprints (badAlg); named for completeness.
        DigestAlgorithm::Sha1 => "sha1",
        DigestAlgorithm::Sha224 => "sha224",
    }
}

impl<S: Store> Authority<S> {
    /// Answers `request_der` (a TimeStampReq, DER) with a TimeStampResp stamped `now` (Unix
    /// seconds: the caller's clock). A request that is not a TimeStampReq, or not acceptable,
    /// gets a rejection (RFC 3161 §2.4.2); a granted token's `timestamp` audit record (serial,
    /// hash algorithm, imprint, policy, `actor`) is made durable by [`PendingTimestamp::wait`]
    /// or `then` before either hands the response out. Quick enough for an async worker.
    pub fn timestamp(&self, request_der: &[u8], now: u64, actor: &str) -> PendingTimestamp<'_, S> {
        PendingTimestamp {
            store: &self.store,
            outcome: self.timestamp_unaudited(request_der, now, actor),
        }
    }

    pub(crate) fn timestamp_unaudited(
        &self,
        request_der: &[u8],
        now: u64,
        actor: &str,
    ) -> Result<Answer, TimestampError> {
        let unit = self.tsa.as_ref().ok_or(TimestampError::NoTsa)?;
        self.check_tsa(unit, now)?;
        let response = unit.tsa.respond(request_der, now)?;
        match response.outcome {
            TsaOutcome::Rejected(failure) => Ok(Answer::Rejected {
                response: response.der,
                failure,
            }),
            TsaOutcome::Granted {
                serial,
                hash,
                imprint,
                policy,
            } => {
                let event = AuditEvent {
                    time: now,
                    actor: actor.to_owned(),
                    action: AuditAction::Timestamp,
                    object: format!("timestamp:{}", hex::encode(&serial)),
                    details: vec![
                        ("hash_algorithm".to_owned(), hash_name(hash).to_owned()),
                        ("imprint".to_owned(), hex::encode(&imprint)),
                        ("policy".to_owned(), policy.to_string()),
                        (
                            "tsa_certificate".to_owned(),
                            hex::encode(&unit.record.serial),
                        ),
                    ],
                };
                Ok(Answer::Granted {
                    response: response.der,
                    serial,
                    event,
                })
            }
        }
    }

    /// A token is signed only while its certificate would validate at genTime: within its
    /// validity, not revoked (read from the revocation index per call, like a credential's) and
    /// no CA above it revoked.
    fn check_tsa(&self, unit: &TimeStamping, now: u64) -> Result<(), TimestampError> {
        match self.tsa_refusal(unit, now)? {
            Some(why) => Err(TimestampError::Unavailable(why)),
            None => Ok(()),
        }
    }

    /// Why `unit` may not sign at `now`, if it may not.
    fn tsa_refusal(&self, unit: &TimeStamping, now: u64) -> Result<Option<String>, AuthorityError> {
        let record = &unit.record;
        if now < unit.not_before || now > record.not_after {
            return Ok(Some("its certificate is outside its validity".into()));
        }
        if let Some(revocation) = self.store.revocation(&record.issuer_ca, &record.serial)? {
            return Ok(Some(format!(
                "its certificate is revoked ({})",
                revocation.reason.name()
            )));
        }
        match self.check_ca_chain(&record.issuer_ca) {
            Err(AuthorityError::CaRevoked(ca)) => {
                Ok(Some(format!("CA {ca:?} above it is revoked")))
            }
            other => other.map(|()| None),
        }
    }

    /// The TSA certificate, its chain and the policy of its tokens.
    pub fn tsa_certificate(&self) -> Result<TsaCertificate, TimestampError> {
        let unit = self.tsa.as_ref().ok_or(TimestampError::NoTsa)?;
        Ok(TsaCertificate {
            certificate: unit.record.der.clone(),
            serial: unit.record.serial.clone(),
            chain: self.chain(&unit.record.issuer_ca)?,
            policy: unit.tsa.policy(),
        })
    }

    /// Lets `access` ask for tokens from now on (the service's `[tsa] require_auth`).
    pub fn with_tsa_access(mut self, access: TsaAccess) -> Self {
        self.tsa_access = access;
        self
    }

    /// Admits `requester` to the TSA under [`TsaAccess`], answering the actor its tokens'
    /// audit records name (never a secret): the caller's label, else the client's address.
    pub fn tsa_actor(&self, requester: TsaRequester<'_>) -> Result<String, TimestampError> {
        match (requester, self.tsa_access) {
            (TsaRequester::Caller(label), _) => Ok(label.to_owned()),
            (TsaRequester::Anonymous(_), TsaAccess::Callers) => Err(TimestampError::CallerRequired),
            (TsaRequester::Anonymous(Some(address)), TsaAccess::Open) => {
                Ok(format!("ip:{address}"))
            }
            (TsaRequester::Anonymous(None), TsaAccess::Open) => Ok("anonymous".to_owned()),
        }
    }

    /// Issues tokens under `policy` (dotted OID) from now on, instead of the stored
    /// configuration's (the service's `[tsa] policy`). Without a TSA there is nothing to change.
    pub fn with_tsa_policy(mut self, policy: &str) -> Result<Self, AuthorityError> {
        let policy = parse_policy(policy)?;
        self.tsa = self.tsa.take().map(|unit| TimeStamping {
            tsa: unit.tsa.with_policy(policy),
            ..unit
        });
        Ok(self)
    }

    /// The policy of the tokens: the configured one, else the default under the `tsa`
    /// profile's certificate policy.
    fn tsa_policy(&self) -> Result<ObjectIdentifier, AuthorityError> {
        if let Some(policy) = &self.config.tsa_policy {
            return parse_policy(policy);
        }
        self.profiles
            .get(TSA_PROFILE)?
            .policy_oid(&self.policy_arc)
            .and_then(|p| p.push_arc(DEFAULT_POLICY_ARC).ok())
            .ok_or_else(|| {
                AuthorityError::Config(format!(
                    "the {TSA_PROFILE} profile has no certificate policy to put the TSA policy \
                     under: configure one (tsa_policy)"
                ))
            })
    }

    /// A new TSA key and certificate, when the profiles have a `tsa` profile: the key of
    /// `algorithm`, the certificate issued at `now` by the profile's CA (through the same checks
    /// as any certificate), the key sealed. Nothing is stored.
    pub(crate) fn new_tsa(
        &self,
        algorithm: KeyAlgorithm,
        now: u64,
        actor: &str,
    ) -> Result<Option<NewTsa>, AuthorityError> {
        let Ok(profile) = self.profiles.get(TSA_PROFILE) else {
            return Ok(None);
        };
        let policy = self.tsa_policy()?;
        let issuer = match profile.issuer() {
            crate::engine::profile::IssuerRef::Ca(id) => id.clone(),
            crate::engine::profile::IssuerRef::SelfSigned => {
                return Err(AuthorityError::Config(format!(
                    "the {TSA_PROFILE} profile must be issued by a CA"
                )));
            }
        };
        let key = self.keys.generate(algorithm, "tsa")?;
        let registration = Registration {
            profile: TSA_PROFILE.to_owned(),
            subject: self.tsa_subject(&issuer)?,
            sans: Vec::new(),
            hc_roles: Vec::new(),
            validity_days: None,
        };
        let Prepared { record, event } = self.prepare_certificate(
            &registration,
            PublicKeySource::Own(key.public_key_info()),
            now,
            actor,
        )?;
        let mut context = TSA_KEY_CONTEXT.to_vec();
        context.extend_from_slice(&record.serial);
        let (sealed_key, pkcs11) = super::keys::stored(&self.sealer, &key, &context)?;
        let setting = serde_json::to_vec(&StoredTsaKey {
            serial: hex::encode(&record.serial),
            sealed_key: hex::encode(sealed_key),
            pkcs11,
        })
        .map_err(|e| AuthorityError::Config(e.to_string()))?;
        let tsa = Tsa::new(key, &record.der, &self.chain(&record.issuer_ca)?, policy)
            .map_err(|e| AuthorityError::Config(e.to_string()))?;
        let mut details = vec![
            ("tsa_certificate".to_owned(), hex::encode(&record.serial)),
            ("tsa_policy".to_owned(), policy.to_string()),
        ];
        // The certificate's issue facts (profile, issuer, subject, not_after), as an issue
        // record would say them.
        details.extend(
            event
                .details
                .into_iter()
                .map(|(k, v)| (format!("tsa_{k}"), v)),
        );
        Ok(Some(NewTsa {
            tsa: TimeStamping {
                tsa,
                record: record.clone(),
                not_before: now,
            },
            record,
            setting,
            details,
        }))
    }

    /// The TSA of an opened store: its sealed key unsealed, or, for a store without one whose
    /// profiles now have a `tsa` profile, or whose TSA certificate is revoked or expired, a new
    /// one (of its issuing CA's key algorithm) stored with a `tsa_key` audit record at `now`.
    pub(crate) fn open_tsa(&self, now: u64) -> Result<Option<TimeStamping>, AuthorityError> {
        if self.profiles.get(TSA_PROFILE).is_err() {
            return Ok(None);
        }
        let Some(stored) = self.store.setting(SETTING_TSA_KEY)? else {
            // None can be issued (its CA revoked or expired, the profile refusing the key): the
            // installation runs without a TSA rather than not at all.
            return match self.store_new_tsa(now, Vec::new()) {
                Err(e) if cannot_issue(&e) => Ok(None),
                other => other,
            };
        };
        let corrupt = |why: String| StoreError::Corrupt(format!("{SETTING_TSA_KEY}: {why}"));
        let stored: StoredTsaKey =
            serde_json::from_slice(&stored).map_err(|e| corrupt(e.to_string()))?;
        let serial = hex::decode(&stored.serial).map_err(|e| corrupt(e.to_string()))?;
        let sealed = hex::decode(&stored.sealed_key).map_err(|e| corrupt(e.to_string()))?;
        let mut context = TSA_KEY_CONTEXT.to_vec();
        context.extend_from_slice(&serial);
        let key = self
            .keys
            .open(&self.sealer, &sealed, stored.pkcs11.as_ref(), &context)?;
        let record = self
            .store
            .certificate(&serial)?
            .ok_or_else(|| corrupt(format!("no certificate {}", stored.serial)))?;
        let certificate = Certificate::from_der(&record.der).map_err(|e| corrupt(e.to_string()))?;
        let tbs = certificate.tbs_certificate();
        if tbs.subject_public_key_info() != key.public_key_info() {
            return Err(corrupt("key does not match its certificate".into()).into());
        }
        let not_before = tbs.validity().not_before.to_unix_duration().as_secs();
        let tsa = Tsa::new(
            key,
            &record.der,
            &self.chain(&record.issuer_ca)?,
            self.tsa_policy()?,
        )
        .map_err(|e| corrupt(e.to_string()))?;
        let unit = TimeStamping {
            tsa,
            record,
            not_before,
        };
        // A TSA whose certificate was revoked (a compromised key) or has expired is replaced
        // at the next start. When no new one can be issued (its CA is revoked too), the old one
        // stays and refuses every request, saying why.
        // A clock behind the certificate's notBefore is the clock's fault, not the key's.
        let Some(why) = self
            .tsa_refusal(&unit, now)?
            .filter(|_| now >= unit.not_before)
        else {
            return Ok(Some(unit));
        };
        let replaces = vec![
            ("replaces".to_owned(), hex::encode(&unit.record.serial)),
            ("reason".to_owned(), why),
        ];
        match self.store_new_tsa(now, replaces) {
            Ok(Some(new)) => Ok(Some(new)),
            Err(e) if cannot_issue(&e) => Ok(Some(unit)),
            Ok(None) => Ok(Some(unit)),
            Err(e) => Err(e),
        }
    }

    /// A new TSA (of its issuing CA's key algorithm), stored with its `tsa_key` audit record at
    /// `now` (with `details` besides the new certificate's).
    fn store_new_tsa(
        &self,
        now: u64,
        mut details: Vec<(String, String)>,
    ) -> Result<Option<TimeStamping>, AuthorityError> {
        let issuer = match self.profiles.get(TSA_PROFILE)?.issuer() {
            crate::engine::profile::IssuerRef::Ca(id) => id.clone(),
            crate::engine::profile::IssuerRef::SelfSigned => {
                return Err(AuthorityError::Config(format!(
                    "the {TSA_PROFILE} profile must be issued by a CA"
                )));
            }
        };
        let algorithm = crate::engine::key::key_params(
            Certificate::from_der(&self.ca(&issuer)?.der)
                .map_err(|e| StoreError::Corrupt(format!("CA {issuer}: {e}")))?
                .tbs_certificate()
                .subject_public_key_info(),
        )?
        .algorithm;
        let Some(new) = self.new_tsa(algorithm, now, "system")? else {
            return Ok(None);
        };
        details.extend(new.details);
        self.store.insert_certificate_with_setting(
            &new.record,
            SETTING_TSA_KEY,
            &new.setting,
            AuditEvent {
                time: now,
                actor: "system".into(),
                action: AuditAction::TsaKey,
                object: format!("certificate:{}", hex::encode(&new.record.serial)),
                details,
            },
        )?;
        Ok(Some(new.tsa))
    }

    /// The issuing CA's subject with its common name replaced by `<O> HPKI TSA`.
    fn tsa_subject(&self, issuer: &str) -> Result<x509_cert::name::Name, AuthorityError> {
        let ca = self.ca(issuer)?;
        let mut rdns = Vec::new();
        let mut organization = None;
        for rdn in ca.name.iter_rdn() {
            if rdn.iter().any(|atv| atv.oid == oid::COMMON_NAME) {
                continue;
            }
            if let Some(o) = rdn.iter().find(|atv| atv.oid == oid::ORGANIZATION_NAME) {
                organization = std::str::from_utf8(o.value.value()).ok().map(str::to_owned);
            }
            rdns.push(rdn.to_string());
        }
        let cn = match organization {
            Some(o) => format!("{o} HPKI TSA"),
            None => "HPKI TSA".to_owned(),
        };
        rdns.push(format!("CN={}", super::rfc4514_escape(&cn)));
        crate::engine::name::parse_subject(&rdns.join(","))
            .map_err(|e| AuthorityError::Config(e.to_string()))
    }
}

/// Whether `e` says no TSA certificate can be issued now (as opposed to a failing store).
fn cannot_issue(e: &AuthorityError) -> bool {
    matches!(
        e,
        AuthorityError::CaRevoked(_) | AuthorityError::Issue(_) | AuthorityError::Profile(_)
    )
}

fn parse_policy(policy: &str) -> Result<ObjectIdentifier, AuthorityError> {
    ObjectIdentifier::new(policy)
        .map_err(|e| AuthorityError::Config(format!("TSA policy {policy:?}: {e}")))
}
