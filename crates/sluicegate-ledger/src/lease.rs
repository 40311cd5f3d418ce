//! The active-store lease (store.md §11): a server holds an OS file lock on `<store>.lease.lock`
//! for as long as it runs, so a second server (or a destructive maintenance command) does not
//! share one ledger by accident. Beside it, `<store>.lease.json` names the holder, for the
//! refusal message and `doctor`.
//!
//! The lock is the truth and the JSON file only a label. The kernel drops the lock when the
//! holding process ends, however it ends, so nobody has to guess from a pid whether a holder is
//! still alive, and taking the lock is one atomic step (no check-then-write race). A label
//! whose lock is free was left by a process that died without cleaning up; the next holder
//! replaces it.
//!
//! The lock file itself is never deleted: a process waiting on a deleted file's lock could
//! take it while a newcomer creates and locks a fresh file at the same path, and both would
//! believe they hold the lease.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::MEMORY;

/// The label's content. `mode` is always `mcp`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseInfo {
    pub pid: u32,
    pub mode: String,
    pub transport: String,
    pub store_path: String,
    pub started_at: String,
}

/// Why a lease could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Another process holds the lock. `holder` is its label, if it could be read (a holder
    /// that has just taken the lock may not have written it yet).
    #[error("{}", active_message(.holder.as_deref(), .operation))]
    Active {
        holder: Option<Box<LeaseInfo>>,
        operation: String,
    },
    #[error("cannot take the store lease {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn active_message(holder: Option<&LeaseInfo>, operation: &str) -> String {
    let who = match holder {
        Some(h) => format!(
            "Local store appears active for {}/{} (pid {}, started {}).",
            h.mode, h.transport, h.pid, h.started_at
        ),
        None => "Local store appears active: another process holds its lease lock.".to_string(),
    };
    format!(
        "{who} Refusing {operation}. Stop the server or rerun with --allow-concurrent-store/--force if you have verified it is safe."
    )
}

fn beside(store: &Path, suffix: &str) -> Option<PathBuf> {
    if store.as_os_str() == MEMORY {
        return None;
    }
    let absolute = std::path::absolute(store).unwrap_or_else(|_| store.to_path_buf());
    let mut name = absolute.into_os_string();
    name.push(suffix);
    Some(PathBuf::from(name))
}

/// `<absolute store path>.lease.json`, the label naming the holder; `None` for an in-memory
/// store (it never gets a lease).
pub fn lease_path(store: &Path) -> Option<PathBuf> {
    beside(store, ".lease.json")
}

/// `<absolute store path>.lease.lock`, the file whose lock is the lease.
pub fn lock_path(store: &Path) -> Option<PathBuf> {
    beside(store, ".lease.lock")
}

/// The label of `store`'s lease, if a valid one exists. Unreadable or malformed files count as
/// none (store.md §11). A label alone says nothing about liveness: see [`holder`].
pub fn read(store: &Path) -> Option<LeaseInfo> {
    let text = std::fs::read_to_string(lease_path(store)?).ok()?;
    serde_json::from_str(&text).ok()
}

/// Who holds the lease of a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// Nobody, and no label is left over.
    Free,
    /// Nobody; the label of a process that ended without removing it is left over.
    Stale(LeaseInfo),
    /// A live process holds the lock; its label, if readable.
    Live(Option<LeaseInfo>),
}

/// Probe the lock of `store` without creating anything. The probe takes the lock for a moment
/// when it is free, so a server starting at that very instant is refused as if another one
/// ran; it is for reports and checks, not for a loop.
pub fn holder(store: &Path) -> Result<Holder, LeaseError> {
    let Some(path) = lock_path(store) else {
        return Ok(Holder::Free);
    };
    let io = |source| LeaseError::Io {
        path: path.clone(),
        source,
    };
    let file = match File::open(&path) {
        Ok(file) => file,
        // No lock file: no server has run on this store since it was created.
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(label_only(store)),
        Err(e) => return Err(io(e)),
    };
    match file.try_lock() {
        // Free: dropping `file` unlocks it again.
        Ok(()) => Ok(label_only(store)),
        Err(TryLockError::WouldBlock) => Ok(Holder::Live(read(store))),
        Err(TryLockError::Error(e)) => Err(io(e)),
    }
}

