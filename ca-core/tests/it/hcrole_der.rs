//! hcRole DER: real MEDIS certificates (iso17090.md §3.3, §7) and synthetic vectors (§3.3 note).

use ca_core::hcrole::{self, HCActor, HcRole, HcRoleError, MAX_ROLES};
use ca_core::oid::{HC_ROLE, JP_HCROLE_SCHEME};
use der::{Decode, Encode};
use x509_cert::Certificate;

/// extnValue of subjectDirectoryAttributes in `medis-test-ee-medical-doctor.der` (iso17090.md §3.3).
const MEDICAL_DOCTOR_SDA: &str = "303430320606288185420001312831263024A0223120A00C060A2A830886910F01060101A2100C0E4D65646963616C20446F63746F72";

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("hex")
}

fn jp(text: &str) -> HcRole {
    HcRole {
        scheme: JP_HCROLE_SCHEME,
        code: None,
        text: Some(text.into()),
    }
}

fn cert(name: &str) -> Certificate {
    let path = format!(
        "{}/../test-vectors/jp-hpki/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let der = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    Certificate::from_der(&der).expect("certificate decodes")
}

#[test]
fn encodes_medical_doctor_byte_for_byte() {
    let der = hcrole::encode_extension_value(&[jp("Medical Doctor")]).unwrap();
    assert_eq!(hex::encode_upper(der), MEDICAL_DOCTOR_SDA);
}

#[test]
fn decodes_medical_doctor_value() {
    assert_eq!(
        hcrole::decode_extension_value(&unhex(MEDICAL_DOCTOR_SDA)).unwrap(),
        vec![jp("Medical Doctor")]
    );
}

#[test]
fn decodes_real_medis_certificates() {
    for (file, role) in [
        ("medis-test-ee-medical-doctor.der", "Medical Doctor"),
        ("medis-test-ee-pharmacist.der", "Pharmacist"),
        ("medis-test-ee-medical-doctor-expired.der", "Medical Doctor"),
    ] {
        assert_eq!(
            hcrole::roles_of(&cert(file)).unwrap(),
            vec![jp(role)],
            "{file}"
        );
    }
}

#[test]
fn ca_certificate_has_no_roles() {
    assert!(
        hcrole::roles_of(&cert("medis-sign-ca2.der"))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn pharmacist_reencodes_to_the_certificate_bytes() {
    let c = cert("medis-test-ee-pharmacist.der");
    let ext = c
        .tbs_certificate()
        .extensions()
        .unwrap()
        .iter()
        .find(|e| e.extn_id == ca_core::oid::ID_CE_SUBJECT_DIRECTORY_ATTRIBUTES)
        .unwrap();
    assert!(!ext.critical, "RFC 5280 §4.2.1.8: SDA is non-critical");
    let roles = hcrole::decode_extension_value(ext.extn_value.as_bytes()).unwrap();
    assert_eq!(
        hcrole::encode_extension_value(&roles).unwrap(),
        ext.extn_value.as_bytes()
    );
}

/// Builds `SDA { Attribute { hcRole, SET { SET { HCActor(coded_data_content, regional) } } } }` by hand.
fn sda_with_actor(coded_set_content: &[u8], regional: &[u8]) -> Vec<u8> {
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        assert!(content.len() < 128);
        let mut v = vec![tag, content.len() as u8];
        v.extend_from_slice(content);
        v
    }
    let coded = tlv(0xA0, &tlv(0x31, coded_set_content));
    let actor = tlv(0x30, &[coded, regional.to_vec()].concat());
    let values = tlv(0x31, &tlv(0x31, &actor));
    let attr = tlv(0x30, &[HC_ROLE.to_der().unwrap(), values].concat());
    tlv(0x30, &attr)
}

const SCHEME_FIELD: &str = "A00C060A2A830886910F01060101";

#[test]
fn decodes_numeric_string_code() {
    // [0] scheme, [1] NumericString "123" (MediSignVerifier HCActorTests, iso17090.md §7 row 12).
    let der = sda_with_actor(&unhex(&format!("{SCHEME_FIELD}A1051203313233")), &[]);
    let roles = hcrole::decode_extension_value(&der).unwrap();
    assert_eq!(
        roles,
        vec![HcRole {
            scheme: JP_HCROLE_SCHEME,
            code: Some("123".into()),
            text: None
        }]
    );
    // NumericString is what we emit for an all-digit code.
    assert_eq!(hcrole::encode_extension_value(&roles).unwrap(), der);
}

#[test]
fn decodes_utf8_code_and_emits_utf8_for_non_numeric() {
    let der = sda_with_actor(&unhex(&format!("{SCHEME_FIELD}A1050C0341422D")), &[]);
    let roles = hcrole::decode_extension_value(&der).unwrap();
    assert_eq!(roles[0].code.as_deref(), Some("AB-"));
    assert_eq!(hcrole::encode_extension_value(&roles).unwrap(), der);
    // A UTF8String holding digits decodes too (and re-encodes as NumericString).
    let der = sda_with_actor(&unhex(&format!("{SCHEME_FIELD}A1050C03313233")), &[]);
    assert_eq!(
        hcrole::decode_extension_value(&der).unwrap()[0]
            .code
            .as_deref(),
        Some("123")
    );
}

#[test]
fn rejects_non_digit_numeric_string() {
    let der = sda_with_actor(&unhex(&format!("{SCHEME_FIELD}A1051203313241")), &[]);
    assert!(hcrole::decode_extension_value(&der).is_err());
}

#[test]
fn accepts_empty_regional_data() {
    // regionalHCActorData [1] SEQUENCE {} (synthetic MediSignVerifier vector): accepted and ignored.
    let der = sda_with_actor(
        &unhex(&format!("{SCHEME_FIELD}A2060C0450686172")),
        &unhex("A1023000"),
    );
    assert_eq!(
        hcrole::decode_extension_value(&der).unwrap(),
        vec![jp("Phar")]
    );
    let actor = HCActor::from_der(&unhex("3014A00E310CA00A06082A830886910F0106A1023000")).unwrap();
    assert!(actor.regional_hc_actor_data.is_some());
}

#[test]
fn accepts_directory_string_variants() {
    // PrintableString, BMPString, TeletexString (Latin-1 octet).
    for (inner, want) in [
        ("13024162", "Ab"),
        ("1E0400410062", "Ab"),
        ("1402E962", "éb"),
    ] {
        let field = format!("A2{:02X}{inner}", inner.len() / 2);
        let der = sda_with_actor(&unhex(&format!("{SCHEME_FIELD}{field}")), &[]);
        assert_eq!(
            hcrole::decode_extension_value(&der).unwrap()[0]
                .text
                .as_deref(),
            Some(want),
            "{inner}"
        );
    }
    // IA5String is not a DirectoryString alternative; UniversalString is refused (der 0.8 has no tag).
    for inner in ["16024162", "1C080000004100000062"] {
        let field = format!("A2{:02X}{inner}", inner.len() / 2);
        let der = sda_with_actor(&unhex(&format!("{SCHEME_FIELD}{field}")), &[]);
        assert!(hcrole::decode_extension_value(&der).is_err(), "{inner}");
    }
}

#[test]
fn requires_code_or_text() {
    let der = sda_with_actor(&unhex(SCHEME_FIELD), &[]);
    let err = hcrole::decode_extension_value(&der).unwrap_err();
    assert!(
        matches!(err, HcRoleError::Invalid(ref m) if m.contains("at least one")),
        "{err}"
    );
    let none = HcRole {
        scheme: JP_HCROLE_SCHEME,
        code: None,
        text: None,
    };
    assert!(hcrole::encode_extension_value(&[none]).is_err());
}

#[test]
fn ignores_other_attributes() {
    // A dateOfBirth-like foreign attribute (2.5.4.3 with a UTF8String) before the hcRole attribute.
    let other = unhex("300C0603550403310513034162 63".replace(' ', "").as_str());
    let real = unhex(MEDICAL_DOCTOR_SDA);
    let mut content = other.clone();
    content.extend_from_slice(&real[2..]);
    let mut der = vec![0x30, content.len() as u8];
    der.extend(content);
    assert_eq!(
        hcrole::decode_extension_value(&der).unwrap(),
        vec![jp("Medical Doctor")]
    );
}

#[test]
fn round_trips_several_roles() {
    let roles = vec![
        jp("Pharmacist"),
        jp("Medical Doctor"),
        HcRole {
            scheme: JP_HCROLE_SCHEME,
            code: Some("42".into()),
            text: Some("Director of Clinic".into()),
        },
    ];
    let der = hcrole::encode_extension_value(&roles).unwrap();
    let mut back = hcrole::decode_extension_value(&der).unwrap();
    let mut want = roles.clone();
    let key = |r: &HcRole| (r.text.clone(), r.code.clone());
    back.sort_by_key(key);
    want.sort_by_key(key);
    assert_eq!(back, want);
}

#[test]
fn bounds_the_number_of_roles() {
    let many: Vec<HcRole> = (0..=MAX_ROLES).map(|i| jp(&format!("Role {i}"))).collect();
    assert!(hcrole::encode_extension_value(&many).is_err());
    assert!(hcrole::encode_extension_value(&many[..MAX_ROLES]).is_ok());
}

#[test]
fn truncated_input_is_an_error_not_a_panic() {
    let full = unhex(MEDICAL_DOCTOR_SDA);
    for len in 0..full.len() {
        assert!(
            hcrole::decode_extension_value(&full[..len]).is_err(),
            "prefix {len}"
        );
    }
}

#[test]
fn garbage_input_never_panics() {
    // Deterministic xorshift so failures reproduce.
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let base = unhex(MEDICAL_DOCTOR_SDA);
    for _ in 0..20_000 {
        let mut buf = base.clone();
        // Flip a few bytes of the real value, or use pure random bytes.
        if next() % 4 == 0 {
            let len = (next() % 80) as usize;
            buf = (0..len).map(|_| next() as u8).collect();
        } else {
            for _ in 0..(1 + next() % 3) {
                let i = (next() as usize) % buf.len();
                buf[i] = next() as u8;
            }
        }
        let _ = hcrole::decode_extension_value(&buf);
    }
}
