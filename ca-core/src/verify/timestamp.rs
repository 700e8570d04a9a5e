//! Signature time-stamps: the proof of existence of a signature (ETSI EN 319 102-1 §5.4
//! time-stamp validation, §5.5 and §5.6.2.2 best-signature-time).
//!
//! Each signature-time-stamp attribute value (`id-aa-signatureTimeStampToken`, EN 319 122-1 §5.3)
//! is an RFC 3161 token: a SignedData verified by this engine's own CMS checks (signature, ESS
//! signingCertificate(V2) binding to the TSA certificate, RFC 5816), holding id-ct-TSTInfo whose
//! messageImprint is the hash of the SignerInfo's signature value octets, signed by a certificate
//! whose only extendedKeyUsage is timeStamping, critical (RFC 3161 §2.3), and whose path is valid
//! at genTime against the same trust anchors and CRLs. The earliest genTime of a valid token is
//! the best-signature-time.

use super::cache::PathVerdict;
use super::report::{Outcome, SignatureReport, SubIndication, TimestampReport};
use super::{
    Carried, Policy, SignedDocument, digest_algorithm, digest_chunks, find_signer, rfc3339,
    verify_signer,
};
use crate::engine::digest::DigestAlgorithm;
use crate::engine::key;
use crate::engine::oid;
use crate::engine::tsp::{GenTimeError, MessageImprint, parse_gen_time};
use cms::signed_data::SignerInfo;
use der::asn1::{Any, Int};
use der::{Decode, Encode, Tagged};
use x509_cert::Certificate;
use x509_cert::ext::pkix::ExtendedKeyUsage;

/// Most signature time-stamps read from one SignerInfo.
const MAX_TIMESTAMPS: usize = 16;

/// The fields of TSTInfo (RFC 3161 §2.4.2) the verifier reads, decoded leniently: the SEQUENCE
/// element by element, so that a fractional genTime does not refuse the whole token.
struct TstFields {
    policy: const_oid::ObjectIdentifier,
    imprint: MessageImprint,
    gen_time: u64,
}

fn tst_fields(der: &[u8]) -> Result<TstFields, String> {
    let items = Vec::<Any>::from_der(der).map_err(|e| format!("TSTInfo: {e}"))?;
    let [version, policy, imprint, serial, gen_time, ..] = items.as_slice() else {
        return Err("TSTInfo has fewer than its five required fields".into());
    };
    let field = |what: &str, e: der::Error| format!("TSTInfo {what}: {e}");
    let version: u8 = version.decode_as().map_err(|e| field("version", e))?;
    if version != 1 {
        return Err(format!(
            "TSTInfo version {version} (only v1, RFC 3161 §2.4.2)"
        ));
    }
    let policy = policy.decode_as().map_err(|e| field("policy", e))?;
    let imprint = imprint
        .decode_as()
        .map_err(|e| field("messageImprint", e))?;
    let _: Int = serial.decode_as().map_err(|e| field("serialNumber", e))?;
    if gen_time.tag() != der::Tag::GeneralizedTime {
        return Err(GenTimeError::NotGeneralizedTime(gen_time.tag()).to_string());
    }
    let gen_time = parse_gen_time(gen_time.value()).map_err(|e| e.to_string())?;
    Ok(TstFields {
        policy,
        imprint,
        gen_time,
    })
}

/// The time-stamps of one SignerInfo, each judged, the best-signature-time and the renewal date.
pub(crate) struct Stamps {
    /// Signature time-stamps in the order carried, then archive time-stamps newest first.
    pub reports: Vec<TimestampReport>,
    /// The earliest genTime of a valid signature time-stamp, and that token's number (1-based).
    pub best: Option<(u64, usize)>,
    /// When the proof of existence must be renewed by (Unix seconds), and what falls due.
    pub renewal: Option<(u64, String)>,
}

