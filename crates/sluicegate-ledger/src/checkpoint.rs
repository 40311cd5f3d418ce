//! Background WAL checkpoints.
//!
//! A checkpoint copies committed pages from the WAL back into the ledger file and fsyncs it.
//! Left to SQLite's auto-checkpoint, that work (a large write plus an fsync) lands inside
//! whichever tool call happens to cross the threshold, roughly doubling the average cost of
//! recording a read. A thread with its own connection runs passive checkpoints instead, so tool
//! calls only append to the WAL. Passive checkpoints never block the writer or readers. Only
//! the writer can start the WAL over under sustained load: [`WalRestart`] does it between
//! groups, once a group is committed (its callers are answered, or wait only for the sync
//! thread's fsync of the WAL, see `durable`).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::LedgerError;

/// How often the WAL is folded back into the ledger file.
///
/// Under load the writer's own checkpoint (below) stalls one commit group for whatever this
/// thread has not copied yet, plus the ledger file's fsync. Copying often keeps that residue
/// small: at 16 sessions, 50 ms instead of 250 ms took the relaxed ledger's proposal p99 from
/// 32-36 ms to 23 ms and the durable one's reads from 9.1-9.4 to 8.2-8.9 ms in three
/// alternating pairs of runs, at the same throughput (docs/performance.md).
const INTERVAL: Duration = Duration::from_millis(50);

/// The WAL length, in pages (4 KiB each: about 31 MiB), at which the writer checkpoints it
/// itself once a group is committed ([`WalRestart`]).
///
/// Under sustained load a passive checkpoint from this thread rarely catches the WAL's very
/// end, because the writer commits again while it runs, and SQLite starts the WAL over only
/// once every frame is back in the ledger file. Only the writer, between its own commits, can
/// catch the end; by then this thread has copied most frames, which leaves it little to do.
/// Without that the WAL grew to 80–90 MB under load.
///
/// What is left still costs the writer a few ms (the last frames and an fsync of the ledger
/// file: 2.4–4.9 ms each in a syscall trace at 16 sessions), and every call in flight waits
/// for it. At 2,000 pages that happened about seven times a second at 16 sessions and showed
/// in proposals' p99; at 8,000 it is a quarter as often, and the WAL stays well under the
/// 64 MB bound (docs/performance.md).
pub(crate) const RESTART_PAGES: i32 = 8_000;

/// `journal_size_limit`: when the WAL starts over, its file is cut back to this many bytes,
/// so a burst does not leave a large file behind. Above [`RESTART_PAGES`], so the file is not
/// cut and grown again at every restart under steady load.
pub(crate) const WAL_SIZE_LIMIT: i64 = 40 * 1024 * 1024;

pub(crate) struct Checkpointer {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Start checkpointing the ledger at `path`. `None` when a second connection cannot be
    /// opened: the writer's own checkpoint ([`WalRestart`]) still bounds the WAL.
    pub(crate) fn start(path: &Path) -> Option<Checkpointer> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .ok()?;
        conn.busy_timeout(Duration::from_millis(50)).ok()?;
        let (stop, rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("ledger-checkpoint".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(INTERVAL) {
                    // A busy or failed checkpoint is simply retried next time; the writer's
                    // own checkpoint remains the safety net.
                    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                }
            })
            .ok()?;
        Some(Checkpointer {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The writer's own checkpoint, which starts the WAL over under sustained load.
///
/// SQLite's auto-checkpoint does this from inside `COMMIT`, so the callers of whichever group
/// crossed the threshold waited for the copy and the ledger file's fsync: commits of 8-16 ms
/// at 16 sessions, a few times a second (a timer around each group's commit). This replaces
/// it (SQLite's WAL hook is the auto-checkpoint's; installing ours turns that off): a hook
/// notes the WAL's length at each commit, and the writer checkpoints after the group's
/// commit, outside it: its callers are answered meanwhile (by the sync thread on a durable
/// ledger) and prepare their next calls.
pub(crate) struct WalRestart {
    pages: Arc<AtomicI32>,
}

impl WalRestart {
    /// Watch the WAL of the writer connection `conn` (instead of SQLite's auto-checkpoint).
    pub(crate) fn install(conn: &mut Connection) -> Result<WalRestart, LedgerError> {
        let pages = Arc::new(AtomicI32::new(0));
        let seen = pages.clone();
        conn.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, n: i32| {
            seen.store(n, Ordering::Relaxed);
            Ok(())
        }))?;
        Ok(WalRestart { pages })
    }

    /// After a group is committed: checkpoint when the WAL has reached [`RESTART_PAGES`].
    /// Passive, so it never waits: when the background thread holds the checkpoint it is
    /// busy, and the next group tries again.
    pub(crate) fn after_group(&self, conn: &Connection) {
        if self.pages.load(Ordering::Relaxed) < RESTART_PAGES {
            return;
        }
        let checkpoint =
            conn.wal_checkpoint_v2(None::<&str>, rusqlite::wal::CheckpointMode::PASSIVE);
        if checkpoint.is_ok_and(|(log, done)| log == done) {
            self.pages.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Commit `n` transactions of about 8 pages each.
    fn grow(conn: &Connection, n: usize, restart: Option<&WalRestart>) {
        for _ in 0..n {
            conn.execute("INSERT INTO t (v) VALUES (zeroblob(30000))", [])
                .unwrap();
            if let Some(r) = restart {
                r.after_group(conn);
            }
        }
    }

    fn wal_pages(path: &Path) -> u64 {
        let wal = std::fs::metadata(format!("{}-wal", path.display())).map_or(0, |m| m.len());
        wal / 4096
    }

    /// The writer's hook replaces SQLite's auto-checkpoint (no checkpoint inside a commit),
    /// and its own checkpoint after a group starts the WAL over once it reaches the limit.
    #[test]
    fn the_writer_starts_the_wal_over_after_a_group_and_never_inside_a_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let mut conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t (v BLOB);")
            .unwrap();
        let restart = WalRestart::install(&mut conn).unwrap();
        // Commits of ~8 pages up to ~1.5 × RESTART_PAGES: without any checkpoint the WAL
        // holds them all, far past SQLite's default auto-checkpoint (1,000 pages).
        grow(&conn, RESTART_PAGES as usize * 3 / 16, None);
        assert!(
            wal_pages(&path) > RESTART_PAGES as u64,
            "a checkpoint ran inside a commit: the WAL holds {} pages",
            wal_pages(&path)
        );
        restart.after_group(&conn);
        assert_eq!(restart.pages.load(Ordering::Relaxed), 0);
        // The WAL file keeps its length; what matters is that the next commits start over at
        // its beginning, so it grows no further while the writer checkpoints after groups.
        let before = wal_pages(&path);
        grow(&conn, RESTART_PAGES as usize / 4, Some(&restart));
        assert_eq!(wal_pages(&path), before, "the WAL kept growing");
        assert!(restart.pages.load(Ordering::Relaxed) < RESTART_PAGES + 16);
    }
}
