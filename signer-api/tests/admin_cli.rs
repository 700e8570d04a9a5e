//! The admin commands end to end: the real binary, a real data directory, OpenSSL as the judge.

mod support;

#[path = "../../ca-core/tests/it/support/postgres.rs"]
mod pg;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const JP_ROLE: &str = "1.2.392.100495.1.6.1.1:Medical Doctor";

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_signer-api"))
}

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let env = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        env.ok(&["init"]);
        env
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, args: &[&str]) -> Output {
        bin()
            .arg("--data-dir")
            .arg(self.data())
            .args(args)
            .env_remove("HPKI_PASSPHRASE")
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs a command that must fail with exit status 2; returns its standard error.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?} did not exit 2: {out:?}"
        );
        String::from_utf8(out.stderr).unwrap()
    }

    fn ca(&self, id: &str) -> PathBuf {
        self.data().join("ca").join(format!("{id}.pem"))
    }

    /// Number of audit records, read through `audit verify`.
    fn audit_records(&self) -> u64 {
        let out = self.ok(&["audit", "verify"]);
        out.split_whitespace()
            .find_map(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("no count in {out:?}"))
    }
}

fn openssl(args: &[&str]) -> Output {
    Command::new("openssl")
        .args(args)
        .output()
        .expect("the openssl CLI is required by these tests (.ci/run installs it)")
}

fn openssl_ok(args: &[&str]) -> String {
    let out = openssl(args);
    assert!(
        out.status.success(),
        "openssl {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A fresh key and CSR made by OpenSSL; `alg` is an `openssl req -newkey` argument.
fn csr(dir: &Path, name: &str, newkey: &[&str]) -> PathBuf {
    let key = dir.join(format!("{name}.key"));
    let csr = dir.join(format!("{name}.csr"));
    let mut args = vec!["req", "-new", "-nodes", "-subj", "/CN=ignored"];
    args.extend_from_slice(newkey);
    args.extend_from_slice(&[
        "-keyout",
        key.to_str().unwrap(),
        "-out",
        csr.to_str().unwrap(),
    ]);
    openssl_ok(&args);
    csr
}

fn p256_csr(dir: &Path, name: &str) -> PathBuf {
    support::p256_request(dir, name).1
}

/// `issue` of an rhp-sign certificate for a Medical Doctor, then `more` arguments.
fn doctor_args<'a>(csr: &'a Path, subject: &'a str, more: &[&'a str]) -> Vec<&'a str> {
    let mut args = support::issue_args("rhp-sign", csr, subject, &["--hc-role", JP_ROLE]);
    args.extend_from_slice(more);
    args
}

fn issue_doctor(env: &Env, name: &str) -> PathBuf {
    let csr = p256_csr(env.dir.path(), name);
    let out = env.path(&format!("{name}.pem"));
    let subject = format!("C=JP,O=Example University Hospital,CN={name},serialNumber=D-{name}");
    env.ok(&doctor_args(
        &csr,
        &subject,
        &["--out", out.to_str().unwrap()],
    ));
    out
}

/// `openssl verify` of `cert` to `root` through `inter`, checking `crl` when given.
fn verify_args<'a>(
    root: &'a str,
    inter: &'a str,
    crl: Option<&'a str>,
    cert: &'a str,
) -> Vec<&'a str> {
    let mut args = vec!["verify", "-no-CAfile", "-no-CApath", "-CAfile", root];
    args.extend(["-untrusted", inter]);
    if let Some(crl) = crl {
        args.extend(["-crl_check", "-CRLfile", crl]);
    }
    args.push(cert);
    args
}

#[test]
fn issued_signing_certificate_verifies_and_carries_the_profile() {
    let env = Env::new();
    let cert = issue_doctor(&env, "doctor");
    let (root, sign) = (env.ca("root"), env.ca("sign"));
    let args = verify_args(
        root.to_str().unwrap(),
        sign.to_str().unwrap(),
        None,
        cert.to_str().unwrap(),
    );
    assert!(openssl_ok(&args).contains(": OK"));

    let text = openssl_ok(&["x509", "-in", cert.to_str().unwrap(), "-noout", "-text"]);
    let after = |label: &str| {
        let i = text
            .find(label)
            .unwrap_or_else(|| panic!("{label} missing in\n{text}"));
        text[i..].lines().nth(1).unwrap().trim().to_owned()
    };
    assert_eq!(after("X509v3 Key Usage: critical"), "Non Repudiation");
    assert!(
        text.contains("X509v3 Certificate Policies: critical"),
        "{text}"
    );
    assert!(
        text.contains("X509v3 Subject Directory Attributes:"),
        "{text}"
    );
    assert!(
        !text.contains("Extended Key Usage"),
        "signing profile has no EKU"
    );
    assert!(text.contains("X509v3 CRL Distribution Points"), "{text}");
    assert!(
        text.contains(
            "Subject: C = JP, O = Example University Hospital, CN = doctor, serialNumber = D-doctor"
        ),
        "{text}"
    );

    // Issued by the signature CA, not the authentication CA.
    let auth = env.ca("auth");
    let wrong = verify_args(
        root.to_str().unwrap(),
        auth.to_str().unwrap(),
        None,
        cert.to_str().unwrap(),
    );
    assert!(!openssl(&wrong).status.success());

    // Every CA certificate verifies against the root.
    for id in ["root", "sign", "auth"] {
        let ca = env.ca(id);
        openssl_ok(&[
            "verify",
            "-no-CAfile",
            "-no-CApath",
            "-CAfile",
            root.to_str().unwrap(),
            ca.to_str().unwrap(),
        ]);
    }
}

