//! ISO 17090-2 certificate profiles as data (`policies/*.toml`), validated at load, enforced at issue.
//!
//! Code never hard-codes a profile's key usages or policy OIDs (DESIGN.md §5 invariant 4): they come
//! from the TOML files. Role vocabularies (`policies/roles/*.toml`) are data too. The file schema is
//! described in `policies/README.md`; every rule checked at load is an `Invalid { file, key, rule }`.
//!
//! Key usage is one set per profile, valid for every algorithm the profile allows (checked at load
//! against RFC 3279 §2.3.1, RFC 5480 §3 and RFC 8410 §5). Where the usage depends on the algorithm
//! (encryption: keyEncipherment for RSA, keyAgreement for EC) the policy ships one profile per family.
//!
//! The module follows the concepts: `model` (the types), `file` (one policy file: schema and one
//! validator per rule), `load` (a set of files and the rules across them), `checks` (a request
//! against its profile at issue) and `extensions` (what a profile puts in a certificate).

mod checks;
mod extensions;
mod file;
mod load;
mod model;

pub use model::{
    Authenticates, CaUrls, CertRequest, ExtensionContext, HcRoleRule, IssuerRef, OcspResponseRule,
    Profile, ProfileError, ProfileSet, ProfileViolation, RoleVocabulary, SubjectType,
};
use model::{BasicConstraintsRule, PolicyRule};
