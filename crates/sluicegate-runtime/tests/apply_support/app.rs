//! The app database of the apply tests, on SQLite, PostgreSQL or MariaDB: three small tables
//! (one per conflict guard), a config over them, proposals made and approved through the real
//! APIs, and the ground truth read straight from the database (the row, the source receipt
//! table). Shared by the runtime's apply tests and the binary's crash test (by path).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};
use sluicegate_core::config::{Config, Engine, validate};
use sluicegate_core::decision::{SigningKey, Verdict};
use sluicegate_core::proposal::content_hash;
use sluicegate_ledger::Ledger;
use sluicegate_runtime::{AgentApi, DecisionRequest, Env, ReviewApi, ReviewError};
use sluicegate_source::migration_body;
use sluicegate_test_support::engines::{EngineKind, TestDatabase, query_text_on};

pub const ENGINES: [Engine; 3] = [Engine::Sqlite, Engine::Postgres, Engine::Mysql];

pub const CAPABILITY: &str = "support.propose_note";

/// `tickets`: a version column only Sluicegate advances. `triggered`: a trigger advances it
/// (`maintained_by: "app"`). `plain`: no version column, so the row-hash guard. Each holds
/// T-1 and T-2 of tenant acme and O-1 of tenant otherco.
fn ddl(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => {
            "CREATE TABLE tickets (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, note VARCHAR(200), version INTEGER NOT NULL);
             CREATE TABLE triggered (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, note VARCHAR(200), version INTEGER NOT NULL);
             CREATE TRIGGER triggered_version AFTER UPDATE OF note ON triggered
                BEGIN UPDATE triggered SET version = OLD.version + 1 WHERE id = NEW.id; END;
             CREATE TABLE plain (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, note VARCHAR(200), status TEXT NOT NULL);"
        }
        Engine::Postgres => {
            "CREATE TABLE tickets (id text PRIMARY KEY, tenant_id text NOT NULL, note varchar(200), version bigint NOT NULL);
             CREATE TABLE triggered (id text PRIMARY KEY, tenant_id text NOT NULL, note varchar(200), version bigint NOT NULL);
             CREATE FUNCTION bump_version() RETURNS trigger LANGUAGE plpgsql AS
                $$ BEGIN NEW.version := OLD.version + 1; RETURN NEW; END $$;
             CREATE TRIGGER triggered_version BEFORE UPDATE ON triggered
                FOR EACH ROW EXECUTE FUNCTION bump_version();
             CREATE TABLE plain (id text PRIMARY KEY, tenant_id text NOT NULL, note varchar(200), status text NOT NULL);"
        }
        Engine::Mysql => {
            "CREATE TABLE tickets (id varchar(64) PRIMARY KEY, tenant_id varchar(64) NOT NULL, note varchar(200), version bigint NOT NULL);
             CREATE TABLE triggered (id varchar(64) PRIMARY KEY, tenant_id varchar(64) NOT NULL, note varchar(200), version bigint NOT NULL);
             CREATE TRIGGER triggered_version BEFORE UPDATE ON triggered
                FOR EACH ROW SET NEW.version = OLD.version + 1;
             CREATE TABLE plain (id varchar(64) PRIMARY KEY, tenant_id varchar(64) NOT NULL, note varchar(200), status varchar(32) NOT NULL);"
        }
    }
}

const SEED: &str = "
INSERT INTO tickets VALUES ('T-1', 'acme', NULL, 1), ('T-2', 'acme', NULL, 1), ('O-1', 'otherco', NULL, 1);
INSERT INTO triggered VALUES ('T-1', 'acme', NULL, 1), ('T-2', 'acme', NULL, 1), ('O-1', 'otherco', NULL, 1);
INSERT INTO plain VALUES ('T-1', 'acme', NULL, 'open'), ('T-2', 'acme', NULL, 'open'), ('O-1', 'otherco', NULL, 'open');
";

/// One app database and a temp dir for ledgers, configs and handler files.
pub struct App {
    pub engine: Engine,
    /// The URL the config's source reads and writes through.
    pub url: String,
    pub schema: String,
    server: Option<TestDatabase>,
    dir: tempfile::TempDir,
}

