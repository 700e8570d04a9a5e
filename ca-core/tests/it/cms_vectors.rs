//! Reproducible CMS/CAdES test vectors in `test-vectors/cms/` (issue 4): valid signatures per
//! algorithm, and one vector per way a signature can be not valid, each with the `verifier-cli
//! verify` arguments and the expected exit status, indication and sub-indication in
//! `manifest.toml` (checked by `verifier-cli/tests/cms_vectors.rs`).
//!
//! The signers are the pki vectors' (`test-vectors/pki/`, CA certificates rebuilt here from the
//! same keys and time and checked byte for byte) plus certificates issued here from fixed keys in
//! `test-vectors/cms/keys`. Malformed signatures are valid ones from `ca_core::sign`, decoded into
//! the `cms` crate's types, edited, and their signed attributes signed again.
//!
//! Reproducibility: RSA PKCS#1 v1.5 and Ed25519 signatures are deterministic and compared byte for
//! byte. ECDSA (ring) is randomised, so the signature value of an ECDSA SignerInfo is the one
//! field compared blanked out; that the committed ECDSA values verify (or not) is what the
//! data-driven CLI test proves. Every other file, and every other octet, must match exactly.
//! `HPKI_WRITE_VECTORS=1 cargo test -p ca-core --test it regenerated_cms_vectors` rewrites what differs (an
//! ECDSA vector equal up to its signature value is left as committed).

use crate::support::pki_authority::{
    self, CHECK_AT, INVALID_SINCE, JP, NOW, REVOKED_AT, fixed_key, pki_dir, rfc3339,
};
use ca_core::hcrole::HcRole;
use ca_core::issue::Registration;
use ca_core::key::SigningKey;
use ca_core::oid;
use ca_core::profile::ProfileSet;
use ca_core::sign::{DigestAlgorithm, DocumentHasher, SignatureRequest, SigningCertificateV2};
use ca_core::store::SledStore;
use cms::builder::{create_content_type_attribute, create_message_digest_attribute};
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerInfo, SignerInfos};
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Decode, Encode, Tag};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use x509_cert::attr::Attribute;

const DAY: u64 = 86_400;
/// signingTime of the vectors: after the CRLs were issued, before [`CHECK_AT`].
const SIGNED_AT: u64 = NOW + 9_000;
/// Before the revoked vector's invalidity date and revocation.
const BEFORE_REVOCATION: u64 = NOW + 30;
/// After the revoked vector's invalidity date, before its revocation.
const BETWEEN_COMPROMISE_AND_REVOCATION: u64 = NOW + 1_800;
const _: () = assert!(
    BEFORE_REVOCATION < INVALID_SINCE
        && INVALID_SINCE < BETWEEN_COMPROMISE_AND_REVOCATION
        && BETWEEN_COMPROMISE_AND_REVOCATION < REVOKED_AT
);
/// The expired signer is valid for one day from [`NOW`].
const AFTER_EXPIRY: u64 = NOW + 2 * DAY;
/// The not-yet-valid signer's notBefore.
const LATER_ISSUE: u64 = NOW + 7 * DAY;

const DOCUMENT: &[u8] = b"Rx: amoxicillin 250 mg, three times a day for 7 days\n";
const TAMPERED: &[u8] = b"Rx: amoxicillin 500 mg, three times a day for 7 days\n";

fn cms_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-vectors/cms")
}

fn pem_file(path: &Path) -> Vec<u8> {
    let text = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    der::pem::decode_vec(&text).unwrap().1
}

fn pem(der: &[u8]) -> Vec<u8> {
    der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, der)
        .unwrap()
        .into_bytes()
}

/// A signing key with its certificate and the CA certificates a signature carries.
struct Signer {
    key: SigningKey,
    certificate: Vec<u8>,
    chain: Vec<Vec<u8>>,
}

impl Signer {
    fn sign(&self, document: &[u8], attached: bool, signing_time: u64) -> Vec<u8> {
        let digest = DigestAlgorithm::for_key(&self.key).digest(document);
        self.sign_digest(&digest, attached.then_some(document), signing_time)
    }

