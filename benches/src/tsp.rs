//! What the `tsp` group of the `ocsp` bench and the summary time-stamp: RFC 3161 requests (SHA-256
//! imprint, nonce, certReq TRUE, as `openssl ts -query -cert` sends) answered by a
//! `ca_core::tsp::Tsa` whose P-256 key holds a `tsa`-profile certificate of CA `sign`, and the
//! limit: raw ring signing with that very key.

use crate::{AT, RawKey, document, sha256};
use ca_core::authority::{Authority, TimestampStatus};
use ca_core::issue::Registration;
use ca_core::key::{KeyAlgorithm, SigningKey};
use ca_core::oid::ID_SHA_256;
use ca_core::store::SledStore;
use ca_core::tsp::{MessageImprint, STATUS_GRANTED, TimeStampReq, TimeStampResp, Tsa};
use der::asn1::{Int, OctetString};
use der::{Decode, Encode};
use ring::rand::SystemRandom;
use x509_cert::spki::AlgorithmIdentifierOwned;

/// Requests (distinct imprints and nonces), rotated.
const TSP_REQUESTS: usize = 16;

/// TSTInfo.policy of the bench's tokens (under the bench CA's policy arc).
const POLICY: &str = "2.25.2026112805.13.1";

pub struct TspFixture {
    pub tsa: Tsa,
    requests: Vec<Vec<u8>>,
    /// The TSA's own key through ring.
    raw_key: RawKey,
}

impl TspFixture {
    /// A fresh P-256 TSA key certified by `authority` under the `tsa` profile; every request is
    /// checked once to be granted.
    pub fn new(authority: &Authority<SledStore>) -> Self {
        let key = SigningKey::generate(KeyAlgorithm::P256).expect("key");
        let registration = Registration {
            profile: "tsa".into(),
            subject: ca_core::name::parse_subject(
                "C=JP,O=hpki Bench,CN=hpki Bench Time-Stamping Unit",
            )
            .expect("subject"),
            sans: vec![],
            hc_roles: vec![],
            validity_days: Some(1827),
        };
        let issued = authority
            .issue(&registration, &crate::csr(&key), AT, "bench")
            .expect("issue tsa");
        let raw_key = RawKey::new(&key);
        let tsa = Tsa::new(
            key,
            &issued.certificate,
            &issued.chain,
            POLICY.parse().expect("policy"),
        )
        .expect("tsa");
        let requests: Vec<Vec<u8>> = (0..TSP_REQUESTS).map(request).collect();
        for r in &requests {
            let resp = TimeStampResp::from_der(&tsa.timestamp(r, AT).expect("timestamp"))
                .expect("TimeStampResp");
            assert_eq!(resp.status.status, STATUS_GRANTED, "granted");
            assert!(resp.time_stamp_token.is_some(), "token");
        }
        Self {
            tsa,
            requests,
            raw_key,
        }
    }

    /// Request `i` (rotating), DER.
    pub fn request(&self, i: usize) -> &[u8] {
        &self.requests[i % self.requests.len()]
    }

    /// `Tsa::timestamp` of request `i`: parse, checks, TSTInfo, CMS SignedData with the ESS
    /// signingCertificateV2 and the TSA certificate and chain, ECDSA P-256. Length of the reply.
    pub fn hpki(&self, i: usize) -> usize {
        self.tsa
            .timestamp(self.request(i), AT)
            .expect("timestamp")
            .len()
    }

    /// `Authority::timestamp` of request `i` with its durable audit record (group commit, synced
    /// before the reply): true when granted. The authority's own TSA key (made at init) signs.
    pub fn authority(&self, authority: &Authority<SledStore>, i: usize) -> bool {
        let stamped = authority
            .timestamp(self.request(i), AT, "bench")
            .wait()
            .expect("timestamp");
        matches!(stamped.status, TimestampStatus::Granted { .. })
    }

    /// One ring ECDSA P-256 signature (hash + sign) with the TSA's key over the request: the
    /// floor of any token (the SHA-256 of the few hundred octets the TSA really signs is well
    /// under 1 % of an ECDSA signature).
    pub fn raw(&self, rng: &SystemRandom, i: usize) -> usize {
        self.raw_key.sign(rng, self.request(i))
    }
}

/// A TimeStampReq over the SHA-256 of a 4 KB document made distinct by `i`, with a nonce.
fn request(i: usize) -> Vec<u8> {
    let mut doc = document(4 * 1024);
    doc[..8].copy_from_slice(&(i as u64).to_be_bytes());
    TimeStampReq {
        version: 1,
        message_imprint: MessageImprint {
            hash_algorithm: AlgorithmIdentifierOwned {
                oid: ID_SHA_256,
                parameters: None,
            },
            hashed_message: OctetString::new(sha256(&doc)).expect("imprint"),
        },
        req_policy: None,
        nonce: Some(Int::new(&(0x0102_0304_0000_0000 + i as u64).to_be_bytes()).expect("nonce")),
        cert_req: true,
        extensions: None,
    }
    .to_der()
    .expect("request")
}
