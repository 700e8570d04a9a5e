//! ISO 17090-2 certificate profiles as data (`policies/*.toml`), validated at load, enforced at issue.
//!
//! Code never hard-codes a profile's key usages or policy OIDs (DESIGN.md §5 invariant 4): they come
//! from the TOML files. Role vocabularies (`policies/roles/*.toml`) are data too. The file schema is
//! described in `policies/README.md`; every rule checked at load is an `Invalid { file, key, rule }`.
//!
//! Key usage is one set per profile, valid for every algorithm the profile allows (checked at load
//! against RFC 3279 §2.3.1, RFC 5480 §3 and RFC 8410 §5). Where the usage depends on the algorithm
//! (encryption: keyEncipherment for RSA, keyAgreement for EC) the policy ships one profile per family.

use crate::hcrole::{self, HcRole};
use crate::key::{KeyAlgorithm, KeyParams};
use crate::oid;
use const_oid::ObjectIdentifier;
use const_oid::db::DB;
use der::asn1::{Ia5String, OctetString};
use der::flagset::FlagSet;
use der::{Any, Encode};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::certpolicy::{PolicyInformation, PolicyQualifierInfo};
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AccessDescription, AuthorityInfoAccessSyntax, AuthorityKeyIdentifier, BasicConstraints,
    CertificatePolicies, CrlDistributionPoints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::name::Name;

/// Seconds per day, for validity arithmetic on Unix times.
const DAY: u64 = 86_400;

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
    Mandatory,
    Optional,
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
    Device,
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
    Organisation,
    Device,
    Application,
}

/// One certificate profile (one `policies/<id>.toml`).
#[derive(Clone, Debug)]
pub struct Profile {
    id: String,
    title: String,
    description: String,
    subject_type: SubjectType,
    issuer: IssuerRef,
    ca_id: Option<String>,
    max_validity_days: u32,
    hc_role: HcRoleRule,
    authenticates: Option<Authenticates>,
    /// (name as written in the file, attribute type).
    subject_required: Vec<(String, ObjectIdentifier)>,
    subject_optional: Vec<(String, ObjectIdentifier)>,
    alt_names: bool,
    key_usage: FlagSet<KeyUsages>,
    key_usage_critical: bool,
    /// (purposes, critical); `None`: no EKU extension.
    eku: Option<(Vec<ObjectIdentifier>, bool)>,
    basic_constraints: Option<BasicConstraintsRule>,
    certificate_policy: Option<PolicyRule>,
    crl_distribution_point: bool,
    authority_info_access: bool,
    ocsp_nocheck: bool,
    algorithms: Vec<KeyAlgorithm>,
    rsa_min_bits: Option<u32>,
}

#[derive(Clone, Copy, Debug)]
struct BasicConstraintsRule {
    ca: bool,
    path_len: Option<u8>,
    critical: bool,
}

#[derive(Clone, Copy, Debug)]
struct PolicyRule {
    /// End entities: the arc appended to the deploying CA's policy arc. CA profiles: `None`.
    suffix: Option<u32>,
    critical: bool,
    cps_qualifier: bool,
}

impl Profile {
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
    pub fn subject_type(&self) -> SubjectType {
        self.subject_type
    }
    pub fn issuer(&self) -> &IssuerRef {
        &self.issuer
    }
    /// For CA profiles: the id of the CA it creates ("root", "sign", "auth"); `None` for end entities.
    pub fn ca_id(&self) -> Option<&str> {
        self.ca_id.as_deref()
    }
    pub fn max_validity_days(&self) -> u32 {
        self.max_validity_days
    }
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
    /// Key algorithms the profile accepts.
    pub fn key_algorithms(&self) -> &[KeyAlgorithm] {
        &self.algorithms
    }
    /// The certificate-policy OID of this profile under the deploying CA's arc, if it has one.
    pub fn policy_oid(&self, arc: &ObjectIdentifier) -> Option<ObjectIdentifier> {
        let suffix = self.certificate_policy?.suffix?;
        arc.push_arc(suffix).ok()
    }

    fn violation(&self, field: impl Into<String>, rule: impl Into<String>) -> ProfileViolation {
        ProfileViolation {
            profile: self.id.clone(),
            field: field.into(),
            rule: rule.into(),
        }
    }

    /// Checks a request against the profile. A violation names the profile, the field and the rule.
    pub fn check(
        &self,
        request: &CertRequest<'_>,
        set: &ProfileSet,
    ) -> Result<(), ProfileViolation> {
        self.check_subject(request.subject)?;
        if !self.alt_names && !request.sans.is_empty() {
            return Err(self.violation(
                "subject_alt_name",
                "this profile allows no subject alternative names",
            ));
        }
        self.check_roles(request.hc_roles, set)?;
        self.check_key(request.key)?;
        self.check_validity(request.not_before, request.not_after)
    }

    fn check_subject(&self, subject: &Name) -> Result<(), ProfileViolation> {
        for atv in subject.iter() {
            let known = self
                .subject_required
                .iter()
                .chain(&self.subject_optional)
                .any(|(_, oid)| *oid == atv.oid);
            if !known {
                let name = attribute_name(&atv.oid);
                return Err(self.violation(
                    format!("subject.{name}"),
                    format!("attribute {name} is not allowed by this profile"),
                ));
            }
        }
        for (name, oid) in &self.subject_required {
            if !subject.iter().any(|atv| atv.oid == *oid) {
                return Err(self.violation(
                    format!("subject.{name}"),
                    format!("required attribute {name} is missing"),
                ));
            }
        }
        Ok(())
    }

