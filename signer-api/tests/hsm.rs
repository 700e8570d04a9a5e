//! CA keys in a PKCS#11 token (issue 16), against SoftHSMv2: `init --keys pkcs11`, then
//! certificates, CRLs, B-T signatures and OCSP answers signed in the token, each verified by
//! OpenSSL and by the `verifier-cli` binary (the certificate's path with the CRLs, then with
//! the OCSP answer; the signature at B-T); the data
//! directory holds references, never the keys; a token gone mid-run is 503, then recovery.
//!
//! The server is a child process, so each test gives it its own `SOFTHSM2_CONF` (a tokens
//! directory in a temp dir) in its environment.

mod support;

#[path = "../../ca-core/tests/it/support/postgres.rs"]
mod pg;

use ca_core::store::{SledStore, Store};
use std::path::{Path, PathBuf};
use std::process::Command;
use support::{Server, openssl};
use x509_cert::der::{Decode, Encode};

const USER_PIN: &str = "user-pin-5678";
const LABEL: &str = "hpki";
const DOC: &[u8] = b"discharge summary, ward 7: amoxicillin 500 mg";

/// Debian's locations of the SoftHSM module (`softhsm2`).
fn module() -> PathBuf {
    [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
    .expect("SoftHSM is required by these tests: apt-get install softhsm2 opensc (.ci/run does)")
}

/// A SoftHSM token labelled `hpki` in `dir/tokens`, and the environment naming it.
struct Token {
    conf: PathBuf,
    tokens: PathBuf,
    env: Vec<(&'static str, String)>,
}

impl Token {
    fn new(dir: &Path) -> Self {
        let tokens = dir.join("tokens");
        std::fs::create_dir(&tokens).unwrap();
        let conf = dir.join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .unwrap();
        let out = Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &conf)
            .args(["--init-token", "--free", "--label", LABEL])
            .args(["--so-pin", "so-pin-1234", "--pin", USER_PIN])
            .output()
            .expect("softhsm2-util is required (.ci/run installs softhsm2)");
        assert!(out.status.success(), "{out:?}");
        let env = vec![
            ("SOFTHSM2_CONF", conf.display().to_string()),
            ("HPKI_KEYS_BACKEND", "pkcs11".to_owned()),
            ("HPKI_PKCS11_MODULE", module().display().to_string()),
            ("HPKI_PKCS11_TOKEN", LABEL.to_owned()),
            ("HPKI_PKCS11_PIN", USER_PIN.to_owned()),
        ];
        Self { conf, tokens, env }
    }

    fn env(&self) -> Vec<(&str, &str)> {
        self.env.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }

    /// `pkcs11-tool` (OpenSC) logged in to the token: its stdout.
    fn tool(&self, args: &[&str]) -> String {
        let out = Command::new("pkcs11-tool")
            .env("SOFTHSM2_CONF", &self.conf)
            .arg("--module")
            .arg(module())
            .args(["--token-label", LABEL, "--login", "--pin", USER_PIN])
            .args(args)
            .output()
            .expect("pkcs11-tool is required (.ci/run installs opensc)");
        assert!(out.status.success(), "pkcs11-tool {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// An admin command with `env` (the PIN in the environment, never an argument).
fn cli(data: &Path, env: &[(&str, &str)], args: &[&str]) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_signer-api"));
    cmd.arg("--data-dir").arg(data).args(args);
    cmd.env_remove("HPKI_PASSPHRASE").env_remove("HPKI_STORE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn cli_ok(data: &Path, env: &[(&str, &str)], args: &[&str]) -> String {
    let (ok, out, err) = cli(data, env, args);
    assert!(ok, "{args:?}: {err}");
    out
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn pem_of(der: &[u8]) -> String {
    x509_cert::der::pem::encode_string("CERTIFICATE", x509_cert::der::pem::LineEnding::LF, der)
        .unwrap()
}

/// `keys list`: each key's role → its line; every CA, TSA and OCSP key is in the token.
fn keys_in_token(data: &Path, env: &[(&str, &str)]) -> Vec<(String, String)> {
    let listed = cli_ok(data, env, &["keys", "list"]);
    let mut ids = Vec::new();
    for role in [
        "ca:root",
        "ca:sign",
        "ca:auth",
        "tsa",
        "ocsp:sign",
        "ocsp:auth",
    ] {
        let line = listed
            .lines()
            .find(|l| l.starts_with(&format!("{role}\t")))
            .unwrap_or_else(|| panic!("no {role} in {listed}"));
        assert!(line.contains("\tpkcs11\t"), "{line}");
        assert!(line.contains(&format!("token=\"{LABEL}\"")), "{line}");
        assert!(!line.contains(USER_PIN), "{line}");
        let id = line.rsplit("id=").next().unwrap().trim().to_owned();
        ids.push((role.to_owned(), id));
    }
    ids
}

/// Nothing in `data` can recreate a token key: each CA's record is a reference with no sealed
/// blob, so are the TSA's and the responders' settings, each CA certificate's public key is the
/// token's public object's, and no file holds a PKCS#8 or PEM private key.
fn assert_no_key_material(data: &Path, token: &Token, ids: &[(String, String)]) {
    let store = SledStore::open(&data.join("store")).unwrap();
    for (role, id) in ids {
        let (sealed, reference): (Vec<u8>, serde_json::Value) = match role.split_once(':') {
            Some(("ca", ca)) => {
                let record = store.authority(ca).unwrap().unwrap();
                let cert = x509_cert::Certificate::from_der(&record.certificate_der).unwrap();
                let spki = cert
                    .tbs_certificate()
                    .subject_public_key_info()
                    .to_der()
                    .unwrap();
                // The token's public key object, read by OpenSC, is the certificate's key.
                let out = data.join(format!("{ca}.pub.der"));
                token.tool(&[
                    "--read-object",
                    "--type",
                    "pubkey",
                    "--id",
                    id,
                    "-o",
                    out.to_str().unwrap(),
                ]);
                assert_eq!(std::fs::read(&out).unwrap(), spki, "{role}");
                std::fs::remove_file(&out).unwrap();
                (
                    record.sealed_key,
                    serde_json::to_value(record.pkcs11).unwrap(),
                )
            }
            _ => {
                let key = match role.split_once(':') {
                    Some(("ocsp", ca)) => format!("ocsp.responder.{ca}"),
                    _ => "tsa.key".to_owned(),
                };
                let setting: serde_json::Value =
                    serde_json::from_slice(&store.setting(&key).unwrap().unwrap()).unwrap();
                let sealed = match &setting["sealed_key"] {
                    serde_json::Value::String(hex) => hex.as_bytes().to_vec(),
                    serde_json::Value::Array(a) => a.iter().map(|_| 0).collect(),
                    _ => Vec::new(),
                };
                (sealed, setting["pkcs11"].clone())
            }
        };
        assert!(sealed.is_empty(), "{role}: a sealed key is stored");
        assert_eq!(reference["id"], id.as_str(), "{role}: {reference}");
        assert_eq!(reference["token"], LABEL, "{role}");
    }
    drop(store);
    // P-256 PKCS#8 (RFC 5208 version 0, id-ecPublicKey) and SEC1 ECPrivateKey openings.
    let pkcs8 = [
        0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
    ];
    for file in support::files_under(data) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(pkcs8.len()).any(|w| w == pkcs8),
            "{} holds a PKCS#8 EC key",
            file.display()
        );
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("PRIVATE KEY"), "{}", file.display());
    }
}

/// The private keys as OpenSC lists them: each sensitive and never extractable.
fn assert_guarded(token: &Token, ids: &[(String, String)]) {
    let listed = token.tool(&["--list-objects", "--type", "privkey"]);
    for (role, id) in ids {
        let object = listed
            .split("Private Key Object")
            .find(|o| o.contains(&format!("ID:         {id}")))
            .unwrap_or_else(|| panic!("{role}: no private key {id} in {listed}"));
        assert!(
            object.contains("sensitive") && object.contains("never extractable"),
            "{role}: {object}"
        );
    }
}

fn ocsp_good(dir: &Path, server: &Server, cert: &Path, issuer: &Path) -> PathBuf {
    let respout = dir.join("resp.der");
    let url = format!("{}/v1/ocsp", server.base);
    let ask = |trust: &[&str]| {
        let mut args = vec!["ocsp", "-issuer", issuer.to_str().unwrap(), "-url", &url];
        args.extend([
            "-nonce",
            "-respout",
            respout.to_str().unwrap(),
            "-reqout",
            "ocsp.req",
        ]);
        args.extend(["-cert", cert.to_str().unwrap()]);
        args.extend_from_slice(trust);
        let (ok, text) = openssl::run(dir, &args);
        assert!(ok && text.contains("Response verify OK"), "{text}");
        assert!(text.contains(": good"), "{text}");
    };
    ask(&["-CAfile", dir.join("cas.pem").to_str().unwrap()]);
    // The delegated responder (its key in the token), trusted alone.
    let response =
        ca_core::ocsp::OcspResponse::from_der(&std::fs::read(&respout).unwrap()).unwrap();
    let basic = ca_core::ocsp::BasicOcspResponse::from_der(
        response.response_bytes.unwrap().response.as_bytes(),
    )
    .unwrap();
    let responder = dir.join("responder.pem");
    std::fs::write(
        &responder,
        pem_of(&basic.certs.unwrap()[0].to_der().unwrap()),
    )
    .unwrap();
    ask(&["-VAfile", responder.to_str().unwrap()]);
    responder
}

/// A raw document signed at B-T (detached); checked by `openssl cms -verify`, ca-core's
/// verifier and the `verifier-cli` binary.
fn sign_and_verify(dir: &Path, server: &Server, credential: &str, signer: &str) {
    let r = server.post_bytes(
        &format!("/v1/signatures?credential={credential}&purpose=author&level=B-T"),
        Some(signer),
        "application/octet-stream",
        DOC,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    std::fs::write(dir.join("sig.p7s"), &r.body).unwrap();
    std::fs::write(dir.join("doc.txt"), DOC).unwrap();
    let root = dir.join("data/ca/root.pem");
    let (ok, out) = openssl::run(
        dir,
        &[
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
            "-content",
            "doc.txt",
            "-out",
            "out.txt",
        ],
    );
    assert!(ok, "openssl cms -verify: {out}");
    assert_eq!(std::fs::read(dir.join("out.txt")).unwrap(), DOC);
    let mut policy = ca_core::verify::Policy::new(now());
    policy.trust_anchors = vec![
        x509_cert::Certificate::from_pem(std::fs::read(&root).unwrap())
            .unwrap()
            .to_der()
            .unwrap(),
    ];
    let report = ca_core::verify::verify_bytes(&r.body, Some(DOC), &policy);
    assert_eq!(
        report.indication,
        ca_core::verify::Indication::TotalPassed,
        "{}",
        serde_json::to_string_pretty(&report).unwrap()
    );
    let level = serde_json::to_value(&report.signatures[0]).unwrap()["level"].clone();
    assert_eq!(level, "B-T", "{level}");
    // And the relying party's tool: `verifier-cli verify`, exit 0, TOTAL-PASSED at B-T.
    let (code, out) = support::verifier_cli(&[
        "verify",
        "--cms",
        dir.join("sig.p7s").to_str().unwrap(),
        "--content",
        dir.join("doc.txt").to_str().unwrap(),
        "--trust-anchor",
        root.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
    assert_eq!(
        (code, &json["indication"]),
        (0, &"TOTAL-PASSED".into()),
        "{out}"
    );
    assert_eq!(json["signatures"][0]["level"], "B-T", "{out}");
}

use x509_cert::der::DecodePem;

/// `init --keys pkcs11`; the keys listed in the token, guarded, and absent from the data
/// directory; then `serve` issues a certificate, a CRL, a B-T signature with a credential key
/// made in the token, an OCSP answer, each verified by OpenSSL; the token directory moved away
/// mid-run is 503 problem+json with Retry-After on the signing routes and `/health` says why;
/// moved back, the same server signs again, without a restart.
#[test]
fn init_in_the_token_signs_everything_and_survives_the_token_going_away() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = dir.join("data");
    let token = Token::new(dir);
    let env = token.env();

    // Importing a software CA key into an HSM installation is refused unless asked for.
    let key = dir.join("sign.p8");
    openssl::ok(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            key.to_str().unwrap(),
        ],
    );
    let import = format!("sign={}", key.display());
    let (ok, _, err) = cli(
        &data,
        &env,
        &["init", "--keys", "pkcs11", "--import-key", &import],
    );
    assert!(!ok, "an import into the token installation was accepted");
    assert!(err.contains("--allow-software-ca-key"), "{err}");
    assert!(!data.join("store").exists(), "a refused init wrote a store");
    // Asked for, the imported key is the one CA key sealed in the store, and listed so.
    let imported = dir.join("imported");
    let args = [
        "init",
        "--keys",
        "pkcs11",
        "--import-key",
        &import,
        "--allow-software-ca-key",
    ];
    cli_ok(&imported, &env, &args);
    let listed = cli_ok(&imported, &env, &["keys", "list"]);
    let line = |role: &str| {
        listed
            .lines()
            .find(|l| l.starts_with(&format!("{role}\t")))
            .unwrap_or_else(|| panic!("no {role} in {listed}"))
            .to_owned()
    };
    assert!(
        line("ca:sign").contains("\tsoftware\tsealed in the store"),
        "{listed}"
    );
    assert!(line("ca:root").contains("\tpkcs11\t"), "{listed}");

    let out = cli_ok(&data, &env, &["init", "--keys", "pkcs11"]);
    assert!(out.contains("initialised CA hierarchy"), "{out}");
    let ids = keys_in_token(&data, &env);
    assert_guarded(&token, &ids);
    assert_no_key_material(&data, &token, &ids);
    // Configured with another token (a second one of the module, same PIN), nothing opens: the
    // references name token "hpki", and a token never opens another's key.
    let out = Command::new("softhsm2-util")
        .env("SOFTHSM2_CONF", &token.conf)
        .args(["--init-token", "--free", "--label", "other"])
        .args(["--so-pin", "so-pin-1234", "--pin", USER_PIN])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let other: Vec<(&str, &str)> = env
        .iter()
        .map(|&(k, v)| (k, if k == "HPKI_PKCS11_TOKEN" { "other" } else { v }))
        .collect();
    let (ok, _, err) = cli(&data, &other, &["keys", "list"]);
    assert!(!ok);
    assert!(err.contains("not this one"), "{err}");
    // Without the token configured, the installation does not open, and says where its keys are.
    let (ok, _, err) = cli(&data, &[], &["keys", "list"]);
    assert!(!ok);
    assert!(err.contains("PKCS#11 token \"hpki\""), "{err}");

    let ra = cli_ok(&data, &env, &["token", "--scope", "ra", "--days", "1"])
        .trim()
        .to_owned();
    let mut serve_env = env.clone();
    serve_env.push(("HPKI_CREDENTIALS_IN_TOKEN", "true"));
    let log = dir.join("serve.log");
    let (server, _) = support::spawn_logged(&data, &serve_env, Some(&log));
    let r = server.get("/health", None);
    assert_eq!((r.status, r.text()), (200, r#"{"status":"ok"}"#.to_owned()));
    std::fs::write(
        dir.join("cas.pem"),
        server.get("/v1/ca/certificates", None).body,
    )
    .unwrap();

    // A certificate from a CSR, signed by the signature CA in the token.
    let csr = support::csr(dir);
    let r = server.post_json(
        "/v1/certificates",
        Some(&ra),
        &serde_json::json!({"profile": "rhp-sign", "csr": csr, "hc_roles": [support::JP_DOCTOR],
                            "subject": "C=JP,O=Example Hospital,CN=Hanako Sato,serialNumber=HSM-1"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let cert = dir.join("issued.pem");
    std::fs::write(&cert, r.json()["certificate"].as_str().unwrap()).unwrap();
    let (ok, text) = openssl::run(
        dir,
        &["verify", "-CAfile", "cas.pem", cert.to_str().unwrap()],
    );
    assert!(ok && text.contains(": OK"), "{text}");

    // The signature CA's CRL.
    let r = server.get("/v1/crl/sign", None);
    assert_eq!(r.status, 200, "{}", r.text());
    std::fs::write(dir.join("sign.crl"), &r.body).unwrap();
    let sign_pem = data.join("ca/sign.pem");
    let (ok, text) = openssl::run(
        dir,
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            "sign.crl",
            "-CAfile",
            sign_pem.to_str().unwrap(),
            "-noout",
        ],
    );
    assert!(ok && text.contains("verify OK"), "{text}");
    // verifier-cli: the issued certificate's path to the root, its CRL checked (signed in the
    // token too).
    let root_pem = data.join("ca/root.pem");
    // The root's CRL covers the signature CA (any revocation data turns on checking of every
    // certificate in the path); the leaf's status comes from the CRL, then the OCSP answer.
    let r = server.get("/v1/crl/root", None);
    assert_eq!(r.status, 200, "{}", r.text());
    let root_crl = dir.join("root.crl");
    std::fs::write(&root_crl, &r.body).unwrap();
    let path_args = |revocation: &[&str]| {
        let mut args = vec![
            "verify-path",
            "--cert",
            cert.to_str().unwrap(),
            "--trust-anchor",
            root_pem.to_str().unwrap(),
            "--cert-pool",
            sign_pem.to_str().unwrap(),
            "--crl",
            root_crl.to_str().unwrap(),
            "--format",
            "json",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
        args.extend(revocation.iter().map(|a| (*a).to_owned()));
        args
    };
    let crl = dir.join("sign.crl");
    let args = path_args(&["--crl", crl.to_str().unwrap()]);
    let (code, out) = support::verifier_cli(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        code == 0 && out.contains("\"indication\": \"TOTAL-PASSED\""),
        "{out}"
    );

    // A credential whose key the token generates, a B-T signature with it.
    let r = server.post_json(
        "/v1/credentials",
        Some(&ra),
        &serde_json::json!({"subject": "C=JP,O=Example Hospital,CN=Taro Yamada,serialNumber=HSM-2",
                            "hc_roles": [support::JP_DOCTOR], "key_algorithm": "p256"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let credential = r.json()["id"].as_str().unwrap().to_owned();
    let t = server.post_json(
        "/v1/tokens",
        Some(&ra),
        &serde_json::json!({"scope": "signer", "practitioner": "HSM-2"}),
    );
    assert_eq!(t.status, 201, "{}", t.text());
    let signer = t.json()["token"].as_str().unwrap().to_owned();
    sign_and_verify(dir, &server, &credential, &signer);
    let listed = token.tool(&["--list-objects", "--type", "privkey"]);
    assert!(
        listed.contains(&format!("hpki credential {credential}")),
        "{listed}"
    );

    // OCSP for the issued certificate, by the delegated responder whose key is in the token.
    ocsp_good(dir, &server, &cert, &sign_pem);
    let resp = dir.join("resp.der");
    let args = path_args(&["--ocsp-response", resp.to_str().unwrap()]);
    let (code, out) = support::verifier_cli(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        code == 0 && out.contains("\"indication\": \"TOTAL-PASSED\""),
        "{out}"
    );

    // A time-stamp by the TSA key in the token.
    let (ok, out) = openssl::run(
        dir,
        &[
            "ts", "-query", "-data", "doc.txt", "-sha256", "-cert", "-out", "req.tsq",
        ],
    );
    assert!(ok, "{out}");
    let query = std::fs::read(dir.join("req.tsq")).unwrap();
    let r = server.post_bytes(
        "/v1/timestamps",
        None,
        "application/timestamp-query",
        &query,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    std::fs::write(dir.join("resp.tsr"), &r.body).unwrap();
    let (ok, out) = openssl::run(
        dir,
        &[
            "ts",
            "-verify",
            "-in",
            "resp.tsr",
            "-queryfile",
            "req.tsq",
            "-CAfile",
            "cas.pem",
        ],
    );
    assert!(ok && out.contains("Verification: OK"), "{out}");
    let ocsp_request = std::fs::read(dir.join("ocsp.req")).unwrap();

    // The token goes away under the running server (SoftHSM's directory swapped for an empty one).
    let away = token.tokens.with_extension("away");
    std::fs::rename(&token.tokens, &away).unwrap();
    std::fs::create_dir(&token.tokens).unwrap();
    let r = server.post_bytes(
        &format!("/v1/signatures?credential={credential}&purpose=author&level=B-B"),
        Some(&signer),
        "application/octet-stream",
        DOC,
    );
    let detail = r.problem_at(503, "a signature without the token");
    assert!(detail.contains("unavailable"), "{detail}");
    let r = server.post_json(
        "/v1/certificates",
        Some(&ra),
        &serde_json::json!({"profile": "rhp-sign", "csr": csr, "hc_roles": [support::JP_DOCTOR],
                            "subject": "C=JP,O=Example Hospital,CN=Hanako Sato,serialNumber=HSM-3"}),
    );
    r.problem_at(503, "an issue without the token");
    let r = server.post_bytes(
        "/v1/timestamps",
        None,
        "application/timestamp-query",
        &query,
    );
    r.problem_at(503, "a time-stamp without the token");
    let r = server.post_bytes("/v1/ocsp", None, "application/ocsp-request", &ocsp_request);
    r.problem_at(503, "an OCSP answer without the token");
    let r = server.get("/health", None);
    let why = r.problem_at(503, "/health without the token");
    assert!(why.contains("PKCS#11"), "{why}");
    let resp = support::agent()
        .post(&format!(
            "{}/v1/signatures?credential={credential}&purpose=author&level=B-B",
            server.base
        ))
        .set("Authorization", &format!("Bearer {signer}"))
        .set("Content-Type", "application/octet-stream")
        .send_bytes(DOC);
    match resp {
        Err(ureq::Error::Status(503, resp)) => {
            assert_eq!(resp.header("Retry-After"), Some("5"));
        }
        other => panic!("expected 503, got {other:?}"),
    }

    // Back: the server recovers on its own (no restart), and signs in the token again.
    std::fs::remove_dir(&token.tokens).unwrap();
    std::fs::rename(&away, &token.tokens).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let r = server.get("/health", None);
        if r.status == 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no recovery: {}",
            r.text()
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    sign_and_verify(dir, &server, &credential, &signer);
    let r = server.get("/v1/crl/sign", None);
    assert_eq!(r.status, 200, "{}", r.text());
    drop(server);
    assert_no_key_material(&data, &token, &ids);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("unavailable"), "{logged}");
    assert!(!logged.contains(USER_PIN), "{logged}");

    // A wrong PIN: refused by the token, exit 2, and the PIN it was given is not repeated.
    let wrong: Vec<(&str, &str)> = env
        .iter()
        .map(|&(k, v)| {
            (
                k,
                if k == "HPKI_PKCS11_PIN" {
                    "wrong-pin-0000"
                } else {
                    v
                },
            )
        })
        .collect();
    let (ok, _, err) = cli(&data, &wrong, &["keys", "list"]);
    assert!(!ok);
    assert!(
        err.contains("PIN") && !err.contains("wrong-pin-0000"),
        "{err}"
    );
}

/// `serve`'s first start with `[keys] backend = "pkcs11"` and a PostgreSQL store: the demo CA's
/// keys are made in the token, it signs at B-T, and with the master secret from
/// `HPKI_PASSPHRASE` (which seals the audit key and software credential keys) the data
/// directory holds the CA certificates only: no secret on the instance's disk (item 5).
#[test]
fn first_start_on_postgres_makes_the_keys_in_the_token() {
    let db = pg::TestDatabase::new();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = dir.join("data");
    let token = Token::new(dir);
    let mut env = token.env();
    env.push(("HPKI_STORE", db.url.as_str()));
    // The master secret from the environment (issue 16 item 5): no key file either.
    env.push((
        "HPKI_PASSPHRASE",
        "correct horse battery staple, hospital edition",
    ));
    let (server, demo) = support::start_fresh(&data, &env);
    sign_and_verify(dir, &server, &demo.credential, &demo.signer);
    drop(server);
    let ids = keys_in_token(&data, &env);
    assert_guarded(&token, &ids);
    let mut files: Vec<String> = support::files_under(&data)
        .iter()
        .map(|f| f.strip_prefix(&data).unwrap().display().to_string())
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["ca/auth.pem", "ca/root.pem", "ca/sign.pem"],
        "with PostgreSQL, an HSM and HPKI_PASSPHRASE the data directory holds no secret: {files:?}"
    );
    let store = ca_core::store::PgStore::open(&db.url).unwrap();
    for ca in ["root", "sign", "auth"] {
        let record = store.authority(ca).unwrap().unwrap();
        assert!(record.sealed_key.is_empty(), "{ca}");
        assert_eq!(record.pkcs11.unwrap().token, LABEL);
    }
}
