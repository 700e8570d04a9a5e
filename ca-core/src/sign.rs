//! CMS SignedData (RFC 5652) with CAdES baseline attributes (ETSI EN 319 122-1): the signatures the
//! service returns. Detached by default, attached on request, or over a digest the client computed.
//!
//! The structures are the `cms` crate's; the signature is made here over the DER of the
//! SignedAttributes SET (RFC 5652 §5.4) rather than through `cms::builder`, because the builder
//! re-hashes attached content itself, cannot take an external digest for attached content, and
//! clones the content and certificates several times per signature. Only the outer ContentInfo and
//! SignedData are encoded through borrowed mirrors of the cms types, so that the certificates are
//! embedded from their DER and the content is not encoded twice. Everything that depends only on
//! the credential (encoded certificates, sid, ESS attribute) lives in [`PreparedSigner`], which the
//! signing service can keep per credential so a signature costs little more than the key operation.

use crate::key::{KeyAlgorithm, SigningKey};
use crate::oid;
use cms::builder::{create_content_type_attribute, create_message_digest_attribute};
use cms::cert::IssuerAndSerialNumber;
use cms::content_info::CmsVersion;
use cms::signed_data::{
    DigestAlgorithmIdentifiers, EncapsulatedContentInfo, SignedAttributes, SignerIdentifier,
    SignerInfo, SignerInfos,
};
use const_oid::ObjectIdentifier;
use der::asn1::{ContextSpecificRef, OctetString, SetOfVec, Utf8StringRef};
use der::{Any, Decode, Encode, EncodeValue, FixedTag, Length, Tag, TagMode, TagNumber, Writer};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::certpolicy::PolicyInformation;
use x509_cert::ext::pkix::name::{GeneralName, GeneralNames};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Time;

/// Digest algorithms for documents and signed attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    Sha256,
    Sha384,
    Sha512,
}

impl DigestAlgorithm {
    /// The digest a key signs with: SHA-256 for P-256 and RSA, SHA-384 for P-384, SHA-512 for
    /// Ed25519 (RFC 8419 §3) and P-521.
    pub fn for_key(key: &SigningKey) -> Self {
        Self::for_algorithm(key.algorithm())
    }
    /// The same, by key algorithm: a request can be checked before any key is unsealed.
    pub fn for_algorithm(algorithm: KeyAlgorithm) -> Self {
        match algorithm {
            KeyAlgorithm::P256 | KeyAlgorithm::Rsa => Self::Sha256,
            KeyAlgorithm::P384 => Self::Sha384,
            KeyAlgorithm::Ed25519 | KeyAlgorithm::P521 => Self::Sha512,
        }
    }
    /// Output length in octets.
    #[allow(clippy::len_without_is_empty)] // a digest length, never empty
    pub fn len(self) -> usize {
        self.ring().output_len()
    }
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            Self::Sha256 => oid::ID_SHA_256,
            Self::Sha384 => oid::ID_SHA_384,
            Self::Sha512 => oid::ID_SHA_512,
        }
    }
    /// "sha256", "sha384", "sha512" (also accepts "SHA-256" etc.).
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().replace('-', "").as_str() {
            "sha256" => Some(Self::Sha256),
            "sha384" => Some(Self::Sha384),
            "sha512" => Some(Self::Sha512),
            _ => None,
        }
    }
    /// The DigestAlgorithmIdentifier, parameters absent as RFC 5754 §2 says to generate.
    pub fn identifier(self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: self.oid(),
            parameters: None,
        }
    }
    /// One-shot digest of `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        ring::digest::digest(self.ring(), data).as_ref().to_vec()
    }
    fn ring(self) -> &'static ring::digest::Algorithm {
        match self {
            Self::Sha256 => &ring::digest::SHA256,
            Self::Sha384 => &ring::digest::SHA384,
            Self::Sha512 => &ring::digest::SHA512,
        }
    }
}

/// Hashes a document as a stream, so a large body is never held in memory.
pub struct DocumentHasher {
    context: ring::digest::Context,
}

impl DocumentHasher {
    pub fn new(algorithm: DigestAlgorithm) -> Self {
        Self {
            context: ring::digest::Context::new(algorithm.ring()),
        }
    }
    pub fn update(&mut self, chunk: &[u8]) {
        self.context.update(chunk);
    }
    pub fn finish(self) -> Vec<u8> {
        self.context.finish().as_ref().to_vec()
    }
}

