//! The OCSP responder of each CA (RFC 6960, RFC 5019 profile): which CA a request names, the
//! status read from the same revocation index the CRLs list (`Store::revocation`), and who signs.
//!
//! A CA with a delegated responder profile (an end-entity profile it issues with EKU OCSPSigning
//! and id-pkix-ocsp-nocheck, found by those properties, not by id) answers through a responder
//! key and certificate of that profile (RFC 6960 §4.2.2.2): made at `init`, on `open` when
//! missing, and renewed (new key, new certificate, an `issue` audit record) once less than a
//! third of its life remains, at `open` or when answering. The key is sealed like the CA keys in
//! the store setting `ocsp.responder.<ca>`, written with its certificate in one transaction. A CA
//! without such a profile (the root, answering for the sub-CAs it issued) signs with its own key
//! (a CA-designated responder). Answers are not audited one by one (volume); renewals are.

use super::keys::KeyBackend;
use super::{Authority, AuthorityError, Ca, DAY, SerialSource, expand_urls, next_serial};
use crate::engine::audit::{AuditAction, AuditEvent};
use crate::engine::issue::{self, Draft, IssueError, Registration, Signer};
use crate::engine::key::{KeyAlgorithm, Pkcs11KeyRef, SigningKey};
use crate::engine::ocsp::{self, OcspAnswer, OcspResponseStatus, Signing, Single};
use crate::engine::profile::{
    CaUrls, ExtensionContext, IssuerRef, OcspResponseRule, Profile, ProfileSet,
};
use crate::engine::seal::Sealer;
use crate::engine::store::{CertificateRecord, Store, StoreError};
use const_oid::ObjectIdentifier;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use x509_cert::Certificate;
use x509_cert::der::{Decode, Encode};
use x509_cert::name::Name;

/// Prefix of the store setting holding CA `<ca>`'s responder (`ocsp.responder.<ca>`).
pub const SETTING_RESPONDER_PREFIX: &str = "ocsp.responder.";

/// nextUpdate − thisUpdate of a response unless [`OcspSettings`] says otherwise: an hour.
pub const DEFAULT_OCSP_VALIDITY_SECONDS: u64 = 3600;

/// The service's OCSP choices (`Authority::with_ocsp`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OcspSettings {
    /// The AIA id-ad-ocsp URL put into certificates issued from now on; `None`: none (the
    /// responder is off). Replaces the URL recorded at init, in memory only.
    pub url: Option<String>,
    /// nextUpdate − thisUpdate of every response, in seconds (at least 1): how long a relying
    /// party may keep an answer, so how late it may learn of a revocation, as a CRL's validity.
    pub validity_seconds: u64,
}

/// A delegated responder, its key open in memory.
pub(crate) struct Responder {
    key: SigningKey,
    /// Its certificate, the only one `certs` carries (the CA issued it: RFC 6960 §4.2.2.2).
    certs: Vec<Certificate>,
    serial: Vec<u8>,
    not_before: u64,
    not_after: u64,
    rule: OcspResponseRule,
}

impl Responder {
    /// Its signing key.
    pub(crate) fn key(&self) -> &SigningKey {
        &self.key
    }

    /// Less than a third of its life left: time for a new key and certificate.
    fn due(&self, now: u64) -> bool {
        let life = self.not_after.saturating_sub(self.not_before);
        self.not_after.saturating_sub(now) < life / 3
    }
}

/// What the setting holds: the certificate's serial and the sealed PKCS#8 key, or the key's
/// place in a token (`sealed_key` then empty).
#[derive(Serialize, Deserialize)]
struct ResponderSetting {
    serial: String,
    #[serde(default)]
    sealed_key: Vec<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pkcs11: Option<Pkcs11KeyRef>,
}

/// A responder made, not yet stored: its certificate record and setting value.
pub(super) struct Made {
    pub(super) record: CertificateRecord,
    pub(super) setting_key: String,
    pub(super) setting: Vec<u8>,
    pub(super) responder: Responder,
}

