//! The command line: flags and subcommands (clap), and the verification policy they make.

use crate::input::read_limited;
use anyhow::{Context, Result, bail};
use ca_core::purpose::SigningPolicy;
use ca_core::verify::{self, EkuRule, KeyUsageRule, Policy, ValidationPolicy};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(
    name = "verifier-cli",
    version,
    about = "Offline verifier for hpki signatures and certificates"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Verify a CMS/CAdES signature.
    Verify {
        #[arg(long)]
        cms: PathBuf,
        /// The signed content of a detached signature.
        #[arg(long)]
        content: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
        /// Check the signature and signed attributes only, not the certificate path.
        #[arg(long)]
        no_chain: bool,
        /// A signature without ESS signingCertificateV2 is not valid.
        #[arg(long)]
        require_cades: bool,
    },
    /// Validate a certificate's path.
    VerifyPath {
        #[arg(long)]
        cert: PathBuf,
        #[command(flatten)]
        common: Common,
        /// Require this keyUsage bit of the certificate (default: keyUsage reported, not checked).
        #[arg(long, value_enum)]
        key_usage: Option<KeyUsageArg>,
    },
    /// Show a certificate, CRL, CSR or CMS signature: every extension and attribute by name with
    /// its value (hcRole decoded), keys by algorithm and size, signature purposes by name.
    Inspect { file: PathBuf },
    /// Verify many signatures in parallel.
    VerifyBatch {
        /// Lines of `CMS_FILE [CONTENT_FILE]`, relative to the manifest's folder.
        #[arg(long, conflicts_with = "dir", required_unless_present = "dir")]
        manifest: Option<PathBuf>,
        /// Every .p7s/.p7m/.cms file in DIR (detached content: the same name without the suffix).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Worker threads (default: one per core).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
        jobs: Option<u16>,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Args, Clone)]
