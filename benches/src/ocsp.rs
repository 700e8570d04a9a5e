//! What the `ocsp` bench and the summary answer: OCSP requests (RFC 6960 §4.1, one SHA-256 CertID
//! and an RFC 8954 nonce each, so every answer is signed afresh) for a good and for a revoked
//! rhp-sign certificate of CA `sign`, and the limit: raw ring signing the same `tbsResponseData`.

use crate::{AT, RawKey, issue_signer};
use ca_core::authority::Authority;
use ca_core::key::{KeyAlgorithm, SigningKey};
use ca_core::ocsp::{BasicOcspResponse, CertId, OcspRequest, OcspResponse, OcspStatus, Request};
use ca_core::ocsp::{OcspResponseStatus, TbsRequest};
use ca_core::oid::{ID_PKIX_OCSP_NONCE, ID_SHA_256, SECP_256_R_1};
use ca_core::store::{RevocationReason, SledStore};
use der::asn1::OctetString;
use der::{Decode, Encode};
use ring::rand::SystemRandom;
use x509_cert::Certificate;
use x509_cert::ext::Extension;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::AlgorithmIdentifierOwned;

/// Requests per status, each with its own nonce (rotated, as distinct clients would).
const OCSP_REQUESTS: usize = 16;

pub struct OcspFixture {
    good: Vec<Vec<u8>>,
    revoked: Vec<Vec<u8>>,
    /// A fresh P-256 key: the responder's type (its own key stays sealed in the authority).
    raw_key: RawKey,
    /// The `tbsResponseData` of a good answer, DER: what the responder signs.
    raw_message: Vec<u8>,
}

impl OcspFixture {
    /// Issues two signers under CA `sign`, revokes one (keyCompromise) and checks once that the
    /// answers are what the bench claims: signed by a P-256 delegated responder, nonce echoed.
    pub fn new(authority: &Authority<SledStore>) -> Self {
        let ca = authority.ca_certificate("sign").expect("sign CA").to_vec();
        let good = issue_signer(authority, KeyAlgorithm::P256, 700);
        let revoked = issue_signer(authority, KeyAlgorithm::P256, 701);
        let revoked_serial = serial(&revoked.certificate);
        authority
            .revoke(
                &revoked_serial,
                RevocationReason::KeyCompromise,
                None,
                AT,
                "bench",
            )
            .expect("revoke");
        let requests = |serial: &[u8]| -> Vec<Vec<u8>> {
            (0..OCSP_REQUESTS)
                .map(|i| request(cert_id(&ca, serial), &nonce(i)))
                .collect()
        };
        let fixture_good = requests(&serial(&good.certificate));
        let answer = authority.ocsp_response(&fixture_good[0], AT).expect("ocsp");
        assert_eq!(answer.statuses, [OcspStatus::Good]);
        let basic = basic(&answer.der);
        let responder = &basic.certs.as_ref().expect("responder certificate")[0];
        let spki = responder.tbs_certificate().subject_public_key_info();
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<const_oid::ObjectIdentifier>().ok());
        assert_eq!(
            curve,
            Some(SECP_256_R_1),
            "the limit assumes a P-256 responder"
        );
        let echoed = basic.tbs_response_data.response_extensions.as_deref();
        assert!(
            matches!(echoed, Some([e]) if e.extn_id == ID_PKIX_OCSP_NONCE),
            "nonce echoed"
        );
        Self {
            good: fixture_good,
            revoked: requests(&revoked_serial),
            raw_key: RawKey::new(&SigningKey::generate(KeyAlgorithm::P256).expect("key")),
            raw_message: basic.tbs_response_data.to_der().expect("der"),
        }
    }

    /// `Authority::ocsp_response` for request `i` (rotating) of the good or the revoked
    /// certificate: parse, CA match, store reads, sign; true when the status is the expected one.
    pub fn hpki(&self, authority: &Authority<SledStore>, i: usize, revoked: bool) -> bool {
        let (requests, expected) = if revoked {
            (&self.revoked, OcspStatus::Revoked)
        } else {
            (&self.good, OcspStatus::Good)
        };
        let answer = authority
            .ocsp_response(&requests[i % requests.len()], AT)
            .expect("ocsp");
        answer.statuses == [expected]
    }

    /// One ring ECDSA P-256 signature (hash + sign) of the same `tbsResponseData`.
    pub fn raw(&self, rng: &SystemRandom) -> usize {
        self.raw_key.sign(rng, &self.raw_message)
    }
}

fn serial(certificate: &[u8]) -> Vec<u8> {
    Certificate::from_der(certificate)
        .expect("certificate")
        .tbs_certificate()
        .serial_number()
        .as_bytes()
        .to_vec()
}

/// 16 octets naming request `i`.
fn nonce(i: usize) -> Vec<u8> {
    let mut n = vec![0x5a; 16];
    n[8..].copy_from_slice(&(i as u64).to_be_bytes());
    n
}

/// CertID (RFC 6960 §4.1.1) of `serial` under the CA certificate `issuer`, SHA-256.
fn cert_id(issuer: &[u8], serial: &[u8]) -> CertId {
    let issuer = Certificate::from_der(issuer).expect("issuer");
    let tbs = issuer.tbs_certificate();
    let name = tbs.subject().to_der().expect("der");
    let key = tbs.subject_public_key_info().subject_public_key.raw_bytes();
    let h = |data: &[u8]| OctetString::new(crate::sha256(data)).expect("octets");
    CertId {
        hash_algorithm: AlgorithmIdentifierOwned {
            oid: ID_SHA_256,
            parameters: None,
        },
        issuer_name_hash: h(&name),
        issuer_key_hash: h(key),
        serial_number: SerialNumber::new(serial).expect("serial"),
    }
}

/// An unsigned OCSPRequest for `id` with an RFC 8954 nonce extension.
fn request(id: CertId, nonce: &[u8]) -> Vec<u8> {
    let inner = OctetString::new(nonce)
        .expect("nonce")
        .to_der()
        .expect("der");
    OcspRequest {
        tbs_request: TbsRequest {
            version: Default::default(),
            requestor_name: None,
            request_list: vec![Request {
                req_cert: id,
                single_request_extensions: None,
            }],
            request_extensions: Some(vec![Extension {
                extn_id: ID_PKIX_OCSP_NONCE,
                critical: false,
                extn_value: OctetString::new(inner).expect("octets"),
            }]),
        },
        optional_signature: None,
    }
    .to_der()
    .expect("request")
}

fn basic(der: &[u8]) -> BasicOcspResponse {
    let response = OcspResponse::from_der(der).expect("response");
    assert_eq!(response.response_status, OcspResponseStatus::Successful);
    let bytes = response.response_bytes.expect("response bytes");
    BasicOcspResponse::from_der(bytes.response.as_bytes()).expect("basic response")
}
