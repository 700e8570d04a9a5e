//! Reading the inputs: files under a size bound, and a signature verified with its detached
//! content streamed through the hashers.

use anyhow::{Context, Result, bail};
use ca_core::verify::{self, Content, Report, SignedDocument, Verifier};
use std::io::Read;
use std::path::Path;

/// Largest detached content held in memory (only for signatures without signed attributes, whose
/// signature covers the bytes, and for archived ones, whose archive time-stamps cover them);
/// otherwise the content is streamed through the hashers.
const MAX_IN_MEMORY_CONTENT: u64 = 256 << 20;

/// Replaces a format failure's generic reason by the decoder's.
pub trait WithReason {
    fn with_reason(self, reason: String) -> Self;
}

impl WithReason for Report {
    fn with_reason(mut self, reason: String) -> Self {
        if let Some(c) = self.checks.first_mut() {
            c.reason = reason;
        }
        self
    }
}

pub fn read_limited(path: &Path, max: u64) -> Result<Vec<u8>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() as u64 > max {
        bail!("{} is larger than {max} bytes", path.display());
    }
    Ok(bytes)
}

/// Streams detached content through the hashers; holds it in memory only when a signer without
/// signed attributes needs the bytes.
pub fn verify_file(cms: &Path, content: Option<&Path>, verifier: &Verifier) -> Result<Report> {
    let input = read_limited(cms, verify::MAX_SIGNATURE_LEN as u64)?;
    let doc = match SignedDocument::parse(&input) {
        Ok(d) => d,
        Err(e) => {
            return Ok(verifier
                .verify_bytes(&input, None)
                .with_reason(e.to_string()));
        }
    };
    let Some(content) = content else {
        return Ok(verifier.verify_document(&doc, Content::Encapsulated));
    };
    let mut file = std::fs::File::open(content)
        .with_context(|| format!("cannot open {}", content.display()))?;
    if doc.is_detached() && (doc.needs_content_bytes() || archived(&doc)) {
        let mut bytes = Vec::new();
        (&mut file)
            .take(MAX_IN_MEMORY_CONTENT + 1)
            .read_to_end(&mut bytes)
            .with_context(|| format!("cannot read {}", content.display()))?;
        if bytes.len() as u64 > MAX_IN_MEMORY_CONTENT {
            bail!(
                "{}: content of a signature without signed attributes, or with an archive \
                 time-stamp, larger than {MAX_IN_MEMORY_CONTENT} bytes",
                content.display()
            );
        }
        let digests = verify::digest_chunks(&doc.digest_algorithms(), [bytes.as_slice()]);
        return Ok(verifier.verify_document(
            &doc,
            Content::Detached {
                digests: &digests,
                bytes: Some(&bytes),
            },
        ));
    }
    let algorithms = doc.digest_algorithms();
    let mut hashers: Vec<_> = algorithms
        .iter()
        .map(|a| (*a, ca_core::sign::DocumentHasher::new(*a)))
        .collect();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", content.display()))?;
        if n == 0 {
            break;
        }
        for (_, h) in &mut hashers {
            h.update(&buf[..n]);
        }
    }
    let digests: Vec<_> = hashers.into_iter().map(|(a, h)| (a, h.finish())).collect();
    Ok(verifier.verify_document(
        &doc,
        Content::Detached {
            digests: &digests,
            bytes: None,
        },
    ))
}

/// Whether a signer carries an archive-time-stamp-v3 (B-LTA), whose imprint covers the detached
/// content's bytes (EN 319 122-1 §5.5.3): the verifier checks it against them.
fn archived(doc: &SignedDocument) -> bool {
    doc.signer_infos().iter().any(|si| {
        si.unsigned_attrs
            .iter()
            .flat_map(|attrs| attrs.iter())
            .any(|a| a.oid == ca_core::oid::ID_AA_ETS_ARCHIVE_TIMESTAMP_V3)
    })
}
