//! CRLs the engine cannot use. certval 0.2.0-rc.1 merges no delta CRL with its base and
//! processes no indirect CRL: it discards them and answers from whatever other CRL covers the
//! certificate, so a revocation listed only on the delta or indirect CRL would read as "not
//! revoked". Given such a CRL, path validation stops here with the reason instead.

use const_oid::ObjectIdentifier;
use der::Decode;
use x509_cert::crl::CertificateList;
use x509_cert::ext::pkix::crl::IssuingDistributionPoint;

/// id-ce-deltaCRLIndicator (RFC 5280 §5.2.4).
const DELTA_CRL_INDICATOR: ObjectIdentifier = const_oid::db::rfc5280::ID_CE_DELTA_CRL_INDICATOR;
/// id-ce-issuingDistributionPoint (RFC 5280 §5.2.5).
const ISSUING_DISTRIBUTION_POINT: ObjectIdentifier =
    const_oid::db::rfc5280::ID_CE_ISSUING_DISTRIBUTION_POINT;
/// id-ce-certificateIssuer, a CRL entry extension of indirect CRLs (RFC 5280 §5.3.3).
const CERTIFICATE_ISSUER: ObjectIdentifier = const_oid::db::rfc5280::ID_CE_CERTIFICATE_ISSUER;

/// Why the CRL cannot be used, or `None` when it can.
pub(super) fn unsupported(crl: &CertificateList) -> Option<&'static str> {
    let tbs = &crl.tbs_cert_list;
    for ext in tbs.crl_extensions.iter().flatten() {
        if ext.extn_id == DELTA_CRL_INDICATOR {
            return Some(
                "is a delta CRL (deltaCRLIndicator, RFC 5280 §5.2.4), which is not merged with its \
                 base: supply the complete CRL only",
            );
        }
        if ext.extn_id == ISSUING_DISTRIBUTION_POINT {
            match IssuingDistributionPoint::from_der(ext.extn_value.as_bytes()) {
                Ok(idp) if idp.indirect_crl => {
                    return Some(
                        "is an indirect CRL (issuingDistributionPoint indirectCRL, RFC 5280 \
                         §5.2.5), which is not processed: supply the issuing CA's own CRL",
                    );
                }
                Ok(_) => {}
                Err(_) => return Some("has an issuingDistributionPoint that does not decode"),
            }
        }
    }
    let indirect_entry = tbs.revoked_certificates.iter().flatten().any(|entry| {
        entry
            .crl_entry_extensions
            .iter()
            .flatten()
            .any(|e| e.extn_id == CERTIFICATE_ISSUER)
    });
    indirect_entry.then_some(
        "is an indirect CRL (certificateIssuer entry, RFC 5280 §5.3.3), which is not processed: \
         supply the issuing CA's own CRL",
    )
}
