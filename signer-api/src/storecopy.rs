//! `signer-api store copy`: moves an installation's store to another backend (sled ⇄
//! PostgreSQL, or to a new sled directory). The copying and every check are ca-core's
//! (`ca_core::store::copy`); this opens the two stores, finds the master secret, and reports.

use crate::config::StoreLocation;
use crate::datadir::DataDir;
use anyhow::{Context, Result, bail};
use ca_core::authority::stored_audit_mac;
use ca_core::store::{CopyReport, PgStore, SledStore, Store, StoreError, copy, copy_to_new_sled};
use clap::Args;
use std::path::Path;

#[derive(Args)]
pub struct CopyArgs {
    /// The store to copy: sled:DIR (the sled directory itself, e.g. hpki-data/store; no
    /// `serve` may hold it) or postgres://… (read in one snapshot).
    #[arg(long, value_name = "STORE")]
    from: String,
    /// Where to copy it: sled:DIR (DIR must not exist, or be empty) or postgres://… (a database
    /// holding no hpki records; its schema is created if missing).
    #[arg(long, value_name = "STORE")]
    to: String,
}

/// How a location is shown: never a database URL, which may hold a password.
fn shown(location: &StoreLocation) -> String {
    match location {
        StoreLocation::Sled(dir) => format!("sled:{}", dir.display()),
        StoreLocation::Postgres(_) => "the PostgreSQL database".into(),
        StoreLocation::DataDir => "the data directory's store".into(),
    }
}

fn open_source(location: &StoreLocation) -> Result<Box<dyn Store>> {
    match location {
        StoreLocation::Sled(dir) => {
            // Opening creates a store where there is none: refuse a mistyped path instead.
            if !dir.join("db").is_file() {
                bail!("--from: {} holds no sled store", dir.display());
            }
            match SledStore::open(dir) {
                Ok(store) => Ok(Box::new(store)),
                Err(StoreError::InUse) => bail!(
                    "--from: the sled store {} is in use by a running signer-api: stop `serve` \
                     first, then copy (a copy reads the whole store at one moment, so it needs \
                     the store to itself; the admin socket does not serve copies)",
                    dir.display()
                ),
                Err(e) => Err(e).with_context(|| format!("--from: opening {}", dir.display())),
            }
        }
        StoreLocation::Postgres(url) => Ok(Box::new(
            PgStore::open(url).context("--from: opening the PostgreSQL store")?,
        )),
        StoreLocation::DataDir => bail!("--from: expected sled:DIR or postgres://…"),
    }
}

pub fn copy_store(dir: &DataDir, args: CopyArgs) -> Result<()> {
    let from: StoreLocation = args.from.parse().context("--from")?;
    let to: StoreLocation = args.to.parse().context("--to")?;
    let source = open_source(&from)?;
    // The audit records' MACs are checked on the way, as `audit verify` does: that needs the
    // master secret the source's keys are sealed under.
    let sealer = dir.sealer(source.as_ref()).with_context(|| {
        format!(
            "the copy checks the audit log with the installation's master secret ({} or \
             HPKI_PASSPHRASE)",
            dir.root().join("master.key").display()
        )
    })?;
    let mac =
        stored_audit_mac(source.as_ref(), &sealer).context("unsealing the source's audit key")?;
    let report = match &to {
        StoreLocation::Sled(target) => copy_to_new_sled(source.as_ref(), target, mac.as_ref())?,
        StoreLocation::Postgres(url) => {
            let target = PgStore::open(url).context("--to: opening the PostgreSQL store")?;
            copy(source.as_ref(), &target, mac.as_ref())?
        }
        StoreLocation::DataDir => bail!("--to: expected sled:DIR or postgres://…"),
    };
    print!("{}", render(&from, &to, &report));
    Ok(())
}

fn render(from: &StoreLocation, to: &StoreLocation, report: &CopyReport) -> String {
    let s = &report.summary;
    let mut out = format!(
        "copied {} to {}: {} CAs, {} settings, {} certificates ({} in the revocation index), \
         {} CRL numbers, {} credentials, {} tokens, {} audit records\n",
        shown(from),
        shown(to),
        s.authorities,
        s.settings,
        s.certificates,
        s.revoked,
        s.crl_numbers,
        s.credentials,
        s.tokens,
        s.audit_records
    );
    match &s.audit_head {
        Some((seq, hash)) => out.push_str(&format!(
            "audit log verified on both sides: chain intact, the copy's head is the source's \
             (record {seq}, hash {hash})"
        )),
        None => out.push_str("audit log: empty"),
    }
    match report.authenticated_from {
        Some(first) => out.push_str(&format!(", MACs checked from record {first}\n")),
        None => out.push_str(", no audit key in the store (MACs not checked)\n"),
    }
    let hint = match to {
        StoreLocation::Sled(dir) => format!("store = \"sled:{}\"", Path::new(dir).display()),
        _ => "store = \"postgres://…\"".into(),
    };
    out.push_str(&format!(
        "the source is unchanged; to serve from the copy, set {hint} (or HPKI_STORE) and keep \
         the data directory (master key, CA certificates)\n"
    ));
    out
}
