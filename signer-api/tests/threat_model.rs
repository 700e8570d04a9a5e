//! docs/threat-model.md names, for each threat, the tests that show its mitigation, as
//! `path/to/file.rs::test_name` between backticks. This test fails when one of them is not a test
//! of that file (renamed, deleted, or a helper rather than a test), when a named script is gone,
//! and when a threat row names no test and does not say why (issue 13).

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("signer-api sits in the workspace root")
        .to_path_buf()
}

/// The spans between backticks.
fn code_spans(doc: &str) -> impl Iterator<Item = &str> {
    doc.split('`').skip(1).step_by(2)
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `file` declares `fn name` under a test attribute (`#[test]`, `#[actix_web::test]`, ...).
fn declares_test(file: &str, name: &str) -> bool {
    let lines: Vec<&str> = file.lines().map(str::trim).collect();
    lines.iter().enumerate().any(|(i, line)| {
        let declared = ["fn ", "async fn ", "pub fn ", "pub async fn "]
            .iter()
            .any(|p| {
                line.strip_prefix(p)
                    .is_some_and(|rest| rest.starts_with(&format!("{name}(")))
            });
        // The attributes right above it (doc comments and other attributes may sit between).
        declared
            && lines[..i]
                .iter()
                .rev()
                .take_while(|l| l.starts_with("#[") || l.starts_with("///") || l.starts_with("//"))
                .any(|l| l.starts_with("#[") && l.contains("test"))
    })
}

/// What is wrong with the document's references, resolved against `root`.
fn problems(doc: &str, root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for span in code_spans(doc) {
        if let Some((file, name)) = span.split_once(".rs::") {
            let path = root.join(format!("{file}.rs"));
            if !is_identifier(name) {
                found.push(format!("`{span}`: {name:?} is not a test name"));
            } else {
                match std::fs::read_to_string(&path) {
                    Ok(text) if declares_test(&text, name) => {}
                    Ok(_) => found.push(format!("`{span}`: no test `fn {name}` in {file}.rs")),
                    Err(e) => found.push(format!("`{span}`: {}: {e}", path.display())),
                }
            }
        } else if span.ends_with(".sh") && !root.join(span).is_file() {
            found.push(format!("`{span}`: no such script"));
        }
    }
    // Every threat row (first cell an id such as N1, V10) names a test or says why it has none.
    for line in doc.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let is_threat = cells.len() > 2
            && cells[1].len() >= 2
            && cells[1].starts_with(|c: char| c.is_ascii_uppercase())
            && cells[1][1..].chars().all(|c| c.is_ascii_digit());
        if is_threat
            && !line.contains(".rs::")
            && !line.contains(".ci/")
            && !line.contains("no runtime test")
        {
            found.push(format!("threat {} names no test: {line}", cells[1]));
        }
    }
    found
}

fn references(doc: &str) -> usize {
    code_spans(doc).filter(|s| s.contains(".rs::")).count()
}

#[test]
fn every_test_the_threat_model_names_exists() {
    let root = repo();
    let doc = std::fs::read_to_string(root.join("docs/threat-model.md")).unwrap();
    let found = problems(&doc, &root);
    assert!(
        found.is_empty(),
        "docs/threat-model.md:\n{}",
        found.join("\n")
    );
    // A document emptied of its tables would pass the loop above.
    let n = references(&doc);
    assert!(n >= 60, "docs/threat-model.md names only {n} tests");
    for boundary in ["TB1", "TB2", "TB3", "TB4", "TB5", "TB6"] {
        assert!(
            doc.contains(&format!("### {boundary}")),
            "no section for {boundary}"
        );
    }
}

#[test]
fn a_missing_renamed_or_helper_test_is_reported() {
    let root = repo();
    let doc = "\
| id | STRIDE | threat | mitigation | tests |
|---|---|---|---|---|
| X1 | S | real | m | `signer-api/tests/threat_model.rs::a_missing_renamed_or_helper_test_is_reported` |
| X2 | S | gone | m | `signer-api/tests/threat_model.rs::no_such_test` |
| X3 | S | helper | m | `signer-api/tests/threat_model.rs::declares_test` |
| X4 | S | file | m | `signer-api/tests/no_such_file.rs::anything` |
| X5 | S | script | m | `.ci/no-such-script.sh` |
| X6 | S | untested | m | none |
";
    let found = problems(doc, &root);
    let named = |needle: &str| found.iter().any(|p| p.contains(needle));
    assert!(named("no test `fn no_such_test`"), "{found:#?}");
    assert!(named("no test `fn declares_test`"), "{found:#?}");
    assert!(named("no_such_file.rs"), "{found:#?}");
    assert!(named("no such script"), "{found:#?}");
    assert!(named("threat X6 names no test"), "{found:#?}");
    assert_eq!(found.len(), 5, "the real test X1 was reported: {found:#?}");
}
