//! archive-time-stamp-v3 (ETSI EN 319 122-1 §5.5.3, B-LTA): each token's imprint is recomputed
//! over the signature as it was when the token was made, and the token judged as a time-stamp
//! (`timestamp.rs`).
//!
//! What it covered is read from its own ats-hash-index-v3 (§5.5.2): the certificates, revocation
//! elements and unsigned attribute values whose hashes it lists. Everything else (what was added
//! later: newer archive time-stamps, renewal validation data) is cut out of the raw SignedData,
//! and `ca_core::cades::archive_timestamp_v3_imprint`, the construction side's own computation,
//! gives the imprint of what remains. A covered element changed is no longer listed, so it is cut
//! out too, the recomputed index differs from the token's, and the imprint does not match.

use crate::engine::ber::{self, Tlv};
use crate::engine::cades;
use crate::engine::digest::DigestAlgorithm;
use crate::engine::oid;
use der::{Decode, Encode};
use spki::AlgorithmIdentifierOwned;

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const CONTEXT_0: u8 = 0xa0;
const CONTEXT_1: u8 = 0xa1;

/// The hashes an ats-hash-index-v3 lists (EN 319 122-1 §5.5.2).
struct HashIndex {
    hash: DigestAlgorithm,
    certificates: Vec<Vec<u8>>,
    crls: Vec<Vec<u8>>,
    unsigned_attrs: Vec<Vec<u8>>,
}

fn malformed(what: impl std::fmt::Display) -> String {
    format!("ats-hash-index-v3: {what}")
}

/// `ATSHashIndexV3 ::= SEQUENCE { hashIndAlgorithm AlgorithmIdentifier DEFAULT {algorithm
/// id-sha256}, certificatesHashIndex SEQUENCE OF OCTET STRING, crlsHashIndex SEQUENCE OF OCTET
/// STRING, unsignedAttrsHashIndex SEQUENCE OF OCTET STRING }`.
fn hash_index(value_der: &[u8]) -> Result<HashIndex, String> {
    let top = Tlv::parse(value_der).map_err(malformed)?;
    let parts = top.children().map_err(malformed)?;
    let (hash, lists) = match parts.as_slice() {
        [alg, rest @ ..] if rest.len() == 3 => {
            let alg = AlgorithmIdentifierOwned::from_der(alg.raw).map_err(malformed)?;
            let hash = super::digest_algorithm(&alg)
                .ok_or_else(|| malformed(format!("hash {}", oid::describe(&alg.oid))))?;
            (hash, rest)
        }
        rest if rest.len() == 3 => (DigestAlgorithm::Sha256, rest),
        _ => return Err(malformed("not four fields")),
    };
    let list = |t: &Tlv<'_>| -> Result<Vec<Vec<u8>>, String> {
        t.children()
            .map_err(malformed)?
            .iter()
            .map(|h| h.octets().map_err(malformed))
            .collect()
    };
    Ok(HashIndex {
        hash,
        certificates: list(&lists[0])?,
        crls: list(&lists[1])?,
        unsigned_attrs: list(&lists[2])?,
    })
}

/// The ats-hash-index-v3 value in a token's SignerInfo (unsigned attribute), DER.
fn token_index(token: &super::SignedDocument) -> Result<Vec<u8>, String> {
    let si = token
        .signer_infos()
        .first()
        .ok_or("the archive time-stamp token has no signer")?;
    let attr = si
        .unsigned_attrs
        .iter()
        .flat_map(|a| a.iter())
        .find(|a| a.oid == oid::ID_AA_ATS_HASH_INDEX_V3)
        .ok_or("the archive time-stamp token carries no ats-hash-index-v3 (EN 319 122-1 §5.5.2)")?;
    let value = attr
        .values
        .iter()
        .next()
        .ok_or("ats-hash-index-v3 has no value")?;
    value.to_der().map_err(malformed)
}

/// One archive time-stamp token of a signer: its octets as carried, and where its attribute is.
pub(crate) struct ArchiveToken<'a> {
    pub raw: &'a [u8],
    attribute: usize,
}

/// The SignedData of `raw` (a ContentInfo) cut into its raw parts.
struct Parts<'a> {
    head: Vec<Tlv<'a>>,
    certificates: Option<Vec<Tlv<'a>>>,
    crls: Option<Vec<Tlv<'a>>>,
    signer_infos: Vec<Tlv<'a>>,
}

fn parts(raw: &[u8]) -> Result<Parts<'_>, String> {
    let bad = |e: ber::BerError| format!("SignedData: {e}");
    let ci = Tlv::parse(raw).map_err(bad)?.children().map_err(bad)?;
    let [_, explicit] = ci.as_slice() else {
        return Err("ContentInfo has not two fields".into());
    };
    let sd = explicit.children().map_err(bad)?;
    let [sd] = sd.as_slice() else {
        return Err("SignedData missing".into());
    };
    let fields = sd.children().map_err(bad)?;
    let mut out = Parts {
        head: Vec::new(),
        certificates: None,
        crls: None,
        signer_infos: Vec::new(),
    };
    for f in fields {
        match f.tag_byte() {
            CONTEXT_0 => out.certificates = Some(f.children().map_err(bad)?),
            CONTEXT_1 => out.crls = Some(f.children().map_err(bad)?),
            SET if out.head.len() == 3 => out.signer_infos = f.children().map_err(bad)?,
            _ => out.head.push(f),
        }
    }
    Ok(out)
}

