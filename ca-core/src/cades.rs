//! CAdES baseline levels (ETSI EN 319 122-1) built onto an existing CMS SignedData: B-T (a
//! signature time-stamp), B-LT (validation data in `SignedData.certificates` / `crls`), B-LTA
//! (archive-time-stamp-v3 with its ats-hash-index-v3), and the structural level of a signature.
//!
//! Pure: time-stamp tokens, certificates, CRLs and OCSP responses are arguments; the caller asks
//! the TSA and gathers the data. Signatures from anywhere are raised, BER ones included: every
//! element a hash covers (SignerInfo fields, certificates, CRLs, attribute values, the content)
//! keeps its octets as received, and only the wrappers a change touches (ContentInfo, SignedData,
//! the SignerInfo, the SETs it adds to) are written again, with definite (DER) lengths.

use crate::engine::ber::{self, BerError, Tlv};
use crate::engine::digest::DigestAlgorithm;
use crate::engine::oid;
use crate::engine::tsp::{self, ClientError};
use const_oid::ObjectIdentifier;
use der::{Decode, Encode};

/// Why a signature could not be read or raised.
#[derive(Debug, thiserror::Error)]
pub enum CadesError {
    /// The input is not a ContentInfo holding SignedData (or a SignedData), in DER or BER.
    #[error("not a CMS SignedData: {0}")]
    Malformed(String),
    /// `signer_index` names no SignerInfo.
    #[error("no signer {index}: the SignedData has {count}")]
    NoSigner {
        /// The index asked for.
        index: usize,
        /// How many SignerInfos there are.
        count: usize,
    },
    /// The time-stamp token is not a token (RFC 3161 §2.4.2).
    #[error("time-stamp token: {0}")]
    Token(#[from] ClientError),
    /// A new time-stamp over a hash other than SHA-256, SHA-384 or SHA-512: a SHA-1 (or unknown)
    /// imprint would let a collision be time-stamped, as the TSA side refuses too.
    #[error("time-stamp hash {0}: new time-stamps are over SHA-256, SHA-384 or SHA-512 only")]
    HashNotAccepted(String),
    /// The token time-stamps something other than what this attribute covers.
    #[error("the time-stamp token's messageImprint is not over this {0}")]
    ImprintMismatch(&'static str),
    /// A certificate, CRL or OCSP response given as validation data is not one.
    #[error("validation data: {0}")]
    ValidationData(String),
    /// The signed content is needed (an archive time-stamp covers it) and missing, or the
    /// detached content given differs from the encapsulated one.
    #[error("signed content: {0}")]
    Content(&'static str),
}

impl From<BerError> for CadesError {
    fn from(e: BerError) -> Self {
        CadesError::Malformed(e.to_string())
    }
}

fn malformed(what: &str) -> CadesError {
    CadesError::Malformed(what.to_owned())
}

/// DER identifier octets of the elements handled here (X.690 §8.1.2).
mod tag {
    pub(super) const SEQUENCE: u8 = 0x30;
    pub(super) const SET: u8 = 0x31;
    pub(super) const OID: u8 = 0x06;
    pub(super) const INTEGER: u8 = 0x02;
    /// `[0]` constructed: ContentInfo.content, SignedData.certificates, signedAttrs, eContent.
    pub(super) const CONTEXT_0: u8 = 0xa0;
    /// `[1]` constructed: SignedData.crls, SignerInfo.unsignedAttrs, RevocationInfoChoice.other.
    pub(super) const CONTEXT_1: u8 = 0xa1;
    pub(super) const ENUMERATED: u8 = 0x0a;
    pub(super) const OCTET_STRING: u8 = 0x04;
}

/// A SignedData cut into its fields, each as received (RFC 5652 §5.1).
struct SignedData<'a> {
    /// Whether a ContentInfo wrapped it; the result is wrapped likewise.
    wrapped: bool,
    version: Tlv<'a>,
    digest_algorithms: Tlv<'a>,
    encap: Tlv<'a>,
    /// `[0] IMPLICIT CertificateSet`.
    certificates: Option<Tlv<'a>>,
    /// `[1] IMPLICIT RevocationInfoChoices`.
    crls: Option<Tlv<'a>>,
    signer_infos: Vec<Tlv<'a>>,
}

impl<'a> SignedData<'a> {
    fn parse(input: &'a [u8]) -> Result<Self, CadesError> {
        let outer = Tlv::parse(input)?;
        if outer.tag_byte() != tag::SEQUENCE {
            return Err(malformed("a ContentInfo or SignedData is a SEQUENCE"));
        }
        let parts = outer.children()?;
        let (wrapped, fields) = match parts.as_slice() {
            [content_type, explicit] if content_type.tag_byte() == tag::OID => {
                if ObjectIdentifier::from_der(content_type.raw).ok() != Some(oid::ID_SIGNED_DATA)
                    || explicit.tag_byte() != tag::CONTEXT_0
                {
                    return Err(malformed("the ContentInfo does not hold SignedData"));
                }
                let inner = explicit.children()?;
                let [signed_data] = inner.as_slice() else {
                    return Err(malformed("ContentInfo [0] holds one SignedData"));
                };
                if signed_data.tag_byte() != tag::SEQUENCE {
                    return Err(malformed("SignedData is a SEQUENCE"));
                }
                (true, signed_data.children()?)
            }
            _ => (false, parts),
        };
        let mut fields = fields.into_iter().peekable();
        let mut next = |what: &str, want: u8| match fields.next() {
            Some(tlv) if tlv.tag_byte() == want => Ok(tlv),
            _ => Err(CadesError::Malformed(format!("SignedData.{what} missing"))),
        };
        let version = next("version", tag::INTEGER)?;
        let digest_algorithms = next("digestAlgorithms", tag::SET)?;
        let encap = next("encapContentInfo", tag::SEQUENCE)?;
        let certificates = fields.next_if(|t| t.tag_byte() == tag::CONTEXT_0);
        let crls = fields.next_if(|t| t.tag_byte() == tag::CONTEXT_1);
        let signer_infos = match fields.next() {
            Some(set) if set.tag_byte() == tag::SET => set.children()?,
            _ => return Err(malformed("SignedData.signerInfos missing")),
        };
        if fields.next().is_some() {
            return Err(malformed("SignedData has fields after signerInfos"));
        }
        Ok(Self {
            wrapped,
            version,
            digest_algorithms,
            encap,
            certificates,
            crls,
            signer_infos,
        })
    }

    fn signer(&self, index: usize) -> Result<SignerInfo<'a>, CadesError> {
        let si = self.signer_infos.get(index).ok_or(CadesError::NoSigner {
            index,
            count: self.signer_infos.len(),
        })?;
        SignerInfo::parse(si)
    }
}

/// The SignedData written again around its fields: `signer` replaces SignerInfo `index` (the
/// order of the others is kept), the other fields are given already encoded.
struct Rewrite<'a> {
    version: &'a [u8],
    digest_algorithms: &'a [u8],
    encap: &'a [u8],
    certificates: Option<&'a [u8]>,
    crls: Option<&'a [u8]>,
    signer_infos: Vec<&'a [u8]>,
}

