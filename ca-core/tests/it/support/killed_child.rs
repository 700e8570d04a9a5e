//! The test binary re-run as a child that writes to a store, prints "ACK" and is then killed with
//! SIGKILL, for the crash tests of the store (`store_crash.rs`) and its audit journal
//! (`store_journal.rs`).

use ca_core::audit::AuditEvent;
use ca_core::store::{SledStore, Store};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

/// Kills the child if the parent fails before doing so.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs test `test` of module `module` (the caller's `module_path!()`) of this binary alone in a
/// child, with `env` set (the child's role).
pub fn spawn(module: &str, test: &str, env: (&str, &str)) -> KillOnDrop {
    // libtest names a test by its path below the crate root.
    let (_crate, path) = module.split_once("::").expect("called from a test module");
    KillOnDrop(
        Command::new(std::env::current_exe().unwrap())
            .args([
                &format!("{path}::{test}"),
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(env.0, env.1)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    )
}

/// Waits for the child's "ACK", then kills it with SIGKILL (`Child::kill` on Unix: no
/// destructors, no sled flush on drop).
pub fn kill_after_ack(mut child: KillOnDrop) {
    let stdout = child.0.stdout.take().unwrap();
    let acked = BufReader::new(stdout)
        .lines()
        .map(|line| line.unwrap())
        .any(|line| line.trim() == "ACK");
    child.0.kill().unwrap();
    let status = child.0.wait().unwrap();
    assert!(acked, "child exited without acknowledging: {status}");
    assert!(!status.success());
}

/// In the child: `appenders` threads each append `appends` audit records at once (the store
/// group-commits them), then "ACK" and wait to be killed.
pub fn append_concurrently_and_wait(
    store: &SledStore,
    appenders: usize,
    appends: usize,
    event: impl Fn(usize, usize) -> AuditEvent + Sync,
) -> ! {
    std::thread::scope(|scope| {
        for t in 0..appenders {
            let event = &event;
            scope.spawn(move || {
                for i in 0..appends {
                    store.append_audit(event(t, i)).unwrap();
                }
            });
        }
    });
    // Written straight to stdout: libtest's capture only intercepts print!.
    let mut out = std::io::stdout().lock();
    out.write_all(b"\nACK\n").unwrap();
    out.flush().unwrap();
    loop {
        std::thread::park();
    }
}
