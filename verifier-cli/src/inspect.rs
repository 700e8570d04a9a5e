//! `inspect FILE`: a certificate, CRL, CSR or CMS signature as a person reads it. Like
//! `openssl x509 -text`, every extension is named with its decoded value (hcRole decoded), keys
//! are named by algorithm and size, and signature purposes by their name in
//! `policies/purposes/signing.toml`.
//!
//! The input is untrusted: what does not decode is shown as its OID and (bounded) hex, never a
//! panic. Values are decoded with the x509-cert / der / cms types; names come from `ca_core::oid`
//! (const-oid's database) and `ca_core::purpose`.

use ca_core::sign::{CommitmentTypeIndication, SignerAttributeV2, SigningCertificateV2};
use ca_core::verify::{self, SignedDocument};
use ca_core::{hcrole, key, oid, purpose};
use const_oid::ObjectIdentifier;
use const_oid::db::{rfc5280, rfc5911, rfc5912, rfc6960};
use der::asn1::{
    BmpString, GeneralizedTime, Ia5String, Null, OctetString, PrintableString, TeletexString, Uint,
};
use der::{Any, Decode, Encode, Tag, Tagged};
use std::fmt::{Display, Write};
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::certificate::Rfc5280;
use x509_cert::crl::CertificateList;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::crl::dp::{DistributionPoint, IssuingDistributionPoint, Reasons};
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AuthorityInfoAccessSyntax, AuthorityKeyIdentifier, BasicConstraints, CertificatePolicies,
    CrlDistributionPoints, CrlNumber, CrlReason, ExtendedKeyUsage, InhibitAnyPolicy, KeyUsage,
    KeyUsages, NameConstraints, PolicyConstraints, PolicyMappings, PrivateKeyUsagePeriod,
    SubjectDirectoryAttributes, SubjectKeyIdentifier,
};
use x509_cert::request::CertReq;

/// CRL entries listed; the count of the rest is given.
const MAX_ENTRIES: usize = 100;
/// Bytes of an undecoded value shown in hex.
const MAX_HEX: usize = 64;

/// Prints the file; returns true when it was recognised (unrecognisable input is "not valid",
/// exit 1).
pub fn inspect(bytes: &[u8]) -> bool {
    let (recognised, text) = render(bytes);
    print!("{text}");
    recognised
}

/// What [`inspect`] prints, and whether the input was recognised.
pub fn render(bytes: &[u8]) -> (bool, String) {
    let mut o = Out::default();
    let recognised = render_into(&mut o, bytes);
    (recognised, o.0)
}

fn render_into(o: &mut Out, bytes: &[u8]) -> bool {
    if let Ok(certs) = verify::decode_certificates(bytes) {
        for der in certs {
            if let Ok(c) = Certificate::from_der(&der) {
                certificate(o, 0, &c);
            }
        }
        return true;
    }
    let der = pem_or_der(bytes);
    if let Ok(crl) = CertificateList::<Rfc5280>::from_der(&der) {
        crl_text(o, &crl);
        return true;
    }
    if let Ok(csr) = CertReq::from_der(&der) {
        csr_text(o, &csr);
        return true;
    }
    match SignedDocument::parse(bytes) {
        Ok(doc) => {
            signed_data(o, &doc);
            true
        }
        Err(e) => {
            o.line(
                0,
                format_args!("not a certificate, CRL, CSR or CMS signature: {e}"),
            );
            false
        }
    }
}

fn pem_or_der(bytes: &[u8]) -> Vec<u8> {
    if bytes.trim_ascii().starts_with(b"-----BEGIN ")
        && let Ok((_, der)) = der::pem::decode_vec(bytes.trim_ascii())
    {
        return der;
    }
    bytes.to_vec()
}

/// The text being built, two spaces per level. Writing to a `String` cannot fail, and a `Display`
/// of untrusted data that errs leaves its line short instead of panicking as `format!` would.
#[derive(Default)]
struct Out(String);

impl Out {
    fn line(&mut self, depth: usize, text: impl Display) {
        let _ = writeln!(self.0, "{:1$}{text}", "", depth * 2);
    }

    /// `label:` padded to a column, then the value.
    fn field(&mut self, depth: usize, label: &str, value: impl Display) {
        let _ = writeln!(
            self.0,
            "{:2$}{:<12} {value}",
            "",
            format!("{label}:"),
            depth * 2
        );
    }

    /// `title[: critical]`, then the value `decode` prints one level deeper; when it does not
    /// decode, the error and the raw bytes instead.
    fn decoded(
        &mut self,
        depth: usize,
        title: impl Display,
        critical: bool,
        raw: &[u8],
        decode: impl FnOnce(&mut Out, usize) -> der::Result<()>,
    ) {
        self.line(
            depth,
            format_args!("{title}:{}", if critical { " critical" } else { "" }),
        );
        let mark = self.0.len();
        if let Err(e) = decode(self, depth + 1) {
            self.0.truncate(mark);
            self.line(depth + 1, format_args!("does not decode: {e}"));
            self.hex(depth + 1, raw);
        }
    }

