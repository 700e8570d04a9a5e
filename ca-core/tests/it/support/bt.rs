//! B-T / B-LT signatures for the verifier's long-term validation tests: made with `ca_core::cades`,
//! and, for what it rightly refuses to build, by hand: a signature-time-stamp attribute added
//! without checking its imprint, and RFC 3161 tokens over a hand-built TSTInfo (a fractional
//! genTime, which der's GeneralizedTime refuses, or a signer that is no TSA).
#![allow(dead_code)] // the crates that include this file each use a part

use ca_core::key::SigningKey;
use ca_core::oid;
use ca_core::sign::{DigestAlgorithm, PreparedSigner, SignatureParams};
use ca_core::tsp::{MessageImprint, TimeStampReq, TimeStampResp, Tsa};
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerInfo, SignerInfos};
use der::asn1::{Any, Int, OctetString, SetOfVec};
use der::{Decode, Encode, Tag};
use x509_cert::attr::Attribute;

fn open(cms: &[u8]) -> SignedData {
    let ci = ContentInfo::from_der(cms).unwrap();
    ci.content.decode_as().unwrap()
}

fn close(sd: &SignedData) -> Vec<u8> {
    ContentInfo {
        content_type: oid::ID_SIGNED_DATA,
        content: Any::encode_from(sd).unwrap(),
    }
    .to_der()
    .unwrap()
}

fn first_signer(sd: &SignedData) -> SignerInfo {
    sd.signer_infos.0.iter().next().unwrap().clone()
}

fn replace_signer(sd: &mut SignedData, si: SignerInfo) {
    sd.signer_infos = SignerInfos(SetOfVec::try_from(vec![si]).unwrap());
}

/// The value octets of the first SignerInfo's signature.
pub fn signature_value(cms: &[u8]) -> Vec<u8> {
    first_signer(&open(cms)).signature.as_bytes().to_vec()
}

/// A token from `tsa` over the SHA-256 of `data`, stamped `gen_time` (certReq TRUE).
pub fn token_over(tsa: &Tsa, data: &[u8], gen_time: u64) -> Vec<u8> {
    token_for(tsa, imprint(data), gen_time)
}

/// B-LTA: `cms` (B-LT) with an archive-time-stamp-v3 from `tsa` stamped `gen_time`.
pub fn archived(cms: &[u8], tsa: &Tsa, gen_time: u64) -> Vec<u8> {
    archived_detached(cms, None, tsa, gen_time)
}

/// [`archived`] of a detached signature whose content is `content`.
pub fn archived_detached(cms: &[u8], content: Option<&[u8]>, tsa: &Tsa, gen_time: u64) -> Vec<u8> {
    let hash = DigestAlgorithm::Sha256;
    let imprint = ca_core::cades::archive_timestamp_v3_imprint(cms, 0, content, hash).unwrap();
    let token = token_for(
        tsa,
        MessageImprint {
            hash_algorithm: hash.identifier(),
            hashed_message: OctetString::new(imprint).unwrap(),
        },
        gen_time,
    );
    ca_core::cades::add_archive_timestamp_v3(cms, 0, content, &token).unwrap()
}

fn token_for(tsa: &Tsa, message_imprint: MessageImprint, gen_time: u64) -> Vec<u8> {
    let request = TimeStampReq {
        version: 1,
        message_imprint,
        req_policy: None,
        nonce: None,
        cert_req: true,
        extensions: None,
    }
    .to_der()
    .unwrap();
    let response = TimeStampResp::from_der(&tsa.timestamp(&request, gen_time).unwrap()).unwrap();
    response.time_stamp_token.unwrap().to_der().unwrap()
}

fn imprint(data: &[u8]) -> MessageImprint {
    MessageImprint {
        hash_algorithm: DigestAlgorithm::Sha256.identifier(),
        hashed_message: OctetString::new(DigestAlgorithm::Sha256.digest(data)).unwrap(),
    }
}

/// `cms` with `token` added as a signature-time-stamp of its first signer, its imprint not
/// checked (`ca_core::cades::add_signature_timestamp` checks it).
pub fn attach_unchecked(cms: &[u8], token: &[u8]) -> Vec<u8> {
    let mut sd = open(cms);
    let mut si = first_signer(&sd);
    let attr = Attribute {
        oid: oid::ID_AA_SIGNATURE_TIME_STAMP_TOKEN,
        values: SetOfVec::try_from(vec![Any::from_der(token).unwrap()]).unwrap(),
    };
    let mut attrs = si.unsigned_attrs.take().unwrap_or_default();
    attrs.insert(attr).unwrap();
    si.unsigned_attrs = Some(attrs);
    replace_signer(&mut sd, si);
    close(&sd)
}

/// B-T: `cms` time-stamped by `tsa` at `gen_time`.
pub fn timestamped(cms: &[u8], tsa: &Tsa, gen_time: u64) -> Vec<u8> {
    let token = token_over(tsa, &signature_value(cms), gen_time);
    ca_core::cades::add_signature_timestamp(cms, 0, &token).unwrap()
}

/// B-LT: `cms` with `crls` (DER CertificateLists) in `SignedData.crls`.
pub fn embed_crls(cms: &[u8], crls: &[Vec<u8>]) -> Vec<u8> {
    ca_core::cades::add_validation_data(cms, &[], crls, &[]).unwrap()
}

/// A TSTInfo (RFC 3161 §2.4.2) with genTime written as `gen_time` (e.g. with a fraction, which
/// der's GeneralizedTime refuses), over the SHA-256 of `data`.
pub fn tst_info(data: &[u8], gen_time: &str, policy: &str) -> Vec<u8> {
    let policy: const_oid::ObjectIdentifier = policy.parse().unwrap();
    let fields = vec![
        Any::encode_from(&1u8).unwrap(),
        Any::encode_from(&policy).unwrap(),
        Any::encode_from(&imprint(data)).unwrap(),
        Any::encode_from(&Int::new(&[0x42, 0x17]).unwrap()).unwrap(),
        Any::new(Tag::GeneralizedTime, gen_time.as_bytes()).unwrap(),
    ];
    fields.to_der().unwrap()
}

/// A time-stamp token over `info`, signed by `key` under `certificate` (any certificate: the
/// verifier must judge it), with ESS signingCertificateV2 and the certificates.
pub fn hand_token(
    key: &SigningKey,
    certificate: &[u8],
    chain: &[Vec<u8>],
    info: &[u8],
    signing_time: u64,
) -> Vec<u8> {
    let signer = PreparedSigner::new(key, certificate, chain)
        .unwrap()
        .with_content_type(oid::ID_CT_TST_INFO)
        .unwrap();
    signer
        .sign(
            key,
            &SignatureParams {
                digest: &signer.digest_algorithm().digest(info),
                signing_time,
                commitment_type: None,
                claimed_role: None,
                attached: Some(info),
            },
        )
        .unwrap()
}
