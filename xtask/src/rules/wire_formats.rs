//! Only `sluicegate-protocol` defines external wire formats: no other crate's shipped code spells
//! a `schema_version` (`synapsor.<document>.v1`, `sluicegate.<document>.vN`) itself.
//!
//! A constant elsewhere is a second definition that can drift from the protocol crate's; an inline
//! literal is the same thing unnamed. Tests may spell them (they pin the wire text on purpose), and
//! so may doc comments.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;
use syn::visit::{self, Visit};

use crate::tree::{SourceFile, flat_tokens, is_test_only, literal_text};

pub const PROTOCOL: &str = "sluicegate-protocol";

/// A `schema_version` value of a wire document.
pub static SCHEMA_VERSION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(synapsor|sluicegate)\.[a-z0-9][a-z0-9_-]*(\.[a-z0-9_-]+)*\.v[0-9]+\b")
        .expect("invariant: the schema_version pattern is a valid regex")
});

/// Every schema_version spelled outside the protocol crate's sources (`files` are `crates/*/src`).
pub fn check(files: &[SourceFile]) -> Vec<String> {
    super::find_in::<WireFinder>(files.iter().filter(|f| f.crate_name != PROTOCOL))
}

impl super::Finder for WireFinder {
    fn found(self) -> BTreeSet<String> {
        self.found
    }
}

#[derive(Default)]
struct WireFinder {
    /// The const or static being visited, if any.
    item: Option<String>,
    found: BTreeSet<String>,
}

impl WireFinder {
    /// In a const or static, any schema_version in the text is a definition (a JSON template
    /// counts). Elsewhere only a literal that *is* one counts: `"synapsor.change-set.v1"` as a
    /// value is a definition, an error message that names the format is prose.
    fn literal(&mut self, text: &str) {
        match &self.item {
            Some(item) => {
                for m in SCHEMA_VERSION.find_iter(text) {
                    self.found.insert(format!(
                        "`{item}` defines wire format `{}`: define it in {PROTOCOL}",
                        m.as_str()
                    ));
                }
            }
            None => {
                let text = text.trim();
                if SCHEMA_VERSION
                    .find(text)
                    .is_some_and(|m| m.as_str() == text)
                {
                    self.found.insert(format!(
                        "spells wire format `{text}` inline: use {PROTOCOL}'s constant"
                    ));
                }
            }
        }
    }

    fn in_item(&mut self, name: &syn::Ident, visit: impl FnOnce(&mut Self)) {
        let outer = self.item.replace(name.to_string());
        visit(self);
        self.item = outer;
    }
}

impl<'ast> Visit<'ast> for WireFinder {
    /// Doc comments are attributes: prose may name a format.
    fn visit_attribute(&mut self, _: &'ast syn::Attribute) {}

    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs = match item {
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Impl(i) => &i.attrs,
            syn::Item::Const(c) => &c.attrs,
            syn::Item::Static(s) => &s.attrs,
            _ => return visit::visit_item(self, item),
        };
        if !is_test_only(attrs) {
            visit::visit_item(self, item);
        }
    }

    fn visit_impl_item_fn(&mut self, node: &'ast syn::ImplItemFn) {
        if !is_test_only(&node.attrs) {
            visit::visit_impl_item_fn(self, node);
        }
    }

    fn visit_item_const(&mut self, node: &'ast syn::ItemConst) {
        self.in_item(&node.ident, |me| visit::visit_item_const(me, node));
    }

    fn visit_item_static(&mut self, node: &'ast syn::ItemStatic) {
        self.in_item(&node.ident, |me| visit::visit_item_static(me, node));
    }

    fn visit_impl_item_const(&mut self, node: &'ast syn::ImplItemConst) {
        self.in_item(&node.ident, |me| visit::visit_impl_item_const(me, node));
    }

    fn visit_lit_str(&mut self, lit: &'ast syn::LitStr) {
        self.literal(&lit.value());
    }

    fn visit_lit_byte_str(&mut self, lit: &'ast syn::LitByteStr) {
        self.literal(&String::from_utf8_lossy(&lit.value()));
    }

    /// `json!({"schema_version": "..."})` and friends: macro input is tokens, not expressions.
    fn visit_macro(&mut self, node: &'ast syn::Macro) {
        for tt in flat_tokens(&node.tokens) {
            if let Some(text) = literal_text(&tt) {
                self.literal(&text);
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
    fn only_protocol_defines_wire_formats() {
        assert_none(
            "wire format spelled outside sluicegate-protocol",
            &check(&tree::crate_sources(&root())),
        );
    }

    #[test]
    fn wire_format_fixture_is_refused() {
        let rel = "crates/sluicegate-audit/src/wire_violation.rs";
        let expected: Vec<String> = [
            "`AUDIT_V2` defines wire format `sluicegate.mcp-audit.v2`: define it in sluicegate-protocol",
            "`CHANGE_SET` defines wire format `synapsor.change-set.v1`: define it in sluicegate-protocol",
            "`RECEIPT` defines wire format `synapsor.execution-receipt.v1`: define it in sluicegate-protocol",
            "spells wire format `synapsor.writeback-job.v1` inline: use sluicegate-protocol's constant",
        ]
        .iter()
        .map(|what| format!("{rel}: {what}"))
        .collect();
        // The fixture's protocol crate defines the same constants: allowed there.
        assert_eq!(
            sorted(check(&tree::crate_sources(&fixture_workspace()))),
            expected
        );
    }

    #[test]
    fn pattern_matches_the_documented_forms() {
        for yes in [
            "synapsor.change-set.v1",
            "synapsor.runner-registration.v1",
            "sluicegate.onboarding-selection.v2",
        ] {
            assert!(SCHEMA_VERSION.is_match(yes), "{yes}");
        }
        for no in [
            "synapsor://proposals/p1",
            "sluicegate.toml",
            "synapsor.change-set",
        ] {
            assert!(!SCHEMA_VERSION.is_match(no), "{no}");
        }
    }
}
