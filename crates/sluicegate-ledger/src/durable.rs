//! Commit groups made durable off the writer thread.
//!
//! With `synchronous=FULL`, SQLite fsyncs the WAL inside `COMMIT`: the writer thread waits
//! out the fsync (0.5–1.5 ms on this project's kind of disk, now and then 3–11 ms) while the
//! next callers queue in front of it. A durable ledger's writer commits with
//! `synchronous=NORMAL` instead (the commit's frames are written to the WAL, not fsynced;
//! SQLite still fsyncs the WAL before any checkpoint copies pages into the ledger file) and
//! hands the group's answers to this module's thread, which fsyncs the WAL and only then
//! answers them. Meanwhile the writer runs the next group. One fsync covers every group
//! whose commit returned before it started, so nobody is answered before their records are
//! on disk, and no group waits for another's fsync on the writer thread.
//!
//! An fsync that fails is never retried as if nothing happened (the kernel may have dropped
//! the pages it could not write and cleared the error): from then on every group is answered
//! with an error, and the server refuses calls instead of serving them unrecorded.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

use crate::LedgerError;

/// A committed group's answers, each called once the group is durable (or cannot be).
pub(crate) type Answers = Vec<Box<dyn FnOnce(Result<(), &str>) + Send>>;

/// Test hook: called right after each fsync of the WAL, before the answers it covers.
pub(crate) type Observer = Box<dyn Fn() + Send + Sync>;

/// What the sync thread and the writer thread share.
struct Shared {
    /// Set by the first failed fsync and kept: see the module comment.
    broken: OnceLock<String>,
    observer: Option<Observer>,
}

/// The sync thread and the channel of committed groups that feeds it. Owned by the writer
/// thread; dropping it answers every group already handed over, then joins the thread.
pub(crate) struct Syncer {
    groups: Option<Sender<Answers>>,
    thread: Option<JoinHandle<()>>,
    /// The writer thread's own handle on the WAL, for [`Syncer::sync_here`].
    here: WalFile,
    shared: Arc<Shared>,
}

impl Syncer {
    /// Start syncing the WAL of the ledger at `ledger`.
    pub(crate) fn start(ledger: &Path, observer: Option<Observer>) -> Result<Syncer, LedgerError> {
        let mut wal = ledger.as_os_str().to_owned();
        wal.push("-wal");
        Syncer::start_for(PathBuf::from(wal), observer)
    }

    /// [`Syncer::start`] for the WAL at `wal` (tests give it one that cannot be synced).
    pub(crate) fn start_for(
        wal: PathBuf,
        observer: Option<Observer>,
    ) -> Result<Syncer, LedgerError> {
        let shared = Arc::new(Shared {
            broken: OnceLock::new(),
            observer,
        });
        let (groups, rx) = channel::<Answers>();
        let (there, on_thread) = (WalFile::new(wal.clone()), shared.clone());
        let thread = std::thread::Builder::new()
            .name("ledger-sync".into())
            .spawn(move || run(there, rx, &on_thread))
            .map_err(|e| LedgerError::Io(format!("start the ledger sync thread: {e}")))?;
        Ok(Syncer {
            groups: Some(groups),
            thread: Some(thread),
            here: WalFile::new(wal),
            shared,
        })
    }

    /// Answer `answers` once the WAL holding their committed group is fsynced, on the sync
    /// thread, while the writer goes on.
    pub(crate) fn answer_when_durable(&self, answers: Answers) {
        let Some(groups) = self.groups.as_ref() else {
            return fail(answers, STOPPED);
        };
        if let Err(returned) = groups.send(answers) {
            fail(returned.0, STOPPED);
        }
    }

    /// Fsync on the calling (writer) thread, then answer: for a group nobody else waits
    /// behind, where handing it to the sync thread would only add that thread's wake-up
    /// (tens of µs on a virtual machine) to a lone caller's wait.
    pub(crate) fn sync_here(&mut self, answers: Answers) {
        sync_and_answer(&mut self.here, &self.shared, answers);
    }
}

const STOPPED: &str = "the ledger sync thread has stopped";

impl Drop for Syncer {
    fn drop(&mut self) {
        drop(self.groups.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn fail(answers: Answers, why: &str) {
    for answer in answers {
        answer(Err(why));
    }
}

/// The sync loop: take every group waiting, fsync once, answer them all.
fn run(mut wal: WalFile, rx: Receiver<Answers>, shared: &Shared) {
    while let Ok(first) = rx.recv() {
        let mut answers = first;
        while let Ok(more) = rx.try_recv() {
            answers.extend(more);
        }
        sync_and_answer(&mut wal, shared, answers);
    }
}

/// Fsync the WAL, then answer `answers`: with success, or, once any fsync has failed, with
/// why nothing is recorded any more.
fn sync_and_answer(wal: &mut WalFile, shared: &Shared, answers: Answers) {
    if shared.broken.get().is_none()
        && let Err(e) = wal.sync()
    {
        let _ = shared.broken.set(format!(
            "the ledger could not make its WAL durable (fsync {}: {e}); nothing is recorded \
             from now on: restart the server once the disk is healthy",
            wal.path.display()
        ));
    }
    if let Some(observer) = shared.observer.as_ref() {
        observer();
    }
    match shared.broken.get() {
        None => answers.into_iter().for_each(|answer| answer(Ok(()))),
        Some(why) => fail(answers, why),
    }
}

/// The WAL file, opened on first use (SQLite creates it with the first write) and again if
/// it is ever replaced.
struct WalFile {
    path: PathBuf,
    file: Option<(File, u64)>,
}

impl WalFile {
    fn new(path: PathBuf) -> WalFile {
        WalFile { path, file: None }
    }

    /// fsync the WAL. An fsync flushes the file, whichever descriptor asks, so SQLite's
    /// writes through its own descriptor are covered.
    fn sync(&mut self) -> std::io::Result<()> {
        let inode = inode(&std::fs::metadata(&self.path)?);
        if self.file.as_ref().is_none_or(|(_, open)| *open != inode) {
            let file = File::open(&self.path)?;
            let opened = inode_of(&file)?;
            // A new WAL's name must be durable too, as SQLite's own first fsync of it makes it.
            sync_directory(&self.path)?;
            self.file = Some((file, opened));
        }
        match &self.file {
            Some((file, _)) => file.sync_all(),
            None => Ok(()),
        }
    }
}

#[cfg(unix)]
fn inode(meta: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(meta)
}

#[cfg(not(unix))]
fn inode(_meta: &std::fs::Metadata) -> u64 {
    0
}

fn inode_of(file: &File) -> std::io::Result<u64> {
    Ok(inode(&file.metadata()?))
}

#[cfg(unix)]
fn sync_directory(file: &Path) -> std::io::Result<()> {
    match file.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => File::open(dir)?.sync_all(),
        None => File::open(".")?.sync_all(),
    }
}

#[cfg(not(unix))]
fn sync_directory(_file: &Path) -> std::io::Result<()> {
    Ok(())
}
