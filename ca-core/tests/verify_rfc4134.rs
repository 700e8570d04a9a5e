//! Every RFC 4134 example (issue 4) against `test-vectors/rfc4134/manifest.toml`: each file parses
//! or is refused with the stated reason, and each signature verifies or is refused with the stated
//! check, sub-indication and reason. Never a panic.

use ca_core::verify::{Outcome, Policy, SignedDocument, verify_bytes};
use serde::Deserialize;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../test-vectors/rfc4134/");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    validation_time: u64,
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
    let mut wrong = Vec::new();
    for ex in &manifest.example {
        let bytes = std::fs::read(format!("{DIR}{}", ex.file)).unwrap();
        let content = ex
            .content
            .as_ref()
            .map(|c| std::fs::read(format!("{DIR}{c}")).unwrap());
        let parses = SignedDocument::parse(&bytes).is_ok();
        let r = verify_bytes(&bytes, content.as_deref(), &policy);
        let decisive = r
            .checks
            .iter()
            .chain(r.signatures.iter().flat_map(|s| s.checks.iter()))
            .find(|c| c.outcome == Outcome::Failed);
        let (check, reason) = decisive.map_or(("", ""), |c| (c.name, c.reason.as_str()));
        let sub = r.sub_indication.map_or("", |s| s.as_str());
        let indication = r.indication.to_string();
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
