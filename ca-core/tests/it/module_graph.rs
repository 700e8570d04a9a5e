//! ca-core's top-level modules import each other without a cycle (issue 12): each reads as one
//! concept on top of the ones below it. A module's own children (`authority/credential.rs`)
//! belong to it. Code names other modules through the private `crate::engine` (lib.rs), never
//! through the public front door.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Top-level module → the top-level modules its code names through `crate::engine::`.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&src).expect("under src");
        let first = rel.components().next().expect("component");
        let module = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if module == "lib" {
            continue;
        }
        let text: String = std::fs::read_to_string(&file)
            .expect("source")
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let deps = graph.entry(module.clone()).or_default();
        for name in engine_modules(&text) {
            if name != module {
                deps.insert(name);
            }
        }
    }
    graph
}

/// The top-level modules `text` names through `crate::engine::`, including each item of a
/// grouped import (`use crate::engine::{hcrole, oid::X};`).
fn engine_modules(text: &str) -> Vec<String> {
    const PREFIX: &str = "crate::engine::";
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = Vec::new();
    for (i, _) in text.match_indices(PREFIX) {
        let rest = &text[i + PREFIX.len()..];
        let Some(group) = rest.strip_prefix('{') else {
            out.push(ident(rest));
            continue;
        };
        // Items at depth 0 of the group, up to its closing brace.
        let (mut depth, mut start) = (0usize, 0usize);
        for (j, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    out.push(ident(&group[start..j]));
                    break;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    out.push(ident(&group[start..j]));
                    start = j + 1;
                }
                _ => {}
            }
        }
    }
    out.retain(|name| !name.is_empty());
    out
}

/// A cycle of `graph`, if it has one (depth-first search).
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if !done.insert(node.to_owned()) {
            return None;
        }
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn top_level_modules_import_each_other_without_a_cycle() {
    let graph = graph();
    // The graph is real: the façade sits on the store and the store on the audit records.
    assert!(graph["authority"].contains("store"), "{graph:?}");
    assert!(graph["store"].contains("audit"), "{graph:?}");
    assert_eq!(cycle(&graph), None, "{graph:#?}");
}

#[test]
fn grouped_imports_count() {
    assert_eq!(
        engine_modules("use crate::engine::{hcrole, oid::{A, B},\n    store::X};"),
        ["hcrole", "oid", "store"]
    );
    assert!(graph()["profile"].contains("hcrole"));
}

#[test]
fn a_cycle_is_found_when_there_is_one() {
    let mut graph = graph();
    graph.get_mut("audit").unwrap().insert("store".into());
    let found = cycle(&graph).expect("audit -> store -> audit");
    assert!(found.contains(&"audit".to_owned()) && found.contains(&"store".to_owned()));
}