/// What making a responder needs from the authority (at init there is no `Authority` yet).
pub(super) struct Maker<'a, S: Store> {
    pub(super) store: &'a S,
    pub(super) profiles: &'a ProfileSet,
    pub(super) policy_arc: &'a ObjectIdentifier,
    pub(super) urls: &'a CaUrls,
    pub(super) serials: &'a SerialSource,
    pub(super) sealer: &'a Sealer,
    pub(super) keys: &'a KeyBackend,
}

/// The delegated responder profile of CA `ca_id`: issued by it, EKU OCSPSigning and
/// ocsp_nocheck; the first by id when several.
pub(super) fn responder_profile<'a>(profiles: &'a ProfileSet, ca_id: &str) -> Option<&'a Profile> {
    profiles
        .profiles()
        .filter(|p| p.is_ocsp_responder() && *p.issuer() == IssuerRef::Ca(ca_id.to_owned()))
        .min_by(|a, b| a.id().cmp(b.id()))
}

fn setting_key(ca_id: &str) -> String {
    format!("{SETTING_RESPONDER_PREFIX}{ca_id}")
}

/// Associated data of a sealed responder key: its CA and certificate, so a blob moved to another
/// setting does not open.
fn seal_context(ca_id: &str, serial: &[u8]) -> Vec<u8> {
    format!("ocsp-responder:{ca_id}:{}", hex::encode(serial)).into_bytes()
}

fn config(message: String) -> AuthorityError {
    AuthorityError::Config(message)
}

/// `C`, `O` of the CA, `CN` = the CA's CN + " OCSP Responder".
fn responder_subject(ca: &Name) -> Result<Name, AuthorityError> {
    let text = |r: der::Result<Option<String>>, what: &str| {
        r.ok()
            .flatten()
            .ok_or_else(|| config(format!("the CA subject has no {what}")))
    };
    let country = text(ca.country().map(|c| c.map(|c| c.as_str().to_owned())), "C")?;
    let org = text(
        ca.organization().map(|o| o.map(|o| o.value().into_owned())),
        "O",
    )?;
    let cn = text(
        ca.common_name().map(|o| o.map(|o| o.value().into_owned())),
        "CN",
    )?;
    crate::engine::name::parse_subject(&format!(
        "C={},O={},CN={}",
        super::rfc4514_escape(&country),
        super::rfc4514_escape(&org),
        super::rfc4514_escape(&format!("{cn} OCSP Responder")),
    ))
    .map_err(|e| config(e.to_string()))
}

