//! What `sign` writes, decoded with the `cms` crate: every signed attribute, the certificates, the
//! algorithms; the refusals; the digest helpers.

use crate::support::sign_fixture::{
    self, ALGORITHMS, SIGN_AT, attribute, has_attribute, request, signer,
};
use ca_core::oid;
use ca_core::sign::{
    CommitmentTypeIndication, DigestAlgorithm, DocumentHasher, PreparedSigner, SignError,
    SignatureParams, SignatureRequest, SignerAttributeV2, SigningCertificateV2, sign,
};
use cms::cert::CertificateChoices;
use cms::content_info::CmsVersion;
use cms::signed_data::SignerIdentifier;
use const_oid::ObjectIdentifier;
use der::asn1::{OctetString, Utf8StringRef};
use der::{Decode, Encode};
use x509_cert::Certificate;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::time::Time;

const DOC: &[u8] = b"Discharge summary: patient stable, follow-up in two weeks.\n";
/// ASTM E1762 "Author" signature purpose, `iso17090.md` §5.3.
const ASTM_AUTHOR: &str = "1.2.840.10065.1.12.1.1";

#[test]
fn signed_attributes_decode_to_the_request() {
    for alg in ALGORITHMS {
        let s = signer(alg);
        let digest = sign_fixture::digest_for(&s.key, DOC);
        let der = sign(&SignatureRequest {
            commitment_type: Some(ObjectIdentifier::new(ASTM_AUTHOR).unwrap()),
            claimed_role: Some("attending physician"),
            ..request(s, &digest)
        })
        .unwrap();
        let sd = sign_fixture::signed_data(&der);
        let si = sign_fixture::only_signer(&sd);
        let cert = Certificate::from_der(&s.certificate).unwrap();
        let tbs = cert.tbs_certificate();

        // RFC 5652 §5.1/§5.3 framing.
        assert_eq!(sd.version, CmsVersion::V1, "{alg}");
        assert_eq!(si.version, CmsVersion::V1, "{alg}");
        assert_eq!(sd.encap_content_info.econtent_type, oid::ID_DATA);
        assert!(sd.encap_content_info.econtent.is_none(), "{alg}: detached");
        assert!(sd.crls.is_none() && si.unsigned_attrs.is_none());
        match &si.sid {
            SignerIdentifier::IssuerAndSerialNumber(isn) => {
                assert_eq!(&isn.issuer, tbs.issuer());
                assert_eq!(&isn.serial_number, tbs.serial_number());
            }
            other => panic!("{alg}: sid {other:?}"),
        }
        assert_eq!(si.signature_algorithm, s.key.signature_algorithm(), "{alg}");

        // contentType and messageDigest.
        let content_type: ObjectIdentifier =
            attribute(si, oid::ID_CONTENT_TYPE).decode_as().unwrap();
        assert_eq!(content_type, oid::ID_DATA);
        let md: OctetString = attribute(si, oid::ID_MESSAGE_DIGEST).decode_as().unwrap();
        assert_eq!(md.as_bytes(), digest.as_slice(), "{alg}");

        // signingTime: UTCTime before 2050 (RFC 5652 §11.3).
        let time: Time = attribute(si, oid::ID_SIGNING_TIME).decode_as().unwrap();
        assert!(matches!(time, Time::UtcTime(_)), "{alg}: {time:?}");
        assert_eq!(time.to_unix_duration().as_secs(), SIGN_AT);

        // ESS signingCertificateV2 (RFC 5035): SHA-256 of the certificate, issuerSerial.
        let ess_value = attribute(si, oid::ID_AA_SIGNING_CERTIFICATE_V_2);
        let ess: SigningCertificateV2 = ess_value.decode_as().unwrap();
        assert_eq!(ess.certs.len(), 1);
        assert!(ess.policies.is_none());
        let id = &ess.certs[0];
        assert!(
            id.hash_algorithm.is_none(),
            "{alg}: the SHA-256 default must be omitted"
        );
        assert_eq!(id.hash_algorithm().oid, oid::ID_SHA_256);
        let want = ring::digest::digest(&ring::digest::SHA256, &s.certificate);
        assert_eq!(id.cert_hash.as_bytes(), want.as_ref(), "{alg}: certHash");
        let issuer_serial = id.issuer_serial.as_ref().expect("issuerSerial");
        assert_eq!(
            issuer_serial.issuer,
            vec![GeneralName::DirectoryName(tbs.issuer().clone())]
        );
        assert_eq!(&issuer_serial.serial_number, tbs.serial_number());
        // ESSCertIDv2 is { certHash, issuerSerial } only: the DER has no AlgorithmIdentifier.
        let ess_der = ess_value.to_der().unwrap();
        let sha256_alg = DigestAlgorithm::Sha256.identifier().to_der().unwrap();
        assert!(!ess_der.windows(sha256_alg.len()).any(|w| w == sha256_alg));

        // commitment-type-indication.
        let cti: CommitmentTypeIndication = attribute(si, oid::ID_AA_ETS_COMMITMENT_TYPE)
            .decode_as()
            .unwrap();
        assert_eq!(cti.commitment_type_id.to_string(), ASTM_AUTHOR);
        assert!(cti.commitment_type_qualifier.is_none());

        // signer-attributes-v2 with the claimed role.
        let sa: SignerAttributeV2 = attribute(si, oid::ID_AA_ETS_SIGNER_ATTR_V2)
            .decode_as()
            .unwrap();
        let claimed = sa.claimed_attributes.expect("claimedAttributes");
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].oid, oid::ID_AT_NAME);
        let role: Utf8StringRef<'_> = claimed[0].values.get(0).unwrap().decode_as().unwrap();
        assert_eq!(role.as_str(), "attending physician");
        assert!(sa.certified_attributes_v2.is_none() && sa.signed_assertions.is_none());

        // certificates = signer + chain, nothing else.
        let mut embedded: Vec<Vec<u8>> = sd
            .certificates
            .as_ref()
            .expect("certificates")
            .0
            .iter()
            .map(|c| match c {
                CertificateChoices::Certificate(c) => c.to_der().unwrap(),
                other => panic!("{other:?}"),
            })
            .collect();
        let mut expected = vec![s.certificate.clone()];
        expected.extend(s.chain.iter().cloned());
        assert!(
            expected.len() >= 2,
            "the chain holds at least the issuing CA"
        );
        embedded.sort();
        expected.sort();
        assert_eq!(embedded, expected, "{alg}");

        // And the signature is over exactly these attributes.
        sign_fixture::verify_signer_info(si, &s.certificate).unwrap();
    }
}

