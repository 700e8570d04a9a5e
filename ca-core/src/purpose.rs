//! Signature purposes (commitment types, `iso17090.md` §5.3) and the role gate: which certified
//! healthcare roles may sign for which purpose (`policies/purposes/signing.toml`).
//!
//! Both are data (DESIGN.md §5 invariant 4): the purpose list with its OIDs and the role table live
//! in the TOML file, validated at load (`deny_unknown_fields`; every rule broken is an
//! `Invalid { file, key, rule }`). The gate trusts only the **certified** role, the hcRole in the
//! signing certificate (`iso17090.md` §5.4); a claimed role never widens what may be signed.

use crate::engine::hcrole::HcRole;
use const_oid::ObjectIdentifier;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::OnceLock;

/// Where the purpose policy lives, relative to a policies directory. A subdirectory (like `roles/`)
/// so the profile loader, which reads `policies/*.toml`, never mistakes it for a profile.
pub const POLICY_FILE: &str = "purposes/signing.toml";

/// Largest policy file accepted (it is configuration, but a size limit costs nothing).
const MAX_POLICY_LEN: usize = 256 * 1024;

/// How a signer without hcRole (an organisation seal, an unregulated sponsored provider) is
/// named in errors.
pub(crate) const NO_ROLE: &str = "(no hcRole)";

/// A commitment type: the ASTM E1762 healthcare purposes and the ETSI proofOf* types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Purpose {
    /// Short name used in requests and policies, e.g. "author", "proof-of-origin".
    pub name: String,
    /// The commitment-type OID (ETSI EN 319 122-1 §5.2.3) its signatures carry.
    pub oid: ObjectIdentifier,
    /// What people read, e.g. "Author's Signature" (the ASTM E1762 / ETSI title).
    pub title: String,
}

impl Purpose {
    /// `name (title)`, e.g. `author (Author's Signature)`.
    pub fn label(&self) -> String {
        format!("{} ({})", self.name, self.title)
    }
}

/// The label ([`Purpose::label`]) of the commitment type `oid` in the shipped policy
/// (`policies/purposes/signing.toml`), for reports and `inspect`; `None` for an OID it does not
/// define.
pub fn label(oid: &ObjectIdentifier) -> Option<String> {
    static EMBEDDED: OnceLock<Option<SigningPolicy>> = OnceLock::new();
    EMBEDDED
        .get_or_init(|| SigningPolicy::embedded().ok())
        .as_ref()?
        .by_oid(oid)
        .map(Purpose::label)
}

/// The role gate.
#[derive(Clone, Debug)]
pub struct SigningPolicy {
    /// In file order.
    purposes: Vec<Purpose>,
    /// Purpose names a signer without hcRole may use.
    no_role: BTreeSet<String>,
    roles: Vec<RoleRule>,
}

/// One row of the role table: a certified role (scheme + free text or code) and its purposes.
#[derive(Clone, Debug)]
struct RoleRule {
    scheme: ObjectIdentifier,
    text: Option<String>,
    code: Option<String>,
    purposes: BTreeSet<String>,
}

impl RoleRule {
    /// Exact match on the scheme and on whichever of text / code the rule names. A role carrying
    /// both must match the one the rule names; the other is not consulted (the vocabulary check
    /// at issuance already validated it).
    fn matches(&self, role: &HcRole) -> bool {
        role.scheme == self.scheme
            && match (&self.text, &self.code) {
                (Some(text), _) => role.text.as_ref() == Some(text),
                (None, Some(code)) => role.code.as_ref() == Some(code),
                (None, None) => false,
            }
    }
}

/// Why a signing purpose is refused, or the policy file is invalid.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PurposeError {
    /// No purpose of that name.
    #[error("unknown signature purpose {0:?}")]
    Unknown(String),
    /// The role × purpose gate refuses: the certified role may not sign for it.
    #[error("role {role} may not sign with purpose {purpose}")]
    Forbidden {
        /// The certified roles, `scheme:text` joined by ", " (or "(no hcRole)").
        role: String,
        /// The purpose's name.
        purpose: String,
    },
    /// The policy file breaks a rule.
    #[error("{file}: {key}: {rule}")]
    Invalid {
        /// The file.
        file: String,
        /// The key in it.
        key: String,
        /// The rule it breaks.
        rule: String,
    },
}

fn invalid(file: &str, key: impl Into<String>, rule: impl Into<String>) -> PurposeError {
    PurposeError::Invalid {
        file: file.to_owned(),
        key: key.into(),
        rule: rule.into(),
    }
}

