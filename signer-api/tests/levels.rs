//! Signing at a CAdES level over HTTP (issue 14 item 3): `level` = B-B | B-T | B-LT | B-LTA,
//! B-T by default while a TSA is configured; what each level must and must not carry
//! (ETSI EN 319 122-1 §5.3 – §5.5), checked by decoding the signature; `openssl cms -verify`
//! and ca-core's verifier accept each; a foreign RFC 3161 TSA (`openssl ts -reply` behind a
//! small HTTP shim) time-stamps instead of the built-in one, and a token it signs under another
//! anchor is refused.

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ca_core::cades::{self, Level};
use ca_core::oid;
use const_oid::ObjectIdentifier;
use der::Decode;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use support::{Demo, Server, audit_list, detail, openssl, sha256, start_fresh};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

const DOC: &[u8] = b"Rx: amoxicillin 500 mg, three times daily for 7 days\n";

// ---- a DER walker: the cms crate's RevocationInfoChoice.other is not RFC 5652's ----

/// One DER element: its identifier octet, its content and its whole encoding.
#[derive(Clone, Copy)]
struct Tlv<'a> {
    tag: u8,
    content: &'a [u8],
    raw: &'a [u8],
}

fn tlv(input: &[u8]) -> (Tlv<'_>, &[u8]) {
    let tag = input[0];
    let (len, head) = match input[1] {
        n if n < 0x80 => (n as usize, 2),
        n => {
            let k = (n & 0x7f) as usize;
            let len = input[2..2 + k]
                .iter()
                .fold(0usize, |a, b| (a << 8) | *b as usize);
            (len, 2 + k)
        }
    };
    let raw = &input[..head + len];
    (
        Tlv {
            tag,
            content: &input[head..head + len],
            raw,
        },
        &input[head + len..],
    )
}

fn children(t: Tlv<'_>) -> Vec<Tlv<'_>> {
    let mut out = Vec::new();
    let mut rest = t.content;
    while !rest.is_empty() {
        let (child, next) = tlv(rest);
        out.push(child);
        rest = next;
    }
    out
}

/// The parts of a SignedData a level is about.
struct Parts<'a> {
    certificates: Vec<Tlv<'a>>,
    crls: Vec<Tlv<'a>>,
    /// The signature value octets of SignerInfo 0.
    signature: &'a [u8],
    /// SignerInfo 0's unsigned attributes: (type, values).
    unsigned: Vec<(ObjectIdentifier, Vec<Tlv<'a>>)>,
}

fn parts(content_info: &[u8]) -> Parts<'_> {
    let (ci, _) = tlv(content_info);
    let explicit = children(ci)[1];
    let sd = children(explicit)[0];
    let fields = children(sd);
    let field = |tag| fields.iter().find(|f| f.tag == tag).copied();
    let certificates = field(0xa0).map(children).unwrap_or_default();
    let crls = field(0xa1).map(children).unwrap_or_default();
    let signer_infos = children(*fields.last().unwrap());
    let si = children(signer_infos[0]);
    let (signature, unsigned) = match si.last().unwrap().tag {
        0xa1 => (si[si.len() - 2].content, children(*si.last().unwrap())),
        _ => (si.last().unwrap().content, Vec::new()),
    };
    let unsigned = unsigned
        .into_iter()
        .map(|a| {
            let kv = children(a);
            (
                ObjectIdentifier::from_der(kv[0].raw).unwrap(),
                children(kv[1]),
            )
        })
        .collect();
    Parts {
        certificates,
        crls,
        signature,
        unsigned,
    }
}

fn attribute<'a>(p: &'a Parts<'_>, kind: ObjectIdentifier) -> Vec<Tlv<'a>> {
    p.unsigned
        .iter()
        .filter(|(k, _)| *k == kind)
        .flat_map(|(_, v)| v.iter().copied())
        .collect()
}

