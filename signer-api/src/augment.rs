//! `signer-api augment`: raises a CAdES signature (this service's or anyone's) to B-LT or B-LTA,
//! or renews its B-LTA with a further archive time-stamp, on a stopped data directory: the
//! time-stamps come from the installation's own TSA, or from a foreign one with `--tsa URL`;
//! validation data of certificates this installation did not issue comes only from the files
//! given (`--crl`, `--ocsp-response`, `--cert`). Every input is read and checked before the data
//! directory is opened, and the output is written whole or not at all.

use crate::datadir::{DataDir, write_atomic};
use anyhow::{Context, Result, bail};
use ca_core::authority::{SignerSelection, TimestampSource, ValidationData};
use clap::Args;
use signer_api::config::TsaSettings;
use signer_api::foreign_tsa;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Largest signature read: what the verifier reads (`ca_core::verify::MAX_SIGNATURE_LEN`), so
/// whatever is raised can be verified.
const MAX_SIGNATURE: u64 = ca_core::verify::MAX_SIGNATURE_LEN as u64;
/// Largest detached content read: it is hashed in memory by the archive time-stamp, and
/// `Authority::augment` takes no more than a signature's length.
const MAX_CONTENT: u64 = ca_core::verify::MAX_SIGNATURE_LEN as u64;
/// Largest OCSP response file.
const MAX_OCSP_RESPONSE: u64 = 1 << 20;

#[derive(Args)]
pub struct AugmentArgs {
    /// The signature: CMS SignedData (ContentInfo), DER, BER or PEM; its hashed octets are kept.
    #[arg(long = "in", value_name = "FILE")]
    input: PathBuf,
    /// The signed content of a detached signature (the archive time-stamp covers it).
    #[arg(long, value_name = "FILE")]
    content: Option<PathBuf>,
    /// B-LT, or B-LTA (on a B-LTA signature: renewal, one more archive time-stamp).
    #[arg(long, value_enum)]
    level: signer_api::http::augment::TargetLevel,
    /// A foreign RFC 3161 time-stamping authority (http or https) instead of this
    /// installation's; its tokens must chain to --tsa-ca. Credentials come from
    /// HPKI_TSA_USERNAME + HPKI_TSA_PASSWORD or HPKI_TSA_BEARER_TOKEN, as for `serve`; its
    /// certificates' revocation data from --crl / --ocsp-response.
    #[arg(long, value_name = "URL", requires = "tsa_ca")]
    tsa: Option<String>,
    /// The trust anchor(s) of the --tsa TSA's certificate (DER or PEM bundle).
    #[arg(long, value_name = "FILE", requires = "tsa")]
    tsa_ca: Option<PathBuf>,
    /// A CRL (DER or PEM) to embed, for certificates this installation did not issue (repeatable).
    #[arg(long, value_name = "FILE")]
    crl: Vec<PathBuf>,
    /// A DER OCSPResponse (successful) to embed as id-ri-ocsp-response (repeatable).
    #[arg(long, value_name = "FILE")]
    ocsp_response: Vec<PathBuf>,
    /// Certificates (DER or PEM bundle) to embed: a foreign signer's or TSA's CA chain (repeatable).
    #[arg(long, value_name = "FILE")]
    cert: Vec<PathBuf>,
    /// Raise only this SignerInfo (0-based, in the order the signature carries them); every one
    /// when absent.
    #[arg(long, value_name = "N")]
    signer: Option<usize>,
    /// Write the raised signature (DER) here instead of standard output; written whole or not
    /// at all, so it may be the input file.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// `path`'s bytes, at most `max` (the read is bounded too: a pipe or device reports no size).
fn read_at_most(path: &Path, max: u64, what: &str) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(max + 1).read_to_end(&mut bytes))
        .with_context(|| format!("reading {what} {}", path.display()))?;
    if bytes.len() as u64 > max {
        bail!("{what} {} is over the limit of {max} bytes", path.display());
    }
    Ok(bytes)
}

