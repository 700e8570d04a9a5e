//! RFC 4514 strings of the names in a report, exactly as x509-cert's `Display` prints them, at a
//! fraction of its cost. x509-cert finds each attribute type's shortest name by scanning all of
//! const-oid's OID table, once per attribute of every name printed (~2 % of a cold verify per
//! name). Here the short names are remembered per OID, and a report formats each distinct name
//! once (a chain repeats its names: an issuer is the next certificate's subject, a root is its
//! own issuer). Whatever this does not print itself (an OID const-oid does not name, a value that
//! is not a string) goes to x509-cert's `Display`.

use const_oid::ObjectIdentifier;
use der::asn1::{Ia5StringRef, PrintableStringRef, TeletexStringRef, Utf8StringRef};
use der::{Tag, Tagged};
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::{Mutex, OnceLock, PoisonError};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::name::Name;

/// The names formatted so far for one report. Reuse is by `Name` equality (attribute types and
/// encoded values), so a reused string is exactly the one formatting would give.
#[derive(Default)]
pub(crate) struct NameTexts<'a>(Vec<(&'a Name, String)>);

impl<'a> NameTexts<'a> {
    pub(crate) fn text(&mut self, name: &'a Name) -> String {
        if let Some((_, text)) = self.0.iter().find(|(n, _)| *n == name) {
            return text.clone();
        }
        let text = rfc4514(name);
        self.remember(name, text.clone());
        text
    }

    /// `text` is `name` as already printed elsewhere.
    pub(crate) fn remember(&mut self, name: &'a Name, text: String) {
        self.0.push((name, text));
    }
}

/// x509-cert's `Name` `Display`: RDNs last to first, joined by `,`; the attributes of one RDN
/// joined by `+` (RFC 4514 §2.1).
pub(crate) fn rfc4514(name: &Name) -> String {
    let mut out = String::new();
    for (i, rdn) in name
        .iter_rdn()
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .enumerate()
    {
        if i > 0 {
            out.push(',');
        }
        for (j, atv) in rdn.iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            attribute(&mut out, atv);
        }
    }
    out
}

/// x509-cert's `AttributeTypeAndValue` `Display` (RFC 4514 §2.3–2.4): `TYPE=value` with the
/// type's shortest const-oid name in capitals and the value escaped, for the four string types
/// it prints; anything else is x509-cert's own output.
fn attribute(out: &mut String, atv: &AttributeTypeAndValue) {
    let value = match atv.value.tag() {
        Tag::PrintableString => PrintableStringRef::try_from(&atv.value)
            .ok()
            .map(|s| s.as_str()),
        Tag::Utf8String => Utf8StringRef::try_from(&atv.value).ok().map(|s| s.as_str()),
        Tag::Ia5String => Ia5StringRef::try_from(&atv.value).ok().map(|s| s.as_str()),
        Tag::TeletexString => TeletexStringRef::try_from(&atv.value)
            .ok()
            .map(|s| s.as_str()),
        _ => None,
    };
    let (Some(value), Some(key)) = (value, short_name(atv.oid)) else {
        let _ = write!(out, "{atv}");
        return;
    };
    out.extend(key.chars().map(|c| c.to_ascii_uppercase()));
    out.push('=');
    let mut chars = value.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || chars.peek().is_none() => out.push_str("\\ "),
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\x00'..='\x1f' | '\x7f' => {
                let _ = write!(out, "\\{:02x}", c as u8);
            }
            _ => out.push(c),
        }
    }
}

