//! The environment a server runs in: the process environment over an optional env file
//! (`mcp serve --env-file`), and the check that everything serving needs is there before the
//! server starts (`core::serve_env` lists it).
//!
//! The env file keeps credentials out of MCP client config files: the client's snippet names
//! the file, the file holds the values, and only its owner may read it. Variables already set
//! (non-empty) in the process environment win over the file. Parsing is `dotenvy`'s, without
//! touching the process environment; a line that does not parse is reported by number only,
//! since its text may hold a credential.

use std::collections::HashMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use sluicegate_core::config::Config;
use sluicegate_core::serve_env::{EnvNeed, missing, missing_message, serve_needs};

use crate::Env;

/// Why an env file cannot be used, or why a server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ServeEnvError {
    #[error("cannot read env file {path}: {source}")]
    Unreadable {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "env file {path} can be read or written by group or others (mode {mode:o}); it holds credentials, so keep it private: run `chmod 600 {path}`"
    )]
    TooOpen { path: String, mode: u32 },
    #[error(
        "env file {path}: line {line} is not NAME=value (the line is not shown, it may hold a credential)"
    )]
    Parse { path: String, line: usize },
    #[error("env file {path} cannot be parsed (its text is not shown, it may hold a credential)")]
    Unparsable { path: String },
    /// Variables serving needs are not set: the full message, with the fix.
    #[error("{0}")]
    Missing(String),
    #[error("{path} already exists; it was left as it is")]
    Exists { path: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The variables in the env file at `path`, after checking that only its owner can read or
/// write it. A name given twice keeps its first value (dotenv's rule).
pub fn read_env_file(path: &Path) -> Result<HashMap<String, String>, ServeEnvError> {
    let shown = path.display().to_string();
    let unreadable = |source| ServeEnvError::Unreadable {
        path: shown.clone(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(unreadable)?;
    // The mode of the file actually opened, not of whatever the path names a moment later.
    let meta = file.metadata().map_err(unreadable)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(ServeEnvError::TooOpen { path: shown, mode });
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(unreadable)?;
    let mut vars = HashMap::new();
    for item in dotenvy::from_read_iter(text.as_bytes()) {
        match item {
            Ok((name, value)) => {
                vars.entry(name).or_insert(value);
            }
            Err(dotenvy::Error::LineParse(bad, _)) => {
                let first = bad.lines().next().unwrap_or_default().trim_end();
                return Err(match text.lines().position(|l| l.trim_end() == first) {
                    Some(i) => ServeEnvError::Parse {
                        path: shown,
                        line: i + 1,
                    },
                    None => ServeEnvError::Unparsable { path: shown },
                });
            }
            Err(_) => return Err(ServeEnvError::Unparsable { path: shown }),
        }
    }
    Ok(vars)
}

/// The process environment, over the env file at `env_file` when there is one.
pub fn process_env(env_file: Option<&Path>) -> Result<Env, ServeEnvError> {
    let process = Env::process();
    Ok(match env_file {
        Some(path) => process.over(read_env_file(path)?),
        None => process,
    })
}

/// The environment to serve `config` in: [`process_env`], checked to hold every variable
/// serving needs. A missing one refuses the start with a message naming each, where the
/// config uses it, and the fix.
pub fn serve_env(config: &Config, env_file: Option<&Path>) -> Result<Env, ServeEnvError> {
    let env = process_env(env_file)?;
    check(config, &env, env_file)?;
    Ok(env)
}

/// Refuse when `env` lacks something serving `config` needs.
pub fn check(config: &Config, env: &Env, env_file: Option<&Path>) -> Result<(), ServeEnvError> {
    let needs = serve_needs(config);
    let gone = missing(&needs, &|name| env.get(name));
    if gone.is_empty() {
        return Ok(());
    }
    let shown = env_file.map(|p| p.display().to_string());
    Err(ServeEnvError::Missing(missing_message(
        &gone,
        shown.as_deref(),
    )))
}

/// The `up` checklist's section on serving env: each variable set or missing, with its uses.
pub fn checklist_section(config: &Config, env: &Env) -> String {
    let needs = serve_needs(config);
    let mut out = String::from("\nEnv vars the server needs:\n");
    if needs.is_empty() {
        out.push_str("  - (none)\n");
    }
    for need in &needs {
        let state = if env.get(&need.name).is_some() {
            "set"
        } else {
            "missing"
        };
        out.push_str(&format!(
            "  - {} ({state}): {}\n",
            need.name,
            need.uses.join("; ")
        ));
    }
    out
}

/// Create an env file template at `path` for serving `config`: names only, empty values, readable
/// by its owner only. An existing file is never touched. `extra` adds variables the config does
/// not name (an HTTP server's token env).
pub fn write_template(
    config: &Config,
    path: &Path,
    extra: &[(&str, &str)],
) -> Result<Vec<EnvNeed>, ServeEnvError> {
    let shown = path.display().to_string();
    let needs = serve_needs(config);
    let text = sluicegate_core::serve_env::env_template(&needs, extra);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| ServeEnvError::Write {
            path: shown.clone(),
            source,
        })?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::AlreadyExists => ServeEnvError::Exists {
            path: shown.clone(),
        },
        _ => ServeEnvError::Write {
            path: shown.clone(),
            source,
        },
    })?;
    use std::io::Write as _;
    file.write_all(text.as_bytes())
        .map_err(|source| ServeEnvError::Write {
            path: shown,
            source,
        })?;
    Ok(needs)
}

