//! Interoperability with OpenSSL: certificates and CSRs built with x509-cert and our ring keys must
//! satisfy `openssl verify` / `openssl req -verify`, and OpenSSL-made signatures must satisfy
//! `key::verify`. The `openssl` CLI is required: these tests fail, not skip, without it.

use ca_core::key::{self, KeyAlgorithm, KeyError, RawSignature, SigningKey};
use ca_core::oid;
use der::asn1::Any;
use der::pem::LineEnding;
use der::{Decode, Encode, EncodePem};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::time::Duration;
use x509_cert::Certificate;
use x509_cert::builder::{Builder, CertificateBuilder, profile::cabf::Root};
use x509_cert::name::Name;
use x509_cert::request::{CertReq, RequestBuilder};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Validity;

const RSA2048: &[u8] = include_bytes!("data/rsa2048.pk8.der");

/// Runs `openssl args…`; `Ok(stdout)` on exit 0, `Err(stderr)` otherwise.
fn openssl(args: &[&str]) -> Result<Vec<u8>, String> {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run the `openssl` CLI ({e}); install OpenSSL to run these tests")
        });
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(format!(
            "openssl {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn all_keys() -> Vec<(&'static str, SigningKey)> {
    vec![
        ("P-256", SigningKey::generate(KeyAlgorithm::P256).unwrap()),
        ("P-384", SigningKey::generate(KeyAlgorithm::P384).unwrap()),
        (
            "Ed25519",
            SigningKey::generate(KeyAlgorithm::Ed25519).unwrap(),
        ),
        ("RSA-2048", SigningKey::from_pkcs8(RSA2048).unwrap()),
    ]
}

fn self_signed(key: &SigningKey) -> Certificate {
    let subject = Name::from_str("CN=hpki test root,O=hpki,C=JP").unwrap();
    let builder = CertificateBuilder::new(
        Root::new(false, subject).unwrap(),
        SerialNumber::from(42u32),
        Validity::from_now(Duration::from_secs(3600)).unwrap(),
        key.public_key_info().clone(),
    )
    .unwrap();
    builder.build::<_, RawSignature>(key).unwrap()
}

fn with_flipped_signature_bit(cert: &Certificate) -> Vec<u8> {
    let der = cert.to_der().unwrap();
    let sig_len = cert.signature().raw_bytes().len();
    // The signature BIT STRING is the last field: its bytes end the encoding.
    let mut bad = der.clone();
    let i = der.len() - sig_len / 2;
    bad[i] ^= 0x01;
    bad
}

#[test]
fn self_signed_certificate_verifies_with_us_and_openssl() {
    let dir = tempfile::tempdir().unwrap();
    for (name, key) in all_keys() {
        let cert = self_signed(&key);
        let parsed = Certificate::from_der(&cert.to_der().unwrap()).unwrap();
        let tbs = parsed.tbs_certificate();
        assert_eq!(
            tbs.subject_public_key_info(),
            key.public_key_info(),
            "{name}"
        );
        assert_eq!(tbs.signature(), &key.signature_algorithm(), "{name}");
        assert_eq!(
            parsed.signature_algorithm(),
            &key.signature_algorithm(),
            "{name}"
        );
        key::verify(
            tbs.subject_public_key_info(),
            parsed.signature_algorithm(),
            &tbs.to_der().unwrap(),
            parsed.signature().raw_bytes(),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));

        // -check_ss_sig: OpenSSL otherwise trusts a trust anchor's self-signature unchecked.
        let pem = cert.to_pem(LineEnding::LF).unwrap();
        let file = write(dir.path(), &format!("{name}.pem"), pem.as_bytes());
        let f = path_str(&file);
        openssl(&["verify", "-check_ss_sig", "-CAfile", f, f]).unwrap_or_else(|e| panic!("{e}"));

        // The same certificate with one signature bit flipped must be rejected by both.
        let bad = with_flipped_signature_bit(&cert);
        let bad_cert = Certificate::from_der(&bad).unwrap();
        assert!(matches!(
            key::verify(
                tbs.subject_public_key_info(),
                bad_cert.signature_algorithm(),
                &bad_cert.tbs_certificate().to_der().unwrap(),
                bad_cert.signature().raw_bytes(),
            ),
            Err(KeyError::BadSignature)
        ));
        let bad_file = write(
            dir.path(),
            &format!("{name}-bad.pem"),
            bad_cert.to_pem(LineEnding::LF).unwrap().as_bytes(),
        );
        let b = path_str(&bad_file);
        assert!(
            openssl(&["verify", "-check_ss_sig", "-CAfile", b, b]).is_err(),
            "{name}: openssl accepted a corrupted signature"
        );
    }
}

