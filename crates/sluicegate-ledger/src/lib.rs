//! The ledger: Sluicegate's local SQLite record of evidence, query audit, proposals, decisions,
//! writeback jobs, receipts and events.
//!
//! Facts are append-only; a proposal's `state` column is a projection of its recorded
//! transitions, updated by [`sluicegate_core::lifecycle::transition`] in the same transaction
//! that appends the event. Every record is scanned for secret material before it is written.
//! This crate must never touch a source database.
//!
//! All methods are synchronous; async callers run them on a blocking thread.
//!
//! Two engines sit behind the one [`Ledger`] handle (a closed [`Backend`] enum): a local
//! SQLite file (the default, this crate's top-level modules) and a PostgreSQL database many
//! servers share (`pg/`). Each public method that PostgreSQL supports starts with a dispatch
//! to `pg/`; the rest refuse there with [`LedgerError::Unavailable`].

mod activity;
mod checkpoint;
mod claims;
mod compact;
mod counts;
mod durable;
mod error;
mod evidence_keys;
mod export;
mod feed;
mod inbox;
pub mod lease;
mod links;
mod maintain;
mod migrate;
mod pg;
mod query;
mod read;
mod replay;
mod schema;
mod search;
mod verify;
mod views;
mod write;
mod writer;

#[cfg(test)]
mod plan_tests;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{Connection, OpenFlags};

pub use activity::{
    ActivityCursor, ActivityItem, ActivityPage, ActivityQuery, EVIDENCE_RECORDED,
    MAX_ACTIVITY_LIMIT, QUERY_AUDITED, WEBHOOK_DEAD_LETTER, WORKER_DEAD_LETTER, activity_statuses,
};
pub use claims::{Claim, Failed, WorkItem, WorkerDeadLetter};
pub use error::{LedgerError, RefusalCode};
pub use export::{EXPORT_RECORD_PROPOSAL, ExportCheck, ExportCounts, verify_export};
pub use feed::{DeadLetter, DeadLetterRecord};
pub use inbox::{InboxCursor, InboxQuery};
pub use maintain::{FINAL_STATES, PRUNE_TABLES, PruneReport, PruneRule, VacuumReport};
pub use pg::{POSTGRES_SCHEMA_VERSION, SchemaMigration, WorkSignal};
pub use query::{EventFilter, Filter};
pub use schema::SCHEMA_VERSION;
pub use sluicegate_core::config::Durability;
pub use verify::{
    ChainEvent, Problem, ProposalColumns, ProposalRecords, ShadowRow, VerifyReport, check_records,
};
pub use views::*;
pub use write::{
    AttemptRequest, JobKind, JobRecord, ProposalCall, ProposalRecorded, QueuedJob, ShadowAction,
};
use writer::Isolation;
pub use writer::Pending;

/// Prepared statements kept per ledger connection (more than the ledger has).
const STATEMENT_CACHE: usize = 256;

