//! Issue 15 item 4: admin subcommands beside a running `serve` (which holds sled's lock) go
//! through the server's admin socket and print what they print on a stopped data directory.
//! The real binary, a real data directory, the server on port 0.

mod support;

use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::{Server, admin, admin_ok};

fn socket(data: &Path) -> PathBuf {
    data.join("admin.sock")
}

/// SIGTERM (the clean shutdown of an operator or systemd) and reap.
fn stop(server: &mut Server) {
    let out = Command::new("kill")
        .arg(server.pid().to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let status = server.child.wait().unwrap();
    assert!(status.success(), "serve exited with {status:?}");
}

/// The demo credential's certificate serial, from the HTTP API.
fn demo_serial(server: &Server, ra: &str) -> String {
    let view = server
        .get("/v1/credentials?owner=DEMO-0001", Some(ra))
        .json();
    view[0]["serial"].as_str().unwrap().to_owned()
}

fn sign(server: &Server, credential: &str, token: &str) -> support::Reply {
    server.post_bytes(
        &format!("/v1/signatures?credential={credential}&purpose=author"),
        Some(token),
        "application/octet-stream",
        b"clinical note",
    )
}

/// One raw exchange on the socket: what a client sends, what the server answers.
fn raw(data: &Path, request: &[u8]) -> serde_json::Value {
    let mut stream = UnixStream::connect(socket(data)).unwrap();
    // An oversized request is cut off by the server: a failed write is expected then.
    let _ = stream.write_all(request);
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    serde_json::from_slice(&answer)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&answer)))
}

