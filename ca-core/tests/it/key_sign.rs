//! SigningKey / key_params / verify with real ring crypto, no external tools.

use ca_core::key::{self, KeyAlgorithm, KeyError, KeyParams, SigningKey};
use ca_core::oid;
use der::Decode;
use der::asn1::Any;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

const RSA2048: &[u8] = include_bytes!("data/rsa2048.pk8.der");
const RSA1024: &[u8] = include_bytes!("data/rsa1024.pk8.der");
const RSA1024_SPKI: &[u8] = include_bytes!("data/rsa1024.spki.der");

fn all_keys() -> Vec<(&'static str, SigningKey, u32)> {
    vec![
        (
            "P-256",
            SigningKey::generate(KeyAlgorithm::P256).unwrap(),
            256,
        ),
        (
            "P-384",
            SigningKey::generate(KeyAlgorithm::P384).unwrap(),
            384,
        ),
        (
            "Ed25519",
            SigningKey::generate(KeyAlgorithm::Ed25519).unwrap(),
            256,
        ),
        ("RSA-2048", SigningKey::from_pkcs8(RSA2048).unwrap(), 2048),
    ]
}

#[test]
fn sign_verify_round_trip_and_bit_flips_fail() {
    let msg = b"hpki: to-be-signed bytes";
    for (name, key, _) in all_keys() {
        let spki = key.public_key_info();
        let alg = key.signature_algorithm();
        let sig = key.sign(msg).unwrap();
        key::verify(spki, &alg, msg, &sig).unwrap_or_else(|e| panic!("{name}: {e}"));

        for bit in [0, sig.len() * 4, sig.len() * 8 - 1] {
            let mut bad = sig.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(
                matches!(
                    key::verify(spki, &alg, msg, &bad),
                    Err(KeyError::BadSignature)
                ),
                "{name}: flipped signature bit {bit} still verifies"
            );
        }
        let mut other = msg.to_vec();
        other[0] ^= 0x01;
        assert!(
            matches!(
                key::verify(spki, &alg, &other, &sig),
                Err(KeyError::BadSignature)
            ),
            "{name}: altered message still verifies"
        );
    }
}

#[test]
fn signature_from_another_key_fails() {
    let msg = b"m";
    let a = SigningKey::generate(KeyAlgorithm::P256).unwrap();
    let b = SigningKey::generate(KeyAlgorithm::P256).unwrap();
    let sig = a.sign(msg).unwrap();
    assert!(matches!(
        key::verify(b.public_key_info(), &a.signature_algorithm(), msg, &sig),
        Err(KeyError::BadSignature)
    ));
}

#[test]
fn pkcs8_round_trip_keeps_the_key() {
    for (name, key, _) in all_keys() {
        let pkcs8 = key.to_pkcs8().expect("software key");
        let again = SigningKey::from_pkcs8(&pkcs8).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(again.public_key_info(), key.public_key_info(), "{name}");
        assert_eq!(again.algorithm(), key.algorithm(), "{name}");
        // The re-imported key signs for the original public key.
        let sig = again.sign(b"x").unwrap();
        key::verify(
            key.public_key_info(),
            &key.signature_algorithm(),
            b"x",
            &sig,
        )
        .unwrap();
    }
}

#[test]
fn params_and_algorithm_identifiers() {
    let expected = [
        (KeyAlgorithm::P256, oid::ECDSA_WITH_SHA_256, false),
        (KeyAlgorithm::P384, oid::ECDSA_WITH_SHA_384, false),
        (KeyAlgorithm::Ed25519, oid::ID_ED_25519, false),
        (KeyAlgorithm::Rsa, oid::SHA_256_WITH_RSA_ENCRYPTION, true),
    ];
    for ((name, key, bits), (alg, sig_oid, null_params)) in all_keys().into_iter().zip(expected) {
        let params = KeyParams {
            algorithm: alg,
            bits,
        };
        assert_eq!(key.params(), params, "{name}");
        assert_eq!(key.algorithm(), alg, "{name}");
        assert_eq!(
            key::key_params(key.public_key_info()).unwrap(),
            params,
            "{name}"
        );

        let sig_alg = key.signature_algorithm();
        assert_eq!(sig_alg.oid, sig_oid, "{name}");
        assert_eq!(
            sig_alg.parameters,
            null_params.then(Any::null),
            "{name}: parameters must be NULL for RSA, absent otherwise"
        );
    }
}

