//! The profile model: what a profile, a role vocabulary and a set of them are, and what a
//! request and the extension builder give them.

use crate::engine::hcrole::HcRole;
use crate::engine::key::{KeyAlgorithm, KeyParams};
use const_oid::ObjectIdentifier;
use der::flagset::FlagSet;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{KeyUsage, KeyUsages};
use x509_cert::name::Name;

/// Which CA signs certificates of a profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IssuerRef {
    /// Self-signed (the root).
    SelfSigned,
    /// The CA with this id ("root", "sign", "auth").
    Ca(String),
}

/// Whether a profile's certificates carry hcRole (ISO 17090-2 §7.3; `iso17090.md` §4.3 column M/O/X).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HcRoleRule {
    /// Every certificate carries at least one hcRole (M).
    Mandatory,
    /// hcRole may be present (O).
    Optional,
    /// hcRole must be absent (X).
    Absent,
}

/// The kind of subject a profile certifies (ISO 17090-1 §5.2 actors, grouped by how rules apply).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubjectType {
    /// A certification authority (root or subordinate).
    Ca,
    /// A natural person: professionals, employees, patients. Signing keys are nonRepudiation-only.
    Person,
    /// A healthcare or supporting organisation (seal, TLS).
    Organization,
    /// A device.
    Device,
    /// An application acting on its own behalf.
    Application,
    /// PKI infrastructure services: OCSP responder, time-stamping unit.
    Service,
}

/// What a client certificate of a profile authenticates as, over mTLS (`authenticates` in the
/// profile file). Only `Practitioner` maps to a practitioner and their credentials; the others
/// authenticate as what they are. A profile without it never authenticates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Authenticates {
    /// A regulated health professional, identified by the subject serialNumber (ISO 17090-1 §5.2.1).
    Practitioner,
    /// Another person (employee of a supporting organisation, non-regulated professional, patient).
    Person,
    /// A healthcare or supporting organisation.
    Organisation,
    /// A device.
    Device,
    /// An application.
    Application,
}

impl Authenticates {
    /// The name the profile files use (`authenticates = "device"`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Practitioner => "practitioner",
            Self::Person => "person",
            Self::Organisation => "organisation",
            Self::Device => "device",
            Self::Application => "application",
        }
    }
}

/// One certificate profile (one `policies/<id>.toml`).
#[derive(Clone, Debug)]
pub struct Profile {
    pub(super) id: String,
    pub(super) title: String,
    pub(super) description: String,
    pub(super) subject_type: SubjectType,
    pub(super) issuer: IssuerRef,
    pub(super) ca_id: Option<String>,
    pub(super) max_validity_days: u32,
    pub(super) hc_role: HcRoleRule,
    pub(super) authenticates: Option<Authenticates>,
    /// (name as written in the file, attribute type).
    pub(super) subject_required: Vec<(String, ObjectIdentifier)>,
    pub(super) subject_optional: Vec<(String, ObjectIdentifier)>,
    pub(super) alt_names: bool,
    pub(super) key_usage: FlagSet<KeyUsages>,
    pub(super) key_usage_critical: bool,
    /// (purposes, critical); `None`: no EKU extension.
    pub(super) eku: Option<(Vec<ObjectIdentifier>, bool)>,
    pub(super) basic_constraints: Option<BasicConstraintsRule>,
    pub(super) certificate_policy: Option<PolicyRule>,
    pub(super) crl_distribution_point: bool,
    pub(super) authority_info_access: bool,
    pub(super) ocsp_nocheck: bool,
    /// `[ocsp_response]` of a delegated responder profile.
    pub(super) ocsp_response: Option<OcspResponseRule>,
    pub(super) algorithms: Vec<KeyAlgorithm>,
    pub(super) rsa_min_bits: Option<u32>,
}

