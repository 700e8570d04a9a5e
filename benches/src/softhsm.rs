//! SoftHSMv2 for the benches that sign through a PKCS#11 token (the `hsm` target and the
//! summary's SoftHSM row; Debian `softhsm2`).
//!
//! SoftHSM reads `SOFTHSM2_CONF` once, when the module is initialized, and the workspace forbids
//! unsafe code, so `std::env::set_var` (unsafe since edition 2024) is out. [`token`] instead makes
//! a token in a temporary directory and runs the bench again as a child whose environment names
//! it: nothing to export, and no token left behind.

use ca_core::key::{Pkcs11Pin, Pkcs11Token};
use std::path::PathBuf;
use std::process::Command;

/// The bench token's label.
pub const LABEL: &str = "hpki-bench";
const SO_PIN: &str = "bench-so-1234";
const USER_PIN: &str = "bench-user-5678";
/// Set in the child: its `SOFTHSM2_CONF` names the token the parent made.
const CHILD: &str = "HPKI_BENCH_SOFTHSM_CHILD";

/// Debian's locations of the SoftHSM module.
const MODULES: [&str; 2] = [
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
];

fn module() -> Option<PathBuf> {
    MODULES.iter().map(PathBuf::from).find(|p| p.exists())
}

/// Call first in a bench's `main`. In the child: the bench token, logged in (one session: the
/// benches sign from one thread). Without SoftHSM: prints why the SoftHSM rows are skipped and
/// answers `None`, and the bench goes on without them. Otherwise it makes the token, runs this
/// bench again as the child with the same arguments and exits with the child's status.
pub fn token() -> Option<Pkcs11Token> {
    if std::env::var_os(CHILD).is_some() {
        let module = module().expect("the parent found the SoftHSM module");
        let token = Pkcs11Token::open(&module, LABEL, Pkcs11Pin::new(USER_PIN), 1)
            .expect("the bench token the parent made");
        return Some(token);
    }
    let skip = |why: &str| {
        println!("SoftHSM rows skipped: {why}");
        None
    };
    if module().is_none() {
        return skip("SoftHSM is not installed (apt-get install softhsm2)");
    }
    let dir = tempfile::tempdir().expect("tmp");
    let tokens = dir.path().join("tokens");
    std::fs::create_dir(&tokens).expect("token directory");
    let conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .expect("softhsm2.conf");
    let made = Command::new("softhsm2-util")
        .env("SOFTHSM2_CONF", &conf)
        .args(["--init-token", "--free", "--label", LABEL])
        .args(["--so-pin", SO_PIN, "--pin", USER_PIN])
        .output();
    match made {
        Err(e) => return skip(&format!("softhsm2-util: {e}")),
        Ok(out) if !out.status.success() => {
            return skip(&format!(
                "softhsm2-util --init-token: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(_) => {}
    }
    let status = Command::new(std::env::current_exe().expect("this bench"))
        .args(std::env::args_os().skip(1))
        .env("SOFTHSM2_CONF", &conf)
        .env(CHILD, "1")
        .status()
        .expect("run the bench with the SoftHSM token");
    drop(dir);
    std::process::exit(status.code().unwrap_or(1));
}
