//! No input file makes the CLI panic (issue 4): truncated and random bytes to every subcommand
//! end in exit 1 or 2 with a verdict or a message, never a crash (exit 101).

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_verifier-cli");
const JP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../test-vectors/jp-hpki/");

fn run(args: &[&str]) -> i32 {
    let out = Command::new(BIN).args(args).output().unwrap();
    let code = out.status.code().unwrap_or(-1);
    assert!(
        (0..=2).contains(&code),
        "{args:?} exited {code}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    code
}

#[test]
fn truncated_and_random_inputs_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let doctor = std::fs::read(format!("{JP}medis-test-ee-medical-doctor.der")).unwrap();
    let root = format!("{JP}mhlw-root-ca-v2.der");
    // A deterministic xorshift stream stands in for random bytes.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut inputs: Vec<Vec<u8>> = (1..doctor.len())
        .step_by(97)
        .map(|n| doctor[..n].to_vec())
        .collect();
    for len in [0usize, 1, 2, 16, 300, 4096] {
        inputs.push(
            (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect(),
        );
    }
    inputs.push(b"0\x80\x80\x80".to_vec());
    for (i, bytes) in inputs.iter().enumerate() {
        let f = dir.path().join(format!("in{i}"));
        std::fs::write(&f, bytes).unwrap();
        let f = f.to_str().unwrap();
        assert_eq!(
            run(&["verify", "--cms", f, "--trust-anchor", &root]),
            1,
            "verify {i}"
        );
        assert_ne!(
            run(&["verify-path", "--cert", f, "--trust-anchor", &root]),
            0
        );
        run(&["inspect", f]);
        run(&["verify", "--cms", &root, "--trust-anchor", f]);
    }
}

#[test]
fn jp_doctor_verify_path_exit_codes() {
    let cert = format!("{JP}medis-test-ee-medical-doctor.der");
    let root = format!("{JP}mhlw-root-ca-v2.der");
    let sign_ca = format!("{JP}medis-sign-ca2.der");
    let auth_ca = format!("{JP}medis-auth-ca2.der");
    let at = "2022-09-07T00:00:00Z";
    // Through the signing CA it validates (0); the authentication CA does not chain it (1).
    for (pool, want) in [(&sign_ca, 0), (&auth_ca, 1)] {
        let args = [
            "--cert",
            &cert,
            "--trust-anchor",
            &root,
            "--cert-pool",
            pool,
        ];
        assert_eq!(
            run(&[&["verify-path"][..], &args, &["--at", at]].concat()),
            want,
            "{pool}"
        );
    }
    assert_eq!(
        run(&["verify-path", "--cert", &cert, "--at", "yesterday"]),
        2
    );
    assert_eq!(run(&["verify", "--cms", "/nonexistent/file"]), 2);
}