impl<'a> Rewrite<'a> {
    fn of(sd: &'a SignedData<'a>) -> Self {
        Self {
            version: sd.version.raw,
            digest_algorithms: sd.digest_algorithms.raw,
            encap: sd.encap.raw,
            certificates: sd.certificates.map(|t| t.raw),
            crls: sd.crls.map(|t| t.raw),
            signer_infos: sd.signer_infos.iter().map(|t| t.raw).collect(),
        }
    }

    fn encode(&self, wrapped: bool) -> Vec<u8> {
        let mut body = Vec::new();
        for part in [self.version, self.digest_algorithms, self.encap] {
            body.extend_from_slice(part);
        }
        for part in [self.certificates, self.crls].into_iter().flatten() {
            body.extend_from_slice(part);
        }
        // SignerInfos keep their order, so a caller's signer index stays valid.
        body.extend(ber::encode(tag::SET, &self.signer_infos.concat()));
        let signed_data = ber::encode(tag::SEQUENCE, &body);
        if !wrapped {
            return signed_data;
        }
        let mut content_info = Encode::to_der(&oid::ID_SIGNED_DATA).unwrap_or_default();
        content_info.extend(ber::encode(tag::CONTEXT_0, &signed_data));
        ber::encode(tag::SEQUENCE, &content_info)
    }
}

/// A SignerInfo cut in two (RFC 5652 §5.3): the fields its signature and the archive time-stamp
/// cover, as received, and its unsigned attributes.
struct SignerInfo<'a> {
    /// version, sid, digestAlgorithm, signedAttrs (if any), signatureAlgorithm, signature.
    covered: Vec<Tlv<'a>>,
    /// Each `Attribute` of `[1] unsignedAttrs`, as received.
    unsigned: Vec<Tlv<'a>>,
}

impl<'a> SignerInfo<'a> {
    fn parse(si: &Tlv<'a>) -> Result<Self, CadesError> {
        if si.tag_byte() != tag::SEQUENCE {
            return Err(malformed("a SignerInfo is a SEQUENCE"));
        }
        let mut covered = si.children()?;
        let unsigned = match covered.last() {
            Some(last) if last.tag_byte() == tag::CONTEXT_1 => {
                let attrs = last.children()?;
                covered.pop();
                attrs
            }
            _ => Vec::new(),
        };
        if covered.len() < 5 {
            return Err(malformed("SignerInfo has too few fields"));
        }
        for attribute in &unsigned {
            Attribute::parse(attribute)?;
        }
        let signer = Self { covered, unsigned };
        signer.signature()?;
        Ok(signer)
    }

