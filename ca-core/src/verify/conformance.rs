//! Step 2 of path validation, per candidate path (issue 11): the RFC 5280 §4 certificate-profile
//! rules and §5 CRL-profile rules whose violation makes a certificate or a CRL unusable to a
//! relying party, and the trust anchor's own constraints (RFC 5937). One small validator per
//! rule, each citing its clause, in the spirit of x509-cert's `builder::profile::cabf`; certval
//! then does RFC 5280 §6.1 (step 3) with the settings this step returns.
//!
//! Rules that only bind a CA's issuing practice and change nothing a relying party computes
//! (criticality a CA "MUST" set on name constraints, serial number length, …) are left out: a
//! path is refused here only where the certificate cannot mean what it says.

use crate::engine::oid;
use certval::{
    CertificationPath, CertificationPathSettings, compare_names, enforce_trust_anchor_constraints,
};
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5280 as id;
use der::Decode;
use std::borrow::Cow;
use x509_cert::Version;
use x509_cert::anchor::TrustAnchorChoice;
use x509_cert::certificate::{Profile, TbsCertificateInner};
use x509_cert::crl::CertificateList;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, CrlNumber, ExtendedKeyUsage, KeyUsage,
    NameConstraints, SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::name::Name;

/// Where a certificate sits in a candidate path: some rules differ for the trust anchor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Position {
    Target,
    Intermediate,
    Anchor,
}

/// The critical extensions certval's RFC 5280 §6.1 processing reads in an intermediate or target
/// certificate (those it marks processed); any other critical one is unrecognised (§4.2).
const PROCESSED: [ObjectIdentifier; 9] = [
    id::ID_CE_BASIC_CONSTRAINTS,
    id::ID_CE_KEY_USAGE,
    id::ID_CE_EXT_KEY_USAGE,
    id::ID_CE_CERTIFICATE_POLICIES,
    id::ID_CE_POLICY_MAPPINGS,
    id::ID_CE_POLICY_CONSTRAINTS,
    id::ID_CE_INHIBIT_ANY_POLICY,
    id::ID_CE_NAME_CONSTRAINTS,
    id::ID_CE_SUBJECT_ALT_NAME,
];

/// The extensions of a trust-anchor certificate RFC 5937 §2 turns into path-validation inputs,
/// and keyUsage (read for keyCertSign): the ones a critical flag may sit on.
const ANCHOR_PROCESSED: [ObjectIdentifier; 6] = [
    id::ID_CE_BASIC_CONSTRAINTS,
    id::ID_CE_NAME_CONSTRAINTS,
    id::ID_CE_CERTIFICATE_POLICIES,
    id::ID_CE_POLICY_CONSTRAINTS,
    id::ID_CE_KEY_USAGE,
    id::ID_CE_INHIBIT_ANY_POLICY,
];

/// The extensions whose values the rules read, decoded once.
#[derive(Default)]
struct Decoded {
    basic_constraints: Option<BasicConstraints>,
    key_usage: Option<KeyUsage>,
    extended_key_usage: Option<ExtendedKeyUsage>,
    /// With its critical flag.
    subject_alt_name: Option<(bool, SubjectAltName)>,
    subject_key_identifier: bool,
    authority_key_identifier: Option<AuthorityKeyIdentifier>,
    name_constraints: Option<NameConstraints>,
}

/// A certificate as the rules read it.
struct Cert<'a> {
    position: Position,
    version: Version,
    subject: &'a Name,
    issuer: &'a Name,
    extensions: &'a [Extension],
    decoded: Decoded,
}

impl Cert<'_> {
    fn is_ca(&self) -> bool {
        self.decoded
            .basic_constraints
            .as_ref()
            .is_some_and(|b| b.ca)
    }
    fn key_cert_sign(&self) -> bool {
        self.decoded
            .key_usage
            .as_ref()
            .is_some_and(|k| k.key_cert_sign())
    }
}

