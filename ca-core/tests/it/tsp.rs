//! The RFC 3161 time-stamping authority (`ca_core::tsp::Tsa`): OpenSSL's `ts` command requests,
//! reads and verifies our tokens; rejections carry the RFC 3161 §2.4.2 failure bits.

use crate::support::sign_fixture::{only_signer, pem, signed_data};
use crate::support::tsa::{NOW, POLICY, fixture};

use ca_core::oid;
use ca_core::sign::SigningCertificateV2;
use ca_core::tsp::{
    ClientError, FailureInfo, MAX_REQUEST_LEN, MessageImprint, STATUS_GRANTED, STATUS_REJECTION,
    TimeStampReq, TimeStampResp, TspError, TstInfo,
};
use cms::signed_data::SignedData;
use const_oid::ObjectIdentifier;
use der::asn1::{Int, OctetString};
use der::{Decode, Encode};
use spki::AlgorithmIdentifierOwned;
use std::path::Path;
use std::process::{Command, Output};

/// genTime of the tokens: an hour after the TSA certificate was issued.
const GEN_TIME: u64 = NOW + 3_600;

fn run_openssl(dir: &Path, args: &[&str]) -> Output {
    Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the openssl CLI is required by these tests (.ci/run installs it)")
}

/// `openssl ts -query -data doc.txt -sha256 extra…` in `dir`: the request's DER.
fn openssl_query(dir: &Path, extra: &[&str]) -> Vec<u8> {
    std::fs::write(dir.join("doc.txt"), b"discharge letter\n").unwrap();
    let args = [
        &["ts", "-query", "-data", "doc.txt", "-out", "req.tsq"][..],
        extra,
    ]
    .concat();
    let out = run_openssl(dir, &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(dir.join("req.tsq")).unwrap()
}

fn response(der: &[u8]) -> TimeStampResp {
    TimeStampResp::from_der(der).unwrap()
}

/// The token's SignedData and its TSTInfo.
fn token(resp: &TimeStampResp) -> (SignedData, TstInfo) {
    let token = resp
        .time_stamp_token
        .as_ref()
        .expect("a token")
        .to_der()
        .unwrap();
    let sd = signed_data(&token);
    assert_eq!(sd.encap_content_info.econtent_type, oid::ID_CT_TST_INFO);
    let econtent = sd.encap_content_info.econtent.as_ref().expect("eContent");
    let info = TstInfo::from_der(econtent.decode_as::<OctetString>().unwrap().as_bytes()).unwrap();
    (sd, info)
}

fn write_pems(dir: &Path, name: &str, certs: &[&[u8]]) {
    let text: String = certs.iter().map(|c| pem(c)).collect();
    std::fs::write(dir.join(name), text).unwrap();
}

/// `openssl ts -verify` of resp.tsr against req.tsq in `dir`, with root.pem trusted.
fn openssl_verify(dir: &Path, untrusted: &str) -> Output {
    run_openssl(
        dir,
        &[
            "ts",
            "-verify",
            "-in",
            "resp.tsr",
            "-queryfile",
            "req.tsq",
            "-CAfile",
            "root.pem",
            "-untrusted",
            untrusted,
        ],
    )
}

#[test]
fn openssl_reads_and_verifies_a_token() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let req = openssl_query(dir.path(), &["-sha256", "-cert"]);
    let der = f.tsa.timestamp(&req, GEN_TIME).unwrap();
    std::fs::write(dir.path().join("resp.tsr"), &der).unwrap();

    let text = run_openssl(dir.path(), &["ts", "-reply", "-in", "resp.tsr", "-text"]);
    assert!(text.status.success());
    let text = String::from_utf8_lossy(&text.stdout);
    for want in [
        "Status: Granted.",
        &format!("Policy OID: {POLICY}"),
        "Hash Algorithm: sha256",
        // GEN_TIME = 2026-01-01T01:00:00Z.
        "Time stamp: Jan  1 01:00:00 2026 GMT",
        "Accuracy: 0x01 seconds, unspecified millis, unspecified micros",
        "Ordering: no",
    ] {
        assert!(text.contains(want), "no {want:?} in:\n{text}");
    }
    let request = TimeStampReq::from_der(&req).unwrap();
    let nonce = hex::encode_upper(request.nonce.as_ref().unwrap().as_bytes());
    assert!(
        text.contains(&format!("Nonce: 0x{}", nonce.trim_start_matches("00"))),
        "nonce {nonce} not echoed:\n{text}"
    );

    write_pems(dir.path(), "root.pem", &[&f.root]);
    write_pems(
        dir.path(),
        "chain.pem",
        &f.chain.iter().map(Vec::as_slice).collect::<Vec<_>>(),
    );
    let out = openssl_verify(dir.path(), "chain.pem");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Verification: OK"),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Nor over other data: the imprint binds the document.
    std::fs::write(dir.path().join("doc.txt"), b"another letter\n").unwrap();
    let out = run_openssl(
        dir.path(),
        &[
            "ts",
            "-verify",
            "-in",
            "resp.tsr",
            "-data",
            "doc.txt",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "chain.pem",
        ],
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("Verification: OK"),
        "a token verified over other data"
    );
}

