//! Issue 14 item 5, the second part: OCSP responses as validation data (RFC 6960: responder
//! authorisation, CertID, freshness) embedded in `SignedData.crls` or supplied by the relying
//! party; archive time-stamps as proof of existence for the time-stamps they cover (EN 319 102-1
//! §5.6.2.3: a TSA certificate expired since, an algorithm past its sunset); when renewal is due.
//! Real keys, real responses from `Authority::ocsp_response`, fixed times.

use crate::support::{bt, fresh_ca};
use crate::verify_ltv::{
    DAY, HOUR, Ltv, NOW, POLICY_OID, S, TST, check, one, setup, setup_with, verdict,
};
use ca_core::cades::Level;
use ca_core::issue::Registration;
use ca_core::key::{KeyAlgorithm, SigningKey};
use ca_core::ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspGeneralizedTime, OcspRequest, OcspResponse,
    OcspResponseStatus, Request, ResponderId, ResponseBytes, ResponseData, SingleResponse,
    TbsRequest, Version,
};
use ca_core::sign::DigestAlgorithm;
use ca_core::tsp::Tsa;
use ca_core::verify::{
    AlgorithmCatalogue, Indication, Outcome, Policy, SignatureReport, SubIndication,
    TimestampReport, rfc3339, verify_bytes,
};
use const_oid::db::rfc5912::ID_SHA_1;
use der::asn1::{BitString, GeneralizedTime, OctetString};
use der::{Decode, Encode};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::serial_number::SerialNumber;

/// A CertID (SHA-1, as RFC 5019 clients send) for `cert` under its issuer `issuer`.
fn cert_id(cert: &[u8], issuer: &[u8]) -> CertId {
    let cert = Certificate::from_der(cert).unwrap();
    let issuer = Certificate::from_der(issuer).unwrap();
    let sha1 = |d: &[u8]| DigestAlgorithm::Sha1.digest(d);
    CertId {
        hash_algorithm: AlgorithmIdentifierOwned {
            oid: ID_SHA_1,
            parameters: None,
        },
        issuer_name_hash: OctetString::new(sha1(
            &issuer.tbs_certificate().subject().to_der().unwrap(),
        ))
        .unwrap(),
        issuer_key_hash: OctetString::new(sha1(
            issuer
                .tbs_certificate()
                .subject_public_key_info()
                .subject_public_key
                .raw_bytes(),
        ))
        .unwrap(),
        serial_number: SerialNumber::new(cert.tbs_certificate().serial_number().as_bytes())
            .unwrap(),
    }
}

/// The authority's own OCSP answer about `cert` (issued by `issuer`) at `at`.
fn ask(l: &Ltv, cert: &[u8], issuer: &[u8], at: u64) -> Vec<u8> {
    let request = OcspRequest {
        tbs_request: TbsRequest {
            version: Default::default(),
            requestor_name: None,
            request_list: vec![Request {
                req_cert: cert_id(cert, issuer),
                single_request_extensions: None,
            }],
            request_extensions: None,
        },
        optional_signature: None,
    }
    .to_der()
    .unwrap();
    let answer = l.authority.ocsp_response(&request, at).unwrap();
    assert_eq!(answer.response_status, OcspResponseStatus::Successful);
    answer.der
}

/// The answers for the signer (from the sign CA's delegated responder), the sign CA (from the
/// root itself) and the TSA (the sign CA's responder): everything below the root, by OCSP.
fn answers(l: &Ltv, at: u64) -> Vec<Vec<u8>> {
    let (sign_ca, root) = (&l.chain[0], &l.chain[1]);
    vec![
        ask(l, &l.certificate, sign_ca, at),
        ask(l, sign_ca, root, at),
        ask(l, &l.tsa_certificate, sign_ca, at),
    ]
}

fn gt(t: u64) -> OcspGeneralizedTime {
    OcspGeneralizedTime(
        GeneralizedTime::from_unix_duration(std::time::Duration::from_secs(t)).unwrap(),
    )
}

/// A `good` response about `cert` signed by `key` under `responder` (any certificate: the
/// verifier must judge whether it may answer), responderID byKey.
fn hand_response(key: &SigningKey, responder: &[u8], id: CertId, at: u64) -> Vec<u8> {
    hand_response_saying(key, responder, id, at, CertStatus::good())
}

fn hand_response_saying(
    key: &SigningKey,
    responder: &[u8],
    id: CertId,
    at: u64,
    status: CertStatus,
) -> Vec<u8> {
    let tbs = ResponseData {
        version: Version::V1,
        responder_id: ResponderId::ByKey(
            OctetString::new(ca_core::ocsp::responder_key_hash(key.public_key_info()).as_slice())
                .unwrap(),
        ),
        produced_at: gt(at),
        responses: vec![SingleResponse {
            cert_id: id,
            cert_status: status,
            this_update: gt(at),
            next_update: Some(gt(at + HOUR)),
            single_extensions: None,
        }],
        response_extensions: None,
    };
    let signature = key.sign(&tbs.to_der().unwrap()).unwrap();
    let basic = BasicOcspResponse {
        tbs_response_data: tbs,
        signature_algorithm: key.signature_algorithm(),
        signature: BitString::from_bytes(&signature).unwrap(),
        certs: Some(vec![Certificate::from_der(responder).unwrap()]),
    };
    OcspResponse {
        response_status: OcspResponseStatus::Successful,
        response_bytes: Some(ResponseBytes {
            response_type: ca_core::oid::ID_PKIX_OCSP_BASIC,
            response: OctetString::new(basic.to_der().unwrap()).unwrap(),
        }),
    }
    .to_der()
    .unwrap()
}