    /// The value octets of `signature` (RFC 5652 §5.3), segments joined if BER.
    fn signature(&self) -> Result<Vec<u8>, CadesError> {
        let last = self
            .covered
            .last()
            .ok_or_else(|| malformed("no signature"))?;
        last.octets()
            .map_err(|_| malformed("SignerInfo.signature is not an OCTET STRING"))
    }

    /// The SignerInfo with `added` among its unsigned attributes (DER SET OF order, X.690
    /// §11.6); every other field keeps its octets.
    fn encode_with(&self, added: &[u8]) -> Vec<u8> {
        let mut body: Vec<u8> = self.covered.iter().flat_map(|t| t.raw).copied().collect();
        let mut attrs: Vec<&[u8]> = self.unsigned.iter().map(|t| t.raw).collect();
        attrs.push(added);
        body.extend(ber::encode_set_of(tag::CONTEXT_1, &mut attrs));
        ber::encode(tag::SEQUENCE, &body)
    }
}

/// `Attribute ::= SEQUENCE { attrType OBJECT IDENTIFIER, attrValues SET OF AttributeValue }`
/// (RFC 5652 §5.3), its type and its value elements as received.
struct Attribute<'a> {
    kind: ObjectIdentifier,
    kind_raw: &'a [u8],
    values: Vec<Tlv<'a>>,
}

impl<'a> Attribute<'a> {
    fn parse(tlv: &Tlv<'a>) -> Result<Self, CadesError> {
        let parts = tlv.children()?;
        match parts.as_slice() {
            [kind, values] if kind.tag_byte() == tag::OID && values.tag_byte() == tag::SET => {
                Ok(Self {
                    kind: ObjectIdentifier::from_der(kind.raw)
                        .map_err(|e| CadesError::Malformed(format!("attribute type: {e}")))?,
                    kind_raw: kind.raw,
                    values: values.children()?,
                })
            }
            _ => Err(malformed("an Attribute is a type and a SET of values")),
        }
    }

    /// `SEQUENCE { kind, SET { value } }` with `value`'s octets as given.
    fn encode(kind: ObjectIdentifier, value: &[u8]) -> Vec<u8> {
        let mut body = Encode::to_der(&kind).unwrap_or_default();
        body.extend(ber::encode(tag::SET, value));
        ber::encode(tag::SEQUENCE, &body)
    }
}

/// `hash` when a new time-stamp may be over it.
fn accepted(hash: DigestAlgorithm) -> Result<DigestAlgorithm, CadesError> {
    match hash {
        DigestAlgorithm::Sha256 | DigestAlgorithm::Sha384 | DigestAlgorithm::Sha512 => Ok(hash),
        other => Err(CadesError::HashNotAccepted(other.to_string())),
    }
}

/// The hash algorithm of a new token's messageImprint and the imprint itself.
fn token_imprint(token_der: &[u8]) -> Result<(DigestAlgorithm, Vec<u8>), CadesError> {
    let info = tsp::tst_info(token_der)?;
    let oid = info.message_imprint.hash_algorithm.oid;
    let hash = DigestAlgorithm::from_oid(&oid)
        .ok_or_else(|| CadesError::HashNotAccepted(oid::describe(&oid)))
        .and_then(accepted)?;
    Ok((
        hash,
        info.message_imprint.hashed_message.as_bytes().to_vec(),
    ))
}

/// The messageImprint to request for a signature time-stamp over SignerInfo `signer_index` of
/// `signed_data` (a ContentInfo or a bare SignedData, DER or BER): the `hash` of the value
/// octets of its `signature` field, without tag and length (RFC 3161 Appendix A; EN 319 122-1
/// §5.3).
pub fn signature_timestamp_imprint(
    signed_data: &[u8],
    signer_index: usize,
    hash: DigestAlgorithm,
) -> Result<Vec<u8>, CadesError> {
    accepted(hash)?;
    let sd = SignedData::parse(signed_data)?;
    let signature = sd.signer(signer_index)?.signature()?;
    Ok(hash.digest(&signature))
}

/// B-T: `signed_data` with the time-stamp token `token` (a ContentInfo, its octets as the TSA
/// sent them) added to SignerInfo `signer_index` as the unsigned attribute
/// id-aa-signatureTimeStampToken (EN 319 122-1 §5.3), once the token's messageImprint is checked
/// to be over this signature. A signature may carry several; each call adds one attribute.
/// The result is wrapped as the input was (ContentInfo or SignedData).
pub fn add_signature_timestamp(
    signed_data: &[u8],
    signer_index: usize,
    token: &[u8],
) -> Result<Vec<u8>, CadesError> {
    let sd = SignedData::parse(signed_data)?;
    let signer = sd.signer(signer_index)?;
    let (hash, imprint) = token_imprint(token)?;
    if hash.digest(&signer.signature()?) != imprint {
        return Err(CadesError::ImprintMismatch("signature"));
    }
    let token = Tlv::parse(token)?;
    let attribute = Attribute::encode(oid::ID_AA_SIGNATURE_TIME_STAMP_TOKEN, token.raw);
    let new_signer = signer.encode_with(&attribute);
    let mut rewrite = Rewrite::of(&sd);
    rewrite.signer_infos[signer_index] = &new_signer;
    Ok(rewrite.encode(sd.wrapped))
}

