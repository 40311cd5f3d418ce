//! The in-repo conformance vectors against `../shared/conformance`, when that folder sits
//! beside the checkout: the same files, byte for byte, both ways. Without it there is nothing
//! to compare; the tests still run on the in-repo copy, so this is not a skip, and it says so.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use sluicegate_test_support::{conformance_dir, shared_conformance_dir};

/// Every file under `dir`, relative to it, except the top-level README (each side writes its
/// own: ours is not a copy).
fn files(dir: &Path) -> BTreeSet<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.insert(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out.remove(Path::new("README.md"));
    out
}

/// Written past the harness's capture so that which case ran shows in every test log.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "conformance_copy: {line}");
}

#[test]
fn in_repo_vectors_equal_the_shared_folder() {
    let ours = conformance_dir();
    let Some(shared) = shared_conformance_dir() else {
        say(
            "no ../shared/conformance beside this checkout; the in-repo vectors are the ones under test",
        );
        return;
    };
    let (mine, theirs) = (files(&ours), files(&shared));
    let missing: Vec<_> = theirs.difference(&mine).collect();
    assert!(
        missing.is_empty(),
        "{} lacks files that {} has (copy them byte for byte): {missing:?}",
        ours.display(),
        shared.display()
    );
    let extra: Vec<_> = mine.difference(&theirs).collect();
    assert!(
        extra.is_empty(),
        "{} has files that {} does not: {extra:?}",
        ours.display(),
        shared.display()
    );
    let differ: Vec<_> = mine
        .iter()
        .filter(|f| std::fs::read(ours.join(f)).unwrap() != std::fs::read(shared.join(f)).unwrap())
        .collect();
    assert!(
        differ.is_empty(),
        "these in-repo vectors differ from {}: {differ:?}",
        shared.display()
    );
    say(&format!(
        "{} files identical to {}",
        mine.len(),
        shared.display()
    ));
}

#[test]
fn in_repo_vectors_are_complete() {
    // The tests name these folders; an accidental deletion should fail here, by name.
    let ours = conformance_dir();
    let all = files(&ours);
    for folder in [
        "schemas",
        "fixtures/protocol",
        "fixtures/benchmark",
        "examples",
        "recipes",
    ] {
        assert!(
            all.iter().any(|f| f.starts_with(folder)),
            "{}/{folder} is empty",
            ours.display()
        );
    }
    assert!(ours.join("README.md").is_file(), "conformance/README.md");
}
