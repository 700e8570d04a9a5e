//! Embeds `policies/*.toml` and `policies/roles/*.toml` (DESIGN.md §5 invariant 4: profiles are data)
//! so `ProfileSet::embedded()` always matches the directory, with no hand-kept list.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let policies = manifest.join("..").join("policies");
    let roles = policies.join("roles");
    // A directory path makes cargo rescan every file under it.
    println!("cargo:rerun-if-changed={}", policies.display());

    let mut out = String::from("pub(super) const FILES: &[(&str, &str)] = &[\n");
    for (dir, prefix) in [(&policies, ""), (&roles, "roles/")] {
        for path in toml_files(dir) {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .expect("UTF-8 file name");
            let abs = path.canonicalize().expect("policy file path");
            writeln!(
                out,
                "    ({:?}, include_str!({:?})),",
                format!("{prefix}{name}"),
                abs
            )
            .expect("write to String");
        }
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it"));
    std::fs::write(dest.join("embedded_policies.rs"), out).expect("write embedded_policies.rs");
}