/// EN 319 102-1 §5.4–§5.6 for SignerInfo `si` (number `signer` in `doc`, when known): its
/// signature time-stamps and archive time-stamps (B-LTA), each judged, the archive time-stamps
/// newest first, each lending its genTime as proof of existence to what its ats-hash-index-v3
/// covers (§5.6.2.3, §5.6.3): a token whose TSA certificate or TSA's CA certificate has expired,
/// or whose algorithms or its path's passed their sunset, by the validation time, or whose TSA's
/// path has a certificate revoked after genTime, is still valid when a valid archive time-stamp
/// covering it predates that event ([`settle`]). `content`: the signed content, which archive imprints cover.
pub(crate) fn long_term(
    doc: &SignedDocument,
    si: &SignerInfo,
    signer: Option<usize>,
    content: Option<&[u8]>,
    policy: &Policy,
) -> Stamps {
    let at = policy.validation_time;
    let mut archives =
        signer.map_or_else(Vec::new, |i| archive_timestamps(doc, i, content, policy));
    // Newest first: each is settled before those it covers.
    for i in 0..archives.len() {
        let poe = earliest_cover(&archives[..i], &archives[i].attribute);
        settle(&mut archives[i], at, poe);
    }
    let mut signatures = signature_timestamps(doc, si, policy);
    let mut best: Option<(u64, usize)> = None;
    for t in &mut signatures {
        let poe = earliest_cover(&archives, &t.attribute);
        settle(t, at, poe);
        if t.outcome == Outcome::Passed
            && let Some(g) = t.gen_time_unix
            && best.is_none_or(|(b, _)| g < b)
        {
            best = Some((g, t.number));
        }
    }
    // EN 319 122-1 §5.5.3 / issue 14 item 4: the newest valid archive time-stamp carries the
    // proof on; without one, the best signature time-stamp does until the first is added.
    let carrier = archives
        .iter()
        .find(|t| t.outcome == Outcome::Passed)
        .or_else(|| best.and_then(|(_, n)| signatures.iter().find(|t| t.number == n)));
    let renewal = carrier.and_then(renewal_due);
    signatures.extend(archives);
    Stamps {
        reports: signatures,
        best,
        renewal,
    }
}

/// The earliest genTime among the valid archive time-stamps of `newer` whose ats-hash-index-v3
/// lists `attribute`, with the proof's name.
fn earliest_cover(newer: &[TimestampReport], attribute: &[u8]) -> Option<(u64, String)> {
    if attribute.is_empty() {
        return None;
    }
    newer
        .iter()
        .filter(|a| a.outcome == Outcome::Passed)
        .filter(|a| {
            a.covers
                .as_ref()
                .is_some_and(|(hash, listed)| listed.contains(&hash.digest(attribute)))
        })
        .filter_map(|a| {
            let g = a.gen_time_unix?;
            Some((
                g,
                format!(
                    "{ARCHIVE} #{} (genTime {})",
                    a.number,
                    a.gen_time.as_deref().unwrap_or("-")
                ),
            ))
        })
        .min_by_key(|(g, _)| *g)
}

