//! `Authority::augment` (issue 14 items 3 and 4): a signature from another PKI raised to B-T,
//! B-LT and B-LTA by this installation's TSA, renewed; every token audited and an `augment`
//! record naming the signature; a foreign TSA reached through a `TsaTransport`, trusted only
//! under its configured anchor, its answer bound to the request's nonce.

use crate::support::fresh_ca;
use crate::support::openssl::now;

use ca_core::audit::AuditAction;
use ca_core::authority::{
    AugmentError, Authority, ForeignTsa, SignerSelection, TimestampSource, TsaTransport,
    ValidationData,
};
use ca_core::cades::{self, Level};
use ca_core::issue::Registration;
use ca_core::key::{KeyAlgorithm, SigningKey};
use ca_core::sign::{DigestAlgorithm, SignatureRequest, sign};
use ca_core::store::{SledStore, Store};
use ca_core::tsp::Tsa;
use const_oid::ObjectIdentifier;
use std::sync::Arc;

const DOC: &[u8] = b"Discharge letter: stable, follow-up in two weeks\n";

/// An authority made an hour ago, with its built-in TSA.
fn authority(dir: &std::path::Path, name: &str, seal: u8) -> Authority<SledStore> {
    let request = fresh_ca::request(
        name,
        "2.25.2026120703",
        fresh_ca::invalid_urls(),
        now() - 3_600,
        "augment-tests",
    );
    fresh_ca::init(dir, &[seal; 32], request)
}

/// A detached B-B signature over [`DOC`] by a signer of `other` (not the augmenting
/// installation), and `other`'s root and CRLs.
fn foreign_signature(other: &Authority<SledStore>) -> (Vec<u8>, Vec<u8>, Vec<Vec<u8>>) {
    let key = SigningKey::generate(KeyAlgorithm::P256).unwrap();
    let issued = other
        .issue(
            &Registration {
                profile: "rhp-sign".into(),
                subject: ca_core::name::parse_subject(
                    "C=JP,O=Other Hospital,CN=Taro Yamada,serialNumber=O-0001",
                )
                .unwrap(),
                sans: vec![],
                hc_roles: vec![ca_core::hcrole::HcRole {
                    scheme: ObjectIdentifier::new(crate::support::sign_fixture::JP).unwrap(),
                    code: None,
                    text: Some("Medical Doctor".into()),
                }],
                validity_days: Some(365),
            },
            &fresh_ca::csr(&key),
            now() - 3_000,
            "augment-tests",
        )
        .unwrap();
    let digest = DigestAlgorithm::Sha256.digest(DOC);
    let cms = sign(&SignatureRequest {
        key: &key,
        certificate: &issued.certificate,
        chain: &issued.chain,
        digest: &digest,
        signing_time: now() - 60,
        commitment_type: None,
        claimed_role: None,
        attached: None,
    })
    .unwrap();
    let ids: Vec<String> = other.ca_ids().map(str::to_owned).collect();
    let crls = ids
        .iter()
        .map(|id| other.crl(id, now() - 30, "augment-tests").unwrap())
        .collect();
    let root = other.ca_certificate("root").unwrap().to_vec();
    (cms, root, crls)
}

fn count(cms: &[u8], kind: &str) -> usize {
    // The attribute OIDs' DER, as they appear in the SignerInfo.
    let oid = match kind {
        "ats" => ca_core::oid::ID_AA_ETS_ARCHIVE_TIMESTAMP_V3,
        _ => ca_core::oid::ID_AA_SIGNATURE_TIME_STAMP_TOKEN,
    };
    let needle = der::Encode::to_der(&oid).unwrap();
    cms.windows(needle.len()).filter(|w| *w == needle).count()
}

