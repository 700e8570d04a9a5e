//! `Profile::check`: each violation names the profile, the field and the rule.

use ca_core::hcrole::{self, HcRole};
use ca_core::key::{KeyAlgorithm, KeyParams};
use ca_core::oid::JP_HCROLE_SCHEME;
use ca_core::profile::{CertRequest, ProfileSet, ProfileViolation};
use const_oid::ObjectIdentifier;
use der::Decode;
use std::str::FromStr;
use x509_cert::Certificate;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::name::Name;

const DAY: u64 = 86_400;
/// 2024-01-01T00:00:00Z.
const T0: u64 = 1_704_067_200;

fn medis_doctor() -> Certificate {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../test-vectors/jp-hpki/medis-test-ee-medical-doctor.der"
    );
    Certificate::from_der(&std::fs::read(path).unwrap()).unwrap()
}

fn jp(text: &str) -> HcRole {
    HcRole {
        scheme: JP_HCROLE_SCHEME,
        code: None,
        text: Some(text.into()),
    }
}

fn rsa(bits: u32) -> KeyParams {
    KeyParams {
        algorithm: KeyAlgorithm::Rsa,
        bits,
    }
}

struct Req {
    subject: Name,
    sans: Vec<GeneralName>,
    roles: Vec<HcRole>,
    key: KeyParams,
    not_before: u64,
    not_after: u64,
}

impl Req {
    fn doctor() -> Self {
        Req {
            subject: Name::from_str(
                "CN=Sanjushi Kagurazaka,serialNumber=Test117120,O=MEDIS UNIVERSITY HOSPITAL,C=JP",
            )
            .unwrap(),
            sans: vec![],
            roles: vec![jp("Medical Doctor")],
            key: KeyParams {
                algorithm: KeyAlgorithm::P256,
                bits: 256,
            },
            not_before: T0,
            not_after: T0 + 365 * DAY,
        }
    }
    fn check(&self, profile: &str) -> Result<(), ProfileViolation> {
        let set = ProfileSet::embedded().unwrap();
        let request = CertRequest {
            subject: &self.subject,
            sans: &self.sans,
            hc_roles: &self.roles,
            key: self.key,
            not_before: self.not_before,
            not_after: self.not_after,
        };
        set.get(profile).unwrap().check(&request, &set)
    }
}

#[track_caller]
fn assert_violation(result: Result<(), ProfileViolation>, profile: &str, field: &str, rule: &str) {
    let v = result.expect_err("expected a violation");
    assert_eq!(
        (v.profile.as_str(), v.field.as_str()),
        (profile, field),
        "rule: {}",
        v.rule
    );
    assert!(
        v.rule.contains(rule),
        "rule {:?} should contain {rule:?}",
        v.rule
    );
}

#[test]
fn valid_request_passes() {
    Req::doctor().check("rhp-sign").unwrap();
    Req::doctor().check("rhp-auth").unwrap();
}

#[test]
fn the_real_medis_signing_certificate_fits_rhp_sign() {
    let cert = medis_doctor();
    let tbs = cert.tbs_certificate();
    let sans: Vec<GeneralName> = tbs
        .get_extension::<x509_cert::ext::pkix::SubjectAltName>()
        .unwrap()
        .map(|(_, san)| san.0)
        .unwrap_or_default();
    let req = Req {
        subject: tbs.subject().clone(),
        sans,
        roles: hcrole::roles_of(&cert).unwrap(),
        key: rsa(2048),
        not_before: tbs.validity().not_before.to_unix_duration().as_secs(),
        not_after: tbs.validity().not_after.to_unix_duration().as_secs(),
    };
    assert!(!req.sans.is_empty());
    req.check("rhp-sign").unwrap();
}

#[test]
fn missing_mandatory_hc_role() {
    let req = Req {
        roles: vec![],
        ..Req::doctor()
    };
    assert_violation(req.check("rhp-sign"), "rhp-sign", "hc_role", "mandatory");
    // Optional on rhp-enc: no role is fine there.
    Req {
        roles: vec![],
        key: KeyParams {
            algorithm: KeyAlgorithm::P384,
            bits: 384,
        },
        ..Req::doctor()
    }
    .check("rhp-enc")
    .unwrap();
}

#[test]
fn role_on_a_profile_without_roles() {
    let req = Req {
        subject: Name::from_str("CN=Ada,O=Billing Ltd,C=JP").unwrap(),
        ..Req::doctor()
    };
    assert_violation(
        req.check("support-auth"),
        "support-auth",
        "hc_role",
        "no hcRole",
    );
}

