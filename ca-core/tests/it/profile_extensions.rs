//! `Profile::extensions`: content, criticality and order per profile. The rhp-sign case is checked
//! byte for byte against the real MEDIS signing certificate (iso17090.md §4.4).

use ca_core::hcrole::{self, HcRole};
use ca_core::oid;
use ca_core::profile::{CaUrls, ExtensionContext, ProfileError, ProfileSet};
use const_oid::ObjectIdentifier;
use der::{Decode, Encode};
use x509_cert::Certificate;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, CertificatePolicies, ExtendedKeyUsage, KeyUsage};

/// The real MEDIS end-entity signature policy (iso17090.md §3.1); its parent is used as the arc, so
/// rhp-sign (suffix 1) reproduces it.
fn jp_sign_arc() -> ObjectIdentifier {
    ObjectIdentifier::new_unwrap("1.2.392.100495.1.5.1.1.0.1")
        .parent()
        .unwrap()
}

fn medis_doctor() -> Certificate {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../test-vectors/jp-hpki/medis-test-ee-medical-doctor.der"
    );
    Certificate::from_der(&std::fs::read(path).unwrap()).unwrap()
}

fn medis_extension(cert: &Certificate, id: ObjectIdentifier) -> Extension {
    cert.tbs_certificate()
        .extensions()
        .unwrap()
        .iter()
        .find(|e| e.extn_id == id)
        .unwrap()
        .clone()
}

/// URLs of the MEDIS signing CA as seen in the certificate.
fn medis_urls() -> CaUrls {
    CaUrls {
        cps: Some("http://www.medis.or.jp/8_hpki/".into()),
        crl: Some("http://cert.medis.or.jp/sign/crl-sign2.crl".into()),
        ca_issuers: None,
        ocsp: None,
    }
}

/// An end entity's context under `arc`: fixed key identifiers, no SANs, hcRoles or issued
/// policies; each test sets what it checks.
fn context<'a>(arc: &'a ObjectIdentifier, urls: &'a CaUrls) -> ExtensionContext<'a> {
    ExtensionContext {
        subject_key_id: &[1; 20],
        authority_key_id: Some(&[2; 20]),
        policy_arc: arc,
        issued_policies: &[],
        urls,
        sans: &[],
        hc_roles: &[],
    }
}

fn ids(exts: &[Extension]) -> Vec<ObjectIdentifier> {
    exts.iter().map(|e| e.extn_id).collect()
}

fn find(exts: &[Extension], id: ObjectIdentifier) -> Option<&Extension> {
    exts.iter().find(|e| e.extn_id == id)
}

fn doctor() -> Vec<HcRole> {
    vec![HcRole {
        scheme: oid::JP_HCROLE_SCHEME,
        code: None,
        text: Some("Medical Doctor".into()),
    }]
}

#[test]
fn rhp_sign_matches_the_medis_certificate() {
    let set = ProfileSet::embedded().unwrap();
    let cert = medis_doctor();
    let roles = doctor();
    let urls = medis_urls();
    let arc = jp_sign_arc();
    let ctx = ExtensionContext {
        hc_roles: &roles,
        ..context(&arc, &urls)
    };
    let exts = set.get("rhp-sign").unwrap().extensions(&ctx).unwrap();
    assert_eq!(
        ids(&exts),
        vec![
            oid::ID_CE_AUTHORITY_KEY_IDENTIFIER,
            oid::ID_CE_SUBJECT_KEY_IDENTIFIER,
            oid::ID_CE_KEY_USAGE,
            oid::ID_CE_CERTIFICATE_POLICIES,
            oid::ID_CE_CRL_DISTRIBUTION_POINTS,
            oid::ID_CE_SUBJECT_DIRECTORY_ATTRIBUTES,
        ],
        "no EKU, no basicConstraints, no AIA without URLs"
    );

    let ku = find(&exts, oid::ID_CE_KEY_USAGE).unwrap();
    assert!(ku.critical);
    let bits = KeyUsage::from_der(ku.extn_value.as_bytes()).unwrap();
    assert!(bits.non_repudiation());
    assert_eq!(
        bits,
        KeyUsage(x509_cert::ext::pkix::KeyUsages::NonRepudiation.into()),
        "exactly nonRepudiation"
    );

    let cp = find(&exts, oid::ID_CE_CERTIFICATE_POLICIES).unwrap();
    assert!(cp.critical);
    let policies = CertificatePolicies::from_der(cp.extn_value.as_bytes()).unwrap();
    assert_eq!(policies.0[0].policy_identifier, arc.push_arc(1).unwrap());

    let sda = find(&exts, oid::ID_CE_SUBJECT_DIRECTORY_ATTRIBUTES).unwrap();
    assert!(!sda.critical, "RFC 5280 §4.2.1.8");
    assert_eq!(
        hcrole::decode_extension_value(sda.extn_value.as_bytes()).unwrap(),
        roles
    );

    // Byte for byte against the real certificate, criticality included.
    for id in [
        oid::ID_CE_KEY_USAGE,
        oid::ID_CE_CERTIFICATE_POLICIES,
        oid::ID_CE_CRL_DISTRIBUTION_POINTS,
        oid::ID_CE_SUBJECT_DIRECTORY_ATTRIBUTES,
    ] {
        assert_eq!(
            find(&exts, id).unwrap(),
            &medis_extension(&cert, id),
            "{id}"
        );
    }
}