/// The serials (content octets) that the OCSP responses carried in `crls` answer for.
fn ocsp_serials(p: &Parts<'_>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for choice in p.crls.iter().filter(|c| c.tag == 0xa1) {
        let kv = children(*choice);
        assert_eq!(
            ObjectIdentifier::from_der(kv[0].raw).unwrap(),
            oid::ID_RI_OCSP_RESPONSE
        );
        let response = ca_core::ocsp::OcspResponse::from_der(kv[1].raw).unwrap();
        let bytes = response.response_bytes.unwrap();
        let basic = ca_core::ocsp::BasicOcspResponse::from_der(bytes.response.as_bytes()).unwrap();
        for single in basic.tbs_response_data.responses {
            assert!(
                matches!(single.cert_status, ca_core::ocsp::CertStatus::Good(_)),
                "an OCSP answer carried says good"
            );
            out.push(single.cert_id.serial_number.as_bytes().to_vec());
        }
    }
    out
}

/// The issuers (DER of the Name) of the CRLs carried.
fn crl_issuers(p: &Parts<'_>) -> Vec<Vec<u8>> {
    p.crls
        .iter()
        .filter(|c| c.tag == 0x30)
        .map(|c| {
            let crl =
                x509_cert::crl::CertificateList::<x509_cert::certificate::Rfc5280>::from_der(c.raw)
                    .unwrap();
            der::Encode::to_der(&crl.tbs_cert_list.issuer).unwrap()
        })
        .collect()
}

fn serial_of(cert_der: &[u8]) -> Vec<u8> {
    x509_cert::Certificate::from_der(cert_der)
        .unwrap()
        .tbs_certificate()
        .serial_number()
        .as_bytes()
        .to_vec()
}

fn subject_of(cert_der: &[u8]) -> Vec<u8> {
    let cert = x509_cert::Certificate::from_der(cert_der).unwrap();
    der::Encode::to_der(cert.tbs_certificate().subject()).unwrap()
}

fn pem_certificates(path: &Path) -> Vec<Vec<u8>> {
    ca_core::verify::decode_certificates(&std::fs::read(path).unwrap()).unwrap()
}

// ---- HTTP ----

fn sign_raw(server: &Server, demo: &Demo, query: &str) -> support::Reply {
    server.post_bytes(
        &format!(
            "/v1/signatures?credential={}&purpose=author{query}",
            demo.credential
        ),
        Some(&demo.signer),
        "application/octet-stream",
        DOC,
    )
}

fn signed(server: &Server, demo: &Demo, query: &str) -> Vec<u8> {
    let r = sign_raw(server, demo, query);
    assert_eq!(r.status, 201, "{query}: {}", r.text());
    r.body
}

fn sign_digest(server: &Server, demo: &Demo, level: Option<&str>) -> support::Reply {
    let mut body = serde_json::json!({
        "credential": demo.credential,
        "digest": B64.encode(sha256(DOC)),
        "digest_algorithm": "sha256",
        "purpose": "author",
    });
    if let Some(level) = level {
        body["level"] = level.into();
    }
    server.post_json("/v1/signatures", Some(&demo.signer), &body)
}

/// `openssl cms -verify` against the installation's root, with the content when detached.
fn cms_verify(dir: &Path, signature: &[u8], detached: bool) {
    std::fs::write(dir.join("sig.p7s"), signature).unwrap();
    std::fs::write(dir.join("doc.txt"), DOC).unwrap();
    let root = dir.join("data/ca/root.pem");
    let mut args = vec![
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        "sig.p7s",
        "-CAfile",
        root.to_str().unwrap(),
        "-purpose",
        "any",
        "-out",
        "out.txt",
    ];
    if detached {
        args.extend_from_slice(&["-content", "doc.txt"]);
    }
    let (ok, out) = openssl::run(dir, &args);
    assert!(ok, "openssl cms -verify: {out}");
    assert_eq!(std::fs::read(dir.join("out.txt")).unwrap(), DOC);
}

/// ca-core's verifier against the installation's root: the level it detects and its indication.
fn verify(dir: &Path, signature: &[u8], detached: bool) -> ca_core::verify::SignatureReport {
    let mut policy = ca_core::verify::Policy::new(now());
    policy.trust_anchors = pem_certificates(&dir.join("data/ca/root.pem"));
    let report = ca_core::verify::verify_bytes(signature, detached.then_some(DOC), &policy);
    assert_eq!(
        report.indication,
        ca_core::verify::Indication::TotalPassed,
        "{}",
        serde_json::to_string_pretty(&report).unwrap()
    );
    report.signatures.into_iter().next().unwrap()
}

