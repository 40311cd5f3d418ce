//! Reviewer keys on disk: made by `sluicegate reviewer init`, read by approve and reject.
//!
//! A key file holds one line, `ed25519-secret:<base64 seed>`, readable by its owner only. It
//! lives outside the project (the user's config directory by default), so an agent working in
//! the project directory, or a backup of it, never holds a reviewer's key. A key file that
//! others can read is refused, like ssh refuses a private key with loose permissions.

use std::io::Write;
use std::path::{Path, PathBuf};

use sluicegate_core::decision::{SigningKey, parse_secret_key, public_key_text, secret_key_text};

use crate::Env;

/// The human a command acts as: `flag` (`--actor`), then `SLUICEGATE_ACTOR`, then `$USER`,
/// then `fallback` (empty or blank values count as unset).
pub fn acting_human(flag: Option<&str>, env: &Env, fallback: &str) -> String {
    flag.filter(|a| !a.trim().is_empty())
        .map(str::to_string)
        .or_else(|| env.get("SLUICEGATE_ACTOR"))
        .or_else(|| env.get("USER"))
        .unwrap_or_else(|| fallback.to_string())
}

/// Where `reviewer init` puts `name`'s key unless told otherwise:
/// `$XDG_CONFIG_HOME/sluicegate/reviewers/<name>.key`, else `~/.config/sluicegate/...`.
pub fn default_key_path(env: &Env, name: &str) -> Option<PathBuf> {
    let base = env
        .get("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            env.get("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| Path::new(&h).join(".config"))
        })?;
    Some(
        base.join("sluicegate/reviewers")
            .join(format!("{name}.key")),
    )
}

/// The key a decision is signed with: `--key`, then `SLUICEGATE_REVIEWER_KEY`, then `who`'s
/// default key when it exists (`None`: the decision is unsigned).
pub fn key_path_for(flag: Option<&Path>, env: &Env, who: &str) -> Option<PathBuf> {
    if let Some(p) = flag {
        return Some(p.to_path_buf());
    }
    if let Some(p) = env.get("SLUICEGATE_REVIEWER_KEY").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(p));
    }
    default_key_path(env, who).filter(|p| p.exists())
}

/// `reviewer init`: a new key for `name` at `path` (default: [`default_key_path`]); returns
/// where it went and the public key for the config.
pub fn init(name: &str, path: Option<PathBuf>, env: &Env) -> Result<(PathBuf, String), String> {
    if !sluicegate_core::ident::is_safe_name(name) {
        return Err(format!(
            "reviewer name {name:?}: use letters, digits, _ . - (starting with a letter)"
        ));
    }
    let path = match path {
        Some(p) => p,
        None => default_key_path(env, name)
            .ok_or("neither XDG_CONFIG_HOME nor HOME is set; pass --key <path>")?,
    };
    let public = create_key(&path)?;
    Ok((path, public))
}

/// A new key written to `path` (owner read/write only, in a directory only the owner can
/// enter); returns the public key text for the config. Never overwrites a key.
pub fn create_key(path: &Path) -> Result<String, String> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| format!("no randomness from the OS: {e}"))?;
    let key = sluicegate_core::decision::signing_key(&seed);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        restrict(dir, 0o700)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => format!(
                "{} already exists; a reviewer key is never overwritten (pass another --key path)",
                path.display()
            ),
            _ => format!("create {}: {e}", path.display()),
        })?;
    restrict(path, 0o600)?;
    file.write_all(secret_key_text(&seed).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("write {}: {e}", path.display()))?;
    Ok(public_key_text(&key.verifying_key()))
}

/// Read a reviewer key, refusing one that anyone but its owner can read.
pub fn load_key(path: &Path) -> Result<SigningKey, String> {
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("cannot read reviewer key {}: {e}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "reviewer key {} is readable by others (mode {mode:o}); run `chmod 600 {}`",
                path.display(),
                path.display()
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read reviewer key {}: {e}", path.display()))?;
    parse_secret_key(&text).map_err(|why| format!("reviewer key {}: {why}", path.display()))
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("restrict {}: {e}", path.display()))
}

#[cfg(not(unix))]
fn restrict(_: &Path, _: u32) -> Result<(), String> {
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_new_key_is_private_and_loads_back_to_its_public_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/ann.key");
        let public = create_key(&path).unwrap();
        let key = load_key(&path).unwrap();
        assert_eq!(public_key_text(&key.verifying_key()), public);
        let again = create_key(&path).unwrap_err();
        assert!(again.contains("never overwritten"), "{again}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(path.parent().unwrap()), 0o700);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let loose = load_key(&path).unwrap_err();
            assert!(loose.contains("readable by others"), "{loose}");
        }
    }

    #[test]
    fn the_default_path_is_in_the_users_config_directory() {
        let env = Env::from_map([("HOME".to_string(), "/home/ann".to_string())].into());
        assert_eq!(
            default_key_path(&env, "ann").unwrap(),
            Path::new("/home/ann/.config/sluicegate/reviewers/ann.key")
        );
        let env = Env::from_map([("XDG_CONFIG_HOME".to_string(), "/cfg".to_string())].into());
        assert_eq!(
            default_key_path(&env, "bob").unwrap(),
            Path::new("/cfg/sluicegate/reviewers/bob.key")
        );
        assert!(default_key_path(&Env::from_map(Default::default()), "x").is_none());
    }
}