/// `openssl req -verify`; OpenSSL 3.0 exits 0 even when the self-signature fails, so the
/// verdict is read from its message.
fn csr_self_signature_ok(csr: &Path) -> bool {
    let out = Command::new("openssl")
        .args(["req", "-verify", "-noout", "-in", path_str(csr)])
        .output()
        .expect("cannot run the `openssl` CLI; install OpenSSL to run these tests");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.status.success() && text.contains("verify OK") && !text.contains("failure")
}

#[test]
fn csr_verifies_with_us_and_openssl() {
    let dir = tempfile::tempdir().unwrap();
    for (name, key) in all_keys() {
        let subject = Name::from_str("CN=Dr. Test,O=hpki,C=JP").unwrap();
        let csr = RequestBuilder::new(subject)
            .unwrap()
            .build::<_, RawSignature>(&key)
            .unwrap();
        let parsed = CertReq::from_der(&csr.to_der().unwrap()).unwrap();
        assert_eq!(&parsed.info.public_key, key.public_key_info(), "{name}");
        key::verify(
            &parsed.info.public_key,
            &parsed.algorithm,
            &parsed.info.to_der().unwrap(),
            parsed.signature.raw_bytes(),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));

        let file = write(
            dir.path(),
            &format!("{name}.csr"),
            csr.to_pem(LineEnding::LF).unwrap().as_bytes(),
        );
        assert!(
            csr_self_signature_ok(&file),
            "{name}: openssl rejected our CSR"
        );

        // Control: a CSR whose signature was altered must be refused by openssl.
        let mut bad = parsed.clone();
        let mut sig = bad.signature.raw_bytes().to_vec();
        let mid = sig.len() / 2;
        sig[mid] ^= 0x01;
        bad.signature = der::asn1::BitString::from_bytes(&sig).unwrap();
        let bad_file = write(
            dir.path(),
            &format!("{name}-bad.csr"),
            bad.to_pem(LineEnding::LF).unwrap().as_bytes(),
        );
        assert!(
            !csr_self_signature_ok(&bad_file),
            "{name}: openssl accepted a corrupted CSR"
        );
    }
}

/// A request for a new certificate signed with SHA-1 proves possession but is refused at issue
/// (key::verify takes SHA-1 for old documents; issuance wants what hpki signs with), while the
/// same request with SHA-256 passes.
#[test]
fn sha1_csr_is_refused_at_issue() {
    use ca_core::issue::{IssueError, check_proof_of_possession, parse_csr};
    let dir = tempfile::tempdir().unwrap();
    let key = rsa_pem(dir.path());
    for (md, ok) in [("-sha1", false), ("-sha256", true)] {
        let out = dir.path().join("req.pem");
        openssl(&[
            "req",
            "-new",
            md,
            "-key",
            path_str(&key),
            "-subj",
            "/CN=Dr. Test",
            "-out",
            path_str(&out),
        ])
        .unwrap();
        let csr = parse_csr(&std::fs::read(&out).unwrap()).unwrap();
        match (check_proof_of_possession(&csr), ok) {
            (Ok(()), true) => {}
            (Err(IssueError::CsrSignature(KeyError::Unsupported(m))), false) => {
                assert!(m.contains("SHA-1"), "{m}")
            }
            (other, _) => panic!("{md}: {other:?}"),
        }
    }
}

/// Generates an OpenSSL key; returns (PEM key path, its SPKI as OpenSSL encodes it).
fn openssl_key(dir: &Path, name: &str, genpkey: &[&str]) -> (PathBuf, SubjectPublicKeyInfoOwned) {
    let key = dir.join(format!("{name}.pem"));
    let mut args = vec!["genpkey"];
    args.extend_from_slice(genpkey);
    args.extend_from_slice(&["-out", path_str(&key)]);
    openssl(&args).unwrap();
    let spki = openssl(&["pkey", "-in", path_str(&key), "-pubout", "-outform", "DER"]).unwrap();
    (key, SubjectPublicKeyInfoOwned::from_der(&spki).unwrap())
}

/// PKCS#8 DER of an OpenSSL key (`pkey -outform DER` may write the traditional format instead).
fn pkcs8_der(key: &Path) -> Vec<u8> {
    openssl(&[
        "pkcs8",
        "-topk8",
        "-nocrypt",
        "-in",
        path_str(key),
        "-outform",
        "DER",
    ])
    .unwrap()
}