#[test]
fn each_level_carries_what_en_319_122_1_asks_and_b_t_is_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (server, demo) = start_fresh(&d.join("data"), &[]);
    let tsa = server.get("/v1/timestamps/certificate", None);
    let tsa_chain = if tsa.status == 200 {
        ca_core::verify::decode_certificates(&tsa.body).unwrap()
    } else {
        Vec::new()
    };
    let roots = pem_certificates(&d.join("data/ca/root.pem"));
    let root_subject = subject_of(&roots[0]);

    // The OpenAPI document names the levels and the statuses a level adds.
    let doc = server.get("/openapi.json", None).json();
    let post = &doc["paths"]["/v1/signatures"]["post"];
    for status in ["400", "409", "502"] {
        assert!(post["responses"][status].is_object(), "{status}: {post}");
    }
    assert_eq!(
        doc["components"]["schemas"]["LevelName"]["enum"],
        serde_json::json!(["B-B", "B-T", "B-LT", "B-LTA"]),
        "{}",
        doc["components"]["schemas"]["LevelName"]
    );

    // Default: B-T, raw and digest alike.
    let default = signed(&server, &demo, "");
    assert_eq!(cades::detect_level(&default, 0).unwrap(), Level::BT);
    let r = sign_digest(&server, &demo, None);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["level"], "B-T");
    let digest_sig = B64.decode(r.json()["signature"].as_str().unwrap()).unwrap();
    assert_eq!(cades::detect_level(&digest_sig, 0).unwrap(), Level::BT);

    // B-B: no time-stamp at all.
    let bb = signed(&server, &demo, "&level=B-B");
    let p = parts(&bb);
    assert_eq!(cades::detect_level(&bb, 0).unwrap(), Level::BB);
    assert!(p.unsigned.is_empty(), "B-B has no unsigned attribute");
    assert!(p.crls.is_empty());
    let r = sign_digest(&server, &demo, Some("B-B"));
    assert_eq!(r.json()["level"], "B-B", "{}", r.text());

    // B-T: exactly one signature time-stamp, over the signature value.
    let bt = signed(&server, &demo, "&level=B-T");
    let p = parts(&bt);
    let stamps = attribute(&p, oid::ID_AA_SIGNATURE_TIME_STAMP_TOKEN);
    assert_eq!(stamps.len(), 1, "one signature-time-stamp");
    let info = ca_core::tsp::tst_info(stamps[0].raw).unwrap();
    assert_eq!(
        info.message_imprint.hashed_message.as_bytes(),
        sha256(p.signature),
        "the imprint is the SHA-256 of the signature value"
    );
    assert!(p.crls.is_empty(), "B-T carries no revocation data");
    let token_serial = info.serial_number.as_bytes().to_vec();

    // B-LT: the CRLs of the signing CA and the root, OCSP answers for the signer and the TSA,
    // and no certificate-values / revocation-values attribute.
    let blt = signed(&server, &demo, "&level=B-LT");
    let p = parts(&blt);
    assert_eq!(cades::detect_level(&blt, 0).unwrap(), Level::BLT);
    assert_eq!(
        attribute(&p, oid::ID_AA_SIGNATURE_TIME_STAMP_TOKEN).len(),
        1
    );
    assert!(attribute(&p, oid::ID_AA_ETS_CERT_VALUES).is_empty());
    assert!(attribute(&p, oid::ID_AA_ETS_REVOCATION_VALUES).is_empty());
    let issuers = crl_issuers(&p);
    assert!(
        issuers.contains(&root_subject),
        "the root's CRL is carried (it covers the sub-CAs)"
    );
    assert!(
        issuers.len() >= 2,
        "the signing CA's CRL too: {}",
        issuers.len()
    );
    let answered = ocsp_serials(&p);
    let signer_cert = p
        .certificates
        .iter()
        .map(|c| c.raw.to_vec())
        .find(|c| {
            !tsa_chain.contains(c) && !roots.contains(c) && {
                let cert = x509_cert::Certificate::from_der(c).unwrap();
                cert.tbs_certificate()
                    .subject()
                    .to_string()
                    .contains("DEMO-0001")
            }
        })
        .expect("the signer's certificate is carried");
    assert!(
        answered.contains(&serial_of(&signer_cert)),
        "an OCSP answer for the signer"
    );
    if let Some(tsa_cert) = tsa_chain.first() {
        assert!(
            answered.contains(&serial_of(tsa_cert)),
            "an OCSP answer for the TSA"
        );
        let carried: Vec<&[u8]> = p.certificates.iter().map(|c| c.raw).collect();
        assert!(
            carried.contains(&tsa_cert.as_slice()),
            "the TSA certificate"
        );
    }

    // B-LTA: an archive-time-stamp-v3 whose token carries its ats-hash-index-v3.
    let blta = signed(&server, &demo, "&level=B-LTA");
    let p = parts(&blta);
    assert_eq!(cades::detect_level(&blta, 0).unwrap(), Level::BLTA);
    let archive = attribute(&p, oid::ID_AA_ETS_ARCHIVE_TIMESTAMP_V3);
    assert_eq!(archive.len(), 1, "one archive-time-stamp-v3");
    let token = parts(archive[0].raw);
    assert_eq!(
        attribute(&token, oid::ID_AA_ATS_HASH_INDEX_V3).len(),
        1,
        "the archive token carries ats-hash-index-v3"
    );
    assert!(!crl_issuers(&p).is_empty() && !ocsp_serials(&p).is_empty());

    // The Hpki-Level header asks for a level too, and the answer names the level reached.
    let r = support::agent()
        .post(&format!(
            "{}/v1/signatures?credential={}&purpose=author",
            server.base, demo.credential
        ))
        .set("Authorization", &format!("Bearer {}", demo.signer))
        .set("Content-Type", "application/octet-stream")
        .set("Hpki-Level", "B-LT")
        .send_bytes(DOC)
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.header("Hpki-Level"), Some("B-LT"));
    let mut body = Vec::new();
    r.into_reader().read_to_end(&mut body).unwrap();
    assert_eq!(cades::detect_level(&body, 0).unwrap(), Level::BLT);

    // Case does not matter; an unknown level is refused before anything is signed.
    assert_eq!(
        cades::detect_level(&signed(&server, &demo, "&level=b-lt"), 0).unwrap(),
        Level::BLT
    );
    let bad = sign_raw(&server, &demo, "&level=B-X");
    let why = bad.problem(400);
    assert!(why.contains("level") && why.contains("B-LTA"), "{why}");
    let bad = sign_digest(&server, &demo, Some("LTA"));
    assert!(bad.problem(400).contains("level"), "{}", bad.text());

    // The audit log: the B-T token's `timestamp` record, then the `sign` record naming the
    // level and that token.
    drop(server);
    let audit = audit_list(&d.join("data"));
    let stamp = audit
        .iter()
        .position(|r| {
            r["event"]["action"] == "timestamp"
                && r["event"]["object"] == format!("timestamp:{}", hex::encode(&token_serial))
        })
        .expect("the B-T token is audited");
    let sign = &audit[stamp + 1..]
        .iter()
        .find(|r| r["event"]["action"] == "sign")
        .expect("its signature's record follows");
    assert_eq!(detail(sign, "level"), Some("B-T"), "{sign}");
    assert_eq!(
        detail(sign, "timestamps"),
        Some(hex::encode(&token_serial).as_str()),
        "{sign}"
    );
    assert_eq!(detail(sign, "tsa"), Some("builtin"), "{sign}");
    let b_b = audit
        .iter()
        .filter(|r| r["event"]["action"] == "sign")
        .find(|r| detail(r, "level").is_none());
    assert!(b_b.is_some(), "a B-B signature's record is as before");
}