#[test]
fn role_not_in_vocabulary() {
    let req = Req {
        roles: vec![jp("Nurse")],
        ..Req::doctor()
    };
    assert_violation(
        req.check("rhp-sign"),
        "rhp-sign",
        "hc_role",
        "\"Nurse\" is not in vocabulary jp-mhlw",
    );
    // codeDataValue is not used by the JP scheme, so a code is not in the vocabulary either.
    let coded = HcRole {
        code: Some("1".into()),
        ..jp("Medical Doctor")
    };
    let req = Req {
        roles: vec![coded],
        ..Req::doctor()
    };
    assert_violation(
        req.check("rhp-sign"),
        "rhp-sign",
        "hc_role",
        "not in vocabulary",
    );
}

#[test]
fn role_scheme_without_vocabulary() {
    let scheme = ObjectIdentifier::new_unwrap("1.0.17090.1"); // id-hcpki-cd (iso17090.md §3.1), no vocabulary
    let req = Req {
        roles: vec![HcRole {
            scheme,
            code: None,
            text: Some("Doctor".into()),
        }],
        ..Req::doctor()
    };
    assert_violation(
        req.check("rhp-sign"),
        "rhp-sign",
        "hc_role",
        "no vocabulary for coding scheme 1.0.17090.1",
    );
}

#[test]
fn rsa_1024_is_refused() {
    let req = Req {
        key: rsa(1024),
        ..Req::doctor()
    };
    assert_violation(
        req.check("rhp-sign"),
        "rhp-sign",
        "key",
        "RSA 1024 bits is below the minimum 2048",
    );
    Req {
        key: rsa(2048),
        ..Req::doctor()
    }
    .check("rhp-sign")
    .unwrap();
}

#[test]
fn algorithm_not_allowed() {
    let req = Req {
        key: KeyParams {
            algorithm: KeyAlgorithm::Ed25519,
            bits: 256,
        },
        roles: vec![],
        ..Req::doctor()
    };
    assert_violation(
        req.check("rhp-enc"),
        "rhp-enc",
        "key",
        "Ed25519 keys are not allowed (allowed: p256, p384)",
    );
}

#[test]
fn validity_beyond_maximum() {
    let req = Req {
        not_after: T0 + 4000 * DAY,
        ..Req::doctor()
    };
    assert_violation(
        req.check("rhp-sign"),
        "rhp-sign",
        "validity",
        "4000 days exceeds the maximum 1827",
    );
    let exact = Req {
        not_after: T0 + 1827 * DAY,
        ..Req::doctor()
    };
    exact.check("rhp-sign").unwrap();
    let one_second_more = Req {
        not_after: T0 + 1827 * DAY + 1,
        ..Req::doctor()
    };
    assert_violation(
        one_second_more.check("rhp-sign"),
        "rhp-sign",
        "validity",
        "1828 days exceeds",
    );
}

#[test]
fn not_after_before_not_before() {
    let req = Req {
        not_after: T0,
        ..Req::doctor()
    };
    assert_violation(
        req.check("rhp-sign"),
        "rhp-sign",
        "validity",
        "later than not_before",
    );
}

#[test]
fn unknown_subject_attribute() {
    // L is allowed on rhp-sign, but not on patient-auth (C, CN required; pseudonym, SN, GN optional).
    let req = Req {
        subject: Name::from_str("CN=Pat,L=Tokyo,C=JP").unwrap(),
        roles: vec![],
        ..Req::doctor()
    };
    assert_violation(
        req.check("patient-auth"),
        "patient-auth",
        "subject.L",
        "attribute L is not allowed",
    );
}

#[test]
fn missing_required_attribute() {
    let req = Req {
        subject: Name::from_str("CN=Sanjushi Kagurazaka,C=JP").unwrap(),
        ..Req::doctor()
    };
    assert_violation(
        req.check("rhp-sign"),
        "rhp-sign",
        "subject.serialNumber",
        "required attribute serialNumber is missing",
    );
}

#[test]
fn alt_names_not_allowed() {
    let sans = vec![GeneralName::DnsName(
        der::asn1::Ia5String::new("seal.example").unwrap(),
    )];
    let req = Req {
        subject: Name::from_str("serialNumber=1234,CN=Hospital Seal,O=Hospital,C=JP").unwrap(),
        sans,
        roles: vec![],
        ..Req::doctor()
    };
    assert_violation(
        req.check("org-seal"),
        "org-seal",
        "subject_alt_name",
        "no subject alternative names",
    );
}
