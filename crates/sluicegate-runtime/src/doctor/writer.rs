//! The writer of each direct-SQL source, as `doctor --check-writeback` sees it: where its
//! statements find the receipt table, and every privilege it lacks for what direct writeback
//! needs, named with the statement that grants it (the same text `writeback grants` prints).
//! With `--fix --admin-url-env NAME` the receipt table is created through that admin URL.
//!
//! Every probe is a catalog read, a `SELECT … WHERE <never>` or a statement in a transaction
//! that is rolled back (`sluicegate_source::check_writer`): no business row is read, locked
//! or changed. Messages name env vars, never their values.

use sluicegate_core::config::{Capability, Engine, Mode};
use sluicegate_source::privileges::{TableNeed, direct_capabilities, writer_need, writer_needs};
use sluicegate_source::{
    Grantee, Lack, Privilege, RECEIPT_TABLE, ReceiptFix, WriterCheck, WriterLookup, check_writer,
    create_receipt_table, search_path_statement, table_grant, usage_grant,
};

use super::{Checks, Ctx};
use crate::Env;

/// `--writer-role …` as `writeback grants` takes it for this writer (empty on SQLite).
fn writer_role_flag(engine: Engine, lookup: &WriterLookup) -> String {
    match (engine, lookup.grantee(engine)) {
        (Engine::Postgres, Some(_)) => {
            format!(
                " --writer-role {}",
                lookup.user.as_deref().unwrap_or_default()
            )
        }
        (Engine::Mysql, Some(g)) => format!(" --writer-role \"{}\"", g.as_str()),
        _ => String::new(),
    }
}

/// Why apply (and the doctor) stop when the writer's statements find no receipt table, with
/// the commands that create it and grant the writer its use, as whole sentences.
/// `writer_env` names the writer URL's env var.
pub fn receipt_table_missing(
    engine: Engine,
    source: &str,
    writer_env: &str,
    lookup: &WriterLookup,
) -> String {
    let e = engine.as_str();
    let (place, schema_flag) = match (engine, lookup.schema.as_deref()) {
        (Engine::Sqlite, _) => ("in its database file".to_string(), String::new()),
        (Engine::Postgres, Some(s)) => (format!("in schema {s}"), format!(" --schema {s}")),
        (Engine::Mysql, Some(s)) => (format!("in database {s}"), format!(" --schema {s}")),
        (Engine::Postgres, None) => (
            "because its search_path names no schema it may use".to_string(),
            String::new(),
        ),
        (Engine::Mysql, None) => (
            "because its URL names no database".to_string(),
            String::new(),
        ),
    };
    let run = match engine {
        Engine::Sqlite => {
            "run the SQL that `sluicegate writeback migration --engine sqlite` prints on that file"
                .to_string()
        }
        _ => format!(
            "as an admin run the SQL that `sluicegate writeback migration --engine {e}{schema_flag}` prints, then what `sluicegate writeback grants --engine {e}{schema_flag}{}` prints",
            writer_role_flag(engine, lookup)
        ),
    };
    // MySQL shows a user only the tables it holds a privilege on: the table may exist.
    let hidden = match (engine, lookup.schema.as_deref(), lookup.grantee(engine)) {
        (Engine::Mysql, Some(db), Some(g)) => format!(
            " If it exists, the writer holds no privilege on it: {}",
            sluicegate_source::receipt_grant(engine, db, &ALL_RECEIPT, &g)
        ),
        _ => String::new(),
    };
    format!(
        "the writer of source {source} ({writer_env}) finds no {RECEIPT_TABLE} table {place}, and apply never creates it: {run} (or let `sluicegate doctor --check-writeback --fix --admin-url-env <VAR>` do it through the admin URL in VAR).{hidden}"
    )
}

const ALL_RECEIPT: [Privilege; 3] = [Privilege::Select, Privilege::Insert, Privilege::Update];

