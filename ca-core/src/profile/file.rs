//! One policy file: its TOML schema, and the rules a profile or role vocabulary file must meet,
//! one validator per rule (as RustCrypto x509-cert's `builder/profile/cabf.rs` does). Each names
//! the key it refuses and cites its clause.

use super::{
    Authenticates, BasicConstraintsRule, HcRoleRule, IssuerRef, OcspResponseRule, PolicyRule,
    Profile, ProfileError, RoleVocabulary, SubjectType,
};
use crate::engine::key::KeyAlgorithm;
use crate::engine::oid;
use const_oid::ObjectIdentifier;
use const_oid::db::DB;
use der::flagset::FlagSet;
use serde::Deserialize;
use std::collections::BTreeSet;
use x509_cert::ext::pkix::KeyUsages;

pub(super) fn invalid(file: &str, key: &str, rule: impl Into<String>) -> ProfileError {
    ProfileError::Invalid {
        file: file.to_owned(),
        key: key.to_owned(),
        rule: rule.into(),
    }
}

/// A TOML or serde error as `Invalid`, naming the offending key as `table.key` where possible.
fn parse_error(file: &str, text: &str, err: &toml::de::Error) -> ProfileError {
    let message = err.message().trim();
    // serde quotes the field in "missing field `x`"; its span is the enclosing table, not a key.
    let quoted = message.split('`').nth(1).filter(|k| !k.is_empty());
    let key = if message.starts_with("missing field") {
        quoted.map(str::to_owned)
    } else {
        err.span()
            .and_then(|span| key_at(text, span.start))
            .or_else(|| quoted.map(str::to_owned))
    };
    invalid(file, key.as_deref().unwrap_or("(document)"), message)
}

/// The dotted key of the `key = value` line containing byte `offset` (table headers included).
fn key_at(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset)?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text.get(line_start..)?.lines().next()?;
    let key = line.split('=').next()?.trim();
    if key.is_empty() || key.starts_with('[') || key.starts_with('#') {
        return None;
    }
    let table = before[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && !l.starts_with("[["))
        .and_then(|l| l.get(1..l.find(']')?))
        .map(str::trim);
    Some(match table {
        Some(t) => format!("{t}.{key}"),
        None => key.to_owned(),
    })
}

