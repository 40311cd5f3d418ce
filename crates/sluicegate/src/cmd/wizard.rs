//! The guided onboarding wizard (`init --wizard`, `onboard db` on a terminal): inspect, then
//! ask for each decision with the inspection's suggestion as the default, show what is about
//! to be written, allow revisions, and only then write.
//!
//! Prompts render on stderr (inquire) and need a terminal; callers only get here when stdin
//! and stdout are terminals or `--wizard` was given. Flags prefill the defaults.

use std::io::IsTerminal;

use anyhow::{Context, bail};
use inquire::{Confirm, MultiSelect, Select, Text};
use sluicegate_core::ident::{is_env_name, is_safe_identifier};
use sluicegate_core::onboarding::answers::{Answers, resolve};
use sluicegate_core::onboarding::files::preview_lines;
use sluicegate_core::onboarding::grammar::{
    namespace_for, object_name_for, parse_bounds, parse_guards, parse_patch,
};
use sluicegate_core::onboarding::inspection::{Inspection, TableInfo};
use sluicegate_core::onboarding::recipes::{Recipe, builtin};

use super::inspect::run_inspection;
use super::onboard::{GenArgs, Generated};

const NONE_CHOICE: &str = "(none)";

fn ask_text(question: &str, default: &str) -> anyhow::Result<String> {
    let mut t = Text::new(question);
    if !default.is_empty() {
        t = t.with_default(default);
    }
    Ok(t.prompt().context("wizard canceled")?.trim().to_string())
}

fn ask_env(question: &str, default: &str) -> anyhow::Result<String> {
    loop {
        let v = ask_text(question, default)?;
        if is_env_name(&v) {
            return Ok(v);
        }
        eprintln!("{question} must be an environment-variable name (A-Z, 0-9, _)");
    }
}

fn ask_ident(question: &str, default: &str) -> anyhow::Result<String> {
    loop {
        let v = ask_text(question, default)?;
        if is_safe_identifier(&v)
            || v.split_once('.')
                .is_some_and(|(a, b)| is_safe_identifier(a) && is_safe_identifier(b))
        {
            return Ok(v);
        }
        eprintln!("{question} must be letters, digits and underscores");
    }
}

fn ask_optional_env(question: &str, default: &str) -> anyhow::Result<Option<String>> {
    loop {
        let v = ask_text(&format!("{question} (empty for none)"), default)?;
        if v.is_empty() {
            return Ok(None);
        }
        if is_env_name(&v) {
            return Ok(Some(v));
        }
        eprintln!("{question} must be an environment-variable name (A-Z, 0-9, _)");
    }
}

fn ask_select(question: &str, options: Vec<String>, default: &str) -> anyhow::Result<String> {
    let start = options.iter().position(|o| o == default).unwrap_or(0);
    Select::new(question, options)
        .with_starting_cursor(start)
        .prompt()
        .context("wizard canceled")
}

fn ask_column(
    question: &str,
    table: &TableInfo,
    default: Option<&str>,
    allow_none: bool,
) -> anyhow::Result<Option<String>> {
    let mut options: Vec<String> = Vec::new();
    if allow_none {
        options.push(NONE_CHOICE.into());
    }
    options.extend(table.columns.iter().map(|c| c.name.clone()));
    let choice = ask_select(question, options, default.unwrap_or(NONE_CHOICE))?;
    Ok((choice != NONE_CHOICE).then_some(choice))
}

fn ask_visible(table: &TableInfo, defaults: &[String]) -> anyhow::Result<Vec<String>> {
    let names: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
    let selected: Vec<usize> = names
        .iter()
        .enumerate()
        .filter(|(_, n)| defaults.contains(n))
        .map(|(i, _)| i)
        .collect();
    loop {
        let chosen = MultiSelect::new(
            "Fields the model may see (space toggles, enter accepts)",
            names.clone(),
        )
        .with_default(&selected)
        .prompt()
        .context("wizard canceled")?;
        if !chosen.is_empty() {
            return Ok(chosen);
        }
        eprintln!("at least one visible column is required");
    }
}