    /// Up to [`MAX_HEX`] bytes, 16 a line.
    fn hex(&mut self, depth: usize, bytes: &[u8]) {
        for chunk in bytes[..bytes.len().min(MAX_HEX)].chunks(16) {
            let line: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
            self.line(depth, line.join(" "));
        }
        if bytes.len() > MAX_HEX {
            self.line(depth, format_args!("… ({} bytes)", bytes.len()));
        }
    }
}

/// `9D:D6:13:…`, as OpenSSL prints key identifiers.
fn colon_hex(bytes: &[u8]) -> String {
    let parts: Vec<String> = bytes.iter().map(|b| format!("{b:02X}")).collect();
    parts.join(":")
}

/// A serial number or other INTEGER as OpenSSL prints serials: upper-case hex.
fn serial(bytes: &[u8]) -> String {
    hex::encode_upper(bytes)
}

/// An unsigned INTEGER in decimal when it fits 128 bits (CRL numbers), else hex.
fn uint_text(n: &Uint) -> String {
    let bytes = n.as_bytes();
    if bytes.len() <= 16 {
        bytes
            .iter()
            .fold(0u128, |acc, b| (acc << 8) | u128::from(*b))
            .to_string()
    } else {
        format!("0x{}", serial(bytes))
    }
}

/// `Display` into a `String` without `format!`'s panic on a formatter error.
fn text(value: impl Display) -> String {
    let mut s = String::new();
    let _ = write!(s, "{value}");
    s
}

/// A value whose type is only known at run time (attribute values, qualifiers, other names): the
/// string, time or OID it holds, else its hex.
fn any_text(value: &Any) -> String {
    let decoded = match value.tag() {
        Tag::Utf8String => value.decode_as::<String>().ok(),
        Tag::PrintableString => value.decode_as::<PrintableString>().ok().map(text),
        Tag::Ia5String => value.decode_as::<Ia5String>().ok().map(text),
        Tag::TeletexString => value.decode_as::<TeletexString>().ok().map(text),
        Tag::BmpString => value.decode_as::<BmpString>().ok().map(text),
        // der has no VisibleString type: its contents are printable ASCII (X.680 §41.4), as in
        // the user notices of PKITS and most CAs.
        Tag::VisibleString => std::str::from_utf8(value.value())
            .ok()
            .filter(|s| s.bytes().all(|b| (0x20..0x7f).contains(&b)))
            .map(str::to_owned),
        Tag::UtcTime | Tag::GeneralizedTime => value
            .decode_as::<x509_cert::time::Time>()
            .ok()
            .map(|t| text(t.to_date_time())),
        Tag::ObjectIdentifier => value
            .decode_as::<ObjectIdentifier>()
            .ok()
            .map(|o| oid::describe(&o)),
        Tag::Integer => value.decode_as::<Uint>().ok().map(|n| uint_text(&n)),
        _ => None,
    };
    decoded.unwrap_or_else(|| {
        let der = value.to_der().unwrap_or_default();
        let shown = &der[..der.len().min(MAX_HEX)];
        let more = if der.len() > MAX_HEX { "…" } else { "" };
        format!("#{}{more}", hex::encode(shown))
    })
}

fn general_name(name: &GeneralName) -> String {
    match name {
        GeneralName::OtherName(on) => {
            format!(
                "othername:{}:{}",
                oid::describe(&on.type_id),
                any_text(&on.value)
            )
        }
        GeneralName::Rfc822Name(s) => format!("email:{}", text(s)),
        GeneralName::DnsName(s) => format!("DNS:{}", text(s)),
        GeneralName::DirectoryName(n) => format!("DirName:{}", text(n)),
        GeneralName::EdiPartyName(e) => format!("EdiPartyName:{}", e.party_name.value()),
        GeneralName::UniformResourceIdentifier(s) => format!("URI:{}", text(s)),
        GeneralName::IpAddress(ip) => format!("IP Address:{}", ip_text(ip.as_bytes())),
        GeneralName::RegisteredId(id) => format!("Registered ID:{}", oid::describe(id)),
    }
}

/// An address, or address/mask in name constraints (RFC 5280 §4.2.1.10).
fn ip_text(bytes: &[u8]) -> String {
    let addr = |b: &[u8]| -> Option<String> {
        match b.len() {
            4 => <[u8; 4]>::try_from(b)
                .ok()
                .map(|a| std::net::Ipv4Addr::from(a).to_string()),
            16 => <[u8; 16]>::try_from(b)
                .ok()
                .map(|a| std::net::Ipv6Addr::from(a).to_string()),
            _ => None,
        }
    };
    let shown = match bytes.len() {
        4 | 16 => addr(bytes),
        8 | 32 => {
            let (a, mask) = bytes.split_at(bytes.len() / 2);
            addr(a)
                .zip(addr(mask))
                .map(|(a, mask)| format!("{a}/{mask}"))
        }
        _ => None,
    };
    shown.unwrap_or_else(|| format!("#{}", hex::encode(bytes)))
}

fn general_names(o: &mut Out, depth: usize, names: &[GeneralName]) {
    for n in names {
        o.line(depth, general_name(n));
    }
}

