//! Keys in a PKCS#11 token (issue 16): SoftHSMv2 through `ca_core::key::Pkcs11Token`. Every
//! mechanism signs what `key::verify` and OpenSSL accept; the private keys cannot leave the token;
//! a lost login or a finalized module is repaired (the latter after one `Unavailable`).
//!
//! `softhsm_tokens` runs the `token::` tests in a child with its own `SOFTHSM2_CONF`
//! (`support::softhsm`): they are ignored in a plain run.

use crate::support::softhsm;

/// One token per test of `token`, named after it.
const TOKENS: [&str; 14] = [
    "p256", "p384", "ed25519", "rsa", "rsa-pss", "guarded", "many", "logout", "finalize", "pin",
    "ca", "swapped", "bounded", "busy",
];

#[test]
fn softhsm_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let conf = softhsm::make_tokens(dir.path(), &TOKENS);
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["hsm::token::", "--ignored", "--test-threads=2"])
        .env("SOFTHSM2_CONF", &conf)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every test ran (a filter that matched nothing would pass too).
    let expected = format!("test result: ok. {} passed; 0 failed", TOKENS.len());
    assert!(stdout.contains(&expected), "{stdout}");
}

mod token {
    use crate::support::softhsm::{self, USER_PIN};
    use ca_core::key::{
        KeyAlgorithm, KeyError, Pkcs11KeyRef, Pkcs11Pin, Pkcs11SessionLimits, Pkcs11Token,
        SigningKey, verify,
    };
    use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
    use cryptoki::object::{Attribute, AttributeInfo, AttributeType, ObjectClass};
    use der::EncodePem;
    use std::path::Path;
    use std::process::Command;

    const MESSAGE: &[u8] = b"discharge letter, ward 7";