/// B-LT with OCSP answers and no CRL.
fn b_lt_by_ocsp(l: &Ltv, ocsp: &[Vec<u8>]) -> Vec<u8> {
    let btt = bt::timestamped(&l.sign(S), &l.tsa, TST);
    ca_core::cades::add_validation_data(&btt, &[], &[], ocsp).unwrap()
}

fn sources<'a>(s: &'a SignatureReport, who: &str) -> Vec<(&'a str, &'a str, &'a str)> {
    s.revocation_sources
        .iter()
        .filter(|r| r.subject.contains(who))
        .map(|r| (r.kind, r.origin, r.this_update.as_str()))
        .collect()
}

/// B-LT whose revocation data is OCSP answers alone (the signer's from the sign CA's delegated
/// responder, the sign CA's from the root), verified after the signer's certificate expired and
/// every answer's nextUpdate passed, with nothing but the root: TOTAL-PASSED, each certificate's
/// revocation source "OCSP, embedded" with the answer's thisUpdate.
#[test]
fn b_lt_with_embedded_ocsp_answers_verifies_after_the_signer_expired() {
    let l = setup();
    let blt = b_lt_by_ocsp(&l, &answers(&l, TST + 60));
    let later = NOW + 2 * 365 * DAY;
    let report = verify_bytes(&blt, None, &l.policy(later, Vec::new()));
    assert_eq!(
        verdict(&report),
        (Indication::TotalPassed, None),
        "{report:#?}"
    );
    let s = one(&report);
    assert_eq!(s.level, Some(Level::BLT));
    assert_eq!(s.best_signature_time.as_deref(), Some(&*rfc3339(TST)));
    let revocation = check(s, "revocation");
    assert_eq!(revocation.outcome, Outcome::Passed, "{s:#?}");
    assert!(revocation.reason.contains("OCSP"), "{}", revocation.reason);
    let at = rfc3339(TST + 60);
    assert_eq!(
        sources(s, "Hanako Sato"),
        [("OCSP", "embedded", at.as_str())],
        "{s:#?}"
    );
    assert_eq!(
        sources(s, "HPKI Signature CA"),
        [("OCSP", "embedded", at.as_str())]
    );
    assert!(
        s.checks.iter().all(|c| c.name != "revocation-data"),
        "{s:#?}"
    );

    // Without the answers the same signature has no revocation data for the signer at all.
    let bare = bt::timestamped(&l.sign(S), &l.tsa, TST);
    let mut policy = l.policy(later, Vec::new());
    policy.crls = vec![l.authority.crl("root", TST + 60, "test:crl").unwrap()];
    let report = verify_bytes(&bare, None, &policy);
    assert_ne!(report.indication, Indication::TotalPassed, "{report:#?}");
}

/// Answers that may not speak for the signer are not used, and the report says why: one signed
/// by the TSA's key (a certificate of the same CA without id-kp-OCSPSigning), one by a delegated
/// responder of another CA. Without other data the signer's status is not determined:
/// INDETERMINATE / TRY_LATER, the reasons in the revocation check and as warnings.
#[test]
fn answers_from_unauthorised_responders_are_not_used() {
    let l = setup();
    let (sign_ca, root) = (&l.chain[0], &l.chain[1]);
    let by_tsa = hand_response(
        &l.tsa_key,
        &l.tsa_certificate,
        cert_id(&l.certificate, sign_ca),
        TST + 60,
    );
    // A responder with OCSPSigning, certified by another installation's sign CA.
    let other = setup();
    let key = SigningKey::generate(KeyAlgorithm::P256).unwrap();
    let registration = Registration {
        profile: "ocsp-sign".into(),
        subject: ca_core::name::parse_subject("C=JP,O=Other Hospital,CN=Other OCSP Responder")
            .unwrap(),
        sans: vec![],
        hc_roles: vec![],
        validity_days: Some(30),
    };
    let foreign = other
        .authority
        .issue(&registration, &fresh_ca::csr(&key), NOW, "test:ra")
        .unwrap();
    let by_other_ca = hand_response(
        &key,
        &foreign.certificate,
        cert_id(&l.certificate, sign_ca),
        TST + 60,
    );
    let root_answer = ask(&l, sign_ca, root, TST + 60);
    let tsa_answer = ask(&l, &l.tsa_certificate, sign_ca, TST + 60);

    for (bad, why) in [
        (
            &by_tsa,
            "has no extendedKeyUsage id-kp-OCSPSigning (RFC 6960 §4.2.2.2)",
        ),
        (
            &by_other_ca,
            "is not a delegated responder of CN=hpki LTV Tests HPKI Signature CA",
        ),
    ] {
        let blt = b_lt_by_ocsp(&l, &[bad.clone(), root_answer.clone(), tsa_answer.clone()]);
        let report = verify_bytes(&blt, None, &l.policy(NOW + 30 * DAY, Vec::new()));
        assert_eq!(
            verdict(&report),
            (Indication::Indeterminate, Some(SubIndication::TryLater)),
            "{report:#?}"
        );
        let s = one(&report);
        let revocation = check(s, "revocation");
        assert!(
            revocation.reason.contains("CN=Hanako Sato")
                && revocation.reason.contains("not used")
                && revocation.reason.contains(why),
            "{}",
            revocation.reason
        );
        assert!(sources(s, "Hanako Sato").is_empty(), "{s:#?}");
    }

    // The same unauthorised answer beside a usable one: the path passes, the refusal is a
    // warning, and the source is the usable answer.
    let good = ask(&l, &l.certificate, sign_ca, TST + 60);
    let blt = b_lt_by_ocsp(&l, &[by_tsa, good, root_answer, tsa_answer]);
    let report = verify_bytes(&blt, None, &l.policy(NOW + 30 * DAY, Vec::new()));
    assert_eq!(
        verdict(&report),
        (Indication::TotalPassed, None),
        "{report:#?}"
    );
    let s = one(&report);
    let warning = s
        .checks
        .iter()
        .find(|c| c.name == "revocation-data" && c.reason.contains("id-kp-OCSPSigning"))
        .unwrap_or_else(|| panic!("{s:#?}"));
    assert_eq!(warning.outcome, Outcome::Warning);
    assert_eq!(sources(s, "Hanako Sato").len(), 1, "{s:#?}");
}