    fn sign_digest(&self, digest: &[u8], attached: Option<&[u8]>, signing_time: u64) -> Vec<u8> {
        self.sign_request(digest, attached, signing_time, None)
    }

    /// Attached, with the commitment-type-indication of `purpose` (policies/purposes).
    fn sign_for(&self, document: &[u8], purpose: &str, signing_time: u64) -> Vec<u8> {
        let policy = ca_core::purpose::SigningPolicy::embedded().unwrap();
        let oid = policy.purpose(purpose).unwrap().oid;
        let digest = DigestAlgorithm::for_key(&self.key).digest(document);
        self.sign_request(&digest, Some(document), signing_time, Some(oid))
    }

    fn sign_request(
        &self,
        digest: &[u8],
        attached: Option<&[u8]>,
        signing_time: u64,
        commitment_type: Option<const_oid::ObjectIdentifier>,
    ) -> Vec<u8> {
        ca_core::sign::sign(&SignatureRequest {
            key: &self.key,
            certificate: &self.certificate,
            chain: &self.chain,
            digest,
            signing_time,
            commitment_type,
            claimed_role: None,
            attached,
        })
        .unwrap()
    }
}

/// An rhp-sign certificate for `key` issued at `at` for `days`, with the hcRole Medical Doctor.
fn issue_rhp_sign(
    authority: &ca_core::authority::Authority<SledStore>,
    subject: &str,
    key: &SigningKey,
    at: u64,
    days: u32,
) -> Vec<u8> {
    let csr = crate::support::fresh_ca::csr(key);
    let registration = Registration {
        profile: "rhp-sign".into(),
        subject: ca_core::name::parse_subject(subject).unwrap(),
        sans: vec![],
        hc_roles: vec![HcRole {
            scheme: JP.parse().unwrap(),
            code: None,
            text: Some("Medical Doctor".into()),
        }],
        validity_days: Some(days),
    };
    authority
        .issue(&registration, &csr, at, "vectors")
        .unwrap_or_else(|e| panic!("{subject}: {e}"))
        .certificate
}

// ---- Editing a signature through the cms types ----

fn signed_data(der: &[u8]) -> SignedData {
    ContentInfo::from_der(der)
        .unwrap()
        .content
        .decode_as::<SignedData>()
        .unwrap()
}

fn content_info(sd: &SignedData) -> Vec<u8> {
    ContentInfo {
        content_type: oid::ID_SIGNED_DATA,
        content: Any::encode_from(sd).unwrap(),
    }
    .to_der()
    .unwrap()
}

fn signer_infos(sd: &SignedData) -> Vec<SignerInfo> {
    sd.signer_infos.0.iter().cloned().collect()
}

fn set_signer_infos(sd: &mut SignedData, infos: Vec<SignerInfo>) {
    sd.signer_infos = SignerInfos(SetOfVec::try_from(infos).unwrap());
}

/// Edits the one SignerInfo of `der` (and the SignedData around it), then signs its signed
/// attributes again with `key`, so only the edit is wrong.
fn edit(
    der: &[u8],
    key: &SigningKey,
    change: impl FnOnce(&mut SignedData, &mut SignerInfo),
) -> Vec<u8> {
    let mut sd = signed_data(der);
    let mut si = signer_infos(&sd).remove(0);
    change(&mut sd, &mut si);
    if let Some(attrs) = &si.signed_attrs {
        si.signature = OctetString::new(key.sign(&attrs.to_der().unwrap()).unwrap()).unwrap();
    }
    set_signer_infos(&mut sd, vec![si]);
    content_info(&sd)
}

fn replace_attribute(si: &mut SignerInfo, attribute: Attribute) {
    let mut attrs: Vec<Attribute> = si
        .signed_attrs
        .as_ref()
        .unwrap()
        .iter()
        .filter(|a| a.oid != attribute.oid)
        .cloned()
        .collect();
    attrs.push(attribute);
    si.signed_attrs = Some(SetOfVec::try_from(attrs).unwrap());
}