#[test]
fn spki_encodings_match_the_rfcs() {
    let p256 = SigningKey::generate(KeyAlgorithm::P256).unwrap();
    let spki = p256.public_key_info();
    assert_eq!(spki.algorithm.oid, oid::ID_EC_PUBLIC_KEY);
    let curve: der::asn1::ObjectIdentifier = spki
        .algorithm
        .parameters
        .as_ref()
        .unwrap()
        .decode_as()
        .unwrap();
    assert_eq!(curve, oid::SECP_256_R_1);
    // RFC 5480 §2.2: uncompressed point, 0x04 ‖ X ‖ Y.
    let point = spki.subject_public_key.as_bytes().unwrap();
    assert_eq!((point.len(), point[0]), (65, 0x04));

    let ed = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap();
    assert_eq!(ed.public_key_info().algorithm.oid, oid::ID_ED_25519);
    assert_eq!(ed.public_key_info().algorithm.parameters, None);
    assert_eq!(
        ed.public_key_info().subject_public_key.raw_bytes().len(),
        32
    );

    let rsa = SigningKey::from_pkcs8(RSA2048).unwrap();
    assert_eq!(rsa.public_key_info().algorithm.oid, oid::RSA_ENCRYPTION);
    assert_eq!(
        rsa.public_key_info().algorithm.parameters,
        Some(Any::null())
    );
}

#[test]
fn keys_are_described_by_algorithm_and_size() {
    for (name, key, _) in all_keys() {
        let want = match name {
            "P-256" => "EC P-256",
            "P-384" => "EC P-384",
            "Ed25519" => "Ed25519",
            _ => "RSA 2048",
        };
        assert_eq!(key::describe_public_key(key.public_key_info()), want);
    }
    let rsa1024 = SubjectPublicKeyInfoOwned::from_der(RSA1024_SPKI).unwrap();
    assert_eq!(key::describe_public_key(&rsa1024), "RSA 1024");
    // A curve hpki does not support is named, not refused: brainpoolP256r1 (RFC 5639).
    let mut k1 = SigningKey::generate(KeyAlgorithm::P256)
        .unwrap()
        .public_key_info()
        .clone();
    k1.algorithm.parameters =
        Some(Any::encode_from(&const_oid::db::rfc5639::BRAINPOOL_P_256_R_1).unwrap());
    assert_eq!(
        key::describe_public_key(&k1),
        "EC brainpoolP256r1 (1.3.36.3.3.2.8.1.1.7)"
    );
}

/// RSA-1024 is measured, refused as a signing key, and verified (old documents and certificates:
/// the verifier's algorithm catalogue judges its age, not key::verify).
#[test]
fn rsa_1024_is_measured_refused_for_signing_and_verified() {
    let spki = SubjectPublicKeyInfoOwned::from_der(RSA1024_SPKI).unwrap();
    assert_eq!(
        key::key_params(&spki).unwrap(),
        KeyParams {
            algorithm: KeyAlgorithm::Rsa,
            bits: 1024
        }
    );
    match SigningKey::from_pkcs8(RSA1024) {
        Err(KeyError::Unsupported(m)) => assert!(m.contains("2048"), "{m}"),
        other => panic!("expected Unsupported, got {other:?}"),
    }
    let alg = AlgorithmIdentifierOwned {
        oid: oid::SHA_256_WITH_RSA_ENCRYPTION,
        parameters: Some(Any::null()),
    };
    assert!(matches!(
        key::verify(&spki, &alg, b"m", &[0; 128]),
        Err(KeyError::BadSignature)
    ));
}

#[test]
fn rsa_keys_are_generated_outside_ring_and_sign_with_it() {
    let key = SigningKey::generate(KeyAlgorithm::Rsa).unwrap();
    assert_eq!(key.params().bits, ca_core::key::RSA_GENERATED_BITS as u32);
    let sig = key.sign(b"msg").unwrap();
    ca_core::key::verify(
        key.public_key_info(),
        &key.signature_algorithm(),
        b"msg",
        &sig,
    )
    .unwrap();
    assert!(matches!(
        SigningKey::generate_rsa(1024),
        Err(KeyError::Unsupported(_))
    ));
}

#[test]
fn garbage_pkcs8_is_malformed() {
    for bad in [
        &b""[..],
        b"not a key at all",
        &RSA2048[..RSA2048.len() - 1],
        &[0x30, 0x03, 0x02, 0x01, 0x00],
        // The PKCS#1 RSAPrivateKey inside the PKCS#8 (what `openssl genpkey -outform DER` writes).
        &RSA2048[26..],
    ] {
        assert!(
            matches!(SigningKey::from_pkcs8(bad), Err(KeyError::Malformed)),
            "{bad:02x?}"
        );
    }
    // A well-formed PKCS#8 whose private key was altered is rejected by ring.
    let mut tampered = SigningKey::generate(KeyAlgorithm::P256)
        .unwrap()
        .to_pkcs8()
        .unwrap()
        .to_vec();
    let n = tampered.len();
    tampered[n - 1] ^= 0x01; // last byte of the embedded public key
    assert!(matches!(
        SigningKey::from_pkcs8(&tampered),
        Err(KeyError::Malformed)
    ));
}

