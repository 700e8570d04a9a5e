//! Shared by the signer-api integration tests: the real `signer-api` binary on port 0, a ureq
//! client that never panics on a status, problem+json assertions, and admin commands run between
//! server lifetimes.
#![allow(dead_code)] // each test crate uses a different part

pub mod openssl;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const JP_DOCTOR: &str = "1.2.392.100495.1.6.1.1:Medical Doctor";

/// A running server; SIGKILLed when dropped, so none outlives a failed test.
pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Server {
    /// `kill -9` and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A GET with an optional bearer token; panics only on a transport error.
    pub fn get(&self, path: &str, token: Option<&str>) -> Reply {
        received(bearer(agent().get(&format!("{}{path}", self.base)), token).call())
    }

    pub fn post_json(&self, path: &str, token: Option<&str>, body: &serde_json::Value) -> Reply {
        let req = bearer(agent().post(&format!("{}{path}", self.base)), token);
        received(req.send_json(body.clone()))
    }

    pub fn post_bytes(
        &self,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: &[u8],
    ) -> Reply {
        let req = agent()
            .post(&format!("{}{path}", self.base))
            .set("Content-Type", content_type);
        received(bearer(req, token).send_bytes(body))
    }
}

/// Adds `Authorization: Bearer <token>` when there is a token.
pub fn bearer(req: ureq::Request, token: Option<&str>) -> ureq::Request {
    match token {
        Some(t) => req.set("Authorization", &format!("Bearer {t}")),
        None => req,
    }
}

/// What the first start on an empty data directory prints once.
#[derive(Default)]
pub struct Demo {
    pub ra: String,
    pub signer: String,
    pub credential: String,
}

impl Demo {
    /// The demo credential and tokens among a first start's lines; `None` after a restart.
    pub fn printed(lines: &[String]) -> Option<Demo> {
        let find = |prefix: &str| {
            lines
                .iter()
                .find_map(|l| l.strip_prefix(prefix))
                .and_then(|rest| rest.split_whitespace().next())
                .map(str::to_owned)
        };
        Some(Demo {
            ra: find("ra token (shown once): ")?,
            signer: find("demo signer token (shown once): ")?,
            credential: find("demo credential: ")?,
        })
    }
}

/// Starts `serve` on `data` with `env`; returns the server and the lines printed up to and
/// including the demo tokens (first start) or the root certificate line (restart).
pub fn spawn(data: &Path, env: &[(&str, &str)]) -> (Server, Vec<String>) {
    spawn_logged(data, env, None)
}

/// [`spawn`], with the server's stderr written to `log` when given (inherited otherwise).
pub fn spawn_logged(
    data: &Path,
    env: &[(&str, &str)],
    log: Option<&Path>,
) -> (Server, Vec<String>) {
    // With sled, a store means a restart; with PostgreSQL see `spawn_joining`.
    let first_start = !data.join("store").exists();
    spawn_until(data, env, log, first_start)
}

/// Starts `serve` on `data` joining a store that is initialised already (a second instance on
/// one PostgreSQL database, `env` naming it): returns once it listens.
pub fn spawn_joining(data: &Path, env: &[(&str, &str)], log: Option<&Path>) -> Server {
    spawn_until(data, env, log, false).0
}

/// [`spawn_logged`], reading up to the demo tokens when `first_start`, else up to the root
/// certificate line.
fn spawn_until(
    data: &Path,
    env: &[(&str, &str)],
    log: Option<&Path>,
    first_start: bool,
) -> (Server, Vec<String>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_signer-api"));
    cmd.arg("--data-dir")
        .arg(data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("HPKI_PASSPHRASE")
        .env_remove("HPKI_STORE")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(match log {
            Some(p) => Stdio::from(std::fs::File::create(p).unwrap()),
            None => Stdio::inherit(),
        });
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let last = if first_start {
            line.starts_with("demo signer token")
        } else {
            line.starts_with("root certificate:")
        };
        seen.push(line);
        if last {
            break;
        }
    }
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let base = seen
        .iter()
        .find_map(|l| l.strip_prefix("listening on "))
        .unwrap_or_else(|| panic!("server did not start: {seen:?}"))
        .trim()
        .to_owned();
    (Server { child, base }, seen)
}

/// First start on a fresh data directory: the server and the demo credential and tokens.
pub fn start_fresh(data: &Path, env: &[(&str, &str)]) -> (Server, Demo) {
    let (server, lines) = spawn(data, env);
    let demo = Demo::printed(&lines).unwrap_or_else(|| panic!("no demo tokens in {lines:?}"));
    (server, demo)
}

pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts an RFC 9457 problem with this status; returns its detail.
    pub fn problem(&self, status: u16) -> String {
        self.problem_at(status, "")
    }

    /// [`Reply::problem`] for the request described by `what` (named in a failure), also
    /// asserting the `type` and `title` members (RFC 9457 §3.1).
    pub fn problem_at(&self, status: u16, what: &str) -> String {
        assert_eq!(self.status, status, "{what}: {}", self.text());
        assert_eq!(self.content_type, "application/problem+json", "{what}");
        let j = self.json();
        assert_eq!(j["status"], status, "{what}");
        assert!(j["type"].is_string() && j["title"].is_string(), "{what}");
        j["detail"].as_str().unwrap().to_owned()
    }
}

