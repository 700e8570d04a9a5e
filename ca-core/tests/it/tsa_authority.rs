//! The time-stamping authority an `Authority` holds (issue 14 item 1): its key made at init and
//! sealed, its `tsa` certificate in the inventory chaining to the root, its tokens audited
//! (MACed like every record), and a store made without one getting one when opened.

use crate::support::fresh_ca;
use crate::support::openssl::openssl;

use ca_core::audit::AuditAction;
use ca_core::authority::{
    Authority, AuthorityError, SETTING_TSA_KEY, TSA_PROFILE, TimestampError, TimestampStatus,
    TsaAccess, TsaRequester,
};
use ca_core::oid;
use ca_core::profile::ProfileSet;
use ca_core::seal::Sealer;
use ca_core::sign::DigestAlgorithm;
use ca_core::store::{RevocationReason, SledStore, Store};
use ca_core::tsp::{
    FailureInfo, MessageImprint, STATUS_GRANTED, STATUS_REJECTION, TimeStampReq, TimeStampResp,
    TstInfo,
};
use cms::content_info::ContentInfo;
use cms::signed_data::SignedData;
use der::asn1::OctetString;
use der::{Decode, Encode};
use std::path::Path;
use x509_cert::Certificate;
use x509_cert::ext::pkix::ExtendedKeyUsage;

/// 2026-12-07T00:00:00Z.
const NOW: u64 = 1_796_601_600;
const ARC: &str = "2.25.2026120714";
const SEAL_KEY: [u8; 32] = [14u8; 32];

fn init(dir: &Path, profiles: ProfileSet) -> Authority<SledStore> {
    let store = SledStore::open(&dir.join("store")).unwrap();
    let request = fresh_ca::request(
        "Kita Hospital",
        ARC,
        fresh_ca::invalid_urls(),
        NOW,
        "tsa-test",
    );
    Authority::init(store, profiles, Sealer::from_key(&SEAL_KEY), request).unwrap()
}

fn open(dir: &Path, profiles: ProfileSet, now: u64) -> Authority<SledStore> {
    let store = SledStore::open(&dir.join("store")).unwrap();
    Authority::open(store, profiles, Sealer::from_key(&SEAL_KEY), now).unwrap()
}

/// The embedded profiles without `tsa.toml`: an installation whose profiles predate the TSA.
fn profiles_without_tsa() -> ProfileSet {
    let files: Vec<(String, String)> = ProfileSet::embedded_sources()
        .iter()
        .filter(|(name, _)| *name != "tsa.toml")
        .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
        .collect();
    ProfileSet::from_sources(&files).unwrap()
}

fn request(hash: DigestAlgorithm, imprint: &[u8], cert_req: bool) -> Vec<u8> {
    TimeStampReq {
        version: 1,
        message_imprint: MessageImprint {
            hash_algorithm: hash.identifier(),
            hashed_message: OctetString::new(imprint).unwrap(),
        },
        req_policy: None,
        nonce: None,
        cert_req,
        extensions: None,
    }
    .to_der()
    .unwrap()
}

fn tst_info(response: &[u8]) -> TstInfo {
    let response = TimeStampResp::from_der(response).unwrap();
    assert_eq!(response.status.status, STATUS_GRANTED);
    let token = response.time_stamp_token.unwrap().to_der().unwrap();
    let content = ContentInfo::from_der(&token).unwrap();
    let signed: SignedData = content.content.decode_as().unwrap();
    let econtent = signed.encap_content_info.econtent.unwrap();
    TstInfo::from_der(econtent.value()).unwrap()
}

fn pem(der: &[u8]) -> String {
    der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, der).unwrap()
}

