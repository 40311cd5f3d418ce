//! The workspace's crates and their declared dependencies, read from `cargo metadata`.
//!
//! Cargo itself parses the manifests, so every way of writing a dependency is seen the same:
//! `[dependencies.x]` tables, `[target.'cfg(..)'.dependencies]`, renamed (`package = ".."`) and
//! inherited (`x.workspace = true`, features merged with the workspace entry) dependencies.

use std::path::Path;

use cargo_metadata::{DependencyKind, MetadataCommand};

/// Which table a dependency is declared in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Normal,
    Dev,
    Build,
}

impl Kind {
    /// Whether the dependency is linked into (or runs while building) the crate itself, as
    /// opposed to only its tests, examples and benches.
    pub fn links(self) -> bool {
        !matches!(self, Kind::Dev)
    }

    fn table(self) -> &'static str {
        match self {
            Kind::Normal => "dependencies",
            Kind::Dev => "dev-dependencies",
            Kind::Build => "build-dependencies",
        }
    }
}

/// One declared dependency of a workspace crate.
#[derive(Debug, Clone)]
pub struct Dep {
    /// The package name (a renamed dependency is listed under the package it names).
    pub name: String,
    pub kind: Kind,
    /// The `cfg(..)` or target triple of a `[target.X.*]` table.
    pub target: Option<String>,
    /// Features enabled by the declaration (an inherited entry's include the workspace's).
    pub features: Vec<String>,
    pub default_features: bool,
}

impl Dep {
    /// The manifest table it sits in, as written in Cargo.toml: `[target.'cfg(unix)'.dependencies]`.
    pub fn table(&self) -> String {
        match &self.target {
            Some(target) => format!("[target.'{target}'.{}]", self.kind.table()),
            None => format!("[{}]", self.kind.table()),
        }
    }
}

/// One workspace member.
#[derive(Debug, Clone)]
pub struct Crate {
    pub name: String,
    pub deps: Vec<Dep>,
}

/// The members of one workspace.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub crates: Vec<Crate>,
}

impl Workspace {
    /// Read the workspace whose root manifest is `manifest`. `--no-deps` keeps it to the
    /// members' own declarations (no resolution, no registry), so it works offline and on the
    /// fixture workspaces, which are never built.
    pub fn load(manifest: &Path) -> Result<Workspace, String> {
        let meta = MetadataCommand::new()
            .manifest_path(manifest)
            .no_deps()
            .other_options(vec!["--offline".to_string()])
            .exec()
            .map_err(|e| format!("cargo metadata for {}: {e}", manifest.display()))?;
        let mut crates: Vec<Crate> = meta
            .workspace_packages()
            .into_iter()
            .map(|pkg| Crate {
                name: pkg.name.to_string(),
                deps: pkg
                    .dependencies
                    .iter()
                    .map(|d| Dep {
                        name: d.name.clone(),
                        kind: match d.kind {
                            DependencyKind::Development => Kind::Dev,
                            DependencyKind::Build => Kind::Build,
                            // Unknown kinds (a future Cargo's) are treated as linked: a rule
                            // then errs towards refusing, never towards letting an edge through.
                            _ => Kind::Normal,
                        },
                        target: d.target.as_ref().map(|t| t.to_string()),
                        features: d.features.clone(),
                        default_features: d.uses_default_features,
                    })
                    .collect(),
            })
            .collect();
        crates.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Workspace { crates })
    }

    pub fn get(&self, name: &str) -> Option<&Crate> {
        self.crates.iter().find(|c| c.name == name)
    }

    pub fn is_member(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    /// The reader sees the forms the old line-by-line parser missed.
    #[test]
    fn metadata_sees_tables_targets_renames_and_inherited_features() {
        let ws = testing::fixture();
        let core = ws.get("sluicegate-core").unwrap();
        let runtime = core
            .deps
            .iter()
            .find(|d| d.name == "sluicegate-runtime")
            .unwrap();
        assert_eq!(runtime.kind, Kind::Normal, "[dependencies.x] table");
        let chrono = core.deps.iter().find(|d| d.name == "chrono").unwrap();
        assert!(chrono.features.contains(&"clock".to_string()), "{chrono:?}");

        let mcp = ws.get("sluicegate-mcp").unwrap();
        let ledger = mcp
            .deps
            .iter()
            .find(|d| d.name == "sluicegate-ledger")
            .unwrap();
        assert_eq!(ledger.table(), "[target.'cfg(unix)'.dependencies]");
        assert!(
            mcp.deps.iter().any(|d| d.name == "sluicegate-source"),
            "renamed dependency listed under its package name"
        );
    }

    #[test]
    fn real_workspace_lists_every_crate() {
        let ws = testing::real();
        for name in ["sluicegate-core", "sluicegate-mcp", "sluicegate", "xtask"] {
            assert!(ws.is_member(name), "{name} missing from cargo metadata");
        }
    }
}