/// What the OCSP responses signed by a responder of this profile carry (`[ocsp_response]`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OcspResponseRule {
    /// Common-PKI CertHash (`1.3.36.8.3.13`, SHA-256 of the certificate) in each single response
    /// for a certificate the CA issued.
    pub cert_hash: bool,
    /// archiveCutoff (RFC 6960 §4.4.4) = producedAt − this many days: status is kept that long
    /// past a certificate's expiry.
    pub archive_cutoff_days: Option<u32>,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct BasicConstraintsRule {
    pub(super) ca: bool,
    pub(super) path_len: Option<u8>,
    pub(super) critical: bool,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct PolicyRule {
    /// End entities: the arc appended to the deploying CA's policy arc. CA profiles: `None`.
    pub(super) suffix: Option<u32>,
    pub(super) critical: bool,
    pub(super) cps_qualifier: bool,
}

impl Profile {
    /// Its id: the file stem under `policies/`, e.g. "rhp-sign".
    pub fn id(&self) -> &str {
        &self.id
    }
    /// One-line name of the certificate type (also the line in `policies/README.md`).
    pub fn title(&self) -> &str {
        &self.title
    }
    /// What the certificate is for, which CA issues it and why (free text from the file).
    pub fn description(&self) -> &str {
        &self.description
    }
    /// The kind of subject it certifies.
    pub fn subject_type(&self) -> SubjectType {
        self.subject_type
    }
    /// Who signs its certificates: itself, or a CA of this installation.
    pub fn issuer(&self) -> &IssuerRef {
        &self.issuer
    }
    /// For CA profiles: the id of the CA it creates ("root", "sign", "auth"); `None` for end entities.
    pub fn ca_id(&self) -> Option<&str> {
        self.ca_id.as_deref()
    }
    /// The longest validity it allows, in days.
    pub fn max_validity_days(&self) -> u32 {
        self.max_validity_days
    }
    /// Whether its certificates carry hcRole.
    pub fn hc_role(&self) -> HcRoleRule {
        self.hc_role
    }
    /// What its certificates authenticate as over mTLS; `None`: they do not authenticate.
    pub fn authenticates(&self) -> Option<Authenticates> {
        self.authenticates
    }
    /// The keyUsage bits certificates of this profile get.
    pub fn key_usage(&self) -> KeyUsage {
        KeyUsage(self.key_usage)
    }
    /// The extendedKeyUsage purposes (empty when the profile has no EKU).
    pub fn extended_key_usage(&self) -> &[ObjectIdentifier] {
        self.eku.as_ref().map_or(&[], |(p, _)| p.as_slice())
    }
    /// Whether its certificates carry id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1).
    pub fn ocsp_nocheck(&self) -> bool {
        self.ocsp_nocheck
    }
    /// Whether it certifies a CA's delegated OCSP responder: an end entity with EKU OCSPSigning
    /// and id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2).
    pub fn is_ocsp_responder(&self) -> bool {
        self.ca_id.is_none()
            && self.ocsp_nocheck
            && self
                .extended_key_usage()
                .contains(&crate::engine::oid::ID_KP_OCSP_SIGNING)
    }
    /// What the responses of its responder carry (default: neither extension).
    pub fn ocsp_response(&self) -> OcspResponseRule {
        self.ocsp_response.unwrap_or_default()
    }
    /// Key algorithms the profile accepts.
    pub fn key_algorithms(&self) -> &[KeyAlgorithm] {
        &self.algorithms
    }
    /// The certificate-policy OID of this profile under the deploying CA's arc, if it has one.
    pub fn policy_oid(&self, arc: &ObjectIdentifier) -> Option<ObjectIdentifier> {
        let suffix = self.certificate_policy?.suffix?;
        arc.push_arc(suffix).ok()
    }

    pub(super) fn violation(
        &self,
        field: impl Into<String>,
        rule: impl Into<String>,
    ) -> ProfileViolation {
        ProfileViolation {
            profile: self.id.clone(),
            field: field.into(),
            rule: rule.into(),
        }
    }
}

/// What a registration asks for, as the profile sees it.
#[derive(Clone, Debug)]
pub struct CertRequest<'a> {
    /// The subject to certify.
    pub subject: &'a Name,
    /// The subjectAltNames asked for.
    pub sans: &'a [GeneralName],
    /// The hcRoles asked for.
    pub hc_roles: &'a [HcRole],
    /// The public key's algorithm and size.
    pub key: KeyParams,
    /// Unix seconds.
    pub not_before: u64,
    /// Unix seconds.
    pub not_after: u64,
}

/// URLs the deploying CA publishes; put into certificates where the profile says so.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CaUrls {
    /// certificatePolicies CPS qualifier.
    pub cps: Option<String>,
    /// cRLDistributionPoints of the issuing CA.
    pub crl: Option<String>,
    /// AIA caIssuers of the issuing CA.
    pub ca_issuers: Option<String>,
    /// AIA OCSP.
    pub ocsp: Option<String>,
}

impl CaUrls {
    /// The layout the hpki service publishes under `base` (no trailing slash): the CPS at
    /// `/cps`, each CA's CRL at `/v1/crl/{ca}`, its certificate at `/v1/ca/{ca}.der`, and the
    /// OCSP responder of every CA at `/v1/ocsp` (RFC 6960 App. A.1: one URL, the CertID names
    /// the CA).
    pub fn published_at(base: &str) -> Self {
        CaUrls {
            cps: Some(format!("{base}/cps")),
            crl: Some(format!("{base}/v1/crl/{{ca}}")),
            ca_issuers: Some(format!("{base}/v1/ca/{{ca}}.der")),
            ocsp: Some(format!("{base}/v1/ocsp")),
        }
    }
}

