//! Independent validation (issue 14 acceptance): what the service signs, pyHanko — a CAdES
//! validator nobody here wrote — accepts, offline, against our root. pyHanko runs from a test-only
//! venv that `.ci/pyhanko.sh` makes once under the target directory (PyPI, pinned versions).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use support::{Server, start_fresh};

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

/// pyHanko's verdict on `signature` (detached over `content`) as the script's JSON object.
fn pyhanko(dir: &Path, signature: &[u8], content: &[u8], args: &[&str]) -> serde_json::Value {
    let sig = dir.join("sig.p7s");
    let doc = dir.join("doc.txt");
    std::fs::write(&sig, signature).unwrap();
    std::fs::write(&doc, content).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/pyhanko_validate.py");
    let out = Command::new(python())
        .arg("-W")
        .arg("ignore")
        .arg(script)
        .arg(&sig)
        .arg(dir.join("data/ca/root.pem"))
        .arg("--content")
        .arg(&doc)
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

fn sign(server: &Server, credential: &str, token: &str, content: &[u8], query: &str) -> Vec<u8> {
    let r = server.post_bytes(
        &format!("/v1/signatures?credential={credential}&purpose=author{query}"),
        Some(token),
        "application/octet-stream",
        content,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    r.body
}

/// A CRL the service publishes, written to `dir` for pyHanko.
fn crl(server: &Server, dir: &Path, ca: &str) -> String {
    let r = server.get(&format!("/v1/crl/{ca}"), None);
    assert_eq!(r.status, 200, "{}", r.text());
    let path = dir.join(format!("{ca}.crl"));
    std::fs::write(&path, &r.body).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn pyhanko_accepts_a_b_b_signature_and_needs_revocation_data_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let (server, demo) = start_fresh(&dir.path().join("data"), &[]);
    let content = b"Rx: amoxicillin 500 mg, three times daily for 7 days\n";
    let signature = sign(
        &server,
        &demo.credential,
        &demo.signer,
        content,
        "&level=B-B",
    );

    let soft = pyhanko(dir.path(), &signature, content, &[]);
    assert_eq!(soft["bottom_line"], true, "{soft}");
    assert_eq!(soft["intact"], true, "{soft}");
    assert_eq!(soft["valid"], true, "{soft}");
    assert_eq!(soft["timestamp"], serde_json::Value::Null, "{soft}");
    assert!(
        soft["signer"].as_str().unwrap().contains("DEMO-0001"),
        "{soft}"
    );

    // Hard-fail revocation: a B-B signature carries no CRL, so pyHanko cannot trust the path …
    let bare = pyhanko(dir.path(), &signature, content, &["--require-revinfo"]);
    assert_eq!(bare["trusted"], false, "{bare}");
    assert_eq!(bare["carried"]["crls"], 0, "{bare}");
    // … until the CRLs of the signing CA and the root are supplied.
    let sign_crl = crl(&server, dir.path(), "sign");
    let root_crl = crl(&server, dir.path(), "root");
    let with_crls = pyhanko(
        dir.path(),
        &signature,
        content,
        &["--require-revinfo", "--crl", &sign_crl, "--crl", &root_crl],
    );
    assert_eq!(with_crls["bottom_line"], true, "{with_crls}");
}

#[test]
fn pyhanko_trusts_the_time_stamp_of_a_default_b_t_signature() {
    let dir = tempfile::tempdir().unwrap();
    let (server, demo) = start_fresh(&dir.path().join("data"), &[]);
    let content = b"Discharge letter: patient stable, follow-up in 2 weeks\n";
    // No level asked: B-T, from the built-in TSA.
    let signature = sign(&server, &demo.credential, &demo.signer, content, "");

    let v = pyhanko(dir.path(), &signature, content, &[]);
    assert_eq!(v["bottom_line"], true, "{v}");
    let ts = &v["timestamp"];
    assert_eq!(ts["intact"], true, "{v}");
    assert_eq!(ts["valid"], true, "{v}");
    assert_eq!(ts["trusted"], true, "the TSA chains to our root: {v}");
    assert!(
        ts["signer"].as_str().unwrap().contains("TSA"),
        "the token is the TSA's: {v}"
    );
}

#[test]
fn pyhanko_validates_b_lt_in_hard_fail_mode_from_what_it_carries_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (server, demo) = start_fresh(&dir.path().join("data"), &[]);
    let content = b"Consent: the patient agrees to the procedure\n";
    let b_lt = sign(
        &server,
        &demo.credential,
        &demo.signer,
        content,
        "&level=B-LT",
    );
    // Hard-fail revocation and no CRL supplied: the signature carries the CRLs and OCSP answers
    // for the signer and the TSA.
    let v = pyhanko(dir.path(), &b_lt, content, &["--require-revinfo"]);
    assert_eq!(v["bottom_line"], true, "{v}");
    assert_eq!(v["trusted"], true, "{v}");
    assert_eq!(v["timestamp"]["trusted"], true, "{v}");
    assert!(v["carried"]["crls"].as_u64().unwrap() >= 2, "{v}");
    assert!(v["carried"]["ocsp"].as_u64().unwrap() >= 2, "{v}");

    // Its B-T form, under the same hard-fail rule, is not enough.
    let b_t = sign(
        &server,
        &demo.credential,
        &demo.signer,
        content,
        "&level=B-T",
    );
    let bare = pyhanko(dir.path(), &b_t, content, &["--require-revinfo"]);
    assert_eq!(bare["bottom_line"], false, "{bare}");
}
