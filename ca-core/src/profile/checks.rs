//! Issue-time checks: a request (subject, SANs, roles, key, validity) against its profile.

use super::file::algorithm_name;
use super::{CertRequest, HcRoleRule, Profile, ProfileSet, ProfileViolation};
use crate::engine::hcrole::{self, HcRole};
use crate::engine::key::{KeyAlgorithm, KeyParams};
use const_oid::ObjectIdentifier;
use const_oid::db::DB;
use std::fmt;
use x509_cert::name::Name;

/// Seconds per day, for validity arithmetic on Unix times.
const DAY: u64 = 86_400;

impl Profile {
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
