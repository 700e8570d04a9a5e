//! The OCSP responder (RFC 6960, RFC 5019 profile, issue 14 item 2): requests built and responses
//! read here with independent hashes (ring), signatures checked against the responder
//! certificate the response carries, and the answers compared with the CRLs of the same CA.

use crate::support::credential::{ACTOR, DAY, NOW, registration};
use crate::support::fresh_ca;
use ca_core::authority::{Authority, OcspSettings};
use ca_core::ocsp::{
    BasicOcspResponse, CertHash, CertId, CertStatus, MAX_CERT_IDS, OcspRequest, OcspResponse,
    OcspResponseStatus, OcspStatus, Request, ResponderId, TbsRequest,
};
use ca_core::profile::{CaUrls, ProfileSet};
use ca_core::seal::Sealer;
use ca_core::store::{RevocationReason, SledStore, Store};
use const_oid::db::rfc5912::{ID_SHA_1, ID_SHA_256};
use der::asn1::OctetString;
use der::{Decode, Encode};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::crl::CertificateList;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::{CrlReason, ExtendedKeyUsage};
use x509_cert::serial_number::SerialNumber;

const NONCE_OID: &str = "1.3.6.1.5.5.7.48.1.2";
const CERT_HASH_OID: &str = "1.3.36.8.3.13";
const ARCHIVE_CUTOFF_OID: &str = "1.3.6.1.5.5.7.48.1.6";
const OCSP_SIGNING: &str = "1.3.6.1.5.5.7.3.9";

struct Env {
    authority: Authority<SledStore>,
    _dir: tempfile::TempDir,
}

fn env_with(profiles: ProfileSet) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(&dir.path().join("store")).unwrap();
    let request = fresh_ca::request(
        "hpki OCSP Tests",
        "2.25.2026120701",
        CaUrls::published_at("http://hpki.invalid"),
        NOW - DAY,
        "test:init",
    );
    let authority =
        Authority::init(store, profiles, Sealer::from_key(&[7u8; 32]), request).unwrap();
    Env {
        authority,
        _dir: dir,
    }
}

fn env() -> Env {
    env_with(ProfileSet::embedded().unwrap())
}

/// The embedded profiles with `ocsp-sign.toml` edited by `edit`.
fn profiles_with_ocsp_sign(edit: impl Fn(&str) -> String) -> ProfileSet {
    let files: Vec<(String, String)> = ProfileSet::embedded_sources()
        .iter()
        .map(|(n, t)| {
            let text = if *n == "ocsp-sign.toml" {
                edit(t)
            } else {
                (*t).to_owned()
            };
            ((*n).to_owned(), text)
        })
        .collect();
    ProfileSet::from_sources(&files).unwrap()
}

fn sha1(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, data)
        .as_ref()
        .to_vec()
}

