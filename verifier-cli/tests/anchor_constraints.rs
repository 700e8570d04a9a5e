//! Trust-anchor constraints (issue 11, RFC 5937): the test-vectors/pki root re-signed with its
//! own key and a name constraint excluding the signer's organisation. Every command refuses the
//! signer by default (exit 1, INDETERMINATE / CHAIN_CONSTRAINTS_FAILURE naming the constraint)
//! and accepts it with `--no-anchor-constraints` (exit 0), where the anchor is a name and a key.

use ca_core::key::{RawSignature, SigningKey};
use ca_core::name::parse_subject;
use ca_core::verify::decode_certificates;
use der::asn1::OctetString;
use der::{Decode, Encode};
use std::process::Command;
use x509_cert::Certificate;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::NameConstraints;
use x509_cert::ext::pkix::constraints::name::GeneralSubtree;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::name::Name;
use x509_cert::spki::SubjectPublicKeyInfoRef;

const BIN: &str = env!("CARGO_BIN_EXE_verifier-cli");
const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../test-vectors/");
/// The vectors' validation time (test-vectors/pki/manifest.toml).
const AT: &str = "2026-01-01T03:00:00Z";

struct Fixed {
    issuer: Name,
    subject: Name,
    extensions: Vec<Extension>,
}

impl BuilderProfile for Fixed {
    fn get_issuer(&self, _: &Name) -> Name {
        self.issuer.clone()
    }
    fn get_subject(&self) -> Name {
        self.subject.clone()
    }
    fn build_extensions(
        &self,
        _: SubjectPublicKeyInfoRef<'_>,
        _: SubjectPublicKeyInfoRef<'_>,
        _: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        Ok(self.extensions.clone())
    }
}

/// The pki root with excluded subtree `C=JP, O=hpki Vector Hospital`, re-signed by the root key.
fn constrained_root() -> Vec<u8> {
    let pem = std::fs::read(format!("{VECTORS}pki/ca/root.pem")).unwrap();
    let root = Certificate::from_der(&decode_certificates(&pem).unwrap()[0]).unwrap();
    let key = SigningKey::from_pkcs8(&std::fs::read(format!("{VECTORS}pki/keys/root.p8")).unwrap())
        .unwrap();
    let tbs = root.tbs_certificate();
    let mut extensions = tbs.extensions().cloned().unwrap_or_default();
    let hospital = GeneralSubtree {
        base: GeneralName::DirectoryName(parse_subject("C=JP,O=hpki Vector Hospital").unwrap()),
        minimum: 0,
        maximum: None,
    };
    let nc = NameConstraints {
        permitted_subtrees: None,
        excluded_subtrees: Some(vec![hospital]),
    };
    extensions.push(Extension {
        extn_id: const_oid::db::rfc5280::ID_CE_NAME_CONSTRAINTS,
        critical: true,
        extn_value: OctetString::new(nc.to_der().unwrap()).unwrap(),
    });
    CertificateBuilder::new(
        Fixed {
            issuer: tbs.issuer().clone(),
            subject: tbs.subject().clone(),
            extensions,
        },
        tbs.serial_number().clone(),
        *tbs.validity(),
        tbs.subject_public_key_info().clone(),
    )
    .unwrap()
    .build::<_, RawSignature>(&key)
    .unwrap()
    .to_der()
    .unwrap()
}

/// Runs the CLI with and without `--no-anchor-constraints`; returns both outputs.
fn both(args: &[&str]) -> [(Option<i32>, String); 2] {
    [false, true].map(|off| {
        let mut all: Vec<&str> = args.to_vec();
        if off {
            all.push("--no-anchor-constraints");
        }
        let out = Command::new(BIN).args(&all).output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    })
}

#[test]
fn every_command_applies_the_anchors_name_constraints_unless_told_not_to() {
    let dir = tempfile::tempdir().unwrap();
    let anchor = dir.path().join("constrained-root.der");
    std::fs::write(&anchor, constrained_root()).unwrap();
    let anchor = anchor.to_str().unwrap();
    let docs = dir.path().join("docs");
    std::fs::create_dir(&docs).unwrap();
    let cms = format!("{VECTORS}cms/valid-attached-p256.p7s");
    std::fs::copy(&cms, docs.join("a.p7s")).unwrap();
    let ee = format!("{VECTORS}pki/rhp-sign.pem");
    let ca = format!("{VECTORS}pki/ca/sign.pem");
    let common = ["--trust-anchor", anchor, "--at", AT];

    let path: Vec<&str> = [
        &["verify-path", "--cert", &ee, "--cert-pool", &ca][..],
        &common,
    ]
    .concat();
    let cms_args: Vec<&str> = [&["verify", "--cms", &cms][..], &common].concat();
    let batch: Vec<&str> = [
        &["verify-batch", "--dir", docs.to_str().unwrap()][..],
        &common,
    ]
    .concat();
    for (what, args) in [
        ("verify-path", path.clone()),
        ("verify", cms_args),
        ("verify-batch", batch),
    ] {
        let mut args = args.clone();
        if what != "verify-batch" {
            args.extend(["--format", "json"]);
        }
        let [(on, refused), (off, accepted)] = both(&args);
        assert_eq!(on, Some(1), "{what}: {refused}");
        assert!(
            refused.contains("CHAIN_CONSTRAINTS_FAILURE"),
            "{what}: {refused}"
        );
        if what != "verify-batch" {
            assert!(
                refused.contains("the trust anchor's own name constraints applied (RFC 5937"),
                "{what}: {refused}"
            );
        }
        assert_eq!(off, Some(0), "{what} --no-anchor-constraints: {accepted}");
    }

    // The engine's reason names the RFC 5937 setting; the text report adds the flag (issue 12).
    let [(on, refused), _] = both(&path);
    assert_eq!(on, Some(1), "{refused}");
    assert!(
        refused.contains("(RFC 5937 anchor constraints are enforced)\n"),
        "{refused}"
    );
    assert!(
        refused.contains(
            "\n  hint:   --no-anchor-constraints uses each trust anchor as a name and a key only\n"
        ),
        "{refused}"
    );
}