    fn check_roles(&self, roles: &[HcRole], set: &ProfileSet) -> Result<(), ProfileViolation> {
        match self.hc_role {
            HcRoleRule::Mandatory if roles.is_empty() => {
                return Err(self.violation("hc_role", "hcRole is mandatory for this profile"));
            }
            HcRoleRule::Absent if !roles.is_empty() => {
                return Err(self.violation("hc_role", "this profile carries no hcRole"));
            }
            _ => {}
        }
        if roles.len() > hcrole::MAX_ROLES {
            return Err(self.violation(
                "hc_role",
                format!(
                    "{} roles exceed the maximum {}",
                    roles.len(),
                    hcrole::MAX_ROLES
                ),
            ));
        }
        for role in roles {
            let shown = RoleDisplay(role);
            let Some(vocabulary) = set.vocabulary(&role.scheme) else {
                return Err(self.violation(
                    "hc_role",
                    format!(
                        "role {shown}: no vocabulary for coding scheme {}",
                        role.scheme
                    ),
                ));
            };
            if !vocabulary.allows(role) {
                return Err(self.violation(
                    "hc_role",
                    format!("role {shown} is not in vocabulary {}", vocabulary.id),
                ));
            }
        }
        Ok(())
    }

    fn check_key(&self, key: KeyParams) -> Result<(), ProfileViolation> {
        let label = algorithm_label(key.algorithm);
        if !self.algorithms.contains(&key.algorithm) {
            let allowed: Vec<&str> = self.algorithms.iter().map(|a| algorithm_name(*a)).collect();
            return Err(self.violation(
                "key",
                format!(
                    "{label} keys are not allowed (allowed: {})",
                    allowed.join(", ")
                ),
            ));
        }
        let expected_bits = match key.algorithm {
            KeyAlgorithm::P256 | KeyAlgorithm::Ed25519 => Some(256),
            KeyAlgorithm::P384 => Some(384),
            KeyAlgorithm::P521 => Some(521),
            KeyAlgorithm::Rsa | KeyAlgorithm::Dsa => None,
        };
        if let Some(bits) = expected_bits.filter(|b| *b != key.bits) {
            return Err(self.violation(
                "key",
                format!("{label} key reports {} bits, expected {bits}", key.bits),
            ));
        }
        if let (KeyAlgorithm::Rsa, Some(min)) = (key.algorithm, self.rsa_min_bits)
            && key.bits < min
        {
            return Err(self.violation(
                "key",
                format!("RSA {} bits is below the minimum {min}", key.bits),
            ));
        }
        Ok(())
    }

    fn check_validity(&self, not_before: u64, not_after: u64) -> Result<(), ProfileViolation> {
        if not_after <= not_before {
            return Err(self.violation("validity", "not_after must be later than not_before"));
        }
        let span = not_after - not_before;
        if span > u64::from(self.max_validity_days) * DAY {
            return Err(self.violation(
                "validity",
                format!(
                    "{} days exceeds the maximum {}",
                    span.div_ceil(DAY),
                    self.max_validity_days
                ),
            ));
        }
        Ok(())
    }

