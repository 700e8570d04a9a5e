//! hcRole: ISO 17090-2 §7.3 `HCActorData` carried in subjectDirectoryAttributes (RFC 5280 §4.2.1.8).
//!
//! ASN.1 as reconstructed in `iso17090.md` §3.2 (EXPLICIT context tags):
//! ```text
//! HCActorData ::= SET OF HCActor
//! HCActor     ::= SEQUENCE { codedData [0] CodedData, regionalHCActorData [1] SEQUENCE OF RegionalData OPTIONAL }
//! CodedData   ::= SET { codingSchemeReference [0] OBJECT IDENTIFIER,
//!                       codeDataValue [1] NumericString OPTIONAL, codeDataFreeText [2] DirectoryString OPTIONAL }
//! ```
//!
//! Wire decisions (`iso17090.md` §3.2–3.3):
//! * `codeDataValue`: the TS-2002 text (MHLW) says NumericString, the 2015 Annex A value notation shows
//!   UTF8String. Both are accepted; we emit NumericString when the value only uses NumericString's
//!   alphabet (digits and space, X.680 §41) and UTF8String otherwise, so a numeric code stays readable
//!   by TS-2002 decoders and a non-numeric one is still representable.
//! * `codeDataFreeText`: DirectoryString on input (UTF8, Printable, BMP, Teletex); always emitted as
//!   UTF8String, as MEDIS does. UniversalString is refused with an error: der 0.8 has no tag for it.
//! * `regionalHCActorData`: `RegionalData` was not recovered, so its content is kept raw and ignored;
//!   we never emit it.

use const_oid::ObjectIdentifier;
use der::asn1::{Any, AnyRef, BmpString, PrintableStringRef, SetOfVec, Utf8StringRef};
use der::{
    Decode, DecodeValue, Encode, EncodeValue, ErrorKind, FixedTag, Header, Length, Reader,
    Sequence, Tag, TagNumber, Tagged, ValueOrd, Writer,
};
use std::cmp::Ordering;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::SubjectDirectoryAttributes;

use crate::engine::oid;

/// Most roles accepted in one certificate (JAHIS puts one per certificate; this is a DoS bound).
pub const MAX_ROLES: usize = 64;

/// Largest subjectDirectoryAttributes `extnValue` we parse (untrusted input, DESIGN.md §5 inv. 5).
pub(crate) const MAX_EXTENSION_LEN: usize = 64 * 1024;

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
    /// The DER does not decode.
    #[error("hcRole DER: {0}")]
    Der(#[from] der::Error),
    /// Decodes, but breaks an ISO 17090-2 rule (or a size limit).
    #[error("hcRole: {0}")]
    Invalid(String),
}

/// `CodedData ::= SET { [0] OID, [1] NumericString OPTIONAL, [2] DirectoryString OPTIONAL }`
/// (ISO 17090-2 §7.3). `der` has no SET derive, so the value is hand-coded: in DER the members of a
/// SET with distinct tags are sorted by tag (X.690 §10.3), which equals the SEQUENCE `[0]`,`[1]`,`[2]`.
///
/// The decoder checks structure only; "at least one of `[1]`/`[2]`" is checked when converting to
/// [`HcRole`] (and when encoding), where the error can say which rule failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodedData {
    /// `[0]` codingSchemeReference: the role scheme's OID.
    pub coding_scheme_reference: ObjectIdentifier,
    /// `[1]` codeDataValue: the role's code.
    pub code_data_value: Option<String>,
    /// `[2]` codeDataFreeText: the role's text.
    pub code_data_free_text: Option<String>,
}

/// `HCActor ::= SEQUENCE { codedData [0] EXPLICIT CodedData, regionalHCActorData [1] EXPLICIT … OPTIONAL }`.
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct HCActor {
    /// `[0]` codedData.
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    pub coded_data: CodedData,
    /// Raw `SEQUENCE OF RegionalData`; content not interpreted (definition not recovered).
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    pub regional_hc_actor_data: Option<Any>,
}

/// `HCActorData ::= SET OF HCActor`: the value of one hcRole attribute value.
pub type HCActorData = SetOfVec<HCActor>;

fn context_tag(number: u32) -> Tag {
    Tag::ContextSpecific {
        constructed: true,
        number: TagNumber(number),
    }
}

/// X.680 §41.2: NumericString is digits and space.
fn is_numeric_string(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit() || b == b' ')
}

/// `codeDataValue`: NumericString (TS text) or UTF8String (2015 Annex A notation).
fn decode_code_value(inner: AnyRef<'_>) -> der::Result<String> {
    match inner.tag() {
        Tag::NumericString => {
            let s =
                std::str::from_utf8(inner.value()).map_err(|_| Tag::NumericString.value_error())?;
            if !is_numeric_string(s) {
                return Err(Tag::NumericString.value_error().into());
            }
            Ok(s.to_owned())
        }
        Tag::Utf8String => Ok(Utf8StringRef::try_from(inner)?.as_str().to_owned()),
        other => Err(other.unexpected_error(Some(Tag::NumericString)).into()),
    }
}