impl App {
    /// A seeded app database, or `None` when the engine's test server is not configured
    /// (`skip_or_fail`: with CI=true that fails instead).
    pub async fn create(engine: Engine, prefix: &str) -> Option<App> {
        let dir = tempfile::tempdir().unwrap();
        let (url, schema, server) = match engine {
            Engine::Sqlite => {
                let path = dir.path().join("app.db");
                let conn = rusqlite::Connection::open(&path).unwrap();
                conn.execute_batch(ddl(engine)).unwrap();
                conn.execute_batch(SEED).unwrap();
                conn.execute_batch(&migration_body(engine, None).unwrap())
                    .unwrap();
                (format!("sqlite://{}", path.display()), "main".into(), None)
            }
            Engine::Postgres | Engine::Mysql => {
                let kind = kind(engine);
                let db = TestDatabase::create(kind, prefix).await?;
                db.execute(ddl(engine)).await;
                db.execute(SEED).await;
                // What an admin runs before direct writeback: apply never creates it.
                db.execute(&migration_body(engine, None).unwrap()).await;
                let schema = match engine {
                    Engine::Postgres => "public".to_string(),
                    _ => db.name().to_string(),
                };
                (db.url().to_string(), schema, Some(db))
            }
        };
        Some(App {
            engine,
            url,
            schema,
            server,
            dir,
        })
    }

    pub fn name(&self) -> &'static str {
        self.engine.as_str()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A fresh file path in the temp dir.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub async fn execute(&self, sql: &str) {
        match &self.server {
            None => self.sqlite().execute_batch(sql).unwrap(),
            Some(db) => db.execute(sql).await,
        }
    }