/// A token's life at the validation time `at` (EN 319 102-1 §5.6.2.1 past signature validation
/// of the token, §5.6.2.3, §5.6.3), with `poe` the earliest proof of existence an archive
/// time-stamp covering it gives:
/// - a certificate of its TSA's path revoked after genTime: kept only when `poe` is before the
///   revocation time, whatever the reason (a keyCompromise revocation included: the proof must
///   precede it, §5.6.2.1); otherwise it stays REVOKED_NO_POE / REVOKED_CA_NO_POE;
/// - its TSA certificate or a CA certificate of that path expired, or an algorithm of the token
///   or of the path past its sunset, by `at`: kept when `poe` is before the event; without one it
///   fails: OUT_OF_BOUNDS_NO_POE for the expiry (§5.2.6: the validation time is outside the
///   validity and nothing places the token inside), CRYPTO_CONSTRAINTS_FAILURE_NO_POE for the
///   algorithm (§5.2.8).
fn settle(t: &mut TimestampReport, at: u64, poe: Option<(u64, String)>) {
    let proof = poe.filter(|(p, _)| *p < at);
    if let Some((revoked_at, revocation)) = t.revoked_later.clone() {
        match &proof {
            Some((p, name)) if *p < revoked_at => {
                t.outcome = Outcome::Passed;
                t.sub_indication = None;
                t.reason = format!(
                    "token signature and imprint verified, TSA path valid at genTime {}; \
                     {revocation}, after {name} proves the token existed ({}): valid by that \
                     proof of existence (EN 319 102-1 §5.6.2.1, §5.6.3)",
                    t.gen_time.as_deref().unwrap_or("-"),
                    rfc3339(*p)
                );
                t.proof_of_existence = Some(name.clone());
            }
            Some((p, name)) => {
                t.reason = format!(
                    "{}; the proof of existence of {name} ({}) is not before the revocation \
                     ({revocation}): it does not keep the token (EN 319 102-1 §5.6.2.1)",
                    t.reason,
                    rfc3339(*p)
                );
                return;
            }
            None => return,
        }
    }
    if t.outcome != Outcome::Passed {
        return;
    }
    let expired = t.expiry.clone().filter(|(n, _)| at > *n);
    let sunset = t.sunset.clone().filter(|(s, _, _)| at >= *s);
    if expired.is_none() && sunset.is_none() {
        return;
    }
    let mut fail = |sub, why: String| {
        t.outcome = Outcome::Failed;
        t.sub_indication = Some(sub);
        t.proof_of_existence = None;
        t.reason = why;
    };
    let none = |what: &str, since: String| match &proof {
        Some((p, name)) => format!(
            "{what} {since}, and the proof of existence of {name} is not before then ({})",
            rfc3339(*p)
        ),
        None => format!(
            "{what} {since}, before the validation time {}, and no archive time-stamp proves \
             the token existed before then",
            rfc3339(at)
        ),
    };
    if let Some((not_after, whose)) = &expired
        && proof.as_ref().is_none_or(|(p, _)| p > not_after)
    {
        let what = match whose {
            None => "the TSA certificate expired on".to_string(),
            Some(ca) => format!("the TSA's CA certificate {ca} expired on"),
        };
        return fail(
            SubIndication::OutOfBoundsNoPoe,
            format!(
                "{} (EN 319 102-1 §5.2.6, §5.6.2.1)",
                none(&what, rfc3339(*not_after))
            ),
        );
    }
    if let Some((at_sunset, refusal, signed)) = &sunset
        && proof.as_ref().is_none_or(|(p, _)| p >= at_sunset)
    {
        return fail(
            SubIndication::CryptoConstraintsFailureNoPoe,
            format!(
                "{} (EN 319 102-1 §5.2.8, §5.6.2.3)",
                none(
                    &refused(refusal, signed.as_deref()),
                    "— its sunset passed".into()
                )
            ),
        );
    }
    if let Some((p, name)) = proof {
        let mut events = Vec::new();
        if let Some((n, whose)) = &expired {
            events.push(match whose {
                None => format!("its TSA certificate expired on {}", rfc3339(*n)),
                Some(ca) => format!("the TSA's CA certificate {ca} expired on {}", rfc3339(*n)),
            });
        }
        if let Some((_, refusal, signed)) = &sunset {
            events.push(refused(refusal, signed.as_deref()));
        }
        t.reason = format!(
            "{}; {}, after {name} proves the token existed ({}): valid by that proof of \
             existence (EN 319 102-1 §5.6.2.3)",
            t.reason,
            events.join(" and "),
            rfc3339(p)
        );
        t.proof_of_existence = Some(name);
    }
}

/// A sunset in words: of the token's own algorithms, or of the signature on a certificate of the
/// TSA's path (`signed`: its subject).
fn refused(refusal: &super::Refusal, signed: Option<&str>) -> String {
    match signed {
        None => refusal.to_string(),
        Some(subject) => {
            format!("the signature on certificate {subject} of the TSA's path: {refusal}")
        }
    }
}

/// The first moment an element the token relies on stops being acceptable: the notAfter of its
/// TSA certificate or of a CA certificate of the TSA's path, or a catalogue sunset of its
/// algorithms or of a signature on a certificate of that path.
fn renewal_due(t: &TimestampReport) -> Option<(u64, String)> {
    let token = format!("{} #{}", t.kind, t.number);
    let expiry = t.expiry.as_ref().map(|(n, whose)| {
        (
            *n,
            match whose {
                None => format!("the TSA certificate of {token} expires (notAfter)"),
                Some(ca) => {
                    format!("the CA certificate {ca} of the TSA of {token} expires (notAfter)")
                }
            },
        )
    });
    let sunset = t.sunset.as_ref().map(|(s, refusal, signed)| {
        let user = match signed {
            None => token.clone(),
            Some(subject) => {
                format!("the signature on certificate {subject} of the TSA of {token}")
            }
        };
        (
            *s,
            format!(
                "{user} uses {}, not acceptable from {} on (algorithm catalogue: {})",
                refusal.algorithm, refusal.sunset, refusal.source
            ),
        )
    });
    [expiry, sunset]
        .into_iter()
        .flatten()
        .min_by_key(|(at, _)| *at)
}

