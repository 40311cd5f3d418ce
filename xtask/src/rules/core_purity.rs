//! Core purity: `sluicegate-core` has no async, I/O, clock, randomness or environment access.
//!
//! Three layers enforce it. Its dependencies are an explicit allowlist (no runtime, no driver,
//! no clock feature), checked here from `cargo metadata`. Its sources contain no `async`/`.await`,
//! checked here with `syn`. Calls into std's clock, env, filesystem, network, process and
//! randomness APIs are refused by `crates/sluicegate-core/clippy.toml`, and the test at the end of
//! this file runs clippy with that file on a probe crate to prove the configuration bites.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use proc_macro2::TokenTree;
use syn::visit::{self, Visit};

use crate::metadata::Workspace;
use crate::tree::{SourceFile, flat_tokens};

pub const CORE: &str = "sluicegate-core";

/// The only crates `sluicegate-core` may link. Each is pure computation: serialisation,
/// hashing, number formatting, regexes, error derives, ordered maps, signature verification
/// (ed25519-dalek without its `rand_core` feature: signing is deterministic and key generation
/// happens outside core), base64, enum derives (strum), shell-style argv splitting (shell-words)
/// and calendar arithmetic.
/// A new entry needs a reason it cannot reach the clock, the environment or I/O.
pub const CORE_DEPS: &[&str] = &[
    "sluicegate-protocol",
    "serde",
    "serde_json",
    "sha2",
    "hex",
    "ryu-js",
    "regex",
    "thiserror",
    "indexmap",
    "ed25519-dalek",
    "base64",
    "strum",
    "shell-words",
    "chrono",
];

/// chrono features core may enable: none of them reads the clock (`clock` and `now` do, and
/// `default` includes `clock`).
pub const CHRONO_FEATURES: &[&str] = &["std", "alloc", "serde"];

/// Core's linked dependencies stay on [`CORE_DEPS`], and chrono stays without a clock.
pub fn core_dependencies(ws: &Workspace) -> Vec<String> {
    let Some(core) = ws.get(CORE) else {
        return vec![format!("{CORE} is not a workspace member")];
    };
    let mut out = Vec::new();
    for dep in core.deps.iter().filter(|d| d.kind.links()) {
        if !CORE_DEPS.contains(&dep.name.as_str()) {
            out.push(format!(
                "{CORE} → {} ({}): not on the core allowlist (xtask CORE_DEPS)",
                dep.name,
                dep.table()
            ));
            continue;
        }
        if dep.name == "chrono" {
            if dep.default_features {
                out.push(format!(
                    "{CORE} → chrono ({}): default features include `clock`; set default-features = false",
                    dep.table()
                ));
            }
            for feature in &dep.features {
                if !CHRONO_FEATURES.contains(&feature.as_str()) {
                    out.push(format!(
                        "{CORE} → chrono ({}): feature `{feature}` is not allowed in core (it may read the clock)",
                        dep.table()
                    ));
                }
            }
        }
    }
    out
}

/// The features chrono is compiled with when `package` is built alone (its normal dependency
/// graph, as `cargo build -p package` resolves it), from `cargo tree`. This sees what a
/// declaration check cannot: a dependency of `package` that turns chrono's clock on.
pub fn resolved_chrono_features(manifest: &Path, package: &str) -> Result<Vec<String>, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["tree", "--offline", "-e", "normal", "--prefix", "none"])
        .args(["-f", "{p}|{f}", "-p", package, "--manifest-path"])
        .arg(manifest)
        .output()
        .map_err(|e| format!("cargo tree: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo tree -p {package}: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let Some(line) = stdout.lines().find(|l| l.starts_with("chrono v")) else {
        // No chrono in the graph: nothing can read its clock.
        return Ok(Vec::new());
    };
    let features = line
        .split('|')
        .nth(1)
        .unwrap_or("")
        .trim_end_matches(" (*)");
    Ok(features
        .split(',')
        .filter(|f| !f.is_empty())
        .map(str::to_string)
        .collect())
}