/// `source:<s>:receipt-table-probe`, then `capability:<c>:writeback-target-probe` per
/// direct-SQL proposal capability. Without `run`: one warning per source saying how.
pub(super) async fn writeback_probes(
    ctx: &Ctx<'_>,
    run: bool,
    fix: Option<&str>,
    checks: &mut Checks,
) {
    if ctx.config.mode != Mode::Review {
        return;
    }
    for (name, source) in &ctx.config.sources {
        let caps: Vec<&Capability> = direct_capabilities(ctx.config, name).collect();
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
        let writer_env = source.write_url_env.as_deref().unwrap_or("write_url_env");
        let Some(url) = source
            .write_url_env
            .as_deref()
            .and_then(|w| ctx.env.secret(w))
        else {
            checks.fail(
                format!("source:{name}:writeback-probe"),
                format!("Writer of {name} cannot be probed: {writer_env} is not set."),
            );
            continue;
        };
        let engine = source.engine;
        if let Some(admin_env) = fix {
            fix_receipt_table(ctx.env, name, engine, admin_env, &url, checks).await;
        }
        let check = match check_writer(&url, engine, &writer_needs(ctx.config, name)).await {
            Ok(check) => check,
            Err(e) => {
                checks.fail(
                    format!("source:{name}:receipt-table-probe"),
                    format!(
                        "Writer of {name} ({writer_env}) cannot be checked: {}.",
                        e.category()
                    ),
                );
                continue;
            }
        };
        receipt_check(name, engine, writer_env, &check, checks);
        for cap in caps {
            target_check(name, engine, cap, &check, checks);
        }
    }
}

/// "Writer of app (w@%)".
fn who(source: &str, check: &WriterCheck) -> String {
    match &check.lookup.user {
        Some(u) => format!("Writer of {source} ({u})"),
        None => format!("Writer of {source}"),
    }
}

/// `grant it as an admin: <statements>`, or where to find them when the writer has no name a
/// statement can spell; a whole sentence either way.
fn grant_it(statements: &[String]) -> String {
    if statements.is_empty() {
        "grant it as `sluicegate writeback grants` prints.".to_string()
    } else {
        format!("grant it as an admin: {}", statements.join(" "))
    }
}

fn receipt_check(
    source: &str,
    engine: Engine,
    writer_env: &str,
    check: &WriterCheck,
    checks: &mut Checks,
) {
    let name = format!("source:{source}:receipt-table-probe");
    let who = who(source, check);
    let grantee = check.lookup.grantee(engine);
    let Some(schema) = check.lookup.receipt_schema.as_deref() else {
        let text = receipt_table_missing(engine, source, writer_env, &check.lookup);
        let mut message = format!("T{}", text.strip_prefix('t').unwrap_or(&text));
        if let (Some(found), Some(g)) = (check.receipt_elsewhere.first(), &grantee) {
            message.push_str(&format!(
                " A receipt table exists in schema {found}, which the writer does not use: to use it instead, {}",
                grant_it(&[usage_grant(found, g), search_path_statement(found, g)])
            ));
        }
        checks.fail(name, message);
        return;
    };
    let qualified = format!("{schema}.{RECEIPT_TABLE}");
    let mut problems: Vec<String> = check
        .troubles
        .iter()
        .filter(|t| t.object == qualified)
        .map(|t| format!("{}: {}", t.object, t.category))
        .collect();
    for lack in &check.lacks {
        if let Lack::Receipt { schema, privileges } = lack {
            let names: Vec<&str> = privileges.iter().map(|p| p.as_str()).collect();
            let statements: Vec<String> = grantee
                .iter()
                .map(|g| sluicegate_source::receipt_grant(engine, schema, privileges, g))
                .collect();
            problems.push(format!(
                "{who} lacks {} on {qualified}; {}",
                names.join(", "),
                grant_it(&statements)
            ));
        }
    }
    if problems.is_empty() {
        checks.pass(
            name,
            format!(
                "{who} finds {RECEIPT_TABLE} in {schema} and may select, insert and update it (probe row rolled back)."
            ),
        );
    } else {
        checks.fail(name, problems.join(" "));
    }
}

/// The part of `missing` (what the writer lacks on a table) that `need` asks for.
fn lacking_for(missing: &TableNeed, need: &TableNeed) -> TableNeed {
    let keep = |have: &[String], want: &[String]| -> Vec<String> {
        want.iter().filter(|c| have.contains(c)).cloned().collect()
    };
    TableNeed {
        select: keep(&missing.select, &need.select),
        update: keep(&missing.update, &need.update),
        ..need.clone()
    }
}

