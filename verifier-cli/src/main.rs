//! `verifier-cli`: offline verification of CMS/CAdES signatures and certificates (issue 4).
//! The only place verdicts become exit codes: 0 valid, 1 not valid, 2 could not run.
#![forbid(unsafe_code)]

use anyhow::{Context, Result, bail};
use ca_core::purpose::SigningPolicy;
use ca_core::verify::{
    self, Content, EkuRule, KeyUsageRule, Outcome, Policy, Report, SignedDocument,
    ValidationPolicy, Verifier, rfc3339, verify_certificate,
};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use verifier_cli::inspect;

/// Largest detached content held in memory (only for signatures without signed attributes, whose
/// signature covers the bytes); otherwise the content is streamed through the hashers.
const MAX_IN_MEMORY_CONTENT: u64 = 256 << 20;
/// Most documents in one batch.
const MAX_BATCH: usize = 1_000_000;

#[derive(Parser)]
#[command(
    name = "verifier-cli",
    version,
    about = "Offline verifier for hpki signatures and certificates"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
struct Common {
    /// Trust anchor (PEM bundle or DER; need not be self-signed). Repeatable.
    #[arg(long = "trust-anchor")]
    trust_anchors: Vec<PathBuf>,
    /// Untrusted certificates for path building. Repeatable.
    #[arg(long = "cert-pool")]
    cert_pool: Vec<PathBuf>,
    /// CRL; any --crl turns on revocation checking of every certificate in the path. Repeatable.
    #[arg(long = "crl")]
    crls: Vec<PathBuf>,
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
    format: Format,
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
enum KeyUsageArg {
    NonRepudiation,
    DigitalSignature,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match run(cli) {
        Ok(valid) => ExitCode::from(if valid { 0 } else { 1 }),
        Err(e) => {
            eprintln!("verifier-cli: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// `Ok(true)` valid, `Ok(false)` not valid, `Err` could not run.
fn run(cli: Cli) -> Result<bool> {
    match cli.command {
        Command::Verify {
            cms,
            content,
            common,
            no_chain,
            require_cades,
        } => {
            let mut policy = policy(&common)?;
            policy.check_chain = !no_chain;
            policy.require_cades = require_cades;
            let report = verify_file(&cms, content.as_deref(), &Verifier::new(policy))?;
            print_report(&report, common.format);
            Ok(report.is_valid())
        }
        Command::VerifyPath {
            cert,
            common,
            key_usage,
        } => {
            let mut policy = policy(&common)?;
            policy.key_usage = key_usage.map(|k| match k {
                KeyUsageArg::NonRepudiation => KeyUsageRule::NonRepudiation,
                KeyUsageArg::DigitalSignature => KeyUsageRule::DigitalSignature,
            });
            let bytes = read_limited(&cert, verify::MAX_CERTIFICATE_FILE_LEN as u64)?;
            let report = match verify::decode_certificates(&bytes) {
                Ok(certs) => verify_certificate(&certs[0], &policy),
                Err(e) => verify_certificate(&[], &policy).with_reason(e.to_string()),
            };
            print_report(&report, common.format);
            Ok(report.is_valid())
        }
        Command::Inspect { file } => {
            let bytes = read_limited(&file, verify::MAX_SIGNATURE_LEN as u64)?;
            Ok(inspect::inspect(&bytes))
        }
        Command::VerifyBatch {
            manifest,
            dir,
            jobs,
            common,
        } => batch(manifest.as_deref(), dir.as_deref(), jobs, &common),
    }
}

/// Replaces a format failure's generic reason by the decoder's.
trait WithReason {
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

fn read_limited(path: &Path, max: u64) -> Result<Vec<u8>> {
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

fn policy(c: &Common) -> Result<Policy> {
    let at = match &c.at {
        Some(s) => ca_core::time::parse_rfc3339(s).with_context(|| format!("--at {s:?}"))?,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .context("clock before 1970")?
            .as_secs(),
    };
    let mut p = Policy::new(at);
    p.validation_policy = match c.policy {
        PolicyArg::Iso17090 => ValidationPolicy::Iso17090,
        PolicyArg::Generic => ValidationPolicy::Generic,
    };
    for f in &c.trust_anchors {
        let bytes = read_limited(f, verify::MAX_CERTIFICATE_FILE_LEN as u64)?;
        p.trust_anchors
            .extend(verify::decode_certificates(&bytes).with_context(|| f.display().to_string())?);
    }
    for f in &c.cert_pool {
        let bytes = read_limited(f, verify::MAX_CERTIFICATE_FILE_LEN as u64)?;
        p.cert_pool
            .extend(verify::decode_certificates(&bytes).with_context(|| f.display().to_string())?);
    }
    for f in &c.crls {
        let bytes = read_limited(f, verify::MAX_CRL_LEN as u64)?;
        p.crls
            .extend(verify::decode_crls(&bytes).with_context(|| f.display().to_string())?);
    }
    if p.trust_anchors.len() + p.cert_pool.len() > verify::MAX_CERTIFICATES {
        bail!("more than {} certificates", verify::MAX_CERTIFICATES);
    }
    let oid = |s: &String| s.parse().with_context(|| format!("{s:?} is not an OID"));
    p.initial_policies = c.initial_policies.iter().map(oid).collect::<Result<_>>()?;
    p.accept_policies = c.accept_policies.iter().map(oid).collect::<Result<_>>()?;
    p.require_explicit_policy = c.require_explicit_policy;
    p.inhibit_policy_mapping = c.inhibit_policy_mapping;
    p.inhibit_any_policy = c.inhibit_any_policy;
    p.max_depth = c.max_depth;
    p.anchor_constraints = !c.no_anchor_constraints;
    p.eku = match c.eku.as_deref() {
        None => None,
        Some("any") => Some(EkuRule::Any),
        Some(s) => Some(EkuRule::Required(oid(&s.to_string())?)),
    };
    if let Some(path) = &c.signing_policy {
        p.signing_policy = Some(std::sync::Arc::new(signing_policy(path)?));
    }
    p.require_role = match &c.require_role {
        Some(r) => Some(r.parse().with_context(|| "--require-role")?),
        None => None,
    };
    Ok(p)
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

/// Streams detached content through the hashers; holds it in memory only when a signer without
/// signed attributes needs the bytes.
fn verify_file(cms: &Path, content: Option<&Path>, verifier: &Verifier) -> Result<Report> {
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
    if doc.needs_content_bytes() && doc.is_detached() {
        let mut bytes = Vec::new();
        (&mut file)
            .take(MAX_IN_MEMORY_CONTENT + 1)
            .read_to_end(&mut bytes)
            .with_context(|| format!("cannot read {}", content.display()))?;
        if bytes.len() as u64 > MAX_IN_MEMORY_CONTENT {
            bail!(
                "{}: content without signed attributes larger than {MAX_IN_MEMORY_CONTENT} bytes",
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

fn print_report(report: &Report, format: Format) {
    match format {
        Format::Json => match serde_json::to_string_pretty(report) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("verifier-cli: cannot encode the report: {e}"),
        },
        Format::Text => print!("{}", text(report)),
    }
}

/// One screen: verdict, the failing check first, then signer, key and algorithms, role, purpose,
/// time; everything by name (the OIDs are in `--format json`).
fn text(report: &Report) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let verdict = if report.is_valid() {
        "VALID"
    } else {
        "NOT VALID"
    };
    let _ = write!(out, "{verdict}: {}", report.indication);
    if let Some(sub) = report.sub_indication {
        let _ = write!(out, " / {sub}");
    }
    out.push('\n');
    if let Some(c) = report.checks.iter().find(|c| c.outcome == Outcome::Failed) {
        let _ = writeln!(out, "  failed: {}: {}", c.name, c.reason);
    }
    let many = report.signatures.len() > 1;
    for (i, s) in report.signatures.iter().enumerate() {
        if many {
            let _ = writeln!(
                out,
                "signature {}: {}{}",
                i + 1,
                s.indication,
                s.sub_indication
                    .map(|x| format!(" / {x}"))
                    .unwrap_or_default()
            );
        }
        if let Some(c) = s.first_failure() {
            let _ = writeln!(out, "  failed: {}: {}", c.name, c.reason);
        }
        if let Some(signer) = &s.signer {
            let _ = writeln!(out, "  signer:  {}", signer.subject);
            let _ = writeln!(
                out,
                "  issuer:  {} (serial {})",
                signer.issuer, signer.serial
            );
        }
        if let Some(k) = &s.signer_key {
            let _ = writeln!(out, "  key:     {k}");
        }
        if let (Some(sig), Some(digest)) = (&s.signature_algorithm, &s.digest_algorithm) {
            let _ = writeln!(out, "  algs:    {sig}, digest {digest}");
        }
        for r in &s.hc_roles {
            // The scheme by name when the OID has one (the JP MHLW scheme: id-jhpki-cdata).
            let scheme = r
                .scheme
                .parse()
                .map_or_else(|_| r.scheme.clone(), |o| ca_core::oid::describe(&o));
            let _ = writeln!(
                out,
                "  role:    {}, scheme {scheme}{}",
                r.text.as_deref().unwrap_or("-"),
                r.code
                    .as_deref()
                    .map(|c| format!(", code {c}"))
                    .unwrap_or_default()
            );
        }
        if let Some(p) = &s.purpose {
            match &s.purpose_name {
                Some(name) => {
                    let _ = writeln!(out, "  purpose: {name}");
                }
                None => {
                    let _ = writeln!(out, "  purpose: {p} (not a purpose hpki names)");
                }
            }
        }
        if let Some(t) = &s.claimed_signing_time {
            let _ = writeln!(out, "  signed:  {t} (claimed)");
        }
        for c in s.checks.iter().filter(|c| c.outcome == Outcome::Warning) {
            let _ = writeln!(out, "  note:    {}: {}", c.name, c.reason);
        }
    }
    let _ = writeln!(out, "  checked at {}", report.validation_time);
    out
}

/// One document's result: its index in the batch, its name, the report or why it was not read.
type BatchItem = (usize, String, Result<Report, String>);

/// Progress on stderr: a line rewritten in place on a terminal, otherwise one line per tenth (so
/// logs and pipes get readable progress too).
struct Progress {
    total: usize,
    tty: bool,
}

impl Progress {
    fn step(&self, done: usize) {
        if self.tty {
            if done.is_multiple_of(16) || done == self.total {
                eprint!("\rverified {done}/{}", self.total);
                if done == self.total {
                    eprintln!();
                }
            }
        } else if done.is_multiple_of(self.total.div_ceil(10).max(1)) || done == self.total {
            eprintln!("verified {done}/{}", self.total);
        }
    }
}

fn batch(
    manifest: Option<&Path>,
    dir: Option<&Path>,
    threads: Option<u16>,
    common: &Common,
) -> Result<bool> {
    // One verifier for every worker: each signer's path is validated once for the whole batch.
    let verifier = Verifier::new(policy(common)?);
    let jobs: Vec<(PathBuf, Option<PathBuf>)> = match (manifest, dir) {
        (Some(m), _) => {
            let text =
                String::from_utf8(read_limited(m, 64 << 20)?).context("manifest is not UTF-8")?;
            let base = m.parent().unwrap_or(Path::new("."));
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(|l| {
                    let mut parts = l.split_whitespace();
                    let cms = base.join(parts.next().unwrap_or_default());
                    (cms, parts.next().map(|c| base.join(c)))
                })
                .collect()
        }
        (None, Some(d)) => {
            let mut v = Vec::new();
            for entry in
                std::fs::read_dir(d).with_context(|| format!("cannot read {}", d.display()))?
            {
                let path = entry?.path();
                let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
                if matches!(ext, "p7s" | "p7m" | "cms") {
                    let content = path.with_extension("");
                    let content = (ext == "p7s" && content.is_file()).then_some(content);
                    v.push((path, content));
                }
            }
            v.sort();
            v
        }
        (None, None) => bail!("--manifest or --dir is required"),
    };
    if jobs.len() > MAX_BATCH {
        bail!("more than {MAX_BATCH} documents");
    }
    let total = jobs.len();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let workers = threads
        .map(usize::from)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .min(total.max(1));
    let progress = Progress {
        total,
        tty: std::io::IsTerminal::is_terminal(&std::io::stderr()),
    };
    let per_worker: Vec<Vec<BatchItem>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((cms, content)) = jobs.get(i) else {
                            break;
                        };
                        let r = verify_file(cms, content.as_deref(), &verifier)
                            .map_err(|e| format!("{e:#}"));
                        mine.push((i, cms.display().to_string(), r));
                        progress.step(done.fetch_add(1, Ordering::Relaxed) + 1);
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    // How many documents each worker verified: the summary shows the work was shared.
    let shares: Vec<usize> = per_worker.iter().map(Vec::len).collect();
    let mut results: Vec<_> = per_worker.into_iter().flatten().collect();
    results.sort_by_key(|r| r.0);
    let (mut valid, mut invalid, mut errors) = (0, 0, 0);
    let mut by_sub: std::collections::BTreeMap<String, usize> = Default::default();
    for (_, name, r) in &results {
        match r {
            Ok(rep) if rep.is_valid() => valid += 1,
            Ok(rep) => {
                invalid += 1;
                let key = rep
                    .sub_indication
                    .map_or_else(|| rep.indication.to_string(), |s| s.to_string());
                *by_sub.entry(key.clone()).or_default() += 1;
                if common.format == Format::Text {
                    println!("NOT VALID {name}: {key}");
                }
            }
            Err(e) => {
                errors += 1;
                if common.format == Format::Text {
                    println!("ERROR {name}: {e}");
                }
            }
        }
    }
    if common.format == Format::Json {
        let items: Vec<_> = results
            .iter()
            .map(|(_, name, r)| match r {
                Ok(rep) => serde_json::json!({"file": name, "report": rep}),
                Err(e) => serde_json::json!({"file": name, "error": e}),
            })
            .collect();
        let out = serde_json::json!({"total": total, "valid": valid, "not_valid": invalid, "errors": errors,
            "workers": workers, "verified_per_worker": shares, "results": items});
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "{total} documents at {}: {valid} valid, {invalid} not valid, {errors} could not be read",
            rfc3339(verifier.policy().validation_time)
        );
        let shares: Vec<String> = shares.iter().map(usize::to_string).collect();
        println!("  {workers} workers verified {}", shares.join(" + "));
        for (sub, n) in by_sub {
            println!("  {sub}: {n}");
        }
    }
    if errors > 0 {
        bail!("{errors} documents could not be read");
    }
    Ok(invalid == 0)
}
