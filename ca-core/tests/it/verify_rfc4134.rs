//! Every RFC 4134 example (issue 4) against `test-vectors/rfc4134/manifest.toml`: each file parses
//! or is refused with the stated reason, and each signature verifies or is refused with the stated
//! check, sub-indication and reason (at `validation_time`, after the algorithm catalogue's
//! sunsets), and each signature that verifies has its `before_sunset` outcome at
//! `before_sunset_time`. Never a panic.

use crate::support::assert_names_no_flag;
use ca_core::verify::{Outcome, Policy, SignedDocument, verify_bytes};
use serde::Deserialize;
use std::ops::Not as _;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../test-vectors/rfc4134/");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    validation_time: u64,
    /// Before the catalogue's sunsets for SHA-1, DSA and RSA-1024 (2014-01-01).
    before_sunset_time: u64,
    example: Vec<Example>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Example {
    file: String,
    /// Detached content, when the signature does not carry it.
    content: Option<String>,
    parses: bool,
    indication: String,
    sub_indication: String,
    /// The check that decided, and words its reason must contain.
    check: String,
    reason: String,
    /// `INDICATION` or `INDICATION/SUB_INDICATION` at `before_sunset_time`.
    before_sunset: Option<String>,
}

/// Every CMS file of the folder: `*.bin` and the parts cut out of the MIME messages.
fn cms_files() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(DIR)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".bin") && n != "ExContent.bin")
        .collect();
    for e in std::fs::read_dir(format!("{DIR}extracted")).unwrap() {
        let n = e.unwrap().file_name().into_string().unwrap();
        if n.ends_with(".p7s") || n.ends_with(".p7m") {
            files.push(format!("extracted/{n}"));
        }
    }
    files.sort();
    files
}

#[test]
fn every_rfc4134_example_has_its_expected_outcome() {
    let manifest: Manifest =
        toml::from_str(&std::fs::read_to_string(format!("{DIR}manifest.toml")).unwrap()).unwrap();
    let mut listed: Vec<String> = manifest.example.iter().map(|e| e.file.clone()).collect();
    listed.sort();
    assert_eq!(listed, cms_files(), "the manifest must list every CMS file");

    // The examples carry no usable chain (Carl's DSA root, 1999 validity, SHA-1): signature and
    // signed attributes only, as `verifier-cli verify --no-chain`.
    let mut policy = Policy::new(manifest.validation_time);
    policy.check_chain = false;
    // Carl's certificates, for the DSA keys that inherit Carl's parameters (RFC 5280 §6.1.4(f):
    // Diane's, §4.6) where a message does not carry Carl's certificate.
    policy.cert_pool = ["CarlDSSSelf.cer", "CarlRSASelf.cer"]
        .iter()
        .map(|f| std::fs::read(format!("{DIR}{f}")).unwrap())
        .collect();
    let mut wrong = Vec::new();
    for ex in &manifest.example {
        let bytes = std::fs::read(format!("{DIR}{}", ex.file)).unwrap();
        let content = ex
            .content
            .as_ref()
            .map(|c| std::fs::read(format!("{DIR}{c}")).unwrap());
        let parses = SignedDocument::parse(&bytes).is_ok();
        let r = verify_bytes(&bytes, content.as_deref(), &policy);
        assert_names_no_flag(&r);
        let decisive = r
            .checks
            .iter()
            .chain(r.signatures.iter().flat_map(|s| s.checks.iter()))
            .find(|c| c.outcome == Outcome::Failed);
        let (check, reason) = decisive.map_or(("", ""), |c| (c.name, c.reason.as_str()));
        let sub = r.sub_indication.map_or("", |s| s.as_str());
        let indication = r.indication.to_string();
        let mut past = policy.clone();
        past.validation_time = manifest.before_sunset_time;
        let then = verify_bytes(&bytes, content.as_deref(), &past);
        let then = match then.sub_indication {
            Some(sub) => format!("{}/{}", then.indication, sub.as_str()),
            None => then.indication.to_string(),
        };
        if ex.before_sunset.as_ref().is_some_and(|want| *want != then) {
            wrong.push(format!("{}: before the sunset {then}", ex.file));
        }
        if parses != ex.parses
            || indication != ex.indication
            || sub != ex.sub_indication
            || check != ex.check
            || !reason.contains(&ex.reason)
        {
            wrong.push(format!(
                "[[example]]\nfile = {:?}\nparses = {parses}\nindication = {indication:?}\nsub_indication = {sub:?}\ncheck = {check:?}\nreason = {reason:?}\n",
                ex.file
            ));
        }
    }
    assert!(wrong.is_empty(), "actual outcomes:\n{}", wrong.join("\n"));
}

/// §4.6's second signer (Diane) has a DSA key without parameters (RFC 5280 §6.1.4(f)): they are
/// Carl's, whose certificate the message does not carry. Without it the key cannot be used;
/// with it in the pool the signature verifies.
#[test]
fn an_inherited_dsa_key_takes_its_issuers_parameters() {
    let bytes = std::fs::read(format!("{DIR}4.6.bin")).unwrap();
    let mut policy = Policy::new(1_262_304_000); // 2010-01-01, before the SHA-1 and DSA sunsets
    policy.check_chain = false;
    let r = verify_bytes(&bytes, None, &policy);
    let diane = &r.signatures[1];
    let key = diane
        .checks
        .iter()
        .find(|c| c.name == "signer-key")
        .unwrap();
    assert_eq!(key.outcome, Outcome::Failed);
    assert!(
        key.reason.contains("DSA key without domain parameters"),
        "{}",
        key.reason
    );
    assert!(r.signatures[0].failed().not());

    policy.cert_pool = vec![std::fs::read(format!("{DIR}CarlDSSSelf.cer")).unwrap()];
    let r = verify_bytes(&bytes, None, &policy);
    assert!(
        r.is_valid(),
        "{}",
        serde_json::to_string_pretty(&r).unwrap()
    );
    let signature = r.signatures[1]
        .checks
        .iter()
        .find(|c| c.name == "signature")
        .unwrap();
    assert_eq!(signature.outcome, Outcome::Passed);
}

/// §4.1 (DSA) and §4.2 (RSA-1024) end with their signature value: one bit flipped there is
/// SIG_CRYPTO_FAILURE before the sunsets and after them alike (the catalogue never turns a bad
/// signature into a constraints failure, nor a constraints failure into a good one).
#[test]
fn a_flipped_bit_in_a_dsa_or_rsa_1024_signature_is_a_crypto_failure() {
    for file in ["4.1.bin", "4.2.bin"] {
        let mut bytes = std::fs::read(format!("{DIR}{file}")).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        for at in [1_262_304_000, 1_767_236_400] {
            let mut policy = Policy::new(at);
            policy.check_chain = false;
            let r = verify_bytes(&bytes, None, &policy);
            assert_eq!(
                r.sub_indication.map(|s| s.as_str()),
                Some("SIG_CRYPTO_FAILURE"),
                "{file} at {at}"
            );
        }
    }
}
