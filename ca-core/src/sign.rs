//! CMS SignedData (RFC 5652) with CAdES baseline attributes (ETSI EN 319 122-1): the signatures the
//! service returns. Detached by default, attached on request, or over a digest the client computed.
//!
//! The structures are the `cms` crate's types' encodings, but a signature is not built through
//! `cms::builder` nor by encoding those types: the builder re-hashes attached content itself,
//! cannot take an external digest for attached content and clones the content and certificates
//! several times per signature, and encoding the parsed types recomputes nested lengths at every
//! level. Everything that depends only on the credential is encoded once into a [`PreparedSigner`],
//! which the signing service keeps per credential; a signature encodes only its per-document
//! attributes and writes the rest around them once (tests prove the cms types decode the output and
//! re-encode it to the same octets).

use crate::engine::digest::DigestAlgorithm;
use crate::engine::key::SigningKey;
use crate::engine::oid;
use cms::cert::IssuerAndSerialNumber;
use cms::content_info::CmsVersion;
use cms::signed_data::SignerIdentifier;
use const_oid::ObjectIdentifier;
use der::asn1::{ContextSpecificRef, OctetString, OctetStringRef, SetOfVec, Utf8StringRef};
use der::{
    Any, Decode, Encode, EncodeValue, FixedTag, Header, Length, Tag, TagMode, TagNumber, Writer,
};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::certpolicy::PolicyInformation;
use x509_cert::ext::pkix::name::{GeneralName, GeneralNames};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Time;

/// What to sign and how.
pub struct SignatureRequest<'a> {
    /// The signer's key.
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

/// Why a CMS signature could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The digest's length is not its algorithm's.
    #[error("digest is {got} octets; {algorithm:?} needs {want}")]
    DigestLength {
        /// The digest algorithm.
        algorithm: DigestAlgorithm,
        /// The digest's length in octets.
        got: usize,
        /// The algorithm's length in octets.
        want: usize,
    },
    /// The attached content does not hash to the digest.
    #[error("the attached content does not match the digest")]
    ContentMismatch,
    /// The signer's certificate or chain does not decode.
    #[error("signer certificate: {0}")]
    Certificate(String),
    /// The CMS could not be encoded.
    #[error("building CMS: {0}")]
    Build(String),
    /// The key could not sign.
    #[error("signing: {0}")]
    Key(#[from] crate::engine::key::KeyError),
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

/// The per-document part of a [`SignatureRequest`]. `Debug` shows the attached content's size,
/// never its bytes: it is a clinical document.
#[derive(Clone, Copy)]
pub struct SignatureParams<'a> {
    /// Digest of the content with the signer's [`DigestAlgorithm`].
    pub digest: &'a [u8],
    /// Unix seconds, for the signingTime attribute.
    pub signing_time: u64,
    /// commitment-type-indication to add (ETSI EN 319 122-1 §5.2.3).
    pub commitment_type: Option<ObjectIdentifier>,
    /// Claimed role for signer-attributes-v2 (ETSI EN 319 122-1 §5.2.6.1).
    pub claimed_role: Option<&'a str>,
    /// Content to encapsulate; `None` for a detached signature.
    pub attached: Option<&'a [u8]>,
}

impl std::fmt::Debug for SignatureParams<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureParams")
            .field("digest", &hex::encode(self.digest))
            .field("signing_time", &self.signing_time)
            .field("commitment_type", &self.commitment_type)
            .field("claimed_role", &self.claimed_role)
            .field("attached_bytes", &self.attached.map(<[u8]>::len))
            .finish()
    }
}