#[test]
fn openssl_ecdsa_p384_sha384_signature_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let (key, spki) = openssl_key(
        dir.path(),
        "p384",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
    );
    let msg = b"signed by OpenSSL";
    let msg_file = write(dir.path(), "msg", msg);
    let sig = openssl(&[
        "dgst",
        "-sha384",
        "-sign",
        path_str(&key),
        path_str(&msg_file),
    ])
    .unwrap();
    let alg = AlgorithmIdentifierOwned {
        oid: oid::ECDSA_WITH_SHA_384,
        parameters: None,
    };
    key::verify(&spki, &alg, msg, &sig).unwrap();
    assert!(matches!(
        key::verify(&spki, &alg, b"something else", &sig),
        Err(KeyError::BadSignature)
    ));

    // OpenSSL's PKCS#8 imports, yielding OpenSSL's own SPKI encoding.
    let pkcs8 = pkcs8_der(&key);
    let ours = SigningKey::from_pkcs8(&pkcs8).unwrap();
    assert_eq!(ours.public_key_info(), &spki);
    key::verify(
        &spki,
        &ours.signature_algorithm(),
        msg,
        &ours.sign(msg).unwrap(),
    )
    .unwrap();
}

#[test]
fn openssl_ecdsa_p256_with_sha384_certificate_verifies() {
    // The cross combination (P-256 key, ecdsa-with-SHA384), identifier written by OpenSSL.
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = openssl_key(
        dir.path(),
        "p256",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
    let cert = openssl_cert(dir.path(), &key, &["-sha384"]);
    assert_eq!(cert.signature_algorithm().oid, oid::ECDSA_WITH_SHA_384);
    verify_cert(&cert).unwrap();
}

fn openssl_cert(dir: &Path, key: &Path, extra: &[&str]) -> Certificate {
    let out = dir.join("cert.der");
    let mut args = vec![
        "req",
        "-x509",
        "-new",
        "-key",
        path_str(key),
        "-subj",
        "/CN=openssl",
        "-days",
        "1",
        "-outform",
        "DER",
        "-out",
        path_str(&out),
    ];
    args.extend_from_slice(extra);
    openssl(&args).unwrap();
    Certificate::from_der(&std::fs::read(out).unwrap()).unwrap()
}

fn verify_cert(cert: &Certificate) -> Result<(), KeyError> {
    let tbs = cert.tbs_certificate();
    key::verify(
        tbs.subject_public_key_info(),
        cert.signature_algorithm(),
        &tbs.to_der().unwrap(),
        cert.signature().raw_bytes(),
    )
}

fn rsa_pem(dir: &Path) -> PathBuf {
    let pem = dir.join("rsa2048.pem");
    let der = write(dir, "rsa2048.der", RSA2048);
    openssl(&[
        "pkey",
        "-inform",
        "DER",
        "-in",
        path_str(&der),
        "-out",
        path_str(&pem),
    ])
    .unwrap();
    pem
}

#[test]
fn openssl_rsa_pss_signatures_verify() {
    let dir = tempfile::tempdir().unwrap();
    let key = rsa_pem(dir.path());
    let spki = SigningKey::from_pkcs8(RSA2048)
        .unwrap()
        .public_key_info()
        .clone();
    let msg = b"PSS-signed by OpenSSL";
    let msg_file = write(dir.path(), "msg", msg);
    for digest in ["-sha256", "-sha384", "-sha512"] {
        let pss = [
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            "rsa_pss_saltlen:digest",
        ];
        // OpenSSL writes the RSASSA-PSS-params (RFC 4055) into a certificate; we parse them.
        let mut extra = vec![digest];
        extra.extend_from_slice(&pss);
        let cert = openssl_cert(dir.path(), &key, &extra);
        let alg = cert.signature_algorithm().clone();
        assert_eq!(alg.oid, oid::ID_RSASSA_PSS);
        verify_cert(&cert).unwrap_or_else(|e| panic!("{digest}: {e}"));

        // A bare `openssl dgst` PSS signature under the same identifier.
        let mut args = vec!["dgst", digest, "-sign", path_str(&key)];
        args.extend_from_slice(&pss);
        args.push(path_str(&msg_file));
        let sig = openssl(&args).unwrap();
        key::verify(&spki, &alg, msg, &sig).unwrap_or_else(|e| panic!("{digest}: {e}"));
        assert!(matches!(
            key::verify(&spki, &alg, b"other", &sig),
            Err(KeyError::BadSignature)
        ));
    }
}

/// OpenSSL's maximum salt (`rsa_pss_saltlen:max`), and a salt of 20 with SHA-512 and MGF1
/// SHA-512: legal RSASSA-PSS parameters (RFC 4055 §3.1) that ring does not verify, so RustCrypto
/// `rsa` does; a flipped signature bit is still caught.
#[test]
fn rsa_pss_with_other_salt_lengths_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let key = rsa_pem(dir.path());
    for (md, salt) in [("-sha256", "max"), ("-sha512", "20")] {
        let saltlen = format!("rsa_pss_saltlen:{salt}");
        let cert = openssl_cert(
            dir.path(),
            &key,
            &[md, "-sigopt", "rsa_padding_mode:pss", "-sigopt", &saltlen],
        );
        verify_cert(&cert).unwrap_or_else(|e| panic!("{md} salt {salt}: {e}"));
        let bad = Certificate::from_der(&with_flipped_signature_bit(&cert)).unwrap();
        assert!(matches!(verify_cert(&bad), Err(KeyError::BadSignature)));
    }
}

