//! A foreign PKI made with the openssl CLI, for the tests that take in what another installation
//! made (a signature to augment, a time-stamp token): P-256 keys, a self-signed root, issuance
//! and CRLs by `openssl ca`.

use std::path::Path;
use std::process::Command;

/// Runs `openssl args` in `dir`: whether it succeeded, and its stdout then stderr.
pub fn run(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the openssl CLI is required by these tests");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// [`run`], failing the test when openssl fails.
pub fn ok(dir: &Path, args: &[&str]) {
    let (ok, out) = run(dir, args);
    assert!(ok, "openssl {args:?}: {out}");
}

/// A self-signed P-256 CA in `dir`: `root.key` and `root.pem`, for `days`.
pub fn ec_root(dir: &Path, subject: &str, days: &str) {
    ok(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "root.key",
            "-subj",
            subject,
            "-days",
            days,
            "-sha256",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-out",
            "root.pem",
        ],
    );
}

/// A P-256 key `<name>.key` and its certification request `<name>.csr`, in `dir`.
pub fn ec_request(dir: &Path, name: &str, subject: &str) {
    let (key, csr) = (format!("{name}.key"), format!("{name}.csr"));
    ok(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &key,
            "-subj",
            subject,
            "-out",
            &csr,
        ],
    );
}

/// `openssl ca`'s state for the root of [`ec_root`]: `ca.cnf` (end-entity extensions `leaf`:
/// a signer's digitalSignature and nonRepudiation), its index, CRL number and serial.
pub fn ca_state(dir: &Path) {
    std::fs::write(
        dir.join("ca.cnf"),
        "[ca]\ndefault_ca = foreign\n[foreign]\ndatabase = index.txt\ncrlnumber = crlnumber\n\
         new_certs_dir = .\nserial = serial\ndefault_md = sha256\ndefault_days = 365\n\
         default_crl_days = 30\npolicy = any\ncrl_extensions = crl_ext\n\
         [any]\ncommonName = supplied\n[crl_ext]\nauthorityKeyIdentifier = keyid:always\n\
         [leaf]\nbasicConstraints = critical,CA:FALSE\n\
         keyUsage = critical,digitalSignature,nonRepudiation\nsubjectKeyIdentifier = hash\n\
         authorityKeyIdentifier = keyid\n",
    )
    .unwrap();
    std::fs::write(dir.join("index.txt"), "").unwrap();
    std::fs::write(dir.join("crlnumber"), "01\n").unwrap();
    std::fs::write(dir.join("serial"), "1000\n").unwrap();
}

/// The root certifies `<name>.csr` as `<name>.pem` (`openssl ca`, extensions `leaf`).
pub fn ca_issue(dir: &Path, name: &str) {
    let (csr, cert) = (format!("{name}.csr"), format!("{name}.pem"));
    ok(
        dir,
        &[
            "ca",
            "-config",
            "ca.cnf",
            "-batch",
            "-notext",
            "-cert",
            "root.pem",
            "-keyfile",
            "root.key",
            "-extensions",
            "leaf",
            "-in",
            &csr,
            "-out",
            &cert,
        ],
    );
}

/// The root's CRL as it stands: `root.crl.pem`, and `root.crl` in DER.
pub fn ca_crl(dir: &Path) {
    ok(
        dir,
        &[
            "ca",
            "-config",
            "ca.cnf",
            "-gencrl",
            "-cert",
            "root.pem",
            "-keyfile",
            "root.key",
            "-out",
            "root.crl.pem",
        ],
    );
    ok(
        dir,
        &[
            "crl",
            "-in",
            "root.crl.pem",
            "-outform",
            "DER",
            "-out",
            "root.crl",
        ],
    );
}