fn summary(i: &Inspection) {
    eprintln!("Engine: {}", i.engine);
    eprintln!("Server: {}", i.server_version);
    eprintln!("Schemas: {}", i.schemas.join(", "));
    eprintln!("Objects: {}", i.tables.len());
    for t in i.tables.iter().take(20) {
        let or_none = |v: &[String]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(",")
            }
        };
        eprintln!(
            "- {} · {} · pk={} · tenant={} · conflict={}",
            t.qualified(),
            t.kind,
            or_none(&t.primary_key),
            or_none(&t.suggestions.tenant_columns),
            or_none(&t.suggestions.conflict_columns)
        );
    }
    for w in &i.warnings {
        eprintln!("! {w}");
    }
}

/// Run the wizard; `recipe` (from `--recipe`) preselects the business action.
pub fn run(args: &GenArgs, recipe: Option<Recipe>) -> anyhow::Result<Generated> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "the guided wizard needs a terminal; pass the decisions as flags (see `sluicegate onboard db --help`) or --answers FILE"
        );
    }
    if args.dry_run {
        bail!("--dry-run is not available in the wizard; pass --table and friends instead");
    }
    let flags = args.answers();
    eprintln!("Sluicegate guided setup");
    eprintln!("Use a staging database first. Only catalog metadata is read.");
    eprintln!("Flow: inspect database -> trusted context -> capability -> MCP tool.\n");
    eprintln!("Step 1: Inspect database metadata");
    let engine = ask_select(
        "Engine",
        ["auto", "postgres", "mysql", "sqlite"]
            .map(String::from)
            .to_vec(),
        args.db.engine.as_deref().unwrap_or("auto"),
    )?;
    let read_env = ask_env(
        "Env var that holds the database URL",
        args.db.from_env.as_deref().unwrap_or("DATABASE_URL"),
    )?;
    let mut db = args.db.clone();
    db.engine = Some(engine);
    let inspection = run_inspection(&db, &read_env)?;
    summary(&inspection);
    if inspection.tables.is_empty() {
        bail!("no tables or views found; check --schema and the user's privileges");
    }

    eprintln!("\nStep 2: Create trusted context");
    eprintln!("The tenant and principal come from env vars you set, never from the model.");
    let objects: Vec<String> = inspection.tables.iter().map(TableInfo::qualified).collect();
    let default_table = flags
        .table
        .as_deref()
        .and_then(|t| inspection.find(t, flags.schema.as_deref()))
        .map(TableInfo::qualified)
        .unwrap_or_else(|| objects[0].clone());
    let chosen = ask_select("Table or view for this capability", objects, &default_table)?;
    let table = inspection
        .find(&chosen, None)
        .context("invariant: the chosen table is in the inspection")?
        .clone();
    let object_default = object_name_for(&table.name);
    let pk = ask_column(
        "Primary-key column",
        &table,
        flags
            .primary_key
            .clone()
            .or_else(|| table.primary_key_choice(&object_default))
            .as_deref(),
        false,
    )?;
    let tenant_default = flags
        .tenant_key
        .clone()
        .or_else(|| table.suggestions.tenant_columns.first().cloned());
    let tenant = ask_column(
        "Trusted tenant/scope column",
        &table,
        tenant_default.as_deref(),
        true,
    )?;
    let single_tenant_dev = if tenant.is_none() {
        let ok = Confirm::new("No tenant column: mark this as a single-tenant dev source?")
            .with_default(false)
            .prompt()
            .context("wizard canceled")?;
        if !ok {
            bail!("a tenant/scope column is required unless single-tenant dev is confirmed");
        }
        true
    } else {
        false
    };
    let tenant_env = ask_env(
        "Trusted tenant env var",
        flags
            .tenant_env
            .as_deref()
            .unwrap_or("SLUICEGATE_TENANT_ID"),
    )?;
    let principal_env = ask_env(
        "Trusted principal env var",
        flags
            .principal_env
            .as_deref()
            .unwrap_or("SLUICEGATE_PRINCIPAL"),
    )?;

    eprintln!("\nStep 3: Create capability");
    eprintln!(
        "A read returns one row of the trusted tenant; a proposal records a reviewed change."
    );
    let mode = ask_select(
        "Capability mode",
        ["read_only", "shadow", "review"].map(String::from).to_vec(),
        flags.mode.as_deref().unwrap_or("read_only"),
    )?;
    let proposes = mode != "read_only";
    let conflict = if proposes {
        let c = ask_column(
            "Conflict/version column",
            &table,
            flags
                .conflict_column
                .clone()
                .or_else(|| table.suggestions.conflict_columns.first().cloned())
                .as_deref(),
            true,
        )?;
        if c.is_none()
            && !Confirm::new("No conflict/version column: continue with a weak guard?")
                .with_default(false)
                .prompt()
                .context("wizard canceled")?
        {
            bail!("a conflict/version column is required unless a weak guard is acknowledged");
        }
        c
    } else {
        flags.conflict_column.clone()
    };
    let visible_defaults = if flags.visible_columns.is_empty() {
        table.suggestions.default_visible_columns.clone()
    } else {
        sluicegate_core::onboarding::grammar::split_list(
            flags.visible_columns.iter().map(String::as_str),
        )
    };
    let mut visible = ask_visible(&table, &visible_defaults)?;

    let mut recipe = recipe;
    let mut patch_text = String::new();
    let mut bounds_text = String::new();
    let mut guards_text = String::new();
    if proposes {
        let setup = ask_select(
            "Business action setup",
            vec!["manual".into(), "recipe".into()],
            if recipe.is_some() { "recipe" } else { "manual" },
        )?;
        if setup == "recipe" {
            let all = builtin();
            let ids: Vec<String> = all
                .iter()
                .map(|r| format!("{}: {}", r.id, r.summary))
                .collect();
            let default = recipe
                .as_ref()
                .map(|r| format!("{}: {}", r.id, r.summary))
                .unwrap_or_else(|| ids[0].clone());
            let pick = ask_select("Recipe", ids, &default)?;
            let id = pick.split(':').next().unwrap_or_default();
            recipe = all.into_iter().find(|r| r.id == id).or(recipe);
        } else {
            recipe = None;
        }
        let default_patch = match &recipe {
            Some(r) => r
                .spec
                .patch
                .iter()
                .map(|(c, p)| match p {
                    sluicegate_core::onboarding::selection::PatchSpec::Fixed { fixed } => {
                        format!(
                            "{c}=fixed:{}",
                            fixed
                                .as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| fixed.to_string())
                        )
                    }
                    sluicegate_core::onboarding::selection::PatchSpec::FromArg { from_arg } => {
                        format!("{c}=arg:{from_arg}")
                    }
                })
                .collect::<Vec<_>>()
                .join(","),
            None if !flags.patch.is_empty() => flags.patch.join(","),
            None => table
                .columns
                .iter()
                .find(|c| {
                    Some(&c.name) != pk.as_ref()
                        && Some(&c.name) != tenant.as_ref()
                        && Some(&c.name) != conflict.as_ref()
                })
                .map(|c| format!("{}=arg:value", c.name))
                .unwrap_or_default(),
        };
        loop {
            patch_text = ask_text(
                "Proposal patch (column=arg:name or column=fixed:value, comma-separated)",
                &default_patch,
            )?;
            let mut probe = Default::default();
            match parse_patch(std::slice::from_ref(&patch_text), &mut probe) {
                Ok(()) if probe.is_empty() => {
                    eprintln!("at least one patch mapping is required for proposal modes")
                }
                Ok(()) => match probe.keys().find(|c| !table.has_column(c)) {
                    Some(c) => {
                        eprintln!("patch column {c} does not exist on {}", table.qualified())
                    }
                    None => break,
                },
                Err(e) => eprintln!("{e}"),
            }
        }
        let default_bounds = match &recipe {
            Some(r) => r
                .spec
                .numeric_bounds
                .iter()
                .map(|(c, b)| {
                    format!(
                        "{c}={}:{}",
                        b.minimum.map(|v| v.to_string()).unwrap_or_default(),
                        b.maximum.map(|v| v.to_string()).unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join(","),
            None => flags.numeric_bounds.join(","),
        };
        loop {
            bounds_text = ask_text(
                "Numeric bounds (optional, column=minimum:maximum, comma-separated)",
                &default_bounds,
            )?;
            match parse_bounds(std::slice::from_ref(&bounds_text)) {
                Ok(_) => break,
                Err(e) => eprintln!("{e}"),
            }
        }
        let default_guards = match &recipe {
            Some(r) => r
                .spec
                .transition_guards
                .iter()
                .map(|(c, g)| {
                    let rules: Vec<String> = g
                        .allowed
                        .iter()
                        .map(|(f, t)| format!("{f}:{}", t.join("|")))
                        .collect();
                    format!("{c}={}", rules.join(";"))
                })
                .collect::<Vec<_>>()
                .join(","),
            None => flags.transition_guards.join(","),
        };
        loop {
            guards_text = ask_text(
                "Status transition guards (optional, column=from:to|to;from:to)",
                &default_guards,
            )?;
            match parse_guards(std::slice::from_ref(&guards_text)) {
                Ok(_) => break,
                Err(e) => eprintln!("{e}"),
            }
        }
    }

    let object = ask_ident(
        "Business object name",
        flags
            .object_name
            .clone()
            .or_else(|| recipe.as_ref().and_then(|r| r.spec.object_name.clone()))
            .as_deref()
            .unwrap_or(&object_default),
    )?;
    let namespace = ask_ident(
        "Capability namespace",
        &flags
            .namespace
            .clone()
            .or_else(|| recipe.as_ref().and_then(|r| r.spec.namespace.clone()))
            .unwrap_or_else(|| namespace_for(&object)),
    )?;
    let lookup = ask_ident(
        "Model-visible object id argument",
        &flags
            .lookup_arg
            .clone()
            .or_else(|| recipe.as_ref().and_then(|r| r.spec.lookup_arg.clone()))
            .unwrap_or_else(|| format!("{object}_id")),
    )?;
    let mut read_tool = ask_ident(
        "Read capability name",
        &flags
            .inspect_tool_name
            .clone()
            .or_else(|| {
                recipe
                    .as_ref()
                    .and_then(|r| r.spec.inspect_tool_name.clone())
            })
            .unwrap_or_else(|| format!("{namespace}.inspect_{object}")),
    )?;
    let mut proposal_tool = if proposes {
        Some(ask_ident(
            "Proposal capability name",
            &flags
                .proposal_tool_name
                .clone()
                .or_else(|| {
                    recipe
                        .as_ref()
                        .and_then(|r| r.spec.proposal_tool_name.clone())
                })
                .unwrap_or_else(|| format!("{namespace}.propose_{object}_update")),
        )?)
    } else {
        None
    };
    let smoke_id = ask_text(
        "Optional real object id for a first smoke call",
        flags.smoke_id.as_deref().unwrap_or(""),
    )?;
    let result_format = ask_select(
        "MCP result envelope",
        vec!["v2".into(), "v1".into()],
        flags.result_format.as_deref().unwrap_or("v2"),
    )?;
    let mut writeback = None;
    let mut write_url_env = None;
    let mut handler_url_env = None;
    let mut handler_command_env = None;
    let mut handler_token_env = None;
    let mut handler_signing_secret_env = None;
    let mut handler_template: Option<String> = None;
    if mode == "review" {
        let w = ask_select(
            "Writeback path",
            ["sql_update", "http_handler", "command_handler"]
                .map(String::from)
                .to_vec(),
            flags.writeback.as_deref().unwrap_or("sql_update"),
        )?;
        match w.as_str() {
            "sql_update" => {
                write_url_env = Some(ask_env(
                    "Writer URL env var for the trusted apply",
                    flags
                        .write_url_env
                        .as_deref()
                        .unwrap_or("SLUICEGATE_DATABASE_WRITE_URL"),
                )?)
            }
            "http_handler" => {
                handler_url_env = Some(ask_env(
                    "App-owned HTTP handler URL env var",
                    flags
                        .handler_url_env
                        .as_deref()
                        .unwrap_or("SLUICEGATE_APP_WRITEBACK_URL"),
                )?);
                handler_token_env = ask_optional_env(
                    "Optional env var with the handler's bearer credential",
                    flags.handler_token_env.as_deref().unwrap_or(""),
                )?;
                handler_signing_secret_env = ask_optional_env(
                    "Optional env var with the HMAC signing key (recommended)",
                    flags.handler_signing_secret_env.as_deref().unwrap_or(""),
                )?;
            }
            _ => {
                handler_command_env = Some(ask_env(
                    "App-owned command handler env var",
                    flags
                        .handler_command_env
                        .as_deref()
                        .unwrap_or("SLUICEGATE_APP_WRITEBACK_COMMAND"),
                )?)
            }
        }
        if w != "sql_update" && !args.no_emit_handler {
            let write = Confirm::new("Write a starter handler template?")
                .with_default(args.emit_handler)
                .prompt()
                .context("wizard canceled")?;
            if write {
                let options: Vec<String> = if w == "command_handler" {
                    vec!["command".into()]
                } else {
                    vec!["node-fastify".into(), "python-fastapi".into()]
                };
                let default = args
                    .handler_template
                    .clone()
                    .unwrap_or_else(|| options[0].clone());
                handler_template = Some(ask_select("Handler template", options, &default)?);
            }
        }
        writeback = Some(w);
    }
    let approval_role = if proposes {
        Some(ask_ident(
            "Required approval role",
            &flags
                .approval_role
                .clone()
                .or_else(|| {
                    recipe
                        .as_ref()
                        .and_then(|r| r.spec.approval.clone())
                        .and_then(|a| a.required_role)
                })
                .unwrap_or_else(|| "local_reviewer".into()),
        )?)
    } else {
        None
    };

    // Preview, revise, confirm.
    loop {
        let answers = Answers {
            engine: Some(inspection.engine.clone()),
            mode: Some(mode.clone()),
            schema: Some(table.schema.clone()),
            table: Some(table.name.clone()),
            primary_key: pk.clone(),
            tenant_key: tenant.clone(),
            single_tenant_dev: single_tenant_dev.then_some(true),
            conflict_column: conflict.clone(),
            visible_columns: vec![visible.join(",")],
            patch: if proposes {
                vec![patch_text.clone()]
            } else {
                vec![]
            },
            numeric_bounds: if proposes {
                vec![bounds_text.clone()]
            } else {
                vec![]
            },
            transition_guards: if proposes {
                vec![guards_text.clone()]
            } else {
                vec![]
            },
            allowed_columns: recipe
                .as_ref()
                .filter(|_| proposes)
                .map(|r| vec![r.allowed_write_columns.join(",")])
                .unwrap_or_default(),
            namespace: Some(namespace.clone()),
            object_name: Some(object.clone()),
            lookup_arg: Some(lookup.clone()),
            inspect_tool_name: Some(read_tool.clone()),
            proposal_tool_name: proposal_tool.clone(),
            result_format: Some(result_format.clone()),
            read_url_env: Some(read_env.clone()),
            write_url_env: write_url_env.clone(),
            writeback: writeback.clone(),
            handler_url_env: handler_url_env.clone(),
            handler_token_env: handler_token_env.clone(),
            handler_signing_secret_env: handler_signing_secret_env.clone(),
            handler_timeout_ms: flags.handler_timeout_ms,
            executor_name: flags.executor_name.clone(),
            handler_command_env: handler_command_env.clone(),
            tenant_env: Some(tenant_env.clone()),
            principal_env: Some(principal_env.clone()),
            approval_role: approval_role.clone(),
            smoke_id: Some(smoke_id.clone()).filter(|s| !s.is_empty()),
            ..Default::default()
        };
        // The recipe's patch is already in the patch text; keep only its arg shapes.
        let resolved = resolve(&answers, Some(&inspection), None, "read_only");
        let resolved = match resolved {
            Ok(r) => r,
            Err(e) => bail!("{e}"),
        };
        let mut selection = resolved.selection;
        if let Some(r) = &recipe {
            selection.patch_args = r.spec.patch_args.clone();
        }
        let names = selection
            .names()
            .context("invariant: the inspection names the engine")?;
        eprintln!("\nWhat I am about to write ({}):", args.output.display());
        for line in preview_lines(&selection, &names) {
            eprintln!("  {line}");
        }
        if let Some(t) = &handler_template {
            eprintln!(
                "  handler template: {t}\n\n{}",
                super::handler::SECURITY_WARNING
            );
        }
        let next = ask_select(
            "Write these files?",
            vec![
                "write".into(),
                "edit visible fields".into(),
                "edit capability names".into(),
                "cancel".into(),
            ],
            "write",
        )?;
        match next.as_str() {
            "write" => {
                let doc = sluicegate_core::onboarding::selection::generate(&selection)?;
                let tools = doc["capabilities"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c["name"].as_str().map(str::to_string))
                    .collect();
                return Ok(Generated {
                    doc,
                    selection: Some(selection),
                    smoke_id: answers.smoke_id,
                    tools,
                    source_label: format!("{} inspection (wizard)", inspection.engine),
                    handler_template: handler_template.clone(),
                });
            }
            "edit visible fields" => visible = ask_visible(&table, &visible)?,
            "edit capability names" => {
                read_tool = ask_ident("Read capability name", &read_tool)?;
                if let Some(p) = &proposal_tool {
                    proposal_tool = Some(ask_ident("Proposal capability name", p)?);
                }
            }
            _ => bail!("guided setup canceled before writing files"),
        }
    }
}
