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
    tsa_and_certificate(s).0
}

/// [`tsa`] and its certificate (DER).
fn tsa_and_certificate(s: &OwnKey) -> (Tsa, Vec<u8>) {
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
    let tsa = Tsa::new(
        key,
        &issued.certificate,
        &issued.chain,
        "2.25.2026120701.13.1".parse().unwrap(),
    )
    .unwrap();
    (tsa, issued.certificate)
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

/// An attached B-T whose time-stamp token's signature value is corrupted (the last octet of the
/// TSA's ECDSA signature flipped, the DER still whole): the token gives no proof of existence,
/// the signature (not revoked) still passes (exit 0) as a B-B one would, and both reports show
/// the token FAILED, SIG_CRYPTO_FAILURE, naming the token's signature as what failed.
#[test]
fn a_time_stamp_with_a_corrupted_signature_is_shown_failed() {
    use der::{Decode, Encode};
    let s = own_key::signer("Medical Doctor");
    let tsa = tsa(&s);
    let bb = s.sign(RX, "author", NOW + HOUR);
    let mut token = bt::token_over(&tsa, &bt::signature_value(&bb), TST);
    let info = cms::content_info::ContentInfo::from_der(&token).unwrap();
    let sd: cms::signed_data::SignedData = info.content.decode_as().unwrap();
    let value = sd
        .signer_infos
        .0
        .iter()
        .next()
        .unwrap()
        .signature
        .to_der()
        .unwrap();
    let at = token
        .windows(value.len())
        .position(|w| w == value.as_slice())
        .unwrap();
    token[at + value.len() - 1] ^= 0x01;
    let btt = bt::attach_unchecked(&bb, &token);
    let crls = crls(&s, TST + 60);

    let (code, text) = verify(&s, &btt, TST + HOUR, &crls, "text");
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("VALID: TOTAL-PASSED\n"), "{text}");
    assert!(text.contains("  level:   B-T\n"), "{text}");
    assert!(!text.contains("  existed: "), "{text}");
    let line = format!(
        "  tst #1:  FAILED (SIG_CRYPTO_FAILURE): the time-stamp token's signature (by the TSA): \
         signature value does not verify; genTime {}, TSA CN=hpki TSU 1,O=hpki Own Key Tests,\
         C=JP, policy 2.25.2026120701.13.1\n",
        rfc3339(TST)
    );
    assert!(text.contains(&line), "no {line:?} in:\n{text}");

    let (code, json) = verify(&s, &btt, TST + HOUR, &crls, "json");
    assert_eq!(code, 0, "{json}");
    let r: serde_json::Value = serde_json::from_str(&json).unwrap();
    let sig = &r["signatures"][0];
    assert!(sig.get("best_signature_time").is_none(), "{sig:#}");
    let t = &sig["timestamps"][0];
    assert_eq!(t["outcome"], "failed", "{t:#}");
    assert_eq!(t["sub_indication"], "SIG_CRYPTO_FAILURE", "{t:#}");
    assert_eq!(
        t["reason"],
        "the time-stamp token's signature (by the TSA): signature value does not verify"
    );
    assert!(
        sig["checks"].as_array().unwrap().iter().any(|c| {
            c["name"] == "signature-time-stamp"
                && c["outcome"] == "warning"
                && c["reason"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("#1 failed, no proof of existence from it: the time-stamp token's signature"))
        }),
        "{sig:#}"
    );
}

/// A detached B-LTA verified with `--content`: its archive time-stamp covers the content's bytes,
/// so verifier-cli reads them (bounded) instead of only streaming them through the hashers, and
/// the archive time-stamp passes and carries the renewal date; before, it failed as a
/// FORMAT_FAILURE asking for the content it had been given.
#[test]
fn a_detached_b_lta_is_checked_against_its_content_file() {
    let s = own_key::signer("Medical Doctor");
    let (tsa, tsa_certificate) = tsa_and_certificate(&s);
    let digest = ca_core::sign::DigestAlgorithm::for_key(&s.key).digest(RX);
    let purpose = ca_core::purpose::SigningPolicy::embedded()
        .unwrap()
        .purpose("author")
        .unwrap()
        .oid;
    let detached = ca_core::sign::sign(&ca_core::sign::SignatureRequest {
        key: &s.key,
        certificate: &s.certificate,
        chain: &s.chain,
        digest: &digest,
        signing_time: NOW + HOUR,
        commitment_type: Some(purpose),
        claimed_role: None,
        attached: None,
    })
    .unwrap();
    let btt = bt::timestamped(&detached, &tsa, TST);
    let blt =
        ca_core::cades::add_validation_data(&btt, &[tsa_certificate], &crls(&s, TST + 60), &[])
            .unwrap();
    let ats_at = TST + 120;
    let blta = bt::archived_detached(&blt, Some(RX), &tsa, ats_at);
    let cms = s.save("detached.p7s", &blta);
    let content = s.save("rx.txt", RX);
    let out = Command::new(BIN)
        .arg("verify")
        .arg("--cms")
        .arg(&cms)
        .arg("--content")
        .arg(&content)
        .arg("--trust-anchor")
        .arg(s.root())
        .args(["--at", &rfc3339(NOW + 3 * 365 * DAY)])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("  level:   B-LTA\n"), "{text}");
    assert!(
        text.contains(&format!(
            "  ats #1:  passed; genTime {}, TSA ",
            rfc3339(ats_at)
        )),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("  renew:   by ") && l.contains("archive-time-stamp-v3 #1")),
        "{text}"
    );
}

