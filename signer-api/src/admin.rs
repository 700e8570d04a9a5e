//! Admin subcommands: init, issue, revoke, crl, profiles, token, audit. Beside a running `serve`
//! (which holds sled's lock), every one but `init`, `augment` and `profiles` runs in that server
//! through its admin socket (`crate::adminsock`).

use crate::config::KeyBackendKind;
use crate::datadir::{DataDir, DataDirError, ServiceStore, write_atomic};
use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ca_core::authority::{Authority, AuthorityConfig, AuthorityError, InitRequest};
use ca_core::hcrole::HcRole;
use ca_core::issue::Registration;
use ca_core::key::{KeyAlgorithm, SigningKey};
use ca_core::profile::{CaUrls, IssuerRef};
use ca_core::store::{RevocationReason, TokenScope};
use clap::{Args, Subcommand, ValueEnum};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};
use x509_cert::der::pem::LineEnding;

/// Largest file the admin commands read (CSRs, keys).
const MAX_INPUT: u64 = 1024 * 1024;

#[derive(Clone, Copy, ValueEnum)]
pub enum KeyAlg {
    P256,
    P384,
    Ed25519,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeysArg {
    Software,
    Pkcs11,
}

#[derive(Args)]
pub struct InitArgs {
    /// Algorithm of the generated CA keys.
    #[arg(long, value_enum, default_value = "p256")]
    key_alg: KeyAlg,
    /// Organisation name in the CA names.
    #[arg(long, default_value = "hpki Demo Healthcare Organisation")]
    org: String,
    /// Country code in the CA names.
    #[arg(long, default_value = "JP")]
    country: String,
    /// Import a CA key instead of generating it, e.g. `--import-key sign=sign-rsa.p8` (PKCS#8 DER or PEM).
    /// The key is sealed in the store: with `--keys pkcs11` only beside `--allow-software-ca-key`.
    #[arg(long, value_name = "CA=FILE")]
    import_key: Vec<String>,
    /// Where the CA, TSA and OCSP responder keys are made: `software` (sealed in the store) or
    /// `pkcs11` (in the token that `[keys]` / `HPKI_PKCS11_MODULE`, `HPKI_PKCS11_TOKEN` and
    /// `HPKI_PKCS11_PIN` name). Default: the configuration's `[keys] backend`.
    #[arg(long, value_enum)]
    keys: Option<KeysArg>,
    /// With `--keys pkcs11`: let `--import-key` put a software CA key (sealed in the store, so it
    /// exists outside the HSM) into the installation.
    #[arg(long)]
    allow_software_ca_key: bool,
    /// OID arc for certificate policies (default: a fresh 2.25.<uuid> arc).
    #[arg(long)]
    policy_arc: Option<String>,
    /// Base URL of this service, for CRL distribution points, AIA and the CPS in certificates.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    base_url: String,
    /// Validity of each CRL, in days (at least 1).
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..))]
    crl_days: u32,
    /// Leave the OCSP responder's URL (`{base_url}/v1/ocsp`) out of the AIA of the certificates
    /// (for a service run with `[ocsp] enabled = false`).
    #[arg(long)]
    no_ocsp: bool,
    /// TSA policy OID of the time-stamp tokens (default: <policy arc>.13.1); the service's
    /// `[tsa] policy` overrides it.
    #[arg(long)]
    tsa_policy: Option<String>,
}

