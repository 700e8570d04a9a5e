//! `verify-batch`: many signatures verified by a pool of worker threads sharing one verifier.

use crate::args::Common;
use crate::input::{read_limited, verify_file};
use anyhow::{Context, Result, bail};
use ca_core::verify::{Report, Verifier};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Most documents in one batch.
const MAX_BATCH: usize = 1_000_000;

/// One document's result: its index in the batch, its name, the report or why it was not read.
pub type BatchItem = (usize, String, Result<Report, String>);

/// What a batch did, in the order of its documents.
pub struct Batch {
    pub total: usize,
    pub workers: usize,
    /// How many documents each worker verified: the summary shows the work was shared.
    pub shares: Vec<usize>,
    pub results: Vec<BatchItem>,
    pub validation_time: u64,
}

impl Batch {
    /// Valid, not valid, could not be read.
    pub fn counts(&self) -> (usize, usize, usize) {
        let (mut valid, mut invalid, mut errors) = (0, 0, 0);
        for (_, _, r) in &self.results {
            match r {
                Ok(rep) if rep.is_valid() => valid += 1,
                Ok(_) => invalid += 1,
                Err(_) => errors += 1,
            }
        }
        (valid, invalid, errors)
    }
}

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

/// The documents of `--manifest` (lines of `CMS_FILE [CONTENT_FILE]`, relative to its folder) or
/// of `--dir`, each with its detached content if any.
fn jobs(manifest: Option<&Path>, dir: Option<&Path>) -> Result<Vec<(PathBuf, Option<PathBuf>)>> {
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
    Ok(jobs)
}

/// Verifies every document of the batch on `threads` workers (default: one per core).
pub fn run(
    manifest: Option<&Path>,
    dir: Option<&Path>,
    threads: Option<u16>,
    common: &Common,
) -> Result<Batch> {
    // One verifier for every worker: each signer's path is validated once for the whole batch.
    let verifier = Verifier::new(common.policy()?);
    let jobs = jobs(manifest, dir)?;
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
    let shares: Vec<usize> = per_worker.iter().map(Vec::len).collect();
    let mut results: Vec<_> = per_worker.into_iter().flatten().collect();
    results.sort_by_key(|r| r.0);
    Ok(Batch {
        total,
        workers,
        shares,
        results,
        validation_time: verifier.policy().validation_time,
    })
}
