//! Issue 14 item 5: long-term validation (ETSI EN 319 102-1 §5.4 time-stamp validation, §5.5 /
//! §5.6 signatures with time and with long-term validation data). A signer with their own key
//! and a time-stamping unit under one fresh CA; signatures made, time-stamped, revoked and
//! verified at fixed times.

use crate::support::{bt, fresh_ca, tsa::issue_tsa_certificate};
use ca_core::authority::Authority;
use ca_core::cades::Level;
use ca_core::hcrole::HcRole;
use ca_core::issue::Registration;
use ca_core::key::{KeyAlgorithm, SigningKey};
use ca_core::profile::CaUrls;
use ca_core::purpose::SigningPolicy;
use ca_core::sign::{DigestAlgorithm, SignatureRequest};
use ca_core::store::{RevocationReason, SledStore};
use ca_core::tsp::Tsa;
use ca_core::verify::{
    Indication, Outcome, Policy, Report, SignatureReport, SubIndication, rfc3339, verify_bytes,
};

/// 2026-01-01T00:00:00Z: the CA, the signer's and the TSA's certificates are made then.
pub(crate) const NOW: u64 = 1_767_225_600;
pub(crate) const HOUR: u64 = 3_600;
pub(crate) const DAY: u64 = 86_400;
/// Signed at S (signingTime), time-stamped a minute later.
pub(crate) const S: u64 = NOW + HOUR;
pub(crate) const TST: u64 = S + 60;
/// The signer's key is compromised and revoked at R.
const R: u64 = NOW + 2 * DAY;
pub(crate) const POLICY_OID: &str = "2.25.2026120701.13.1";
const RX: &[u8] = b"Rx: amoxicillin 500 mg, three times daily for 7 days\n";

pub(crate) struct Ltv {
    pub(crate) authority: Authority<SledStore>,
    pub(crate) key: SigningKey,
    pub(crate) certificate: Vec<u8>,
    pub(crate) chain: Vec<Vec<u8>>,
    pub(crate) serial: Vec<u8>,
    pub(crate) tsa: Tsa,
    pub(crate) tsa_key: SigningKey,
    pub(crate) tsa_certificate: Vec<u8>,
    pub(crate) tsa_chain: Vec<Vec<u8>>,
    pub(crate) _dir: tempfile::TempDir,
}

pub(crate) fn setup() -> Ltv {
    setup_with(ca_core::profile::ProfileSet::embedded().unwrap())
}

/// [`setup`] with the CA's profiles given.
pub(crate) fn setup_with(profiles: ca_core::profile::ProfileSet) -> Ltv {
    let dir = tempfile::tempdir().unwrap();
    let request = fresh_ca::request(
        "hpki LTV Tests",
        "2.25.2026120701",
        CaUrls::default(),
        NOW,
        "test:init",
    );
    let store = SledStore::open(&dir.path().join("store")).unwrap();
    let authority = Authority::init(
        store,
        profiles,
        ca_core::seal::Sealer::from_key(&[7u8; 32]),
        request,
    )
    .unwrap();
    let key = SigningKey::generate(KeyAlgorithm::P256).unwrap();
    let registration = Registration {
        profile: "rhp-sign".into(),
        subject: ca_core::name::parse_subject(
            "C=JP,O=hpki LTV Clinic,CN=Hanako Sato,serialNumber=P-0042",
        )
        .unwrap(),
        sans: vec![],
        hc_roles: vec![HcRole {
            scheme: "1.2.392.100495.1.6.1.1".parse().unwrap(),
            code: None,
            text: Some("Medical Doctor".into()),
        }],
        validity_days: Some(365),
    };
    let issued = authority
        .issue(&registration, &fresh_ca::csr(&key), NOW, "test:ra")
        .unwrap();
    let tsa_key = SigningKey::generate(KeyAlgorithm::P256).unwrap();
    let (tsa_certificate, tsa_chain) = issue_tsa_certificate(&authority, &tsa_key);
    let tsa = Tsa::new(
        SigningKey::from_pkcs8(tsa_key.to_pkcs8().expect("software key").as_slice()).unwrap(),
        &tsa_certificate,
        &tsa_chain,
        POLICY_OID.parse().unwrap(),
    )
    .unwrap();
    Ltv {
        authority,
        key,
        certificate: issued.certificate,
        chain: issued.chain,
        serial: issued.serial,
        tsa,
        tsa_key,
        tsa_certificate,
        tsa_chain,
        _dir: dir,
    }
}