/// The authority's own OCSP answer about `cert` (issued by `issuer`) at `at`: a SHA-1 CertID as
/// RFC 5019 clients send.
fn ocsp_answer(s: &OwnKey, cert: &[u8], issuer: &[u8], at: u64) -> Vec<u8> {
    use ca_core::ocsp::{CertId, OcspRequest, Request, TbsRequest};
    use der::asn1::OctetString;
    use der::{Decode, Encode};
    use x509_cert::Certificate;
    let sha1 = |d: &[u8]| ca_core::sign::DigestAlgorithm::Sha1.digest(d);
    let (cert, issuer) = (
        Certificate::from_der(cert).unwrap(),
        Certificate::from_der(issuer).unwrap(),
    );
    let issuer = issuer.tbs_certificate();
    let id = CertId {
        hash_algorithm: x509_cert::spki::AlgorithmIdentifierOwned {
            oid: const_oid::db::rfc5912::ID_SHA_1,
            parameters: None,
        },
        issuer_name_hash: OctetString::new(sha1(&issuer.subject().to_der().unwrap())).unwrap(),
        issuer_key_hash: OctetString::new(sha1(
            issuer
                .subject_public_key_info()
                .subject_public_key
                .raw_bytes(),
        ))
        .unwrap(),
        serial_number: cert.tbs_certificate().serial_number().clone(),
    };
    let request = OcspRequest {
        tbs_request: TbsRequest {
            version: Default::default(),
            requestor_name: None,
            request_list: vec![Request {
                req_cert: id,
                single_request_extensions: None,
            }],
            request_extensions: None,
        },
        optional_signature: None,
    };
    s.authority
        .ocsp_response(&request.to_der().unwrap(), at)
        .unwrap()
        .der
}

/// `verify` with `--ocsp-response` files instead of CRLs.
fn verify_with_ocsp(
    s: &OwnKey,
    cms: &[u8],
    at: u64,
    answers: &[Vec<u8>],
    format: &str,
) -> (i32, String) {
    let cms = s.save("doc.p7s", cms);
    let mut cmd = Command::new(BIN);
    cmd.arg("verify")
        .arg("--cms")
        .arg(&cms)
        .arg("--trust-anchor")
        .arg(s.root());
    for (i, a) in answers.iter().enumerate() {
        cmd.arg("--ocsp-response")
            .arg(s.save(&format!("{i}.ocsp"), a));
    }
    let out = cmd
        .args(["--at", &rfc3339(at), "--format", format])
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// `--ocsp-response`: the relying party's OCSP answers (the signer's and the TSA's from the sign
/// CA's delegated responder, the sign CA's from the root) are its revocation data, reported as
/// "OCSP (supplied)", with the date the first archive time-stamp is due; an answer saying the
/// signer was revoked before the time-stamp is REVOKED (exit 1); a file that is no OCSP response
/// cannot be run (exit 2), naming the file.
#[test]
fn supplied_ocsp_responses_answer_for_the_path() {
    let s = own_key::signer("Medical Doctor");
    let (tsa, tsa_certificate) = tsa_and_certificate(&s);
    let btt = bt::timestamped(&s.sign(RX, "author", NOW + HOUR), &tsa, TST);
    let (sign_ca, root) = (&s.chain[0], &s.chain[1]);
    let at = TST + 600;
    let answers = [
        ocsp_answer(&s, &s.certificate, sign_ca, at),
        ocsp_answer(&s, sign_ca, root, at),
        ocsp_answer(&s, &tsa_certificate, sign_ca, at),
    ];
    let (code, text) = verify_with_ocsp(&s, &btt, NOW + 2 * DAY, &answers, "text");
    assert_eq!(code, 0, "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("  status:  ")
            && l.contains("CN=Jiro Suzuki")
            && l.ends_with(&format!(": OCSP (supplied), thisUpdate {}", rfc3339(at)))),
        "{text}"
    );
    assert!(
        text.contains("  renew:   by ")
            && text.contains(": the TSA certificate of signature-time-stamp #1 expires (notAfter)"),
        "{text}"
    );
    let (code, json) = verify_with_ocsp(&s, &btt, NOW + 2 * DAY, &answers, "json");
    assert_eq!(code, 0, "{json}");
    let r: serde_json::Value = serde_json::from_str(&json).unwrap();
    let sig = &r["signatures"][0];
    let signer = sig["revocation_sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["subject"].as_str().unwrap().contains("Jiro Suzuki"))
        .unwrap();
    assert_eq!(
        (&signer["kind"], &signer["origin"]),
        (&"OCSP".into(), &"supplied".into())
    );
    assert!(sig["renewal_due"].is_string(), "{sig:#}");

    // Revoked before the time-stamp: the responder says so.
    s.authority
        .revoke(
            &s.serial,
            RevocationReason::KeyCompromise,
            None,
            NOW + HOUR - 600,
            "test:ra",
        )
        .unwrap();
    let answers = [
        ocsp_answer(&s, &s.certificate, sign_ca, at),
        ocsp_answer(&s, sign_ca, root, at),
        ocsp_answer(&s, &tsa_certificate, sign_ca, at),
    ];
    let (code, json) = verify_with_ocsp(&s, &btt, NOW + 2 * DAY, &answers, "json");
    assert_eq!(code, 1, "{json}");
    let r: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(r["sub_indication"], "REVOKED", "{r:#}");

    // Not an OCSP response.
    let (code, text) = verify_with_ocsp(&s, &btt, NOW + 2 * DAY, &[b"not ocsp".to_vec()], "text");
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("0.ocsp") && text.contains("OCSP response"),
        "{text}"
    );
}
