//! RFC 5280 §6.3 CRL processing (`verify/revocation.rs`) through the verify engine: PKITS
//! sections 4.4, 4.5, 4.14 and 4.15 at 2012-01-01T00:00:00Z, and CRLs made here over the pki
//! vectors (v1, delta, indirect, later, unusable beside revoking) and RFC 4134's v1 CRLs. Each
//! case asserts the indication, the sub-indication and words of the reason.

use ca_core::key::SigningKey;
use ca_core::verify::{
    Indication, Outcome, Policy, Report, SubIndication, ValidationPolicy, decode_certificates,
    decode_crls, verify_certificate,
};
use der::asn1::{BitString, OctetString};
use der::{Decode, Encode, Sequence};
use spki::AlgorithmIdentifierOwned;
use std::path::PathBuf;
use x509_cert::crl::{CertificateList, RevokedCert};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::crl::IssuingDistributionPoint;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Time;

fn json(r: &Report) -> String {
    serde_json::to_string_pretty(r).unwrap()
}

fn failure_reason(r: &Report) -> String {
    r.signatures[0]
        .first_failure()
        .map(|c| c.reason.clone())
        .unwrap_or_default()
}

#[derive(Clone, Copy, Debug)]
enum Expect {
    Valid,
    /// TOTAL-FAILED / REVOKED, or INDETERMINATE / TRY_LATER, with words of the reason.
    Fails(SubIndication, &'static [&'static str]),
    /// Refused by path validation (certval, §6.1), not by revocation.
    PathRefused,
}

fn check(what: &str, r: &Report, expect: Expect) -> Result<(), String> {
    let reason = failure_reason(r);
    let ok = match expect {
        Expect::Valid => r.indication == Indication::TotalPassed,
        Expect::Fails(sub, words) => {
            let indication = if sub == SubIndication::Revoked {
                Indication::TotalFailed
            } else {
                Indication::Indeterminate
            };
            let check = if matches!(sub, SubIndication::Revoked | SubIndication::TryLater) {
                "revocation"
            } else {
                "certificate-path"
            };
            r.indication == indication
                && r.sub_indication == Some(sub)
                && r.signatures[0].first_failure().map(|c| c.name) == Some(check)
                && words.iter().all(|w| reason.contains(w))
        }
        Expect::PathRefused => {
            r.indication != Indication::TotalPassed
                && r.signatures[0].first_failure().map(|c| c.name) == Some("certificate-path")
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what}: expected {expect:?}, got {:?} / {:?}: {reason}",
            r.indication, r.sub_indication
        ))
    }
}

// ---- PKITS ----

/// PKITS (NIST, public domain), as committed under test-vectors/pkits.
fn pkits() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../test-vectors/pkits"
    ))
}

/// 2012-01-01T00:00:00Z.
const PKITS_AT: u64 = 1_325_376_000;

/// Trust Anchor Root, every PKITS certificate other than the end entities as the pool, and every
/// PKITS CRL: each case must find its own CRLs among all of them.
fn pkits_policy() -> Policy {
    let dir = pkits();
    let files = |sub: &str| {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    };
    let mut p = Policy::new(PKITS_AT);
    p.validation_policy = ValidationPolicy::Generic;
    p.trust_anchors =
        vec![std::fs::read(dir.join("certs/TrustAnchorRootCertificate.crt")).unwrap()];
    for f in files("certs") {
        let n = f.file_name().unwrap().to_str().unwrap();
        if !n.ends_with("EE.crt") && n != "TrustAnchorRootCertificate.crt" {
            p.cert_pool.push(std::fs::read(&f).unwrap());
        }
    }
    p.crls = files("crls")
        .iter()
        .map(|c| std::fs::read(c).unwrap())
        .collect();
    p
}

use Expect::{Fails, PathRefused, Valid};
use SubIndication::{Revoked, TryLater};

