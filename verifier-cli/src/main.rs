//! `verifier-cli`: offline verification of CMS/CAdES signatures and certificates (issue 4).
//! The only place verdicts become exit codes: 0 valid, 1 not valid, 2 could not run.
#![forbid(unsafe_code)]

mod args;
mod batch;
mod input;
mod report;

use anyhow::{Result, bail};
use args::{Cli, Command};
use ca_core::verify::{self, Verifier, verify_certificate};
use clap::Parser;
use input::{WithReason, read_limited, verify_file};
use std::process::ExitCode;
use verifier_cli::inspect;

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
            let mut policy = common.policy()?;
            policy.check_chain = !no_chain;
            policy.require_cades = require_cades;
            let report = verify_file(&cms, content.as_deref(), &Verifier::new(policy))?;
            report::print_report(&report, common.format);
            Ok(report.is_valid())
        }
        Command::VerifyPath {
            cert,
            common,
            key_usage,
        } => {
            let mut policy = common.policy()?;
            policy.key_usage = key_usage.map(Into::into);
            let bytes = read_limited(&cert, verify::MAX_CERTIFICATE_FILE_LEN as u64)?;
            let report = match verify::decode_certificates(&bytes) {
                Ok(certs) => verify_certificate(&certs[0], &policy),
                Err(e) => verify_certificate(&[], &policy).with_reason(e.to_string()),
            };
            report::print_report(&report, common.format);
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
        } => {
            let batch = batch::run(manifest.as_deref(), dir.as_deref(), jobs, &common)?;
            report::print_batch(&batch, common.format)?;
            let (_, invalid, errors) = batch.counts();
            if errors > 0 {
                bail!("{errors} documents could not be read");
            }
            Ok(invalid == 0)
        }
    }
}