#[test]
fn algorithm_must_match_key_type() {
    let msg = b"m";
    let rsa = SigningKey::from_pkcs8(RSA2048).unwrap();
    let p256 = SigningKey::generate(KeyAlgorithm::P256).unwrap();
    let ed = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap();

    let ecdsa_sig = p256.sign(msg).unwrap();
    // ECDSA algorithm with an RSA key.
    assert!(matches!(
        key::verify(
            rsa.public_key_info(),
            &p256.signature_algorithm(),
            msg,
            &ecdsa_sig
        ),
        Err(KeyError::Unsupported(_))
    ));
    // RSA algorithm with an EC key.
    assert!(matches!(
        key::verify(
            p256.public_key_info(),
            &rsa.signature_algorithm(),
            msg,
            &ecdsa_sig
        ),
        Err(KeyError::Unsupported(_))
    ));
    // Ed25519 algorithm with an EC key, and the reverse.
    let ed_sig = ed.sign(msg).unwrap();
    assert!(
        key::verify(
            p256.public_key_info(),
            &ed.signature_algorithm(),
            msg,
            &ed_sig
        )
        .is_err()
    );
    assert!(
        key::verify(
            ed.public_key_info(),
            &p256.signature_algorithm(),
            msg,
            &ecdsa_sig
        )
        .is_err()
    );
}

#[test]
fn ecdsa_hash_choice_is_honoured() {
    // A P-256/SHA-256 signature must not verify when the identifier says SHA-384.
    let p256 = SigningKey::generate(KeyAlgorithm::P256).unwrap();
    let sig = p256.sign(b"m").unwrap();
    let sha384 = AlgorithmIdentifierOwned {
        oid: oid::ECDSA_WITH_SHA_384,
        parameters: None,
    };
    assert!(matches!(
        key::verify(p256.public_key_info(), &sha384, b"m", &sig),
        Err(KeyError::BadSignature)
    ));
    // ECDSA identifiers carry no parameters (RFC 5758 §3.2).
    let with_null = AlgorithmIdentifierOwned {
        oid: oid::ECDSA_WITH_SHA_256,
        parameters: Some(Any::null()),
    };
    assert!(key::verify(p256.public_key_info(), &with_null, b"m", &sig).is_err());
}

/// ECDSA P-256 with SHA-512 is legal (RFC 5758 §3.2): checked against that hash, so a SHA-256
/// signature does not verify under it; an algorithm hpki does not verify (MD5 with RSA) is
/// Unsupported, named by its OID.
#[test]
fn any_sha2_with_p256_is_checked_and_md5_is_unsupported() {
    let p256 = SigningKey::generate(KeyAlgorithm::P256).unwrap();
    let alg = AlgorithmIdentifierOwned {
        oid: oid::ECDSA_WITH_SHA_512,
        parameters: None,
    };
    let sig = p256.sign(b"m").unwrap();
    assert!(matches!(
        key::verify(p256.public_key_info(), &alg, b"m", &sig),
        Err(KeyError::BadSignature)
    ));
    let rsa = SigningKey::from_pkcs8(RSA2048).unwrap();
    let md5 = const_oid::db::rfc5912::MD_5_WITH_RSA_ENCRYPTION;
    let alg = AlgorithmIdentifierOwned {
        oid: md5,
        parameters: Some(Any::null()),
    };
    match key::verify(rsa.public_key_info(), &alg, b"m", &rsa.sign(b"m").unwrap()) {
        Err(KeyError::Unsupported(m)) => assert!(m.contains(&md5.to_string()), "{m}"),
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

#[test]
fn debug_shows_no_key_material() {
    let key = SigningKey::from_pkcs8(RSA2048).unwrap();
    let dbg = format!("{key:?}");
    assert_eq!(dbg, "SigningKey { .. }");
}

/// `with_rsa_pss` (issue 16): a software RSA key signs RSASSA-PSS (SHA-256, MGF1-SHA-256, salt
/// 32) under an AlgorithmIdentifier whose parameters say so; other keys refuse it.
#[test]
fn rsa_pss_is_signed_with_its_parameters() {
    let key = SigningKey::from_pkcs8(RSA2048)
        .unwrap()
        .with_rsa_pss()
        .unwrap();
    let alg = key.signature_algorithm();
    assert_eq!(alg.oid, oid::ID_RSASSA_PSS);
    let message = b"pss";
    let signature = key.sign(message).unwrap();
    key::verify(key.public_key_info(), &alg, message, &signature).unwrap();
    // The PKCS#1 v1.5 identifier does not verify a PSS signature.
    let pkcs1 = SigningKey::from_pkcs8(RSA2048)
        .unwrap()
        .signature_algorithm();
    assert!(matches!(
        key::verify(key.public_key_info(), &pkcs1, message, &signature),
        Err(KeyError::BadSignature)
    ));
    assert!(matches!(
        SigningKey::generate(KeyAlgorithm::P256)
            .unwrap()
            .with_rsa_pss(),
        Err(KeyError::Unsupported(_))
    ));
}