/// A reply, or the transport error (connection refused or reset: the server died mid-request).
pub fn reply(r: Result<ureq::Response, ureq::Error>) -> Result<Reply, String> {
    let resp = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(ureq::Error::Transport(t)) => return Err(t.to_string()),
    };
    let status = resp.status();
    let content_type = resp.content_type().to_owned();
    let mut body = Vec::new();
    resp.into_reader()
        .take(1 << 26)
        .read_to_end(&mut body)
        .map_err(|e| e.to_string())?;
    Ok(Reply {
        status,
        content_type,
        body,
    })
}

/// [`reply`] where the server must answer: a transport error fails the test.
pub fn received(r: Result<ureq::Response, ureq::Error>) -> Reply {
    reply(r).unwrap_or_else(|e| panic!("transport: {e}"))
}

/// A client with bounded waits: a test never hangs on a dead or stuck server.
pub fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(5))
        .timeout(Duration::from_secs(60))
        .build()
}

/// Runs an admin subcommand on `data` (the server must be stopped); returns (success, stdout, stderr).
pub fn admin(data: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_signer-api"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("HPKI_PASSPHRASE")
        .env_remove("HPKI_STORE")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// [`admin`] that must succeed; returns its stdout.
pub fn admin_ok(data: &Path, args: &[&str]) -> String {
    let (ok, out, err) = admin(data, args);
    assert!(ok, "{args:?}: {err}");
    out
}

/// The audit log through `signer-api audit list` (one JSON record per line).
pub fn audit_list(data: &Path) -> Vec<serde_json::Value> {
    admin_ok(data, &["audit", "list"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The value of `key` in an audit record's details (a list of [key, value] pairs).
pub fn detail<'a>(record: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    record["event"]["details"]
        .as_array()?
        .iter()
        .find(|pair| pair[0] == key)
        .and_then(|pair| pair[1].as_str())
}

/// A P-256 key and PKCS#10 request made by OpenSSL, as `<name>.key` and `<name>.csr` in `dir`
/// (returned in that order); the CA ignores the request's subject.
pub fn p256_request(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{name}.key"));
    let csr = dir.join(format!("{name}.csr"));
    let out = Command::new("openssl")
        .args(["req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:P-256", "-subj", "/CN=x", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&csr)
        .output()
        .expect("the openssl CLI is required by these tests (.ci/run installs it)");
    assert!(out.status.success(), "{out:?}");
    (key, csr)
}

/// The arguments of `signer-api issue` of a `profile` certificate for `csr` and `subject`, then
/// `more`.
pub fn issue_args<'a>(
    profile: &'a str,
    csr: &'a Path,
    subject: &'a str,
    more: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec!["issue", "--profile", profile, "--csr"];
    args.extend([csr.to_str().unwrap(), "--subject", subject]);
    args.extend_from_slice(more);
    args
}

/// A P-256 PKCS#10 request (PEM) made by OpenSSL.
pub fn csr(dir: &Path) -> String {
    std::fs::read_to_string(p256_request(dir, "client").1).unwrap()
}

/// Every regular file below `dir`, at any depth.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.is_file() {
                // Not a running server's admin socket: it holds no bytes to read.
                files.push(path);
            }
        }
    }
    files
}

/// Peak resident memory of a process (VmHWM), in bytes.
pub fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb * 1024
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

/// The CRL number (RFC 5280 §5.2.3) of a DER CRL.
pub fn crl_number(der: &[u8]) -> u64 {
    use x509_cert::der::Decode;
    let crl: x509_cert::crl::CertificateList =
        x509_cert::crl::CertificateList::from_der(der).unwrap();
    let ext = crl
        .tbs_cert_list
        .crl_extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == const_oid::db::rfc5280::ID_CE_CRL_NUMBER)
        .expect("CRL without a CRL number");
    let n = x509_cert::ext::pkix::CrlNumber::from_der(ext.extn_value.as_bytes()).unwrap();
    n.0.as_bytes()
        .iter()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

/// A whole number from the environment variable `name` (a test's size or seed), if set.
pub fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    Some(v.parse().unwrap_or_else(|e| panic!("{name}={v}: {e}")))
}

/// A small seeded generator (splitmix64) so a failing run can be replayed from its printed seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

/// Runs this workspace's `verifier-cli` binary (built beside this test by `cargo test
/// --workspace`, the README's test command): its exit status and its stdout then stderr.
pub fn verifier_cli(args: &[&str]) -> (i32, String) {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<this test> → target/<profile>/verifier-cli
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("verifier-cli");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo test --workspace` (or `cargo build -p verifier-cli`) first",
        bin.display()
    );
    let out = Command::new(&bin).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}
