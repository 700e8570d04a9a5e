//! archive-time-stamp-v3 (ETSI EN 319 122-1 §5.5.3, B-LTA): each token's imprint is checked
//! against the signature as it is now, with the ats-hash-index-v3 the token itself carries
//! (§5.5.2): `ca_core::cades::archive_timestamp_v3_imprint_with_index`, the construction side's
//! own computation, since the §5.5.3 prefix never changes as a signature is raised. What the
//! index lists must still be there: each certificate, revocation element and unsigned attribute
//! value it names by hash is looked for among those present, so a covered element changed or
//! removed fails that token, by name; what was added after it (newer archive time-stamps,
//! renewal data) is simply not listed.

use super::report::SubIndication;
use crate::engine::ber::{self, Tlv};
use crate::engine::cades;
use crate::engine::digest::DigestAlgorithm;
use crate::engine::oid;
use der::{Decode, Encode};
use spki::AlgorithmIdentifierOwned;

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

/// The position among the SignerInfos of `raw`, as carried, of the one whose signature value is
/// `signature`. A DER decoder sorts a SET OF (der's `SetOfVec`), so a foreign encoder's order of
/// SignerInfos need not be the decoded one; the archive imprint is over the one as carried.
pub(crate) fn signer_position(raw: &[u8], signature: &[u8]) -> Option<usize> {
    const OCTET_STRING: u8 = 0x04;
    let p = parts(raw).ok()?;
    p.signer_infos.iter().position(|si| {
        si.children().is_ok_and(|fields| {
            fields
                .iter()
                .any(|f| f.tag_byte() == OCTET_STRING && f.octets().is_ok_and(|o| o == signature))
        })
    })
}

/// The archive-time-stamp-v3 tokens of SignerInfo `signer` in `raw`, as carried.
pub(crate) fn tokens(raw: &[u8], signer: usize) -> Result<Vec<&[u8]>, String> {
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
    for a in &unsigned {
        if let Some((k, values)) = attribute(a)
            && k.raw == kind.as_slice()
        {
            out.extend(values.iter().map(|v| v.raw));
        }
    }
    Ok(out)
}

/// The unsigned attribute values an archive time-stamp's index lists: its hash algorithm and
/// each hash of attrType ‖ attrValue (EN 319 122-1 §5.5.2), what it proves existed.
pub(crate) type Covered = (DigestAlgorithm, Vec<Vec<u8>>);

/// The imprint an archive time-stamp (`token_doc`) of SignerInfo `signer` in `raw` must carry,
/// with `hash`, once everything its index lists is found present; and what its index covers.
pub(crate) fn expected_imprint(
    raw: &[u8],
    signer: usize,
    token_doc: &super::SignedDocument,
    detached: Option<&[u8]>,
    hash: DigestAlgorithm,
) -> Result<(Vec<u8>, Covered), (SubIndication, String)> {
    let format = |e: String| (SubIndication::FormatFailure, e);
    let index_der = token_index(token_doc).map_err(format)?;
    let index = hash_index(&index_der).map_err(format)?;
    let p = parts(raw).map_err(format)?;
    let si = p
        .signer_infos
        .get(signer)
        .ok_or_else(|| format("no such SignerInfo in the raw SignedData".into()))?;
    let (_, unsigned) = split_signer(si).map_err(format)?;
    let mut values: Vec<Vec<u8>> = Vec::new();
    for a in &unsigned {
        if let Some((kind, vs)) = attribute(a) {
            values.extend(vs.iter().map(|v| [kind.raw, v.raw].concat()));
        }
    }
    let raws = |f: &Option<Vec<Tlv<'_>>>| -> Vec<Vec<u8>> {
        f.iter().flatten().map(|t| t.raw.to_vec()).collect()
    };
    for (what, listed, present) in [
        ("certificate", &index.certificates, raws(&p.certificates)),
        ("revocation element", &index.crls, raws(&p.crls)),
        ("unsigned attribute value", &index.unsigned_attrs, values),
    ] {
        let hashes: Vec<Vec<u8>> = present.iter().map(|x| index.hash.digest(x)).collect();
        if let Some(n) = listed.iter().position(|h| !hashes.contains(h)) {
            return Err((
                SubIndication::HashFailure,
                format!(
                    "the {what} #{} it covered ({} {}) is no longer in the signature: a covered \
                     element changed or is missing",
                    n + 1,
                    index.hash,
                    hex::encode(&listed[n])
                ),
            ));
        }
    }
    let imprint =
        cades::archive_timestamp_v3_imprint_with_index(raw, signer, detached, hash, &index_der)
            .map_err(|e| format(e.to_string()))?;
    Ok((imprint, (index.hash, index.unsigned_attrs)))
}