/// `scheme:text` (or `scheme:code`), as in audit records; several roles joined by ", ".
fn roles_label(roles: &[HcRole]) -> String {
    if roles.is_empty() {
        return NO_ROLE.to_owned();
    }
    roles
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl SigningPolicy {
    /// The policy shipped in `policies/purposes/signing.toml`.
    pub fn embedded() -> Result<Self, PurposeError> {
        Self::from_toml(
            POLICY_FILE,
            include_str!("../../policies/purposes/signing.toml"),
        )
    }

    /// The policy in `dir/purposes/signing.toml` (`dir` as given to `ProfileSet::load_dir`).
    pub fn load_dir(dir: &Path) -> Result<Self, PurposeError> {
        let path = dir.join(POLICY_FILE);
        let file = path.display().to_string();
        let len = std::fs::metadata(&path)
            .map_err(|e| invalid(&file, "(file)", e.to_string()))?
            .len();
        if len > MAX_POLICY_LEN as u64 {
            return Err(invalid(
                &file,
                "(file)",
                format!("{len} bytes; the limit is {MAX_POLICY_LEN}"),
            ));
        }
        let text =
            std::fs::read_to_string(&path).map_err(|e| invalid(&file, "(file)", e.to_string()))?;
        Self::from_toml(POLICY_FILE, &text)
    }

    /// From TOML text; `file` names it in errors.
    pub fn from_toml(file: &str, text: &str) -> Result<Self, PurposeError> {
        if text.len() > MAX_POLICY_LEN {
            return Err(invalid(
                file,
                "(file)",
                format!("{} bytes; the limit is {MAX_POLICY_LEN}", text.len()),
            ));
        }
        let parsed: PolicyFile = toml::from_str(text).map_err(|e| parse_error(file, text, &e))?;
        if parsed.purpose.is_empty() {
            return Err(invalid(file, "purpose", "at least one purpose is required"));
        }
        let mut purposes: Vec<Purpose> = Vec::with_capacity(parsed.purpose.len());
        for (i, p) in parsed.purpose.iter().enumerate() {
            let key = |field: &str| format!("purpose[{i}].{field}");
            if !is_kebab(&p.name) {
                return Err(invalid(
                    file,
                    key("name"),
                    format!(
                        "{:?} is not a kebab-case name (lowercase letters, digits, single hyphens)",
                        p.name
                    ),
                ));
            }
            if p.title.trim().is_empty() {
                return Err(invalid(file, key("title"), "must not be empty"));
            }
            let oid = ObjectIdentifier::new(&p.oid)
                .map_err(|e| invalid(file, key("oid"), format!("{:?}: {e}", p.oid)))?;
            if let Some(other) = purposes.iter().find(|q| q.name == p.name) {
                return Err(invalid(
                    file,
                    key("name"),
                    format!(
                        "duplicate purpose name {:?} (oid {})",
                        other.name, other.oid
                    ),
                ));
            }
            if let Some(other) = purposes.iter().find(|q| q.oid == oid) {
                return Err(invalid(
                    file,
                    key("oid"),
                    format!("OID {oid} is already purpose {:?}", other.name),
                ));
            }
            purposes.push(Purpose {
                name: p.name.clone(),
                oid,
                title: p.title.trim().to_owned(),
            });
        }
        let names = |key: String, list: &[String]| -> Result<BTreeSet<String>, PurposeError> {
            let mut out = BTreeSet::new();
            for name in list {
                if !purposes.iter().any(|p| &p.name == name) {
                    return Err(invalid(
                        file,
                        key.clone(),
                        format!("{name:?} is not a purpose defined in this file"),
                    ));
                }
                if !out.insert(name.clone()) {
                    return Err(invalid(
                        file,
                        key.clone(),
                        format!("{name:?} is listed twice"),
                    ));
                }
            }
            Ok(out)
        };
        let no_role = names("no_role.purposes".into(), &parsed.no_role.purposes)?;
        let mut roles: Vec<RoleRule> = Vec::with_capacity(parsed.role.len());
        for (i, r) in parsed.role.iter().enumerate() {
            let key = |field: &str| format!("role[{i}].{field}");
            let scheme = ObjectIdentifier::new(&r.scheme)
                .map_err(|e| invalid(file, key("scheme"), format!("{:?}: {e}", r.scheme)))?;
            match (&r.text, &r.code) {
                (Some(_), Some(_)) | (None, None) => {
                    return Err(invalid(
                        file,
                        key("text"),
                        "exactly one of `text` (codeDataFreeText) and `code` (codeDataValue) is required",
                    ));
                }
                (Some(v), None) | (None, Some(v)) if v.trim().is_empty() => {
                    let field = if r.text.is_some() { "text" } else { "code" };
                    return Err(invalid(file, key(field), "must not be empty"));
                }
                _ => {}
            }
            if roles
                .iter()
                .any(|o| o.scheme == scheme && o.text == r.text && o.code == r.code)
            {
                return Err(invalid(
                    file,
                    key("text"),
                    format!(
                        "role {scheme}:{} already has a row",
                        r.text.as_deref().or(r.code.as_deref()).unwrap_or_default()
                    ),
                ));
            }
            roles.push(RoleRule {
                scheme,
                text: r.text.clone(),
                code: r.code.clone(),
                purposes: names(key("purposes"), &r.purposes)?,
            });
        }
        Ok(Self {
            purposes,
            no_role,
            roles,
        })
    }

    /// Every purpose known, by name.
    pub fn purposes(&self) -> &[Purpose] {
        &self.purposes
    }

    /// The purpose called `name`.
    pub fn purpose(&self, name: &str) -> Result<&Purpose, PurposeError> {
        self.purposes
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| {
                // Names are short; an oversized request value is not echoed whole.
                PurposeError::Unknown(name.chars().take(64).collect())
            })
    }

    /// The purpose whose commitment type is `oid`.
    pub fn by_oid(&self, oid: &ObjectIdentifier) -> Option<&Purpose> {
        self.purposes.iter().find(|p| p.oid == *oid)
    }

    /// The purposes a signer certified with `roles` may use, in file order: the union over its
    /// roles, or the no-hcRole row when it has none.
    pub fn allowed(&self, roles: &[HcRole]) -> Vec<&Purpose> {
        self.purposes
            .iter()
            .filter(|p| self.allows(roles, &p.name))
            .collect()
    }

    fn allows(&self, roles: &[HcRole], purpose: &str) -> bool {
        if roles.is_empty() {
            return self.no_role.contains(purpose);
        }
        // Any certified role that permits it suffices (JAHIS issues one role per certificate;
        // several roles are each licensed, so their union applies). An unlisted role permits
        // nothing: the table fails closed.
        roles.iter().any(|role| {
            self.roles
                .iter()
                .any(|rule| rule.matches(role) && rule.purposes.contains(purpose))
        })
    }

    /// Whether a signer certified with `roles` may sign with `purpose`; the error names the role
    /// and the purpose.
    pub fn check(&self, roles: &[HcRole], purpose: &Purpose) -> Result<(), PurposeError> {
        // A purpose built by hand with a known name but another OID must not pass as the real one.
        if !self.purposes.contains(purpose) {
            return Err(PurposeError::Unknown(purpose.name.clone()));
        }
        if self.allows(roles, &purpose.name) {
            Ok(())
        } else {
            Err(PurposeError::Forbidden {
                role: roles_label(roles),
                purpose: purpose.name.clone(),
            })
        }
    }
}