/// Each element of an optional `[n] IMPLICIT SET OF` field, as received.
fn elements<'a>(field: Option<Tlv<'a>>) -> Result<Vec<Tlv<'a>>, CadesError> {
    Ok(match field {
        Some(set) => set.children()?,
        None => Vec::new(),
    })
}

/// One validation datum given by the caller: its single element, refused when `decodes` says it
/// is not what it claims to be.
fn datum<'a>(
    der: &'a [u8],
    what: &str,
    i: usize,
    decodes: impl Fn(&[u8]) -> Result<(), String>,
) -> Result<Tlv<'a>, CadesError> {
    let bad = |e: &dyn std::fmt::Display| CadesError::ValidationData(format!("{what} {i}: {e}"));
    let tlv = Tlv::parse(der).map_err(|e| bad(&e))?;
    if tlv.tag_byte() != tag::SEQUENCE {
        return Err(bad(&"not a SEQUENCE"));
    }
    decodes(tlv.raw).map_err(|e| bad(&e))?;
    Ok(tlv)
}

/// The certificates carried inside the time-stamp tokens (signature and archive time-stamps)
/// of every signer: the TSA chains, whose validation data B-LT needs as well as the signer's
/// (EN 319 122-1 §5.5).
fn token_certificates(sd: &SignedData<'_>) -> Result<Vec<Vec<u8>>, CadesError> {
    let mut out = Vec::new();
    for index in 0..sd.signer_infos.len() {
        for attribute in &sd.signer(index)?.unsigned {
            let attribute = Attribute::parse(attribute)?;
            if attribute.kind != oid::ID_AA_SIGNATURE_TIME_STAMP_TOKEN
                && attribute.kind != oid::ID_AA_ETS_ARCHIVE_TIMESTAMP_V3
            {
                continue;
            }
            for token in &attribute.values {
                let token = SignedData::parse(token.raw)?;
                for cert in elements(token.certificates)? {
                    // X.509 certificates only (CertificateChoices.certificate, untagged).
                    if cert.tag_byte() == tag::SEQUENCE {
                        out.push(cert.raw.to_vec());
                    }
                }
            }
        }
    }
    Ok(out)
}

