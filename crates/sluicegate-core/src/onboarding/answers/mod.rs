//! Onboarding decisions from any front end (flags, an answers file, the wizard) resolved
//! against an optional inspection and recipe into a [`Selection`].
//!
//! Resolution never stops at the first gap: every missing or invalid decision is collected, so
//! a script learns everything it has to add in one run (onboarding.md §4.1, §5).

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::OnboardingError;
use super::grammar::{
    listing, namespace_for, object_name_for, parse_bounds, parse_guards, parse_patch,
    parse_patch_pairs, split_list,
};
use super::inspection::{Inspection, TableInfo, prefix_namespace};
use super::recipes::Recipe;
use super::selection::{ApprovalSpec, Selection, TrustedSpec, WritebackSpec};
use crate::config::Engine;

/// Every onboarding decision, as flags or an answers file give them. Strings are trimmed and
/// empty means absent; lists accept a JSON array or one comma-separated string.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answers {
    #[serde(default, deserialize_with = "text")]
    pub engine: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub mode: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub schema: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub table: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub primary_key: Option<String>,
    #[serde(default, alias = "tenant_column", deserialize_with = "text")]
    pub tenant_key: Option<String>,
    #[serde(default)]
    pub single_tenant_dev: Option<bool>,
    #[serde(default, deserialize_with = "text")]
    pub conflict_column: Option<String>,
    /// `sluicegate` or `app`: who advances the version column (default: `app` when the
    /// inspection found a trigger or `ON UPDATE` maintaining it, else `sluicegate`).
    #[serde(default, deserialize_with = "text")]
    pub conflict_maintained_by: Option<String>,
    /// The trusted context the capabilities use (default `local_operator`).
    #[serde(default, alias = "context_name", deserialize_with = "text")]
    pub context: Option<String>,
    /// A prefix to drop from the table name when naming things (`app_` of `app_invoice`);
    /// `none` keeps the name whole. Default: the prefix the schema's tables share.
    #[serde(default, deserialize_with = "text")]
    pub table_prefix: Option<String>,
    /// The namespace an existing config's capabilities share (`onboard db --add`): the
    /// default namespace of what is added. Never read from a file.
    #[serde(skip)]
    pub existing_namespace: Option<String>,
    #[serde(default, deserialize_with = "list")]
    pub visible_columns: Vec<String>,
    #[serde(default, deserialize_with = "list")]
    pub allowed_columns: Vec<String>,
    #[serde(default, deserialize_with = "list")]
    pub patch: Vec<String>,
    #[serde(default, deserialize_with = "list")]
    pub patch_fixed: Vec<String>,
    #[serde(default, deserialize_with = "list")]
    pub patch_from_arg: Vec<String>,
    #[serde(default, alias = "patch_bounds", deserialize_with = "list")]
    pub numeric_bounds: Vec<String>,
    #[serde(default, alias = "status_guards", deserialize_with = "list")]
    pub transition_guards: Vec<String>,
    #[serde(default, deserialize_with = "text")]
    pub namespace: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub object_name: Option<String>,
    #[serde(default, alias = "id_arg", deserialize_with = "text")]
    pub lookup_arg: Option<String>,
    #[serde(default, alias = "read_tool", deserialize_with = "text")]
    pub inspect_tool_name: Option<String>,
    #[serde(default, alias = "proposal_tool", deserialize_with = "text")]
    pub proposal_tool_name: Option<String>,
    #[serde(default, alias = "read_description", deserialize_with = "text")]
    pub inspect_description: Option<String>,
    #[serde(default, alias = "read_returns_hint", deserialize_with = "text")]
    pub inspect_returns_hint: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub proposal_description: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub proposal_returns_hint: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub result_format: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub source_name: Option<String>,
    #[serde(default, alias = "database_url_env", deserialize_with = "text")]
    pub read_url_env: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub write_url_env: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub writeback: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub executor_name: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub handler_url_env: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub handler_token_env: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub handler_signing_secret_env: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub handler_command_env: Option<String>,
    #[serde(default)]
    pub handler_timeout_ms: Option<u64>,
    #[serde(default, deserialize_with = "text")]
    pub tenant_env: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub principal_env: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub approval_role: Option<String>,
    /// A real object id for the first smoke call.
    #[serde(default, deserialize_with = "scalar")]
    pub smoke_id: Option<String>,
    /// A recipe id or file to start from.
    #[serde(default, deserialize_with = "text")]
    pub recipe: Option<String>,
}

fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v: Option<String> = Option::deserialize(d)?;
    Ok(v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()))
}

/// A string or a number, as text (`result_format: 2`, `smoke_id: 42`).
fn scalar<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Null) | None => None,
        Some(_) => {
            return Err(serde::de::Error::custom("expected a string or a number"));
        }
    })
}

fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(s)) => vec![s],
        Some(OneOrMany::Many(v)) => v,
    })
}

impl Answers {
    /// Parse an answers file: one JSON object.
    pub fn from_json(text: &str) -> Result<Answers, OnboardingError> {
        let doc: Value = serde_json::from_str(text)
            .map_err(|e| OnboardingError::Grammar(format!("answers file is not JSON: {e}")))?;
        if !doc.is_object() {
            return Err(OnboardingError::Grammar(
                "answers file must contain a JSON object".into(),
            ));
        }
        serde_json::from_value(doc)
            .map_err(|e| OnboardingError::Grammar(format!("answers file: {e}")))
    }

    /// `self` with every decision `over` makes replacing ours (flags over an answers file).
    pub fn overlay(mut self, over: Answers) -> Answers {
        macro_rules! take {
            ($($f:ident),*) => {$( if over.$f.is_some() { self.$f = over.$f; } )*};
        }
        macro_rules! take_list {
            ($($f:ident),*) => {$( if !over.$f.is_empty() { self.$f = over.$f; } )*};
        }
        take!(
            engine,
            mode,
            schema,
            table,
            primary_key,
            tenant_key,
            single_tenant_dev,
            conflict_column,
            conflict_maintained_by,
            context,
            table_prefix,
            existing_namespace,
            namespace,
            object_name,
            lookup_arg,
            inspect_tool_name,
            proposal_tool_name,
            inspect_description,
            inspect_returns_hint,
            proposal_description,
            proposal_returns_hint,
            result_format,
            source_name,
            read_url_env,
            write_url_env,
            writeback,
            executor_name,
            handler_url_env,
            handler_token_env,
            handler_signing_secret_env,
            handler_command_env,
            handler_timeout_ms,
            tenant_env,
            principal_env,
            approval_role,
            smoke_id,
            recipe
        );
        take_list!(
            visible_columns,
            allowed_columns,
            patch,
            patch_fixed,
            patch_from_arg,
            numeric_bounds,
            transition_guards
        );
        self
    }
}

/// The prefix to drop from `table`'s name when naming things: `--table-prefix P` (`none`:
/// none), else the prefix the inspected schema's tables share.
pub fn table_prefix(
    a: &Answers,
    inspection: Option<&Inspection>,
    found: Option<&TableInfo>,
    table: &str,
) -> Option<String> {
    let prefix = match a.table_prefix.as_deref() {
        Some("none") => return None,
        Some(p) => p.to_string(),
        None => inspection.zip(found).and_then(|(i, t)| i.prefix_of(t))?,
    };
    let lower = table.to_ascii_lowercase();
    (lower.starts_with(&prefix.to_ascii_lowercase()) && lower.len() > prefix.len())
        .then_some(prefix)
}

/// The object name `table` suggests, its `prefix` dropped (`app_invoices` → `invoice`).
pub fn object_for(table: &str, prefix: Option<&str>) -> String {
    match prefix {
        Some(p) if table.len() > p.len() => object_name_for(&table[p.len()..]),
        _ => object_name_for(table),
    }
}

