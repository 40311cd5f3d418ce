//! The onboarding selection (`onboarding-selection.v1`) and the config generator: one reviewed
//! table becomes a read capability and, in proposal modes, one proposal capability
//! (onboarding.md §6).
//!
//! The generator checks the selection (all problems at once), builds the config document in
//! the documented key order, and then runs the real config validator on it, so a generated
//! config is never one `config validate` would refuse.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::OnboardingError;
use super::grammar::{namespace_for, object_name_for, safe_name};
use crate::config::{self, Engine};
use crate::ident::{is_env_name, is_safe_identifier};

/// Where generated configs keep their ledger.
pub const STORAGE_PATH: &str = "./.sluicegate/local.db";
/// The context every generated capability resolves against.
pub const CONTEXT_NAME: &str = "local_operator";
pub const DEFAULT_TENANT_ENV: &str = "SLUICEGATE_TENANT_ID";
pub const DEFAULT_PRINCIPAL_ENV: &str = "SLUICEGATE_PRINCIPAL";
pub const DEFAULT_READ_URL_ENV: &str = "DATABASE_URL";
pub const DEFAULT_WRITE_URL_ENV: &str = "SLUICEGATE_DATABASE_WRITE_URL";
pub const DEFAULT_HANDLER_URL_ENV: &str = "SLUICEGATE_APP_WRITEBACK_URL";
pub const DEFAULT_HANDLER_COMMAND_ENV: &str = "SLUICEGATE_APP_WRITEBACK_COMMAND";
pub const DEFAULT_APPROVAL_ROLE: &str = "local_reviewer";
pub const DEFAULT_HANDLER_TIMEOUT_MS: u64 = 5000;
pub const DEFAULT_STATEMENT_TIMEOUT_MS: u64 = 3000;

/// One patch binding: a fixed value or a model argument.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PatchSpec {
    FromArg { from_arg: String },
    Fixed { fixed: Value },
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoundSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_column: Option<String>,
    pub allowed: IndexMap<String, Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_env: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_role: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WritebackSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handler_url_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handler_token_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handler_signing_secret_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handler_command_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

/// The selection spec. Unknown fields are refused, so a typo never silently falls back to a
/// default. `read_tool`/`proposal_tool` are honoured as synonyms of the `*_tool_name` fields
/// (the reference ignored them in spec files), and `engine` may also be `sqlite`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_url_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_url_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_url_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement_timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub single_tenant_dev: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict_column: Option<String>,
    /// Who moves the version column forward: `sluicegate` (the guarded UPDATE, the default)
    /// or `app` (the application or a database trigger does, as inspection found).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict_maintained_by: Option<String>,
    /// The trusted context the capabilities resolve against (default `local_operator`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_tool: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposal_tool: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inspect_tool_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposal_tool_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inspect_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposal_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inspect_returns_hint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposal_returns_hint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookup_arg: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_format: Option<u8>,
    #[serde(default)]
    pub visible_columns: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_columns: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub patch: IndexMap<String, PatchSpec>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub patch_args: IndexMap<String, Map<String, Value>>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub numeric_bounds: IndexMap<String, BoundSpec>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub transition_guards: IndexMap<String, GuardSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_context: Option<TrustedSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writeback: Option<WritebackSpec>,
}

/// The derived names of a selection, shown in previews and used by the generator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pub engine: Engine,
    pub mode: String,
    pub source: String,
    pub read_env: String,
    pub write_env: Option<String>,
    pub executor: String,
    pub object: String,
    pub label: String,
    pub namespace: String,
    pub lookup: String,
    pub read_tool: String,
    pub proposal_tool: Option<String>,
    /// The tenant env var; `None` for a single-tenant development source that names none.
    pub tenant_env: Option<String>,
    pub principal_env: String,
    pub context: String,
    pub visible: Vec<String>,
}

