//! The JSON documents of the `/api/` routes, in the reference's shapes (spec: onboarding.md
//! §11.2): the setup summary, the tools a model sees, a proposal summary and its review view.
//! Built from the config and ledger records only; no SQL, no URL and no secret value is in
//! any of them (env var *names* are, as the reference shows them), and every document is
//! passed through [`redacted`] before it is sent.

use std::path::Path;

use serde_json::{Map, Value, json};
use sluicegate_core::config::{Capability, Config, LedgerStorage};
use sluicegate_core::secrets::{redact, redact_text};
use sluicegate_core::tools::{AliasMode, description, exposed_tools, input_schema};
use sluicegate_core::writeback::idempotency_key;
use sluicegate_ledger::StoredProposal;
use sluicegate_protocol::ChangeSet;

/// Capability names a model must never be offered (the reference's doctor rule).
const FORBIDDEN: &[&str] = &[
    "execute_sql",
    "run_query",
    "approve",
    "commit",
    "apply_writeback",
];

fn forbidden(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    FORBIDDEN.iter().any(|f| lower.contains(f))
}

fn executor_of(config: &Config, cap: &Capability) -> String {
    cap.executor
        .as_deref()
        .and_then(|e| config.executors.get(e))
        .map(|e| e.type_name())
        .unwrap_or("sql_update")
        .to_string()
}

/// The ledger's storage as the summary shows it: the SQLite file, or for a PostgreSQL ledger
/// the engine and the name of the env var holding its URL (never the URL: it is a secret).
fn storage(config: &Config, store: &Path) -> Value {
    match &config.ledger {
        LedgerStorage::Sqlite { .. } => json!({"sqlite_path": store}),
        LedgerStorage::Postgres { url_env } => json!({"engine": "postgres", "url_env": url_env}),
    }
}

/// `GET /api/summary`'s `setup` and `doctor`.
pub fn summary(config: Option<&Config>, config_path: Option<&Path>, store: &Path) -> Value {
    let Some(config) = config else {
        return json!({
            "ok": true,
            "setup": {
                "config_path": config_path, "store_path": store, "mode": Value::Null,
                "storage": {"sqlite_path": store}, "trusted_context": Value::Null,
                "sources": {}, "capabilities": [],
            },
            "doctor": {
                "config_ok": false,
                "errors": ["no config: start `sluicegate ui --config <path>` to review its capabilities"],
                "warnings": [], "no_raw_sql_exposed": true, "forbidden_model_tools": [],
            },
        });
    };
    let sources: Map<String, Value> = config
        .sources
        .iter()
        .map(|(name, s)| {
            (
                name.clone(),
                json!({
                    "engine": s.engine.as_str(),
                    "read_url_env": s.read_url_env,
                    "write_url_env": s.write_url_env,
                    "statement_timeout_ms": s.statement_timeout_ms,
                }),
            )
        })
        .collect();
    let capabilities: Vec<Value> = config
        .capabilities
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "kind": c.kind.as_str(),
                "source": c.source,
                "target": {
                    "schema": c.target.schema, "table": c.target.table,
                    "primary_key": c.target.primary_key, "tenant_key": c.target.tenant_key,
                    "single_tenant_dev": c.target.single_tenant_dev,
                },
                "evidence": c.visible_columns,
                "max_rows": c.max_rows,
                "context": c.context,
                "executor": executor_of(config, c),
            })
        })
        .collect();
    let forbidden_tools: Vec<&str> = config
        .exposed_capabilities()
        .map(|c| c.name.as_str())
        .filter(|n| forbidden(n))
        .collect();
    let checks = sluicegate_core::tools::boundary::boundary_checks(config, AliasMode::Canonical);
    let errors: Vec<&str> = checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.detail.as_str())
        .collect();
    json!({
        "ok": true,
        "setup": {
            "config_path": config_path,
            "store_path": store,
            "mode": config.mode.as_str(),
            "storage": storage(config, store),
            "trusted_context": config.trusted_context.as_ref().map(|t| json!({
                "provider": t.provider.as_str(), "values": t.values,
            })),
            "sources": sources,
            "capabilities": capabilities,
        },
        "doctor": {
            "config_ok": errors.is_empty(),
            "errors": errors,
            "warnings": [],
            "no_raw_sql_exposed": forbidden_tools.is_empty(),
            "forbidden_model_tools": forbidden_tools,
        },
    })
}

/// `GET /api/tools`: one entry per capability a model is offered, with the description and
/// input schema it sees (`tools/list`), and what the trusted side keeps to itself.
pub fn tools(config: Option<&Config>) -> Vec<Value> {
    let Some(config) = config else {
        return Vec::new();
    };
    exposed_tools(config, AliasMode::Canonical)
        .iter()
        .filter_map(|t| config.capabilities.iter().find(|c| c.name == t.canonical))
        .map(|c| {
            let bindings = config
                .context_for(c)
                .map(|ctx| Value::Object(ctx.values.clone()))
                .unwrap_or(Value::Null);
            json!({
                "name": c.name,
                "kind": c.kind.as_str(),
                "description": description(c, &c.name),
                "target_business_object": c.target.qualified(),
                "input_schema": input_schema(c),
                "hidden_trusted_bindings": bindings,
                "lookup": {"id_from_arg": c.lookup_arg},
                "visible_columns": c.visible_columns,
                "allowed_patch_columns": c.allowed_columns,
                "conflict_guard": c.conflict_guard.as_ref().map(|g| json!({
                    "column": g.column, "maintained_by": g.maintained_by.as_str(),
                })),
                "executor": executor_of(config, c),
                "no_raw_sql_exposed": true,
                "approval_or_commit_exposed": forbidden(&c.name),
            })
        })
        .collect()
}