impl Ltv {
    /// B-B: an attached CAdES signature claiming signingTime `at`.
    pub(crate) fn sign(&self, at: u64) -> Vec<u8> {
        let purpose = SigningPolicy::embedded()
            .unwrap()
            .purpose("author")
            .unwrap()
            .oid;
        ca_core::sign::sign(&SignatureRequest {
            key: &self.key,
            certificate: &self.certificate,
            chain: &self.chain,
            digest: &DigestAlgorithm::for_key(&self.key).digest(RX),
            signing_time: at,
            commitment_type: Some(purpose),
            claimed_role: None,
            attached: Some(RX),
        })
        .unwrap()
    }

    pub(crate) fn revoke(&self, at: u64) {
        self.authority
            .revoke(
                &self.serial,
                RevocationReason::KeyCompromise,
                None,
                at,
                "test:ra",
            )
            .unwrap();
    }

    /// The root's and the signing CA's CRLs, published at `at`.
    pub(crate) fn crls(&self, at: u64) -> Vec<Vec<u8>> {
        ["root", "sign"]
            .iter()
            .map(|ca| self.authority.crl(ca, at, "test:crl").unwrap())
            .collect()
    }

    pub(crate) fn policy(&self, at: u64, crls: Vec<Vec<u8>>) -> Policy {
        let mut p = Policy::new(at);
        p.trust_anchors = vec![self.authority.ca_certificate("root").unwrap().to_vec()];
        p.crls = crls;
        p
    }
}

pub(crate) fn one(report: &Report) -> &SignatureReport {
    assert_eq!(report.signatures.len(), 1, "{report:#?}");
    &report.signatures[0]
}

pub(crate) fn check<'a>(s: &'a SignatureReport, name: &str) -> &'a ca_core::verify::Check {
    s.checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no {name} check: {s:#?}"))
}

pub(crate) fn verdict(report: &Report) -> (Indication, Option<SubIndication>) {
    (report.indication, report.sub_indication)
}

/// Time-stamped at TST, revoked (keyCompromise) at R after it: with the CRL that lists the
/// revocation, the signature is TOTAL-PASSED at any later time, its best-signature-time the
/// token's genTime; the same signature without its time-stamp (B-B) is REVOKED_NO_POE.
#[test]
fn a_time_stamp_before_the_revocation_keeps_the_signature_valid() {
    let l = setup();
    let bb = l.sign(S);
    let btt = bt::timestamped(&bb, &l.tsa, TST);
    l.revoke(R);
    let crls = l.crls(R + 60);

    for at in [S + 2 * HOUR, R + DAY] {
        let report = verify_bytes(&btt, None, &l.policy(at, crls.clone()));
        assert_eq!(
            verdict(&report),
            (Indication::TotalPassed, None),
            "{report:#?}"
        );
        let s = one(&report);
        assert_eq!(s.level, Some(Level::BT));
        assert_eq!(s.best_signature_time.as_deref(), Some(&*rfc3339(TST)));
        assert_eq!(
            s.best_signature_time_proof.as_deref(),
            Some("signature time-stamp #1")
        );
        let t = &s.timestamps[0];
        assert_eq!(t.outcome, Outcome::Passed, "{t:#?}");
        assert_eq!(t.gen_time.as_deref(), Some(&*rfc3339(TST)));
        assert_eq!(t.policy.as_deref(), Some(POLICY_OID));
        assert_eq!(
            t.tsa.as_deref(),
            Some("CN=hpki Time-Stamping Unit,O=hpki TSA Tests,C=JP")
        );
        let poe = check(s, "proof-of-existence");
        assert_eq!(poe.outcome, Outcome::Passed);
        assert!(
            poe.reason.contains(&format!(
                "was revoked on {} (reason keyCompromise), after it",
                rfc3339(R)
            )),
            "{}",
            poe.reason
        );
        // Judged at the best-signature-time: the path, and the CRL that speaks for it then.
        assert!(
            check(s, "certificate-path")
                .reason
                .ends_with(&format!("at {}", rfc3339(TST))),
            "{s:#?}"
        );
        let source = &s.revocation_sources[0];
        assert!(source.subject.contains("CN=Hanako Sato"), "{source:#?}");
        assert_eq!((source.kind, source.origin), ("CRL", "supplied"));
    }

    // B-B: nothing places the signature before the revocation.
    let report = verify_bytes(&bb, None, &l.policy(S + 2 * HOUR, crls));
    assert_eq!(
        verdict(&report),
        (Indication::Indeterminate, Some(SubIndication::RevokedNoPoe)),
        "{report:#?}"
    );
    let s = one(&report);
    assert_eq!(s.level, Some(Level::BB));
    assert_eq!(s.best_signature_time, None);
    assert!(s.timestamps.is_empty());
}

