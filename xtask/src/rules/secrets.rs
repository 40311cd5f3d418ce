//! Secrets are wrapped in a type whose `Debug` redacts: a field that holds a password, secret,
//! token or URL (URLs carry credentials) is never a plain string in a type that derives `Debug`,
//! where `{:?}` in a log line or error would print it.
//!
//! Fields named `*_env` hold the *name* of an env var, not its value, and are fine. The check is
//! by name and type, so it is a tripwire, not a proof. Every credential the workspace holds is a
//! `sluicegate_core::secrets::Secret` today, so [`KNOWN`] is empty.

use syn::punctuated::Punctuated;
use syn::visit::{self, Visit};
use syn::{Fields, Token};

use crate::tree::{SourceFile, is_test_only};

/// Tolerated violations, `file: Type.field` (an enum variant's field is `Enum::Variant.field`).
/// The list may only shrink, and it has: a new violation fails, and so would an entry that no
/// longer matches. Wrap a new credential in `Secret` rather than adding it here.
pub const KNOWN: &[&str] = &[];

/// Name fragments of credential-bearing fields.
const CREDENTIAL_WORDS: &[&str] = &["password", "passwd", "secret", "token", "credential"];

/// Types whose `Debug` prints the value as it is. `Url` is one: its `Debug` shows the userinfo.
const PLAIN: &[&str] = &["String", "str", "OsString", "Url"];

/// Wrappers that print what they wrap.
const TRANSPARENT: &[&str] = &["Option", "Vec", "Box", "Arc", "Rc", "Cow"];

/// Whether a field name says it holds a credential-bearing value.
pub fn is_credential_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    if name.ends_with("_env") {
        return false;
    }
    CREDENTIAL_WORDS.iter().any(|w| name.contains(w)) || name.ends_with("url")
}

/// Whether `ty` prints its value in `Debug`: a string or URL, possibly in an option, list, box
/// or reference.
pub fn is_plain_text(ty: &syn::Type) -> bool {
    match ty {
        syn::Type::Reference(r) => is_plain_text(&r.elem),
        syn::Type::Paren(p) => is_plain_text(&p.elem),
        syn::Type::Path(p) => {
            let Some(last) = p.path.segments.last() else {
                return false;
            };
            if PLAIN.iter().any(|t| last.ident == t) {
                return true;
            }
            if !TRANSPARENT.iter().any(|t| last.ident == t) {
                return false;
            }
            let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
                return false;
            };
            args.args.iter().any(|arg| match arg {
                syn::GenericArgument::Type(inner) => is_plain_text(inner),
                _ => false,
            })
        }
        _ => false,
    }
}

fn derives_debug(attrs: &[syn::Attribute]) -> bool {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("derive"))
        .any(|a| {
            a.parse_args_with(Punctuated::<syn::Path, Token![,]>::parse_terminated)
                .is_ok_and(|paths| {
                    paths
                        .iter()
                        .any(|p| p.segments.last().is_some_and(|s| s.ident == "Debug"))
                })
        })
}

/// Every plain-text credential field of a `Debug` type in `files`, keyed `file: Type.field`.
pub fn findings(files: &[SourceFile]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for file in files {
        let parsed = match file.parse() {
            Ok(parsed) => parsed,
            Err(e) => {
                out.push((e.clone(), e));
                continue;
            }
        };
        let mut finder = SecretFinder::default();
        finder.visit_file(&parsed);
        for (owner, field) in finder.found {
            let key = format!("{}: {owner}.{field}", file.rel);
            let message = format!(
                "{key}: a credential in a plain string of a Debug type; wrap it in a redacting Secret"
            );
            out.push((key, message));
        }
    }
    out
}

/// The rule: findings not in `allowlist`, and allowlist entries that match nothing.
pub fn check(files: &[SourceFile], allowlist: &[&str]) -> Vec<String> {
    super::against_allowlist(&findings(files), allowlist)
}