fn is_kebab(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// A TOML or serde error as `Invalid`, naming `table.field` where the message quotes a field.
fn parse_error(file: &str, text: &str, err: &toml::de::Error) -> PurposeError {
    let message = err.message().trim();
    // serde quotes the field in "unknown field `x`" / "missing field `x`"; a syntax error's quotes
    // hold a token instead, so only field errors name a field.
    let field = if message.contains(" field `") {
        message.split('`').nth(1).filter(|k| !k.is_empty())
    } else {
        None
    };
    // The enclosing table header before the error, e.g. `[[role]]` → "role".
    let table = err.span().and_then(|span| {
        text.get(..span.start)?
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| l.starts_with('['))
            .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_owned())
    });
    let key = match (table, field) {
        (Some(t), Some(f)) => format!("{t}.{f}"),
        (None, Some(f)) => f.to_owned(),
        (Some(t), None) => t,
        (None, None) => "(document)".to_owned(),
    };
    invalid(file, key, message)
}

// --- policies/purposes/signing.toml -----------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    purpose: Vec<PurposeFile>,
    no_role: NoRoleFile,
    #[serde(default)]
    role: Vec<RoleFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PurposeFile {
    name: String,
    oid: String,
    title: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoRoleFile {
    purposes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleFile {
    scheme: String,
    text: Option<String>,
    code: Option<String>,
    purposes: Vec<String>,
}