/// chrono features outside [`CHRONO_FEATURES`] in a resolved build of `package`.
pub fn clockless_chrono(package: &str, features: &[String]) -> Vec<String> {
    features
        .iter()
        .filter(|f| !CHRONO_FEATURES.contains(&f.as_str()))
        .map(|f| {
            format!(
                "{package} built alone compiles chrono with `{f}`: core must not read the clock"
            )
        })
        .collect()
}

/// Every `async fn`, async block or closure and `.await` in `files` (core's sources).
pub fn no_async(files: &[SourceFile]) -> Vec<String> {
    super::find_in::<AsyncFinder>(files)
}

impl super::Finder for AsyncFinder {
    fn found(self) -> BTreeSet<String> {
        self.found
    }
}

#[derive(Default)]
struct AsyncFinder {
    found: BTreeSet<String>,
}

impl<'ast> Visit<'ast> for AsyncFinder {
    fn visit_signature(&mut self, sig: &'ast syn::Signature) {
        if sig.asyncness.is_some() {
            self.found.insert(format!("async fn `{}`", sig.ident));
        }
        visit::visit_signature(self, sig);
    }

    fn visit_expr_async(&mut self, node: &'ast syn::ExprAsync) {
        self.found.insert("async block".to_string());
        visit::visit_expr_async(self, node);
    }

    fn visit_expr_closure(&mut self, node: &'ast syn::ExprClosure) {
        if node.asyncness.is_some() {
            self.found.insert("async closure".to_string());
        }
        visit::visit_expr_closure(self, node);
    }

    fn visit_expr_await(&mut self, node: &'ast syn::ExprAwait) {
        self.found.insert("`.await`".to_string());
        visit::visit_expr_await(self, node);
    }

