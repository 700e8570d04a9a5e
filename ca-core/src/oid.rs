//! Every object identifier hpki uses, named once.
//!
//! Generic PKIX identifiers come from `const_oid::db` (RFC-generated tables). Healthcare ones are
//! taken from `iso17090.md` §3.1, where each was decoded from real HPKI certificates.

use const_oid::ObjectIdentifier;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

pub use const_oid::db::rfc4519::COUNTRY_NAME;
pub use const_oid::db::rfc5280::{
    ANY_POLICY, ID_AD_CA_ISSUERS, ID_AD_OCSP, ID_CE_AUTHORITY_KEY_IDENTIFIER,
    ID_CE_BASIC_CONSTRAINTS, ID_CE_CERTIFICATE_POLICIES, ID_CE_CRL_DISTRIBUTION_POINTS,
    ID_CE_CRL_NUMBER, ID_CE_CRL_REASONS, ID_CE_EXT_KEY_USAGE, ID_CE_INVALIDITY_DATE,
    ID_CE_KEY_USAGE, ID_CE_SUBJECT_ALT_NAME, ID_CE_SUBJECT_DIRECTORY_ATTRIBUTES,
    ID_CE_SUBJECT_KEY_IDENTIFIER, ID_KP_CLIENT_AUTH, ID_KP_EMAIL_PROTECTION, ID_KP_OCSP_SIGNING,
    ID_KP_SERVER_AUTH, ID_KP_TIME_STAMPING, ID_PE_AUTHORITY_INFO_ACCESS, ID_QT_CPS,
};
pub use const_oid::db::rfc5912::ID_MGF_1;
pub use const_oid::db::rfc5912::{
    ECDSA_WITH_SHA_256, ECDSA_WITH_SHA_384, ECDSA_WITH_SHA_512, ID_EC_PUBLIC_KEY, ID_RSASSA_PSS,
    ID_SHA_256, ID_SHA_384, ID_SHA_512, RSA_ENCRYPTION, SECP_256_R_1, SECP_384_R_1, SECP_521_R_1,
    SHA_256_WITH_RSA_ENCRYPTION, SHA_384_WITH_RSA_ENCRYPTION, SHA_512_WITH_RSA_ENCRYPTION,
};
/// id-dsa (RFC 3279 §2.3.2): verified for legacy documents only.
pub use const_oid::db::rfc5912::{ID_DSA, ID_SHA_1, ID_SHA_224};
pub use const_oid::db::rfc8410::ID_ED_25519;

/// `ecdsa-with-SHA1` (RFC 3279 §2.2.3: `{ iso(1) member-body(2) us(840) ansi-X9-62(10045)
/// signatures(4) 1 }`); const-oid's tables do not carry it.
pub const ECDSA_WITH_SHA_1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.1");

/// `id-hcpki-at-healthcareactor`: the hcRole attribute type (ISO 17090-2 §7.3), `iso17090.md` §3.1.
pub const HC_ROLE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.0.17090.0.1");

/// Japan MHLW national coding scheme for hcRole (`id-jhpki-cdata`), `iso17090.md` §3.1.
pub const JP_HCROLE_SCHEME: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.392.100495.1.6.1.1");

/// `id-kp-documentSigning` (RFC 9336), `iso17090.md` §4.3.
pub const ID_KP_DOCUMENT_SIGNING: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.36");

pub use const_oid::db::rfc6960::ID_PKIX_OCSP_NOCHECK;

// ---- RFC 6960 OCSP (ocsp module) ----

/// `id-pkix-ocsp-basic`, `id-pkix-ocsp-nonce` (RFC 8954), `id-pkix-ocsp-archive-cutoff`
/// (RFC 6960 §4.4.4): `iso17090.md` table, `1.3.6.1.5.5.7.48.1.{1,2,6}`.
pub use const_oid::db::rfc6960::{
    ID_PKIX_OCSP_ARCHIVE_CUTOFF, ID_PKIX_OCSP_BASIC, ID_PKIX_OCSP_NONCE,
};

