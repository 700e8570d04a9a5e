//! A time-stamping unit for the `tsp` tests: a demo authority issues a `tsa`-profile certificate
//! (EKU timeStamping, critical) for a fresh P-256 key, and `ca_core::tsp::Tsa` is built from them.

use super::fresh_ca;

use ca_core::issue::Registration;
use ca_core::key::{KeyAlgorithm, SigningKey};
use ca_core::tsp::Tsa;
use const_oid::ObjectIdentifier;
use std::sync::OnceLock;

/// 2026-01-01T00:00:00Z: the TSA certificate is issued then, valid for five years.
pub const NOW: u64 = 1_767_225_600;
/// The TSA policy of every token (TSTInfo.policy).
pub const POLICY: &str = "2.25.2026120701.13.1";

pub struct TsaFixture {
    pub tsa: Tsa,
    /// The TSA's certificate (DER).
    pub certificate: Vec<u8>,
    /// Issuing CA first, root last (as `Issued::chain`).
    pub chain: Vec<Vec<u8>>,
    /// The trust anchor.
    pub root: Vec<u8>,
    /// A CRL of each of the authority's CAs, issued at [`NOW`].
    pub crls: Vec<Vec<u8>>,
}

/// Built once per test binary.
pub fn fixture() -> &'static TsaFixture {
    static FIXTURE: OnceLock<TsaFixture> = OnceLock::new();
    FIXTURE.get_or_init(build)
}

fn build() -> TsaFixture {
    let tmp = tempfile::tempdir().unwrap();
    let request = fresh_ca::request(
        "hpki TSA Tests",
        "2.25.2026120701",
        fresh_ca::invalid_urls(),
        NOW,
        "tsa-tests",
    );
    let authority = fresh_ca::init(tmp.path(), &[9u8; 32], request);
    let key = SigningKey::generate(KeyAlgorithm::P256).unwrap();
    let (certificate, chain) = issue_tsa_certificate(&authority, &key);
    let tsa = Tsa::new(
        key,
        &certificate,
        &chain,
        ObjectIdentifier::new(POLICY).unwrap(),
    )
    .unwrap();
    let ids: Vec<String> = authority.ca_ids().map(str::to_owned).collect();
    let crls = ids
        .iter()
        .map(|id| authority.crl(id, NOW, "tsa-tests").unwrap())
        .collect();
    TsaFixture {
        tsa,
        certificate,
        chain,
        root: authority.ca_certificate("root").unwrap().to_vec(),
        crls,
    }
}

/// A `tsa`-profile certificate for `key` from `authority`, and its chain (issuing CA first).
pub fn issue_tsa_certificate(
    authority: &ca_core::authority::Authority<ca_core::store::SledStore>,
    key: &SigningKey,
) -> (Vec<u8>, Vec<Vec<u8>>) {
    let registration = Registration {
        profile: "tsa".into(),
        subject: ca_core::name::parse_subject("C=JP,O=hpki TSA Tests,CN=hpki Time-Stamping Unit")
            .unwrap(),
        sans: vec![],
        hc_roles: vec![],
        validity_days: Some(1827),
    };
    let issued = authority
        .issue(&registration, &fresh_ca::csr(key), NOW, "tsa-tests")
        .unwrap();
    (issued.certificate, issued.chain)
}

/// A token from the fixture's TSA over the SHA-256 `imprint`, stamped at `gen_time`, through
/// the client side (`TimeStampReq::new` / `accept`) as a caller of a remote TSA would get it.
pub fn stamp(imprint: &[u8], gen_time: u64) -> Vec<u8> {
    stamp_with(ca_core::sign::DigestAlgorithm::Sha256, imprint, gen_time)
}

/// [`stamp`] over an `imprint` made with `hash`.
pub fn stamp_with(hash: ca_core::sign::DigestAlgorithm, imprint: &[u8], gen_time: u64) -> Vec<u8> {
    let nonce: [u8; 16] = ring::rand::generate(&ring::rand::SystemRandom::new())
        .unwrap()
        .expose();
    let request = ca_core::tsp::TimeStampReq::new(hash, imprint, &nonce).unwrap();
    let response = fixture()
        .tsa
        .timestamp(&der::Encode::to_der(&request).unwrap(), gen_time)
        .unwrap();
    request.accept(&response).unwrap()
}