/// Keep every statement a ledger connection runs prepared, and really reused.
///
/// The cache: a recorded proposal alone runs more distinct statements than rusqlite's default
/// cache of 16 holds, so under load the writer spent part of its time parsing SQL it had
/// parsed a moment before. The query planner stability guarantee (QPSG): without it SQLite
/// plans a statement such as `… WHERE proposal_id = ?1` with an eye on the value bound to
/// `?1` and marks it to be planned again when the binding changes; rusqlite clears a cached
/// statement's bindings when it goes back to the cache, which then counts as such a change, so
/// every use of those statements was parsed and planned from scratch (15 % of the writer
/// thread's time under load, in a profile). The ledger has no `ANALYZE` statistics for
/// values to matter, and `plan_tests` pins the plans of every filter with bound values.
fn keep_statements(conn: &Connection) -> Result<(), LedgerError> {
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

/// Produces the current time as an RFC 3339 UTC string with milliseconds.
pub type Clock = Arc<dyn Fn() -> String + Send + Sync>;

/// The wall clock, formatted the way every ledger timestamp is.
pub fn system_clock() -> Clock {
    Arc::new(|| chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// A handle to one ledger. Cheap to clone; all clones share one writer thread (which owns
/// the write connection, see `writer` and `pg/writer.rs`) and the read connection (on
/// PostgreSQL, a few reader threads with one connection each).
#[derive(Clone)]
pub struct Ledger {
    backend: Backend,
    /// The ledger file, or for PostgreSQL a label naming where its URL came from.
    path: PathBuf,
    clock: Clock,
}

/// The engines a ledger runs on. Closed, and matched only in this file ([`Ledger::pg`],
/// [`Ledger::sqlite`], and the two methods whose answer differs by engine).
#[derive(Clone)]
enum Backend {
    Sqlite(Sqlite),
    Postgres(Arc<pg::PgLedger>),
}

/// A SQLite ledger's parts.
#[derive(Clone)]
struct Sqlite {
    writer: Arc<writer::Writer>,
    reader: Arc<Mutex<Connection>>,
    /// Stops with the last clone.
    _checkpointer: Option<Arc<checkpoint::Checkpointer>>,
    /// A handle on the ledger file itself, to notice when it has been deleted or replaced
    /// (`None` for `:memory:`).
    file: Option<Arc<std::fs::File>>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").field("path", &self.path).finish()
    }
}

/// `:memory:` opens a private in-memory ledger (tests, audits of configs).
pub const MEMORY: &str = ":memory:";

impl Ledger {
    /// Open or create the ledger at `path`, creating its parent directory. Every commit is
    /// fsynced before its callers are answered ([`Durability::Full`]).
    pub fn open(path: &Path) -> Result<Ledger, LedgerError> {
        Self::open_with(path, Durability::Full)
    }

    /// [`Ledger::open`] with the durability a config asks for (`storage.durability`).
    pub fn open_with(path: &Path, durability: Durability) -> Result<Ledger, LedgerError> {
        Self::open_inner(path, system_clock(), durability)
    }

    /// Open an existing ledger; refuse to create one (read-only commands must not litter).
    pub fn open_existing(path: &Path) -> Result<Ledger, LedgerError> {
        if path.as_os_str() != MEMORY && !path.exists() {
            return Err(LedgerError::Missing(path.to_path_buf()));
        }
        Self::open(path)
    }

    pub fn open_with_clock(path: &Path, clock: Clock) -> Result<Ledger, LedgerError> {
        Self::open_inner(path, clock, Durability::Full)
    }

    fn open_inner(
        path: &Path,
        clock: Clock,
        durability: Durability,
    ) -> Result<Ledger, LedgerError> {
        let memory = path.as_os_str() == MEMORY;
        let (mut conn, reader) = if memory {
            // Two connections to one private in-memory database: a shared cache under a name
            // nobody else uses. The reader may see a group before it commits (shared-cache
            // readers take no table locks with read_uncommitted), which only tests ever use.
            static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let uri = format!(
                "file:sluicegate-ledger-{}-{n}?mode=memory&cache=shared",
                std::process::id()
            );
            let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let conn = Connection::open_with_flags(&uri, flags)?;
            let reader = Connection::open_with_flags(&uri, flags)?;
            reader.pragma_update(None, "read_uncommitted", true)?;
            (conn, reader)
        } else {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .map_err(|e| LedgerError::Io(format!("create {}: {e}", parent.display())))?;
            }
            let conn = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_CREATE
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            // WAL lets readers (the CLI, the UI, this handle's read connection) work while a
            // server writes; the busy timeout turns writer contention into a short wait on the
            // writer thread instead of an error. NORMAL writes a commit to the WAL without an
            // fsync (checkpoints still fsync it before copying it into this file), which alone
            // survives a process crash only (relaxed). Durable ledgers add the sync thread
            // (`durable`, started below): it fsyncs the WAL after each commit group and only
            // then answers the group's callers, so a record a caller was told about survives a
            // power loss, while the writer already runs the next group.
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            // Checkpoints run on a background thread (see `checkpoint`); the writer starts
            // the WAL over itself between groups (`WalRestart`, installed below).
            conn.pragma_update(None, "journal_size_limit", checkpoint::WAL_SIZE_LIMIT)?;
            let reader = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            (conn, reader)
        };
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Every job of a commit group runs in its own savepoint, and SQLite keeps what a
        // savepoint would undo in a sub-journal, a temporary file once it passes 64 KiB: under
        // load that was a new file per group and one `pwrite` per changed page (about 56,000
        // a second at 16 sessions, a sixth of the writer's time). In memory it is a buffer
        // freed at each commit.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        reader.busy_timeout(std::time::Duration::from_secs(5))?;
        keep_statements(&conn)?;
        keep_statements(&reader)?;
        schema::migrate(&mut conn)?;
        let (checkpointer, file, after_group, syncer) = if memory {
            (None, None, None, None)
        } else {
            let file = std::fs::File::open(path)
                .map_err(|e| LedgerError::Io(format!("open {}: {e}", path.display())))?;
            let restart = checkpoint::WalRestart::install(&mut conn)?;
            let after_group: writer::AfterGroup = Box::new(move |c| restart.after_group(c));
            let syncer = match durability {
                // The file SQLite opened (it resolves a symlinked path; its WAL lies beside
                // the target), not the path as given.
                Durability::Full => {
                    // (`path()` is `None` for a path that is not UTF-8: resolve it ourselves.)
                    let opened = match conn.path().filter(|p| !p.is_empty()) {
                        Some(p) => PathBuf::from(p),
                        None => std::fs::canonicalize(path).unwrap_or_else(|_| path.into()),
                    };
                    Some(durable::Syncer::start(&opened, None)?)
                }
                Durability::Relaxed => None,
            };
            (
                checkpoint::Checkpointer::start(path).map(Arc::new),
                Some(Arc::new(file)),
                Some(after_group),
                syncer,
            )
        };
        let chore_clock = clock.clone();
        let chores: writer::Chores = Box::new(move |conn, pace| {
            let (due, batch) = match pace {
                writer::Pace::Idle => (evidence_keys::IDLE_BACKLOG, evidence_keys::IDLE_BATCH),
                writer::Pace::Busy => (evidence_keys::BUSY_BACKLOG, evidence_keys::BUSY_BATCH),
            };
            let waiting = evidence_keys::backlog(conn)?;
            if waiting < due {
                return Ok(false);
            }
            let mut indexed = 0;
            let mut step = |conn: &rusqlite::Connection| {
                indexed = evidence_keys::index_batch(conn, &chore_clock(), batch)?;
                counts::advance(conn)
            };
            match pace {
                writer::Pace::Idle => {
                    if !writer::in_transaction(conn, step) {
                        return Ok(false);
                    }
                }
                // Already inside the group's transaction.
                writer::Pace::Busy => step(conn)?,
            }
            Ok(waiting - indexed >= due)
        });
        Ok(Ledger {
            backend: Backend::Sqlite(Sqlite {
                writer: Arc::new(writer::Writer::start(conn, chores, after_group, syncer)?),
                reader: Arc::new(Mutex::new(reader)),
                _checkpointer: checkpointer,
                file,
            }),
            path: path.to_path_buf(),
            clock,
        })
    }

    /// Bring the evidence search index (`evidence_keys`) and the kept row counts up to date
    /// now instead of in the writer's next lull; returns how many bundles it indexed.
    /// Maintenance commands and tests use it; recording never needs it.
    pub fn index_evidence_now(&self) -> Pending<i64> {
        if self.pg().is_some() {
            // PostgreSQL searches evidence on its own indexes: nothing to fill.
            return Pending::ready(Ok(0));
        }
        let clock = self.clock.clone();
        self.submit(move |conn| {
            let mut total = 0;
            loop {
                let n = evidence_keys::index_batch(conn, &clock(), evidence_keys::FULL_BATCH)?;
                if n == 0 {
                    counts::advance(conn)?;
                    return Ok(total);
                }
                total += n;
            }
        })
    }

    /// The durability the writer is running with, read back from SQLite's `synchronous`
    /// pragma and whether its sync thread runs (not from what was asked for).
    pub fn durability_in_force(&self) -> Pending<Durability> {
        if let Some(pg) = self.pg() {
            return pg.durability_in_force();
        }
        let syncs = self.sqlite("durability").is_ok_and(|s| s.writer.syncs());
        self.submit(move |conn| {
            let level: i64 = conn.pragma_query_value(None, "synchronous", |r| r.get(0))?;
            // 2 = FULL, 3 = EXTRA (both fsync every commit); 0 = OFF, 1 = NORMAL (fsyncs the
            // WAL before each checkpoint: with the sync thread, after every commit group too).
            Ok(if level >= 2 || (syncs && level == 1) {
                Durability::Full
            } else {
                Durability::Relaxed
            })
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the ledger file is still in place (a server checks this before every call).
    /// A ledger deleted, or replaced by another file, while open would take every later
    /// record into an unlinked file that nobody can read back.
    pub fn is_available(&self) -> bool {
        let sqlite = match &self.backend {
            Backend::Sqlite(sqlite) => sqlite,
            Backend::Postgres(pg) => return pg.is_available(),
        };
        let Some(file) = &sqlite.file else {
            return true;
        };
        // One fstat on a held handle: cheaper than a lookup by path, and it also notices a
        // file renamed over the ledger (the old inode's link count drops to zero).
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            file.metadata().is_ok_and(|m| m.nlink() > 0)
        }
        #[cfg(not(unix))]
        {
            let _ = file;
            self.path.exists()
        }
    }

    fn now(&self) -> String {
        (self.clock)()
    }

    /// The PostgreSQL backend, when this ledger runs on one: supported methods dispatch to it
    /// first thing.
    fn pg(&self) -> Option<&pg::PgLedger> {
        match &self.backend {
            Backend::Sqlite(_) => None,
            Backend::Postgres(pg) => Some(pg),
        }
    }

    /// The SQLite parts, or the refusal a command without a PostgreSQL version gives there.
    fn sqlite(&self, feature: &'static str) -> Result<&Sqlite, LedgerError> {
        match &self.backend {
            Backend::Sqlite(sqlite) => Ok(sqlite),
            Backend::Postgres(_) => Err(LedgerError::Unavailable { feature }),
        }
    }

    /// `sqlite` or `postgres`: the engine this ledger runs on.
    pub fn engine(&self) -> &'static str {
        match &self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// The read connection. Reads block the calling thread briefly (WAL readers never wait
    /// for the writer); async callers run them on a blocking thread. A PostgreSQL ledger has
    /// none: a SQLite-only method that forgot its own refusal still refuses here.
    fn conn(&self) -> Result<MutexGuard<'_, Connection>, LedgerError> {
        // A poisoned lock means a panic mid-read; the connection holds no transaction open
        // across calls, so it is still consistent and safe to reuse.
        Ok(self
            .sqlite("this command")?
            .reader
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// Queue `f` on the SQLite writer thread (a PostgreSQL ledger refuses, as [`Ledger::conn`]).
    pub(crate) fn submit<T, F>(&self, f: F) -> Pending<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, LedgerError> + Send + 'static,
    {
        match self.sqlite("this command") {
            Ok(sqlite) => sqlite.writer.submit(f),
            Err(e) => Pending::ready(Err(e)),
        }
    }

    /// Queue `f` on the writer thread (see `writer`): it runs inside a transaction with the
    /// ledger clock's current time, and its records stay only when it returns `Ok`.
    fn write<T, F>(&self, f: F) -> Pending<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &str) -> Result<T, LedgerError> + Send + 'static,
    {
        let clock = self.clock.clone();
        // Taken on the writer thread, so `created_at` follows rowid (recording) order.
        self.submit(move |conn| f(conn, &clock()))
    }

    /// A tool call's records: like [`Ledger::write`], for a job that decides every refusal
    /// before it writes (an inner `Err`, with the records it made before the refusal kept), so
    /// that its outer `Err` only ever means storage failed. It runs without a savepoint of its own
    /// (`writer::Isolation::Group`): such a failure rolls back its whole commit group.
    fn record<T, F>(&self, f: F) -> Pending<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &str) -> Result<Result<T, LedgerError>, LedgerError>
            + Send
            + 'static,
    {
        let clock = self.clock.clone();
        let sqlite = match self.sqlite("this command") {
            Ok(sqlite) => sqlite,
            Err(e) => return Pending::ready(Err(e)),
        };
        sqlite
            .writer
            .submit_isolated(Isolation::Group, move |conn| match f(conn, &clock()) {
                Ok(answer) => (answer, true),
                Err(e) => (Err(e), false),
            })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A commit group runs each job in a savepoint; what a savepoint would undo stays in
    /// memory, not in a temporary file written a page per system call on the writer.
    #[test]
    fn the_writer_keeps_what_a_savepoint_would_undo_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("l.db")).unwrap();
        let temp_store: i64 = ledger
            .submit(|c| Ok(c.pragma_query_value(None, "temp_store", |r| r.get(0))?))
            .wait()
            .unwrap();
        assert_eq!(temp_store, 2, "the writer's temp_store is not MEMORY");
    }
}
