//! Raw BER/DER elements (X.690 §8.1) as slices of the input, for structures whose parts are
//! hashed as received: the CAdES archive time-stamp hashes SignerInfo fields, certificates, CRLs
//! and unsigned attribute values by their tag, length and value (EN 319 122-1 §5.5.2), and the
//! time-stamp client keeps the token as the TSA sent it. Decoding to typed structs and encoding
//! again could normalise BER (indefinite lengths, constructed strings) into different octets, so
//! these elements are only ever sliced, and only the wrappers a change touches are re-encoded.

/// Nesting depth at which an indefinite-length element is refused: the end of such an element is
/// found by walking its children, and a hostile input must not exhaust the stack.
const MAX_DEPTH: usize = 64;

/// Why octets are not one BER element.
#[derive(Debug, thiserror::Error)]
#[error("{what} at octet {at}")]
pub(crate) struct BerError {
    what: &'static str,
    at: usize,
}

fn err(what: &'static str, at: usize) -> BerError {
    BerError { what, at }
}

/// One element: its whole octets, its identifier octets and its contents (for an indefinite
/// length, without the end-of-contents octets).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tlv<'a> {
    /// Identifier, length, contents (and end-of-contents), exactly as received.
    pub(crate) raw: &'a [u8],
    /// The identifier octets.
    pub(crate) tag: &'a [u8],
    /// The contents octets.
    pub(crate) content: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// The one element `input` is, nothing after it.
    pub(crate) fn parse(input: &'a [u8]) -> Result<Self, BerError> {
        let (tlv, rest) = parse_one(input, 0, 0)?;
        if !rest.is_empty() {
            return Err(err("trailing octets after the element", tlv.raw.len()));
        }
        Ok(tlv)
    }

    /// The first identifier octet (class, constructed bit, low tag number).
    pub(crate) fn tag_byte(&self) -> u8 {
        self.tag[0]
    }

    /// The elements of a constructed element's contents, in order.
    pub(crate) fn children(&self) -> Result<Vec<Tlv<'a>>, BerError> {
        if self.tag_byte() & 0x20 == 0 {
            return Err(err(
                "a primitive element where a constructed one belongs",
                0,
            ));
        }
        let mut out = Vec::new();
        let mut rest = self.content;
        let mut at = 0;
        while !rest.is_empty() {
            let (tlv, tail) = parse_one(rest, 1, at)?;
            at += tlv.raw.len();
            out.push(tlv);
            rest = tail;
        }
        Ok(out)
    }

    /// The value octets of an OCTET STRING (tag 0x04) or of a BER constructed one (0x24), whose
    /// segments are joined (X.690 §8.7.3).
    pub(crate) fn octets(&self) -> Result<Vec<u8>, BerError> {
        self.octets_at(0)
    }

    fn octets_at(&self, depth: usize) -> Result<Vec<u8>, BerError> {
        match self.tag_byte() {
            0x04 => Ok(self.content.to_vec()),
            0x24 if depth < MAX_DEPTH => {
                let mut out = Vec::new();
                for segment in self.children()? {
                    out.extend(segment.octets_at(depth + 1)?);
                }
                Ok(out)
            }
            _ => Err(err("not an OCTET STRING", 0)),
        }
    }
}

/// The element at the start of `input`, and what follows it. `base` is the offset of `input` in
/// the outermost octets, for messages.
fn parse_one(input: &[u8], depth: usize, base: usize) -> Result<(Tlv<'_>, &[u8]), BerError> {
    let first = *input.first().ok_or_else(|| err("missing element", base))?;
    let mut at = 1;
    if first & 0x1f == 0x1f {
        // High tag number: base-128 octets, the last with bit 8 clear (X.690 §8.1.2.4).
        loop {
            let b = *input
                .get(at)
                .ok_or_else(|| err("truncated tag", base + at))?;
            at += 1;
            if b & 0x80 == 0 {
                break;
            }
            if at > 6 {
                return Err(err("tag number too large", base));
            }
        }
    }
    let tag_len = at;
    let len_byte = *input
        .get(at)
        .ok_or_else(|| err("truncated length", base + at))?;
    at += 1;
    if len_byte == 0x80 {
        // Indefinite length (X.690 §8.1.3.6): constructed only, ended by 00 00.
        if first & 0x20 == 0 || depth >= MAX_DEPTH {
            return Err(err("indefinite length not allowed here", base));
        }
        let mut rest = &input[at..];
        loop {
            if rest.len() >= 2 && rest[0] == 0 && rest[1] == 0 {
                let end = input.len() - rest.len();
                let tlv = Tlv {
                    raw: &input[..end + 2],
                    tag: &input[..tag_len],
                    content: &input[at..end],
                };
                return Ok((tlv, &input[end + 2..]));
            }
            let offset = input.len() - rest.len();
            let (_, tail) = parse_one(rest, depth + 1, base + offset)?;
            rest = tail;
        }
    }
    let len = if len_byte & 0x80 == 0 {
        usize::from(len_byte)
    } else {
        let count = usize::from(len_byte & 0x7f);
        if count > 4 || count == 0x7f {
            return Err(err("length too large", base + at));
        }
        let bytes = input
            .get(at..at + count)
            .ok_or_else(|| err("truncated length", base + at))?;
        at += count;
        bytes.iter().fold(0usize, |n, b| (n << 8) | usize::from(*b))
    };
    let end = at
        .checked_add(len)
        .filter(|end| *end <= input.len())
        .ok_or_else(|| err("contents longer than the input", base))?;
    Ok((
        Tlv {
            raw: &input[..end],
            tag: &input[..tag_len],
            content: &input[at..end],
        },
        &input[end..],
    ))
}

/// A definite-length (DER) element with identifier `tag` over `content`.
pub(crate) fn encode(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// A DER SET OF (identifier `tag`) over `elements` in DER order: ascending by their encodings
/// (X.690 §11.6). The elements' own octets are kept.
pub(crate) fn encode_set_of(tag: u8, elements: &mut [&[u8]]) -> Vec<u8> {
    elements.sort_unstable();
    encode(tag, &elements.concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indefinite_lengths_are_sliced_with_their_end_of_contents() {
        // SEQUENCE (indefinite) { INTEGER 5, OCTET STRING constructed (indefinite) { "ab", "c" } }
        let ber = [
            0x30, 0x80, 0x02, 0x01, 0x05, 0x24, 0x80, 0x04, 0x02, b'a', b'b', 0x04, 0x01, b'c',
            0x00, 0x00, 0x00, 0x00,
        ];
        let tlv = Tlv::parse(&ber).unwrap();
        assert_eq!(tlv.raw, &ber[..]);
        let children = tlv.children().unwrap();
        assert_eq!(children.len(), 2);
        assert_eq!(children[0].raw, [0x02, 0x01, 0x05]);
        assert_eq!(children[1].raw, &ber[5..16]);
        assert_eq!(children[1].octets().unwrap(), b"abc");
        assert!(Tlv::parse(&ber[..ber.len() - 1]).is_err());
        assert!(Tlv::parse(&[0x04, 0x80, 0x00, 0x00]).is_err());
    }

    #[test]
    fn long_lengths_round_trip() {
        let content = vec![7u8; 300];
        let der = encode(0x04, &content);
        assert_eq!(&der[..4], [0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(Tlv::parse(&der).unwrap().octets().unwrap(), content);
        assert!(Tlv::parse(&der[..100]).is_err());
        assert!(Tlv::parse(&[0x30, 0x85, 1, 1, 1, 1, 1]).is_err());
    }
}
