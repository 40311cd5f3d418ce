//! Background WAL checkpoints.
//!
//! A checkpoint copies committed pages from the WAL back into the ledger file and fsyncs it.
//! Left to SQLite's auto-checkpoint, that work (a large write plus an fsync) lands inside
//! whichever tool call happens to cross the threshold, roughly doubling the average cost of
//! recording a read. A thread with its own connection runs passive checkpoints instead, so tool
//! calls only append to the WAL. Passive checkpoints never block the writer or readers.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// How often the WAL is folded back into the ledger file.
///
/// Under load the writer's own checkpoint (below) stalls one commit group for whatever this
/// thread has not copied yet, plus the ledger file's fsync. Copying often keeps that residue
/// small: at 16 sessions, 50 ms instead of 250 ms took the relaxed ledger's proposal p99 from
/// 32-36 ms to 23 ms and the durable one's reads from 9.1-9.4 to 8.2-8.9 ms in three
/// alternating pairs of runs, at the same throughput (docs/performance.md).
const INTERVAL: Duration = Duration::from_millis(50);

/// The writer's own checkpoint threshold, in pages (4 KiB each: about 16 MiB of WAL).
///
/// Under sustained load a passive checkpoint from this thread rarely catches the WAL's very
/// end, because the writer commits again while it runs, and SQLite starts the WAL over only
/// once every frame is back in the ledger file. The writer's auto-checkpoint runs between
/// its own commits, so it does catch the end; by then this thread has copied most frames,
/// which leaves it little to do. Without it the WAL grew to 80–90 MB under load.
pub(crate) const AUTOCHECKPOINT_PAGES: i64 = 4_000;

/// `journal_size_limit`: when the WAL starts over, its file is cut back to this many bytes,
/// so a burst does not leave a large file behind.
pub(crate) const WAL_SIZE_LIMIT: i64 = 16 * 1024 * 1024;

pub(crate) struct Checkpointer {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Start checkpointing the ledger at `path`. `None` when a second connection cannot be
    /// opened: the writer's own auto-checkpoint still bounds the WAL.
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
                    // auto-checkpoint remains the safety net.
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
