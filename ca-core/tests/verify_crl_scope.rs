//! Delta and indirect CRLs (issue 4): certval 0.2.0-rc.1 merges no delta CRL with its base and
//! processes no indirect CRL, so given one the engine must say so (INDETERMINATE / TRY_LATER with
//! the reason), never answer "not revoked" from the other CRLs while the unusable one lists the
//! certificate. Without the refusal, certval answered TOTAL-PASSED for a delta or an indirect CRL
//! listing the signer beside the CA's complete CRL.

use ca_core::key::SigningKey;
use ca_core::verify::{Indication, Policy, SubIndication, decode_certificates, verify_certificate};
use der::asn1::{BitString, OctetString};
use der::{Decode, Encode};
use x509_cert::crl::{CertificateList, RevokedCert};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::crl::IssuingDistributionPoint;

const PKI: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../test-vectors/pki/");
/// test-vectors/pki/manifest.toml validation_time: 2026-01-01T03:00:00Z.
const AT: u64 = 1_767_236_400;
/// id-ce-deltaCRLIndicator, id-ce-issuingDistributionPoint (RFC 5280 §5.2.4, §5.2.5).
const DELTA_CRL_INDICATOR: const_oid::ObjectIdentifier =
    const_oid::db::rfc5280::ID_CE_DELTA_CRL_INDICATOR;
const ISSUING_DP: const_oid::ObjectIdentifier =
    const_oid::db::rfc5280::ID_CE_ISSUING_DISTRIBUTION_POINT;

fn read(f: &str) -> Vec<u8> {
    std::fs::read(format!("{PKI}{f}")).unwrap()
}

fn cert(f: &str) -> Vec<u8> {
    decode_certificates(&read(f)).unwrap().remove(0)
}

/// The sign CA's CRL re-signed with `extension` added and the good signer `serial` listed (with
/// `entry_extension`).
fn crl_with(
    extension: Option<Extension>,
    entry_extension: Option<Extension>,
    serial: &x509_cert::serial_number::SerialNumber,
) -> Vec<u8> {
    let key = SigningKey::from_pkcs8(&read("keys/sign.p8")).unwrap();
    let mut crl = CertificateList::from_der(&read("crl/sign.crl")).unwrap();
    let tbs = &mut crl.tbs_cert_list;
    let date = tbs.this_update;
    tbs.revoked_certificates
        .get_or_insert_with(Vec::new)
        .push(RevokedCert {
            serial_number: serial.clone(),
            revocation_date: date,
            crl_entry_extensions: entry_extension.map(|e| vec![e]),
        });
    if let Some(e) = extension {
        tbs.crl_extensions.get_or_insert_with(Vec::new).push(e);
    }
    let tbs_der = tbs.to_der().unwrap();
    crl.signature = BitString::from_bytes(&key.sign(&tbs_der).unwrap()).unwrap();
    crl.to_der().unwrap()
}

fn policy(crls: Vec<Vec<u8>>) -> Policy {
    let mut p = Policy::new(AT);
    p.trust_anchors = vec![cert("ca/root.pem")];
    p.cert_pool = vec![cert("ca/sign.pem")];
    p.crls = crls;
    p
}

#[test]
fn delta_and_indirect_crls_are_refused_with_a_reason() {
    let signer = cert("rhp-sign.pem");
    let serial = x509_cert::Certificate::from_der(&signer)
        .unwrap()
        .tbs_certificate()
        .serial_number()
        .clone();
    let complete = vec![read("crl/root.crl"), read("crl/sign.crl")];
    // Control: with the complete CRLs the signer is good.
    let r = verify_certificate(&signer, &policy(complete.clone()));
    assert!(
        r.is_valid(),
        "{}",
        serde_json::to_string_pretty(&r).unwrap()
    );

    let delta = crl_with(
        Some(Extension {
            extn_id: DELTA_CRL_INDICATOR,
            critical: true,
            extn_value: OctetString::new(1u32.to_der().unwrap()).unwrap(),
        }),
        None,
        &serial,
    );
    let idp = IssuingDistributionPoint {
        distribution_point: None,
        only_contains_user_certs: false,
        only_contains_ca_certs: false,
        only_some_reasons: None,
        indirect_crl: true,
        only_contains_attribute_certs: false,
    };
    let indirect = crl_with(
        Some(Extension {
            extn_id: ISSUING_DP,
            critical: true,
            extn_value: OctetString::new(idp.to_der().unwrap()).unwrap(),
        }),
        None,
        &serial,
    );
    // An entry naming its certificate's issuer (RFC 5280 §5.3.3) makes a CRL indirect too.
    let issuer = x509_cert::Certificate::from_der(&cert("ca/sign.pem"))
        .unwrap()
        .tbs_certificate()
        .subject()
        .clone();
    let names = vec![x509_cert::ext::pkix::name::GeneralName::DirectoryName(
        issuer,
    )];
    let entry_indirect = crl_with(
        None,
        Some(Extension {
            extn_id: const_oid::db::rfc5280::ID_CE_CERTIFICATE_ISSUER,
            critical: true,
            extn_value: OctetString::new(names.to_der().unwrap()).unwrap(),
        }),
        &serial,
    );
    for (what, extra) in [
        ("delta", &delta),
        ("indirect", &indirect),
        ("indirect", &entry_indirect),
    ] {
        // Alone with the root's CRL, and beside the complete CRL of the same CA.
        for mut crls in [vec![read("crl/root.crl")], complete.clone()] {
            crls.push(extra.clone());
            let r = verify_certificate(&signer, &policy(crls));
            let json = serde_json::to_string_pretty(&r).unwrap();
            assert_eq!(r.indication, Indication::Indeterminate, "{what}: {json}");
            assert_eq!(
                r.sub_indication,
                Some(SubIndication::TryLater),
                "{what}: {json}"
            );
            let failed = r.signatures[0].first_failure().unwrap();
            assert!(failed.reason.contains(what), "{what}: {json}");
        }
    }
}
