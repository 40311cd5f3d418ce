//! Another process holding the ledger's write lock (a CLI `apply` mid-transaction) must not
//! stall an MCP server: its other requests keep being answered, and the call that has to be
//! recorded waits for the lock, is recorded, and only then answered.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::mcp_support;

use mcp_support::{Fixture, READ, StdioClient};
use serde_json::json;

#[test]
fn a_held_ledger_lock_does_not_stall_the_stdio_server() {
    let fx = Fixture::new(1);
    let mut cmd = fx.cmd();
    cmd.args(["mcp", "serve"]).args(fx.paths());
    let mut client = StdioClient::start(cmd);
    // A first call creates and migrates the ledger before the lock is taken.
    let first = client.call(READ, json!({"invoice_id": "INV-3001"}));
    assert_ne!(first["result"]["isError"], json!(true), "{first}");

    // Hold the write lock the way `sluicegate apply` does while it records.
    let holder = rusqlite::Connection::open(&fx.store).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();

    let call = client.send(
        "tools/call",
        json!({"name": READ, "arguments": {"invoice_id": "INV-3002"}}),
    );
    let list = client.send("tools/list", json!({}));
    let ping = client.send("ping", json!({}));
    // The server answers the list and the ping while the call waits for the lock. Were the
    // server's only thread blocked in the ledger's busy wait, nothing would come back until the
    // busy timeout ran out, and then the call (refused) would come first.
    let mut answered = Vec::new();
    while answered.len() < 2 {
        let msg = client.next_message();
        let id = msg["id"].as_i64().expect("a response");
        assert_ne!(
            id, call,
            "the call was answered while its record could not be written: {msg}"
        );
        answered.push(id);
        if id == list {
            assert!(
                msg["result"]["tools"].as_array().unwrap().len() >= 2,
                "{msg}"
            );
        }
    }
    answered.sort();
    assert_eq!(answered, [list, ping]);

    // Release the lock: the call is recorded, then answered.
    holder.execute_batch("ROLLBACK").unwrap();
    let msg = client.next_message();
    assert_eq!(msg["id"], json!(call), "{msg}");
    assert_eq!(msg["result"]["structuredContent"]["status"], "ok", "{msg}");
    let recorded: i64 = holder
        .query_row(
            "SELECT COUNT(*) FROM evidence_bundles WHERE object_id = 'INV-3002'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(recorded, 1, "the answered call is on record");
    assert!(client.finish().success());
}