#[test]
fn openssl_and_our_verifier_accept_every_level_attached_and_detached() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (server, demo) = start_fresh(&d.join("data"), &[]);
    for level in ["B-T", "B-LT", "B-LTA"] {
        for attached in [false, true] {
            let sig = signed(
                &server,
                &demo,
                &format!("&level={level}&attached={attached}"),
            );
            cms_verify(d, &sig, !attached);
            let report = verify(d, &sig, !attached);
            assert_eq!(
                report.level.map(|l| l.as_str()),
                Some(level),
                "{level} attached={attached}"
            );
            assert!(
                report.best_signature_time.is_some(),
                "{level}: the time-stamp proves existence"
            );
        }
    }
}

#[test]
fn without_a_tsa_the_default_is_b_b_and_a_time_stamp_level_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The shipped profiles without the `tsa` profile: no built-in TSA.
    let policies = d.join("policies");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies"),
        &policies,
    );
    std::fs::remove_file(policies.join("tsa.toml")).unwrap();
    let (server, demo) = start_fresh(
        &d.join("data"),
        &[("HPKI_POLICIES", policies.to_str().unwrap())],
    );
    let sig = signed(&server, &demo, "");
    assert_eq!(cades::detect_level(&sig, 0).unwrap(), Level::BB);
    for level in ["B-T", "B-LT", "B-LTA"] {
        let r = sign_raw(&server, &demo, &format!("&level={level}"));
        let why = r.problem(409);
        assert!(
            why.contains(level) && why.contains("time-stamping authority"),
            "{why}"
        );
        let r = sign_digest(&server, &demo, Some(level));
        assert!(r.problem(409).contains(level), "{}", r.text());
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

// ---- a foreign TSA: `openssl ts -reply` behind an HTTP shim ----

/// An openssl root CA and a TSA certificate under it (EKU timeStamping, critical), in `dir`:
/// `root.pem`, `tsa.pem`, `tsa.key`, `ts.cnf`.
fn openssl_tsa(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    openssl::ec_root(dir, "/CN=Foreign TSA Root", "30");
    openssl::ec_request(dir, "tsa", "/CN=Foreign TSA");
    std::fs::write(
        dir.join("tsa.ext"),
        "basicConstraints=critical,CA:false\nkeyUsage=critical,digitalSignature\n\
         extendedKeyUsage=critical,timeStamping\n",
    )
    .unwrap();
    openssl::ok(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "tsa.csr",
            "-CA",
            "root.pem",
            "-CAkey",
            "root.key",
            "-CAcreateserial",
            "-days",
            "20",
            "-extfile",
            "tsa.ext",
            "-out",
            "tsa.pem",
        ],
    );
    std::fs::write(
        dir.join("ts.cnf"),
        "[ tsa ]\ndefault_tsa = tsa1\n[ tsa1 ]\nserial = ./serial\nsigner_cert = ./tsa.pem\n\
         certs = ./tsa.pem\nsigner_key = ./tsa.key\nsigner_digest = sha256\n\
         default_policy = 1.2.3.4.1\ndigests = sha256, sha384, sha512\naccuracy = secs:1\n\
         ess_cert_id_alg = sha256\n",
    )
    .unwrap();
    std::fs::write(dir.join("serial"), "01\n").unwrap();
}