#[test]
fn revocation_shows_in_the_crl() {
    let env = Env::new();
    let good = issue_doctor(&env, "good");
    let bad = issue_doctor(&env, "bad");
    let serial = openssl_ok(&["x509", "-in", bad.to_str().unwrap(), "-noout", "-serial"]);
    let serial = serial.trim().trim_start_matches("serial=").to_owned();
    env.ok(&["revoke", "--serial", &serial, "--reason", "keyCompromise"]);
    // The audit record names the reason as RFC 5280 does (it held Rust's Debug, KeyCompromise).
    let records = support::audit_list(&env.data());
    let revoke = records
        .iter()
        .rfind(|r| r["event"]["action"] == "revoke")
        .unwrap();
    assert_eq!(
        support::detail(revoke, "reason"),
        Some("keyCompromise"),
        "{revoke}"
    );
    let crl = env.path("sign.crl");
    env.ok(&["crl", "--ca", "sign", "--out", crl.to_str().unwrap()]);

    let (root, sign) = (env.ca("root"), env.ca("sign"));
    let (root, sign, crl_s) = (
        root.to_str().unwrap(),
        sign.to_str().unwrap(),
        crl.to_str().unwrap(),
    );
    let crl_text = openssl(&[
        "crl", "-inform", "DER", "-in", crl_s, "-CAfile", sign, "-noout", "-text",
    ]);
    let crl_err = String::from_utf8_lossy(&crl_text.stderr);
    let crl_out = String::from_utf8_lossy(&crl_text.stdout);
    assert!(crl_err.contains("verify OK"), "{crl_err}{crl_out}");
    assert!(crl_out.contains("X509v3 CRL Number"), "{crl_out}");
    assert!(crl_out.contains("Key Compromise"), "{crl_out}");
    assert!(
        crl_out.to_uppercase().contains(&serial.to_uppercase()),
        "{crl_out}"
    );

    let check = |cert: &Path| {
        openssl(&verify_args(
            root,
            sign,
            Some(crl_s),
            cert.to_str().unwrap(),
        ))
    };
    let out = check(&good);
    assert!(out.status.success(), "{out:?}");
    let out = check(&bad);
    assert!(!out.status.success());
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("certificate revoked"), "{all}");

    // Revoking twice is refused and recorded once.
    let before = env.audit_records();
    assert!(
        env.fails(&["revoke", "--serial", &serial])
            .contains("already revoked")
    );
    assert_eq!(env.audit_records(), before);
}

#[test]
fn hold_then_release_and_remove_from_crl_refused() {
    let env = Env::new();
    let cert = issue_doctor(&env, "suspended");
    let serial = openssl_ok(&["x509", "-in", cert.to_str().unwrap(), "-noout", "-serial"]);
    let serial = serial.trim().trim_start_matches("serial=").to_owned();
    let (root, sign) = (env.ca("root"), env.ca("sign"));
    let (root, sign, cert) = (
        root.to_str().unwrap(),
        sign.to_str().unwrap(),
        cert.to_str().unwrap(),
    );
    let crl_now = |name: &str| {
        let crl = env.path(name);
        env.ok(&["crl", "--ca", "sign", "--out", crl.to_str().unwrap()]);
        let pem = env.path(&format!("{name}.pem"));
        openssl_ok(&[
            "crl",
            "-inform",
            "DER",
            "-in",
            crl.to_str().unwrap(),
            "-out",
            pem.to_str().unwrap(),
        ]);
        pem
    };

    // removeFromCRL is refused, with what to do instead, and writes nothing.
    let before = env.audit_records();
    let err = env.fails(&["revoke", "--serial", &serial, "--reason", "removeFromCRL"]);
    assert!(
        err.contains("removeFromCRL is not a revocation reason"),
        "{err}"
    );
    assert!(err.contains("release the certificate"), "{err}");
    // Releasing a certificate that is not on hold is refused too.
    let err = env.fails(&["release", "--serial", &serial]);
    assert!(err.contains("is not on hold"), "{err}");
    assert_eq!(env.audit_records(), before);

    let out = env.ok(&["revoke", "--serial", &serial, "--reason", "certificateHold"]);
    assert!(out.starts_with("held "), "{out}");
    let held = crl_now("held.crl");
    let listing = openssl_ok(&["crl", "-in", held.to_str().unwrap(), "-noout", "-text"]);
    assert!(listing.contains("Certificate Hold"), "{listing}");
    let out = openssl(&verify_args(root, sign, held.to_str(), cert));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("certificate revoked")
            || String::from_utf8_lossy(&out.stderr).contains("certificate revoked"),
        "{out:?}"
    );

    let out = env.ok(&["release", "--serial", &serial]);
    assert!(out.starts_with("released "), "{out}");
    let released = crl_now("released.crl");
    let listing = openssl_ok(&["crl", "-in", released.to_str().unwrap(), "-noout", "-text"]);
    assert!(listing.contains("No Revoked Certificates"), "{listing}");
    let out = openssl(&verify_args(root, sign, released.to_str(), cert));
    assert!(out.status.success(), "{out:?}");
    // Hold, two CRLs, release.
    assert_eq!(env.audit_records(), before + 4);
    let err = env.fails(&["release", "--serial", &serial]);
    assert!(err.contains("is not on hold"), "{err}");
}

#[test]
fn refusals_are_specific_and_write_nothing() {
    let env = Env::new();
    let dir = env.dir.path();
    let good_csr = p256_csr(dir, "good");
    let before = env.audit_records();
    let issue = |profile: &str, csr: &Path, extra: &[&str]| {
        let subject = "C=JP,O=Example Hospital,CN=Refused,serialNumber=R-1";
        env.fails(&support::issue_args(profile, csr, subject, extra))
    };

    // A CSR whose signature was altered proves nothing.
    let mut der = openssl(&["req", "-in", good_csr.to_str().unwrap(), "-outform", "DER"]).stdout;
    let last = der.len() - 3;
    der[last] ^= 0x55;
    let tampered = dir.join("tampered.der");
    std::fs::write(&tampered, &der).unwrap();
    let err = issue("rhp-sign", &tampered, &["--hc-role", JP_ROLE]);
    assert!(err.contains("signature does not verify"), "{err}");

    let rsa1024 = csr(dir, "rsa1024", &["-newkey", "rsa:1024"]);
    let err = issue("rhp-sign", &rsa1024, &["--hc-role", JP_ROLE]);
    assert!(err.contains("rhp-sign") && err.contains("1024"), "{err}");

    let err = issue("rhp-sign", &good_csr, &[]);
    assert!(
        err.contains("rhp-sign") && err.to_lowercase().contains("hcrole"),
        "{err}"
    );

    let err = issue(
        "rhp-sign",
        &good_csr,
        &["--hc-role", JP_ROLE, "--days", "100000"],
    );
    assert!(err.contains("rhp-sign") && err.contains("100000"), "{err}");

    let garbage = dir.join("garbage.csr");
    std::fs::write(&garbage, b"\x30\x82\xff\xffnot a request").unwrap();
    let err = issue("rhp-sign", &garbage, &["--hc-role", JP_ROLE]);
    assert!(err.contains("not a PKCS#10 request"), "{err}");

    let err = issue("no-such-profile", &good_csr, &[]);
    assert!(err.contains("unknown profile"), "{err}");

    let err = issue(
        "rhp-sign",
        &good_csr,
        &["--hc-role", "1.2.392.100495.1.6.1.1:Wizard"],
    );
    assert!(err.contains("Wizard"), "{err}");

    assert_eq!(
        env.audit_records(),
        before,
        "a refusal left an audit record"
    );
    let store = ca_core::store::SledStore::open(&env.data().join("store")).unwrap();
    use ca_core::store::Store;
    assert!(
        store
            .certificates()
            .unwrap()
            .iter()
            .all(|c| c.issuer_ca == "root" || c.profile.starts_with("ocsp-") || c.profile == "tsa"),
        "a refusal stored a certificate (only init's are there: the sub-CAs', the OCSP responders' \
         and the TSA's)"
    );
}