fn opt(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl Selection {
    pub fn engine(&self) -> Option<Engine> {
        opt(&self.engine).and_then(Engine::parse)
    }

    pub fn mode_str(&self) -> &str {
        opt(&self.mode).unwrap_or("shadow")
    }

    /// A single-tenant development source: no tenant column.
    pub fn single_tenant(&self) -> bool {
        opt(&self.tenant_key).is_none() && self.single_tenant_dev == Some(true)
    }

    /// Whether this selection yields a proposal capability.
    pub fn proposes(&self) -> bool {
        self.mode_str() != "read_only" && !self.patch.is_empty()
    }

    pub fn executor(&self) -> &str {
        self.writeback
            .as_ref()
            .and_then(|w| opt(&w.executor))
            .unwrap_or("sql_update")
    }

    /// Every derived name (defaults filled in). Needs a parseable engine.
    pub fn names(&self) -> Option<Names> {
        let engine = self.engine()?;
        let mode = self.mode_str().to_string();
        let executor = self.executor().to_string();
        let table = opt(&self.table).unwrap_or("record");
        let object = opt(&self.object_name)
            .map(str::to_string)
            .unwrap_or_else(|| object_name_for(table));
        let namespace = opt(&self.namespace)
            .map(str::to_string)
            .unwrap_or_else(|| namespace_for(&object));
        // `<object>_id`, unless that names the tenant column, which a model may never set.
        let lookup = opt(&self.lookup_arg)
            .map(str::to_string)
            .unwrap_or_else(|| match format!("{object}_id") {
                id if Some(id.as_str()) == opt(&self.tenant_key) => format!("{object}_key"),
                id => id,
            });
        let read_tool = opt(&self.inspect_tool_name)
            .or(opt(&self.read_tool))
            .map(str::to_string)
            .unwrap_or_else(|| format!("{namespace}.inspect_{object}"));
        let proposal_tool = self.proposes().then(|| {
            opt(&self.proposal_tool_name)
                .or(opt(&self.proposal_tool))
                .map(str::to_string)
                .unwrap_or_else(|| format!("{namespace}.propose_{object}_update"))
        });
        let write_env = (mode == "review" && executor == "sql_update").then(|| {
            opt(&self.write_url_env)
                .unwrap_or(DEFAULT_WRITE_URL_ENV)
                .to_string()
        });
        let trusted = self.trusted_context.clone().unwrap_or_default();
        let mut visible: Vec<String> = Vec::new();
        for c in [
            opt(&self.primary_key),
            opt(&self.tenant_key),
            opt(&self.conflict_column),
        ]
        .into_iter()
        .flatten()
        .map(str::to_string)
        .chain(self.visible_columns.iter().map(|c| c.trim().to_string()))
        {
            if !c.is_empty() && !visible.contains(&c) {
                visible.push(c);
            }
        }
        Some(Names {
            engine,
            mode,
            source: opt(&self.source_name)
                .map(str::to_string)
                .unwrap_or_else(|| format!("local_{}", engine.as_str())),
            read_env: opt(&self.read_url_env)
                .or(opt(&self.database_url_env))
                .unwrap_or(DEFAULT_READ_URL_ENV)
                .to_string(),
            write_env,
            executor,
            label: object.replace('_', " "),
            object,
            namespace,
            lookup,
            read_tool,
            proposal_tool,
            tenant_env: match opt(&trusted.tenant_id_env) {
                Some(env) => Some(env.to_string()),
                None if self.single_tenant() => None,
                None => Some(DEFAULT_TENANT_ENV.to_string()),
            },
            context: opt(&self.context_name).unwrap_or(CONTEXT_NAME).to_string(),
            principal_env: opt(&trusted.principal_env)
                .unwrap_or(DEFAULT_PRINCIPAL_ENV)
                .to_string(),
            visible,
        })
    }

    /// Problems that make the selection unusable, all of them, in a stable order.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.version.is_some_and(|v| v != 1) {
            out.push("onboarding selection version must be 1".into());
        }
        if self.engine().is_none() {
            out.push("selection engine must be postgres, mysql, or sqlite".into());
        }
        if !matches!(self.mode_str(), "read_only" | "shadow" | "review") {
            out.push("selection mode must be read_only, shadow, or review".into());
        }
        if self.result_format.is_some_and(|f| f != 1 && f != 2) {
            out.push("selection result_format must be 1 or 2".into());
        }
        let executor = self.executor();
        if !matches!(executor, "sql_update" | "http_handler" | "command_handler") {
            out.push(
                "selection writeback.executor must be sql_update, http_handler, or command_handler"
                    .into(),
            );
        } else if executor != "sql_update" && self.mode_str() != "review" {
            out.push("app-owned writeback executors are only valid in review mode".into());
        }
        if self
            .writeback
            .as_ref()
            .and_then(|w| w.timeout_ms)
            .is_some_and(|t| t == 0)
        {
            out.push("selection writeback.timeout_ms must be a positive integer".into());
        }
        for (field, value) in [
            ("schema", &self.schema),
            ("table", &self.table),
            ("primary_key", &self.primary_key),
        ] {
            if opt(value).is_none() {
                out.push(format!("selection {field} is required"));
            }
        }
        if opt(&self.tenant_key).is_none() && self.single_tenant_dev != Some(true) {
            out.push("selection requires tenant_key or explicit single_tenant_dev: true".into());
        }
        if self.visible_columns.iter().all(|c| c.trim().is_empty()) {
            out.push("selection visible_columns must not be empty".into());
        }
        if self.proposes() {
            let allowed = self.allowed();
            for col in self.patch.keys() {
                if !allowed.contains(col) {
                    out.push(format!("patch column {col} is not in allowed_columns"));
                }
            }
            for (col, b) in &self.numeric_bounds {
                if !self.patch.contains_key(col) {
                    out.push(format!("numeric bound column {col} is not in patch"));
                }
                if b.minimum.is_none() && b.maximum.is_none() {
                    out.push(format!(
                        "numeric bound for {col} must define minimum, maximum, or both"
                    ));
                }
                if let (Some(lo), Some(hi)) = (b.minimum, b.maximum)
                    && lo > hi
                {
                    out.push(format!(
                        "numeric bound minimum for {col} must be <= maximum"
                    ));
                }
            }
            let readable: Vec<&str> = [
                opt(&self.primary_key),
                opt(&self.tenant_key),
                opt(&self.conflict_column),
            ]
            .into_iter()
            .flatten()
            .chain(self.visible_columns.iter().map(String::as_str))
            .collect();
            for (col, g) in &self.transition_guards {
                if !self.patch.contains_key(col) {
                    out.push(format!("transition guard column {col} is not in patch"));
                }
                let from = g.from_column.as_deref().unwrap_or(col);
                if !readable.contains(&from) {
                    out.push(format!(
                        "transition guard from_column {from} must be a visible column"
                    ));
                }
                if g.allowed.is_empty() {
                    out.push(format!(
                        "transition guard for {col} must define allowed transitions"
                    ));
                }
                for (src, targets) in &g.allowed {
                    if src.trim().is_empty() {
                        out.push(format!(
                            "transition guard source state for {col} must not be empty"
                        ));
                    }
                    if targets.is_empty() || targets.iter().any(|t| t.trim().is_empty()) {
                        out.push(format!(
                            "transition guard target states for {col} must be non-empty strings"
                        ));
                    }
                }
            }
        }
        if let Some(m) = opt(&self.conflict_maintained_by)
            && config::MaintainedBy::parse(m).is_none()
        {
            out.push(format!(
                "selection conflict_maintained_by must be sluicegate or app (got {m})"
            ));
        }
        let mut idents: Vec<&str> = [
            opt(&self.context_name),
            opt(&self.source_name),
            opt(&self.schema),
            opt(&self.table),
            opt(&self.primary_key),
            opt(&self.tenant_key),
            opt(&self.conflict_column),
            opt(&self.lookup_arg),
            opt(&self.object_name),
        ]
        .into_iter()
        .flatten()
        .collect();
        idents.extend(self.visible_columns.iter().map(String::as_str));
        idents.extend(self.allowed_columns.iter().flatten().map(String::as_str));
        idents.extend(self.patch.keys().map(String::as_str));
        idents.extend(self.numeric_bounds.keys().map(String::as_str));
        idents.extend(self.transition_guards.keys().map(String::as_str));
        idents.extend(
            self.transition_guards
                .values()
                .filter_map(|g| g.from_column.as_deref()),
        );
        idents.extend(self.patch.values().filter_map(|p| match p {
            PatchSpec::FromArg { from_arg } => Some(from_arg.as_str()),
            PatchSpec::Fixed { .. } => None,
        }));
        for id in idents {
            if !is_safe_identifier(id.trim()) {
                out.push(format!("unsafe identifier in selection: {id}"));
            }
        }
        let trusted = self.trusted_context.clone().unwrap_or_default();
        let wb = self.writeback.clone().unwrap_or_default();
        for env in [
            &self.read_url_env,
            &self.database_url_env,
            &self.write_url_env,
            &trusted.tenant_id_env,
            &trusted.principal_env,
            &wb.handler_url_env,
            &wb.handler_token_env,
            &wb.handler_signing_secret_env,
            &wb.handler_command_env,
        ]
        .into_iter()
        .filter_map(opt)
        {
            if !is_env_name(env) {
                out.push(format!("invalid environment variable name: {env}"));
            }
        }
        out
    }

    fn allowed(&self) -> Vec<String> {
        match &self.allowed_columns {
            Some(a) if !a.is_empty() => a.clone(),
            _ => self.patch.keys().cloned().collect(),
        }
    }
}