/// Everything about a signer that does not change from one signature to the next, kept as DER:
/// the certificates, the signer identifier, the algorithm identifiers and the constant signed
/// attributes (contentType, ESS signingCertificateV2). Build it once per credential (it parses and
/// hashes the certificates, about as long as one ECDSA signature) and sign many documents with it.
///
/// A signature then encodes only what changes (messageDigest, signingTime, commitment type,
/// claimed role), sorts the signed attributes' encodings into DER SET OF order (X.690 §11.6), signs
/// that SET and writes the ContentInfo around it once, into a buffer of the exact final size:
/// nothing is encoded twice and the attached content is copied once. Re-encoding parsed structures
/// costs more than the ECDSA signature itself (der recomputes nested lengths at every level).
#[derive(Clone, Debug)]
pub struct PreparedSigner {
    digest: DigestAlgorithm,
    spki: SubjectPublicKeyInfoOwned,
    /// `SignedData.version ‖ digestAlgorithms` (RFC 5652 §5.1): v1 for id-data content,
    /// certificates only and v1 SignerInfos; v3 for another eContentType.
    signed_data_head: Vec<u8>,
    /// `[0] IMPLICIT CertificateSet`: signer and chain certificates as given (so they are the very
    /// octets certHash covers), in DER SET OF order.
    certificates: Vec<u8>,
    /// `SignerInfo.version ‖ sid ‖ digestAlgorithm` (RFC 5652 §5.3): v1 with
    /// issuerAndSerialNumber.
    signer_info_head: Vec<u8>,
    /// `SignerInfo.signatureAlgorithm`.
    signature_algorithm: Vec<u8>,
    /// The contentType attribute (id-data), mandatory with signed attributes (RFC 5652 §5.3).
    content_type: Vec<u8>,
    /// The ESS signingCertificateV2 attribute.
    signing_certificate: Vec<u8>,
    /// id-signedData (ContentInfo.contentType) and the eContentType (id-data, or what
    /// [`PreparedSigner::with_content_type`] set), encoded.
    signed_data_oid: Vec<u8>,
    data_oid: Vec<u8>,
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
        let digest = DigestAlgorithm::for_key(key);
        let sid = SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: tbs.issuer().clone(),
            serial_number: tbs.serial_number().clone(),
        });
        let mut certificates = Vec::with_capacity(1 + chain.len());
        certificates.push(Any::from_der(certificate)?);
        for (i, der) in chain.iter().enumerate() {
            // Parsed only to refuse garbage.
            Certificate::from_der(der)
                .map_err(|e| SignError::Certificate(format!("chain[{i}]: {e}")))?;
            certificates.push(Any::from_der(der)?);
        }
        // A DER SET OF: sorted by encoding, so the signer is not necessarily first.
        let certificates = SetOfVec::try_from(certificates)?;
        let certificates = ContextSpecificRef {
            tag_number: TagNumber(0),
            tag_mode: TagMode::Implicit,
            value: &certificates,
        }
        .to_der()?;

        let mut signed_data_head = CmsVersion::V1.to_der()?;
        SetOfVec::try_from(vec![digest.identifier()])?.encode_to_vec(&mut signed_data_head)?;
        let mut signer_info_head = CmsVersion::V1.to_der()?;
        sid.encode_to_vec(&mut signer_info_head)?;
        digest.identifier().encode_to_vec(&mut signer_info_head)?;

        Ok(Self {
            digest,
            spki: key.public_key_info().clone(),
            signed_data_head,
            certificates,
            signer_info_head,
            signature_algorithm: key.signature_algorithm().to_der()?,
            content_type: SingleValued::new(oid::ID_CONTENT_TYPE, &oid::ID_DATA).to_der()?,
            signing_certificate: ess_signing_certificate(&cert, certificate)?,
            signed_data_oid: oid::ID_SIGNED_DATA.to_der()?,
            data_oid: oid::ID_DATA.to_der()?,
        })
    }

    /// Encapsulates `content_type` instead of id-data, e.g. id-ct-TSTInfo for an RFC 3161 §2.4.2
    /// time-stamp token: the eContentType and the contentType attribute both name it, and
    /// SignedData becomes version 3 (RFC 5652 §5.1: eContentType other than id-data).
    pub fn with_content_type(mut self, content_type: ObjectIdentifier) -> Result<Self, SignError> {
        let version = if content_type == oid::ID_DATA {
            CmsVersion::V1
        } else {
            CmsVersion::V3
        };
        let mut signed_data_head = version.to_der()?;
        SetOfVec::try_from(vec![self.digest.identifier()])?.encode_to_vec(&mut signed_data_head)?;
        self.signed_data_head = signed_data_head;
        self.content_type = SingleValued::new(oid::ID_CONTENT_TYPE, &content_type).to_der()?;
        self.data_oid = content_type.to_der()?;
        Ok(self)
    }

    /// Writes no `certificates` field: for a time-stamp token whose request had certReq FALSE
    /// (RFC 3161 §2.4.1). ESS signingCertificateV2 still identifies the signer's certificate.
    pub fn without_certificates(mut self) -> Self {
        self.certificates.clear();
        self
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

        // The attributes that change per document, each encoded once.
        let message_digest =
            SingleValued::new(oid::ID_MESSAGE_DIGEST, &OctetStringRef::new(params.digest)?)
                .to_der()?;
        let signing_time = signing_time_attribute(params.signing_time)?;
        let commitment_type = params
            .commitment_type
            .map(|commitment| {
                SingleValued::new(
                    oid::ID_AA_ETS_COMMITMENT_TYPE,
                    &CommitmentTypeIndication {
                        commitment_type_id: commitment,
                        commitment_type_qualifier: None,
                    },
                )
                .to_der()
            })
            .transpose()?;
        let signer_attributes = params
            .claimed_role
            .map(|role| {
                SingleValued::new(
                    oid::ID_AA_ETS_SIGNER_ATTR_V2,
                    &SignerAttributeV2 {
                        claimed_attributes: Some(vec![claimed_role_attribute(role)?]),
                        certified_attributes_v2: None,
                        signed_assertions: None,
                    },
                )
                .to_der()
                .map_err(SignError::from)
            })
            .transpose()?;

        let mut attributes: Vec<&[u8]> = Vec::with_capacity(6);
        attributes.extend([
            self.content_type.as_slice(),
            &message_digest,
            &signing_time,
            &self.signing_certificate,
        ]);
        attributes.extend(commitment_type.as_deref());
        attributes.extend(signer_attributes.as_deref());
        // DER SET OF order (X.690 §11.6): ascending encodings compared as octet strings. No
        // encoding is a prefix of another (each is one complete TLV), so slice order is that
        // order. The SET signed is the one a verifier re-encodes (RFC 5652 §5.4).
        attributes.sort_unstable();
        let attributes_len: usize = attributes.iter().map(|a| a.len()).sum();
        let mut signed_attributes = Vec::with_capacity(tlv_len(attributes_len)?);
        header(&mut signed_attributes, Tag::Set, attributes_len)?;
        for attribute in &attributes {
            signed_attributes.extend_from_slice(attribute);
        }
        let signature = key.sign(&signed_attributes)?;

        // Lengths, innermost first, so the output is written front to back in one buffer.
        // SignerInfo: the SET again, as [0] IMPLICIT (same length, other tag).
        let signer_info_len = self.signer_info_head.len()
            + signed_attributes.len()
            + self.signature_algorithm.len()
            + tlv_len(signature.len())?;
        let signer_infos_len = tlv_len(signer_info_len)?;
        let econtent_len = params.attached.map(|c| tlv_len(c.len())).transpose()?;
        let encap_len = self.data_oid.len() + econtent_len.map(tlv_len).transpose()?.unwrap_or(0);
        let signed_data_len = self.signed_data_head.len()
            + tlv_len(encap_len)?
            + self.certificates.len()
            + tlv_len(signer_infos_len)?;
        let content_info_len = self.signed_data_oid.len() + tlv_len(tlv_len(signed_data_len)?)?;

        let mut out = Vec::with_capacity(tlv_len(content_info_len)?);
        // ContentInfo (RFC 5652 §3) { id-signedData, [0] EXPLICIT SignedData }.
        header(&mut out, Tag::Sequence, content_info_len)?;
        out.extend_from_slice(&self.signed_data_oid);
        header(&mut out, context_specific(0), tlv_len(signed_data_len)?)?;
        // SignedData (RFC 5652 §5.1); hpki writes no crls.
        header(&mut out, Tag::Sequence, signed_data_len)?;
        out.extend_from_slice(&self.signed_data_head);
        // EncapsulatedContentInfo { id-data, eContent [0] EXPLICIT OCTET STRING OPTIONAL }.
        header(&mut out, Tag::Sequence, encap_len)?;
        out.extend_from_slice(&self.data_oid);
        if let (Some(content), Some(econtent_len)) = (params.attached, econtent_len) {
            header(&mut out, context_specific(0), econtent_len)?;
            header(&mut out, Tag::OctetString, content.len())?;
            out.extend_from_slice(content);
        }
        out.extend_from_slice(&self.certificates);
        // SignerInfos: a SET OF one SignerInfo (RFC 5652 §5.3).
        header(&mut out, Tag::Set, signer_infos_len)?;
        header(&mut out, Tag::Sequence, signer_info_len)?;
        out.extend_from_slice(&self.signer_info_head);
        header(&mut out, context_specific(0), attributes_len)?;
        out.extend_from_slice(&signed_attributes[signed_attributes.len() - attributes_len..]);
        out.extend_from_slice(&self.signature_algorithm);
        header(&mut out, Tag::OctetString, signature.len())?;
        out.extend_from_slice(&signature);
        debug_assert_eq!(out.len(), out.capacity());
        Ok(out)
    }
}