/// `codeDataFreeText` DirectoryString (RFC 5280 §4.1.2.4 CHOICE).
fn decode_directory_string(inner: AnyRef<'_>) -> der::Result<String> {
    let bytes = inner.value();
    match inner.tag() {
        Tag::Utf8String => Ok(Utf8StringRef::try_from(inner)?.as_str().to_owned()),
        Tag::PrintableString => Ok(PrintableStringRef::new(bytes)?.as_str().to_owned()),
        Tag::BmpString => Ok(BmpString::from_ucs2(bytes)?.chars().collect()),
        // UniversalString (tag 28) cannot be represented: der 0.8 rejects the tag while reading the
        // TLV (`TagUnknown`), so such input ends in an error before reaching this match.
        // T.61 is in practice written as Latin-1 (see der's TeletexStringRef notes); der itself only
        // takes ASCII, so map each octet to the Latin-1 code point.
        Tag::TeletexString => Ok(bytes.iter().map(|&b| char::from(b)).collect()),
        other => Err(other.unexpected_error(Some(Tag::Utf8String)).into()),
    }
}

impl FixedTag for CodedData {
    const TAG: Tag = Tag::Set;
}

impl<'a> DecodeValue<'a> for CodedData {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, _header: Header) -> der::Result<Self> {
        let mut scheme = None;
        let mut code = None;
        let mut text = None;
        let mut last: Option<u32> = None;
        while !reader.is_finished() {
            let field: AnyRef<'a> = reader.decode()?;
            let Tag::ContextSpecific {
                constructed: true,
                number: TagNumber(n),
            } = field.tag()
            else {
                return Err(field.tag().unexpected_error(None).into());
            };
            // DER (X.690 §11.6 via §10.3): SET members in ascending tag order, each at most once.
            if last.is_some_and(|l| n <= l) {
                return Err(ErrorKind::SetOrdering.into());
            }
            last = Some(n);
            // EXPLICIT: the context value holds exactly one complete TLV.
            let inner = AnyRef::from_der(field.value())?;
            match n {
                0 => scheme = Some(inner.decode_as::<ObjectIdentifier>()?),
                1 => code = Some(decode_code_value(inner)?),
                2 => text = Some(decode_directory_string(inner)?),
                _ => return Err(field.tag().unexpected_error(None).into()),
            }
        }
        Ok(Self {
            coding_scheme_reference: scheme.ok_or_else(|| context_tag(0).value_error())?,
            code_data_value: code,
            code_data_free_text: text,
        })
    }
}

/// The encodings of the present fields, each as the complete EXPLICIT `[n]` TLV.
impl CodedData {
    fn fields(&self) -> der::Result<Vec<Vec<u8>>> {
        if self.code_data_value.is_none() && self.code_data_free_text.is_none() {
            return Err(Tag::Set.value_error().into());
        }
        let mut out = Vec::with_capacity(3);
        out.push(explicit(0, &self.coding_scheme_reference.to_der()?)?);
        if let Some(code) = &self.code_data_value {
            let inner = if is_numeric_string(code) {
                AnyRef::new(Tag::NumericString, code.as_bytes())?.to_der()?
            } else {
                Utf8StringRef::new(code)?.to_der()?
            };
            out.push(explicit(1, &inner)?);
        }
        if let Some(text) = &self.code_data_free_text {
            out.push(explicit(2, &Utf8StringRef::new(text)?.to_der()?)?);
        }
        Ok(out)
    }
}

fn explicit(number: u32, inner: &[u8]) -> der::Result<Vec<u8>> {
    AnyRef::new(context_tag(number), inner)?.to_der()
}

impl EncodeValue for CodedData {
    fn value_len(&self) -> der::Result<Length> {
        self.fields()?
            .iter()
            .try_fold(Length::ZERO, |len, f| len + Length::try_from(f.len())?)
    }

    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        for f in self.fields()? {
            writer.write(&f)?;
        }
        Ok(())
    }
}

/// DER order for `SET OF` members compares encodings (X.690 §11.6).
impl ValueOrd for CodedData {
    fn value_cmp(&self, other: &Self) -> der::Result<Ordering> {
        Ok(self.to_der()?.cmp(&other.to_der()?))
    }
}

impl ValueOrd for HCActor {
    fn value_cmp(&self, other: &Self) -> der::Result<Ordering> {
        Ok(self.to_der()?.cmp(&other.to_der()?))
    }
}

impl TryFrom<&CodedData> for HcRole {
    type Error = HcRoleError;

    fn try_from(c: &CodedData) -> Result<Self, HcRoleError> {
        if c.code_data_value.is_none() && c.code_data_free_text.is_none() {
            return Err(HcRoleError::Invalid(format!(
                "CodedData for scheme {} has neither codeDataValue [1] nor codeDataFreeText [2] \
                 (ISO 17090-2 §7.3: at least one is required)",
                c.coding_scheme_reference
            )));
        }
        Ok(HcRole {
            scheme: c.coding_scheme_reference,
            code: c.code_data_value.clone(),
            text: c.code_data_free_text.clone(),
        })
    }
}

impl TryFrom<&HcRole> for CodedData {
    type Error = HcRoleError;