/// With `serve` running: token, issue, revoke (the server refuses the revoked credential's next
/// signature at once), crl, audit verify and audit list work, print what they print on the stopped
/// directory, and refuse what they refuse there with the same message and exit 2. The audit records
/// name the CLI, marked as via the admin socket. On SIGTERM the socket goes.
#[test]
fn admin_commands_work_beside_a_running_service() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (mut server, demo) = support::start_fresh(&data, &[]);
    let mode = std::fs::metadata(socket(&data))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "socket mode {mode:o}");

    // token: one new token, which the running server accepts at once.
    let token = admin_ok(&data, &["token", "--scope", "ra"]);
    let token = token.trim_end();
    assert!(
        token.starts_with("hpki_") && !token.contains('\n'),
        "{token}"
    );
    let r = server.get("/v1/credentials?owner=DEMO-0001", Some(token));
    assert_eq!(r.status, 200, "{}", r.text());

    // issue, to standard output and to a file.
    let (_, csr) = support::p256_request(tmp.path(), "doctor");
    let subject = "C=JP,O=Example Hospital,CN=Taro Yamada,serialNumber=DOC-9";
    let role = ["--hc-role", support::JP_DOCTOR];
    let args = support::issue_args("rhp-sign", &csr, subject, &role);
    let (ok, pem, err) = admin(&data, &args);
    assert!(ok, "{err}");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"), "{pem}");
    let serial = err
        .trim_end()
        .strip_prefix("issued serial ")
        .unwrap_or_else(|| panic!("{err}"))
        .to_owned();
    let out = tmp.path().join("doctor.pem");
    let mut to_file = args.clone();
    to_file.extend(["--out", out.to_str().unwrap()]);
    let (ok, printed, err) = admin(&data, &to_file);
    assert!(ok, "{err}");
    let second = printed.trim_end();
    assert_eq!(err, format!("issued serial {second}\n"));
    assert_ne!(second, serial);
    let on_disk = std::fs::read_to_string(&out).unwrap();
    assert!(on_disk.starts_with("-----BEGIN CERTIFICATE-----\n"));
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // revoke the demo credential's certificate: the server refuses its next signature.
    let r = sign(&server, &demo.credential, &demo.signer);
    assert!(r.status < 300, "{}", r.text());
    let demo_serial = demo_serial(&server, &demo.ra);
    let revoked = admin_ok(
        &data,
        &[
            "revoke",
            "--serial",
            &demo_serial,
            "--reason",
            "keyCompromise",
        ],
    );
    assert!(
        revoked.starts_with(&format!("revoked {demo_serial} (")) && revoked.contains("DEMO-0001"),
        "{revoked}"
    );
    let d = sign(&server, &demo.credential, &demo.signer).problem(403);
    assert!(d.contains("revoked"), "{d}");

    // hold and release, through the socket too.
    let held = admin_ok(
        &data,
        &["revoke", "--serial", second, "--reason", "certificateHold"],
    );
    assert!(held.starts_with(&format!("held {second} (")), "{held}");
    let released = admin_ok(&data, &["release", "--serial", second]);
    assert!(
        released.starts_with(&format!("released {second} (")),
        "{released}"
    );

    // audit checkpoint to a file, then audit verify against it (the file's bytes cross the socket).
    let checkpoint = tmp.path().join("checkpoint.json");
    let (ok, printed, err) = admin(
        &data,
        &["audit", "checkpoint", "--out", checkpoint.to_str().unwrap()],
    );
    assert!(ok && printed.is_empty(), "{err}");
    assert!(err.starts_with("checkpoint of audit record "), "{err}");
    let verified = admin_ok(
        &data,
        &[
            "audit",
            "verify",
            "--checkpoint",
            checkpoint.to_str().unwrap(),
        ],
    );
    assert!(
        verified.contains("  the log extends the checkpoint at record "),
        "{verified}"
    );

    // crl: PEM on standard output and DER to a file, both listing the revoked serial.
    let pem = admin_ok(&data, &["crl", "--ca", "sign"]);
    assert!(pem.starts_with("-----BEGIN X509 CRL-----\n"), "{pem}");
    let crl = tmp.path().join("sign.crl");
    assert_eq!(
        admin_ok(
            &data,
            &["crl", "--ca", "sign", "--out", crl.to_str().unwrap()]
        ),
        ""
    );
    let text = Command::new("openssl")
        .args(["crl", "-inform", "DER", "-noout", "-text", "-in"])
        .arg(&crl)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout).to_uppercase();
    assert!(text.contains(&demo_serial.to_uppercase()), "{text}");

    // The records written through the socket name the CLI via the socket.
    let records = support::audit_list(&data);
    let via_socket: Vec<_> = records
        .iter()
        .filter(|r| r["event"]["actor"] == "cli (admin socket)")
        .map(|r| r["event"]["action"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        via_socket.contains(&"create_token".to_owned()),
        "{via_socket:?}"
    );
    assert!(via_socket.contains(&"revoke".to_owned()), "{via_socket:?}");
    assert!(via_socket.len() >= 5, "{via_socket:?}");

    // Refusals: the same message and exit 2, running or stopped (checked below).
    let refusals: [&[&str]; 4] = [
        &["revoke", "--serial", "01"],
        &["crl", "--ca", "nope"],
        &["token", "revoke", "nope"],
        &["init"],
    ];
    let refused_running: Vec<_> = refusals.iter().map(|a| admin(&data, a)).collect();
    let verify_running = admin_ok(&data, &["audit", "verify"]);
    assert!(
        verify_running.starts_with("audit log OK: "),
        "{verify_running}"
    );
    let list_running = admin_ok(&data, &["audit", "list"]);
    let tokens_running = admin_ok(&data, &["token", "list"]);
    assert_eq!(tokens_running.lines().count(), 3, "{tokens_running}");

    stop(&mut server);
    assert!(
        !socket(&data).exists(),
        "the socket outlived a clean shutdown"
    );
    assert_eq!(admin_ok(&data, &["audit", "verify"]), verify_running);
    assert_eq!(admin_ok(&data, &["audit", "list"]), list_running);
    assert_eq!(admin_ok(&data, &["token", "list"]), tokens_running);
    for (args, running) in refusals.iter().zip(refused_running) {
        let stopped = admin(&data, args);
        assert!(!running.0 && running.1.is_empty(), "{args:?}: {running:?}");
        assert_eq!(running, stopped, "{args:?}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_signer-api"))
        .arg("--data-dir")
        .arg(&data)
        .args(["init"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("error: {} already holds a CA\n", data.display())
    );
}

/// A server killed with SIGKILL leaves its socket behind: the stopped directory still works
/// without it, and the next `serve` replaces it with its own (0600) that answers.
#[test]
fn a_killed_servers_stale_socket_is_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (mut server, _) = support::start_fresh(&data, &[]);
    server.kill();
    let stale = std::fs::metadata(socket(&data)).expect("SIGKILL leaves the socket");
    assert!(UnixStream::connect(socket(&data)).is_err());
    assert_eq!(admin_ok(&data, &["token", "list"]).lines().count(), 2);

    let (_server, _) = support::spawn(&data, &[]);
    let fresh = std::fs::metadata(socket(&data)).unwrap();
    assert_ne!(
        fresh.ino(),
        stale.ino(),
        "the stale socket was not replaced"
    );
    assert_eq!(fresh.permissions().mode() & 0o777, 0o600);
    let created = admin_ok(&data, &["token", "--scope", "ra"]);
    assert!(created.starts_with("hpki_"), "{created}");
    assert_eq!(admin_ok(&data, &["token", "list"]).lines().count(), 3);
    // No temporary socket is left beside it.
    let names: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        !names.iter().any(|n| n.starts_with(".admin.sock")),
        "{names:?}"
    );
}

