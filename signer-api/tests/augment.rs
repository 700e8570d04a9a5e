//! Augmentation for archives (issue 14 item 4): `POST /v1/signatures/augment` and `signer-api
//! augment` raise a CAdES signature, the service's or a foreign one made by OpenSSL (streamed
//! BER, `-cades`), to B-LT and B-LTA and renew its B-LTA; our verifier and `openssl cms -verify`
//! judge the results, and the octets the signature's hashes cover are found unchanged in them.

mod support;

use ca_core::cades::Level;
use ca_core::verify::{Indication, Outcome, Policy, Report, SubIndication, TimestampReport};
use der::{Decode, Encode, Tagged};
use std::path::Path;
use std::process::{Command, Output};
use support::{Reply, Server, admin_ok, audit_list, openssl, spawn, start_fresh};

const LETTER: &[u8] = b"Discharge letter: patient stable, follow-up in two weeks.\n";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The DER of the first PEM block of `path`.
fn pem_der(path: &Path) -> Vec<u8> {
    let pem = std::fs::read(path).unwrap();
    der::pem::decode_vec(&pem).unwrap().1
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

// ---- The signature's parts, decoded independently of the code under test (cms crate) ----

/// RFC 5652 §5.1 SignedData with `crls` as raw elements (cms 0.3 cannot decode an `other`
/// RevocationInfoChoice: its OtherRevocationInfoFormat has an AlgorithmIdentifier).
#[derive(Clone, Debug, der::Sequence)]
struct SignedData {
    version: cms::content_info::CmsVersion,
    digest_algorithms: cms::signed_data::DigestAlgorithmIdentifiers,
    encap_content_info: cms::signed_data::EncapsulatedContentInfo,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    certificates: Option<der::asn1::SetOfVec<cms::cert::CertificateChoices>>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    crls: Option<Vec<der::Any>>,
    signer_infos: cms::signed_data::SignerInfos,
}

fn signed_data(cms_der: &[u8]) -> SignedData {
    let info = cms::content_info::ContentInfo::from_der(cms_der)
        .or_else(|_| cms::content_info::ContentInfo::from_ber(cms_der))
        .unwrap();
    let inner = info.content.to_der().unwrap();
    SignedData::from_der(&inner)
        .or_else(|_| SignedData::from_ber(&inner))
        .unwrap()
}

/// The octets a signature's own hashes cover, as received: the signed attributes' content (their
/// `[0] IMPLICIT` tag differs from the SET the signature is computed over) and the signature
/// value.
fn hashed_octets(cms_der: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let sd = signed_data(cms_der);
    let si = sd.signer_infos.0.get(0).unwrap();
    let attrs = si.signed_attrs.as_ref().unwrap().to_der().unwrap();
    // A SET of under 64 KiB: tag, 0x82, two length octets at most.
    let header = if attrs[1] & 0x80 == 0 {
        2
    } else {
        2 + usize::from(attrs[1] & 0x7f)
    };
    (attrs[header..].to_vec(), si.signature.as_bytes().to_vec())
}

/// The CRLs carried in `SignedData.crls` (the `other` choices left out).
fn carried_crls(cms_der: &[u8]) -> Vec<Vec<u8>> {
    signed_data(cms_der)
        .crls
        .iter()
        .flatten()
        .filter(|c| c.tag() == der::Tag::Sequence)
        .map(|c| c.to_der().unwrap())
        .collect()
}

fn carried_certificates(cms_der: &[u8]) -> Vec<Vec<u8>> {
    signed_data(cms_der)
        .certificates
        .iter()
        .flat_map(|set| set.iter())
        .map(|c| c.to_der().unwrap())
        .collect()
}

// ---- Our verifier ----

fn verify(cms_der: &[u8], content: Option<&[u8]>, anchors: &[Vec<u8>]) -> Report {
    let mut policy = Policy::new(now() + 1);
    policy.trust_anchors = anchors.to_vec();
    ca_core::verify::verify_bytes(cms_der, content, &policy)
}

fn archives(report: &Report) -> Vec<&TimestampReport> {
    report.signatures[0]
        .timestamps
        .iter()
        .filter(|t| t.kind == "archive-time-stamp-v3")
        .collect()
}

/// TOTAL-PASSED at `level` with `archive_count` archive time-stamps, each passed.
fn assert_valid(report: &Report, level: Level, archive_count: usize) {
    let json = serde_json::to_string_pretty(report).unwrap();
    assert_eq!(report.indication, Indication::TotalPassed, "{json}");
    assert_eq!(report.signatures[0].level, Some(level), "{json}");
    let archives = archives(report);
    assert_eq!(archives.len(), archive_count, "{json}");
    assert!(
        archives.iter().all(|t| t.outcome == Outcome::Passed),
        "{json}"
    );
}

/// `cms` with the last octet of `element` (a certificate or CRL it carries) changed: every
/// archive time-stamp fails as a hash failure naming the changed element, and the report's
/// archive-time-stamp checks say so. (Whether that alone fails a signature still valid today
/// is the verifier's policy: it reports each as a lost proof of existence.)
fn assert_tamper_named(cms_der: &[u8], element: &[u8], anchors: &[Vec<u8>], what: &str) {
    let at = find(cms_der, element).unwrap_or_else(|| panic!("{what} not carried"));
    let mut tampered = cms_der.to_vec();
    tampered[at + element.len() - 1] ^= 0x01;
    let report = verify(&tampered, None, anchors);
    let json = serde_json::to_string_pretty(&report).unwrap();
    let archives = archives(&report);
    assert!(!archives.is_empty(), "{what}: {json}");
    for t in archives {
        assert_eq!(
            (t.outcome, t.sub_indication),
            (Outcome::Failed, Some(SubIndication::HashFailure)),
            "{what}: {json}"
        );
        let named = format!(
            "it covered (SHA-256 {}) is no longer in the signature",
            hex::encode(ring::digest::digest(&ring::digest::SHA256, element))
        );
        assert!(t.reason.contains(&named), "{what}: {}", t.reason);
    }
    let note = report.signatures[0]
        .checks
        .iter()
        .find(|c| c.name == "archive-time-stamp")
        .unwrap_or_else(|| panic!("{what}: {json}"));
    assert!(note.reason.contains("failed"), "{what}: {}", note.reason);
}

fn cms_verify(dir: &Path, cms_der: &[u8], content: Option<&[u8]>, ca: &Path) -> (bool, String) {
    std::fs::write(dir.join("check.p7m"), cms_der).unwrap();
    let mut args = vec![
        "cms".to_owned(),
        "-verify".into(),
        "-binary".into(),
        "-inform".into(),
        "DER".into(),
        "-in".into(),
        "check.p7m".into(),
        "-CAfile".into(),
        ca.display().to_string(),
        "-out".into(),
        "/dev/null".into(),
    ];
    if let Some(content) = content {
        std::fs::write(dir.join("check.content"), content).unwrap();
        args.extend(["-content".into(), "check.content".into()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    openssl::run(dir, &args)
}

// ---- HTTP ----

fn augment_raw(server: &Server, token: &str, cms_der: &[u8], level: &str) -> Reply {
    server.post_bytes(
        &format!("/v1/signatures/augment?level={level}"),
        Some(token),
        "application/pkcs7-signature",
        cms_der,
    )
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

/// A B-T signature over LETTER by the demo credential (attached or detached).
fn sign_b_t(server: &Server, credential: &str, token: &str, attached: bool) -> Vec<u8> {
    let r = server.post_bytes(
        &format!(
            "/v1/signatures?credential={credential}&purpose=author&attached={attached}&level=B-T"
        ),
        Some(token),
        "application/octet-stream",
        LETTER,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(ca_core::cades::detect_level(&r.body, 0).unwrap(), Level::BT);
    r.body
}

/// A signature made by the service at B-T, raised over HTTP to B-LT (raw form, an ra token),
/// to B-LTA (JSON form, the practitioner's token), renewed twice: our verifier reports each
/// level TOTAL-PASSED with every archive time-stamp passed, OpenSSL still verifies the CMS
/// signature, and a byte changed in a covered CRL or certificate fails every archive time-stamp
/// by name. The signed attributes and signature value never change; each raise is audited.
#[test]
fn http_raises_a_service_signature_to_b_lt_then_b_lta_and_renews_it_twice() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut server, demo) = start_fresh(&data, &[]);
    let root = pem_der(&data.join("ca/root.pem"));
    let anchors = vec![root];
    let b_t = sign_b_t(&server, &demo.credential, &demo.signer, true);
    let hashed = hashed_octets(&b_t);

    let r = augment_raw(&server, &demo.ra, &b_t, "B-LT");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.content_type, "application/pkcs7-signature");
    let b_lt = r.body;
    assert_eq!(ca_core::cades::detect_level(&b_lt, 0).unwrap(), Level::BLT);
    let report = verify(&b_lt, None, &anchors);
    assert_valid(&report, Level::BLT, 0);
    // Until the first archive time-stamp, the signature time-stamp carries the proof: renewal is
    // due before its TSA certificate expires.
    let why = report.signatures[0]
        .renewal_due_reason
        .as_deref()
        .unwrap_or_default();
    assert!(why.contains("signature-time-stamp #1"), "{why}");
    assert!(!carried_crls(&b_lt).is_empty());

    let r = server.post_json(
        "/v1/signatures/augment",
        Some(&demo.signer),
        &serde_json::json!({"signature": b64(&b_lt), "level": "B-LTA"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    assert_eq!(j["level"], "B-LTA");
    assert_eq!(j["timestamp_tokens"].as_array().unwrap().len(), 1, "{j}");
    let mut b_lta = unb64(j["signature"].as_str().unwrap());
    assert_valid(&verify(&b_lta, None, &anchors), Level::BLTA, 1);

    for count in [2, 3] {
        let r = augment_raw(&server, &demo.ra, &b_lta, "B-LTA");
        assert_eq!(r.status, 200, "renewal {count}: {}", r.text());
        b_lta = r.body;
        let report = verify(&b_lta, None, &anchors);
        assert_valid(&report, Level::BLTA, count);
        // The renewal advice is carried by an archive time-stamp from B-LTA on (their numbers
        // are their places in the DER SET OF, not their order in time).
        let s = &report.signatures[0];
        assert!(s.renewal_due.is_some(), "{s:#?}");
        let why = s.renewal_due_reason.as_deref().unwrap_or_default();
        assert!(why.contains("archive-time-stamp-v3 #"), "{why}");
    }
    assert_eq!(hashed_octets(&b_lta), hashed);
    let (ok, text) = cms_verify(dir.path(), &b_lta, None, &data.join("ca/root.pem"));
    assert!(ok && text.contains("Verification successful"), "{text}");

    let crl = carried_crls(&b_lta).remove(0);
    assert_tamper_named(&b_lta, &crl, &anchors, "a covered CRL");
    // The TSA's certificate: carried since B-LT, so covered by every archive time-stamp.
    let tsa = server.get("/v1/timestamps/certificate", None);
    assert_eq!(tsa.status, 200);
    let tsa_cert = ca_core::verify::decode_certificates(&tsa.body)
        .unwrap()
        .remove(0);
    assert!(carried_certificates(&b_lta).contains(&tsa_cert));
    assert_tamper_named(&b_lta, &tsa_cert, &anchors, "a covered certificate");

    server.kill();
    let records = audit_list(&data);
    let augments: Vec<_> = records
        .iter()
        .filter(|r| r["event"]["action"] == "augment")
        .collect();
    assert_eq!(augments.len(), 4, "{augments:#?}");
    assert!(
        augments[0]["event"]["actor"]
            .as_str()
            .unwrap()
            .starts_with("token:")
    );
}

/// A detached signature: the JSON form carries its content, which the archive time-stamp
/// covers; without it B-LTA is refused (400, naming the content) and nothing is recorded.
#[test]
fn http_raises_a_detached_signature_with_its_content() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (server, demo) = start_fresh(&data, &[]);
    let anchors = vec![pem_der(&data.join("ca/root.pem"))];
    let b_t = sign_b_t(&server, &demo.credential, &demo.signer, false);

    let r = server.post_json(
        "/v1/signatures/augment",
        Some(&demo.ra),
        &serde_json::json!({"signature": b64(&b_t), "level": "B-LTA"}),
    );
    let detail = r.problem(400);
    assert!(detail.contains("content"), "{detail}");

    let r = server.post_json(
        "/v1/signatures/augment",
        Some(&demo.ra),
        &serde_json::json!({"signature": b64(&b_t), "content": b64(LETTER), "level": "B-LTA"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let b_lta = unb64(r.json()["signature"].as_str().unwrap());
    assert_valid(&verify(&b_lta, Some(LETTER), &anchors), Level::BLTA, 1);
    let (ok, text) = cms_verify(dir.path(), &b_lta, Some(LETTER), &data.join("ca/root.pem"));
    assert!(ok && text.contains("Verification successful"), "{text}");
}

/// A foreign signature (OpenSSL's streamed BER) over HTTP: the JSON form carries the foreign
/// signer's CRL and OCSP response, which are embedded beside this installation's data for its
/// own TSA; the result validates under both roots and keeps the hashed octets. A supplied CRL
/// that is not one is a 400 naming it.
#[test]
fn http_raises_a_foreign_signature_with_supplied_validation_data() {
    let dir = tempfile::tempdir().unwrap();
    let (work, data) = (dir.path(), dir.path().join("data"));
    let (server, demo) = start_fresh(&data, &[]);
    foreign_pki(work);
    let ber = foreign_signature(work, true, "stream.p7m");
    let crl = std::fs::read(work.join("root.crl")).unwrap();
    let ocsp = std::fs::read(work.join("resp.der")).unwrap();
    let leaf = pem_der(&work.join("leaf.pem"));

    let r = server.post_json(
        "/v1/signatures/augment",
        Some(&demo.ra),
        &serde_json::json!({"signature": b64(&ber), "level": "B-LT", "crls": [b64(&leaf)]}),
    );
    let detail = r.problem(400);
    assert!(detail.contains("CRL 0"), "{detail}");

    let r = server.post_json(
        "/v1/signatures/augment",
        Some(&demo.ra),
        &serde_json::json!({"signature": b64(&ber), "level": "B-LTA", "crls": [b64(&crl)],
            "ocsp_responses": [b64(&ocsp)], "certificates": [b64(&pem_der(&work.join("root.pem")))]}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let b_lta = unb64(r.json()["signature"].as_str().unwrap());
    assert!(find(&b_lta, &crl).is_some() && find(&b_lta, &ocsp).is_some());
    assert_eq!(hashed_octets(&b_lta), hashed_octets(&ber));
    let anchors = vec![
        pem_der(&work.join("root.pem")),
        pem_der(&data.join("ca/root.pem")),
    ];
    assert_valid(&verify(&b_lta, None, &anchors), Level::BLTA, 1);
    let (ok, text) = cms_verify(work, &b_lta, None, &work.join("root.pem"));
    assert!(ok && text.contains("Verification successful"), "{text}");
}

/// Bad requests are problem+json 4xx naming what is wrong, before any time-stamp is spent: no
/// `augment` or `timestamp` record is written by any of them.
#[test]
fn http_refuses_bad_augmentation_requests_and_records_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut server, demo) = start_fresh(&data, &[("HPKI_VERIFICATION_LIMIT", "65536")]);
    let b_t = sign_b_t(&server, &demo.credential, &demo.signer, true);
    let path = "/v1/signatures/augment";

    let r = server.post_bytes(
        &format!("{path}?level=B-LT"),
        None,
        "application/pkcs7-signature",
        &b_t,
    );
    r.problem(401);
    let r = server.post_bytes(path, Some(&demo.ra), "text/plain", &b_t);
    assert!(r.problem(415).contains("application/pkcs7-signature"));
    let r = server.post_bytes(path, Some(&demo.ra), "application/pkcs7-signature", &b_t);
    assert!(r.problem(400).contains("level"));
    let r = augment_raw(&server, &demo.ra, &b_t, "B-T");
    assert!(r.problem(400).contains("B-LTA"), "{}", r.text());
    let r = server.post_bytes(
        &format!("{path}?level=B-LT"),
        Some(&demo.ra),
        "application/json",
        br#"{"signature":"","level":"B-LT"}"#,
    );
    assert!(r.problem(400).contains("query"));
    let r = augment_raw(&server, &demo.ra, b"not a signature", "B-LT");
    let detail = r.problem(400);
    assert!(detail.contains("SignedData"), "{detail}");
    let r = server.post_json(
        path,
        Some(&demo.ra),
        &serde_json::json!({"signature": "***", "level": "B-LT"}),
    );
    assert!(r.problem(400).contains("signature"));
    let r = server.post_json(path, Some(&demo.ra), &serde_json::json!({"signature": b64(&b_t), "level": "B-LTA", "content": b64(b"another letter")}));
    assert!(r.problem(400).contains("differs"), "{}", r.text());
    // Over limits.verification_bytes: 413, declared or not.
    let big = vec![0x30; 70_000];
    let r = augment_raw(&server, &demo.ra, &big, "B-LT");
    assert!(r.problem(413).contains("65536"), "{}", r.text());
    // Each refusal is counted by its reason.
    let metrics = server.get("/metrics", None).text();
    for outcome in [
        "too_large",
        "unsupported_media",
        "missing",
        "not_cades",
        "base64",
    ] {
        let series = format!("hpki_augmentations_total{{outcome=\"{outcome}\"}}");
        assert!(metrics.contains(&series), "{series} in {metrics}");
    }

    server.kill();
    let records = audit_list(&data);
    assert!(
        !records.iter().any(|r| r["event"]["action"] == "augment"),
        "{records:#?}"
    );
}

// ---- A foreign PKI made by OpenSSL, and the CLI ----

/// In `dir`: a foreign root (`root.pem`, `root.key`) certifying a signer (`leaf.pem`,
/// `leaf.key`) through `openssl ca`, the root's CRL (`root.crl`, DER) and an OCSP response
/// (`resp.der`, good) about the signer signed by the root.
fn foreign_pki(dir: &Path) {
    openssl::ec_root(dir, "/C=DE/O=Foreign Clinic/CN=Foreign Clinic Root", "3650");
    openssl::ca_state(dir);
    openssl::ec_request(dir, "leaf", "/CN=Dr Erika Muster");
    openssl::ca_issue(dir, "leaf");
    openssl::ca_crl(dir);
    openssl::ok(
        dir,
        &[
            "ocsp",
            "-issuer",
            "root.pem",
            "-cert",
            "leaf.pem",
            "-no_nonce",
            "-reqout",
            "req.der",
        ],
    );
    openssl::ok(
        dir,
        &[
            "ocsp",
            "-index",
            "index.txt",
            "-CA",
            "root.pem",
            "-rsigner",
            "root.pem",
            "-rkey",
            "root.key",
            "-reqin",
            "req.der",
            "-respout",
            "resp.der",
            "-ndays",
            "1",
        ],
    );
    std::fs::write(dir.join("letter.txt"), LETTER).unwrap();
}

/// `openssl cms -sign -cades` by the foreign signer over `letter.txt` into `out`: streamed
/// (indefinite-length BER, attached) or detached DER.
fn foreign_signature(dir: &Path, streamed: bool, out: &str) -> Vec<u8> {
    let mut args = vec![
        "cms",
        "-sign",
        "-cades",
        "-binary",
        "-outform",
        "DER",
        "-md",
        "sha256",
        "-signer",
        "leaf.pem",
        "-inkey",
        "leaf.key",
        "-in",
        "letter.txt",
        "-out",
        out,
    ];
    if streamed {
        args.extend(["-stream", "-nodetach"]);
    }
    openssl::ok(dir, &args);
    let cms_der = std::fs::read(dir.join(out)).unwrap();
    assert_eq!(
        cms_der[..2] == [0x30, 0x80],
        streamed,
        "indefinite-length BER when streamed"
    );
    cms_der
}

fn cli(data: &Path, dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_signer-api"))
        .current_dir(dir)
        .arg("--data-dir")
        .arg(data)
        .arg("augment")
        .args(args)
        .env_remove("HPKI_PASSPHRASE")
        .output()
        .unwrap()
}

fn cli_ok(data: &Path, dir: &Path, args: &[&str]) -> String {
    let out = cli(data, dir, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "augment {args:?}: {stderr}");
    stderr
}

/// Exit status 2 with one `error:` message containing `expect`, and `out` not written.
fn cli_fails(data: &Path, dir: &Path, args: &[&str], expect: &str, out: &Path) {
    let result = cli(data, dir, args);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(2), "augment {args:?}: {stderr}");
    assert!(stderr.contains(expect), "augment {args:?}: {stderr}");
    assert!(!out.exists(), "augment {args:?} wrote {out:?}");
}

fn init(data: &Path) {
    admin_ok(data, &["init"]);
}

/// OpenSSL's streamed BER `-cades` signature, raised offline on a stopped data directory with
/// the built-in TSA: B-LT from the foreign CRL and OCSP response files, B-LTA, then renewed in
/// place. Its signed attributes and signature value are found byte-identical in the output;
/// the encapsulated content keeps its indefinite-length BER; OpenSSL and our verifier accept it
/// (the foreign root and ours as anchors), and each run is audited as the CLI's.
#[test]
fn cli_raises_a_foreign_streamed_ber_signature_offline() {
    let dir = tempfile::tempdir().unwrap();
    let (work, data) = (dir.path(), dir.path().join("data"));
    init(&data);
    foreign_pki(work);
    let ber = foreign_signature(work, true, "stream.p7m");
    let (signed_attrs, signature_value) = hashed_octets(&ber);

    let stderr = cli_ok(
        &data,
        work,
        &[
            "--in",
            "stream.p7m",
            "--level",
            "B-LT",
            "--crl",
            "root.crl.pem",
            "--ocsp-response",
            "resp.der",
            "--cert",
            "root.pem",
            "--out",
            "lt.p7m",
        ],
    );
    assert!(stderr.contains("B-LT"), "{stderr}");
    let b_lt = std::fs::read(work.join("lt.p7m")).unwrap();
    assert!(find(&b_lt, &std::fs::read(work.join("resp.der")).unwrap()).is_some());
    assert!(find(&b_lt, &std::fs::read(work.join("root.crl")).unwrap()).is_some());

    cli_ok(
        &data,
        work,
        &["--in", "lt.p7m", "--level", "B-LTA", "--out", "lta.p7m"],
    );
    let stderr = cli_ok(
        &data,
        work,
        &["--in", "lta.p7m", "--level", "B-LTA", "--out", "lta.p7m"],
    );
    assert!(stderr.contains("B-LTA"), "{stderr}");
    let b_lta = std::fs::read(work.join("lta.p7m")).unwrap();

    for (what, octets) in [
        ("signedAttrs", &signed_attrs),
        ("signature", &signature_value),
    ] {
        assert!(find(&b_lta, octets).is_some(), "{what} changed");
    }
    // The encapsulated content: [0] and OCTET STRING, both constructed with indefinite lengths.
    assert!(find(&b_lta, &[0xA0, 0x80, 0x24, 0x80]).is_some());

    let anchors = vec![
        pem_der(&work.join("root.pem")),
        pem_der(&data.join("ca/root.pem")),
    ];
    assert_valid(&verify(&b_lta, None, &anchors), Level::BLTA, 2);
    let (ok, text) = cms_verify(work, &b_lta, None, &work.join("root.pem"));
    assert!(ok && text.contains("Verification successful"), "{text}");
    let crl = std::fs::read(work.join("root.crl")).unwrap();
    assert_tamper_named(&b_lta, &crl, &anchors, "the foreign CRL");

    let augments: Vec<_> = audit_list(&data)
        .into_iter()
        .filter(|r| r["event"]["action"] == "augment")
        .collect();
    assert_eq!(augments.len(), 3);
    assert!(augments.iter().all(|r| r["event"]["actor"] == "cli"));
}

/// A detached DER `-cades` signature needs its content for B-LTA (`--content`); refusals exit 2
/// with one message and write nothing: no content, a signature that is not one, a CRL file
/// that is not a CRL, an oversized OCSP response file, a level that is not B-LT or B-LTA, and a
/// data directory in use by a running service.
#[test]
fn cli_raises_a_detached_signature_and_refuses_bad_input_writing_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (work, data) = (dir.path(), dir.path().join("data"));
    init(&data);
    foreign_pki(work);
    foreign_signature(work, false, "detached.p7s");
    let out = work.join("out.p7s");
    let before = audit_list(&data).len();

    cli_fails(
        &data,
        work,
        &[
            "--in",
            "detached.p7s",
            "--level",
            "B-LTA",
            "--crl",
            "root.crl",
            "--out",
            "out.p7s",
        ],
        "content",
        &out,
    );
    std::fs::write(work.join("garbage"), b"not a signature").unwrap();
    cli_fails(
        &data,
        work,
        &["--in", "garbage", "--level", "B-LT", "--out", "out.p7s"],
        "SignedData",
        &out,
    );
    cli_fails(
        &data,
        work,
        &[
            "--in",
            "detached.p7s",
            "--level",
            "B-LT",
            "--crl",
            "leaf.pem",
            "--out",
            "out.p7s",
        ],
        "--crl leaf.pem",
        &out,
    );
    cli_fails(
        &data,
        work,
        &[
            "--in",
            "detached.p7s",
            "--level",
            "B-LT",
            "--crl",
            "root.crl",
            "--ocsp-response",
            "root.crl",
            "--out",
            "out.p7s",
        ],
        "OCSP response 0",
        &out,
    );
    std::fs::write(work.join("huge.der"), vec![0u8; (1 << 20) + 1]).unwrap();
    cli_fails(
        &data,
        work,
        &[
            "--in",
            "detached.p7s",
            "--level",
            "B-LT",
            "--ocsp-response",
            "huge.der",
            "--out",
            "out.p7s",
        ],
        "over the limit",
        &out,
    );
    cli_fails(
        &data,
        work,
        &["--in", "detached.p7s", "--level", "B-T", "--out", "out.p7s"],
        "B-LT",
        &out,
    );
    assert_eq!(
        audit_list(&data).len(),
        before,
        "a refusal wrote audit records"
    );

    let stderr = cli_ok(
        &data,
        work,
        &[
            "--in",
            "detached.p7s",
            "--content",
            "letter.txt",
            "--level",
            "B-LTA",
            "--crl",
            "root.crl",
            "--ocsp-response",
            "resp.der",
            "--out",
            "out.p7s",
        ],
    );
    assert!(stderr.contains("B-LTA"), "{stderr}");
    let b_lta = std::fs::read(&out).unwrap();
    let anchors = vec![
        pem_der(&work.join("root.pem")),
        pem_der(&data.join("ca/root.pem")),
    ];
    assert_valid(&verify(&b_lta, Some(LETTER), &anchors), Level::BLTA, 1);
    let (ok, text) = cms_verify(work, &b_lta, Some(LETTER), &work.join("root.pem"));
    assert!(ok && text.contains("Verification successful"), "{text}");

    // Beside a running service: one message, exit 2.
    std::fs::remove_file(&out).unwrap();
    let (server, _) = spawn(&data, &[]);
    cli_fails(
        &data,
        work,
        &[
            "--in",
            "detached.p7s",
            "--level",
            "B-LT",
            "--crl",
            "root.crl",
            "--out",
            "out.p7s",
        ],
        "in use by a running signer-api",
        &out,
    );
    drop(server);
}

/// `--tsa URL` asks a foreign TSA: another installation's service, reached over HTTP, whose
/// root is given with `--tsa-ca`. The tokens are that TSA's and validate against its root; a
/// TSA that does not answer, or one not under the given anchor, exit 2 and write nothing.
#[test]
fn cli_uses_a_foreign_tsa_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let (tsa_data, data) = (work.join("tsa-data"), work.join("data"));
    let (tsa_server, _) = start_fresh(&tsa_data, &[]);
    init(&data);
    foreign_pki(work);
    foreign_signature(work, true, "stream.p7m");
    let url = format!("{}/v1/timestamps", tsa_server.base);
    let tsa_root = tsa_data.join("ca/root.pem");
    let tsa_root = tsa_root.to_str().unwrap();
    // The foreign TSA's CRLs, for its certificate's validation data.
    for ca in ["root", "sign"] {
        let r = tsa_server.get(&format!("/v1/crl/{ca}"), None);
        assert_eq!(r.status, 200);
        std::fs::write(work.join(format!("tsa-{ca}.crl")), &r.body).unwrap();
    }
    let chain = tsa_server.get("/v1/timestamps/certificate", None);
    std::fs::write(work.join("tsa-chain.pem"), &chain.body).unwrap();
    let out = work.join("lta.p7m");

    cli_fails(
        &data,
        work,
        &[
            "--in",
            "stream.p7m",
            "--level",
            "B-LTA",
            "--tsa",
            &url,
            "--tsa-ca",
            "root.pem",
            "--out",
            "lta.p7m",
        ],
        "not trusted",
        &out,
    );
    cli_fails(
        &data,
        work,
        &[
            "--in",
            "stream.p7m",
            "--level",
            "B-LTA",
            "--tsa",
            "http://127.0.0.1:9/v1/timestamps",
            "--tsa-ca",
            tsa_root,
            "--out",
            "lta.p7m",
        ],
        "http://127.0.0.1:9/v1/timestamps",
        &out,
    );

    cli_ok(
        &data,
        work,
        &[
            "--in",
            "stream.p7m",
            "--level",
            "B-LTA",
            "--tsa",
            &url,
            "--tsa-ca",
            tsa_root,
            "--cert",
            "tsa-chain.pem",
            "--crl",
            "root.crl",
            "--crl",
            "tsa-root.crl",
            "--crl",
            "tsa-sign.crl",
            "--ocsp-response",
            "resp.der",
            "--out",
            "lta.p7m",
        ],
    );
    let b_lta = std::fs::read(&out).unwrap();
    // Only the foreign TSA's root and the signer's: this installation made no token.
    let anchors = vec![
        pem_der(&work.join("root.pem")),
        pem_der(Path::new(tsa_root)),
    ];
    assert_valid(&verify(&b_lta, None, &anchors), Level::BLTA, 1);
    let tsa_cert = ca_core::verify::decode_certificates(&chain.body)
        .unwrap()
        .remove(0);
    assert!(carried_certificates(&b_lta).contains(&tsa_cert));
    drop(tsa_server);
    // The foreign TSA's tokens are audited there, as `timestamp` records of its route.
    let stamps = audit_list(&tsa_data)
        .into_iter()
        .filter(|r| r["event"]["action"] == "timestamp")
        .count();
    // The refused run's signature time-stamp (its token not trusted here), then the signature
    // and archive time-stamps of the run that succeeded.
    assert_eq!(stamps, 3);
    let augment = audit_list(&data)
        .into_iter()
        .find(|r| r["event"]["action"] == "augment")
        .unwrap();
    assert_eq!(support::detail(&augment, "tsa"), Some(url.as_str()));
}

// ---- Co-signed documents: several SignerInfos ----

/// A second signer of the foreign PKI (`leaf2.pem`, `leaf2.key`: the pharmacist), and the root's
/// CRL issued again after it (`root.crl.pem`, `root.crl`).
fn second_foreign_signer(dir: &Path) {
    openssl::ec_request(dir, "leaf2", "/CN=Pharmacist Paul Apotheker");
    openssl::ca_issue(dir, "leaf2");
    openssl::ca_crl(dir);
}

/// `cms` with one more SignerInfo by the foreign `who` (`who.pem`, `who.key`) over the same
/// content: `openssl cms -resign`, as a pharmacist countersigns a dispensing record.
fn resign(dir: &Path, cms_der: &[u8], who: &str, out: &str) -> Vec<u8> {
    let input = format!("{out}.in");
    std::fs::write(dir.join(&input), cms_der).unwrap();
    let (cert, key) = (format!("{who}.pem"), format!("{who}.key"));
    openssl::ok(
        dir,
        &[
            "cms", "-resign", "-cades", "-binary", "-md", "sha256", "-inform", "DER", "-in",
            &input, "-outform", "DER", "-out", out, "-signer", &cert, "-inkey", &key,
        ],
    );
    let cms_der = std::fs::read(dir.join(out)).unwrap();
    assert_eq!(signed_data(&cms_der).signer_infos.0.len(), 2);
    cms_der
}

/// The levels each SignerInfo's structure reaches, in the order carried.
fn levels(cms_der: &[u8]) -> Vec<Level> {
    (0..2)
        .map(|i| ca_core::cades::detect_level(cms_der, i).unwrap())
        .collect()
}

/// Both signatures TOTAL-PASSED at `level`, each with `archive_count` archive time-stamps,
/// every one passed.
fn assert_both_valid(report: &Report, level: Level, archive_count: usize) {
    let json = serde_json::to_string_pretty(report).unwrap();
    assert_eq!(report.indication, Indication::TotalPassed, "{json}");
    assert_eq!(report.signatures.len(), 2, "{json}");
    for s in &report.signatures {
        assert_eq!(s.indication, Indication::TotalPassed, "{json}");
        assert_eq!(s.level, Some(level), "{json}");
        let archives: Vec<_> = s
            .timestamps
            .iter()
            .filter(|t| t.kind == "archive-time-stamp-v3")
            .collect();
        assert_eq!(archives.len(), archive_count, "{json}");
        assert!(
            archives.iter().all(|t| t.outcome == Outcome::Passed),
            "{json}"
        );
    }
}

/// The signature values of every SignerInfo (what must never change), sorted: the decoder
/// re-sorts the SET OF SignerInfo by encoding, and augmenting changes the encodings.
fn signature_values(cms_der: &[u8]) -> Vec<Vec<u8>> {
    let mut values: Vec<Vec<u8>> = signed_data(cms_der)
        .signer_infos
        .0
        .iter()
        .map(|si| si.signature.as_bytes().to_vec())
        .collect();
    values.sort();
    values
}

/// Our B-T signature countersigned by a foreign OpenSSL signer (B-B): `signer` naming ours
/// raises only it (the other stays B-B), `signer=2` is a 400 naming it; then every signer is raised
/// (JSON, with the foreign validation data) to B-LT, B-LTA and renewed (raw): our verifier
/// reports both signatures TOTAL-PASSED with each one's archive time-stamps passed (the first
/// signer's still pass after the second's are added), OpenSSL verifies both, and one audit
/// record names both signers.
#[test]
fn http_raises_every_signer_of_a_co_signed_document_or_the_one_selected() {
    let dir = tempfile::tempdir().unwrap();
    let (work, data) = (dir.path(), dir.path().join("data"));
    let (mut server, demo) = start_fresh(&data, &[]);
    foreign_pki(work);
    let ours = sign_b_t(&server, &demo.credential, &demo.signer, true);
    let both = resign(work, &ours, "leaf", "both.p7m");
    // OpenSSL writes the SET OF SignerInfos sorted (DER): ours is where the B-T one is.
    let from = levels(&both);
    let o = from.iter().position(|l| *l == Level::BT).unwrap();
    let f = 1 - o;
    assert_eq!(from[f], Level::BB);
    let values = signature_values(&both);
    let anchors = vec![
        pem_der(&work.join("root.pem")),
        pem_der(&data.join("ca/root.pem")),
    ];

    let r = server.post_bytes(
        &format!("/v1/signatures/augment?level=B-LT&signer={o}"),
        Some(&demo.ra),
        "application/pkcs7-signature",
        &both,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let raised = levels(&r.body);
    assert_eq!((raised[o], raised[f]), (Level::BLT, Level::BB));

    let r = server.post_bytes(
        "/v1/signatures/augment?level=B-LT&signer=2",
        Some(&demo.ra),
        "application/pkcs7-signature",
        &both,
    );
    let detail = r.problem(400);
    assert!(detail.contains("no signer 2"), "{detail}");
    let r = server.post_json(
        "/v1/signatures/augment?signer=0",
        Some(&demo.ra),
        &serde_json::json!({"signature": b64(&both), "level": "B-LT"}),
    );
    let detail = r.problem(400);
    assert!(detail.contains("signer in its body"), "{detail}");

    let r = server.post_json(
        "/v1/signatures/augment",
        Some(&demo.ra),
        &serde_json::json!({"signature": b64(&both), "level": "B-LT",
            "crls": [b64(&std::fs::read(work.join("root.crl")).unwrap())],
            "ocsp_responses": [b64(&std::fs::read(work.join("resp.der")).unwrap())],
            "certificates": [b64(&pem_der(&work.join("root.pem")))]}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    assert_eq!(j["level"], "B-LT", "{j}");
    let signers = j["signers"].as_array().unwrap();
    assert_eq!(signers.len(), 2, "{j}");
    for (i, from) in [(o, "B-T"), (f, "B-B")] {
        assert_eq!(signers[i]["index"], i, "{j}");
        assert_eq!(signers[i]["from_level"], from, "{j}");
        assert_eq!(signers[i]["level"], "B-LT", "{j}");
    }
    assert_ne!(signers[0]["sid"], signers[1]["sid"], "{j}");
    // One signature time-stamp: the foreign signer had none.
    assert_eq!(j["timestamp_tokens"].as_array().unwrap().len(), 1, "{j}");
    let b_lt = unb64(j["signature"].as_str().unwrap());
    assert_both_valid(&verify(&b_lt, None, &anchors), Level::BLT, 0);

    let r = augment_raw(&server, &demo.ra, &b_lt, "B-LTA");
    assert_eq!(r.status, 200, "{}", r.text());
    let mut b_lta = r.body;
    assert_eq!(levels(&b_lta), [Level::BLTA, Level::BLTA]);
    assert_both_valid(&verify(&b_lta, None, &anchors), Level::BLTA, 1);
    let r = augment_raw(&server, &demo.ra, &b_lta, "B-LTA");
    assert_eq!(r.status, 200, "{}", r.text());
    b_lta = r.body;
    assert_both_valid(&verify(&b_lta, None, &anchors), Level::BLTA, 2);

    assert_eq!(signature_values(&b_lta), values);
    let bundle = work.join("anchors.pem");
    std::fs::write(
        &bundle,
        [
            std::fs::read(work.join("root.pem")).unwrap(),
            std::fs::read(data.join("ca/root.pem")).unwrap(),
        ]
        .concat(),
    )
    .unwrap();
    let (ok, text) = cms_verify(work, &b_lta, None, &bundle);
    assert!(ok && text.contains("Verification successful"), "{text}");

    server.kill();
    let records = audit_list(&data);
    let last = records
        .iter()
        .rfind(|r| r["event"]["action"] == "augment")
        .unwrap();
    let details = last["event"]["details"].to_string();
    let named = |key: &str| {
        last["event"]["details"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d[0] == key)
            .map(|d| d[1].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(named("signer_index"), ["0", "1"], "{details}");
    assert_eq!(named("level"), ["B-LTA", "B-LTA"], "{details}");
    assert_eq!(named("signer").len(), 2, "{details}");
}

/// Two OpenSSL signers (doctor, then pharmacist by `-resign`), raised offline: `--signer` out of
/// range exits 2 writing nothing; `--signer` selecting one raises only it (the other stays
/// B-B); then every signer goes to B-LT (the foreign CRL and OCSP response), B-LTA and is
/// renewed in place: both signatures TOTAL-PASSED with their archive time-stamps passed,
/// OpenSSL verifies both, the signature values are unchanged, and stderr names each signer.
#[test]
fn cli_raises_every_signer_of_a_co_signed_document_or_the_one_selected() {
    let dir = tempfile::tempdir().unwrap();
    let (work, data) = (dir.path(), dir.path().join("data"));
    init(&data);
    foreign_pki(work);
    second_foreign_signer(work);
    // Attached, so the archive time-stamps need no --content.
    let doctor = {
        openssl::ok(
            work,
            &[
                "cms",
                "-sign",
                "-cades",
                "-binary",
                "-nodetach",
                "-outform",
                "DER",
                "-md",
                "sha256",
                "-signer",
                "leaf.pem",
                "-inkey",
                "leaf.key",
                "-in",
                "letter.txt",
                "-out",
                "doctor.p7m",
            ],
        );
        std::fs::read(work.join("doctor.p7m")).unwrap()
    };
    let both = resign(work, &doctor, "leaf2", "both.p7m");
    assert_eq!(levels(&both), [Level::BB, Level::BB]);
    let values = signature_values(&both);
    let validation = [
        "--crl",
        "root.crl.pem",
        "--ocsp-response",
        "resp.der",
        "--cert",
        "root.pem",
    ];

    cli_fails(
        &data,
        work,
        &[
            "--in", "both.p7m", "--level", "B-LT", "--signer", "2", "--out", "bad.p7m",
        ],
        "no signer 2",
        &work.join("bad.p7m"),
    );

    let mut args = vec![
        "--in", "both.p7m", "--level", "B-LT", "--signer", "1", "--out", "one.p7m",
    ];
    args.extend(validation);
    let stderr = cli_ok(&data, work, &args);
    assert!(stderr.contains("signer 1 ("), "{stderr}");
    assert!(!stderr.contains("signer 0 ("), "{stderr}");
    assert_eq!(
        levels(&std::fs::read(work.join("one.p7m")).unwrap()),
        [Level::BB, Level::BLT]
    );

    let mut args = vec!["--in", "both.p7m", "--level", "B-LT", "--out", "lt.p7m"];
    args.extend(validation);
    let stderr = cli_ok(&data, work, &args);
    assert!(
        stderr.contains("signer 0 (") && stderr.contains("signer 1 ("),
        "{stderr}"
    );
    let anchors = vec![
        pem_der(&work.join("root.pem")),
        pem_der(&data.join("ca/root.pem")),
    ];
    assert_both_valid(
        &verify(&std::fs::read(work.join("lt.p7m")).unwrap(), None, &anchors),
        Level::BLT,
        0,
    );

    cli_ok(
        &data,
        work,
        &["--in", "lt.p7m", "--level", "B-LTA", "--out", "lta.p7m"],
    );
    assert_both_valid(
        &verify(
            &std::fs::read(work.join("lta.p7m")).unwrap(),
            None,
            &anchors,
        ),
        Level::BLTA,
        1,
    );
    cli_ok(
        &data,
        work,
        &["--in", "lta.p7m", "--level", "B-LTA", "--out", "lta.p7m"],
    );
    let b_lta = std::fs::read(work.join("lta.p7m")).unwrap();
    assert_eq!(levels(&b_lta), [Level::BLTA, Level::BLTA]);
    assert_both_valid(&verify(&b_lta, None, &anchors), Level::BLTA, 2);
    assert_eq!(signature_values(&b_lta), values);
    let (ok, text) = cms_verify(work, &b_lta, None, &work.join("root.pem"));
    assert!(ok && text.contains("Verification successful"), "{text}");
}