/// Revoked at R, then used to sign and time-stamped at R + 11 min: the time-stamp proves only
/// that the signature existed after the revocation: TOTAL-FAILED / REVOKED.
#[test]
fn a_signature_time_stamped_after_the_revocation_is_revoked() {
    let l = setup();
    l.revoke(R);
    let btt = bt::timestamped(&l.sign(R + 600), &l.tsa, R + 660);
    let report = verify_bytes(&btt, None, &l.policy(R + HOUR, l.crls(R + 60)));
    assert_eq!(
        verdict(&report),
        (Indication::TotalFailed, Some(SubIndication::Revoked)),
        "{report:#?}"
    );
    let s = one(&report);
    assert_eq!(s.best_signature_time.as_deref(), Some(&*rfc3339(R + 660)));
    let revocation = s.first_failure().unwrap();
    assert_eq!(revocation.name, "revocation");
    assert!(
        revocation.reason.contains("CN=Hanako Sato")
            && revocation
                .reason
                .contains(&format!("revoked on {} (reason keyCompromise)", rfc3339(R))),
        "{}",
        revocation.reason
    );
    let poe = check(s, "proof-of-existence");
    assert_eq!(poe.outcome, Outcome::Failed);
    assert!(
        poe.reason.contains("is not before the revocation"),
        "{}",
        poe.reason
    );
}

/// B-LT: the CRLs published after the time-stamp travel in `SignedData.crls`. Three years on,
/// the signer's certificate and every CRL have expired and the relying party has only the root:
/// TOTAL-PASSED, the revocation status read from the embedded CRLs. The same with an embedded
/// CRL listing the signer as revoked before the time-stamp is REVOKED: the embedded data is read.
#[test]
fn b_lt_verifies_after_everything_expired_with_embedded_crls() {
    let l = setup();
    let btt = bt::timestamped(&l.sign(S), &l.tsa, TST);
    let blt = bt::embed_crls(&btt, &l.crls(TST + 60));
    let later = NOW + 3 * 365 * DAY;
    let report = verify_bytes(&blt, None, &l.policy(later, Vec::new()));
    assert_eq!(
        verdict(&report),
        (Indication::TotalPassed, None),
        "{report:#?}"
    );
    let s = one(&report);
    assert_eq!(s.level, Some(Level::BLT));
    assert_eq!(s.best_signature_time.as_deref(), Some(&*rfc3339(TST)));
    assert_eq!(check(s, "revocation").outcome, Outcome::Passed, "{s:#?}");
    let signer_sources: Vec<_> = s
        .revocation_sources
        .iter()
        .filter(|r| r.subject.contains("Hanako Sato"))
        .collect();
    assert_eq!(signer_sources.len(), 1, "{s:#?}");
    assert_eq!(signer_sources[0].origin, "embedded");
    assert_eq!(signer_sources[0].this_update, rfc3339(TST + 60));
    // Without a time-stamp the same data proves nothing: at that time the certificate has expired.
    let bb_lt = bt::embed_crls(&l.sign(S), &l.crls(TST + 60));
    let report = verify_bytes(&bb_lt, None, &l.policy(later, Vec::new()));
    assert_ne!(report.indication, Indication::TotalPassed, "{report:#?}");

    // Revoked (keyCompromise) at S − 10 min, before the time-stamp: the embedded CRL says so.
    let l = setup();
    l.revoke(S - 600);
    let btt = bt::timestamped(&l.sign(S), &l.tsa, TST);
    let blt = bt::embed_crls(&btt, &l.crls(TST + 60));
    let report = verify_bytes(&blt, None, &l.policy(later, Vec::new()));
    assert_eq!(
        verdict(&report),
        (Indication::TotalFailed, Some(SubIndication::Revoked)),
        "{report:#?}"
    );
}

/// A token over other data (its imprint is not the hash of this signature's value) fails, is
/// named in the report, and gives no proof of existence: the later revocation is REVOKED_NO_POE.
#[test]
fn a_time_stamp_over_other_data_fails_and_proves_nothing() {
    let l = setup();
    let bb = l.sign(S);
    let token = bt::token_over(&l.tsa, b"some other signature value", TST);
    let bad = bt::attach_unchecked(&bb, &token);
    l.revoke(R);
    let report = verify_bytes(&bad, None, &l.policy(S + 2 * HOUR, l.crls(R + 60)));
    assert_eq!(
        verdict(&report),
        (Indication::Indeterminate, Some(SubIndication::RevokedNoPoe)),
        "{report:#?}"
    );
    let s = one(&report);
    assert_eq!(s.level, Some(Level::BT));
    assert_eq!(s.best_signature_time, None);
    let t = &s.timestamps[0];
    assert_eq!(
        (t.outcome, t.sub_indication),
        (Outcome::Failed, Some(SubIndication::HashFailure))
    );
    assert!(
        t.reason
            .contains("messageImprint (SHA-256) is not the hash of this signature's value"),
        "{}",
        t.reason
    );
    let note = check(s, "signature-time-stamp");
    assert_eq!(note.outcome, Outcome::Warning);
    assert!(note.reason.starts_with("#1 failed"), "{}", note.reason);
}

