//! pyHanko, a CAdES validator nobody here wrote (issue 14 acceptance), on what `ca_core::cades`
//! builds: a B-T signature's time-stamp is found, intact and trusted; a B-LT signature validates
//! with hard-fail revocation from the data it carries alone (the CRLs of the signer's and the
//! TSA's CAs in `SignedData.crls`), which its B-T form cannot. pyHanko runs from the test-only
//! venv `.ci/pyhanko.sh` makes (as `signer-api/tests/pyhanko.rs` does) and validates at the real
//! clock, so this fixture's authority is made at the real clock too.

use crate::support::fresh_ca;
use crate::support::openssl::now;

use ca_core::cades;
use ca_core::hcrole::HcRole;
use ca_core::issue::Registration;
use ca_core::key::{KeyAlgorithm, SigningKey};
use ca_core::sign::{DigestAlgorithm, SignatureRequest, sign};
use ca_core::tsp::{TimeStampReq, Tsa};
use const_oid::ObjectIdentifier;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const DOC: &[u8] = b"Rx: amoxicillin 500 mg, three times daily for 7 days\n";

/// The venv's python, made on first use (the script is idempotent and locks).
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pyhanko-venv");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.ci/pyhanko.sh");
        let status = Command::new("bash")
            .arg(script)
            .arg(&venv)
            .status()
            .expect("run .ci/pyhanko.sh");
        assert!(status.success(), ".ci/pyhanko.sh could not make {venv:?}");
        venv.join("bin/python")
    })
}