/// An hcRole as people read it: the role, its coding scheme by name, its code.
fn role_text(role: &hcrole::HcRole) -> String {
    let mut s = role
        .text
        .clone()
        .or_else(|| role.code.clone())
        .unwrap_or_else(|| "-".into());
    let _ = write!(s, ", scheme {}", oid::describe(&role.scheme));
    if let (Some(_), Some(code)) = (&role.text, &role.code) {
        let _ = write!(s, ", code {code}");
    }
    s
}

// ---- Certificates ----

fn certificate(o: &mut Out, depth: usize, c: &Certificate) {
    o.line(depth, "Certificate");
    summary(o, depth + 1, c);
    o.field(
        depth + 1,
        "signature",
        oid::describe(&c.signature_algorithm().oid),
    );
    extensions(
        o,
        depth + 1,
        c.tbs_certificate().extensions().map(Vec::as_slice),
    );
}

/// Subject, issuer, serial, validity, key and hcRole: what the carried certificates of a
/// signature show, and the head of a certificate's text.
fn summary(o: &mut Out, depth: usize, c: &Certificate) {
    let tbs = c.tbs_certificate();
    o.field(depth, "subject", tbs.subject());
    o.field(depth, "issuer", tbs.issuer());
    o.field(depth, "serial", serial(tbs.serial_number().as_bytes()));
    o.field(
        depth,
        "validity",
        format_args!(
            "{} → {}",
            tbs.validity().not_before.to_date_time(),
            tbs.validity().not_after.to_date_time()
        ),
    );
    o.field(
        depth,
        "key",
        key::describe_public_key(tbs.subject_public_key_info()),
    );
    match hcrole::roles_of(c) {
        Ok(roles) => {
            for r in &roles {
                o.field(depth, "hcRole", role_text(r));
            }
        }
        Err(e) => o.field(depth, "hcRole", format_args!("does not decode: {e}")),
    }
}

type Decoder = fn(&mut Out, usize, &[u8]) -> der::Result<()>;

/// Extensions of certificates (RFC 5280 §4.2), CRLs (§5.2) and CRL entries (§5.3): OID, the title
/// `openssl x509 -text` gives it, and how its value is shown.
#[rustfmt::skip]
const EXTENSIONS: &[(ObjectIdentifier, &str, Decoder)] = &[
    (rfc5280::ID_CE_AUTHORITY_KEY_IDENTIFIER, "Authority Key Identifier", authority_key_id),
    (rfc5280::ID_CE_SUBJECT_KEY_IDENTIFIER, "Subject Key Identifier", subject_key_id),
    (rfc5280::ID_CE_KEY_USAGE, "Key Usage", key_usage),
    (rfc5280::ID_CE_EXT_KEY_USAGE, "Extended Key Usage", extended_key_usage),
    (rfc5280::ID_CE_PRIVATE_KEY_USAGE_PERIOD, "Private Key Usage Period", private_key_usage_period),
    (rfc5280::ID_CE_CERTIFICATE_POLICIES, "Certificate Policies", certificate_policies),
    (rfc5280::ID_CE_POLICY_MAPPINGS, "Policy Mappings", policy_mappings),
    (rfc5280::ID_CE_SUBJECT_ALT_NAME, "Subject Alternative Name", general_names_value),
    (rfc5280::ID_CE_ISSUER_ALT_NAME, "Issuer Alternative Name", general_names_value),
    (rfc5280::ID_CE_SUBJECT_DIRECTORY_ATTRIBUTES, "Subject Directory Attributes", subject_directory_attributes),
    (rfc5280::ID_CE_BASIC_CONSTRAINTS, "Basic Constraints", basic_constraints),
    (rfc5280::ID_CE_NAME_CONSTRAINTS, "Name Constraints", name_constraints),
    (rfc5280::ID_CE_POLICY_CONSTRAINTS, "Policy Constraints", policy_constraints),
    (rfc5280::ID_CE_INHIBIT_ANY_POLICY, "Inhibit Any Policy", inhibit_any_policy),
    (rfc5280::ID_CE_CRL_DISTRIBUTION_POINTS, "CRL Distribution Points", distribution_points),
    (rfc5280::ID_CE_FRESHEST_CRL, "Freshest CRL", distribution_points),
    (rfc5280::ID_PE_AUTHORITY_INFO_ACCESS, "Authority Information Access", access_descriptions),
    (rfc5280::ID_PE_SUBJECT_INFO_ACCESS, "Subject Information Access", access_descriptions),
    (rfc6960::ID_PKIX_OCSP_NOCHECK, "OCSP No Check", null_value),
    (rfc5280::ID_CE_CRL_NUMBER, "CRL Number", crl_number),
    (rfc5280::ID_CE_DELTA_CRL_INDICATOR, "Delta CRL Indicator", crl_number),
    (rfc5280::ID_CE_ISSUING_DISTRIBUTION_POINT, "Issuing Distribution Point", issuing_distribution_point),
    (rfc5280::ID_CE_CRL_REASONS, "CRL Reason Code", crl_reason),
    (rfc5280::ID_CE_INVALIDITY_DATE, "Invalidity Date", invalidity_date),
    (rfc5280::ID_CE_CERTIFICATE_ISSUER, "Certificate Issuer", general_names_value),
    (rfc5280::ID_CE_HOLD_INSTRUCTION_CODE, "Hold Instruction Code", oid_value),
];

