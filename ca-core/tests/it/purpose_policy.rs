//! The signing-purpose policy (`policies/purposes/signing.toml`): the shipped purposes and OIDs
//! match `iso17090.md` §5.3, the role gate's default table, and every load-time rule.

use ca_core::hcrole::HcRole;
use ca_core::profile::ProfileSet;
use ca_core::purpose::{POLICY_FILE, Purpose, PurposeError, SigningPolicy};
use const_oid::ObjectIdentifier;
use std::path::PathBuf;

const JP: &str = "1.2.392.100495.1.6.1.1";

fn policies_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../policies"))
}

fn shipped_text() -> String {
    std::fs::read_to_string(policies_dir().join(POLICY_FILE)).unwrap()
}

fn policy() -> SigningPolicy {
    SigningPolicy::embedded().unwrap()
}

fn jp(text: &str) -> HcRole {
    HcRole {
        scheme: ObjectIdentifier::new(JP).unwrap(),
        code: None,
        text: Some(text.into()),
    }
}

/// `iso17090.md` §5.3, in order: ASTM E1762 1..18 then ETSI proofOf* 1..6.
const EXPECTED: [(&str, &str); 24] = [
    ("author", "1.2.840.10065.1.12.1.1"),
    ("coauthor", "1.2.840.10065.1.12.1.2"),
    ("co-participant", "1.2.840.10065.1.12.1.3"),
    ("transcriptionist", "1.2.840.10065.1.12.1.4"),
    ("verification", "1.2.840.10065.1.12.1.5"),
    ("validation", "1.2.840.10065.1.12.1.6"),
    ("consent", "1.2.840.10065.1.12.1.7"),
    ("signature-witness", "1.2.840.10065.1.12.1.8"),
    ("event-witness", "1.2.840.10065.1.12.1.9"),
    ("identity-witness", "1.2.840.10065.1.12.1.10"),
    ("consent-witness", "1.2.840.10065.1.12.1.11"),
    ("interpreter", "1.2.840.10065.1.12.1.12"),
    ("review", "1.2.840.10065.1.12.1.13"),
    ("source", "1.2.840.10065.1.12.1.14"),
    ("addendum", "1.2.840.10065.1.12.1.15"),
    ("modification", "1.2.840.10065.1.12.1.16"),
    ("administrative", "1.2.840.10065.1.12.1.17"),
    ("timestamp", "1.2.840.10065.1.12.1.18"),
    ("proof-of-origin", "1.2.840.113549.1.9.16.6.1"),
    ("proof-of-receipt", "1.2.840.113549.1.9.16.6.2"),
    ("proof-of-delivery", "1.2.840.113549.1.9.16.6.3"),
    ("proof-of-sender", "1.2.840.113549.1.9.16.6.4"),
    ("proof-of-approval", "1.2.840.113549.1.9.16.6.5"),
    ("proof-of-creation", "1.2.840.113549.1.9.16.6.6"),
];