type Rule = fn(&Cert<'_>) -> Result<(), String>;

/// Every certificate rule, in the order a violation is reported.
const RULES: [Rule; 12] = [
    extensions_only_in_v3,
    subject_alt_name_entries,
    empty_subject_needs_critical_subject_alt_name,
    ca_subject_not_empty,
    extended_key_usage_not_empty,
    key_usage_asserts_a_bit,
    ca_has_subject_key_identifier,
    authority_key_identifier,
    key_cert_sign_only_with_ca,
    path_len_only_with_ca_and_key_cert_sign,
    name_constraints_only_in_ca,
    no_unrecognised_critical_extension,
];

/// Checks one certificate against every rule; the reason names the rule and its clause.
fn certificate<P: Profile>(tbs: &TbsCertificateInner<P>, position: Position) -> Result<(), String> {
    let extensions = tbs.extensions().map_or(&[][..], Vec::as_slice);
    unique_extensions(extensions)?;
    let cert = Cert {
        position,
        version: tbs.version(),
        subject: tbs.subject(),
        issuer: tbs.issuer(),
        extensions,
        decoded: decode(extensions)?,
    };
    RULES.iter().try_for_each(|rule| rule(&cert))
}

/// RFC 5280 §4.2: "A certificate MUST NOT include more than one instance of a particular
/// extension."
fn unique_extensions(extensions: &[Extension]) -> Result<(), String> {
    for (i, e) in extensions.iter().enumerate() {
        if extensions[..i].iter().any(|f| f.extn_id == e.extn_id) {
            return Err(format!(
                "extension {} appears more than once (RFC 5280 §4.2)",
                oid::describe(&e.extn_id)
            ));
        }
    }
    Ok(())
}

/// The extensions the rules read must decode as their RFC 5280 §4.2.1 syntax: one that does not
/// would otherwise be read as absent. (certval refuses the other extensions of §6.1 that do not
/// decode, as an encoding error.)
fn decode(extensions: &[Extension]) -> Result<Decoded, String> {
    fn value<'a, T: Decode<'a>>(e: &'a Extension, clause: &str) -> Result<T, String> {
        T::from_der(e.extn_value.as_bytes()).map_err(|err| {
            format!(
                "extension {} does not decode (RFC 5280 {clause}): {err}",
                oid::describe(&e.extn_id)
            )
        })
    }
    let mut d = Decoded::default();
    for e in extensions {
        match e.extn_id {
            id::ID_CE_AUTHORITY_KEY_IDENTIFIER => {
                d.authority_key_identifier = Some(value(e, "§4.2.1.1")?);
            }
            id::ID_CE_SUBJECT_KEY_IDENTIFIER => {
                value::<SubjectKeyIdentifier>(e, "§4.2.1.2")?;
                d.subject_key_identifier = true;
            }
            id::ID_CE_KEY_USAGE => d.key_usage = Some(value(e, "§4.2.1.3")?),
            id::ID_CE_SUBJECT_ALT_NAME => {
                d.subject_alt_name = Some((e.critical, value(e, "§4.2.1.6")?));
            }
            id::ID_CE_BASIC_CONSTRAINTS => d.basic_constraints = Some(value(e, "§4.2.1.9")?),
            id::ID_CE_NAME_CONSTRAINTS => d.name_constraints = Some(value(e, "§4.2.1.10")?),
            id::ID_CE_EXT_KEY_USAGE => d.extended_key_usage = Some(value(e, "§4.2.1.12")?),
            _ => {}
        }
    }
    Ok(d)
}

/// RFC 5280 §4.1.2.9: extensions "MUST only appear if the version is 3".
fn extensions_only_in_v3(c: &Cert<'_>) -> Result<(), String> {
    if c.extensions.is_empty() || c.version == Version::V3 {
        return Ok(());
    }
    Err("has extensions but is not a version 3 certificate (RFC 5280 §4.1.2.9)".into())
}

/// RFC 5280 §4.2.1.6: a present subjectAltName holds at least one name, and no empty one ("an
/// rfc822Name … empty string … is not permitted"); an iPAddress is 4 (IPv4) or 16 (IPv6) octets.
fn subject_alt_name_entries(c: &Cert<'_>) -> Result<(), String> {
    let Some((_, san)) = &c.decoded.subject_alt_name else {
        return Ok(());
    };
    if san.0.is_empty() {
        return Err("subjectAltName is an empty sequence (RFC 5280 §4.2.1.6)".into());
    }
    for name in &san.0 {
        let empty = match name {
            GeneralName::Rfc822Name(s)
            | GeneralName::DnsName(s)
            | GeneralName::UniformResourceIdentifier(s) => s.is_empty(),
            GeneralName::DirectoryName(n) => n.is_empty(),
            GeneralName::IpAddress(ip) => ![4, 16].contains(&ip.as_bytes().len()),
            _ => false,
        };
        if empty {
            return Err(
                "subjectAltName holds an empty or malformed name (RFC 5280 §4.2.1.6)".into(),
            );
        }
    }
    Ok(())
}

/// RFC 5280 §4.1.2.6, §4.2.1.6: "If the subject field contains an empty sequence, then the
/// issuing CA MUST include a subjectAltName extension that is marked as critical."
fn empty_subject_needs_critical_subject_alt_name(c: &Cert<'_>) -> Result<(), String> {
    if !c.subject.is_empty() {
        return Ok(());
    }
    match &c.decoded.subject_alt_name {
        Some((true, _)) => Ok(()),
        Some((false, _)) => Err(
            "empty subject with a non-critical subjectAltName (RFC 5280 §4.2.1.6: it must be \
             critical)"
                .into(),
        ),
        None => Err("empty subject and no subjectAltName (RFC 5280 §4.1.2.6)".into()),
    }
}

/// RFC 5280 §4.1.2.6: a CA's or CRL issuer's subject "MUST be populated with a non-empty
/// distinguished name" (path validation and CRL matching chain by it).
fn ca_subject_not_empty(c: &Cert<'_>) -> Result<(), String> {
    let crl_sign = c.decoded.key_usage.as_ref().is_some_and(|k| k.crl_sign());
    if c.subject.is_empty() && (c.is_ca() || c.key_cert_sign() || crl_sign) {
        return Err(
            "a CA or CRL issuer certificate with an empty subject (RFC 5280 §4.1.2.6)".into(),
        );
    }
    Ok(())
}

/// RFC 5280 §4.2.1.12: `ExtKeyUsageSyntax ::= SEQUENCE SIZE (1..MAX) OF KeyPurposeId`.
fn extended_key_usage_not_empty(c: &Cert<'_>) -> Result<(), String> {
    match &c.decoded.extended_key_usage {
        Some(eku) if eku.0.is_empty() => {
            Err("extKeyUsage lists no key purpose (RFC 5280 §4.2.1.12: SIZE (1..MAX))".into())
        }
        _ => Ok(()),
    }
}

/// RFC 5280 §4.2.1.3: "When the keyUsage extension appears in a certificate, at least one of the
/// bits MUST be set to 1."
fn key_usage_asserts_a_bit(c: &Cert<'_>) -> Result<(), String> {
    match &c.decoded.key_usage {
        Some(ku) if ku.0.is_empty() => Err("keyUsage asserts no bit (RFC 5280 §4.2.1.3)".into()),
        _ => Ok(()),
    }
}

/// RFC 5280 §4.2.1.2: subjectKeyIdentifier "MUST appear in all conforming CA certificates, that
/// is, all certificates including the basic constraints extension where the value of cA is
/// TRUE".
fn ca_has_subject_key_identifier(c: &Cert<'_>) -> Result<(), String> {
    if c.is_ca() && !c.decoded.subject_key_identifier {
        return Err("a CA certificate without subjectKeyIdentifier (RFC 5280 §4.2.1.2)".into());
    }
    Ok(())
}

/// RFC 5280 §4.2.1.1: the keyIdentifier of authorityKeyIdentifier "MUST be included in all
/// certificates generated by conforming CAs", save a CA's self-signed certificate. Self-issued
/// certificates are let through (telling self-signed from a key-rollover certificate would take
/// a signature check here), and so is the trust anchor, whose issuance nothing checks; version 1
/// and 2 certificates cannot carry it.
fn authority_key_identifier(c: &Cert<'_>) -> Result<(), String> {
    let aki = &c.decoded.authority_key_identifier;
    if aki.as_ref().is_some_and(|a| a.key_identifier.is_some())
        || c.position == Position::Anchor
        || c.version != Version::V3
        || compare_names(c.subject, c.issuer)
    {
        return Ok(());
    }
    match aki {
        Some(_) => Err(
            "authorityKeyIdentifier without keyIdentifier in a certificate that is not \
             self-issued (RFC 5280 §4.2.1.1)"
                .into(),
        ),
        None => Err(
            "no authorityKeyIdentifier in a certificate that is not self-issued (RFC 5280 \
             §4.2.1.1)"
                .into(),
        ),
    }
}

/// RFC 5280 §4.2.1.3 (and §4.2.1.9): "If the keyCertSign bit is asserted, then the cA bit in the
/// basic constraints extension MUST also be asserted."
fn key_cert_sign_only_with_ca(c: &Cert<'_>) -> Result<(), String> {
    if c.key_cert_sign() && !c.is_ca() {
        return Err(
            "keyUsage keyCertSign in a certificate whose basicConstraints do not assert cA \
             (RFC 5280 §4.2.1.3, §4.2.1.9)"
                .into(),
        );
    }
    Ok(())
}

/// RFC 5280 §4.2.1.9: "CAs MUST NOT include the pathLenConstraint field unless the cA boolean is
/// asserted and the key usage extension, if present, asserts the keyCertSign bit."
fn path_len_only_with_ca_and_key_cert_sign(c: &Cert<'_>) -> Result<(), String> {
    let Some(bc) = &c.decoded.basic_constraints else {
        return Ok(());
    };
    if bc.path_len_constraint.is_none() {
        return Ok(());
    }
    if !bc.ca {
        return Err("pathLenConstraint without cA (RFC 5280 §4.2.1.9)".into());
    }
    if c.decoded.key_usage.is_some() && !c.key_cert_sign() {
        return Err(
            "pathLenConstraint with a keyUsage lacking keyCertSign (RFC 5280 §4.2.1.9)".into(),
        );
    }
    Ok(())
}

/// RFC 5280 §4.2.1.10: name constraints "MUST be used only in a CA certificate", and "either the
/// permittedSubtrees field or the excludedSubtrees MUST be present".
fn name_constraints_only_in_ca(c: &Cert<'_>) -> Result<(), String> {
    let Some(nc) = &c.decoded.name_constraints else {
        return Ok(());
    };
    if !c.is_ca() {
        return Err(
            "nameConstraints in a certificate that is not a CA certificate (RFC 5280 §4.2.1.10)"
                .into(),
        );
    }
    if nc.permitted_subtrees.is_none() && nc.excluded_subtrees.is_none() {
        return Err(
            "nameConstraints with neither permitted nor excluded subtrees (RFC 5280 §4.2.1.10)"
                .into(),
        );
    }
    Ok(())
}

/// RFC 5280 §4.2: "A certificate-using system MUST reject the certificate if it encounters a
/// critical extension it does not recognize". Recognised: what path validation processes; for
/// the trust anchor, what RFC 5937 applies (this check, like the others on the anchor, runs
/// only with trust-anchor constraints on).
fn no_unrecognised_critical_extension(c: &Cert<'_>) -> Result<(), String> {
    let known: &[ObjectIdentifier] = match c.position {
        Position::Anchor => &ANCHOR_PROCESSED,
        Position::Target | Position::Intermediate => &PROCESSED,
    };
    match c
        .extensions
        .iter()
        .find(|e| e.critical && !known.contains(&e.extn_id))
    {
        Some(e) => Err(format!(
            "unrecognised critical extension {} (RFC 5280 §4.2)",
            oid::describe(&e.extn_id)
        )),
        None => Ok(()),
    }
}

/// What step 2 leaves for certval (step 3) on one candidate path.
pub(crate) struct Candidate<'s> {
    /// The settings with the trust anchor's constraints applied (RFC 5937 §2), when on.
    pub settings: Cow<'s, CertificationPathSettings>,
    /// The constraints the trust anchor carries, named for the reason when the path then fails.
    pub anchor_constraints: Vec<&'static str>,
}

