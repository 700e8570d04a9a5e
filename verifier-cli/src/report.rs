//! Rendering: a report as one screen of text or as JSON, and a batch's summary.

use crate::args::Format;
use crate::batch::Batch;
use ca_core::verify::{Check, Outcome, Report, SubIndication, rfc3339};

pub fn print_report(report: &Report, format: Format) {
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
        failed(&mut out, c);
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
            failed(&mut out, c);
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
        long_term(&mut out, s);
        for c in s.checks.iter().filter(|c| c.outcome == Outcome::Warning) {
            let _ = writeln!(out, "  note:    {}: {}", c.name, c.reason);
        }
    }
    let _ = writeln!(out, "  checked at {}", report.validation_time);
    out
}

/// Long-term validation (EN 319 102-1 §5.5, §5.6): the level, the proven time, each time-stamp
/// and where each certificate's revocation status came from. A B-B signature adds only its level.
fn long_term(out: &mut String, s: &ca_core::verify::SignatureReport) {
    use std::fmt::Write;
    if let Some(level) = s.level {
        let _ = writeln!(out, "  level:   {level}");
    }
    if let (Some(t), Some(proof)) = (&s.best_signature_time, &s.best_signature_time_proof) {
        let _ = writeln!(
            out,
            "  existed: {t} (best-signature-time, proven by {proof})"
        );
    }
    for t in &s.timestamps {
        let what = match (t.outcome, &t.proof_of_existence) {
            (Outcome::Passed, None) => "passed".to_string(),
            (Outcome::Passed, Some(proof)) => format!("passed, existed as proven by {proof}"),
            _ => format!(
                "FAILED{}: {}",
                t.sub_indication
                    .map(|x| format!(" ({x})"))
                    .unwrap_or_default(),
                t.reason
            ),
        };
        // `tst` a signature time-stamp, `ats` an archive time-stamp.
        let label = if t.kind == "archive-time-stamp-v3" {
            "ats"
        } else {
            "tst"
        };
        let _ = writeln!(
            out,
            "  {label} #{}:  {what}; genTime {}, TSA {}, policy {}",
            t.number,
            t.gen_time.as_deref().unwrap_or("-"),
            t.tsa.as_deref().unwrap_or("-"),
            t.policy.as_deref().unwrap_or("-")
        );
    }
    for r in &s.revocation_sources {
        let _ = writeln!(
            out,
            "  status:  {}: {} ({}), thisUpdate {}",
            r.subject, r.kind, r.origin, r.this_update
        );
    }
    if let (Some(due), Some(why)) = (&s.renewal_due, &s.renewal_due_reason) {
        let _ = writeln!(
            out,
            "  renew:   by {due}: {why} (add an archive time-stamp before then)"
        );
    }
}

/// A batch: in text, a line per document not valid or not read, then the summary; in JSON, one
/// document with every report.
pub fn print_batch(batch: &Batch, format: Format) -> anyhow::Result<()> {
    let (valid, invalid, errors) = batch.counts();
    let total = batch.total;
    let mut by_sub: std::collections::BTreeMap<String, usize> = Default::default();
    for (_, name, r) in &batch.results {
        match r {
            Ok(rep) if rep.is_valid() => {}
            Ok(rep) => {
                let key = rep
                    .sub_indication
                    .map_or_else(|| rep.indication.to_string(), |s| s.to_string());
                *by_sub.entry(key.clone()).or_default() += 1;
                if format == Format::Text {
                    println!("NOT VALID {name}: {key}");
                }
            }
            Err(e) => {
                if format == Format::Text {
                    println!("ERROR {name}: {e}");
                }
            }
        }
    }
    if format == Format::Json {
        let items: Vec<_> = batch
            .results
            .iter()
            .map(|(_, name, r)| match r {
                Ok(rep) => serde_json::json!({"file": name, "report": rep}),
                Err(e) => serde_json::json!({"file": name, "error": e}),
            })
            .collect();
        let out = serde_json::json!({"total": total, "valid": valid, "not_valid": invalid, "errors": errors,
            "workers": batch.workers, "verified_per_worker": batch.shares, "results": items});
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "{total} documents at {}: {valid} valid, {invalid} not valid, {errors} could not be read",
            rfc3339(batch.validation_time)
        );
        let shares: Vec<String> = batch.shares.iter().map(usize::to_string).collect();
        println!(
            "  {} workers verified {}",
            batch.workers,
            shares.join(" + ")
        );
        for (sub, n) in by_sub {
            println!("  {sub}: {n}");
        }
    }
    Ok(())
}

/// A failed check, and the flag that bears on it where there is one: the engine's reasons name
/// policy settings, the CLI names its flags.
fn failed(out: &mut String, c: &Check) {
    use std::fmt::Write;
    let _ = writeln!(out, "  failed: {}: {}", c.name, c.reason);
    if let Some(hint) = hint(c) {
        let _ = writeln!(out, "  hint:   {hint}");
    }
}

fn hint(c: &Check) -> Option<&'static str> {
    match (c.sub_indication?, c.name) {
        (SubIndication::SignedDataNotFound, _) => Some("give the signed content with --content"),
        // The reason of ca-core's RFC 5937 anchor-constraint refusals (verify/path.rs).
        (SubIndication::ChainConstraintsFailure, "certificate-path")
            if c.reason.contains("RFC 5937 anchor constraints") =>
        {
            Some("--no-anchor-constraints uses each trust anchor as a name and a key only")
        }
        _ => None,
    }
}