    fn try_from(r: &HcRole) -> Result<Self, HcRoleError> {
        let empty = |s: &Option<String>| s.as_deref().is_some_and(str::is_empty);
        if r.code.is_none() && r.text.is_none() {
            return Err(HcRoleError::Invalid(format!(
                "role under scheme {} needs a code or a text (ISO 17090-2 §7.3)",
                r.scheme
            )));
        }
        if empty(&r.code) || empty(&r.text) {
            return Err(HcRoleError::Invalid(format!(
                "role under scheme {} has an empty code or text",
                r.scheme
            )));
        }
        Ok(CodedData {
            coding_scheme_reference: r.scheme,
            code_data_value: r.code.clone(),
            code_data_free_text: r.text.clone(),
        })
    }
}

/// The complete `extnValue` (SubjectDirectoryAttributes DER) carrying `roles` as one hcRole attribute
/// whose single value is an `HCActorData` listing every role.
pub fn encode_extension_value(roles: &[HcRole]) -> Result<Vec<u8>, HcRoleError> {
    if roles.is_empty() {
        // SubjectDirectoryAttributes is SIZE (1..MAX) and HCActorData must name a role.
        return Err(HcRoleError::Invalid("no role to encode".into()));
    }
    if roles.len() > MAX_ROLES {
        return Err(HcRoleError::Invalid(format!(
            "{} roles exceed the maximum {MAX_ROLES}",
            roles.len()
        )));
    }
    let actors = roles
        .iter()
        .map(|r| {
            Ok(HCActor {
                coded_data: CodedData::try_from(r)?,
                regional_hc_actor_data: None,
            })
        })
        .collect::<Result<Vec<_>, HcRoleError>>()?;
    let data = HCActorData::try_from(actors)?;
    let mut values = SetOfVec::new();
    values.insert(Any::encode_from(&data)?)?;
    let sda = SubjectDirectoryAttributes(vec![Attribute {
        oid: oid::HC_ROLE,
        values,
    }]);
    Ok(sda.to_der()?)
}

/// Every hcRole in a subjectDirectoryAttributes `extnValue`; other attributes are ignored.
pub fn decode_extension_value(der: &[u8]) -> Result<Vec<HcRole>, HcRoleError> {
    if der.len() > MAX_EXTENSION_LEN {
        return Err(HcRoleError::Invalid(format!(
            "subjectDirectoryAttributes of {} bytes exceeds {MAX_EXTENSION_LEN}",
            der.len()
        )));
    }
    let sda = SubjectDirectoryAttributes::from_der(der)?;
    let mut roles = Vec::new();
    for attr in sda.0.iter().filter(|a| a.oid == oid::HC_ROLE) {
        // Attribute.values (SET OF AttributeValue) → each value is one HCActorData (SET OF HCActor).
        for value in attr.values.iter() {
            let data: HCActorData = value.decode_as()?;
            for actor in data.iter() {
                if roles.len() == MAX_ROLES {
                    return Err(HcRoleError::Invalid(format!("more than {MAX_ROLES} roles")));
                }
                roles.push(HcRole::try_from(&actor.coded_data)?);
            }
        }
    }
    Ok(roles)
}

/// The hcRoles of a certificate (empty when it has no subjectDirectoryAttributes or no hcRole).
pub fn roles_of(cert: &x509_cert::Certificate) -> Result<Vec<HcRole>, HcRoleError> {
    let Some(exts) = cert.tbs_certificate().extensions() else {
        return Ok(Vec::new());
    };
    let mut sdas = exts
        .iter()
        .filter(|e| e.extn_id == oid::ID_CE_SUBJECT_DIRECTORY_ATTRIBUTES);
    let Some(sda) = sdas.next() else {
        return Ok(Vec::new());
    };
    if sdas.next().is_some() {
        // RFC 5280 §4.2: at most one instance of an extension per certificate.
        return Err(HcRoleError::Invalid(
            "certificate has more than one subjectDirectoryAttributes extension".into(),
        ));
    }
    decode_extension_value(sda.extn_value.as_bytes())
}

/// Roles are written `SCHEME_OID:TEXT` on command lines and in requests, e.g.
/// `1.2.392.100495.1.6.1.1:Medical Doctor`.
impl std::str::FromStr for HcRole {
    type Err = HcRoleError;

    fn from_str(s: &str) -> Result<Self, HcRoleError> {
        let (scheme, text) = s
            .split_once(':')
            .ok_or_else(|| HcRoleError::Invalid(format!("{s:?}: expected SCHEME_OID:TEXT")))?;
        let scheme = ObjectIdentifier::new(scheme)
            .map_err(|e| HcRoleError::Invalid(format!("{s:?}: scheme: {e}")))?;
        if text.is_empty() || text.len() > 256 {
            return Err(HcRoleError::Invalid(format!(
                "{s:?}: role text must be 1 to 256 characters"
            )));
        }
        Ok(HcRole {
            scheme,
            code: None,
            text: Some(text.to_owned()),
        })
    }
}

impl std::fmt::Display for HcRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.text.as_deref().or(self.code.as_deref()).unwrap_or("");
        write!(f, "{}:{text}", self.scheme)
    }
}
