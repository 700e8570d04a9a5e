//! Reproducible PKI test vectors in `test-vectors/pki/`: every end-entity profile issued from fixed
//! keys at a fixed time, one certificate revoked, a CRL per CA, and a manifest of expected results.
//!
//! `regenerated_vectors_match_the_committed_ones` rebuilds them and fails on any difference; to
//! rewrite them after an intended change run
//! `HPKI_WRITE_VECTORS=1 cargo test -p ca-core --test it regenerated_vectors`.
//! CA keys are RSA-3072 so that every signature is deterministic (PKCS#1 v1.5); ECDSA would not be.

use crate::support::pki_authority::{
    self, CHECK_AT, CRL_AT, INVALID_SINCE, JP, NOW, REVOKED_AT, fixed_key, rfc3339,
};
use ca_core::hcrole::HcRole;
use ca_core::issue::Registration;
use ca_core::profile::ProfileSet;
use ca_core::store::{RevocationReason, SledStore};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::str::FromStr;
use x509_cert::der::pem::LineEnding;

/// Subject, roles and key of the vector for each end-entity profile. Every profile needs a row.
fn plan() -> Vec<(
    &'static str,
    &'static str,
    &'static str,
    Vec<&'static str>,
    &'static str,
)> {
    // (file stem, profile, subject, hcRole texts under the JP scheme, key file)
    vec![
        (
            "rhp-sign",
            "rhp-sign",
            "C=JP,O=hpki Vector Hospital,CN=Hanako Sato,serialNumber=V-0001",
            vec!["Medical Doctor"],
            "ee-p256",
        ),
        (
            "rhp-sign-revoked",
            "rhp-sign",
            "C=JP,O=hpki Vector Hospital,CN=Jiro Suzuki,serialNumber=V-0002",
            vec!["Pharmacist"],
            "ee-p256-b",
        ),
        (
            "rhp-auth",
            "rhp-auth",
            "C=JP,O=hpki Vector Hospital,CN=Hanako Sato,serialNumber=V-0001",
            vec!["Medical Doctor"],
            "ee-p256-auth",
        ),
        (
            "rhp-enc",
            "rhp-enc",
            "C=JP,CN=Hanako Sato,serialNumber=V-0001",
            vec![],
            "ee-p384",
        ),
        (
            "rhp-enc-rsa",
            "rhp-enc-rsa",
            "C=JP,CN=Hanako Sato,serialNumber=V-0001",
            vec![],
            "ee-rsa2048",
        ),
        (
            "nrhp-auth",
            "nrhp-auth",
            "C=JP,O=hpki Vector Hospital,CN=Ichiro Tanaka",
            vec![],
            "ee-p256-c",
        ),
        (
            "sponsored-sign",
            "sponsored-sign",
            "C=JP,O=hpki Vector Hospital,CN=Locum Doctor",
            vec!["Medical Doctor"],
            "ee-p256-d",
        ),
        (
            "support-auth",
            "support-auth",
            "C=JP,O=hpki Vector Lab Services,CN=Saburo Ito",
            vec![],
            "ee-p256-e",
        ),
        (
            "patient-auth",
            "patient-auth",
            "C=JP,CN=Patient 368964278",
            vec![],
            "ee-ed25519",
        ),
        (
            "org-seal",
            "org-seal",
            "C=JP,O=hpki Vector Hospital,CN=hpki Vector Hospital Seal,serialNumber=ORG-1",
            vec![],
            "ee-p384-b",
        ),
        (
            "org-tls",
            "org-tls",
            "C=JP,O=hpki Vector Hospital,CN=ehr.vector.example",
            vec![],
            "ee-p256-f",
        ),
        (
            "device-tls",
            "device-tls",
            "C=JP,O=hpki Vector Hospital,CN=infusion-pump-17",
            vec![],
            "ee-ed25519-b",
        ),
        (
            "application-tls",
            "application-tls",
            "C=JP,O=hpki Vector Hospital,OU=Pharmacy,CN=e-prescribing",
            vec![],
            "ee-p256-g",
        ),
        (
            "ocsp-sign",
            "ocsp-sign",
            "C=JP,O=hpki Vector,CN=OCSP responder for sign",
            vec![],
            "ee-p256-h",
        ),
        (
            "ocsp-auth",
            "ocsp-auth",
            "C=JP,O=hpki Vector,CN=OCSP responder for auth",
            vec![],
            "ee-p256-i",
        ),
        (
            "tsa",
            "tsa",
            "C=JP,O=hpki Vector,CN=hpki Vector TSA",
            vec![],
            "ee-p256-j",
        ),
    ]
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Manifest {
    /// RFC 3339; inside every vector's validity and the CRLs' window.
    validation_time: String,
    certificate: Vec<Entry>,
    crl: Vec<CrlEntry>,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Entry {
    file: String,
    profile: String,
    issuer: String,
    serial: String,
    subject: String,
    hc_roles: Vec<String>,
    /// "good" or "revoked".
    expect: String,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct CrlEntry {
    file: String,
    ca: String,
    revoked: Vec<String>,
}

fn vectors_dir() -> PathBuf {
    pki_authority::pki_dir()
}

fn pem(label: &'static str, der: &[u8]) -> String {
    x509_cert::der::pem::encode_string(label, LineEnding::LF, der).unwrap()
}

/// Builds the whole vector set: file name → bytes.
fn generate() -> BTreeMap<String, Vec<u8>> {
    let tmp = tempfile::tempdir().unwrap();
    let store = SledStore::open(&tmp.path().join("store")).unwrap();
    let profiles = ProfileSet::embedded().unwrap();
    let authority = pki_authority::authority(store, profiles.clone());

    let mut files = BTreeMap::new();
    for ca in ["root", "sign", "auth"] {
        files.insert(
            format!("ca/{ca}.pem"),
            pem("CERTIFICATE", authority.ca_certificate(ca).unwrap()).into_bytes(),
        );
    }
    let mut entries = Vec::new();
    let plan = plan();
    for profile in profiles.profiles().filter(|p| p.ca_id().is_none()) {
        assert!(
            plan.iter().any(|row| row.1 == profile.id()),
            "profile {} has no test vector: add a row to plan()",
            profile.id()
        );
    }
    for (stem, profile, subject, roles, key) in plan {
        let key = fixed_key(&vectors_dir(), key);
        let hc_roles: Vec<HcRole> = roles
            .iter()
            .map(|text| HcRole {
                scheme: const_oid::ObjectIdentifier::new(JP).unwrap(),
                code: None,
                text: Some((*text).to_owned()),
            })
            .collect();
        let csr = crate::support::fresh_ca::csr(&key);
        let registration = Registration {
            profile: profile.to_owned(),
            subject: ca_core::name::parse_subject(subject).unwrap(),
            sans: vec![],
            hc_roles,
            validity_days: Some(profiles.get(profile).unwrap().max_validity_days().min(365)),
        };
        let issued = authority
            .issue(&registration, &csr, NOW, "vectors")
            .unwrap_or_else(|e| panic!("{stem}: {e}"));
        let issuer = profiles.get(profile).unwrap().issuer().clone();
        let issuer = match issuer {
            ca_core::profile::IssuerRef::Ca(id) => id,
            ca_core::profile::IssuerRef::SelfSigned => unreachable!(),
        };
        let serial = hex::encode(&issued.serial);
        let revoked = stem.ends_with("-revoked");
        if revoked {
            authority
                .revoke(
                    &issued.serial,
                    RevocationReason::KeyCompromise,
                    Some(INVALID_SINCE),
                    REVOKED_AT,
                    "vectors",
                )
                .unwrap();
        }
        files.insert(
            format!("{stem}.pem"),
            pem("CERTIFICATE", &issued.certificate).into_bytes(),
        );
        entries.push(Entry {
            file: format!("{stem}.pem"),
            profile: profile.to_owned(),
            issuer,
            serial,
            subject: subject.to_owned(),
            hc_roles: roles.iter().map(|r| format!("{JP}:{r}")).collect(),
            expect: if revoked { "revoked" } else { "good" }.to_owned(),
        });
    }
    let mut crls = Vec::new();
    for ca in ["root", "sign", "auth"] {
        let der = authority.crl(ca, CRL_AT, "vectors").unwrap();
        let file = format!("crl/{ca}.crl");
        files.insert(file.clone(), der);
        crls.push(CrlEntry {
            file,
            ca: ca.to_owned(),
            revoked: entries
                .iter()
                .filter(|e| e.issuer == ca && e.expect == "revoked")
                .map(|e| e.serial.clone())
                .collect(),
        });
    }
    let manifest = Manifest {
        validation_time: rfc3339(CHECK_AT),
        certificate: entries,
        crl: crls,
    };
    let text = format!(
        "# Generated by `HPKI_WRITE_VECTORS=1 cargo test -p ca-core --test it regenerated_vectors`; do not edit.\n{}",
        toml::to_string(&manifest).unwrap()
    );
    files.insert("manifest.toml".into(), text.into_bytes());
    files
}

#[test]
fn regenerated_vectors_match_the_committed_ones() {
    let files = generate();
    let dir = vectors_dir();
    if pki_authority::writing() {
        for (name, bytes) in &files {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
    }
    for (name, bytes) in &files {
        let committed = std::fs::read(dir.join(name))
            .unwrap_or_else(|e| panic!("{name}: {e} (regenerate with HPKI_WRITE_VECTORS=1)"));
        assert!(&committed == bytes, "{name} differs from its regeneration");
    }
}

fn openssl(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("the openssl CLI is required by these tests (.ci/run installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn manifest() -> Manifest {
    toml::from_str(&std::fs::read_to_string(vectors_dir().join("manifest.toml")).unwrap()).unwrap()
}

#[test]
fn openssl_verifies_every_vector_with_its_crl() {
    let dir = vectors_dir();
    let m = manifest();
    let at = x509_cert::der::DateTime::from_str(&m.validation_time)
        .unwrap()
        .unix_duration()
        .as_secs()
        .to_string();
    let p = |rel: &str| dir.join(rel).to_str().unwrap().to_owned();
    assert_eq!(m.certificate.len(), plan().len());
    let root = p("ca/root.pem");
    for e in &m.certificate {
        let file = p(&e.file);
        // `openssl verify` at `at` through `issuer`'s CA, checking its CRL when `with_crl`.
        let verify = |issuer: &str, with_crl: bool| {
            let (untrusted, crl) = (
                p(&format!("ca/{issuer}.pem")),
                p(&format!("crl/{issuer}.crl")),
            );
            let mut args = vec!["verify", "-no-CAfile", "-no-CApath", "-attime", &at];
            args.extend(["-CAfile", &root, "-untrusted", &untrusted]);
            if with_crl {
                args.extend(["-crl_check", "-CRLfile", &crl]);
            }
            args.push(&file);
            openssl(&args)
        };
        let (ok, text) = verify(&e.issuer, true);
        match e.expect.as_str() {
            "good" => assert!(ok, "{}: {text}", e.file),
            _ => assert!(
                !ok && text.contains("certificate revoked"),
                "{}: {text}",
                e.file
            ),
        }
        // The other purpose's CA does not chain it.
        let other = if e.issuer == "sign" { "auth" } else { "sign" };
        let (ok, _) = verify(other, false);
        assert!(!ok, "{} chains through the {other} CA", e.file);
    }
    for c in &m.crl {
        let ca = p(&format!("ca/{}.pem", c.ca));
        let (ok, text) = openssl(&[
            "crl",
            "-inform",
            "DER",
            "-in",
            &p(&c.file),
            "-CAfile",
            &ca,
            "-noout",
            "-text",
        ]);
        assert!(ok && text.contains("verify OK"), "{}: {text}", c.file);
        for serial in &c.revoked {
            assert!(
                text.to_uppercase().contains(&serial.to_uppercase()),
                "{} lacks {serial}",
                c.file
            );
        }
        assert!(text.contains("X509v3 CRL Number"), "{text}");
        assert!(text.contains("X509v3 Authority Key Identifier"), "{text}");
    }
    // The CA certificates themselves.
    for ca in ["root", "sign", "auth"] {
        let (ok, text) = openssl(&[
            "verify",
            "-no-CAfile",
            "-no-CApath",
            "-check_ss_sig",
            "-attime",
            &at,
            "-CAfile",
            &p("ca/root.pem"),
            &p(&format!("ca/{ca}.pem")),
        ]);
        assert!(ok, "{ca}: {text}");
    }
}

#[test]
fn vectors_decode_to_their_manifest() {
    use x509_cert::der::DecodePem;
    let dir = vectors_dir();
    for e in manifest().certificate {
        let cert =
            x509_cert::Certificate::from_pem(std::fs::read(dir.join(&e.file)).unwrap()).unwrap();
        assert_eq!(
            hex::encode(cert.tbs_certificate().serial_number().as_bytes()),
            e.serial
        );
        assert_eq!(ca_core::name::display(cert.tbs_certificate().subject()), {
            let n = ca_core::name::parse_subject(&e.subject).unwrap();
            ca_core::name::display(&n)
        });
        let roles: Vec<String> = ca_core::hcrole::roles_of(&cert)
            .unwrap()
            .into_iter()
            .map(|r| format!("{}:{}", r.scheme, r.text.unwrap_or_default()))
            .collect();
        assert_eq!(roles, e.hc_roles, "{}", e.file);
    }
}

/// OpenSSL's names for the keyUsage bits and EKU purposes written in `policies/*.toml`.
fn openssl_name(policy_name: &str) -> &'static str {
    match policy_name {
        "digitalSignature" => "Digital Signature",
        "nonRepudiation" => "Non Repudiation",
        "keyEncipherment" => "Key Encipherment",
        "dataEncipherment" => "Data Encipherment",
        "keyAgreement" => "Key Agreement",
        "keyCertSign" => "Certificate Sign",
        "cRLSign" => "CRL Sign",
        "serverAuth" => "TLS Web Server Authentication",
        "clientAuth" => "TLS Web Client Authentication",
        "emailProtection" => "E-mail Protection",
        "timeStamping" => "Time Stamping",
        "OCSPSigning" => "OCSP Signing",
        "documentSigning" => "1.3.6.1.5.5.7.3.36",
        other => panic!("no OpenSSL name for {other}"),
    }
}

/// `openssl x509 -text` of every vector shows the key usage and EKU its policy file states, with
/// the stated criticality, and hcRole / OCSP no-check exactly where the policy asks.
#[test]
fn openssl_shows_each_profiles_extensions() {
    let dir = vectors_dir();
    let policies = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
    let mut files: Vec<(String, String)> = manifest()
        .certificate
        .into_iter()
        .map(|e| (e.file, e.profile))
        .collect();
    files.extend([
        ("ca/root.pem".to_owned(), "root-ca".to_owned()),
        ("ca/sign.pem".to_owned(), "sign-ca".to_owned()),
        ("ca/auth.pem".to_owned(), "auth-ca".to_owned()),
    ]);
    for (file, profile) in files {
        let policy: toml::Table = toml::from_str(
            &std::fs::read_to_string(policies.join(format!("{profile}.toml"))).unwrap(),
        )
        .unwrap();
        let (ok, text) = openssl(&[
            "x509",
            "-in",
            dir.join(&file).to_str().unwrap(),
            "-noout",
            "-text",
        ]);
        assert!(ok, "{text}");
        // (value line, critical) of the extension whose header line starts with `label`.
        let extension = |label: &str| -> Option<(String, bool)> {
            let mut lines = text.lines();
            let header = lines.find(|l| l.trim_start().starts_with(label))?;
            Some((
                lines.next()?.trim().to_owned(),
                header.trim_end().ends_with("critical"),
            ))
        };
        let names = |table: &str, key: &str| -> Vec<&'static str> {
            let mut v: Vec<_> = policy[table][key]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| openssl_name(v.as_str().unwrap()))
                .collect();
            v.sort();
            v
        };
        let sorted = |shown: &str| -> Vec<String> {
            let mut v: Vec<String> = shown.split(", ").map(str::to_owned).collect();
            v.sort();
            v
        };

        let (shown, critical) =
            extension("X509v3 Key Usage:").unwrap_or_else(|| panic!("{file}: no key usage"));
        assert_eq!(
            critical,
            policy["key_usage"]["critical"].as_bool().unwrap(),
            "{file}: KU criticality"
        );
        assert_eq!(
            sorted(&shown),
            names("key_usage", "bits"),
            "{file}: key usage"
        );

        match (
            policy.get("extended_key_usage"),
            extension("X509v3 Extended Key Usage:"),
        ) {
            (Some(eku), Some((shown, critical))) => {
                assert_eq!(
                    critical,
                    eku["critical"].as_bool().unwrap(),
                    "{file}: EKU criticality"
                );
                assert_eq!(
                    sorted(&shown),
                    names("extended_key_usage", "purposes"),
                    "{file}: EKU"
                );
            }
            (None, None) => {}
            (want, got) => panic!("{file}: EKU in policy {want:?}, in certificate {got:?}"),
        }
        if let Some(cp) = policy.get("certificate_policy") {
            let (_, critical) = extension("X509v3 Certificate Policies:")
                .unwrap_or_else(|| panic!("{file}: no certificate policies"));
            assert_eq!(
                critical,
                cp["critical"].as_bool().unwrap(),
                "{file}: policy criticality"
            );
        }
        let is_ca = policy.get("ca").is_some();
        assert_eq!(text.contains("CA:TRUE"), is_ca, "{file}: basic constraints");
        let role = policy["hc_role"].as_str().unwrap();
        let has_sda = text.contains("X509v3 Subject Directory Attributes:");
        assert!(
            !(role == "absent" && has_sda),
            "{file}: hcRole where the policy has none"
        );
        assert!(
            role != "mandatory" || has_sda,
            "{file}: mandatory hcRole missing"
        );
        let nocheck = policy["ocsp_nocheck"].as_bool().unwrap();
        assert_eq!(
            text.contains("OCSP No Check"),
            nocheck,
            "{file}: OCSP no check"
        );
    }
}