fn union<T: Clone + Encode>(
    a: impl IntoIterator<Item = T>,
    b: impl IntoIterator<Item = T>,
) -> Vec<T> {
    let mut out: Vec<T> = a.into_iter().collect();
    for x in b {
        let der = x.to_der().unwrap();
        if !out.iter().any(|y| y.to_der().unwrap() == der) {
            out.push(x);
        }
    }
    out
}

/// The CMS with every ECDSA signature value blanked: what two regenerations share. Anything that
/// is not a SignedData (the truncated and garbage vectors) is returned as is.
fn without_ecdsa_signature_values(der: &[u8]) -> Vec<u8> {
    let Ok(info) = ContentInfo::from_der(der) else {
        return der.to_vec();
    };
    let Ok(mut sd) = info.content.decode_as::<SignedData>() else {
        return der.to_vec();
    };
    let ecdsa = [
        oid::ECDSA_WITH_SHA_256,
        oid::ECDSA_WITH_SHA_384,
        oid::ECDSA_WITH_SHA_512,
    ];
    let infos = signer_infos(&sd)
        .into_iter()
        .map(|mut si| {
            if ecdsa.contains(&si.signature_algorithm.oid) {
                si.signature = OctetString::new(Vec::new()).unwrap();
            }
            si
        })
        .collect();
    set_signer_infos(&mut sd, infos);
    content_info(&sd)
}

// ---- The manifest ----

#[derive(Serialize)]
struct Manifest {
    case: Vec<Case>,
}

/// One `verifier-cli verify` run; paths are relative to `test-vectors/cms/`.
#[derive(Clone, Serialize)]
struct Case {
    name: String,
    description: String,
    cms: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<String>,
    trust_anchors: Vec<String>,
    cert_pool: Vec<String>,
    crls: Vec<String>,
    /// `--at`, RFC 3339.
    at: String,
    /// Further flags (`--require-cades`, `--require-role …`).
    args: Vec<String>,
    /// 0 valid, 1 not valid.
    exit: u8,
    indication: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub_indication: Option<String>,
}

const ROOT: &str = "../pki/ca/root.pem";
const CRLS: [&str; 3] = [
    "../pki/crl/root.crl",
    "../pki/crl/sign.crl",
    "../pki/crl/auth.crl",
];

/// A case that passes: anchored at the pki root, every pki CRL, at [`CHECK_AT`].
fn case(name: &str, cms: &str, description: &str) -> Case {
    Case {
        name: name.into(),
        description: description.into(),
        cms: cms.into(),
        content: None,
        trust_anchors: vec![ROOT.into()],
        cert_pool: vec![],
        crls: CRLS.iter().map(|s| (*s).to_owned()).collect(),
        at: rfc3339(CHECK_AT),
        args: vec![],
        exit: 0,
        indication: "TOTAL-PASSED".into(),
        sub_indication: None,
    }
}

impl Case {
    fn content(mut self, file: &str) -> Self {
        self.content = Some(file.into());
        self
    }
    fn at(mut self, unix: u64) -> Self {
        self.at = rfc3339(unix);
        self
    }
    fn args(mut self, args: &[&str]) -> Self {
        self.args = args.iter().map(|s| (*s).to_owned()).collect();
        self
    }
    fn fails(mut self, indication: &str, sub_indication: &str) -> Self {
        self.exit = 1;
        self.indication = indication.into();
        self.sub_indication = Some(sub_indication.into());
        self
    }
}

const FAILED: &str = "TOTAL-FAILED";
const INDETERMINATE: &str = "INDETERMINATE";