/// B-LT: `signed_data` with `certificates` added to `SignedData.certificates`, and `crls` and
/// `ocsp_responses` to `SignedData.crls`, an OCSP response as `RevocationInfoChoice.other` with
/// id-ri-ocsp-response (RFC 5940 §4.1), each given as its DER. The certificates carried inside
/// the signature's time-stamp tokens (the TSA chains) are copied out to `certificates` too;
/// their revocation data is the caller's to give with the rest. No certificate-values or
/// revocation-values attribute is written (EN 319 122-1 §5.5). What is already there,
/// octet for octet, is not added twice; existing elements keep their octets. With an OCSP
/// response in, the SignedData version becomes 5 (RFC 5652 §5.1). Each element must decode as
/// what it claims: a certificate, a CRL, a successful OCSPResponse (RFC 6960 §4.2.1).
pub fn add_validation_data(
    signed_data: &[u8],
    certificates: &[Vec<u8>],
    crls: &[Vec<u8>],
    ocsp_responses: &[Vec<u8>],
) -> Result<Vec<u8>, CadesError> {
    let sd = SignedData::parse(signed_data)?;
    let from_tokens = token_certificates(&sd)?;
    let mut certs: Vec<&[u8]> = elements(sd.certificates)?.iter().map(|t| t.raw).collect();
    let mut revocations: Vec<&[u8]> = elements(sd.crls)?.iter().map(|t| t.raw).collect();
    let (cert_count, revocation_count) = (certs.len(), revocations.len());

    for (i, der) in certificates.iter().chain(&from_tokens).enumerate() {
        let cert = datum(der, "certificate", i, |raw| {
            x509_cert::Certificate::from_der(raw)
                .or_else(|_| x509_cert::Certificate::from_ber(raw))
                .map(drop)
                .map_err(|e| e.to_string())
        })?;
        if !certs.contains(&cert.raw) {
            certs.push(cert.raw);
        }
    }
    for (i, der) in crls.iter().enumerate() {
        let crl = datum(der, "CRL", i, |raw| {
            x509_cert::crl::CertificateList::<x509_cert::certificate::Rfc5280>::from_der(raw)
                .or_else(|_| {
                    x509_cert::crl::CertificateList::<x509_cert::certificate::Rfc5280>::from_ber(
                        raw,
                    )
                })
                .map(drop)
                .map_err(|e| e.to_string())
        })?;
        if !revocations.contains(&crl.raw) {
            revocations.push(crl.raw);
        }
    }
    // `other [1] IMPLICIT OtherRevocationInfoFormat { id-ri-ocsp-response, OCSPResponse }`.
    let others = ocsp_responses
        .iter()
        .enumerate()
        .map(|(i, der)| {
            let response = datum(der, "OCSP response", i, successful_ocsp)?;
            let mut body = oid::ID_RI_OCSP_RESPONSE.to_der().unwrap_or_default();
            body.extend_from_slice(response.raw);
            Ok(ber::encode(tag::CONTEXT_1, &body))
        })
        .collect::<Result<Vec<_>, CadesError>>()?;
    for other in &others {
        if !revocations.contains(&other.as_slice()) {
            revocations.push(other);
        }
    }

    let mut rewrite = Rewrite::of(&sd);
    let certificates =
        (certs.len() > cert_count).then(|| ber::encode_set_of(tag::CONTEXT_0, &mut certs));
    if let Some(certificates) = &certificates {
        rewrite.certificates = Some(certificates);
    }
    let crls = (revocations.len() > revocation_count)
        .then(|| ber::encode_set_of(tag::CONTEXT_1, &mut revocations));
    if let Some(crls) = &crls {
        rewrite.crls = Some(crls);
    }
    // RFC 5652 §5.1: any RevocationInfoChoice of type other makes the version 5.
    const V5: [u8; 3] = [tag::INTEGER, 1, 5];
    let has_other = revocations
        .iter()
        .any(|r| r.first() == Some(&tag::CONTEXT_1));
    if has_other && sd.version.content.len() == 1 && sd.version.content[0] < 5 {
        rewrite.version = &V5;
    }
    Ok(rewrite.encode(sd.wrapped))
}

/// `OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED, responseBytes [0] EXPLICIT … }` with
/// status successful (0) and response bytes (RFC 6960 §4.2.1): anything else proves nothing.
fn successful_ocsp(raw: &[u8]) -> Result<(), String> {
    let fields = Tlv::parse(raw)
        .and_then(|t| t.children())
        .map_err(|e| e.to_string())?;
    let Some(status) = fields.first().filter(|s| s.tag_byte() == tag::ENUMERATED) else {
        return Err("not an OCSPResponse".into());
    };
    if status.content != [0] {
        return Err(format!(
            "responseStatus {} is not successful",
            status.content.first().copied().unwrap_or_default()
        ));
    }
    match fields.get(1..) {
        Some([bytes]) if bytes.tag_byte() == tag::CONTEXT_0 => Ok(()),
        _ => Err("successful without responseBytes".into()),
    }
}

/// The ats-hash-index-v3 value of SignedData `sd` for its SignerInfo `signer` as they are now
/// (EN 319 122-1 §5.5.2): `ATSHashIndexV3 ::= SEQUENCE { hashIndAlgorithm AlgorithmIdentifier
/// DEFAULT {algorithm id-sha256}, certificatesHashIndex SEQUENCE OF OCTET STRING, crlsHashIndex
/// SEQUENCE OF OCTET STRING, unsignedAttrsHashIndex SEQUENCE OF OCTET STRING }`: one hash per
/// certificate and per revocation element, each over its octets as present (tag, length,
/// value), and one per value of each unsigned attribute, over its attrType followed by that
/// attrValue, as present. In the order they appear.
fn hash_index(
    sd: &SignedData<'_>,
    signer: &SignerInfo<'_>,
    hash: DigestAlgorithm,
) -> Result<Vec<u8>, CadesError> {
    let sequence_of_hashes = |items: Vec<Vec<u8>>| {
        let body: Vec<u8> = items
            .iter()
            .flat_map(|item| ber::encode(tag::OCTET_STRING, &hash.digest(item)))
            .collect();
        ber::encode(tag::SEQUENCE, &body)
    };
    let mut body = Vec::new();
    // DER leaves out a DEFAULT value (X.690 §11.5).
    if hash != DigestAlgorithm::Sha256 {
        body.extend(
            hash.identifier()
                .to_der()
                .map_err(|e| CadesError::Malformed(e.to_string()))?,
        );
    }
    let raws = |field| -> Result<Vec<Vec<u8>>, CadesError> {
        Ok(elements(field)?.iter().map(|t| t.raw.to_vec()).collect())
    };
    body.extend(sequence_of_hashes(raws(sd.certificates)?));
    body.extend(sequence_of_hashes(raws(sd.crls)?));
    let mut attribute_values = Vec::new();
    for attribute in &signer.unsigned {
        let attribute = Attribute::parse(attribute)?;
        for value in &attribute.values {
            attribute_values.push([attribute.kind_raw, value.raw].concat());
        }
    }
    body.extend(sequence_of_hashes(attribute_values));
    Ok(ber::encode(tag::SEQUENCE, &body))
}