#[derive(Args)]
pub struct IssueArgs {
    /// Profile id (see `signer-api profiles`).
    #[arg(long)]
    profile: String,
    /// PKCS#10 request, PEM or DER.
    #[arg(long)]
    csr: PathBuf,
    /// Subject in certificate order, e.g. "C=JP,O=Example Hospital,CN=Taro Yamada".
    #[arg(long)]
    subject: String,
    /// Certified healthcare role, SCHEME_OID:TEXT (repeatable).
    #[arg(long, value_name = "SCHEME_OID:TEXT")]
    hc_role: Vec<String>,
    /// Subject alternative name: dns:, email:, uri:, ip: or dir: (repeatable).
    #[arg(long)]
    san: Vec<String>,
    /// Validity in days (default: the profile's maximum).
    #[arg(long)]
    days: Option<u32>,
    /// Write the certificate (PEM) here instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
pub struct RevokeArgs {
    /// Serial number in hex.
    #[arg(long)]
    serial: String,
    /// RFC 5280 reason, e.g. keyCompromise, affiliationChanged, superseded, cessationOfOperation;
    /// certificateHold suspends (undone by `release`).
    #[arg(long, default_value = "unspecified")]
    reason: String,
    /// When the key was (suspected to be) compromised, RFC 3339 (e.g. 2026-11-01T00:00:00Z).
    #[arg(long)]
    invalidity_date: Option<String>,
}

#[derive(Args)]
pub struct ReleaseArgs {
    /// Serial number in hex of a certificate on hold (certificateHold).
    #[arg(long)]
    serial: String,
}

#[derive(Args)]
pub struct CrlArgs {
    /// CA id: sign, auth or root.
    #[arg(long)]
    ca: String,
    /// Write the CRL as DER here instead of PEM on standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn now() -> Result<u64> {
    Ok(SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs())
}

fn read_input(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let context = || format!("reading {}", path.display());
    // The read is bounded too: a device or a pipe (/dev/zero) reports no size.
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_INPUT + 1).read_to_end(&mut bytes))
        .with_context(context)?;
    if bytes.len() as u64 > MAX_INPUT {
        bail!("{} is over the limit of {MAX_INPUT} bytes", path.display());
    }
    Ok(bytes)
}

/// A fresh demo policy arc `2.25.<n>`, n a random 32-bit number.
///
/// A full `2.25.<uuid>` arc (ITU-T X.667) would be the textbook choice, but its 128-bit arc cannot
/// be represented by const-oid/der 0.10 (arcs are `u32`), so our own verifier could not even decode
/// such certificates. No UUID of any version is below 2^32, so this arc belongs to no UUID holder;
/// two demo CAs collide with probability 2^-32. Production CAs pass their registered arc.
fn fresh_policy_arc() -> Result<String> {
    let b: [u8; 4] = ca_core::seal::Sealer::random_bytes()?;
    Ok(format!("2.25.{}", u32::from_be_bytes(b).max(1)))
}

impl InitArgs {
    /// The defaults of `signer-api init`, with this base URL.
    pub fn defaults(base_url: &str) -> Self {
        Self {
            key_alg: KeyAlg::P256,
            org: "hpki Demo Healthcare Organisation".into(),
            country: "JP".into(),
            import_key: Vec::new(),
            keys: None,
            allow_software_ca_key: false,
            policy_arc: None,
            base_url: base_url.into(),
            crl_days: 7,
            no_ocsp: false,
            tsa_policy: None,
        }
    }

    /// With (`true`) or without the OCSP URL in certificates (`--no-ocsp`).
    pub fn with_ocsp(mut self, enabled: bool) -> Self {
        self.no_ocsp = !enabled;
        self
    }

    /// The TSA policy to record at init.
    pub fn with_tsa_policy(mut self, policy: Option<String>) -> Self {
        self.tsa_policy = policy;
        self
    }
}

pub fn init(dir: &DataDir, args: InitArgs) -> Result<()> {
    let base_url = args.base_url.trim_end_matches('/').to_owned();
    let authority = create_authority(dir, args)?;
    println!("initialised CA hierarchy in {}", dir.root().display());
    for id in authority.ca_ids() {
        println!("  {id}: {}", dir.ca_pem(id).display());
    }
    println!("policy arc: {}", authority.config().policy_arc);
    if let Ok(tsa) = authority.tsa_certificate() {
        println!("{}", tsa_line(&base_url, &tsa.policy.to_string()));
    }
    Ok(())
}