#[derive(Default)]
struct SecretFinder {
    /// `(Type or Enum::Variant, field)`.
    found: Vec<(String, String)>,
}

impl SecretFinder {
    fn fields(&mut self, owner: String, fields: &Fields) {
        for field in fields {
            let Some(name) = &field.ident else {
                continue;
            };
            if is_credential_name(&name.to_string()) && is_plain_text(&field.ty) {
                self.found.push((owner.clone(), name.to_string()));
            }
        }
    }
}

impl<'ast> Visit<'ast> for SecretFinder {
    fn visit_item_mod(&mut self, node: &'ast syn::ItemMod) {
        if !is_test_only(&node.attrs) {
            visit::visit_item_mod(self, node);
        }
    }

    fn visit_item_fn(&mut self, node: &'ast syn::ItemFn) {
        if !is_test_only(&node.attrs) {
            visit::visit_item_fn(self, node);
        }
    }

    fn visit_item_struct(&mut self, node: &'ast syn::ItemStruct) {
        if derives_debug(&node.attrs) {
            self.fields(node.ident.to_string(), &node.fields);
        }
        visit::visit_item_struct(self, node);
    }

    fn visit_item_enum(&mut self, node: &'ast syn::ItemEnum) {
        if derives_debug(&node.attrs) {
            for variant in &node.variants {
                self.fields(
                    format!("{}::{}", node.ident, variant.ident),
                    &variant.fields,
                );
            }
        }
        visit::visit_item_enum(self, node);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::assert_none;
    use crate::testing::sorted;
    use crate::{fixture_workspace, root, tree};

    #[test]
    fn credentials_are_not_plain_strings_in_debug_types() {
        assert_none(
            "credential printed by Debug",
            &check(&tree::crate_sources(&root()), KNOWN),
        );
    }

    const FIXTURE: &str = "crates/sluicegate-mcp/src/secret_violation.rs";

    #[test]
    fn secret_fixture_is_refused() {
        let files = tree::crate_sources(&fixture_workspace());
        let expected: Vec<String> = [
            "Connection.database_url",
            "Connection.password",
            "Target::Http.url",
            "Target::Http.bearer_token",
        ]
        .iter()
        .map(|f| {
            format!(
                "{FIXTURE}: {f}: a credential in a plain string of a Debug type; wrap it in a redacting Secret"
            )
        })
        .collect();
        assert_eq!(sorted(check(&files, &[])), sorted(expected));
    }

    /// Allowlisted findings pass; an allowlist entry that matches nothing fails.
    #[test]
    fn secret_allowlist_only_shrinks() {
        let files = tree::crate_sources(&fixture_workspace());
        let all = format!("{FIXTURE}: Connection.password");
        let stale = format!("{FIXTURE}: Connection.api_secret");
        let allow = [
            all.as_str(),
            "crates/sluicegate-mcp/src/secret_violation.rs: Connection.database_url",
            "crates/sluicegate-mcp/src/secret_violation.rs: Target::Http.url",
            "crates/sluicegate-mcp/src/secret_violation.rs: Target::Http.bearer_token",
        ];
        assert_none("allowlisted", &check(&files, &allow));
        let mut with_stale = allow.to_vec();
        with_stale.push(stale.as_str());
        assert_eq!(
            check(&files, &with_stale),
            vec![format!(
                "allowlist entry `{stale}` matches nothing any more: delete it (the list only shrinks)"
            )]
        );
    }

    #[test]
    fn names_and_types() {
        for yes in [
            "password",
            "database_url",
            "url",
            "api_token",
            "signing_secret",
        ] {
            assert!(is_credential_name(yes), "{yes}");
        }
        for no in ["url_env", "token_env", "name", "tenant"] {
            assert!(!is_credential_name(no), "{no}");
        }
        let plain: syn::Type = syn::parse_quote!(Option<Box<str>>);
        assert!(is_plain_text(&plain));
        let secret: syn::Type = syn::parse_quote!(Option<Secret>);
        assert!(!is_plain_text(&secret));
    }
}