#[test]
fn issue_survives_kill_after_printing() {
    let env = Env::new();
    let csr = p256_csr(env.dir.path(), "killed");
    let mut child = bin()
        .arg("--data-dir")
        .arg(env.data())
        .args([
            "issue",
            "--profile",
            "rhp-sign",
            "--csr",
            csr.to_str().unwrap(),
        ])
        .args([
            "--subject",
            "C=JP,O=Example Hospital,CN=Killed,serialNumber=K-1",
        ])
        .args(["--hc-role", JP_ROLE])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut pem = String::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        pem.push_str(&line);
        pem.push('\n');
        if line.starts_with("-----END CERTIFICATE") {
            break;
        }
    }
    child.kill().ok(); // SIGKILL: no destructor, no flush on exit.
    child.wait().unwrap();
    assert!(pem.contains("BEGIN CERTIFICATE"), "no certificate printed");

    let printed = env.path("printed.pem");
    std::fs::write(&printed, &pem).unwrap();
    let serial = openssl_ok(&[
        "x509",
        "-in",
        printed.to_str().unwrap(),
        "-noout",
        "-serial",
    ]);
    let serial = hex::decode(serial.trim().trim_start_matches("serial=")).unwrap();

    use ca_core::store::Store;
    let store = ca_core::store::SledStore::open(&env.data().join("store")).unwrap();
    let record = store
        .certificate(&serial)
        .unwrap()
        .expect("printed certificate was lost");
    let der = openssl(&["x509", "-in", printed.to_str().unwrap(), "-outform", "DER"]).stdout;
    assert_eq!(record.der, der);
    let log = store.audit_log().unwrap();
    let object = format!("certificate:{}", hex::encode(&serial));
    assert!(
        log.iter().any(|r| r.event.object == object),
        "audit record lost"
    );
    ca_core::store::audit_verify(&store).unwrap();
}

#[test]
fn no_private_key_in_plaintext_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Import known CA keys so the test knows what must not appear.
    let mut secrets = Vec::new();
    let mut args = vec!["init".to_owned()];
    for id in ["root", "sign", "auth"] {
        let pem = dir.path().join(format!("{id}.pem"));
        let key = dir.path().join(format!("{id}.p8"));
        openssl_ok(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            pem.to_str().unwrap(),
        ]);
        openssl_ok(&[
            "pkcs8",
            "-topk8",
            "-nocrypt",
            "-in",
            pem.to_str().unwrap(),
            "-outform",
            "DER",
            "-out",
            key.to_str().unwrap(),
        ]);
        let pkcs8 = std::fs::read(&key).unwrap();
        // ECPrivateKey (RFC 5915): version 1, then the 32-octet private scalar.
        let at = pkcs8
            .windows(5)
            .position(|w| w == [0x02, 0x01, 0x01, 0x04, 0x20])
            .unwrap()
            + 5;
        secrets.push(pkcs8[at..at + 32].to_vec());
        secrets.push(pkcs8);
        args.push("--import-key".into());
        args.push(format!("{id}={}", key.display()));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    support::admin_ok(&data, &args);

    let files = support::files_under(&data);
    assert!(files.len() > 3, "scanned too little: {files:?}");
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        for secret in &secrets {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_slice()),
                "{} holds a private key in plaintext",
                file.display()
            );
        }
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(data.join("master.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn passphrase_sealed_installation_needs_the_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |pass: Option<&str>, args: &[&str]| {
        let mut cmd = bin();
        cmd.arg("--data-dir")
            .arg(&data)
            .args(args)
            .env_remove("HPKI_PASSPHRASE");
        if let Some(p) = pass {
            cmd.env("HPKI_PASSPHRASE", p);
        }
        cmd.output().unwrap()
    };
    assert!(run(Some("correct horse"), &["init"]).status.success());
    assert!(!data.join("master.key").exists());
    let crl = dir.path().join("c.crl");
    let crl = crl.to_str().unwrap();
    assert!(
        run(
            Some("correct horse"),
            &["crl", "--ca", "sign", "--out", crl]
        )
        .status
        .success()
    );
    let wrong = run(Some("wrong"), &["crl", "--ca", "sign", "--out", crl]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("cannot decrypt"));
    let none = run(None, &["crl", "--ca", "sign", "--out", crl]);
    assert_eq!(none.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&none.stderr).contains("HPKI_PASSPHRASE"));
}

#[test]
fn usage_errors_exit_2() {
    let env = Env::new();
    assert_eq!(env.run(&["issue"]).status.code(), Some(2));
    assert_eq!(env.run(&["frobnicate"]).status.code(), Some(2));
    let err = env.fails(&["init"]);
    assert!(err.contains("already holds a CA"), "{err}");
    let empty = tempfile::tempdir().unwrap();
    let out = bin()
        .arg("--data-dir")
        .arg(empty.path().join("none"))
        .args(["crl", "--ca", "sign"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("run `signer-api init` first"));
}

/// Issue 12 item 9 (fails on main, where the data directory was 0755 and its files 0644): the
/// data directory and everything in it are the owner's only, a later start narrows what a looser
/// umask left, and serve and the admin commands refuse a directory others may write.
#[test]
fn data_directory_is_private_and_refused_when_others_may_write() {
    use std::os::unix::fs::PermissionsExt;
    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
    }
    fn assert_private(dir: &Path) {
        assert_eq!(mode(dir), 0o700, "{}", dir.display());
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                assert_private(&path);
            } else {
                assert_eq!(mode(&path), 0o600, "{}", path.display());
            }
        }
    }
    let set = |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m));
    let env = Env::new();
    assert_private(&env.data());
    assert!(env.data().join("master.key").exists());
    assert!(env.ca("root").exists());

    set(&env.ca("root"), 0o644).unwrap();
    set(&env.data(), 0o755).unwrap();
    env.ok(&["audit", "verify"]);
    assert_private(&env.data());

    for loose in [0o777, 0o770, 0o702] {
        set(&env.data(), loose).unwrap();
        let err = env.fails(&["audit", "verify"]);
        assert!(err.contains("is writable by group or others"), "{err}");
        assert!(err.contains(&format!("mode {loose:o}")), "{err}");
        let serve = bin()
            .arg("--data-dir")
            .arg(env.data())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env_remove("HPKI_PASSPHRASE")
            .output()
            .unwrap();
        assert_eq!(serve.status.code(), Some(2), "{serve:?}");
        let err = String::from_utf8_lossy(&serve.stderr);
        assert!(err.contains("is writable by group or others"), "{err}");
    }
    // Nothing was narrowed or written while refusing.
    assert_eq!(mode(&env.data()), 0o702);
    set(&env.data(), 0o700).unwrap();
    env.ok(&["audit", "verify"]);

    // A first start of serve on a fresh, group-writable directory is refused too.
    let fresh = tempfile::tempdir().unwrap();
    let data = fresh.path().join("data");
    std::fs::create_dir(&data).unwrap();
    set(&data, 0o775).unwrap();
    let serve = bin()
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(serve.status.code(), Some(2), "{serve:?}");
    assert!(String::from_utf8_lossy(&serve.stderr).contains("is writable by group or others"));
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 0);
}