#[test]
fn digest_algorithm_follows_the_key() {
    let want = [
        ("p256", oid::ID_SHA_256, oid::ECDSA_WITH_SHA_256),
        ("p384", oid::ID_SHA_384, oid::ECDSA_WITH_SHA_384),
        ("ed25519", oid::ID_SHA_512, oid::ID_ED_25519),
        ("rsa", oid::ID_SHA_256, oid::SHA_256_WITH_RSA_ENCRYPTION),
    ];
    for (alg, digest_oid, sig_oid) in want {
        let s = signer(alg);
        assert_eq!(DigestAlgorithm::for_key(&s.key).oid(), digest_oid, "{alg}");
        let digest = sign_fixture::digest_for(&s.key, DOC);
        let sd = sign_fixture::signed_data(&sign(&request(s, &digest)).unwrap());
        let si = sign_fixture::only_signer(&sd);
        let algs: Vec<_> = sd.digest_algorithms.iter().cloned().collect();
        assert_eq!(
            algs,
            [DigestAlgorithm::for_key(&s.key).identifier()],
            "{alg}"
        );
        assert_eq!(si.digest_alg.oid, digest_oid, "{alg}");
        assert!(si.digest_alg.parameters.is_none(), "{alg}: RFC 5754 §2");
        assert_eq!(si.signature_algorithm.oid, sig_oid, "{alg}");
    }
}

#[test]
fn optional_attributes_are_absent_unless_asked() {
    let s = signer("p256");
    let digest = sign_fixture::digest_for(&s.key, DOC);
    let sd = sign_fixture::signed_data(&sign(&request(s, &digest)).unwrap());
    let si = sign_fixture::only_signer(&sd);
    assert!(!has_attribute(si, oid::ID_AA_ETS_COMMITMENT_TYPE));
    assert!(!has_attribute(si, oid::ID_AA_ETS_SIGNER_ATTR_V2));
    assert_eq!(si.signed_attrs.as_ref().unwrap().len(), 4);
}

#[test]
fn signing_time_from_2050_is_generalized_time() {
    let s = signer("ed25519");
    let digest = sign_fixture::digest_for(&s.key, DOC);
    // 2050-01-01T00:00:00Z and one second before.
    for (at, generalized) in [(2_524_608_000u64, true), (2_524_607_999, false)] {
        let der = sign(&SignatureRequest {
            signing_time: at,
            ..request(s, &digest)
        })
        .unwrap();
        let sd = sign_fixture::signed_data(&der);
        let time: Time = attribute(sign_fixture::only_signer(&sd), oid::ID_SIGNING_TIME)
            .decode_as()
            .unwrap();
        assert_eq!(matches!(time, Time::GeneralTime(_)), generalized, "{at}");
        assert_eq!(time.to_unix_duration().as_secs(), at);
    }
}

