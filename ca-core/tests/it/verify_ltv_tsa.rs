//! Issue 14 item 5, the TSA's side of long-term validation (ETSI EN 319 102-1 §5.6.2.1, §5.6.3):
//! a TSA certificate revoked after a time-stamp's genTime, kept by an archive time-stamp's proof
//! of existence only when that proof precedes the revocation; a token lives no longer than the
//! CA certificates of its TSA's path, for its validity and for when renewal is due.

use crate::support::bt;
use crate::support::x509::{Ca, Issue, ext};
use crate::verify_ltv::{DAY, Ltv, NOW, POLICY_OID, S, TST, one, setup};
use crate::verify_ltv_ocsp::{not_after, short_tsa, stamp};
use ca_core::key::KeyAlgorithm;
use ca_core::store::RevocationReason;
use ca_core::tsp::Tsa;
use ca_core::verify::{Indication, Outcome, SubIndication, rfc3339, verify_bytes};
use der::Decode;
use x509_cert::Certificate;
use x509_cert::ext::pkix::ExtendedKeyUsage;

const SIG: &str = "signature-time-stamp";

/// Revokes the certificate `cert` of `l`'s authority at `at` for `reason`.
fn revoke(l: &Ltv, cert: &[u8], reason: RevocationReason, at: u64) {
    let serial = Certificate::from_der(cert)
        .unwrap()
        .tbs_certificate()
        .serial_number()
        .as_bytes()
        .to_vec();
    l.authority
        .revoke(&serial, reason, None, at, "test:ra")
        .unwrap();
}

/// The signature time-stamp from `l.tsa` at TST, the CRLs of then embedded (B-LT), and an
/// archive time-stamp on day 20 from another TSA of the same CA, over the CRLs of its day.
fn b_lta(l: &Ltv) -> (Vec<u8>, Vec<u8>, u64) {
    let (archive_tsa, _) = short_tsa(l, 1827, KeyAlgorithm::P256, "hpki Archive TSU");
    let blt = bt::embed_crls(&bt::timestamped(&l.sign(S), &l.tsa, TST), &l.crls(TST + 60));
    let on_day_20 = NOW + 20 * DAY;
    let blta = bt::archived(
        &bt::embed_crls(&blt, &l.crls(on_day_20 - 60)),
        &archive_tsa,
        on_day_20,
    );
    (blt, blta, on_day_20)
}

/// The signature time-stamp's TSA certificate is revoked (keyCompromise) on day 21, after the
/// archive time-stamp of day 20 that covers the token: verified on day 23 with the CRL listing
/// it, the token is valid by that proof of existence (EN 319 102-1 §5.6.2.1 past signature
/// validation applied to the time-stamp, §5.6.3), so the signature's best-signature-time is
/// still its genTime. Without the archive time-stamp the token stays REVOKED_NO_POE.
#[test]
fn an_archive_time_stamp_before_the_tsa_revocation_keeps_the_time_stamp() {
    let l = setup();
    let (blt, blta, on_day_20) = b_lta(&l);
    let revoked = on_day_20 + DAY;
    revoke(
        &l,
        &l.tsa_certificate,
        RevocationReason::KeyCompromise,
        revoked,
    );
    let policy = l.policy(revoked + 2 * DAY, l.crls(revoked + 60));

    let report = verify_bytes(&blta, None, &policy);
    assert_eq!(report.indication, Indication::TotalPassed, "{report:#?}");
    let s = one(&report);
    assert_eq!(
        s.best_signature_time.as_deref(),
        Some(&*rfc3339(TST)),
        "{s:#?}"
    );
    let sig = stamp(s, SIG, 1);
    assert_eq!(
        (sig.outcome, sig.sub_indication),
        (Outcome::Passed, None),
        "{sig:#?}"
    );
    let proof = format!("archive-time-stamp-v3 #1 (genTime {})", rfc3339(on_day_20));
    assert_eq!(sig.proof_of_existence.as_deref(), Some(&*proof));
    assert!(
        sig.reason.contains(&format!(
            "the TSA certificate CN=hpki Time-Stamping Unit,O=hpki TSA Tests,C=JP was revoked \
             on {} (reason keyCompromise), after {proof} proves the token existed",
            rfc3339(revoked)
        )) && sig.reason.contains("EN 319 102-1 §5.6.2.1"),
        "{}",
        sig.reason
    );

    // B-LT: nothing proves the token existed before the revocation.
    let report = verify_bytes(&blt, None, &policy);
    let s = one(&report);
    assert_eq!(s.best_signature_time, None, "{s:#?}");
    let sig = stamp(s, SIG, 1);
    assert_eq!(
        (sig.outcome, sig.sub_indication),
        (Outcome::Failed, Some(SubIndication::RevokedNoPoe)),
        "{sig:#?}"
    );
    assert_eq!(sig.proof_of_existence, None);
}

