//! Shared test fixtures: locating `../shared/conformance`, engine databases, fixed clocks.
//! Never a dependency of production code.

use std::path::PathBuf;

/// True when running in CI, where a missing fixture or engine is a failure, never a skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The workspace root (the directory holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `../shared/conformance` beside the workspace, when present.
pub fn conformance_dir() -> Option<PathBuf> {
    let dir = workspace_root().join("../shared/conformance");
    dir.is_dir().then(|| dir.canonicalize().unwrap_or(dir))
}

/// The conformance directory, or `None` after saying plainly that it is absent.
/// In CI the conformance data is always present, so its absence fails the test.
pub fn require_conformance() -> Option<PathBuf> {
    match conformance_dir() {
        Some(dir) => Some(dir),
        None if in_ci() => panic!("../shared/conformance is missing; CI always provides it"),
        None => {
            eprintln!("conformance data not found at ../shared/conformance: skipping this check");
            None
        }
    }
}

/// Read and parse a JSON file, panicking with the path on failure.
pub fn read_json(path: &std::path::Path) -> serde_json::Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}
pub mod engines;
