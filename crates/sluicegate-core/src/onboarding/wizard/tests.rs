//! The wizard driven without a terminal: question order, defaults, answer checks, the preview
//! loop and the config it ends with.

use serde_json::json;

use super::*;
use crate::config::Engine;
use crate::onboarding::generated::Generated;
use crate::onboarding::inspection::{RawCatalog, RawColumn, RawConstraint, RawObject, normalize};
use crate::onboarding::recipes::builtin_recipe;

fn inspection() -> Inspection {
    let col = |table: &str, name: &str, pos: u32| RawColumn {
        schema: "public".into(),
        table: table.into(),
        name: name.into(),
        data_type: Some("text".into()),
        udt_name: Some("text".into()),
        is_nullable: "NO".into(),
        default: None,
        is_generated: None,
        ordinal_position: pos,
    };
    let object = |name: &str| RawObject {
        schema: "public".into(),
        name: name.into(),
        raw_type: "BASE TABLE".into(),
    };
    let pk = |table: &str| RawConstraint {
        schema: "public".into(),
        table: table.into(),
        name: format!("{table}_pk"),
        kind: "PRIMARY KEY".into(),
        column: "id".into(),
        ordinal: 1,
    };
    normalize(
        RawCatalog {
            engine: Engine::Postgres,
            server_version: "PostgreSQL 15".into(),
            current_user: "reader".into(),
            schemas: vec!["public".into()],
            objects: vec![object("invoices"), object("notes")],
            columns: vec![
                col("invoices", "id", 1),
                col("invoices", "tenant_id", 2),
                col("invoices", "status", 3),
                col("invoices", "late_fee_cents", 4),
                col("invoices", "waiver_reason", 5),
                col("invoices", "updated_at", 6),
                col("notes", "id", 1),
                col("notes", "body", 2),
            ],
            constraints: vec![pk("invoices"), pk("notes")],
            foreign_keys: vec![],
            indexes: vec![],
            triggers: vec![],
        },
        "2026-01-01T00:00:00.000Z",
    )
}

fn start() -> Start {
    Start {
        output: "sluicegate.json".into(),
        handler_warning: "CHECK YOUR HANDLER".into(),
        ..Start::default()
    }
}

/// The question the wizard asks now.
fn ask(w: &Wizard) -> Question {
    match w.next() {
        Ok(Step::Ask(q)) => q,
        other => panic!("expected a question, got {other:?}"),
    }
}

fn message(q: &Question) -> &str {
    match &q.prompt {
        Prompt::Text { message, .. }
        | Prompt::Select { message, .. }
        | Prompt::MultiSelect { message, .. }
        | Prompt::Confirm { message, .. } => message,
    }
}

/// The default answer to `q`: what pressing enter gives.
fn default_answer(q: &Question) -> Answer {
    match &q.prompt {
        Prompt::Text { default, .. } => Answer::Text(default.clone()),
        Prompt::Select {
            options, cursor, ..
        } => Answer::Choice(options[*cursor].clone()),
        Prompt::MultiSelect {
            options, selected, ..
        } => Answer::Choices(selected.iter().map(|i| options[*i].clone()).collect()),
        Prompt::Confirm { default, .. } => Answer::Yes(*default),
    }
}

/// Answer with the default until the question whose message contains `until`.
fn defaults_until(w: &mut Wizard, until: &str) -> Question {
    loop {
        if let Ok(Step::Inspect { .. }) = w.next() {
            w.inspected(inspection()).expect("tables");
            continue;
        }
        let q = ask(w);
        if message(&q).contains(until) {
            return q;
        }
        w.answer(default_answer(&q)).expect("the default is valid");
    }
}

fn choose(w: &mut Wizard, choice: &str) {
    w.answer(Answer::Choice(choice.into()))
        .expect("a valid choice");
}

fn sel(g: &Generated) -> &crate::onboarding::selection::Selection {
    g.selection.as_ref().expect("a selection")
}

fn done(w: &Wizard) -> Generated {
    match w.next() {
        Ok(Step::Done(f)) => *f,
        other => panic!("expected the end, got {other:?}"),
    }
}

