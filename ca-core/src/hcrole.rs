//! hcRole: ISO 17090-2 §7.3 `HCActorData` carried in subjectDirectoryAttributes (RFC 5280 §4.2.1.8).
//!
//! ASN.1 as reconstructed in `iso17090.md` §3.2 (EXPLICIT context tags):
//! ```text
//! HCActorData ::= SET OF HCActor
//! HCActor     ::= SEQUENCE { codedData [0] CodedData, regionalHCActorData [1] SEQUENCE OF RegionalData OPTIONAL }
//! CodedData   ::= SET { codingSchemeReference [0] OBJECT IDENTIFIER,
//!                       codeDataValue [1] NumericString OPTIONAL, codeDataFreeText [2] DirectoryString OPTIONAL }
//! ```

use const_oid::ObjectIdentifier;

/// One certified healthcare role, as hpki reports and issues it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HcRole {
    /// `codingSchemeReference`: the registered coding scheme (e.g. Japan `1.2.392.100495.1.6.1.1`).
    pub scheme: ObjectIdentifier,
    /// `codeDataValue` (NumericString on the wire per the TS text; UTF8String also accepted on input).
    pub code: Option<String>,
    /// `codeDataFreeText` (DirectoryString; emitted as UTF8String), e.g. "Medical Doctor".
    pub text: Option<String>,
}

/// Errors decoding or encoding hcRole.
#[derive(Debug, thiserror::Error)]
pub enum HcRoleError {
    #[error("hcRole DER: {0}")]
    Der(#[from] der::Error),
    #[error("hcRole: {0}")]
    Invalid(String),
}

/// The complete `extnValue` (SubjectDirectoryAttributes DER) carrying `roles` as one hcRole attribute
/// whose single value is an `HCActorData` listing every role.
pub fn encode_extension_value(roles: &[HcRole]) -> Result<Vec<u8>, HcRoleError> {
    let _ = roles;
    todo!()
}

/// Every hcRole in a subjectDirectoryAttributes `extnValue`; other attributes are ignored.
pub fn decode_extension_value(der: &[u8]) -> Result<Vec<HcRole>, HcRoleError> {
    let _ = der;
    todo!()
}

/// The hcRoles of a certificate (empty when it has no subjectDirectoryAttributes or no hcRole).
pub fn roles_of(cert: &x509_cert::Certificate) -> Result<Vec<HcRole>, HcRoleError> {
    let _ = cert;
    todo!()
}