/// A signature file as DER/BER: PEM (`PKCS7`, `CMS`) is decoded, anything else taken as is.
fn signature_octets(bytes: Vec<u8>, path: &Path) -> Result<Vec<u8>> {
    if !bytes.starts_with(b"-----BEGIN ") {
        return Ok(bytes);
    }
    let (label, der) = der::pem::decode_vec(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: not PEM: {e}", path.display()))?;
    if !matches!(label, "PKCS7" | "CMS") {
        bail!(
            "{}: a PEM {label}, not a signature (PKCS7 or CMS)",
            path.display()
        );
    }
    Ok(der)
}

/// Everything the command was given, read and decoded.
struct Inputs {
    signature: Vec<u8>,
    content: Option<Vec<u8>>,
    extra: ValidationData,
}

fn certificates_file(path: &Path, flag: &str) -> Result<Vec<Vec<u8>>> {
    let bytes = read_at_most(
        path,
        ca_core::verify::MAX_CERTIFICATE_FILE_LEN as u64,
        "certificates",
    )?;
    ca_core::verify::decode_certificates(&bytes)
        .with_context(|| format!("{flag} {}", path.display()))
}

impl AugmentArgs {
    fn inputs(&self) -> Result<Inputs> {
        let signature = signature_octets(
            read_at_most(&self.input, MAX_SIGNATURE, "signature")?,
            &self.input,
        )?;
        let content = self
            .content
            .as_deref()
            .map(|p| read_at_most(p, MAX_CONTENT, "content"))
            .transpose()?;
        let mut crls = Vec::new();
        for path in &self.crl {
            let bytes = read_at_most(path, ca_core::verify::MAX_CRL_LEN as u64, "CRL")?;
            crls.extend(
                ca_core::verify::decode_crls(&bytes)
                    .with_context(|| format!("--crl {}", path.display()))?,
            );
        }
        let mut certificates = Vec::new();
        for path in &self.cert {
            certificates.extend(certificates_file(path, "--cert")?);
        }
        if let Some(path) = &self.tsa_ca {
            // Read here, bounded, so a bad file is refused before anything else happens.
            certificates_file(path, "--tsa-ca")?;
        }
        let ocsp_responses = self
            .ocsp_response
            .iter()
            .map(|p| read_at_most(p, MAX_OCSP_RESPONSE, "OCSP response"))
            .collect::<Result<_>>()?;
        Ok(Inputs {
            signature,
            content,
            extra: ValidationData {
                certificates,
                crls,
                ocsp_responses,
            },
        })
    }
}

pub fn augment(dir: &DataDir, args: AugmentArgs) -> Result<()> {
    // Everything given is read and checked before the data directory is opened.
    let inputs = args.inputs()?;
    let foreign = match &args.tsa {
        Some(url) => {
            let env = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
            let settings = TsaSettings {
                url: Some(url.clone()),
                trust_anchor: args.tsa_ca.clone(),
                username: env("HPKI_TSA_USERNAME"),
                password: env("HPKI_TSA_PASSWORD"),
                bearer_token: env("HPKI_TSA_BEARER_TOKEN"),
                ..TsaSettings::default()
            };
            foreign_tsa::from_settings(&settings)?
                .map(|tsa| TimestampSource::Foreign(Arc::new(tsa)))
        }
        None => None,
    };
    signer_api::http::augment::check_supplied(&inputs.signature, &inputs.extra)
        .context("the signature or the validation data given")?;
    let authority = dir.open_authority()?;
    let source = foreign.or_else(|| authority.timestamp_source());
    let augmented = authority.augment(
        &inputs.signature,
        inputs.content.as_deref(),
        args.level.into(),
        &inputs.extra,
        source.as_ref(),
        args.signer
            .map_or(SignerSelection::All, SignerSelection::One),
        crate::admin::now()?,
        "cli",
    )?;
    write_output(args.out.as_deref(), &augmented.cms)?;
    if augmented.level < args.level.into() {
        eprintln!(
            "warning: the signature's structure reaches only {}: it carries certificate-values or \
             revocation-values attributes (CAdES-X-L), which baseline B-LT forbids",
            augmented.level
        );
    }
    for signer in &augmented.signers {
        eprintln!(
            "signer {} ({}): {} -> {}",
            signer.index, signer.sid, signer.from, signer.level
        );
    }
    let tokens: Vec<String> = augmented.tokens.iter().map(hex::encode).collect();
    eprintln!(
        "{}: {} ({} time-stamp token{} added{}{}; audit record {})",
        args.out
            .as_deref()
            .map_or_else(|| "standard output".to_owned(), |p| p.display().to_string()),
        augmented.level,
        tokens.len(),
        if tokens.len() == 1 { "" } else { "s" },
        if tokens.is_empty() { "" } else { ": " },
        tokens.join(", "),
        augmented.audit_seq
    );
    Ok(())
}

/// Writes `signature` to `out`, whole (a temporary file renamed), or to standard output.
fn write_output(out: Option<&Path>, signature: &[u8]) -> Result<()> {
    use std::io::Write;
    match out {
        Some(path) => write_atomic(path, signature)?,
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(signature)?;
            stdout.flush()?;
        }
    }
    Ok(())
}
