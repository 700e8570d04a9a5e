//! The `openssl` CLI, the tests' independent peer (`.ci/run` installs it).

use std::path::Path;
use std::process::Command;

/// Runs `openssl args…` in `dir`; panics with its stderr unless it succeeds.
pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the openssl CLI is required by these tests (.ci/run installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The clock: OpenSSL writes it as signingTime and cannot be told another time.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A P-521 chain made by OpenSSL in `dir`: `root.pem` (self-signed, `root.key`) and the signing
/// end entity `ee.pem` (`ee.key`) it certifies, both certificates signed with digest `md`
/// (`sha256`, `sha512`).
pub fn p521_chain(dir: &Path, md: &str) {
    let md = format!("-{md}");
    std::fs::write(
        dir.join("ee.ext"),
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,nonRepudiation,digitalSignature\n\
         subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
    )
    .unwrap();
    let p521 = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-521",
        "-nodes",
    ];
    let root = [
        "-keyout",
        "root.key",
        "-subj",
        "/CN=P-521 Test Root",
        "-days",
        "30",
        &md,
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        "-out",
        "root.pem",
    ];
    openssl(dir, &[&["req", "-x509"][..], &p521, &root].concat());
    let ee = [
        "-keyout",
        "ee.key",
        "-subj",
        "/CN=P-521 Test Signer",
        "-out",
        "ee.csr",
    ];
    openssl(dir, &[&["req", "-new"][..], &p521, &ee].concat());
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "ee.csr",
            "-CA",
            "root.pem",
            "-CAkey",
            "root.key",
            "-CAcreateserial",
            "-days",
            "30",
            &md,
            "-extfile",
            "ee.ext",
            "-out",
            "ee.pem",
        ],
    );
}
