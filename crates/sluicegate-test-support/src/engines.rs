//! Throwaway databases on real PostgreSQL and MySQL/MariaDB servers for integration tests.
//!
//! `scripts/test.sh` starts the servers and exports one admin URL per engine
//! (`SLUICEGATE_TEST_POSTGRES_URL`, `SLUICEGATE_TEST_MYSQL_URL`). Each test creates its own
//! uniquely named database with [`TestDatabase::create`], loads its SQL with
//! [`TestDatabase::execute`], and the database is dropped when the value goes out of scope,
//! panics included. Without the env var the test goes through [`crate::skip_or_fail`]: it
//! fails with `CI=true` (which `scripts/test.sh` sets), and otherwise prints the skip marker.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sluicegate_core::secrets::Secret;

use crate::skip_or_fail;

/// A server engine the integration tests can run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    Postgres,
    /// MySQL or MariaDB: both speak the same protocol and SQL for what the tests need.
    Mysql,
}

impl EngineKind {
    /// The env var holding the admin URL of this engine's test server.
    pub fn env_var(self) -> &'static str {
        match self {
            EngineKind::Postgres => "SLUICEGATE_TEST_POSTGRES_URL",
            EngineKind::Mysql => "SLUICEGATE_TEST_MYSQL_URL",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Postgres => "postgres",
            EngineKind::Mysql => "mysql",
        }
    }

    fn quote(self, ident: &str) -> String {
        match self {
            EngineKind::Postgres => format!("\"{ident}\""),
            EngineKind::Mysql => format!("`{ident}`"),
        }
    }
}

/// The admin URL of `kind`'s test server, or [`skip_or_fail`] when the env var is unset.
pub fn engine_url(kind: EngineKind) -> Option<String> {
    match std::env::var(kind.env_var()) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => skip_or_fail(format!(
            "{} is not set, so this {} test cannot run; `bash scripts/test.sh --env-only -- cargo test` starts the server and sets it",
            kind.env_var(),
            kind.name()
        )),
    }
}

/// A fresh database name: `<prefix>_<pid>_<counter>_<time>`, lowercase, at most 63 bytes.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let clean: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(30)
        .collect();
    format!("sg_{clean}_{}_{n}_{nanos:x}", std::process::id())
}

/// Split `scheme://authority[/path][?query]` into its three parts.
fn split_url(url: &str) -> (&str, &str, &str) {
    let (base, query) = match url.find('?') {
        Some(i) => (&url[..i], &url[i..]),
        None => (url, ""),
    };
    let after_scheme = base.find("://").map(|i| i + 3).unwrap_or(0);
    let authority_end = base[after_scheme..]
        .find('/')
        .map(|i| after_scheme + i)
        .unwrap_or(base.len());
    (&base[..authority_end], &base[authority_end..], query)
}

/// `url` with its database (path) replaced by `database`; the query string is kept.
pub fn url_with_database(url: &str, database: &str) -> String {
    let (authority, _path, query) = split_url(url);
    format!("{authority}/{database}{query}")
}

/// `url` with its password replaced by `password` (for authentication failure tests).
pub fn url_with_password(url: &str, password: &str) -> String {
    let (authority, _, _) = split_url(url);
    let Some(userinfo) = authority
        .find("://")
        .and_then(|i| authority[i + 3..].rsplit_once('@'))
        .map(|(userinfo, _)| userinfo)
    else {
        return url.to_string();
    };
    let user = userinfo.split(':').next().unwrap_or(userinfo).to_string();
    url_with_credentials(url, &user, password)
}

/// `url` logging in as `user` with `password` (for tests with a less privileged account).
pub fn url_with_credentials(url: &str, user: &str, password: &str) -> String {
    let (authority, path, query) = split_url(url);
    let Some(scheme_end) = authority.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let (scheme, rest) = authority.split_at(scheme_end);
    let host = rest.rsplit_once('@').map(|(_, h)| h).unwrap_or(rest);
    format!("{scheme}{user}:{password}@{host}{path}{query}")
}