pub struct Common {
    /// Trust anchor (PEM bundle or DER; need not be self-signed). Repeatable.
    #[arg(long = "trust-anchor")]
    trust_anchors: Vec<PathBuf>,
    /// Untrusted certificates for path building. Repeatable.
    #[arg(long = "cert-pool")]
    cert_pool: Vec<PathBuf>,
    /// CRL; any --crl turns on revocation checking of every certificate in the path. Repeatable.
    #[arg(long = "crl")]
    crls: Vec<PathBuf>,
    /// OCSP response (DER OCSPResponse, as `openssl ocsp -respout` writes it); like --crl it
    /// turns on revocation checking, and answers for the certificate it names (RFC 6960: an
    /// authorised responder, fresh at the validation time). Repeatable.
    #[arg(long = "ocsp-response")]
    ocsp_responses: Vec<PathBuf>,
    /// Validation time, RFC 3339 (default: now).
    #[arg(long)]
    at: Option<String>,
    /// Initial policy set (default anyPolicy). Repeatable.
    #[arg(long = "initial-policy")]
    initial_policies: Vec<String>,
    #[arg(long)]
    require_explicit_policy: bool,
    #[arg(long)]
    inhibit_policy_mapping: bool,
    #[arg(long)]
    inhibit_any_policy: bool,
    /// Required extended key usage: an OID, or `any`.
    #[arg(long)]
    eku: Option<String>,
    /// Most intermediate CA certificates in a path.
    #[arg(long)]
    max_depth: Option<u8>,
    /// Use each trust anchor as a name and a key only: ignore the constraints its certificate
    /// carries (name constraints, pathLenConstraint, policies, policy constraints,
    /// inhibitAnyPolicy, unrecognised critical extensions; RFC 5937), applied by default.
    #[arg(long)]
    no_anchor_constraints: bool,
    /// Required hcRole, SCHEME_OID:TEXT.
    #[arg(long)]
    require_role: Option<String>,
    /// The signer's certificate must assert this policy.
    #[arg(long = "accept-policy")]
    accept_policies: Vec<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Validation policy: iso17090 (signer certificate with nonRepudiation, role × purpose
    /// gate) or generic (RFC 5280 + RFC 5652 only: digitalSignature or nonRepudiation).
    #[arg(long, value_enum, default_value_t = PolicyArg::Iso17090)]
    policy: PolicyArg,
    /// The role × purpose table of the iso17090 policy: a policies directory (its
    /// purposes/signing.toml) or the TOML file itself (default: the shipped table).
    #[arg(long)]
    signing_policy: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PolicyArg {
    Iso17090,
    Generic,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyUsageArg {
    NonRepudiation,
    DigitalSignature,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

impl From<KeyUsageArg> for KeyUsageRule {
    fn from(k: KeyUsageArg) -> Self {
        match k {
            KeyUsageArg::NonRepudiation => KeyUsageRule::NonRepudiation,
            KeyUsageArg::DigitalSignature => KeyUsageRule::DigitalSignature,
        }
    }
}

impl Common {
    /// The verification policy these flags describe, their files read.
    pub fn policy(&self) -> Result<Policy> {
        let at = match &self.at {
            Some(s) => ca_core::time::parse_rfc3339(s).with_context(|| format!("--at {s:?}"))?,
            None => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .context("clock before 1970")?
                .as_secs(),
        };
        let mut p = Policy::new(at);
        p.validation_policy = match self.policy {
            PolicyArg::Iso17090 => ValidationPolicy::Iso17090,
            PolicyArg::Generic => ValidationPolicy::Generic,
        };
        for f in &self.trust_anchors {
            let bytes = read_limited(f, verify::MAX_CERTIFICATE_FILE_LEN as u64)?;
            p.trust_anchors.extend(
                verify::decode_certificates(&bytes).with_context(|| f.display().to_string())?,
            );
        }
        for f in &self.cert_pool {
            let bytes = read_limited(f, verify::MAX_CERTIFICATE_FILE_LEN as u64)?;
            p.cert_pool.extend(
                verify::decode_certificates(&bytes).with_context(|| f.display().to_string())?,
            );
        }
        for f in &self.crls {
            let bytes = read_limited(f, verify::MAX_CRL_LEN as u64)?;
            p.crls
                .extend(verify::decode_crls(&bytes).with_context(|| f.display().to_string())?);
        }
        for f in &self.ocsp_responses {
            let bytes = read_limited(f, verify::MAX_OCSP_RESPONSE_LEN as u64)?;
            p.ocsp_responses.push(
                verify::decode_ocsp_response(&bytes).with_context(|| f.display().to_string())?,
            );
        }
        if p.trust_anchors.len() + p.cert_pool.len() > verify::MAX_CERTIFICATES {
            bail!("more than {} certificates", verify::MAX_CERTIFICATES);
        }
        let oid = |s: &String| s.parse().with_context(|| format!("{s:?} is not an OID"));
        p.initial_policies = self
            .initial_policies
            .iter()
            .map(oid)
            .collect::<Result<_>>()?;
        p.accept_policies = self
            .accept_policies
            .iter()
            .map(oid)
            .collect::<Result<_>>()?;
        p.require_explicit_policy = self.require_explicit_policy;
        p.inhibit_policy_mapping = self.inhibit_policy_mapping;
        p.inhibit_any_policy = self.inhibit_any_policy;
        p.max_depth = self.max_depth;
        p.anchor_constraints = !self.no_anchor_constraints;
        p.eku = match self.eku.as_deref() {
            None => None,
            Some("any") => Some(EkuRule::Any),
            Some(s) => Some(EkuRule::Required(oid(&s.to_string())?)),
        };
        if let Some(path) = &self.signing_policy {
            p.signing_policy = Some(std::sync::Arc::new(signing_policy(path)?));
        }
        p.require_role = match &self.require_role {
            Some(r) => Some(r.parse().with_context(|| "--require-role")?),
            None => None,
        };
        Ok(p)
    }
}

/// `--signing-policy`: a policies directory or the signing policy's TOML file.
fn signing_policy(path: &Path) -> Result<SigningPolicy> {
    let context = || format!("--signing-policy {}", path.display());
    if path.is_dir() {
        return SigningPolicy::load_dir(path).with_context(context);
    }
    let text = String::from_utf8(read_limited(path, 1 << 20)?)
        .map_err(|_| anyhow::anyhow!("not UTF-8"))
        .with_context(context)?;
    SigningPolicy::from_toml(&path.display().to_string(), &text).with_context(context)
}