fn diff(cs: &ChangeSet) -> Value {
    let map: Map<String, Value> = cs
        .patch
        .iter()
        .map(|(col, proposed)| {
            let before = cs.before.get(col).cloned().unwrap_or(Value::Null);
            (col.clone(), json!({"before": before, "proposed": proposed}))
        })
        .collect();
    Value::Object(map)
}

/// A proposal summary (`GET /api/proposals`), or `None` when its change set is unreadable.
pub fn proposal_summary(p: &StoredProposal) -> Value {
    let Ok(cs) = p.change_set() else {
        return json!({
            "proposal_id": p.proposal_id, "action": p.action, "state": p.state,
            "tenant_id": p.tenant_id, "created_at": p.created_at, "updated_at": p.updated_at,
            "error": "the stored change set does not parse",
        });
    };
    json!({
        "proposal_id": p.proposal_id,
        "proposal_version": p.proposal_version,
        "proposal_hash": p.proposal_hash,
        "action": p.action,
        "state": p.state,
        "tenant_id": p.tenant_id,
        "principal": {"id": cs.principal.id, "source": cs.principal.source},
        "target": {
            "source_kind": cs.source.kind, "source_id": cs.source.source_id,
            "schema": cs.source.schema, "table": cs.source.table,
            "object_id": cs.scope.object_id, "primary_key": cs.source.primary_key,
        },
        "approval": cs.approval,
        "source_database_changed": p.source_database_mutated,
        "expected_version": cs.guards.expected_version,
        "evidence": cs.evidence,
        "writeback_status": cs.writeback.status,
        "writeback_mode": cs.writeback.mode,
        "executor": cs.writeback.executor.as_deref().unwrap_or("sql_update"),
        "diff": diff(&cs),
        "created_at": p.created_at,
        "updated_at": p.updated_at,
    })
}

/// The review view of `GET /api/proposals/:id`.
pub fn review_view(p: &StoredProposal) -> Value {
    let Ok(cs) = p.change_set() else {
        return Value::Null;
    };
    let message = if p.source_database_mutated {
        "Commit executed by trusted runner."
    } else {
        "The model proposed this change; it cannot approve or commit it. The source database has not changed."
    };
    json!({
        "message": message,
        "source_database_changed": p.source_database_mutated,
        "source_row_before": cs.before,
        "proposed_patch": cs.patch,
        "diff": diff(&cs),
        "trusted_context": {"tenant_id": cs.scope.tenant_id, "principal": cs.principal},
        "guard_checklist": {
            "tenant_guard": cs.guards.tenant,
            "allowed_columns": cs.guards.allowed_columns,
            "primary_key": cs.source.primary_key,
            "conflict_version": cs.guards.expected_version,
            "idempotency_key": idempotency_key(&cs),
            "affected_row_count_required": 1,
        },
        "writeback": {
            "status": p.state,
            "mode": cs.writeback.mode,
            "executor": cs.writeback.executor.as_deref().unwrap_or("sql_update"),
        },
        "evidence": cs.evidence,
    })
}

/// `value` as the UI sends it: string values under credential-like keys (except `*_env`
/// names) and credential-like strings become `<redacted>`, and credentials inside other
/// strings (a URL's password, `Bearer …`) are cut out.
pub fn redacted(value: &Value) -> Value {
    fn inside(v: Value) -> Value {
        match v {
            Value::String(s) => Value::String(redact_text(&s)),
            Value::Array(items) => Value::Array(items.into_iter().map(inside).collect()),
            Value::Object(map) => {
                Value::Object(map.into_iter().map(|(k, v)| (k, inside(v))).collect())
            }
            other => other,
        }
    }
    inside(redact(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_redactor_hides_credentials_and_keeps_env_names() {
        let v = redacted(&json!({
            "password": "hunter2",
            "write_url_env": "APP_WRITE_URL",
            "note": "connect to postgres://app:s3cret@db:5432/app",
            "items": [{"api_key": "k"}, "Bearer abc.def"],
            "n": 3,
        }));
        assert_eq!(v["password"], "<redacted>");
        assert_eq!(v["write_url_env"], "APP_WRITE_URL");
        assert!(!v.to_string().contains("s3cret"), "{v}");
        assert!(!v.to_string().contains("hunter2"), "{v}");
        assert_eq!(v["items"][0]["api_key"], "<redacted>");
        assert!(
            !v["items"][1]
                .as_str()
                .unwrap_or("abc.def")
                .contains("abc.def"),
            "{v}"
        );
        assert_eq!(v["n"], 3);
    }

    #[test]
    fn forbidden_names_are_the_references() {
        assert!(forbidden("db.execute_SQL"));
        assert!(forbidden("billing.approve_refund"));
        assert!(!forbidden("billing.propose_late_fee_waiver"));
    }
}
