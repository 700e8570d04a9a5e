//! Hostile input to every subcommand (issue 6 part 4): each case ends with the documented exit
//! status (1 a verdict of not valid, 2 could not run; never 101, a panic) and a message, within a
//! time guard. The malformed DER is only broken length bytes; valid material is the JP vectors.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_verifier-cli");
const JP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../test-vectors/jp-hpki/");
/// Guard per run (generous, not a benchmark).
const BOUND: Duration = Duration::from_secs(30);

/// Runs the CLI; asserts the exit status and a non-empty explanation, and the time guard.
fn expect(what: &str, args: &[&std::ffi::OsStr], code: i32) -> String {
    let started = Instant::now();
    let out = Command::new(BIN).args(args).output().unwrap();
    let took = started.elapsed();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(code), "{what}: {text}");
    assert!(!text.trim().is_empty(), "{what}: no message");
    assert!(took < BOUND, "{what} took {took:?}");
    text
}

fn os<'a>(args: &'a [&'a str]) -> Vec<&'a std::ffi::OsStr> {
    args.iter().map(std::ffi::OsStr::new).collect()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.to_str().unwrap().to_owned()
}

/// Hostile files, each given to every subcommand in the role where it is parsed.
#[test]
fn hostile_files_to_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let doctor = std::fs::read(format!("{JP}medis-test-ee-medical-doctor.der")).unwrap();
    let root = format!("{JP}mhlw-root-ca-v2.der");
    let mut longer = doctor.clone();
    longer[3] = longer[3].wrapping_add(1);
    let mut indefinite = vec![0x30, 0x80];
    indefinite.extend_from_slice(&doctor[4..]);
    indefinite.extend_from_slice(&[0, 0]);
    let pem = |label: &str, body: &str| {
        format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n")
    };
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("length one too long", longer),
        ("indefinite length", indefinite),
        (
            "4 GiB length",
            vec![0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x02, 0x01, 0x00],
        ),
        ("100,000 nested indefinite", [0x30, 0x80].repeat(100_000)),
        ("bad base64", b"MIIB%%%%not*base64====".to_vec()),
        (
            "PEM with bad base64",
            pem("CERTIFICATE", "%%%%").into_bytes(),
        ),
        ("PEM without END", b"-----BEGIN CMS-----\nMIIB\n".to_vec()),
        ("invalid UTF-8", vec![0xff, 0xfe, 0xfd, 0x00, 0xc3, 0x28]),
        (
            "10,000 empty PEM blocks",
            pem("CERTIFICATE", "").repeat(10_000).into_bytes(),
        ),
    ];
    for (i, (what, bytes)) in files.iter().enumerate() {
        let f = write(d, &format!("f{i}"), bytes);
        // As the thing verified: a verdict of not valid.
        expect(
            what,
            &os(&["verify", "--cms", &f, "--trust-anchor", &root]),
            1,
        );
        expect(
            what,
            &os(&["verify-path", "--cert", &f, "--trust-anchor", &root]),
            1,
        );
        expect(what, &os(&["inspect", &f]), 1);
        // As a policy input (anchor, pool, CRL): the verifier cannot run.
        let cms = format!("{JP}medis-test-ee-medical-doctor.der");
        for flag in ["--trust-anchor", "--cert-pool", "--crl"] {
            let mut args = vec!["verify-path", "--cert", &cms, "--trust-anchor", &root];
            if flag == "--trust-anchor" {
                args.truncate(3);
            }
            args.extend([flag, &f]);
            expect(&format!("{what} as {flag}"), &os(&args), 2);
        }
    }
}

#[test]
fn oversized_missing_and_odd_paths() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let root = format!("{JP}mhlw-root-ca-v2.der");
    // A sparse file over each limit: refused by size before any parsing.
    let big = d.join("big");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(65 << 20)
        .unwrap();
    let big = big.to_str().unwrap();
    let t = expect(
        "65 MiB CMS",
        &os(&["verify", "--cms", big, "--trust-anchor", &root]),
        2,
    );
    assert!(t.contains("larger than"), "{t}");
    expect(
        "65 MiB certificate",
        &os(&["verify-path", "--cert", big, "--trust-anchor", &root]),
        2,
    );
    expect("65 MiB inspect", &os(&["inspect", big]), 2);
    expect(
        "65 MiB anchor",
        &os(&["verify-path", "--cert", &root, "--trust-anchor", big]),
        2,
    );
    expect(
        "65 MiB manifest",
        &os(&["verify-batch", "--manifest", big, "--trust-anchor", &root]),
        2,
    );
    // Missing files, a directory where a file belongs, a path that is not UTF-8.
    let missing = d.join("missing").to_str().unwrap().to_owned();
    let dir_path = d.to_str().unwrap();
    for f in [missing.as_str(), dir_path] {
        expect(f, &os(&["verify", "--cms", f, "--trust-anchor", &root]), 2);
        expect(
            f,
            &os(&["verify-path", "--cert", f, "--trust-anchor", &root]),
            2,
        );
        expect(f, &os(&["inspect", f]), 2);
    }
    use std::os::unix::ffi::OsStrExt;
    let bad_name = d.join(std::ffi::OsStr::from_bytes(b"\xff\xfe"));
    let args = [std::ffi::OsStr::new("inspect"), bad_name.as_os_str()];
    expect("non-UTF-8 path", &args, 2);
    // Verify with detached content that is a directory.
    let cms = format!("{JP}medis-test-ee-medical-doctor.der");
    expect(
        "content is a directory",
        &os(&[
            "verify",
            "--cms",
            &cms,
            "--content",
            dir_path,
            "--trust-anchor",
            &root,
        ]),
        1,
    );
}