    /// The extensions of a certificate under this profile, in a stable order: AKI, SKI, keyUsage,
    /// EKU, basicConstraints, certificatePolicies, cRLDistributionPoints, AIA, subjectAltName,
    /// subjectDirectoryAttributes (hcRole), OCSP nocheck.
    ///
    /// SANs or roles the profile forbids are a [`ProfileError::Violation`] (defence in depth behind
    /// [`Profile::check`]).
    pub fn extensions(&self, ctx: &ExtensionContext<'_>) -> Result<Vec<Extension>, ProfileError> {
        let mut out = Vec::new();
        if let Some(aki) = ctx.authority_key_id {
            // keyIdentifier only (RFC 5280 §4.2.1.1); issuer+serial would pin the CA certificate.
            let value = AuthorityKeyIdentifier {
                key_identifier: Some(OctetString::new(aki)?),
                authority_cert_issuer: None,
                authority_cert_serial_number: None,
            };
            out.push(extension(
                oid::ID_CE_AUTHORITY_KEY_IDENTIFIER,
                false,
                &value,
            )?);
        }
        let ski = SubjectKeyIdentifier(OctetString::new(ctx.subject_key_id)?);
        out.push(extension(oid::ID_CE_SUBJECT_KEY_IDENTIFIER, false, &ski)?);
        out.push(extension(
            oid::ID_CE_KEY_USAGE,
            self.key_usage_critical,
            &KeyUsage(self.key_usage),
        )?);
        if let Some((purposes, critical)) = &self.eku {
            let value = ExtendedKeyUsage(purposes.clone());
            out.push(extension(oid::ID_CE_EXT_KEY_USAGE, *critical, &value)?);
        }
        if let Some(bc) = self.basic_constraints {
            let value = BasicConstraints {
                ca: bc.ca,
                path_len_constraint: bc.path_len,
            };
            out.push(extension(
                oid::ID_CE_BASIC_CONSTRAINTS,
                bc.critical,
                &value,
            )?);
        }
        if let Some(cp) = self.certificate_policy {
            let policies = self.policies_for(cp, ctx)?;
            if !policies.0.is_empty() {
                out.push(extension(
                    oid::ID_CE_CERTIFICATE_POLICIES,
                    cp.critical,
                    &policies,
                )?);
            }
        }
        if let (true, Some(crl)) = (self.crl_distribution_point, &ctx.urls.crl) {
            let value = CrlDistributionPoints(vec![DistributionPoint {
                distribution_point: Some(DistributionPointName::FullName(vec![uri(crl)?])),
                reasons: None,
                crl_issuer: None,
            }]);
            out.push(extension(
                oid::ID_CE_CRL_DISTRIBUTION_POINTS,
                false,
                &value,
            )?);
        }
        if self.authority_info_access {
            let mut access = Vec::new();
            if let Some(ocsp) = &ctx.urls.ocsp {
                access.push(AccessDescription {
                    access_method: oid::ID_AD_OCSP,
                    access_location: uri(ocsp)?,
                });
            }
            if let Some(ca_issuers) = &ctx.urls.ca_issuers {
                access.push(AccessDescription {
                    access_method: oid::ID_AD_CA_ISSUERS,
                    access_location: uri(ca_issuers)?,
                });
            }
            if !access.is_empty() {
                let value = AuthorityInfoAccessSyntax(access);
                out.push(extension(oid::ID_PE_AUTHORITY_INFO_ACCESS, false, &value)?);
            }
        }
        if !ctx.sans.is_empty() {
            if !self.alt_names {
                return Err(self
                    .violation(
                        "subject_alt_name",
                        "this profile allows no subject alternative names",
                    )
                    .into());
            }
            // Non-critical: the subject DN is required by every profile (RFC 5280 §4.2.1.6).
            let value = SubjectAltName(ctx.sans.to_vec());
            out.push(extension(oid::ID_CE_SUBJECT_ALT_NAME, false, &value)?);
        }
        if !ctx.hc_roles.is_empty() {
            if self.hc_role == HcRoleRule::Absent {
                return Err(self
                    .violation("hc_role", "this profile carries no hcRole")
                    .into());
            }
            let value = hcrole::encode_extension_value(ctx.hc_roles).map_err(|e| match e {
                hcrole::HcRoleError::Der(d) => ProfileError::Der(d),
                hcrole::HcRoleError::Invalid(rule) => self.violation("hc_role", rule).into(),
            })?;
            // RFC 5280 §4.2.1.8: subjectDirectoryAttributes MUST be non-critical.
            out.push(Extension {
                extn_id: oid::ID_CE_SUBJECT_DIRECTORY_ATTRIBUTES,
                critical: false,
                extn_value: OctetString::new(value)?,
            });
        }
        if self.ocsp_nocheck {
            // RFC 6960 §4.2.2.2.1: value NULL, non-critical.
            out.push(extension(
                oid::ID_PKIX_OCSP_NOCHECK,
                false,
                &der::asn1::Null,
            )?);
        }
        Ok(out)
    }

    fn policies_for(
        &self,
        cp: PolicyRule,
        ctx: &ExtensionContext<'_>,
    ) -> Result<CertificatePolicies, ProfileError> {
        let ids: Vec<ObjectIdentifier> = match cp.suffix {
            Some(suffix) => vec![ctx.policy_arc.push_arc(suffix).map_err(|_| {
                self.violation(
                    "certificate_policy.policy_suffix",
                    format!("cannot append {suffix} to policy arc {}", ctx.policy_arc),
                )
            })?],
            None => ctx.issued_policies.to_vec(),
        };
        let qualifiers = match (&ctx.urls.cps, cp.cps_qualifier) {
            (Some(cps), true) => Some(vec![PolicyQualifierInfo {
                policy_qualifier_id: oid::ID_QT_CPS,
                qualifier: Some(Any::encode_from(&Ia5String::new(cps)?)?),
            }]),
            _ => None,
        };
        Ok(CertificatePolicies(
            ids.into_iter()
                .map(|policy_identifier| PolicyInformation {
                    policy_identifier,
                    policy_qualifiers: qualifiers.clone(),
                })
                .collect(),
        ))
    }
}

fn extension(
    extn_id: ObjectIdentifier,
    critical: bool,
    value: &impl Encode,
) -> Result<Extension, ProfileError> {
    Ok(Extension {
        extn_id,
        critical,
        extn_value: OctetString::new(value.to_der()?)?,
    })
}

fn uri(url: &str) -> Result<GeneralName, ProfileError> {
    Ok(GeneralName::UniformResourceIdentifier(Ia5String::new(url)?))
}

/// How a role is named in messages: its text, else its code.
struct RoleDisplay<'a>(&'a HcRole);

impl fmt::Display for RoleDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.0.text, &self.0.code) {
            (Some(text), _) => write!(f, "{text:?}"),
            (None, Some(code)) => write!(f, "code {code:?}"),
            (None, None) => f.write_str("(empty)"),
        }
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

impl CaUrls {
    /// The layout the hpki service publishes under `base` (no trailing slash): the CPS at
    /// `/cps`, each CA's CRL at `/v1/crl/{ca}` and its certificate at `/v1/ca/{ca}.der`; no OCSP.
    pub fn published_at(base: &str) -> Self {
        CaUrls {
            cps: Some(format!("{base}/cps")),
            crl: Some(format!("{base}/v1/crl/{{ca}}")),
            ca_issuers: Some(format!("{base}/v1/ca/{{ca}}.der")),
            ocsp: None,
        }
    }
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
    id: String,
    title: String,
    scheme: ObjectIdentifier,
    free_text: BTreeSet<String>,
    codes: BTreeSet<String>,
}

