//! Repository tidy checks. They run as ordinary tests (`cargo test -p xtask`), so CI enforces
//! the architecture rules written in ARCHITECTURE.md.
//!
//! Each rule in [`rules`] is a function from the workspace (its `cargo metadata`, see
//! [`metadata`], or its parsed sources, see [`tree`]) to a list of violations. Every rule has two
//! tests beside it: one runs it on this repository and expects no violation, the other runs it on
//! a fixture under `xtask/testdata/` that breaks the rule and expects exactly the violations the
//! fixture plants. The second test is what shows a rule is not vacuous.

use std::path::{Path, PathBuf};

pub mod metadata;
pub mod rules;
pub mod tree;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("invariant: xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Fixture data of the tidy tests: workspaces and crates that break the rules on purpose.
pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

/// The fixture workspace (`xtask/testdata/workspace`) shared by the manifest and source rules.
pub fn fixture_workspace() -> PathBuf {
    testdata().join("workspace")
}

/// Shared by the tests of every rule module: the real workspace and the fixture workspace are each
/// read once per test process.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::OnceLock;

    use crate::metadata::Workspace;

    pub fn real() -> &'static Workspace {
        static REAL: OnceLock<Workspace> = OnceLock::new();
        REAL.get_or_init(|| Workspace::load(&crate::root().join("Cargo.toml")).unwrap())
    }

    pub fn fixture() -> &'static Workspace {
        static FIXTURE: OnceLock<Workspace> = OnceLock::new();
        FIXTURE.get_or_init(|| {
            Workspace::load(&crate::fixture_workspace().join("Cargo.toml")).unwrap()
        })
    }

    /// Sorted, so a test can compare a rule's output with the exact list a fixture plants.
    pub fn sorted(mut v: Vec<String>) -> Vec<String> {
        v.sort();
        v
    }
}