#[test]
fn attached_signature_encapsulates_the_content() {
    let s = signer("p384");
    let digest = sign_fixture::digest_for(&s.key, DOC);
    let der = sign(&SignatureRequest {
        attached: Some(DOC),
        ..request(s, &digest)
    })
    .unwrap();
    let sd = sign_fixture::signed_data(&der);
    let content = sd.encap_content_info.econtent.as_ref().expect("eContent");
    let content: OctetString = content.decode_as().unwrap();
    assert_eq!(content.as_bytes(), DOC);
    let md: OctetString = attribute(sign_fixture::only_signer(&sd), oid::ID_MESSAGE_DIGEST)
        .decode_as()
        .unwrap();
    assert_eq!(md.as_bytes(), digest.as_slice());
}

#[test]
fn prepared_signer_gives_the_same_signature() {
    // Ed25519 is deterministic: the one-shot and the prepared path must agree octet for octet.
    let s = signer("ed25519");
    let digest = sign_fixture::digest_for(&s.key, DOC);
    let req = SignatureRequest {
        commitment_type: Some(ObjectIdentifier::new(ASTM_AUTHOR).unwrap()),
        claimed_role: Some("attending physician"),
        attached: Some(DOC),
        ..request(s, &digest)
    };
    let one_shot = sign(&req).unwrap();
    let prepared = PreparedSigner::new(&s.key, &s.certificate, &s.chain).unwrap();
    assert_eq!(prepared.digest_algorithm(), DigestAlgorithm::Sha512);
    let params = SignatureParams {
        digest: &digest,
        signing_time: SIGN_AT,
        commitment_type: req.commitment_type,
        claimed_role: req.claimed_role,
        attached: Some(DOC),
    };
    assert_eq!(prepared.sign(&s.key, &params).unwrap(), one_shot);
    assert_eq!(prepared.sign(&s.key, &params).unwrap(), one_shot);
    // A prepared signer refuses another key.
    let other = &signer("p256").key;
    assert!(matches!(
        prepared.sign(other, &params),
        Err(SignError::Certificate(_))
    ));
}

#[test]
fn wrong_digest_length_is_refused() {
    for alg in ALGORITHMS {
        let s = signer(alg);
        let want = DigestAlgorithm::for_key(&s.key).len();
        for got in [0, 20, 32, 48, 64] {
            let digest = vec![0x5a; got];
            let result = sign(&request(s, &digest));
            if got == want {
                assert!(result.is_ok(), "{alg}: {got}");
            } else {
                match result {
                    Err(SignError::DigestLength {
                        got: g, want: w, ..
                    }) => assert_eq!((g, w), (got, want), "{alg}"),
                    other => panic!("{alg} with {got} octets: {other:?}"),
                }
            }
        }
    }
}

#[test]
fn attached_content_must_match_the_digest() {
    for alg in ALGORITHMS {
        let s = signer(alg);
        let digest = sign_fixture::digest_for(&s.key, DOC);
        let mut other = DOC.to_vec();
        other[0] ^= 1;
        let result = sign(&SignatureRequest {
            attached: Some(&other),
            ..request(s, &digest)
        });
        assert!(
            matches!(result, Err(SignError::ContentMismatch)),
            "{alg}: {result:?}"
        );
    }
}

#[test]
fn certificate_of_another_key_is_refused() {
    let p256 = signer("p256");
    for alg in ["p384", "ed25519", "rsa"] {
        let s = signer(alg);
        let digest = sign_fixture::digest_for(&s.key, DOC);
        // The key of `alg` with the P-256 signer's certificate.
        let result = sign(&SignatureRequest {
            certificate: &p256.certificate,
            ..request(s, &digest)
        });
        assert!(
            matches!(result, Err(SignError::Certificate(_))),
            "{alg}: {result:?}"
        );
    }
    // Same algorithm, different key.
    let other = ca_core::key::SigningKey::generate(ca_core::key::KeyAlgorithm::P256).unwrap();
    let digest = sign_fixture::digest_for(&other, DOC);
    let result = sign(&SignatureRequest {
        key: &other,
        ..request(p256, &digest)
    });
    assert!(
        matches!(result, Err(SignError::Certificate(_))),
        "{result:?}"
    );
    // Not a certificate at all, or a broken chain.
    let result = sign(&SignatureRequest {
        certificate: b"not a certificate",
        ..request(p256, &digest)
    });
    assert!(
        matches!(result, Err(SignError::Certificate(_))),
        "{result:?}"
    );
    let p256_digest = sign_fixture::digest_for(&p256.key, DOC);
    let chain = vec![b"garbage".to_vec()];
    let result = sign(&SignatureRequest {
        chain: &chain,
        ..request(p256, &p256_digest)
    });
    assert!(
        matches!(result, Err(SignError::Certificate(_))),
        "{result:?}"
    );
}