/// Where relying parties fetch the TSA certificate and chain (init and serve print it).
pub fn tsa_line(base_url: &str, policy: &str) -> String {
    format!(
        "time-stamping authority: {base_url}/v1/timestamps (certificate and chain: \
         {base_url}/v1/timestamps/certificate; policy {policy})"
    )
}

/// Creates the CA hierarchy in an empty data directory and publishes the CA certificates.
pub fn create_authority(dir: &DataDir, args: InitArgs) -> Result<Authority<ServiceStore>> {
    let data_dir = dir.root();
    if dir.is_initialised()? {
        bail!("{} already holds a CA", data_dir.display());
    }
    let mut keys_config = dir.keys().clone();
    match args.keys {
        Some(KeysArg::Pkcs11) => keys_config.backend = KeyBackendKind::Pkcs11,
        Some(KeysArg::Software) => {
            keys_config.backend = KeyBackendKind::Software;
            keys_config.credentials_in_token = false;
        }
        None => {}
    }
    keys_config.check()?;
    let mut imported_keys = BTreeMap::new();
    for spec in &args.import_key {
        let (ca, file) = spec
            .split_once('=')
            .with_context(|| format!("--import-key {spec:?}: expected CA=FILE"))?;
        let bytes = read_input(Path::new(file))?;
        let der = match x509_cert::der::pem::decode_vec(&bytes) {
            Ok((_, der)) => der,
            Err(_) => bytes,
        };
        let key = SigningKey::from_pkcs8(&der).with_context(|| format!("importing {file}"))?;
        imported_keys.insert(ca.to_owned(), key);
    }
    let config = AuthorityConfig {
        policy_arc: match args.policy_arc {
            Some(arc) => arc,
            None => fresh_policy_arc()?,
        },
        urls: {
            let mut urls = CaUrls::published_at(args.base_url.trim_end_matches('/'));
            if args.no_ocsp {
                urls.ocsp = None;
            }
            urls
        },
        crl_validity_days: args.crl_days,
        tsa_policy: args.tsa_policy,
    };
    let profiles = dir.profiles()?;
    // The token is opened (module, label, PIN) before anything is written.
    let keys = crate::datadir::open_key_backend(&keys_config)?;
    let store = dir.open_store()?;
    // From here a failure must not leave a half-made installation that refuses a retry.
    let (sealer, seal_setting, made_key_file) = match dir.new_sealer() {
        Ok(s) => s,
        Err(e) => {
            drop(store);
            // No key file of ours: one that exists is another `init`'s (a second instance
            // started at once on the same data directory).
            dir.discard_failed_init(false);
            return Err(e.into());
        }
    };
    let authority = Authority::init_with_keys(
        store,
        profiles,
        sealer,
        keys,
        InitRequest {
            key_algorithm: match args.key_alg {
                KeyAlg::P256 => KeyAlgorithm::P256,
                KeyAlg::P384 => KeyAlgorithm::P384,
                KeyAlg::Ed25519 => KeyAlgorithm::Ed25519,
            },
            imported_keys,
            allow_software_ca_keys: args.allow_software_ca_key,
            organization: args.org,
            country: args.country,
            config,
            settings: vec![seal_setting],
            now: now()?,
            actor: ACTOR_CLI.into(),
            serials: Default::default(),
        },
    )
    .inspect_err(|_| dir.discard_failed_init(made_key_file))
    .map_err(|e| match e {
        AuthorityError::SoftwareCaKeyRefused => anyhow::anyhow!(
            "--import-key: {e} (leave out --import-key, or add --allow-software-ca-key)"
        ),
        e => e.into(),
    })?;
    publish_ca_certificates(dir, &authority)?;
    Ok(authority)
}

/// Writes each CA certificate as PEM where users pick it up (`ca/<id>.pem`).
pub fn publish_ca_certificates<S: ca_core::store::Store>(
    dir: &DataDir,
    authority: &Authority<S>,
) -> Result<()> {
    for id in authority.ca_ids() {
        let pem = to_pem("CERTIFICATE", authority.ca_certificate(id)?)?;
        write_atomic(&dir.ca_pem(id), pem.as_bytes())?;
    }
    Ok(())
}

