//! An application's database on one engine, as the engine tests that play a whole deployment
//! use it: a throwaway PostgreSQL or MySQL/MariaDB database (see [`crate::engines`]) or a SQLite
//! file, its admin connection, the login roles made for it, and the SQL scripts the CLI prints
//! (`writeback migration`, `writeback grants`) run as the admin. Dropping it drops the database
//! and then the roles (PostgreSQL roles and MySQL accounts outlive a database).

use std::path::{Path, PathBuf};

use crate::engines::{EngineKind, TestDatabase, execute_on, query_text_on, url_with_credentials};

/// Run `f` to completion on a fresh current-thread runtime.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime")
        .block_on(f)
}

/// One engine's app database, its admin connection and the roles made for it.
pub struct AppDatabase {
    engine: &'static str,
    server: Option<TestDatabase>,
    sqlite: Option<PathBuf>,
    roles: Vec<String>,
    // Holds the SQLite file; removed last.
    _dir: Option<tempfile::TempDir>,
}

impl AppDatabase {
    /// A fresh database on `engine` (`postgres`, `mysql` or `sqlite`), or `None` when the
    /// engine's test server is not configured (through `skip_or_fail`: a failure in CI).
    pub fn create(engine: &'static str, prefix: &str) -> Option<AppDatabase> {
        let (server, sqlite, dir) = match engine {
            "sqlite" => {
                let dir = tempfile::tempdir().expect("a temp dir");
                let path = dir.path().join("app.db");
                rusqlite::Connection::open(&path).expect("create the SQLite file");
                (None, Some(path), Some(dir))
            }
            _ => {
                let kind = match engine {
                    "postgres" => EngineKind::Postgres,
                    _ => EngineKind::Mysql,
                };
                (
                    Some(block_on(TestDatabase::create(kind, prefix))?),
                    None,
                    None,
                )
            }
        };
        Some(AppDatabase {
            engine,
            server,
            sqlite,
            roles: Vec::new(),
            _dir: dir,
        })
    }

    /// `postgres`, `mysql` or `sqlite`.
    pub fn engine(&self) -> &'static str {
        self.engine
    }

    pub fn kind(&self) -> Option<EngineKind> {
        self.server.as_ref().map(TestDatabase::kind)
    }

    /// The database's name on a server (for MySQL also its schema).
    pub fn database_name(&self) -> Option<&str> {
        self.server.as_ref().map(TestDatabase::name)
    }

    /// The SQLite file.
    pub fn sqlite_path(&self) -> Option<&Path> {
        self.sqlite.as_deref()
    }

    /// Where the app's tables are: PostgreSQL `public`, the MySQL database, SQLite `main`.
    pub fn schema(&self) -> String {
        match (&self.server, self.engine) {
            (Some(_), "postgres") => "public".into(),
            (Some(db), _) => db.name().to_string(),
            (None, _) => "main".into(),
        }
    }

    pub fn admin_url(&self) -> String {
        match (&self.server, &self.sqlite) {
            (Some(db), _) => db.url().to_string(),
            (None, Some(path)) => format!("sqlite://{}", path.display()),
            _ => unreachable!("an app database is on a server or in a file"),
        }
    }

    /// The URL of `role` (SQLite: the file, written as a plain path for the writer so the
    /// doctor does not take the two URLs for one shared credential).
    pub fn url_of(&self, role: &str, password: &str, writer: bool) -> String {
        match (&self.server, &self.sqlite) {
            (Some(db), _) => url_with_credentials(db.url(), role, password),
            (None, Some(path)) if writer => path.display().to_string(),
            (None, Some(path)) => format!("sqlite://{}", path.display()),
            _ => unreachable!("an app database is on a server or in a file"),
        }
    }

    /// Run SQL as the admin; `Err` with the engine's message.
    pub fn try_admin(&self, sql: &str) -> Result<(), String> {
        match (&self.server, &self.sqlite) {
            (Some(db), _) => block_on(execute_on(db.kind(), db.url(), sql)),
            (None, Some(path)) => rusqlite::Connection::open(path)
                .and_then(|c| c.execute_batch(sql))
                .map_err(|e| e.to_string()),
            _ => unreachable!("an app database is on a server or in a file"),
        }
    }

    /// Run SQL as the admin; panics with the engine's message.
    pub fn admin(&self, sql: &str) {
        self.try_admin(sql)
            .unwrap_or_else(|e| panic!("{}: {e}\n{sql}", self.engine));
    }

    /// Every statement of a script the CLI printed (see [`statements`]), as the admin.
    pub fn admin_script(&self, script: &str) {
        for s in statements(script) {
            self.admin(&s);
        }
    }

    /// One query as the admin; every value in its text form (`None` for NULL).
    pub fn query(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        match (&self.server, &self.sqlite) {
            (Some(db), _) => block_on(query_text_on(db.kind(), db.url(), sql))
                .unwrap_or_else(|e| panic!("{}: {e}\n{sql}", self.engine)),
            (None, Some(path)) => sqlite_query(path, sql),
            _ => unreachable!("an app database is on a server or in a file"),
        }
    }

    /// Create a login role (PostgreSQL) or account (MySQL) with no privilege at all; dropped
    /// with the database. SQLite has none: nothing happens.
    pub fn create_role(&mut self, role: &str, password: &str) {
        match self.kind() {
            Some(EngineKind::Postgres) => {
                self.admin(&format!("CREATE ROLE {role} LOGIN PASSWORD '{password}'"))
            }
            Some(EngineKind::Mysql) => self.admin(&format!(
                "CREATE USER '{role}'@'%' IDENTIFIED BY '{password}'"
            )),
            None => return,
        }
        self.adopt_role(role);
    }

    /// Drop `role` (made by SQL the test ran) with the database.
    pub fn adopt_role(&mut self, role: &str) {
        if self.kind().is_some() && !self.roles.iter().any(|r| r == role) {
            self.roles.push(role.to_string());
        }
    }

    /// Drop the database, then the roles, now (also done on drop).
    pub fn finish(self) {}
}