#[test]
fn read_only_with_every_default() {
    let mut w = Wizard::new(start());
    let engine = ask(&w);
    assert_eq!(engine.intro[0], "Sluicegate guided setup");
    assert_eq!(
        engine.prompt,
        Prompt::Select {
            message: "Engine".into(),
            options: vec![
                "auto".into(),
                "postgres".into(),
                "mysql".into(),
                "sqlite".into()
            ],
            cursor: 0
        }
    );
    choose(&mut w, "auto");
    let read_env = ask(&w);
    w.answer(default_answer(&read_env)).expect("valid");
    assert_eq!(
        w.next(),
        Ok(Step::Inspect {
            engine: "auto".into(),
            read_env: "DATABASE_URL".into()
        })
    );
    w.inspected(inspection()).expect("tables");
    let table = ask(&w);
    assert_eq!(table.intro[0], "\nStep 2: Create trusted context");
    let review = defaults_until(&mut w, "Write these files?");
    assert_eq!(
        review.intro[0],
        "\nWhat I am about to write (sluicegate.json):"
    );
    assert!(review.intro.iter().all(|l| !l.contains("handler template")));
    choose(&mut w, "write");
    let f = done(&w);
    assert_eq!(f.tools, ["invoice.inspect_invoice"]);
    assert_eq!(f.doc["mode"], "read_only");
    assert_eq!(f.source_label, "postgres inspection (wizard)");
    assert_eq!(sel(&f).table.as_deref(), Some("invoices"));
    assert_eq!(f.smoke_id, None);
}