/// Step 2 for one candidate path: every certificate against the profile rules, target first;
/// the trust-anchor certificate too when `anchor_constraints` (with it, the anchor's name
/// constraints, pathLenConstraint, policies, policy constraints and inhibitAnyPolicy become the
/// initial inputs of RFC 5280 §6.1.1, as RFC 5937 §2 describes). Without it the anchor is only a
/// name and a key (§6.1.1 (d)) and nothing of its certificate is read. The reason names the
/// certificate by its subject.
pub(crate) fn candidate<'s>(
    path: &CertificationPath,
    settings: &'s CertificationPathSettings,
    anchor_constraints: bool,
) -> Result<Candidate<'s>, String> {
    let target = path.target.decoded().tbs_certificate();
    certificate(target, Position::Target).map_err(|why| named("certificate", target, why))?;
    for ca in path.intermediates.iter().rev() {
        let tbs = ca.decoded().tbs_certificate();
        certificate(tbs, Position::Intermediate).map_err(|why| named("certificate", tbs, why))?;
    }
    let unconstrained = Candidate {
        settings: Cow::Borrowed(settings),
        anchor_constraints: Vec::new(),
    };
    if !anchor_constraints {
        return Ok(unconstrained);
    }
    let TrustAnchorChoice::Certificate(anchor) = path.trust_anchor.decoded() else {
        return Ok(unconstrained);
    };
    let tbs = anchor.tbs_certificate();
    let refused = |why: String| {
        named(
            "trust anchor",
            tbs,
            format!(
                "{why} (RFC 5937 anchor constraints are enforced; without them the anchor is a \
                 name and a key only)"
            ),
        )
    };
    certificate(tbs, Position::Anchor).map_err(refused)?;
    let mut carried = Vec::new();
    for e in tbs.extensions().map_or(&[][..], Vec::as_slice) {
        carried.push(match e.extn_id {
            id::ID_CE_NAME_CONSTRAINTS => "name constraints",
            id::ID_CE_BASIC_CONSTRAINTS => {
                match BasicConstraints::from_der(e.extn_value.as_bytes()) {
                    Ok(bc) if bc.path_len_constraint.is_some() => "pathLenConstraint",
                    _ => continue,
                }
            }
            id::ID_CE_CERTIFICATE_POLICIES => "certificate policies",
            id::ID_CE_POLICY_CONSTRAINTS => "policy constraints",
            id::ID_CE_INHIBIT_ANY_POLICY => "inhibitAnyPolicy",
            // §4.2.1.3: keyCertSign "is asserted when the subject public key is used for
            // verifying signatures on public key certificates", as an anchor's is.
            id::ID_CE_KEY_USAGE => match KeyUsage::from_der(e.extn_value.as_bytes()) {
                Ok(ku) if !ku.key_cert_sign() => {
                    return Err(refused(
                        "its keyUsage lacks keyCertSign (RFC 5280 §4.2.1.3)".into(),
                    ));
                }
                _ => continue,
            },
            _ => continue,
        });
    }
    // Nothing to apply: the settings stay as they are (certval's function would copy them).
    if carried.is_empty() {
        return Ok(unconstrained);
    }
    let mut on = settings.clone();
    on.set_enforce_trust_anchor_constraints(true);
    let applied = enforce_trust_anchor_constraints(&on, &path.trust_anchor)
        .map_err(|e| refused(format!("its constraints cannot be applied: {e:?}")))?;
    Ok(Candidate {
        settings: Cow::Owned(applied),
        anchor_constraints: carried,
    })
}