fn extensions(o: &mut Out, depth: usize, exts: Option<&[Extension]>) {
    let Some(exts) = exts.filter(|e| !e.is_empty()) else {
        return;
    };
    o.line(depth, "extensions:");
    extension_list(o, depth + 1, exts);
}

fn extension_list(o: &mut Out, depth: usize, exts: &[Extension]) {
    for e in exts {
        let raw = e.extn_value.as_bytes();
        match EXTENSIONS.iter().find(|(id, _, _)| *id == e.extn_id) {
            Some((_, title, decode)) => {
                o.decoded(depth, title, e.critical, raw, |o, d| decode(o, d, raw));
            }
            None => {
                o.line(
                    depth,
                    format_args!(
                        "{}:{}",
                        oid::describe(&e.extn_id),
                        if e.critical { " critical" } else { "" }
                    ),
                );
                o.hex(depth + 1, raw);
            }
        }
    }
}

fn authority_key_id(o: &mut Out, d: usize, v: &[u8]) -> der::Result<()> {
    let aki = AuthorityKeyIdentifier::from_der(v)?;
    if let Some(id) = &aki.key_identifier {
        o.line(d, format_args!("keyid:{}", colon_hex(id.as_bytes())));
    }
    for n in aki.authority_cert_issuer.iter().flatten() {
        o.line(d, format_args!("issuer:{}", general_name(n)));
    }
    if let Some(s) = &aki.authority_cert_serial_number {
        o.line(d, format_args!("serial:{}", serial(s.as_bytes())));
    }
    Ok(())
}

fn subject_key_id(o: &mut Out, d: usize, v: &[u8]) -> der::Result<()> {
    let ski = SubjectKeyIdentifier::from_der(v)?;
    o.line(d, colon_hex(ski.0.as_bytes()));
    Ok(())
}

/// KeyUsage bits (RFC 5280 §4.2.1.3) as OpenSSL names them.
const KEY_USAGES: &[(KeyUsages, &str)] = &[
    (KeyUsages::DigitalSignature, "Digital Signature"),
    (KeyUsages::NonRepudiation, "Non Repudiation"),
    (KeyUsages::KeyEncipherment, "Key Encipherment"),
    (KeyUsages::DataEncipherment, "Data Encipherment"),
    (KeyUsages::KeyAgreement, "Key Agreement"),
    (KeyUsages::KeyCertSign, "Certificate Sign"),
    (KeyUsages::CRLSign, "CRL Sign"),
    (KeyUsages::EncipherOnly, "Encipher Only"),
    (KeyUsages::DecipherOnly, "Decipher Only"),
];

fn key_usage(o: &mut Out, d: usize, v: &[u8]) -> der::Result<()> {
    let ku = KeyUsage::from_der(v)?;
    let set: Vec<&str> = KEY_USAGES
        .iter()
        .filter(|(bit, _)| ku.0.contains(*bit))
        .map(|(_, name)| *name)
        .collect();
    o.line(
        d,
        if set.is_empty() {
            "(none)".into()
        } else {
            set.join(", ")
        },
    );
    Ok(())
}

fn extended_key_usage(o: &mut Out, d: usize, v: &[u8]) -> der::Result<()> {
    for id in ExtendedKeyUsage::from_der(v)?.0 {
        o.line(d, oid::describe(&id));
    }
    Ok(())
}

fn private_key_usage_period(o: &mut Out, d: usize, v: &[u8]) -> der::Result<()> {
    let p = PrivateKeyUsagePeriod::from_der(v)?;
    if let Some(t) = p.not_before {
        o.line(d, format_args!("Not Before: {}", t.to_date_time()));
    }
    if let Some(t) = p.not_after {
        o.line(d, format_args!("Not After: {}", t.to_date_time()));
    }
    Ok(())
}

/// `UserNotice ::= SEQUENCE { noticeRef NoticeReference OPTIONAL, explicitText DisplayText
/// OPTIONAL }` (RFC 5280 §4.2.1.4). x509-cert 0.3's `UserNotice` types noticeRef as a
/// GeneralizedTime and its `DisplayText` lacks visibleString and bmpString, so DisplayText stays
/// an `Any` shown by [`any_text`].
#[derive(der::Sequence)]
struct UserNotice {
    #[asn1(optional = "true")]
    notice_ref: Option<NoticeReference>,
    #[asn1(optional = "true")]
    explicit_text: Option<Any>,
}

/// `NoticeReference ::= SEQUENCE { organization DisplayText, noticeNumbers SEQUENCE OF INTEGER }`
/// (RFC 5280 §4.2.1.4).
#[derive(der::Sequence)]
struct NoticeReference {
    organization: Any,
    notice_numbers: Vec<Uint>,
}