/// Issue 12 item 6 (fails on main, which accepted it): CRLs valid for 0 days are refused at init,
/// which then leaves no installation behind.
#[test]
fn init_refuses_zero_crl_days() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = bin()
        .arg("--data-dir")
        .arg(&data)
        .args(["init", "--crl-days", "0"])
        .env_remove("HPKI_PASSPHRASE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--crl-days") && err.contains("0 is not in 1.."),
        "{err}"
    );
    assert!(!data.exists());
}

/// Edits the raw audit tree as an intruder with file access would; the CLI is not running.
fn tamper(env: &Env, edit: impl FnOnce(&sled::Tree)) {
    {
        let db = sled::open(env.data().join("store")).unwrap();
        edit(&db.open_tree(ca_core::store::AUDIT_TREE).unwrap());
        db.flush().unwrap();
    }
    wait_for_unlock(env);
}

/// Waits until sled's lock on the store is free again: sled 0.34 releases it on background
/// threads a moment after the last in-process handle drops (spacejam/sled#1234), and the next
/// CLI command would fail to open the store. flock(1) takes the same flock(2) lock and releases
/// it as it exits.
fn wait_for_unlock(env: &Env) {
    let db = env.data().join("store").join("db");
    for _ in 0..400 {
        let free = Command::new("flock")
            .arg("-n")
            .arg(&db)
            .arg("true")
            .status()
            .expect("flock(1) (util-linux) is required by this test");
        if free.success() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    panic!("sled never released its lock on {}", db.display());
}

#[test]
fn audit_verify_catches_an_edited_or_removed_record() {
    for case in ["edit", "remove-middle", "remove-newest"] {
        let env = Env::new();
        issue_doctor(&env, "a");
        issue_doctor(&env, "b");
        assert_eq!(env.audit_records(), 3, "init + two issues");
        tamper(&env, |tree| {
            let keys: Vec<_> = tree.iter().keys().map(|k| k.unwrap()).collect();
            match case {
                "edit" => {
                    let value = tree.get(&keys[1]).unwrap().unwrap();
                    let text = String::from_utf8(value.to_vec())
                        .unwrap()
                        .replace("cli", "cl1");
                    tree.insert(&keys[1], text.as_bytes()).unwrap();
                }
                "remove-middle" => {
                    tree.remove(&keys[1]).unwrap();
                }
                _ => {
                    tree.remove(keys.last().unwrap()).unwrap();
                }
            }
        });
        let err = env.fails(&["audit", "verify"]);
        assert!(err.contains("audit record"), "{case}: {err}");
    }
}

/// The audit log as an intruder with write access to the stopped store sees it: every record,
/// and a way to put back an edited log with a head that matches (what the unkeyed chain needs).
fn rewrite_log(env: &Env, edit: impl FnOnce(&mut Vec<ca_core::audit::AuditRecord>)) {
    use ca_core::store::{AUDIT_HEAD_KEY, AUDIT_TREE, META_TREE};
    let db = sled::open(env.data().join("store")).unwrap();
    let tree = db.open_tree(AUDIT_TREE).unwrap();
    let mut records: Vec<ca_core::audit::AuditRecord> = tree
        .iter()
        .values()
        .map(|v| serde_json::from_slice(&v.unwrap()).unwrap())
        .collect();
    edit(&mut records);
    tree.clear().unwrap();
    for r in &records {
        tree.insert(r.seq.to_be_bytes(), serde_json::to_vec(r).unwrap())
            .unwrap();
    }
    let last = records.last().unwrap();
    let head = serde_json::json!({"seq": last.seq, "hash": last.hash});
    db.open_tree(META_TREE)
        .unwrap()
        .insert(AUDIT_HEAD_KEY, serde_json::to_vec(&head).unwrap())
        .unwrap();
    db.flush().unwrap();
    drop((tree, db));
    wait_for_unlock(env);
}

/// Recomputes the (unkeyed) hashes of `records` from index `from` on, as anyone can.
fn rechain(records: &mut [ca_core::audit::AuditRecord], from: usize) {
    for i in from..records.len() {
        let prev = (i > 0).then(|| records[i - 1].clone());
        let mac = records[i].mac.take();
        records[i] = ca_core::audit::AuditRecord::next(prev.as_ref(), records[i].event.clone());
        records[i].mac = mac;
    }
}

/// Issue 12 item 10 (fails on main, whose chain used no key): a record rewritten with every
/// hash after it recomputed, or a log rewritten without MACs, passes the unkeyed chain check but
/// not `audit verify`, which checks the audit key's MAC of every record.
#[test]
fn audit_verify_catches_a_rewrite_with_recomputed_hashes() {
    for case in ["recomputed", "stripped"] {
        let env = Env::new();
        issue_doctor(&env, "a");
        issue_doctor(&env, "b");
        let ok = env.ok(&["audit", "verify"]);
        assert!(
            ok.starts_with("audit log OK: 3 records") && ok.contains("from record 1"),
            "{ok}"
        );
        rewrite_log(&env, |records| {
            records[1].event.actor = "cl1".into();
            if case == "stripped" {
                for r in records.iter_mut() {
                    r.mac = None;
                }
            }
            rechain(records, 1);
        });
        {
            // The unkeyed chain is intact again: only the key tells.
            let store = ca_core::store::SledStore::open(&env.data().join("store")).unwrap();
            assert_eq!(ca_core::store::audit_verify(&store).unwrap(), 3, "{case}");
        }
        wait_for_unlock(&env);
        let err = env.fails(&["audit", "verify"]);
        let want = match case {
            "recomputed" => "audit record 2: MAC does not match",
            _ => "no record carries a MAC of the audit key",
        };
        assert!(err.contains(want), "{case}: {err}");
    }
}

/// Issue 12 item 10 (fails on main, which had no checkpoint): `audit checkpoint` exports a
/// signed head; `audit verify --checkpoint` passes while the log extends it and fails, saying
/// so, once the log was cut short below it, which no MAC can show. A forged checkpoint is
/// refused.
#[test]
fn audit_checkpoint_detects_truncation_below_it() {
    let env = Env::new();
    issue_doctor(&env, "a");
    let cp = env.path("checkpoint.json");
    env.ok(&["audit", "checkpoint", "--out", cp.to_str().unwrap()]);
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&cp).unwrap()).unwrap();
    assert_eq!(json["seq"], 2, "{json}");
    // The same checkpoint on standard output verifies too.
    let printed = env.path("printed.json");
    std::fs::write(&printed, env.ok(&["audit", "checkpoint"])).unwrap();
    issue_doctor(&env, "b");
    for file in [&cp, &printed] {
        let out = env.ok(&["audit", "verify", "--checkpoint", file.to_str().unwrap()]);
        assert!(
            out.contains("3 records") && out.contains("extends the checkpoint at record 2"),
            "{out}"
        );
    }

    // A forged checkpoint (another record number, signature kept) is refused.
    let forged = env.path("forged.json");
    let text = std::fs::read_to_string(&cp).unwrap();
    std::fs::write(&forged, text.replace("\"seq\": 2", "\"seq\": 1")).unwrap();
    let err = env.fails(&["audit", "verify", "--checkpoint", forged.to_str().unwrap()]);
    assert!(err.contains("signature does not verify"), "{err}");
    std::fs::write(&forged, "{").unwrap();
    let err = env.fails(&["audit", "verify", "--checkpoint", forged.to_str().unwrap()]);
    assert!(err.contains("malformed checkpoint"), "{err}");

    // Cut back to the init record, head moved with it: every remaining MAC is authentic.
    rewrite_log(&env, |records| records.truncate(1));
    let out = env.ok(&["audit", "verify"]);
    assert!(out.starts_with("audit log OK: 1 records"), "{out}");
    let err = env.fails(&["audit", "verify", "--checkpoint", cp.to_str().unwrap()]);
    assert!(
        err.contains("truncated: the checkpoint is at record 2, the log ends at record 1"),
        "{err}"
    );
}