/// A delegated responder certified with id-kp-OCSPSigning but a keyUsage of nonRepudiation
/// alone (a copy of the `ocsp-sign` profile so edited; the CA's own responder keeps
/// `ocsp-sign`): its key may not sign responses (RFC 5280 §4.2.1.3, RFC 6960 §4.2.2.2), so its
/// `good` answer for the signer is not used, the reason in the revocation check: INDETERMINATE /
/// TRY_LATER.
#[test]
fn a_responder_whose_key_usage_lacks_digital_signature_is_not_used() {
    let mut files: Vec<(String, String)> = ca_core::profile::ProfileSet::embedded_sources()
        .iter()
        .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
        .collect();
    let edited = files
        .iter()
        .find(|(n, _)| n == "ocsp-sign.toml")
        .unwrap()
        .1
        .replace("id = \"ocsp-sign\"", "id = \"ocsp-sign-nr\"")
        .replace(
            "bits = [\"digitalSignature\"]",
            "bits = [\"nonRepudiation\"]",
        );
    files.push(("ocsp-sign-nr.toml".into(), edited));
    let l = setup_with(ca_core::profile::ProfileSet::from_sources(&files).unwrap());
    let (sign_ca, root) = (&l.chain[0], &l.chain[1]);
    let key = SigningKey::generate(KeyAlgorithm::P256).unwrap();
    let registration = Registration {
        profile: "ocsp-sign-nr".into(),
        subject: ca_core::name::parse_subject("C=JP,O=hpki LTV Tests,CN=Test OCSP Responder")
            .unwrap(),
        sans: vec![],
        hc_roles: vec![],
        validity_days: Some(30),
    };
    let responder = l
        .authority
        .issue(&registration, &fresh_ca::csr(&key), NOW, "test:ra")
        .unwrap()
        .certificate;
    let usage = Certificate::from_der(&responder)
        .unwrap()
        .tbs_certificate()
        .get_extension::<x509_cert::ext::pkix::KeyUsage>()
        .unwrap()
        .unwrap()
        .1;
    assert!(!usage.digital_signature() && usage.non_repudiation());
    let answer = hand_response(&key, &responder, cert_id(&l.certificate, sign_ca), TST + 60);
    let root_answer = ask(&l, sign_ca, root, TST + 60);
    let tsa_answer = ask(&l, &l.tsa_certificate, sign_ca, TST + 60);
    let blt = b_lt_by_ocsp(&l, &[answer, root_answer, tsa_answer]);
    let report = verify_bytes(&blt, None, &l.policy(NOW + 30 * DAY, Vec::new()));
    assert_eq!(
        verdict(&report),
        (Indication::Indeterminate, Some(SubIndication::TryLater)),
        "{report:#?}"
    );
    let s = one(&report);
    let revocation = check(s, "revocation");
    assert!(
        revocation.reason.contains("CN=Hanako Sato")
            && revocation
                .reason
                .contains("its responder CN=Test OCSP Responder,O=hpki LTV Tests,C=JP (serial ")
            && revocation.reason.contains(
                "has id-kp-OCSPSigning but a keyUsage without digitalSignature: its key may not \
                 sign responses (RFC 5280 §4.2.1.3, RFC 6960 §4.2.2.2)"
            ),
        "{}",
        revocation.reason
    );
    assert!(sources(s, "Hanako Sato").is_empty(), "{s:#?}");
}

/// A delegated responder of the sign CA (`ocsp-sign` profile: OCSPSigning, nocheck) whose key
/// the test holds.
fn delegated_responder(issuer: &Ltv) -> (SigningKey, Vec<u8>) {
    delegated_responder_with(issuer, KeyAlgorithm::P256)
}

fn delegated_responder_with(issuer: &Ltv, algorithm: KeyAlgorithm) -> (SigningKey, Vec<u8>) {
    let key = SigningKey::generate(algorithm).unwrap();
    let registration = Registration {
        profile: "ocsp-sign".into(),
        subject: ca_core::name::parse_subject("C=JP,O=hpki LTV Tests,CN=Test OCSP Responder")
            .unwrap(),
        sans: vec![],
        hc_roles: vec![],
        validity_days: Some(30),
    };
    let issued = issuer
        .authority
        .issue(&registration, &fresh_ca::csr(&key), NOW, "test:ra")
        .unwrap();
    (key, issued.certificate)
}