/// `url` pointing at `port` on the same host (for closed-port tests).
pub fn url_with_port(url: &str, port: u16) -> String {
    let (authority, path, query) = split_url(url);
    let host_start = authority
        .rfind('@')
        .map(|i| i + 1)
        .or_else(|| authority.find("://").map(|i| i + 3))
        .unwrap_or(0);
    let host_port = &authority[host_start..];
    let host = match host_port.rfind(':') {
        Some(i) if !host_port.ends_with(']') => &host_port[..i],
        _ => host_port,
    };
    format!("{}{host}:{port}{path}{query}", &authority[..host_start])
}

/// A loopback TCP port nothing listens on (bound once, then released).
pub fn unused_local_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// A database created for one test, dropped (with any remaining sessions) on drop.
#[derive(Debug)]
pub struct TestDatabase {
    kind: EngineKind,
    name: String,
    admin_url: Secret,
    url: Secret,
    dropped: bool,
}

impl TestDatabase {
    /// Create a uniquely named database on `kind`'s test server, or `None` when the engine is
    /// not configured (see [`engine_url`]). `prefix` makes leftovers easy to attribute.
    pub async fn create(kind: EngineKind, prefix: &str) -> Option<TestDatabase> {
        let admin_url = engine_url(kind)?;
        let name = unique_name(prefix);
        let create = format!("CREATE DATABASE {}", kind.quote(&name));
        execute_on(kind, &admin_url, &create)
            .await
            .unwrap_or_else(|e| panic!("create {} database {name}: {e}", kind.name()));
        let url = url_with_database(&admin_url, &name);
        Some(TestDatabase {
            kind,
            name,
            admin_url: Secret::new(admin_url),
            url: Secret::new(url),
            dropped: false,
        })
    }

    pub fn kind(&self) -> EngineKind {
        self.kind
    }

    /// The database name (for MySQL also the schema name of its tables).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A URL connecting to this database as the admin user.
    pub fn url(&self) -> &str {
        self.url.expose()
    }

    /// The server's admin URL (not tied to this database).
    pub fn admin_url(&self) -> &str {
        self.admin_url.expose()
    }

    /// Run one or more `;`-separated statements in this database; panics with the error.
    pub async fn execute(&self, sql: &str) {
        if let Err(e) = execute_on(self.kind, self.url.expose(), sql).await {
            panic!(
                "{} in {}: {e}\n--- sql ---\n{sql}",
                self.kind.name(),
                self.name
            );
        }
    }

    /// Like [`TestDatabase::execute`] but returns the error text instead of panicking.
    pub async fn try_execute(&self, sql: &str) -> Result<(), String> {
        execute_on(self.kind, self.url.expose(), sql).await
    }

    /// Run one query in this database and return every value in its text form (`None` = NULL).
    pub async fn query_text(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        query_text_on(self.kind, self.url.expose(), sql)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{} in {}: {e}\n--- sql ---\n{sql}",
                    self.kind.name(),
                    self.name
                )
            })
    }

    /// Drop the database now (also done on drop).
    pub async fn drop_database(mut self) {
        self.dropped = true;
        if let Err(e) = drop_database(self.kind, self.admin_url.expose(), &self.name).await {
            eprintln!("warning: could not drop test database {}: {e}", self.name);
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        // Drop may run inside an async test, where blocking on a runtime is not allowed:
        // a helper thread with its own runtime does the work.
        let (kind, admin, name) = (self.kind, self.admin_url.clone(), self.name.clone());
        let joined = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(drop_database(kind, admin.expose(), &name))
        })
        .join();
        match joined {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("warning: could not drop test database {}: {e}", self.name),
            Err(_) => eprintln!("warning: dropping test database {} panicked", self.name),
        }
    }
}

async fn drop_database(kind: EngineKind, admin_url: &str, name: &str) -> Result<(), String> {
    let sql = match kind {
        // FORCE ends sessions a test's pool may still hold open.
        EngineKind::Postgres => {
            format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", kind.quote(name))
        }
        EngineKind::Mysql => format!("DROP DATABASE IF EXISTS {}", kind.quote(name)),
    };
    execute_on(kind, admin_url, &sql).await
}