/// Garbage, another protocol version, an unknown operation and an oversized request each get an
/// error answer; the server keeps serving both the socket and HTTP.
#[test]
fn bad_requests_on_the_socket_get_an_error_never_a_crash() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (server, _) = support::start_fresh(&data, &[]);
    let big = format!(
        r#"{{"v":1,"request":{{"op":"crl","ca":"{}"}}}}"#,
        "a".repeat(3 * 1024 * 1024)
    );
    for (request, want) in [
        (&b"\xff\x00garbage"[..], "not a protocol message"),
        (b"", "not a protocol message"),
        (
            br#"{"v":2,"request":{"op":"token_list"}}"#,
            "version 2 is not supported",
        ),
        (br#"{"v":1,"request":{"op":"drop_tables"}}"#, "malformed"),
        (br#"{"v":1,"request":{"op":"revoke"}}"#, "malformed"),
        (big.as_bytes(), "over the limit of 2097152 bytes"),
    ] {
        let answer = raw(&data, request);
        assert_eq!(answer["v"], 1, "{answer}");
        assert!(answer.get("ok").is_none(), "{answer}");
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(error.contains(want), "{want}: {answer}");
    }
    // Eight silent connections hold every slot: a ninth is told the socket is busy; once they
    // hang up (EOF: an empty request, refused), the socket serves again. (A connection answered
    // above may hold its slot a moment after its answer: then all nine fit, and we try again.)
    let mut busy = None;
    for _ in 0..20 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let silent: Vec<_> = (0..8)
            .map(|_| UnixStream::connect(socket(&data)).unwrap())
            .collect();
        let answer = raw(&data, br#"{"v":1,"request":{"op":"token_list"}}"#);
        if answer["error"].is_string() {
            busy = Some((answer, silent));
            break;
        }
    }
    let (answer, silent) = busy.expect("nine connections at once were all served");
    assert_eq!(
        answer["error"], "the admin socket is busy: try again",
        "{answer}"
    );
    for mut stream in silent {
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let mut refused = String::new();
        stream.read_to_string(&mut refused).unwrap();
        // Refused as empty (or, had a slot still been held above, as busy).
        assert!(
            refused.contains("not a protocol message") || refused.contains("busy"),
            "{refused}"
        );
    }
    // A well-formed request on the raw socket gets its reply (a slot is freed just after its
    // answer is sent: a moment's retry).
    let mut answer = serde_json::Value::Null;
    for _ in 0..50 {
        answer = raw(&data, br#"{"v":1,"request":{"op":"token_list"}}"#);
        if answer["error"].is_null() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(answer["ok"]["reply"], "printed", "{answer}");
    assert_eq!(admin_ok(&data, &["token", "list"]).lines().count(), 2);
    assert_eq!(server.get("/health", None).status, 200);
}