/// Inputs for building extensions.
#[derive(Clone, Debug)]
pub struct ExtensionContext<'a> {
    /// subjectKeyIdentifier of the certified key.
    pub subject_key_id: &'a [u8],
    /// `None` for self-signed certificates.
    pub authority_key_id: Option<&'a [u8]>,
    /// The deploying CA's policy arc.
    pub policy_arc: &'a ObjectIdentifier,
    /// For CA profiles: the policy OIDs of the profiles this CA issues (from `ProfileSet::policies_issued_by`).
    pub issued_policies: &'a [ObjectIdentifier],
    /// URLs of the issuing CA.
    pub urls: &'a CaUrls,
    /// subjectAltNames to put in.
    pub sans: &'a [GeneralName],
    /// hcRoles to put in (subjectDirectoryAttributes).
    pub hc_roles: &'a [HcRole],
}

/// A role vocabulary (`policies/roles/<name>.toml`): a coding scheme and its allowed values.
#[derive(Clone, Debug)]
pub struct RoleVocabulary {
    pub(super) id: String,
    pub(super) title: String,
    pub(super) scheme: ObjectIdentifier,
    pub(super) free_text: BTreeSet<String>,
    pub(super) codes: BTreeSet<String>,
}

impl RoleVocabulary {
    /// The file stem under `roles/`, e.g. "jp-mhlw".
    pub fn id(&self) -> &str {
        &self.id
    }
    /// What people read: the vocabulary's title.
    pub fn title(&self) -> &str {
        &self.title
    }
    /// The scheme OID its roles carry (codingSchemeReference).
    pub fn scheme(&self) -> &ObjectIdentifier {
        &self.scheme
    }
    /// True when the role is under this scheme and each of its code / text is a listed value.
    pub fn allows(&self, role: &HcRole) -> bool {
        role.scheme == self.scheme
            && (role.code.is_some() || role.text.is_some())
            && role.code.as_ref().is_none_or(|c| self.codes.contains(c))
            && role
                .text
                .as_ref()
                .is_none_or(|t| self.free_text.contains(t))
    }
}

/// A request or an extension input that breaks a profile rule.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("profile {profile}: {field}: {rule}")]
pub struct ProfileViolation {
    /// The profile.
    pub profile: String,
    /// The field, e.g. `subject_alt_name`, `hc_role`.
    pub field: String,
    /// The rule it breaks.
    pub rule: String,
}

/// Why a profile set does not load, or a profile refuses.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// A policy file is invalid: names the file, the key and the rule.
    #[error("{file}: {key}: {rule}")]
    Invalid {
        /// The file.
        file: String,
        /// The key in it.
        key: String,
        /// The rule it breaks.
        rule: String,
    },
    /// No profile with that id.
    #[error("unknown profile {0:?}")]
    Unknown(String),
    /// A profile file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The path read.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// An extension value could not be DER-encoded.
    #[error("encoding extension: {0}")]
    Der(#[from] der::Error),
    /// Extension inputs the profile forbids (e.g. SANs or roles it does not allow).
    #[error(transparent)]
    Violation(#[from] ProfileViolation),
}

/// All profiles and role vocabularies of an installation.
#[derive(Clone, Debug)]
pub struct ProfileSet {
    pub(super) profiles: BTreeMap<String, Profile>,
    pub(super) vocabularies: Vec<RoleVocabulary>,
}

impl ProfileSet {
    /// The profile `id`.
    pub fn get(&self, id: &str) -> Result<&Profile, ProfileError> {
        self.profiles
            .get(id)
            .ok_or_else(|| ProfileError::Unknown(id.to_owned()))
    }
    /// Profiles ordered by id.
    pub fn profiles(&self) -> impl Iterator<Item = &Profile> {
        self.profiles.values()
    }
    /// Role vocabularies, in file-name order.
    pub fn vocabularies(&self) -> impl Iterator<Item = &RoleVocabulary> {
        self.vocabularies.iter()
    }
    /// The role vocabulary of `scheme`, if loaded.
    pub fn vocabulary(&self, scheme: &ObjectIdentifier) -> Option<&RoleVocabulary> {
        self.vocabularies.iter().find(|v| v.scheme == *scheme)
    }
    /// Policy OIDs of every end-entity or CA profile issued by CA `ca_id`, under `arc`.
    ///
    /// Includes, transitively, the policies issued below subordinate CAs that `ca_id` issues, so a
    /// CA certificate asserts every policy of the paths through it (RFC 5280 §6.1.3 (d)). Sorted.
    pub fn policies_issued_by(&self, ca_id: &str, arc: &ObjectIdentifier) -> Vec<ObjectIdentifier> {
        let mut out = BTreeSet::new();
        let mut pending = vec![ca_id.to_owned()];
        let mut visited = BTreeSet::new();
        while let Some(ca) = pending.pop() {
            if !visited.insert(ca.clone()) {
                continue;
            }
            for p in self
                .profiles
                .values()
                .filter(|p| p.issuer == IssuerRef::Ca(ca.clone()))
            {
                out.extend(p.policy_oid(arc));
                if let Some(sub) = &p.ca_id {
                    pending.push(sub.clone());
                }
            }
        }
        out.into_iter().collect()
    }
}