/// Every signature-time-stamp of `si` (in `doc`), judged under `policy`: trust anchors, pool and
/// CRLs (the relying party's, then those `doc` carries); its life at the validation time is
/// [`settle`]d afterwards.
fn signature_timestamps(
    doc: &SignedDocument,
    si: &SignerInfo,
    policy: &Policy,
) -> Vec<TimestampReport> {
    let tokens: Vec<&Any> = si
        .unsigned_attrs
        .iter()
        .flat_map(|attrs| attrs.iter())
        .filter(|a| a.oid == oid::ID_AA_SIGNATURE_TIME_STAMP_TOKEN)
        .flat_map(|a| a.values.iter())
        .collect();
    let kind = oid::ID_AA_SIGNATURE_TIME_STAMP_TOKEN
        .to_der()
        .unwrap_or_default();
    let mut reports = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let number = i + 1;
        if number > MAX_TIMESTAMPS {
            reports.push(TimestampReport::failed(
                number,
                SIGNATURE,
                SubIndication::FormatFailure,
                format!("more than {MAX_TIMESTAMPS} signature time-stamps: not read"),
            ));
            break;
        }
        let signature = si.signature.as_bytes();
        let report = match token.to_der() {
            Ok(der) => {
                let mut report = judge(doc, &der, number, SIGNATURE, policy, &|hash, _| {
                    Ok(hash.digest(signature))
                });
                report.attribute = [kind.as_slice(), &der].concat();
                report
            }
            Err(e) => TimestampReport::failed(
                number,
                SIGNATURE,
                SubIndication::FormatFailure,
                format!("token: {e}"),
            ),
        };
        reports.push(report);
    }
    reports
}

/// One token alone (`token_der`, a ContentInfo), judged as a time-stamp over `imprint` under
/// `policy` (EN 319 102-1 §5.4): how a requester checks a foreign TSA's answer before it uses
/// it (`Authority::augment`). The token's own certificates and `policy`'s are all it can use.
pub(crate) fn judge_token(token_der: &[u8], imprint: &[u8], policy: &Policy) -> TimestampReport {
    match SignedDocument::parse(token_der) {
        Ok(token) => judge(&token, token_der, 1, SIGNATURE, policy, &|_, _| {
            Ok(imprint.to_vec())
        }),
        Err(e) => TimestampReport::failed(
            1,
            SIGNATURE,
            SubIndication::FormatFailure,
            format!("token: {e}"),
        ),
    }
}

/// The report names of the two kinds of time-stamp.
const SIGNATURE: &str = "signature-time-stamp";
const ARCHIVE: &str = "archive-time-stamp-v3";

/// The imprint a token must carry, given its hash algorithm and the token itself.
type Expected<'e> =
    dyn Fn(DigestAlgorithm, &SignedDocument) -> Result<Vec<u8>, (SubIndication, String)> + 'e;