/// A token signed by a certificate without the critical, sole timeStamping EKU (here the
/// signer's own, which has no EKU) fails, naming RFC 3161 §2.3.
#[test]
fn a_token_from_a_certificate_without_the_timestamping_eku_fails() {
    let l = setup();
    let bb = l.sign(S);
    let info = bt::tst_info(&bt::signature_value(&bb), "20260101010100Z", POLICY_OID);
    let token = bt::hand_token(&l.key, &l.certificate, &l.chain, &info, TST);
    let report = verify_bytes(
        &ca_core::cades::add_signature_timestamp(&bb, 0, &token).unwrap(),
        None,
        &l.policy(S + 2 * HOUR, l.crls(S + 120)),
    );
    let s = one(&report);
    assert_eq!(s.best_signature_time, None, "{s:#?}");
    let t = &s.timestamps[0];
    assert_eq!(
        (t.outcome, t.sub_indication),
        (
            Outcome::Failed,
            Some(SubIndication::ChainConstraintsFailure)
        )
    );
    assert!(
        t.reason.contains("no extendedKeyUsage") && t.reason.contains("RFC 3161 §2.3"),
        "{}",
        t.reason
    );
    // Not revoked, so without the proof the signature still passes as a B-B one would.
    assert_eq!(report.indication, Indication::TotalPassed, "{report:#?}");
}

/// A genTime with fractional seconds, as real TSAs send (`20260101010100.487Z`), decodes: the
/// token, signed by the TSA's real key, is valid and its time truncated to the second. (Attached
/// by hand: `ca_core::cades` reads TSTInfo with der, which refuses the fraction.)
#[test]
fn a_fractional_gen_time_parses() {
    let l = setup();
    let bb = l.sign(S);
    let info = bt::tst_info(&bt::signature_value(&bb), "20260101010100.487Z", POLICY_OID);
    let token = bt::hand_token(&l.tsa_key, &l.tsa_certificate, &l.tsa_chain, &info, TST);
    // The requester's side reads it too (its whole second), so cades attaches it, imprint checked.
    let gen_time = ca_core::tsp::tst_info(&token).unwrap().gen_time;
    assert_eq!(gen_time.to_date_time().to_string(), "2026-01-01T01:01:00Z");
    let bt = ca_core::cades::add_signature_timestamp(&bb, 0, &token).unwrap();
    let report = verify_bytes(&bt, None, &l.policy(S + 2 * HOUR, l.crls(S + 120)));
    assert_eq!(
        verdict(&report),
        (Indication::TotalPassed, None),
        "{report:#?}"
    );
    let s = one(&report);
    assert_eq!(s.timestamps[0].outcome, Outcome::Passed, "{s:#?}");
    assert_eq!(
        s.best_signature_time.as_deref(),
        Some("2026-01-01T01:01:00Z")
    );

    // A genTime that is no time: a format failure of that token, naming the value.
    let info = bt::tst_info(&bt::signature_value(&bb), "20261307010100Z", POLICY_OID);
    let token = bt::hand_token(&l.tsa_key, &l.tsa_certificate, &l.tsa_chain, &info, TST);
    let report = verify_bytes(
        &bt::attach_unchecked(&bb, &token),
        None,
        &l.policy(S + 2 * HOUR, l.crls(S + 120)),
    );
    let t = &one(&report).timestamps[0];
    assert_eq!(t.sub_indication, Some(SubIndication::FormatFailure));
    assert!(t.reason.contains("\"20261307010100Z\""), "{}", t.reason);
}

/// A claimed signingTime after the best-signature-time contradicts the proof.
#[test]
fn a_signing_time_after_the_time_stamp_is_an_order_failure() {
    let l = setup();
    let btt = bt::timestamped(&l.sign(TST + HOUR), &l.tsa, TST);
    let report = verify_bytes(
        &btt,
        None,
        &l.policy(TST + 2 * HOUR, l.crls(TST + 2 * HOUR)),
    );
    assert_eq!(
        verdict(&report),
        (
            Indication::Indeterminate,
            Some(SubIndication::TimestampOrderFailure)
        ),
        "{report:#?}"
    );
    assert!(
        check(one(&report), "signing-time")
            .reason
            .contains("is after the best-signature-time"),
        "{report:#?}"
    );
}