/// Default model-facing wording for the generated capabilities.
pub fn default_texts(label: &str) -> [String; 4] {
    [
        format!(
            "Look up one {label} for the trusted tenant and return its reviewed fields, before answering or suggesting a change."
        ),
        format!(
            "Reviewed {label} fields, an evidence handle, the query audit and source_database_changed:false."
        ),
        format!(
            "Suggest a change to one {label} for human review. Nothing is written until a reviewer approves it outside this tool and the guarded writeback runs."
        ),
        "A proposal id, the exact before/after diff, an evidence handle, the approval status and source_database_changed:false.".into(),
    ]
}

fn capitalised(label: &str) -> String {
    let mut chars = label.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Generate the config document for `sel`. Every selection problem, and then every validator
/// error of the generated document, is reported at once.
pub fn generate(sel: &Selection) -> Result<Value, OnboardingError> {
    let problems = sel.problems();
    if !problems.is_empty() {
        return Err(OnboardingError::Invalid(problems));
    }
    let names = sel
        .names()
        .ok_or_else(|| OnboardingError::Invalid(vec!["selection engine is missing".into()]))?;
    let doc = build(sel, &names);
    let (validation, _) = config::validate(&doc);
    if !validation.ok {
        return Err(OnboardingError::Invalid(validation.error_lines()));
    }
    Ok(doc)
}

fn build(sel: &Selection, n: &Names) -> Value {
    let schema = opt(&sel.schema).unwrap_or("public");
    let table = opt(&sel.table).unwrap_or_default();
    let pk = opt(&sel.primary_key).unwrap_or_default();
    let [read_desc, read_hint, prop_desc, prop_hint] = default_texts(&n.label);

    let mut source = Map::new();
    source.insert("engine".into(), json!(n.engine.as_str()));
    source.insert("read_url_env".into(), json!(n.read_env));
    if let Some(w) = &n.write_env {
        source.insert("write_url_env".into(), json!(w));
    }
    let app_owned = n.executor != "sql_update";
    if n.mode == "review" && app_owned {
        source.insert("read_only".into(), json!(true));
    }
    source.insert(
        "statement_timeout_ms".into(),
        json!(
            sel.statement_timeout_ms
                .unwrap_or(DEFAULT_STATEMENT_TIMEOUT_MS)
        ),
    );

    let mut values = Map::new();
    if let Some(env) = &n.tenant_env {
        values.insert("tenant_id_env".into(), json!(env));
    }
    values.insert("principal_env".into(), json!(n.principal_env));
    let context = json!({"provider": "environment", "values": values});

    let mut target = Map::new();
    target.insert("schema".into(), json!(schema));
    target.insert("table".into(), json!(table));
    target.insert("primary_key".into(), json!(pk));
    match opt(&sel.tenant_key) {
        Some(t) => {
            target.insert("tenant_key".into(), json!(t));
        }
        None => {
            target.insert("single_tenant_dev".into(), json!(true));
        }
    }

    let lookup_spec = json!({"type": "string", "required": true, "max_length": 128});
    let mut read_lookup = lookup_spec.clone();
    read_lookup["description"] = json!(format!(
        "{} id, as given in the user's request or by the app.",
        capitalised(&n.label)
    ));

    let read = json!({
        "name": n.read_tool,
        "kind": "read",
        "description": opt(&sel.inspect_description).unwrap_or(&read_desc),
        "returns_hint": opt(&sel.inspect_returns_hint).unwrap_or(&read_hint),
        "source": n.source,
        "context": n.context,
        "target": target,
        "args": {n.lookup.as_str(): read_lookup},
        "lookup": {"id_from_arg": n.lookup},
        "visible_columns": n.visible,
        "evidence": "required",
        "max_rows": 1,
    });
    let mut capabilities = vec![read];
    let mut executors: Option<(String, Value)> = None;

    if let Some(proposal_tool) = &n.proposal_tool {
        let mut args = Map::new();
        args.insert(n.lookup.clone(), lookup_spec);
        for (col, binding) in &sel.patch {
            let PatchSpec::FromArg { from_arg } = binding else {
                continue;
            };
            let inferred = if let Some(b) = sel.numeric_bounds.get(col) {
                let mut m = Map::new();
                m.insert("type".into(), json!("number"));
                m.insert("required".into(), json!(true));
                if let Some(lo) = b.minimum {
                    m.insert("minimum".into(), number(lo));
                }
                if let Some(hi) = b.maximum {
                    m.insert("maximum".into(), number(hi));
                }
                m
            } else if let Some(g) = sel.transition_guards.get(col) {
                let mut states: Vec<&String> = Vec::new();
                for t in g.allowed.values().flatten() {
                    if !states.contains(&t) {
                        states.push(t);
                    }
                }
                let mut m = Map::new();
                m.insert("type".into(), json!("string"));
                m.insert("required".into(), json!(true));
                m.insert("enum".into(), json!(states));
                m.insert("max_length".into(), json!(128));
                m
            } else {
                let mut m = Map::new();
                m.insert("type".into(), json!("string"));
                m.insert("required".into(), json!(true));
                m.insert("max_length".into(), json!(500));
                m
            };
            let merged = match sel.patch_args.get(from_arg) {
                // Explicit keys survive; inferred keys win where both say something.
                Some(explicit) => {
                    let mut m = explicit.clone();
                    for (k, v) in inferred {
                        m.insert(k, v);
                    }
                    m
                }
                None => inferred,
            };
            args.insert(from_arg.clone(), Value::Object(merged));
        }

        let mut cap = Map::new();
        cap.insert("name".into(), json!(proposal_tool));
        cap.insert("kind".into(), json!("proposal"));
        cap.insert(
            "description".into(),
            json!(opt(&sel.proposal_description).unwrap_or(&prop_desc)),
        );
        cap.insert(
            "returns_hint".into(),
            json!(opt(&sel.proposal_returns_hint).unwrap_or(&prop_hint)),
        );
        cap.insert("source".into(), json!(n.source));
        cap.insert("context".into(), json!(n.context));
        if app_owned && n.mode == "review" {
            let wb = sel.writeback.clone().unwrap_or_default();
            let name = opt(&wb.executor_name)
                .map(str::to_string)
                .unwrap_or_else(|| format!("{}_{}", safe_name(&n.namespace), n.executor));
            let timeout = wb.timeout_ms.unwrap_or(DEFAULT_HANDLER_TIMEOUT_MS);
            let exec = if n.executor == "http_handler" {
                let mut e = Map::new();
                e.insert("type".into(), json!("http_handler"));
                e.insert(
                    "url_env".into(),
                    json!(opt(&wb.handler_url_env).unwrap_or(DEFAULT_HANDLER_URL_ENV)),
                );
                e.insert("method".into(), json!("POST"));
                if let Some(t) = opt(&wb.handler_token_env) {
                    e.insert("auth".into(), json!({"type": "bearer_env", "token_env": t}));
                }
                if let Some(s) = opt(&wb.handler_signing_secret_env) {
                    e.insert("signing_secret_env".into(), json!(s));
                }
                e.insert("timeout_ms".into(), json!(timeout));
                Value::Object(e)
            } else {
                json!({
                    "type": "command_handler",
                    "command_env": opt(&wb.handler_command_env).unwrap_or(DEFAULT_HANDLER_COMMAND_ENV),
                    "timeout_ms": timeout,
                })
            };
            cap.insert("executor".into(), json!(name));
            executors = Some((name, exec));
        }
        cap.insert("target".into(), Value::Object(target));
        cap.insert("args".into(), Value::Object(args));
        cap.insert("lookup".into(), json!({"id_from_arg": n.lookup}));
        cap.insert("visible_columns".into(), json!(n.visible));
        cap.insert("evidence".into(), json!("required"));
        cap.insert("max_rows".into(), json!(1));
        cap.insert("patch".into(), json!(sel.patch));
        cap.insert("allowed_columns".into(), json!(sel.allowed()));
        if !sel.numeric_bounds.is_empty() {
            let bounds: Map<String, Value> = sel
                .numeric_bounds
                .iter()
                .map(|(c, b)| {
                    let mut m = Map::new();
                    if let Some(lo) = b.minimum {
                        m.insert("minimum".into(), number(lo));
                    }
                    if let Some(hi) = b.maximum {
                        m.insert("maximum".into(), number(hi));
                    }
                    (c.clone(), Value::Object(m))
                })
                .collect();
            cap.insert("numeric_bounds".into(), Value::Object(bounds));
        }
        if !sel.transition_guards.is_empty() {
            cap.insert("transition_guards".into(), json!(sel.transition_guards));
        }
        cap.insert(
            "conflict_guard".into(),
            match (opt(&sel.conflict_column), opt(&sel.conflict_maintained_by)) {
                (Some(c), Some(by)) if by != "sluicegate" => {
                    json!({"column": c, "maintained_by": by})
                }
                (Some(c), _) => json!({"column": c}),
                (None, _) => json!({"weak_guard_ack": true}),
            },
        );
        let role = sel
            .approval
            .as_ref()
            .and_then(|a| opt(&a.required_role))
            .unwrap_or(DEFAULT_APPROVAL_ROLE);
        cap.insert(
            "approval".into(),
            json!({"mode": "human", "required_role": role}),
        );
        capabilities.push(Value::Object(cap));
    }

    let mut doc = Map::new();
    doc.insert("version".into(), json!(1));
    doc.insert("mode".into(), json!(n.mode));
    doc.insert(
        "result_format".into(),
        json!(sel.result_format.unwrap_or(2)),
    );
    doc.insert("storage".into(), json!({"sqlite_path": STORAGE_PATH}));
    doc.insert("sources".into(), json!({n.source.as_str(): source}));
    doc.insert("trusted_context".into(), context.clone());
    doc.insert("contexts".into(), json!({n.context.as_str(): context}));
    if let Some((name, exec)) = executors {
        doc.insert("executors".into(), json!({name: exec}));
    }
    doc.insert("capabilities".into(), Value::Array(capabilities));
    Value::Object(doc)
}

/// Whole numbers as integers (`5500`, not `5500.0`).
fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        json!(n as i64)
    } else {
        json!(n)
    }
}

#[cfg(test)]
mod tests;