impl Drop for AppDatabase {
    fn drop(&mut self) {
        let Some(db) = self.server.take() else {
            return;
        };
        let roles = std::mem::take(&mut self.roles);
        // Drop may run while a test unwinds; a helper thread with its own runtime does the work.
        let done = std::thread::spawn(move || {
            let (kind, admin) = (db.kind(), db.admin_url().to_string());
            block_on(db.drop_database());
            for role in &roles {
                let sql = match kind {
                    EngineKind::Postgres => format!("DROP ROLE IF EXISTS {role}"),
                    EngineKind::Mysql => format!("DROP USER IF EXISTS '{role}'@'%'"),
                };
                if let Err(e) = block_on(execute_on(kind, &admin, &sql)) {
                    eprintln!("warning: could not drop role {role}: {e}");
                }
            }
        })
        .join();
        if done.is_err() {
            eprintln!("warning: dropping an app database panicked");
        }
    }
}

fn sqlite_query(path: &Path, sql: &str) -> Vec<Vec<Option<String>>> {
    use rusqlite::types::Value;
    let run = || -> rusqlite::Result<Vec<Vec<Option<String>>>> {
        let conn = rusqlite::Connection::open(path)?;
        let mut stmt = conn.prepare(sql)?;
        let n = stmt.column_count();
        let rows = stmt.query_map([], |r| {
            (0..n)
                .map(|i| {
                    r.get::<_, Value>(i).map(|v| match v {
                        Value::Null => None,
                        Value::Integer(i) => Some(i.to_string()),
                        Value::Real(f) => Some(f.to_string()),
                        Value::Text(t) => Some(t),
                        Value::Blob(_) => Some("<blob>".into()),
                    })
                })
                .collect()
        })?;
        rows.collect()
    };
    run().unwrap_or_else(|e| panic!("sqlite: {e}\n{sql}"))
}

/// The statements of a printed script: comment lines dropped, split at `;`.
pub fn statements(script: &str) -> Vec<String> {
    let text: String = script
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .map(|l| format!("{l}\n"))
        .collect();
    text.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_drop_comments_and_split() {
        assert_eq!(
            statements("-- a comment; still a comment\nGRANT x;\n  GRANT y\n  ON z;\n"),
            ["GRANT x", "GRANT y\n  ON z"]
        );
    }

    #[test]
    fn a_sqlite_app_runs_sql_and_answers_queries() {
        let app = AppDatabase::create("sqlite", "unit").expect("SQLite needs no server");
        app.admin("CREATE TABLE t (i INTEGER, s TEXT); INSERT INTO t VALUES (1, 'a'), (2, NULL);");
        assert_eq!(
            app.query("SELECT i, s FROM t ORDER BY i"),
            [
                vec![Some("1".to_string()), Some("a".to_string())],
                vec![Some("2".to_string()), None]
            ]
        );
        assert!(app.try_admin("SELECT * FROM missing").is_err());
        assert_eq!(app.schema(), "main");
        assert!(app.url_of("r", "p", false).starts_with("sqlite:///"));
    }
}