/// B-LTA: an archive-time-stamp-v3 a month on, renewed a year later over new CRLs: both verify,
/// each over what it covered (the renewal's CRLs are not the first one's), newest first. A byte
/// of an embedded CRL changed afterwards: each archive time-stamp fails, named, as a hash failure.
#[test]
fn archive_time_stamps_cover_what_they_covered() {
    let l = setup();
    let btt = bt::timestamped(&l.sign(S), &l.tsa, TST);
    let crls = l.crls(TST + 60);
    let blt = bt::embed_crls(&btt, &crls);
    // The archive TSA's own validation data goes in first (its path is judged at its genTime).
    let first = bt::archived(
        &bt::embed_crls(&blt, &l.crls(NOW + 30 * DAY - 60)),
        &l.tsa,
        NOW + 30 * DAY,
    );
    let renewed = bt::archived(
        &bt::embed_crls(&first, &l.crls(NOW + 365 * DAY)),
        &l.tsa,
        NOW + 365 * DAY + 60,
    );
    let later = NOW + 3 * 365 * DAY;
    for (cms, count) in [(&first, 1), (&renewed, 2)] {
        let report = verify_bytes(cms, None, &l.policy(later, Vec::new()));
        assert_eq!(
            verdict(&report),
            (Indication::TotalPassed, None),
            "{report:#?}"
        );
        let s = one(&report);
        assert_eq!(s.level, Some(Level::BLTA));
        let archives: Vec<_> = s
            .timestamps
            .iter()
            .filter(|t| t.kind == "archive-time-stamp-v3")
            .collect();
        assert_eq!(archives.len(), count, "{s:#?}");
        assert!(
            archives.iter().all(|t| t.outcome == Outcome::Passed),
            "{archives:#?}"
        );
        // Newest first.
        assert_eq!(
            archives[0].gen_time.as_deref(),
            Some(&*rfc3339(if count == 1 {
                NOW + 30 * DAY
            } else {
                NOW + 365 * DAY + 60
            }))
        );
    }

    // The root's CRL (covered by both) with its last octet changed.
    let root_crl = &crls[0];
    let at = renewed
        .windows(root_crl.len())
        .position(|w| w == root_crl.as_slice())
        .unwrap();
    let mut tampered = renewed.clone();
    tampered[at + root_crl.len() - 1] ^= 0x01;
    let report = verify_bytes(&tampered, None, &l.policy(later, Vec::new()));
    let s = one(&report);
    let archives: Vec<_> = s
        .timestamps
        .iter()
        .filter(|t| t.kind == "archive-time-stamp-v3")
        .collect();
    assert_eq!(archives.len(), 2, "{s:#?}");
    for t in archives {
        assert_eq!(
            (t.outcome, t.sub_indication),
            (Outcome::Failed, Some(SubIndication::HashFailure)),
            "{t:#?}"
        );
        // Named by its hash (its number is its place in the SET OF, which DER orders by content).
        let named = format!(
            " it covered (SHA-256 {}) is no longer in the signature",
            hex::encode(DigestAlgorithm::Sha256.digest(root_crl))
        );
        assert!(
            t.reason.starts_with("the revocation element #")
                && t.reason.contains(&named)
                && t.reason
                    .ends_with("a covered element changed or is missing"),
            "{}",
            t.reason
        );
    }
    let note = s
        .checks
        .iter()
        .find(|c| c.name == "archive-time-stamp")
        .unwrap();
    assert!(note.reason.contains("failed"), "{}", note.reason);
}

/// Bytes of a B-LTA signature changed here and there (time-stamp tokens, hash index, CRLs,
/// wrappers): every one gives a report, none panics.
#[test]
fn corrupted_long_term_signatures_never_panic() {
    let l = setup();
    let btt = bt::timestamped(&l.sign(S), &l.tsa, TST);
    let blt = bt::embed_crls(&btt, &l.crls(TST + 60));
    let blta = bt::archived(&blt, &l.tsa, TST + 120);
    let policy = l.policy(TST + HOUR, Vec::new());
    for i in (0..blta.len()).step_by(53) {
        for flip in [0x01u8, 0x80] {
            let mut bad = blta.clone();
            bad[i] ^= flip;
            let report = verify_bytes(&bad, None, &policy);
            assert!(!report.validation_time.is_empty());
        }
    }
    for len in (0..blta.len()).step_by(211) {
        let _ = verify_bytes(&blta[..len], None, &policy);
    }
}