fn certificate_policies(o: &mut Out, d: usize, v: &[u8]) -> der::Result<()> {
    for p in CertificatePolicies::from_der(v)?.0 {
        o.line(
            d,
            format_args!("Policy: {}", oid::describe(&p.policy_identifier)),
        );
        for q in p.policy_qualifiers.iter().flatten() {
            let value = q.qualifier.as_ref();
            if q.policy_qualifier_id == rfc5280::ID_QT_CPS {
                let uri = value.map_or_else(|| "-".into(), any_text);
                o.line(d + 1, format_args!("CPS: {uri}"));
            } else if let (true, Some(Ok(notice))) = (
                q.policy_qualifier_id == rfc5280::ID_QT_UNOTICE,
                value.map(Any::decode_as::<UserNotice>),
            ) {
                o.line(d + 1, "User Notice:");
                if let Some(r) = &notice.notice_ref {
                    let numbers: Vec<String> = r.notice_numbers.iter().map(uint_text).collect();
                    o.line(
                        d + 2,
                        format_args!("Organization: {}", any_text(&r.organization)),
                    );
                    o.line(d + 2, format_args!("Numbers: {}", numbers.join(", ")));
                }
                if let Some(t) = &notice.explicit_text {
                    o.line(d + 2, format_args!("Explicit Text: {}", any_text(t)));
                }
            } else {
                let shown = value.map_or_else(|| "-".into(), any_text);
                o.line(
                    d + 1,
                    format_args!("{}: {shown}", oid::describe(&q.policy_qualifier_id)),
                );
            }
        }
    }
    Ok(())
}

fn policy_mappings(o: &mut Out, d: usize, v: &[u8]) -> der::Result<()> {
    for m in PolicyMappings::from_der(v)?.0 {
        o.line(
            d,
            format_args!(
                "{} → {}",
                oid::describe(&m.issuer_domain_policy),
                oid::describe(&m.subject_domain_policy)
            ),
        );
    }
    Ok(())
}

fn general_names_value(o: &mut Out, d: usize, v: &[u8]) -> der::Result<()> {
    general_names(o, d, &Vec::<GeneralName>::from_der(v)?);
    Ok(())
}

/// Attributes by name; hcRole (ISO 17090-2 §7.3) decoded by `ca_core::hcrole`.
fn subject_directory_attributes(o: &mut Out, d: usize, v: &[u8]) -> der::Result<()> {
    let sda = SubjectDirectoryAttributes::from_der(v)?;
    if sda.0.iter().any(|a| a.oid == oid::HC_ROLE) {
        match hcrole::decode_extension_value(v) {
            Ok(roles) => {
                for r in &roles {
                    o.line(d, format_args!("hcRole: {}", role_text(r)));
                }
            }
            Err(e) => o.line(d, format_args!("hcRole: does not decode: {e}")),
        }
    }
    for a in sda.0.iter().filter(|a| a.oid != oid::HC_ROLE) {
        attribute_values(o, d, a);
    }
    Ok(())
}

/// `name: value, value` for an attribute no decoder knows.
fn attribute_values(o: &mut Out, d: usize, a: &Attribute) {
    let values: Vec<String> = a.values.iter().map(any_text).collect();
    o.line(
        d,
        format_args!("{}: {}", oid::describe(&a.oid), values.join(", ")),
    );
}

fn basic_constraints(o: &mut Out, d: usize, v: &[u8]) -> der::Result<()> {
    let bc = BasicConstraints::from_der(v)?;
    let mut s = format!("CA:{}", if bc.ca { "TRUE" } else { "FALSE" });
    if let Some(n) = bc.path_len_constraint {
        let _ = write!(s, ", pathlen:{n}");
    }
    o.line(d, s);
    Ok(())
}

fn name_constraints(o: &mut Out, d: usize, v: &[u8]) -> der::Result<()> {
    let nc = NameConstraints::from_der(v)?;
    for (label, subtrees) in [
        ("Permitted", &nc.permitted_subtrees),
        ("Excluded", &nc.excluded_subtrees),
    ] {
        if let Some(subtrees) = subtrees {
            o.line(d, format_args!("{label}:"));
            for s in subtrees {
                o.line(d + 1, general_name(&s.base));
            }
        }
    }
    Ok(())
}

fn policy_constraints(o: &mut Out, d: usize, v: &[u8]) -> der::Result<()> {
    let pc = PolicyConstraints::from_der(v)?;
    if let Some(n) = pc.require_explicit_policy {
        o.line(d, format_args!("Require Explicit Policy: {n}"));
    }
    if let Some(n) = pc.inhibit_policy_mapping {
        o.line(d, format_args!("Inhibit Policy Mapping: {n}"));
    }
    Ok(())
}

fn inhibit_any_policy(o: &mut Out, d: usize, v: &[u8]) -> der::Result<()> {
    let n = InhibitAnyPolicy::from_der(v)?.0;
    o.line(d, format_args!("skip certificates: {n}"));
    Ok(())
}

/// ReasonFlags (RFC 5280 §4.2.1.13) as OpenSSL names them.
const REASON_FLAGS: &[(Reasons, &str)] = &[
    (Reasons::Unused, "Unused"),
    (Reasons::KeyCompromise, "Key Compromise"),
    (Reasons::CaCompromise, "CA Compromise"),
    (Reasons::AffiliationChanged, "Affiliation Changed"),
    (Reasons::Superseded, "Superseded"),
    (Reasons::CessationOfOperation, "Cessation Of Operation"),
    (Reasons::CertificateHold, "Certificate Hold"),
    (Reasons::PrivilegeWithdrawn, "Privilege Withdrawn"),
    (Reasons::AaCompromise, "AA Compromise"),
];