/// `what` (a certificate, the trust anchor) named by its subject, and why it is refused.
fn named<P: Profile>(what: &str, tbs: &TbsCertificateInner<P>, why: String) -> String {
    let subject = tbs.subject();
    if subject.is_empty() {
        format!("{what} (empty subject): {why}")
    } else {
        format!("{what} {subject}: {why}")
    }
}

/// A CRL against the RFC 5280 §5 profile rules a relying party must hold it to; `Err` makes the
/// CRL unusable (TRY_LATER). A version 1 CRL has no extensions and nothing to check here.
pub(crate) fn crl<P: Profile>(crl: &CertificateList<P>) -> Result<(), String> {
    let tbs = &crl.tbs_cert_list;
    let extensions = tbs.crl_extensions.as_deref().unwrap_or(&[]);
    let entry_extensions = tbs
        .revoked_certificates
        .iter()
        .flatten()
        .any(|e| e.crl_entry_extensions.is_some());
    // §5.1.2.1: "When extensions are used, as required by this profile, this field MUST be
    // present and MUST specify version 2"; absent, it is version 1.
    match tbs.version {
        Version::V2 => {}
        Version::V1 if extensions.is_empty() && !entry_extensions => return Ok(()),
        Version::V1 => {
            return Err("has extensions but is not a version 2 CRL (RFC 5280 §5.1.2.1)".into());
        }
        Version::V3 => {
            return Err("has version 3, which CRLs do not have (RFC 5280 §5.1.2.1)".into());
        }
    }
    crl_unique_extensions(extensions)?;
    crl_number(extensions)
}