#[test]
fn init_makes_a_sealed_tsa_key_and_a_tsa_certificate_chaining_to_the_root() {
    let tmp = tempfile::tempdir().unwrap();
    let authority = init(tmp.path(), ProfileSet::embedded().unwrap());
    let tsa = authority.tsa_certificate().unwrap();

    // An ordinary certificate of the inventory, under the tsa profile, issued by `sign`.
    let record = authority
        .store()
        .certificate(&tsa.serial)
        .unwrap()
        .expect("the TSA certificate is in the inventory");
    assert_eq!(record.profile, TSA_PROFILE);
    assert_eq!(record.issuer_ca, "sign");
    assert_eq!(record.der, tsa.certificate);
    assert_eq!(tsa.chain[0], authority.ca_certificate("sign").unwrap());
    assert_eq!(
        tsa.chain.last().unwrap(),
        authority.ca_certificate("root").unwrap()
    );

    // EKU timeStamping, critical and alone (RFC 3161 §2.3).
    let cert = Certificate::from_der(&tsa.certificate).unwrap();
    let eku = cert
        .tbs_certificate()
        .extensions()
        .unwrap()
        .iter()
        .find(|e| e.extn_id == oid::ID_CE_EXT_KEY_USAGE)
        .unwrap();
    assert!(eku.critical);
    let purposes = ExtendedKeyUsage::from_der(eku.extn_value.as_bytes()).unwrap();
    assert_eq!(purposes.0, [oid::ID_KP_TIME_STAMPING]);
    assert_eq!(
        ca_core::name::display(cert.tbs_certificate().subject()),
        "C=JP,O=Kita Hospital,CN=Kita Hospital HPKI TSA"
    );
    // The default policy: <the tsa profile's certificate policy arc.13>.1.
    assert_eq!(tsa.policy.to_string(), format!("{ARC}.13.1"));

    // OpenSSL builds the path to the root and accepts it for time-stamp signing.
    let dir = tmp.path();
    std::fs::write(dir.join("tsa.pem"), pem(&tsa.certificate)).unwrap();
    std::fs::write(dir.join("sign.pem"), pem(&tsa.chain[0])).unwrap();
    std::fs::write(dir.join("root.pem"), pem(tsa.chain.last().unwrap())).unwrap();
    openssl(
        dir,
        &[
            "verify",
            "-attime",
            &(NOW + 60).to_string(),
            "-CAfile",
            "root.pem",
            "-untrusted",
            "sign.pem",
            "-purpose",
            "timestampsign",
            "tsa.pem",
        ],
    );

    // The key is stored sealed: the setting opens under the service's sealer only, and names
    // the certificate. The init record names the certificate too.
    let setting = authority.store().setting(SETTING_TSA_KEY).unwrap().unwrap();
    let stored: serde_json::Value = serde_json::from_slice(&setting).unwrap();
    assert_eq!(stored["serial"], hex::encode(&tsa.serial));
    let sealed = hex::decode(stored["sealed_key"].as_str().unwrap()).unwrap();
    let mut context = b"tsa-key:".to_vec();
    context.extend_from_slice(&tsa.serial);
    let pkcs8 = Sealer::from_key(&SEAL_KEY).open(&sealed, &context).unwrap();
    let key = ca_core::key::SigningKey::from_pkcs8(&pkcs8).unwrap();
    assert_eq!(
        key.public_key_info(),
        cert.tbs_certificate().subject_public_key_info()
    );
    assert!(
        Sealer::from_key(&[0u8; 32])
            .open(&sealed, &context)
            .is_err(),
        "another sealing key opens the TSA key"
    );
    assert!(
        Sealer::from_key(&SEAL_KEY)
            .open(&sealed, b"audit-key")
            .is_err(),
        "the TSA key opens under another context"
    );
    let log = authority.store().audit_log().unwrap();
    assert_eq!(log.len(), 1, "init is one record");
    assert_eq!(log[0].event.action, AuditAction::Init);
    assert!(
        log[0]
            .event
            .details
            .contains(&("tsa_certificate".to_owned(), hex::encode(&tsa.serial))),
        "{:?}",
        log[0].event.details
    );

    // The TSA certificate is revocable like any other, and its CA's CRL lists it.
    authority
        .revoke(
            &tsa.serial,
            RevocationReason::KeyCompromise,
            None,
            NOW + 10,
            "tsa-test",
        )
        .unwrap();
    let crl = authority.crl("sign", NOW + 20, "tsa-test").unwrap();
    let crl: x509_cert::crl::CertificateList =
        x509_cert::crl::CertificateList::from_der(&crl).unwrap();
    assert!(
        crl.tbs_cert_list
            .revoked_certificates
            .iter()
            .flatten()
            .any(|r| r.serial_number.as_bytes() == tsa.serial),
        "the sign CA's CRL does not list the revoked TSA certificate"
    );
    // And a revoked TSA signs no more tokens.
    let err = authority
        .timestamp(
            &request(DigestAlgorithm::Sha256, &[7u8; 32], false),
            NOW + 30,
            "t",
        )
        .wait()
        .unwrap_err();
    assert!(
        matches!(&err, TimestampError::Unavailable(why) if why.contains("revoked")),
        "{err}"
    );
}