#[test]
fn authority_key_identifier_only_when_given() {
    let set = ProfileSet::embedded().unwrap();
    let urls = CaUrls::default();
    let arc = jp_sign_arc();
    let ctx = ExtensionContext {
        authority_key_id: None,
        ..context(&arc, &urls)
    };
    let exts = set.get("root-ca").unwrap().extensions(&ctx).unwrap();
    assert_eq!(
        ids(&exts),
        vec![
            oid::ID_CE_SUBJECT_KEY_IDENTIFIER,
            oid::ID_CE_KEY_USAGE,
            oid::ID_CE_BASIC_CONSTRAINTS
        ]
    );
    let with = ExtensionContext {
        authority_key_id: Some(&[9; 20]),
        ..ctx
    };
    let exts = set.get("tsa").unwrap().extensions(&with).unwrap();
    // keyIdentifier only: SEQUENCE { [0] 20 bytes }.
    let aki = find(&exts, oid::ID_CE_AUTHORITY_KEY_IDENTIFIER).unwrap();
    assert_eq!(
        aki.extn_value.as_bytes(),
        [&[0x30, 22, 0x80, 20][..], &[9; 20]].concat()
    );
}

#[test]
fn tsa_has_critical_time_stamping_eku_only() {
    let set = ProfileSet::embedded().unwrap();
    let urls = medis_urls();
    let arc = jp_sign_arc();
    let ctx = context(&arc, &urls);
    let exts = set.get("tsa").unwrap().extensions(&ctx).unwrap();
    let eku = find(&exts, oid::ID_CE_EXT_KEY_USAGE).unwrap();
    assert!(eku.critical);
    assert_eq!(
        ExtendedKeyUsage::from_der(eku.extn_value.as_bytes())
            .unwrap()
            .0,
        vec![oid::ID_KP_TIME_STAMPING]
    );
    let ku = KeyUsage::from_der(
        find(&exts, oid::ID_CE_KEY_USAGE)
            .unwrap()
            .extn_value
            .as_bytes(),
    )
    .unwrap();
    assert!(ku.digital_signature() && !ku.non_repudiation());
}