/// An authorised responder that says `unknown` (RFC 6960 §2.2) leaves the signer's status
/// undetermined: INDETERMINATE / TRY_LATER, the answer named. The same responder's `good`
/// answer is used (so the responder itself is authorised). A `good` answer whose nextUpdate is
/// before the validation time, for a signature without time-stamp, is stale (§3.2 (6)): not
/// used, and said so.
#[test]
fn unknown_and_stale_answers_leave_the_status_undetermined() {
    let l = setup();
    let (sign_ca, root) = (&l.chain[0], &l.chain[1]);
    let (key, responder) = delegated_responder(&l);
    let id = || cert_id(&l.certificate, sign_ca);
    let at = TST + 60;
    let others = [
        ask(&l, sign_ca, root, at),
        ask(&l, &l.tsa_certificate, sign_ca, at),
    ];
    let with = |answer: Vec<u8>| {
        let mut all = vec![answer];
        all.extend(others.iter().cloned());
        b_lt_by_ocsp(&l, &all)
    };

    let unknown = hand_response_saying(&key, &responder, id(), at, CertStatus::unknown());
    let report = verify_bytes(&with(unknown), None, &l.policy(NOW + 30 * DAY, Vec::new()));
    assert_eq!(
        verdict(&report),
        (Indication::Indeterminate, Some(SubIndication::TryLater)),
        "{report:#?}"
    );
    let reason = &check(one(&report), "revocation").reason;
    assert!(
        reason.contains("says unknown for SERIALNUMBER=P-0042,CN=Hanako Sato")
            && reason.contains("RFC 6960 §2.2"),
        "{reason}"
    );

    let good = hand_response(&key, &responder, id(), at);
    let report = verify_bytes(
        &with(good.clone()),
        None,
        &l.policy(NOW + 30 * DAY, Vec::new()),
    );
    assert_eq!(
        verdict(&report),
        (Indication::TotalPassed, None),
        "{report:#?}"
    );

    // B-B at a time after the answer's nextUpdate (an hour after thisUpdate): stale.
    let mut policy = l.policy(at + 2 * HOUR, Vec::new());
    policy.ocsp_responses = vec![good, ask(&l, sign_ca, root, at + 2 * HOUR)];
    let report = verify_bytes(&l.sign(S), None, &policy);
    assert_eq!(
        verdict(&report),
        (Indication::Indeterminate, Some(SubIndication::TryLater)),
        "{report:#?}"
    );
    let reason = &check(one(&report), "revocation").reason;
    assert!(
        reason.contains(&format!(
            "not used: stale, nextUpdate {} is before the validation time",
            rfc3339(at + HOUR)
        )),
        "{reason}"
    );
}

/// The algorithm catalogue judges the OCSP answers that spoke for the path as it judges CRLs:
/// an answer from an Ed25519 responder after an (edited) Ed25519 sunset leaves the path
/// INDETERMINATE / CRYPTO_CONSTRAINTS_FAILURE_NO_POE, naming the response; with the shipped
/// catalogue the same inputs pass.
#[test]
fn ocsp_answers_are_judged_by_the_algorithm_catalogue() {
    let l = setup();
    let (sign_ca, root) = (&l.chain[0], &l.chain[1]);
    let (key, responder) = delegated_responder_with(&l, KeyAlgorithm::Ed25519);
    let at = NOW + 30 * DAY;
    let mut policy = l.policy(at, Vec::new());
    policy.ocsp_responses = vec![
        hand_response(&key, &responder, cert_id(&l.certificate, sign_ca), at - 60),
        ask(&l, sign_ca, root, at - 60),
    ];
    let bb = l.sign(S);
    let report = verify_bytes(&bb, None, &policy);
    assert_eq!(
        verdict(&report),
        (Indication::TotalPassed, None),
        "{report:#?}"
    );
    assert_eq!(
        sources(one(&report), "Hanako Sato"),
        [("OCSP", "supplied", &*rfc3339(at - 60))]
    );

    policy.algorithms = std::sync::Arc::new(
        AlgorithmCatalogue::from_toml(
            "test.toml",
            "title = \"t\"\n[[key]]\nfamily = \"ed25519\"\nsunset = 2026-01-20\nsource = \"test sunset\"\n",
        )
        .unwrap(),
    );
    let report = verify_bytes(&bb, None, &policy);
    assert_eq!(
        verdict(&report),
        (
            Indication::Indeterminate,
            Some(SubIndication::CryptoConstraintsFailureNoPoe)
        ),
        "{report:#?}"
    );
    let failure = one(&report).first_failure().unwrap();
    assert!(
        failure.reason.contains("OCSP response #")
            && failure.reason.contains("Ed25519")
            && failure.reason.contains("not acceptable from 2026-01-20 on"),
        "{}",
        failure.reason
    );
}