/// The signed content when it is not encapsulated: its octets, or only its digest (made with
/// the archive time-stamp's hash algorithm) when the caller never held the content.
#[derive(Clone, Copy)]
enum Detached<'a> {
    None,
    Content(&'a [u8]),
    Digest(&'a [u8]),
}

impl<'a> From<Option<&'a [u8]>> for Detached<'a> {
    fn from(content: Option<&'a [u8]>) -> Self {
        content.map_or(Detached::None, Detached::Content)
    }
}

/// The content the signature covers, hashed with `hash`: the eContent's octets when
/// encapsulated, else `detached`.
fn content_hash(
    sd: &SignedData<'_>,
    detached: Detached<'_>,
    hash: DigestAlgorithm,
) -> Result<(Vec<u8>, Vec<u8>), CadesError> {
    let encap = sd.encap.children()?;
    let (content_type, econtent) = match encap.as_slice() {
        [content_type] => (content_type, None),
        [content_type, explicit] if explicit.tag_byte() == tag::CONTEXT_0 => {
            match explicit.children()?.as_slice() {
                [octets] => (content_type, Some(octets.octets()?)),
                _ => return Err(malformed("eContent is [0] { OCTET STRING }")),
            }
        }
        _ => return Err(malformed("encapContentInfo")),
    };
    if content_type.tag_byte() != tag::OID {
        return Err(malformed("eContentType is not an OBJECT IDENTIFIER"));
    }
    const DIFFERS: &str = "the detached content differs from the encapsulated content";
    let digest = match (econtent, detached) {
        (Some(econtent), Detached::Content(detached)) if econtent != detached => {
            return Err(CadesError::Content(DIFFERS));
        }
        (Some(content), Detached::Digest(digest)) => {
            let own = hash.digest(&content);
            if own != digest {
                return Err(CadesError::Content(DIFFERS));
            }
            own
        }
        (Some(content), _) => hash.digest(&content),
        (None, Detached::Content(detached)) => hash.digest(detached),
        (None, Detached::Digest(digest)) if digest.len() == hash.len() => digest.to_vec(),
        (None, Detached::Digest(_)) => {
            return Err(CadesError::Content(
                "the content digest is not of the archive time-stamp's hash algorithm",
            ));
        }
        (None, Detached::None) => {
            return Err(CadesError::Content(
                "the signature is detached: the archive time-stamp covers the content, give it",
            ));
        }
    };
    Ok((content_type.raw.to_vec(), digest))
}

/// What the ATSv3 message imprint is the hash of (EN 319 122-1 §5.5.3) up to the index:
/// eContentType (tag, length, value) ‖ the hash of the signed content ‖ the SignerInfo's
/// version, sid, digestAlgorithm, signedAttrs, signatureAlgorithm and signature as present. None
/// of these changes when a signature is raised, so it is the same for every archive time-stamp.
fn archive_prefix(
    sd: &SignedData<'_>,
    signer: &SignerInfo<'_>,
    detached: Detached<'_>,
    hash: DigestAlgorithm,
) -> Result<Vec<u8>, CadesError> {
    let (content_type, content_digest) = content_hash(sd, detached, hash)?;
    let mut input = content_type;
    input.extend(content_digest);
    for field in &signer.covered {
        input.extend_from_slice(field.raw);
    }
    Ok(input)
}

/// The whole ATSv3 imprint input for the SignedData as it is now (the prefix ‖ the
/// ats-hash-index-v3 value computed now), and that index.
fn archive_input(
    sd: &SignedData<'_>,
    signer_index: usize,
    detached: Detached<'_>,
    hash: DigestAlgorithm,
) -> Result<(Vec<u8>, Vec<u8>), CadesError> {
    let signer = sd.signer(signer_index)?;
    let mut input = archive_prefix(sd, &signer, detached, hash)?;
    let index = hash_index(sd, &signer, hash)?;
    input.extend_from_slice(&index);
    Ok((input, index))
}

/// The messageImprint an existing archive-time-stamp-v3 must carry, from the index it carries:
/// `hash`(the §5.5.3 prefix of SignerInfo `signer_index` ‖ `index`, the token's
/// ats-hash-index-v3 value as present). For a verifier: the prefix does not change as a
/// signature is raised, so an older archive time-stamp is checked against the signature as it is
/// now, without rebuilding what it was; that each hash the index lists still names an element
/// present (else a covered element changed) is the verifier's to check.
pub fn archive_timestamp_v3_imprint_with_index(
    signed_data: &[u8],
    signer_index: usize,
    detached: Option<&[u8]>,
    hash: DigestAlgorithm,
    index: &[u8],
) -> Result<Vec<u8>, CadesError> {
    let sd = SignedData::parse(signed_data)?;
    let signer = sd.signer(signer_index)?;
    let mut input = archive_prefix(&sd, &signer, detached.into(), hash)?;
    input.extend_from_slice(index);
    Ok(hash.digest(&input))
}

