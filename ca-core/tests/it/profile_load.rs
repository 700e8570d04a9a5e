//! Loading `policies/`: every shipped file loads, README lists every file, and each load-time rule
//! rejects its contradiction with an error naming file, key and rule.

use ca_core::profile::{IssuerRef, ProfileError, ProfileSet};
use std::path::PathBuf;

fn policies_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../policies"))
}

/// (name relative to policies/, text) for every shipped TOML file, as `load_dir` sees them.
fn sources() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (dir, prefix) in [
        (policies_dir(), ""),
        (policies_dir().join("roles"), "roles/"),
    ] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            if name.ends_with(".toml") {
                out.push((
                    format!("{prefix}{name}"),
                    std::fs::read_to_string(&path).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

/// The shipped sources with `file`'s text replaced by `edit(text)`.
fn edited(file: &str, edit: impl Fn(&str) -> String) -> Vec<(String, String)> {
    let mut files = sources();
    let entry = files
        .iter_mut()
        .find(|(n, _)| n == file)
        .unwrap_or_else(|| panic!("{file}"));
    let new = edit(&entry.1);
    assert_ne!(new, entry.1, "edit of {file} changed nothing");
    entry.1 = new;
    files
}

fn replace(file: &str, from: &str, to: &str) -> Vec<(String, String)> {
    edited(file, |t| t.replacen(from, to, 1))
}

#[track_caller]
fn assert_invalid(files: Vec<(String, String)>, file: &str, key: &str, rule: &str) {
    match ProfileSet::from_sources(&files) {
        Err(ProfileError::Invalid {
            file: f,
            key: k,
            rule: r,
        }) => {
            assert_eq!((f.as_str(), k.as_str()), (file, key), "rule was: {r}");
            assert!(r.contains(rule), "rule {r:?} should contain {rule:?}");
        }
        Err(other) => panic!("expected Invalid, got {other}"),
        Ok(_) => panic!("expected {file}: {key}: …{rule}… but the set loaded"),
    }
}

#[test]
fn every_shipped_file_loads() {
    let set = ProfileSet::load_dir(&policies_dir()).unwrap();
    let ids: Vec<&str> = set.profiles().map(|p| p.id()).collect();
    for id in [
        "root-ca", "sign-ca", "auth-ca", "rhp-sign", "rhp-auth", "rhp-enc", "tsa", "org-seal",
        "org-tls",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    assert_eq!(
        set.profiles().count(),
        sources()
            .iter()
            .filter(|(n, _)| !n.starts_with("roles/"))
            .count()
    );
    assert!(set.vocabulary(&ca_core::oid::JP_HCROLE_SCHEME).is_some());
}

#[test]
fn ca_ids_and_issuers_are_the_contract() {
    let set = ProfileSet::embedded().unwrap();
    let ca = |id: &str| set.get(id).unwrap().ca_id().map(str::to_owned);
    let issuer = |id: &str| set.get(id).unwrap().issuer().clone();
    assert_eq!(ca("root-ca").as_deref(), Some("root"));
    assert_eq!(ca("sign-ca").as_deref(), Some("sign"));
    assert_eq!(ca("auth-ca").as_deref(), Some("auth"));
    assert_eq!(issuer("root-ca"), IssuerRef::SelfSigned);
    assert_eq!(issuer("sign-ca"), IssuerRef::Ca("root".into()));
    assert_eq!(issuer("auth-ca"), IssuerRef::Ca("root".into()));
    assert_eq!(issuer("rhp-sign"), IssuerRef::Ca("sign".into()));
    assert_eq!(issuer("rhp-auth"), IssuerRef::Ca("auth".into()));
    assert_eq!(issuer("rhp-enc"), IssuerRef::Ca("auth".into()));
    assert_eq!(issuer("org-seal"), IssuerRef::Ca("sign".into()));
    assert_eq!(issuer("tsa"), IssuerRef::Ca("sign".into()));
    assert!(matches!(set.get("nope"), Err(ProfileError::Unknown(_))));
}

#[test]
fn embedded_equals_the_directory() {
    let mut embedded: Vec<(String, String)> = ProfileSet::embedded_sources()
        .iter()
        .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
        .collect();
    embedded.sort();
    let names = |v: &[(String, String)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&embedded), names(&sources()));
    assert!(
        embedded == sources(),
        "embedded texts differ from policies/ (stale build?)"
    );
}

#[test]
fn readme_lists_every_file_and_only_existing_files() {
    let readme = std::fs::read_to_string(policies_dir().join("README.md")).unwrap();
    let set = ProfileSet::load_dir(&policies_dir()).unwrap();
    let listed: Vec<&str> = readme
        .lines()
        .filter_map(|l| l.strip_prefix("- `"))
        .filter_map(|l| l.split('`').next())
        .collect();
    for (name, _) in sources() {
        let line = readme
            .lines()
            .find(|l| l.starts_with(&format!("- `{name}`")));
        let line = line.unwrap_or_else(|| panic!("README.md does not list {name}"));
        if let Some(id) = name
            .strip_suffix(".toml")
            .filter(|n| !n.starts_with("roles/"))
        {
            let title = set.get(id).unwrap().title();
            assert!(
                line.ends_with(title),
                "README line for {name} should end with its title {title:?}"
            );
        }
    }
    for name in listed {
        assert!(
            policies_dir().join(name).is_file(),
            "README.md lists missing file {name}"
        );
    }
}

#[test]
fn unknown_top_level_key_names_file_and_key() {
    assert_invalid(
        replace("rhp-sign.toml", "hc_role =", "colour = \"red\"\nhc_role ="),
        "rhp-sign.toml",
        "colour",
        "unknown field",
    );
}

#[test]
fn unknown_nested_key_names_table_and_key() {
    assert_invalid(
        replace("tsa.toml", "bits =", "bitz = []\nbits ="),
        "tsa.toml",
        "key_usage.bitz",
        "unknown field",
    );
}

#[test]
fn unknown_key_in_vocabulary() {
    assert_invalid(
        replace(
            "roles/jp-mhlw.toml",
            "codes = []",
            "codes = []\nlanguage = \"en\"",
        ),
        "roles/jp-mhlw.toml",
        "language",
        "unknown field",
    );
}

#[test]
fn missing_key_is_named() {
    assert_invalid(
        replace("rhp-sign.toml", "ocsp_nocheck = false\n", ""),
        "rhp-sign.toml",
        "ocsp_nocheck",
        "missing field",
    );
}

#[test]
fn ca_without_key_cert_sign() {
    assert_invalid(
        replace(
            "sign-ca.toml",
            r#"bits = ["keyCertSign", "cRLSign"]"#,
            r#"bits = ["cRLSign"]"#,
        ),
        "sign-ca.toml",
        "key_usage.bits",
        "keyCertSign",
    );
}

#[test]
fn ca_without_ca_true() {
    assert_invalid(
        replace("sign-ca.toml", "ca = true", "ca = false"),
        "sign-ca.toml",
        "basic_constraints",
        "cA = true",
    );
}

#[test]
fn end_entity_with_key_cert_sign() {
    assert_invalid(
        replace(
            "rhp-auth.toml",
            r#"bits = ["digitalSignature"]"#,
            r#"bits = ["digitalSignature", "keyCertSign"]"#,
        ),
        "rhp-auth.toml",
        "key_usage.bits",
        "CA profiles only",
    );
}

#[test]
fn end_entity_with_ca_true() {
    assert_invalid(
        replace(
            "rhp-auth.toml",
            "[keys]",
            "[basic_constraints]\nca = true\ncritical = true\n\n[keys]",
        ),
        "rhp-auth.toml",
        "basic_constraints.ca",
        "cA = true",
    );
}

#[test]
fn empty_key_usage() {
    assert_invalid(
        replace(
            "rhp-auth.toml",
            r#"bits = ["digitalSignature"]"#,
            "bits = []",
        ),
        "rhp-auth.toml",
        "key_usage.bits",
        "must not be empty",
    );
}

#[test]
fn person_signing_mixes_non_repudiation() {
    assert_invalid(
        replace(
            "rhp-sign.toml",
            r#"bits = ["nonRepudiation"]"#,
            r#"bits = ["nonRepudiation", "digitalSignature"]"#,
        ),
        "rhp-sign.toml",
        "key_usage.bits",
        "nonRepudiation only",
    );
}

#[test]
fn seal_may_combine_non_repudiation_with_digital_signature() {
    let set = ProfileSet::embedded().unwrap();
    let ku = set.get("org-seal").unwrap().key_usage();
    assert!(ku.non_repudiation() && ku.digital_signature());
}

#[test]
fn non_repudiation_never_with_encipherment() {
    assert_invalid(
        replace(
            "org-seal.toml",
            r#"bits = ["digitalSignature", "nonRepudiation"]"#,
            r#"bits = ["nonRepudiation", "keyAgreement"]"#,
        ),
        "org-seal.toml",
        "key_usage.bits",
        "key separation",
    );
}

#[test]
fn hc_role_on_a_ca() {
    assert_invalid(
        replace(
            "sign-ca.toml",
            r#"hc_role = "absent""#,
            r#"hc_role = "mandatory""#,
        ),
        "sign-ca.toml",
        "hc_role",
        "no hcRole",
    );
}

#[test]
fn rsa_below_2048() {
    assert_invalid(
        replace(
            "rhp-sign.toml",
            "rsa_min_bits = 2048",
            "rsa_min_bits = 1024",
        ),
        "rhp-sign.toml",
        "keys.rsa_min_bits",
        "below the floor 2048",
    );
}

#[test]
fn rsa_allowed_without_minimum() {
    assert_invalid(
        replace("rhp-sign.toml", "rsa_min_bits = 2048\n", ""),
        "rhp-sign.toml",
        "keys.rsa_min_bits",
        "required",
    );
}

#[test]
fn duplicate_policy_suffix() {
    // rhp-auth (suffix 2) now collides with rhp-sign (suffix 1); files load in name order.
    assert_invalid(
        replace("rhp-sign.toml", "policy_suffix = 1", "policy_suffix = 2"),
        "rhp-sign.toml",
        "certificate_policy.policy_suffix",
        "rhp-auth.toml",
    );
}

#[test]
fn ca_profile_with_own_policy_suffix() {
    assert_invalid(
        replace(
            "sign-ca.toml",
            "[certificate_policy]",
            "[certificate_policy]\npolicy_suffix = 99",
        ),
        "sign-ca.toml",
        "certificate_policy.policy_suffix",
        "policies of the profiles",
    );
}

#[test]
fn issuer_names_no_ca() {
    assert_invalid(
        replace("rhp-sign.toml", r#"issuer = "sign""#, r#"issuer = "qes""#),
        "rhp-sign.toml",
        "issuer",
        "no profile creates CA \"qes\"",
    );
}

#[test]
fn issuer_chain_loop() {
    // root issued by sign, sign issued by root: no self-signed end.
    let mut files = replace("root-ca.toml", r#"issuer = "self""#, r#"issuer = "sign""#);
    files.retain(|(n, _)| n != "auth-ca.toml" && n != "ocsp-auth.toml");
    files.retain(|(n, t)| n.starts_with("roles/") || !t.contains("issuer = \"auth\""));
    assert_invalid(files, "root-ca.toml", "issuer", "loops");
}

#[test]
fn file_stem_differs_from_id() {
    let mut files = sources();
    files.iter_mut().find(|(n, _)| n == "tsa.toml").unwrap().0 = "timestamp.toml".into();
    assert_invalid(files, "timestamp.toml", "id", "differs from the file stem");
}

#[test]
fn zero_validity() {
    assert_invalid(
        replace(
            "tsa.toml",
            "max_validity_days = 1827",
            "max_validity_days = 0",
        ),
        "tsa.toml",
        "max_validity_days",
        "at least 1",
    );
}

#[test]
fn unknown_eku_name() {
    assert_invalid(
        replace(
            "rhp-auth.toml",
            r#"purposes = ["clientAuth"]"#,
            r#"purposes = ["clientAuth", "coffeeMaking"]"#,
        ),
        "rhp-auth.toml",
        "extended_key_usage.purposes",
        "coffeeMaking",
    );
}

#[test]
fn unknown_attribute_name() {
    assert_invalid(
        replace(
            "rhp-auth.toml",
            r#"required = ["C", "CN", "serialNumber"]"#,
            r#"required = ["C", "CN", "favouriteColour"]"#,
        ),
        "rhp-auth.toml",
        "subject.required",
        "favouriteColour",
    );
}

#[test]
fn non_x520_attribute_name() {
    // A name const-oid knows that is not a DN attribute type.
    assert_invalid(
        replace(
            "rhp-auth.toml",
            r#"required = ["C", "CN", "serialNumber"]"#,
            r#"required = ["C", "CN", "id-kp-serverAuth"]"#,
        ),
        "rhp-auth.toml",
        "subject.required",
        "not an X.520 attribute",
    );
}

#[test]
fn unknown_algorithm_name() {
    assert_invalid(
        replace(
            "rhp-auth.toml",
            r#"allowed = ["p256""#,
            r#"allowed = ["dsa1024""#,
        ),
        "rhp-auth.toml",
        "keys.allowed",
        "dsa1024",
    );
}

#[test]
fn ec_key_cannot_encipher_keys() {
    assert_invalid(
        replace(
            "rhp-enc-rsa.toml",
            r#"allowed = ["rsa"]"#,
            r#"allowed = ["rsa", "p256"]"#,
        ),
        "rhp-enc-rsa.toml",
        "keys.allowed",
        "keyEncipherment",
    );
}

#[test]
fn time_stamping_must_be_critical() {
    let files = edited("tsa.toml", |t| {
        t.replacen("critical = true\npurposes", "critical = false\npurposes", 1)
    });
    assert_invalid(files, "tsa.toml", "extended_key_usage", "RFC 3161");
}

/// `[ocsp_response]` (CertHash, archiveCutoff) is for delegated responder profiles only, its keys
/// are known ones, and a cutoff is at least a day.
#[test]
fn ocsp_response_options_are_for_responders_only() {
    let table = "\n[ocsp_response]\ncert_hash = true\n";
    let with = |file: &str, extra: &str| edited(file, |t| format!("{t}{extra}"));
    assert_invalid(
        with("rhp-sign.toml", table),
        "rhp-sign.toml",
        "ocsp_response",
        "only for delegated OCSP responder profiles",
    );
    assert_invalid(
        with("sign-ca.toml", table),
        "sign-ca.toml",
        "ocsp_response",
        "only for delegated OCSP responder profiles",
    );
    assert_invalid(
        with(
            "ocsp-sign.toml",
            "\n[ocsp_response]\narchive_cutoff_days = 0\n",
        ),
        "ocsp-sign.toml",
        "ocsp_response.archive_cutoff_days",
        "at least 1",
    );
    match ProfileSet::from_sources(&with(
        "ocsp-sign.toml",
        "\n[ocsp_response]\ncert_hsh = true\n",
    )) {
        Err(ProfileError::Invalid { file, rule, .. }) => {
            assert_eq!(file, "ocsp-sign.toml");
            assert!(rule.contains("cert_hsh"), "{rule}");
        }
        other => panic!("expected Invalid, got {:?}", other.map(|_| ())),
    }
    let set = ProfileSet::from_sources(&with(
        "ocsp-sign.toml",
        "\n[ocsp_response]\ncert_hash = true\narchive_cutoff_days = 3650\n",
    ))
    .unwrap();
    let rule = set.get("ocsp-sign").unwrap().ocsp_response();
    assert!(rule.cert_hash);
    assert_eq!(rule.archive_cutoff_days, Some(3650));
    assert_eq!(
        set.get("ocsp-auth").unwrap().ocsp_response(),
        Default::default()
    );
    assert!(set.get("ocsp-auth").unwrap().is_ocsp_responder());
    assert!(!set.get("tsa").unwrap().is_ocsp_responder());
}

#[test]
fn ocsp_nocheck_needs_ocsp_signing() {
    assert_invalid(
        replace(
            "rhp-auth.toml",
            "ocsp_nocheck = false",
            "ocsp_nocheck = true",
        ),
        "rhp-auth.toml",
        "ocsp_nocheck",
        "OCSPSigning",
    );
}

#[test]
fn unknown_hc_role_value() {
    assert_invalid(
        replace(
            "rhp-auth.toml",
            r#"hc_role = "mandatory""#,
            r#"hc_role = "sometimes""#,
        ),
        "rhp-auth.toml",
        "hc_role",
        "unknown variant",
    );
}

#[test]
fn vocabulary_scheme_must_be_an_oid() {
    assert_invalid(
        replace(
            "roles/jp-mhlw.toml",
            r#"scheme = "1.2.392.100495.1.6.1.1""#,
            r#"scheme = "japan""#,
        ),
        "roles/jp-mhlw.toml",
        "scheme",
        "not an OID",
    );
}

#[test]
fn subject_short_names_resolve_to_x520_types() {
    // Profiles name attributes through const_oid::db (case-insensitive); pin what each short name means.
    use const_oid::db::{DB, rfc3280, rfc4519};
    for (name, oid) in [
        ("C", rfc4519::C),
        ("ST", rfc4519::ST),
        ("L", rfc4519::L),
        ("O", rfc4519::O),
        ("OU", rfc4519::OU),
        ("CN", rfc4519::CN),
        ("SN", rfc4519::SN),
        ("GN", rfc4519::GN),
        ("serialNumber", rfc4519::SERIAL_NUMBER),
        ("title", rfc4519::TITLE),
        ("pseudonym", rfc3280::PSEUDONYM),
    ] {
        assert_eq!(DB.by_name(name), Some(&oid), "{name}");
    }
    assert_ne!(rfc4519::SN, rfc4519::SERIAL_NUMBER);
}

/// `base.with_source(name, text)` must load exactly what `from_sources` loads from the same
/// files (the base's with `name` replaced or added), or fail with the same error.
#[track_caller]
fn assert_with_source_like_from_sources(base: &[(String, String)], name: &str, text: &str) {
    let mut all: Vec<(String, String)> = base.iter().filter(|(n, _)| n != name).cloned().collect();
    all.push((name.to_owned(), text.to_owned()));
    all.sort();
    // The Debug form holds every loaded field, so equal strings mean equal sets.
    let show = |r: Result<ProfileSet, ProfileError>| match r {
        Ok(set) => format!("{set:?}"),
        Err(e) => format!("error: {e}"),
    };
    let base = ProfileSet::from_sources(base).unwrap();
    assert_eq!(
        show(base.with_source(name, text)),
        show(ProfileSet::from_sources(&all)),
        "{name}"
    );
}

/// The CA profiles and vocabularies: what the `profile_toml` fuzz target loads once.
fn ca_sources() -> Vec<(String, String)> {
    let mut files = sources();
    files.retain(|(n, _)| n.ends_with("-ca.toml") || n.starts_with("roles/"));
    files
}

#[test]
fn with_source_adds_or_replaces_every_shipped_file() {
    for (name, text) in sources() {
        assert_with_source_like_from_sources(&ca_sources(), &name, &text);
        assert_with_source_like_from_sources(&sources(), &name, &text);
    }
    // Replacing a file leaves one of it, not two.
    let set = ProfileSet::embedded().unwrap();
    let edited = edited("roles/jp-mhlw.toml", |t| {
        t.replacen("title = \"", "title = \"Edited ", 1)
    });
    let (name, text) = edited
        .iter()
        .find(|(n, _)| n == "roles/jp-mhlw.toml")
        .unwrap();
    let set = set.with_source(name, text).unwrap();
    let titles: Vec<&str> = set.vocabularies().map(|v| v.title()).collect();
    assert_eq!(titles.len(), 1, "{titles:?}");
    assert!(titles[0].starts_with("Edited "), "{titles:?}");
}

#[test]
fn with_source_checks_the_rules_across_files() {
    let rhp_sign = |from: &str, to: &str| {
        let files = replace("rhp-sign.toml", from, to);
        files
            .into_iter()
            .find(|(n, _)| n == "rhp-sign.toml")
            .unwrap()
            .1
    };
    let shipped = |name: &str| sources().into_iter().find(|(n, _)| n == name).unwrap().1;
    for (name, text) in [
        // Duplicate policy suffix (rhp-auth has 2).
        (
            "rhp-sign.toml",
            rhp_sign("policy_suffix = 1", "policy_suffix = 2"),
        ),
        // Issuer no profile creates.
        (
            "rhp-sign.toml",
            rhp_sign(r#"issuer = "sign""#, r#"issuer = "qes""#),
        ),
        // The id must be the file stem.
        ("rhp-sign-2.toml", shipped("rhp-sign.toml")),
        // A second vocabulary with the scheme of roles/jp-mhlw.toml.
        ("roles/zz-copy.toml", shipped("roles/jp-mhlw.toml")),
        ("rhp-sign.txt", shipped("rhp-sign.toml")),
    ] {
        let set = ProfileSet::embedded().unwrap();
        assert!(set.with_source(name, &text).is_err(), "{name} loaded");
        assert_with_source_like_from_sources(&sources(), name, &text);
    }
}