/// Builds the whole vector set: file name → bytes.
fn generate() -> BTreeMap<String, Vec<u8>> {
    let tmp = tempfile::tempdir().unwrap();
    let store = SledStore::open(&tmp.path().join("store")).unwrap();
    let authority = pki_authority::authority(store, ProfileSet::embedded().unwrap());
    let pki = pki_dir();
    let dir = cms_dir();
    for ca in ["root", "sign", "auth"] {
        assert!(
            authority.ca_certificate(ca).unwrap() == pem_file(&pki.join(format!("ca/{ca}.pem"))),
            "the rebuilt {ca} CA is not test-vectors/pki's: regenerate those first"
        );
    }
    let sign_ca = authority.ca_certificate("sign").unwrap().to_vec();
    let auth_ca = authority.ca_certificate("auth").unwrap().to_vec();
    let pki_signer = |cert: &str, key: &str, ca: &[u8]| Signer {
        key: fixed_key(&pki, key),
        certificate: pem_file(&pki.join(cert)),
        chain: vec![ca.to_vec()],
    };
    let mut files = BTreeMap::new();
    let mut new_signer = |stem: &str, subject: &str, at: u64, days: u32| {
        let key = fixed_key(&dir, &format!("ee-{stem}"));
        let certificate = issue_rhp_sign(&authority, subject, &key, at, days);
        files.insert(format!("certs/rhp-sign-{stem}.pem"), pem(&certificate));
        Signer {
            key,
            certificate,
            chain: vec![sign_ca.clone()],
        }
    };
    let rsa = new_signer(
        "rsa2048",
        "C=JP,O=hpki Vector Hospital,CN=Hanako Sato,serialNumber=V-0001",
        NOW,
        365,
    );
    let ed25519 = new_signer(
        "ed25519",
        "C=JP,O=hpki Vector Hospital,CN=Hanako Sato,serialNumber=V-0001",
        NOW,
        365,
    );
    let expired = new_signer(
        "ed25519-expired",
        "C=JP,O=hpki Vector Hospital,CN=Goro Kato,serialNumber=V-0003",
        NOW,
        1,
    );
    let not_yet_valid = new_signer(
        "ed25519-not-yet-valid",
        "C=JP,O=hpki Vector Hospital,CN=Rokuro Yamada,serialNumber=V-0004",
        LATER_ISSUE,
        365,
    );
    let p256 = pki_signer("rhp-sign.pem", "ee-p256", &sign_ca);
    let p384 = pki_signer("org-seal.pem", "ee-p384-b", &sign_ca);
    let revoked = pki_signer("rhp-sign-revoked.pem", "ee-p256-b", &sign_ca);
    let auth = pki_signer("rhp-auth.pem", "ee-p256-auth", &auth_ca);

    // A longer document, signed over its digest only: the signer never sees the bytes.
    let report: Vec<u8> = (0..200)
        .flat_map(|i| format!("{i:03} serum potassium 4.{} mmol/L\n", i % 10).into_bytes())
        .collect();
    files.insert("document.txt".into(), DOCUMENT.to_vec());
    files.insert("document-tampered.txt".into(), TAMPERED.to_vec());
    files.insert("lab-report.txt".into(), report.clone());

    let mut cases = Vec::new();
    for (alg, signer, what) in [
        ("p256", &p256, "P-256 ECDSA with SHA-256 (pki rhp-sign)"),
        ("p384", &p384, "P-384 ECDSA with SHA-384 (pki org-seal)"),
        ("ed25519", &ed25519, "Ed25519 with SHA-512 (RFC 8419)"),
        ("rsa", &rsa, "RSA-2048 PKCS#1 v1.5 with SHA-256"),
    ] {
        let attached = format!("valid-attached-{alg}.p7s");
        files.insert(attached.clone(), signer.sign(DOCUMENT, true, SIGNED_AT));
        cases.push(
            case(
                &format!("valid-attached-{alg}"),
                &attached,
                &format!("{what}, content encapsulated, CAdES attributes"),
            )
            .args(&["--require-cades"]),
        );
        let detached = format!("valid-detached-{alg}.p7s");
        files.insert(detached.clone(), signer.sign(DOCUMENT, false, SIGNED_AT));
        cases.push(
            case(
                &format!("valid-detached-{alg}"),
                &detached,
                &format!("{what}, detached, document.txt beside it"),
            )
            .content("document.txt")
            .args(&["--require-cades"]),
        );
        let mut hasher = DocumentHasher::new(DigestAlgorithm::for_key(&signer.key));
        for chunk in report.chunks(1024) {
            hasher.update(chunk);
        }
        let digest_signed = format!("valid-digest-{alg}.p7s");
        files.insert(
            digest_signed.clone(),
            signer.sign_digest(&hasher.finish(), None, SIGNED_AT),
        );
        cases.push(
            case(
                &format!("valid-digest-{alg}"),
                &digest_signed,
                &format!("{what}, signed over the digest of lab-report.txt only (detached)"),
            )
            .content("lab-report.txt")
            .args(&["--require-cades"]),
        );
    }

    // A purpose the signer's hcRole (Medical Doctor) may sign for: ASTM E1762 author.
    files.insert(
        "valid-purpose-author.p7s".into(),
        rsa.sign_for(DOCUMENT, "author", SIGNED_AT),
    );
    cases.push(
        case(
            "valid-purpose-author",
            "valid-purpose-author.p7s",
            "RSA-2048 PKCS#1 v1.5 with SHA-256, content encapsulated, commitment type author (ASTM E1762, the Medical Doctor's prescription)",
        )
        .args(&["--require-cades"]),
    );

    cases.push(
        case(
            "tampered-detached",
            "valid-detached-rsa.p7s",
            "the RSA detached signature of document.txt over document-tampered.txt (250 → 500 mg)",
        )
        .content("document-tampered.txt")
        .fails(FAILED, "HASH_FAILURE"),
    );
    let rsa_attached = files["valid-attached-rsa.p7s"].clone();
    let tampered = edit(&rsa_attached, &rsa.key, |sd, _| {
        sd.encap_content_info.econtent = Some(Any::new(Tag::OctetString, TAMPERED).unwrap());
    });
    files.insert("tampered-attached.p7s".into(), tampered);
    cases.push(
        case(
            "tampered-attached",
            "tampered-attached.p7s",
            "valid-attached-rsa with its encapsulated content changed (250 → 500 mg)",
        )
        .fails(FAILED, "HASH_FAILURE"),
    );

    let mut wrong_anchor = case(
        "wrong-trust-anchor",
        "valid-attached-rsa.p7s",
        "a valid signature, but only the authentication CA is trusted: the signing CA does not chain to it",
    )
    .fails(INDETERMINATE, "NO_CERTIFICATE_CHAIN_FOUND");
    wrong_anchor.trust_anchors = vec!["../pki/ca/auth.pem".into()];
    cases.push(wrong_anchor);

    files.insert(
        "revoked-signer.p7s".into(),
        revoked.sign(DOCUMENT, true, INVALID_SINCE - 50),
    );
    cases.push(
        case(
            "revoked-signer",
            "revoked-signer.p7s",
            "signed by pki rhp-sign-revoked (keyCompromise, revoked 01:00Z, invalid since 00:01Z); sign.crl lists it",
        )
        .fails(FAILED, "REVOKED"),
    );
    cases.push(
        case(
            "revoked-after-validation-time",
            "revoked-signer.p7s",
            "the same signature validated at 00:00:30Z, before the revocation and its invalidity date: no proof of existence places the signature before the revocation (issue 11)",
        )
        .at(BEFORE_REVOCATION)
        .fails(INDETERMINATE, "REVOKED_NO_POE"),
    );
    cases.push(
        case(
            "revoked-after-key-compromise",
            "revoked-signer.p7s",
            "validated at 00:30Z: before the revocation but after the invalidity date (key compromised since 00:01Z)",
        )
        .at(BETWEEN_COMPROMISE_AND_REVOCATION)
        .fails(FAILED, "REVOKED"),
    );

    files.insert(
        "expired-signer.p7s".into(),
        expired.sign(DOCUMENT, true, SIGNED_AT),
    );
    cases.push(
        case(
            "expired-signer",
            "expired-signer.p7s",
            "signer certificate valid for one day from 2026-01-01, validated two days later",
        )
        .at(AFTER_EXPIRY)
        .fails(FAILED, "EXPIRED"),
    );
    files.insert(
        "not-yet-valid-signer.p7s".into(),
        not_yet_valid.sign(DOCUMENT, true, LATER_ISSUE + 3_600),
    );
    cases.push(
        case(
            "not-yet-valid-signer",
            "not-yet-valid-signer.p7s",
            "signer certificate valid from 2026-01-08, validated on 2026-01-01",
        )
        .fails(FAILED, "NOT_YET_VALID"),
    );

    files.insert(
        "authentication-certificate.p7s".into(),
        auth.sign(DOCUMENT, true, SIGNED_AT),
    );
    cases.push(
        case(
            "authentication-certificate",
            "authentication-certificate.p7s",
            "signed with the pki rhp-auth key: its certificate has no nonRepudiation (ISO 17090 one key per purpose)",
        )
        .fails(INDETERMINATE, "CHAIN_CONSTRAINTS_FAILURE"),
    );

    let ess_mismatch = edit(&rsa_attached, &rsa.key, |_, si| {
        let attr = si
            .signed_attrs
            .as_ref()
            .unwrap()
            .iter()
            .find(|a| a.oid == oid::ID_AA_SIGNING_CERTIFICATE_V_2)
            .unwrap()
            .clone();
        let mut ess: SigningCertificateV2 = attr.values.get(0).unwrap().decode_as().unwrap();
        // A real certificate's hash, the wrong certificate's: the signing CA's.
        ess.certs[0].cert_hash =
            OctetString::new(DigestAlgorithm::Sha256.digest(&sign_ca)).unwrap();
        replace_attribute(
            si,
            Attribute {
                oid: attr.oid,
                values: SetOfVec::try_from(vec![Any::encode_from(&ess).unwrap()]).unwrap(),
            },
        );
    });
    files.insert("ess-hash-mismatch.p7s".into(), ess_mismatch);
    cases.push(
        case(
            "ess-hash-mismatch",
            "ess-hash-mismatch.p7s",
            "signingCertificateV2 certHash is the signing CA's hash, not the signer's (re-signed)",
        )
        .fails(INDETERMINATE, "NO_SIGNING_CERTIFICATE_FOUND"),
    );

    let no_attrs = edit(&rsa_attached, &rsa.key, |_, si| {
        si.signed_attrs = None;
        // RFC 5652 §5.4: without signed attributes the signature covers the content itself.
        si.signature = OctetString::new(rsa.key.sign(DOCUMENT).unwrap()).unwrap();
    });
    files.insert("no-signed-attributes.p7s".into(), no_attrs);
    cases.push(case(
        "no-signed-attributes",
        "no-signed-attributes.p7s",
        "RSA signature over the content itself, no signed attributes: valid CMS (with a warning)",
    ));
    cases.push(
        case(
            "no-signed-attributes-require-cades",
            "no-signed-attributes.p7s",
            "the same with --require-cades: no signingCertificateV2, not CAdES",
        )
        .args(&["--require-cades"])
        .fails(FAILED, "FORMAT_FAILURE"),
    );

    let content_type = edit(&rsa_attached, &rsa.key, |_, si| {
        replace_attribute(
            si,
            create_content_type_attribute(const_oid::db::rfc3161::ID_CT_TST_INFO).unwrap(),
        );
    });
    files.insert("content-type-mismatch.p7s".into(), content_type);
    cases.push(
        case(
            "content-type-mismatch",
            "content-type-mismatch.p7s",
            "contentType attribute id-ct-TSTInfo, eContentType id-data (RFC 5652 §11.1; re-signed)",
        )
        .fails(FAILED, "FORMAT_FAILURE"),
    );

    let digest_mismatch = edit(&rsa_attached, &rsa.key, |sd, si| {
        // digestAlgorithm and messageDigest say SHA-384; the signature is sha256WithRSAEncryption.
        let sha384 = DigestAlgorithm::Sha384;
        sd.digest_algorithms = SetOfVec::try_from(vec![sha384.identifier()]).unwrap();
        si.digest_alg = sha384.identifier();
        replace_attribute(
            si,
            create_message_digest_attribute(&sha384.digest(DOCUMENT)).unwrap(),
        );
    });
    files.insert("digest-algorithm-mismatch.p7s".into(), digest_mismatch);
    cases.push(
        case(
            "digest-algorithm-mismatch",
            "digest-algorithm-mismatch.p7s",
            "digestAlgorithm SHA-384 (messageDigest too) under sha256WithRSAEncryption (RFC 5754 §3.2; re-signed)",
        )
        .fails(FAILED, "FORMAT_FAILURE"),
    );

    files.insert(
        "truncated.p7s".into(),
        rsa_attached[..rsa_attached.len() / 2].to_vec(),
    );
    cases.push(
        case(
            "truncated-der",
            "truncated.p7s",
            "the first half of valid-attached-rsa.p7s",
        )
        .fails(FAILED, "FORMAT_FAILURE"),
    );
    // A fixed xorshift stream stands in for random bytes.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let garbage: Vec<u8> = (0..512)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    files.insert("garbage.p7s".into(), garbage);
    cases.push(
        case("garbage-der", "garbage.p7s", "512 pseudo-random bytes")
            .fails(FAILED, "FORMAT_FAILURE"),
    );

    let mut two = signed_data(&rsa_attached);
    let other = signed_data(&files["valid-attached-ed25519.p7s"]);
    let mut bad = signer_infos(&other).remove(0);
    let mut value = bad.signature.as_bytes().to_vec();
    value[0] ^= 1;
    bad.signature = OctetString::new(value).unwrap();
    let mut infos = signer_infos(&two);
    infos.push(bad);
    set_signer_infos(&mut two, infos);
    two.digest_algorithms = SetOfVec::try_from(union(
        two.digest_algorithms.iter().cloned(),
        other.digest_algorithms.iter().cloned(),
    ))
    .unwrap();
    let certificates = union(
        two.certificates.as_ref().unwrap().0.iter().cloned(),
        other.certificates.as_ref().unwrap().0.iter().cloned(),
    );
    two.certificates = Some(cms::signed_data::CertificateSet(
        SetOfVec::try_from(certificates).unwrap(),
    ));
    files.insert("two-signers-one-bad.p7s".into(), content_info(&two));
    cases.push(
        case(
            "two-signers-one-bad",
            "two-signers-one-bad.p7s",
            "the RSA signer is valid; the Ed25519 signer's signature value has one bit flipped",
        )
        .fails(FAILED, "SIG_CRYPTO_FAILURE"),
    );

    // The policy of another profile (sponsored-sign, suffix 6) is not the rhp-sign one (suffix 1).
    let other_policy = "2.25.2026112801.6";
    cases.push(
        case(
            "policy-not-accepted",
            "valid-attached-rsa.p7s",
            "--accept-policy names the sponsored-sign policy; the signer asserts rhp-sign's",
        )
        .args(&["--accept-policy", other_policy])
        .fails(INDETERMINATE, "CHAIN_CONSTRAINTS_FAILURE"),
    );
    cases.push(
        case(
            "policy-explicit-absent",
            "valid-attached-rsa.p7s",
            "RFC 5280 policy processing with the sponsored-sign policy as initial set and explicit policy required",
        )
        .args(&[
            "--initial-policy",
            other_policy,
            "--require-explicit-policy",
        ])
        .fails(INDETERMINATE, "CHAIN_CONSTRAINTS_FAILURE"),
    );
    let doctor = format!("{JP}:Medical Doctor");
    let pharmacist = format!("{JP}:Pharmacist");
    cases.push(
        case(
            "role-held",
            "valid-attached-rsa.p7s",
            "--require-role Medical Doctor, which the signer's hcRole certifies",
        )
        .args(&["--require-role", &doctor]),
    );
    cases.push(
        case(
            "role-absent",
            "valid-attached-rsa.p7s",
            "--require-role Pharmacist; the signer is certified as Medical Doctor only",
        )
        .args(&["--require-role", &pharmacist])
        .fails(INDETERMINATE, "SIG_CONSTRAINTS_FAILURE"),
    );

    for c in &cases {
        assert!(files.contains_key(&c.cms), "{}: no {}", c.name, c.cms);
    }
    files.insert("README.md".into(), readme(&cases).into_bytes());
    let text = format!(
        "# Generated by `HPKI_WRITE_VECTORS=1 cargo test -p ca-core --test it regenerated_cms_vectors`; do not edit.\n\
         # Paths are relative to this folder; run each case as\n\
         # verifier-cli verify --cms CMS [--content CONTENT] --trust-anchor … --crl … --at AT ARGS… --format json\n{}",
        toml::to_string(&Manifest { case: cases }).unwrap()
    );
    files.insert("manifest.toml".into(), text.into_bytes());
    files
}