/// The messageImprint to request for an archive-time-stamp-v3 over SignerInfo `signer_index`
/// of `signed_data` as it is now (EN 319 122-1 §5.5.3), hashed with `hash`; `detached` is the
/// signed content when it is not encapsulated. Add the validation data first
/// ([`add_validation_data`]): the archive time-stamp covers what is present when it is made.
pub fn archive_timestamp_v3_imprint(
    signed_data: &[u8],
    signer_index: usize,
    detached: Option<&[u8]>,
    hash: DigestAlgorithm,
) -> Result<Vec<u8>, CadesError> {
    imprint_v3(signed_data, signer_index, detached.into(), hash)
}

/// [`archive_timestamp_v3_imprint`] of a detached signature whose content the caller holds only
/// as `content_digest`, made with `hash` (a signing service that was sent the digest).
pub fn archive_timestamp_v3_imprint_over_digest(
    signed_data: &[u8],
    signer_index: usize,
    content_digest: &[u8],
    hash: DigestAlgorithm,
) -> Result<Vec<u8>, CadesError> {
    imprint_v3(
        signed_data,
        signer_index,
        Detached::Digest(content_digest),
        hash,
    )
}

fn imprint_v3(
    signed_data: &[u8],
    signer_index: usize,
    detached: Detached<'_>,
    hash: DigestAlgorithm,
) -> Result<Vec<u8>, CadesError> {
    accepted(hash)?;
    let sd = SignedData::parse(signed_data)?;
    let (input, _) = archive_input(&sd, signer_index, detached, hash)?;
    Ok(hash.digest(&input))
}

/// B-LTA, and its renewal: `signed_data` with the archive-time-stamp-v3 `token` (requested over
/// [`archive_timestamp_v3_imprint`] of the same `signed_data`) added to SignerInfo
/// `signer_index`. The ats-hash-index-v3 is computed again over the SignedData as given, the
/// token's messageImprint checked against it, and the index written into the token's own
/// SignerInfo as an unsigned attribute (EN 319 122-1 §5.5.2; unsigned, so the TSA's signature
/// still holds). The token's hash algorithm joins `SignedData.digestAlgorithms` (§5.5.3). A
/// further call over the result renews: the new index covers the previous archive time-stamp.
pub fn add_archive_timestamp_v3(
    signed_data: &[u8],
    signer_index: usize,
    detached: Option<&[u8]>,
    token: &[u8],
) -> Result<Vec<u8>, CadesError> {
    add_v3(signed_data, signer_index, detached.into(), token)
}

/// [`add_archive_timestamp_v3`] of a detached signature whose content the caller holds only as
/// `content_digest`, made with the token's hash algorithm.
pub fn add_archive_timestamp_v3_over_digest(
    signed_data: &[u8],
    signer_index: usize,
    content_digest: &[u8],
    token: &[u8],
) -> Result<Vec<u8>, CadesError> {
    add_v3(
        signed_data,
        signer_index,
        Detached::Digest(content_digest),
        token,
    )
}

fn add_v3(
    signed_data: &[u8],
    signer_index: usize,
    detached: Detached<'_>,
    token: &[u8],
) -> Result<Vec<u8>, CadesError> {
    let sd = SignedData::parse(signed_data)?;
    let (hash, imprint) = token_imprint(token)?;
    let (input, index) = archive_input(&sd, signer_index, detached, hash)?;
    if hash.digest(&input) != imprint {
        return Err(CadesError::ImprintMismatch(
            "signature and its data as they are now",
        ));
    }

    let token_sd = SignedData::parse(token)?;
    if token_sd.signer_infos.len() != 1 {
        return Err(malformed("a time-stamp token has one SignerInfo"));
    }
    let token_signer = token_sd.signer(0)?;
    for attribute in &token_signer.unsigned {
        if Attribute::parse(attribute)?.kind == oid::ID_AA_ATS_HASH_INDEX_V3 {
            return Err(malformed("the token already carries an ats-hash-index-v3"));
        }
    }
    let new_token_signer =
        token_signer.encode_with(&Attribute::encode(oid::ID_AA_ATS_HASH_INDEX_V3, &index));
    let mut token_rewrite = Rewrite::of(&token_sd);
    token_rewrite.signer_infos[0] = &new_token_signer;
    let new_token = token_rewrite.encode(token_sd.wrapped);

    let signer = sd.signer(signer_index)?;
    let new_signer = signer.encode_with(&Attribute::encode(
        oid::ID_AA_ETS_ARCHIVE_TIMESTAMP_V3,
        &new_token,
    ));
    let mut rewrite = Rewrite::of(&sd);
    rewrite.signer_infos[signer_index] = &new_signer;
    let digest_algorithms = with_digest_algorithm(&sd.digest_algorithms, hash)?;
    if let Some(set) = &digest_algorithms {
        rewrite.digest_algorithms = set;
    }
    Ok(rewrite.encode(sd.wrapped))
}