fn sha256(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

/// A CertID for `serial` under the CA certificate `issuer` (RFC 6960 §4.1.1), hashed here.
fn cert_id(sha256_id: bool, issuer: &[u8], serial: &[u8]) -> CertId {
    let issuer = Certificate::from_der(issuer).unwrap();
    let tbs = issuer.tbs_certificate();
    let name = tbs.subject().to_der().unwrap();
    let key = tbs.subject_public_key_info().subject_public_key.raw_bytes();
    let oid = if sha256_id { ID_SHA_256 } else { ID_SHA_1 };
    let h = |data: &[u8]| if sha256_id { sha256(data) } else { sha1(data) };
    CertId {
        hash_algorithm: AlgorithmIdentifierOwned {
            oid,
            parameters: None,
        },
        issuer_name_hash: OctetString::new(h(&name)).unwrap(),
        issuer_key_hash: OctetString::new(h(key)).unwrap(),
        serial_number: SerialNumber::new(serial).unwrap(),
    }
}

fn request(ids: Vec<CertId>, nonce: Option<&[u8]>) -> Vec<u8> {
    let request_extensions = nonce.map(|n| {
        vec![Extension {
            extn_id: NONCE_OID.parse().unwrap(),
            critical: false,
            extn_value: OctetString::new(OctetString::new(n).unwrap().to_der().unwrap()).unwrap(),
        }]
    });
    OcspRequest {
        tbs_request: TbsRequest {
            version: Default::default(),
            requestor_name: None,
            request_list: ids
                .into_iter()
                .map(|req_cert| Request {
                    req_cert,
                    single_request_extensions: None,
                })
                .collect(),
            request_extensions,
        },
        optional_signature: None,
    }
    .to_der()
    .unwrap()
}

/// The BasicOCSPResponse of a successful response, its signature checked with the key of the
/// first certificate it carries.
fn basic(der: &[u8]) -> BasicOcspResponse {
    let response = OcspResponse::from_der(der).unwrap();
    assert_eq!(response.response_status, OcspResponseStatus::Successful);
    let bytes = response.response_bytes.unwrap();
    assert_eq!(bytes.response_type.to_string(), "1.3.6.1.5.5.7.48.1.1");
    let basic = BasicOcspResponse::from_der(bytes.response.as_bytes()).unwrap();
    let signer = &basic.certs.as_ref().expect("certs always included")[0];
    ca_core::key::verify(
        signer.tbs_certificate().subject_public_key_info(),
        &basic.signature_algorithm,
        &basic.tbs_response_data.to_der().unwrap(),
        basic.signature.raw_bytes(),
    )
    .expect("response signature");
    basic
}

fn status_of(der: &[u8]) -> OcspResponseStatus {
    OcspResponse::from_der(der).unwrap().response_status
}

fn unix(t: &ca_core::ocsp::OcspGeneralizedTime) -> u64 {
    t.0.to_unix_duration().as_secs()
}

fn issue_sign(env: &Env, name: &str) -> ca_core::authority::Issued {
    let key = ca_core::key::SigningKey::generate(ca_core::key::KeyAlgorithm::P256).unwrap();
    env.authority
        .issue(
            &registration(
                "rhp-sign",
                &format!(
                    "C=JP,O=hpki Test Hospital,CN={name},serialNumber={}",
                    name.len()
                ),
                &["Medical Doctor"],
            ),
            &fresh_ca::csr(&key),
            NOW,
            ACTOR,
        )
        .unwrap()
}

fn revoked_entry(crl: &[u8], serial: &[u8]) -> Option<(u64, Option<CrlReason>)> {
    let crl: CertificateList = CertificateList::from_der(crl).unwrap();
    crl.tbs_cert_list
        .revoked_certificates
        .unwrap_or_default()
        .into_iter()
        .find(|r| r.serial_number.as_bytes() == serial)
        .map(|r| {
            let reason = r
                .crl_entry_extensions
                .unwrap_or_default()
                .iter()
                .find(|e| e.extn_id.to_string() == "2.5.29.21")
                .map(|e| CrlReason::from_der(e.extn_value.as_bytes()).unwrap());
            (r.revocation_date.to_unix_duration().as_secs(), reason)
        })
}

#[test]
fn good_revoked_and_unknown_with_sha1_and_sha256_cert_ids() {
    let env = env();
    let sign_ca = env.authority.ca_certificate("sign").unwrap().to_vec();
    let good = issue_sign(&env, "Good Doctor");
    let bad = issue_sign(&env, "Revoked Doctor");
    env.authority
        .revoke(
            &bad.serial,
            RevocationReason::KeyCompromise,
            None,
            NOW + 10,
            ACTOR,
        )
        .unwrap();
    let at = NOW + 20;
    for sha256_id in [false, true] {
        let ids = vec![
            cert_id(sha256_id, &sign_ca, &good.serial),
            cert_id(sha256_id, &sign_ca, &bad.serial),
            cert_id(sha256_id, &sign_ca, &[0x42; 16]),
        ];
        let answer = env
            .authority
            .ocsp_response(&request(ids.clone(), None), at)
            .unwrap();
        assert_eq!(
            answer.statuses,
            [OcspStatus::Good, OcspStatus::Revoked, OcspStatus::Unknown]
        );
        let basic = basic(&answer.der);
        let data = &basic.tbs_response_data;
        assert_eq!(unix(&data.produced_at), at);
        assert_eq!(data.responses.len(), 3);
        for (single, id) in data.responses.iter().zip(&ids) {
            assert_eq!(&single.cert_id, id, "CertID echoed as sent");
            assert_eq!(unix(&single.this_update), at);
            let next = single.next_update.as_ref().expect("nextUpdate always set");
            assert_eq!(unix(next), at + 3600);
        }
        assert_eq!(answer.next_update, Some(at + 3600));
        assert_eq!(data.responses[0].cert_status, CertStatus::good());
        match &data.responses[1].cert_status {
            CertStatus::Revoked(info) => {
                assert_eq!(unix(&info.revocation_time), NOW + 10);
                assert_eq!(info.revocation_reason, Some(CrlReason::KeyCompromise));
            }
            other => panic!("expected revoked, got {other:?}"),
        }
        assert_eq!(data.responses[2].cert_status, CertStatus::unknown());
        // No response extensions without a nonce; no CertHash with the shipped profile.
        assert!(data.response_extensions.is_none());
        assert!(data.responses.iter().all(|s| s.single_extensions.is_none()));

        // Signed by the sign CA's delegated responder: issued by that CA, EKU OCSPSigning.
        let certs = basic.certs.as_ref().unwrap();
        assert_eq!(certs.len(), 1);
        let responder = &certs[0];
        assert_eq!(
            responder.to_der().unwrap(),
            env.authority
                .ocsp_responder_certificate("sign", at)
                .unwrap()
                .unwrap()
        );
        let ca = Certificate::from_der(&sign_ca).unwrap();
        assert_eq!(
            responder.tbs_certificate().issuer(),
            ca.tbs_certificate().subject()
        );
        let eku = responder
            .tbs_certificate()
            .get_extension::<ExtendedKeyUsage>()
            .unwrap()
            .unwrap()
            .1;
        assert_eq!(
            eku.0.iter().map(|o| o.to_string()).collect::<Vec<_>>(),
            [OCSP_SIGNING]
        );
    }
}

#[test]
fn responder_id_is_the_sha1_of_the_responder_keys_bit_string() {
    let env = env();
    let sign_ca = env.authority.ca_certificate("sign").unwrap().to_vec();
    let good = issue_sign(&env, "Good Doctor");
    let answer = env
        .authority
        .ocsp_response(
            &request(vec![cert_id(false, &sign_ca, &good.serial)], None),
            NOW,
        )
        .unwrap();
    let basic = basic(&answer.der);
    let responder = &basic.certs.as_ref().unwrap()[0];
    let spki = responder.tbs_certificate().subject_public_key_info();
    // Independently: SHA-1 of the DER of the SPKI's BIT STRING minus tag, length, unused bits.
    let bit_string = spki.subject_public_key.to_der().unwrap();
    let value = &bit_string[bit_string.len() - spki.subject_public_key.raw_bytes().len()..];
    assert_eq!(
        bit_string[bit_string.len() - value.len() - 1],
        0,
        "unused bits"
    );
    let expected = sha1(value);
    match &basic.tbs_response_data.responder_id {
        ResponderId::ByKey(hash) => assert_eq!(hash.as_bytes(), expected.as_slice()),
        other => panic!("expected byKey, got {other:?}"),
    }
    assert_eq!(ca_core::ocsp::responder_key_hash(spki).to_vec(), expected);
}

#[test]
fn the_nonce_is_echoed_and_bad_requests_are_malformed() {
    let env = env();
    let sign_ca = env.authority.ca_certificate("sign").unwrap().to_vec();
    let good = issue_sign(&env, "Good Doctor");
    let id = || cert_id(true, &sign_ca, &good.serial);
    let nonce = [0x5a; 32];
    let der = request(vec![id()], Some(&nonce));
    let sent: OcspRequest = OcspRequest::from_der(&der).unwrap();
    let answer = env.authority.ocsp_response(&der, NOW).unwrap();
    let basic = basic(&answer.der);
    let exts = basic.tbs_response_data.response_extensions.unwrap();
    assert_eq!(exts.len(), 1);
    assert_eq!(exts[0], sent.tbs_request.request_extensions.unwrap()[0]);

    // RFC 8954: 1 to 32 octets.
    for bad in [&[][..], &[1u8; 33][..]] {
        let answer = env
            .authority
            .ocsp_response(&request(vec![id()], Some(bad)), NOW)
            .unwrap();
        assert_eq!(answer.response_status, OcspResponseStatus::MalformedRequest);
        assert_eq!(status_of(&answer.der), OcspResponseStatus::MalformedRequest);
        assert_eq!(answer.statuses, [OcspStatus::Error]);
        assert_eq!(answer.next_update, None);
    }
    // Not DER, too many CertIDs, none, too large.
    let too_many = request((0..=MAX_CERT_IDS).map(|_| id()).collect(), None);
    let none = request(vec![], None);
    let mut huge = der.clone();
    huge.resize(ca_core::ocsp::MAX_REQUEST_LEN + 1, 0);
    for bad in [&b"not an OCSP request"[..], &too_many, &none, &huge] {
        assert_eq!(
            status_of(&env.authority.ocsp_response(bad, NOW).unwrap().der),
            OcspResponseStatus::MalformedRequest
        );
    }
    // The bound itself is answered, in one response.
    let most = request((0..MAX_CERT_IDS).map(|_| id()).collect(), None);
    let answer = env.authority.ocsp_response(&most, NOW).unwrap();
    assert_eq!(answer.statuses, vec![OcspStatus::Good; MAX_CERT_IDS]);
}

#[test]
fn cert_ids_of_other_issuers_are_unauthorized() {
    let env = env();
    let sign_ca = env.authority.ca_certificate("sign").unwrap().to_vec();
    let auth_ca = env.authority.ca_certificate("auth").unwrap().to_vec();
    let good = issue_sign(&env, "Good Doctor");
    // Another installation's sign CA: same names, other key.
    let other = env_with(ProfileSet::embedded().unwrap());
    let foreign = other.authority.ca_certificate("sign").unwrap().to_vec();
    let mut mixed = vec![cert_id(true, &sign_ca, &good.serial)];
    mixed.push(cert_id(true, &auth_ca, &good.serial));
    for ids in [vec![cert_id(true, &foreign, &good.serial)], mixed] {
        let answer = env
            .authority
            .ocsp_response(&request(ids, None), NOW)
            .unwrap();
        assert_eq!(status_of(&answer.der), OcspResponseStatus::Unauthorized);
        assert_eq!(answer.statuses, [OcspStatus::Error]);
    }
    // A serial the auth CA never issued (it is the sign CA's) is unknown there, not good.
    let answer = env
        .authority
        .ocsp_response(
            &request(vec![cert_id(true, &auth_ca, &good.serial)], None),
            NOW,
        )
        .unwrap();
    assert_eq!(answer.statuses, [OcspStatus::Unknown]);
}

/// After revocations the CRL and the OCSP answer of the same CA say the same, for an end entity
/// of the sign CA and for the sign CA itself on the root's CRL; the root, which has no delegated
/// responder profile, signs its answers with its own key.
#[test]
fn the_crl_and_the_ocsp_answer_agree_after_revoke() {
    let env = env();
    let root = env.authority.ca_certificate("root").unwrap().to_vec();
    let sign_ca = env.authority.ca_certificate("sign").unwrap().to_vec();
    let ee = issue_sign(&env, "Revoked Doctor");
    let held = issue_sign(&env, "Held Doctor");
    let sub_serial = Certificate::from_der(&sign_ca)
        .unwrap()
        .tbs_certificate()
        .serial_number()
        .as_bytes()
        .to_vec();
    let at = NOW + 100;
    // Before: good on both sides, absent from both CRLs.
    let answer = env
        .authority
        .ocsp_response(&request(vec![cert_id(false, &root, &sub_serial)], None), at)
        .unwrap();
    assert_eq!(answer.statuses, [OcspStatus::Good]);

    env.authority
        .revoke(
            &ee.serial,
            RevocationReason::Superseded,
            None,
            at + 1,
            ACTOR,
        )
        .unwrap();
    env.authority
        .revoke(
            &sub_serial,
            RevocationReason::CaCompromise,
            None,
            at + 2,
            ACTOR,
        )
        .unwrap();
    let later = at + 10;
    for (issuer_id, issuer, serial, reason) in [
        ("sign", &sign_ca, &ee.serial, CrlReason::Superseded),
        ("root", &root, &sub_serial, CrlReason::CaCompromise),
    ] {
        let crl = env.authority.crl(issuer_id, later, ACTOR).unwrap();
        let (crl_time, crl_reason) = revoked_entry(&crl, serial).expect("listed on the CRL");
        let answer = env
            .authority
            .ocsp_response(&request(vec![cert_id(true, issuer, serial)], None), later)
            .unwrap();
        assert_eq!(answer.statuses, [OcspStatus::Revoked], "{issuer_id}");
        let basic = basic(&answer.der);
        match &basic.tbs_response_data.responses[0].cert_status {
            CertStatus::Revoked(info) => {
                assert_eq!(unix(&info.revocation_time), crl_time);
                assert_eq!(info.revocation_reason, crl_reason);
                assert_eq!(info.revocation_reason, Some(reason));
            }
            other => panic!("expected revoked, got {other:?}"),
        }
        if issuer_id == "root" {
            // CA-designated responder: the root's certificate and key.
            let certs = basic.certs.as_ref().unwrap();
            assert_eq!(certs[0].to_der().unwrap(), root);
            let spki = certs[0].tbs_certificate().subject_public_key_info();
            match &basic.tbs_response_data.responder_id {
                ResponderId::ByKey(hash) => {
                    assert_eq!(hash.as_bytes(), sha1(spki.subject_public_key.raw_bytes()))
                }
                other => panic!("expected byKey, got {other:?}"),
            }
            assert_eq!(
                env.authority
                    .ocsp_responder_certificate("root", later)
                    .unwrap(),
                None
            );
        }
    }
    // A held certificate released is good again, and off the next CRL.
    env.authority
        .revoke(
            &held.serial,
            RevocationReason::CertificateHold,
            None,
            later,
            ACTOR,
        )
        .unwrap();
    let ask = || {
        env.authority
            .ocsp_response(
                &request(vec![cert_id(true, &sign_ca, &held.serial)], None),
                later + 5,
            )
            .unwrap()
            .statuses
    };
    assert_eq!(ask(), [OcspStatus::Revoked]);
    env.authority
        .release(&held.serial, later + 1, ACTOR)
        .unwrap();
    assert_eq!(ask(), [OcspStatus::Good]);
    let crl = env.authority.crl("sign", later + 5, ACTOR).unwrap();
    assert_eq!(revoked_entry(&crl, &held.serial), None);
}

#[test]
fn cert_hash_and_archive_cutoff_when_the_profile_asks() {
    let profiles = profiles_with_ocsp_sign(|t| {
        format!("{t}\n[ocsp_response]\ncert_hash = true\narchive_cutoff_days = 3650\n")
    });
    let env = env_with(profiles);
    let sign_ca = env.authority.ca_certificate("sign").unwrap().to_vec();
    let good = issue_sign(&env, "Good Doctor");
    let ids = vec![
        cert_id(true, &sign_ca, &good.serial),
        cert_id(true, &sign_ca, &[0x42; 16]),
    ];
    let at = NOW + 50;
    let answer = env
        .authority
        .ocsp_response(&request(ids, None), at)
        .unwrap();
    let basic = basic(&answer.der);
    let responses = &basic.tbs_response_data.responses;
    let exts = responses[0].single_extensions.as_ref().unwrap();
    let hash = exts
        .iter()
        .find(|e| e.extn_id.to_string() == CERT_HASH_OID)
        .expect("CertHash");
    assert!(!hash.critical);
    let hash = CertHash::from_der(hash.extn_value.as_bytes()).unwrap();
    assert_eq!(hash.hash_algorithm.oid, ID_SHA_256);
    assert_eq!(hash.certificate_hash.as_bytes(), sha256(&good.certificate));
    let cutoff = exts
        .iter()
        .find(|e| e.extn_id.to_string() == ARCHIVE_CUTOFF_OID)
        .expect("archiveCutoff");
    let cutoff = der::asn1::GeneralizedTime::from_der(cutoff.extn_value.as_bytes()).unwrap();
    assert_eq!(cutoff.to_unix_duration().as_secs(), at - 3650 * DAY);
    // No certificate, no CertHash (the archive cutoff still applies).
    let unknown = responses[1].single_extensions.as_ref().unwrap();
    assert!(
        unknown
            .iter()
            .all(|e| e.extn_id.to_string() != CERT_HASH_OID)
    );
    assert!(
        unknown
            .iter()
            .any(|e| e.extn_id.to_string() == ARCHIVE_CUTOFF_OID)
    );
}

#[test]
fn the_responder_is_renewed_when_a_third_of_its_life_remains() {
    let env = env();
    let sign_ca = env.authority.ca_certificate("sign").unwrap().to_vec();
    let good = issue_sign(&env, "Good Doctor");
    let responder_at = |at: u64| {
        let answer = env
            .authority
            .ocsp_response(
                &request(vec![cert_id(false, &sign_ca, &good.serial)], None),
                at,
            )
            .unwrap();
        assert_eq!(answer.statuses, [OcspStatus::Good]);
        basic(&answer.der).certs.unwrap()[0].clone()
    };
    let first = responder_at(NOW);
    let validity = first.tbs_certificate().validity();
    let (from, to) = (
        validity.not_before.to_unix_duration().as_secs(),
        validity.not_after.to_unix_duration().as_secs(),
    );
    assert_eq!(to - from, 92 * DAY);
    let audit_before = env.authority.store().audit_log().unwrap().len();
    // 61 days in, 31 of 92 left: more than a third, kept.
    assert_eq!(responder_at(from + 61 * DAY), first);
    assert_eq!(
        env.authority.store().audit_log().unwrap().len(),
        audit_before
    );
    // 62 days in, 30 left: renewed, with a new key, and audited.
    let at = from + 62 * DAY;
    let second = responder_at(at);
    assert_ne!(second, first);
    assert_ne!(
        second.tbs_certificate().subject_public_key_info(),
        first.tbs_certificate().subject_public_key_info()
    );
    assert_eq!(
        second
            .tbs_certificate()
            .validity()
            .not_before
            .to_unix_duration()
            .as_secs(),
        at
    );
    let log = env.authority.store().audit_log().unwrap();
    assert_eq!(log.len(), audit_before + 1);
    let record = log.last().unwrap();
    assert_eq!(record.event.action.as_str(), "issue");
    let serial = second.tbs_certificate().serial_number().as_bytes().to_vec();
    assert_eq!(
        record.event.object,
        format!("certificate:{}", hex::encode(&serial))
    );
    let detail = |k: &str| {
        record
            .event
            .details
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(detail("ocsp_responder").as_deref(), Some("sign"));
    assert_eq!(
        detail("replaces"),
        Some(hex::encode(
            first.tbs_certificate().serial_number().as_bytes()
        ))
    );
    let stored = env.authority.store().certificate(&serial).unwrap().unwrap();
    assert_eq!(stored.profile, "ocsp-sign");
    assert_eq!(stored.issuer_ca, "sign");
    // The same one answers afterwards.
    assert_eq!(responder_at(at + DAY), second);
}

#[test]
fn open_makes_a_responder_for_a_directory_without_one_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let without: Vec<(String, String)> = ProfileSet::embedded_sources()
        .iter()
        .filter(|(n, _)| !n.starts_with("ocsp-"))
        .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
        .collect();
    let old_profiles = ProfileSet::from_sources(&without).unwrap();
    let store = SledStore::open(&dir.path().join("store")).unwrap();
    let request = fresh_ca::request(
        "hpki OCSP Tests",
        "2.25.2026120702",
        CaUrls::published_at("http://hpki.invalid"),
        NOW,
        "test:init",
    );
    let authority =
        Authority::init(store, old_profiles, Sealer::from_key(&[7u8; 32]), request).unwrap();
    assert_eq!(
        authority.ocsp_responder_certificate("sign", NOW).unwrap(),
        None
    );
    let count = authority.store().certificates().unwrap().len();
    drop(authority);

    let open = || {
        let store = crate::support::store::reopen(&dir.path().join("store"));
        Authority::open(
            store,
            ProfileSet::embedded().unwrap(),
            Sealer::from_key(&[7u8; 32]),
            NOW + DAY,
        )
        .unwrap()
    };
    let authority = open();
    let made = authority
        .ocsp_responder_certificate("sign", NOW + DAY)
        .unwrap()
        .expect("made at open");
    let auth_made = authority
        .ocsp_responder_certificate("auth", NOW + DAY)
        .unwrap()
        .expect("made at open");
    assert_ne!(made, auth_made);
    assert_eq!(authority.store().certificates().unwrap().len(), count + 2);
    drop(authority);
    // Reopened: the stored one, unsealed, not another.
    let authority = open();
    assert_eq!(
        authority
            .ocsp_responder_certificate("sign", NOW + DAY)
            .unwrap(),
        Some(made)
    );
    assert_eq!(authority.store().certificates().unwrap().len(), count + 2);
}

#[test]
fn issued_certificates_carry_the_ocsp_url_and_responders_do_not() {
    let env = env();
    let good = issue_sign(&env, "Good Doctor");
    let aia = |der: &[u8]| -> Option<Vec<(String, String)>> {
        let cert = Certificate::from_der(der).unwrap();
        cert.tbs_certificate()
            .get_extension::<x509_cert::ext::pkix::AuthorityInfoAccessSyntax>()
            .unwrap()
            .map(|(_, aia)| {
                aia.0
                    .iter()
                    .map(|d| {
                        let uri = match &d.access_location {
                            x509_cert::ext::pkix::name::GeneralName::UniformResourceIdentifier(
                                u,
                            ) => u.to_string(),
                            other => panic!("{other:?}"),
                        };
                        (d.access_method.to_string(), uri)
                    })
                    .collect()
            })
    };
    let ee = aia(&good.certificate).expect("AIA");
    assert!(
        ee.contains(&(
            "1.3.6.1.5.5.7.48.1".to_owned(),
            "http://hpki.invalid/v1/ocsp".to_owned()
        )),
        "{ee:?}"
    );
    let responder = env
        .authority
        .ocsp_responder_certificate("sign", NOW)
        .unwrap()
        .unwrap();
    assert_eq!(
        aia(&responder),
        None,
        "ocsp-* profiles: authority_info_access = false"
    );

    // The responder off: no OCSP URL in what is issued next.
    let Env { authority, _dir } = env;
    let env = Env {
        authority: authority.with_ocsp(OcspSettings {
            url: None,
            validity_seconds: 600,
        }),
        _dir,
    };
    let next = issue_sign(&env, "Other Doctor");
    let urls = aia(&next.certificate).expect("AIA caIssuers");
    assert!(
        urls.iter().all(|(m, _)| m != "1.3.6.1.5.5.7.48.1"),
        "{urls:?}"
    );
}

/// A revoked sub-CA issues no new responder certificate: once its responder has expired it
/// answers with its own key, and the installation still opens.
#[test]
fn a_revoked_sub_ca_answers_with_its_own_key_once_its_responder_expired() {
    let env = env();
    let sign_ca = env.authority.ca_certificate("sign").unwrap().to_vec();
    let ee = issue_sign(&env, "Good Doctor");
    let sub_serial = Certificate::from_der(&sign_ca)
        .unwrap()
        .tbs_certificate()
        .serial_number()
        .as_bytes()
        .to_vec();
    env.authority
        .revoke(
            &sub_serial,
            RevocationReason::CaCompromise,
            None,
            NOW,
            ACTOR,
        )
        .unwrap();
    let ask = |at: u64| {
        let answer = env
            .authority
            .ocsp_response(
                &request(vec![cert_id(true, &sign_ca, &ee.serial)], None),
                at,
            )
            .unwrap();
        assert_eq!(
            answer.statuses,
            [OcspStatus::Good],
            "as the sign CA's CRL says"
        );
        basic(&answer.der).certs.unwrap()[0].to_der().unwrap()
    };
    // Due for renewal but still valid: the old responder goes on.
    let delegated = env
        .authority
        .ocsp_responder_certificate("sign", NOW)
        .unwrap()
        .unwrap();
    assert_eq!(ask(NOW + 70 * DAY), delegated);
    // Expired: the CA's own certificate and key.
    assert_eq!(ask(NOW + 100 * DAY), sign_ca);
    let count = env.authority.store().certificates().unwrap().len();
    let Env { authority, _dir } = env;
    drop(authority);
    let reopened = Authority::open(
        crate::support::store::reopen(&_dir.path().join("store")),
        ProfileSet::embedded().unwrap(),
        Sealer::from_key(&[7u8; 32]),
        NOW + 100 * DAY,
    )
    .unwrap();
    assert_eq!(
        reopened
            .ocsp_responder_certificate("sign", NOW + 100 * DAY)
            .unwrap(),
        None
    );
    // Only the auth CA's responder, expired too, was renewed at open.
    let certificates = reopened.store().certificates().unwrap();
    assert_eq!(certificates.len(), count + 1);
    let of = |profile: &str| certificates.iter().filter(|c| c.profile == profile).count();
    assert_eq!((of("ocsp-sign"), of("ocsp-auth")), (1, 2));
    assert!(
        reopened
            .ocsp_responder_certificate("auth", NOW + 100 * DAY)
            .unwrap()
            .is_some()
    );
}