/// Constructed context-specific tag `[number]`.
fn context_specific(number: u32) -> Tag {
    Tag::ContextSpecific {
        constructed: true,
        number: TagNumber(number),
    }
}

/// Octets of a TLV whose value is `len` octets long (every tag here fits one octet).
fn tlv_len(len: usize) -> Result<usize, SignError> {
    let header = Header::new(Tag::Sequence, Length::try_from(len)?).encoded_len()?;
    Ok(usize::try_from(header)? + len)
}

/// Appends the identifier and length octets (X.690 §8.1.2, §8.1.3) of a `len`-octet value.
fn header(out: &mut Vec<u8>, tag: Tag, len: usize) -> Result<(), SignError> {
    Header::new(tag, Length::try_from(len)?).encode_to_vec(out)?;
    Ok(())
}

fn parse_certificate(der: &[u8]) -> Result<Certificate, SignError> {
    Certificate::from_der(der).map_err(|e| SignError::Certificate(e.to_string()))
}

/// `Attribute ::= SEQUENCE { attrType OBJECT IDENTIFIER, attrValues SET OF AttributeValue }`
/// (RFC 5652 §5.3) with one value, borrowed: a SET of one needs no sorting, so it is encoded
/// without building an owned `Attribute` and its `SetOfVec<Any>`.
struct SingleValued<'a, V> {
    oid: ObjectIdentifier,
    value: &'a V,
}