/// The shortest const-oid name of `oid` (the first of equally short ones, as x509-cert picks),
/// remembered per OID. Only OIDs const-oid names are remembered, so the map never outgrows
/// const-oid's table whatever names the input carries.
fn short_name(oid: ObjectIdentifier) -> Option<&'static str> {
    static NAMES: OnceLock<Mutex<HashMap<ObjectIdentifier, &'static str>>> = OnceLock::new();
    let names = NAMES.get_or_init(Mutex::default);
    if let Some(name) = names
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&oid)
    {
        return Some(name);
    }
    let mut best: Option<&'static str> = None;
    for name in const_oid::db::DB.find_names_for_oid(oid) {
        if best.is_none_or(|b| name.len() < b.len()) {
            best = Some(name);
        }
    }
    names
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(oid, best?);
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::asn1::{Any, SetOfVec};
    use der::{Decode, Encode};
    use std::path::Path;
    use std::str::FromStr;
    use x509_cert::Certificate;
    use x509_cert::name::{RdnSequence, RelativeDistinguishedName};

    fn vectors() -> Vec<Certificate> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-vectors");
        let mut certs = Vec::new();
        for dir in ["pki", "pki/ca", "cms/certs", "jp-hpki"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    continue;
                }
                let bytes = std::fs::read(&path).unwrap();
                match path.extension().and_then(|e| e.to_str()) {
                    Some("pem") => {
                        if let Ok(ders) = super::super::decode_certificates(&bytes) {
                            certs.extend(ders.iter().map(|d| Certificate::from_der(d).unwrap()));
                        }
                    }
                    Some("der") => certs.extend(Certificate::from_der(&bytes).ok()),
                    _ => {}
                }
            }
        }
        certs
    }

    fn atv(oid: &str, tag: Tag, value: &[u8]) -> AttributeTypeAndValue {
        AttributeTypeAndValue {
            oid: ObjectIdentifier::new_unwrap(oid),
            value: Any::new(tag, value).unwrap(),
        }
    }

    #[test]
    fn prints_every_name_as_x509_cert_does() {
        let mut names: Vec<Name> = Vec::new();
        let certs = vectors();
        assert!(certs.len() >= 10, "{} vector certificates", certs.len());
        for cert in &certs {
            names.push(cert.tbs_certificate().subject().clone());
            names.push(cert.tbs_certificate().issuer().clone());
        }
        // Every escape RFC 4514 §2.4 and x509-cert apply, a multi-valued RDN, an OID const-oid
        // does not name (hex form), and values x509-cert does not print as text.
        for s in [
            r"CN=\#hash,O=\ lead and trail\ ,C=JP",
            r"CN=a\+b\,c\;d\<e\>f\\g\22h,OU=x+CN=y",
            r"CN=\ ,O=mid # ok",
            "1.2.3.4.5=#0c0161,CN=unknown type",
            "serialNumber=C-1,emailAddress=a@b.example,DC=example,L=Tokyo,ST=Tokyo",
        ] {
            names.push(Name::from_str(s).unwrap_or_else(|e| panic!("{s}: {e}")));
        }
        let odd = [
            atv("2.5.4.3", Tag::Utf8String, b"tab\there\x7f"),
            atv("2.5.4.3", Tag::BmpString, &[0, b'a']),
            atv("2.5.4.3", Tag::Integer, &[1]),
            atv("2.5.4.10", Tag::TeletexString, b"teletex"),
            atv("2.5.4.6", Tag::PrintableString, b"J P"),
            atv("1.2.392.200119.1", Tag::Utf8String, b"\xe5\x8c\xbb"),
        ];
        for a in odd {
            let rdn = RelativeDistinguishedName::from(SetOfVec::try_from(vec![a]).unwrap());
            let der = RdnSequence::from(vec![rdn]).to_der().unwrap();
            names.push(Name::from_der(&der).unwrap());
        }
        for name in &names {
            assert_eq!(rfc4514(name), name.to_string());
            // And again, now that the OIDs' short names are remembered.
            assert_eq!(rfc4514(name), name.to_string());
        }
    }

    #[test]
    fn a_name_is_formatted_once_per_report() {
        let certs = vectors();
        let mut texts = NameTexts::default();
        for c in &certs {
            let tbs = c.tbs_certificate();
            assert_eq!(texts.text(tbs.subject()), tbs.subject().to_string());
            assert_eq!(texts.text(tbs.issuer()), tbs.issuer().to_string());
        }
        let distinct = certs
            .iter()
            .flat_map(|c| [c.tbs_certificate().subject(), c.tbs_certificate().issuer()])
            .fold(Vec::<&Name>::new(), |mut v, n| {
                if !v.contains(&n) {
                    v.push(n);
                }
                v
            });
        assert_eq!(texts.0.len(), distinct.len());
        assert!(distinct.len() < 2 * certs.len());
    }
}