fn target_check(
    source: &str,
    engine: Engine,
    cap: &Capability,
    check: &WriterCheck,
    checks: &mut Checks,
) {
    let name = format!("capability:{}:writeback-target-probe", cap.name);
    let need = writer_need(cap);
    let table = need.qualified();
    let who = who(source, check);
    let grantee: Option<Grantee> = check.lookup.grantee(engine);
    let mut statements = Vec::new();
    let mut lacking = Vec::new();
    for lack in &check.lacks {
        match lack {
            Lack::Usage { schema } if *schema == need.schema => {
                lacking.push(format!("USAGE on schema {schema}"));
                statements.extend(grantee.iter().map(|g| usage_grant(schema, g)));
            }
            Lack::Columns(missing)
                if missing.schema == need.schema && missing.table == need.table =>
            {
                let part = lacking_for(missing, &need);
                for (privilege, columns) in [("SELECT", &part.select), ("UPDATE", &part.update)] {
                    if !columns.is_empty() {
                        lacking.push(format!("{privilege} ({})", columns.join(", ")));
                    }
                }
                statements.extend(grantee.iter().filter_map(|g| table_grant(engine, &part, g)));
            }
            _ => {}
        }
    }
    let troubles: Vec<String> = check
        .troubles
        .iter()
        .filter(|t| {
            t.object.starts_with(&format!("{table}."))
                || t.object.starts_with(&format!("{table} ("))
                || t.object == format!("schema {}", need.schema)
        })
        .map(|t| format!("{}: {}", t.object, t.category))
        .collect();
    if lacking.is_empty() && troubles.is_empty() {
        checks.pass(
            name,
            format!(
                "{who} may lock, read and update what {} needs on {table} (probes rolled back, no row touched).",
                cap.name
            ),
        );
        return;
    }
    let mut message = String::new();
    if !lacking.is_empty() {
        message = format!(
            "{who} lacks {} on {table} for {}; {}",
            lacking.join(" and "),
            cap.name,
            grant_it(&statements)
        );
    }
    if !troubles.is_empty() {
        if !message.is_empty() {
            message.push(' ');
        }
        message.push_str(&format!(
            "Writer probe of {table} ({}): {}.",
            cap.name,
            troubles.join("; ")
        ));
    }
    checks.fail(name, message);
}

/// `--fix`: create the receipt table through the admin URL in `admin_env` when the writer
/// finds none (`source:<s>:receipt-table-fix`).
async fn fix_receipt_table(
    env: &Env,
    source: &str,
    engine: Engine,
    admin_env: &str,
    writer: &sluicegate_core::secrets::Secret,
    checks: &mut Checks,
) {
    let name = format!("source:{source}:receipt-table-fix");
    let Some(admin) = env.secret(admin_env) else {
        checks.fail(
            name,
            format!("--fix needs {admin_env} set to the URL of an admin of {source}'s database."),
        );
        return;
    };
    match create_receipt_table(&admin, writer, engine).await {
        Ok(ReceiptFix::Created { schema, granted_to }) => checks.pass(
            name,
            match granted_to {
                Some(g) => format!(
                    "Created {RECEIPT_TABLE} in {schema} as {admin_env}'s user and granted {g} SELECT, INSERT, UPDATE on it."
                ),
                None => format!("Created {RECEIPT_TABLE} in {schema} through {admin_env}."),
            },
        ),
        Ok(ReceiptFix::Present { schema }) => checks.pass(
            name,
            format!("The writer of {source} already finds {RECEIPT_TABLE} in {schema}; nothing was changed."),
        ),
        Ok(ReceiptFix::OtherDatabase) => checks.fail(
            name,
            format!("{admin_env} reaches another database than the writer of {source}; nothing was created."),
        ),
        Ok(ReceiptFix::NoSchema) => checks.fail(
            name,
            format!("The writer of {source} has no schema (search_path) or database to find the receipt table in; nothing was created."),
        ),
        Ok(ReceiptFix::UnsafeWriter) => checks.fail(
            name,
            format!("The writer of {source} has a name a GRANT cannot spell safely; nothing was created."),
        ),
        Err(e) => checks.fail(
            name,
            format!("{admin_env} could not create the receipt table: {}.", e.category()),
        ),
    }
}