/// A store restored from a backup and then extended (every MAC authentic, the same key) has
/// another record where the checkpoint was taken: `audit verify --checkpoint` says it was
/// rewritten.
#[test]
fn audit_checkpoint_detects_a_log_rolled_back_and_extended() {
    let env = Env::new();
    issue_doctor(&env, "a");
    let backup = env.path("backup");
    let copy = |from: &Path, to: &Path| {
        let out = Command::new("cp")
            .arg("-a")
            .arg(from)
            .arg(to)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    };
    copy(&env.data(), &backup);
    issue_doctor(&env, "b");
    let cp = env.path("checkpoint.json");
    env.ok(&["audit", "checkpoint", "--out", cp.to_str().unwrap()]);
    std::fs::remove_dir_all(env.data()).unwrap();
    copy(&backup, &env.data());
    issue_doctor(&env, "c");
    issue_doctor(&env, "d");
    assert!(
        env.ok(&["audit", "verify"])
            .starts_with("audit log OK: 4 records")
    );
    let err = env.fails(&["audit", "verify", "--checkpoint", cp.to_str().unwrap()]);
    assert!(
        err.contains("audit record 3 is not the one checkpointed") && err.contains("rewritten"),
        "{err}"
    );
}

/// A data directory made before audit keys (no sealed audit key, records without MACs) gets a
/// key when first opened, recorded as an `audit_key` record: the first authenticated one.
#[test]
fn a_data_directory_without_an_audit_key_gets_one_audited() {
    let env = Env::new();
    issue_doctor(&env, "a");
    {
        let db = sled::open(env.data().join("store")).unwrap();
        db.open_tree(ca_core::store::SETTINGS_TREE)
            .unwrap()
            .remove(ca_core::authority::SETTING_AUDIT_KEY)
            .unwrap()
            .expect("init sealed an audit key");
        db.flush().unwrap();
    }
    wait_for_unlock(&env);
    // The key removed from a keyed log is tampering: no new key is made over it.
    let err = env.fails(&["audit", "verify"]);
    assert!(
        err.contains("audit record 1 carries a MAC but the store holds no audit key"),
        "{err}"
    );
    // What an older hpki wrote: no key, no MACs.
    rewrite_log(&env, |records| {
        for r in records.iter_mut() {
            r.mac = None;
        }
    });
    let out = env.ok(&["audit", "verify"]);
    assert!(
        out.starts_with("audit log OK: 3 records")
            && out.contains("from record 3")
            && out.contains("records 1 to 2 predate the audit key"),
        "{out}"
    );
    let log = support::audit_list(&env.data());
    assert_eq!(log.len(), 3);
    assert_eq!(log[2]["event"]["action"], "audit_key");
    assert_eq!(
        support::detail(&log[2], "unauthenticated_records"),
        Some("2")
    );
    // Created once: the next open finds it.
    issue_doctor(&env, "b");
    let out = env.ok(&["audit", "verify"]);
    assert!(out.starts_with("audit log OK: 4 records"), "{out}");
}

/// Every CA key algorithm, every CSR algorithm (proof of possession checked for each), and a
/// subject with repeated OU and a multi-valued RDN that must survive as written.
#[test]
fn every_algorithm_and_dn_fidelity() {
    let newkeys: [(&str, &[&str]); 4] = [
        (
            "p256",
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        ),
        (
            "p384",
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
        ),
        ("ed25519", &["-newkey", "ed25519"]),
        ("rsa", &["-newkey", "rsa:2048"]),
    ];
    for ca_alg in ["p384", "ed25519"] {
        let dir = tempfile::tempdir().unwrap();
        let env = Env { dir };
        env.ok(&["init", "--key-alg", ca_alg]);
        let root = env.ca("root");
        let text = openssl_ok(&["x509", "-in", root.to_str().unwrap(), "-noout", "-text"]);
        let want = if ca_alg == "p384" {
            "NIST CURVE: P-384"
        } else {
            "ED25519"
        };
        assert!(
            text.to_uppercase().contains(&want.to_uppercase()),
            "{ca_alg}: {text}"
        );
        for (alg, newkey) in newkeys {
            let csr = csr(env.dir.path(), alg, newkey);
            let out = env.path(&format!("{alg}.pem"));
            env.ok(&doctor_args(
                &csr,
                "C=JP,O=Example Hospital,OU=Cardiology,OU=Ward 3,CN=Multi+serialNumber=M-1",
                &[
                    "--san",
                    "email:multi@example.jp",
                    "--out",
                    out.to_str().unwrap(),
                ],
            ));
            let sign = env.ca("sign");
            let ok = openssl_ok(&verify_args(
                root.to_str().unwrap(),
                sign.to_str().unwrap(),
                None,
                out.to_str().unwrap(),
            ));
            assert!(ok.contains(": OK"), "{ca_alg}/{alg}: {ok}");
            let subject = openssl_ok(&[
                "x509",
                "-in",
                out.to_str().unwrap(),
                "-noout",
                "-subject",
                "-nameopt",
                "RFC2253",
            ]);
            // RFC 2253 prints most specific first.
            assert_eq!(
                subject.trim(),
                "subject=CN=Multi+serialNumber=M-1,OU=Ward 3,OU=Cardiology,O=Example Hospital,C=JP",
                "{ca_alg}/{alg}"
            );
        }
    }
}