#[test]
fn shipped_purposes_are_the_standard_ones() {
    let p = policy();
    let got: Vec<(String, String)> = p
        .purposes()
        .iter()
        .map(|p| (p.name.clone(), p.oid.to_string()))
        .collect();
    let want: Vec<(String, String)> = EXPECTED
        .iter()
        .map(|(n, o)| ((*n).to_owned(), (*o).to_owned()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(
        p.purpose("author").unwrap().oid,
        ObjectIdentifier::new_unwrap("1.2.840.10065.1.12.1.1")
    );
    assert_eq!(p.purpose("nope"), Err(PurposeError::Unknown("nope".into())));
}

#[test]
fn embedded_equals_the_directory_and_readme_lists_it() {
    let from_dir = SigningPolicy::load_dir(&policies_dir()).unwrap();
    assert_eq!(from_dir.purposes(), policy().purposes());
    let readme = std::fs::read_to_string(policies_dir().join("README.md")).unwrap();
    assert!(
        readme
            .lines()
            .any(|l| l.starts_with(&format!("- `{POLICY_FILE}` — "))),
        "policies/README.md does not list {POLICY_FILE}"
    );
    // Every file under purposes/ is listed.
    for entry in std::fs::read_dir(policies_dir().join("purposes")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            readme.contains(&format!("- `purposes/{name}`")),
            "README.md does not list purposes/{name}"
        );
    }
    // The profile loader does not treat it as a profile.
    let profiles = ProfileSet::load_dir(&policies_dir()).unwrap();
    assert!(profiles.profiles().all(|p| !p.id().contains("signing")));
    assert!(
        ProfileSet::embedded_sources()
            .iter()
            .all(|(n, _)| !n.starts_with("purposes/"))
    );
}

#[track_caller]
fn allowed(roles: &[HcRole], purpose: &str) -> bool {
    let p = policy();
    match p.check(roles, p.purpose(purpose).unwrap()) {
        Ok(()) => true,
        Err(PurposeError::Forbidden { .. }) => false,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn only_a_medical_doctor_authors() {
    let p = policy();
    let author = p.purpose("author").unwrap();
    assert_eq!(p.check(&[jp("Medical Doctor")], author), Ok(()));
    for role in ["Pharmacist", "Director of Hospital", "Director of Clinic"] {
        assert_eq!(
            p.check(&[jp(role)], author),
            Err(PurposeError::Forbidden {
                role: format!("{JP}:{role}"),
                purpose: "author".into()
            })
        );
    }
    assert_eq!(
        p.check(&[], author),
        Err(PurposeError::Forbidden {
            role: "(no hcRole)".into(),
            purpose: "author".into()
        })
    );
    let msg = p
        .check(&[jp("Pharmacist")], author)
        .unwrap_err()
        .to_string();
    assert_eq!(
        msg,
        "role 1.2.392.100495.1.6.1.1:Pharmacist may not sign with purpose author"
    );
}

#[test]
fn pharmacist_checks_and_receives() {
    let ph = [jp("Pharmacist")];
    for purpose in [
        "verification",
        "validation",
        "review",
        "proof-of-receipt",
        "addendum",
    ] {
        assert!(allowed(&ph, purpose), "{purpose}");
    }
    for purpose in [
        "author",
        "coauthor",
        "modification",
        "consent",
        "proof-of-origin",
    ] {
        assert!(!allowed(&ph, purpose), "{purpose}");
    }
}

#[test]
fn no_role_signs_only_origin_and_creation() {
    let p = policy();
    let names: Vec<&str> = p.allowed(&[]).iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["proof-of-origin", "proof-of-creation"]);
}

#[test]
fn nobody_signs_consent_or_timestamp() {
    let p = policy();
    for role in [
        "Medical Doctor",
        "Pharmacist",
        "Director of Hospital",
        "Director of Clinic",
    ] {
        let names: Vec<&str> = p
            .allowed(&[jp(role)])
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert!(!names.contains(&"consent"), "{role}");
        assert!(!names.contains(&"timestamp"), "{role}");
    }
    assert!(!allowed(&[], "timestamp"));
}

#[test]
fn every_jp_vocabulary_role_has_a_row() {
    // The default table covers the whole shipped JP vocabulary: a role added there without a row
    // here would be able to sign nothing.
    let text = std::fs::read_to_string(policies_dir().join("roles/jp-mhlw.toml")).unwrap();
    let line = text.lines().find(|l| l.starts_with("free_text")).unwrap();
    let values: Vec<&str> = line.split('"').skip(1).step_by(2).collect();
    assert!(values.len() >= 4, "{values:?}");
    let profiles = ProfileSet::embedded().unwrap();
    let vocab = profiles
        .vocabulary(&ObjectIdentifier::new_unwrap(JP))
        .unwrap();
    for v in values {
        assert!(vocab.allows(&jp(v)));
        assert!(!policy().allowed(&[jp(v)]).is_empty(), "{v} has no row");
    }
}

#[test]
fn unlisted_roles_sign_nothing() {
    let p = policy();
    let other_scheme = HcRole {
        scheme: ObjectIdentifier::new_unwrap("1.2.276.0.76.4.30"),
        code: None,
        text: Some("Medical Doctor".into()),
    };
    assert!(p.allowed(std::slice::from_ref(&other_scheme)).is_empty());
    assert!(p.allowed(&[jp("medical doctor")]).is_empty(), "exact match");
    let coded = HcRole {
        scheme: ObjectIdentifier::new_unwrap(JP),
        code: Some("1".into()),
        text: None,
    };
    assert!(p.allowed(std::slice::from_ref(&coded)).is_empty());
    assert_eq!(
        p.check(&[other_scheme, coded], p.purpose("review").unwrap()),
        Err(PurposeError::Forbidden {
            role: "1.2.276.0.76.4.30:Medical Doctor, 1.2.392.100495.1.6.1.1:1".into(),
            purpose: "review".into()
        })
    );
}

#[test]
fn several_roles_give_the_union() {
    let both = [jp("Pharmacist"), jp("Director of Hospital")];
    assert!(allowed(&both, "verification")); // pharmacist
    assert!(allowed(&both, "administrative")); // director
    assert!(!allowed(&both, "author"));
}

#[test]
fn a_hand_made_purpose_with_another_oid_is_unknown() {
    let p = policy();
    let fake = Purpose {
        name: "author".into(),
        oid: ObjectIdentifier::new_unwrap("1.2.3.4"),
        title: "Author's Signature".into(),
    };
    assert_eq!(
        p.check(&[jp("Medical Doctor")], &fake),
        Err(PurposeError::Unknown("author".into()))
    );
}

const MINI: &str = r#"
[[purpose]]
name = "author"
oid = "1.2.840.10065.1.12.1.1"
title = "Author"

[[purpose]]
name = "review"
oid = "1.2.840.10065.1.12.1.13"
title = "Review"

[no_role]
purposes = ["review"]

[[role]]
scheme = "1.2.392.100495.1.6.1.1"
code = "42"
purposes = ["author"]
"#;

#[test]
fn rows_may_match_codes() {
    let p = SigningPolicy::from_toml("mini.toml", MINI).unwrap();
    let coded = HcRole {
        scheme: ObjectIdentifier::new_unwrap(JP),
        code: Some("42".into()),
        text: Some("Whatever".into()),
    };
    assert_eq!(p.check(&[coded], p.purpose("author").unwrap()), Ok(()));
    assert!(p.check(&[], p.purpose("review").unwrap()).is_ok());
    assert!(p.check(&[jp("42")], p.purpose("author").unwrap()).is_err());
}

#[track_caller]
fn assert_invalid(text: &str, key: &str, rule: &str) {
    match SigningPolicy::from_toml("x.toml", text) {
        Err(PurposeError::Invalid {
            file,
            key: k,
            rule: r,
        }) => {
            assert_eq!(
                (file.as_str(), k.as_str()),
                ("x.toml", key),
                "rule was: {r}"
            );
            assert!(r.contains(rule), "rule {r:?} should contain {rule:?}");
        }
        Err(other) => panic!("expected Invalid, got {other}"),
        Ok(_) => panic!("expected {key}: …{rule}… but it loaded"),
    }
}

fn edit(from: &str, to: &str) -> String {
    assert!(MINI.contains(from), "{from}");
    MINI.replacen(from, to, 1)
}

#[test]
fn load_time_rules_name_file_key_and_rule() {
    assert!(SigningPolicy::from_toml("x.toml", MINI).is_ok());
    assert_invalid(
        &edit("[no_role]", "colour = \"red\"\n[no_role]"),
        "purpose.colour",
        "unknown field",
    );
    assert_invalid(&format!("colour = 1\n{MINI}"), "colour", "unknown field");
    assert_invalid(
        &edit("code = \"42\"", "code = \"42\"\nmood = \"x\""),
        "role.mood",
        "unknown field",
    );
    assert_invalid(
        &edit("oid = \"1.2.840.10065.1.12.1.13\"", "oid = \"not.an.oid\""),
        "purpose[1].oid",
        "not.an.oid",
    );
    assert_invalid(
        &edit("name = \"review\"", "name = \"author\""),
        "purpose[1].name",
        "duplicate purpose name",
    );
    assert_invalid(
        &edit("1.2.840.10065.1.12.1.13", "1.2.840.10065.1.12.1.1"),
        "purpose[1].oid",
        "already purpose \"author\"",
    );
    assert_invalid(
        &edit("name = \"review\"", "name = \"Review\""),
        "purpose[1].name",
        "kebab-case",
    );
    assert_invalid(
        &edit("name = \"review\"", "name = \"re--view\""),
        "purpose[1].name",
        "kebab-case",
    );
    assert_invalid(
        &edit("title = \"Review\"", "title = \" \""),
        "purpose[1].title",
        "empty",
    );
    assert_invalid(
        &edit("purposes = [\"review\"]", "purposes = [\"witness\"]"),
        "no_role.purposes",
        "\"witness\" is not a purpose defined",
    );
    assert_invalid(
        &edit(
            "purposes = [\"author\"]",
            "purposes = [\"author\", \"author\"]",
        ),
        "role[0].purposes",
        "listed twice",
    );
    assert_invalid(
        &edit("code = \"42\"", "code = \"42\"\ntext = \"Medical Doctor\""),
        "role[0].text",
        "exactly one of",
    );
    assert_invalid(
        &edit("code = \"42\"\n", ""),
        "role[0].text",
        "exactly one of",
    );
    assert_invalid(
        &edit("code = \"42\"", "code = \"\""),
        "role[0].code",
        "empty",
    );
    assert_invalid(
        &edit("scheme = \"1.2.392.100495.1.6.1.1\"", "scheme = \"jp\""),
        "role[0].scheme",
        "\"jp\"",
    );
    assert_invalid(
        &format!(
            "{MINI}\n[[role]]\nscheme = \"1.2.392.100495.1.6.1.1\"\ncode = \"42\"\npurposes = []\n"
        ),
        "role[1].text",
        "already has a row",
    );
    assert_invalid(
        &edit("[no_role]\npurposes = [\"review\"]\n", ""),
        "no_role",
        "missing field",
    );
    assert_invalid("[no_role]\npurposes = []\n", "purpose", "missing field");
    assert_invalid(
        "purpose = []\n[no_role]\npurposes = []\n",
        "purpose",
        "at least one",
    );
    assert_invalid("this is not toml", "(document)", "");
}

#[test]
fn errors_in_the_shipped_file_name_it() {
    let err = SigningPolicy::from_toml(
        POLICY_FILE,
        &shipped_text().replacen("text = \"Pharmacist\"", "text = \"Medical Doctor\"", 1),
    )
    .unwrap_err();
    assert!(err.to_string().contains("already has a row"), "{err}");
    assert!(
        err.to_string().starts_with(POLICY_FILE),
        "error names the file: {err}"
    );
}

#[test]
fn oversized_input_is_refused() {
    let big = format!("{MINI}\n# {}\n", "x".repeat(300 * 1024));
    assert_invalid(&big, "(file)", "limit");
    assert!(matches!(
        SigningPolicy::load_dir(std::path::Path::new("/nonexistent")),
        Err(PurposeError::Invalid { .. })
    ));
}

#[test]
fn a_commitment_type_is_labelled_from_the_policy_file() {
    let author = ObjectIdentifier::new_unwrap("1.2.840.10065.1.12.1.1");
    let origin = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.6.1");
    assert_eq!(
        ca_core::purpose::label(&author).as_deref(),
        Some("author (Author's Signature)")
    );
    assert_eq!(
        ca_core::purpose::label(&origin).as_deref(),
        Some("proof-of-origin (ETSI proofOfOrigin)")
    );
    assert_eq!(
        policy().by_oid(&author).map(|p| p.name.as_str()),
        Some("author")
    );
    // An OID the file does not define has no label (reports then show the OID).
    assert_eq!(
        ca_core::purpose::label(&ObjectIdentifier::new_unwrap("1.2.3.4")),
        None
    );
}