fn reason_flags(flags: der::flagset::FlagSet<Reasons>) -> String {
    let set: Vec<&str> = REASON_FLAGS
        .iter()
        .filter(|(bit, _)| flags.contains(*bit))
        .map(|(_, name)| *name)
        .collect();
    set.join(", ")
}

fn distribution_point_name(o: &mut Out, d: usize, name: &DistributionPointName) {
    match name {
        DistributionPointName::FullName(names) => {
            o.line(d, "Full Name:");
            general_names(o, d + 1, names);
        }
        DistributionPointName::NameRelativeToCRLIssuer(rdn) => {
            o.line(d, format_args!("Relative Name: {}", text(rdn)));
        }
    }
}

fn distribution_points(o: &mut Out, d: usize, v: &[u8]) -> der::Result<()> {
    for DistributionPoint {
        distribution_point,
        reasons,
        crl_issuer,
    } in CrlDistributionPoints::from_der(v)?.0
    {
        if let Some(name) = &distribution_point {
            distribution_point_name(o, d, name);
        }
        if let Some(r) = reasons {
            o.line(d, format_args!("Reasons: {}", reason_flags(r)));
        }
        if let Some(names) = &crl_issuer {
            o.line(d, "CRL Issuer:");
            general_names(o, d + 1, names);
        }
    }
    Ok(())
}

/// Access methods (RFC 5280 §4.2.2) as OpenSSL names them; others by their OID's name.
const ACCESS_METHODS: &[(ObjectIdentifier, &str)] = &[
    (rfc5280::ID_AD_OCSP, "OCSP"),
    (rfc5280::ID_AD_CA_ISSUERS, "CA Issuers"),
    (rfc5280::ID_AD_CA_REPOSITORY, "CA Repository"),
    (rfc5280::ID_AD_TIME_STAMPING, "Time Stamping"),
];

fn access_descriptions(o: &mut Out, d: usize, v: &[u8]) -> der::Result<()> {
    // AIA and SIA share the syntax (RFC 5280 §4.2.2.1, §4.2.2.2).
    for a in AuthorityInfoAccessSyntax::from_der(v)?.0 {
        let method = ACCESS_METHODS
            .iter()
            .find(|(id, _)| *id == a.access_method)
            .map_or_else(|| oid::describe(&a.access_method), |(_, n)| (*n).to_owned());
        o.line(
            d,
            format_args!("{method} - {}", general_name(&a.access_location)),
        );
    }
    Ok(())
}

fn null_value(o: &mut Out, d: usize, v: &[u8]) -> der::Result<()> {
    Null::from_der(v)?;
    o.line(d, "(present)");
    Ok(())
}

fn crl_number(o: &mut Out, d: usize, v: &[u8]) -> der::Result<()> {
    o.line(d, uint_text(&CrlNumber::from_der(v)?.0));
    Ok(())
}

fn issuing_distribution_point(o: &mut Out, d: usize, v: &[u8]) -> der::Result<()> {
    // Decoded by type, not `AssociatedOid`: x509-cert 0.3 gives IssuingDistributionPoint the OID
    // of subjectInfoAccess.
    let idp = IssuingDistributionPoint::from_der(v)?;
    if let Some(name) = &idp.distribution_point {
        distribution_point_name(o, d, name);
    }
    for (set, label) in [
        (idp.only_contains_user_certs, "Only User Certificates"),
        (idp.only_contains_ca_certs, "Only CA Certificates"),
        (idp.indirect_crl, "Indirect CRL"),
        (
            idp.only_contains_attribute_certs,
            "Only Attribute Certificates",
        ),
    ] {
        if set {
            o.line(d, label);
        }
    }
    if let Some(r) = idp.only_some_reasons {
        o.line(d, format_args!("Only Some Reasons: {}", reason_flags(r)));
    }
    Ok(())
}

/// CRLReason (RFC 5280 §5.3.1) as OpenSSL names it.
fn reason_name(reason: CrlReason) -> &'static str {
    match reason {
        CrlReason::Unspecified => "Unspecified",
        CrlReason::KeyCompromise => "Key Compromise",
        CrlReason::CaCompromise => "CA Compromise",
        CrlReason::AffiliationChanged => "Affiliation Changed",
        CrlReason::Superseded => "Superseded",
        CrlReason::CessationOfOperation => "Cessation Of Operation",
        CrlReason::CertificateHold => "Certificate Hold",
        CrlReason::RemoveFromCRL => "Remove From CRL",
        CrlReason::PrivilegeWithdrawn => "Privilege Withdrawn",
        CrlReason::AaCompromise => "AA Compromise",
    }
}

fn crl_reason(o: &mut Out, d: usize, v: &[u8]) -> der::Result<()> {
    o.line(d, reason_name(CrlReason::from_der(v)?));
    Ok(())
}

fn invalidity_date(o: &mut Out, d: usize, v: &[u8]) -> der::Result<()> {
    o.line(d, GeneralizedTime::from_der(v)?.to_date_time());
    Ok(())
}

