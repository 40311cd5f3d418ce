//! Check groups that look at databases and the ledger: per-source connectivity and the
//! columns its reader selects (metadata only), credential separation, the ledger and its
//! lease, and the MCP tool boundary (the writer's probes are `writer.rs`). Every failure is a
//! safe category, never a URL, host, user or password.

use std::collections::BTreeSet;
use std::path::Path;

use sluicegate_core::config::{Kind, Mode};
use sluicegate_core::onboarding::inspection::normalize;
use sluicegate_core::tools::{AliasMode, exposed_tools};
use sluicegate_ledger::lease::{self, Holder};
use sluicegate_source::inspect::inspect;
use sluicegate_source::privileges::reader_need;

use super::{Checks, Ctx};
use crate::Env;
use crate::ledger_store::{LedgerStore, LedgerStoreError};
use crate::now_iso;
use sluicegate_ledger::LedgerError;

/// Ledger file and store lease.
pub(super) fn store(store: &Path, checks: &mut Checks) {
    let shown = store.display();
    if !store.exists() {
        checks.warn(
            "store",
            format!("Ledger {shown} does not exist yet; the first tool call creates it."),
        );
    } else {
        match sluicegate_ledger::Ledger::open_existing(store).and_then(|l| l.stats()) {
            Ok(s) => checks.pass(
                "store",
                format!(
                    "Ledger {shown} opens: {} proposals, {} evidence bundles, {} receipts; {} bytes per recorded call, WAL {} KiB.",
                    s.proposals,
                    s.evidence_bundles,
                    s.writeback_receipts,
                    s.bytes_per_call,
                    s.wal_bytes / 1024
                ),
            ),
            Err(_) => checks.fail(
                "store",
                format!("Ledger {shown} cannot be opened; check the path and file permissions."),
            ),
        }
    }
    match lease::holder(store) {
        Ok(Holder::Live(Some(holder))) => checks.warn(
            "store-lease",
            format!(
                "A live {} server (pid {}) holds the store lease; commands that write the ledger will refuse unless forced.",
                holder.transport, holder.pid
            ),
        ),
        Ok(Holder::Live(None)) => checks.warn(
            "store-lease",
            "Another process holds the store lease lock; commands that write the ledger will refuse unless forced.",
        ),
        Ok(Holder::Stale(_)) => checks.pass(
            "store-lease",
            "The store lease is stale (its process is gone); it will be replaced.",
        ),
        Ok(Holder::Free) => checks.pass("store-lease", "No server holds the store lease."),
        Err(e) => checks.warn("store-lease", format!("The store lease cannot be checked: {e}.")),
    }
}

/// A shared PostgreSQL ledger: it opens (its URL set, the server reachable, its schema this
/// build's), and takes no lease. Nothing about the URL is shown but its env var's name.
pub(super) async fn postgres_store(store: &LedgerStore, env: &Env, checks: &mut Checks) {
    let label = store.label();
    let (store, env) = (store.clone(), env.clone());
    // Opening blocks on the ledger's own threads: off the async runtime's thread.
    let opened = tokio::task::spawn_blocking(move || {
        let ledger = store.open_existing(&env)?;
        Ok::<_, LedgerStoreError>(ledger.stats()?)
    })
    .await;
    match opened {
        Ok(Ok(s)) => checks.pass(
            "store",
            format!(
                "PostgreSQL ledger {label} opens at schema {}: {} proposals, {} evidence bundles, {} receipts.",
                sluicegate_ledger::POSTGRES_SCHEMA_VERSION,
                s.proposals,
                s.evidence_bundles,
                s.writeback_receipts
            ),
        ),
        Ok(Err(e @ (LedgerStoreError::UrlUnset(_)
        | LedgerStoreError::Ledger(
            LedgerError::SchemaOutdated { .. } | LedgerError::TooNew { .. },
        )))) => checks.fail("store", e.to_string()),
        Ok(Err(_)) | Err(_) => checks.fail(
            "store",
            format!(
                "PostgreSQL ledger {label} cannot be opened; check that the server is up and the URL's database, user and password."
            ),
        ),
    }
    checks.pass(
        "store-lease",
        "A PostgreSQL ledger is shared by every server: no store lease.",
    );
}