/// Common-PKI `CertHash` OCSP single extension (SigG-Profile; German health-network relying
/// parties require it), `iso17090.md` table: `1.3.36.8.3.13`.
pub const ID_COMMON_PKI_CERT_HASH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.36.8.3.13");

// ---- CMS and CAdES (sign module) ----

pub use const_oid::db::rfc4519::NAME as ID_AT_NAME;
pub use const_oid::db::rfc5911::{
    ID_AA_SIGNING_CERTIFICATE_V_2, ID_CONTENT_TYPE, ID_DATA, ID_MESSAGE_DIGEST, ID_SIGNED_DATA,
    ID_SIGNING_TIME,
};
/// `id-cti`, the arc of the ETSI commitment types (`id-cti-ets-proofOfOrigin` = `id-cti 1`, …,
/// `iso17090.md` §5.3).
pub use const_oid::db::rfc7107::ID_CTI;

/// `id-aa-ets-commitmentType` = `id-aa 16` (CAdES commitment-type-indication): the `id-aa` arc
/// from RFC 5911's table, arc 16 from `iso17090.md` §5.2 ("commitment-type-indication
/// `…9.16.2.16`"). const-oid's tables do not carry it.
pub const ID_AA_ETS_COMMITMENT_TYPE: ObjectIdentifier =
    match const_oid::db::rfc5911::ID_AA.push_arc(16) {
        Ok(oid) => oid,
        Err(_) => panic!("id-aa-ets-commitmentType"),
    };

/// `id-aa-ets-signerAttrV2` (ETSI EN 319 122-1 §5.2.6.1), `iso17090.md` §5.2.
pub const ID_AA_ETS_SIGNER_ATTR_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("0.4.0.19122.1.1");

// ---- RFC 3161 time-stamping (tsp module) ----

/// `id-ct-TSTInfo` (RFC 3161 §2.4.2), `iso17090.md` §5.5a: `1.2.840.113549.1.9.16.1.4`.
pub use const_oid::db::rfc3161::ID_CT_TST_INFO;

// ---- CAdES baseline levels B-T / B-LT / B-LTA (cades module), `iso17090.md` §5.5a ----

/// `id-aa-signatureTimeStampToken` (RFC 3161 Appendix A; EN 319 122-1 §5.3, B-T):
/// `1.2.840.113549.1.9.16.2.14`.
pub use const_oid::db::rfc3161::ID_AA_TIME_STAMP_TOKEN as ID_AA_SIGNATURE_TIME_STAMP_TOKEN;

/// `id-aa-ets-certValues` (`…9.16.2.23`): not present at B-LT / B-LTA (EN 319 122-1 §5.5).
pub const ID_AA_ETS_CERT_VALUES: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.23");

/// `id-aa-ets-revocationValues` (`…9.16.2.24`): not present at B-LT / B-LTA (EN 319 122-1 §5.5).
pub const ID_AA_ETS_REVOCATION_VALUES: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.24");

/// `id-ri-ocsp-response` (RFC 5940 §4.1): an OCSPResponse as `RevocationInfoChoice.other` in
/// `SignedData.crls`.
pub const ID_RI_OCSP_RESPONSE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.16.2");

/// `id-aa-ets-archiveTimestampV3` (EN 319 122-1 §5.5.3, B-LTA): `0.4.0.1733.2.4`.
pub const ID_AA_ETS_ARCHIVE_TIMESTAMP_V3: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("0.4.0.1733.2.4");

/// `id-aa-ATSHashIndex-v3` (EN 319 122-1 §5.5.2), in the archive time-stamp token's own
/// SignerInfo: `0.4.0.19122.1.5`.
pub const ID_AA_ATS_HASH_INDEX_V3: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("0.4.0.19122.1.5");

