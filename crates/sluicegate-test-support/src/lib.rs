//! Shared test fixtures: the in-repo conformance vectors, the one skip helper, engine
//! databases and whole app databases with their roles, a private PostgreSQL server to restart,
//! the HTTP stub server, waits on processes and on conditions nothing announces. Never a
//! dependency of production code.

use std::io::Write;
use std::path::{Path, PathBuf};

pub mod app_db;
pub mod engines;
pub mod http_stub;
pub mod pg_cluster;
pub mod poll;
pub mod process;

pub use http_stub::{HttpStub, Reply};

/// The one line every skipped test prints. `scripts/test.sh` fails the run when it sees it, so
/// a skip can never pass for a test that ran.
pub const SKIP_MARKER: &str = "SLUICEGATE-TEST-SKIPPED:";

/// True when running in CI, where a missing fixture or engine is a failure, never a skip.
/// `scripts/test.sh` sets `CI=true` itself, so a local run behaves the same.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The only way a test may decline to run: with `CI=true` this panics with `reason`; otherwise
/// it prints [`SKIP_MARKER`] and `reason` to stderr and returns `None`, so callers can write
/// `return skip_or_fail("...")` from a function returning `Option`.
///
/// The line goes to the process's stderr directly rather than through `eprintln!`, which the
/// test harness captures and hides for passing tests; a skip must show in every run.
pub fn skip_or_fail<T>(reason: impl std::fmt::Display) -> Option<T> {
    if in_ci() {
        panic!("{reason} (CI=true: a test that cannot run fails instead of skipping)");
    }
    let line = format!("{SKIP_MARKER} {reason}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
    None
}

/// The workspace root (the directory holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// The conformance vectors kept in this crate (`conformance/`, see its README): part of every
/// checkout, so conformance tests always run.
pub fn conformance_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("conformance");
    assert!(
        dir.join("schemas").is_dir(),
        "{} is missing its schemas; it is part of the repository, restore it with git",
        dir.display()
    );
    dir.canonicalize().unwrap_or(dir)
}

/// `../shared/conformance` beside the workspace, the folder the in-repo vectors were copied
/// from, when it is there. Only the copy check reads it.
pub fn shared_conformance_dir() -> Option<PathBuf> {
    let dir = workspace_root().join("../shared/conformance");
    dir.is_dir().then(|| dir.canonicalize().unwrap_or(dir))
}

/// Read and parse a JSON file, panicking with the path on failure.
pub fn read_json(path: &Path) -> serde_json::Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// Markdown with its backslash escapes read back: the text a renderer shows for a paragraph
/// with no other markup (a test compares it with what the terminal view shows).
pub fn markdown_as_rendered(md: &str) -> String {
    let mut out = String::with_capacity(md.len());
    let mut chars = md.chars().peekable();
    while let Some(c) = chars.next() {
        match chars.peek() {
            Some(&next) if c == '\\' && next.is_ascii_punctuation() => {
                out.push(next);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// The proposal id in what `proposals show <selector> --json` printed.
pub fn shown_proposal_id(show_json: &[u8]) -> String {
    let shown: serde_json::Value = serde_json::from_slice(show_json)
        .unwrap_or_else(|e| panic!("`proposals show --json` printed no JSON ({e})"));
    shown["proposal"]["proposal_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no proposal id in {shown}"))
        .to_string()
}
