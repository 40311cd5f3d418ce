//! A call is answered only after its record is durable. Observed from outside with strace on a
//! real stdio server: with the default durability, the WAL is fsynced after the call's
//! records are written to it and before the answer is written to stdout (by the ledger's sync
//! thread, or by the writer thread itself for a lone caller); with `"durability": "relaxed"`
//! it is not (so the test can tell the two apart).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::mcp_support;

use std::path::Path;
use std::process::Command;

use mcp_support::{Fixture, READ, StdioClient};
use serde_json::json;
use sluicegate_test_support::skip_or_fail;

/// One syscall line of `strace -f -y`: thread id, call name, and the rest of the line.
struct Syscall<'a> {
    tid: &'a str,
    name: &'a str,
    rest: &'a str,
}

fn parse(line: &str) -> Option<Syscall<'_>> {
    let (tid, rest) = line.split_once(' ')?;
    let rest = rest.trim_start();
    // A call finishing after another thread's line: `<... fdatasync resumed>) = 0`.
    if let Some(resumed) = rest.strip_prefix("<... ") {
        let (name, rest) = resumed.split_once(" resumed>")?;
        return Some(Syscall { tid, name, rest });
    }
    let (name, rest) = rest.split_once('(')?;
    Some(Syscall { tid, name, rest })
}

fn on_wal(s: &Syscall<'_>) -> bool {
    s.rest.contains("-wal>")
}

/// A write to a pipe: the server's stdout (it keeps the protocol stream on a duplicate of fd
/// 1, so the number varies; stderr goes to /dev/null here).
fn to_pipe(s: &Syscall<'_>) -> bool {
    s.rest.split_once('<').is_some_and(|(fd, path)| {
        fd.bytes().all(|b| b.is_ascii_digit()) && path.starts_with("pipe:")
    })
}

fn is_sync(s: &Syscall<'_>) -> bool {
    matches!(s.name, "fdatasync" | "fsync")
}

/// Run one read through a server traced by strace and return, for the answered call: whether
/// an fsync of the WAL, by any thread, both started and finished between the last write of
/// its records to the WAL and the answer.
fn wal_synced_before_answer(durability: &str) -> Option<(bool, String)> {
    if Command::new("strace").arg("-V").output().is_err() {
        return skip_or_fail("strace is not installed (scripts/test.sh installs it)");
    }
    let fx = Fixture::new(2);
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&fx.config).unwrap()).unwrap();
    config["storage"] = json!({"durability": durability});
    std::fs::write(&fx.config, config.to_string()).unwrap();

    let trace = fx.dir.path().join("strace.txt");
    let server = fx.cmd();
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-y", "-qq", "-s", "0", "-o"])
        .arg(&trace)
        .args(["-e", "trace=pwrite64,pwritev,fdatasync,fsync,write,writev"])
        .arg(server.get_program())
        .args(["mcp", "serve"])
        .args(fx.paths())
        .current_dir(fx.dir.path())
        .envs(fx.envs());
    let mut client = StdioClient::start(cmd);
    // The first call creates the ledger; the second is the one observed.
    for id in ["INV-3001", "INV-3002"] {
        let answer = client.call(READ, json!({"invoice_id": id}));
        assert_ne!(answer["result"]["isError"], json!(true), "{answer}");
    }
    assert!(client.finish().success());
    let trace = std::fs::read_to_string(&trace).unwrap();
    Some((analyse(&trace, &fx.store), trace))
}

fn analyse(trace: &str, store: &Path) -> bool {
    let lines: Vec<&str> = trace.lines().collect();
    let calls: Vec<Syscall<'_>> = lines.iter().filter_map(|l| parse(l)).collect();
    let answer = calls
        .iter()
        .rposition(|s| matches!(s.name, "write" | "writev") && to_pipe(s))
        .unwrap_or_else(|| panic!("no answer written to stdout in the trace:\n{trace}"));
    let last_wal_write = calls[..answer]
        .iter()
        .rposition(|s| s.name.starts_with("pwrite") && on_wal(s))
        .unwrap_or_else(|| {
            panic!(
                "the answered call wrote nothing to {}-wal before its answer:\n{trace}",
                store.display()
            )
        });
    let ledger_file = format!("{}>", store.display());
    // The checkpoint thread also fsyncs the WAL, right before it copies pages into the ledger
    // file; that fsync says nothing about the answer. So an fsync counts only when the same
    // thread's next call is not a write to the ledger file.
    let resumes = |r: &Syscall<'_>, s: &Syscall<'_>| r.name == s.name && !r.rest.contains('(');
    let before_a_checkpoint = |i: usize| {
        calls[i + 1..]
            .iter()
            .find(|r| r.tid == calls[i].tid && !resumes(r, &calls[i]))
            .is_some_and(|r| r.name.starts_with("pwrite") && r.rest.contains(&ledger_file))
    };
    // strace splits a call another thread interrupts into `<unfinished ...>` and, on the
    // same thread, `<... fsync resumed>`: such a call counts once it has resumed before the
    // answer.
    (last_wal_write + 1..answer).any(|i| {
        let s = &calls[i];
        is_sync(s)
            && on_wal(s)
            && !before_a_checkpoint(i)
            && (!s.rest.contains("<unfinished")
                || calls[i + 1..answer]
                    .iter()
                    .any(|r| r.tid == s.tid && resumes(r, s)))
    })
}

#[test]
fn the_default_fsyncs_every_recorded_call_before_answering_it() {
    let Some((synced, trace)) = wal_synced_before_answer("full") else {
        return;
    };
    assert!(
        synced,
        "with the default durability the WAL must be fsynced after the call's records are written and before the answer:\n{trace}"
    );
}

#[test]
fn relaxed_durability_answers_without_an_fsync() {
    let Some((synced, trace)) = wal_synced_before_answer("relaxed") else {
        return;
    };
    assert!(
        !synced,
        "relaxed durability should not fsync per commit (otherwise this test cannot tell the modes apart):\n{trace}"
    );
}
