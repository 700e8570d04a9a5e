//! `POST /v1/verifications` under the ISO 17090 validation policy (issue 11 items 7 and 8), for
//! signatures the service did not make: a practitioner holding their own key, certified by this
//! service's CA, signs with `ca_core::sign` at a signingTime the test chooses.

mod support;

#[path = "../../ca-core/tests/it/support/fresh_ca.rs"]
mod fresh_ca;

use base64::Engine;
use ca_core::key::{KeyAlgorithm, SigningKey};
use ca_core::purpose::SigningPolicy;
use ca_core::sign::{DigestAlgorithm, SignatureRequest};
use support::{Demo, Server};

const JP: &str = "1.2.392.100495.1.6.1.1";
const RX: &[u8] = b"Rx: amoxicillin 500 mg, three times daily for 7 days\n";

struct Service {
    server: Server,
    demo: Demo,
    _dir: tempfile::TempDir,
}

fn start() -> Service {
    let dir = tempfile::tempdir().unwrap();
    let (server, demo) = support::start_fresh(&dir.path().join("data"), &[]);
    Service {
        server,
        demo,
        _dir: dir,
    }
}

/// A practitioner's own key and the `rhp-sign` certificate the service's CA issued for it.
struct Practitioner {
    key: SigningKey,
    serial: String,
    certificate: Vec<u8>,
    /// Issuing CA first, the root left out.
    chain: Vec<Vec<u8>>,
    not_before: u64,
}

fn pem_der(pem: &str) -> Vec<u8> {
    der::pem::decode_vec(pem.as_bytes()).unwrap().1
}