#[test]
fn the_questions_of_a_read_only_run_in_order() {
    let mut w = Wizard::new(start());
    let mut asked = Vec::new();
    loop {
        match w.next() {
            Ok(Step::Inspect { .. }) => w.inspected(inspection()).expect("tables"),
            Ok(Step::Ask(q)) => {
                asked.push(message(&q).to_string());
                w.answer(default_answer(&q)).expect("valid");
            }
            Ok(Step::Done(_)) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(
        asked,
        [
            "Engine",
            "Env var that holds the database URL",
            "Table or view for this capability",
            "Primary-key column",
            "Trusted tenant/scope column",
            "Trusted tenant env var",
            "Trusted principal env var",
            "Capability mode",
            "Fields the model may see (space toggles, enter accepts)",
            "Business object name",
            "Capability namespace",
            "Model-visible object id argument",
            "Read capability name",
            "Optional real object id for a first smoke call",
            "MCP result envelope",
            "Write these files?",
        ]
    );
}

#[test]
fn an_inspection_without_tables_ends_the_wizard() {
    let mut w = Wizard::new(start());
    choose(&mut w, "sqlite");
    w.answer(Answer::Text("DB".into())).expect("valid");
    let mut empty = inspection();
    empty.tables.clear();
    assert!(matches!(w.inspected(empty), Err(Rejected::Abort(m)) if m.starts_with("no tables")));
}

#[test]
fn invalid_text_is_asked_again() {
    let mut w = Wizard::new(start());
    choose(&mut w, "auto");
    assert_eq!(
        w.answer(Answer::Text("postgres://x".into())),
        Err(Rejected::Retry(
            "Env var that holds the database URL must be an environment-variable name (A-Z, 0-9, _)"
                .into()
        ))
    );
    // Still the same question; a valid name (trimmed) moves on.
    assert_eq!(message(&ask(&w)), "Env var that holds the database URL");
    w.answer(Answer::Text("  APP_URL ".into())).expect("valid");
    assert_eq!(
        w.next(),
        Ok(Step::Inspect {
            engine: "auto".into(),
            read_env: "APP_URL".into()
        })
    );
    w.inspected(inspection()).expect("tables");
    defaults_until(&mut w, "Business object name");
    assert_eq!(
        w.answer(Answer::Text("bad name".into())),
        Err(Rejected::Retry(
            "Business object name must be letters, digits and underscores".into()
        ))
    );
}

#[test]
fn at_least_one_visible_column() {
    let mut w = Wizard::new(start());
    defaults_until(&mut w, "Fields the model may see");
    assert_eq!(
        w.answer(Answer::Choices(vec![])),
        Err(Rejected::Retry(
            "at least one visible column is required".into()
        ))
    );
}

#[test]
fn no_tenant_column_needs_single_tenant_dev() {
    let flags = Answers {
        table: Some("notes".into()),
        ..Answers::default()
    };
    let mut w = Wizard::new(Start { flags, ..start() });
    let tenant = defaults_until(&mut w, "tenant/scope column");
    // No tenant suggestion: the cursor starts on "(none)".
    assert_eq!(default_answer(&tenant), Answer::Choice(NONE_CHOICE.into()));
    choose(&mut w, NONE_CHOICE);
    let confirm = ask(&w);
    assert_eq!(
        confirm.prompt,
        Prompt::Confirm {
            message: "No tenant column: mark this as a single-tenant dev source?".into(),
            default: false
        }
    );
    let mut declined = w.clone();
    assert!(matches!(
        declined.answer(Answer::Yes(false)),
        Err(Rejected::Abort(m)) if m.starts_with("a tenant/scope column is required")
    ));
    w.answer(Answer::Yes(true)).expect("confirmed");
    defaults_until(&mut w, "Write these files?");
    choose(&mut w, "write");
    let f = done(&w);
    assert_eq!(sel(&f).table.as_deref(), Some("notes"));
    assert_eq!(sel(&f).tenant_key, None);
}

#[test]
fn a_weak_guard_must_be_acknowledged() {
    let flags = Answers {
        table: Some("notes".into()),
        mode: Some("review".into()),
        ..Answers::default()
    };
    let mut w = Wizard::new(Start { flags, ..start() });
    defaults_until(&mut w, "tenant/scope column");
    choose(&mut w, NONE_CHOICE);
    w.answer(Answer::Yes(true)).expect("confirmed");
    let mode = defaults_until(&mut w, "Capability mode");
    assert_eq!(default_answer(&mode), Answer::Choice("review".into()));
    w.answer(default_answer(&mode)).expect("valid");
    choose(&mut w, NONE_CHOICE);
    assert!(matches!(
        w.answer(Answer::Yes(false)),
        Err(Rejected::Abort(m)) if m.contains("weak guard")
    ));
}

#[test]
fn proposal_patch_is_checked_against_the_table() {
    let flags = Answers {
        mode: Some("shadow".into()),
        ..Answers::default()
    };
    let mut w = Wizard::new(Start { flags, ..start() });
    let patch = defaults_until(&mut w, "Proposal patch");
    // The first column that is not the key, the tenant or the version.
    assert_eq!(
        default_answer(&patch),
        Answer::Text("status=arg:value".into())
    );
    assert_eq!(
        w.answer(Answer::Text("nope=arg:x".into())),
        Err(Rejected::Retry(
            "patch column nope does not exist on public.invoices".into()
        ))
    );
    assert!(matches!(
        w.answer(Answer::Text("status".into())),
        Err(Rejected::Retry(_))
    ));
    w.answer(Answer::Text(
        "status=arg:status,late_fee_cents=arg:fee".into(),
    ))
    .expect("valid");
    assert!(matches!(
        w.answer(Answer::Text("late_fee_cents=x".into())),
        Err(Rejected::Retry(_))
    ));
    w.answer(Answer::Text("late_fee_cents=0:100".into()))
        .expect("valid");
    w.answer(Answer::Text(String::new())).expect("no guards");
    defaults_until(&mut w, "Write these files?");
    choose(&mut w, "write");
    let f = done(&w);
    assert_eq!(
        f.tools,
        ["invoice.inspect_invoice", "invoice.propose_invoice_update"]
    );
    assert_eq!(
        f.doc["capabilities"][1]["numeric_bounds"],
        json!({"late_fee_cents": {"minimum": 0, "maximum": 100}})
    );
}

#[test]
fn a_recipe_supplies_the_defaults() {
    let recipe = builtin_recipe("billing.late_fee_waiver").expect("a built-in recipe");
    let flags = Answers {
        mode: Some("shadow".into()),
        ..Answers::default()
    };
    let mut w = Wizard::new(Start {
        flags,
        recipe: Some(recipe.clone()),
        ..start()
    });
    let setup = defaults_until(&mut w, "Business action setup");
    assert_eq!(default_answer(&setup), Answer::Choice("recipe".into()));
    choose(&mut w, "recipe");
    let pick = ask(&w);
    assert_eq!(
        default_answer(&pick),
        Answer::Choice(format!("{}: {}", recipe.id, recipe.summary))
    );
    w.answer(default_answer(&pick)).expect("valid");
    let patch = ask(&w);
    assert_eq!(default_answer(&patch), Answer::Text(w.patch_default()));
    assert!(w.patch_default().contains("=fixed:") || w.patch_default().contains("=arg:"));
    assert_eq!(w.bounds_default(), {
        let r = &recipe.spec.numeric_bounds;
        r.iter()
            .map(|(c, b)| {
                format!(
                    "{c}={}:{}",
                    b.minimum.map(|v| v.to_string()).unwrap_or_default(),
                    b.maximum.map(|v| v.to_string()).unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join(",")
    });
    defaults_until(&mut w, "Write these files?");
    choose(&mut w, "write");
    let f = done(&w);
    assert_eq!(sel(&f).patch_args, recipe.spec.patch_args);
    assert_eq!(
        sel(&f).allowed_columns,
        Some(recipe.allowed_write_columns.clone())
    );
}

#[test]
fn manual_setup_drops_the_recipe() {
    let recipe = builtin_recipe("billing.late_fee_waiver").expect("a built-in recipe");
    let flags = Answers {
        mode: Some("shadow".into()),
        ..Answers::default()
    };
    let mut w = Wizard::new(Start {
        flags,
        recipe: Some(recipe),
        ..start()
    });
    defaults_until(&mut w, "Business action setup");
    choose(&mut w, "manual");
    assert_eq!(
        message(&ask(&w)),
        "Proposal patch (column=arg:name or column=fixed:value, comma-separated)"
    );
    assert_eq!(w.patch_default(), "status=arg:value");
}

#[test]
fn review_with_an_http_handler_and_a_template() {
    let flags = Answers {
        mode: Some("review".into()),
        writeback: Some("http_handler".into()),
        ..Answers::default()
    };
    let mut w = Wizard::new(Start {
        flags,
        emit_handler: true,
        ..start()
    });
    defaults_until(&mut w, "bearer credential");
    assert_eq!(
        message(&ask(&w)),
        "Optional env var with the handler's bearer credential (empty for none)"
    );
    assert!(matches!(
        w.answer(Answer::Text("not an env".into())),
        Err(Rejected::Retry(m)) if m.starts_with("Optional env var with the handler's bearer credential must")
    ));
    w.answer(Answer::Text("HOOK_TOKEN".into())).expect("valid");
    w.answer(Answer::Text(String::new()))
        .expect("no signing key");
    let emit = ask(&w);
    assert_eq!(default_answer(&emit), Answer::Yes(true));
    w.answer(Answer::Yes(true)).expect("valid");
    let template = ask(&w);
    assert_eq!(
        template.prompt,
        Prompt::Select {
            message: "Handler template".into(),
            options: vec!["node-fastify".into(), "python-fastapi".into()],
            cursor: 0
        }
    );
    choose(&mut w, "python-fastapi");
    let review = defaults_until(&mut w, "Write these files?");
    assert_eq!(
        review.intro.last().map(String::as_str),
        Some("  handler template: python-fastapi\n\nCHECK YOUR HANDLER")
    );
    choose(&mut w, "write");
    let f = done(&w);
    assert_eq!(f.handler_template.as_deref(), Some("python-fastapi"));
    assert_eq!(sel(&f).executor(), "http_handler");
}

#[test]
fn no_emit_handler_skips_the_template_question() {
    let flags = Answers {
        mode: Some("review".into()),
        writeback: Some("command_handler".into()),
        ..Answers::default()
    };
    let mut w = Wizard::new(Start {
        flags,
        no_emit_handler: true,
        ..start()
    });
    defaults_until(&mut w, "command handler env var");
    w.answer(Answer::Text("HOOK_COMMAND".into()))
        .expect("valid");
    assert_eq!(message(&ask(&w)), "Required approval role");
}

#[test]
fn the_preview_can_be_revised_or_canceled() {
    let mut w = Wizard::new(start());
    defaults_until(&mut w, "Write these files?");
    choose(&mut w, "edit capability names");
    assert_eq!(
        ask(&w).prompt,
        Prompt::Text {
            message: "Read capability name".into(),
            default: "invoice.inspect_invoice".into()
        }
    );
    w.answer(Answer::Text("billing.look_up".into()))
        .expect("valid");
    let again = ask(&w);
    assert!(again.intro.iter().any(|l| l.contains("billing.look_up")));
    choose(&mut w, "edit visible fields");
    w.answer(Answer::Choices(vec!["id".into()])).expect("valid");
    assert_eq!(message(&ask(&w)), "Write these files?");
    let mut canceled = w.clone();
    assert_eq!(
        canceled.answer(Answer::Choice("cancel".into())),
        Err(Rejected::Abort(
            "guided setup canceled before writing files".into()
        ))
    );
    choose(&mut w, "write");
    let f = done(&w);
    assert_eq!(f.tools, ["billing.look_up"]);
    assert_eq!(sel(&f).visible_columns, ["id"]);
}

#[test]
fn flags_become_defaults() {
    let flags = Answers {
        table: Some("public.notes".into()),
        tenant_env: Some("MY_TENANT".into()),
        result_format: Some("v1".into()),
        smoke_id: Some("42".into()),
        ..Answers::default()
    };
    let mut w = Wizard::new(Start {
        flags,
        engine: Some("postgres".into()),
        read_env: Some("PG_URL".into()),
        ..start()
    });
    assert_eq!(default_answer(&ask(&w)), Answer::Choice("postgres".into()));
    let table = defaults_until(&mut w, "Table or view");
    assert_eq!(
        default_answer(&table),
        Answer::Choice("public.notes".into())
    );
    defaults_until(&mut w, "single-tenant dev");
    w.answer(Answer::Yes(true)).expect("confirmed");
    // A single-tenant source has no tenant to ask an env var for.
    assert_eq!(message(&ask(&w)), "Trusted principal env var");
    let rf = defaults_until(&mut w, "MCP result envelope");
    assert_eq!(default_answer(&rf), Answer::Choice("v1".into()));

    // With a tenant column, the flag is the tenant env var's default.
    let mut w = Wizard::new(Start {
        flags: Answers {
            table: Some("public.invoices".into()),
            tenant_env: Some("MY_TENANT".into()),
            ..Answers::default()
        },
        engine: Some("postgres".into()),
        read_env: Some("PG_URL".into()),
        ..start()
    });
    let env = defaults_until(&mut w, "Trusted tenant env var");
    assert_eq!(default_answer(&env), Answer::Text("MY_TENANT".into()));
}

#[test]
fn a_single_tenant_source_needs_no_tenant_env_var() {
    let mut w = Wizard::new(Start {
        flags: Answers {
            table: Some("public.notes".into()),
            ..Answers::default()
        },
        engine: Some("postgres".into()),
        read_env: Some("PG_URL".into()),
        ..start()
    });
    defaults_until(&mut w, "single-tenant dev");
    w.answer(Answer::Yes(true)).expect("confirmed");
    let review = defaults_until(&mut w, "Write these files?");
    assert!(
        review
            .intro
            .iter()
            .any(|l| l.contains("single-tenant dev source")),
        "{:?}",
        review.intro
    );
    w.answer(default_answer(&review)).expect("write");
    let g = done(&w);
    let values = &g.doc["contexts"]["local_operator"]["values"];
    assert_eq!(
        values,
        &serde_json::json!({"principal_env": "SLUICEGATE_PRINCIPAL"})
    );
    assert_eq!(
        g.doc["capabilities"][0]["target"]["single_tenant_dev"],
        true
    );
}

#[test]
fn a_mismatched_answer_is_an_invariant_violation() {
    let mut w = Wizard::new(start());
    assert!(matches!(
        w.answer(Answer::Yes(true)),
        Err(Rejected::Abort(m)) if m.starts_with("invariant")
    ));
}

#[test]
fn the_summary_lists_objects_and_warnings() {
    let lines = summary_lines(&inspection());
    assert_eq!(lines[0], "Engine: postgres");
    assert_eq!(lines[3], "Objects: 2");
    assert_eq!(
        lines[4],
        "- public.invoices · table · pk=id · tenant=tenant_id · conflict=updated_at"
    );
    assert_eq!(
        lines[5],
        "- public.notes · table · pk=id · tenant=none · conflict=none"
    );
    assert!(lines.last().is_some_and(|l| l.starts_with("! ")));
}