#[test]
fn document_hasher_over_chunks_equals_one_shot_digest() {
    let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let cases = [
        (DigestAlgorithm::Sha256, &ring::digest::SHA256, 32),
        (DigestAlgorithm::Sha384, &ring::digest::SHA384, 48),
        (DigestAlgorithm::Sha512, &ring::digest::SHA512, 64),
    ];
    for (alg, ring_alg, len) in cases {
        let want = ring::digest::digest(ring_alg, &data);
        assert_eq!(alg.len(), len);
        assert_eq!(alg.digest(&data), want.as_ref());
        for chunk in [1, 63, 64, 1000, 65_536, data.len()] {
            let mut hasher = DocumentHasher::new(alg);
            for piece in data.chunks(chunk) {
                hasher.update(piece);
            }
            assert_eq!(
                hasher.finish(),
                want.as_ref(),
                "{alg:?} in chunks of {chunk}"
            );
        }
        // Nothing fed = digest of the empty string.
        let empty = DocumentHasher::new(alg).finish();
        assert_eq!(empty, ring::digest::digest(ring_alg, b"").as_ref());
    }
}

#[test]
fn digest_algorithm_names() {
    for (names, alg) in [
        (["sha256", "SHA-256", "SHA256"], DigestAlgorithm::Sha256),
        (["sha384", "SHA-384", "Sha384"], DigestAlgorithm::Sha384),
        (["sha512", "SHA-512", "sha-512"], DigestAlgorithm::Sha512),
    ] {
        for name in names {
            assert_eq!(DigestAlgorithm::from_name(name), Some(alg), "{name}");
        }
    }
    for bad in ["", "sha1", "md5", "sha-224", "sha3-256", "sha 256"] {
        assert_eq!(DigestAlgorithm::from_name(bad), None, "{bad}");
    }
    assert_eq!(DigestAlgorithm::Sha256.oid(), oid::ID_SHA_256);
    assert_eq!(DigestAlgorithm::Sha384.oid(), oid::ID_SHA_384);
    assert_eq!(DigestAlgorithm::Sha512.oid(), oid::ID_SHA_512);
}

#[test]
fn output_re_encodes_identically_with_the_cms_types() {
    // `sign` encodes SignedData through its own borrowed mirror; the cms crate's types must decode
    // it and encode the very same octets (DER is canonical), attached and detached.
    for alg in ALGORITHMS {
        let s = signer(alg);
        let digest = sign_fixture::digest_for(&s.key, DOC);
        for attached in [None, Some(DOC)] {
            let der = sign(&SignatureRequest {
                attached,
                claimed_role: Some("attending physician"),
                ..request(s, &digest)
            })
            .unwrap();
            let info = cms::content_info::ContentInfo::from_der(&der).unwrap();
            assert_eq!(info.to_der().unwrap(), der, "{alg}");
            let sd: cms::signed_data::SignedData = info.content.decode_as().unwrap();
            assert_eq!(
                sd.to_der().unwrap(),
                info.content.to_der().unwrap(),
                "{alg}"
            );
        }
    }
}

