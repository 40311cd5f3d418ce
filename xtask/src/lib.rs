//! Repository tidy checks. They run as ordinary tests (`cargo test -p xtask`), so CI enforces
//! the architecture rules written in ARCHITECTURE.md.

use std::path::{Path, PathBuf};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Architecture layers: a crate may depend only on crates in strictly lower layers.
/// `protocol ← core ← {source, ledger} ← runtime ← {mcp, ui} ← sluicegate`.
/// `audit` reads manifests and configs only, so it sits beside `core` and must never reach a
/// database or the runtime. `test-support` is a leaf used only by tests.
pub const LAYERS: &[(&str, u8)] = &[
    ("sluicegate-protocol", 0),
    ("sluicegate-test-support", 0),
    ("sluicegate-core", 1),
    ("sluicegate-audit", 2),
    ("sluicegate-source", 2),
    ("sluicegate-ledger", 2),
    ("sluicegate-runtime", 3),
    ("sluicegate-mcp", 4),
    ("sluicegate-ui", 4),
    ("sluicegate", 5),
];

pub fn layer(name: &str) -> Option<u8> {
    LAYERS.iter().find(|(n, _)| *n == name).map(|(_, l)| *l)
}

/// `(crate, dependency)` pairs from a manifest's `[dependencies]` section that name our crates.
pub fn internal_deps(manifest: &str) -> Vec<String> {
    let mut in_deps = false;
    let mut out = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if in_deps
            && line.starts_with("sluicegate")
            && let Some(name) = line.split(['.', ' ', '=']).next()
        {
            out.push(name.to_string());
        }
    }
    out
}

/// Every `.rs` file under `dir`, recursively.
pub fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path
                .file_name()
                .is_some_and(|n| n == "target" || n == "node_modules")
            {
                continue;
            }
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crate_dirs() -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("crates"))
            .expect("crates dir")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.join("Cargo.toml").exists())
            .collect();
        dirs.sort();
        dirs
    }

    #[test]
    fn dependencies_point_towards_the_core() {
        let mut violations = Vec::new();
        for dir in crate_dirs() {
            let name = dir.file_name().unwrap().to_string_lossy().to_string();
            let own =
                layer(&name).unwrap_or_else(|| panic!("crate {name} has no layer in xtask LAYERS"));
            let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
            for dep in internal_deps(&manifest) {
                let theirs =
                    layer(&dep).unwrap_or_else(|| panic!("{name} depends on unknown crate {dep}"));
                if theirs >= own && dep != "sluicegate-test-support" {
                    violations.push(format!(
                        "{name} (layer {own}) depends on {dep} (layer {theirs})"
                    ));
                }
                if dep == "sluicegate-test-support" {
                    violations.push(format!(
                        "{name} uses sluicegate-test-support outside [dev-dependencies]"
                    ));
                }
            }
        }
        assert!(
            violations.is_empty(),
            "dependency direction violated:\n{}",
            violations.join("\n")
        );
    }

    #[test]
    fn every_rust_file_starts_with_a_module_doc() {
        let mut missing = Vec::new();
        for dir in [root().join("crates"), root().join("xtask")] {
            for file in rust_files(&dir) {
                let text = std::fs::read_to_string(&file).unwrap();
                let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                if !first.starts_with("//!") {
                    missing.push(
                        file.strip_prefix(root())
                            .unwrap_or(&file)
                            .display()
                            .to_string(),
                    );
                }
            }
        }
        assert!(
            missing.is_empty(),
            "files without a leading //! doc line:\n{}",
            missing.join("\n")
        );
    }

    /// Agents cannot reach a write: the MCP crate is handed an AgentApi, never a ReviewApi.
    #[test]
    fn mcp_never_names_the_review_api() {
        let dir = root().join("crates/sluicegate-mcp");
        for file in rust_files(&dir) {
            let text = std::fs::read_to_string(&file).unwrap();
            assert!(
                !text.contains("ReviewApi"),
                "{} names ReviewApi",
                file.display()
            );
            assert!(
                !text.contains("apply_guarded_update"),
                "{} reaches the writer",
                file.display()
            );
        }
    }

    /// Only the source crate talks to source databases (test fixtures aside: they create the
    /// throwaway databases tests run against).
    #[test]
    fn only_source_and_ledger_link_database_drivers() {
        for dir in crate_dirs() {
            let name = dir.file_name().unwrap().to_string_lossy().to_string();
            if name == "sluicegate-test-support" {
                continue;
            }
            let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
            let deps = manifest.split("[dev-dependencies]").next().unwrap_or("");
            for driver in ["tokio-postgres", "mysql_async", "deadpool-postgres"] {
                if deps.contains(driver) {
                    assert_eq!(name, "sluicegate-source", "{name} links {driver}");
                }
            }
            if deps.contains("rusqlite") {
                assert!(
                    name == "sluicegate-source" || name == "sluicegate-ledger",
                    "{name} links rusqlite"
                );
            }
        }
    }

    /// A skip printed any other way than through `sluicegate_test_support::skip_or_fail`
    /// would pass unseen by `scripts/test.sh`, and a test installing packages would hide a
    /// missing prerequisite behind the network: neither may appear in a test.
    #[test]
    fn tests_skip_only_through_the_helper_and_install_nothing() {
        let mut found = Vec::new();
        for dir in crate_dirs() {
            for file in rust_files(&dir.join("tests")) {
                let text = std::fs::read_to_string(&file).unwrap().to_lowercase();
                for bad in [
                    "\"skipping",
                    "skipped:",
                    "pip install",
                    "\"pip\"",
                    "npm install",
                ] {
                    if text.contains(bad) {
                        let rel = file.strip_prefix(root()).unwrap_or(&file);
                        found.push(format!("{}: {bad}", rel.display()));
                    }
                }
            }
        }
        assert!(
            found.is_empty(),
            "use sluicegate_test_support::skip_or_fail, and install in scripts/lib/test-deps.sh:\n{}",
            found.join("\n")
        );
    }

    #[test]
    fn manifest_parser_finds_internal_deps() {
        let m = "[dependencies]\nsluicegate-core.workspace = true\nserde = \"1\"\n[dev-dependencies]\nsluicegate-test-support.workspace = true\n";
        assert_eq!(internal_deps(m), vec!["sluicegate-core".to_string()]);
    }
}