#[test]
fn hostile_options() {
    let root = format!("{JP}mhlw-root-ca-v2.der");
    let cert = format!("{JP}medis-test-ee-medical-doctor.der");
    let base = [
        "verify-path",
        "--cert",
        cert.as_str(),
        "--trust-anchor",
        root.as_str(),
    ];
    let long = "9".repeat(10_000);
    let cases: [(&str, &[&str]); 10] = [
        ("--at not a time", &["--at", "yesterday"]),
        ("--at out of range", &["--at", "9999-99-99T99:99:99Z"]),
        ("--at before 1970", &["--at", "1900-01-01T00:00:00Z"]),
        (
            "--at with a long zone",
            &["--at", "2022-09-07T00:00:00+99:99:99"],
        ),
        ("--max-depth too large", &["--max-depth", "300"]),
        (
            "--initial-policy not an OID",
            &["--initial-policy", "1.x.3"],
        ),
        ("--accept-policy huge arc", &["--accept-policy", &long]),
        ("--eku not an OID", &["--eku", "clientAuth"]),
        ("--require-role without text", &["--require-role", "1.2.3"]),
        ("unknown flag", &["--frobnicate"]),
    ];
    for (what, extra) in cases {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        expect(what, &os(&args), 2);
    }
    use std::os::unix::ffi::OsStrExt;
    let mut args = os(&base);
    args.push(std::ffi::OsStr::new("--at"));
    args.push(std::ffi::OsStr::from_bytes(b"2022-09-07T00:00:00\xff"));
    expect("--at not UTF-8", &args, 2);
}

/// Issue 12 item 12: a non-ASCII `--at` once panicked (exit 101) on a byte slice inside a
/// character; now it is refused like any other malformed time, by ca-core's one RFC 3339 parser.
#[test]
fn non_ascii_at_is_refused_not_a_panic() {
    let root = format!("{JP}mhlw-root-ca-v2.der");
    let cert = format!("{JP}medis-test-ee-medical-doctor.der");
    for at in [
        "2022-09-07T00:00:00+0é00",
        "2022-09-07T00:00:00.é",
        "2022-09-07T00:00:00Zé",
        "２022-09-07T00:00:00Z",
    ] {
        let args = [
            "verify-path",
            "--cert",
            cert.as_str(),
            "--trust-anchor",
            root.as_str(),
            "--at",
            at,
        ];
        let text = expect(at, &os(&args), 2);
        assert!(
            text.contains("--at") && text.contains("expected RFC 3339"),
            "{at}: {text}"
        );
    }
}

#[test]
fn hostile_batches() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let root = format!("{JP}mhlw-root-ca-v2.der");
    write(d, "garbage.p7s", &[0x30, 0x80].repeat(1_000));
    let manifests: [(&str, Vec<u8>, i32); 5] = [
        ("not UTF-8", vec![0xff, 0xfe, b'\n'], 2),
        (
            "missing files",
            b"nope.p7s\n../../../etc/shadow\n".to_vec(),
            2,
        ),
        (
            "a 100,000-character line",
            "x".repeat(100_000).into_bytes(),
            2,
        ),
        ("garbage signature", b"garbage.p7s\n".to_vec(), 1),
        (
            "10,000 lines of the same garbage",
            b"garbage.p7s\n".repeat(10_000),
            1,
        ),
    ];
    for (what, bytes, code) in manifests {
        let m = write(d, "manifest.txt", &bytes);
        expect(
            what,
            &os(&["verify-batch", "--manifest", &m, "--trust-anchor", &root]),
            code,
        );
    }
    expect(
        "a directory that does not exist",
        &os(&[
            "verify-batch",
            "--dir",
            "/nonexistent/hpki",
            "--trust-anchor",
            &root,
        ]),
        2,
    );
    expect(
        "a directory of garbage",
        &os(&[
            "verify-batch",
            "--dir",
            d.to_str().unwrap(),
            "--trust-anchor",
            &root,
        ]),
        1,
    );
}
