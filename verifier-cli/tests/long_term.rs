//! Issue 14 item 5 at the command line: a time-stamped signature (B-T) and one with its CRLs
//! embedded (B-LT) show their level, best-signature-time, time-stamps and revocation sources in
//! the text and JSON reports; a B-B signature shows its level and nothing more.

mod own_key;

#[path = "../../ca-core/tests/it/support/bt.rs"]
mod bt;

use ca_core::issue::Registration;
use ca_core::key::{KeyAlgorithm, SigningKey};
use ca_core::store::RevocationReason;
use ca_core::tsp::Tsa;
use own_key::{HOUR, NOW, OwnKey};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_verifier-cli");
const RX: &[u8] = b"Rx: amoxicillin 500 mg, three times daily for 7 days\n";
const TST: u64 = NOW + HOUR + 60;
const DAY: u64 = 86_400;

fn rfc3339(t: u64) -> String {
    ca_core::verify::rfc3339(t)
}

/// A TSA certified by the signer's own CA (the `tsa` profile: timeStamping, critical).
fn tsa(s: &OwnKey) -> Tsa {
    let key = SigningKey::generate(KeyAlgorithm::P256).unwrap();
    let registration = Registration {
        profile: "tsa".into(),
        subject: ca_core::name::parse_subject("C=JP,O=hpki Own Key Tests,CN=hpki TSU 1").unwrap(),
        sans: vec![],
        hc_roles: vec![],
        validity_days: Some(1827),
    };
    let issued = s
        .authority
        .issue(&registration, &own_key::fresh_ca::csr(&key), NOW, "test:ra")
        .unwrap();
    Tsa::new(
        key,
        &issued.certificate,
        &issued.chain,
        "2.25.2026120701.13.1".parse().unwrap(),
    )
    .unwrap()
}

fn crls(s: &OwnKey, at: u64) -> Vec<Vec<u8>> {
    ["root", "sign"]
        .iter()
        .map(|ca| s.authority.crl(ca, at, "test:crl").unwrap())
        .collect()
}

/// `verify` at `at` with the root and `crls`, in `format`.
fn verify(s: &OwnKey, cms: &[u8], at: u64, crls: &[Vec<u8>], format: &str) -> (i32, String) {
    let cms = s.save("doc.p7s", cms);
    let mut cmd = Command::new(BIN);
    cmd.arg("verify")
        .arg("--cms")
        .arg(&cms)
        .arg("--trust-anchor")
        .arg(s.root());
    for (i, crl) in crls.iter().enumerate() {
        cmd.arg("--crl").arg(s.save(&format!("{i}.crl"), crl));
    }
    let out = cmd
        .args(["--at", &rfc3339(at), "--format", format])
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Signed at NOW + 1 h, time-stamped a minute later, revoked (keyCompromise) a day after: with
/// the CRL, verified a week on, B-T is VALID (exit 0) and says why; the B-B original is not.
#[test]
fn the_report_shows_level_proven_time_and_time_stamps() {
    let s = own_key::signer("Medical Doctor");
    let tsa = tsa(&s);
    let bb = s.sign(RX, "author", NOW + HOUR);
    let btt = bt::timestamped(&bb, &tsa, TST);
    s.authority
        .revoke(
            &s.serial,
            RevocationReason::KeyCompromise,
            None,
            NOW + DAY,
            "test:ra",
        )
        .unwrap();
    let crls = crls(&s, NOW + DAY + 60);

    let (code, text) = verify(&s, &btt, NOW + 2 * DAY, &crls, "text");
    assert_eq!(code, 0, "{text}");
    for line in [
        "VALID: TOTAL-PASSED\n".to_string(),
        "  level:   B-T\n".to_string(),
        format!(
            "  existed: {} (best-signature-time, proven by signature time-stamp #1)\n",
            rfc3339(TST)
        ),
        format!(
            "  tst #1:  passed; genTime {}, TSA CN=hpki TSU 1,O=hpki Own Key Tests,C=JP, policy \
             2.25.2026120701.13.1\n",
            rfc3339(TST)
        ),
    ] {
        assert!(text.contains(&line), "no {line:?} in:\n{text}");
    }
    assert!(
        text.lines().any(|l| l.starts_with("  status:  ")
            && l.contains("CN=Jiro Suzuki")
            && l.ends_with(&format!(
                ": CRL (supplied), thisUpdate {}",
                rfc3339(NOW + DAY + 60)
            ))),
        "{text}"
    );

    let (code, json) = verify(&s, &btt, NOW + 2 * DAY, &crls, "json");
    assert_eq!(code, 0, "{json}");
    let r: serde_json::Value = serde_json::from_str(&json).unwrap();
    let sig = &r["signatures"][0];
    assert_eq!(sig["level"], "B-T", "{sig:#}");
    assert_eq!(sig["best_signature_time"], rfc3339(TST));
    assert_eq!(sig["best_signature_time_proof"], "signature time-stamp #1");
    let t = &sig["timestamps"][0];
    assert_eq!(t["number"], 1);
    assert_eq!(t["kind"], "signature-time-stamp");
    assert_eq!(t["outcome"], "passed");
    assert_eq!(t["gen_time"], rfc3339(TST));
    assert_eq!(t["policy"], "2.25.2026120701.13.1");
    assert_eq!(sig["revocation_sources"][0]["origin"], "supplied");
    // The existing fields mean what they meant.
    assert_eq!(r["indication"], "TOTAL-PASSED");
    assert_eq!(sig["indication"], "TOTAL-PASSED");

    // B-B: its level only, and the revocation it cannot escape (exit 1).
    let (code, json) = verify(&s, &bb, NOW + 2 * HOUR, &crls, "json");
    assert_eq!(code, 1, "{json}");
    let r: serde_json::Value = serde_json::from_str(&json).unwrap();
    let sig = &r["signatures"][0];
    assert_eq!(sig["level"], "B-B");
    assert_eq!(r["sub_indication"], "REVOKED_NO_POE");
    for absent in ["best_signature_time", "timestamps", "revocation_sources"] {
        assert!(sig.get(absent).is_none(), "{absent}: {sig:#}");
    }
}

/// B-LT verified three years on with the root alone: the revocation status comes from the CRLs
/// the signature carries; archived (B-LTA), the archive time-stamp is shown.
#[test]
fn b_lt_names_its_embedded_crls() {
    let s = own_key::signer("Medical Doctor");
    let tsa = tsa(&s);
    let btt = bt::timestamped(&s.sign(RX, "author", NOW + HOUR), &tsa, TST);
    let blt = bt::embed_crls(&btt, &crls(&s, TST + 60));
    let (code, text) = verify(&s, &blt, NOW + 3 * 365 * DAY, &[], "text");
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("  level:   B-LT\n"), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("  status:  ")
            && l.contains("CN=Jiro Suzuki")
            && l.contains(": CRL (embedded), thisUpdate ")),
        "{text}"
    );

    // B-LTA: the archive time-stamp on its own line.
    let ats_at = TST + 120;
    let blta = bt::archived(&blt, &tsa, ats_at);
    let (code, text) = verify(&s, &blta, NOW + 3 * 365 * DAY, &[], "text");
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("  level:   B-LTA\n"), "{text}");
    assert!(
        text.contains(&format!(
            "  ats #1:  passed; genTime {}, TSA ",
            rfc3339(ats_at)
        )),
        "{text}"
    );
}
