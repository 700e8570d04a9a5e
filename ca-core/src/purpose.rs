//! Signature purposes (commitment types, `iso17090.md` §5.3) and the role gate: which certified
//! healthcare roles may sign for which purpose (`policies/signing-purposes.toml`).

use crate::hcrole::HcRole;
use const_oid::ObjectIdentifier;

/// A commitment type: the ASTM E1762 healthcare purposes and the ETSI proofOf* types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Purpose {
    /// Short name used in requests and policies, e.g. "author", "proof-of-origin".
    pub name: String,
    pub oid: ObjectIdentifier,
}

/// The role gate.
#[derive(Clone, Debug)]
pub struct SigningPolicy {
    _private: (),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PurposeError {
    #[error("unknown signature purpose {0:?}")]
    Unknown(String),
    #[error("role {role} may not sign with purpose {purpose}")]
    Forbidden { role: String, purpose: String },
    #[error("{file}: {key}: {rule}")]
    Invalid {
        file: String,
        key: String,
        rule: String,
    },
}

impl SigningPolicy {
    /// The policy shipped in `policies/signing-purposes.toml`.
    pub fn embedded() -> Result<Self, PurposeError> {
        todo!()
    }
    /// From TOML text; `file` names it in errors.
    pub fn from_toml(file: &str, text: &str) -> Result<Self, PurposeError> {
        let _ = (file, text);
        todo!()
    }
    /// Every purpose known, by name.
    pub fn purposes(&self) -> &[Purpose] {
        todo!()
    }
    /// The purpose called `name`.
    pub fn purpose(&self, name: &str) -> Result<&Purpose, PurposeError> {
        let _ = name;
        todo!()
    }
    /// Whether a signer certified with `roles` may sign with `purpose`; the error names the role
    /// and the purpose.
    pub fn check(&self, roles: &[HcRole], purpose: &Purpose) -> Result<(), PurposeError> {
        let _ = (roles, purpose);
        todo!()
    }
}