/// `path` made absolute (symlinks and `..` resolved when it exists), for a snippet that a
/// client starts from a working directory of its own.
pub fn absolute(path: &Path) -> std::io::Result<PathBuf> {
    match std::fs::canonicalize(path) {
        Ok(p) => Ok(p),
        Err(_) => std::path::absolute(path),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn write(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        path
    }

    fn config() -> Config {
        let doc = serde_json::json!({
            "version": 1, "mode": "read_only",
            "sources": {"app": {"engine": "sqlite", "read_url_env": "T_APP_URL"}},
            "trusted_context": {"provider": "environment", "values": {"tenant_id_env": "T_TENANT", "principal_env": "T_PRINCIPAL"}},
            "capabilities": [{
                "name": "a.read", "kind": "read", "source": "app",
                "target": {"schema": "main", "table": "t", "primary_key": "id", "tenant_key": "tenant_id"},
                "args": {"id": {"type": "string"}}, "lookup": {"id_from_arg": "id"},
                "visible_columns": ["id"]
            }]
        });
        sluicegate_core::config::load_str(&doc.to_string())
            .1
            .unwrap()
    }

    #[test]
    fn a_private_file_is_read_and_first_values_win() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            ".env",
            "# comment\nA=1\nB='two $words'\nexport C=\"x y\"\nA=ignored\nEMPTY=\n",
            0o600,
        );
        let vars = read_env_file(&path).unwrap();
        assert_eq!(vars["A"], "1");
        assert_eq!(vars["B"], "two $words");
        assert_eq!(vars["C"], "x y");
        assert_eq!(vars["EMPTY"], "");
    }

    #[cfg(unix)]
    #[test]
    fn a_file_others_can_read_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        for mode in [0o644, 0o640, 0o602] {
            let path = write(dir.path(), ".env", "A=1\n", mode);
            let err = read_env_file(&path).unwrap_err().to_string();
            assert!(err.contains(&path.display().to_string()), "{err}");
            assert!(
                err.contains(&format!("chmod 600 {}", path.display())),
                "{err}"
            );
        }
    }

    #[test]
    fn a_bad_line_is_named_by_number_never_by_its_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            ".env",
            "OK=1\n\nthis holds p@ssw0rd-canary\n",
            0o600,
        );
        let err = read_env_file(&path).unwrap_err().to_string();
        assert!(err.contains("line 3"), "{err}");
        assert!(!err.contains("canary"), "{err}");
        let missing = read_env_file(&dir.path().join("nope")).unwrap_err();
        assert!(matches!(missing, ServeEnvError::Unreadable { .. }));
    }

    #[test]
    fn the_check_names_what_is_missing_and_the_file_fills_it() {
        let c = config();
        let empty = Env::from_map(HashMap::new());
        let err = check(&c, &empty, None).unwrap_err().to_string();
        for line in [
            "T_APP_URL: read URL of source app",
            "T_TENANT: trusted context tenant of a.read",
            "T_PRINCIPAL: trusted context principal of a.read",
            "--env-file",
        ] {
            assert!(err.contains(line), "{line}: {err}");
        }
        let file: HashMap<String, String> = [
            ("T_APP_URL", "sqlite:///x.db"),
            ("T_TENANT", "acme"),
            ("T_PRINCIPAL", "from-file"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let process = Env::from_map(HashMap::from([(
            "T_PRINCIPAL".to_string(),
            "from-env".to_string(),
        )]));
        let env = process.over(file);
        assert!(check(&c, &env, None).is_ok());
        assert_eq!(
            env.get("T_PRINCIPAL").as_deref(),
            Some("from-env"),
            "the environment wins"
        );
        let section = checklist_section(&c, &empty);
        assert!(
            section.contains("  - T_TENANT (missing): trusted context tenant of a.read"),
            "{section}"
        );
    }

    #[test]
    fn the_template_is_private_names_only_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/.env");
        write_template(&config(), &path, &[]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("\nT_APP_URL=\n") && text.contains("\nT_TENANT=\n"),
            "{text}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        // A template is readable as an env file (empty values) but leaves everything missing.
        assert_eq!(read_env_file(&path).unwrap()["T_TENANT"], "");
        std::fs::write(&path, "T_TENANT=acme\n").unwrap();
        assert!(matches!(
            write_template(&config(), &path, &[]),
            Err(ServeEnvError::Exists { .. })
        ));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "T_TENANT=acme\n");
    }
}