/// What to sign and how.
pub struct SignatureRequest<'a> {
    pub key: &'a SigningKey,
    /// The signer's certificate (DER).
    pub certificate: &'a [u8],
    /// CA certificates to include after the signer's (DER), issuing CA first.
    pub chain: &'a [Vec<u8>],
    /// Digest of the content with `DigestAlgorithm::for_key(key)`.
    pub digest: &'a [u8],
    /// Unix seconds, for the signingTime attribute.
    pub signing_time: u64,
    /// commitment-type-indication (ETSI EN 319 122-1 §5.2.3), e.g. an ASTM E1762 purpose.
    pub commitment_type: Option<ObjectIdentifier>,
    /// A claimed role for signer-attributes-v2 (never trusted over the certified hcRole).
    pub claimed_role: Option<&'a str>,
    /// Encapsulate this content (attached signature); `None` for detached. Its digest must equal
    /// `digest`.
    pub attached: Option<&'a [u8]>,
}

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("digest is {got} octets; {algorithm:?} needs {want}")]
    DigestLength {
        algorithm: DigestAlgorithm,
        got: usize,
        want: usize,
    },
    #[error("the attached content does not match the digest")]
    ContentMismatch,
    #[error("signer certificate: {0}")]
    Certificate(String),
    #[error("building CMS: {0}")]
    Build(String),
    #[error("signing: {0}")]
    Key(#[from] crate::key::KeyError),
}

impl From<der::Error> for SignError {
    fn from(e: der::Error) -> Self {
        SignError::Build(e.to_string())
    }
}

/// Signs: a DER `ContentInfo` holding `SignedData` with contentType, messageDigest, signingTime,
/// ESS signingCertificateV2 (RFC 5035), and commitment type / signer attributes when asked.
pub fn sign(request: &SignatureRequest<'_>) -> Result<Vec<u8>, SignError> {
    PreparedSigner::new(request.key, request.certificate, request.chain)?.sign(
        request.key,
        &SignatureParams {
            digest: request.digest,
            signing_time: request.signing_time,
            commitment_type: request.commitment_type,
            claimed_role: request.claimed_role,
            attached: request.attached,
        },
    )
}

/// The per-document part of a [`SignatureRequest`].
#[derive(Clone, Copy, Debug)]
pub struct SignatureParams<'a> {
    /// Digest of the content with the signer's [`DigestAlgorithm`].
    pub digest: &'a [u8],
    /// Unix seconds, for the signingTime attribute.
    pub signing_time: u64,
    pub commitment_type: Option<ObjectIdentifier>,
    pub claimed_role: Option<&'a str>,
    /// Content to encapsulate; `None` for a detached signature.
    pub attached: Option<&'a [u8]>,
}

/// Everything about a signer that does not change from one signature to the next: the encoded
/// certificates, the signer identifier and the ESS signingCertificateV2 attribute. Build it once per
/// credential (it parses and hashes the certificates, about as long as one ECDSA signature) and
/// sign many documents with it.
///
/// Measured (release, P-256, a loaded 2-core box): the key operation ~23 µs, `sign` on a prepared
/// signer ~4–10 µs more, of which ~2 µs sort the signed attributes, ~2 µs encode them for signing
/// and ~5 µs encode the result. Next step if the criterion target needs it: pre-encode each
/// attribute to an `Any` (cheap sort and length) and mirror SignerInfo like [`SignedDataRef`] so
/// the SET signed is embedded without a second encoding; the sid could then be cached encoded too.
#[derive(Clone, Debug)]
pub struct PreparedSigner {
    digest: DigestAlgorithm,
    spki: SubjectPublicKeyInfoOwned,
    sid: SignerIdentifier,
    /// Signer and chain certificates as their DER, in DER SET OF order. Kept encoded: encoding
    /// parsed `Certificate`s costs more than an ECDSA signature (der recomputes nested lengths).
    certificates: SetOfVec<Any>,
    /// The ESS signingCertificateV2 attribute, value already encoded.
    signing_certificate: Attribute,
}