fn to_pem(label: &'static str, der: &[u8]) -> Result<String> {
    Ok(x509_cert::der::pem::encode_string(
        label,
        LineEnding::LF,
        der,
    )?)
}

pub fn issue(dir: &DataDir, args: IssueArgs) -> Result<()> {
    // The registration is checked before the CSR is read, as it always was.
    registration(
        &args.profile,
        &args.subject,
        &args.hc_role,
        &args.san,
        args.days,
    )?;
    let csr = read_input(&args.csr)?;
    let request = Request::Issue {
        profile: args.profile,
        subject: args.subject,
        hc_role: args.hc_role,
        san: args.san,
        days: args.days,
        csr: B64.encode(csr),
    };
    let Reply::Issued { serial, pem } = execute(dir, request)? else {
        return Err(unexpected());
    };
    match args.out {
        Some(path) => {
            write_atomic(&path, pem.as_bytes())?;
            println!("{serial}");
        }
        None => print!("{pem}"),
    }
    eprintln!("issued serial {serial}");
    Ok(())
}

pub fn revoke(dir: &DataDir, args: RevokeArgs) -> Result<()> {
    printed(
        dir,
        Request::Revoke {
            serial: args.serial,
            reason: args.reason,
            invalidity_date: args.invalidity_date,
        },
    )
}

pub fn release(dir: &DataDir, args: ReleaseArgs) -> Result<()> {
    printed(
        dir,
        Request::Release {
            serial: args.serial,
        },
    )
}

pub fn crl(dir: &DataDir, args: CrlArgs) -> Result<()> {
    let Reply::Crl { der } = execute(dir, Request::Crl { ca: args.ca })? else {
        return Err(unexpected());
    };
    let der = B64.decode(der).map_err(|_| unexpected())?;
    match args.out {
        Some(path) => write_atomic(&path, &der)?,
        None => print!("{}", to_pem("X509 CRL", &der)?),
    }
    Ok(())
}

/// Who the audit records name for an admin command run in this process.
pub const ACTOR_CLI: &str = "cli";
/// ... and for one a running `serve` ran for a command over its admin socket.
pub const ACTOR_SOCKET: &str = "cli (admin socket)";

/// One admin operation as the command line parsed it (files already read): run in this process
/// on the opened store, or by a running `serve` over its admin socket (`crate::adminsock`), by
/// the same [`Request::run`] either way.
#[derive(Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    Issue {
        profile: String,
        subject: String,
        hc_role: Vec<String>,
        san: Vec<String>,
        days: Option<u32>,
        /// The PKCS#10 request (PEM or DER), base64.
        csr: String,
    },
    Revoke {
        serial: String,
        reason: String,
        invalidity_date: Option<String>,
    },
    Release {
        serial: String,
    },
    Crl {
        ca: String,
    },
    TokenCreate {
        scope: Option<String>,
        practitioner: Option<String>,
        days: u32,
    },
    TokenList,
    TokenRevoke {
        id: String,
    },
    AuditVerify {
        /// The checkpoint file's bytes, base64.
        checkpoint: Option<String>,
    },
    AuditCheckpoint,
    AuditList,
    KeysList,
}

/// What an operation produced, for the command to print or write where it always did.
#[derive(Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    Issued {
        serial: String,
        pem: String,
    },
    /// Standard output, printed as is.
    Printed {
        stdout: String,
    },
    /// DER, base64.
    Crl {
        der: String,
    },
    Checkpoint {
        seq: u64,
        json: String,
    },
}

fn unexpected() -> anyhow::Error {
    anyhow::anyhow!("the admin socket answered with a reply of the wrong kind")
}