// --- policies/<id>.toml -----------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    id: String,
    title: String,
    description: String,
    subject_type: SubjectType,
    issuer: String,
    ca: Option<String>,
    max_validity_days: u32,
    hc_role: HcRoleRule,
    authenticates: Option<Authenticates>,
    crl_distribution_point: bool,
    authority_info_access: bool,
    ocsp_nocheck: bool,
    subject: SubjectFile,
    key_usage: KeyUsageFile,
    extended_key_usage: Option<EkuFile>,
    basic_constraints: Option<BasicConstraintsFile>,
    certificate_policy: Option<PolicyFile>,
    keys: KeysFile,
    ocsp_response: Option<OcspResponseFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubjectFile {
    required: Vec<String>,
    #[serde(default)]
    optional: Vec<String>,
    alt_names: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyUsageFile {
    critical: bool,
    bits: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EkuFile {
    critical: bool,
    purposes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BasicConstraintsFile {
    ca: bool,
    path_len: Option<u8>,
    critical: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    policy_suffix: Option<u32>,
    critical: bool,
    cps_qualifier: bool,
}

/// `[ocsp_response]`: what the responses a responder of this profile signs carry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OcspResponseFile {
    #[serde(default)]
    cert_hash: bool,
    archive_cutoff_days: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysFile {
    allowed: Vec<String>,
    rsa_min_bits: Option<u32>,
}

/// keyUsage bit names as RFC 5280 §4.2.1.3 spells them.
const KEY_USAGE_BITS: &[(&str, KeyUsages)] = &[
    ("digitalSignature", KeyUsages::DigitalSignature),
    ("nonRepudiation", KeyUsages::NonRepudiation),
    ("keyEncipherment", KeyUsages::KeyEncipherment),
    ("dataEncipherment", KeyUsages::DataEncipherment),
    ("keyAgreement", KeyUsages::KeyAgreement),
    ("keyCertSign", KeyUsages::KeyCertSign),
    ("cRLSign", KeyUsages::CRLSign),
    ("encipherOnly", KeyUsages::EncipherOnly),
    ("decipherOnly", KeyUsages::DecipherOnly),
];

/// EKU purpose names (RFC 5280 §4.2.1.12 `id-kp-*` without the prefix; RFC 9336 documentSigning).
const EKU_PURPOSES: &[(&str, ObjectIdentifier)] = &[
    ("serverAuth", oid::ID_KP_SERVER_AUTH),
    ("clientAuth", oid::ID_KP_CLIENT_AUTH),
    ("emailProtection", oid::ID_KP_EMAIL_PROTECTION),
    ("timeStamping", oid::ID_KP_TIME_STAMPING),
    ("OCSPSigning", oid::ID_KP_OCSP_SIGNING),
    ("documentSigning", oid::ID_KP_DOCUMENT_SIGNING),
];

const ALGORITHMS: &[(&str, KeyAlgorithm)] = &[
    ("p256", KeyAlgorithm::P256),
    ("p384", KeyAlgorithm::P384),
    ("ed25519", KeyAlgorithm::Ed25519),
    ("rsa", KeyAlgorithm::Rsa),
];

/// Floor for any RSA key (NIST SP 800-57 Pt 1: 112-bit security).
const RSA_FLOOR_BITS: u32 = 2048;

pub(super) fn algorithm_name(a: KeyAlgorithm) -> &'static str {
    ALGORITHMS
        .iter()
        .find(|(_, x)| *x == a)
        .map_or("?", |(n, _)| n)
}

/// Bits each key family may carry in an end-entity or CA certificate.
fn bits_allowed_for(a: KeyAlgorithm) -> FlagSet<KeyUsages> {
    use KeyUsages::*;
    let signing = DigitalSignature | NonRepudiation | KeyCertSign | CRLSign;
    match a {
        // RFC 3279 §2.3.1: no keyAgreement for RSA.
        KeyAlgorithm::Rsa => signing | KeyEncipherment | DataEncipherment,
        // RFC 5480 §3: keyEncipherment / dataEncipherment MUST NOT be asserted for id-ecPublicKey.
        KeyAlgorithm::P256 | KeyAlgorithm::P384 | KeyAlgorithm::P521 => {
            signing | KeyAgreement | EncipherOnly | DecipherOnly
        }
        // RFC 8410 §5: Ed25519 keys are signature keys only; RFC 3279 §2.3.2: so are DSA keys.
        KeyAlgorithm::Ed25519 | KeyAlgorithm::Dsa => signing,
    }
}

/// X.520 attribute types (`id-at`, 2.5.4): the only names a profile may use for the subject.
fn x520_arc() -> Option<ObjectIdentifier> {
    const_oid::db::rfc4519::CN.parent()
}

/// Subject attribute names resolve to X.520 attribute types (2.5.4.*), each once.
fn resolve_attributes(key: &'static str, names: &[String]) -> Rule<Attributes> {
    let arc = x520_arc();
    let mut out: Attributes = Vec::new();
    for name in names {
        let Some(oid) = DB.by_name(name).copied() else {
            return refuse(key, format!("unknown attribute name {name:?}"));
        };
        if oid.parent() != arc {
            return refuse(
                key,
                format!("{name:?} ({oid}) is not an X.520 attribute type (2.5.4.*)"),
            );
        }
        if out.iter().any(|(_, o)| *o == oid) {
            return refuse(key, format!("attribute {name:?} is listed twice"));
        }
        out.push((name.clone(), oid));
    }
    Ok(out)
}

/// A rule a file breaks: the key it names and the rule, in the file's terms.
struct Refusal {
    key: &'static str,
    rule: String,
}

type Rule<T = ()> = Result<T, Refusal>;

fn refuse<T>(key: &'static str, rule: impl Into<String>) -> Rule<T> {
    Err(Refusal {
        key,
        rule: rule.into(),
    })
}

/// Loads `policies/<stem>.toml`: the schema, then each rule in turn; the first broken one is the
/// error, naming `file`, the key and the rule.
pub(super) fn load_profile(file: &str, stem: &str, text: &str) -> Result<Profile, ProfileError> {
    let f: ProfileFile = toml::from_str(text).map_err(|e| parse_error(file, text, &e))?;
    profile(f, stem).map_err(|r| invalid(file, r.key, r.rule))
}

fn profile(f: ProfileFile, stem: &str) -> Rule<Profile> {
    id_is_the_file_stem(&f.id, stem)?;
    title_is_one_line(&f.title)?;
    description_is_given(&f.description)?;
    validity_is_at_least_a_day(f.max_validity_days)?;
    let issuer = issuer(&f.issuer)?;
    let is_ca = f.subject_type == SubjectType::Ca;
    ca_profiles_create_a_ca(f.ca.as_deref(), is_ca)?;
    only_a_ca_is_self_signed(&issuer, is_ca)?;

    let (subject_required, subject_optional) = subject(&f.subject)?;

    let key_usage = key_usage_bits(&f.key_usage.bits)?;
    key_usage_is_not_empty(key_usage)?;
    cert_and_crl_signing_are_for_cas(key_usage, is_ca)?;
    non_repudiation_keys_do_not_encipher(key_usage)?;
    a_persons_signing_key_is_non_repudiation_only(key_usage, f.subject_type)?;
    encipher_or_decipher_only_need_key_agreement(key_usage)?;
    a_cas_key_usage_is_critical(f.key_usage.critical, is_ca)?;

    let eku = f
        .extended_key_usage
        .as_ref()
        .map(extended_key_usage)
        .transpose()?;
    ocsp_nocheck_is_for_responders(f.ocsp_nocheck, eku.as_ref())?;
    let ocsp_response = f
        .ocsp_response
        .as_ref()
        .map(|o| ocsp_response(o, f.ocsp_nocheck, is_ca, eku.as_ref()))
        .transpose()?;
    authenticating_profiles_are_tls_clients(f.authenticates, is_ca, eku.as_ref(), key_usage)?;

    let basic_constraints = f.basic_constraints.as_ref().map(|b| BasicConstraintsRule {
        ca: b.ca,
        path_len: b.path_len,
        critical: b.critical,
    });
    basic_constraints_match_the_subject(basic_constraints, is_ca)?;
    cas_carry_no_hc_role(f.hc_role, is_ca)?;
    let certificate_policy = f
        .certificate_policy
        .as_ref()
        .map(|cp| certificate_policy(cp, is_ca, &issuer))
        .transpose()?;

    let algorithms = key_algorithms(&f.keys.allowed, key_usage)?;
    rsa_minimum_is_set_for_rsa(&algorithms, f.keys.rsa_min_bits)?;

    Ok(Profile {
        id: f.id,
        title: f.title,
        description: f.description,
        subject_type: f.subject_type,
        issuer,
        ca_id: f.ca,
        max_validity_days: f.max_validity_days,
        hc_role: f.hc_role,
        authenticates: f.authenticates,
        subject_required,
        subject_optional,
        alt_names: f.subject.alt_names,
        key_usage,
        key_usage_critical: f.key_usage.critical,
        eku,
        basic_constraints,
        certificate_policy,
        crl_distribution_point: f.crl_distribution_point,
        authority_info_access: f.authority_info_access,
        ocsp_nocheck: f.ocsp_nocheck,
        ocsp_response,
        algorithms,
        rsa_min_bits: f.keys.rsa_min_bits,
    })
}

/// A profile's id is its file stem, so a file name finds its profile.
fn id_is_the_file_stem(id: &str, stem: &str) -> Rule {
    if id != stem {
        return refuse(
            "id",
            format!("id {id:?} differs from the file stem {stem:?}"),
        );
    }
    Ok(())
}

/// The title is the profile's line in `policies/README.md`.
fn title_is_one_line(title: &str) -> Rule {
    if title.trim().is_empty() || title.contains('\n') {
        return refuse("title", "must be one non-empty line");
    }
    Ok(())
}

fn description_is_given(description: &str) -> Rule {
    if description.trim().is_empty() {
        return refuse("description", "must not be empty");
    }
    Ok(())
}

fn validity_is_at_least_a_day(days: u32) -> Rule {
    if days == 0 {
        return refuse("max_validity_days", "must be at least 1");
    }
    Ok(())
}

/// `issuer`: "self" or the id of a CA (that one exists is a rule across files).
fn issuer(issuer: &str) -> Rule<IssuerRef> {
    Ok(match issuer {
        "" => return refuse("issuer", "must be \"self\" or a CA id"),
        "self" => IssuerRef::SelfSigned,
        ca => IssuerRef::Ca(ca.to_owned()),
    })
}

/// `ca` (the CA id a profile creates) is set exactly on `subject_type = "ca"` profiles.
fn ca_profiles_create_a_ca(ca: Option<&str>, is_ca: bool) -> Rule {
    match (ca, is_ca) {
        (None, true) => refuse("ca", "a CA profile must name the CA id it creates"),
        (Some(_), false) => refuse("ca", "only subject_type = \"ca\" profiles create a CA"),
        (Some(ca), true) if ca.is_empty() || ca == "self" => {
            refuse("ca", format!("{ca:?} is not a usable CA id"))
        }
        _ => Ok(()),
    }
}

fn only_a_ca_is_self_signed(issuer: &IssuerRef, is_ca: bool) -> Rule {
    if *issuer == IssuerRef::SelfSigned && !is_ca {
        return refuse("issuer", "only a CA profile can be self-signed");
    }
    Ok(())
}

type Attributes = Vec<(String, ObjectIdentifier)>;

/// The subject's required and optional X.520 attributes: at least one required, none both.
fn subject(s: &SubjectFile) -> Rule<(Attributes, Attributes)> {
    let required = resolve_attributes("subject.required", &s.required)?;
    let optional = resolve_attributes("subject.optional", &s.optional)?;
    if required.is_empty() {
        return refuse("subject.required", "must name at least one attribute");
    }
    if let Some((name, _)) = optional
        .iter()
        .find(|(_, o)| required.iter().any(|(_, r)| r == o))
    {
        return refuse("subject.optional", format!("{name:?} is also required"));
    }
    Ok((required, optional))
}

/// The keyUsage bits by their RFC 5280 §4.2.1.3 names, each once.
fn key_usage_bits(bits: &[String]) -> Rule<FlagSet<KeyUsages>> {
    let mut key_usage = FlagSet::<KeyUsages>::default();
    for bit in bits {
        let Some((_, flag)) = KEY_USAGE_BITS.iter().find(|(n, _)| n == bit) else {
            return refuse("key_usage.bits", format!("unknown key usage {bit:?}"));
        };
        if key_usage.contains(*flag) {
            return refuse("key_usage.bits", format!("{bit:?} is listed twice"));
        }
        key_usage |= *flag;
    }
    Ok(key_usage)
}

/// RFC 5280 §4.2.1.3: at least one bit.
fn key_usage_is_not_empty(key_usage: FlagSet<KeyUsages>) -> Rule {
    if key_usage.is_empty() {
        return refuse("key_usage.bits", "must not be empty (RFC 5280 §4.2.1.3)");
    }
    Ok(())
}

/// A CA signs certificates; keyCertSign and cRLSign are for CAs only.
fn cert_and_crl_signing_are_for_cas(key_usage: FlagSet<KeyUsages>, is_ca: bool) -> Rule {
    use KeyUsages::*;
    if is_ca && !key_usage.contains(KeyCertSign) {
        return refuse("key_usage.bits", "a CA profile needs keyCertSign");
    }
    if !is_ca && key_usage.contains(KeyCertSign) {
        return refuse("key_usage.bits", "keyCertSign is for CA profiles only");
    }
    if !is_ca && key_usage.contains(CRLSign) {
        return refuse("key_usage.bits", "cRLSign is for CA profiles only");
    }
    Ok(())
}

/// ISO 17090-1 §6.3 key separation: a nonRepudiation key does not encipher.
fn non_repudiation_keys_do_not_encipher(key_usage: FlagSet<KeyUsages>) -> Rule {
    use KeyUsages::*;
    let encipherment =
        KeyEncipherment | DataEncipherment | KeyAgreement | EncipherOnly | DecipherOnly;
    if key_usage.contains(NonRepudiation) && !(key_usage & encipherment).is_empty() {
        return refuse(
            "key_usage.bits",
            "nonRepudiation must not share a key with encipherment (ISO 17090-1 §6.3 key separation)",
        );
    }
    Ok(())
}

/// iso17090.md §4.2: a person's signing key has nonRepudiation only.
fn a_persons_signing_key_is_non_repudiation_only(
    key_usage: FlagSet<KeyUsages>,
    subject_type: SubjectType,
) -> Rule {
    use KeyUsages::*;
    if subject_type == SubjectType::Person
        && key_usage.contains(NonRepudiation)
        && key_usage != NonRepudiation
    {
        return refuse(
            "key_usage.bits",
            "a person's signing profile has nonRepudiation only (iso17090.md §4.2)",
        );
    }
    Ok(())
}

/// RFC 5280 §4.2.1.3: encipherOnly and decipherOnly qualify keyAgreement.
fn encipher_or_decipher_only_need_key_agreement(key_usage: FlagSet<KeyUsages>) -> Rule {
    use KeyUsages::*;
    if !(key_usage & (EncipherOnly | DecipherOnly)).is_empty() && !key_usage.contains(KeyAgreement)
    {
        return refuse(
            "key_usage.bits",
            "encipherOnly/decipherOnly need keyAgreement (RFC 5280 §4.2.1.3)",
        );
    }
    Ok(())
}

/// RFC 5280 §4.2.1.3 says SHOULD; required here.
fn a_cas_key_usage_is_critical(critical: bool, is_ca: bool) -> Rule {
    if is_ca && !critical {
        return refuse(
            "key_usage.critical",
            "a CA's keyUsage must be critical (RFC 5280 §4.2.1.3 SHOULD, required here)",
        );
    }
    Ok(())
}

/// The EKU purposes by name, each once, not empty; RFC 3161 §2.3: timeStamping alone and
/// critical.
fn extended_key_usage(e: &EkuFile) -> Rule<(Vec<ObjectIdentifier>, bool)> {
    if e.purposes.is_empty() {
        return refuse(
            "extended_key_usage.purposes",
            "must not be empty; omit the table for no EKU",
        );
    }
    let mut oids = Vec::new();
    for name in &e.purposes {
        let Some((_, o)) = EKU_PURPOSES.iter().find(|(n, _)| n == name) else {
            return refuse(
                "extended_key_usage.purposes",
                format!("unknown purpose {name:?}"),
            );
        };
        if oids.contains(o) {
            return refuse(
                "extended_key_usage.purposes",
                format!("{name:?} is listed twice"),
            );
        }
        oids.push(*o);
    }
    if oids.contains(&oid::ID_KP_TIME_STAMPING) && (oids.len() != 1 || !e.critical) {
        return refuse(
            "extended_key_usage",
            "timeStamping must be the only purpose and critical (RFC 3161 §2.3)",
        );
    }
    Ok((oids, e.critical))
}

/// RFC 6960 §4.2.2.2.1: id-pkix-ocsp-nocheck is for OCSP responders.
fn ocsp_nocheck_is_for_responders(
    ocsp_nocheck: bool,
    eku: Option<&(Vec<ObjectIdentifier>, bool)>,
) -> Rule {
    if ocsp_nocheck && !eku.is_some_and(|(p, _)| p.contains(&oid::ID_KP_OCSP_SIGNING)) {
        return refuse(
            "ocsp_nocheck",
            "only for OCSP responders (EKU OCSPSigning, RFC 6960 §4.2.2.2.1)",
        );
    }
    Ok(())
}

/// `[ocsp_response]` belongs to delegated responder profiles (EKU OCSPSigning and ocsp_nocheck,
/// not a CA); archiveCutoff (RFC 6960 §4.4.4) is a retention period of at least a day.
fn ocsp_response(
    o: &OcspResponseFile,
    ocsp_nocheck: bool,
    is_ca: bool,
    eku: Option<&(Vec<ObjectIdentifier>, bool)>,
) -> Rule<OcspResponseRule> {
    let signs_ocsp = eku.is_some_and(|(p, _)| p.contains(&oid::ID_KP_OCSP_SIGNING));
    if is_ca || !ocsp_nocheck || !signs_ocsp {
        return refuse(
            "ocsp_response",
            "only for delegated OCSP responder profiles (EKU OCSPSigning and ocsp_nocheck = true)",
        );
    }
    if o.archive_cutoff_days == Some(0) {
        return refuse("ocsp_response.archive_cutoff_days", "must be at least 1");
    }
    Ok(OcspResponseRule {
        cert_hash: o.cert_hash,
        archive_cutoff_days: o.archive_cutoff_days,
    })
}

/// A certificate that authenticates is a TLS client one, never a signing one.
fn authenticating_profiles_are_tls_clients(
    authenticates: Option<Authenticates>,
    is_ca: bool,
    eku: Option<&(Vec<ObjectIdentifier>, bool)>,
    key_usage: FlagSet<KeyUsages>,
) -> Rule {
    if authenticates.is_some() {
        let client = eku.is_some_and(|(p, _)| p.contains(&oid::ID_KP_CLIENT_AUTH));
        if is_ca || !client || key_usage.contains(KeyUsages::NonRepudiation) {
            return refuse(
                "authenticates",
                "only an end-entity profile with EKU clientAuth and without nonRepudiation authenticates",
            );
        }
    }
    Ok(())
}

/// RFC 5280 §4.2.1.9: a CA has cA = true, critical; an end entity does not, nor a
/// pathLenConstraint.
fn basic_constraints_match_the_subject(bc: Option<BasicConstraintsRule>, is_ca: bool) -> Rule {
    match (is_ca, bc) {
        (true, Some(bc)) if bc.ca && bc.critical => Ok(()),
        (true, _) => refuse(
            "basic_constraints",
            "a CA profile needs cA = true, critical (RFC 5280 §4.2.1.9)",
        ),
        (false, Some(bc)) if bc.ca => refuse(
            "basic_constraints.ca",
            "an end entity must not have cA = true",
        ),
        (false, Some(bc)) if bc.path_len.is_some() => refuse(
            "basic_constraints.path_len",
            "pathLenConstraint needs cA = true (RFC 5280 §4.2.1.9)",
        ),
        _ => Ok(()),
    }
}

/// iso17090.md §4.3: CA certificates carry no hcRole.
fn cas_carry_no_hc_role(hc_role: HcRoleRule, is_ca: bool) -> Rule {
    if is_ca && hc_role != HcRoleRule::Absent {
        return refuse(
            "hc_role",
            "CA certificates carry no hcRole (iso17090.md §4.3)",
        );
    }
    Ok(())
}

/// An end entity's policy is a suffix under the deploying CA's arc; a subordinate CA carries the
/// policies of what it issues; a self-signed root, a trust anchor, asserts none.
fn certificate_policy(cp: &PolicyFile, is_ca: bool, issuer: &IssuerRef) -> Rule<PolicyRule> {
    match (is_ca, cp.policy_suffix) {
        (true, Some(_)) => {
            return refuse(
                "certificate_policy.policy_suffix",
                "a CA profile carries the policies of the profiles its CA issues, not its own",
            );
        }
        (false, None) => {
            return refuse(
                "certificate_policy.policy_suffix",
                "an end-entity policy needs a suffix",
            );
        }
        _ => {}
    }
    if is_ca && *issuer == IssuerRef::SelfSigned {
        return refuse(
            "certificate_policy",
            "a self-signed root asserts no policy (it is a trust anchor)",
        );
    }
    Ok(PolicyRule {
        suffix: cp.policy_suffix,
        critical: cp.critical,
        cps_qualifier: cp.cps_qualifier,
    })
}

/// The key algorithms by name, each once, at least one, each able to carry every keyUsage bit
/// of the profile (RFC 3279 §2.3, RFC 5480 §3, RFC 8410 §5).
fn key_algorithms(allowed: &[String], key_usage: FlagSet<KeyUsages>) -> Rule<Vec<KeyAlgorithm>> {
    let mut algorithms = Vec::new();
    for name in allowed {
        let Some((_, a)) = ALGORITHMS.iter().find(|(n, _)| n == name) else {
            return refuse("keys.allowed", format!("unknown key algorithm {name:?}"));
        };
        if algorithms.contains(a) {
            return refuse("keys.allowed", format!("{name:?} is listed twice"));
        }
        let stray = key_usage - bits_allowed_for(*a);
        if !stray.is_empty() {
            let names: Vec<&str> = KEY_USAGE_BITS
                .iter()
                .filter(|(_, b)| stray.contains(*b))
                .map(|(n, _)| *n)
                .collect();
            return refuse(
                "keys.allowed",
                format!("{name} keys cannot carry key usage {}", names.join(", ")),
            );
        }
        algorithms.push(*a);
    }
    if algorithms.is_empty() {
        return refuse("keys.allowed", "must name at least one algorithm");
    }
    Ok(algorithms)
}

/// `rsa_min_bits` exactly when RSA is allowed, at least [`RSA_FLOOR_BITS`].
fn rsa_minimum_is_set_for_rsa(algorithms: &[KeyAlgorithm], rsa_min_bits: Option<u32>) -> Rule {
    match (algorithms.contains(&KeyAlgorithm::Rsa), rsa_min_bits) {
        (true, None) => refuse("keys.rsa_min_bits", "required when rsa is allowed"),
        (false, Some(_)) => refuse("keys.rsa_min_bits", "set but rsa is not allowed"),
        (true, Some(bits)) if bits < RSA_FLOOR_BITS => refuse(
            "keys.rsa_min_bits",
            format!("{bits} is below the floor {RSA_FLOOR_BITS}"),
        ),
        _ => Ok(()),
    }
}

// --- policies/roles/<id>.toml -------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VocabularyFile {
    title: String,
    scheme: String,
    #[serde(default)]
    free_text: Vec<String>,
    #[serde(default)]
    codes: Vec<String>,
}

pub(super) fn load_vocabulary(
    file: &str,
    stem: &str,
    text: &str,
) -> Result<RoleVocabulary, ProfileError> {
    let f: VocabularyFile = toml::from_str(text).map_err(|e| parse_error(file, text, &e))?;
    let scheme = ObjectIdentifier::new(&f.scheme)
        .map_err(|e| invalid(file, "scheme", format!("not an OID: {e}")))?;
    if f.title.trim().is_empty() || f.title.contains('\n') {
        return Err(invalid(file, "title", "must be one non-empty line"));
    }
    if f.free_text.is_empty() && f.codes.is_empty() {
        return Err(invalid(
            file,
            "free_text",
            "a vocabulary needs free_text or codes values",
        ));
    }
    let collect = |key: &str, values: Vec<String>| {
        let mut set = BTreeSet::new();
        for v in values {
            if v.is_empty() {
                return Err(invalid(file, key, "empty value"));
            }
            if !set.insert(v.clone()) {
                return Err(invalid(file, key, format!("{v:?} is listed twice")));
            }
        }
        Ok(set)
    };
    Ok(RoleVocabulary {
        id: stem.to_owned(),
        title: f.title,
        scheme,
        free_text: collect("free_text", f.free_text)?,
        codes: collect("codes", f.codes)?,
    })
}