    /// A second handle on the module, as another part of the process would have: the library's
    /// state (initialization, login) is shared, the handles are not.
    fn other_handle() -> Pkcs11 {
        let ctx = Pkcs11::new(softhsm::module()).unwrap();
        match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(())
            | Err(cryptoki::error::Error::Pkcs11(
                cryptoki::error::RvError::CryptokiAlreadyInitialized,
                _,
            )) => ctx,
            Err(e) => panic!("C_Initialize: {e}"),
        }
    }

    fn slot_of(ctx: &Pkcs11, label: &str) -> cryptoki::slot::Slot {
        ctx.get_slots_with_token()
            .unwrap()
            .into_iter()
            .find(|s| ctx.get_token_info(*s).unwrap().label() == label)
            .unwrap()
    }

    /// `openssl` in `dir`: whether it succeeded, and what it said.
    fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
        let out = Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .output()
            .expect("the openssl CLI is required by these tests (.ci/run installs it)");
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), said)
    }

    /// Verifies `signature` over `message` with ring / `key::verify` and with OpenSSL on the
    /// exported public key.
    fn verify_everywhere(key: &SigningKey, message: &[u8], signature: &[u8]) {
        let spki = key.public_key_info();
        verify(spki, &key.signature_algorithm(), message, signature).unwrap();
        let mut tampered = message.to_vec();
        tampered[0] ^= 1;
        assert!(matches!(
            verify(spki, &key.signature_algorithm(), &tampered, signature),
            Err(KeyError::BadSignature)
        ));

        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("pub.pem"),
            spki.to_pem(der::pem::LineEnding::LF).unwrap(),
        )
        .unwrap();
        std::fs::write(d.join("msg"), message).unwrap();
        std::fs::write(d.join("sig"), signature).unwrap();
        let dgst = |md: &str, extra: &[&str]| {
            let mut args = vec!["dgst", md];
            args.extend(extra);
            args.extend(["-verify", "pub.pem", "-signature", "sig", "msg"]);
            openssl(d, &args)
        };
        let (ok, said) = match key.algorithm() {
            KeyAlgorithm::Rsa if key.signature_algorithm().oid == ca_core::oid::ID_RSASSA_PSS => {
                dgst(
                    "-sha256",
                    &[
                        "-sigopt",
                        "rsa_padding_mode:pss",
                        "-sigopt",
                        "rsa_pss_saltlen:32",
                    ],
                )
            }
            KeyAlgorithm::P256 | KeyAlgorithm::Rsa => dgst("-sha256", &[]),
            KeyAlgorithm::P384 => dgst("-sha384", &[]),
            KeyAlgorithm::Ed25519 => openssl(
                d,
                &[
                    "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in", "msg",
                    "-sigfile", "sig",
                ],
            ),
            other => panic!("{other:?} is not generated"),
        };
        assert!(ok && said.contains("Verified"), "openssl: {said}");
    }

    /// Generates `algorithm` in token `label`, signs, verifies everywhere; then reopens the key
    /// from its stored reference (JSON, as a store would hold it) and signs again.
    fn sign_in_token(label: &str, algorithm: KeyAlgorithm, pss: bool) {
        let _module = softhsm::shared();
        let token = softhsm::token(label);
        let mut key = token.generate(algorithm, "hpki test key").unwrap();
        if pss {
            key = key.with_rsa_pss().unwrap();
        }
        assert_eq!(key.algorithm(), algorithm);
        let signature = key.sign(MESSAGE).unwrap();
        verify_everywhere(&key, MESSAGE, &signature);

        // Nothing to seal: the key has no PKCS#8, only a reference.
        assert!(matches!(key.to_pkcs8(), Err(KeyError::NotExportable)));
        let reference = key.pkcs11_ref().unwrap().clone();
        assert_eq!(reference.token, label);
        assert_eq!(reference.algorithm, algorithm);
        let stored = serde_json::to_string(&reference).unwrap();
        let reopened: Pkcs11KeyRef = serde_json::from_str(&stored).unwrap();
        let mut again = softhsm::token(label).key(&reopened).unwrap();
        if pss {
            again = again.with_rsa_pss().unwrap();
        }
        assert_eq!(again.public_key_info(), key.public_key_info());
        verify_everywhere(&again, MESSAGE, &again.sign(MESSAGE).unwrap());

        // A second key may not take the label (operators find keys by it).
        assert!(matches!(
            token.generate(algorithm, "hpki test key"),
            Err(KeyError::Token(_))
        ));
    }

    #[test]
    #[ignore = "run by hsm::softhsm_tokens with SOFTHSM2_CONF"]
    fn p256() {
        sign_in_token("p256", KeyAlgorithm::P256, false);
    }

    #[test]
    #[ignore = "run by hsm::softhsm_tokens with SOFTHSM2_CONF"]
    fn p384() {
        sign_in_token("p384", KeyAlgorithm::P384, false);
    }

    #[test]
    #[ignore = "run by hsm::softhsm_tokens with SOFTHSM2_CONF"]
    fn ed25519() {
        sign_in_token("ed25519", KeyAlgorithm::Ed25519, false);
    }

    #[test]
    #[ignore = "run by hsm::softhsm_tokens with SOFTHSM2_CONF"]
    fn rsa() {
        sign_in_token("rsa", KeyAlgorithm::Rsa, false);
    }

    #[test]
    #[ignore = "run by hsm::softhsm_tokens with SOFTHSM2_CONF"]
    fn rsa_pss() {
        sign_in_token("rsa-pss", KeyAlgorithm::Rsa, true);
    }

    /// The private key is sensitive, never extractable and only signs: OpenSC lists it so, and
    /// its CKA_VALUE cannot be read.
    #[test]
    #[ignore = "run by hsm::softhsm_tokens with SOFTHSM2_CONF"]
    fn guarded() {
        let _module = softhsm::shared();
        let token = softhsm::token("guarded");
        let key = token.generate(KeyAlgorithm::P256, "ca key").unwrap();
        let id = key.pkcs11_ref().unwrap().id.clone();

        let listed =
            softhsm::pkcs11_tool("guarded", &["--list-objects", "--type", "privkey"]).unwrap();
        let access = listed
            .lines()
            .find(|l| l.trim_start().starts_with("Access:"))
            .unwrap_or_else(|| panic!("no Access line: {listed}"));
        assert!(access.contains("sensitive"), "{listed}");
        assert!(access.contains("never extractable"), "{listed}");
        assert!(
            !access
                .replace("never extractable", "")
                .contains("extractable"),
            "{listed}"
        );
        assert!(listed.contains(&id), "{listed}");
        let usage = listed
            .lines()
            .find(|l| l.trim_start().starts_with("Usage:"))
            .unwrap_or_else(|| panic!("no Usage line: {listed}"));
        assert_eq!(usage.split_once(':').unwrap().1.trim(), "sign", "{listed}");

        let ctx = other_handle();
        let session = ctx.open_ro_session(slot_of(&ctx, "guarded")).unwrap();
        let handle = session
            .find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Id(hex::decode(&id).unwrap()),
            ])
            .unwrap()[0];
        assert!(matches!(
            session
                .get_attribute_info(handle, &[AttributeType::Value])
                .unwrap()[..],
            [AttributeInfo::Sensitive]
        ));
        assert!(
            session
                .get_attributes(handle, &[AttributeType::Value])
                .unwrap()
                .is_empty()
        );
        let flags = session
            .get_attributes(
                handle,
                &[
                    AttributeType::Token,
                    AttributeType::Sensitive,
                    AttributeType::Extractable,
                ],
            )
            .unwrap();
        assert_eq!(
            flags,
            [
                Attribute::Token(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false)
            ]
        );
        drop(session);

        // A key someone put in the token as extractable is refused, and so is a reference whose
        // algorithm is not the key's.
        let session = ctx.open_rw_session(slot_of(&ctx, "guarded")).unwrap();
        let p256 = der::Encode::to_der(&ca_core::oid::SECP_256_R_1).unwrap();
        let common = |class| {
            vec![
                Attribute::Class(class),
                Attribute::Token(true),
                Attribute::Id(vec![1, 2, 3]),
                Attribute::Label(b"exportable".to_vec()),
            ]
        };
        let mut public = common(ObjectClass::PUBLIC_KEY);
        public.push(Attribute::EcParams(p256));
        let mut private = common(ObjectClass::PRIVATE_KEY);
        private.extend([
            Attribute::Private(true),
            Attribute::Sensitive(false),
            Attribute::Extractable(true),
            Attribute::Sign(true),
        ]);
        session
            .generate_key_pair(
                &cryptoki::mechanism::Mechanism::EccKeyPairGen,
                &public,
                &private,
            )
            .unwrap();
        let exportable = Pkcs11KeyRef {
            module: softhsm::module(),
            token: "guarded".into(),
            label: "exportable".into(),
            id: "010203".into(),
            algorithm: KeyAlgorithm::P256,
        };
        match token.key(&exportable) {
            Err(KeyError::Token(why)) => assert!(why.contains("not sensitive"), "{why}"),
            other => panic!("an extractable key was opened: {other:?}"),
        }
        let mut wrong = key.pkcs11_ref().unwrap().clone();
        wrong.algorithm = KeyAlgorithm::P384;
        match token.key(&wrong) {
            Err(KeyError::Token(why)) => assert!(why.contains("not P-384"), "{why}"),
            other => panic!("a P-256 key was opened as P-384: {other:?}"),
        }
    }

    /// One login serves many signatures from several threads (the pool keeps sessions open).
    #[test]
    #[ignore = "run by hsm::softhsm_tokens with SOFTHSM2_CONF"]
    fn many() {
        let _module = softhsm::shared();
        let token = softhsm::token("many");
        let key = token.generate(KeyAlgorithm::P256, "signer").unwrap();
        std::thread::scope(|scope| {
            for t in 0..4u8 {
                let key = &key;
                scope.spawn(move || {
                    for i in 0..100u8 {
                        let message = [t, i, 7];
                        let signature = key.sign(&message).unwrap();
                        verify(
                            key.public_key_info(),
                            &key.signature_algorithm(),
                            &message,
                            &signature,
                        )
                        .unwrap();
                    }
                });
            }
        });
    }

    /// A cap of 2 sessions and 8 threads signing: never more than 2 sessions open, no caller
    /// gives up, the 2 sessions opened at the start serve every signature (one login each, none
    /// reopened), and every signature verifies. The pool's count is the measure: SoftHSM answers
    /// ulSessionCount with CK_UNAVAILABLE_INFORMATION, and the pool counts a session from before
    /// C_OpenSession until after C_CloseSession, so it never understates what the token holds.
    #[test]
    #[ignore = "run by hsm::softhsm_tokens with SOFTHSM2_CONF"]
    fn bounded() {
        let _module = softhsm::shared();
        let token =
            Pkcs11Token::open(&softhsm::module(), "bounded", Pkcs11Pin::new(USER_PIN), 2).unwrap();
        let key = token.generate(KeyAlgorithm::P256, "signer").unwrap();
        std::thread::scope(|scope| {
            for t in 0..8u8 {
                let key = &key;
                scope.spawn(move || {
                    for i in 0..50u8 {
                        let message = [t, i, 16];
                        let signature = key.sign(&message).unwrap();
                        verify(
                            key.public_key_info(),
                            &key.signature_algorithm(),
                            &message,
                            &signature,
                        )
                        .unwrap();
                    }
                });
            }
        });
        let stats = token.pool_stats();
        assert!(stats.peak_open <= 2, "{stats:?}");
        assert!((1..=2).contains(&stats.opened), "{stats:?}");
        assert_eq!(
            (stats.open as u64, stats.in_use),
            (stats.opened, 0),
            "{stats:?}"
        );
        assert_eq!(stats.timed_out, 0, "{stats:?}");
        verify_everywhere(&key, MESSAGE, &key.sign(MESSAGE).unwrap());
    }

    /// A cap of 1 and no wait: while RSA generation holds the only session, a signature is
    /// `Busy` at once (not `Unavailable`: the token is there); afterwards the same key signs.
    #[test]
    #[ignore = "run by hsm::softhsm_tokens with SOFTHSM2_CONF"]
    fn busy() {
        let _module = softhsm::shared();
        let limits = Pkcs11SessionLimits {
            max_sessions: 1,
            max_wait: std::time::Duration::ZERO,
        };
        let token = Pkcs11Token::open_with_limits(
            &softhsm::module(),
            "busy",
            Pkcs11Pin::new(USER_PIN),
            limits,
        )
        .unwrap();
        assert_eq!(token.session_limits(), limits);
        let key = token.generate(KeyAlgorithm::P256, "signer").unwrap();
        std::thread::scope(|scope| {
            let generating = scope.spawn(|| token.generate_rsa(4096, "slow").unwrap());
            let start = std::time::Instant::now();
            while token.pool_stats().in_use == 0 {
                assert!(
                    start.elapsed().as_secs() < 30,
                    "generation never took the session"
                );
                std::thread::yield_now();
            }
            match key.sign(MESSAGE) {
                Err(KeyError::Busy(why)) => assert!(why.contains("all 1 sessions"), "{why}"),
                other => panic!("expected Busy, got {other:?}"),
            }
            generating.join().unwrap();
        });
        verify_everywhere(&key, MESSAGE, &key.sign(MESSAGE).unwrap());
        let stats = token.pool_stats();
        assert_eq!(
            (stats.open, stats.peak_open, stats.opened, stats.timed_out),
            (1, 1, 1, 1),
            "{stats:?}"
        );
    }

    /// Someone logs the process out of the token: the next signature logs in again.
    #[test]
    #[ignore = "run by hsm::softhsm_tokens with SOFTHSM2_CONF"]
    fn logout() {
        let _module = softhsm::shared();
        let token = softhsm::token("logout");
        let key = token.generate(KeyAlgorithm::P384, "signer").unwrap();
        key.sign(MESSAGE).unwrap();

        let ctx = other_handle();
        let session = ctx.open_ro_session(slot_of(&ctx, "logout")).unwrap();
        session.logout().unwrap();
        // Logged out: the private key is out of sight for every session of the process.
        assert!(
            session
                .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)])
                .unwrap()
                .is_empty()
        );

        let signature = key.sign(MESSAGE).unwrap();
        verify_everywhere(&key, MESSAGE, &signature);
    }

    /// The module finalized under the service (the token gone, every session lost): the
    /// signature in flight is `Unavailable`, and the next one initializes the module again,
    /// reopens a session, logs in and signs.
    #[test]
    #[ignore = "run by hsm::softhsm_tokens with SOFTHSM2_CONF"]
    fn finalize() {
        let _module = softhsm::exclusive();
        let token = softhsm::token("finalize");
        let key = token.generate(KeyAlgorithm::Ed25519, "signer").unwrap();
        key.sign(MESSAGE).unwrap();

        other_handle().finalize().unwrap();
        match key.sign(MESSAGE) {
            Err(KeyError::Unavailable(why)) => {
                assert!(why.contains("CryptokiNotInitialized"), "{why}")
            }
            other => panic!("expected Unavailable, got {other:?}"),
        }
        let signature = key.sign(MESSAGE).unwrap();
        verify_everywhere(&key, MESSAGE, &signature);
        // The stored reference opens it too, through a fresh pool.
        let reopened = softhsm::token("finalize")
            .key(key.pkcs11_ref().unwrap())
            .unwrap();
        verify_everywhere(&reopened, MESSAGE, &reopened.sign(MESSAGE).unwrap());
    }

    /// A wrong PIN is `PinRefused`; the PIN never shows in Debug or the error.
    #[test]
    #[ignore = "run by hsm::softhsm_tokens with SOFTHSM2_CONF"]
    fn pin() {
        let _module = softhsm::shared();
        let wrong = "not-the-pin-4321";
        let pin = Pkcs11Pin::new(wrong);
        assert!(!format!("{pin:?}").contains(wrong));
        let err = Pkcs11Token::open(&softhsm::module(), "pin", pin, 1).unwrap_err();
        assert!(matches!(err, KeyError::PinRefused(_)), "{err:?}");
        assert!(!format!("{err} {err:?}").contains(wrong));
        let token =
            Pkcs11Token::open(&softhsm::module(), "pin", Pkcs11Pin::new(USER_PIN), 1).unwrap();
        assert!(!format!("{token:?}").contains(USER_PIN));
        // A token that is not there is Unavailable (the service answers 503 and retries).
        let missing = Pkcs11Token::open(&softhsm::module(), "no-such", Pkcs11Pin::new(USER_PIN), 1)
            .unwrap_err();
        assert!(matches!(missing, KeyError::Unavailable(_)), "{missing:?}");
    }

    /// A CA whose key is in the token issues a certificate for a signer whose key is in the token
    /// too; `openssl verify` accepts the chain, and `openssl cms -verify` the CMS signature
    /// `ca_core::sign` makes with the signer's token key.
    #[test]
    #[ignore = "run by hsm::softhsm_tokens with SOFTHSM2_CONF"]
    fn ca() {
        use crate::support::x509::{self, Ca, Issue};
        let _module = softhsm::shared();
        let token = softhsm::token("ca");
        let root = Ca::with_key(
            "HSM Root",
            token.generate(KeyAlgorithm::P384, "root").unwrap(),
        );
        let signer = Ca::with_key(
            "HSM Practitioner",
            token.generate(KeyAlgorithm::P256, "practitioner").unwrap(),
        );
        let root_der = root.self_signed();
        let signer_der = root.issue(&signer, Issue::signer(2, vec![]));

        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let pem = |name: &str, der: &[u8]| {
            let pem = der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, der);
            std::fs::write(d.join(name), pem.unwrap()).unwrap();
        };
        pem("root.pem", &root_der);
        pem("signer.pem", &signer_der);
        let at = (x509::NOW + 3_600).to_string();
        let (ok, said) = openssl(
            d,
            &[
                "verify",
                "-CAfile",
                "root.pem",
                "-no-CApath",
                "-attime",
                &at,
                "signer.pem",
            ],
        );
        assert!(
            ok && said.contains("signer.pem: OK"),
            "openssl verify: {said}"
        );

        let content = b"prescription: amoxicillin 500 mg";
        let digest = ca_core::sign::DigestAlgorithm::for_key(&signer.key).digest(content);
        let cms = ca_core::sign::sign(&ca_core::sign::SignatureRequest {
            key: &signer.key,
            certificate: &signer_der,
            chain: std::slice::from_ref(&root_der),
            digest: &digest,
            signing_time: x509::NOW + 3_600,
            commitment_type: None,
            claimed_role: None,
            attached: None,
        })
        .unwrap();
        std::fs::write(d.join("sig.der"), &cms).unwrap();
        std::fs::write(d.join("content"), content).unwrap();
        let verify_cms = |content: &str| {
            openssl(
                d,
                &[
                    "cms",
                    "-verify",
                    "-binary",
                    "-inform",
                    "DER",
                    "-in",
                    "sig.der",
                    "-content",
                    content,
                    "-CAfile",
                    "root.pem",
                    "-no-CApath",
                    "-attime",
                    &at,
                    "-purpose",
                    "any",
                    "-out",
                    "/dev/null",
                ],
            )
        };
        let (ok, said) = verify_cms("content");
        assert!(
            ok && said.contains("Verification successful"),
            "openssl cms: {said}"
        );
        std::fs::write(d.join("other"), b"prescription: amoxicillin 900 mg").unwrap();
        let (ok, said) = verify_cms("other");
        assert!(!ok, "openssl accepted other content: {said}");
    }

    /// The token directory swapped for an empty one under the service (issue 16's "token
    /// removed"): signatures are `Unavailable`, also after the module is initialized again over
    /// the empty directory; once the tokens are back and the module initialized again, the same
    /// key signs.
    #[test]
    #[ignore = "run by hsm::softhsm_tokens with SOFTHSM2_CONF"]
    fn swapped() {
        let _module = softhsm::exclusive();
        let token = softhsm::token("swapped");
        let key = token.generate(KeyAlgorithm::P256, "signer").unwrap();
        key.sign(MESSAGE).unwrap();

        let conf = std::env::var_os("SOFTHSM2_CONF").unwrap();
        let tokens = Path::new(&conf).parent().unwrap().join("tokens");
        let away = tokens.with_extension("away");
        std::fs::rename(&tokens, &away).unwrap();
        std::fs::create_dir(&tokens).unwrap();
        for _ in 0..3 {
            let err = key.sign(MESSAGE).unwrap_err();
            assert!(matches!(err, KeyError::Unavailable(_)), "{err:?}");
        }
        token.reinitialize_module().unwrap();
        match key.sign(MESSAGE) {
            Err(KeyError::Unavailable(why)) => assert!(why.contains("no token"), "{why}"),
            other => panic!("expected Unavailable, got {other:?}"),
        }

        std::fs::remove_dir(&tokens).unwrap();
        std::fs::rename(&away, &tokens).unwrap();
        token.reinitialize_module().unwrap();
        let signature = key.sign(MESSAGE).unwrap();
        verify_everywhere(&key, MESSAGE, &signature);
    }
}