#[test]
fn sign_ca_carries_the_policies_it_issues() {
    let set = ProfileSet::embedded().unwrap();
    let arc = jp_sign_arc();
    let issued = set.policies_issued_by("sign", &arc);
    let expected: Vec<ObjectIdentifier> = ["rhp-sign", "sponsored-sign", "org-seal", "tsa"]
        .iter()
        .map(|id| set.get(id).unwrap().policy_oid(&arc).unwrap())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(issued, expected);
    // The root's view includes everything below both issuing CAs.
    let below_root = set.policies_issued_by("root", &arc);
    assert!(issued.iter().all(|p| below_root.contains(p)));
    assert!(below_root.contains(&set.get("rhp-auth").unwrap().policy_oid(&arc).unwrap()));

    let urls = CaUrls {
        cps: Some("https://pki.example/cps".into()),
        ..CaUrls::default()
    };
    let ctx = ExtensionContext {
        issued_policies: &issued,
        ..context(&arc, &urls)
    };
    let exts = set.get("sign-ca").unwrap().extensions(&ctx).unwrap();
    let cp = find(&exts, oid::ID_CE_CERTIFICATE_POLICIES).unwrap();
    assert!(cp.critical);
    let got: Vec<ObjectIdentifier> = CertificatePolicies::from_der(cp.extn_value.as_bytes())
        .unwrap()
        .0
        .iter()
        .map(|p| p.policy_identifier)
        .collect();
    assert_eq!(got, issued);
    let bc = find(&exts, oid::ID_CE_BASIC_CONSTRAINTS).unwrap();
    assert!(bc.critical);
    assert_eq!(
        BasicConstraints::from_der(bc.extn_value.as_bytes()).unwrap(),
        BasicConstraints {
            ca: true,
            path_len_constraint: Some(0)
        }
    );
    // The auth CA's policy is not critical (mTLS stacks reject unprocessed critical extensions).
    let auth = set.get("auth-ca").unwrap().extensions(&ctx).unwrap();
    assert!(
        !find(&auth, oid::ID_CE_CERTIFICATE_POLICIES)
            .unwrap()
            .critical
    );
}

#[test]
fn ocsp_responder_gets_nocheck_and_no_revocation_pointers() {
    let set = ProfileSet::embedded().unwrap();
    let urls = CaUrls {
        cps: Some("https://pki.example/cps".into()),
        crl: Some("http://pki.example/sign.crl".into()),
        ca_issuers: Some("http://pki.example/sign.cer".into()),
        ocsp: Some("http://ocsp.example".into()),
    };
    let arc = jp_sign_arc();
    let ctx = context(&arc, &urls);
    let exts = set.get("ocsp-sign").unwrap().extensions(&ctx).unwrap();
    let nocheck = find(&exts, oid::ID_PKIX_OCSP_NOCHECK).unwrap();
    assert!(!nocheck.critical);
    assert_eq!(
        nocheck.extn_value.as_bytes(),
        der::asn1::Null.to_der().unwrap()
    );
    assert!(find(&exts, oid::ID_CE_CRL_DISTRIBUTION_POINTS).is_none());
    assert!(find(&exts, oid::ID_PE_AUTHORITY_INFO_ACCESS).is_none());
    let eku = ExtendedKeyUsage::from_der(
        find(&exts, oid::ID_CE_EXT_KEY_USAGE)
            .unwrap()
            .extn_value
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(eku.0, vec![oid::ID_KP_OCSP_SIGNING]);

    // An end entity with every URL: AIA has OCSP then caIssuers.
    let exts = set.get("rhp-auth").unwrap().extensions(&ctx).unwrap();
    let aia = find(&exts, oid::ID_PE_AUTHORITY_INFO_ACCESS).unwrap();
    let aia = x509_cert::ext::pkix::AuthorityInfoAccessSyntax::from_der(aia.extn_value.as_bytes())
        .unwrap();
    let methods: Vec<ObjectIdentifier> = aia.0.iter().map(|a| a.access_method).collect();
    assert_eq!(methods, vec![oid::ID_AD_OCSP, oid::ID_AD_CA_ISSUERS]);
    assert!(find(&exts, oid::ID_PKIX_OCSP_NOCHECK).is_none());
}

#[test]
fn sans_and_roles_only_where_the_profile_allows() {
    let set = ProfileSet::embedded().unwrap();
    let urls = CaUrls::default();
    let arc = jp_sign_arc();
    let sans = vec![GeneralName::DnsName(
        der::asn1::Ia5String::new("ehr.example").unwrap(),
    )];
    let ctx = ExtensionContext {
        sans: &sans,
        ..context(&arc, &urls)
    };
    let exts = set.get("org-tls").unwrap().extensions(&ctx).unwrap();
    let san = find(&exts, oid::ID_CE_SUBJECT_ALT_NAME).unwrap();
    assert!(!san.critical);
    assert!(
        matches!(set.get("org-seal").unwrap().extensions(&ctx), Err(ProfileError::Violation(v)) if v.field == "subject_alt_name")
    );
    let roles = doctor();
    let with_roles = ExtensionContext {
        sans: &[],
        hc_roles: &roles,
        ..ctx
    };
    assert!(
        matches!(set.get("org-tls").unwrap().extensions(&with_roles), Err(ProfileError::Violation(v)) if v.field == "hc_role")
    );
}