#[test]
fn a_granted_token_is_audited_with_a_mac_and_a_rejection_is_not() {
    let tmp = tempfile::tempdir().unwrap();
    let authority = init(tmp.path(), ProfileSet::embedded().unwrap());
    let imprint = DigestAlgorithm::Sha256.digest(b"discharge letter");
    let stamped = authority
        .timestamp(
            &request(DigestAlgorithm::Sha256, &imprint, true),
            NOW + 60,
            "ip:192.0.2.7",
        )
        .wait()
        .unwrap();
    let TimestampStatus::Granted { serial, audit_seq } = &stamped.status else {
        panic!("{:?}", stamped.status);
    };
    let info = tst_info(&stamped.response);
    assert_eq!(info.serial_number.as_bytes(), serial.as_slice());
    assert_eq!(
        info.gen_time.to_unix_duration().as_secs(),
        NOW + 60,
        "genTime is the caller's now"
    );
    assert_eq!(info.policy.to_string(), format!("{ARC}.13.1"));

    let log = authority.store().audit_log().unwrap();
    let record = log.iter().find(|r| r.seq == *audit_seq).unwrap();
    assert_eq!(record.event.action, AuditAction::Timestamp);
    assert_eq!(record.event.actor, "ip:192.0.2.7");
    assert_eq!(record.event.time, NOW + 60);
    assert_eq!(
        record.event.object,
        format!("timestamp:{}", hex::encode(serial))
    );
    let detail = |k: &str| {
        record
            .event
            .details
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(detail("hash_algorithm").as_deref(), Some("sha256"));
    assert_eq!(detail("imprint"), Some(hex::encode(&imprint)));
    assert_eq!(detail("policy"), Some(format!("{ARC}.13.1")));
    assert!(record.mac.is_some(), "the token's record is not MACed");
    let report = authority.verify_audit(None).unwrap();
    assert_eq!(report.records, log.len() as u64);
    assert_eq!(report.authenticated_from, 1);

    // A SHA-1 imprint is rejected (badAlg), answered with a TimeStampResp, and not audited.
    let rejected = authority
        .timestamp(
            &request(DigestAlgorithm::Sha1, &[1u8; 20], false),
            NOW + 61,
            "t",
        )
        .wait()
        .unwrap();
    assert_eq!(
        rejected.status,
        TimestampStatus::Rejected(FailureInfo::BadAlg)
    );
    let response = TimeStampResp::from_der(&rejected.response).unwrap();
    assert_eq!(response.status.status, STATUS_REJECTION);
    assert!(response.status.has_failure(FailureInfo::BadAlg));
    // Garbage is a rejection with badDataFormat, not an error.
    let garbage = authority
        .timestamp(b"\x30\x03\x02\x01", NOW + 62, "t")
        .wait()
        .unwrap();
    assert_eq!(
        garbage.status,
        TimestampStatus::Rejected(FailureInfo::BadDataFormat)
    );
    assert_eq!(
        authority.store().audit_log().unwrap().len(),
        log.len(),
        "a rejection was audited"
    );

    // The async shape hands the response out once its record is durable.
    let (tx, rx) = std::sync::mpsc::channel();
    authority
        .timestamp(
            &request(DigestAlgorithm::Sha384, &[3u8; 48], false),
            NOW + 63,
            "t",
        )
        .then(move |outcome| tx.send(outcome).unwrap());
    let stamped = rx.recv().unwrap().unwrap();
    let TimestampStatus::Granted { audit_seq, .. } = stamped.status else {
        panic!("{:?}", stamped.status);
    };
    assert_eq!(audit_seq, log.len() as u64 + 1);
    authority.verify_audit(None).unwrap();
}

#[test]
fn the_tsa_survives_reopening_and_its_policy_is_configurable() {
    let tmp = tempfile::tempdir().unwrap();
    let serial = {
        let authority = init(tmp.path(), ProfileSet::embedded().unwrap());
        authority.tsa_certificate().unwrap().serial
    };
    let authority = open(tmp.path(), ProfileSet::embedded().unwrap(), NOW + 100);
    assert_eq!(authority.tsa_certificate().unwrap().serial, serial);
    assert_eq!(
        authority.store().audit_log().unwrap().len(),
        1,
        "opening a store with a TSA wrote something"
    );
    let authority = authority.with_tsa_policy("1.2.392.200119.99.1").unwrap();
    let stamped = authority
        .timestamp(
            &request(DigestAlgorithm::Sha256, &[9u8; 32], false),
            NOW + 101,
            "t",
        )
        .wait()
        .unwrap();
    assert_eq!(
        tst_info(&stamped.response).policy.to_string(),
        "1.2.392.200119.99.1"
    );
    assert!(matches!(
        authority.with_tsa_policy("not an oid"),
        Err(AuthorityError::Config(_))
    ));
}

/// `[tsa] require_auth` is ca-core's rule: an open TSA names an anonymous client by its
/// address; a callers-only one refuses it and names an authenticated caller by its label.
#[test]
fn who_may_ask_for_a_token_is_decided_by_the_authority() {
    let tmp = tempfile::tempdir().unwrap();
    let authority = init(tmp.path(), ProfileSet::embedded().unwrap());
    let address = "192.0.2.7".parse().ok();
    assert_eq!(
        authority
            .tsa_actor(TsaRequester::Anonymous(address))
            .unwrap(),
        "ip:192.0.2.7"
    );
    assert_eq!(
        authority.tsa_actor(TsaRequester::Anonymous(None)).unwrap(),
        "anonymous"
    );
    let authority = authority.with_tsa_access(TsaAccess::Callers);
    assert!(matches!(
        authority.tsa_actor(TsaRequester::Anonymous(address)),
        Err(TimestampError::CallerRequired)
    ));
    assert_eq!(
        authority
            .tsa_actor(TsaRequester::Caller("token:archive"))
            .unwrap(),
        "token:archive"
    );
}

#[test]
fn a_store_made_without_a_tsa_gets_one_when_opened_with_a_tsa_profile() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let authority = init(tmp.path(), profiles_without_tsa());
        assert!(matches!(
            authority.tsa_certificate(),
            Err(TimestampError::NoTsa)
        ));
        assert!(matches!(
            authority
                .timestamp(
                    &request(DigestAlgorithm::Sha256, &[0u8; 32], false),
                    NOW,
                    "t"
                )
                .wait(),
            Err(TimestampError::NoTsa)
        ));
        assert!(
            authority
                .store()
                .setting(SETTING_TSA_KEY)
                .unwrap()
                .is_none()
        );
    }
    // Still none while the profiles have no tsa profile.
    {
        let authority = open(tmp.path(), profiles_without_tsa(), NOW + 10);
        assert!(matches!(
            authority.tsa_certificate(),
            Err(TimestampError::NoTsa)
        ));
        assert_eq!(authority.store().audit_log().unwrap().len(), 1);
    }
    let serial = {
        let authority = open(tmp.path(), ProfileSet::embedded().unwrap(), NOW + 20);
        let tsa = authority.tsa_certificate().unwrap();
        let log = authority.store().audit_log().unwrap();
        assert_eq!(log.len(), 2);
        let record = &log[1];
        assert_eq!(record.event.action, AuditAction::TsaKey);
        assert_eq!(record.event.actor, "system");
        assert_eq!(record.event.time, NOW + 20);
        assert_eq!(
            record.event.object,
            format!("certificate:{}", hex::encode(&tsa.serial))
        );
        assert!(record.mac.is_some());
        authority.verify_audit(None).unwrap();
        let stored = authority.store().certificate(&tsa.serial).unwrap().unwrap();
        assert_eq!(stored.profile, TSA_PROFILE);
        // The key algorithm is the issuing CA's (P-256 here).
        let cert = Certificate::from_der(&tsa.certificate).unwrap();
        assert_eq!(
            cert.tbs_certificate()
                .validity()
                .not_before
                .to_unix_duration()
                .as_secs(),
            NOW + 20
        );
        let stamped = authority
            .timestamp(
                &request(DigestAlgorithm::Sha256, &[5u8; 32], true),
                NOW + 21,
                "t",
            )
            .wait()
            .unwrap();
        assert!(matches!(stamped.status, TimestampStatus::Granted { .. }));
        tsa.serial
    };
    // Made once: the next open unseals it.
    let authority = open(tmp.path(), ProfileSet::embedded().unwrap(), NOW + 30);
    assert_eq!(authority.tsa_certificate().unwrap().serial, serial);
    assert_eq!(authority.store().audit_log().unwrap().len(), 3);
}

