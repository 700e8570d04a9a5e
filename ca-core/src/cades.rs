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
use crate::engine::tsp::{self, ResponseError};
use const_oid::ObjectIdentifier;
use der::Decode;

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
    Token(#[from] ResponseError),
    /// The token's hash algorithm is not one hpki computes.
    #[error("time-stamp token hashed with {0}, which hpki does not compute")]
    UnknownHash(String),
    /// The token time-stamps something other than what this attribute covers.
    #[error("the time-stamp token's messageImprint is not over this {0}")]
    ImprintMismatch(&'static str),
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
        let mut content_info = der::Encode::to_der(&oid::ID_SIGNED_DATA).unwrap_or_default();
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
#[allow(dead_code)] // Read by B-LTA's hash index (next commit).
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
        let mut body = der::Encode::to_der(&kind).unwrap_or_default();
        body.extend(ber::encode(tag::SET, value));
        ber::encode(tag::SEQUENCE, &body)
    }
}

/// The hash algorithm of a token's messageImprint and the imprint itself.
fn token_imprint(token_der: &[u8]) -> Result<(DigestAlgorithm, Vec<u8>), CadesError> {
    let info = tsp::tst_info(token_der)?;
    let oid = info.message_imprint.hash_algorithm.oid;
    let hash = DigestAlgorithm::from_oid(&oid)
        .ok_or_else(|| CadesError::UnknownHash(oid::describe(&oid)))?;
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
