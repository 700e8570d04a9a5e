//! Sealer: AES-256-GCM at rest, KEK from a key file or Argon2id.

use ca_core::seal::{KEK_LEN, SALT_LEN, SealError, Sealer};

const PLAINTEXT: &[u8] = b"-----PKCS#8 private key bytes stand-in-----";
const CONTEXT: &[u8] = b"ca:jp-hpki-root";

fn key_sealer() -> Sealer {
    Sealer::from_key(&Sealer::random_bytes::<KEK_LEN>().unwrap())
}

#[test]
fn round_trip() {
    let s = key_sealer();
    let sealed = s.seal(PLAINTEXT, CONTEXT).unwrap();
    // version ‖ 96-bit nonce ‖ ciphertext ‖ 128-bit tag
    assert_eq!(sealed.len(), 1 + 12 + PLAINTEXT.len() + 16);
    assert_eq!(sealed[0], 1);
    assert_eq!(s.open(&sealed, CONTEXT).unwrap().as_slice(), PLAINTEXT);
    // Empty plaintext and empty context are valid too.
    let empty = s.seal(b"", b"").unwrap();
    assert!(s.open(&empty, b"").unwrap().is_empty());
}

#[test]
fn wrong_key_fails_to_open() {
    let sealed = key_sealer().seal(PLAINTEXT, CONTEXT).unwrap();
    assert!(matches!(
        key_sealer().open(&sealed, CONTEXT),
        Err(SealError::Open)
    ));
}

#[test]
fn wrong_context_fails_to_open() {
    let s = key_sealer();
    let sealed = s.seal(PLAINTEXT, CONTEXT).unwrap();
    assert!(matches!(
        s.open(&sealed, b"ca:another-ca"),
        Err(SealError::Open)
    ));
}

#[test]
fn any_altered_byte_fails_to_open() {
    let s = key_sealer();
    let sealed = s.seal(PLAINTEXT, CONTEXT).unwrap();
    // Every byte after the version: nonce, ciphertext and tag are all authenticated.
    for i in 1..sealed.len() {
        let mut bad = sealed.clone();
        bad[i] ^= 0x80;
        assert!(
            matches!(s.open(&bad, CONTEXT), Err(SealError::Open)),
            "byte {i}"
        );
    }
}

#[test]
fn truncated_or_unknown_version_is_malformed() {
    let s = key_sealer();
    let sealed = s.seal(b"", CONTEXT).unwrap();
    for len in 0..sealed.len() {
        assert!(
            matches!(s.open(&sealed[..len], CONTEXT), Err(SealError::Malformed)),
            "len {len}"
        );
    }
    let mut v2 = sealed.clone();
    v2[0] = 2;
    assert!(matches!(s.open(&v2, CONTEXT), Err(SealError::Malformed)));
    // Cut inside the ciphertext (still longer than the overhead): authentication fails.
    let long = s.seal(PLAINTEXT, CONTEXT).unwrap();
    assert!(matches!(
        s.open(&long[..long.len() - 1], CONTEXT),
        Err(SealError::Open)
    ));
}

#[test]
fn fresh_nonce_each_time() {
    let s = key_sealer();
    let a = s.seal(PLAINTEXT, CONTEXT).unwrap();
    let b = s.seal(PLAINTEXT, CONTEXT).unwrap();
    assert_ne!(a[1..13], b[1..13], "nonce reused");
    assert_ne!(a, b);
}

#[test]
fn sealed_bytes_do_not_contain_plaintext() {
    let s = key_sealer();
    let sealed = s.seal(PLAINTEXT, CONTEXT).unwrap();
    assert!(
        !sealed
            .windows(8)
            .any(|w| PLAINTEXT.windows(8).any(|p| p == w))
    );
}

#[test]
fn passphrase_is_deterministic_per_salt() {
    let salt: [u8; SALT_LEN] = Sealer::random_bytes().unwrap();
    let a = Sealer::from_passphrase(b"correct horse battery staple", &salt).unwrap();
    let b = Sealer::from_passphrase(b"correct horse battery staple", &salt).unwrap();
    let from_a = a.seal(PLAINTEXT, CONTEXT).unwrap();
    let from_b = b.seal(PLAINTEXT, CONTEXT).unwrap();
    assert_eq!(b.open(&from_a, CONTEXT).unwrap().as_slice(), PLAINTEXT);
    assert_eq!(a.open(&from_b, CONTEXT).unwrap().as_slice(), PLAINTEXT);

    let mut other_salt = salt;
    other_salt[0] ^= 1;
    let c = Sealer::from_passphrase(b"correct horse battery staple", &other_salt).unwrap();
    assert!(matches!(c.open(&from_a, CONTEXT), Err(SealError::Open)));

    let d = Sealer::from_passphrase(b"correct horse battery stapler", &salt).unwrap();
    assert!(matches!(d.open(&from_a, CONTEXT), Err(SealError::Open)));
}

#[test]
fn passphrase_kek_is_argon2id_with_the_documented_cost() {
    // Pins the KDF: a KEK derived independently with argon2 (Argon2id v1.3, m=19456 KiB, t=2,
    // p=1, 32 bytes) opens what the Sealer sealed. A change of cost would strand sealed keys.
    let salt = [7u8; SALT_LEN];
    let params = argon2::Params::new(19_456, 2, 1, Some(KEK_LEN)).unwrap();
    let mut kek = [0u8; KEK_LEN];
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_into(b"pass", &salt, &mut kek)
        .unwrap();
    let sealed = Sealer::from_passphrase(b"pass", &salt)
        .unwrap()
        .seal(PLAINTEXT, CONTEXT)
        .unwrap();
    assert_eq!(
        Sealer::from_key(&kek)
            .open(&sealed, CONTEXT)
            .unwrap()
            .as_slice(),
        PLAINTEXT
    );
}

#[test]
fn random_bytes_differ() {
    let a: [u8; 32] = Sealer::random_bytes().unwrap();
    let b: [u8; 32] = Sealer::random_bytes().unwrap();
    assert_ne!(a, b);
    assert_ne!(a, [0; 32]);
}

#[test]
fn debug_and_errors_show_no_secrets() {
    let key = [0xABu8; KEK_LEN];
    let s = Sealer::from_key(&key);
    assert_eq!(format!("{s:?}"), "Sealer(..)");
    let err = s.open(&[1; 40], CONTEXT).unwrap_err();
    let text = format!("{err} {err:?}");
    // Neither hex nor decimal renderings of the key bytes.
    assert!(
        !text.to_lowercase().contains("abab") && !text.contains("171"),
        "{text}"
    );
}