fn readme(cases: &[Case]) -> String {
    let mut s = String::from(
        "# CMS/CAdES test vectors\n\n\
         Generated by `ca-core/tests/it/cms_vectors.rs`; do not edit. Regenerate with\n\
         `HPKI_WRITE_VECTORS=1 cargo test -p ca-core --test it regenerated_cms_vectors` (the test without the\n\
         variable fails on any difference; ECDSA signature values, which are randomised, are the one\n\
         thing compared blanked out). `verifier-cli/tests/cms_vectors.rs` runs `verifier-cli verify\n\
         --format json` for every case of `manifest.toml` and checks its exit status, indication and\n\
         sub-indication (ETSI EN 319 102-1 §5.1.3).\n\n\
         Signers: the pki vectors (`../pki/`: rhp-sign P-256, org-seal P-384, rhp-sign-revoked,\n\
         rhp-auth) and the rhp-sign certificates in `certs/` issued by the same signing CA from the\n\
         keys in `keys/` (test keys, never use them elsewhere). Trust anchor `../pki/ca/root.pem`,\n\
         CRLs `../pki/crl/*.crl`, validation time 2026-01-01T03:00:00Z unless a case says otherwise.\n\
         Malformed signatures are valid ones decoded into the `cms` crate's types, edited and re-signed.\n\n\
         | case | file | what it is | exit | indication / sub-indication |\n\
         |---|---|---|---|---|\n",
    );
    for c in cases {
        s.push_str(&format!(
            "| {} | {} | {}{}{} | {} | {}{} |\n",
            c.name,
            c.cms,
            c.description,
            if c.args.is_empty() {
                String::new()
            } else {
                format!("; `{}`", c.args.join(" "))
            },
            if c.at == rfc3339(CHECK_AT) {
                String::new()
            } else {
                format!("; at {}", c.at)
            },
            c.exit,
            c.indication,
            c.sub_indication
                .as_deref()
                .map(|s| format!(" / {s}"))
                .unwrap_or_default(),
        ));
    }
    s
}

#[test]
fn regenerated_cms_vectors_match_the_committed_ones() {
    let files = generate();
    let dir = cms_dir();
    let comparable = |name: &str, bytes: &[u8]| {
        if name.ends_with(".p7s") {
            without_ecdsa_signature_values(bytes)
        } else {
            bytes.to_vec()
        }
    };
    for (name, bytes) in &files {
        let path = dir.join(name);
        let committed = std::fs::read(&path).ok();
        let same = committed
            .as_deref()
            .is_some_and(|c| comparable(name, c) == comparable(name, bytes));
        if !same && pki_authority::writing() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, bytes).unwrap();
            continue;
        }
        assert!(
            committed.is_some(),
            "{name}: missing (regenerate with HPKI_WRITE_VECTORS=1)"
        );
        assert!(same, "{name} differs from its regeneration");
    }
}