/// PKITS 4.4 (CRLs), 4.5 (self-issued certificates and CRL keys), 4.7.4-5 (cRLSign), 4.14
/// (distribution points), 4.15 (delta CRLs): test number, end-entity file stem, expected outcome.
const PKITS: &[(&str, &str, Expect)] = &[
    (
        "4.4.1",
        "InvalidMissingCRLTest1",
        Fails(
            TryLater,
            &["Invalid Missing CRL EE", "no CRL from CN=No CRL CA"],
        ),
    ),
    (
        "4.4.2",
        "InvalidRevokedCATest2",
        Fails(
            Revoked,
            &[
                "CN=Revoked subCA",
                "is revoked: CRL",
                "issuer CN=Good CA",
                "revoked on 2010-01-01T08:30:00Z",
                "keyCompromise",
            ],
        ),
    ),
    (
        "4.4.3",
        "InvalidRevokedEETest3",
        Fails(
            Revoked,
            &[
                "Invalid Revoked EE Certificate Test3",
                "issuer CN=Good CA",
                "revoked on 2010-01-01T08:30:01Z",
                "keyCompromise",
            ],
        ),
    ),
    (
        "4.4.4",
        "InvalidBadCRLSignatureTest4",
        Fails(
            TryLater,
            &[
                "issuer CN=Bad CRL Signature CA",
                "signature does not verify",
            ],
        ),
    ),
    (
        "4.4.5",
        "InvalidBadCRLIssuerNameTest5",
        Fails(TryLater, &["no CRL from CN=Bad CRL Issuer Name CA"]),
    ),
    (
        "4.4.6",
        "InvalidWrongCRLTest6",
        Fails(TryLater, &["no CRL from CN=Wrong CRL CA"]),
    ),
    ("4.4.7", "ValidTwoCRLsTest7", Valid),
    (
        "4.4.8",
        "InvalidUnknownCRLEntryExtensionTest8",
        Fails(
            TryLater,
            &["an entry has an unrecognised critical extension 2.16.840.1.101.2.1.12.2"],
        ),
    ),
    (
        "4.4.9",
        "InvalidUnknownCRLExtensionTest9",
        Fails(
            TryLater,
            &["it has an unrecognised critical extension 2.16.840.1.101.2.1.12.2"],
        ),
    ),
    (
        "4.4.10",
        "InvalidUnknownCRLExtensionTest10",
        Fails(TryLater, &["it has an unrecognised critical extension"]),
    ),
    (
        "4.4.11",
        "InvalidOldCRLnextUpdateTest11",
        Fails(TryLater, &["stale, nextUpdate 2010-01-02T08:30:00Z"]),
    ),
    (
        "4.4.12",
        "Invalidpre2000CRLnextUpdateTest12",
        Fails(TryLater, &["stale, nextUpdate 1999-01-01T12:01:00Z"]),
    ),
    ("4.4.13", "ValidGeneralizedTimeCRLnextUpdateTest13", Valid),
    ("4.4.14", "ValidNegativeSerialNumberTest14", Valid),
    (
        "4.4.15",
        "InvalidNegativeSerialNumberTest15",
        Fails(
            Revoked,
            &[
                "(serial ff) is revoked",
                "issuer CN=Negative Serial Number CA",
            ],
        ),
    ),
    ("4.4.16", "ValidLongSerialNumberTest16", Valid),
    ("4.4.17", "ValidLongSerialNumberTest17", Valid),
    (
        "4.4.18",
        "InvalidLongSerialNumberTest18",
        Fails(
            Revoked,
            &["(serial 7f0102030405060708090a0b0c0d0e0f10111213) is revoked"],
        ),
    ),
    ("4.4.19", "ValidSeparateCertificateandCRLKeysTest19", Valid),
    (
        "4.4.20",
        "InvalidSeparateCertificateandCRLKeysTest20",
        Fails(
            Revoked,
            &[
                "issuer CN=Separate Certificate and CRL Keys CA1",
                "keyCompromise",
            ],
        ),
    ),
    (
        "4.4.21",
        "InvalidSeparateCertificateandCRLKeysTest21",
        Fails(
            TryLater,
            &[
                "the path of its signer CN=Separate Certificate and CRL Keys CA2",
                "is revoked",
                "issuer CN=Trust Anchor",
            ],
        ),
    ),
    ("4.5.1", "ValidBasicSelfIssuedOldWithNewTest1", Valid),
    (
        "4.5.2",
        "InvalidBasicSelfIssuedOldWithNewTest2",
        Fails(Revoked, &["issuer CN=Basic Self-Issued New Key CA"]),
    ),
    ("4.5.3", "ValidBasicSelfIssuedNewWithOldTest3", Valid),
    ("4.5.4", "ValidBasicSelfIssuedNewWithOldTest4", Valid),
    (
        "4.5.5",
        "InvalidBasicSelfIssuedNewWithOldTest5",
        Fails(Revoked, &["issuer CN=Basic Self-Issued Old Key CA"]),
    ),
    ("4.5.6", "ValidBasicSelfIssuedCRLSigningKeyTest6", Valid),
    (
        "4.5.7",
        "InvalidBasicSelfIssuedCRLSigningKeyTest7",
        Fails(Revoked, &["issuer CN=Basic Self-Issued CRL Signing Key CA"]),
    ),
    // Issued by the CRL-signing key, which may not sign certificates: §6.1, certval's.
    (
        "4.5.8",
        "InvalidBasicSelfIssuedCRLSigningKeyTest8",
        PathRefused,
    ),
    // 4.7.4, 4.7.5: the CRL is signed by the CA whose keyUsage lacks cRLSign (§6.3.3 (f)).
    (
        "4.7.4",
        "InvalidkeyUsageCriticalcRLSignFalseTest4",
        Fails(
            TryLater,
            &[
                "its signer CN=keyUsage Critical cRLSign False CA",
                "lacks cRLSign",
            ],
        ),
    ),
    (
        "4.7.5",
        "InvalidkeyUsageNotCriticalcRLSignFalseTest5",
        Fails(
            TryLater,
            &[
                "its signer CN=keyUsage Not Critical cRLSign False CA",
                "lacks cRLSign",
            ],
        ),
    ),
    ("4.14.1", "ValiddistributionPointTest1", Valid),
    (
        "4.14.2",
        "InvaliddistributionPointTest2",
        Fails(Revoked, &["issuer OU=distributionPoint1 CA"]),
    ),
    (
        "4.14.3",
        "InvaliddistributionPointTest3",
        Fails(
            TryLater,
            &["names none of the certificate's distribution points"],
        ),
    ),
    ("4.14.4", "ValiddistributionPointTest4", Valid),
    ("4.14.5", "ValiddistributionPointTest5", Valid),
    (
        "4.14.6",
        "InvaliddistributionPointTest6",
        Fails(Revoked, &["issuer OU=distributionPoint2 CA"]),
    ),
    ("4.14.7", "ValiddistributionPointTest7", Valid),
    (
        "4.14.8",
        "InvaliddistributionPointTest8",
        Fails(
            TryLater,
            &["names none of the certificate's distribution points"],
        ),
    ),
    (
        "4.14.9",
        "InvaliddistributionPointTest9",
        Fails(
            TryLater,
            &["names none of the certificate's distribution points"],
        ),
    ),
    ("4.14.10", "ValidNoissuingDistributionPointTest10", Valid),
    (
        "4.14.11",
        "InvalidonlyContainsUserCertsTest11",
        Fails(TryLater, &["onlyContainsUserCerts"]),
    ),
    (
        "4.14.12",
        "InvalidonlyContainsCACertsTest12",
        Fails(TryLater, &["onlyContainsCACerts"]),
    ),
    ("4.14.13", "ValidonlyContainsCACertsTest13", Valid),
    (
        "4.14.14",
        "InvalidonlyContainsAttributeCertsTest14",
        Fails(TryLater, &["onlyContainsAttributeCerts"]),
    ),
    (
        "4.14.15",
        "InvalidonlySomeReasonsTest15",
        Fails(Revoked, &["issuer CN=onlySomeReasons CA1", "keyCompromise"]),
    ),
    (
        "4.14.16",
        "InvalidonlySomeReasonsTest16",
        Fails(
            Revoked,
            &["issuer CN=onlySomeReasons CA1", "certificateHold"],
        ),
    ),
    (
        "4.14.17",
        "InvalidonlySomeReasonsTest17",
        Fails(TryLater, &["cover only some revocation reasons"]),
    ),
    ("4.14.18", "ValidonlySomeReasonsTest18", Valid),
    ("4.14.19", "ValidonlySomeReasonsTest19", Valid),
    (
        "4.14.20",
        "InvalidonlySomeReasonsTest20",
        Fails(Revoked, &["issuer OU=onlySomeReasons CA4", "keyCompromise"]),
    ),
    (
        "4.14.21",
        "InvalidonlySomeReasonsTest21",
        Fails(
            Revoked,
            &["issuer OU=onlySomeReasons CA4", "affiliationChanged"],
        ),
    ),
    ("4.14.22", "ValidIDPwithindirectCRLTest22", Valid),
    (
        "4.14.23",
        "InvalidIDPwithindirectCRLTest23",
        Fails(Revoked, &["issuer CN=indirectCRL CA1"]),
    ),
    ("4.14.24", "ValidIDPwithindirectCRLTest24", Valid),
    ("4.14.25", "ValidIDPwithindirectCRLTest25", Valid),
    (
        "4.14.26",
        "InvalidIDPwithindirectCRLTest26",
        Fails(TryLater, &["no CRL from CN=indirectCRL CA2"]),
    ),
    (
        "4.14.27",
        "InvalidcRLIssuerTest27",
        Fails(TryLater, &["issuer CN=Good CA", "not an indirect CRL"]),
    ),
    ("4.14.28", "ValidcRLIssuerTest28", Valid),
    ("4.14.29", "ValidcRLIssuerTest29", Valid),
    ("4.14.30", "ValidcRLIssuerTest30", Valid),
    (
        "4.14.31",
        "InvalidcRLIssuerTest31",
        Fails(Revoked, &["issuer OU=indirectCRL CA5"]),
    ),
    (
        "4.14.32",
        "InvalidcRLIssuerTest32",
        Fails(Revoked, &["issuer OU=indirectCRL CA5"]),
    ),
    ("4.14.33", "ValidcRLIssuerTest33", Valid),
    (
        "4.14.34",
        "InvalidcRLIssuerTest34",
        Fails(Revoked, &["issuer OU=indirectCRL CA5"]),
    ),
    (
        "4.14.35",
        "InvalidcRLIssuerTest35",
        Fails(TryLater, &["no CRL from OU=indirectCRL CA5"]),
    ),
    (
        "4.15.1",
        "InvaliddeltaCRLIndicatorNoBaseTest1",
        Fails(
            TryLater,
            &[
                "delta CRL #",
                "deltaCRLIndicator No Base CA",
                "has no complete CRL",
            ],
        ),
    ),
    ("4.15.2", "ValiddeltaCRLTest2", Valid),
    (
        "4.15.3",
        "InvaliddeltaCRLTest3",
        Fails(Revoked, &["is revoked: CRL #", "issuer CN=deltaCRL CA1"]),
    ),
    (
        "4.15.4",
        "InvaliddeltaCRLTest4",
        Fails(
            Revoked,
            &[
                "is revoked: delta CRL #",
                "issuer CN=deltaCRL CA1",
                "revoked on 2010-06-01T08:30:00Z",
            ],
        ),
    ),
    ("4.15.5", "ValiddeltaCRLTest5", Valid),
    (
        "4.15.6",
        "InvaliddeltaCRLTest6",
        Fails(Revoked, &["is revoked: delta CRL #", "keyCompromise"]),
    ),
    ("4.15.7", "ValiddeltaCRLTest7", Valid),
    ("4.15.8", "ValiddeltaCRLTest8", Valid),
    (
        "4.15.9",
        "InvaliddeltaCRLTest9",
        Fails(Revoked, &["issuer CN=deltaCRL CA2"]),
    ),
    (
        "4.15.10",
        "InvaliddeltaCRLTest10",
        Fails(TryLater, &["issuer CN=deltaCRL CA3", "stale"]),
    ),
];

