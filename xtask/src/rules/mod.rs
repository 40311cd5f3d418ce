//! The tidy rules, one module per written invariant (ARCHITECTURE.md, design.md §2).
//!
//! A rule returns its violations as sentences naming the file or manifest table to fix; an empty
//! list means the rule holds. Rules with known violations today take an explicit allowlist that
//! may only shrink: an entry that no longer matches a violation is itself reported, so a fix
//! must also delete its entry.

pub mod agent_surface;
pub mod core_purity;
pub mod hygiene;
pub mod layers;
pub mod secrets;
pub mod wire_formats;

use std::collections::BTreeSet;

use crate::tree::SourceFile;

/// A syntax-tree visitor that collects findings.
pub trait Finder: for<'ast> syn::visit::Visit<'ast> {
    fn found(self) -> BTreeSet<String>;
}

/// Run a fresh `F` over each of `files`, as `path: finding`; a file that does not parse is a
/// finding itself (a rule must never pass because it could not read the code).
pub fn find_in<'a, F: Finder + Default>(
    files: impl IntoIterator<Item = &'a SourceFile>,
) -> Vec<String> {
    let mut out = Vec::new();
    for file in files {
        let parsed = match file.parse() {
            Ok(parsed) => parsed,
            Err(e) => {
                out.push(e);
                continue;
            }
        };
        let mut finder = F::default();
        syn::visit::Visit::visit_file(&mut finder, &parsed);
        out.extend(
            finder
                .found()
                .into_iter()
                .map(|what| format!("{}: {what}", file.rel)),
        );
    }
    out
}

/// Split `findings` (each keyed by `key`) against a shrink-only allowlist: findings not on the
/// list are violations, and list entries that match no finding are stale.
pub fn against_allowlist(findings: &[(String, String)], allowlist: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = findings
        .iter()
        .filter(|(key, _)| !allowlist.contains(&key.as_str()))
        .map(|(_, message)| message.clone())
        .collect();
    for entry in allowlist {
        if !findings.iter().any(|(key, _)| key == entry) {
            out.push(format!(
                "allowlist entry `{entry}` matches nothing any more: delete it (the list only shrinks)"
            ));
        }
    }
    out
}

/// Panic with every violation, one per line, under `title`.
pub fn assert_none(title: &str, violations: &[String]) {
    assert!(
        violations.is_empty(),
        "{title}:\n  {}",
        violations.join("\n  ")
    );
}