    /// Macro input is not parsed as code, so look at its tokens: `async` and `await` are
    /// keywords, never ordinary names.
    fn visit_macro(&mut self, node: &'ast syn::Macro) {
        for tt in flat_tokens(&node.tokens) {
            if let TokenTree::Ident(ident) = tt
                && (ident == "async" || ident == "await")
            {
                self.found.insert(format!("`{ident}` inside a macro call"));
            }
        }
        visit::visit_macro(self, node);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::assert_none;
    use crate::testing::{fixture, real, sorted};
    use crate::{fixture_workspace, root, testdata, tree};

    #[test]
    fn core_links_only_allowlisted_crates_without_a_clock() {
        assert_none("core dependency rule violated", &core_dependencies(real()));
    }

    #[test]
    fn core_dependency_fixture_is_refused() {
        assert_eq!(
            sorted(core_dependencies(fixture())),
            vec![
                "sluicegate-core → chrono ([dependencies]): feature `clock` is not allowed in core (it may read the clock)",
                "sluicegate-core → sluicegate-runtime ([dependencies]): not on the core allowlist (xtask CORE_DEPS)",
                "sluicegate-core → tokio ([dependencies]): not on the core allowlist (xtask CORE_DEPS)",
            ]
        );
    }

    #[test]
    fn core_sources_have_no_async() {
        let files = tree::read(&root(), &root().join("crates/sluicegate-core/src"), CORE);
        assert!(files.len() > 10, "core sources not found");
        assert_none("async in sluicegate-core", &no_async(&files));
    }

    #[test]
    fn async_fixture_is_refused() {
        let ws = fixture_workspace();
        let files = tree::read(&ws, &ws.join("crates/sluicegate-core/src"), CORE);
        assert_eq!(
            sorted(no_async(&files)),
            vec![
                "crates/sluicegate-core/src/async_violation.rs: `.await`",
                "crates/sluicegate-core/src/async_violation.rs: `await` inside a macro call",
                "crates/sluicegate-core/src/async_violation.rs: async block",
                "crates/sluicegate-core/src/async_violation.rs: async closure",
                "crates/sluicegate-core/src/async_violation.rs: async fn `fetch`",
                "crates/sluicegate-core/src/async_violation.rs: async fn `load`",
            ]
        );
    }

    #[test]
    fn core_alone_compiles_chrono_without_a_clock() {
        let features = resolved_chrono_features(&root().join("Cargo.toml"), CORE).unwrap();
        assert!(features.contains(&"std".to_string()), "{features:?}");
        assert_none(
            "core can read the clock",
            &clockless_chrono(CORE, &features),
        );
    }

    /// The probe crate enables chrono's clock, as a dependency of core could.
    #[test]
    fn resolved_clock_fixture_is_refused() {
        let work = root().join("target/xtask/clock-probe");
        copy_probe(&work);
        let features = resolved_chrono_features(&work.join("Cargo.toml"), "purity-probe").unwrap();
        let found = clockless_chrono("purity-probe", &features);
        for feature in ["clock", "now"] {
            assert!(
                found.contains(&format!(
                    "purity-probe built alone compiles chrono with `{feature}`: core must not read the clock"
                )),
                "{found:?}"
            );
        }
    }

    /// Calls the probe makes, one or more per category; clippy must report each by the path
    /// written in core's clippy.toml.
    const PROBE_METHODS: &[&str] = &[
        "std::time::SystemTime::now",
        "std::time::Instant::now",
        "chrono::Utc::now",
        "chrono::Local::now",
        "std::env::var",
        "std::env::var_os",
        "std::env::args",
        "std::env::current_dir",
        "std::fs::read_to_string",
        "std::fs::write",
        "std::fs::read_dir",
        "std::fs::File::open",
        "std::net::TcpStream::connect",
        "std::process::Command::new",
        "std::hash::RandomState::new",
    ];
    const PROBE_TYPES: &[&str] = &[
        "std::fs::File",
        "std::net::TcpStream",
        "std::net::UdpSocket",
        "std::process::Command",
    ];

    fn copy_probe(into: &Path) {
        let from = testdata().join("purity-probe");
        std::fs::create_dir_all(into.join("src")).unwrap();
        // A fresh copy each run: the new mtime makes cargo re-lint the probe.
        std::fs::copy(from.join("Cargo.toml"), into.join("Cargo.toml")).unwrap();
        std::fs::copy(from.join("src/lib.rs"), into.join("src/lib.rs")).unwrap();
        // The workspace's lockfile pins chrono to the version already fetched, so the probe
        // resolves offline and never downloads anything.
        std::fs::copy(root().join("Cargo.lock"), into.join("Cargo.lock")).unwrap();
    }

    /// Runs clippy with `crates/sluicegate-core/clippy.toml` (through `CLIPPY_CONF_DIR`, so the
    /// real file is under test, not a copy) on a probe crate that makes the forbidden calls.
    #[test]
    fn core_clippy_config_refuses_impure_calls() {
        let work = root().join("target/xtask/purity-probe");
        copy_probe(&work);
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let output = Command::new(cargo)
            .arg("clippy")
            .arg("--offline")
            .arg("--manifest-path")
            .arg(work.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(work.join("target"))
            .args(["--", "-D", "warnings"])
            .env("CLIPPY_CONF_DIR", root().join("crates/sluicegate-core"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success(),
            "clippy accepted the probe:\n{stderr}"
        );
        assert!(
            stderr.contains("disallowed"),
            "clippy failed for another reason:\n{stderr}"
        );
        let mut missing = Vec::new();
        for path in PROBE_METHODS {
            if !stderr.contains(&format!("use of a disallowed method `{path}`")) {
                missing.push(format!("method {path}"));
            }
        }
        for path in PROBE_TYPES {
            if !stderr.contains(&format!("use of a disallowed type `{path}`")) {
                missing.push(format!("type {path}"));
            }
        }
        assert!(
            missing.is_empty(),
            "core's clippy.toml let these through:\n  {}\nclippy said:\n{stderr}",
            missing.join("\n  ")
        );
    }

    /// The clippy configuration repeats the root one (clippy does not merge the two).
    #[test]
    fn core_clippy_config_repeats_the_root_settings() {
        let core =
            std::fs::read_to_string(root().join("crates/sluicegate-core/clippy.toml")).unwrap();
        let shared = std::fs::read_to_string(root().join("clippy.toml")).unwrap();
        for line in shared.lines().filter(|l| l.contains('=')) {
            assert!(
                core.lines().any(|l| l.trim() == line.trim()),
                "crates/sluicegate-core/clippy.toml lacks root setting `{line}`"
            );
        }
    }
}
