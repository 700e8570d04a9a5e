//! Distinguished names and subject alternative names as operators write them.
//!
//! A subject is written in certificate order, the order `openssl x509 -text` prints
//! (`C=JP,O=MEDIS UNIVERSITY HOSPITAL,CN=Sanjushi Kagurazaka`), with RFC 4514 escaping and `+` for a
//! multi-valued RDN. Repeated attributes (several OU) are kept. Attribute strings are UTF8String
//! except C and serialNumber (PrintableString, RFC 5280 Appendix A.1).

use std::str::FromStr;
use x509_cert::der::asn1::Ia5String;
use x509_cert::der::{Decode, Encode, Tagged};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::name::{Name, RdnSequence};

/// Longest subject or SAN string accepted.
pub(crate) const MAX_NAME_LEN: usize = 4096;

/// A name an operator typed that does not parse, or breaks a limit.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    /// A subject DN (the text, what is wrong).
    #[error("distinguished name {0:?}: {1}")]
    Subject(String, String),
    /// A subjectAltName (the text, what is wrong).
    #[error("subject alternative name {0:?}: {1}")]
    San(String, String),
}

/// Parses a subject written in certificate order (most general RDN first).
pub fn parse_subject(s: &str) -> Result<Name, NameError> {
    let err = |why: &str| NameError::Subject(s.to_owned(), why.to_owned());
    if s.len() > MAX_NAME_LEN {
        return Err(err("too long"));
    }
    if s.trim().is_empty() {
        return Err(err("empty"));
    }
    // RFC 4514 strings list the most specific RDN first; ours list it last.
    let rfc4514 = RdnSequence::from_str(s).map_err(|e| err(&e.to_string()))?;
    let rdns: Vec<_> = rfc4514.iter().collect();
    let mut seq = RdnSequence::default();
    for rdn in rdns.into_iter().rev() {
        for atv in rdn.iter() {
            check_printable(atv).map_err(|why| err(&why))?;
        }
        seq.push(rdn.clone());
    }
    // Name has no public constructor from an RdnSequence: go through its DER, which is the same.
    let der = seq.to_der().map_err(|e| err(&e.to_string()))?;
    Name::from_der(&der).map_err(|e| err(&e.to_string()))
}

fn check_printable(atv: &x509_cert::attr::AttributeTypeAndValue) -> Result<(), String> {
    use x509_cert::der::Tag;
    if atv.value.tag() != Tag::PrintableString {
        return Ok(());
    }
    let v = atv.value.value();
    let printable = |c: &u8| c.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(c);
    if v.is_empty() || !v.iter().all(printable) {
        return Err(format!("{} must be a non-empty PrintableString", atv.oid));
    }
    if atv.oid == crate::engine::oid::COUNTRY_NAME
        && (v.len() != 2 || !v.iter().all(u8::is_ascii_uppercase))
    {
        return Err("C must be a two-letter ISO 3166 code in capitals".into());
    }
    Ok(())
}

/// Writes a name in certificate order, the inverse of [`parse_subject`].
pub fn display(name: &Name) -> String {
    name.iter_rdn()
        .map(|rdn| rdn.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses `type:value`: `dns:`, `email:`, `uri:`, `ip:` (IPv4 or IPv6) or `dir:` (a subject, as in
/// the Japanese HPKI practice of carrying the legal name in kanji as a directoryName).
pub fn parse_san(s: &str) -> Result<GeneralName, NameError> {
    let err = |why: &str| NameError::San(s.to_owned(), why.to_owned());
    if s.len() > MAX_NAME_LEN {
        return Err(err("too long"));
    }
    let (kind, value) = s
        .split_once(':')
        .ok_or_else(|| err("expected TYPE:VALUE with TYPE one of dns, email, uri, ip, dir"))?;
    let ia5 = |v: &str| Ia5String::new(v).map_err(|_| err("must be ASCII (IA5String)"));
    match kind.to_ascii_lowercase().as_str() {
        "dns" if !value.is_empty() => Ok(GeneralName::DnsName(ia5(value)?)),
        "email" if value.contains('@') => Ok(GeneralName::Rfc822Name(ia5(value)?)),
        "uri" if value.contains(':') => Ok(GeneralName::UniformResourceIdentifier(ia5(value)?)),
        "ip" => {
            let ip: std::net::IpAddr = value.parse().map_err(|_| err("not an IP address"))?;
            let octets = match ip {
                std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
                std::net::IpAddr::V6(v6) => v6.octets().to_vec(),
            };
            let os =
                x509_cert::der::asn1::OctetString::new(octets).map_err(|e| err(&e.to_string()))?;
            Ok(GeneralName::IpAddress(os))
        }
        "dir" => Ok(GeneralName::DirectoryName(
            parse_subject(value).map_err(|e| err(&e.to_string()))?,
        )),
        _ => Err(err(
            "expected dns:NAME, email:ADDR, uri:URI, ip:ADDR or dir:DN",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_keeps_certificate_order_and_repeated_ou() {
        let name = parse_subject("C=JP,O=Ministry,OU=A,OU=B,CN=x+serialNumber=T1").unwrap();
        assert_eq!(
            display(&name),
            "C=JP,O=Ministry,OU=A,OU=B,CN=x+SERIALNUMBER=T1"
        );
        let rdns: Vec<_> = name.iter_rdn().collect();
        assert_eq!(rdns.len(), 5);
        assert_eq!(rdns[4].len(), 2, "multi-valued RDN survives");
        // Round trip through DER keeps the order.
        let der = name.to_der().unwrap();
        assert_eq!(display(&Name::from_der(&der).unwrap()), display(&name));
    }

    #[test]
    fn subject_same_bytes_as_medis_issuer() {
        let ca = include_bytes!("../../test-vectors/jp-hpki/medis-sign-ca2.der");
        let cert = x509_cert::Certificate::from_der(ca).unwrap();
        let subject = &cert.tbs_certificate().subject();
        let parsed = parse_subject(&display(subject)).unwrap();
        assert_eq!(parsed.to_der().unwrap(), subject.to_der().unwrap());
    }

    #[test]
    fn bad_subjects_are_refused() {
        for s in [
            "",
            "C=Japan",
            "C=jp",
            "CN",
            "C=JP,serialNumber=a_b",
            "1.2.x=y",
        ] {
            assert!(parse_subject(s).is_err(), "{s:?} accepted");
        }
        assert!(parse_subject(&"CN=a,".repeat(1000)).is_err());
    }

    #[test]
    fn sans() {
        assert!(matches!(
            parse_san("dns:example.org"),
            Ok(GeneralName::DnsName(_))
        ));
        assert!(matches!(
            parse_san("email:a@b.jp"),
            Ok(GeneralName::Rfc822Name(_))
        ));
        assert!(matches!(parse_san("ip:::1"), Ok(GeneralName::IpAddress(_))));
        assert!(matches!(
            parse_san("dir:C=JP,O=医療情報大学病院,CN=神楽坂　三十四"),
            Ok(GeneralName::DirectoryName(_))
        ));
        for s in ["dns:", "email:nope", "ip:1.2.3", "x:y", "dns:日本", "plain"] {
            assert!(parse_san(s).is_err(), "{s:?} accepted");
        }
    }
}
