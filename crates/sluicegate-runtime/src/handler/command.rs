//! The `command_handler` transport (writeback.md §C.6): spawn the program directly (no shell),
//! write the request JSON on stdin, read the receipt from stdout, capture stderr, and stop it
//! on timeout: SIGTERM to its whole process group, then SIGKILL after a short grace.

use std::process::Stdio;
use std::time::Duration;

use sluicegate_core::handler::HandlerOutcome;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use super::CommandHandler;

/// The most stdout Sluicegate reads as a receipt.
const MAX_STDOUT: usize = 1024 * 1024;
/// How much stderr is kept in memory (the receipt keeps far less).
const MAX_STDERR: usize = 64 * 1024;
/// How long a handler gets to exit after SIGTERM before it is killed.
const TERM_GRACE: Duration = Duration::from_millis(1000);

/// Read up to `limit` bytes, then keep draining so the child never blocks on a full pipe.
/// Returns the bytes kept and whether anything was dropped.
async fn read_capped(mut r: impl AsyncRead + Unpin, limit: usize) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let mut over = false;
    let mut buf = [0u8; 8192];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = limit.saturating_sub(kept.len());
                if n > room {
                    over = true;
                }
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
    (kept, over)
}

fn signal_group(pid: Option<u32>, signal: rustix::process::Signal) {
    if let Some(pid) = pid
        .and_then(|p| i32::try_from(p).ok())
        .and_then(rustix::process::Pid::from_raw)
    {
        // The group may already be gone; there is nothing more to do then.
        let _ = rustix::process::kill_process_group(pid, signal);
    }
}

/// Run the handler once. Whatever happens is reported as an outcome, never retried.
pub(super) async fn run(h: &CommandHandler, input: String) -> HandlerOutcome {
    let Some((program, args)) = h.argv.split_first() else {
        return HandlerOutcome::RequestFailed;
    };
    let mut cmd = Command::new(program.expose());
    cmd.args(args.iter().map(|a| a.expose()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout stops the helpers it started too.
        .process_group(0)
        .kill_on_drop(true);
    let Ok(mut child) = cmd.spawn() else {
        return HandlerOutcome::RequestFailed;
    };
    let pid = child.id();
    let (Some(mut stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        signal_group(pid, rustix::process::Signal::KILL);
        return HandlerOutcome::RequestFailed;
    };
    let writer = tokio::spawn(async move {
        // A handler may exit without reading its input; that is its answer, not our error.
        let _ = stdin.write_all(input.as_bytes()).await;
        let _ = stdin.shutdown().await;
    });
    let out = tokio::spawn(read_capped(stdout, MAX_STDOUT));
    let err = tokio::spawn(read_capped(stderr, MAX_STDERR));

    let finished = tokio::time::timeout(h.timeout, async {
        let status = child.wait().await;
        let out = out.await.unwrap_or_default();
        let err = err.await.unwrap_or_default();
        (status, out, err)
    })
    .await;
    writer.abort();
    let Ok((status, (stdout, stdout_over), (stderr, _))) = finished else {
        signal_group(pid, rustix::process::Signal::TERM);
        if tokio::time::timeout(TERM_GRACE, child.wait())
            .await
            .is_err()
        {
            signal_group(pid, rustix::process::Signal::KILL);
            let _ = child.kill().await;
        } else {
            // The leader exited; helpers it left in the group get no grace of their own.
            signal_group(pid, rustix::process::Signal::KILL);
        }
        return HandlerOutcome::Timeout;
    };
    let Ok(status) = status else {
        return HandlerOutcome::RequestFailed;
    };
    match status.code() {
        Some(0) if stdout_over => HandlerOutcome::TooLarge,
        Some(0) => HandlerOutcome::Body(String::from_utf8_lossy(&stdout).into_owned()),
        code => HandlerOutcome::Exit {
            code,
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        },
    }
}
