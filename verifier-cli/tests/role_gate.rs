//! Issue 11 item 8: the role × purpose gate of the ISO 17090 validation policy applies to every
//! signature, not only to keys the service holds. A pharmacist signs with their own key as
//! "author" (a purpose `policies/purposes/signing.toml` gives physicians only).

mod own_key;

use own_key::{HOUR, NOW};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_verifier-cli");
const RX: &[u8] = b"Rx: amoxicillin 500 mg, three times daily for 7 days\n";

fn verify(s: &own_key::OwnKey, cms: &std::path::Path, more: &[&str]) -> (i32, serde_json::Value) {
    let out = Command::new(BIN)
        .arg("verify")
        .arg("--cms")
        .arg(cms)
        .arg("--trust-anchor")
        .arg(s.root())
        .args(["--at", "2026-01-01T02:00:00Z", "--format", "json"])
        .args(more)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout} {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), report)
}

fn gate(report: &serde_json::Value) -> &serde_json::Value {
    report["signatures"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "role-purpose")
        .unwrap_or_else(|| panic!("no role-purpose check: {report:#}"))
}

#[test]
fn a_pharmacists_own_key_author_signature_fails_the_iso_policy_only() {
    let s = own_key::signer("Pharmacist");
    let author = s.save("author.p7s", &s.sign(RX, "author", NOW + HOUR));

    let (code, r) = verify(&s, &author, &[]);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["indication"], "INDETERMINATE", "{r:#}");
    assert_eq!(r["sub_indication"], "SIG_CONSTRAINTS_FAILURE", "{r:#}");
    let reason = gate(&r)["reason"].as_str().unwrap();
    assert!(
        reason.contains("1.2.392.100495.1.6.1.1:Pharmacist")
            && reason.contains("may not sign with purpose author"),
        "{reason}"
    );

    // RFC 5280 + RFC 5652 only: no role gate.
    let (code, r) = verify(&s, &author, &["--policy", "generic"]);
    assert_eq!(
        (code, &r["indication"]),
        (0, &"TOTAL-PASSED".into()),
        "{r:#}"
    );
    assert!(
        r["signatures"][0]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["name"] != "role-purpose"),
        "{r:#}"
    );

    // A purpose the pharmacist's row lists passes the gate.
    let review = s.save("review.p7s", &s.sign(RX, "review", NOW + HOUR));
    let (code, r) = verify(&s, &review, &[]);
    assert_eq!(
        (code, &r["indication"]),
        (0, &"TOTAL-PASSED".into()),
        "{r:#}"
    );
    assert_eq!(gate(&r)["outcome"], "passed", "{r:#}");
}

/// `--signing-policy`: an operator's table (file, or a policies directory) replaces the shipped
/// one; one that lets pharmacists author accepts the signature.
#[test]
fn an_operators_signing_policy_decides_the_gate() {
    let s = own_key::signer("Pharmacist");
    let author = s.save("author.p7s", &s.sign(RX, "author", NOW + HOUR));
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../policies/purposes/signing.toml"
    ))
    .unwrap();
    let lenient = shipped.replacen(
        "text = \"Pharmacist\"\npurposes = [\n",
        "text = \"Pharmacist\"\npurposes = [\n    \"author\",\n",
        1,
    );
    assert_ne!(lenient, shipped, "the Pharmacist row moved");
    let file = s.save("signing.toml", lenient.as_bytes());
    let (code, r) = verify(&s, &author, &["--signing-policy", file.to_str().unwrap()]);
    assert_eq!(
        (code, &r["indication"]),
        (0, &"TOTAL-PASSED".into()),
        "{r:#}"
    );

    let dir = s.path().join("policies");
    std::fs::create_dir_all(dir.join("purposes")).unwrap();
    std::fs::write(dir.join("purposes/signing.toml"), &lenient).unwrap();
    let (code, r) = verify(&s, &author, &["--signing-policy", dir.to_str().unwrap()]);
    assert_eq!(
        (code, &r["indication"]),
        (0, &"TOTAL-PASSED".into()),
        "{r:#}"
    );

    // The shipped table from a directory: refused again.
    std::fs::write(dir.join("purposes/signing.toml"), &shipped).unwrap();
    let (code, r) = verify(&s, &author, &["--signing-policy", dir.to_str().unwrap()]);
    assert_eq!(
        (code, &r["sub_indication"]),
        (1, &"SIG_CONSTRAINTS_FAILURE".into())
    );

    // An unusable table is a usage error (exit 2) naming the file.
    let bad = s.save("bad.toml", b"[[purpose]]\nname = \"Author\"\n");
    let out = Command::new(BIN)
        .args(["verify", "--cms", author.to_str().unwrap()])
        .args(["--signing-policy", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bad.toml"),
        "{out:?}"
    );
}