/// The holder when the lock is free: whatever label is left is stale.
fn label_only(store: &Path) -> Holder {
    read(store).map_or(Holder::Free, Holder::Stale)
}

/// Check that no live process holds the lease of `store`, for a command that must not run
/// beside a server (`operation` names it in the message). A held lease is an error unless
/// `force`, in which case the warning text is returned for the caller to print.
pub fn check(store: &Path, force: bool, operation: &str) -> Result<Option<String>, LeaseError> {
    match holder(store)? {
        Holder::Free | Holder::Stale(_) => Ok(None),
        Holder::Live(label) => refuse(label, force, operation),
    }
}

fn refuse(
    label: Option<LeaseInfo>,
    force: bool,
    operation: &str,
) -> Result<Option<String>, LeaseError> {
    let err = LeaseError::Active {
        holder: label.map(Box::new),
        operation: operation.to_string(),
    };
    if force {
        Ok(Some(err.to_string()))
    } else {
        Err(err)
    }
}

/// A lease held by this process: the lock is released and the label removed on drop, and the
/// kernel releases the lock if the process dies first.
#[derive(Debug)]
pub struct Lease {
    /// The locked file; `None` for an in-memory store or a lease overridden with `force`.
    lock: Option<File>,
    label: Option<PathBuf>,
}

impl Lease {
    /// Take the lease of `store` for `transport` (`stdio`, `streamable-http` or
    /// `legacy-jsonrpc`) and write its label. `started_at` is passed in so callers and tests
    /// control the clock. Returns the lease and an optional warning.
    ///
    /// With `force`, a lease held elsewhere (or a lock the filesystem cannot take) is a
    /// warning instead of an error, and the returned lease holds nothing: the other server
    /// keeps the lock and its label.
    pub fn acquire(
        store: &Path,
        transport: &str,
        force: bool,
        started_at: &str,
    ) -> Result<(Lease, Option<String>), LeaseError> {
        Self::take(store, ("mcp", transport), "serve", force, started_at)
    }

    /// Take the lease of `store` for a maintenance command that must not run beside a server
    /// (`operation`, e.g. `store prune`), and hold it until dropped, so no server can start
    /// while it runs (a check alone would leave that window open). Refused like
    /// [`check`] when a server holds it; with `force`, a warning and a lease that holds nothing.
    pub fn hold_for(
        store: &Path,
        operation: &str,
        force: bool,
        started_at: &str,
    ) -> Result<(Lease, Option<String>), LeaseError> {
        Self::take(
            store,
            ("maintenance", operation),
            operation,
            force,
            started_at,
        )
    }

