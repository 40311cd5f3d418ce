//! Link the `sluicegate` executable with packed relative relocations (`DT_RELR`) where the C
//! library can load them.
//!
//! A position-independent executable carries one relocation per pointer in its read-only
//! data, and the dynamic loader reads and applies all of them before `main`. Here that was
//! about 44,000 entries in a 1 MB table: `-z pack-relative-relocs` packs them into about
//! 17 KB, which took about 1 MiB off a stdio server's resident memory, 1 MB off the binary
//! and (copies made the same way, alternating) about 0.3 ms off its cold start
//! (docs/performance.md). Loading such a binary needs glibc 2.36 or later (the linker records
//! that requirement, so an older loader refuses the binary instead of crashing), so the flag
//! is used only for a native build on a glibc at least that new. `SLUICEGATE_NO_RELR=1` turns
//! it off, for a binary meant to be copied to an older system.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SLUICEGATE_NO_RELR");
    let target = std::env::var("TARGET").unwrap_or_default();
    let host = std::env::var("HOST").unwrap_or_default();
    if target != host || !target.ends_with("-linux-gnu") {
        return;
    }
    if std::env::var_os("SLUICEGATE_NO_RELR").is_some_and(|v| !v.is_empty() && v != "0") {
        return;
    }
    if glibc_version().is_some_and(|v| v >= (2, 36)) {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// The build machine's glibc version, from `getconf GNU_LIBC_VERSION` ("glibc 2.36").
fn glibc_version() -> Option<(u32, u32)> {
    let out = Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
        .ok()?;
    parse_glibc_version(std::str::from_utf8(&out.stdout).ok()?)
}

fn parse_glibc_version(s: &str) -> Option<(u32, u32)> {
    let version = s.trim().strip_prefix("glibc ")?;
    let mut parts = version.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts
        .next()?
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .ok()?;
    Some((major, minor))
}