impl<S: Store> Maker<'_, S> {
    /// A new key and a certificate of `profile` for CA `ca_id`'s responder, valid from `now`.
    pub(super) fn make(
        &self,
        ca_id: &str,
        ca: &Ca,
        profile: &Profile,
        now: u64,
    ) -> Result<Made, AuthorityError> {
        // ECDSA or Ed25519: fast to sign with and to generate (RSA would take seconds per renewal).
        let algorithm = [
            KeyAlgorithm::P256,
            KeyAlgorithm::P384,
            KeyAlgorithm::Ed25519,
        ]
        .into_iter()
        .find(|a| profile.key_algorithms().contains(a))
        .ok_or_else(|| {
            config(format!(
                "profile {}: an OCSP responder needs p256, p384 or ed25519",
                profile.id()
            ))
        })?;
        let key = self.keys.generate(algorithm, &format!("ocsp {ca_id}"))?;
        let spki = key.public_key_info().clone();
        let subject = responder_subject(&ca.name)?;
        let wanted = now + u64::from(profile.max_validity_days()) * DAY;
        let not_after = wanted.min(ca.not_after);
        let registration = Registration {
            profile: profile.id().to_owned(),
            subject: subject.clone(),
            sans: Vec::new(),
            hc_roles: Vec::new(),
            validity_days: None,
        };
        issue::check(profile, self.profiles, &registration, &spki, now, wanted)?;
        let serial = next_serial(self.serials, self.store, profile.id(), &subject, &spki)?;
        let key_id = issue::key_identifier(&spki);
        let urls = expand_urls(self.urls, ca_id);
        let draft = Draft {
            profile,
            subject: &subject,
            spki: &spki,
            not_before: now,
            not_after,
            ext: ExtensionContext {
                subject_key_id: &key_id,
                authority_key_id: Some(&ca.key_id),
                policy_arc: self.policy_arc,
                issued_policies: &[],
                urls: &urls,
                sans: &[],
                hc_roles: &[],
            },
        };
        let signer = Signer {
            name: &ca.name,
            key: &ca.key,
        };
        let cert = issue::build(&draft, serial, Some(&signer), None)?;
        let der = cert
            .to_der()
            .map_err(|e| IssueError::Build(e.to_string()))?;
        let serial = cert.tbs_certificate().serial_number().as_bytes().to_vec();
        let (sealed_key, pkcs11) =
            super::keys::stored(self.sealer, &key, &seal_context(ca_id, &serial))?;
        let setting = serde_json::to_vec(&ResponderSetting {
            serial: hex::encode(&serial),
            sealed_key,
            pkcs11,
        })
        .map_err(|e| config(e.to_string()))?;
        Ok(Made {
            record: CertificateRecord {
                serial: serial.clone(),
                issuer_ca: ca_id.to_owned(),
                profile: profile.id().to_owned(),
                subject: crate::engine::name::display(&subject),
                not_after,
                der,
                revocation: None,
            },
            setting_key: setting_key(ca_id),
            setting,
            responder: Responder {
                key,
                certs: vec![cert],
                serial,
                not_before: now,
                not_after,
                rule: profile.ocsp_response(),
            },
        })
    }
}

impl<S: Store> Authority<S> {
    /// Replaces the OCSP settings: the AIA URL of certificates issued from now on, and how long
    /// responses are valid. Without it: the URL recorded at init, an hour.
    pub fn with_ocsp(mut self, settings: OcspSettings) -> Self {
        self.config.urls.ocsp = settings.url;
        self.ocsp_validity = settings.validity_seconds.max(1);
        self
    }

