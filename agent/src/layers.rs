//! The layering test: each top-level module of the agent may use only modules of a lower
//! layer (ARCHITECTURE.md, "Agent layout"), which also rules out any import cycle among them.

/// Layers from the bottom up; a module may use the modules of lower layers only (not its
/// siblings on the same layer: the mechanisms stay independent of each other).
const LAYERS: &[&[&str]] = &[
    &["util", "secret", "watch", "schedule", "http_client"],
    &["logs", "storage", "store", "spawn_record", "health", "auth"],
    // Containment: cgroups, the subreaper, accounts; bot files handed over through storage.
    &["contain"],
    // The kinds of event, with how each alerts; notify turns them into alerts. The API's
    // tokens, kept as hashes in the store.
    &["events", "tokens"],
    &["notify"],
    &["context"],
    &["bot"],
    &["fleet"],
    &["loops"],
    &["ops"],
    &["remote"],
    &["server"],
    &["boot"],
    // lib.rs: the module list and run().
    &["lib", "layers"],
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The top-level modules a source text uses through `crate::` paths (comments skipped).
fn uses(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // `crate::{a, b::c}` on one line.
                let inner = group.split('}').next().unwrap_or("");
                for part in inner.split(',') {
                    let name: String = part
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        out.push(name);
                    }
                }
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                out.push(name);
            }
        }
    }
    out
}

fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_module_uses_a_higher_layer() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let mut wrong = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&root).unwrap();
        if rel == std::path::Path::new("layers.rs") {
            continue;
        }
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        let Some(own) = layer(&top) else {
            wrong.push(format!("{}: module {top} has no layer", rel.display()));
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for used in uses(&text) {
            match layer(&used) {
                _ if used == top => {}
                Some(l) if l < own => {}
                Some(_) => wrong.push(format!("{}: {top} uses crate::{used}", rel.display())),
                None => wrong.push(format!(
                    "{}: crate::{used} is not a module with a layer",
                    rel.display()
                )),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layer order:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_parser_finds_grouped_and_plain_uses() {
    let text = "use crate::{bot, fleet::Fleet};\nlet x = crate::util::log_line; // crate::ops\n";
    assert_eq!(uses(text), ["bot", "fleet", "util"]);
}
