//! The active-store lease (store.md §11): a small JSON file beside the ledger that says which
//! server process is using it, so a second server (or a destructive maintenance command) does
//! not share one ledger by accident.
//!
//! The lease is advisory. Liveness is a `/proc/<pid>` check on Linux (signal-0 semantics: a
//! process that exists counts as live, even when it belongs to another user) and `kill -0`
//! elsewhere, because `unsafe` (and so a raw `kill(2)`) is forbidden in this workspace.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::MEMORY;

/// The lease file content. `mode` is always `mcp`.
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
    /// Another live process holds the lease.
    #[error(
        "Local store appears active for {}/{} (pid {}, started {}). Refusing {operation}. Stop the server or rerun with --allow-concurrent-store/--force if you have verified it is safe.",
        .holder.mode, .holder.transport, .holder.pid, .holder.started_at
    )]
    Active {
        holder: Box<LeaseInfo>,
        operation: String,
    },
    #[error("cannot write the store lease {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// `<absolute store path>.lease.json`, or `None` for an in-memory store (it never gets one).
pub fn lease_path(store: &Path) -> Option<PathBuf> {
    if store.as_os_str() == MEMORY {
        return None;
    }
    let absolute = std::path::absolute(store).unwrap_or_else(|_| store.to_path_buf());
    let mut name = absolute.into_os_string();
    name.push(".lease.json");
    Some(PathBuf::from(name))
}

/// The current lease of `store`, if a valid one exists. Unreadable or malformed files count
/// as "no lease" (store.md §11).
pub fn read(store: &Path) -> Option<LeaseInfo> {
    let text = std::fs::read_to_string(lease_path(store)?).ok()?;
    serde_json::from_str(&text).ok()
}

/// Whether `pid` names a running process.
pub fn pid_is_live(pid: u32) -> bool {
    if pid == 0 {
        return false;
    }
    if cfg!(target_os = "linux") {
        return Path::new(&format!("/proc/{pid}")).exists();
    }
    // `kill -0` fails with "operation not permitted" for a live process of another user;
    // that still counts as live, as signal-0 delivery with EPERM does.
    match std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()
    {
        Ok(out) => {
            out.status.success()
                || String::from_utf8_lossy(&out.stderr)
                    .to_lowercase()
                    .contains("not permitted")
        }
        Err(_) => true,
    }
}

/// Check that no live process holds the lease of `store`. A stale lease (dead pid) is removed
/// silently. A live one is an error unless `force`, in which case the warning text is
/// returned for the caller to print.
pub fn check(store: &Path, force: bool, operation: &str) -> Result<Option<String>, LeaseError> {
    let Some(path) = lease_path(store) else {
        return Ok(None);
    };
    let Some(holder) = read(store) else {
        return Ok(None);
    };
    if !pid_is_live(holder.pid) {
        let _ = std::fs::remove_file(&path);
        return Ok(None);
    }
    let err = LeaseError::Active {
        holder: Box::new(holder),
        operation: operation.to_string(),
    };
    if force {
        Ok(Some(err.to_string()))
    } else {
        Err(err)
    }
}

/// A lease held by this process; dropping it releases the file.
#[derive(Debug)]
pub struct Lease {
    path: Option<PathBuf>,
    info: Option<LeaseInfo>,
}

impl Lease {
    /// Check (operation `serve`), then write the lease of `store` for `transport`
    /// (`stdio`, `streamable-http` or `legacy-jsonrpc`). `started_at` is passed in so callers
    /// and tests control the clock. Returns the lease and an optional warning (a live lease
    /// overridden with `force`).
    pub fn acquire(
        store: &Path,
        transport: &str,
        force: bool,
        started_at: &str,
    ) -> Result<(Lease, Option<String>), LeaseError> {
        let warning = check(store, force, "serve")?;
        let Some(path) = lease_path(store) else {
            return Ok((
                Lease {
                    path: None,
                    info: None,
                },
                warning,
            ));
        };
        let store_abs = std::path::absolute(store).unwrap_or_else(|_| store.to_path_buf());
        let info = LeaseInfo {
            pid: std::process::id(),
            mode: "mcp".into(),
            transport: transport.into(),
            store_path: store_abs.display().to_string(),
            started_at: started_at.into(),
        };
        let io = |source| LeaseError::Io {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let text = serde_json::to_string_pretty(&info).unwrap_or_default();
        std::fs::write(&path, format!("{text}\n")).map_err(io)?;
        Ok((
            Lease {
                path: Some(path),
                info: Some(info),
            },
            warning,
        ))
    }

    /// The lease file, if one was written.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Release now (also done on drop). The file is removed only while it still names this
    /// process and transport, so a lease taken over with `--allow-concurrent-store` by another
    /// server is left alone.
    pub fn release(&mut self) {
        let (Some(path), Some(ours)) = (self.path.take(), self.info.take()) else {
            return;
        };
        let current = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str::<LeaseInfo>(&t).ok());
        if current.is_some_and(|c| c.pid == ours.pid && c.transport == ours.transport) {
            let _ = std::fs::remove_file(&path);
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acquire_writes_beside_the_store_and_release_removes_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = dir.path().join("sub/local.db");
        let (mut lease, warning) =
            Lease::acquire(&store, "stdio", false, "2026-06-30T00:00:00.000Z").expect("acquire");
        assert!(warning.is_none());
        let path = lease.path().expect("path").to_path_buf();
        assert_eq!(path, dir.path().join("sub/local.db.lease.json"));
        let info = read(&store).expect("lease readable");
        assert_eq!(info.pid, std::process::id());
        assert_eq!(info.mode, "mcp");
        assert_eq!(info.transport, "stdio");
        assert!(
            std::fs::read_to_string(&path)
                .expect("text")
                .ends_with("}\n")
        );
        lease.release();
        assert!(!path.exists());
    }

    #[test]
    fn a_live_lease_refuses_unless_forced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = dir.path().join("local.db");
        let (_held, _) = Lease::acquire(&store, "streamable-http", false, "t0").expect("acquire");
        let err = Lease::acquire(&store, "stdio", false, "t1").expect_err("must refuse");
        let msg = err.to_string();
        assert!(msg.starts_with("Local store appears active for mcp/streamable-http (pid "));
        assert!(msg.contains("Refusing serve."));
        let (forced, warning) = Lease::acquire(&store, "stdio", true, "t1").expect("forced");
        assert!(warning.expect("warning").contains("Refusing serve"));
        // The forced lease now names "stdio"; dropping the first holder must not remove it.
        drop(_held);
        assert!(read(&store).is_some_and(|l| l.transport == "stdio"));
        drop(forced);
        assert!(read(&store).is_none());
    }

    #[test]
    fn stale_and_malformed_leases_are_reclaimed_or_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = dir.path().join("local.db");
        let path = lease_path(&store).expect("path");
        std::fs::write(&path, "not json").expect("write");
        assert!(check(&store, false, "serve").expect("ignored").is_none());
        // u32::MAX is above any Linux pid_max, so it never names a live process.
        let stale = LeaseInfo {
            pid: u32::MAX,
            mode: "mcp".into(),
            transport: "stdio".into(),
            store_path: store.display().to_string(),
            started_at: "t".into(),
        };
        std::fs::write(&path, serde_json::to_string(&stale).expect("json")).expect("write");
        assert!(check(&store, false, "serve").expect("reclaimed").is_none());
        assert!(!path.exists());
    }

    #[test]
    fn memory_stores_never_get_a_lease() {
        let (lease, _) = Lease::acquire(Path::new(MEMORY), "stdio", false, "t").expect("ok");
        assert!(lease.path().is_none());
    }
}