/// An HTTP server on port 0 answering each POST with `openssl ts -reply` run in `dir`; each
/// request's `Authorization` header is sent on the returned channel.
fn shim(dir: &Path) -> (String, std::sync::mpsc::Receiver<Option<String>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/tsa", listener.local_addr().unwrap());
    let dir = dir.to_owned();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            let mut authorization = None;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                if lower.starts_with("authorization:") {
                    authorization = Some(line["authorization:".len()..].trim().to_owned());
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let _ = tx.send(authorization);
            std::fs::write(dir.join("req.tsq"), &body).unwrap();
            let (ok, out) = openssl::run(
                &dir,
                &[
                    "ts",
                    "-reply",
                    "-config",
                    "ts.cnf",
                    "-queryfile",
                    "req.tsq",
                    "-out",
                    "resp.tsr",
                ],
            );
            assert!(ok, "openssl ts -reply: {out}");
            let reply = std::fs::read(dir.join("resp.tsr")).unwrap();
            let mut stream = stream;
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/timestamp-reply\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                reply.len()
            )
            .unwrap();
            stream.write_all(&reply).unwrap();
        }
    });
    (url, rx)
}

#[test]
fn a_foreign_tsa_time_stamps_the_signature_and_an_untrusted_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tsa_dir = d.join("foreign");
    openssl_tsa(&tsa_dir);
    let (url, requests) = shim(&tsa_dir);
    let anchor = tsa_dir.join("root.pem");
    let (server, demo) = start_fresh(
        &d.join("data"),
        &[
            ("HPKI_TSA_URL", url.as_str()),
            ("HPKI_TSA_TRUST_ANCHOR", anchor.to_str().unwrap()),
            ("HPKI_TSA_USERNAME", "hospital"),
            ("HPKI_TSA_PASSWORD", "s3cret"),
        ],
    );
    // B-T by default, the token from the foreign TSA (its certificate, its policy).
    let sig = signed(&server, &demo, "");
    let p = parts(&sig);
    let stamps = attribute(&p, oid::ID_AA_SIGNATURE_TIME_STAMP_TOKEN);
    assert_eq!(stamps.len(), 1);
    let info = ca_core::tsp::tst_info(stamps[0].raw).unwrap();
    assert_eq!(info.policy.to_string(), "1.2.3.4.1", "openssl's policy");
    assert_eq!(
        info.message_imprint.hashed_message.as_bytes(),
        sha256(p.signature)
    );
    let token = parts(stamps[0].raw);
    let tsa_cert = pem_certificates(&tsa_dir.join("tsa.pem")).remove(0);
    assert!(
        token
            .certificates
            .iter()
            .any(|c| c.raw == tsa_cert.as_slice())
    );
    // The shim got HTTP basic credentials.
    assert_eq!(
        requests.try_recv().unwrap().as_deref(),
        Some(format!("Basic {}", B64.encode("hospital:s3cret")).as_str())
    );
    // openssl checks the token's own signature and TSA chain.
    std::fs::write(d.join("token.der"), stamps[0].raw).unwrap();
    std::fs::write(d.join("sigvalue.bin"), p.signature).unwrap();
    let (ok, out) = openssl::run(
        d,
        &[
            "ts",
            "-verify",
            "-token_in",
            "-in",
            "token.der",
            "-data",
            "sigvalue.bin",
            "-CAfile",
            anchor.to_str().unwrap(),
        ],
    );
    assert!(ok, "openssl ts -verify: {out}");
    cms_verify(d, &sig, true);
    // Our verifier, trusting the foreign TSA's root as well.
    let mut policy = ca_core::verify::Policy::new(now());
    policy.trust_anchors = pem_certificates(&d.join("data/ca/root.pem"));
    policy.trust_anchors.extend(pem_certificates(&anchor));
    let report = ca_core::verify::verify_bytes(&sig, Some(DOC), &policy);
    assert_eq!(
        report.indication,
        ca_core::verify::Indication::TotalPassed,
        "{}",
        serde_json::to_string_pretty(&report).unwrap()
    );
    assert_eq!(report.signatures[0].level, Some(Level::BT));
    drop(server);

    // The same TSA configured under another anchor: its token is refused, nothing signed.
    let other = d.join("other");
    openssl_tsa(&other);
    let data2 = d.join("data2");
    let (server, demo) = start_fresh(
        &data2,
        &[
            ("HPKI_TSA_URL", url.as_str()),
            (
                "HPKI_TSA_TRUST_ANCHOR",
                other.join("root.pem").to_str().unwrap(),
            ),
        ],
    );
    let r = sign_raw(&server, &demo, "&level=B-T");
    let why = r.problem(502);
    assert!(why.contains("not trusted") && why.contains(&url), "{why}");
    let r = sign_digest(&server, &demo, None);
    assert!(r.problem(502).contains("not trusted"), "{}", r.text());
    // B-B needs no TSA and still signs.
    assert_eq!(
        cades::detect_level(&signed(&server, &demo, "&level=B-B"), 0).unwrap(),
        Level::BB
    );
    drop(server);
    let audit = audit_list(&data2);
    let signs: Vec<_> = audit
        .iter()
        .filter(|r| r["event"]["action"] == "sign")
        .collect();
    assert_eq!(
        signs.len(),
        1,
        "only the B-B signature was handed out and audited"
    );
}
