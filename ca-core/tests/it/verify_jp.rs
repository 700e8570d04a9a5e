//! Issue 4 acceptance on the real Japanese HPKI chain (`test-vectors/jp-hpki/`, README there has
//! the matching OpenSSL results): path validation through certval at fixed times.

use ca_core::verify::{Indication, Policy, SubIndication, verify_certificate};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../test-vectors/jp-hpki/");
/// 2022-09-07T00:00:00Z, inside the 2022-09-06 CRLs' window.
const SEP_2022: u64 = 1_662_508_800;
/// 2020-01-01T00:00:00Z.
const JAN_2020: u64 = 1_577_836_800;
/// A fixed "now" (2026-11-28), after the expired doctor's notAfter.
const NOW: u64 = 1_795_824_000;

fn read(name: &str) -> Vec<u8> {
    std::fs::read(format!("{DIR}{name}")).unwrap()
}

fn policy(at: u64, intermediate: &str, crls: &[&str]) -> Policy {
    let mut p = Policy::new(at);
    p.trust_anchors = vec![read("mhlw-root-ca-v2.der")];
    p.cert_pool = vec![read(intermediate)];
    p.crls = crls.iter().map(|c| read(c)).collect();
    p
}

const CRLS_2022: [&str; 2] = [
    "medis-sign-ca2-20220906.crl.der",
    "mhlw-root-ca-v2-sarl-20220905.crl.der",
];

#[test]
fn doctor_and_pharmacist_are_valid_with_crls_and_report_their_role() {
    for (cert, role) in [
        ("medis-test-ee-medical-doctor.der", "Medical Doctor"),
        ("medis-test-ee-pharmacist.der", "Pharmacist"),
    ] {
        let report = verify_certificate(
            &read(cert),
            &policy(SEP_2022, "medis-sign-ca2.der", &CRLS_2022),
        );
        let json = serde_json::to_string_pretty(&report).unwrap();
        assert_eq!(report.indication, Indication::TotalPassed, "{cert}: {json}");
        let sig = &report.signatures[0];
        assert_eq!(sig.hc_roles.len(), 1, "{json}");
        assert_eq!(sig.hc_roles[0].text.as_deref(), Some(role));
        assert_eq!(sig.hc_roles[0].scheme, "1.2.392.100495.1.6.1.1");
        assert_eq!(sig.chain.len(), 3, "{json}");
        let revocation = sig.checks.iter().find(|c| c.name == "revocation").unwrap();
        assert_eq!(
            revocation.outcome,
            ca_core::verify::Outcome::Passed,
            "{json}"
        );
    }
}

#[test]
fn expired_doctor_is_valid_in_2020_and_expired_now() {
    let cert = read("medis-test-ee-medical-doctor-expired.der");
    let then = verify_certificate(&cert, &policy(JAN_2020, "medis-sign-ca2.der", &[]));
    assert!(
        then.is_valid(),
        "{}",
        serde_json::to_string_pretty(&then).unwrap()
    );
    let now = verify_certificate(&cert, &policy(NOW, "medis-sign-ca2.der", &[]));
    assert_eq!(now.indication, Indication::TotalFailed);
    assert_eq!(now.sub_indication, Some(SubIndication::Expired));
}

#[test]
fn authentication_ca_as_intermediate_finds_no_chain() {
    let report = verify_certificate(
        &read("medis-test-ee-medical-doctor.der"),
        &policy(SEP_2022, "medis-auth-ca2.der", &[]),
    );
    assert_eq!(report.indication, Indication::Indeterminate);
    assert_eq!(
        report.sub_indication,
        Some(SubIndication::NoCertificateChainFound)
    );
}

#[test]
fn crl_outside_its_window_leaves_revocation_undetermined() {
    // 2022-09-30: the 2022-09-06 CRLs expired on 2022-09-10 (OpenSSL: "CRL has expired").
    let report = verify_certificate(
        &read("medis-test-ee-medical-doctor.der"),
        &policy(1_664_496_000, "medis-sign-ca2.der", &CRLS_2022),
    );
    assert_eq!(
        report.indication,
        Indication::Indeterminate,
        "{}",
        serde_json::to_string_pretty(&report).unwrap()
    );
}

#[test]
fn required_role_and_policy() {
    let doctor = read("medis-test-ee-medical-doctor.der");
    let mut p = policy(SEP_2022, "medis-sign-ca2.der", &[]);
    p.require_role = Some("1.2.392.100495.1.6.1.1:Pharmacist".parse().unwrap());
    let report = verify_certificate(&doctor, &p);
    assert_eq!(
        report.sub_indication,
        Some(SubIndication::SigConstraintsFailure)
    );
    p.require_role = Some("1.2.392.100495.1.6.1.1:Medical Doctor".parse().unwrap());
    assert!(verify_certificate(&doctor, &p).is_valid());
    p.accept_policies = vec!["1.2.392.100495.1.5.1.2.0.1".parse().unwrap()];
    let report = verify_certificate(&doctor, &p);
    assert_eq!(
        report.sub_indication,
        Some(SubIndication::ChainConstraintsFailure)
    );
    p.accept_policies = vec!["1.2.392.100495.1.5.1.1.0.1".parse().unwrap()];
    assert!(verify_certificate(&doctor, &p).is_valid());
    // The signature CA's policy as initial policy set with require-explicit: still valid; the
    // authentication CP instead: no acceptable policy.
    p.require_explicit_policy = true;
    p.initial_policies = vec!["1.2.392.100495.1.5.1.2.0.1".parse().unwrap()];
    let report = verify_certificate(&doctor, &p);
    assert!(
        !report.is_valid(),
        "{}",
        serde_json::to_string_pretty(&report).unwrap()
    );
}