/// A delegated responder certified without id-pkix-ocsp-nocheck (the `ocsp-sign` profile edited)
/// has its own status checked at producedAt by the CRLs (RFC 6960 §4.2.2.2.1): with no CRL its
/// answer is not used (TRY_LATER, said why); with the sign CA's CRL it is used (the signer's
/// sources name it); once the responder is revoked before producedAt it is not, and a warning
/// says so while the CRL answers for the signer.
#[test]
fn a_responder_without_nocheck_is_checked_by_the_crls() {
    let files: Vec<(String, String)> = ca_core::profile::ProfileSet::embedded_sources()
        .iter()
        .map(|(n, t)| {
            let text = if *n == "ocsp-sign.toml" {
                t.replace("ocsp_nocheck = true", "ocsp_nocheck = false")
            } else {
                (*t).to_owned()
            };
            ((*n).to_owned(), text)
        })
        .collect();
    let l = setup_with(ca_core::profile::ProfileSet::from_sources(&files).unwrap());
    let (sign_ca, root) = (&l.chain[0], &l.chain[1]);
    let (key, responder) = delegated_responder(&l);
    assert!(
        !Certificate::from_der(&responder)
            .unwrap()
            .tbs_certificate()
            .extensions()
            .into_iter()
            .flatten()
            .any(|e| e.extn_id == ca_core::oid::ID_PKIX_OCSP_NOCHECK)
    );
    let at = TST + 600;
    let answer = hand_response(&key, &responder, cert_id(&l.certificate, sign_ca), at);
    let bb = l.sign(S);
    let mut policy = l.policy(at + 60, Vec::new());
    policy.ocsp_responses = vec![answer.clone(), ask(&l, sign_ca, root, at)];
    let report = verify_bytes(&bb, None, &policy);
    assert_eq!(
        verdict(&report),
        (Indication::Indeterminate, Some(SubIndication::TryLater)),
        "{report:#?}"
    );
    let reason = &check(one(&report), "revocation").reason;
    assert!(
        reason.contains("has no id-pkix-ocsp-nocheck and its own status is not determined"),
        "{reason}"
    );

    policy.crls = vec![l.authority.crl("sign", at - 60, "test:crl").unwrap()];
    let report = verify_bytes(&bb, None, &policy);
    assert_eq!(
        verdict(&report),
        (Indication::TotalPassed, None),
        "{report:#?}"
    );
    let kinds: Vec<_> = sources(one(&report), "Hanako Sato")
        .iter()
        .map(|(k, _, _)| *k)
        .collect();
    assert_eq!(kinds, ["CRL", "OCSP"]);

    let serial = Certificate::from_der(&responder)
        .unwrap()
        .tbs_certificate()
        .serial_number()
        .as_bytes()
        .to_vec();
    l.authority
        .revoke(
            &serial,
            ca_core::store::RevocationReason::KeyCompromise,
            None,
            at - 30,
            "test:ra",
        )
        .unwrap();
    policy.crls = vec![l.authority.crl("sign", at - 10, "test:crl").unwrap()];
    let report = verify_bytes(&bb, None, &policy);
    assert_eq!(
        verdict(&report),
        (Indication::TotalPassed, None),
        "{report:#?}"
    );
    let s = one(&report);
    let kinds: Vec<_> = sources(s, "Hanako Sato")
        .iter()
        .map(|(k, _, _)| *k)
        .collect();
    assert_eq!(kinds, ["CRL"]);
    assert!(
        s.checks.iter().any(|c| c.name == "revocation-data"
            && c.outcome == Outcome::Warning
            && c.reason.contains("Test OCSP Responder")
            && c.reason.contains("is revoked")),
        "{s:#?}"
    );
}

/// Revoked (keyCompromise) ten minutes before signing, and the embedded OCSP answer says so:
/// TOTAL-FAILED / REVOKED, the answer named. A `good` answer issued after the time-stamp about a
/// certificate revoked later is a "revoked later": the time-stamp keeps the signature valid.
#[test]
fn an_ocsp_answer_revoked_before_the_time_stamp_is_revoked() {
    let l = setup();
    l.revoke(S - 600);
    let blt = b_lt_by_ocsp(&l, &answers(&l, TST + 60));
    let report = verify_bytes(&blt, None, &l.policy(NOW + 30 * DAY, Vec::new()));
    assert_eq!(
        verdict(&report),
        (Indication::TotalFailed, Some(SubIndication::Revoked)),
        "{report:#?}"
    );
    let failure = one(&report).first_failure().unwrap();
    assert_eq!(failure.name, "revocation");
    assert!(
        failure.reason.contains("CN=Hanako Sato")
            && failure.reason.contains(&format!(
                "says revoked on {} (reason keyCompromise)",
                rfc3339(S - 600)
            )),
        "{}",
        failure.reason
    );

    // Revoked two days after the time-stamp; the relying party supplies the answer saying so.
    let l = setup();
    let btt = bt::timestamped(&l.sign(S), &l.tsa, TST);
    l.revoke(NOW + 2 * DAY);
    let mut policy = l.policy(NOW + 3 * DAY, Vec::new());
    policy.ocsp_responses = answers(&l, NOW + 2 * DAY + 60);
    let report = verify_bytes(&btt, None, &policy);
    assert_eq!(
        verdict(&report),
        (Indication::TotalPassed, None),
        "{report:#?}"
    );
    let s = one(&report);
    assert!(
        check(s, "proof-of-existence")
            .reason
            .contains(&format!("was revoked on {}", rfc3339(NOW + 2 * DAY))),
        "{s:#?}"
    );
    assert_eq!(
        sources(s, "Hanako Sato"),
        [("OCSP", "supplied", &*rfc3339(NOW + 2 * DAY + 60))]
    );
}

/// A TSA certified for `days` days from NOW, with a key of `algorithm`.
pub(crate) fn short_tsa(l: &Ltv, days: u32, algorithm: KeyAlgorithm, cn: &str) -> (Tsa, Vec<u8>) {
    let key = SigningKey::generate(algorithm).unwrap();
    let registration = Registration {
        profile: "tsa".into(),
        subject: ca_core::name::parse_subject(&format!("C=JP,O=hpki TSA Tests,CN={cn}")).unwrap(),
        sans: vec![],
        hc_roles: vec![],
        validity_days: Some(days),
    };
    let issued = l
        .authority
        .issue(&registration, &fresh_ca::csr(&key), NOW, "test:ra")
        .unwrap();
    let tsa = Tsa::new(
        key,
        &issued.certificate,
        &issued.chain,
        POLICY_OID.parse().unwrap(),
    )
    .unwrap();
    (tsa, issued.certificate)
}

pub(crate) fn not_after(cert: &[u8]) -> u64 {
    Certificate::from_der(cert)
        .unwrap()
        .tbs_certificate()
        .validity()
        .not_after
        .to_unix_duration()
        .as_secs()
}