    fn sqlite(&self) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open(self.path("app.db")).unwrap();
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .unwrap();
        conn
    }

    /// Every value of one query's rows as text (`None` for NULL); `Err` with the engine's
    /// message.
    pub async fn query(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>, String> {
        match &self.server {
            Some(db) => query_text_on(db.kind(), db.url(), sql).await,
            None => {
                let conn = self.sqlite();
                let mut stmt = conn.prepare(sql).map_err(|e| e.to_string())?;
                let n = stmt.column_count();
                let rows = stmt
                    .query_map([], |r| {
                        (0..n)
                            .map(|i| {
                                Ok(match r.get::<_, rusqlite::types::Value>(i)? {
                                    rusqlite::types::Value::Null => None,
                                    rusqlite::types::Value::Integer(v) => Some(v.to_string()),
                                    rusqlite::types::Value::Real(v) => Some(v.to_string()),
                                    rusqlite::types::Value::Text(v) => Some(v),
                                    rusqlite::types::Value::Blob(_) => Some("<blob>".into()),
                                })
                            })
                            .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .map_err(|e| e.to_string())?;
                rows.collect::<Result<_, _>>().map_err(|e| e.to_string())
            }
        }
    }

    /// `(note, version-or-status)` of one row of `table`.
    pub async fn row(&self, table: &str, id: &str) -> (Option<String>, Option<String>) {
        let last = if table == "plain" {
            "status"
        } else {
            "version"
        };
        let rows = self
            .query(&format!(
                "SELECT note, {last} FROM {table} WHERE id = '{id}'"
            ))
            .await
            .unwrap();
        let mut row = rows.into_iter().next().expect("the row exists");
        let second = row.pop().flatten();
        (row.pop().flatten(), second)
    }

    /// Every table's rows as text: what "nothing was written" compares.
    pub async fn snapshot(&self) -> Vec<Vec<Option<String>>> {
        let mut all = Vec::new();
        for table in ["tickets", "triggered", "plain"] {
            all.extend(
                self.query(&format!("SELECT * FROM {table} ORDER BY id"))
                    .await
                    .unwrap(),
            );
        }
        all
    }

    /// `(job_id, status)` of the source's receipt rows for a proposal.
    pub async fn source_receipts(&self, proposal_id: &str) -> Vec<(String, String)> {
        let sql = format!(
            "SELECT job_id, status FROM sluicegate_writeback_receipts WHERE proposal_id = '{proposal_id}' ORDER BY job_id"
        );
        match self.query(&sql).await {
            Ok(rows) => rows
                .into_iter()
                .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
                .collect(),
            Err(e) if e.contains("exist") || e.contains("no such table") => Vec::new(),
            Err(e) => panic!("{}: source receipts: {e}", self.name()),
        }
    }

    /// The config document: one proposal capability over `table` with its guard, routed to
    /// `executor` (`None`: the guarded `UPDATE`), with these reviewers.
    pub fn config_doc(&self, table: &str, executor: Option<Value>, reviewers: &[Value]) -> Value {
        let (guard, visible) = match table {
            "tickets" => (
                json!({"column": "version"}),
                json!(["id", "note", "version"]),
            ),
            "triggered" => (
                json!({"column": "version", "maintained_by": "app"}),
                json!(["id", "note", "version"]),
            ),
            _ => (
                json!({"weak_guard_ack": true}),
                json!(["id", "note", "status"]),
            ),
        };
        let mut cap = json!({
            "name": CAPABILITY, "kind": "proposal", "source": "app",
            "target": {"schema": self.schema, "table": table, "primary_key": "id", "tenant_key": "tenant_id"},
            "args": {"ticket_id": {"type": "string"}, "note": {"type": "string", "max_length": 200}},
            "lookup": {"id_from_arg": "ticket_id"},
            "visible_columns": visible,
            "patch": {"note": {"from_arg": "note"}},
            "allowed_columns": ["note"],
            "conflict_guard": guard
        });
        let mut doc = json!({
            "version": 1, "mode": "review", "result_format": 2,
            "sources": {"app": {"engine": self.name(), "read_url_env": "APP_URL", "write_url_env": "APP_URL", "statement_timeout_ms": 10000}},
            "trusted_context": {"provider": "environment", "values": {"tenant_id_env": "TENANT", "principal_env": "PRINCIPAL"}},
            "capabilities": []
        });
        if let Some(executor) = executor {
            cap["executor"] = json!("hook");
            doc["executors"] = json!({ "hook": executor });
        }
        doc["capabilities"] = json!([cap]);
        if !reviewers.is_empty() {
            doc["reviewers"] = json!(reviewers);
        }
        doc
    }

    /// The env a front end runs with: the source URL and the trusted context.
    pub fn env(&self, extra: &[(&str, String)]) -> Env {
        let mut map: HashMap<String, String> = HashMap::from([
            ("APP_URL".into(), self.url.clone()),
            ("TENANT".into(), "acme".into()),
            ("PRINCIPAL".into(), "agent_7".into()),
        ]);
        for (k, v) in extra {
            map.insert(k.to_string(), v.clone());
        }
        Env::from_map(map)
    }
}

fn kind(engine: Engine) -> EngineKind {
    match engine {
        Engine::Postgres => EngineKind::Postgres,
        _ => EngineKind::Mysql,
    }
}

pub fn config(doc: &Value) -> Arc<Config> {
    let (v, c) = validate(doc);
    assert!(v.ok, "{:?}", v.errors);
    Arc::new(c.unwrap())
}

/// A front end over one ledger file: the agent side and the review side, with their own
/// handles (as two processes would have).
pub struct Desk {
    pub ledger: Ledger,
    pub agent: AgentApi,
    pub review: ReviewApi,
}

impl Desk {
    pub fn open(ledger_path: &Path, config: Arc<Config>, env: Env) -> Desk {
        Desk::with_ledger(Ledger::open(ledger_path).unwrap(), config, env)
    }

    /// A front end over a ledger already open (a PostgreSQL one, or one with a test clock).
    pub fn with_ledger(ledger: Ledger, config: Arc<Config>, env: Env) -> Desk {
        let agent = AgentApi::new(config.clone(), ledger.clone(), env.clone(), None);
        let review = ReviewApi::new(Some(config), ledger.clone(), env);
        Desk {
            ledger,
            agent,
            review,
        }
    }

    /// The model proposes `note` for `ticket`; returns the proposal id.
    pub async fn propose(&self, ticket: &str, note: &str) -> String {
        let out = self
            .agent
            .call(
                CAPABILITY,
                json!({"ticket_id": ticket, "note": note})
                    .as_object()
                    .unwrap(),
            )
            .await;
        assert_eq!(out.payload["ok"], json!(true), "{}", out.payload);
        out.payload["proposal"]["id"].as_str().unwrap().to_string()
    }

    /// A reviewer decides on exactly what is stored (its content hash): ann, or with reviewers
    /// configured whoever `key` belongs to.
    pub async fn decide(
        &self,
        id: &str,
        verdict: Verdict,
        key: Option<SigningKey>,
    ) -> Result<(), ReviewError> {
        let p = self.ledger.proposal(id).unwrap();
        self.review
            .decide(DecisionRequest {
                proposal_id: id.to_string(),
                shown_hash: content_hash(&p.change_set().unwrap()),
                shown_version: p.proposal_version,
                verdict,
                reviewer: "ann".into(),
                reason: (verdict == Verdict::Reject).then(|| "not this one".to_string()),
                key,
            })
            .await
            .map(|_| ())
    }

    /// Propose and approve (unsigned).
    pub async fn approved(&self, ticket: &str, note: &str) -> String {
        let id = self.propose(ticket, note).await;
        self.decide(&id, Verdict::Approve, None).await.unwrap();
        id
    }
}
