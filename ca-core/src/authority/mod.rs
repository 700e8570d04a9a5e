//! The façade the edges call (DESIGN.md §2): initialise a CA hierarchy, issue, revoke, publish
//! CRLs. Every state change is written to the store together with its audit record before the call
//! returns (DESIGN.md §5 invariant 2). Time arrives as an argument (Unix seconds).
//!
//! The façade's other flows are its child modules, each adding `impl Authority` methods: server-held
//! signing credentials, API tokens and client-certificate authentication. They read the
//! authority's state; nothing else in ca-core reads theirs.

pub(crate) mod access;
pub(crate) mod augment;
pub(crate) mod client_auth;
pub(crate) mod credential;
pub(crate) mod keys;
pub(crate) mod ocsp;
pub(crate) mod timestamp;
pub(crate) mod token;

use crate::engine::audit::{AuditAction, AuditEvent, AuditKey, AuditMac, AuditReport, Checkpoint};
use crate::engine::crl::{self, CrlContent, CrlError};
use crate::engine::issue::{self, Draft, IssueError, Registration, Signer};
use crate::engine::key::{KeyAlgorithm, KeyError, SigningKey};
use crate::engine::profile::{CaUrls, ExtensionContext, IssuerRef, ProfileError, ProfileSet};
use crate::engine::seal::{SealError, Sealer};
use crate::engine::store::{
    AuditLogError, AuthorityRecord, CertificateRecord, Revocation, RevocationReason, Store,
    StoreError,
};
use const_oid::ObjectIdentifier;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use x509_cert::Certificate;
use x509_cert::der::{Decode, Encode};
use x509_cert::name::Name;

/// Store setting holding the [`AuthorityConfig`] as JSON.
pub(crate) const SETTING_CONFIG: &str = "authority.config";
/// Store setting holding the `AuditKey`, sealed like the CA keys (context `AUDIT_KEY_CONTEXT`).
pub const SETTING_AUDIT_KEY: &str = "audit.key";
/// Associated data of the sealed audit key: a CA key's blob moved here does not open.
const AUDIT_KEY_CONTEXT: &[u8] = b"audit-key";
const DAY: u64 = 86_400;

/// Installation-wide choices fixed at init.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorityConfig {
    /// The deploying CA's OID arc: each profile's certificate policy is `arc.<suffix>`.
    pub policy_arc: String,
    /// URLs put into certificates; `{ca}` is replaced by the issuing CA's id.
    pub urls: CaUrls,
    /// nextUpdate − thisUpdate of every CRL.
    pub crl_validity_days: u32,
    /// TSTInfo.policy of the time-stamping authority's tokens (RFC 3161 §2.4.2), dotted; `None`
    /// for the default, `<tsa profile's certificate policy>.1` (see `timestamp`). Absent in
    /// configs stored before the TSA existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsa_policy: Option<String>,
}

/// How serial numbers are chosen.
#[derive(Clone, Debug, Default)]
pub enum SerialSource {
    /// 16 random octets, checked unique against the store.
    #[default]
    Random,
    /// Derived from this seed, the profile, the subject and the key: for reproducible test vectors
    /// only (still checked unique against the store).
    Derived([u8; 32]),
}

/// What `init` needs besides the store.
pub struct InitRequest {
    /// Algorithm of generated CA keys.
    pub key_algorithm: KeyAlgorithm,
    /// CA keys supplied instead of generated (by CA id), e.g. RSA keys imported as PKCS#8.
    pub imported_keys: BTreeMap<String, SigningKey>,
    /// With keys in a PKCS#11 token, `imported_keys` are refused (they exist outside the HSM and
    /// would be sealed in the store) unless the operator asked for exactly that.
    pub allow_software_ca_keys: bool,
    /// O of the CAs' subjects.
    pub organization: String,
    /// C of the CAs' subjects (ISO 3166 alpha-2).
    pub country: String,
    /// Installation-wide choices, recorded in the store.
    pub config: AuthorityConfig,
    /// Further settings recorded in the same transaction (e.g. how keys are sealed).
    pub settings: Vec<(String, Vec<u8>)>,
    /// Unix seconds: the CAs' notBefore and the audit record's time.
    pub now: u64,
    /// Who runs init, for the audit record.
    pub actor: String,
    /// How serial numbers are chosen.
    pub serials: SerialSource,
}

/// A certificate just issued, with the chain above it (issuing CA first, root last).
#[derive(Clone, Debug)]
pub struct Issued {
    /// Its serialNumber content octets.
    pub serial: Vec<u8>,
    /// The certificate, DER.
    pub certificate: Vec<u8>,
    /// The CA certificates above it, DER: issuing CA first, root last.
    pub chain: Vec<Vec<u8>>,
    /// Sequence number of the audit record of the issue.
    pub audit_seq: u64,
}

