//! `signer-api`: the hpki signing service and its admin commands.
#![forbid(unsafe_code)]

mod admin;
mod datadir;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "signer-api",
    version,
    about = "hpki: ISO 17090 healthcare PKI and document signing"
)]
struct Cli {
    /// Data directory (store, sealed CA keys, CA certificates).
    #[arg(
        long,
        global = true,
        default_value = "./hpki-data",
        env = "HPKI_DATA_DIR"
    )]
    data_dir: PathBuf,
    /// Load certificate profiles from this directory instead of the built-in `policies/`.
    #[arg(long, global = true, env = "HPKI_POLICIES")]
    policies: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the CA hierarchy (root, signature CA, authentication CA) in the data directory.
    Init(admin::InitArgs),
    /// Issue an end-entity certificate from a registration and a PKCS#10 CSR; prints PEM.
    Issue(admin::IssueArgs),
    /// Revoke a certificate.
    Revoke(admin::RevokeArgs),
    /// Sign the next CRL of a CA.
    Crl(admin::CrlArgs),
    /// List the certificate profiles.
    Profiles,
    /// Audit log commands.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the hash chain of the audit log.
    Verify,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let dir = datadir::DataDir::new(&cli.data_dir, cli.policies.as_deref());
    let result = match cli.command {
        Command::Init(args) => admin::init(&dir, args),
        Command::Issue(args) => admin::issue(&dir, args),
        Command::Revoke(args) => admin::revoke(&dir, args),
        Command::Crl(args) => admin::crl(&dir, args),
        Command::Profiles => admin::profiles(&dir),
        Command::Audit {
            command: AuditCommand::Verify,
        } => admin::audit_verify(&dir),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