/// Revoked (keyCompromise) on day 19, before the archive time-stamp of day 20: the archive
/// time-stamp proves only that the token existed after the key was compromised, so it keeps
/// nothing: the token stays REVOKED_NO_POE and says why the proof did not help. The same for
/// a revocation without reason: the proof must precede the revocation time, whatever the reason.
#[test]
fn an_archive_time_stamp_after_the_tsa_revocation_keeps_nothing() {
    for (reason, name) in [
        (RevocationReason::KeyCompromise, "keyCompromise"),
        (
            RevocationReason::CessationOfOperation,
            "cessationOfOperation",
        ),
    ] {
        let l = setup();
        let (_, blta, on_day_20) = b_lta(&l);
        let revoked = on_day_20 - DAY;
        revoke(&l, &l.tsa_certificate, reason, revoked);
        let report = verify_bytes(
            &blta,
            None,
            &l.policy(on_day_20 + 2 * DAY, l.crls(on_day_20 + 60)),
        );
        let s = one(&report);
        assert_eq!(s.best_signature_time, None, "{s:#?}");
        let sig = stamp(s, SIG, 1);
        assert_eq!(
            (sig.outcome, sig.sub_indication),
            (Outcome::Failed, Some(SubIndication::RevokedNoPoe)),
            "{sig:#?}"
        );
        assert_eq!(sig.proof_of_existence, None);
        assert!(
            sig.reason.contains(&format!(
                "the proof of existence of archive-time-stamp-v3 #1 (genTime {}) ({}) is not \
                 before the revocation (the TSA certificate CN=hpki Time-Stamping Unit,O=hpki \
                 TSA Tests,C=JP was revoked on {} (reason {name}))",
                rfc3339(on_day_20),
                rfc3339(on_day_20),
                rfc3339(revoked)
            )),
            "{}",
            sig.reason
        );
        // The archive time-stamp itself (another TSA) is valid.
        assert_eq!(
            stamp(s, "archive-time-stamp-v3", 1).outcome,
            Outcome::Passed
        );
    }
}

/// A TSA under its own hand-built hierarchy whose intermediate CA certificate expires on day
/// 100, before the TSA certificate (a year): the token lives only as long as that CA
/// certificate. On day 50 renewal is due on day 100, naming the CA certificate; on day 200 the
/// token is OUT_OF_BOUNDS_NO_POE, naming it, unless an archive time-stamp of day 50 covers it.
#[test]
fn a_time_stamp_lives_no_longer_than_its_tsa_ca_certificate() {
    let l = setup();
    let root = Ca::new("Hand TSA Root");
    let ca = Ca::new("Hand TSA CA");
    let unit = Ca::new("Hand Time-Stamping Unit");
    let root_der = root.self_signed();
    let ca_expires = NOW + 100 * DAY;
    let ca_der = root.issue_until(&ca, Issue::ca(2), ca_expires);
    let eku = ext(
        &ExtendedKeyUsage(vec![ca_core::oid::ID_KP_TIME_STAMPING]),
        true,
    );
    let unit_der = ca.issue(
        &unit,
        Issue {
            extra: vec![eku],
            ..Issue::leaf(3)
        },
    );
    assert!(not_after(&unit_der) > ca_expires + 200 * DAY);
    let tsa = Tsa::new(
        unit.key,
        &unit_der,
        &[ca_der, root_der.clone()],
        POLICY_OID.parse().unwrap(),
    )
    .unwrap();
    let btt = bt::timestamped(&l.sign(S), &tsa, TST);
    let policy = |at| {
        let mut p = l.policy(at, Vec::new());
        p.trust_anchors.push(root_der.clone());
        p
    };
    let ca_subject = "CN=Hand TSA CA,O=hpki tests,C=JP";

    let report = verify_bytes(&btt, None, &policy(NOW + 50 * DAY));
    assert_eq!(report.indication, Indication::TotalPassed, "{report:#?}");
    let s = one(&report);
    assert_eq!(stamp(s, SIG, 1).outcome, Outcome::Passed);
    assert_eq!(
        s.renewal_due.as_deref(),
        Some(&*rfc3339(ca_expires)),
        "{s:#?}"
    );
    assert_eq!(
        s.renewal_due_reason.as_deref(),
        Some(&*format!(
            "the CA certificate {ca_subject} of the TSA of signature-time-stamp #1 expires \
             (notAfter)"
        ))
    );

    let later = NOW + 200 * DAY;
    let report = verify_bytes(&btt, None, &policy(later));
    let s = one(&report);
    assert_eq!(s.best_signature_time, None, "{s:#?}");
    let sig = stamp(s, SIG, 1);
    assert_eq!(
        (sig.outcome, sig.sub_indication),
        (Outcome::Failed, Some(SubIndication::OutOfBoundsNoPoe)),
        "{sig:#?}"
    );
    assert!(
        sig.reason.contains(&format!(
            "the TSA's CA certificate {ca_subject} expired on {}",
            rfc3339(ca_expires)
        )) && sig
            .reason
            .contains("no archive time-stamp proves the token existed before then"),
        "{}",
        sig.reason
    );

    // Archived on day 50 by the long-lived TSA: the token keeps its value on day 200.
    let blta = bt::archived(&btt, &l.tsa, NOW + 50 * DAY);
    let report = verify_bytes(&blta, None, &policy(later));
    assert_eq!(report.indication, Indication::TotalPassed, "{report:#?}");
    let s = one(&report);
    assert_eq!(s.best_signature_time.as_deref(), Some(&*rfc3339(TST)));
    let sig = stamp(s, SIG, 1);
    assert_eq!(sig.outcome, Outcome::Passed, "{sig:#?}");
    assert!(sig.proof_of_existence.is_some());
    assert!(
        sig.reason.contains(&format!(
            "the TSA's CA certificate {ca_subject} expired on {}",
            rfc3339(ca_expires)
        )),
        "{}",
        sig.reason
    );
}

