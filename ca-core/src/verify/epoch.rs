//! Certificates valid since before 1970. RFC 5280 §4.1.2.5.1 reads a UTCTime YY ≥ 50 as 19YY, so
//! a notBefore in 1950–1969 is legal (PKITS 4.2.3), but der's `DateTime`, and with it x509-cert's
//! `Time`, starts at 1970-01-01: such a certificate does not decode. It is decoded from a
//! stand-in that differs from it only in notBefore, set to 1970-01-01T00:00:00Z, the earliest
//! time der expresses: at any validation time der expresses, the stand-in is within its validity
//! exactly when the original is. Nothing signed the stand-in, and its signature is never checked
//! over it: path validation checks the signature over the original TBSCertificate
//! ([`StandIn::original_tbs`], `path::Verified`).

use der::asn1::{AnyRef, BitString, UtcTime};
use der::{Decode, Encode, Sequence, Tag, Tagged};
use std::time::Duration;
use x509_cert::Certificate;

/// RFC 5280 §4.1 Certificate, the TBSCertificate kept as encoded.
#[derive(Sequence)]
struct Signed<'a> {
    tbs_certificate: AnyRef<'a>,
    signature_algorithm: AnyRef<'a>,
    signature: AnyRef<'a>,
}

/// RFC 5280 §4.1 TBSCertificate, every field but the validity kept as encoded.
#[derive(Sequence)]
struct Tbs<'a> {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    version: Option<AnyRef<'a>>,
    serial_number: AnyRef<'a>,
    signature: AnyRef<'a>,
    issuer: AnyRef<'a>,
    validity: Validity<'a>,
    subject: AnyRef<'a>,
    subject_public_key_info: AnyRef<'a>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    issuer_unique_id: Option<BitString>,
    #[asn1(context_specific = "2", tag_mode = "IMPLICIT", optional = "true")]
    subject_unique_id: Option<BitString>,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT", optional = "true")]
    extensions: Option<AnyRef<'a>>,
}

/// RFC 5280 §4.1.2.5 Validity, the times kept as encoded.
#[derive(Sequence)]
struct Validity<'a> {
    not_before: AnyRef<'a>,
    not_after: AnyRef<'a>,
}

/// A certificate valid since before 1970 and its stand-in.
pub(crate) struct StandIn {
    /// The stand-in certificate (DER): notBefore 1970-01-01T00:00:00Z.
    pub der: Vec<u8>,
    /// The stand-in's TBSCertificate, which nobody signed.
    pub tbs: Vec<u8>,
    /// The original TBSCertificate, which the signature covers.
    pub original_tbs: Vec<u8>,
}

impl StandIn {
    /// The stand-in of the certificate `der` when its notBefore is a UTCTime in 1950–1969.
    pub(crate) fn of(der: &[u8]) -> Option<Self> {
        let signed = Signed::from_der(der).ok()?;
        let original_tbs = signed.tbs_certificate.to_der().ok()?;
        let mut tbs = Tbs::from_der(&original_tbs).ok()?;
        if !before_1970(tbs.validity.not_before) {
            return None;
        }
        let epoch = UtcTime::from_unix_duration(Duration::ZERO)
            .ok()?
            .to_der()
            .ok()?;
        tbs.validity.not_before = AnyRef::from_der(&epoch).ok()?;
        let stand_in_tbs = tbs.to_der().ok()?;
        let stand_in = Signed {
            tbs_certificate: AnyRef::from_der(&stand_in_tbs).ok()?,
            ..signed
        }
        .to_der()
        .ok()?;
        Some(Self {
            der: stand_in,
            tbs: stand_in_tbs,
            original_tbs,
        })
    }
}

/// The TBSCertificate of the certificate `der`, as encoded.
pub(crate) fn tbs(der: &[u8]) -> Option<Vec<u8>> {
    Signed::from_der(der).ok()?.tbs_certificate.to_der().ok()
}