impl PreparedSigner {
    /// Parses `certificate` (the signer's, DER) and `chain` (issuing CA first), and checks the
    /// certificate certifies `key`.
    pub fn new(key: &SigningKey, certificate: &[u8], chain: &[Vec<u8>]) -> Result<Self, SignError> {
        let cert = parse_certificate(certificate)?;
        let tbs = cert.tbs_certificate();
        if tbs.subject_public_key_info() != key.public_key_info() {
            return Err(SignError::Certificate(
                "its public key is not the signing key's".into(),
            ));
        }
        let signing_certificate = ess_signing_certificate(&cert, certificate)?;
        let sid = SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: tbs.issuer().clone(),
            serial_number: tbs.serial_number().clone(),
        });
        let mut certificates = Vec::with_capacity(1 + chain.len());
        // Embedded as given, so they are the very octets certHash covers.
        certificates.push(Any::from_der(certificate)?);
        for (i, der) in chain.iter().enumerate() {
            // Parsed only to refuse garbage.
            Certificate::from_der(der)
                .map_err(|e| SignError::Certificate(format!("chain[{i}]: {e}")))?;
            certificates.push(Any::from_der(der)?);
        }
        Ok(Self {
            digest: DigestAlgorithm::for_key(key),
            spki: key.public_key_info().clone(),
            sid,
            // A DER SET OF: sorted by encoding, so the signer is not necessarily first.
            certificates: SetOfVec::try_from(certificates)?,
            signing_certificate,
        })
    }

    /// The digest algorithm documents must be hashed with for this signer.
    pub fn digest_algorithm(&self) -> DigestAlgorithm {
        self.digest
    }

    /// Signs one document with `key`, which must be the key the certificate certifies.
    pub fn sign(
        &self,
        key: &SigningKey,
        params: &SignatureParams<'_>,
    ) -> Result<Vec<u8>, SignError> {
        if key.public_key_info() != &self.spki {
            return Err(SignError::Certificate(
                "its public key is not the signing key's".into(),
            ));
        }
        let want = self.digest.len();
        if params.digest.len() != want {
            return Err(SignError::DigestLength {
                algorithm: self.digest,
                got: params.digest.len(),
                want,
            });
        }
        if let Some(content) = params.attached
            && self.digest.digest(content) != params.digest
        {
            return Err(SignError::ContentMismatch);
        }

        let mut attributes = Vec::with_capacity(6);
        // RFC 5652 §5.3: content-type and message-digest are mandatory with signed attributes.
        attributes.push(create_content_type_attribute(oid::ID_DATA).map_err(build)?);
        attributes.push(create_message_digest_attribute(params.digest).map_err(build)?);
        attributes.push(signing_time_attribute(params.signing_time)?);
        attributes.push(self.signing_certificate.clone());
        if let Some(commitment) = params.commitment_type {
            attributes.push(single_valued(
                oid::ID_AA_ETS_COMMITMENT_TYPE,
                &CommitmentTypeIndication {
                    commitment_type_id: commitment,
                    commitment_type_qualifier: None,
                },
            )?);
        }
        if let Some(role) = params.claimed_role {
            attributes.push(single_valued(
                oid::ID_AA_ETS_SIGNER_ATTR_V2,
                &SignerAttributeV2 {
                    claimed_attributes: Some(vec![claimed_role_attribute(role)?]),
                    certified_attributes_v2: None,
                    signed_assertions: None,
                },
            )?);
        }
        // SetOfVec sorts into DER order: the SET signed below is the one a verifier re-encodes.
        let signed_attrs = SignedAttributes::try_from(attributes)?;
        let signature = key.sign(&signed_attrs.to_der()?)?;

        let signer_info = SignerInfo {
            // RFC 5652 §5.3: v1 with issuerAndSerialNumber.
            version: CmsVersion::V1,
            sid: self.sid.clone(),
            digest_alg: self.digest.identifier(),
            signed_attrs: Some(signed_attrs),
            signature_algorithm: key.signature_algorithm(),
            signature: OctetString::new(signature)?,
            unsigned_attrs: None,
        };
        let signed_data = SignedDataRef {
            // RFC 5652 §5.1: v1 for id-data content, certificates only, v1 SignerInfos.
            version: CmsVersion::V1,
            digest_algorithms: &SetOfVec::try_from(vec![self.digest.identifier()])?,
            encap_content_info: &EncapsulatedContentInfo {
                econtent_type: oid::ID_DATA,
                econtent: params
                    .attached
                    .map(|content| Any::new(Tag::OctetString, content))
                    .transpose()?,
            },
            certificates: &self.certificates,
            signer_infos: &SignerInfos::try_from(vec![signer_info])?,
        };
        Ok(SignedContentInfo(signed_data).to_der()?)
    }
}