/// EN 319 102-1 §5.4 for one token (`token_der`, a ContentInfo) of `kind`, whose imprint must be
/// `expected`.
fn judge(
    doc: &SignedDocument,
    token_der: &[u8],
    number: usize,
    kind: &'static str,
    policy: &Policy,
    expected: &Expected<'_>,
) -> TimestampReport {
    let fail = |sub, reason: String| TimestampReport::failed(number, kind, sub, reason);
    let parsed = SignedDocument::parse(token_der).map_err(|e| e.to_string());
    let token = match parsed {
        Ok(t) => t,
        Err(e) => return fail(SubIndication::FormatFailure, format!("token: {e}")),
    };
    if token.content_type() != oid::ID_CT_TST_INFO {
        return fail(
            SubIndication::FormatFailure,
            format!(
                "token eContentType is {}, not id-ct-TSTInfo (RFC 3161 §2.4.2)",
                token.content_type()
            ),
        );
    }
    let Some(content) = token.content.as_deref() else {
        return fail(
            SubIndication::FormatFailure,
            "token has no encapsulated TSTInfo".into(),
        );
    };
    let fields = match tst_fields(content) {
        Ok(f) => f,
        Err(e) => return fail(SubIndication::FormatFailure, e),
    };
    let mut report =
        TimestampReport::failed(number, kind, SubIndication::FormatFailure, String::new());
    report.gen_time = Some(rfc3339(fields.gen_time));
    report.gen_time_unix = Some(fields.gen_time);
    report.policy = Some(oid::dotted(&fields.policy));
    let fail = |mut report: TimestampReport, sub, reason: String| {
        report.sub_indication = Some(sub);
        report.reason = reason;
        report
    };
    // RFC 3161 §2.4.2: one signer.
    let [tsa_si] = token.signer_infos() else {
        return fail(
            report,
            SubIndication::FormatFailure,
            format!("token has {} signers, not one", token.signer_count()),
        );
    };
    if let Some((_, cert)) = find_signer(&tsa_si.sid, &token.carried, &policy.cert_pool)
        .or_else(|| find_signer(&tsa_si.sid, &doc.carried, &[]))
    {
        report.tsa = Some(super::summary(&cert).subject);
        if let Err(why) = timestamping_eku(&cert) {
            return fail(report, SubIndication::ChainConstraintsFailure, why);
        }
        // How long the token lives: its TSA certificate's notAfter and its algorithms' sunset,
        // judged at the validation time or an archive time-stamp's proof of existence (`settle`).
        report.expiry = Some((
            cert.tbs_certificate()
                .validity()
                .not_after
                .to_unix_duration()
                .as_secs(),
            None,
        ));
        let key = key::key_params(cert.tbs_certificate().subject_public_key_info()).ok();
        let hashes: Vec<_> = [&tsa_si.digest_alg, &fields.imprint.hash_algorithm]
            .into_iter()
            .filter_map(digest_algorithm)
            .collect();
        report.sunset = policy
            .algorithms
            .first_sunset(&hashes, key)
            .map(|(at, refusal)| (at, refusal, None));
    }
    // The imprint: the hash of the signature value octets (EN 319 122-1 §5.3).
    let imprint_alg = &fields.imprint.hash_algorithm;
    let Some(hash) = digest_algorithm(imprint_alg) else {
        return fail(
            report,
            SubIndication::CryptoConstraintsFailureNoPoe,
            format!(
                "messageImprint hash algorithm {} is not supported",
                oid::describe(&imprint_alg.oid)
            ),
        );
    };
    let want = match expected(hash, &token) {
        Ok(w) => w,
        Err((sub, e)) => return fail(report, sub, e),
    };
    if want != fields.imprint.hashed_message.as_bytes() {
        let over = if kind == ARCHIVE {
            "what this archive time-stamp covered (signature, validation data, earlier \
             time-stamps): a covered element changed or is missing"
        } else {
            "this signature's value: the time-stamp is over other data"
        };
        return fail(
            report,
            SubIndication::HashFailure,
            format!("messageImprint ({hash}) is not the hash of {over}"),
        );
    }
    if fields.gen_time > policy.validation_time {
        return fail(
            report,
            SubIndication::NoPoe,
            format!(
                "genTime {} is after the validation time {}",
                rfc3339(fields.gen_time),
                rfc3339(policy.validation_time)
            ),
        );
    }
    // The token's CMS: signature, ESS binding (required: RFC 3161 §2.4.2, RFC 5816), and the
    // TSA's path at genTime.
    let tsa_policy = tsa_policy(doc, &token, policy, fields.gen_time);
    let digests = digest_chunks(&token.digest_algorithms(), [content]);
    let checked = verify_signer(
        &token,
        tsa_si,
        &digests,
        Some(content),
        &token.carried,
        &tsa_policy,
        None,
        false,
    );
    // The token lives as long as every element of the TSA's path (EN 319 102-1 §5.6.2.3): its CA
    // certificates' notAfter and the sunsets of the signatures on its certificates count too.
    if let Some(life) = checked.path.as_deref().and_then(PathVerdict::life) {
        if let Some((at, subject)) = &life.expiry
            && report.expiry.as_ref().is_none_or(|(e, _)| at < e)
        {
            report.expiry = Some((*at, Some(subject.clone())));
        }
        if let Some((at, refusal, subject)) = &life.sunset
            && report.sunset.as_ref().is_none_or(|(s, _, _)| at < s)
        {
            report.sunset = Some((*at, refusal.clone(), Some(subject.clone())));
        }
    }
    if let Some(c) = checked.first_failure() {
        let sub = c.sub_indication.unwrap_or(SubIndication::FormatFailure);
        report.revoked_later = revoked_after_gen_time(&checked);
        let what = if c.name == "signature" {
            "the time-stamp token's signature (by the TSA)".to_string()
        } else {
            format!("token {}", c.name)
        };
        return fail(report, sub, format!("{what}: {}", c.reason));
    }
    report.outcome = Outcome::Passed;
    report.sub_indication = None;
    report.reason = format!(
        "{hash} imprint of the signature value matches; TSA path valid at genTime {}",
        rfc3339(fields.gen_time)
    );
    report
}