impl Service {
    /// The RA issues an `rhp-sign` certificate with hcRole `role` for a key made here (the
    /// service never holds it).
    fn practitioner(&self, role: &str, serial_number: &str) -> Practitioner {
        let key = SigningKey::generate(KeyAlgorithm::P256).unwrap();
        let csr = der::pem::encode_string(
            "CERTIFICATE REQUEST",
            der::pem::LineEnding::LF,
            &fresh_ca::csr(&key),
        )
        .unwrap();
        let r = self.server.post_json(
            "/v1/certificates",
            Some(&self.demo.ra),
            &serde_json::json!({
                "profile": "rhp-sign",
                "subject": format!("C=JP,O=Example Pharmacy,CN=Jiro Suzuki,serialNumber={serial_number}"),
                "hc_roles": [format!("{JP}:{role}")],
                "csr": csr,
            }),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        let j = r.json();
        let certificate = pem_der(j["certificate"].as_str().unwrap());
        let mut chain: Vec<Vec<u8>> = j["chain"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| pem_der(c.as_str().unwrap()))
            .collect();
        chain.pop();
        let cert = <x509_cert::Certificate as der::Decode>::from_der(&certificate).unwrap();
        let not_before = cert
            .tbs_certificate()
            .validity()
            .not_before
            .to_unix_duration()
            .as_secs();
        Practitioner {
            key,
            serial: j["serial"].as_str().unwrap().to_owned(),
            certificate,
            chain,
            not_before,
        }
    }

    /// The verdict on an attached signature at `at` (now when `None`): (indication,
    /// sub-indication, report).
    fn verify(&self, signature: &[u8], at: Option<u64>) -> (String, String, serde_json::Value) {
        let mut body = serde_json::json!({
            "signature": base64::engine::general_purpose::STANDARD.encode(signature),
        });
        if let Some(at) = at {
            body["at"] = ca_core::verify::rfc3339(at).into();
        }
        let r = self
            .server
            .post_json("/v1/verifications", Some(&self.demo.ra), &body);
        assert_eq!(r.status, 200, "{}", r.text());
        let j = r.json();
        (
            j["indication"].as_str().unwrap().to_owned(),
            j["sub_indication"].as_str().unwrap_or("").to_owned(),
            j,
        )
    }
}

impl Practitioner {
    /// An attached CAdES signature of `document` for `purpose`, claiming signingTime `at`.
    fn sign(&self, document: &[u8], purpose: &str, at: u64) -> Vec<u8> {
        let purpose = SigningPolicy::embedded()
            .unwrap()
            .purpose(purpose)
            .unwrap()
            .oid;
        let digest = DigestAlgorithm::for_key(&self.key).digest(document);
        ca_core::sign::sign(&SignatureRequest {
            key: &self.key,
            certificate: &self.certificate,
            chain: &self.chain,
            digest: &digest,
            signing_time: at,
            commitment_type: Some(purpose),
            claimed_role: None,
            attached: Some(document),
        })
        .unwrap()
    }
}

fn check<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["signatures"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} check: {report:#}"))
}

/// The role gate binds every signature the service verifies, not only those it made: a
/// pharmacist's own-key "author" signature is SIG_CONSTRAINTS_FAILURE naming role and purpose.
#[test]
fn a_pharmacists_own_key_author_signature_is_refused_by_the_role_gate() {
    let s = start();
    let pharmacist = s.practitioner("Pharmacist", "P-0001");
    let at = pharmacist.not_before;

    let (ind, sub, j) = s.verify(&pharmacist.sign(RX, "author", at), None);
    assert_eq!(
        (ind.as_str(), sub.as_str()),
        ("INDETERMINATE", "SIG_CONSTRAINTS_FAILURE"),
        "{j:#}"
    );
    let reason = check(&j, "role-purpose")["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("{JP}:Pharmacist")) && reason.contains("purpose author"),
        "{reason}"
    );

    // A pharmacist's purpose passes, with the binding the service requires.
    let (ind, _, j) = s.verify(&pharmacist.sign(RX, "review", at), None);
    assert_eq!(ind, "TOTAL-PASSED", "{j:#}");
    assert_eq!(check(&j, "role-purpose")["outcome"], "passed", "{j:#}");
    assert_eq!(check(&j, "signing-certificate")["outcome"], "passed");
}

/// The service requires the CAdES signing-certificate binding: OpenSSL's plain CMS (no ESS
/// signingCertificateV2) by a practitioner with an OpenSSL key is not accepted.
#[test]
fn a_signature_without_the_cades_binding_is_refused() {
    let s = start();
    let dir = tempfile::tempdir().unwrap();
    let (key, csr) = support::p256_request(dir.path(), "doctor");
    let r = s.server.post_json(
        "/v1/certificates",
        Some(&s.demo.ra),
        &serde_json::json!({
            "profile": "rhp-sign",
            "subject": "C=JP,O=Example Hospital,CN=Taro Yamada,serialNumber=D-0001",
            "hc_roles": [format!("{JP}:Medical Doctor")],
            "csr": std::fs::read_to_string(&csr).unwrap(),
        }),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let cert = dir.path().join("doctor.pem");
    std::fs::write(&cert, r.json()["certificate"].as_str().unwrap()).unwrap();
    let doc = dir.path().join("rx.txt");
    std::fs::write(&doc, RX).unwrap();
    let out = std::process::Command::new("openssl")
        .args([
            "cms",
            "-sign",
            "-binary",
            "-nodetach",
            "-outform",
            "DER",
            "-md",
            "sha256",
        ])
        .arg("-signer")
        .arg(&cert)
        .arg("-inkey")
        .arg(&key)
        .arg("-in")
        .arg(&doc)
        .output()
        .expect("the openssl CLI is required by these tests");
    assert!(out.status.success(), "{out:?}");
    let (ind, sub, j) = s.verify(&out.stdout, None);
    assert_eq!(
        (ind.as_str(), sub.as_str()),
        ("TOTAL-FAILED", "FORMAT_FAILURE"),
        "{j:#}"
    );
    assert!(
        check(&j, "signing-certificate")["reason"]
            .as_str()
            .unwrap()
            .contains("not a CAdES signature"),
        "{j:#}"
    );
}

/// The past-time loophole through the service (issue 11 item 7): a practitioner's key is
/// revoked for keyCompromise at T (the service publishes its CRL at once), then used to sign,
/// claiming T + 1 min. Verified "at T − 1" against the service's CRL, it is REVOKED_NO_POE with
/// the revocation date and reason (it was TOTAL-PASSED); now, it is REVOKED.
#[test]
fn a_key_revoked_at_t_then_used_does_not_pass_at_t_minus_one() {
    let s = start();
    let doctor = s.practitioner("Medical Doctor", "D-0002");
    // T − 1 must fall after the certificate's notBefore (seconds).
    std::thread::sleep(std::time::Duration::from_millis(2_100));
    let r = s.server.post_json(
        &format!("/v1/certificates/{}/revoke", doctor.serial),
        Some(&s.demo.ra),
        &serde_json::json!({"reason": "keyCompromise"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let t = ca_core::time::parse_rfc3339(r.json()["revoked_at"].as_str().unwrap()).unwrap();
    assert!(t - 1 > doctor.not_before);
    let signature = doctor.sign(RX, "author", t + 60);

    let (ind, sub, j) = s.verify(&signature, Some(t - 1));
    assert_eq!(
        (ind.as_str(), sub.as_str()),
        ("INDETERMINATE", "REVOKED_NO_POE"),
        "{j:#}"
    );
    let reason = check(&j, "proof-of-existence")["reason"].as_str().unwrap();
    let revoked = format!(
        "revoked on {} (reason keyCompromise)",
        ca_core::verify::rfc3339(t)
    );
    assert!(
        reason.contains("the signer's certificate") && reason.contains(&revoked),
        "{reason}"
    );

    let (ind, sub, j) = s.verify(&signature, None);
    assert_eq!(
        (ind.as_str(), sub.as_str()),
        ("TOTAL-FAILED", "REVOKED"),
        "{j:#}"
    );
}

/// `at` is read by ca-core's one RFC 3339 parser (issue 12 item 12): a time-zone offset is
/// honoured (the old parser took `Z` only), and a non-ASCII or malformed time is a 400 problem
/// naming the field, never a panic.
#[test]
fn at_is_rfc3339_with_offsets_and_garbage_is_a_bad_request() {
    let s = start();
    let signature = base64::engine::general_purpose::STANDARD.encode(b"not CMS");
    let post = |at: &str| {
        s.server.post_json(
            "/v1/verifications",
            Some(&s.demo.ra),
            &serde_json::json!({ "signature": signature, "at": at }),
        )
    };
    let r = post("2026-12-07T18:00:00+09:00");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["validation_time"], "2026-12-07T09:00:00Z");
    for bad in [
        "2022-09-07T00:00:00+0é00",
        "yesterday",
        "2026-12-07T09:00:60Z",
    ] {
        let r = post(bad);
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert!(r.text().contains("at: "), "{bad}: {}", r.text());
    }
}