/// The certificate `der`, decoded from its stand-in when it is valid since before 1970.
pub(crate) fn decode(der: &[u8]) -> der::Result<Certificate> {
    Certificate::from_der(der).or_else(|e| {
        StandIn::of(der)
            .and_then(|s| Certificate::from_der(&s.der).ok())
            .ok_or(e)
    })
}

/// A well-formed UTCTime (RFC 5280 §4.1.2.5.1: `YYMMDDHHMMSSZ`) of the years 1950–1969.
fn before_1970(time: AnyRef<'_>) -> bool {
    let [y1 @ b'0'..=b'9', y2 @ b'0'..=b'9', rest @ ..] = time.value() else {
        return false;
    };
    let yy = (y1 - b'0') * 10 + (y2 - b'0');
    if time.tag() != Tag::UtcTime || !(50..70).contains(&yy) {
        return false;
    }
    // The rest is checked by der itself, 28 years later (1978–1997): the same leap years.
    let later = yy + 28;
    let mut shifted = vec![b'0' + later / 10, b'0' + later % 10];
    shifted.extend_from_slice(rest);
    AnyRef::new(Tag::UtcTime, &shifted).is_ok_and(|t| t.decode_as::<UtcTime>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn pkits(name: &str) -> Vec<u8> {
        std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../test-vectors/pkits/certs")
                .join(name),
        )
        .unwrap()
    }

    /// PKITS 4.2.3's end entity (notBefore 1950-01-01T12:01:00Z) decodes through its stand-in,
    /// which differs only in notBefore; the TBSCertificate kept is the one that was signed.
    #[test]
    fn a_1950_not_before_decodes_as_1970_and_keeps_the_signed_bytes() {
        let der = pkits("Validpre2000UTCnotBeforeDateTest3EE.crt");
        assert!(Certificate::from_der(&der).is_err(), "der starts at 1970");
        let stand_in = StandIn::of(&der).unwrap();
        let original = Signed::from_der(&der).unwrap();
        assert_eq!(
            stand_in.original_tbs,
            original.tbs_certificate.to_der().unwrap()
        );
        assert_eq!(
            Tbs::from_der(&stand_in.original_tbs)
                .unwrap()
                .validity
                .not_before
                .value(),
            b"500101120100Z"
        );
        let cert = decode(&der).unwrap();
        let tbs = cert.tbs_certificate();
        assert_eq!(tbs.validity().not_before.to_unix_duration(), Duration::ZERO);
        assert_eq!(cert.tbs_certificate().to_der().unwrap(), stand_in.tbs);
        // Everything but notBefore is the original's.
        let good_ca = Certificate::from_der(&pkits("GoodCACert.crt")).unwrap();
        assert_eq!(tbs.issuer(), good_ca.tbs_certificate().subject());
        assert_eq!(cert.signature(), &original_signature(&der));
    }

    fn original_signature(der: &[u8]) -> BitString {
        BitString::from_der(&Signed::from_der(der).unwrap().signature.to_der().unwrap()).unwrap()
    }

    /// Certificates der decodes have no stand-in; nor do UTCTimes that are not 1950–1969 or not
    /// well formed.
    #[test]
    fn only_well_formed_1950_to_1969_utc_times_have_a_stand_in() {
        assert!(StandIn::of(&pkits("GoodCACert.crt")).is_none());
        let utc = |v: &'static [u8]| before_1970(AnyRef::new(Tag::UtcTime, v).unwrap());
        assert!(utc(b"500101120100Z"));
        assert!(utc(b"690228000000Z"));
        assert!(utc(b"520229000000Z"), "1952 is a leap year");
        assert!(!utc(b"510229000000Z"), "1951 is not");
        assert!(!utc(b"700101000000Z"));
        assert!(!utc(b"491231235959Z"), "2049");
        assert!(!utc(b"501301000000Z"), "month 13");
        assert!(!utc(b"5001011201Z"), "no seconds");
        assert!(!utc(b"500101120100+0100"));
        assert!(!before_1970(
            AnyRef::new(Tag::GeneralizedTime, b"19500101120100Z").unwrap()
        ));
    }
}
