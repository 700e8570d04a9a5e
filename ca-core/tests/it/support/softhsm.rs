//! SoftHSMv2 tokens for the PKCS#11 tests (`hsm.rs`; Debian `softhsm2` and `opensc`, which
//! `.ci/run` installs).
//!
//! SoftHSM reads `SOFTHSM2_CONF` once per process, at `C_Initialize`, and the tests of this binary
//! share a process that sets no environment. So `hsm::softhsm_tokens` makes one tokens directory
//! with a token per test, then re-runs this binary's `hsm::token::` tests (ignored in a plain
//! run) in a child whose `SOFTHSM2_CONF` names that directory.

use ca_core::key::{Pkcs11Pin, Pkcs11Token};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The security officer's PIN of every test token.
pub const SO_PIN: &str = "so-pin-1234";
/// The user's PIN of every test token.
pub const USER_PIN: &str = "user-pin-5678";

/// Debian's locations of the SoftHSM module (`softhsm2`).
const MODULES: [&str; 2] = [
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
];

/// The SoftHSM PKCS#11 module.
pub fn module() -> PathBuf {
    MODULES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect(
            "SoftHSM is required by these tests: apt-get install softhsm2 opensc (.ci/run does)",
        )
}

/// In the parent: a tokens directory under `dir` with a token per label, and the configuration
/// that names it.
pub fn make_tokens(dir: &Path, labels: &[&str]) -> PathBuf {
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
    for label in labels {
        let out = Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &conf)
            .args(["--init-token", "--free", "--label", label])
            .args(["--so-pin", SO_PIN, "--pin", USER_PIN])
            .output()
            .expect("softhsm2-util is required by these tests (.ci/run installs softhsm2)");
        assert!(
            out.status.success(),
            "softhsm2-util --init-token {label}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    conf
}

/// In the child: the token labelled `label`, logged in with the user PIN.
pub fn token(label: &str) -> Pkcs11Token {
    assert!(
        std::env::var_os("SOFTHSM2_CONF").is_some(),
        "hsm::token:: tests run in the child of hsm::softhsm_tokens, which names the tokens"
    );
    Pkcs11Token::open(&module(), label, Pkcs11Pin::new(USER_PIN), 4).unwrap()
}

/// The module is one per process: a test that finalizes it holds this exclusively, the others
/// share it for their whole run.
static MODULE_USE: RwLock<()> = RwLock::new(());

/// Held by a test that only uses its own token.
pub fn shared() -> RwLockReadGuard<'static, ()> {
    MODULE_USE.read().unwrap_or_else(|e| e.into_inner())
}

/// Held by a test that disturbs the whole module (C_Finalize).
pub fn exclusive() -> RwLockWriteGuard<'static, ()> {
    MODULE_USE.write().unwrap_or_else(|e| e.into_inner())
}

/// `pkcs11-tool --module <SoftHSM> args…` (OpenSC), logged in to `token`: its stdout, or a panic
/// with its stderr.
pub fn pkcs11_tool(token: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new("pkcs11-tool")
        .arg("--module")
        .arg(module())
        .args(["--token-label", token, "--login", "--pin", USER_PIN])
        .args(args)
        .output()
        .expect("pkcs11-tool is required by these tests (.ci/run installs opensc)");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
