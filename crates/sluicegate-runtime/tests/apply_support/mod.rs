//! What the apply tests share: the app database on every engine (`app`), the three executors
//! with a way to count what reached the app-owned handlers, and a ledger edited the way an
//! attacker with write access to the file would edit it.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod app;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rusqlite::{Connection, params};
use serde_json::{Value, json};
use sluicegate_core::chain;
use sluicegate_core::decision::DecisionRecord;
use sluicegate_core::proposal::content_hash;
use sluicegate_protocol::ChangeSet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Which executor `apply` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exec {
    Sql,
    Http,
    Command,
}

pub const EXECUTORS: [Exec; 3] = [Exec::Sql, Exec::Http, Exec::Command];

/// The executor under test, and how many calls reached it.
pub struct Executor {
    pub exec: Exec,
    http: Option<HttpStub>,
    seen: PathBuf,
    script: PathBuf,
}

impl Executor {
    pub async fn start(exec: Exec, dir: &Path) -> Executor {
        let seen = dir.join(format!("{exec:?}.seen"));
        let script = dir.join("handler.sh");
        // A command handler that records each call it gets, then reports the write done.
        std::fs::write(
            &script,
            "cat >/dev/null\necho call >> \"$1\"\necho '{\"status\":\"applied\",\"rows_affected\":1,\"source_database_mutated\":true}'\n",
        )
        .unwrap();
        let http = match exec {
            Exec::Http => Some(HttpStub::start().await),
            _ => None,
        };
        Executor {
            exec,
            http,
            seen,
            script,
        }
    }

    /// The `executors` entry of the config (`None` for the guarded `UPDATE`).
    pub fn doc(&self) -> Option<Value> {
        match self.exec {
            Exec::Sql => None,
            Exec::Http => Some(
                json!({"type": "http_handler", "url_env": "HOOK_URL", "method": "POST", "timeout_ms": 5000}),
            ),
            Exec::Command => Some(
                json!({"type": "command_handler", "command_env": "HOOK_COMMAND", "timeout_ms": 5000}),
            ),
        }
    }

    /// The env values the executor needs.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        match (&self.http, self.exec) {
            (Some(stub), _) => vec![("HOOK_URL", stub.url.clone())],
            (None, Exec::Command) => vec![(
                "HOOK_COMMAND",
                format!("sh '{}' '{}'", self.script.display(), self.seen.display()),
            )],
            _ => Vec::new(),
        }
    }

    /// How many calls reached the app-owned handler.
    pub fn calls(&self) -> usize {
        match &self.http {
            Some(stub) => stub.hits.load(Ordering::SeqCst),
            None => std::fs::read_to_string(&self.seen)
                .map(|s| s.lines().count())
                .unwrap_or(0),
        }
    }
}

/// An HTTP handler that counts the requests it receives and answers each `applied`.
struct HttpStub {
    url: String,
    hits: Arc<AtomicUsize>,
}

impl HttpStub {
    async fn start() -> HttpStub {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    if read_request(&mut sock).await {
                        counter.fetch_add(1, Ordering::SeqCst);
                        let body = r#"{"status":"applied","rows_affected":1,"source_database_mutated":true}"#;
                        let head = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = sock.write_all(head.as_bytes()).await;
                        let _ = sock.write_all(body.as_bytes()).await;
                        let _ = sock.shutdown().await;
                    }
                });
            }
        });
        HttpStub {
            url: format!("http://127.0.0.1:{port}/writeback"),
            hits,
        }
    }
}

