//! Dependency direction: edges only point towards the core, the model-facing crate holds no
//! store or source handle, and only the source crate links source database drivers (the
//! ledger links the blocking PostgreSQL client for its own database, never a source's).

use crate::metadata::{Crate, Dep, Workspace};

/// Architecture layers: a crate may depend (normal or build) only on crates in strictly lower
/// layers. `protocol ← core ← {source, ledger, audit} ← runtime ← {mcp, ui, ops} ← sluicegate`.
/// `audit` reads manifests and configs only, so it sits beside `source` and `ledger` and must
/// never reach the runtime. `test-support` is used only by tests (as a dev-dependency, which
/// may point anywhere); it sits beside `source` because it holds credentials in core's
/// `Secret` like every other crate.
pub const LAYERS: &[(&str, u8)] = &[
    ("sluicegate-protocol", 0),
    ("sluicegate-core", 1),
    ("sluicegate-test-support", 2),
    ("sluicegate-audit", 2),
    ("sluicegate-source", 2),
    ("sluicegate-ledger", 2),
    ("sluicegate-runtime", 3),
    ("sluicegate-mcp", 4),
    ("sluicegate-ui", 4),
    ("sluicegate-ops", 4),
    ("sluicegate", 5),
];

/// Workspace members outside the layering: the tidy checks themselves.
const UNLAYERED: &[&str] = &["xtask"];

pub const TEST_SUPPORT: &str = "sluicegate-test-support";
pub const MCP: &str = "sluicegate-mcp";
pub const SOURCE: &str = "sluicegate-source";
pub const LEDGER: &str = "sluicegate-ledger";

/// Source database drivers (and their pools and TLS glue): only the source crate talks to
/// source databases.
pub const SOURCE_DRIVERS: &[&str] = &[
    "tokio-postgres",
    "tokio-postgres-rustls",
    "deadpool-postgres",
    "postgres",
    "mysql_async",
    "mysql",
    "sqlx",
];

/// The drivers the ledger links for its own PostgreSQL backend (`sluicegate-ledger/src/pg/`):
/// the blocking client only, so a ledger can never borrow a source's pool.
pub const LEDGER_DRIVERS: &[&str] = &["postgres"];

pub fn layer(name: &str) -> Option<u8> {
    LAYERS.iter().find(|(n, _)| *n == name).map(|(_, l)| *l)
}

/// Whether `dep` is one of ours: a workspace member, or named like one (so an edge to a crate
/// that is not a member yet still needs a layer).
fn internal(ws: &Workspace, dep: &Dep) -> bool {
    ws.is_member(&dep.name) || dep.name.starts_with("sluicegate")
}

fn edge(krate: &Crate, dep: &Dep) -> String {
    format!("{} → {} ({})", krate.name, dep.name, dep.table())
}

/// Every internal edge points to a strictly lower layer; test-support is only a dev-dependency.
/// Dev-dependencies may point anywhere: tests of a low crate may drive it through a higher one.
pub fn direction(ws: &Workspace) -> Vec<String> {
    let mut out = Vec::new();
    for krate in &ws.crates {
        if UNLAYERED.contains(&krate.name.as_str()) {
            continue;
        }
        let Some(own) = layer(&krate.name) else {
            out.push(format!("{} has no layer in xtask LAYERS", krate.name));
            continue;
        };
        for dep in krate.deps.iter().filter(|d| internal(ws, d)) {
            let Some(theirs) = layer(&dep.name) else {
                out.push(format!(
                    "{}: {} has no layer in xtask LAYERS",
                    edge(krate, dep),
                    dep.name
                ));
                continue;
            };
            if !dep.kind.links() {
                continue;
            }
            if dep.name == TEST_SUPPORT {
                out.push(format!(
                    "{}: test-support is only a dev-dependency",
                    edge(krate, dep)
                ));
            } else if theirs >= own {
                out.push(format!(
                    "{}: layer {own} may not depend on layer {theirs}",
                    edge(krate, dep)
                ));
            }
        }
    }
    out
}