/// When the token's only failure is a certificate of the TSA's path revoked after genTime
/// (REVOKED_NO_POE, REVOKED_CA_NO_POE): the revocation time (the lesser of revocationDate and
/// invalidityDate) and the revocation in words, for an archive time-stamp's proof of existence
/// to judge (`settle`).
fn revoked_after_gen_time(checked: &SignatureReport) -> Option<(u64, String)> {
    let failed = || {
        checked
            .checks
            .iter()
            .filter(|c| c.outcome == Outcome::Failed)
    };
    let only_revoked_later = failed().all(|c| {
        c.name == "proof-of-existence"
            && matches!(
                c.sub_indication,
                Some(SubIndication::RevokedNoPoe | SubIndication::RevokedCaNoPoe)
            )
    });
    if failed().next().is_none() || !only_revoked_later {
        return None;
    }
    let (later, subject) = checked.path.as_deref()?.revoked_later()?;
    let whose = if later.index == 0 {
        "the TSA certificate"
    } else {
        "the TSA's CA certificate"
    };
    Some((
        later.revoked_at,
        format!(
            "{whose} {subject} was revoked on {} (reason {})",
            rfc3339(later.revoked_at),
            later.reason
        ),
    ))
}

/// The policy the TSA's certificate is judged by: the relying party's anchors and RFC 5280
/// limits at genTime, its certificates and CRLs with those the signature carries (B-LT), no
/// healthcare constraint (a TSA holds no hcRole), keyUsage as RFC 5280 + RFC 5652.
fn tsa_policy(doc: &SignedDocument, token: &SignedDocument, policy: &Policy, at: u64) -> Policy {
    let mut p = Policy::new(at);
    p.trust_anchors = policy.trust_anchors.clone();
    p.cert_pool = policy.cert_pool.clone();
    p.cert_pool
        .extend(doc.carried.iter().map(|c: &Carried| c.der.clone()));
    p.crls = each_once(&[&policy.crls, &doc.crls, &token.crls]);
    p.ocsp_responses = each_once(&[&policy.ocsp_responses, &doc.ocsp, &token.ocsp]);
    p.max_depth = policy.max_depth;
    p.validation_policy = super::ValidationPolicy::Generic;
    p.check_chain = policy.check_chain;
    p.require_cades = true;
    p.algorithms = policy.algorithms.clone();
    p.anchor_constraints = policy.anchor_constraints;
    p
}

/// Every element (CRL, OCSP response) of `sets`, each once, in order.
pub(crate) fn each_once(sets: &[&[Vec<u8>]]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for crl in sets.iter().flat_map(|s| s.iter()) {
        if !out.contains(crl) {
            out.push(crl.clone());
        }
    }
    out
}

