//! Every case of `test-vectors/cms/manifest.toml` (issue 4 test vectors) through the real
//! `verifier-cli verify --format json`: its exit status, indication and sub-indication are the
//! manifest's. The vectors and the manifest come from `ca-core/tests/it/cms_vectors.rs`.

use serde::Deserialize;
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_verifier-cli");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    case: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[allow(dead_code)] // for the reader of the manifest
    description: String,
    cms: String,
    content: Option<String>,
    trust_anchors: Vec<String>,
    cert_pool: Vec<String>,
    crls: Vec<String>,
    at: String,
    args: Vec<String>,
    exit: i32,
    indication: String,
    sub_indication: Option<String>,
}

impl Case {
    fn command_line(&self) -> Vec<String> {
        let mut args: Vec<String> = vec!["verify".into(), "--cms".into(), self.cms.clone()];
        if let Some(content) = &self.content {
            args.extend(["--content".into(), content.clone()]);
        }
        for (flag, files) in [
            ("--trust-anchor", &self.trust_anchors),
            ("--cert-pool", &self.cert_pool),
            ("--crl", &self.crls),
        ] {
            for f in files {
                args.extend([flag.into(), f.clone()]);
            }
        }
        args.extend(["--at".into(), self.at.clone()]);
        args.extend(self.args.iter().cloned());
        args.extend(["--format".into(), "json".into()]);
        args
    }
}

#[test]
fn every_manifest_case_gives_its_exit_status_and_sub_indication() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-vectors/cms");
    let manifest: Manifest =
        toml::from_str(&std::fs::read_to_string(dir.join("manifest.toml")).unwrap()).unwrap();
    assert!(manifest.case.len() >= 30, "the manifest lost cases");
    let mut wrong = Vec::new();
    for case in &manifest.case {
        let args = case.command_line();
        let out = Command::new(BIN)
            .current_dir(&dir)
            .args(&args)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let report: Option<serde_json::Value> = serde_json::from_str(&stdout).ok();
        let got = (
            out.status.code(),
            report.as_ref().and_then(|r| r["indication"].as_str()),
            report.as_ref().and_then(|r| r["sub_indication"].as_str()),
        );
        let want = (
            Some(case.exit),
            Some(case.indication.as_str()),
            case.sub_indication.as_deref(),
        );
        if got != want {
            wrong.push(format!(
                "{}: got {got:?}, want {want:?}\n  verifier-cli {}\n  {}{}",
                case.name,
                args.join(" "),
                stdout.trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
