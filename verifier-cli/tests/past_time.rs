//! Issue 11 item 7 (DESIGN.md §5 invariant 8): without a proof of existence, a verdict never
//! rests on the caller's `--at` or the signer's claimed signingTime alone. The past-time loophole:
//! a key compromised and revoked at T, then used to sign, verified "at T−1".

mod own_key;

use ca_core::store::RevocationReason;
use own_key::{HOUR, NOW, OwnKey};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_verifier-cli");
const RX: &[u8] = b"Rx: amoxicillin 500 mg, three times daily for 7 days\n";
/// When the compromised key's certificate is revoked: 2026-01-01T02:00:00Z.
const T: u64 = NOW + 2 * HOUR;

fn rfc3339(t: u64) -> String {
    ca_core::verify::rfc3339(t)
}

/// `verify` at `at` with the root and the CRLs the CA published at `crls_at`.
fn verify(s: &OwnKey, cms: &[u8], at: u64, crls_at: u64) -> (i32, serde_json::Value) {
    let cms = s.save("doc.p7s", cms);
    let mut cmd = Command::new(BIN);
    cmd.arg("verify")
        .arg("--cms")
        .arg(&cms)
        .arg("--trust-anchor")
        .arg(s.root());
    for ca in ["root", "sign"] {
        let crl = s.authority.crl(ca, crls_at, "test:crl").unwrap();
        cmd.arg("--crl").arg(s.save(&format!("{ca}.crl"), &crl));
    }
    let out = cmd
        .args(["--at", &rfc3339(at), "--format", "json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout} {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), report)
}

fn check<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["signatures"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} check: {report:#}"))
}

fn verdict(code: i32, r: &serde_json::Value) -> (i32, &str, &str) {
    (
        code,
        r["indication"].as_str().unwrap(),
        r["sub_indication"].as_str().unwrap_or(""),
    )
}

/// Revoked for keyCompromise at T, then used to sign (claiming T + 10 min): verified at T − 1 h
/// with the CRL published after the revocation, it is REVOKED_NO_POE (it was TOTAL-PASSED), and
/// the reason names the revocation date and reason; at T + 1 h it is REVOKED as before.
#[test]
fn a_key_revoked_at_t_then_used_does_not_pass_at_t_minus_one() {
    let s = own_key::signer("Medical Doctor");
    s.authority
        .revoke(
            &s.serial,
            RevocationReason::KeyCompromise,
            None,
            T,
            "test:ra",
        )
        .unwrap();
    let signature = s.sign(RX, "author", T + 600);

    let (code, r) = verify(&s, &signature, T - HOUR, T + 60);
    assert_eq!(
        verdict(code, &r),
        (1, "INDETERMINATE", "REVOKED_NO_POE"),
        "{r:#}"
    );
    let reason = check(&r, "proof-of-existence")["reason"].as_str().unwrap();
    assert!(
        reason.contains("the signer's certificate")
            && reason.contains("CN=Jiro Suzuki")
            && reason.contains("revoked on 2026-01-01T02:00:00Z (reason keyCompromise)"),
        "{reason}"
    );
    // The claim is reported with its value, and it is after the validation time too.
    let claimed = check(&r, "signing-time");
    assert_eq!(claimed["sub_indication"], "NO_POE", "{r:#}");
    assert!(
        claimed["reason"]
            .as_str()
            .unwrap()
            .contains("2026-01-01T02:10:00Z is after the validation time 2026-01-01T01:00:00Z"),
        "{claimed}"
    );

    // After the revocation: revoked, as before.
    let (code, r) = verify(&s, &signature, T + HOUR, T + 60);
    assert_eq!(verdict(code, &r), (1, "TOTAL-FAILED", "REVOKED"), "{r:#}");
}

/// A signature claiming a time before the revocation is no better: nothing proves the claim.
#[test]
fn a_backdated_signing_time_does_not_escape_the_revocation() {
    let s = own_key::signer("Medical Doctor");
    s.authority
        .revoke(
            &s.serial,
            RevocationReason::KeyCompromise,
            None,
            T,
            "test:ra",
        )
        .unwrap();
    let signature = s.sign(RX, "author", T - 2 * HOUR + 60);
    let (code, r) = verify(&s, &signature, T - HOUR, T + 60);
    assert_eq!(
        verdict(code, &r),
        (1, "INDETERMINATE", "REVOKED_NO_POE"),
        "{r:#}"
    );
    assert_eq!(check(&r, "signing-time")["outcome"], "passed", "{r:#}");
}

/// The signing CA revoked at T (on the root's CRL): REVOKED_CA_NO_POE, naming the CA.
#[test]
fn a_ca_revoked_later_is_revoked_ca_no_poe() {
    let s = own_key::signer("Medical Doctor");
    let sign_ca = <x509_cert::Certificate as der::Decode>::from_der(
        s.authority.ca_certificate("sign").unwrap(),
    )
    .unwrap();
    let serial = sign_ca
        .tbs_certificate()
        .serial_number()
        .as_bytes()
        .to_vec();
    let signature = s.sign(RX, "author", NOW + 600);
    s.authority
        .revoke(&serial, RevocationReason::CaCompromise, None, T, "test:ra")
        .unwrap();
    let (code, r) = verify(&s, &signature, T - HOUR, T + 60);
    assert_eq!(
        verdict(code, &r),
        (1, "INDETERMINATE", "REVOKED_CA_NO_POE"),
        "{r:#}"
    );
    let reason = check(&r, "proof-of-existence")["reason"].as_str().unwrap();
    assert!(
        reason.contains("the CA certificate")
            && reason.contains("Signature CA")
            && reason.contains("(reason cACompromise)"),
        "{reason}"
    );
}

/// The claimed signingTime: reported when it passes; after the validation time NO_POE; outside
/// the signer certificate's validity OUT_OF_BOUNDS_NO_POE.
#[test]
fn the_claimed_signing_time_is_checked_and_reported() {
    let s = own_key::signer("Medical Doctor");
    let at = NOW + HOUR;

    let (code, r) = verify(&s, &s.sign(RX, "author", NOW + 600), at, NOW);
    assert_eq!(verdict(code, &r), (0, "TOTAL-PASSED", ""), "{r:#}");
    let claimed = check(&r, "signing-time");
    assert_eq!(claimed["outcome"], "passed");
    assert!(
        claimed["reason"]
            .as_str()
            .unwrap()
            .contains("claimed 2026-01-01T00:10:00Z, within the signer certificate's validity"),
        "{claimed}"
    );

    let (code, r) = verify(&s, &s.sign(RX, "author", at + 1), at, NOW);
    assert_eq!(verdict(code, &r), (1, "INDETERMINATE", "NO_POE"), "{r:#}");

    let (code, r) = verify(&s, &s.sign(RX, "author", NOW - 86_400), at, NOW);
    assert_eq!(
        verdict(code, &r),
        (1, "INDETERMINATE", "OUT_OF_BOUNDS_NO_POE"),
        "{r:#}"
    );
    assert!(
        check(&r, "signing-time")["reason"]
            .as_str()
            .unwrap()
            .contains("2025-12-31T00:00:00Z is outside the signer certificate's validity"),
        "{r:#}"
    );
}
