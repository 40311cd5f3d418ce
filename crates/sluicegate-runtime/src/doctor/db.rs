//! Check groups that look at databases and the ledger: per-source connectivity and target
//! columns (metadata only), credential separation, the rollback-only writeback probes of
//! writeback.md §A.11, the ledger and its lease, and the MCP tool boundary. Every failure is a
//! safe category, never a URL, host, user or password.

use std::collections::BTreeSet;
use std::path::Path;

use sluicegate_core::config::{Kind, Mode};
use sluicegate_core::onboarding::inspection::normalize;
use sluicegate_core::tools::{AliasMode, exposed_tools};
use sluicegate_ledger::lease::{self, Holder};
use sluicegate_source::inspect::inspect;
use sluicegate_source::{TargetProbe, probe_target, probe_writer};

use super::{Checks, Ctx};
use crate::now_iso;

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
                    "Ledger {shown} opens: {} proposals, {} evidence bundles, {} receipts.",
                    s.proposals, s.evidence_bundles, s.writeback_receipts
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
                let mut columns: Vec<&str> = vec![cap.target.primary_key.as_str()];
                columns.extend(cap.target.tenant_key.as_deref());
                columns.extend(
                    cap.conflict_guard
                        .as_ref()
                        .and_then(|g| g.column.as_deref()),
                );
                columns.extend(cap.visible_columns.iter().map(String::as_str));
                columns.extend(cap.allowed_columns.iter().map(String::as_str));
                for col in columns {
                    let check = format!("capability:{}:column:{col}", cap.name);
                    if table.has_column(col) {
                        checks.pass(check, format!("{target}.{col} exists."));
                    } else {
                        checks.fail(
                            check,
                            format!("{target}.{col} ({}) was not found.", cap.name),
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

/// `--check-writeback`: the rollback-only writer probes per direct-SQL source (receipt table,
/// a probe receipt inserted and rolled back) and per proposal capability (`SELECT … WHERE
/// false FOR UPDATE`, `UPDATE … SET c = c WHERE false`, rolled back). No business row is read,
/// locked or changed. Without the flag: one warning per source saying how to run them.
pub(super) async fn writeback_probes(ctx: &Ctx<'_>, run: bool, checks: &mut Checks) {
    if ctx.config.mode != Mode::Review {
        return;
    }
    for (name, source) in &ctx.config.sources {
        let caps: Vec<_> = ctx
            .config
            .capabilities
            .iter()
            .filter(|c| {
                c.kind == Kind::Proposal && c.source == *name && c.executor_name() == "sql_update"
            })
            .collect();
        if caps.is_empty() {
            continue;
        }
        if !run {
            checks.warn(
                format!("source:{name}:writeback-probe"),
                format!(
                    "Writer of {name} not probed; run doctor --check-writeback (rollback-only, no business row is touched)."
                ),
            );
            continue;
        }
        let Some(url) = source
            .write_url_env
            .as_deref()
            .and_then(|w| ctx.env.secret(w))
        else {
            checks.fail(
                format!("source:{name}:writeback-probe"),
                format!(
                    "Writer of {name} cannot be probed: {} is not set.",
                    source.write_url_env.as_deref().unwrap_or("write_url_env")
                ),
            );
            continue;
        };
        let engine = source.engine;
        let guidance = format!(
            "; see `sluicegate writeback migration --engine {e}` and `sluicegate writeback grants --engine {e}`, or route writes to an app-owned executor",
            e = engine.as_str()
        );
        match probe_writer(&url, engine).await {
            Ok(v) if v["ok"] == serde_json::Value::Bool(true) => checks.pass(
                format!("source:{name}:receipt-table-probe"),
                format!("Writer of {name} can use the receipt table (probe row rolled back)."),
            ),
            Ok(_) => checks.fail(
                format!("source:{name}:receipt-table-probe"),
                format!("Writer of {name}: credential missing{guidance}."),
            ),
            Err(e) => checks.fail(
                format!("source:{name}:receipt-table-probe"),
                format!("Writer of {name}: {}{guidance}.", e.category()),
            ),
        }
        for cap in caps {
            let mut columns = vec![cap.target.primary_key.clone()];
            columns.extend(cap.target.tenant_key.clone());
            columns.extend(cap.conflict_guard.as_ref().and_then(|g| g.column.clone()));
            for c in &cap.visible_columns {
                if !columns.contains(c) {
                    columns.push(c.clone());
                }
            }
            let mut writable: Vec<String> = cap.allowed_columns.clone();
            for c in cap.patch.keys() {
                if !writable.contains(c) {
                    writable.push(c.clone());
                }
            }
            let probe = TargetProbe {
                schema: cap.target.schema.clone(),
                table: cap.target.table.clone(),
                columns,
                writable,
            };
            let check = format!("capability:{}:writeback-target-probe", cap.name);
            match probe_target(&url, engine, &probe).await {
                Ok(()) => checks.pass(
                    check,
                    format!(
                        "Writer may lock and update the allowed columns of {} (rolled back).",
                        cap.target.qualified()
                    ),
                ),
                Err(e) => checks.fail(
                    check,
                    format!(
                        "Writer probe of {} ({}): {}{guidance}.",
                        cap.target.qualified(),
                        cap.name,
                        e.category()
                    ),
                ),
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