/// The model-facing crate gets everything through the runtime's `AgentApi`: it links neither
/// the ledger (which holds the write methods) nor the source crate (which holds the writer).
pub fn mcp_surface(ws: &Workspace) -> Vec<String> {
    let Some(mcp) = ws.get(MCP) else {
        return vec![format!("{MCP} is not a workspace member")];
    };
    mcp.deps
        .iter()
        .filter(|d| d.kind.links() && (d.name == LEDGER || d.name == SOURCE))
        .map(|d| {
            format!(
                "{}: the model-facing crate must reach the store and sources only through sluicegate-runtime's AgentApi",
                edge(mcp, d)
            )
        })
        .collect()
}

/// Only the source crate links source drivers (the ledger its own PostgreSQL client,
/// [`LEDGER_DRIVERS`]); rusqlite only the source crate (SQLite sources) and the ledger. Test fixtures and dev-dependencies are exempt: they create the throwaway
/// databases tests run against.
pub fn drivers(ws: &Workspace) -> Vec<String> {
    let mut out = Vec::new();
    for krate in ws.crates.iter().filter(|c| c.name != TEST_SUPPORT) {
        for dep in krate.deps.iter().filter(|d| d.kind.links()) {
            let ledgers_own = krate.name == LEDGER && LEDGER_DRIVERS.contains(&dep.name.as_str());
            if SOURCE_DRIVERS.contains(&dep.name.as_str()) && krate.name != SOURCE && !ledgers_own {
                out.push(format!(
                    "{}: only {SOURCE} links source database drivers",
                    edge(krate, dep)
                ));
            }
            if dep.name == "rusqlite" && krate.name != SOURCE && krate.name != LEDGER {
                out.push(format!(
                    "{}: only {SOURCE} and {LEDGER} link rusqlite",
                    edge(krate, dep)
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::assert_none;
    use crate::testing::{fixture, real, sorted};

    #[test]
    fn dependencies_point_towards_the_core() {
        assert_none("dependency direction violated", &direction(real()));
    }

    #[test]
    fn direction_fixture_is_refused() {
        assert_eq!(
            sorted(direction(fixture())),
            vec![
                "sluicegate-audit → sluicegate-extra ([dependencies]): sluicegate-extra has no layer in xtask LAYERS",
                "sluicegate-core → sluicegate-runtime ([dependencies]): layer 1 may not depend on layer 3",
                "sluicegate-extra has no layer in xtask LAYERS",
                "sluicegate-ledger → sluicegate-runtime ([build-dependencies]): layer 2 may not depend on layer 3",
                "sluicegate-runtime → sluicegate-test-support ([dependencies]): test-support is only a dev-dependency",
            ]
        );
    }

    /// Expected to FAIL until the mcp → ledger edge is removed (the AgentApi seam): today
    /// sluicegate-mcp still depends on sluicegate-ledger to serve resources.
    #[test]
    fn mcp_links_neither_ledger_nor_source() {
        assert_none(
            "the model-facing crate links a store or source crate",
            &mcp_surface(real()),
        );
    }

    #[test]
    fn mcp_surface_fixture_is_refused() {
        assert_eq!(
            sorted(mcp_surface(fixture())),
            vec![
                "sluicegate-mcp → sluicegate-ledger ([target.'cfg(unix)'.dependencies]): the model-facing crate must reach the store and sources only through sluicegate-runtime's AgentApi",
                "sluicegate-mcp → sluicegate-source ([dependencies]): the model-facing crate must reach the store and sources only through sluicegate-runtime's AgentApi",
            ]
        );
    }

    #[test]
    fn only_source_links_database_drivers() {
        assert_none("database driver outside its crate", &drivers(real()));
    }

    #[test]
    fn drivers_fixture_is_refused() {
        assert_eq!(
            sorted(drivers(fixture())),
            vec![
                "sluicegate-mcp → rusqlite ([dependencies]): only sluicegate-source and sluicegate-ledger link rusqlite",
                "sluicegate-runtime → mysql_async ([target.'cfg(unix)'.dependencies]): only sluicegate-source links source database drivers",
            ]
        );
    }
}