    fn take(
        store: &Path,
        (mode, transport): (&str, &str),
        operation: &str,
        force: bool,
        started_at: &str,
    ) -> Result<(Lease, Option<String>), LeaseError> {
        let none = Lease {
            lock: None,
            label: None,
        };
        let (Some(lock_file), Some(label)) = (lock_path(store), lease_path(store)) else {
            return Ok((none, None));
        };
        let io = |path: &Path, source| LeaseError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = lock_file.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_file)
            .map_err(|e| io(&lock_file, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let warning = refuse(read(store), force, operation)?;
                return Ok((none, warning));
            }
            Err(TryLockError::Error(e)) if force => {
                let warning = format!(
                    "cannot lock the store lease {}: {e}; serving anyway because of --allow-concurrent-store",
                    lock_file.display()
                );
                return Ok((none, Some(warning)));
            }
            Err(TryLockError::Error(e)) => return Err(io(&lock_file, e)),
        }
        let store_abs = std::path::absolute(store).unwrap_or_else(|_| store.to_path_buf());
        let info = LeaseInfo {
            pid: std::process::id(),
            mode: mode.into(),
            transport: transport.into(),
            store_path: store_abs.display().to_string(),
            started_at: started_at.into(),
        };
        write_label(&label, &info).map_err(|e| io(&label, e))?;
        Ok((
            Lease {
                lock: Some(file),
                label: Some(label),
            },
            None,
        ))
    }

    /// The label file, if this lease wrote one.
    pub fn path(&self) -> Option<&Path> {
        self.label.as_deref()
    }

    /// Whether this lease holds the lock (not an in-memory store, not overridden).
    pub fn is_held(&self) -> bool {
        self.lock.is_some()
    }

    /// Release now (also done on drop): remove the label while the lock is still ours, so no
    /// newer holder's label is ever removed, then unlock.
    pub fn release(&mut self) {
        if let (Some(label), Some(_)) = (self.label.take(), &self.lock) {
            let _ = std::fs::remove_file(label);
        }
        // Closing the file releases the lock.
        self.lock = None;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.release();
    }
}