#[test]
fn a_foreign_signature_is_raised_to_b_lta_audited_and_renewed() {
    let dir = tempfile::tempdir().unwrap();
    let ours = authority(&dir.path().join("ours"), "hpki Augmenting Hospital", 21);
    let other = authority(&dir.path().join("other"), "Other Hospital", 22);
    let (b_b, other_root, other_crls) = foreign_signature(&other);
    let source = ours.timestamp_source().expect("the built-in TSA");
    assert!(matches!(source, TimestampSource::BuiltIn));
    let extra = ValidationData {
        certificates: vec![],
        crls: other_crls.clone(),
        ocsp_responses: vec![],
    };
    let before = ours.store().audit_log().unwrap().len();

    // B-LTA without the detached content cannot be made: the archive time-stamp covers it.
    let e = ours
        .augment(
            &b_b,
            None,
            Level::BLTA,
            &extra,
            Some(&source),
            SignerSelection::All,
            now(),
            "api:ra",
        )
        .unwrap_err();
    assert!(matches!(e, AugmentError::Cades(_)), "{e}");
    assert_eq!(
        ours.store().audit_log().unwrap().len(),
        before,
        "a refusal writes nothing"
    );

    let lta = ours
        .augment(
            &b_b,
            Some(DOC),
            Level::BLTA,
            &extra,
            Some(&source),
            SignerSelection::All,
            now(),
            "api:ra",
        )
        .unwrap();
    assert_eq!(lta.level, Level::BLTA);
    assert_eq!(cades::detect_level(&lta.cms, 0).unwrap(), Level::BLTA);
    assert_eq!(lta.tokens.len(), 2, "a signature and an archive time-stamp");
    // The other PKI's CRLs supplied are carried; our TSA's validation data too.
    for crl in &other_crls {
        assert!(lta.cms.windows(crl.len()).any(|w| w == crl.as_slice()));
    }
    let tsa = ours.tsa_certificate().unwrap();
    assert!(
        lta.cms
            .windows(tsa.certificate.len())
            .any(|w| w == tsa.certificate.as_slice())
    );

    // The audit log: each token's `timestamp` record, then `augment` naming the signature.
    let log = ours.store().audit_log().unwrap();
    let new: Vec<_> = log[before..].iter().collect();
    let stamps: Vec<_> = new
        .iter()
        .filter(|r| r.event.action == AuditAction::Timestamp)
        .map(|r| r.event.object.clone())
        .collect();
    assert_eq!(
        stamps,
        lta.tokens
            .iter()
            .map(|s| format!("timestamp:{}", hex::encode(s)))
            .collect::<Vec<_>>()
    );
    let record = new.last().unwrap();
    assert_eq!(record.event.action, AuditAction::Augment);
    assert_eq!(record.seq, lta.audit_seq);
    let detail = |k: &str| {
        record
            .event
            .details
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(detail("level").as_deref(), Some("B-LTA"));
    assert_eq!(detail("from_level").as_deref(), Some("B-B"));
    assert_eq!(detail("tsa").as_deref(), Some("builtin"));
    assert_eq!(
        detail("tokens").unwrap(),
        lta.tokens
            .iter()
            .map(hex::encode)
            .collect::<Vec<_>>()
            .join(",")
    );
    let signer_serial = {
        let doc = ca_core::verify::SignedDocument::parse(&b_b).unwrap();
        ca_core::verify::sid_text(&doc.signer_infos()[0].sid)
    };
    assert_eq!(detail("signer"), Some(signer_serial));
    assert!(detail("signature_sha256").is_some_and(|h| h.len() == 64));
    assert_eq!(record.event.actor, "api:ra");

    // ca-core's verifier accepts it, trusting both roots.
    let mut policy = ca_core::verify::Policy::new(now());
    policy.trust_anchors = vec![other_root, ours.ca_certificate("root").unwrap().to_vec()];
    let report = ca_core::verify::verify_bytes(&lta.cms, Some(DOC), &policy);
    assert!(
        report.is_valid(),
        "{}",
        serde_json::to_string_pretty(&report).unwrap()
    );

    // Renewal: a further archive time-stamp over the B-LTA signature.
    let renewed = ours
        .augment(
            &lta.cms,
            Some(DOC),
            Level::BLTA,
            &ValidationData::default(),
            Some(&source),
            SignerSelection::All,
            now(),
            "api:ra",
        )
        .unwrap();
    assert_eq!(renewed.tokens.len(), 1, "one new archive time-stamp");
    assert_eq!(count(&lta.cms, "ats"), 1);
    assert_eq!(count(&renewed.cms, "ats"), 2, "the renewal adds one");
    assert_eq!(
        count(&renewed.cms, "sts"),
        count(&lta.cms, "sts"),
        "no second signature time-stamp"
    );

    // Asking for a level already reached adds nothing (and is audited as such).
    let same = ours
        .augment(
            &lta.cms,
            Some(DOC),
            Level::BT,
            &extra,
            None,
            SignerSelection::All,
            now(),
            "api:ra",
        )
        .unwrap();
    assert_eq!(same.cms, lta.cms);
    assert!(same.tokens.is_empty());
}

#[test]
fn a_time_stamp_level_needs_a_source_and_inputs_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let ours = authority(&dir.path().join("ours"), "hpki Augmenting Hospital", 23);
    let other = authority(&dir.path().join("other"), "Other Hospital", 24);
    let (b_b, _, _) = foreign_signature(&other);
    let e = ours
        .augment(
            &b_b,
            None,
            Level::BT,
            &ValidationData::default(),
            None,
            SignerSelection::All,
            now(),
            "api:ra",
        )
        .unwrap_err();
    assert!(
        matches!(e, AugmentError::NoTimestampSource(Level::BT)),
        "{e}"
    );
    let huge = vec![0u8; ca_core::verify::MAX_SIGNATURE_LEN + 1];
    let e = ours
        .augment(
            &huge,
            None,
            Level::BT,
            &ValidationData::default(),
            None,
            SignerSelection::All,
            now(),
            "api:ra",
        )
        .unwrap_err();
    assert!(matches!(e, AugmentError::TooLarge { .. }), "{e}");
    let e = ours
        .augment(
            b"not a signature",
            None,
            Level::BT,
            &ValidationData::default(),
            None,
            SignerSelection::All,
            now(),
            "x",
        )
        .unwrap_err();
    assert!(matches!(e, AugmentError::Cades(_)), "{e}");
}