impl<'a, V: Encode> SingleValued<'a, V> {
    fn new(oid: ObjectIdentifier, value: &'a V) -> Self {
        Self { oid, value }
    }
    fn values_header(&self) -> der::Result<Header> {
        Ok(Header::new(Tag::Set, self.value.encoded_len()?))
    }
}

impl<V> FixedTag for SingleValued<'_, V> {
    const TAG: Tag = Tag::Sequence;
}

impl<V: Encode> EncodeValue for SingleValued<'_, V> {
    fn value_len(&self) -> der::Result<Length> {
        self.oid.encoded_len()? + self.values_header()?.encoded_len()? + self.value.encoded_len()?
    }
    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        self.oid.encode(writer)?;
        self.values_header()?.encode(writer)?;
        self.value.encode(writer)
    }
}

/// signingTime (RFC 5652 §11.3): UTCTime from 1950 to 2049, GeneralizedTime otherwise, which is
/// the X.509 `Time` rule too.
fn signing_time_attribute(unix: u64) -> Result<Vec<u8>, SignError> {
    let time = der::DateTime::from_unix_duration(std::time::Duration::from_secs(unix))
        .map_err(|e| SignError::Build(format!("signing time: {e}")))?;
    Ok(SingleValued::new(oid::ID_SIGNING_TIME, &Time::from(time)).to_der()?)
}