fn build(e: cms::builder::Error) -> SignError {
    SignError::Build(e.to_string())
}

fn parse_certificate(der: &[u8]) -> Result<Certificate, SignError> {
    Certificate::from_der(der).map_err(|e| SignError::Certificate(e.to_string()))
}

fn single_valued(
    oid: ObjectIdentifier,
    value: &(impl EncodeValue + der::Tagged),
) -> Result<Attribute, SignError> {
    Ok(Attribute {
        oid,
        values: SetOfVec::try_from(vec![Any::encode_from(value)?])?,
    })
}

/// signingTime (RFC 5652 §11.3): UTCTime from 1950 to 2049, GeneralizedTime otherwise, which is
/// the X.509 `Time` rule too.
fn signing_time_attribute(unix: u64) -> Result<Attribute, SignError> {
    let time = der::DateTime::from_unix_duration(std::time::Duration::from_secs(unix))
        .map_err(|e| SignError::Build(format!("signing time: {e}")))?;
    single_valued(oid::ID_SIGNING_TIME, &Time::from(time))
}

/// ESS signingCertificateV2 (RFC 5035 §3) for `cert`, whose DER is `der`: one ESSCertIDv2 with the
/// default hash SHA-256 (so hashAlgorithm is omitted) and the issuerSerial.
fn ess_signing_certificate(cert: &Certificate, der: &[u8]) -> Result<Attribute, SignError> {
    let tbs = cert.tbs_certificate();
    let value = SigningCertificateV2 {
        certs: vec![EssCertIdV2 {
            hash_algorithm: None, // the default, SHA-256
            cert_hash: OctetString::new(DigestAlgorithm::Sha256.digest(der))?,
            issuer_serial: Some(IssuerSerial {
                issuer: vec![GeneralName::DirectoryName(tbs.issuer().clone())],
                serial_number: tbs.serial_number().clone(),
            }),
        }],
        policies: None,
    };
    single_valued(oid::ID_AA_SIGNING_CERTIFICATE_V_2, &value)
}

/// The claimed role as an X.520 `name` attribute (2.5.4.41, DirectoryString syntax) holding a
/// UTF8String: what the EU DSS library, the reference CAdES implementation, writes and reads as a
/// claimed signer role. The X.509 `role` attribute (2.5.4.72) would need a GeneralName for the
/// role name, which a free-text role is not.
fn claimed_role_attribute(role: &str) -> Result<Attribute, SignError> {
    single_valued(oid::ID_AT_NAME, &Utf8StringRef::new(role)?)
}

// ---- ASN.1 types of the attributes (public so the verifier decodes with the same types) ----

/// `SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2, policies SEQUENCE OF
/// PolicyInformation OPTIONAL }` (RFC 5035 §3).
#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
pub struct SigningCertificateV2 {
    pub certs: Vec<EssCertIdV2>,
    #[asn1(optional = "true")]
    pub policies: Option<Vec<PolicyInformation>>,
}

/// `ESSCertIDv2 ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier DEFAULT {algorithm id-sha256},
/// certHash Hash, issuerSerial IssuerSerial OPTIONAL }` (RFC 5035 §4). DER omits the default:
/// hpki writes `None`; read the effective algorithm with [`EssCertIdV2::hash_algorithm`].
#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
pub struct EssCertIdV2 {
    #[asn1(optional = "true")]
    pub hash_algorithm: Option<AlgorithmIdentifierOwned>,
    pub cert_hash: OctetString,
    #[asn1(optional = "true")]
    pub issuer_serial: Option<IssuerSerial>,
}

impl EssCertIdV2 {
    /// hashAlgorithm, or its default `{algorithm id-sha256}` when absent.
    pub fn hash_algorithm(&self) -> AlgorithmIdentifierOwned {
        self.hash_algorithm
            .clone()
            .unwrap_or_else(|| DigestAlgorithm::Sha256.identifier())
    }
}

/// `IssuerSerial ::= SEQUENCE { issuer GeneralNames, serialNumber CertificateSerialNumber }`
/// (RFC 5035 §4).
#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
pub struct IssuerSerial {
    pub issuer: GeneralNames,
    pub serial_number: SerialNumber,
}