#[test]
fn pkits_crl_sections_have_their_expected_outcomes() {
    let dir = pkits();
    let policy = pkits_policy();
    let wrong: Vec<String> = PKITS
        .iter()
        .filter_map(|(id, stem, expect)| {
            let ee = std::fs::read(dir.join(format!("certs/{stem}EE.crt"))).unwrap();
            let r = verify_certificate(&ee, &policy);
            check(&format!("{id} {stem}"), &r, *expect).err()
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

// ---- CRLs made over the pki vectors ----

const PKI: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../test-vectors/pki/");
/// test-vectors/pki/manifest.toml validation_time: 2026-01-01T03:00:00Z (sign.crl: thisUpdate
/// 02:00Z, nextUpdate 2026-01-08).
const AT: u64 = 1_767_236_400;

fn read(f: &str) -> Vec<u8> {
    std::fs::read(format!("{PKI}{f}")).unwrap()
}

fn cert(f: &str) -> Vec<u8> {
    decode_certificates(&read(f)).unwrap().remove(0)
}

fn serial_of(der: &[u8]) -> SerialNumber {
    x509_cert::Certificate::from_der(der)
        .unwrap()
        .tbs_certificate()
        .serial_number()
        .clone()
}

fn ext(oid: const_oid::ObjectIdentifier, critical: bool, value: impl Encode) -> Extension {
    Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(value.to_der().unwrap()).unwrap(),
    }
}

fn entry(serial: &SerialNumber, at: Time, extensions: Vec<Extension>) -> RevokedCert {
    RevokedCert {
        serial_number: serial.clone(),
        revocation_date: at,
        crl_entry_extensions: (!extensions.is_empty()).then_some(extensions),
    }
}

fn time(unix: u64) -> Time {
    Time::GeneralTime(
        der::asn1::GeneralizedTime::from_unix_duration(std::time::Duration::from_secs(unix))
            .unwrap(),
    )
}

/// The sign CA's CRL changed by `edit`, re-signed with the sign CA's key.
fn sign_crl(edit: impl FnOnce(&mut x509_cert::crl::TbsCertList)) -> Vec<u8> {
    let key = SigningKey::from_pkcs8(&read("keys/sign.p8")).unwrap();
    let mut crl = CertificateList::from_der(&read("crl/sign.crl")).unwrap();
    edit(&mut crl.tbs_cert_list);
    let tbs = crl.tbs_cert_list.to_der().unwrap();
    crl.signature = BitString::from_bytes(&key.sign(&tbs).unwrap()).unwrap();
    crl.to_der().unwrap()
}

fn policy(crls: Vec<Vec<u8>>, at: u64) -> Policy {
    let mut p = Policy::new(at);
    p.trust_anchors = vec![cert("ca/root.pem")];
    p.cert_pool = vec![cert("ca/sign.pem")];
    p.crls = crls;
    p
}

fn expect(what: &str, signer: &[u8], crls: Vec<Vec<u8>>, at: u64, e: Expect) -> Report {
    let r = verify_certificate(signer, &policy(crls, at));
    if let Err(why) = check(what, &r, e) {
        panic!("{why}\n{}", json(&r));
    }
    r
}

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

#[test]
fn a_v1_crl_listing_the_certificate_revokes_it() {
    let signer = cert("rhp-sign.pem");
    let key = SigningKey::from_pkcs8(&read("keys/sign.p8")).unwrap();
    let v2 = CertificateList::<x509_cert::certificate::Rfc5280>::from_der(&read("crl/sign.crl"))
        .unwrap()
        .tbs_cert_list;
    let v1 = |listed: bool| {
        let tbs = TbsCertListV1 {
            signature: v2.signature.clone(),
            issuer: v2.issuer.clone(),
            this_update: v2.this_update,
            next_update: v2.next_update,
            revoked_certificates: listed
                .then(|| vec![entry(&serial_of(&signer), v2.this_update, Vec::new())]),
        };
        let signature = BitString::from_bytes(&key.sign(&tbs.to_der().unwrap()).unwrap()).unwrap();
        CertificateListV1 {
            tbs_cert_list: tbs,
            signature_algorithm: v2.signature.clone(),
            signature,
        }
        .to_der()
        .unwrap()
    };
    // What verifier-cli's --crl reads: v1 CRLs decode (they used to be refused, exit 2).
    assert_eq!(decode_crls(&v1(true)).unwrap(), vec![v1(true)]);
    expect(
        "v1, not listed",
        &signer,
        vec![read("crl/root.crl"), v1(false)],
        AT,
        Valid,
    );
    expect(
        "v1, listed",
        &signer,
        vec![read("crl/root.crl"), v1(true)],
        AT,
        Fails(
            Revoked,
            &[
                "hpki Test Vectors HPKI Signature CA",
                "is revoked: CRL #1",
                "reason unspecified",
            ],
        ),
    );
}

/// CRL number `n` (§5.2.3) in place of sign.crl's.
fn numbered(tbs: &mut x509_cert::crl::TbsCertList, n: u32) {
    let exts = tbs.crl_extensions.get_or_insert_with(Vec::new);
    exts.retain(|e| e.extn_id != const_oid::db::rfc5280::ID_CE_CRL_NUMBER);
    exts.push(ext(const_oid::db::rfc5280::ID_CE_CRL_NUMBER, false, n));
}

#[test]
fn a_delta_crl_merges_with_its_complete_crl() {
    let signer = cert("rhp-sign.pem");
    let serial = serial_of(&signer);
    let base = read("crl/sign.crl"); // CRL number 1, the signer not listed.
    let delta = |base_number: u32, reason: Option<x509_cert::ext::pkix::CrlReason>| {
        sign_crl(|tbs| {
            numbered(tbs, 2);
            tbs.crl_extensions.get_or_insert_with(Vec::new).push(ext(
                const_oid::db::rfc5280::ID_CE_DELTA_CRL_INDICATOR,
                true,
                base_number,
            ));
            let extensions = reason
                .map(|r| vec![ext(const_oid::db::rfc5280::ID_CE_CRL_REASONS, false, r)])
                .unwrap_or_default();
            tbs.revoked_certificates = Some(vec![entry(&serial, tbs.this_update, extensions)]);
        })
    };
    let root = read("crl/root.crl");
    // Only the delta lists the signer.
    expect(
        "delta revokes",
        &signer,
        vec![root.clone(), base.clone(), delta(1, None)],
        AT,
        Fails(Revoked, &["is revoked: delta CRL #2", "HPKI Signature CA"]),
    );
    // A delta whose base is newer than the complete CRL does not apply (§5.2.4): the complete
    // CRL answers alone.
    expect(
        "delta of another base",
        &signer,
        vec![root.clone(), base.clone(), delta(5, None)],
        AT,
        Valid,
    );
    // The delta alone is no answer.
    expect(
        "delta without base",
        &signer,
        vec![root.clone(), delta(1, None)],
        AT,
        Fails(TryLater, &["delta CRL #1", "has no complete CRL"]),
    );
    // certificateHold on the complete CRL, removeFromCRL on the delta: not revoked (§5.3.1).
    let held = sign_crl(|tbs| {
        numbered(tbs, 1);
        let hold = ext(
            const_oid::db::rfc5280::ID_CE_CRL_REASONS,
            false,
            x509_cert::ext::pkix::CrlReason::CertificateHold,
        );
        tbs.revoked_certificates
            .get_or_insert_with(Vec::new)
            .push(entry(&serial, tbs.this_update, vec![hold]));
    });
    expect(
        "on hold",
        &signer,
        vec![root.clone(), held.clone()],
        AT,
        Fails(Revoked, &["certificateHold"]),
    );
    expect(
        "hold removed by the delta",
        &signer,
        vec![
            root,
            held,
            delta(1, Some(x509_cert::ext::pkix::CrlReason::RemoveFromCRL)),
        ],
        AT,
        Valid,
    );
}

#[test]
fn indirect_crl_entries_name_their_certificate_issuer() {
    let signer = cert("rhp-sign.pem");
    let serial = serial_of(&signer);
    let root_ca = x509_cert::Certificate::from_der(&cert("ca/root.pem"))
        .unwrap()
        .tbs_certificate()
        .subject()
        .clone();
    let idp = IssuingDistributionPoint {
        distribution_point: None,
        only_contains_user_certs: false,
        only_contains_ca_certs: false,
        only_some_reasons: None,
        indirect_crl: true,
        only_contains_attribute_certs: false,
    };
    let indirect = |entry_issuer: Option<&Name>| {
        sign_crl(|tbs| {
            tbs.crl_extensions.get_or_insert_with(Vec::new).push(ext(
                const_oid::db::rfc5280::ID_CE_ISSUING_DISTRIBUTION_POINT,
                true,
                idp.clone(),
            ));
            // certificateIssuer on a first entry, carried forward to the signer's (§5.3.3).
            let other = SerialNumber::new(&[0x42]).unwrap();
            let names = entry_issuer.map(|n| vec![GeneralName::DirectoryName(n.clone())]);
            let extensions = names
                .map(|n| {
                    vec![ext(
                        const_oid::db::rfc5280::ID_CE_CERTIFICATE_ISSUER,
                        true,
                        n,
                    )]
                })
                .unwrap_or_default();
            tbs.revoked_certificates = Some(vec![
                entry(&other, tbs.this_update, extensions),
                entry(&serial, tbs.this_update, Vec::new()),
            ]);
        })
    };
    let root = read("crl/root.crl");
    // No certificateIssuer: the entries are the CRL issuer's (the sign CA's) certificates.
    expect(
        "indirect, own entry",
        &signer,
        vec![root.clone(), indirect(None)],
        AT,
        Fails(Revoked, &["is revoked: CRL #1"]),
    );
    // The serial listed under the root CA's name is another certificate.
    expect(
        "indirect, another CA's entry",
        &signer,
        vec![root, indirect(Some(&root_ca))],
        AT,
        Valid,
    );
}

#[test]
fn a_revoking_crl_wins_over_unusable_ones() {
    let signer = cert("rhp-sign.pem");
    let serial = serial_of(&signer);
    let revoking = sign_crl(|tbs| {
        tbs.revoked_certificates
            .get_or_insert_with(Vec::new)
            .push(entry(&serial, tbs.this_update, Vec::new()));
    });
    let mut bad_signature: CertificateList = CertificateList::from_der(&revoking).unwrap();
    let mut sig = bad_signature.signature.raw_bytes().to_vec();
    sig[10] ^= 1;
    bad_signature.signature = BitString::from_bytes(&sig).unwrap();
    let bad_signature = bad_signature.to_der().unwrap();
    let unknown_critical = sign_crl(|tbs| {
        tbs.crl_extensions.get_or_insert_with(Vec::new).push(ext(
            const_oid::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.99999.1"),
            true,
            der::asn1::Null,
        ));
    });
    let root = read("crl/root.crl");
    expect(
        "unusable alone",
        &signer,
        vec![
            root.clone(),
            bad_signature.clone(),
            unknown_critical.clone(),
        ],
        AT,
        Fails(
            TryLater,
            &[
                "revocation status of SERIALNUMBER=V-0001,CN=Hanako Sato",
                "CRL #1 (issuer",
                "its signature does not verify",
                "CRL #2 (issuer",
                "unrecognised critical extension 1.3.6.1.4.1.99999.1",
            ],
        ),
    );
    for order in [
        vec![
            root.clone(),
            bad_signature.clone(),
            unknown_critical.clone(),
            revoking.clone(),
        ],
        vec![
            root.clone(),
            revoking.clone(),
            unknown_critical,
            bad_signature,
        ],
    ] {
        expect(
            "revoking beside unusable",
            &signer,
            order,
            AT,
            Fails(Revoked, &["is revoked"]),
        );
    }
    // The validation time after nextUpdate: stale.
    expect(
        "stale",
        &signer,
        vec![root, read("crl/sign.crl")],
        AT + 30 * 86_400,
        Fails(TryLater, &["stale, nextUpdate 2026-01-08T02:00:00Z"]),
    );
}

#[test]
fn a_crl_issued_later_tells_a_revocation_since_when() {
    let signer = cert("rhp-sign.pem");
    let serial = serial_of(&signer);
    // Issued a day after the validation time; revoked 12 h after it.
    let later = |revoked_at: u64, invalid_since: Option<u64>| {
        sign_crl(|tbs| {
            tbs.this_update = time(AT + 86_400);
            tbs.next_update = Some(time(AT + 8 * 86_400));
            let extensions = invalid_since
                .map(|t| {
                    vec![ext(
                        const_oid::db::rfc5280::ID_CE_INVALIDITY_DATE,
                        false,
                        der::asn1::GeneralizedTime::from_unix_duration(
                            std::time::Duration::from_secs(t),
                        )
                        .unwrap(),
                    )]
                })
                .unwrap_or_default();
            tbs.revoked_certificates = Some(vec![entry(&serial, time(revoked_at), extensions)]);
        })
    };
    let root = read("crl/root.crl");
    // Only the later CRL for the signer: revoked after the validation time, so valid then, and
    // the later revocation is reported.
    let r = expect(
        "revoked later",
        &signer,
        vec![root.clone(), later(AT + 43_200, None)],
        AT,
        Valid,
    );
    let revocation = r.signatures[0]
        .checks
        .iter()
        .find(|c| c.name == "revocation")
        .unwrap();
    assert_eq!(revocation.outcome, Outcome::Warning, "{}", json(&r));
    assert!(
        revocation.reason.contains(
            "is listed as revoked since 2026-01-01T15:00:00Z (unspecified) on a CRL issued after"
        ),
        "{}",
        json(&r)
    );
    // Key compromise suspected since before the validation time (invalidityDate): revoked then.
    expect(
        "invalid since before",
        &signer,
        vec![root.clone(), later(AT + 43_200, Some(AT - 3_600))],
        AT,
        Fails(Revoked, &["invalid since 2026-01-01T02:00:00Z"]),
    );
    // Not listed on a later CRL: not revoked at the validation time either.
    let clean = sign_crl(|tbs| {
        tbs.this_update = time(AT + 86_400);
        tbs.next_update = None;
    });
    expect("later, not listed", &signer, vec![root, clean], AT, Valid);
}

// ---- RFC 4134 v1 CRLs ----

const RFC4134: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../test-vectors/rfc4134/");

/// Carl's v1 CRLs (no nextUpdate). CarlDSS (dsaWithSHA1): CRLEmpty of 1999-08-20 lists nothing;
/// CRLForAll of 1999-08-27 lists Alice (C8) and Diane (D2), revoked 1999-08-22. CarlRSA's are
/// signed with md5WithRSAEncryption, which hpki does not verify: unusable.
#[test]
fn rfc4134_v1_crls_revoke_as_they_say() {
    let f = |n: &str| std::fs::read(format!("{RFC4134}{n}")).unwrap();
    for crl in [
        "CarlDSSCRLEmpty.crl",
        "CarlDSSCRLForAll.crl",
        "CarlRSACRLForAll.crl",
    ] {
        assert_eq!(decode_crls(&f(crl)).unwrap().len(), 1, "{crl}");
    }
    let (empty, for_all) = (f("CarlDSSCRLEmpty.crl"), f("CarlDSSCRLForAll.crl"));
    let run = |anchor: &str, who: &str, crls: Vec<Vec<u8>>, at: u64, e: Expect| {
        let mut p = Policy::new(at);
        p.trust_anchors = vec![f(anchor)];
        p.crls = crls;
        p.validation_policy = ValidationPolicy::Generic;
        let r = verify_certificate(&f(who), &p);
        if let Err(why) = check(who, &r, e) {
            panic!("{why}\n{}", json(&r));
        }
    };
    let dss = "CarlDSSSelf.cer";
    // 2000-01-01T00:00:00Z.
    let y2k = 946_684_800;
    run(
        dss,
        "AliceDSSSignByCarlNoInherit.cer",
        vec![empty.clone()],
        y2k,
        Valid,
    );
    run(
        dss,
        "AliceDSSSignByCarlNoInherit.cer",
        vec![empty.clone(), for_all.clone()],
        y2k,
        Fails(
            Revoked,
            &[
                "CN=AliceDSS (serial 00c8) is revoked",
                "issuer CN=CarlDSS",
                "revoked on 1999-08-22T07:00:00Z",
            ],
        ),
    );
    run(
        dss,
        "DianeDSSSignByCarlInherit.cer",
        vec![for_all.clone()],
        y2k,
        Fails(
            Revoked,
            &["CN=DianeDSS (serial 00d2) is revoked", "issuer CN=CarlDSS"],
        ),
    );
    // 1999-08-21T00:00:00Z: CRLForAll, issued later, tells the revocation came after.
    run(
        dss,
        "AliceDSSSignByCarlNoInherit.cer",
        vec![empty, for_all],
        935_193_600,
        Valid,
    );
    run(
        "CarlRSASelf.cer",
        "AliceRSASignByCarl.cer",
        vec![f("CarlRSACRLForAll.crl")],
        y2k,
        Fails(
            TryLater,
            &[
                "CN=AliceRSA",
                "issuer CN=CarlRSA",
                "1.2.840.113549.1.1.4 is not supported",
            ],
        ),
    );
}