/// A TSA of another PKI, reached in-process: what an edge's HTTP client would carry.
struct InProcess {
    tsa: Tsa,
    /// Answer with a token for another nonce: a replay.
    replay: bool,
}

impl TsaTransport for InProcess {
    fn exchange(&self, request_der: &[u8]) -> Result<Vec<u8>, String> {
        let mut request: ca_core::tsp::TimeStampReq = der::Decode::from_der(request_der).unwrap();
        if self.replay {
            request.nonce = Some(der::asn1::Int::new(&[1, 2, 3, 4, 5, 6, 7, 8]).unwrap());
        }
        self.tsa
            .timestamp(&der::Encode::to_der(&request).unwrap(), now())
            .map_err(|e| e.to_string())
    }
}

#[test]
fn a_foreign_tsa_is_trusted_under_its_anchor_only_and_must_echo_the_nonce() {
    let dir = tempfile::tempdir().unwrap();
    let ours = authority(&dir.path().join("ours"), "hpki Augmenting Hospital", 25);
    let other = authority(&dir.path().join("other"), "Other Hospital", 26);
    let (b_b, other_root, _) = foreign_signature(&other);
    // The other installation's TSA key and certificate, used by a `Tsa` here.
    let tsa_key = SigningKey::generate(KeyAlgorithm::P256).unwrap();
    let (tsa_cert, tsa_chain) = crate::support::tsa::issue_tsa_certificate(&other, &tsa_key);
    let make = |replay| InProcess {
        tsa: Tsa::new(
            SigningKey::from_pkcs8(&tsa_key.to_pkcs8().expect("software key")).unwrap(),
            &tsa_cert,
            &tsa_chain,
            ObjectIdentifier::new("1.2.3.4.1").unwrap(),
        )
        .unwrap(),
        replay,
    };
    let our_root = ours.ca_certificate("root").unwrap().to_vec();
    let source = |anchor: &[u8], replay| {
        TimestampSource::Foreign(Arc::new(
            ForeignTsa::new(
                "https://tsa.other.invalid/",
                vec![anchor.to_vec()],
                Box::new(make(replay)),
            )
            .unwrap(),
        ))
    };
    let before = ours.store().audit_log().unwrap().len();

    let trusted = source(&other_root, false);
    let bt = ours
        .augment(
            &b_b,
            None,
            Level::BT,
            &ValidationData::default(),
            Some(&trusted),
            SignerSelection::All,
            now(),
            "api:ra",
        )
        .unwrap();
    assert_eq!(bt.level, Level::BT);
    let log = ours.store().audit_log().unwrap();
    assert_eq!(
        log.len(),
        before + 1,
        "no `timestamp` record: the token is not ours"
    );
    let record = log.last().unwrap();
    assert_eq!(record.event.action, AuditAction::Augment);
    assert!(
        record
            .event
            .details
            .contains(&("tsa".to_owned(), "https://tsa.other.invalid/".to_owned()))
    );

    let untrusted = source(&our_root, false);
    let e = ours
        .augment(
            &b_b,
            None,
            Level::BT,
            &ValidationData::default(),
            Some(&untrusted),
            SignerSelection::All,
            now(),
            "api:ra",
        )
        .unwrap_err();
    assert!(matches!(e, AugmentError::UntrustedToken { .. }), "{e}");

    let replayed = source(&other_root, true);
    let e = ours
        .augment(
            &b_b,
            None,
            Level::BT,
            &ValidationData::default(),
            Some(&replayed),
            SignerSelection::All,
            now(),
            "api:ra",
        )
        .unwrap_err();
    assert!(
        matches!(
            e,
            AugmentError::TsaResponse {
                error: ca_core::tsp::ClientError::NonceMismatch,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(
        ours.store().audit_log().unwrap().len(),
        before + 1,
        "refusals write nothing"
    );
    // A foreign TSA's transport and credentials never show in Debug.
    assert!(!format!("{trusted:?}").contains("InProcess"));
}

/// Two detached signatures over [`DOC`] by signers of `other`, as one SignedData with two
/// SignerInfos (a document co-signed by two practitioners), and `other`'s root and CRLs.
fn co_signed(other: &Authority<SledStore>) -> (Vec<u8>, Vec<u8>, Vec<Vec<u8>>) {
    use cms::content_info::ContentInfo;
    use cms::signed_data::SignedData;
    use der::{Decode, Encode};
    let (first, root, crls) = foreign_signature(other);
    let (second, _, _) = foreign_signature(other);
    let signed_data = |der: &[u8]| {
        ContentInfo::from_der(der)
            .unwrap()
            .content
            .decode_as::<SignedData>()
            .unwrap()
    };
    let mut merged = signed_data(&first);
    let other_sd = signed_data(&second);
    for si in other_sd.signer_infos.0.iter() {
        merged.signer_infos.0.insert(si.clone()).unwrap();
    }
    let certificates = merged.certificates.as_mut().unwrap();
    for cert in other_sd.certificates.unwrap().0.iter() {
        if !certificates.0.iter().any(|c| c == cert) {
            certificates.0.insert(cert.clone()).unwrap();
        }
    }
    let cms = ContentInfo {
        content_type: const_oid::db::rfc5911::ID_SIGNED_DATA,
        content: der::Any::encode_from(&merged).unwrap(),
    }
    .to_der()
    .unwrap();
    (cms, root, crls)
}

/// Each archive time-stamp of `signer` in `report`, passed, and how many.
fn passed_archives(report: &ca_core::verify::Report, signer: usize) -> usize {
    let json = serde_json::to_string_pretty(report).unwrap();
    let s = &report.signatures[signer];
    assert_eq!(
        s.indication,
        ca_core::verify::Indication::TotalPassed,
        "{json}"
    );
    let archives: Vec<_> = s
        .timestamps
        .iter()
        .filter(|t| t.kind == "archive-time-stamp-v3")
        .collect();
    assert!(
        archives
            .iter()
            .all(|t| t.outcome == ca_core::verify::Outcome::Passed),
        "{json}"
    );
    archives.len()
}

/// A co-signed signature: every SignerInfo gets a signature time-stamp and its own
/// archive-time-stamp-v3, added after all validation data, so the first signer's still verifies
/// once the second's is added (EN 319 122-1 §5.5.3: each index lists only its own signer's
/// unsigned attributes); a renewal of one selected signer leaves the other's as they were; a
/// selection out of range is refused before any token or record.
#[test]
fn every_signer_of_a_co_signed_signature_gets_its_own_archive_time_stamp() {
    let dir = tempfile::tempdir().unwrap();
    let ours = authority(&dir.path().join("ours"), "hpki Augmenting Hospital", 23);
    let other = authority(&dir.path().join("other"), "Other Hospital", 24);
    let (b_b, other_root, other_crls) = co_signed(&other);
    let source = ours.timestamp_source().unwrap();
    let extra = ValidationData {
        crls: other_crls,
        ..ValidationData::default()
    };
    let mut policy = ca_core::verify::Policy::new(now() + 1);
    policy.trust_anchors = vec![other_root, ours.ca_certificate("root").unwrap().to_vec()];
    let before = ours.store().audit_log().unwrap().len();

    let raise = |cms: &[u8], signers| {
        ours.augment(
            cms,
            Some(DOC),
            Level::BLTA,
            &extra,
            Some(&source),
            signers,
            now(),
            "api:ra",
        )
    };
    let e = raise(&b_b, SignerSelection::One(2)).unwrap_err();
    assert!(
        matches!(
            e,
            AugmentError::Cades(cades::CadesError::NoSigner { index: 2, count: 2 })
        ),
        "{e}"
    );
    assert_eq!(ours.store().audit_log().unwrap().len(), before);

    let lta = raise(&b_b, SignerSelection::All).unwrap();
    // Two signature time-stamps, then two archive time-stamps.
    assert_eq!(lta.tokens.len(), 4, "{lta:?}");
    assert_eq!(lta.level, Level::BLTA);
    assert_eq!(
        lta.signers
            .iter()
            .map(|s| (s.index, s.from, s.level))
            .collect::<Vec<_>>(),
        [(0, Level::BB, Level::BLTA), (1, Level::BB, Level::BLTA)]
    );
    let report = ca_core::verify::verify_bytes(&lta.cms, Some(DOC), &policy);
    assert_eq!(
        (passed_archives(&report, 0), passed_archives(&report, 1)),
        (1, 1)
    );
    let log = ours.store().audit_log().unwrap();
    let record = log.last().unwrap();
    let indices: Vec<&str> = record
        .event
        .details
        .iter()
        .filter(|(k, _)| k == "signer_index")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(indices, ["0", "1"]);

    let renewed = raise(&lta.cms, SignerSelection::All).unwrap();
    assert_eq!(
        renewed.tokens.len(),
        2,
        "one archive time-stamp each, no other"
    );
    let report = ca_core::verify::verify_bytes(&renewed.cms, Some(DOC), &policy);
    assert_eq!(
        (passed_archives(&report, 0), passed_archives(&report, 1)),
        (2, 2)
    );

    let one = raise(&renewed.cms, SignerSelection::One(1)).unwrap();
    assert_eq!(one.signers.len(), 1);
    assert_eq!(one.tokens.len(), 1);
    let report = ca_core::verify::verify_bytes(&one.cms, Some(DOC), &policy);
    let counts = (passed_archives(&report, 0), passed_archives(&report, 1));
    assert!(counts == (2, 3) || counts == (3, 2), "{counts:?}");
}
