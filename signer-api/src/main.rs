//! `signer-api`: the hpki signing service and its admin commands.
#![forbid(unsafe_code)]

mod admin;
mod adminsock;
mod augment;
mod serve;
mod storecopy;

// From the library target (src/lib.rs), so `crate::http` and `crate::config` keep working.
use signer_api::{config, datadir, http};

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
    /// Data directory (store, sealed CA keys, CA certificates) [default: ./hpki-data].
    #[arg(long, global = true, env = "HPKI_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Load certificate profiles from this directory instead of the built-in `policies/`.
    #[arg(long, global = true, env = "HPKI_POLICIES")]
    policies: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the signing service (first start: a demo CA, credential and tokens).
    Serve(serve::ServeArgs),
    /// Create the CA hierarchy (root, signature CA, authentication CA) in the data directory.
    Init(admin::InitArgs),
    /// Issue an end-entity certificate from a registration and a PKCS#10 CSR; prints PEM.
    Issue(admin::IssueArgs),
    /// Revoke a certificate.
    Revoke(admin::RevokeArgs),
    /// Release a certificate on hold (certificateHold): the next CRL omits it.
    Release(admin::ReleaseArgs),
    /// Sign the next CRL of a CA.
    Crl(admin::CrlArgs),
    /// Raise a CAdES signature (this installation's or anyone's) to B-LT or B-LTA, or renew its
    /// B-LTA with one more archive time-stamp; writes the signature (DER).
    Augment(augment::AugmentArgs),
    /// List the certificate profiles.
    Profiles,
    /// Create an API token (printed once), or list or revoke tokens.
    Token(admin::TokenArgs),
    /// Audit log commands.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Store commands.
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// Key commands.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Print each key (CAs, TSA, OCSP responders; where new credential keys go) with its backend
    /// and location (module, token, label, id): never key material.
    List,
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Copy every record (CAs, certificates and revocations, CRL numbers, settings and sealed
    /// keys, credentials, tokens, the audit log unchanged) into an empty store of either backend,
    /// all or nothing, checking the audit chain and its MACs on the way and on arrival.
    Copy(storecopy::CopyArgs),
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the audit log: hash chain, head and the audit key's MAC of every record; with
    /// --checkpoint, also that the log extends a checkpoint.
    Verify(admin::AuditVerifyArgs),
    /// Export a signed checkpoint of the audit log's head (JSON) for an auditor to keep.
    Checkpoint(admin::AuditCheckpointArgs),
    /// Print every audit record, oldest first, one JSON object per line (JSON Lines).
    List,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let data_dir = cli
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("./hpki-data"));
    let dir = datadir::DataDir::new(&data_dir, cli.policies.as_deref());
    // The admin subcommands find the store through HPKI_STORE, as `serve` does (which also reads
    // its config file's `store`).
    let dir = match std::env::var("HPKI_STORE")
        .ok()
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<config::StoreLocation>())
        .transpose()
    {
        Ok(store) => dir.with_store(store.unwrap_or_default()),
        Err(e) => {
            eprintln!("error: HPKI_STORE: {e}");
            return ExitCode::from(2);
        }
    };
    // The key backend of the admin commands comes from the environment (`[keys]`'s variables,
    // README "CA keys in an HSM"), as the store's does; `serve` also reads its config file.
    let dir = match config::Keys::default().apply_env(|k| std::env::var(k).ok()) {
        Ok(keys) => dir.with_keys(keys),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Serve(args) => {
            serve::serve(cli.data_dir.as_deref(), cli.policies.as_deref(), args)
        }
        Command::Init(args) => admin::init(&dir, args),
        Command::Issue(args) => admin::issue(&dir, args),
        Command::Revoke(args) => admin::revoke(&dir, args),
        Command::Release(args) => admin::release(&dir, args),
        Command::Crl(args) => admin::crl(&dir, args),
        Command::Augment(args) => augment::augment(&dir, args),
        Command::Profiles => admin::profiles(&dir),
        Command::Token(args) => admin::token(&dir, args),
        Command::Audit {
            command: AuditCommand::Verify(args),
        } => admin::audit_verify(&dir, args),
        Command::Audit {
            command: AuditCommand::Checkpoint(args),
        } => admin::audit_checkpoint(&dir, args),
        Command::Audit {
            command: AuditCommand::List,
        } => admin::audit_list(&dir),
        Command::Store {
            command: StoreCommand::Copy(args),
        } => storecopy::copy_store(&dir, args),
        Command::Keys {
            command: KeysCommand::List,
        } => admin::keys(&dir),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
