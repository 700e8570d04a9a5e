//! `verify-path --crl` takes v1 CRLs (RFC 5280 §5.1: TBSCertList version OPTIONAL), which it used
//! to refuse as malformed (exit 2): a v1 CRL listing the certificate gives REVOKED (exit 1), one
//! that does not list it a valid path (exit 0).

use ca_core::key::SigningKey;
use der::asn1::BitString;
use der::{Decode, Encode, Sequence};
use std::process::Command;
use x509_cert::crl::{CertificateList, RevokedCert};
use x509_cert::name::Name;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_cert::time::Time;

const BIN: &str = env!("CARGO_BIN_EXE_verifier-cli");
const PKI: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../test-vectors/pki/");

/// RFC 5280 §5.1 TBSCertList of a v1 CRL: no version, no extensions.
#[derive(Sequence)]
struct TbsCertListV1 {
    signature: AlgorithmIdentifierOwned,
    issuer: Name,
    this_update: Time,
    next_update: Option<Time>,
    revoked_certificates: Option<Vec<RevokedCert>>,
}

#[derive(Sequence)]
struct CertificateListV1 {
    tbs_cert_list: TbsCertListV1,
    signature_algorithm: AlgorithmIdentifierOwned,
    signature: BitString,
}

/// The sign CA's CRL as a v1 CRL, listing `serial` or nothing, signed with the sign CA's key.
fn v1_crl(serial: Option<x509_cert::serial_number::SerialNumber>) -> Vec<u8> {
    let read = |f: &str| std::fs::read(format!("{PKI}{f}")).unwrap();
    let key = SigningKey::from_pkcs8(&read("keys/sign.p8")).unwrap();
    let v2 = CertificateList::<x509_cert::certificate::Rfc5280>::from_der(&read("crl/sign.crl"))
        .unwrap()
        .tbs_cert_list;
    let tbs = TbsCertListV1 {
        signature: v2.signature.clone(),
        issuer: v2.issuer,
        this_update: v2.this_update,
        next_update: v2.next_update,
        revoked_certificates: serial.map(|serial_number| {
            vec![RevokedCert {
                serial_number,
                revocation_date: v2.this_update,
                crl_entry_extensions: None,
            }]
        }),
    };
    let signature = BitString::from_bytes(&key.sign(&tbs.to_der().unwrap()).unwrap()).unwrap();
    CertificateListV1 {
        tbs_cert_list: tbs,
        signature_algorithm: v2.signature,
        signature,
    }
    .to_der()
    .unwrap()
}

#[test]
fn verify_path_takes_v1_crls() {
    let dir = tempfile::tempdir().unwrap();
    let signer = format!("{PKI}rhp-sign.pem");
    let pem = std::fs::read(&signer).unwrap();
    let der = ca_core::verify::decode_certificates(&pem)
        .unwrap()
        .remove(0);
    let serial = x509_cert::Certificate::from_der(&der)
        .unwrap()
        .tbs_certificate()
        .serial_number()
        .clone();
    for (listed, code, words) in [
        (false, 0, vec!["\"TOTAL-PASSED\""]),
        (
            true,
            1,
            vec![
                "\"REVOKED\"",
                "is revoked: CRL #1",
                "hpki Test Vectors HPKI Signature CA",
            ],
        ),
    ] {
        let crl = dir.path().join(format!("v1-{listed}.crl"));
        std::fs::write(&crl, v1_crl(listed.then(|| serial.clone()))).unwrap();
        let out = Command::new(BIN)
            .args(["verify-path", "--cert", &signer])
            .args(["--trust-anchor", &format!("{PKI}ca/root.pem")])
            .args(["--cert-pool", &format!("{PKI}ca/sign.pem")])
            .args(["--crl", &format!("{PKI}crl/root.crl")])
            .arg("--crl")
            .arg(&crl)
            .args(["--at", "2026-01-01T03:00:00Z", "--format", "json"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(code),
            "listed {listed}: {text}{err}"
        );
        for w in words {
            assert!(text.contains(w), "listed {listed}: {w:?} in {text}");
        }
    }
}