/// The names of the OIDs above that const-oid's tables do not carry.
const HPKI_NAMES: &[(ObjectIdentifier, &str)] = &[
    (HC_ROLE, "id-hcpki-at-healthcareactor"),
    (JP_HCROLE_SCHEME, "id-jhpki-cdata"),
    (ID_KP_DOCUMENT_SIGNING, "id-kp-documentSigning"),
    (ID_COMMON_PKI_CERT_HASH, "id-commonpki-at-certHash"),
    (ID_AA_ETS_COMMITMENT_TYPE, "id-aa-ets-commitmentType"),
    (ID_AA_ETS_SIGNER_ATTR_V2, "id-aa-ets-signerAttrV2"),
    (ID_AA_ETS_CERT_VALUES, "id-aa-ets-certValues"),
    (ID_AA_ETS_REVOCATION_VALUES, "id-aa-ets-revocationValues"),
    (ID_RI_OCSP_RESPONSE, "id-ri-ocsp-response"),
    (
        ID_AA_ETS_ARCHIVE_TIMESTAMP_V3,
        "id-aa-ets-archiveTimestampV3",
    ),
    (ID_AA_ATS_HASH_INDEX_V3, "id-aa-ATSHashIndex-v3"),
];

/// `oid` in dotted decimal, as its `Display` writes it, without the formatting machinery: a
/// verification report writes several per signature.
pub(crate) fn dotted(oid: &ObjectIdentifier) -> String {
    let mut out = String::with_capacity(oid.as_bytes().len() * 3);
    let mut digits = [0u8; 10];
    for (i, arc) in oid.arcs().enumerate() {
        if i > 0 {
            out.push('.');
        }
        let (mut n, mut at) = (arc, digits.len());
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        out.extend(digits[at..].iter().map(|&d| char::from(d)));
    }
    out
}

/// The name of `oid`: hpki's own, else const-oid's database. Remembered per OID: every report
/// names the signer's algorithms, and a scan of const-oid's table costs as much as formatting a
/// name (`verify/names.rs`). Only named OIDs are remembered, so the map never outgrows the tables
/// whatever OIDs the input carries.
pub fn name(oid: &ObjectIdentifier) -> Option<&'static str> {
    static NAMES: OnceLock<Mutex<HashMap<ObjectIdentifier, &'static str>>> = OnceLock::new();
    let names = NAMES.get_or_init(Mutex::default);
    if let Some(name) = names
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(oid)
    {
        return Some(name);
    }
    let name = HPKI_NAMES
        .iter()
        .find(|(o, _)| o == oid)
        .map(|(_, n)| *n)
        .or_else(|| const_oid::db::DB.by_oid(oid))?;
    names
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(*oid, name);
    Some(name)
}

/// `name (dotted)` for messages, e.g. `id-dsa (1.2.840.10040.4.1)`; the dotted form alone when
/// no name is known.
pub fn describe(oid: &ObjectIdentifier) -> String {
    match name(oid) {
        Some(name) => format!("{name} ({oid})"),
        None => oid.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tst_info_is_iso17090_5_5a() {
        assert_eq!(ID_CT_TST_INFO.to_string(), "1.2.840.113549.1.9.16.1.4");
        assert_eq!(ID_KP_TIME_STAMPING.to_string(), "1.3.6.1.5.5.7.3.8");
    }

    #[test]
    fn dotted_is_display() {
        for (oid, _) in HPKI_NAMES {
            assert_eq!(dotted(oid), oid.to_string());
        }
        for text in [
            "0.0",
            "1.2.840.10045.4.3.2",
            "1.2.840.113549.1.9.16.2.47",
            "2.5.29.15",
            "2.39.0.10.100.1000.4294967295",
            "2.25.4294967295.0.1",
        ] {
            let oid = ObjectIdentifier::new(text).unwrap();
            assert_eq!(dotted(&oid), text);
            assert_eq!(dotted(&oid), oid.to_string());
        }
    }
}