pub(crate) fn stamp<'a>(s: &'a SignatureReport, kind: &str, number: usize) -> &'a TimestampReport {
    s.timestamps
        .iter()
        .find(|t| t.kind == kind && t.number == number)
        .unwrap_or_else(|| panic!("no {kind} #{number}: {s:#?}"))
}

/// The signature time-stamp's TSA certificate lives 30 days; an archive time-stamp from a
/// long-lived TSA on day 20 covers it. A year and a half on (the signer's certificate and the
/// first TSA's both expired): TOTAL-PASSED, the signature time-stamp valid by the archive
/// time-stamp's proof of existence (EN 319 102-1 §5.6.2.3), renewal due when the archive TSA's
/// certificate expires. Without the archive time-stamp the signature time-stamp is not trusted:
/// INDETERMINATE / OUT_OF_BOUNDS_NO_POE for the token (§5.2.6: the validation time is past its
/// TSA certificate's notAfter, and nothing proves the token existed before), hence no
/// best-signature-time and the signature not TOTAL-PASSED.
#[test]
fn an_archive_time_stamp_keeps_a_time_stamp_whose_tsa_certificate_expired() {
    let l = setup();
    let (short, short_cert) = short_tsa(&l, 30, KeyAlgorithm::P256, "hpki Short-Lived TSU");
    let btt = bt::timestamped(&l.sign(S), &short, TST);
    let blt = bt::embed_crls(&btt, &l.crls(TST + 60));
    let on_day_20 = NOW + 20 * DAY;
    let blta = bt::archived(
        &bt::embed_crls(&blt, &l.crls(on_day_20 - 60)),
        &l.tsa,
        on_day_20,
    );
    let later = NOW + 540 * DAY;
    assert!(later > not_after(&short_cert) && later > NOW + 365 * DAY);

    let report = verify_bytes(&blta, None, &l.policy(later, Vec::new()));
    assert_eq!(
        verdict(&report),
        (Indication::TotalPassed, None),
        "{report:#?}"
    );
    let s = one(&report);
    assert_eq!(s.level, Some(Level::BLTA));
    assert_eq!(s.best_signature_time.as_deref(), Some(&*rfc3339(TST)));
    let sig = stamp(s, "signature-time-stamp", 1);
    assert_eq!(sig.outcome, Outcome::Passed, "{sig:#?}");
    let proof = format!("archive-time-stamp-v3 #1 (genTime {})", rfc3339(on_day_20));
    assert_eq!(sig.proof_of_existence.as_deref(), Some(&*proof));
    assert!(
        sig.reason.contains(&format!(
            "its TSA certificate expired on {}",
            rfc3339(not_after(&short_cert))
        )) && sig.reason.contains("EN 319 102-1 §5.6.2.3"),
        "{}",
        sig.reason
    );
    assert_eq!(
        s.renewal_due.as_deref(),
        Some(&*rfc3339(not_after(&l.tsa_certificate)))
    );
    assert_eq!(
        s.renewal_due_reason.as_deref(),
        Some("the TSA certificate of archive-time-stamp-v3 #1 expires (notAfter)")
    );

    // B-LT alone: the same signature time-stamp, nothing to prove it older than the expiry.
    let report = verify_bytes(&blt, None, &l.policy(later, Vec::new()));
    assert_ne!(report.indication, Indication::TotalPassed, "{report:#?}");
    let s = one(&report);
    assert_eq!(s.best_signature_time, None, "{s:#?}");
    let sig = stamp(s, "signature-time-stamp", 1);
    assert_eq!(
        (sig.outcome, sig.sub_indication),
        (Outcome::Failed, Some(SubIndication::OutOfBoundsNoPoe)),
        "{sig:#?}"
    );
    assert!(
        sig.reason
            .contains("no archive time-stamp proves the token existed before then")
            && sig.reason.contains("EN 319 102-1 §5.2.6"),
        "{}",
        sig.reason
    );
    assert_eq!(s.renewal_due, None);

    // Verified while it still lives, the B-LT says the first archive time-stamp is due when the
    // signature time-stamp's TSA certificate expires.
    let report = verify_bytes(&blt, None, &l.policy(NOW + 10 * DAY, Vec::new()));
    let s = one(&report);
    assert_eq!(report.indication, Indication::TotalPassed, "{report:#?}");
    assert_eq!(
        s.renewal_due.as_deref(),
        Some(&*rfc3339(not_after(&short_cert)))
    );
    assert_eq!(
        s.renewal_due_reason.as_deref(),
        Some("the TSA certificate of signature-time-stamp #1 expires (notAfter)")
    );
}