fn oid_value(o: &mut Out, d: usize, v: &[u8]) -> der::Result<()> {
    o.line(d, oid::describe(&ObjectIdentifier::from_der(v)?));
    Ok(())
}

// ---- CRLs and CSRs ----

fn crl_text(o: &mut Out, crl: &CertificateList<Rfc5280>) {
    let tbs = &crl.tbs_cert_list;
    o.line(0, "CRL");
    o.field(1, "issuer", &tbs.issuer);
    o.field(1, "signature", oid::describe(&crl.signature_algorithm.oid));
    o.field(1, "thisUpdate", tbs.this_update.to_date_time());
    if let Some(n) = &tbs.next_update {
        o.field(1, "nextUpdate", n.to_date_time());
    }
    extensions(o, 1, tbs.crl_extensions.as_deref());
    let entries = tbs.revoked_certificates.as_deref().unwrap_or_default();
    o.field(1, "revoked", entries.len());
    for r in entries.iter().take(MAX_ENTRIES) {
        o.line(
            2,
            format_args!(
                "serial {}: revoked {}",
                serial(r.serial_number.as_bytes()),
                r.revocation_date.to_date_time()
            ),
        );
        extension_list(o, 3, r.crl_entry_extensions.as_deref().unwrap_or_default());
    }
    if entries.len() > MAX_ENTRIES {
        o.line(
            2,
            format_args!("… {} more not listed", entries.len() - MAX_ENTRIES),
        );
    }
}

fn csr_text(o: &mut Out, csr: &CertReq) {
    o.line(0, "CSR");
    o.field(1, "subject", &csr.info.subject);
    o.field(1, "key", key::describe_public_key(&csr.info.public_key));
    o.field(1, "signature", oid::describe(&csr.algorithm.oid));
    for a in csr.info.attributes.iter() {
        // PKCS #9 extensionRequest (RFC 2985 §5.4.2): the extensions asked for.
        if a.oid == rfc5912::ID_EXTENSION_REQ {
            for v in a.values.iter() {
                match v.decode_as::<Vec<Extension>>() {
                    Ok(exts) => {
                        o.line(1, "requested extensions:");
                        extension_list(o, 2, &exts);
                    }
                    Err(e) => o.line(1, format_args!("requested extensions: {e}")),
                }
            }
        } else {
            attribute_values(o, 1, a);
        }
    }
}

// ---- CMS signatures ----

fn signed_data(o: &mut Out, doc: &SignedDocument) {
    o.line(0, "CMS SignedData");
    let content = match doc.content_len() {
        Some(n) => format!("encapsulated, {n} bytes"),
        None => "detached".into(),
    };
    o.field(
        1,
        "content",
        format_args!("{} ({content})", oid::describe(&doc.content_type())),
    );
    let digests: Vec<String> = doc
        .digest_algorithm_identifiers()
        .iter()
        .map(|a| oid::describe(&a.oid))
        .collect();
    o.field(1, "digests", digests.join(", "));
    o.field(1, "signers", doc.signer_count());
    for (i, si) in doc.signer_infos().iter().enumerate() {
        o.line(1, format_args!("signer {}:", i + 1));
        o.field(2, "identifier", verify::sid_text(&si.sid));
        o.field(2, "digest", oid::describe(&si.digest_alg.oid));
        o.field(2, "signature", oid::describe(&si.signature_algorithm.oid));
        if let Some(attrs) = &si.signed_attrs {
            o.line(2, "signed attributes:");
            for a in attrs.iter() {
                cms_attribute(o, 3, a);
            }
        }
        if let Some(attrs) = &si.unsigned_attrs {
            o.line(2, "unsigned attributes:");
            for a in attrs.iter() {
                cms_attribute(o, 3, a);
            }
        }
    }
    let certs = doc.certificates();
    o.field(1, "certificates", certs.len());
    for der in certs {
        if let Ok(c) = Certificate::from_der(&der) {
            o.line(2, "Certificate");
            summary(o, 3, &c);
        }
    }
}

type AttributeDecoder = fn(&mut Out, usize, &Any) -> der::Result<()>;

/// Signed and unsigned attributes of a SignerInfo (RFC 5652 §11, RFC 5035, ETSI EN 319 122-1
/// §5.2): OID, title, how one value is shown.
#[rustfmt::skip]
const CMS_ATTRIBUTES: &[(ObjectIdentifier, &str, AttributeDecoder)] = &[
    (rfc5911::ID_CONTENT_TYPE, "Content Type", content_type),
    (rfc5911::ID_SIGNING_TIME, "Signing Time", signing_time),
    (rfc5911::ID_MESSAGE_DIGEST, "Message Digest", message_digest),
    (rfc5911::ID_AA_SIGNING_CERTIFICATE_V_2, "Signing Certificate V2", signing_certificate_v2),
    (oid::ID_AA_ETS_COMMITMENT_TYPE, "Commitment Type", commitment_type),
    (oid::ID_AA_ETS_SIGNER_ATTR_V2, "Signer Attributes V2", signer_attributes_v2),
];