/// In review mode, the reader and the writer of a direct-SQL source must be different
/// credentials: a read-only reader is what keeps agent reads from ever writing.
pub(super) fn credential_separation(ctx: &Ctx<'_>, allow_shared: bool, checks: &mut Checks) {
    if ctx.config.mode != Mode::Review {
        return;
    }
    for (name, source) in &ctx.config.sources {
        let direct = ctx.config.capabilities.iter().any(|c| {
            c.kind == Kind::Proposal && c.source == *name && c.executor_name() == "sql_update"
        });
        let Some(write_env) = source.write_url_env.as_deref().filter(|_| direct) else {
            continue;
        };
        let check = format!("source:{name}:credential-separation");
        match (ctx.env.secret(&source.read_url_env), ctx.env.secret(write_env)) {
            (Some(r), Some(w)) if r == w && allow_shared => checks.warn(
                check,
                format!(
                    "{} and {write_env} hold the same credential (allowed by --allow-shared-credential); use a read-only reader outside development.",
                    source.read_url_env
                ),
            ),
            (Some(r), Some(w)) if r == w => checks.fail(
                check,
                format!(
                    "{} and {write_env} hold the same credential; give reads a read-only user (or pass --allow-shared-credential for development).",
                    source.read_url_env
                ),
            ),
            (Some(_), Some(_)) => checks.pass(
                check,
                format!("Reads and writeback of {name} use separate credentials."),
            ),
            _ => {}
        }
    }
}

/// Per source with its read URL set: the catalog of each schema its capabilities use, then per
/// capability the target, its columns, and (for proposals) that it is a base table.
pub(super) async fn source_connectivity(ctx: &Ctx<'_>, checks: &mut Checks) {
    for (name, source) in &ctx.config.sources {
        let Some(url) = ctx.env.secret(&source.read_url_env) else {
            continue;
        };
        let caps: Vec<_> = ctx
            .config
            .capabilities
            .iter()
            .filter(|c| c.source == *name)
            .collect();
        let schemas: BTreeSet<&str> = caps.iter().map(|c| c.target.schema.as_str()).collect();
        for schema in schemas {
            let check = format!("source:{name}:read-connectivity:{schema}");
            let raw = inspect(&url, source.engine, Some(schema), &|_| {}).await;
            let inspection = match raw {
                Ok(raw) => {
                    checks.pass(
                        check,
                        format!(
                            "Source {name} answers with {} metadata for schema {schema} ({}).",
                            source.engine.as_str(),
                            source.read_url_env
                        ),
                    );
                    normalize(raw, &now_iso())
                }
                Err(e) => {
                    checks.fail(
                        check,
                        format!(
                            "Source {name} ({}), schema {schema}: {}.",
                            source.read_url_env,
                            e.category()
                        ),
                    );
                    continue;
                }
            };
            for cap in caps.iter().filter(|c| c.target.schema == schema) {
                let target = cap.target.qualified();
                let Some(table) = inspection.find(&cap.target.table, Some(schema)) else {
                    checks.fail(
                        format!("capability:{}:target", cap.name),
                        format!(
                            "{target} (capability {}) is not visible to the read user: not found.",
                            cap.name
                        ),
                    );
                    continue;
                };
                checks.pass(
                    format!("capability:{}:target", cap.name),
                    format!("{target} is visible for {}.", cap.name),
                );
                // The columns the reader selects (what `writeback grants` grants it); the
                // columns proposals write are the writer's, probed by --check-writeback.
                let own = reader_need(cap, source.engine).select;
                for col in &own {
                    let check = format!("capability:{}:column:{col}", cap.name);
                    if table.has_column(col) {
                        checks.pass(check, format!("{target}.{col} exists."));
                    } else {
                        checks.fail(
                            check,
                            format!(
                                "{target}.{col} ({}) is not visible to the read user: it does not exist, or the reader holds no privilege on it (see `sluicegate writeback grants`).",
                                cap.name
                            ),
                        );
                    }
                }
                if cap.kind == Kind::Proposal && !table.writable {
                    checks.fail(
                        format!("capability:{}:writable-target", cap.name),
                        format!(
                            "{target} is a view; proposal {} needs a base table.",
                            cap.name
                        ),
                    );
                }
            }
        }
    }
}

/// The exposed tools, and that none of them could run SQL, approve or commit.
pub(super) fn mcp_boundary(ctx: &Ctx<'_>, checks: &mut Checks) -> Vec<String> {
    let tools: Vec<String> = exposed_tools(ctx.config, AliasMode::Canonical)
        .into_iter()
        .map(|t| t.exposed)
        .collect();
    checks.pass(
        "mcp-runtime",
        format!("{} MCP tool(s) would be listed.", tools.len()),
    );
    let forbidden: Vec<&String> = tools
        .iter()
        .filter(|t| {
            let l = t.to_lowercase();
            [
                "execute_sql",
                "run_query",
                "approve",
                "commit",
                "apply_writeback",
            ]
            .iter()
            .any(|w| l.contains(w))
        })
        .collect();
    if forbidden.is_empty() {
        checks.pass(
            "mcp-tool-boundary",
            "No SQL, approval or commit tool is exposed.",
        );
    } else {
        checks.fail(
            "mcp-tool-boundary",
            format!(
                "Tool names that look like SQL/approval/commit tools: {}.",
                forbidden
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    tools
}
