//! Agents cannot reach a write: the model-facing crate never names the review API, the ledger,
//! or a method that decides, queues, records or applies.
//!
//! The type-level guarantee is that `sluicegate-mcp` is handed only an `AgentApi`; this rule is
//! the tripwire that notices when code there starts reaching past it (`api.ledger().decide(..)`
//! compiles as long as some handle leads to a `Ledger`). It parses every file of the crate's
//! `src/`, so prose in strings and comments is not a finding. The crate's own tests are the
//! wiring side, like the binary: they open a ledger to build the `AgentApi` they hand in.

use std::collections::BTreeSet;

use proc_macro2::TokenTree;
use syn::visit::{self, Visit};

use crate::tree::{SourceFile, flat_tokens};

pub const MCP: &str = "sluicegate-mcp";

/// Types that carry write authority: the review API (decisions, writeback) and the ledger (its
/// write methods record decisions, jobs and receipts).
pub const FORBIDDEN_TYPES: &[&str] = &["ReviewApi", "Ledger", "sluicegate_ledger"];

/// Methods that decide, queue, record or apply, on any API: the review API's, the ledger's and
/// the source writer's.
pub const WRITE_METHODS: &[&str] = &[
    "approve",
    "reject",
    "apply",
    "decide",
    "queue_job",
    "record_read",
    "record_proposal",
    "record_receipt",
    "record_handler_retry",
    "record_note",
    "apply_guarded_update",
    "check_writer",
    "create_receipt_table",
];

/// Every forbidden name in `files`.
pub fn check(files: &[SourceFile]) -> Vec<String> {
    super::find_in::<WriteFinder>(files)
}

impl super::Finder for WriteFinder {
    fn found(self) -> BTreeSet<String> {
        self.found
    }
}

#[derive(Default)]
struct WriteFinder {
    found: BTreeSet<String>,
}

impl WriteFinder {
    fn method(&mut self, name: &syn::Ident, how: &str) {
        if WRITE_METHODS.iter().any(|m| name == m) {
            self.found.insert(format!("{how} `{name}`"));
        }
    }
}

impl<'ast> Visit<'ast> for WriteFinder {
    /// Every identifier in parsed code: a type, import, field or binding named like a write
    /// handle.
    fn visit_ident(&mut self, ident: &'ast proc_macro2::Ident) {
        if FORBIDDEN_TYPES.iter().any(|t| ident == t) {
            self.found.insert(format!("names `{ident}`"));
        }
    }

    fn visit_expr_method_call(&mut self, node: &'ast syn::ExprMethodCall) {
        self.method(&node.method, "calls method");
        visit::visit_expr_method_call(self, node);
    }

    /// `ReviewApi::apply(&api, ..)`, `Ledger::decide`: a write method reached through a path.
    /// A lone segment is a local binding, not a method.
    fn visit_path(&mut self, path: &'ast syn::Path) {
        for segment in path.segments.iter().skip(1) {
            self.method(&segment.ident, "calls path");
        }
        visit::visit_path(self, path);
    }

    fn visit_use_name(&mut self, node: &'ast syn::UseName) {
        self.method(&node.ident, "imports");
        visit::visit_use_name(self, node);
    }

    fn visit_use_rename(&mut self, node: &'ast syn::UseRename) {
        self.method(&node.ident, "imports");
        visit::visit_use_rename(self, node);
    }

    /// Macro input (`format!`, `tokio::select!`, `json!`) is not parsed as code: look at its
    /// tokens for the forbidden types, and for write methods right after `.` or `::`.
    fn visit_macro(&mut self, node: &'ast syn::Macro) {
        let tokens = flat_tokens(&node.tokens);
        for (i, tt) in tokens.iter().enumerate() {
            let TokenTree::Ident(ident) = tt else {
                continue;
            };
            if FORBIDDEN_TYPES.iter().any(|t| ident == t) {
                self.found
                    .insert(format!("names `{ident}` inside a macro call"));
            }
            let after_accessor = i > 0
                && matches!(&tokens[i - 1], TokenTree::Punct(p) if p.as_char() == '.' || p.as_char() == ':');
            if after_accessor {
                self.method(ident, "calls (inside a macro call)");
            }
        }
        visit::visit_macro(self, node);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::assert_none;
    use crate::testing::sorted;
    use crate::{fixture_workspace, root, tree};

    #[test]
    fn mcp_never_reaches_a_write() {
        let files: Vec<_> = tree::crate_files(&root(), MCP)
            .into_iter()
            .filter(|f| f.rel.starts_with("crates/sluicegate-mcp/src/"))
            .collect();
        assert!(files.len() > 5, "sluicegate-mcp sources not found");
        assert_none(
            "the model-facing crate reaches a write handle",
            &check(&files),
        );
    }

    #[test]
    fn write_fixture_is_refused() {
        let files = tree::crate_files(&fixture_workspace(), MCP);
        let rel = "crates/sluicegate-mcp/src/write_violation.rs";
        let expected: Vec<String> = [
            "calls (inside a macro call) `approve`",
            "calls method `decide`",
            "calls method `queue_job`",
            "calls path `apply`",
            "calls path `record_receipt`",
            "imports `apply_guarded_update`",
            "names `Ledger`",
            "names `ReviewApi`",
            "names `ReviewApi` inside a macro call",
        ]
        .iter()
        .map(|what| format!("{rel}: {what}"))
        .collect();
        let found: Vec<String> = check(&files)
            .into_iter()
            .filter(|v| v.starts_with(rel))
            .collect();
        assert_eq!(sorted(found), expected);
    }

    /// The same words in strings, comments and local bindings are not findings.
    #[test]
    fn prose_and_locals_are_not_findings() {
        let files = tree::crate_files(&fixture_workspace(), MCP);
        let clean: Vec<String> = check(&files)
            .into_iter()
            .filter(|v| v.contains("write_allowed.rs"))
            .collect();
        assert_none("false positives", &clean);
    }
}