#[test]
fn token_structure_nonce_and_ess_binding() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let req = openssl_query(dir.path(), &["-sha256", "-cert"]);
    let request = TimeStampReq::from_der(&req).unwrap();
    let resp = response(&f.tsa.timestamp(&req, GEN_TIME).unwrap());
    assert_eq!(resp.status.status, STATUS_GRANTED);
    assert_eq!(resp.status.fail_info, None);
    let (sd, info) = token(&resp);

    assert_eq!(info.version, 1);
    assert_eq!(info.policy, ObjectIdentifier::new(POLICY).unwrap());
    assert_eq!(info.message_imprint, request.message_imprint);
    assert_eq!(info.nonce, request.nonce);
    assert!(info.nonce.is_some());
    assert_eq!(info.gen_time.to_unix_duration().as_secs(), GEN_TIME);
    assert_eq!(info.accuracy.as_ref().unwrap().seconds, Some(1));
    // 16 octets, positive.
    assert_eq!(info.serial_number.as_bytes().len(), 16);
    assert!(info.serial_number.as_bytes()[0] & 0x80 == 0);

    // RFC 5652 §5.1: v3 for an eContentType other than id-data; certReq → TSA certificate in.
    assert_eq!(sd.version, cms::content_info::CmsVersion::V3);
    let certs = sd
        .certificates
        .as_ref()
        .expect("certReq TRUE: certificates");
    let tsa_cert = x509_cert::Certificate::from_der(&f.certificate).unwrap();
    assert!(certs.0.iter().any(|c| matches!(
        c,
        cms::cert::CertificateChoices::Certificate(c) if *c == tsa_cert
    )));

    let si = only_signer(&sd);
    let attr = |o| crate::support::sign_fixture::attribute(si, o);
    assert_eq!(
        attr(oid::ID_CONTENT_TYPE)
            .decode_as::<ObjectIdentifier>()
            .unwrap(),
        oid::ID_CT_TST_INFO
    );
    let econtent = sd.encap_content_info.econtent.as_ref().unwrap();
    let tst_der = econtent.decode_as::<OctetString>().unwrap();
    let digest = ring::digest::digest(&ring::digest::SHA256, tst_der.as_bytes());
    assert_eq!(
        attr(oid::ID_MESSAGE_DIGEST)
            .decode_as::<OctetString>()
            .unwrap()
            .as_bytes(),
        digest.as_ref()
    );
    // RFC 5816: ESS signingCertificateV2 names the TSA certificate by its SHA-256.
    let ess: SigningCertificateV2 = attr(oid::ID_AA_SIGNING_CERTIFICATE_V_2)
        .decode_as()
        .unwrap();
    let cert_hash = ring::digest::digest(&ring::digest::SHA256, &f.certificate);
    assert_eq!(ess.certs[0].cert_hash.as_bytes(), cert_hash.as_ref());
    crate::support::sign_fixture::verify_signer_info(si, &f.certificate).unwrap();
}

#[test]
fn cert_req_false_leaves_the_certificate_out() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let req = openssl_query(dir.path(), &["-sha256"]);
    assert!(!TimeStampReq::from_der(&req).unwrap().cert_req);
    let der = f.tsa.timestamp(&req, GEN_TIME).unwrap();
    let (sd, _) = token(&response(&der));
    assert!(sd.certificates.is_none(), "certReq FALSE: no certificates");

    std::fs::write(dir.path().join("resp.tsr"), &der).unwrap();
    write_pems(dir.path(), "root.pem", &[&f.root]);
    write_pems(
        dir.path(),
        "chain.pem",
        &f.chain.iter().map(Vec::as_slice).collect::<Vec<_>>(),
    );
    // Without the TSA certificate OpenSSL has no signer to verify with…
    let out = openssl_verify(dir.path(), "chain.pem");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Verification: OK"));
    // …and with it supplied the token verifies.
    let mut with_tsa = vec![f.certificate.as_slice()];
    with_tsa.extend(f.chain.iter().map(Vec::as_slice));
    write_pems(dir.path(), "untrusted.pem", &with_tsa);
    let out = openssl_verify(dir.path(), "untrusted.pem");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Verification: OK"),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn two_tokens_have_different_serials() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let req = openssl_query(dir.path(), &["-sha256", "-cert"]);
    let a = token(&response(&f.tsa.timestamp(&req, GEN_TIME).unwrap())).1;
    let b = token(&response(&f.tsa.timestamp(&req, GEN_TIME).unwrap())).1;
    assert_ne!(a.serial_number, b.serial_number);
}