/// RFC 5280 §5.2 (extensions as in §4.2): at most one instance of each CRL extension.
fn crl_unique_extensions(extensions: &[Extension]) -> Result<(), String> {
    for (i, e) in extensions.iter().enumerate() {
        if extensions[..i].iter().any(|f| f.extn_id == e.extn_id) {
            return Err(format!(
                "has the CRL extension {} more than once (RFC 5280 §5.2)",
                oid::describe(&e.extn_id)
            ));
        }
    }
    Ok(())
}

/// RFC 5280 §5.2.3: "CRL issuers conforming to this profile MUST include this extension in all
/// CRLs and MUST mark this extension as non-critical"; a non-negative INTEGER of at most 20
/// octets.
fn crl_number(extensions: &[Extension]) -> Result<(), String> {
    let Some(e) = extensions
        .iter()
        .find(|e| e.extn_id == id::ID_CE_CRL_NUMBER)
    else {
        return Err("is a version 2 CRL without a CRL number (RFC 5280 §5.2.3)".into());
    };
    if e.critical {
        return Err("marks its CRL number critical (RFC 5280 §5.2.3: non-critical)".into());
    }
    match CrlNumber::from_der(e.extn_value.as_bytes()) {
        Ok(n) if n.0.as_bytes().len() <= 20 => Ok(()),
        Ok(_) => Err("has a CRL number longer than 20 octets (RFC 5280 §5.2.3)".into()),
        Err(err) => Err(format!(
            "has a CRL number that does not decode (RFC 5280 §5.2.3): {err}"
        )),
    }
}
