//! The workspace's Rust sources: walking, reading and parsing them for the source rules.
//!
//! Rules parse files with `syn` rather than grepping, so a name inside a string or a comment is
//! not a finding and a call split across lines or written through a path still is.

use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};
use syn::Attribute;

/// One Rust source file.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path relative to the root it was collected from, with `/` separators.
    pub rel: String,
    /// The crate directory it belongs to (`crates/<name>/...`).
    pub crate_name: String,
    pub text: String,
}

impl SourceFile {
    pub fn parse(&self) -> Result<syn::File, String> {
        syn::parse_file(&self.text).map_err(|e| format!("{}: does not parse: {e}", self.rel))
    }

    pub fn lines(&self) -> usize {
        self.text.lines().count()
    }
}

/// Every `.rs` file under `dir`, recursively and sorted; build output is skipped.
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
    out.sort();
    out
}

/// Read the files under `dir` (relative to `root`), tagging them with `crate_name`.
pub fn read(root: &Path, dir: &Path, crate_name: &str) -> Vec<SourceFile> {
    rust_files(dir)
        .into_iter()
        .map(|path| SourceFile {
            rel: relative(root, &path),
            crate_name: crate_name.to_string(),
            // An unreadable file becomes empty text; the module-doc rule then reports it.
            text: std::fs::read_to_string(&path).unwrap_or_default(),
        })
        .collect()
}

/// The crate directories under `root/crates`, sorted.
pub fn crate_dirs(root: &Path) -> Vec<(String, PathBuf)> {
    let mut dirs: Vec<(String, PathBuf)> = std::fs::read_dir(root.join("crates"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("Cargo.toml").exists())
        .filter_map(|p| Some((p.file_name()?.to_string_lossy().to_string(), p)))
        .collect();
    dirs.sort();
    dirs
}

/// The library and binary sources (`crates/*/src`) of every crate: where the architecture rules
/// about shipped code apply (tests and benches are not shipped).
pub fn crate_sources(root: &Path) -> Vec<SourceFile> {
    crate_dirs(root)
        .into_iter()
        .flat_map(|(name, dir)| read(root, &dir.join("src"), &name))
        .collect()
}

/// Every Rust file of one crate: sources, tests, benches and examples.
pub fn crate_files(root: &Path, name: &str) -> Vec<SourceFile> {
    read(root, &root.join("crates").join(name), name)
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether an item is test-only: `#[test]` (or `#[tokio::test]`), or `#[cfg(test)]` and
/// `#[cfg(all(test, ...))]`. `#[cfg(not(test))]` is shipped code.
pub fn is_test_only(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|attr| {
        let path = attr.path();
        if path.segments.last().is_some_and(|s| s.ident == "test") {
            return true;
        }
        if !path.is_ident("cfg") {
            return false;
        }
        let cfg: String = match &attr.meta {
            syn::Meta::List(list) => list.tokens.to_string(),
            _ => return false,
        }
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
        cfg == "test" || cfg.starts_with("all(test,")
    })
}

/// Every token of a macro's input, flattened (groups opened), so rules can look into macro
/// calls that `syn` leaves unparsed (`json!`, `format!`, `tokio::select!`).
pub fn flat_tokens(tokens: &TokenStream) -> Vec<TokenTree> {
    let mut out = Vec::new();
    for tt in tokens.clone() {
        match tt {
            TokenTree::Group(group) => out.extend(flat_tokens(&group.stream())),
            other => out.push(other),
        }
    }
    out
}

/// The value of a string or byte-string literal token, if it is one.
pub fn literal_text(tt: &TokenTree) -> Option<String> {
    let TokenTree::Literal(lit) = tt else {
        return None;
    };
    match syn::Lit::new(lit.clone()) {
        syn::Lit::Str(s) => Some(s.value()),
        syn::Lit::ByteStr(b) => Some(String::from_utf8_lossy(&b.value()).to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_only_attributes() {
        let item: syn::ItemMod = syn::parse_quote! { #[cfg(test)] mod tests {} };
        assert!(is_test_only(&item.attrs));
        let item: syn::ItemFn = syn::parse_quote! { #[tokio::test] async fn t() {} };
        assert!(is_test_only(&item.attrs));
        let item: syn::ItemMod = syn::parse_quote! { #[cfg(all(test, unix))] mod tests {} };
        assert!(is_test_only(&item.attrs));
        let item: syn::ItemMod = syn::parse_quote! { #[cfg(not(test))] mod shipped {} };
        assert!(!is_test_only(&item.attrs));
    }
}