fn copy_policies(to: &Path) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
    for sub in ["", "roles", "purposes"] {
        std::fs::create_dir_all(to.join(sub)).unwrap();
        for entry in std::fs::read_dir(from.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                std::fs::copy(&path, to.join(sub).join(path.file_name().unwrap())).unwrap();
            }
        }
    }
}

/// Profiles are data: a deployment's own `policies/` directory is validated at start and used.
#[test]
fn policies_directory_replaces_the_built_in_profiles() {
    let env = Env::new();
    let policies = env.path("policies");
    copy_policies(&policies);
    let rhp = policies.join("rhp-sign.toml");
    let text = std::fs::read_to_string(&rhp).unwrap();
    let shorter = text
        .lines()
        .map(|l| {
            if l.starts_with("max_validity_days") {
                "max_validity_days = 30"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&rhp, shorter).unwrap();
    let csr = p256_csr(env.dir.path(), "p");
    let p = policies.to_str().unwrap();
    let mut args = vec!["--policies", p];
    args.extend(doctor_args(
        &csr,
        "C=JP,CN=P,serialNumber=P-1",
        &["--days", "31"],
    ));
    let err = env.fails(&args);
    assert!(err.contains("31 days exceeds the maximum 30"), "{err}");

    std::fs::write(&rhp, format!("{text}\nsurprise = 1\n")).unwrap();
    let err = env.fails(&["--policies", p, "profiles"]);
    assert!(
        err.contains("rhp-sign.toml") && err.contains("surprise"),
        "{err}"
    );
}

/// Issue 12 item 3: `serve --policies DIR` applies `DIR/purposes/signing.toml`, so an operator's
/// stricter role × purpose table is not silently replaced by the built-in one: with "author" taken
/// from the Medical Doctor row, the demo doctor may no longer sign as author (which the built-in
/// table allows) but still as reviewer.
#[test]
fn serve_applies_the_policies_directory_signing_table() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    copy_policies(&policies);
    let table = policies.join("purposes/signing.toml");
    let text = std::fs::read_to_string(&table).unwrap();
    let stricter = text.replacen("    \"author\", \"coauthor\",", "    \"coauthor\",", 1);
    assert_ne!(stricter, text, "the Medical Doctor row lists author first");
    std::fs::write(&table, stricter).unwrap();
    let (server, demo) = support::start_fresh(
        &dir.path().join("data"),
        &[("HPKI_POLICIES", policies.to_str().unwrap())],
    );
    let sign = |purpose: &str| {
        server.post_bytes(
            &format!(
                "/v1/signatures?credential={}&purpose={purpose}",
                demo.credential
            ),
            Some(&demo.signer),
            "application/octet-stream",
            b"discharge summary",
        )
    };
    let detail = sign("author").problem(403);
    assert!(detail.contains("may not sign with purpose"), "{detail}");
    let r = sign("review");
    assert_eq!(r.status, 201, "{}", r.text());
}

/// Hostile input to every admin subcommand (issue 6 part 4): each ends with exit 2 and a message
/// within a time guard, and writes nothing (the audit log does not grow).
#[test]
fn hostile_admin_input_exits_2_and_writes_nothing() {
    let env = Env::new();
    let before = env.audit_records();
    let write = |name: &str, bytes: &[u8]| {
        let p = env.path(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let big = env.path("big.csr");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(2 << 20)
        .unwrap();
    let big = big.to_str().unwrap().to_owned();
    let deep = write("deep.csr", &[0x30, 0x80].repeat(100_000));
    let huge_len = write(
        "huge.csr",
        &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x02, 0x01, 0x00],
    );
    let bad_b64 = write(
        "b64.csr",
        b"-----BEGIN CERTIFICATE REQUEST-----\n%%%%\n-----END CERTIFICATE REQUEST-----\n",
    );
    let good = p256_csr(env.dir.path(), "good");
    let good = good.to_str().unwrap().to_owned();
    let long = "x".repeat(10_000);
    let long_subject = format!("C=JP,CN={long}");
    let roles: Vec<String> = (0..1_000).map(|_| JP_ROLE.to_owned()).collect();
    let issue = |csr: &str, subject: &str| {
        vec![
            "issue".to_owned(),
            "--profile".into(),
            "rhp-sign".into(),
            "--csr".into(),
            csr.into(),
            "--subject".into(),
            subject.into(),
            "--hc-role".into(),
            JP_ROLE.into(),
        ]
    };
    let subject = "C=JP,O=Example Hospital,CN=Hostile,serialNumber=H-1";
    let mut many_roles = issue(&good, subject);
    for r in &roles {
        many_roles.extend(["--hc-role".to_owned(), r.clone()]);
    }
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("CSR over 1 MiB", issue(&big, subject)),
        ("CSR nested 100,000 deep", issue(&deep, subject)),
        ("CSR claiming 4 GiB", issue(&huge_len, subject)),
        ("CSR with bad base64", issue(&bad_b64, subject)),
        ("CSR missing", issue("/nonexistent/x.csr", subject)),
        (
            "CSR is a directory",
            issue(env.dir.path().to_str().unwrap(), subject),
        ),
        ("subject 10,000 characters", issue(&good, &long_subject)),
        ("subject not a name", issue(&good, "=,=,,==")),
        ("1,000 roles", many_roles),
        ("bad SAN", {
            let mut v = issue(&good, subject);
            v.extend(s(&["--san", "gopher:x"]));
            v
        }),
        ("days overflow", {
            let mut v = issue(&good, subject);
            v.extend(s(&["--days", "99999999999999999999"]));
            v
        }),
        ("revoke: serial not hex", s(&["revoke", "--serial", "zz"])),
        (
            "revoke: serial 10,000 digits",
            s(&["revoke", "--serial", &"a".repeat(10_000)]),
        ),
        (
            "revoke: unknown serial",
            s(&["revoke", "--serial", "0badc0de"]),
        ),
        (
            "revoke: bad reason",
            s(&["revoke", "--serial", "00", "--reason", "because"]),
        ),
        (
            "revoke: bad date",
            s(&["revoke", "--serial", "00", "--invalidity-date", "soon"]),
        ),
        ("crl: traversal", s(&["crl", "--ca", "../../etc"])),
        ("crl: long", s(&["crl", "--ca", &long])),
        ("token: bad scope", s(&["token", "--scope", "root"])),
        (
            "token: days 0",
            s(&["token", "--scope", "ra", "--days", "0"]),
        ),
        (
            "token: days overflow",
            s(&["token", "--scope", "ra", "--days", "-1"]),
        ),
        ("init: again", s(&["init"])),
        ("audit: unknown", s(&["audit", "frobnicate"])),
        (
            "checkpoint: endless device",
            s(&["audit", "verify", "--checkpoint", "/dev/zero"]),
        ),
        (
            "checkpoint: over 1 MiB",
            s(&["audit", "verify", "--checkpoint", &big]),
        ),
        (
            "checkpoint: DER nesting",
            s(&["audit", "verify", "--checkpoint", &deep]),
        ),
        (
            "checkpoint: a directory",
            s(&[
                "audit",
                "verify",
                "--checkpoint",
                env.dir.path().to_str().unwrap(),
            ]),
        ),
    ];
    for (what, args) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let started = std::time::Instant::now();
        let err = env.fails(&args);
        assert!(!err.trim().is_empty(), "{what}: no message");
        assert!(!err.contains("panicked"), "{what}: {err}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "{what}: too slow"
        );
    }
    // init on a fresh directory with a hostile key file, policy arc or base URL.
    let fresh = tempfile::tempdir().unwrap();
    let key_garbage = write("garbage.p8", &[0x30, 0x80].repeat(10_000));
    for (what, extra) in [
        (
            "import-key garbage",
            vec!["--import-key", &*format!("sign={key_garbage}")],
        ),
        ("import-key no =", vec!["--import-key", "sign"]),
        (
            "import-key unknown CA",
            vec!["--import-key", &*format!("nope={key_garbage}")],
        ),
        ("policy arc not an OID", vec!["--policy-arc", "2.25.x"]),
    ] {
        let out = bin()
            .arg("--data-dir")
            .arg(fresh.path().join("data"))
            .arg("init")
            .args(&extra)
            .env_remove("HPKI_PASSPHRASE")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{what}: {out:?}");
        assert!(
            !fresh.path().join("data/store").exists(),
            "{what}: left a store behind"
        );
    }
    // serve with a hostile configuration stops at once with exit 2.
    for (what, k, v) in [
        ("JSON limit not a number", "HPKI_JSON_LIMIT", "lots"),
        ("listen address garbage", "HPKI_LISTEN", "999.0.0.1:http"),
    ] {
        let out = bin()
            .arg("--data-dir")
            .arg(env.data())
            .arg("serve")
            .env(k, v)
            .env_remove("HPKI_PASSPHRASE")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{what}: {out:?}");
    }
    assert_eq!(
        env.audit_records(),
        before,
        "a refusal wrote an audit record"
    );
}