/// Asserts `der` is a rejection with `failure` set, a reason, and no token.
fn assert_rejected(der: &[u8], failure: FailureInfo, reason: &str) {
    let resp = response(der);
    assert_eq!(resp.status.status, STATUS_REJECTION);
    assert!(resp.status.has_failure(failure), "{:?}", resp.status);
    let text = resp.status.status_string.as_ref().unwrap().join(" ");
    assert!(text.contains(reason), "{text:?} lacks {reason:?}");
    assert!(resp.time_stamp_token.is_none());
}

#[test]
fn unaccepted_policy_is_rejected() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let req = openssl_query(dir.path(), &["-sha256", "-tspolicy", "1.2.3.4.5"]);
    let der = f.tsa.timestamp(&req, GEN_TIME).unwrap();
    assert_rejected(&der, FailureInfo::UnacceptedPolicy, "policy 1.2.3.4.5");
    // OpenSSL reads the rejection too.
    std::fs::write(dir.path().join("resp.tsr"), &der).unwrap();
    let out = run_openssl(dir.path(), &["ts", "-reply", "-in", "resp.tsr", "-text"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Status: Rejected"), "{text}");
    assert!(
        text.contains("requested TSA policy is not supported"),
        "{text}"
    );

    // The configured policy, requested explicitly, is granted.
    let req = openssl_query(dir.path(), &["-sha256", "-tspolicy", POLICY]);
    let resp = response(&f.tsa.timestamp(&req, GEN_TIME).unwrap());
    assert_eq!(resp.status.status, STATUS_GRANTED);
}

/// A request built by hand: SHA-256 over `imprint`, with `edit` applied.
fn request(imprint: &[u8], edit: impl FnOnce(&mut TimeStampReq)) -> Vec<u8> {
    let mut req = TimeStampReq {
        version: 1,
        message_imprint: MessageImprint {
            hash_algorithm: AlgorithmIdentifierOwned {
                oid: oid::ID_SHA_256,
                parameters: None,
            },
            hashed_message: OctetString::new(imprint).unwrap(),
        },
        req_policy: None,
        nonce: Some(Int::new(&[0x01, 0x02, 0x03]).unwrap()),
        cert_req: true,
        extensions: None,
    };
    edit(&mut req);
    req.to_der().unwrap()
}

#[test]
fn bad_requests_get_rejections_with_the_failure_bit() {
    let tsa = &fixture().tsa;
    // A SHA-256 imprint of 20 octets.
    let der = tsa.timestamp(&request(&[7; 20], |_| {}), GEN_TIME).unwrap();
    assert_rejected(&der, FailureInfo::BadDataFormat, "imprint of 20 octets");
    // SHA-1 is not accepted.
    let der = tsa
        .timestamp(
            &request(&[7; 20], |r| {
                r.message_imprint.hash_algorithm.oid = oid::ID_SHA_1
            }),
            GEN_TIME,
        )
        .unwrap();
    assert_rejected(&der, FailureInfo::BadAlg, "hash algorithm");
    // Version 2.
    let der = tsa
        .timestamp(&request(&[7; 32], |r| r.version = 2), GEN_TIME)
        .unwrap();
    assert_rejected(&der, FailureInfo::BadRequest, "version 2");
    // Any extension, even non-critical (RFC 3161 §2.4.1).
    let der = tsa
        .timestamp(
            &request(&[7; 32], |r| {
                r.extensions = Some(vec![x509_cert::ext::Extension {
                    extn_id: ObjectIdentifier::new("1.2.3.4.6").unwrap(),
                    critical: false,
                    extn_value: OctetString::new([5, 0]).unwrap(),
                }])
            }),
            GEN_TIME,
        )
        .unwrap();
    assert_rejected(&der, FailureInfo::UnacceptedExtension, "1.2.3.4.6");
    // The same request without the extension is granted, nonce echoed.
    let resp = response(&tsa.timestamp(&request(&[7; 32], |_| {}), GEN_TIME).unwrap());
    assert_eq!(resp.status.status, STATUS_GRANTED);
    assert_eq!(token(&resp).1.nonce.unwrap().as_bytes(), [1, 2, 3]);
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    let tsa = &fixture().tsa;
    for garbage in [
        &b""[..],
        b"\x30",
        b"\x30\x80\x00\x00",
        b"not DER at all",
        &fixture().certificate,
    ] {
        assert!(
            matches!(
                tsa.timestamp(garbage, GEN_TIME),
                Err(TspError::Malformed(_))
            ),
            "{garbage:?}"
        );
    }
    let huge = vec![0x30; MAX_REQUEST_LEN + 1];
    assert!(matches!(
        tsa.timestamp(&huge, GEN_TIME),
        Err(TspError::TooLarge { len }) if len == MAX_REQUEST_LEN + 1
    ));
}

#[test]
fn a_certificate_without_time_stamping_eku_is_refused() {
    // The rhp-sign certificate of the RSA key the sign tests load from this file.
    let signer = crate::support::sign_fixture::signer("rsa");
    let key = ca_core::key::SigningKey::from_pkcs8(include_bytes!("data/rsa2048.pk8.der")).unwrap();
    let err = ca_core::tsp::Tsa::new(
        key,
        &signer.certificate,
        &signer.chain,
        ObjectIdentifier::new(POLICY).unwrap(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, TspError::Certificate(m) if m.contains("timeStamping")),
        "{err}"
    );
}

// ---- The requester's side: `TimeStampReq::new` and `TimeStampReq::accept` ----

const NONCE: [u8; 8] = [0x80, 1, 2, 3, 4, 5, 6, 7];

fn client_request(imprint: &[u8], nonce: &[u8]) -> TimeStampReq {
    TimeStampReq::new(ca_core::sign::DigestAlgorithm::Sha256, imprint, nonce).unwrap()
}

#[test]
fn the_client_accepts_a_granted_token_and_keeps_its_octets() {
    let f = fixture();
    let imprint = ring::digest::digest(&ring::digest::SHA256, b"signature octets");
    let req = client_request(imprint.as_ref(), &NONCE);
    assert!(req.cert_req, "B-LT needs the TSA certificate in the token");
    // A high first bit still makes a positive INTEGER: 00 80 01 ...
    assert_eq!(req.nonce.as_ref().unwrap().as_bytes()[..2], [0x00, 0x80]);
    let der = f.tsa.timestamp(&req.to_der().unwrap(), GEN_TIME).unwrap();
    let token = req.accept(&der).unwrap();
    let sent = response(&der).time_stamp_token.unwrap().to_der().unwrap();
    assert_eq!(token, sent, "the token's octets as the TSA sent them");
    let info = ca_core::tsp::tst_info(&token).unwrap();
    assert_eq!(
        info.message_imprint.hashed_message.as_bytes(),
        imprint.as_ref()
    );
    // OpenSSL reads our request as a request.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("req.tsq"), req.to_der().unwrap()).unwrap();
    let out = run_openssl(dir.path(), &["ts", "-query", "-in", "req.tsq", "-text"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Certificate required: yes"), "{text}");
    assert!(text.contains("Hash Algorithm: sha256"), "{text}");
}

#[test]
fn the_client_refuses_foreign_tokens_rejections_and_garbage() {
    let f = fixture();
    let imprint = [9u8; 32];
    let req = client_request(&imprint, &NONCE);
    // A token for another nonce: a replay.
    let other = client_request(&imprint, &[1; 8]);
    let der = f.tsa.timestamp(&other.to_der().unwrap(), GEN_TIME).unwrap();
    assert!(matches!(req.accept(&der), Err(ClientError::NonceMismatch)));
    // A token over another hash.
    let other = client_request(&[8u8; 32], &NONCE);
    let der = f.tsa.timestamp(&other.to_der().unwrap(), GEN_TIME).unwrap();
    assert!(matches!(
        req.accept(&der),
        Err(ClientError::ImprintMismatch)
    ));
    // A rejection names its status and failure.
    let mut asks_policy = req.clone();
    asks_policy.req_policy = Some(ObjectIdentifier::new("1.2.3.4.5").unwrap());
    let der = f
        .tsa
        .timestamp(&asks_policy.to_der().unwrap(), GEN_TIME)
        .unwrap();
    let err = asks_policy.accept(&der).unwrap_err();
    assert!(
        matches!(&err, ClientError::NotGranted { status: 2, text } if text.contains("unacceptedPolicy")),
        "{err}"
    );
    // Granted without a token.
    let no_token = TimeStampResp {
        status: ca_core::tsp::PkiStatusInfo {
            status: STATUS_GRANTED,
            status_string: None,
            fail_info: None,
        },
        time_stamp_token: None,
    };
    assert!(matches!(
        req.accept(&no_token.to_der().unwrap()),
        Err(ClientError::NoToken)
    ));
    for garbage in [&b""[..], b"\x30\x00", b"\x30\x80\x00", &f.certificate] {
        assert!(
            matches!(req.accept(garbage), Err(ClientError::Malformed(_))),
            "{garbage:?}"
        );
    }
    // Requests the TSA would refuse are not made.
    let sha256 = ca_core::sign::DigestAlgorithm::Sha256;
    assert!(matches!(
        TimeStampReq::new(sha256, &[0; 20], &NONCE),
        Err(ClientError::Request(m)) if m.contains("20 octets")
    ));
    assert!(matches!(
        TimeStampReq::new(sha256, &[0; 32], &[1; 4]),
        Err(ClientError::Request(m)) if m.contains("nonce")
    ));
}

/// A foreign TSA: `openssl ts -reply` with its own self-signed, timeStamping-only certificate,
/// answering the request our client makes.
#[test]
fn the_client_accepts_an_openssl_tsa_reply() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("ts.cnf"),
        "[ tsa ]\ndefault_tsa = tsa1\n[ tsa1 ]\nserial = ./serial\nsigner_cert = ./tsa.pem\n\
         signer_key = ./tsa.key\nsigner_digest = sha256\ndefault_policy = 1.2.3.4.1\n\
         digests = sha256, sha384\naccuracy = secs:1\ness_cert_id_alg = sha256\n",
    )
    .unwrap();
    std::fs::write(d.join("serial"), "01\n").unwrap();
    let out = run_openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "tsa.key",
            "-subj",
            "/CN=OpenSSL TSA",
            "-days",
            "3",
            "-addext",
            "extendedKeyUsage=critical,timeStamping",
            "-out",
            "tsa.pem",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let imprint = ring::digest::digest(&ring::digest::SHA384, b"a signature value");
    let req = TimeStampReq::new(
        ca_core::sign::DigestAlgorithm::Sha384,
        imprint.as_ref(),
        &NONCE,
    )
    .unwrap();
    std::fs::write(d.join("req.tsq"), req.to_der().unwrap()).unwrap();
    let out = run_openssl(
        d,
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
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let der = std::fs::read(d.join("resp.tsr")).unwrap();
    let token = req.accept(&der).unwrap();
    let info = ca_core::tsp::tst_info(&token).unwrap();
    assert_eq!(info.policy, ObjectIdentifier::new("1.2.3.4.1").unwrap());
    assert_eq!(
        info.message_imprint.hashed_message.as_bytes(),
        imprint.as_ref()
    );
    // The octets OpenSSL sent, as they are inside its response.
    assert!(der.windows(token.len()).any(|w| w == token.as_slice()));
    // A request with another nonce does not take OpenSSL's token.
    let other = TimeStampReq::new(
        ca_core::sign::DigestAlgorithm::Sha384,
        imprint.as_ref(),
        &[2; 8],
    )
    .unwrap();
    assert!(matches!(
        other.accept(&der),
        Err(ClientError::NonceMismatch)
    ));
}

#[test]
fn absent_and_null_hash_parameters_are_the_same_imprint() {
    let f = fixture();
    let imprint = [3u8; 32];
    let req = client_request(&imprint, &NONCE);
    // The TSA is asked with NULL parameters and echoes them; our request had them absent.
    let mut with_null = req.clone();
    with_null.message_imprint.hash_algorithm.parameters = Some(der::Any::null());
    let der = f
        .tsa
        .timestamp(&with_null.to_der().unwrap(), GEN_TIME)
        .unwrap();
    assert!(req.accept(&der).is_ok());
    // Other parameters are another algorithm.
    let mut odd = req.clone();
    odd.message_imprint.hash_algorithm.parameters =
        Some(der::Any::from_der(&[0x02, 0x01, 0x01]).unwrap());
    assert!(matches!(
        odd.accept(&der),
        Err(ClientError::ImprintMismatch)
    ));
}