/// A catalogue where Ed25519 keys stop being acceptable on day 25. The signature time-stamp's
/// TSA has an Ed25519 key, the archive TSA a P-256 one (its path has no Ed25519 signature),
/// stamping on day 20: on day 100 the signature time-stamp is valid by the archive time-stamp's
/// proof of existence; without it, CRYPTO_CONSTRAINTS_FAILURE_NO_POE (EN 319 102-1 §5.2.8).
/// Renewal is due at the archive TSA certificate's notAfter (nothing of its path has a sunset).
#[test]
fn an_archive_time_stamp_keeps_a_time_stamp_past_its_algorithm_sunset() {
    let l = setup();
    let catalogue = AlgorithmCatalogue::from_toml(
        "test.toml",
        "title = \"t\"\n[[key]]\nfamily = \"ed25519\"\nsunset = 2026-01-26\nsource = \"test sunset\"\n",
    )
    .unwrap();
    let (ed_tsa, _) = short_tsa(&l, 1827, KeyAlgorithm::Ed25519, "hpki Ed25519 TSU");
    let (archive_tsa, archive_cert) = (&l.tsa, &l.tsa_certificate);
    let btt = bt::timestamped(&l.sign(S), &ed_tsa, TST);
    let blt = bt::embed_crls(&btt, &l.crls(TST + 60));
    let on_day_20 = NOW + 20 * DAY;
    let blta = bt::archived(
        &bt::embed_crls(&blt, &l.crls(on_day_20 - 60)),
        archive_tsa,
        on_day_20,
    );
    let policy = |at| Policy {
        algorithms: std::sync::Arc::new(catalogue.clone()),
        ..l.policy(at, Vec::new())
    };
    let report = verify_bytes(&blta, None, &policy(NOW + 100 * DAY));
    assert_eq!(
        verdict(&report),
        (Indication::TotalPassed, None),
        "{report:#?}"
    );
    let s = one(&report);
    let sig = stamp(s, "signature-time-stamp", 1);
    assert!(
        sig.proof_of_existence.is_some()
            && sig
                .reason
                .contains("Ed25519 is not acceptable from 2026-01-26 on"),
        "{sig:#?}"
    );
    assert_eq!(
        s.renewal_due.as_deref(),
        Some(&*rfc3339(not_after(archive_cert)))
    );

    let report = verify_bytes(&blt, None, &policy(NOW + 100 * DAY));
    let s = one(&report);
    let sig = stamp(s, "signature-time-stamp", 1);
    assert_eq!(
        (sig.outcome, sig.sub_indication),
        (
            Outcome::Failed,
            Some(SubIndication::CryptoConstraintsFailureNoPoe)
        ),
        "{sig:#?}"
    );
    assert_eq!(s.best_signature_time, None);

    // Before the sunset, the B-LT's renewal is due at the sunset of its time-stamp's key.
    let report = verify_bytes(&blt, None, &policy(NOW + 10 * DAY));
    let s = one(&report);
    assert_eq!(
        s.renewal_due.as_deref(),
        Some("2026-01-26T00:00:00Z"),
        "{s:#?}"
    );
    assert!(
        s.renewal_due_reason
            .as_deref()
            .is_some_and(|r| r.starts_with("signature-time-stamp #1 uses Ed25519")),
        "{s:#?}"
    );
}

/// B-LTA renewed twice (three archive time-stamps, each with the CRLs of its day): valid, and
/// the newest decides when renewal is due. A byte of a covered certificate (the sign CA's,
/// carried since B-LT) changed: every archive time-stamp fails by name as a hash failure.
/// The certificates' SET reordered (as a foreign encoder may write it): still valid, since what
/// each index lists is looked for by hash, not by place.
#[test]
fn b_lta_renewed_twice_and_tampered_or_reordered() {
    let l = setup();
    let btt = bt::timestamped(&l.sign(S), &l.tsa, TST);
    let mut cms = bt::embed_crls(&btt, &l.crls(TST + 60));
    let days = [30, 365, 700];
    for d in days {
        cms = bt::archived(
            &bt::embed_crls(&cms, &l.crls(NOW + d * DAY - 60)),
            &l.tsa,
            NOW + d * DAY,
        );
    }
    let later = NOW + 1000 * DAY;
    let report = verify_bytes(&cms, None, &l.policy(later, Vec::new()));
    assert_eq!(
        verdict(&report),
        (Indication::TotalPassed, None),
        "{report:#?}"
    );
    let s = one(&report);
    let archives: Vec<_> = s
        .timestamps
        .iter()
        .filter(|t| t.kind == "archive-time-stamp-v3")
        .collect();
    assert_eq!(archives.len(), 3);
    assert!(archives.iter().all(|t| t.outcome == Outcome::Passed));
    assert_eq!(
        archives[0].gen_time.as_deref(),
        Some(&*rfc3339(NOW + 700 * DAY))
    );
    assert_eq!(
        s.renewal_due.as_deref(),
        Some(&*rfc3339(not_after(&l.tsa_certificate)))
    );

    // A covered certificate changed.
    let sign_ca = &l.chain[0];
    let at = cms
        .windows(sign_ca.len())
        .position(|w| w == sign_ca.as_slice())
        .unwrap();
    let mut tampered = cms.clone();
    tampered[at + sign_ca.len() - 1] ^= 0x01;
    let report = verify_bytes(&tampered, None, &l.policy(later, Vec::new()));
    assert_ne!(report.indication, Indication::TotalPassed);
    let s = one(&report);
    let failed: Vec<_> = s
        .timestamps
        .iter()
        .filter(|t| t.kind == "archive-time-stamp-v3")
        .collect();
    assert_eq!(failed.len(), 3, "{s:#?}");
    let named = format!(
        "the certificate #1 it covered (SHA-256 {}) is no longer in the signature",
        hex::encode(DigestAlgorithm::Sha256.digest(sign_ca))
    );
    for t in failed {
        assert_eq!(
            (t.outcome, t.sub_indication),
            (Outcome::Failed, Some(SubIndication::HashFailure)),
            "{t:#?}"
        );
        assert!(t.reason.contains("the certificate #"), "{}", t.reason);
        assert!(
            t.reason.contains(&named[named.find("(SHA-256").unwrap()..]),
            "{}",
            t.reason
        );
    }
    let note = s
        .checks
        .iter()
        .find(|c| c.name == "archive-time-stamp")
        .unwrap();
    assert!(note.reason.contains("#"), "{}", note.reason);

    // The first two certificates of the SET swapped in place (lengths unchanged).
    let doc = ca_core::verify::SignedDocument::parse(&cms).unwrap();
    let certs = doc.certificates();
    let (a, b) = (&certs[0], &certs[1]);
    let pa = cms
        .windows(a.len())
        .position(|w| w == a.as_slice())
        .unwrap();
    assert_eq!(&cms[pa + a.len()..pa + a.len() + b.len()], b.as_slice());
    let mut reordered = cms.clone();
    reordered[pa..pa + b.len()].copy_from_slice(b);
    reordered[pa + b.len()..pa + b.len() + a.len()].copy_from_slice(a);
    assert_ne!(reordered, cms);
    let report = verify_bytes(&reordered, None, &l.policy(later, Vec::new()));
    assert_eq!(
        verdict(&report),
        (Indication::TotalPassed, None),
        "{report:#?}"
    );
    assert!(
        one(&report)
            .timestamps
            .iter()
            .all(|t| t.outcome == Outcome::Passed)
    );
}