/// RFC 3161 §2.3: extendedKeyUsage present, critical, and timeStamping alone.
fn timestamping_eku(cert: &Certificate) -> Result<(), String> {
    let eku = cert
        .tbs_certificate()
        .extensions()
        .into_iter()
        .flatten()
        .find(|e| e.extn_id == oid::ID_CE_EXT_KEY_USAGE)
        .ok_or("the TSA certificate has no extendedKeyUsage; RFC 3161 §2.3 requires timeStamping, critical and alone")?;
    let purposes = ExtendedKeyUsage::from_der(eku.extn_value.as_bytes())
        .map_err(|e| format!("the TSA certificate's extendedKeyUsage does not decode: {e}"))?;
    if purposes.0 != [oid::ID_KP_TIME_STAMPING] {
        return Err(format!(
            "the TSA certificate's extendedKeyUsage is not timeStamping alone (RFC 3161 §2.3): {}",
            purposes
                .0
                .iter()
                .map(oid::describe)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !eku.critical {
        return Err(
            "the TSA certificate's extendedKeyUsage timeStamping is not critical (RFC 3161 §2.3)"
                .into(),
        );
    }
    Ok(())
}

/// Every archive-time-stamp-v3 of SignerInfo `signer` of `doc`, newest first (EN 319 102-1
/// §5.6.3 works back from the newest), each over what it covered (`archive.rs`). `content`: the
/// signed content's bytes, which the archive imprint covers.
fn archive_timestamps(
    doc: &SignedDocument,
    signer: usize,
    content: Option<&[u8]>,
    policy: &Policy,
) -> Vec<TimestampReport> {
    let Some(raw) = doc.raw.as_deref() else {
        return Vec::new();
    };
    let tokens = match super::archive::tokens(raw, signer) {
        Ok(t) => t,
        Err(e) => {
            return vec![TimestampReport::failed(
                1,
                ARCHIVE,
                SubIndication::FormatFailure,
                e,
            )];
        }
    };
    let kind = oid::ID_AA_ETS_ARCHIVE_TIMESTAMP_V3
        .to_der()
        .unwrap_or_default();
    let mut reports: Vec<TimestampReport> = tokens
        .iter()
        .take(MAX_TIMESTAMPS)
        .enumerate()
        .map(|(i, token)| {
            let covers = std::cell::RefCell::new(None);
            let mut report = judge(doc, token, i + 1, ARCHIVE, policy, &|hash, token_doc| {
                let (imprint, listed) =
                    super::archive::expected_imprint(raw, signer, token_doc, content, hash)?;
                *covers.borrow_mut() = Some(listed);
                Ok(imprint)
            });
            report.attribute = [kind.as_slice(), token].concat();
            report.covers = covers.into_inner();
            report
        })
        .collect();
    reports.sort_by_key(|t| std::cmp::Reverse(t.gen_time_unix));
    reports
}

/// The report's check for the proof of existence the time-stamps gave (or not).
pub(crate) fn report_stamps(r: &mut SignatureReport, reports: &[TimestampReport]) {
    for t in reports {
        let name = if t.kind == ARCHIVE {
            "archive-time-stamp"
        } else {
            "signature-time-stamp"
        };
        match (t.outcome, t.sub_indication) {
            (Outcome::Passed, _) => r.pass(
                name,
                format!(
                    "#{}: genTime {}",
                    t.number,
                    t.gen_time.as_deref().unwrap_or("-")
                ),
            ),
            // A failed time-stamp gives no proof of existence; the signature is judged without
            // it (EN 319 102-1 §5.5.4), so the failure is a warning of the signature's report.
            _ => r.warn(
                name,
                format!(
                    "#{} failed, no proof of existence from it: {}",
                    t.number, t.reason
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_truncate_toward_the_past() {
        let whole = parse_gen_time(b"20261207022212Z").unwrap();
        assert_eq!(parse_gen_time(b"20261207022212.487Z").unwrap(), whole);
        assert_eq!(parse_gen_time(b"20261207022212.9999Z").unwrap(), whole);
        assert_eq!(rfc3339(whole), "2026-12-07T02:22:12Z");
    }

    #[test]
    fn malformed_times_are_typed_errors() {
        for bad in [
            &b"20261207022212"[..],
            b"20261207022212.Z",
            b"20261207022212,5Z",
            b"2026120702221Z",
            b"20261307022212Z",
            b"20261207022212+0100",
            b"2026120702221xZ",
        ] {
            assert!(
                matches!(parse_gen_time(bad), Err(GenTimeError::Malformed(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