/// Runs `request` on this process's opening of the store; when a running `serve` holds it, sends
/// the request to that server's admin socket instead.
fn execute(dir: &DataDir, request: Request) -> Result<Reply> {
    match dir.open_authority() {
        Ok(authority) => request.run(&authority, now()?, ACTOR_CLI),
        Err(DataDirError::InUse(root)) => crate::adminsock::send(dir, &request)
            .ok_or(DataDirError::InUse(root))?
            .map_err(anyhow::Error::msg),
        Err(e) => Err(e.into()),
    }
}

/// [`execute`] for the commands whose whole output is standard output.
fn printed(dir: &DataDir, request: Request) -> Result<()> {
    let Reply::Printed { stdout } = execute(dir, request)? else {
        return Err(unexpected());
    };
    print!("{stdout}");
    Ok(())
}

fn registration(
    profile: &str,
    subject: &str,
    hc_role: &[String],
    san: &[String],
    days: Option<u32>,
) -> Result<Registration> {
    Ok(Registration {
        profile: profile.to_owned(),
        subject: ca_core::name::parse_subject(subject)?,
        sans: san
            .iter()
            .map(|s| ca_core::name::parse_san(s))
            .collect::<Result<_, _>>()?,
        hc_roles: hc_role
            .iter()
            .map(|r| {
                r.parse::<HcRole>()
                    .with_context(|| format!("--hc-role {r:?}"))
            })
            .collect::<Result<_>>()?,
        validity_days: days,
    })
}

fn parse_serial(serial: &str) -> Result<Vec<u8>> {
    hex::decode(serial.trim_start_matches("0x"))
        .with_context(|| format!("--serial {serial:?} is not hex"))
}

impl Request {
    /// Parses what is left to parse and runs the ca-core operation on `authority` (the trust
    /// decisions are its own), recording `actor` in the audit log.
    pub fn run(self, authority: &Authority<ServiceStore>, now: u64, actor: &str) -> Result<Reply> {
        use std::fmt::Write;
        let mut stdout = String::new();
        match self {
            Request::Issue {
                profile,
                subject,
                hc_role,
                san,
                days,
                csr,
            } => {
                let registration = registration(&profile, &subject, &hc_role, &san, days)?;
                let csr = B64.decode(csr).context("the CSR is not base64")?;
                let issued = authority.issue(&registration, &csr, now, actor)?;
                return Ok(Reply::Issued {
                    serial: hex::encode(&issued.serial),
                    pem: to_pem("CERTIFICATE", &issued.certificate)?,
                });
            }
            Request::Revoke {
                serial,
                reason,
                invalidity_date,
            } => {
                let serial = parse_serial(&serial)?;
                let reason = RevocationReason::from_str(&reason)?;
                let invalidity = invalidity_date
                    .as_deref()
                    .map(|t| {
                        ca_core::time::parse_rfc3339(t)
                            .with_context(|| format!("--invalidity-date {t:?}"))
                    })
                    .transpose()?;
                let record = authority.revoke(&serial, reason, invalidity, now, actor)?;
                let done = match reason {
                    RevocationReason::CertificateHold => "held",
                    _ => "revoked",
                };
                writeln!(
                    stdout,
                    "{done} {} ({})",
                    hex::encode(&record.serial),
                    record.subject
                )?;
            }
            Request::Release { serial } => {
                let record = authority.release(&parse_serial(&serial)?, now, actor)?;
                writeln!(
                    stdout,
                    "released {} ({})",
                    hex::encode(&record.serial),
                    record.subject
                )?;
            }
            Request::Crl { ca } => {
                let der = authority.crl(&ca, now, actor)?;
                return Ok(Reply::Crl {
                    der: B64.encode(der),
                });
            }
            Request::TokenCreate {
                scope,
                practitioner,
                days,
            } => {
                let scope = token_scope(scope.as_deref(), practitioner, days)?;
                let token = authority.create_token(scope, u64::from(days) * 86_400, now, actor)?;
                writeln!(stdout, "{}", token.expose())?;
            }
            Request::KeysList => keys_list(authority, &mut stdout)?,
            Request::TokenList => {
                for t in authority.tokens()? {
                    stdout.push_str(&serde_json::to_string(
                        &crate::http::credentials::TokenInfo::from(t),
                    )?);
                    stdout.push('\n');
                }
            }
            Request::TokenRevoke { id } => {
                authority.revoke_token(&id, now, actor)?;
                writeln!(stdout, "revoked token {id}")?;
            }
            Request::AuditVerify { checkpoint } => {
                let checkpoint = checkpoint
                    .map(|b64| {
                        let bytes = B64.decode(b64).context("the checkpoint is not base64")?;
                        ca_core::audit::Checkpoint::from_json(&bytes).map_err(anyhow::Error::from)
                    })
                    .transpose()?;
                let report = authority.verify_audit(checkpoint.as_ref())?;
                writeln!(
                    stdout,
                    "audit log OK: {} records, chain intact, authenticated by audit key {} from record {}",
                    report.records,
                    authority.audit_key_id(),
                    report.authenticated_from
                )?;
                if report.authenticated_from > 1 {
                    writeln!(
                        stdout,
                        "  records 1 to {} predate the audit key: chained, not authenticated",
                        report.authenticated_from - 1
                    )?;
                }
                if let Some(seq) = report.checkpoint {
                    writeln!(stdout, "  the log extends the checkpoint at record {seq}")?;
                }
            }
            Request::AuditCheckpoint => {
                let checkpoint = authority.audit_checkpoint(now)?;
                return Ok(Reply::Checkpoint {
                    seq: checkpoint.seq,
                    json: checkpoint.to_json(),
                });
            }
            Request::AuditList => {
                use ca_core::store::Store;
                for record in authority.store().audit_log()? {
                    stdout.push_str(&serde_json::to_string(&record)?);
                    stdout.push('\n');
                }
            }
        }
        Ok(Reply::Printed { stdout })
    }
}