/// Issue 12 item 13 (e): a second `serve` on a directory in use exits 2 with one message that
/// says what is wrong and what to do, printed once (it printed sled's lock error twice). Admin
/// commands go through the running server's admin socket (tests/admin_socket.rs); with that socket
/// gone (removed by hand), they say the same as `serve`.
#[test]
fn admin_commands_beside_a_running_service_say_so_once() {
    let env = Env::new();
    let (_server, _) = support::spawn(&env.data(), &[]);
    std::fs::remove_file(env.data().join("admin.sock")).unwrap();
    for args in [
        &["token", "list"][..],
        &["audit", "verify"],
        &["revoke", "--serial", "01"],
        &["crl", "--ca", "sign"],
        &["serve", "--listen", "127.0.0.1:0"],
    ] {
        let err = env.fails(args);
        let expected = format!(
            "error: the data directory {} is in use by a running signer-api: stop the service \
             first, or make this change through its HTTP API\n",
            env.data().display()
        );
        assert_eq!(err, expected, "{args:?}");
    }
}

/// Issue 12 item 13 (e), the same fault elsewhere: a configuration that cannot be read or parsed
/// is reported once (its cause was printed twice, as the message's end and again as its source).
#[test]
fn configuration_errors_are_printed_once() {
    let env = Env::new();
    let missing = env.path("missing.toml");
    let err = env.fails(&["serve", "--config", missing.to_str().unwrap()]);
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
    let bad = env.path("bad.toml");
    std::fs::write(&bad, "lissen = 1\n").unwrap();
    let err = env.fails(&["serve", "--config", bad.to_str().unwrap()]);
    assert_eq!(err.matches("unknown field `lissen`").count(), 1, "{err}");
}

/// `init` makes the time-stamping authority with the CAs and says where relying parties fetch its
/// certificate; `--tsa-policy` is the tokens' policy, named in the init record; a policy that is
/// not an OID is refused (exit 2) and leaves no installation behind.
#[test]
fn init_makes_the_tsa_and_prints_where_its_certificate_is() {
    let env = Env {
        dir: tempfile::tempdir().unwrap(),
    };
    let out = env.ok(&[
        "init",
        "--base-url",
        "https://pki.example.org/",
        "--tsa-policy",
        "1.2.392.200119.9.1",
    ]);
    assert!(
        out.lines().any(|l| l
            == "time-stamping authority: https://pki.example.org/v1/timestamps (certificate and \
                chain: https://pki.example.org/v1/timestamps/certificate; policy \
                1.2.392.200119.9.1)"),
        "{out}"
    );
    // The existing lines stay.
    assert!(out.starts_with("initialised CA hierarchy in "), "{out}");
    assert!(out.contains("\npolicy arc: "), "{out}");
    let records = support::audit_list(&env.data());
    assert_eq!(records[0]["event"]["action"], "init");
    assert_eq!(
        support::detail(&records[0], "tsa_policy"),
        Some("1.2.392.200119.9.1")
    );
    assert_eq!(support::detail(&records[0], "tsa_profile"), Some("tsa"));

    let bad = Env {
        dir: tempfile::tempdir().unwrap(),
    };
    let err = bad.fails(&["init", "--tsa-policy", "not.an.oid"]);
    assert!(err.contains("TSA policy \"not.an.oid\""), "{err}");
    assert!(
        !bad.data().join("store").exists(),
        "a refused init left a store"
    );
}

/// Whether the database at `url` holds no hpki record.
fn database_is_empty(url: &str) -> bool {
    use ca_core::store::Store;
    ca_core::store::PgStore::open(url)
        .unwrap()
        .is_empty()
        .unwrap()
}

/// An admin command on `data` with the store `HPKI_STORE` names (the data directory's own
/// `store/` when `None`).
fn admin_on(data: &Path, store: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = bin();
    cmd.arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("HPKI_PASSPHRASE")
        .env_remove("HPKI_STORE");
    if let Some(store) = store {
        cmd.env("HPKI_STORE", store);
    }
    cmd.output().unwrap()
}