impl RoleVocabulary {
    /// The file stem under `roles/`, e.g. "jp-mhlw".
    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn title(&self) -> &str {
        &self.title
    }
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
    Invalid {
        file: String,
        key: String,
        rule: String,
    },
    #[error("unknown profile {0:?}")]
    Unknown(String),
    #[error("reading {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("encoding extension: {0}")]
    Der(#[from] der::Error),
    /// Extension inputs the profile forbids (e.g. SANs or roles it does not allow).
    #[error(transparent)]
    Violation(#[from] ProfileViolation),
}

/// All profiles and role vocabularies of an installation.
#[derive(Clone, Debug)]
pub struct ProfileSet {
    profiles: BTreeMap<String, Profile>,
    vocabularies: Vec<RoleVocabulary>,
}

mod embedded {
    // Generated by build.rs: every `policies/*.toml` and `policies/roles/*.toml`, sorted by name.
    include!(concat!(env!("OUT_DIR"), "/embedded_policies.rs"));
}

impl ProfileSet {
    /// The profiles shipped in `policies/`, compiled into the binary.
    pub fn embedded() -> Result<Self, ProfileError> {
        let files: Vec<(String, String)> = embedded::FILES
            .iter()
            .map(|(name, text)| ((*name).to_owned(), (*text).to_owned()))
            .collect();
        Self::from_sources(&files)
    }

    /// The (file name, text) pairs compiled into the binary, names relative to `policies/`.
    pub fn embedded_sources() -> &'static [(&'static str, &'static str)] {
        embedded::FILES
    }

    /// Loads `dir/*.toml` and `dir/roles/*.toml`.
    pub fn load_dir(dir: &Path) -> Result<Self, ProfileError> {
        let mut files = Vec::new();
        for (sub, prefix) in [(dir.to_path_buf(), ""), (dir.join("roles"), "roles/")] {
            if prefix == "roles/" && !sub.is_dir() {
                continue;
            }
            let io = |path: &Path| {
                let path = path.display().to_string();
                move |source| ProfileError::Io { path, source }
            };
            for entry in std::fs::read_dir(&sub).map_err(io(&sub))? {
                let path = entry.map_err(io(&sub))?.path();
                let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                if path.is_file() && name.ends_with(".toml") {
                    let text = std::fs::read_to_string(&path).map_err(io(&path))?;
                    files.push((format!("{prefix}{name}"), text));
                }
            }
        }
        files.sort();
        Self::from_sources(&files)
    }

    /// From (file name, TOML text) pairs: profiles and, under names starting `roles/`, vocabularies.
    pub fn from_sources(files: &[(String, String)]) -> Result<Self, ProfileError> {
        let mut set = Self {
            profiles: BTreeMap::new(),
            vocabularies: Vec::new(),
        };
        for (name, text) in files {
            set.add_source(name, text)?;
        }
        set.validate()?;
        Ok(set)
    }

    /// This set with one more file, under the rules of `from_sources`: a file of the same name
    /// replaces the loaded one (an edit of one file of an installation). Lets a caller that tries
    /// many variants of one file (the `profile_toml` fuzz target) parse the others once.
    pub fn with_source(&self, name: &str, text: &str) -> Result<Self, ProfileError> {
        let mut set = self.clone();
        if let Some(stem) = name.strip_suffix(".toml") {
            match stem.strip_prefix("roles/") {
                Some(id) => set.vocabularies.retain(|v| v.id != id),
                // A profile's id is its file stem (checked at load).
                None => drop(set.profiles.remove(stem)),
            }
        }
        set.add_source(name, text)?;
        // `vocabularies()` promises file-name order.
        set.vocabularies.sort_by(|a, b| a.id.cmp(&b.id));
        set.validate()?;
        Ok(set)
    }

    /// Loads one file into the set; the rules across files are `validate`'s.
    fn add_source(&mut self, name: &str, text: &str) -> Result<(), ProfileError> {
        let Some(stem) = name.strip_suffix(".toml") else {
            return Err(invalid(name, "(file)", "policy files must end in .toml"));
        };
        if let Some(stem) = stem.strip_prefix("roles/") {
            let vocabulary = load_vocabulary(name, stem, text)?;
            if let Some(other) = self
                .vocabularies
                .iter()
                .find(|v| v.scheme == vocabulary.scheme)
            {
                return Err(invalid(
                    name,
                    "scheme",
                    format!(
                        "scheme {} is already defined by roles/{}.toml",
                        vocabulary.scheme, other.id
                    ),
                ));
            }
            self.vocabularies.push(vocabulary);
        } else {
            let profile = load_profile(name, stem, text)?;
            if self.profiles.contains_key(&profile.id) {
                return Err(invalid(name, "id", "duplicate profile id"));
            }
            self.profiles.insert(profile.id.clone(), profile);
        }
        Ok(())
    }

    /// Rules across files: unique CA ids and policy suffixes, issuers that exist, a CA hierarchy
    /// that ends in a self-signed root.
    fn validate(&self) -> Result<(), ProfileError> {
        let mut cas: BTreeMap<&str, &Profile> = BTreeMap::new();
        for p in self.profiles.values() {
            if let Some(ca) = &p.ca_id
                && let Some(other) = cas.insert(ca, p)
            {
                return Err(invalid(
                    &file_of(p),
                    "ca",
                    format!("CA id {ca:?} is already created by {}", file_of(other)),
                ));
            }
        }
        let mut suffixes: BTreeMap<u32, &Profile> = BTreeMap::new();
        for p in self.profiles.values() {
            if let Some(suffix) = p.certificate_policy.and_then(|cp| cp.suffix)
                && let Some(other) = suffixes.insert(suffix, p)
            {
                return Err(invalid(
                    &file_of(p),
                    "certificate_policy.policy_suffix",
                    format!("policy suffix {suffix} is also used by {}", file_of(other)),
                ));
            }
        }
        // CA profiles first, so a loop is reported on a CA file rather than on a leaf below it.
        let (ca_profiles, leaves): (Vec<&Profile>, Vec<&Profile>) =
            self.profiles.values().partition(|p| p.ca_id.is_some());
        for p in ca_profiles.into_iter().chain(leaves) {
            let mut current = p;
            let mut seen = BTreeSet::new();
            while let IssuerRef::Ca(issuer) = &current.issuer {
                let Some(next) = cas.get(issuer.as_str()) else {
                    return Err(invalid(
                        &file_of(current),
                        "issuer",
                        format!("no profile creates CA {issuer:?} (no `ca = {issuer:?}`)"),
                    ));
                };
                if !seen.insert(issuer.as_str()) {
                    return Err(invalid(
                        &file_of(p),
                        "issuer",
                        "the CA issuer chain loops instead of ending at a self-signed root",
                    ));
                }
                current = next;
            }
        }
        Ok(())
    }

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

fn file_of(p: &Profile) -> String {
    format!("{}.toml", p.id)
}

fn invalid(file: &str, key: &str, rule: impl Into<String>) -> ProfileError {
    ProfileError::Invalid {
        file: file.to_owned(),
        key: key.to_owned(),
        rule: rule.into(),
    }
}

/// A TOML or serde error as `Invalid`, naming the offending key as `table.key` where possible.
fn parse_error(file: &str, text: &str, err: &toml::de::Error) -> ProfileError {
    let message = err.message().trim();
    // serde quotes the field in "missing field `x`"; its span is the enclosing table, not a key.
    let quoted = message.split('`').nth(1).filter(|k| !k.is_empty());
    let key = if message.starts_with("missing field") {
        quoted.map(str::to_owned)
    } else {
        err.span()
            .and_then(|span| key_at(text, span.start))
            .or_else(|| quoted.map(str::to_owned))
    };
    invalid(file, key.as_deref().unwrap_or("(document)"), message)
}

/// The dotted key of the `key = value` line containing byte `offset` (table headers included).
fn key_at(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset)?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text.get(line_start..)?.lines().next()?;
    let key = line.split('=').next()?.trim();
    if key.is_empty() || key.starts_with('[') || key.starts_with('#') {
        return None;
    }
    let table = before[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && !l.starts_with("[["))
        .and_then(|l| l.get(1..l.find(']')?))
        .map(str::trim);
    Some(match table {
        Some(t) => format!("{t}.{key}"),
        None => key.to_owned(),
    })
}

// --- policies/<id>.toml -----------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    id: String,
    title: String,
    description: String,
    subject_type: SubjectType,
    issuer: String,
    ca: Option<String>,
    max_validity_days: u32,
    hc_role: HcRoleRule,
    authenticates: Option<Authenticates>,
    crl_distribution_point: bool,
    authority_info_access: bool,
    ocsp_nocheck: bool,
    subject: SubjectFile,
    key_usage: KeyUsageFile,
    extended_key_usage: Option<EkuFile>,
    basic_constraints: Option<BasicConstraintsFile>,
    certificate_policy: Option<PolicyFile>,
    keys: KeysFile,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubjectFile {
    required: Vec<String>,
    #[serde(default)]
    optional: Vec<String>,
    alt_names: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyUsageFile {
    critical: bool,
    bits: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EkuFile {
    critical: bool,
    purposes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BasicConstraintsFile {
    ca: bool,
    path_len: Option<u8>,
    critical: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    policy_suffix: Option<u32>,
    critical: bool,
    cps_qualifier: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysFile {
    allowed: Vec<String>,
    rsa_min_bits: Option<u32>,
}

/// keyUsage bit names as RFC 5280 §4.2.1.3 spells them.
const KEY_USAGE_BITS: &[(&str, KeyUsages)] = &[
    ("digitalSignature", KeyUsages::DigitalSignature),
    ("nonRepudiation", KeyUsages::NonRepudiation),
    ("keyEncipherment", KeyUsages::KeyEncipherment),
    ("dataEncipherment", KeyUsages::DataEncipherment),
    ("keyAgreement", KeyUsages::KeyAgreement),
    ("keyCertSign", KeyUsages::KeyCertSign),
    ("cRLSign", KeyUsages::CRLSign),
    ("encipherOnly", KeyUsages::EncipherOnly),
    ("decipherOnly", KeyUsages::DecipherOnly),
];

/// EKU purpose names (RFC 5280 §4.2.1.12 `id-kp-*` without the prefix; RFC 9336 documentSigning).
const EKU_PURPOSES: &[(&str, ObjectIdentifier)] = &[
    ("serverAuth", oid::ID_KP_SERVER_AUTH),
    ("clientAuth", oid::ID_KP_CLIENT_AUTH),
    ("emailProtection", oid::ID_KP_EMAIL_PROTECTION),
    ("timeStamping", oid::ID_KP_TIME_STAMPING),
    ("OCSPSigning", oid::ID_KP_OCSP_SIGNING),
    ("documentSigning", oid::ID_KP_DOCUMENT_SIGNING),
];

const ALGORITHMS: &[(&str, KeyAlgorithm)] = &[
    ("p256", KeyAlgorithm::P256),
    ("p384", KeyAlgorithm::P384),
    ("ed25519", KeyAlgorithm::Ed25519),
    ("rsa", KeyAlgorithm::Rsa),
];

/// Floor for any RSA key (NIST SP 800-57 Pt 1: 112-bit security).
const RSA_FLOOR_BITS: u32 = 2048;

fn algorithm_name(a: KeyAlgorithm) -> &'static str {
    ALGORITHMS
        .iter()
        .find(|(_, x)| *x == a)
        .map_or("?", |(n, _)| n)
}

fn algorithm_label(a: KeyAlgorithm) -> &'static str {
    match a {
        KeyAlgorithm::P256 => "P-256",
        KeyAlgorithm::P384 => "P-384",
        KeyAlgorithm::Ed25519 => "Ed25519",
        KeyAlgorithm::Rsa => "RSA",
        KeyAlgorithm::P521 => "P-521",
        KeyAlgorithm::Dsa => "DSA",
    }
}

/// Bits each key family may carry in an end-entity or CA certificate.
fn bits_allowed_for(a: KeyAlgorithm) -> FlagSet<KeyUsages> {
    use KeyUsages::*;
    let signing = DigitalSignature | NonRepudiation | KeyCertSign | CRLSign;
    match a {
        // RFC 3279 §2.3.1: no keyAgreement for RSA.
        KeyAlgorithm::Rsa => signing | KeyEncipherment | DataEncipherment,
        // RFC 5480 §3: keyEncipherment / dataEncipherment MUST NOT be asserted for id-ecPublicKey.
        KeyAlgorithm::P256 | KeyAlgorithm::P384 | KeyAlgorithm::P521 => {
            signing | KeyAgreement | EncipherOnly | DecipherOnly
        }
        // RFC 8410 §5: Ed25519 keys are signature keys only; RFC 3279 §2.3.2: so are DSA keys.
        KeyAlgorithm::Ed25519 | KeyAlgorithm::Dsa => signing,
    }
}

/// X.520 attribute types (`id-at`, 2.5.4): the only names a profile may use for the subject.
fn x520_arc() -> Option<ObjectIdentifier> {
    const_oid::db::rfc4519::CN.parent()
}

/// Short names used in messages for attributes found in a request.
const ATTRIBUTE_NAMES: &[&str] = &[
    "C",
    "ST",
    "L",
    "O",
    "OU",
    "CN",
    "SN",
    "GN",
    "serialNumber",
    "title",
    "pseudonym",
];

fn attribute_name(oid: &ObjectIdentifier) -> String {
    ATTRIBUTE_NAMES
        .iter()
        .find(|n| DB.by_name(n) == Some(oid))
        .map(|n| (*n).to_owned())
        .or_else(|| DB.by_oid(oid).map(str::to_owned))
        .unwrap_or_else(|| oid.to_string())
}

fn resolve_attributes(
    file: &str,
    key: &str,
    names: &[String],
) -> Result<Vec<(String, ObjectIdentifier)>, ProfileError> {
    let arc = x520_arc();
    let mut out: Vec<(String, ObjectIdentifier)> = Vec::new();
    for name in names {
        let Some(oid) = DB.by_name(name).copied() else {
            return Err(invalid(
                file,
                key,
                format!("unknown attribute name {name:?}"),
            ));
        };
        if oid.parent() != arc {
            return Err(invalid(
                file,
                key,
                format!("{name:?} ({oid}) is not an X.520 attribute type (2.5.4.*)"),
            ));
        }
        if out.iter().any(|(_, o)| *o == oid) {
            return Err(invalid(
                file,
                key,
                format!("attribute {name:?} is listed twice"),
            ));
        }
        out.push((name.clone(), oid));
    }
    Ok(out)
}

fn load_profile(file: &str, stem: &str, text: &str) -> Result<Profile, ProfileError> {
    let f: ProfileFile = toml::from_str(text).map_err(|e| parse_error(file, text, &e))?;
    let err = |key: &str, rule: String| Err(invalid(file, key, rule));

    if f.id != stem {
        return err(
            "id",
            format!("id {:?} differs from the file stem {stem:?}", f.id),
        );
    }
    if f.title.trim().is_empty() || f.title.contains('\n') {
        return err("title", "must be one non-empty line".into());
    }
    if f.description.trim().is_empty() {
        return err("description", "must not be empty".into());
    }
    if f.max_validity_days == 0 {
        return err("max_validity_days", "must be at least 1".into());
    }
    let issuer = match f.issuer.as_str() {
        "" => return err("issuer", "must be \"self\" or a CA id".into()),
        "self" => IssuerRef::SelfSigned,
        ca => IssuerRef::Ca(ca.to_owned()),
    };
    let is_ca = f.subject_type == SubjectType::Ca;
    match (&f.ca, is_ca) {
        (None, true) => return err("ca", "a CA profile must name the CA id it creates".into()),
        (Some(_), false) => {
            return err(
                "ca",
                "only subject_type = \"ca\" profiles create a CA".into(),
            );
        }
        (Some(ca), true) if ca.is_empty() || ca == "self" => {
            return err("ca", format!("{ca:?} is not a usable CA id"));
        }
        _ => {}
    }
    if issuer == IssuerRef::SelfSigned && !is_ca {
        return err("issuer", "only a CA profile can be self-signed".into());
    }

    // Subject.
    let subject_required = resolve_attributes(file, "subject.required", &f.subject.required)?;
    let subject_optional = resolve_attributes(file, "subject.optional", &f.subject.optional)?;
    if subject_required.is_empty() {
        return err(
            "subject.required",
            "must name at least one attribute".into(),
        );
    }
    if let Some((name, _)) = subject_optional
        .iter()
        .find(|(_, o)| subject_required.iter().any(|(_, r)| r == o))
    {
        return err("subject.optional", format!("{name:?} is also required"));
    }

    // Key usage.
    let mut key_usage = FlagSet::<KeyUsages>::default();
    for bit in &f.key_usage.bits {
        let Some((_, flag)) = KEY_USAGE_BITS.iter().find(|(n, _)| n == bit) else {
            return err("key_usage.bits", format!("unknown key usage {bit:?}"));
        };
        if key_usage.contains(*flag) {
            return err("key_usage.bits", format!("{bit:?} is listed twice"));
        }
        key_usage |= *flag;
    }
    use KeyUsages::*;
    if key_usage.is_empty() {
        return err(
            "key_usage.bits",
            "must not be empty (RFC 5280 §4.2.1.3)".into(),
        );
    }
    if is_ca && !key_usage.contains(KeyCertSign) {
        return err("key_usage.bits", "a CA profile needs keyCertSign".into());
    }
    if !is_ca && key_usage.contains(KeyCertSign) {
        return err(
            "key_usage.bits",
            "keyCertSign is for CA profiles only".into(),
        );
    }
    if !is_ca && key_usage.contains(CRLSign) {
        return err("key_usage.bits", "cRLSign is for CA profiles only".into());
    }
    let encipherment =
        KeyEncipherment | DataEncipherment | KeyAgreement | EncipherOnly | DecipherOnly;
    if key_usage.contains(NonRepudiation) && !(key_usage & encipherment).is_empty() {
        return err(
            "key_usage.bits",
            "nonRepudiation must not share a key with encipherment (ISO 17090-1 §6.3 key separation)"
                .into(),
        );
    }
    if f.subject_type == SubjectType::Person
        && key_usage.contains(NonRepudiation)
        && key_usage != NonRepudiation
    {
        return err(
            "key_usage.bits",
            "a person's signing profile has nonRepudiation only (iso17090.md §4.2)".into(),
        );
    }
    if !(key_usage & (EncipherOnly | DecipherOnly)).is_empty() && !key_usage.contains(KeyAgreement)
    {
        return err(
            "key_usage.bits",
            "encipherOnly/decipherOnly need keyAgreement (RFC 5280 §4.2.1.3)".into(),
        );
    }
    if is_ca && !f.key_usage.critical {
        return err(
            "key_usage.critical",
            "a CA's keyUsage must be critical (RFC 5280 §4.2.1.3 SHOULD, required here)".into(),
        );
    }

    // Extended key usage.
    let eku = match &f.extended_key_usage {
        None => None,
        Some(e) => {
            if e.purposes.is_empty() {
                return err(
                    "extended_key_usage.purposes",
                    "must not be empty; omit the table for no EKU".into(),
                );
            }
            let mut oids = Vec::new();
            for name in &e.purposes {
                let Some((_, o)) = EKU_PURPOSES.iter().find(|(n, _)| n == name) else {
                    return err(
                        "extended_key_usage.purposes",
                        format!("unknown purpose {name:?}"),
                    );
                };
                if oids.contains(o) {
                    return err(
                        "extended_key_usage.purposes",
                        format!("{name:?} is listed twice"),
                    );
                }
                oids.push(*o);
            }
            if oids.contains(&oid::ID_KP_TIME_STAMPING) && (oids.len() != 1 || !e.critical) {
                return err(
                    "extended_key_usage",
                    "timeStamping must be the only purpose and critical (RFC 3161 §2.3)".into(),
                );
            }
            Some((oids, e.critical))
        }
    };
    if f.ocsp_nocheck
        && !eku
            .as_ref()
            .is_some_and(|(p, _)| p.contains(&oid::ID_KP_OCSP_SIGNING))
    {
        return err(
            "ocsp_nocheck",
            "only for OCSP responders (EKU OCSPSigning, RFC 6960 §4.2.2.2.1)".into(),
        );
    }

    // A certificate that authenticates is a TLS client one, never a signing one.
    if f.authenticates.is_some() {
        let client = eku
            .as_ref()
            .is_some_and(|(p, _)| p.contains(&oid::ID_KP_CLIENT_AUTH));
        if is_ca || !client || key_usage.contains(NonRepudiation) {
            return err(
                "authenticates",
                "only an end-entity profile with EKU clientAuth and without nonRepudiation authenticates"
                    .into(),
            );
        }
    }

    // Basic constraints.
    let basic_constraints = f.basic_constraints.as_ref().map(|b| BasicConstraintsRule {
        ca: b.ca,
        path_len: b.path_len,
        critical: b.critical,
    });
    match (is_ca, basic_constraints) {
        (true, Some(bc)) if bc.ca && bc.critical => {}
        (true, _) => {
            return err(
                "basic_constraints",
                "a CA profile needs cA = true, critical (RFC 5280 §4.2.1.9)".into(),
            );
        }
        (false, Some(bc)) if bc.ca => {
            return err(
                "basic_constraints.ca",
                "an end entity must not have cA = true".into(),
            );
        }
        (false, Some(bc)) if bc.path_len.is_some() => {
            return err(
                "basic_constraints.path_len",
                "pathLenConstraint needs cA = true (RFC 5280 §4.2.1.9)".into(),
            );
        }
        _ => {}
    }

    // hcRole.
    if is_ca && f.hc_role != HcRoleRule::Absent {
        return err(
            "hc_role",
            "CA certificates carry no hcRole (iso17090.md §4.3)".into(),
        );
    }

    // Certificate policy.
    let certificate_policy = match &f.certificate_policy {
        None => None,
        Some(cp) => {
            match (is_ca, cp.policy_suffix) {
                (true, Some(_)) => {
                    return err(
                        "certificate_policy.policy_suffix",
                        "a CA profile carries the policies of the profiles its CA issues, not its own"
                            .into(),
                    );
                }
                (false, None) => {
                    return err(
                        "certificate_policy.policy_suffix",
                        "an end-entity policy needs a suffix".into(),
                    );
                }
                _ => {}
            }
            if is_ca && issuer == IssuerRef::SelfSigned {
                return err(
                    "certificate_policy",
                    "a self-signed root asserts no policy (it is a trust anchor)".into(),
                );
            }
            Some(PolicyRule {
                suffix: cp.policy_suffix,
                critical: cp.critical,
                cps_qualifier: cp.cps_qualifier,
            })
        }
    };

    // Keys.
    let mut algorithms = Vec::new();
    for name in &f.keys.allowed {
        let Some((_, a)) = ALGORITHMS.iter().find(|(n, _)| n == name) else {
            return err("keys.allowed", format!("unknown key algorithm {name:?}"));
        };
        if algorithms.contains(a) {
            return err("keys.allowed", format!("{name:?} is listed twice"));
        }
        let stray = key_usage - bits_allowed_for(*a);
        if !stray.is_empty() {
            let names: Vec<&str> = KEY_USAGE_BITS
                .iter()
                .filter(|(_, b)| stray.contains(*b))
                .map(|(n, _)| *n)
                .collect();
            return err(
                "keys.allowed",
                format!("{name} keys cannot carry key usage {}", names.join(", ")),
            );
        }
        algorithms.push(*a);
    }
    if algorithms.is_empty() {
        return err("keys.allowed", "must name at least one algorithm".into());
    }
    match (algorithms.contains(&KeyAlgorithm::Rsa), f.keys.rsa_min_bits) {
        (true, None) => return err("keys.rsa_min_bits", "required when rsa is allowed".into()),
        (false, Some(_)) => return err("keys.rsa_min_bits", "set but rsa is not allowed".into()),
        (true, Some(bits)) if bits < RSA_FLOOR_BITS => {
            return err(
                "keys.rsa_min_bits",
                format!("{bits} is below the floor {RSA_FLOOR_BITS}"),
            );
        }
        _ => {}
    }

    Ok(Profile {
        id: f.id,
        title: f.title,
        description: f.description,
        subject_type: f.subject_type,
        issuer,
        ca_id: f.ca,
        max_validity_days: f.max_validity_days,
        hc_role: f.hc_role,
        authenticates: f.authenticates,
        subject_required,
        subject_optional,
        alt_names: f.subject.alt_names,
        key_usage,
        key_usage_critical: f.key_usage.critical,
        eku,
        basic_constraints,
        certificate_policy,
        crl_distribution_point: f.crl_distribution_point,
        authority_info_access: f.authority_info_access,
        ocsp_nocheck: f.ocsp_nocheck,
        algorithms,
        rsa_min_bits: f.keys.rsa_min_bits,
    })
}

// --- policies/roles/<id>.toml -------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VocabularyFile {
    title: String,
    scheme: String,
    #[serde(default)]
    free_text: Vec<String>,
    #[serde(default)]
    codes: Vec<String>,
}

fn load_vocabulary(file: &str, stem: &str, text: &str) -> Result<RoleVocabulary, ProfileError> {
    let f: VocabularyFile = toml::from_str(text).map_err(|e| parse_error(file, text, &e))?;
    let scheme = ObjectIdentifier::new(&f.scheme)
        .map_err(|e| invalid(file, "scheme", format!("not an OID: {e}")))?;
    if f.title.trim().is_empty() || f.title.contains('\n') {
        return Err(invalid(file, "title", "must be one non-empty line"));
    }
    if f.free_text.is_empty() && f.codes.is_empty() {
        return Err(invalid(
            file,
            "free_text",
            "a vocabulary needs free_text or codes values",
        ));
    }
    let collect = |key: &str, values: Vec<String>| {
        let mut set = BTreeSet::new();
        for v in values {
            if v.is_empty() {
                return Err(invalid(file, key, "empty value"));
            }
            if !set.insert(v.clone()) {
                return Err(invalid(file, key, format!("{v:?} is listed twice")));
            }
        }
        Ok(set)
    };
    Ok(RoleVocabulary {
        id: stem.to_owned(),
        title: f.title,
        scheme,
        free_text: collect("free_text", f.free_text)?,
        codes: collect("codes", f.codes)?,
    })
}