fn token_scope(scope: Option<&str>, practitioner: Option<String>, days: u32) -> Result<TokenScope> {
    let scope = match (scope, practitioner) {
        (Some("ra"), None) => TokenScope::Ra,
        (Some("signer"), Some(practitioner)) => TokenScope::Signer { practitioner },
        _ => bail!("--scope ra, or --scope signer --practitioner ID"),
    };
    if !(1..=3650).contains(&days) {
        bail!("--days must be 1 to 3650");
    }
    Ok(scope)
}

pub fn profiles(dir: &DataDir) -> Result<()> {
    let set = dir.profiles()?;
    for p in set.profiles() {
        let issuer = match p.issuer() {
            IssuerRef::SelfSigned => "self".to_owned(),
            IssuerRef::Ca(id) => id.clone(),
        };
        println!(
            "{:<22} issuer={:<5} max={:>5}d  {}",
            p.id(),
            issuer,
            p.max_validity_days(),
            p.title()
        );
    }
    Ok(())
}

#[derive(Args)]
pub struct AuditVerifyArgs {
    /// A checkpoint from `audit checkpoint`: also prove that the log still holds its record
    /// unchanged (neither rewritten nor truncated below it).
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<PathBuf>,
}

#[derive(Args)]
pub struct AuditCheckpointArgs {
    /// Write the checkpoint (JSON) here instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Verifies the audit log with the audit key (so it needs the master secret, as every command
/// that opens the CA does): chain, head and every record's MAC, and a checkpoint when given.
pub fn audit_verify(dir: &DataDir, args: AuditVerifyArgs) -> Result<()> {
    let checkpoint = args
        .checkpoint
        .as_deref()
        .map(|path| {
            let bytes = read_input(path)?;
            ca_core::audit::Checkpoint::from_json(&bytes)
                .with_context(|| format!("--checkpoint {}", path.display()))?;
            Ok::<_, anyhow::Error>(B64.encode(bytes))
        })
        .transpose()?;
    printed(dir, Request::AuditVerify { checkpoint })
}

/// Exports a signed checkpoint of the audit log's head for an auditor to keep.
pub fn audit_checkpoint(dir: &DataDir, args: AuditCheckpointArgs) -> Result<()> {
    let Reply::Checkpoint { seq, json } = execute(dir, Request::AuditCheckpoint)? else {
        return Err(unexpected());
    };
    match args.out {
        Some(path) => {
            write_atomic(&path, json.as_bytes())?;
            eprintln!(
                "checkpoint of audit record {seq} written to {}",
                path.display()
            );
        }
        None => print!("{json}"),
    }
    Ok(())
}

/// The audit log as JSON Lines on standard output, for auditors and tests that check what was
/// recorded (the serialized `AuditRecord`: seq, event, prev_hash, hash). It needs only the store
/// (no master secret); beside a running `serve`, that server's admin socket.
pub fn audit_list(dir: &DataDir) -> Result<()> {
    use ca_core::store::Store;
    use std::io::Write;
    if !dir.is_initialised()? {
        bail!(
            "{} holds no CA: run `signer-api init` first",
            dir.root().display()
        );
    }
    let store = match dir.open_store() {
        Ok(store) => store,
        Err(DataDirError::InUse(_)) => return printed(dir, Request::AuditList),
        Err(e) => return Err(e.into()),
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for record in store.audit_log()? {
        serde_json::to_writer(&mut out, &record)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct TokenArgs {
    #[command(subcommand)]
    command: Option<TokenCommand>,
    /// ra (registration authority) or signer (bound to one practitioner).
    #[arg(long)]
    scope: Option<String>,
    /// For signer tokens: the practitioner identity (their certificates' subject serialNumber).
    #[arg(long)]
    practitioner: Option<String>,
    /// Lifetime in days.
    #[arg(long, default_value_t = 30)]
    days: u32,
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Print every token (id, scope, times, revoked; never a secret), one JSON object per line.
    List,
    /// Revoke a token by its public id (the part after `hpki_`): refused from its next request.
    Revoke { id: String },
}

/// Without a subcommand: creates an API token and prints it once; only its hash is stored.
pub fn token(dir: &DataDir, args: TokenArgs) -> Result<()> {
    let request = match args.command {
        Some(TokenCommand::List) => Request::TokenList,
        Some(TokenCommand::Revoke { id }) => Request::TokenRevoke { id },
        None => {
            token_scope(args.scope.as_deref(), args.practitioner.clone(), args.days)?;
            Request::TokenCreate {
                scope: args.scope,
                practitioner: args.practitioner,
                days: args.days,
            }
        }
    };
    printed(dir, request)
}

/// `signer-api keys list`: each key of the installation, its backend and location; no secret.
pub fn keys(dir: &DataDir) -> Result<()> {
    printed(dir, Request::KeysList)
}

fn keys_list(authority: &Authority<ServiceStore>, out: &mut String) -> Result<()> {
    use ca_core::authority::{KeyBackend, KeyLocation};
    use std::fmt::Write;
    for key in authority.key_inventory() {
        match &key.location {
            KeyLocation::Sealed => writeln!(
                out,
                "{}\t{}\tsoftware\tsealed in the store",
                key.role,
                key.algorithm.name()
            )?,
            KeyLocation::Pkcs11(r) => writeln!(
                out,
                "{}\t{}\tpkcs11\tmodule={} token={:?} label={:?} id={}",
                key.role,
                key.algorithm.name(),
                r.module.display(),
                r.token,
                r.label,
                r.id
            )?,
        }
    }
    let credentials = match authority.key_backend() {
        KeyBackend::Pkcs11 {
            token,
            credentials: true,
        } => format!("generated in PKCS#11 token {:?}", token.label()),
        KeyBackend::Pkcs11 { .. } | KeyBackend::Software => "sealed in the store".to_owned(),
    };
    writeln!(out, "credentials\t-\t-\tnew credential keys: {credentials}")?;
    Ok(())
}