/// pyHanko's verdict on `signature` (detached over [`DOC`]) as the script's JSON object.
fn pyhanko(dir: &Path, signature: &[u8], root: &[u8], args: &[&str]) -> serde_json::Value {
    std::fs::write(dir.join("sig.p7s"), signature).unwrap();
    std::fs::write(dir.join("doc.txt"), DOC).unwrap();
    std::fs::write(
        dir.join("root.pem"),
        crate::support::sign_fixture::pem(root),
    )
    .unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../signer-api/tests/interop/pyhanko_validate.py");
    let out = Command::new(python())
        .current_dir(dir)
        .args(["-W", "ignore"])
        .arg(script)
        .args(["sig.p7s", "root.pem", "--content", "doc.txt"])
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "pyhanko_validate.py failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

struct Fixture {
    root: Vec<u8>,
    key: SigningKey,
    certificate: Vec<u8>,
    chain: Vec<Vec<u8>>,
    tsa: Tsa,
    tsa_chain: Vec<Vec<u8>>,
    crls: Vec<Vec<u8>>,
    /// When the fixture signs and stamps (a few minutes ago).
    at: u64,
}

/// One authority, made an hour ago, certifies the signer (rhp-sign) and the TSA (tsa); its CRLs
/// are issued a minute ago.
fn fixture() -> Fixture {
    let issued_at = now() - 3_600;
    let tmp = tempfile::tempdir().unwrap();
    let request = fresh_ca::request(
        "hpki CAdES Interop",
        "2.25.2026120702",
        fresh_ca::invalid_urls(),
        issued_at,
        "cades-tests",
    );
    let authority = fresh_ca::init(tmp.path(), &[11u8; 32], request);
    let issue = |key: &SigningKey, profile: &str, subject: &str, roles: Vec<HcRole>| {
        let registration = Registration {
            profile: profile.into(),
            subject: ca_core::name::parse_subject(subject).unwrap(),
            sans: vec![],
            hc_roles: roles,
            validity_days: Some(365),
        };
        authority
            .issue(&registration, &fresh_ca::csr(key), issued_at, "cades-tests")
            .unwrap()
    };
    let key = SigningKey::generate(KeyAlgorithm::P256).unwrap();
    let signer = issue(
        &key,
        "rhp-sign",
        "C=JP,O=hpki Interop Hospital,CN=Hanako Sato,serialNumber=S-0001",
        vec![HcRole {
            scheme: ObjectIdentifier::new(crate::support::sign_fixture::JP).unwrap(),
            code: None,
            text: Some("Medical Doctor".into()),
        }],
    );
    let tsa_key = SigningKey::generate(KeyAlgorithm::P256).unwrap();
    let tsa_cert = issue(
        &tsa_key,
        "tsa",
        "C=JP,O=hpki Interop Hospital,CN=hpki Time-Stamping Unit",
        vec![],
    );
    let tsa = Tsa::new(
        tsa_key,
        &tsa_cert.certificate,
        &tsa_cert.chain,
        ObjectIdentifier::new("2.25.2026120702.13.1").unwrap(),
    )
    .unwrap();
    let ids: Vec<String> = authority.ca_ids().map(str::to_owned).collect();
    let crls = ids
        .iter()
        .map(|id| authority.crl(id, now() - 60, "cades-tests").unwrap())
        .collect();
    Fixture {
        root: authority.ca_certificate("root").unwrap().to_vec(),
        key,
        certificate: signer.certificate,
        chain: signer.chain,
        tsa,
        tsa_chain: tsa_cert.chain,
        crls,
        at: now() - 300,
    }
}

/// A detached B-T signature over [`DOC`].
fn b_t(f: &Fixture) -> Vec<u8> {
    let digest = DigestAlgorithm::Sha256.digest(DOC);
    let b_b = sign(&SignatureRequest {
        key: &f.key,
        certificate: &f.certificate,
        chain: &f.chain,
        digest: &digest,
        signing_time: f.at,
        commitment_type: None,
        claimed_role: None,
        attached: None,
    })
    .unwrap();
    let imprint = cades::signature_timestamp_imprint(&b_b, 0, DigestAlgorithm::Sha256).unwrap();
    let request = TimeStampReq::new(DigestAlgorithm::Sha256, &imprint, &[0x5a; 16]).unwrap();
    let response = f
        .tsa
        .timestamp(&der::Encode::to_der(&request).unwrap(), f.at + 5)
        .unwrap();
    let token = request.accept(&response).unwrap();
    cades::add_signature_timestamp(&b_b, 0, &token).unwrap()
}

#[test]
fn pyhanko_trusts_the_signature_time_stamp_of_b_t() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let v = pyhanko(dir.path(), &b_t(&f), &f.root, &[]);
    assert_eq!(v["bottom_line"], true, "{v}");
    assert_eq!(v["intact"], true, "{v}");
    let ts = &v["timestamp"];
    assert_eq!(ts["intact"], true, "{v}");
    assert_eq!(ts["valid"], true, "{v}");
    assert_eq!(ts["trusted"], true, "{v}");
    assert!(
        ts["signer"]
            .as_str()
            .unwrap()
            .contains("Time-Stamping Unit"),
        "{v}"
    );
}

#[test]
fn pyhanko_validates_b_lt_from_its_own_revocation_data_and_b_t_cannot() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let b_t = b_t(&f);
    let bare = pyhanko(dir.path(), &b_t, &f.root, &["--require-revinfo"]);
    assert_eq!(bare["trusted"], false, "{bare}");

    let mut certs = vec![f.certificate.clone()];
    certs.extend(f.chain.iter().cloned());
    certs.extend(f.tsa_chain.iter().cloned());
    let b_lt = cades::add_validation_data(&b_t, &certs, &f.crls, &[]).unwrap();
    assert_eq!(cades::detect_level(&b_lt, 0).unwrap(), cades::Level::BLT);
    let v = pyhanko(dir.path(), &b_lt, &f.root, &["--require-revinfo"]);
    assert_eq!(v["bottom_line"], true, "{v}");
    assert_eq!(v["trusted"], true, "{v}");
    assert_eq!(v["timestamp"]["trusted"], true, "{v}");
    assert_eq!(v["carried"]["crls"], f.crls.len(), "{v}");
}