/// `CommitmentTypeIndication ::= SEQUENCE { commitmentTypeId CommitmentTypeIdentifier,
/// commitmentTypeQualifier SEQUENCE SIZE (1..MAX) OF CommitmentTypeQualifier OPTIONAL }`
/// (ETSI EN 319 122-1 §5.2.3). hpki writes no qualifiers, so they stay opaque.
#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
pub struct CommitmentTypeIndication {
    pub commitment_type_id: ObjectIdentifier,
    #[asn1(optional = "true")]
    pub commitment_type_qualifier: Option<Vec<Any>>,
}

/// `SignerAttributeV2 ::= SEQUENCE { claimedAttributes [0] ClaimedAttributes OPTIONAL,
/// certifiedAttributesV2 [1] CertifiedAttributesV2 OPTIONAL, signedAssertions [2] SignedAssertions
/// OPTIONAL }` with `ClaimedAttributes ::= SEQUENCE OF Attribute` (ETSI EN 319 122-1 §5.2.6.1).
/// The tags are explicit (the ETSI module's tagging; EU DSS decodes [0] explicitly). hpki writes
/// only claimed attributes; the other two stay opaque.
#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
pub struct SignerAttributeV2 {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub claimed_attributes: Option<Vec<Attribute>>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    pub certified_attributes_v2: Option<Any>,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
    pub signed_assertions: Option<Any>,
}

/// `ContentInfo ::= SEQUENCE { contentType ContentType, content [0] EXPLICIT ANY DEFINED BY
/// contentType }` (RFC 5652 §3) around a [`SignedDataRef`]: `cms::content_info::ContentInfo`
/// holds its content as an owned `Any`, which would encode everything (attached content
/// included) once more before the final encoding.
struct SignedContentInfo<'a>(SignedDataRef<'a>);

impl SignedContentInfo<'_> {
    fn content(&self) -> ContextSpecificRef<'_, SignedDataRef<'_>> {
        ContextSpecificRef {
            tag_number: TagNumber(0),
            tag_mode: TagMode::Explicit,
            value: &self.0,
        }
    }
}

impl FixedTag for SignedContentInfo<'_> {
    const TAG: Tag = Tag::Sequence;
}

impl EncodeValue for SignedContentInfo<'_> {
    fn value_len(&self) -> der::Result<Length> {
        oid::ID_SIGNED_DATA.encoded_len()? + self.content().encoded_len()?
    }
    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        oid::ID_SIGNED_DATA.encode(writer)?;
        self.content().encode(writer)
    }
}

/// `SignedData ::= SEQUENCE { version CMSVersion, digestAlgorithms SET OF
/// DigestAlgorithmIdentifier, encapContentInfo EncapsulatedContentInfo, certificates [0] IMPLICIT
/// CertificateSet OPTIONAL, crls [1] IMPLICIT RevocationInfoChoices OPTIONAL, signerInfos
/// SignerInfos }` (RFC 5652 §5.1), encoding the same octets as `cms::signed_data::SignedData`
/// but borrowing its parts and taking the CertificateSet as the certificates' DER (each one a
/// `CertificateChoices::certificate`). hpki writes no crls.
struct SignedDataRef<'a> {
    version: CmsVersion,
    digest_algorithms: &'a DigestAlgorithmIdentifiers,
    encap_content_info: &'a EncapsulatedContentInfo,
    certificates: &'a SetOfVec<Any>,
    signer_infos: &'a SignerInfos,
}

impl SignedDataRef<'_> {
    fn certificates(&self) -> ContextSpecificRef<'_, SetOfVec<Any>> {
        ContextSpecificRef {
            tag_number: TagNumber(0),
            tag_mode: TagMode::Implicit,
            value: self.certificates,
        }
    }
}

impl FixedTag for SignedDataRef<'_> {
    const TAG: Tag = Tag::Sequence;
}

impl EncodeValue for SignedDataRef<'_> {
    fn value_len(&self) -> der::Result<Length> {
        self.version.encoded_len()?
            + self.digest_algorithms.encoded_len()?
            + self.encap_content_info.encoded_len()?
            + self.certificates().encoded_len()?
            + self.signer_infos.encoded_len()?
    }
    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        self.version.encode(writer)?;
        self.digest_algorithms.encode(writer)?;
        self.encap_content_info.encode(writer)?;
        self.certificates().encode(writer)?;
        self.signer_infos.encode(writer)
    }
}