fn admin_ok(data: &Path, store: Option<&str>, args: &[&str]) -> String {
    let out = admin_on(data, store, args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a command that must exit 2; returns its standard error.
fn admin_fails(data: &Path, store: Option<&str>, args: &[&str]) -> String {
    let out = admin_on(data, store, args);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{args:?} did not exit 2: {out:?}"
    );
    assert!(out.stdout.is_empty(), "{out:?}");
    String::from_utf8(out.stderr).unwrap()
}

/// Signs a digest through the running server; returns the 201's body.
fn sign_over_http(server: &support::Server, demo: &support::Demo) -> serde_json::Value {
    use base64::Engine;
    let digest = base64::engine::general_purpose::STANDARD.encode(support::sha256(b"referral"));
    let r = server.post_json(
        "/v1/signatures",
        Some(&demo.signer),
        &serde_json::json!({"credential": demo.credential, "digest": digest,
                            "digest_algorithm": "sha256", "purpose": "author"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

fn audit_list(data: &Path, store: Option<&str>) -> Vec<ca_core::audit::AuditRecord> {
    admin_ok(data, store, &["audit", "list"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Issue 15 item 5: an installation served from sled moves to PostgreSQL with `store copy`
/// (refused while `serve` holds the sled store), `serve` on the copy signs with the copied
/// credential and token and chains the signature onto the copied head, and the database copies
/// back into a new sled directory whose log `audit verify` accepts.
#[test]
fn store_copy_moves_a_served_installation_to_postgres_and_back() {
    let db = pg::TestDatabase::new();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let store = data.join("store");
    let from_sled = format!("sled:{}", store.display());
    let (server, demo) = support::start_fresh(&data, &[]);
    sign_over_http(&server, &demo);

    // Beside a running serve: refused, and the database is left empty.
    let err = admin_fails(
        &data,
        None,
        &["store", "copy", "--from", &from_sled, "--to", &db.url],
    );
    assert!(
        err.contains("is in use by a running signer-api: stop `serve` first"),
        "{err}"
    );
    assert!(!err.contains(&db.url), "the URL may hold a password: {err}");
    assert!(database_is_empty(&db.url));
    drop(server);

    let source_log = audit_list(&data, None);
    let out = admin_ok(
        &data,
        None,
        &["store", "copy", "--from", &from_sled, "--to", &db.url],
    );
    let head = source_log.last().unwrap();
    assert!(
        out.contains(&format!(
            "the copy's head is the source's (record {}, hash {})",
            head.seq, head.hash
        )) && out.contains("MACs checked from record 1"),
        "{out}"
    );
    assert!(!out.contains(&db.url), "{out}");
    assert_eq!(
        audit_list(&data, Some(&db.url)),
        source_log,
        "the log as stored"
    );

    // serve on the copy: the copied token and credential sign; the record chains on.
    let (server, _) = support::spawn(&data, &[("HPKI_STORE", db.url.as_str())]);
    sign_over_http(&server, &demo);
    drop(server);
    let copied_log = audit_list(&data, Some(&db.url));
    assert_eq!(copied_log[..source_log.len()], source_log[..]);
    // A B-T signature: its time-stamp's record, then its own, the first on the copied head.
    let added = &copied_log[source_log.len()..];
    let actions: Vec<_> = added.iter().map(|r| r.event.action).collect();
    use ca_core::audit::AuditAction;
    assert_eq!(
        actions,
        [AuditAction::Timestamp, AuditAction::Sign],
        "{added:?}"
    );
    assert_eq!(
        (added[0].seq, &added[0].prev_hash),
        (head.seq + 1, &head.hash)
    );
    let verified = admin_ok(&data, Some(&db.url), &["audit", "verify"]);
    assert!(
        verified.starts_with(&format!("audit log OK: {} records", copied_log.len())),
        "{verified}"
    );

    // And back, into a new sled directory.
    let back = dir.path().join("back");
    let to_back = format!("sled:{}", back.display());
    let out = admin_ok(
        &data,
        None,
        &["store", "copy", "--from", &db.url, "--to", &to_back],
    );
    assert!(out.contains(&format!("to {to_back}:")), "{out}");
    assert_eq!(audit_list(&data, Some(&to_back)), copied_log);
    let verified = admin_ok(&data, Some(&to_back), &["audit", "verify"]);
    assert!(
        verified.starts_with(&format!("audit log OK: {} records", copied_log.len()))
            && verified.contains("from record 1"),
        "{verified}"
    );
}

/// Issue 15 item 5: `store copy` into a store that holds records exits 2 and leaves it as it
/// was (sled and PostgreSQL); a source whose audit log was edited is refused and nothing of it
/// is written anywhere.
#[test]
fn store_copy_refuses_a_non_empty_target_and_a_tampered_source() {
    let db = pg::TestDatabase::new();
    let env = Env::new();
    issue_doctor(&env, "a");
    let data = env.data();
    let from = format!("sled:{}", data.join("store").display());
    let copy_dir = env.path("copy");
    let to_sled = format!("sled:{}", copy_dir.display());
    admin_ok(
        &data,
        None,
        &["store", "copy", "--from", &from, "--to", &to_sled],
    );
    admin_ok(
        &data,
        None,
        &["store", "copy", "--from", &from, "--to", &db.url],
    );
    issue_doctor(&env, "b");
    let sled_before = audit_list(&data, Some(&to_sled));
    let pg_before = audit_list(&data, Some(&db.url));
    assert_eq!(sled_before.len(), 2);
    for target in [&to_sled, &db.url] {
        let err = admin_fails(
            &data,
            None,
            &["store", "copy", "--from", &from, "--to", target],
        );
        assert!(
            err.contains("the target store is not empty")
                && err.contains("a copy goes only into an empty store"),
            "{err}"
        );
    }
    assert_eq!(audit_list(&data, Some(&to_sled)), sled_before);
    assert_eq!(audit_list(&data, Some(&db.url)), pg_before);

    // The source's record 2 edited (its hash no longer matches).
    tamper(&env, |tree| {
        let key = 2u64.to_be_bytes();
        let text = String::from_utf8(tree.get(key).unwrap().unwrap().to_vec())
            .unwrap()
            .replace("cli", "cl1");
        tree.insert(key, text.as_bytes()).unwrap();
    });
    let fresh = pg::TestDatabase::new();
    let elsewhere = env.path("elsewhere");
    for target in [fresh.url.clone(), format!("sled:{}", elsewhere.display())] {
        let err = admin_fails(
            &data,
            None,
            &["store", "copy", "--from", &from, "--to", &target],
        );
        assert!(
            err.contains("the source's audit log does not verify: audit record 2: hash mismatch"),
            "{err}"
        );
    }
    assert!(database_is_empty(&fresh.url));
    assert!(!elsewhere.exists());
    let leftovers: Vec<_> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains(".copy-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