/// SignerInfo fields before `[1] unsignedAttrs`, and each unsigned Attribute.
fn split_signer<'a>(si: &Tlv<'a>) -> Result<(Vec<Tlv<'a>>, Vec<Tlv<'a>>), String> {
    let bad = |e: ber::BerError| format!("SignerInfo: {e}");
    let mut covered = si.children().map_err(bad)?;
    let unsigned = match covered.last() {
        Some(last) if last.tag_byte() == CONTEXT_1 => {
            let attrs = last.children().map_err(bad)?;
            covered.pop();
            attrs
        }
        _ => Vec::new(),
    };
    Ok((covered, unsigned))
}

/// (attrType raw, each attrValue raw) of an Attribute.
fn attribute<'a>(a: &Tlv<'a>) -> Option<(Tlv<'a>, Vec<Tlv<'a>>)> {
    let parts = a.children().ok()?;
    match parts.as_slice() {
        [kind, values] => Some((*kind, values.children().ok()?)),
        _ => None,
    }
}

/// The archive-time-stamp-v3 tokens of SignerInfo `signer` in `raw`.
pub(crate) fn tokens(raw: &[u8], signer: usize) -> Result<Vec<ArchiveToken<'_>>, String> {
    let p = parts(raw)?;
    let si = p
        .signer_infos
        .get(signer)
        .ok_or("no such SignerInfo in the raw SignedData")?;
    let (_, unsigned) = split_signer(si)?;
    let kind = oid::ID_AA_ETS_ARCHIVE_TIMESTAMP_V3
        .to_der()
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for (i, a) in unsigned.iter().enumerate() {
        if let Some((k, values)) = attribute(a)
            && k.raw == kind.as_slice()
        {
            out.extend(values.iter().map(|v| ArchiveToken {
                raw: v.raw,
                attribute: i,
            }));
        }
    }
    Ok(out)
}

/// The imprint `token` (an archive time-stamp of SignerInfo `signer` in `raw`) must carry, with
/// `hash`: what it listed, cut out of the SignedData as it is now.
pub(crate) fn expected_imprint(
    raw: &[u8],
    signer: usize,
    token: &ArchiveToken<'_>,
    token_doc: &super::SignedDocument,
    detached: Option<&[u8]>,
    hash: DigestAlgorithm,
) -> Result<Vec<u8>, String> {
    let index = hash_index(&token_index(token_doc)?)?;
    let listed = |list: &[Vec<u8>], item: &[u8]| list.contains(&index.hash.digest(item));
    let p = parts(raw)?;
    let mut body: Vec<u8> = p.head.iter().flat_map(|t| t.raw).copied().collect();
    let keep = |field: &Option<Vec<Tlv<'_>>>, list: &[Vec<u8>], tag: u8, body: &mut Vec<u8>| {
        if let Some(items) = field {
            let kept: Vec<u8> = items
                .iter()
                .filter(|t| listed(list, t.raw))
                .flat_map(|t| t.raw)
                .copied()
                .collect();
            body.extend(ber::encode(tag, &kept));
        }
    };
    keep(&p.certificates, &index.certificates, CONTEXT_0, &mut body);
    keep(&p.crls, &index.crls, CONTEXT_1, &mut body);
    let mut signer_infos = Vec::new();
    for (i, si) in p.signer_infos.iter().enumerate() {
        if i != signer {
            signer_infos.extend_from_slice(si.raw);
            continue;
        }
        let (covered, unsigned) = split_signer(si)?;
        let mut si_body: Vec<u8> = covered.iter().flat_map(|t| t.raw).copied().collect();
        let kept: Vec<u8> = unsigned
            .iter()
            .enumerate()
            .filter(|(n, a)| {
                *n != token.attribute
                    && attribute(a).is_some_and(|(kind, values)| {
                        values
                            .iter()
                            .all(|v| listed(&index.unsigned_attrs, &[kind.raw, v.raw].concat()))
                    })
            })
            .flat_map(|(_, a)| a.raw)
            .copied()
            .collect();
        si_body.extend(ber::encode(CONTEXT_1, &kept));
        signer_infos.extend(ber::encode(SEQUENCE, &si_body));
    }
    body.extend(ber::encode(SET, &signer_infos));
    let mut content_info = oid::ID_SIGNED_DATA.to_der().map_err(|e| e.to_string())?;
    content_info.extend(ber::encode(CONTEXT_0, &ber::encode(SEQUENCE, &body)));
    let as_then = ber::encode(SEQUENCE, &content_info);
    cades::archive_timestamp_v3_imprint(&as_then, signer, detached, hash).map_err(|e| e.to_string())
}
