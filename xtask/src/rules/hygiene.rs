//! File hygiene: every Rust file opens with a `//!` line saying what it is for, no source file
//! grows past [`MAX_FILE_LINES`], and the binary crate stays thin (wiring, not logic).
//!
//! Files and crates over a limit today are listed with today's size as a ceiling: they may
//! shrink, not grow, and an entry fails once its file is back under the limit so it gets deleted.

use crate::tree::SourceFile;

/// Longest a file in `crates/*/src` may be.
pub const MAX_FILE_LINES: usize = 800;

/// Files over [`MAX_FILE_LINES`] today, with their line count as a ceiling.
pub const OVERSIZED: &[(&str, usize)] = &[];

/// The binary crate: argv, exit codes and wiring only.
pub const BINARY: &str = "sluicegate";

/// Most lines `crates/sluicegate/src` may hold in total.
pub const MAX_BINARY_LINES: usize = 4000;

/// Today's total of `crates/sluicegate/src`, over [`MAX_BINARY_LINES`]: it may only go down.
/// Set to `None` once the crate is under the limit.
pub const BINARY_CEILING: Option<usize> = None;

/// Files whose first non-blank line is not a `//!` doc line.
pub fn missing_module_docs(files: &[SourceFile]) -> Vec<String> {
    files
        .iter()
        .filter(|f| {
            let first = f.text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            !first.starts_with("//!")
        })
        .map(|f| format!("{}: does not start with a `//!` line", f.rel))
        .collect()
}

/// Files over `max` lines that are not allowlisted, allowlisted files over their ceiling, and
/// allowlist entries whose file is no longer over `max` (or gone).
pub fn oversized(files: &[SourceFile], max: usize, allowlist: &[(&str, usize)]) -> Vec<String> {
    let mut out = Vec::new();
    for file in files {
        let lines = file.lines();
        if lines <= max {
            continue;
        }
        match allowlist.iter().find(|(rel, _)| *rel == file.rel) {
            None => out.push(format!("{}: {lines} lines, over {max}: split it", file.rel)),
            Some((_, ceiling)) if lines > *ceiling => out.push(format!(
                "{}: {lines} lines, over its allowlisted ceiling of {ceiling}: it may only shrink",
                file.rel
            )),
            Some(_) => {}
        }
    }
    for (rel, _) in allowlist {
        if !files.iter().any(|f| f.rel == *rel && f.lines() > max) {
            out.push(format!(
                "allowlist entry `{rel}` is no longer over {max} lines: delete it (the list only shrinks)"
            ));
        }
    }
    out
}

/// The total line count of `files` against `max`, with an optional ceiling for a crate that is
/// over it today.
pub fn total(label: &str, files: &[SourceFile], max: usize, ceiling: Option<usize>) -> Vec<String> {
    let lines: usize = files.iter().map(SourceFile::lines).sum();
    match ceiling {
        None if lines > max => vec![format!("{label}: {lines} lines, over {max}")],
        Some(ceiling) if lines > ceiling => vec![format!(
            "{label}: {lines} lines, over its ceiling of {ceiling}: it may only shrink"
        )],
        Some(_) if lines <= max => vec![format!(
            "{label}: {lines} lines, under {max}: drop its ceiling"
        )],
        _ => Vec::new(),
    }
}

/// Text that marks a test skipping on its own (instead of through
/// `sluicegate_test_support::skip_or_fail`, whose one marker `scripts/test.sh` fails on) or
/// installing packages (which hides a missing prerequisite behind the network; installs belong
/// in `scripts/lib/test-deps.sh`).
pub const TEST_SMELLS: &[&str] = &[
    "\"skipping",
    "skipped:",
    "pip install",
    "\"pip\"",
    "npm install",
];

/// Test files (under a crate's `tests/`) that skip on their own or install packages.
pub fn test_smells(files: &[SourceFile]) -> Vec<String> {
    files
        .iter()
        .filter(|f| f.rel.contains("/tests/"))
        .flat_map(|f| {
            let text = f.text.to_lowercase();
            TEST_SMELLS
                .iter()
                .filter(move |bad| text.contains(*bad))
                .map(move |bad| {
                    format!(
                        "{}: {bad} (use skip_or_fail; install in scripts/lib/test-deps.sh)",
                        f.rel
                    )
                })
        })
        .collect()
}

/// The one integration-test binary a crate with several test files links: its root.
pub const INTEGRATION_ROOT: &str = "integration.rs";

