//! docs/scaling.md's command block runs as printed against a fresh PostgreSQL ledger, through a
//! shell, in a directory holding the `sluicegate.json` the page describes (storage on
//! PostgreSQL through `SLUICEGATE_LEDGER_URL`): every command exits 0, the first migration
//! prepares the schema, the second finds nothing to do, and the URL is printed nowhere.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::mcp_support;

use std::path::Path;
use std::process::{Command, Stdio};

use mcp_support::*;
use serde_json::{Value, json};
use sluicegate_test_support::app_db::block_on;
use sluicegate_test_support::engines::{EngineKind, TestDatabase};

#[test]
fn the_scaling_page_block_runs_as_printed() {
    let Some(db) = block_on(TestDatabase::create(EngineKind::Postgres, "scaling_doc")) else {
        return;
    };
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/scaling.md"
    ))
    .unwrap();
    let block = doc
        .split("## Try it on one host")
        .nth(1)
        .unwrap()
        .split("```sh\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let commands: Vec<&str> = block.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(commands.len() >= 4, "{block}");
    let script: String = commands
        .iter()
        .map(|l| format!("{l}\necho \"[exit $?]\"\n"))
        .collect();

    let fx = Fixture::new(2);
    let mut config: Value =
        serde_json::from_str(&std::fs::read_to_string(&fx.config).unwrap()).unwrap();
    config["storage"] = json!({"engine": "postgres", "url_env": "SLUICEGATE_LEDGER_URL"});
    std::fs::write(&fx.config, config.to_string()).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_sluicegate"))
        .parent()
        .unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(fx.dir.path())
        .envs(fx.envs())
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("SLUICEGATE_LEDGER_URL", db.url())
        .env_remove("SLUICEGATE_CONFIG")
        .env_remove("SLUICEGATE_STORE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let exits: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("[exit "))
        .collect();
    assert_eq!(exits, vec!["0]"; commands.len()], "{stdout}\n{stderr}");
    assert!(
        stdout.contains("Migrated the postgres ledger $SLUICEGATE_LEDGER_URL from schema 0 to"),
        "{stdout}"
    );
    assert!(stdout.contains("nothing to do"), "{stdout}");
    assert!(!stdout.contains(db.url()) && !stderr.contains(db.url()));
    // No SQLite ledger was made beside the config.
    assert!(!fx.store.exists());
}