/// The namespace when none is given: the one an existing config's capabilities share
/// (`--add`), else the prefix's (`app_invoice` → `app`), else the object's first word.
pub fn namespace_default(a: &Answers, object: &str, prefix: Option<&str>) -> String {
    a.existing_namespace
        .clone()
        .or_else(|| prefix.and_then(prefix_namespace))
        .unwrap_or_else(|| namespace_for(object))
}

/// A selection ready for the generator, plus what the user should hear about it.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub selection: Selection,
    /// Things that work but deserve a second look (no PK constraint, weak conflict guard).
    pub warnings: Vec<String>,
}

fn one_of(value: &str, allowed: &[&str]) -> bool {
    allowed.contains(&value)
}

/// Resolve `a` (with `recipe` underneath it and `inspection` to fill gaps and check names).
/// `default_mode` differs per front end (flags: `shadow`, answers files: `review`).
pub fn resolve(
    a: &Answers,
    inspection: Option<&Inspection>,
    recipe: Option<&Recipe>,
    default_mode: &str,
) -> Result<Resolved, OnboardingError> {
    let mut missing: Vec<String> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    let spec = recipe.map(|r| r.spec.clone()).unwrap_or_default();

    // Engine: flag, inspection, recipe.
    let engine_text = a
        .engine
        .clone()
        .or_else(|| inspection.map(|i| i.engine.clone()))
        .or_else(|| spec.engine.clone());
    let engine = match engine_text.as_deref() {
        None => {
            missing.push("--engine postgres|mysql|sqlite: which database engine".into());
            None
        }
        Some(e) => match Engine::parse(e) {
            Some(engine) => Some(engine),
            None => {
                missing.push(format!(
                    "--engine must be postgres, mysql, or sqlite (got {e})"
                ));
                None
            }
        },
    };
    let mode = a
        .mode
        .clone()
        .or_else(|| spec.mode.clone())
        .unwrap_or_else(|| default_mode.to_string());
    if !one_of(&mode, &["read_only", "shadow", "review"]) {
        missing.push(format!(
            "--mode must be read_only, shadow, or review (got {mode})"
        ));
    }
    let proposes = mode == "shadow" || mode == "review";

    // Table and schema.
    let (table_flag, schema_from_table) = match a.table.as_deref() {
        Some(t) => match t.split_once('.') {
            Some((s, t)) => (Some(t.to_string()), Some(s.to_string())),
            None => (Some(t.to_string()), None),
        },
        None => (spec.table.clone(), None),
    };
    let schema_flag = schema_from_table.or_else(|| a.schema.clone());
    let found: Option<&TableInfo> = match (inspection, table_flag.as_deref()) {
        (Some(i), Some(t)) => {
            let hit = i.find(t, schema_flag.as_deref().or(spec.schema.as_deref()));
            if hit.is_none() {
                missing.push(format!(
                    "--table {t}: no such table or view in the inspection (available: {})",
                    listing(&i.object_names(), 12)
                ));
            }
            hit
        }
        _ => None,
    };
    let table = table_flag.clone();
    if table.is_none() {
        let hint = inspection
            .map(|i| format!(" (available: {})", listing(&i.object_names(), 12)))
            .unwrap_or_default();
        missing.push(format!(
            "--table <name>: which table or view to expose{hint}"
        ));
    }
    let schema = found
        .map(|t| t.schema.clone())
        .or(schema_flag)
        .or_else(|| spec.schema.clone())
        .or_else(|| match engine {
            Some(Engine::Postgres) => Some("public".into()),
            Some(Engine::Sqlite) => Some("main".into()),
            _ => None,
        });
    if schema.is_none() && engine == Some(Engine::Mysql) {
        missing.push("--schema <database>: the MySQL database that holds the table".into());
    }
    let qualified = format!(
        "{}.{}",
        schema.as_deref().unwrap_or("?"),
        table.as_deref().unwrap_or("?")
    );

    let prefix = table
        .as_deref()
        .and_then(|t| table_prefix(a, inspection, found, t));
    let object_name = a
        .object_name
        .clone()
        .or_else(|| spec.object_name.clone())
        .unwrap_or_else(|| object_for(table.as_deref().unwrap_or("record"), prefix.as_deref()));

    // Primary key.
    let primary_key = a
        .primary_key
        .clone()
        .or_else(|| spec.primary_key.clone())
        .or_else(|| {
            found.and_then(|t| {
                let choice = t.primary_key_choice(&object_name)?;
                let unique = t
                    .unique_constraints
                    .iter()
                    .any(|u| u.columns == [choice.clone()]);
                match t.primary_key.as_slice() {
                    [_] => {}
                    [] if unique => {}
                    [] => warnings.push(format!(
                        "{qualified} has no primary key or unique constraint; using {choice} as the row key: make sure it is unique"
                    )),
                    cols => warnings.push(format!(
                        "{qualified} has a composite primary key ({}); using the unique column {choice} as the row key",
                        cols.join(", ")
                    )),
                }
                Some(choice)
            })
        });
    if primary_key.is_none() && table.is_some() {
        let detected = match found.map(|t| t.primary_key.as_slice()) {
            None => "not inspected".to_string(),
            Some([]) => "none".to_string(),
            Some(cols) if cols.len() > 1 => format!(
                "composite ({}): a capability looks a row up by one column, so name one that is unique on its own",
                cols.join(", ")
            ),
            Some(cols) => cols.join(", "),
        };
        missing.push(format!(
            "--primary-key <column> for {qualified} (detected primary key: {detected})"
        ));
    }

    // Tenant scope.
    let single_tenant_dev =
        a.single_tenant_dev == Some(true) || spec.single_tenant_dev == Some(true);
    let tenant_key = a.tenant_key.clone().or_else(|| {
        if single_tenant_dev {
            None
        } else {
            spec.tenant_key
                .clone()
                .or_else(|| found.and_then(|t| t.suggestions.tenant_columns.first().cloned()))
        }
    });
    if tenant_key.is_none() && !single_tenant_dev && table.is_some() {
        // Nothing looked like a tenant: name the references, which are where one usually is.
        let references: Vec<String> = found
            .map(|t| {
                t.foreign_keys
                    .iter()
                    .filter(|f| f.referenced_table != t.name)
                    .map(|f| format!("{} -> {}", f.columns.join("+"), f.referenced_table))
                    .collect()
            })
            .unwrap_or_default();
        let hint = match references.is_empty() {
            true => String::new(),
            false => format!(
                " (none detected; the table references: {})",
                references.join(", ")
            ),
        };
        missing.push(format!(
            "--tenant-column <column> for {qualified}: the column that scopes a row to the trusted tenant{hint} (or --single-tenant-dev for a reviewed single-tenant dev source)"
        ));
    }

    let conflict_column = a
        .conflict_column
        .clone()
        .or_else(|| spec.conflict_column.clone())
        .or_else(|| found.and_then(|t| t.suggestions.conflict_columns.first().cloned()));
    // A column the database moves forward itself must not be advanced by the UPDATE too.
    let maintainer = conflict_column
        .as_deref()
        .filter(|_| proposes)
        .and_then(|c| {
            found.and_then(|t| {
                t.suggestions
                    .maintained_columns
                    .iter()
                    .find(|m| m.column == c)
            })
        });
    let conflict_maintained_by = a.conflict_maintained_by.clone().or_else(|| {
        maintainer.map(|m| {
            warnings.push(format!(
                "{qualified}.{} is kept current by the database ({}): conflict_guard.maintained_by is \"app\", so apply compares it and never sets it",
                m.column, m.reason
            ));
            "app".to_string()
        })
    });

    let visible_columns: Vec<String> = if !a.visible_columns.is_empty() {
        dedup(split_list(a.visible_columns.iter().map(String::as_str)))
    } else if !spec.visible_columns.is_empty() {
        spec.visible_columns.clone()
    } else {
        found
            .map(|t| t.suggestions.default_visible_columns.clone())
            .unwrap_or_default()
    };
    if visible_columns.is_empty() && table.is_some() {
        missing.push(format!(
            "--visible-columns col1,col2 for {qualified}: the fields a model may see"
        ));
    }

    // Patch, bounds, guards: recipe first, then the flags in precedence order.
    let mut patch = if proposes {
        spec.patch.clone()
    } else {
        Default::default()
    };
    let mut grammar = |r: Result<(), OnboardingError>| {
        if let Err(e) = r {
            missing.push(e.to_string());
        }
    };
    grammar(parse_patch(&a.patch, &mut patch));
    grammar(parse_patch_pairs(&a.patch_fixed, false, &mut patch));
    grammar(parse_patch_pairs(&a.patch_from_arg, true, &mut patch));
    let mut numeric_bounds = if proposes {
        spec.numeric_bounds.clone()
    } else {
        Default::default()
    };
    match parse_bounds(&a.numeric_bounds) {
        Ok(b) => numeric_bounds.extend(b),
        Err(e) => missing.push(e.to_string()),
    }
    let mut transition_guards = if proposes {
        spec.transition_guards.clone()
    } else {
        Default::default()
    };
    match parse_guards(&a.transition_guards) {
        Ok(g) => transition_guards.extend(g),
        Err(e) => missing.push(e.to_string()),
    }
    if proposes && patch.is_empty() && table.is_some() {
        missing.push(format!(
            "--patch column=arg:name or column=fixed:value: what a {mode} proposal may change (or --mode read_only for a read tool only)"
        ));
    }
    if proposes && conflict_column.is_none() && !patch.is_empty() {
        warnings.push(format!(
            "no conflict/version column for {qualified}: proposals use the weak guard (weak_guard_ack), so apply compares the columns the agent read and misses a change to any other; pass --conflict-column if the table has an updated_at or version column"
        ));
    }
    let allowed_columns = if !a.allowed_columns.is_empty() {
        Some(dedup(split_list(
            a.allowed_columns.iter().map(String::as_str),
        )))
    } else if proposes {
        spec.allowed_columns.clone()
    } else {
        None
    };

    // Columns must exist on the inspected table.
    if let Some(t) = found {
        let mut named: Vec<&str> = Vec::new();
        named.extend(primary_key.as_deref());
        named.extend(tenant_key.as_deref());
        named.extend(conflict_column.as_deref());
        named.extend(visible_columns.iter().map(String::as_str));
        if proposes {
            named.extend(allowed_columns.iter().flatten().map(String::as_str));
            named.extend(patch.keys().map(String::as_str));
        }
        let mut unknown: Vec<&str> = named.into_iter().filter(|c| !t.has_column(c)).collect();
        unknown.dedup();
        let mut seen = Vec::new();
        unknown.retain(|c| {
            let new = !seen.contains(c);
            seen.push(*c);
            new
        });
        if !unknown.is_empty() {
            let columns: Vec<String> = t.columns.iter().map(|c| c.name.clone()).collect();
            missing.push(format!(
                "{} do(es) not exist on {qualified} (columns: {})",
                unknown.join(", "),
                list_or_none(&columns)
            ));
        }
        if proposes && !patch.is_empty() && !t.writable {
            missing.push(format!(
                "{qualified} is a view: proposals need a base table (pick a table, or --mode read_only)"
            ));
        }
    }

    let result_format = match a.result_format.as_deref() {
        None | Some("default") => None,
        Some("v1" | "1") => Some(1),
        Some("v2" | "2") => Some(2),
        Some(other) => {
            missing.push(format!(
                "--result-format must be default, v1, v2, 1, or 2 (got {other})"
            ));
            None
        }
    };
    let executor = a
        .writeback
        .clone()
        .or_else(|| spec.writeback.as_ref().and_then(|w| w.executor.clone()));
    if let Some(e) = &executor
        && !one_of(e, &["sql_update", "http_handler", "command_handler"])
    {
        missing.push(format!(
            "--writeback must be sql_update, http_handler, or command_handler (got {e})"
        ));
    }
    if a.handler_timeout_ms == Some(0) {
        missing.push("--handler-timeout-ms must be a positive integer".into());
    }

    if !missing.is_empty() {
        return Err(OnboardingError::Missing(missing));
    }

    let namespace = a
        .namespace
        .clone()
        .or_else(|| spec.namespace.clone())
        .unwrap_or_else(|| namespace_default(a, &object_name, prefix.as_deref()));
    let trusted = spec.trusted_context.clone().unwrap_or_default();
    let spec_wb = spec.writeback.clone().unwrap_or_default();
    let writeback = Some(WritebackSpec {
        executor: executor.clone(),
        executor_name: a.executor_name.clone().or(spec_wb.executor_name),
        handler_url_env: a.handler_url_env.clone().or(spec_wb.handler_url_env),
        handler_token_env: a.handler_token_env.clone().or(spec_wb.handler_token_env),
        handler_signing_secret_env: a
            .handler_signing_secret_env
            .clone()
            .or(spec_wb.handler_signing_secret_env),
        handler_command_env: a
            .handler_command_env
            .clone()
            .or(spec_wb.handler_command_env),
        timeout_ms: a.handler_timeout_ms.or(spec_wb.timeout_ms),
    })
    .filter(|w| *w != WritebackSpec::default());

    let selection = Selection {
        version: Some(1),
        engine: engine.map(|e| e.as_str().to_string()),
        mode: Some(mode),
        source_name: a.source_name.clone().or(spec.source_name),
        read_url_env: a
            .read_url_env
            .clone()
            .or(spec.read_url_env)
            .or(spec.database_url_env),
        database_url_env: None,
        write_url_env: a.write_url_env.clone().or(spec.write_url_env),
        statement_timeout_ms: spec.statement_timeout_ms,
        schema,
        table,
        primary_key,
        tenant_key,
        single_tenant_dev: single_tenant_dev.then_some(true),
        conflict_column,
        conflict_maintained_by,
        context_name: a.context.clone(),
        namespace: Some(namespace),
        object_name: Some(object_name),
        read_tool: None,
        proposal_tool: None,
        inspect_tool_name: a
            .inspect_tool_name
            .clone()
            .or(spec.inspect_tool_name)
            .or(spec.read_tool),
        proposal_tool_name: a
            .proposal_tool_name
            .clone()
            .or(spec.proposal_tool_name)
            .or(spec.proposal_tool),
        inspect_description: a.inspect_description.clone().or(spec.inspect_description),
        proposal_description: a.proposal_description.clone().or(spec.proposal_description),
        inspect_returns_hint: a.inspect_returns_hint.clone().or(spec.inspect_returns_hint),
        proposal_returns_hint: a
            .proposal_returns_hint
            .clone()
            .or(spec.proposal_returns_hint),
        lookup_arg: a.lookup_arg.clone().or(spec.lookup_arg),
        result_format: result_format.or(spec.result_format),
        visible_columns,
        allowed_columns,
        patch,
        patch_args: spec.patch_args,
        numeric_bounds,
        transition_guards,
        trusted_context: Some(TrustedSpec {
            tenant_id_env: a.tenant_env.clone().or(trusted.tenant_id_env),
            principal_env: a.principal_env.clone().or(trusted.principal_env),
        }),
        approval: Some(ApprovalSpec {
            required_role: a
                .approval_role
                .clone()
                .or(spec.approval.and_then(|x| x.required_role)),
        }),
        writeback,
    };
    Ok(Resolved {
        selection,
        warnings,
    })
}

fn dedup(items: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

#[cfg(test)]
mod tests;
