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
//! A group that commits nothing (its jobs refused) is answered only once every earlier commit
//! is durable too, since a refusal may rest on an earlier group's row (a receipt that exists).
//!
//! An fsync that fails is never retried as if nothing happened (the kernel may have dropped
//! the pages it could not write and cleared the error): its group is answered with an error,
//! and from then on the writer refuses every job without running it, so the server refuses
//! calls instead of serving them unrecorded.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

use crate::LedgerError;

/// A group's answers, each called once the group (and every commit before it) is durable, or
/// cannot be.
pub(crate) type Answers = Vec<Box<dyn FnOnce(Result<(), &str>) + Send>>;

/// Test hook: called right after each fsync of the WAL, before the answers it covers.
pub(crate) type Observer = Box<dyn Fn() + Send + Sync>;

/// What the sync thread and the writer thread share.
struct Shared {
    /// Set by the first failed fsync and kept: see the module comment.
    broken: OnceLock<String>,
    /// The number of the last commit known to be on disk (commits are numbered from 1 by the
    /// writer, in order).
    durable: AtomicU64,
    observer: Option<Observer>,
}

/// Answers waiting for every commit up to `upto` to be durable.
struct Batch {
    upto: u64,
    answers: Answers,
}

/// The sync thread and the channel of committed groups that feeds it. Owned by the writer
/// thread; dropping it answers every group already handed over, then joins the thread.
pub(crate) struct Syncer {
    groups: Option<Sender<Batch>>,
    thread: Option<JoinHandle<()>>,
    /// The writer thread's own handle on the WAL, for a lone caller's group.
    here: WalFile,
    /// Commits made so far (the writer's count; see [`Shared::durable`]).
    committed: u64,
    shared: Arc<Shared>,
}

impl Syncer {
    /// Start syncing the WAL of the ledger at `ledger` (the file SQLite opened).
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
            durable: AtomicU64::new(0),
            observer,
        });
        let (groups, rx) = channel::<Batch>();
        let (there, on_thread) = (WalFile::new(wal.clone()), shared.clone());
        let thread = std::thread::Builder::new()
            .name("ledger-sync".into())
            .spawn(move || run(there, rx, &on_thread))
            .map_err(|e| LedgerError::Io(format!("start the ledger sync thread: {e}")))?;
        Ok(Syncer {
            groups: Some(groups),
            thread: Some(thread),
            here: WalFile::new(wal),
            committed: 0,
            shared,
        })
    }

    /// Why nothing may be recorded any more, once an fsync has failed. The writer refuses
    /// every job then without running it, so no later commit stands that nobody was told of.
    pub(crate) fn broken(&self) -> Option<&str> {
        self.shared.broken.get().map(String::as_str)
    }

    /// A group was committed: answer it once the WAL is fsynced. `alone`: nobody waits behind
    /// the group, so the fsync runs here, on the writer thread (handing it to the sync thread
    /// would only add that thread's wake-up, tens of µs on a virtual machine, to a lone
    /// caller's wait); otherwise on the sync thread, while the writer goes on.
    pub(crate) fn committed(&mut self, answers: Answers, alone: bool) {
        self.committed += 1;
        if alone && self.shared.durable.load(Ordering::Acquire) + 1 == self.committed {
            sync_and_answer(&mut self.here, &self.shared, self.committed, answers);
        } else {
            self.send(answers);
        }
    }

    /// A group committed nothing (its jobs refused, or its commit failed). Its answers may
    /// still rest on rows an earlier group committed (a refusal because a receipt exists), so
    /// they wait until every earlier commit is durable: at once when it already is.
    pub(crate) fn nothing_committed(&mut self, answers: Answers) {
        if self.shared.durable.load(Ordering::Acquire) >= self.committed {
            answers.into_iter().for_each(|answer| answer(Ok(())));
        } else {
            self.send(answers);
        }
    }

    fn send(&self, answers: Answers) {
        let batch = Batch {
            upto: self.committed,
            answers,
        };
        let Some(groups) = self.groups.as_ref() else {
            return fail(batch.answers, STOPPED);
        };
        if let Err(returned) = groups.send(batch) {
            fail(returned.0.answers, STOPPED);
        }
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

/// The sync loop: take every batch waiting, fsync once, answer them all.
fn run(mut wal: WalFile, rx: Receiver<Batch>, shared: &Shared) {
    while let Ok(first) = rx.recv() {
        let (mut upto, mut answers) = (first.upto, first.answers);
        while let Ok(more) = rx.try_recv() {
            upto = upto.max(more.upto);
            answers.extend(more.answers);
        }
        if shared.durable.load(Ordering::Acquire) >= upto && shared.broken.get().is_none() {
            // Already covered by an fsync since (the writer's, for a lone group after them).
            answers.into_iter().for_each(|answer| answer(Ok(())));
        } else {
            sync_and_answer(&mut wal, shared, upto, answers);
        }
    }
}

/// Fsync the WAL, which holds every commit up to `upto`, then answer `answers`: with success,
/// or, once any fsync has failed, with why their records may not survive.
fn sync_and_answer(wal: &mut WalFile, shared: &Shared, upto: u64, answers: Answers) {
    if shared.broken.get().is_none() {
        match wal.sync() {
            Ok(()) => {
                shared.durable.fetch_max(upto, Ordering::AcqRel);
            }
            Err(e) => {
                let _ = shared.broken.set(format!(
                    "the ledger could not make its WAL durable (fsync {}: {e}): the records of \
                     this call may not survive a power loss, and nothing more is recorded until \
                     the server is restarted on a healthy disk",
                    wal.path.display()
                ));
            }
        }
    }
    if let Some(observer) = shared.observer.as_ref() {
        observer();
    }
    match shared.broken.get() {
        None => answers.into_iter().for_each(|answer| answer(Ok(()))),
        Some(why) => fail(answers, why),
    }
}

/// The WAL file: opened on first use (SQLite creates it with the ledger's first read) and
/// kept. SQLite holds its own descriptor on that file for as long as the writer connection is
/// open; a different file at the path later means the WAL was removed or replaced from
/// outside, which is an error, never a reason to fsync the newcomer instead.
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
        let at_path = inode(&std::fs::metadata(&self.path)?);
        match &self.file {
            Some((_, opened)) if *opened != at_path => {
                return Err(std::io::Error::other(
                    "the WAL file was removed or replaced while the ledger was open",
                ));
            }
            Some(_) => {}
            None => {
                // Writable: Windows flushes only a handle opened for writing.
                let file = OpenOptions::new().read(true).write(true).open(&self.path)?;
                let opened = inode(&file.metadata()?);
                // A new WAL's name must be durable too, as SQLite's own first fsync of it
                // makes it.
                sync_directory(&self.path)?;
                self.file = Some((file, opened));
            }
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