fn cms_attribute(o: &mut Out, d: usize, a: &Attribute) {
    match CMS_ATTRIBUTES.iter().find(|(id, _, _)| *id == a.oid) {
        Some((_, title, decode)) => {
            let raw = a.values.to_der().unwrap_or_default();
            o.decoded(d, title, false, &raw, |o, d| {
                for v in a.values.iter() {
                    decode(o, d, v)?;
                }
                Ok(())
            });
        }
        None => attribute_values(o, d, a),
    }
}

fn content_type(o: &mut Out, d: usize, v: &Any) -> der::Result<()> {
    o.line(d, oid::describe(&v.decode_as::<ObjectIdentifier>()?));
    Ok(())
}

fn signing_time(o: &mut Out, d: usize, v: &Any) -> der::Result<()> {
    let t = v.decode_as::<x509_cert::time::Time>()?;
    o.line(
        d,
        format_args!("{} (claimed by the signer)", t.to_date_time()),
    );
    Ok(())
}

fn message_digest(o: &mut Out, d: usize, v: &Any) -> der::Result<()> {
    o.line(d, hex::encode(v.decode_as::<OctetString>()?.as_bytes()));
    Ok(())
}

/// ESS signingCertificateV2 (RFC 5035 §3): each certificate's hash and issuer/serial.
fn signing_certificate_v2(o: &mut Out, d: usize, v: &Any) -> der::Result<()> {
    let sc = v.decode_as::<SigningCertificateV2>()?;
    for id in &sc.certs {
        o.line(
            d,
            format_args!(
                "certificate hash: {} {}",
                oid::describe(&id.hash_algorithm().oid),
                hex::encode(id.cert_hash.as_bytes())
            ),
        );
        if let Some(is) = &id.issuer_serial {
            for n in &is.issuer {
                o.line(d + 1, format_args!("issuer: {}", general_name(n)));
            }
            o.line(
                d + 1,
                format_args!("serial: {}", serial(is.serial_number.as_bytes())),
            );
        }
    }
    for p in sc.policies.iter().flatten() {
        o.line(
            d,
            format_args!("policy: {}", oid::describe(&p.policy_identifier)),
        );
    }
    Ok(())
}

/// The purpose by its name in `policies/purposes/signing.toml`, with its OID.
fn commitment_type(o: &mut Out, d: usize, v: &Any) -> der::Result<()> {
    let cti = v.decode_as::<CommitmentTypeIndication>()?;
    let id = cti.commitment_type_id;
    match purpose::label(&id) {
        Some(label) => o.line(d, format_args!("{label}, {id}")),
        None => o.line(d, oid::describe(&id)),
    }
    if let Some(q) = &cti.commitment_type_qualifier {
        o.line(d + 1, format_args!("{} qualifiers", q.len()));
    }
    Ok(())
}

/// signer-attributes-v2 (ETSI EN 319 122-1 §5.2.6.1): the claimed role (X.520 `name`) and other
/// claimed attributes; certified attributes and signed assertions are only named.
fn signer_attributes_v2(o: &mut Out, d: usize, v: &Any) -> der::Result<()> {
    let sa = v.decode_as::<SignerAttributeV2>()?;
    for a in sa.claimed_attributes.iter().flatten() {
        if a.oid == oid::ID_AT_NAME {
            let roles: Vec<String> = a.values.iter().map(any_text).collect();
            o.line(d, format_args!("claimed role: {}", roles.join(", ")));
        } else {
            attribute_values(o, d, a);
        }
    }
    if sa.certified_attributes_v2.is_some() {
        o.line(d, "certified attributes (not decoded)");
    }
    if sa.signed_assertions.is_some() {
        o.line(d, "signed assertions (not decoded)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_cert::ext::pkix::certpolicy::{PolicyInformation, PolicyQualifierInfo};

    /// A user notice with a noticeRef (no PKITS or JP vector has one) and a BMPString text.
    #[test]
    fn a_user_notice_shows_its_reference_and_text() {
        let notice = UserNotice {
            notice_ref: Some(NoticeReference {
                organization: Any::encode_from(&"MHLW".to_string()).unwrap(),
                notice_numbers: vec![Uint::new(&[1]).unwrap(), Uint::new(&[2]).unwrap()],
            }),
            explicit_text: Some(
                Any::encode_from(&BmpString::from_utf8("試験用").unwrap()).unwrap(),
            ),
        };
        let policies = CertificatePolicies(vec![PolicyInformation {
            policy_identifier: ObjectIdentifier::new_unwrap("1.2.392.100495.1.5.1.1.0.1"),
            policy_qualifiers: Some(vec![PolicyQualifierInfo {
                policy_qualifier_id: rfc5280::ID_QT_UNOTICE,
                qualifier: Some(Any::encode_from(&notice).unwrap()),
            }]),
        }]);
        let mut o = Out::default();
        certificate_policies(&mut o, 0, &policies.to_der().unwrap()).unwrap();
        assert_eq!(
            o.0,
            "Policy: 1.2.392.100495.1.5.1.1.0.1\n  User Notice:\n    Organization: MHLW\n    \
             Numbers: 1, 2\n    Explicit Text: 試験用\n"
        );
    }
}