#[test]
fn a_revoked_or_expired_tsa_is_replaced_at_the_next_open_unless_its_ca_is_revoked() {
    let tmp = tempfile::tempdir().unwrap();
    let first = {
        let authority = init(tmp.path(), ProfileSet::embedded().unwrap());
        let tsa = authority.tsa_certificate().unwrap();
        authority
            .revoke(
                &tsa.serial,
                RevocationReason::KeyCompromise,
                None,
                NOW + 10,
                "tsa-test",
            )
            .unwrap();
        tsa
    };
    let replaced = |authority: &Authority<SledStore>, old: &[u8], reason: &str| {
        let log = authority.store().audit_log().unwrap();
        let record = log.last().unwrap();
        assert_eq!(record.event.action, AuditAction::TsaKey);
        let detail = |k: &str| {
            record
                .event
                .details
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(detail("replaces"), Some(hex::encode(old)));
        let why = detail("reason").unwrap();
        assert!(why.contains(reason), "{why}");
        authority.verify_audit(None).unwrap();
    };

    // Revoked (a compromised key): a new key and certificate at the next start.
    let second = {
        let authority = open(tmp.path(), ProfileSet::embedded().unwrap(), NOW + 20);
        let tsa = authority.tsa_certificate().unwrap();
        assert_ne!(tsa.serial, first.serial);
        assert_ne!(tsa.certificate, first.certificate);
        replaced(&authority, &first.serial, "revoked (keyCompromise)");
        let stamped = authority
            .timestamp(
                &request(DigestAlgorithm::Sha256, &[1u8; 32], false),
                NOW + 21,
                "t",
            )
            .wait()
            .unwrap();
        assert!(matches!(stamped.status, TimestampStatus::Granted { .. }));
        tsa
    };

    // Expired: replaced too, dated from the new start.
    let expired = second.certificate.clone();
    let not_after = Certificate::from_der(&expired)
        .unwrap()
        .tbs_certificate()
        .validity()
        .not_after
        .to_unix_duration()
        .as_secs();
    let third = {
        let authority = open(tmp.path(), ProfileSet::embedded().unwrap(), not_after + 1);
        let tsa = authority.tsa_certificate().unwrap();
        assert_ne!(tsa.serial, second.serial);
        replaced(&authority, &second.serial, "outside its validity");
        tsa
    };

    // Revoked while its CA is revoked too: nothing can replace it; it stays and refuses.
    {
        let authority = open(tmp.path(), ProfileSet::embedded().unwrap(), not_after + 10);
        let sign_serial = authority
            .store()
            .certificates()
            .unwrap()
            .into_iter()
            .find(|c| c.profile == "sign-ca")
            .unwrap()
            .serial;
        authority
            .revoke(
                &sign_serial,
                RevocationReason::CaCompromise,
                None,
                not_after + 11,
                "tsa-test",
            )
            .unwrap();
        authority
            .revoke(
                &third.serial,
                RevocationReason::Superseded,
                None,
                not_after + 12,
                "tsa-test",
            )
            .unwrap();
    }
    let authority = open(tmp.path(), ProfileSet::embedded().unwrap(), not_after + 20);
    assert_eq!(authority.tsa_certificate().unwrap().serial, third.serial);
    assert_ne!(
        authority
            .store()
            .audit_log()
            .unwrap()
            .last()
            .unwrap()
            .event
            .action,
        AuditAction::TsaKey
    );
    let err = authority
        .timestamp(
            &request(DigestAlgorithm::Sha256, &[2u8; 32], false),
            not_after + 21,
            "t",
        )
        .wait()
        .unwrap_err();
    assert!(
        matches!(&err, TimestampError::Unavailable(why) if why.contains("revoked")),
        "{err}"
    );
}