/// Write the label through a temporary file and a rename, so a reader never sees half of it.
fn write_label(path: &Path, info: &LeaseInfo) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(info).map_err(std::io::Error::other)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, format!("{text}\n"))?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = dir.path().join("sub/local.db");
        (dir, store)
    }

    #[test]
    fn acquire_locks_and_labels_beside_the_store_and_release_undoes_it() {
        let (dir, store) = store();
        let (mut lease, warning) =
            Lease::acquire(&store, "stdio", false, "2026-06-30T00:00:00.000Z").expect("acquire");
        assert!(warning.is_none());
        assert!(lease.is_held());
        let label = lease.path().expect("label").to_path_buf();
        assert_eq!(label, dir.path().join("sub/local.db.lease.json"));
        assert_eq!(
            lock_path(&store),
            Some(dir.path().join("sub/local.db.lease.lock"))
        );
        let info = read(&store).expect("label readable");
        assert_eq!(info.pid, std::process::id());
        assert_eq!(
            (info.mode.as_str(), info.transport.as_str()),
            ("mcp", "stdio")
        );
        assert!(
            std::fs::read_to_string(&label)
                .expect("text")
                .ends_with("}\n")
        );
        assert_eq!(holder(&store).expect("probe"), Holder::Live(Some(info)));

        lease.release();
        assert!(!label.exists());
        assert_eq!(holder(&store).expect("probe"), Holder::Free);
    }

    /// Two leases in one process are two open files, and their locks exclude each other just
    /// as two processes' would.
    #[test]
    fn a_second_lease_is_refused_until_the_first_is_dropped() {
        let (_dir, store) = store();
        let (first, _) = Lease::acquire(&store, "streamable-http", false, "t0").expect("first");
        let err = Lease::acquire(&store, "stdio", false, "t1").expect_err("must refuse");
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!(
                "Local store appears active for mcp/streamable-http (pid {}, started t0).",
                std::process::id()
            )),
            "{msg}"
        );
        assert!(msg.contains("Refusing serve."), "{msg}");
        assert!(matches!(
            check(&store, false, "review-mode up"),
            Err(LeaseError::Active { .. })
        ));

        drop(first);
        let (second, warning) = Lease::acquire(&store, "stdio", false, "t2").expect("free now");
        assert!(warning.is_none() && second.is_held());
        assert_eq!(read(&store).expect("label").transport, "stdio");
    }

    /// A maintenance command holds the lease for its whole run: a server starting meanwhile
    /// is refused and told what runs; one holding it already refuses the command.
    #[test]
    fn maintenance_holds_the_lease_and_servers_hold_it_against_maintenance() {
        let (_dir, store) = store();
        let (prune, _) = Lease::hold_for(&store, "store prune", false, "t0").expect("free");
        assert!(prune.is_held());
        let msg = Lease::acquire(&store, "stdio", false, "t1")
            .expect_err("a server must not start during a prune")
            .to_string();
        assert!(
            msg.starts_with("Local store appears active for maintenance/store prune (pid"),
            "{msg}"
        );
        assert!(msg.contains("Refusing serve."), "{msg}");
        drop(prune);

        let (server, _) = Lease::acquire(&store, "stdio", false, "t2").expect("free again");
        let msg = Lease::hold_for(&store, "store vacuum", false, "t3")
            .expect_err("refused beside a server")
            .to_string();
        assert!(msg.contains("Refusing store vacuum."), "{msg}");
        let (forced, warning) =
            Lease::hold_for(&store, "store vacuum", true, "t3").expect("forced");
        assert!(!forced.is_held() && warning.is_some());
        assert_eq!(
            read(&store).expect("label").mode,
            "mcp",
            "the server's label stays"
        );
        drop(server);
    }

    #[test]
    fn force_warns_and_leaves_the_holder_in_place() {
        let (_dir, store) = store();
        let (held, _) = Lease::acquire(&store, "streamable-http", false, "t0").expect("acquire");
        let (forced, warning) = Lease::acquire(&store, "stdio", true, "t1").expect("forced");
        assert!(warning.expect("warning").contains("Refusing serve"));
        assert!(!forced.is_held());
        assert_eq!(
            check(&store, true, "review-mode up")
                .expect("forced check")
                .map(|w| w.contains("Refusing review-mode up")),
            Some(true)
        );
        // The forced server took nothing: dropping it leaves the holder's lock and label.
        drop(forced);
        assert!(
            matches!(holder(&store), Ok(Holder::Live(Some(l))) if l.transport == "streamable-http")
        );
        drop(held);
        assert_eq!(holder(&store).expect("probe"), Holder::Free);
    }

    /// A label without a held lock was left by a process that died: reported as stale,
    /// ignored by checks, replaced by the next holder. Malformed labels count as none.
    #[test]
    fn leftover_and_malformed_labels() {
        let (_dir, store) = store();
        let label = lease_path(&store).expect("path");
        std::fs::create_dir_all(label.parent().expect("parent")).expect("dir");
        std::fs::write(&label, "not json").expect("write");
        assert_eq!(holder(&store).expect("probe"), Holder::Free);
        let left = LeaseInfo {
            pid: u32::MAX,
            mode: "mcp".into(),
            transport: "stdio".into(),
            store_path: store.display().to_string(),
            started_at: "t".into(),
        };
        std::fs::write(&label, serde_json::to_string(&left).expect("json")).expect("write");
        assert_eq!(holder(&store).expect("probe"), Holder::Stale(left));
        assert!(check(&store, false, "serve").expect("free").is_none());
        let (_lease, warning) = Lease::acquire(&store, "stdio", false, "t1").expect("acquire");
        assert!(warning.is_none());
        assert_eq!(read(&store).expect("label").pid, std::process::id());
    }

    /// A holder that never wrote its label (it has just taken the lock) is still refused.
    #[test]
    fn a_lock_without_a_label_still_refuses() {
        let (_dir, store) = store();
        let (lease, _) = Lease::acquire(&store, "stdio", false, "t0").expect("acquire");
        std::fs::remove_file(lease.path().expect("label")).expect("remove label");
        assert_eq!(holder(&store).expect("probe"), Holder::Live(None));
        let msg = Lease::acquire(&store, "stdio", false, "t1")
            .expect_err("refused")
            .to_string();
        assert!(
            msg.starts_with(
                "Local store appears active: another process holds its lease lock. Refusing serve."
            ),
            "{msg}"
        );
    }

    #[test]
    fn memory_stores_never_get_a_lease() {
        let (lease, _) = Lease::acquire(Path::new(MEMORY), "stdio", false, "t").expect("ok");
        assert!(lease.path().is_none() && !lease.is_held());
        assert_eq!(holder(Path::new(MEMORY)).expect("probe"), Holder::Free);
    }
}