/// A crate's test files (`files`: everything under its `tests/`, `rel` from the workspace root)
/// against the one-binary rule: several top-level `tests/*.rs` files must be modules of
/// `tests/integration.rs`, under a manifest that turns `autotests` off. A file the root does not
/// declare would never be compiled, so it is named.
pub fn test_binaries(crate_dir: &str, files: &[SourceFile], manifest: &str) -> Vec<String> {
    let prefix = format!("{crate_dir}/tests/");
    let top: Vec<&SourceFile> = files
        .iter()
        .filter(|f| {
            f.rel
                .strip_prefix(&prefix)
                .is_some_and(|n| !n.contains('/'))
        })
        .collect();
    let root_rel = format!("{prefix}{INTEGRATION_ROOT}");
    let Some(root) = top.iter().find(|f| f.rel == root_rel) else {
        return match top.len() {
            0 | 1 => Vec::new(),
            n => vec![format!(
                "{prefix}: {n} test files link {n} binaries: make them modules of \
                 tests/{INTEGRATION_ROOT} (with `autotests = false`)"
            )],
        };
    };
    let declared: Vec<String> = match root.parse() {
        Ok(file) => file
            .items
            .iter()
            .filter_map(|item| match item {
                syn::Item::Mod(m) if m.content.is_none() => Some(m.ident.to_string()),
                _ => None,
            })
            .collect(),
        Err(e) => return vec![e],
    };
    let mut out = Vec::new();
    if !manifest
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .any(|l| l.split_whitespace().collect::<String>() == "autotests=false")
    {
        out.push(format!(
            "{crate_dir}/Cargo.toml: has tests/{INTEGRATION_ROOT} but not `autotests = false`, \
             so each test file is also built as its own binary"
        ));
    }
    for file in top.iter().filter(|f| f.rel != root.rel) {
        let stem = file.rel[prefix.len()..].trim_end_matches(".rs");
        if !declared.iter().any(|d| d == stem) {
            out.push(format!(
                "{}: not a module of tests/{INTEGRATION_ROOT}, so it never runs: add `mod {stem};`",
                file.rel
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::assert_none;
    use crate::testing::sorted;
    use crate::{fixture_workspace, root, tree};

    #[test]
    fn every_rust_file_starts_with_a_module_doc() {
        let root = root();
        let mut files = tree::read(&root, &root.join("crates"), "");
        // xtask's own code and probe, not the fixture workspace: that is data shaped to break
        // rules, this one included.
        files.extend(
            tree::read(&root, &root.join("xtask"), "xtask")
                .into_iter()
                .filter(|f| !f.rel.starts_with("xtask/testdata/workspace/")),
        );
        // The fuzz targets live outside the workspace (their own `[workspace]`), not outside
        // the conventions.
        files.extend(tree::read(&root, &root.join("fuzz"), "fuzz"));
        assert_none(
            "files without a leading //! doc line",
            &missing_module_docs(&files),
        );
    }

    #[test]
    fn module_doc_fixture_is_refused() {
        let ws = fixture_workspace();
        assert_eq!(
            missing_module_docs(&tree::read(&ws, &ws.join("crates"), "")),
            vec!["crates/sluicegate-core/src/missing_doc.rs: does not start with a `//!` line"]
        );
    }

    #[test]
    fn source_files_stay_small() {
        let root = root();
        let mut files = tree::crate_sources(&root);
        files.extend(tree::read(&root, &root.join("xtask/src"), "xtask"));
        assert_none(
            "oversized source files",
            &oversized(&files, MAX_FILE_LINES, OVERSIZED),
        );
    }

    #[test]
    fn oversized_fixture_is_refused() {
        let files = tree::crate_sources(&fixture_workspace());
        let big = "crates/sluicegate/src/oversized.rs";
        assert_eq!(
            oversized(&files, MAX_FILE_LINES, &[]),
            vec![format!("{big}: 801 lines, over 800: split it")]
        );
        assert_none(
            "allowlisted",
            &oversized(&files, MAX_FILE_LINES, &[(big, 801)]),
        );
        assert_eq!(
            oversized(&files, MAX_FILE_LINES, &[(big, 790)]),
            vec![format!(
                "{big}: 801 lines, over its allowlisted ceiling of 790: it may only shrink"
            )]
        );
        let small = "crates/sluicegate/src/lib.rs";
        assert_eq!(
            sorted(oversized(
                &files,
                MAX_FILE_LINES,
                &[(big, 801), (small, 900)]
            )),
            vec![format!(
                "allowlist entry `{small}` is no longer over 800 lines: delete it (the list only shrinks)"
            )]
        );
    }

    #[test]
    fn binary_crate_stays_thin() {
        let root = root();
        let files = tree::read(&root, &root.join("crates/sluicegate/src"), BINARY);
        assert_none(
            "binary crate too large",
            &total(
                "crates/sluicegate/src",
                &files,
                MAX_BINARY_LINES,
                BINARY_CEILING,
            ),
        );
    }

    /// The fixture's binary crate holds 802 lines (an 801-line file and a doc line).
    #[test]
    fn binary_total_fixture_is_refused() {
        let ws = fixture_workspace();
        let files = tree::read(&ws, &ws.join("crates/sluicegate/src"), BINARY);
        let label = "crates/sluicegate/src";
        assert_eq!(
            total(label, &files, 800, None),
            vec![format!("{label}: 802 lines, over 800")]
        );
        assert_none("under the ceiling", &total(label, &files, 800, Some(802)));
        assert_eq!(
            total(label, &files, 800, Some(801)),
            vec![format!(
                "{label}: 802 lines, over its ceiling of 801: it may only shrink"
            )]
        );
        assert_eq!(
            total(label, &files, 4000, Some(802)),
            vec![format!("{label}: 802 lines, under 4000: drop its ceiling")]
        );
    }

    #[test]
    fn tests_skip_only_through_the_helper_and_install_nothing() {
        let files: Vec<SourceFile> = tree::crate_dirs(&root())
            .into_iter()
            .flat_map(|(name, dir)| tree::read(&root(), &dir.join("tests"), &name))
            .collect();
        assert!(files.len() > 10, "crate tests not found");
        assert_none(
            "tests that skip or install on their own",
            &test_smells(&files),
        );
    }

    #[test]
    fn test_smell_fixture_is_refused() {
        let file = |rel: &str, text: &str| SourceFile {
            rel: rel.into(),
            crate_name: "sluicegate".into(),
            text: text.into(),
        };
        let files = [
            file(
                "crates/sluicegate/tests/a.rs",
                "eprintln!(\"skipping: no db\");",
            ),
            file(
                "crates/sluicegate/tests/b.rs",
                "Command::new(\"pip\").args([\"install\"])",
            ),
            file("crates/sluicegate/tests/c.rs", "skip_or_fail(\"no db\")"),
            file(
                "crates/sluicegate/src/d.rs",
                "// pip install is documented here",
            ),
        ];
        let found = test_smells(&files);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("crates/sluicegate/tests/a.rs"));
        assert!(found[1].starts_with("crates/sluicegate/tests/b.rs"));
    }

    #[test]
    fn each_crate_links_at_most_one_integration_test_binary() {
        let root = root();
        let mut found = Vec::new();
        for (name, dir) in tree::crate_dirs(&root) {
            let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
            let files = tree::read(&root, &dir.join("tests"), &name);
            found.extend(test_binaries(&format!("crates/{name}"), &files, &manifest));
        }
        assert_none("integration tests outside their crate's one binary", &found);
    }

    #[test]
    fn test_binary_fixture_is_refused() {
        let file = |rel: &str, text: &str| SourceFile {
            rel: rel.into(),
            crate_name: "x".into(),
            text: text.into(),
        };
        let off = "[package]\nautotests = false\n";
        let two = [
            file("crates/x/tests/a.rs", ""),
            file("crates/x/tests/b.rs", ""),
            file("crates/x/tests/common/mod.rs", ""),
        ];
        assert_eq!(
            test_binaries("crates/x", &two, "[package]\n"),
            vec![
                "crates/x/tests/: 2 test files link 2 binaries: make them modules of \
                 tests/integration.rs (with `autotests = false`)"
            ]
        );
        assert_none("one file", &test_binaries("crates/x", &two[..1], ""));
        let merged = [
            file("crates/x/tests/integration.rs", "mod common;\nmod a;\n"),
            file("crates/x/tests/a.rs", ""),
            file("crates/x/tests/b.rs", ""),
            file("crates/x/tests/common/mod.rs", ""),
        ];
        assert_eq!(
            test_binaries("crates/x", &merged, off),
            vec![
                "crates/x/tests/b.rs: not a module of tests/integration.rs, so it never runs: \
                 add `mod b;`"
            ]
        );
        assert_eq!(
            test_binaries("crates/x", &merged[..2], "[package]\n"),
            vec![
                "crates/x/Cargo.toml: has tests/integration.rs but not `autotests = false`, so \
                 each test file is also built as its own binary"
            ]
        );
        assert_none(
            "all declared",
            &test_binaries("crates/x", &merged[..2], off),
        );
        let commented = "[package]\nautotests = false # one binary\n";
        assert_none(
            "commented",
            &test_binaries("crates/x", &merged[..2], commented),
        );
        // Only `tests/integration.rs` itself is the root, not a file whose name ends like it.
        let lookalike = [
            file("crates/x/tests/my_integration.rs", "mod a;\n"),
            file("crates/x/tests/a.rs", ""),
        ];
        assert_eq!(test_binaries("crates/x", &lookalike, off).len(), 1);
    }
}