#[test]
fn rsa_pkcs1_signatures_match_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let key = rsa_pem(dir.path());
    let ours = SigningKey::from_pkcs8(RSA2048).unwrap();
    let msg = b"PKCS#1 v1.5 is deterministic";
    let msg_file = write(dir.path(), "msg", msg);

    // Same key, same message: our SHA-256 signature is byte-identical to OpenSSL's.
    let theirs = openssl(&[
        "dgst",
        "-sha256",
        "-sign",
        path_str(&key),
        path_str(&msg_file),
    ]);
    assert_eq!(ours.sign(msg).unwrap(), theirs.unwrap());

    for (digest, sig_oid) in [
        ("-sha384", oid::SHA_384_WITH_RSA_ENCRYPTION),
        ("-sha512", oid::SHA_512_WITH_RSA_ENCRYPTION),
    ] {
        let sig = openssl(&["dgst", digest, "-sign", path_str(&key), path_str(&msg_file)]).unwrap();
        let alg = AlgorithmIdentifierOwned {
            oid: sig_oid,
            parameters: Some(Any::null()),
        };
        key::verify(ours.public_key_info(), &alg, msg, &sig).unwrap();
        // The hash named by the identifier is the one checked.
        let wrong = AlgorithmIdentifierOwned {
            oid: oid::SHA_256_WITH_RSA_ENCRYPTION,
            parameters: Some(Any::null()),
        };
        assert!(matches!(
            key::verify(ours.public_key_info(), &wrong, msg, &sig),
            Err(KeyError::BadSignature)
        ));
    }
}

#[test]
fn openssl_ed25519_v1_pkcs8_imports() {
    // OpenSSL writes Ed25519 keys as PKCS#8 v1 (no public key); ring needs the unchecked path.
    let dir = tempfile::tempdir().unwrap();
    let (key, spki) = openssl_key(dir.path(), "ed", &["-algorithm", "ED25519"]);
    let pkcs8 = pkcs8_der(&key);
    assert_eq!(pkcs8[2..5], [0x02, 0x01, 0x00], "expected a v1 PKCS#8");
    let ours = SigningKey::from_pkcs8(&pkcs8).unwrap();
    assert_eq!(ours.public_key_info(), &spki);
    assert_eq!(
        ours.to_pkcs8().expect("software key").as_slice(),
        pkcs8.as_slice()
    );

    // Ed25519 is deterministic: OpenSSL's signature equals ours.
    let msg = b"ed25519";
    let msg_file = write(dir.path(), "msg", msg);
    let theirs = openssl(&[
        "pkeyutl",
        "-sign",
        "-rawin",
        "-inkey",
        path_str(&key),
        "-in",
        path_str(&msg_file),
    ])
    .unwrap();
    assert_eq!(ours.sign(msg).unwrap(), theirs);
}

/// P-521 is verified (RustCrypto `p521`) but never imported as a signing key.
#[test]
fn p521_verifies_only_and_import_names_its_oid() {
    let dir = tempfile::tempdir().unwrap();
    let (key, spki) = openssl_key(
        dir.path(),
        "p521",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"],
    );
    let p521 = const_oid::db::rfc5912::SECP_521_R_1.to_string();
    let params = key::key_params(&spki).unwrap();
    assert_eq!((params.algorithm, params.bits), (KeyAlgorithm::P521, 521));
    let pkcs8 = pkcs8_der(&key);
    match SigningKey::from_pkcs8(&pkcs8) {
        Err(KeyError::Unsupported(m)) => assert!(m.contains(&p521), "{m}"),
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

#[test]
fn unsupported_curve_names_its_oid() {
    let dir = tempfile::tempdir().unwrap();
    let (_, spki) = openssl_key(
        dir.path(),
        "brainpool",
        &[
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:brainpoolP256r1",
        ],
    );
    let curve: const_oid::ObjectIdentifier = spki
        .algorithm
        .parameters
        .as_ref()
        .unwrap()
        .decode_as()
        .unwrap();
    match key::key_params(&spki) {
        Err(KeyError::Unsupported(m)) => assert!(m.contains(&curve.to_string()), "{m}"),
        other => panic!("expected Unsupported, got {other:?}"),
    }
}