/// `digestAlgorithms` with `hash` added, or `None` when an identifier of it is there already.
fn with_digest_algorithm(
    set: &Tlv<'_>,
    hash: DigestAlgorithm,
) -> Result<Option<Vec<u8>>, CadesError> {
    let present = set.children()?;
    for algorithm in &present {
        let first = algorithm.children()?.into_iter().next();
        if first.and_then(|o| ObjectIdentifier::from_der(o.raw).ok()) == Some(hash.oid()) {
            return Ok(None);
        }
    }
    let added = hash
        .identifier()
        .to_der()
        .map_err(|e| CadesError::Malformed(e.to_string()))?;
    let mut all: Vec<&[u8]> = present.iter().map(|t| t.raw).collect();
    all.push(&added);
    Ok(Some(ber::encode_set_of(tag::SET, &mut all)))
}

/// A CAdES baseline level (EN 319 122-1 §4), as the structure of a signature shows it.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Ord, PartialOrd)]
pub enum Level {
    /// B-B: no signature time-stamp.
    BB,
    /// B-T: a signature time-stamp.
    BT,
    /// B-LT: B-T and validation data in `SignedData.certificates` and `crls` (revocation data
    /// present), no certificate-values / revocation-values attributes.
    BLT,
    /// B-LTA: B-LT and an archive-time-stamp-v3.
    BLTA,
}

impl Level {
    /// `B-B`, `B-T`, `B-LT`, `B-LTA`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::BB => "B-B",
            Level::BT => "B-T",
            Level::BLT => "B-LT",
            Level::BLTA => "B-LTA",
        }
    }
}

/// A level name that is none of `B-B`, `B-T`, `B-LT`, `B-LTA`.
#[derive(Debug, thiserror::Error)]
#[error("unknown CAdES level {0:?}: B-B, B-T, B-LT or B-LTA")]
pub struct UnknownLevel(pub String);

impl std::str::FromStr for Level {
    type Err = UnknownLevel;

    /// The names of [`Level::as_str`], letter case ignored.
    fn from_str(name: &str) -> Result<Self, UnknownLevel> {
        [Level::BB, Level::BT, Level::BLT, Level::BLTA]
            .into_iter()
            .find(|level| level.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| UnknownLevel(name.chars().take(16).collect()))
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How many SignerInfos `signed_data` carries (a co-signed document has several).
pub(crate) fn signer_count(signed_data: &[u8]) -> Result<usize, CadesError> {
    Ok(SignedData::parse(signed_data)?.signer_infos.len())
}

/// The signature value of SignerInfo `signer_index`, in the order carried: what names it when a
/// decoder's order differs (a DER SET OF is sorted when decoded).
pub(crate) fn signature_value(
    signed_data: &[u8],
    signer_index: usize,
) -> Result<Vec<u8>, CadesError> {
    SignedData::parse(signed_data)?
        .signer(signer_index)?
        .signature()
}

/// The level the structure of SignerInfo `signer_index` reaches, attributes and SignedData
/// fields only: nothing is verified (time-stamps, paths and revocation are the verifier's).
/// Certificate-values or revocation-values attributes (TS 101 733's CAdES-X-L) stop it at B-T,
/// as baseline B-LT forbids them (EN 319 122-1 §5.5).
pub fn detect_level(signed_data: &[u8], signer_index: usize) -> Result<Level, CadesError> {
    let sd = SignedData::parse(signed_data)?;
    let signer = sd.signer(signer_index)?;
    let mut kinds = Vec::new();
    for attribute in &signer.unsigned {
        kinds.push(Attribute::parse(attribute)?.kind);
    }
    let has = |kind| kinds.contains(&kind);
    if !has(oid::ID_AA_SIGNATURE_TIME_STAMP_TOKEN) {
        return Ok(Level::BB);
    }
    let validation_data = !elements(sd.certificates)?.is_empty() && !elements(sd.crls)?.is_empty();
    if !validation_data || has(oid::ID_AA_ETS_CERT_VALUES) || has(oid::ID_AA_ETS_REVOCATION_VALUES)
    {
        return Ok(Level::BT);
    }
    Ok(if has(oid::ID_AA_ETS_ARCHIVE_TIMESTAMP_V3) {
        Level::BLTA
    } else {
        Level::BLT
    })
}