async fn pg_connect(url: &str) -> Result<tokio_postgres::Client, String> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

async fn my_connect(url: &str) -> Result<mysql_async::Conn, String> {
    let opts = mysql_async::Opts::from_url(url).map_err(|e| e.to_string())?;
    let opts = mysql_async::OptsBuilder::from_opts(opts).prefer_socket(false);
    mysql_async::Conn::new(opts)
        .await
        .map_err(|e| e.to_string())
}

/// Run `sql` (one or more statements) on a fresh connection to `url`.
pub async fn execute_on(kind: EngineKind, url: &str, sql: &str) -> Result<(), String> {
    match kind {
        EngineKind::Postgres => {
            let client = pg_connect(url).await?;
            client
                .batch_execute(sql)
                .await
                .map_err(|e| match e.as_db_error() {
                    Some(db) => format!("{} ({})", db.message(), db.code().code()),
                    None => e.to_string(),
                })
        }
        EngineKind::Mysql => {
            use mysql_async::prelude::Queryable;
            let mut conn = my_connect(url).await?;
            let result = conn.query_drop(sql).await.map_err(|e| e.to_string());
            let _ = conn.disconnect().await;
            result
        }
    }
}

/// Run one query on a fresh connection to `url`; values in text form, `None` for NULL.
pub async fn query_text_on(
    kind: EngineKind,
    url: &str,
    sql: &str,
) -> Result<Vec<Vec<Option<String>>>, String> {
    match kind {
        EngineKind::Postgres => {
            let client = pg_connect(url).await?;
            let messages = client.simple_query(sql).await.map_err(|e| e.to_string())?;
            Ok(messages
                .into_iter()
                .filter_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(row) => Some(
                        (0..row.len())
                            .map(|i| row.get(i).map(str::to_string))
                            .collect(),
                    ),
                    _ => None,
                })
                .collect())
        }
        EngineKind::Mysql => {
            use mysql_async::prelude::Queryable;
            let mut conn = my_connect(url).await?;
            let rows: Vec<mysql_async::Row> = conn.query(sql).await.map_err(|e| e.to_string())?;
            let _ = conn.disconnect().await;
            Ok(rows
                .into_iter()
                .map(|row| row.unwrap().into_iter().map(mysql_text).collect())
                .collect())
        }
    }
}

fn mysql_text(value: mysql_async::Value) -> Option<String> {
    use mysql_async::Value;
    match value {
        Value::NULL => None,
        Value::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
        other => Some(other.as_sql(true).trim_matches('\'').to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_rewriting() {
        assert_eq!(
            url_with_database("postgres://u:p@127.0.0.1:5432/postgres", "sg_x"),
            "postgres://u:p@127.0.0.1:5432/sg_x"
        );
        assert_eq!(
            url_with_database("mysql://u:p@127.0.0.1:3306", "sg_x"),
            "mysql://u:p@127.0.0.1:3306/sg_x"
        );
        assert_eq!(
            url_with_database("postgres://u:p@h/db?sslmode=disable", "n"),
            "postgres://u:p@h/n?sslmode=disable"
        );
        assert_eq!(
            url_with_password("mysql://u:p@127.0.0.1:3306/db", "wrong"),
            "mysql://u:wrong@127.0.0.1:3306/db"
        );
        assert_eq!(
            url_with_credentials("postgres://u:p@h:1/db?x=1", "ro", "pw"),
            "postgres://ro:pw@h:1/db?x=1"
        );
        assert_eq!(
            url_with_port("postgres://u:p@127.0.0.1:5432/db", 1),
            "postgres://u:p@127.0.0.1:1/db"
        );
        assert_eq!(url_with_port("mysql://u:p@h", 7), "mysql://u:p@h:7");
    }

    #[test]
    fn names_are_unique_and_safe() {
        let a = unique_name("Source Reads!");
        let b = unique_name("Source Reads!");
        assert_ne!(a, b);
        assert!(a.len() <= 63, "{a}");
        assert!(
            a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{a}"
        );
    }
}
