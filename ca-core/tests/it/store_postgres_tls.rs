//! TLS to PostgreSQL (issue 15 item 1): a throwaway cluster with `ssl=on`, a server certificate
//! for `localhost` made by OpenSSL, and a pg_hba.conf that admits TCP clients over TLS only, so
//! every connection that succeeds below was encrypted.

use crate::support::openssl::openssl;
use crate::support::postgres::OwnCluster;
use ca_core::store::{PgStore, Store, StoreError};
use std::path::Path;

/// A CA (`NAME.pem`, `NAME.key`) in `dir`.
fn ca(dir: &Path, name: &str) {
    openssl(
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
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

/// The server's key and certificate (`server.key`, `server.pem`) for DNS name `localhost` only,
/// issued by CA `ca`, and the server options that use them.
fn server_tls(dir: &Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    ca(dir, "ca");
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
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
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-sha256",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ],
    );
    // PostgreSQL refuses a key that others may read.
    std::fs::set_permissions(
        dir.join("server.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    // TCP only with TLS; the watchdog's pg_ctl uses the socket.
    std::fs::write(
        dir.join("hba.conf"),
        "local all all trust\n\
         hostssl all hpki 127.0.0.1/32 scram-sha-256\nhostssl all hpki ::1/128 scram-sha-256\n\
         hostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n",
    )
    .unwrap();
    format!(
        "-c ssl=on -c ssl_cert_file={d}/server.pem -c ssl_key_file={d}/server.key \
         -c hba_file={d}/hba.conf",
        d = dir.display()
    )
}

#[test]
fn tls_modes_connect_verify_and_refuse() {
    let Some(cluster) = OwnCluster::start(server_tls) else {
        return;
    };
    let dir = cluster.dir();
    let port = cluster.port();
    let other = tempfile::tempdir().unwrap();
    ca(other.path(), "other");
    let url =
        |host: &str, query: &str| format!("postgres://postgres@{host}:{port}/postgres?{query}");
    let right = dir.join("ca.pem");
    let wrong = other.path().join("other.pem");

    // verify-full with the CA that issued the certificate, host named in it: connects (over
    // TLS: pg_hba.conf admits nothing else) and serves.
    let store = PgStore::open(&url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", right.display()),
    ))
    .unwrap();
    store.probe().unwrap();
    assert_eq!(store.audit_log().unwrap().len(), 0);
    drop(store);

    // require encrypts without authenticating the server: connects with no CA file.
    PgStore::open(&url("127.0.0.1", "sslmode=require"))
        .unwrap()
        .probe()
        .unwrap();

    // disable: no TLS, which this server refuses, with its reason.
    let refused = PgStore::open(&url("127.0.0.1", "sslmode=disable"))
        .err()
        .unwrap();
    assert!(matches!(refused, StoreError::Unavailable(_)), "{refused}");
    assert!(refused.to_string().contains("no encryption"), "{refused}");

    // verify-full against another CA: refused, and the error says it is the certificate.
    let untrusted = PgStore::open(&url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", wrong.display()),
    ))
    .err()
    .unwrap();
    let message = untrusted.to_string();
    assert!(matches!(untrusted, StoreError::Unavailable(_)), "{message}");
    assert!(
        message.contains("TLS handshake") && message.contains("UnknownIssuer"),
        "{message}"
    );
    // require with a CA file verifies the chain (libpq's rule): the wrong CA is refused too.
    let message = PgStore::open(&url(
        "127.0.0.1",
        &format!("sslmode=require&sslrootcert={}", wrong.display()),
    ))
    .err()
    .unwrap()
    .to_string();
    assert!(message.contains("UnknownIssuer"), "{message}");

    // A Unix socket (no TLS there) still works with the default sslmode=prefer.
    PgStore::open(&format!(
        "host={} port={port} user=postgres dbname=postgres",
        dir.display()
    ))
    .unwrap()
    .probe()
    .unwrap();

    // A password over verified TLS, SCRAM-SHA-256-PLUS: channel_binding=require fails unless
    // our tls-server-end-point hash (RFC 5929 §4.1) is the server's.
    let mut admin = postgres::Client::connect(
        &format!(
            "host={} port={port} user=postgres dbname=postgres",
            dir.display()
        ),
        postgres::NoTls,
    )
    .unwrap();
    for sql in [
        "CREATE ROLE hpki LOGIN PASSWORD 'correct horse'",
        "CREATE DATABASE hpki OWNER hpki",
    ] {
        admin.batch_execute(sql).unwrap();
    }
    let scram = |password: &str| {
        PgStore::open(&format!(
            "postgres://hpki:{password}@localhost:{port}/hpki?channel_binding=require&\
             sslmode=verify-full&sslrootcert={}",
            right.display()
        ))
    };
    scram("correct%20horse").unwrap().probe().unwrap();
    let message = scram("wrong").err().unwrap().to_string();
    assert!(
        message.contains("password authentication failed"),
        "{message}"
    );

    // The certificate names localhost, not 127.0.0.1: verify-full refuses the address,
    // verify-ca (the chain only) takes it.
    let message = PgStore::open(&url(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={}", right.display()),
    ))
    .err()
    .unwrap()
    .to_string();
    assert!(message.contains("not valid for name"), "{message}");
    PgStore::open(&url(
        "127.0.0.1",
        &format!("sslmode=verify-ca&sslrootcert={}", right.display()),
    ))
    .unwrap()
    .probe()
    .unwrap();
}