/// A catalogue where P-256 keys (EC below 384 bits) stop being acceptable on day 25. The
/// signature time-stamp's TSA has a P-384 key, but its certificate is signed by the sign CA's
/// P-256 key: the token relies on that signature too. On day 10 renewal is due on day 25,
/// naming the TSA certificate's signature; on day 100 the token, without an archive time-stamp,
/// is CRYPTO_CONSTRAINTS_FAILURE_NO_POE, naming it (EN 319 102-1 §5.2.8, §5.6.2.3).
#[test]
fn a_time_stamp_lives_no_longer_than_the_algorithms_of_its_tsa_path() {
    let l = setup();
    let catalogue = ca_core::verify::AlgorithmCatalogue::from_toml(
        "test.toml",
        "title = \"t\"\n[[key]]\nfamily = \"ec\"\nbelow_bits = 384\nsunset = 2026-01-26\nsource = \"test sunset\"\n",
    )
    .unwrap();
    let (p384, _) = short_tsa(&l, 1827, KeyAlgorithm::P384, "hpki P-384 TSU");
    let btt = bt::timestamped(&l.sign(S), &p384, TST);
    let policy = |at| ca_core::verify::Policy {
        algorithms: std::sync::Arc::new(catalogue.clone()),
        ..l.policy(at, Vec::new())
    };
    let signed = "the signature on certificate CN=hpki P-384 TSU,O=hpki TSA Tests,C=JP";

    let report = verify_bytes(&btt, None, &policy(NOW + 10 * DAY));
    let s = one(&report);
    assert_eq!(stamp(s, SIG, 1).outcome, Outcome::Passed, "{s:#?}");
    assert_eq!(
        s.renewal_due.as_deref(),
        Some("2026-01-26T00:00:00Z"),
        "{s:#?}"
    );
    assert_eq!(
        s.renewal_due_reason.as_deref(),
        Some(&*format!(
            "{signed} of the TSA of signature-time-stamp #1 uses EC P-256 (below 384 bits), not \
             acceptable from 2026-01-26 on (algorithm catalogue: test sunset)"
        ))
    );

    let report = verify_bytes(&btt, None, &policy(NOW + 100 * DAY));
    let s = one(&report);
    let sig = stamp(s, SIG, 1);
    assert_eq!(
        (sig.outcome, sig.sub_indication),
        (
            Outcome::Failed,
            Some(SubIndication::CryptoConstraintsFailureNoPoe)
        ),
        "{sig:#?}"
    );
    assert!(
        sig.reason.contains(&format!(
            "{signed} of the TSA's path: EC P-256 (below 384 bits) is not acceptable from \
             2026-01-26 on"
        )),
        "{}",
        sig.reason
    );
    assert_eq!(s.best_signature_time, None);
}