/// `cms` (ContentInfo of SignedData) with its SignerInfos SET holding `order`, in that order: as
/// a foreign encoder may write it, not DER-sorted.
fn with_signer_infos_in_order(cms: &[u8], order: &[Vec<u8>]) -> Vec<u8> {
    use der::asn1::Any;
    use der::{Tag, TagNumber};
    let ci: Vec<Any> = Vec::from_der(cms).unwrap();
    let mut fields: Vec<Any> = Vec::from_der(ci[1].value()).unwrap();
    let last = fields.len() - 1;
    fields[last] = Any::new(Tag::Set, order.concat()).unwrap();
    let sd = fields.to_der().unwrap();
    let explicit = Any::new(
        Tag::ContextSpecific {
            constructed: true,
            number: TagNumber(0),
        },
        sd,
    )
    .unwrap();
    vec![ci[0].clone(), explicit].to_der().unwrap()
}

/// Two signers of one document, the B-LTA one written first, the other second, against the DER
/// order of the SET (the decoder sorts it): each signer's archive time-stamp is read from its own
/// SignerInfo as carried, so both signatures are TOTAL-PASSED and the B-LTA's archive
/// time-stamp passes; on the DER-sorted twin too.
#[test]
fn archive_time_stamps_follow_their_signer_whatever_the_set_order() {
    let l = setup();
    let btt = bt::timestamped(&l.sign(S), &l.tsa, TST);
    let blt = bt::embed_crls(&btt, &l.crls(TST + 60));
    let blta = bt::archived(&bt::embed_crls(&blt, &l.crls(TST + 120)), &l.tsa, TST + 180);
    let other = l.sign(S + 5);
    let signer_info = |cms: &[u8]| -> Vec<u8> {
        let ci: Vec<der::asn1::Any> = Vec::from_der(cms).unwrap();
        let fields: Vec<der::asn1::Any> = Vec::from_der(ci[1].value()).unwrap();
        fields.last().unwrap().value().to_vec()
    };
    let (archived_si, other_si) = (signer_info(&blta), signer_info(&other));
    // The larger B-LTA SignerInfo sorts after the plain one: carried first, it is out of order.
    assert!(archived_si.as_slice() > other_si.as_slice());
    for order in [
        [archived_si.clone(), other_si.clone()],
        [other_si.clone(), archived_si.clone()],
    ] {
        let two = with_signer_infos_in_order(&blta, &order);
        let report = verify_bytes(&two, None, &l.policy(NOW + 2 * 365 * DAY, Vec::new()));
        assert_eq!(report.signatures.len(), 2, "{report:#?}");
        let archived: Vec<_> = report
            .signatures
            .iter()
            .filter(|s| s.level == Some(Level::BLTA))
            .collect();
        assert_eq!(archived.len(), 1, "{report:#?}");
        let ats = stamp(archived[0], "archive-time-stamp-v3", 1);
        assert_eq!(ats.outcome, Outcome::Passed, "{ats:#?}");
        assert_eq!(
            archived[0].indication,
            Indication::TotalPassed,
            "{:#?}",
            archived[0]
        );
        // The other signature is B-B: its certificate expired by then, so not TOTAL-PASSED, but
        // no archive time-stamp is judged for it.
        let plain = report
            .signatures
            .iter()
            .find(|s| s.level == Some(Level::BB))
            .unwrap();
        assert!(plain.timestamps.is_empty(), "{plain:#?}");
    }
}

/// Each byte of a real OCSP answer changed in turn, supplied (and some embedded): every one gives
/// a report, none panics, and no changed answer is used as `good`.
#[test]
fn corrupted_ocsp_answers_never_panic_nor_pass() {
    let l = setup();
    let (sign_ca, root) = (&l.chain[0], &l.chain[1]);
    let at = TST + 60;
    let good = ask(&l, &l.certificate, sign_ca, at);
    let ca = ask(&l, sign_ca, root, at);
    let bb = l.sign(S);
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x01;
        let _ = ca_core::verify::decode_ocsp_response(&bad);
        let mut policy = l.policy(at + 60, Vec::new());
        policy.ocsp_responses = vec![bad.clone(), ca.clone()];
        let report = verify_bytes(&bb, None, &policy);
        // Every octet is signed (tbsResponseData by the responder, its certificate by the CA) or
        // structure: no changed answer speaks for the signer.
        assert_ne!(
            report.indication,
            Indication::TotalPassed,
            "byte {i}: {report:#?}"
        );
        if i % 97 == 0 {
            let embedded = ca_core::cades::add_validation_data(
                &bt::timestamped(&bb, &l.tsa, TST),
                &[],
                &[],
                std::slice::from_ref(&bad),
            );
            if let Ok(cms) = embedded {
                let _ = verify_bytes(&cms, None, &l.policy(at + 60, Vec::new()));
            }
        }
    }
}
