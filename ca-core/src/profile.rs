//! ISO 17090-2 certificate profiles as data (`policies/*.toml`), validated at load, enforced at issue.
//!
//! Code never hard-codes a profile's key usages or policy OIDs (DESIGN.md §5 invariant 4): they come
//! from the TOML files. Role vocabularies (`policies/roles/*.toml`) are data too.

use crate::hcrole::HcRole;
use crate::key::KeyParams;
use const_oid::ObjectIdentifier;
use std::path::Path;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::name::Name;

/// Which CA signs certificates of a profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IssuerRef {
    /// Self-signed (the root).
    SelfSigned,
    /// The CA with this id ("root", "sign", "auth").
    Ca(String),
}

/// One certificate profile (one `policies/<id>.toml`).
#[derive(Clone, Debug)]
pub struct Profile {
    _private: (),
}

impl Profile {
    pub fn id(&self) -> &str {
        todo!()
    }
    /// One-line name of the certificate type (also the line in `policies/README.md`).
    pub fn title(&self) -> &str {
        todo!()
    }
    pub fn issuer(&self) -> &IssuerRef {
        todo!()
    }
    /// For CA profiles: the id of the CA it creates ("root", "sign", "auth"); `None` for end entities.
    pub fn ca_id(&self) -> Option<&str> {
        todo!()
    }
    pub fn max_validity_days(&self) -> u32 {
        todo!()
    }
    /// The certificate-policy OID of this profile under the deploying CA's arc, if it has one.
    pub fn policy_oid(&self, arc: &ObjectIdentifier) -> Option<ObjectIdentifier> {
        let _ = arc;
        todo!()
    }
    /// Checks a request against the profile. A violation names the profile, the field and the rule.
    pub fn check(&self, request: &CertRequest<'_>, set: &ProfileSet) -> Result<(), ProfileViolation> {
        let _ = (request, set);
        todo!()
    }
    /// The extensions of a certificate under this profile, in a stable order.
    pub fn extensions(&self, ctx: &ExtensionContext<'_>) -> Result<Vec<Extension>, ProfileError> {
        let _ = ctx;
        todo!()
    }
}

/// What a registration asks for, as the profile sees it.
#[derive(Clone, Debug)]
pub struct CertRequest<'a> {
    pub subject: &'a Name,
    pub sans: &'a [GeneralName],
    pub hc_roles: &'a [HcRole],
    pub key: KeyParams,
    /// Unix seconds.
    pub not_before: u64,
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

/// Inputs for building extensions.
#[derive(Clone, Debug)]
pub struct ExtensionContext<'a> {
    pub subject_key_id: &'a [u8],
    /// `None` for self-signed certificates.
    pub authority_key_id: Option<&'a [u8]>,
    /// The deploying CA's policy arc.
    pub policy_arc: &'a ObjectIdentifier,
    /// For CA profiles: the policy OIDs of the profiles this CA issues (from `ProfileSet::policies_issued_by`).
    pub issued_policies: &'a [ObjectIdentifier],
    /// URLs of the issuing CA.
    pub urls: &'a CaUrls,
    pub sans: &'a [GeneralName],
    pub hc_roles: &'a [HcRole],
}

/// A role vocabulary (`policies/roles/<name>.toml`): a coding scheme and its allowed values.
#[derive(Clone, Debug)]
pub struct RoleVocabulary {
    _private: (),
}

impl RoleVocabulary {
    pub fn scheme(&self) -> &ObjectIdentifier {
        todo!()
    }
    pub fn allows(&self, role: &HcRole) -> bool {
        let _ = role;
        todo!()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("profile {profile}: {field}: {rule}")]
pub struct ProfileViolation {
    pub profile: String,
    pub field: String,
    pub rule: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// A policy file is invalid: names the file, the key and the rule.
    #[error("{file}: {key}: {rule}")]
    Invalid { file: String, key: String, rule: String },
    #[error("unknown profile {0:?}")]
    Unknown(String),
    #[error("reading {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("encoding extension: {0}")]
    Der(#[from] der::Error),
}

/// All profiles and role vocabularies of an installation.
#[derive(Clone, Debug)]
pub struct ProfileSet {
    _private: (),
}

impl ProfileSet {
    /// The profiles shipped in `policies/`, compiled into the binary.
    pub fn embedded() -> Result<Self, ProfileError> {
        todo!()
    }
    /// Loads `dir/*.toml` and `dir/roles/*.toml`.
    pub fn load_dir(dir: &Path) -> Result<Self, ProfileError> {
        let _ = dir;
        todo!()
    }
    /// From (file name, TOML text) pairs: profiles and, under names starting `roles/`, vocabularies.
    pub fn from_sources(files: &[(String, String)]) -> Result<Self, ProfileError> {
        let _ = files;
        todo!()
    }
    pub fn get(&self, id: &str) -> Result<&Profile, ProfileError> {
        let _ = id;
        todo!()
    }
    /// Profiles ordered by id.
    pub fn profiles(&self) -> impl Iterator<Item = &Profile> {
        std::iter::empty()
    }
    pub fn vocabulary(&self, scheme: &ObjectIdentifier) -> Option<&RoleVocabulary> {
        let _ = scheme;
        todo!()
    }
    /// Policy OIDs of every end-entity or CA profile issued by CA `ca_id`, under `arc`.
    pub fn policies_issued_by(&self, ca_id: &str, arc: &ObjectIdentifier) -> Vec<ObjectIdentifier> {
        let _ = (ca_id, arc);
        todo!()
    }
}