/// Why an authority operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthorityError {
    /// A CA key imported into an installation whose keys are in a PKCS#11 token, without
    /// `InitRequest::allow_software_ca_keys`.
    #[error(
        "an imported CA key would be sealed in the store of an installation whose keys are in a \
         PKCS#11 token: the key would exist outside the HSM; generate it in the token, or allow \
         software CA keys explicitly"
    )]
    SoftwareCaKeyRefused,
    /// The request does not pass issuance (profile, CSR, validity).
    #[error(transparent)]
    Issue(#[from] IssueError),
    /// The store failed or refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A profile is unknown, or the request breaks it.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// A CRL could not be built.
    #[error(transparent)]
    Crl(#[from] CrlError),
    /// A CA key does not load or sign.
    #[error("CA key: {0}")]
    Key(#[from] KeyError),
    /// A CA key does not seal or unseal.
    #[error("CA key: {0}")]
    Seal(#[from] SealError),
    /// An OCSP response could not be signed.
    #[error(transparent)]
    Ocsp(#[from] crate::engine::ocsp::OcspError),
    /// No CA with that id.
    #[error("no CA {0:?}")]
    UnknownCa(String),
    /// The CA is revoked: it issues and signs nothing more.
    #[error("CA {0:?} is revoked: it issues nothing more")]
    CaRevoked(String),
    /// The store holds no CA: `init` has not run.
    #[error("the data directory holds no CA: run init first")]
    NotInitialised,
    /// The configuration (init request, stored settings, CA profiles) is unusable.
    #[error("configuration: {0}")]
    Config(String),
}

/// Where the public key of a certificate to issue comes from.
#[derive(Clone, Copy)]
pub(crate) enum PublicKeySource<'a> {
    /// A PKCS#10 request (PEM or DER) whose signature must prove possession.
    Csr(&'a [u8]),
    /// A key this service generated and holds (a credential).
    Own(&'a x509_cert::spki::SubjectPublicKeyInfoOwned),
}

/// A certificate checked and signed but not yet stored, with the audit event recording it.
pub(crate) struct Prepared {
    pub(crate) record: CertificateRecord,
    pub(crate) event: AuditEvent,
}

/// A CA held by this installation, its key open in memory.
pub(crate) struct Ca {
    pub(crate) der: Vec<u8>,
    /// Its certificate's serialNumber content octets, as its issuer's CRL would list it.
    pub(crate) serial: Vec<u8>,
    pub(crate) name: Name,
    pub(crate) key: SigningKey,
    pub(crate) key_id: Vec<u8>,
    pub(crate) not_after: u64,
    /// The CA that signed this one; `None` for the root.
    pub(crate) parent: Option<String>,
}

/// A CRL this authority signed and serves until it is due or the revocation index changes.
pub(crate) struct CurrentCrl {
    der: Vec<u8>,
    this_update: u64,
    /// The revocation index it lists, compared with the store's on every read: another process
    /// on the same store (a second instance on PostgreSQL, an admin command) may have revoked
    /// or released since, and then this CRL is out of date.
    revoked: Vec<(Vec<u8>, Revocation)>,
}

/// The certification authority: profiles, CAs and their store.
pub struct Authority<S: Store> {
    pub(crate) store: S,
    pub(crate) profiles: ProfileSet,
    pub(crate) config: AuthorityConfig,
    pub(crate) policy_arc: ObjectIdentifier,
    pub(crate) cas: BTreeMap<String, Ca>,
    pub(crate) serials: SerialSource,
    /// Seals and opens keys at rest (CA keys at init, credential keys).
    pub(crate) sealer: Sealer,
    /// MACs the audit records (the store holds its MAC key) and signs checkpoints.
    pub(crate) audit_key: AuditKey,
    /// Credential keys already unsealed, by credential id: unsealing parses PKCS#8 and (for
    /// ECDSA) validates the key on every call, which dominates a signature's cost. Keys never
    /// change once created, so entries need no invalidation; revocation is checked per call.
    pub(crate) credential_keys: credential::CredentialCache<credential::CachedKey>,
    /// Credentials as loaded for signing, by id (see `Authority::signer`): records
    /// and certificate are fixed once created; revocation is read from the store per signature.
    pub(crate) signing_credentials: credential::CredentialCache<credential::SigningCredential>,
    /// Each CA's current CRL as [`Authority::current_crl`] last signed it.
    pub(crate) current_crls: std::sync::Mutex<BTreeMap<String, CurrentCrl>>,
    /// Each CA's delegated OCSP responder (`ocsp`), replaced when renewed.
    pub(crate) responders: std::sync::RwLock<BTreeMap<String, std::sync::Arc<ocsp::Responder>>>,
    /// nextUpdate − thisUpdate of OCSP responses, seconds.
    pub(crate) ocsp_validity: u64,
    /// The time-stamping authority; `None` when the profiles have no `tsa` profile.
    pub(crate) tsa: Option<timestamp::TimeStamping>,
    /// A foreign TSA used for time-stamps instead of the built-in one (`with_foreign_tsa`).
    pub(crate) foreign_tsa: Option<std::sync::Arc<augment::ForeignTsa>>,
    /// Who may ask the built-in TSA for a token (`with_tsa_access`).
    pub(crate) tsa_access: timestamp::TsaAccess,
    /// Where new keys are made and stored keys found (`init_with_keys`, `open_with_keys`).
    pub(crate) keys: keys::KeyBackend,
}

impl<S: Store> std::fmt::Debug for Authority<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field("cas", &self.cas.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl<S: Store> Authority<S> {
    /// Creates every CA the profiles define (self-signed first, then those they sign) and, when
    /// they have a `tsa` profile, the time-stamping authority's key and certificate; seals the
    /// keys and records everything with the `Init` audit event in one write.
    pub fn init(
        store: S,
        profiles: ProfileSet,
        sealer: Sealer,
        req: InitRequest,
    ) -> Result<Self, AuthorityError> {
        Self::init_with_keys(store, profiles, sealer, keys::KeyBackend::Software, req)
    }

    /// As [`Self::init`], with the CA, TSA and OCSP responder keys (except imported ones) made
    /// where `keys` says: in a PKCS#11 token, the store then holding references, not sealed keys.
    pub fn init_with_keys(
        store: S,
        profiles: ProfileSet,
        sealer: Sealer,
        keys: keys::KeyBackend,
        mut req: InitRequest,
    ) -> Result<Self, AuthorityError> {
        if store.authority("root")?.is_some() {
            return Err(StoreError::AlreadyInitialised.into());
        }
        if keys.token().is_some() && !req.imported_keys.is_empty() && !req.allow_software_ca_keys {
            return Err(AuthorityError::SoftwareCaKeyRefused);
        }
        // A CRL valid for 0 days is stale when published: every read would need a new one.
        if req.config.crl_validity_days == 0 {
            return Err(AuthorityError::Config(
                "CRL validity must be at least 1 day".into(),
            ));
        }
        let policy_arc = parse_arc(&req.config.policy_arc)?;
        // The init record is the first keyed one: the log is authenticated from record 1.
        let audit_key = AuditKey::generate()?;
        let sealed_audit_key = sealer.seal(audit_key.secret(), AUDIT_KEY_CONTEXT)?;
        let mut cas: BTreeMap<String, Ca> = BTreeMap::new();
        let mut records = Vec::new();
        let mut ca_certificates = Vec::new();
        let ca_profiles: Vec<_> = profiles
            .profiles()
            .filter(|p| p.ca_id().is_some())
            .collect();
        // Parents before children; profiles form a tree rooted at the self-signed profile.
        let mut pending = ca_profiles;
        while !pending.is_empty() {
            let before = pending.len();
            let mut rest = Vec::new();
            for profile in pending {
                let ready = match profile.issuer() {
                    IssuerRef::SelfSigned => true,
                    IssuerRef::Ca(parent) => cas.contains_key(parent),
                };
                if !ready {
                    rest.push(profile);
                    continue;
                }
                let id = profile.ca_id().unwrap_or_default().to_owned();
                let key = match req.imported_keys.remove(&id) {
                    Some(k) => k,
                    None => keys.generate(req.key_algorithm, &format!("ca {id}"))?,
                };
                let subject = crate::engine::name::parse_subject(&format!(
                    "C={},O={},CN={}",
                    rfc4514_escape(&req.country),
                    rfc4514_escape(&req.organization),
                    rfc4514_escape(&ca_common_name(&req.organization, &id)),
                ))
                .map_err(|e| AuthorityError::Config(e.to_string()))?;
                let parent = match profile.issuer() {
                    IssuerRef::SelfSigned => None,
                    IssuerRef::Ca(p) => Some(p.clone()),
                };
                let mut not_after = req.now + u64::from(profile.max_validity_days()) * DAY;
                if let Some(p) = parent.as_ref().and_then(|p| cas.get(p)) {
                    not_after = not_after.min(p.not_after);
                }
                let spki = key.public_key_info().clone();
                let registration = Registration {
                    profile: profile.id().to_owned(),
                    subject: subject.clone(),
                    sans: Vec::new(),
                    hc_roles: Vec::new(),
                    validity_days: None,
                };
                issue::check(profile, &profiles, &registration, &spki, req.now, not_after)?;
                let key_id = issue::key_identifier(&spki);
                let issued_policies = profiles.policies_issued_by(&id, &policy_arc);
                let urls = match &parent {
                    Some(p) => expand_urls(&req.config.urls, p),
                    None => CaUrls::default(),
                };
                let parent_ca = parent.as_ref().and_then(|p| cas.get(p));
                let draft = Draft {
                    profile,
                    subject: &subject,
                    spki: &spki,
                    not_before: req.now,
                    not_after,
                    ext: ExtensionContext {
                        subject_key_id: &key_id,
                        authority_key_id: parent_ca.map(|p| p.key_id.as_slice()),
                        policy_arc: &policy_arc,
                        issued_policies: &issued_policies,
                        urls: &urls,
                        sans: &[],
                        hc_roles: &[],
                    },
                };
                let signer = parent_ca.map(|p| Signer {
                    name: &p.name,
                    key: &p.key,
                });
                let serial = next_serial(&req.serials, &store, profile.id(), &subject, &spki)?;
                let cert = issue::build(&draft, serial, signer.as_ref(), Some(&key))?;
                let der = cert
                    .to_der()
                    .map_err(|e| IssueError::Build(e.to_string()))?;
                let (sealed_key, pkcs11) = keys::stored(&sealer, &key, id.as_bytes())?;
                records.push(AuthorityRecord {
                    id: id.clone(),
                    certificate_der: der.clone(),
                    sealed_key,
                    pkcs11,
                });
                let serial = cert.tbs_certificate().serial_number().as_bytes().to_vec();
                if let Some(parent) = &parent {
                    ca_certificates.push(CertificateRecord {
                        serial: serial.clone(),
                        issuer_ca: parent.clone(),
                        profile: profile.id().to_owned(),
                        subject: crate::engine::name::display(&subject),
                        not_after,
                        der: der.clone(),
                        revocation: None,
                    });
                }
                cas.insert(
                    id,
                    Ca {
                        der,
                        serial,
                        name: subject,
                        key,
                        key_id,
                        not_after,
                        parent,
                    },
                );
            }
            if rest.len() == before {
                return Err(AuthorityError::Config(
                    "CA profiles do not form a tree rooted at a self-signed profile".into(),
                ));
            }
            pending = rest;
        }
        if let Some(unused) = req.imported_keys.keys().next() {
            return Err(AuthorityError::UnknownCa(unused.clone()));
        }
        // Each CA's delegated OCSP responder is part of the installation from the first record.
        let mut responders = BTreeMap::new();
        let mut responder_settings = Vec::new();
        let mut responder_details = Vec::new();
        let maker = ocsp::Maker {
            store: &store,
            profiles: &profiles,
            policy_arc: &policy_arc,
            urls: &req.config.urls,
            serials: &req.serials,
            sealer: &sealer,
            keys: &keys,
        };
        for (id, ca) in &cas {
            let Some(profile) = ocsp::responder_profile(&profiles, id) else {
                continue;
            };
            let made = maker.make(id, ca, profile, req.now)?;
            responder_details.push((
                format!("ocsp_responder:{id}"),
                hex::encode(&made.record.serial),
            ));
            ca_certificates.push(made.record);
            responder_settings.push((made.setting_key, made.setting));
            responders.insert(id.clone(), std::sync::Arc::new(made.responder));
        }
        let config_json =
            serde_json::to_vec(&req.config).map_err(|e| AuthorityError::Config(e.to_string()))?;
        let mut settings: Vec<(&str, &[u8])> = vec![
            (SETTING_CONFIG, &config_json),
            (SETTING_AUDIT_KEY, &sealed_audit_key),
        ];
        settings.extend(req.settings.iter().map(|(k, v)| (k.as_str(), v.as_slice())));
        settings.extend(
            responder_settings
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_slice())),
        );
        let mut details = vec![
            ("organization".to_owned(), req.organization.clone()),
            ("policy_arc".to_owned(), req.config.policy_arc.clone()),
            ("audit_key".to_owned(), audit_key.key_id()),
        ];
        for (id, ca) in &cas {
            details.push((format!("ca:{id}"), crate::engine::name::display(&ca.name)));
        }
        details.extend(responder_details);
        store.set_audit_mac(audit_key.mac())?;
        let mut authority = Self {
            store,
            profiles,
            config: req.config.clone(),
            policy_arc,
            cas,
            serials: req.serials.clone(),
            sealer,
            audit_key,
            credential_keys: Default::default(),
            signing_credentials: Default::default(),
            current_crls: Default::default(),
            responders: std::sync::RwLock::new(responders),
            ocsp_validity: ocsp::DEFAULT_OCSP_VALIDITY_SECONDS,
            tsa: None,
            foreign_tsa: None,
            tsa_access: timestamp::TsaAccess::Open,
            keys,
        };
        // The TSA's certificate is one more certificate of the inventory, written with the CAs.
        let new_tsa = authority.new_tsa(req.key_algorithm, req.now, &req.actor)?;
        let tsa_setting;
        if let Some(new) = &new_tsa {
            ca_certificates.push(new.record.clone());
            tsa_setting = new.setting.clone();
            settings.push((timestamp::SETTING_TSA_KEY, &tsa_setting));
            details.extend(new.details.iter().cloned());
        }
        authority.store.initialise(
            &records,
            &ca_certificates,
            &settings,
            AuditEvent {
                time: req.now,
                actor: std::mem::take(&mut req.actor),
                action: AuditAction::Init,
                object: "authority".into(),
                details,
            },
        )?;
        authority.tsa = new_tsa.map(|new| new.tsa);
        Ok(authority)
    }

    /// Opens an initialised installation, unsealing the CA keys, the audit key and the
    /// time-stamping authority's key. A store made before audit keys gets one now, recorded at
    /// `now` as an `audit_key` event (the first authenticated record); a CA with a delegated OCSP
    /// responder profile and no responder (or one due for renewal) gets a new one, recorded as
    /// an `issue` event; a store made before the TSA (or before its profiles had a `tsa`
    /// profile), or whose TSA certificate is revoked or expired, gets a TSA key and certificate,
    /// recorded as a `tsa_key` event.
    pub fn open(
        store: S,
        profiles: ProfileSet,
        sealer: Sealer,
        now: u64,
    ) -> Result<Self, AuthorityError> {
        Self::open_with_keys(store, profiles, sealer, keys::KeyBackend::Software, now)
    }

    /// As [`Self::open`], the keys held in a token opened through `keys` (which must be the token
    /// the references name) and each checked against its certificate; new keys (a renewed OCSP
    /// responder or TSA) are made there too.
    pub fn open_with_keys(
        store: S,
        profiles: ProfileSet,
        sealer: Sealer,
        keys: keys::KeyBackend,
        now: u64,
    ) -> Result<Self, AuthorityError> {
        let config: AuthorityConfig = match store.setting(SETTING_CONFIG)? {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| StoreError::Corrupt(format!("{SETTING_CONFIG}: {e}")))?,
            None => return Err(AuthorityError::NotInitialised),
        };
        let policy_arc = parse_arc(&config.policy_arc)?;
        let mut cas = BTreeMap::new();
        for profile in profiles.profiles() {
            let Some(id) = profile.ca_id() else { continue };
            let record = store
                .authority(id)?
                .ok_or_else(|| AuthorityError::UnknownCa(id.to_owned()))?;
            let key = keys.open(
                &sealer,
                &record.sealed_key,
                record.pkcs11.as_ref(),
                id.as_bytes(),
            )?;
            let cert = Certificate::from_der(&record.certificate_der)
                .map_err(|e| StoreError::Corrupt(format!("CA {id}: {e}")))?;
            let tbs = cert.tbs_certificate();
            if tbs.subject_public_key_info() != key.public_key_info() {
                return Err(StoreError::Corrupt(format!(
                    "CA {id}: key does not match certificate"
                ))
                .into());
            }
            let parent = match profile.issuer() {
                IssuerRef::SelfSigned => None,
                IssuerRef::Ca(p) => Some(p.clone()),
            };
            cas.insert(
                id.to_owned(),
                Ca {
                    serial: tbs.serial_number().as_bytes().to_vec(),
                    name: tbs.subject().clone(),
                    key_id: issue::key_identifier(key.public_key_info()),
                    not_after: tbs.validity().not_after.to_unix_duration().as_secs(),
                    der: record.certificate_der,
                    key,
                    parent,
                },
            );
        }
        if cas.is_empty() {
            return Err(AuthorityError::NotInitialised);
        }
        let audit_key = open_audit_key(&store, &sealer, now)?;
        let mut authority = Self {
            store,
            profiles,
            config,
            policy_arc,
            cas,
            serials: SerialSource::Random,
            sealer,
            audit_key,
            credential_keys: Default::default(),
            signing_credentials: Default::default(),
            current_crls: Default::default(),
            responders: Default::default(),
            ocsp_validity: ocsp::DEFAULT_OCSP_VALIDITY_SECONDS,
            tsa: None,
            foreign_tsa: None,
            tsa_access: timestamp::TsaAccess::Open,
            keys,
        };
        authority.open_responders(now)?;
        authority.tsa = authority.open_tsa(now)?;
        Ok(authority)
    }

    /// Replaces how serial numbers are chosen (see [`SerialSource`]).
    pub fn with_serials(mut self, serials: SerialSource) -> Self {
        self.serials = serials;
        self
    }

    /// The store it writes to.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The certificate profiles it issues under.
    pub fn profiles(&self) -> &ProfileSet {
        &self.profiles
    }

    /// The installation-wide choices made at init.
    pub fn config(&self) -> &AuthorityConfig {
        &self.config
    }

    /// Ids of the CAs held, ordered.
    pub fn ca_ids(&self) -> impl Iterator<Item = &str> {
        self.cas.keys().map(String::as_str)
    }

    /// DER of CA `id`'s certificate.
    pub fn ca_certificate(&self, id: &str) -> Result<&[u8], AuthorityError> {
        Ok(&self.ca(id)?.der)
    }

    /// CA `id` and the CAs above it, up to the root (DER, issuing CA first).
    pub fn chain(&self, id: &str) -> Result<Vec<Vec<u8>>, AuthorityError> {
        let mut chain = Vec::new();
        let mut next = Some(id.to_owned());
        while let Some(id) = next {
            let ca = self.ca(&id)?;
            chain.push(ca.der.clone());
            next = ca.parent.clone();
            if chain.len() > self.cas.len() {
                return Err(StoreError::Corrupt("CA chain loops".into()).into());
            }
        }
        Ok(chain)
    }

    pub(crate) fn ca(&self, id: &str) -> Result<&Ca, AuthorityError> {
        self.cas
            .get(id)
            .ok_or_else(|| AuthorityError::UnknownCa(id.to_owned()))
    }

    /// Fails with `CaRevoked` when CA `id`, or a CA above it, has been revoked by its issuer: a
    /// certificate under it no longer validates (RFC 5280 §6.3), so it must neither issue nor
    /// sign nor authenticate. Read from the revocation index on every call.
    pub fn check_ca_chain(&self, id: &str) -> Result<(), AuthorityError> {
        let mut current = self.ca(id)?;
        let mut current_id = id;
        while let Some(parent) = &current.parent {
            if self.store.revocation(parent, &current.serial)?.is_some() {
                return Err(AuthorityError::CaRevoked(current_id.to_owned()));
            }
            current_id = parent;
            current = self.ca(parent)?;
        }
        Ok(())
    }

    /// Issues an end-entity certificate: CSR proof of possession, profile check, unique random
    /// serial, signature, then the certificate and its audit record in one durable write.
    /// Nothing is written when any check fails.
    pub fn issue(
        &self,
        registration: &Registration,
        csr: &[u8],
        now: u64,
        actor: &str,
    ) -> Result<Issued, AuthorityError> {
        let Prepared { record, event } =
            self.prepare_certificate(registration, PublicKeySource::Csr(csr), now, actor)?;
        let audit = self.store.insert_certificate(&record, event)?;
        Ok(Issued {
            chain: self.chain(&record.issuer_ca)?,
            serial: record.serial,
            certificate: record.der,
            audit_seq: audit.seq,
        })
    }

    /// Everything `issue` does except the write: the checked, signed certificate's record and
    /// the `Issue` audit event, for the caller to store (alone, or with a credential).
    pub(crate) fn prepare_certificate(
        &self,
        registration: &Registration,
        key: PublicKeySource<'_>,
        now: u64,
        actor: &str,
    ) -> Result<Prepared, AuthorityError> {
        let profile = self.profiles.get(&registration.profile)?;
        if profile.ca_id().is_some() {
            return Err(IssueError::CaProfile(profile.id().to_owned()).into());
        }
        let ca_id = match profile.issuer() {
            IssuerRef::Ca(id) => id.clone(),
            IssuerRef::SelfSigned => {
                return Err(IssueError::CaProfile(profile.id().to_owned()).into());
            }
        };
        let ca = self.ca(&ca_id)?;
        self.check_ca_chain(&ca_id)?;
        let (csr, spki) = match key {
            PublicKeySource::Csr(bytes) => {
                let csr = issue::parse_csr(bytes)?;
                let spki = csr.info.public_key.clone();
                (Some(csr), spki)
            }
            PublicKeySource::Own(spki) => (None, spki.clone()),
        };
        let days = registration
            .validity_days
            .unwrap_or_else(|| profile.max_validity_days());
        // Never outlive the issuing CA (RFC 5280 does not forbid it; relying parties would reject).
        let not_after = (now + u64::from(days) * DAY).min(ca.not_after);
        issue::check(
            profile,
            &self.profiles,
            registration,
            &spki,
            now,
            now + u64::from(days) * DAY,
        )?;
        // A key we generated needs no proof of possession.
        if let Some(csr) = &csr {
            issue::check_proof_of_possession(csr)?;
        }

        let serial = next_serial(
            &self.serials,
            &self.store,
            profile.id(),
            &registration.subject,
            &spki,
        )?;
        let key_id = issue::key_identifier(&spki);
        let urls = expand_urls(&self.config.urls, &ca_id);
        let draft = Draft {
            profile,
            subject: &registration.subject,
            spki: &spki,
            not_before: now,
            not_after,
            ext: ExtensionContext {
                subject_key_id: &key_id,
                authority_key_id: Some(&ca.key_id),
                policy_arc: &self.policy_arc,
                issued_policies: &[],
                urls: &urls,
                sans: &registration.sans,
                hc_roles: &registration.hc_roles,
            },
        };
        let signer = Signer {
            name: &ca.name,
            key: &ca.key,
        };
        let cert = issue::build(&draft, serial.clone(), Some(&signer), None)?;
        let der = cert
            .to_der()
            .map_err(|e| IssueError::Build(e.to_string()))?;
        let serial = serial.as_bytes().to_vec();
        let subject = crate::engine::name::display(&registration.subject);
        let mut details = vec![
            ("profile".to_owned(), profile.id().to_owned()),
            ("issuer".to_owned(), ca_id.clone()),
            ("subject".to_owned(), subject.clone()),
            ("not_after".to_owned(), not_after.to_string()),
        ];
        for role in &registration.hc_roles {
            details.push(("hc_role".to_owned(), role.to_string()));
        }
        let event = AuditEvent {
            time: now,
            actor: actor.to_owned(),
            action: AuditAction::Issue,
            object: format!("certificate:{}", hex::encode(&serial)),
            details,
        };
        Ok(Prepared {
            record: CertificateRecord {
                serial,
                issuer_ca: ca_id,
                profile: profile.id().to_owned(),
                subject,
                not_after,
                der,
                revocation: None,
            },
            event,
        })
    }

    /// Revokes an issued certificate (RFC 5280 §5.3.1 reason, §5.3.2 invalidity date).
    pub fn revoke(
        &self,
        serial: &[u8],
        reason: RevocationReason,
        invalidity_date: Option<u64>,
        now: u64,
        actor: &str,
    ) -> Result<CertificateRecord, AuthorityError> {
        // The RFC 5280 §5.3.1 name (`keyCompromise`), never the Rust variant's Debug spelling.
        let mut details = vec![("reason".to_owned(), reason.name().to_owned())];
        if let Some(at) = invalidity_date {
            details.push(("invalidity_date".to_owned(), at.to_string()));
        }
        let action = match reason {
            RevocationReason::CertificateHold => AuditAction::Hold,
            _ => AuditAction::Revoke,
        };
        Ok(self.store.revoke(
            serial,
            Revocation {
                reason,
                revoked_at: now,
                invalidity_date,
            },
            AuditEvent {
                time: now,
                actor: actor.to_owned(),
                action,
                object: format!("certificate:{}", hex::encode(serial)),
                details,
            },
        )?)
    }

    /// Lifts the hold of a certificate revoked with reason certificateHold: the next full CRL no
    /// longer lists it (RFC 5280 §5.3.1) and its credential signs again.
    pub fn release(
        &self,
        serial: &[u8],
        now: u64,
        actor: &str,
    ) -> Result<CertificateRecord, AuthorityError> {
        Ok(self.store.release(
            serial,
            AuditEvent {
                time: now,
                actor: actor.to_owned(),
                action: AuditAction::Release,
                object: format!("certificate:{}", hex::encode(serial)),
                details: Vec::new(),
            },
        )?)
    }

    /// nextUpdate − thisUpdate of every CRL; at least a day (installations made before `init`
    /// refused 0 days may hold 0).
    fn crl_validity(&self) -> u64 {
        u64::from(self.config.crl_validity_days.max(1)) * DAY
    }

    /// CA `ca_id`'s current CRL (DER): the one this authority last signed, until half its
    /// validity has passed (so relying parties fetch a fresh one well before nextUpdate), the
    /// store's revocation index of the CA differs from what it lists (a revocation or release
    /// by any process on the store: several instances share one PostgreSQL database), or
    /// `stale` forces a new one; only then a new one. Reading a CRL, which needs no
    /// authentication, thus never burns CRL numbers or floods the audit log; it costs one read
    /// of the CA's revocation index.
    pub fn current_crl(
        &self,
        ca_id: &str,
        now: u64,
        actor: &str,
        stale: bool,
    ) -> Result<Vec<u8>, AuthorityError> {
        let mut current = self.current_crls.lock().unwrap_or_else(|e| e.into_inner());
        self.ca(ca_id)?;
        if let Some(crl) = current.get(ca_id)
            && !stale
            && (crl.this_update..crl.this_update + self.crl_validity() / 2).contains(&now)
            && crl.revoked == self.store.revoked(ca_id)?
        {
            return Ok(crl.der.clone());
        }
        self.sign_crl(&mut current, ca_id, now, actor)
    }

    /// Allocates the next CRL number of CA `ca_id` and signs its CRL (DER), which becomes the
    /// current one.
    pub fn crl(&self, ca_id: &str, now: u64, actor: &str) -> Result<Vec<u8>, AuthorityError> {
        let mut current = self.current_crls.lock().unwrap_or_else(|e| e.into_inner());
        self.sign_crl(&mut current, ca_id, now, actor)
    }

    /// Signs the CRL of the next number with the revocation index as of that number
    /// (`Store::next_crl`), under the lock of `current` (one CRL at a time in this process), and
    /// keeps it there as the current one.
    fn sign_crl(
        &self,
        current: &mut BTreeMap<String, CurrentCrl>,
        ca_id: &str,
        now: u64,
        actor: &str,
    ) -> Result<Vec<u8>, AuthorityError> {
        let ca = self.ca(ca_id)?;
        let next_update = now + self.crl_validity();
        let (number, revoked) = self.store.next_crl(ca_id, &|entries| AuditEvent {
            time: now,
            actor: actor.to_owned(),
            action: AuditAction::Crl,
            object: format!("crl:{ca_id}"),
            details: vec![
                ("entries".to_owned(), entries.to_string()),
                ("next_update".to_owned(), next_update.to_string()),
            ],
        })?;
        let der = crl::build(
            &CrlContent {
                issuer: &ca.name,
                issuer_key_id: &ca.key_id,
                number,
                this_update: now,
                next_update,
                revoked: &revoked,
            },
            &ca.key,
        )?;
        current.insert(
            ca_id.to_owned(),
            CurrentCrl {
                der: der.clone(),
                this_update: now,
                revoked,
            },
        );
        Ok(der)
    }
}

impl<S: Store> Authority<S> {
    /// Id of the audit key (`AuditKey::key_id`), as the `init` or `audit_key` record names it.
    pub fn audit_key_id(&self) -> String {
        self.audit_key.key_id()
    }

    /// A checkpoint of the audit log's head, signed at `now`, for an auditor to keep.
    pub fn audit_checkpoint(&self, now: u64) -> Result<Checkpoint, AuditLogError> {
        // Only a head that verifies is worth signing.
        let report = crate::engine::store::verify_audit_log(&self.store, &self.audit_key, None)?;
        let (seq, hash) = self.store.audit_head()?.ok_or_else(|| {
            StoreError::Corrupt(format!(
                "no audit head after {} verified records",
                report.records
            ))
        })?;
        Ok(self.audit_key.checkpoint(seq, &hash, now))
    }

    /// Verifies the audit log with the audit key and, when given, that it extends `checkpoint`
    /// (see `audit::verify_log`).
    pub fn verify_audit(
        &self,
        checkpoint: Option<&Checkpoint>,
    ) -> Result<AuditReport, AuditLogError> {
        crate::engine::store::verify_audit_log(&self.store, &self.audit_key, checkpoint)
    }
}

/// The MAC key of the audit key sealed in `store`, unsealed with `sealer` (the installation's
/// master secret); `None` in a store made before audit keys. What `store::copy` checks the
/// records' MACs with.
pub fn stored_audit_mac<S: Store + ?Sized>(
    store: &S,
    sealer: &Sealer,
) -> Result<Option<AuditMac>, AuthorityError> {
    Ok(stored_audit_key(store, sealer)?.map(|key| key.mac()))
}

/// The audit key sealed in `store`, unsealed; `None` in a store made before audit keys.
pub(crate) fn stored_audit_key<S: Store + ?Sized>(
    store: &S,
    sealer: &Sealer,
) -> Result<Option<AuditKey>, AuthorityError> {
    let Some(sealed) = store.setting(SETTING_AUDIT_KEY)? else {
        return Ok(None);
    };
    let key = AuditKey::from_secret(&sealer.open(&sealed, AUDIT_KEY_CONTEXT)?)
        .ok_or_else(|| StoreError::Corrupt(format!("{SETTING_AUDIT_KEY}: wrong length")))?;
    Ok(Some(key))
}

/// The sealed audit key of `store`, installed as its MAC key; created (and its creation audited,
/// as the first keyed record) when the store predates audit keys.
fn open_audit_key<S: Store>(
    store: &S,
    sealer: &Sealer,
    now: u64,
) -> Result<AuditKey, AuthorityError> {
    if let Some(key) = stored_audit_key(store, sealer)? {
        store.set_audit_mac(key.mac())?;
        return Ok(key);
    }
    // A log that was keyed once lost its key to tampering, not to age: a new key would bless
    // whatever the log now holds. (A log stripped of its MACs as well looks like an old one;
    // checkpoints, signed by the old key, catch that.)
    if let Some(keyed) = store.audit_log()?.iter().find(|r| r.mac.is_some()) {
        return Err(StoreError::Corrupt(format!(
            "audit record {} carries a MAC but the store holds no audit key: it was removed",
            keyed.seq
        ))
        .into());
    }
    let key = AuditKey::generate()?;
    let sealed = sealer.seal(key.secret(), AUDIT_KEY_CONTEXT)?;
    store.set_audit_mac(key.mac())?;
    let head = store.audit_head()?.map_or(0, |(seq, _)| seq);
    store.add_setting(
        SETTING_AUDIT_KEY,
        &sealed,
        AuditEvent {
            time: now,
            actor: "system".into(),
            action: AuditAction::AuditKey,
            object: "audit-log".into(),
            details: vec![
                ("audit_key".to_owned(), key.key_id()),
                ("unauthenticated_records".to_owned(), head.to_string()),
            ],
        },
    )?;
    Ok(key)
}

/// A serial number not yet in the store.
fn next_serial<S: Store>(
    source: &SerialSource,
    store: &S,
    profile: &str,
    subject: &Name,
    spki: &x509_cert::spki::SubjectPublicKeyInfoOwned,
) -> Result<x509_cert::serial_number::SerialNumber, AuthorityError> {
    let serial = match source {
        SerialSource::Random => {
            for _ in 0..8 {
                let serial = issue::random_serial()?;
                if !store.contains_serial(serial.as_bytes())? {
                    return Ok(serial);
                }
            }
            return Err(IssueError::Serial.into());
        }
        SerialSource::Derived(seed) => {
            let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
            ctx.update(seed);
            ctx.update(profile.as_bytes());
            ctx.update(
                &subject
                    .to_der()
                    .map_err(|e| IssueError::Build(e.to_string()))?,
            );
            ctx.update(
                &spki
                    .to_der()
                    .map_err(|e| IssueError::Build(e.to_string()))?,
            );
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(&ctx.finish().as_ref()[..16]);
            bytes[0] = (bytes[0] & 0x7f) | 0x01;
            x509_cert::serial_number::SerialNumber::new(&bytes)
                .map_err(|e| IssueError::Build(e.to_string()))?
        }
    };
    if store.contains_serial(serial.as_bytes())? {
        return Err(StoreError::DuplicateSerial(hex::encode(serial.as_bytes())).into());
    }
    Ok(serial)
}

fn parse_arc(arc: &str) -> Result<ObjectIdentifier, AuthorityError> {
    ObjectIdentifier::new(arc)
        .map_err(|e| AuthorityError::Config(format!("policy arc {arc:?}: {e}")))
}

fn expand_urls(templates: &CaUrls, ca_id: &str) -> CaUrls {
    let fill = |t: &Option<String>| t.as_ref().map(|t| t.replace("{ca}", ca_id));
    CaUrls {
        cps: fill(&templates.cps),
        crl: fill(&templates.crl),
        ca_issuers: fill(&templates.ca_issuers),
        ocsp: fill(&templates.ocsp),
    }
}

fn ca_common_name(organization: &str, id: &str) -> String {
    let what = match id {
        "root" => "Root CA".to_owned(),
        "sign" => "Signature CA".to_owned(),
        "auth" => "Authentication CA".to_owned(),
        other => format!("{other} CA"),
    };
    format!("{organization} HPKI {what}")
}

/// Escapes a value for an RFC 4514 string (§2.4).
fn rfc4514_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for (i, c) in value.chars().enumerate() {
        let edge = i == 0 || i + 1 == value.chars().count();
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => out.push('\\'),
            '#' if i == 0 => out.push('\\'),
            ' ' if edge => out.push('\\'),
            _ => {}
        }
        out.push(c);
    }
    out
}