/// ESS signingCertificateV2 (RFC 5035 §3) for `cert`, whose DER is `der`: one ESSCertIDv2 with the
/// default hash SHA-256 (so hashAlgorithm is omitted) and the issuerSerial.
fn ess_signing_certificate(cert: &Certificate, der: &[u8]) -> Result<Vec<u8>, SignError> {
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
    Ok(SingleValued::new(oid::ID_AA_SIGNING_CERTIFICATE_V_2, &value).to_der()?)
}

/// The claimed role as an X.520 `name` attribute (2.5.4.41, DirectoryString syntax) holding a
/// UTF8String: what the EU DSS library, the reference CAdES implementation, writes and reads as a
/// claimed signer role. The X.509 `role` attribute (2.5.4.72) would need a GeneralName for the
/// role name, which a free-text role is not.
fn claimed_role_attribute(role: &str) -> Result<Attribute, SignError> {
    Ok(Attribute {
        oid: oid::ID_AT_NAME,
        values: SetOfVec::try_from(vec![Any::encode_from(&Utf8StringRef::new(role)?)?])?,
    })
}

// ---- ASN.1 types of the attributes (public so the verifier decodes with the same types) ----

/// `SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2, policies SEQUENCE OF
/// PolicyInformation OPTIONAL }` (RFC 5035 §3).
#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
pub struct SigningCertificateV2 {
    /// `certs`: the signer's certificate first.
    pub certs: Vec<EssCertIdV2>,
    /// `policies`: not written by hpki.
    #[asn1(optional = "true")]
    pub policies: Option<Vec<PolicyInformation>>,
}

/// `ESSCertIDv2 ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier DEFAULT {algorithm id-sha256},
/// certHash Hash, issuerSerial IssuerSerial OPTIONAL }` (RFC 5035 §4). DER omits the default:
/// hpki writes `None`; read the effective algorithm with [`EssCertIdV2::hash_algorithm`].
#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
pub struct EssCertIdV2 {
    /// `hashAlgorithm`: absent means SHA-256.
    #[asn1(optional = "true")]
    pub hash_algorithm: Option<AlgorithmIdentifierOwned>,
    /// `certHash`: the certificate's hash.
    pub cert_hash: OctetString,
    /// `issuerSerial`: the certificate's issuer and serial.
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
    /// `issuer`: the issuing CA's name.
    pub issuer: GeneralNames,
    /// `serialNumber`.
    pub serial_number: SerialNumber,
}

/// `CommitmentTypeIndication ::= SEQUENCE { commitmentTypeId CommitmentTypeIdentifier,
/// commitmentTypeQualifier SEQUENCE SIZE (1..MAX) OF CommitmentTypeQualifier OPTIONAL }`
/// (ETSI EN 319 122-1 §5.2.3). hpki writes no qualifiers, so they stay opaque.
#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
pub struct CommitmentTypeIndication {
    /// `commitmentTypeId`.
    pub commitment_type_id: ObjectIdentifier,
    /// `commitmentTypeQualifier`: kept opaque.
    #[asn1(optional = "true")]
    pub commitment_type_qualifier: Option<Vec<Any>>,
}

/// `SignerAttributeV2 ::= SEQUENCE { claimedAttributes [0] ClaimedAttributes OPTIONAL,
/// certifiedAttributesV2 [1] CertifiedAttributesV2 OPTIONAL, signedAssertions [2] SignedAssertions
/// OPTIONAL }` with `ClaimedAttributes ::= SEQUENCE OF Attribute` (ETSI EN 319 122-1 §5.2.6.1).
/// The tags are explicit (the ETSI module's tagging; EU DSS decodes `[0]` explicitly). hpki writes
/// only claimed attributes; the other two stay opaque.
#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
pub struct SignerAttributeV2 {
    /// `[0] claimedAttributes`.
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub claimed_attributes: Option<Vec<Attribute>>,
    /// `[1] certifiedAttributesV2`: kept opaque.
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    pub certified_attributes_v2: Option<Any>,
    /// `[2] signedAssertions`: kept opaque.
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
    pub signed_assertions: Option<Any>,
}