    fn maker(&self) -> Maker<'_, S> {
        Maker {
            store: &self.store,
            profiles: &self.profiles,
            policy_arc: &self.policy_arc,
            urls: &self.config.urls,
            serials: &self.serials,
            sealer: &self.sealer,
            keys: &self.keys,
        }
    }

    /// Loads each CA's delegated responder, making one where the store holds none (a data
    /// directory from before the responder) or renewing it when due.
    pub(super) fn open_responders(&self, now: u64) -> Result<(), AuthorityError> {
        let ids: Vec<String> = self.cas.keys().cloned().collect();
        for ca_id in ids {
            let Some(profile) = responder_profile(&self.profiles, &ca_id) else {
                continue;
            };
            let loaded = self.load_responder(&ca_id, profile)?;
            if let Some(r) = loaded {
                self.responders_mut().insert(ca_id.clone(), Arc::new(r));
            }
            self.responder(&ca_id, now)?;
        }
        Ok(())
    }

    fn responders_mut(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, std::collections::BTreeMap<String, Arc<Responder>>> {
        self.responders.write().unwrap_or_else(|e| e.into_inner())
    }

    fn load_responder(
        &self,
        ca_id: &str,
        profile: &Profile,
    ) -> Result<Option<Responder>, AuthorityError> {
        let key = setting_key(ca_id);
        let Some(raw) = self.store.setting(&key)? else {
            return Ok(None);
        };
        let corrupt = |what: String| StoreError::Corrupt(format!("{key}: {what}"));
        let setting: ResponderSetting =
            serde_json::from_slice(&raw).map_err(|e| corrupt(e.to_string()))?;
        let serial = hex::decode(&setting.serial).map_err(|e| corrupt(e.to_string()))?;
        let record = self
            .store
            .certificate(&serial)?
            .ok_or_else(|| corrupt(format!("no certificate {}", setting.serial)))?;
        let cert = Certificate::from_der(&record.der).map_err(|e| corrupt(e.to_string()))?;
        let key = self.keys.open(
            &self.sealer,
            &setting.sealed_key,
            setting.pkcs11.as_ref(),
            &seal_context(ca_id, &serial),
        )?;
        let tbs = cert.tbs_certificate();
        if tbs.subject_public_key_info() != key.public_key_info() {
            return Err(corrupt("key does not match certificate".into()).into());
        }
        let validity = tbs.validity();
        Ok(Some(Responder {
            key,
            serial,
            not_before: validity.not_before.to_unix_duration().as_secs(),
            not_after: validity.not_after.to_unix_duration().as_secs(),
            certs: vec![cert],
            rule: profile.ocsp_response(),
        }))
    }

    /// CA `ca_id`'s delegated responder at `now`, renewed first when due; `None` when the CA
    /// answers itself. A renewal that fails leaves the current responder in use until it expires.
    fn responder(&self, ca_id: &str, now: u64) -> Result<Option<Arc<Responder>>, AuthorityError> {
        let current = self
            .responders
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(ca_id)
            .cloned();
        let Some(profile) = responder_profile(&self.profiles, ca_id) else {
            return Ok(None);
        };
        if let Some(r) = &current
            && !r.due(now)
        {
            return Ok(current);
        }
        let mut map = self.responders_mut();
        // Another thread may have renewed it while this one waited.
        if let Some(r) = map.get(ca_id)
            && !r.due(now)
        {
            return Ok(Some(r.clone()));
        }
        let old = map.get(ca_id).cloned();
        match self.renew_responder(ca_id, profile, old.as_deref(), now) {
            Ok(r) => {
                let r = Arc::new(r);
                map.insert(ca_id.to_owned(), r.clone());
                Ok(Some(r))
            }
            Err(e) => match old {
                Some(r) if now < r.not_after => Ok(Some(r)),
                // A revoked CA issues nothing, a responder certificate neither: it answers with
                // its own key (CA-designated, RFC 6960 §4.2.2.2), which relying parties then find
                // revoked on its issuer's CRL. Neither `open` nor the answers fail on it.
                _ if matches!(e, AuthorityError::CaRevoked(_)) => {
                    map.remove(ca_id);
                    Ok(None)
                }
                _ => Err(e),
            },
        }
    }

    /// Makes and stores a new responder for `ca_id`: certificate, sealed key (replacing the
    /// previous one's) and an `issue` audit record naming the responder it replaces, in one write.
    fn renew_responder(
        &self,
        ca_id: &str,
        profile: &Profile,
        old: Option<&Responder>,
        now: u64,
    ) -> Result<Responder, AuthorityError> {
        self.check_ca_chain(ca_id)?;
        let ca = self.ca(ca_id)?;
        let made = self.maker().make(ca_id, ca, profile, now)?;
        let mut details = vec![
            ("profile".to_owned(), profile.id().to_owned()),
            ("issuer".to_owned(), ca_id.to_owned()),
            ("subject".to_owned(), made.record.subject.clone()),
            ("not_after".to_owned(), made.record.not_after.to_string()),
            ("ocsp_responder".to_owned(), ca_id.to_owned()),
        ];
        if let Some(old) = old {
            details.push(("replaces".to_owned(), hex::encode(&old.serial)));
        }
        self.store.insert_certificate_with_setting(
            &made.record,
            &made.setting_key,
            &made.setting,
            AuditEvent {
                time: now,
                actor: "system".to_owned(),
                action: AuditAction::Issue,
                object: format!("certificate:{}", hex::encode(&made.record.serial)),
                details,
            },
        )?;
        Ok(made.responder)
    }

    /// DER of CA `ca_id`'s delegated OCSP responder certificate as of `now` (renewed first when
    /// due); `None` when the CA signs its responses itself.
    pub fn ocsp_responder_certificate(
        &self,
        ca_id: &str,
        now: u64,
    ) -> Result<Option<Vec<u8>>, AuthorityError> {
        self.ca(ca_id)?;
        let Some(r) = self.responder(ca_id, now)? else {
            return Ok(None);
        };
        let der = r.certs[0]
            .to_der()
            .map_err(|e| IssueError::Build(e.to_string()))?;
        Ok(Some(der))
    }

    /// Answers a DER `OCSPRequest` at `now` (RFC 6960 §2.2, §4.2; RFC 5019): malformedRequest for
    /// one that does not decode or breaks the limits of `ca_core::ocsp`; unauthorized (§2.3) when
    /// a CertID names no CA of ours, or the CertIDs name different CAs; else one signed response
    /// with a SingleResponse per CertID: `unknown` for a serial that CA never issued, `revoked`
    /// with time and reason as its CRL lists it, `good` otherwise. Status comes from the
    /// revocation index the CRLs are built from, read afresh. `Err` only when the store or a key
    /// fails (the caller answers internalError).
    pub fn ocsp_response(&self, request: &[u8], now: u64) -> Result<OcspAnswer, AuthorityError> {
        let Some(request) = ocsp::parse_request(request) else {
            return Ok(OcspAnswer::error(OcspResponseStatus::MalformedRequest));
        };
        let mut issuer: Option<(&str, &Ca)> = None;
        for id in &request.cert_ids {
            let Some(digest) = ocsp::cert_id_digest(&id.hash_algorithm) else {
                return Ok(OcspAnswer::error(OcspResponseStatus::Unauthorized));
            };
            let found = self
                .cas
                .iter()
                .find(|(_, ca)| ocsp::names_issuer(id, digest, &ca.name, ca.key.public_key_info()));
            match (found, issuer) {
                (None, _) => return Ok(OcspAnswer::error(OcspResponseStatus::Unauthorized)),
                (Some((ca_id, ca)), None) => issuer = Some((ca_id.as_str(), ca)),
                (Some((ca_id, _)), Some((first, _))) if ca_id != first => {
                    return Ok(OcspAnswer::error(OcspResponseStatus::Unauthorized));
                }
                (Some(_), Some(_)) => {}
            }
        }
        let Some((ca_id, ca)) = issuer else {
            return Ok(OcspAnswer::error(OcspResponseStatus::MalformedRequest));
        };
        let mut singles = Vec::with_capacity(request.cert_ids.len());
        for cert_id in request.cert_ids {
            let serial = cert_id.serial_number.as_bytes();
            let record = self
                .store
                .certificate(serial)?
                .filter(|r| r.issuer_ca == ca_id);
            let status = match &record {
                None => None,
                Some(_) => Some(self.store.revocation(ca_id, serial)?),
            };
            singles.push(Single {
                cert_id,
                status,
                certificate: record.map(|r| r.der),
            });
        }
        let responder = self.responder(ca_id, now)?;
        let own;
        let (key, certs, rule, expires) = match &responder {
            Some(r) => (&r.key, r.certs.as_slice(), r.rule, r.not_after),
            None => {
                own = [Certificate::from_der(&ca.der)
                    .map_err(|e| StoreError::Corrupt(format!("CA {ca_id}: {e}")))?];
                (
                    &ca.key,
                    own.as_slice(),
                    OcspResponseRule::default(),
                    ca.not_after,
                )
            }
        };
        // Never promise beyond the signer's certificate (while it is still valid).
        let mut next_update = now + self.ocsp_validity;
        if expires > now {
            next_update = next_update.min(expires);
        }
        let signing = Signing {
            key,
            certs,
            cert_hash: rule.cert_hash,
            archive_cutoff: rule
                .archive_cutoff_days
                .map(|d| now.saturating_sub(u64::from(d) * DAY)),
        };
        ocsp::sign_response(&singles, request.nonce, &signing, now, next_update)
            .map_err(AuthorityError::from)
    }
}