#[test]
fn output_equals_a_signed_data_built_with_the_cms_types() {
    // The prepared signer writes pre-encoded parts and sorts the signed attributes itself; an
    // independent build of the same SignedData from the cms / x509-cert types (attributes from
    // cms::builder's helpers, SET OF ordering by der) must give the very same octets, for every
    // key, detached and attached, with and without the optional attributes.
    use ca_core::sign::{EssCertIdV2, IssuerSerial};
    use cms::builder::{create_content_type_attribute, create_message_digest_attribute};
    use cms::cert::IssuerAndSerialNumber;
    use cms::content_info::ContentInfo;
    use cms::signed_data::{
        CertificateSet, EncapsulatedContentInfo, SignedAttributes, SignedData, SignerInfo,
        SignerInfos,
    };
    use der::asn1::SetOfVec;
    use der::{Any, Tag};
    use x509_cert::attr::Attribute;

    let one = |oid, value: Any| Attribute {
        oid,
        values: SetOfVec::try_from(vec![value]).unwrap(),
    };
    let author = ObjectIdentifier::new(ASTM_AUTHOR).unwrap();
    for alg in ALGORITHMS {
        let s = signer(alg);
        let digest = sign_fixture::digest_for(&s.key, DOC);
        let cert = Certificate::from_der(&s.certificate).unwrap();
        let tbs = cert.tbs_certificate();
        for attached in [None, Some(DOC)] {
            for (commitment, role) in [(None, None), (Some(author), Some("attending physician"))] {
                let der = sign(&SignatureRequest {
                    attached,
                    commitment_type: commitment,
                    claimed_role: role,
                    ..request(s, &digest)
                })
                .unwrap();
                let made = sign_fixture::signed_data(&der);
                let si = sign_fixture::only_signer(&made);
                sign_fixture::verify_signer_info(si, &s.certificate).unwrap();

                let time =
                    der::DateTime::from_unix_duration(std::time::Duration::from_secs(SIGN_AT))
                        .unwrap();
                let ess = SigningCertificateV2 {
                    certs: vec![EssCertIdV2 {
                        hash_algorithm: None,
                        cert_hash: OctetString::new(
                            ring::digest::digest(&ring::digest::SHA256, &s.certificate).as_ref(),
                        )
                        .unwrap(),
                        issuer_serial: Some(IssuerSerial {
                            issuer: vec![GeneralName::DirectoryName(tbs.issuer().clone())],
                            serial_number: tbs.serial_number().clone(),
                        }),
                    }],
                    policies: None,
                };
                let mut attrs = vec![
                    create_content_type_attribute(oid::ID_DATA).unwrap(),
                    create_message_digest_attribute(&digest).unwrap(),
                    one(
                        oid::ID_SIGNING_TIME,
                        Any::encode_from(&Time::from(time)).unwrap(),
                    ),
                    one(
                        oid::ID_AA_SIGNING_CERTIFICATE_V_2,
                        Any::encode_from(&ess).unwrap(),
                    ),
                ];
                if let Some(commitment) = commitment {
                    let value = CommitmentTypeIndication {
                        commitment_type_id: commitment,
                        commitment_type_qualifier: None,
                    };
                    attrs.push(one(
                        oid::ID_AA_ETS_COMMITMENT_TYPE,
                        Any::encode_from(&value).unwrap(),
                    ));
                }
                if let Some(role) = role {
                    let name = Any::encode_from(&Utf8StringRef::new(role).unwrap()).unwrap();
                    let value = SignerAttributeV2 {
                        claimed_attributes: Some(vec![one(oid::ID_AT_NAME, name)]),
                        certified_attributes_v2: None,
                        signed_assertions: None,
                    };
                    attrs.push(one(
                        oid::ID_AA_ETS_SIGNER_ATTR_V2,
                        Any::encode_from(&value).unwrap(),
                    ));
                }
                let digest_alg = DigestAlgorithm::for_key(&s.key).identifier();
                let signer_info = SignerInfo {
                    version: CmsVersion::V1,
                    sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                        issuer: tbs.issuer().clone(),
                        serial_number: tbs.serial_number().clone(),
                    }),
                    digest_alg: digest_alg.clone(),
                    signed_attrs: Some(SignedAttributes::try_from(attrs).unwrap()),
                    signature_algorithm: s.key.signature_algorithm(),
                    signature: si.signature.clone(),
                    unsigned_attrs: None,
                };
                let certificates: Vec<CertificateChoices> = std::iter::once(&s.certificate)
                    .chain(&s.chain)
                    .map(|d| CertificateChoices::Certificate(Certificate::from_der(d).unwrap()))
                    .collect();
                let expected = SignedData {
                    version: CmsVersion::V1,
                    digest_algorithms: SetOfVec::try_from(vec![digest_alg]).unwrap(),
                    encap_content_info: EncapsulatedContentInfo {
                        econtent_type: oid::ID_DATA,
                        econtent: attached.map(|c| Any::new(Tag::OctetString, c).unwrap()),
                    },
                    certificates: Some(CertificateSet::try_from(certificates).unwrap()),
                    crls: None,
                    signer_infos: SignerInfos::try_from(vec![signer_info]).unwrap(),
                };
                let expected = ContentInfo {
                    content_type: oid::ID_SIGNED_DATA,
                    content: Any::encode_from(&expected).unwrap(),
                };
                assert_eq!(
                    der,
                    expected.to_der().unwrap(),
                    "{alg} attached={} optional={}",
                    attached.is_some(),
                    role.is_some()
                );
            }
        }
    }
}