/// Read one request (head and `content-length` body); false when the peer went away first.
async fn read_request(sock: &mut tokio::net::TcpStream) -> bool {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let Ok(n) = sock.read(&mut chunk).await else {
            return false;
        };
        if n == 0 {
            return false;
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if buf.len() >= end + 4 + len {
            return true;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The ledger file, edited directly.
// ---------------------------------------------------------------------------------------------

/// A raw connection to the ledger file with every guard trigger dropped, the first thing a
/// deliberate edit does.
pub fn attacker(ledger: &Path) -> Connection {
    let conn = Connection::open(ledger).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for n in names {
        conn.execute_batch(&format!("DROP TRIGGER {n}")).unwrap();
    }
    conn
}

/// How much of the record an edit brings back in line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cover {
    /// The change set alone: its hashes are stale.
    Nothing,
    /// Both stored copies of the content hash recomputed.
    Hashes,
    /// Those, the creation event's digest and hash of the change set, and the whole event
    /// chain recomputed.
    Chain,
}

/// Edit a stored change set, covering the edit as `cover` says.
pub fn edit_change_set(
    conn: &Connection,
    id: &str,
    cover: Cover,
    edit: impl FnOnce(&mut ChangeSet),
) {
    let text: String = conn
        .query_row(
            "SELECT change_set_json FROM proposals WHERE proposal_id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap();
    let mut cs: ChangeSet = serde_json::from_str(&text).unwrap();
    edit(&mut cs);
    let old_hash: String = conn
        .query_row(
            "SELECT proposal_hash FROM proposals WHERE proposal_id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap();
    let hash = match cover {
        Cover::Nothing => old_hash,
        Cover::Hashes | Cover::Chain => {
            let hash = content_hash(&cs);
            cs.integrity.as_mut().unwrap().proposal_hash = hash.clone();
            hash
        }
    };
    let text = serde_json::to_string(&serde_json::to_value(&cs).unwrap()).unwrap();
    conn.execute(
        "UPDATE proposals SET change_set_json = ?2, proposal_hash = ?3 WHERE proposal_id = ?1",
        params![id, text, hash],
    )
    .unwrap();
    if cover == Cover::Chain {
        edit_event(conn, id, "proposal_created", |p| {
            p["proposal_hash"] = json!(hash);
            p["change_set_sha256"] = json!(chain::digest(&text));
        });
    }
}

/// Edit the payload of a proposal's first event of `kind`, then recompute the whole chain.
pub fn edit_event(conn: &Connection, id: &str, kind: &str, edit: impl FnOnce(&mut Value)) {
    let (event_id, payload): (i64, String) = conn
        .query_row(
            "SELECT event_id, payload_json FROM proposal_events WHERE proposal_id = ?1 AND kind = ?2 ORDER BY event_id LIMIT 1",
            params![id, kind],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let mut payload: Value = serde_json::from_str(&payload).unwrap();
    edit(&mut payload);
    conn.execute(
        "UPDATE proposal_events SET payload_json = ?2 WHERE event_id = ?1",
        params![event_id, payload.to_string()],
    )
    .unwrap();
    rechain(conn, id);
}

/// Recompute every link of a proposal's event chain, as an attacker who read the code would.
pub fn rechain(conn: &Connection, id: &str) {
    let events: Vec<(i64, String, String, String, String)> = conn
        .prepare(
            "SELECT event_id, kind, actor, payload_json, created_at FROM proposal_events WHERE proposal_id = ?1 ORDER BY event_id",
        )
        .unwrap()
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut prev = chain::genesis(id);
    for (event_id, kind, actor, payload, created_at) in events {
        let payload: Value = serde_json::from_str(&payload).unwrap();
        let hash = chain::link(&prev, &kind, &actor, &payload, &created_at);
        conn.execute(
            "UPDATE proposal_events SET prev_hash = ?2, chain_hash = ?3 WHERE event_id = ?1",
            params![event_id, prev, hash],
        )
        .unwrap();
        prev = hash;
    }
}

/// Rewrite the proposal's decision record (the row and its event's copy) and the chain.
pub fn edit_decision(conn: &Connection, id: &str, edit: impl FnOnce(&mut DecisionRecord)) {
    let decided: String = conn
        .query_row(
            "SELECT payload_json FROM proposal_events WHERE proposal_id = ?1 AND kind = 'proposal_approved'",
            [id],
            |r| r.get(0),
        )
        .unwrap();
    let decided: Value = serde_json::from_str(&decided).unwrap();
    let mut d: DecisionRecord = serde_json::from_value(decided["decision"].clone()).unwrap();
    edit(&mut d);
    conn.execute(
        "UPDATE approvals SET proposal_hash = ?2, approver = ?3, signature = ?4, reviewer_key = ?5, created_at = ?6 WHERE proposal_id = ?1",
        params![id, d.content_hash, d.reviewer, d.signature, d.reviewer_key, d.decided_at],
    )
    .unwrap();
    edit_event(conn, id, "proposal_approved", |p| {
        p["proposal_hash"] = json!(d.content_hash);
        p["decision"] = serde_json::to_value(&d).unwrap();
    });
}

/// Set the proposal's `state` projection.
pub fn set_state(conn: &Connection, id: &str, state: &str) {
    conn.execute(
        "UPDATE proposals SET state = ?2 WHERE proposal_id = ?1",
        params![id, state],
    )
    .unwrap();
}
