//! The inspection as `sluicegate inspect` prints it: the server, then per table its keys, the
//! suggested tenant and version columns, fields to review and suggested visible fields.

use super::grammar::{listing, object_name_for};
use super::inspection::{Candidate, Inspection, TableInfo};

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "not detected".into()
    } else {
        listing(items, LISTED)
    }
}

/// How many items a line lists before `and N more`.
const LISTED: usize = 12;

/// `column (reason)` for each candidate column, with the reason when there is one.
fn explained(columns: &[String], reasons: &[Candidate]) -> Vec<String> {
    columns
        .iter()
        .map(|c| match reasons.iter().find(|r| r.column == *c) {
            Some(r) => format!("{c} ({})", r.reason),
            None => c.clone(),
        })
        .collect()
}

/// The per-table block of `inspect`'s text output.
pub fn describe_table(t: &TableInfo) -> Vec<String> {
    let object = object_name_for(&t.name);
    let pk = match (t.primary_key.as_slice(), t.primary_key_choice(&object)) {
        ([], Some(c)) => format!("not detected; candidate: {c}"),
        ([], None) => "not detected".into(),
        ([only], _) => only.clone(),
        (cols, Some(c)) => format!("{} (composite; row key: {c})", cols.join(", ")),
        (cols, None) => format!(
            "{} (composite; a capability looks a row up by one unique column)",
            cols.join(", ")
        ),
    };
    let mut lines = vec![
        format!("- {} ({})", t.qualified(), t.kind),
        format!("  primary key: {pk}"),
    ];
    if !t.unique_constraints.is_empty() {
        let keys: Vec<String> = t
            .unique_constraints
            .iter()
            .map(|u| u.columns.join("+"))
            .collect();
        lines.push(format!("  unique keys: {}", listing(&keys, LISTED)));
    }
    if !t.foreign_keys.is_empty() {
        let refs: Vec<String> = t
            .foreign_keys
            .iter()
            .map(|f| format!("{} -> {}", f.columns.join("+"), f.referenced_table))
            .collect();
        lines.push(format!("  references: {}", listing(&refs, LISTED)));
    }
    let s = &t.suggestions;
    let sensitive = listing(&s.sensitive_columns, LISTED);
    let visible = listing(&s.default_visible_columns, LISTED);
    lines.extend([
        format!(
            "  possible tenant/scope columns: {}",
            list(&explained(&s.tenant_columns, &s.tenant_candidates))
        ),
        format!(
            "  possible conflict/version columns: {}",
            list(&explained(&s.conflict_columns, &s.maintained_columns))
        ),
        format!("  fields to review before exposing: {sensitive}"),
        format!("  suggested visible fields: {visible}"),
    ]);
    lines
}

/// The whole text of `inspect`; `env_name` is the env var the URL came from (named in the next
/// step, never its value).
pub fn inspection_text(i: &Inspection, env_name: &str) -> String {
    let mut lines = vec![
        "Sluicegate schema inspection".to_string(),
        format!("Engine: {}", i.engine),
        format!("Server: {}", i.server_version),
    ];
    if !i.current_user.is_empty() {
        lines.push(format!("Current user: {}", i.current_user));
    }
    lines.push(format!(
        "Schemas: {}",
        if i.schemas.is_empty() {
            "(none)".into()
        } else {
            i.schemas.join(", ")
        }
    ));
    lines.push(format!("\nFound {} tables/views:", i.tables.len()));
    lines.extend(i.tables.iter().flat_map(describe_table));
    lines.push("\nWarnings:".into());
    lines.extend(i.warnings.iter().map(|w| format!("! {w}")));
    lines.push(format!(
        "\nNext:\n  sluicegate onboard db --from-env {env_name}"
    ));
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Engine;
    use crate::onboarding::inspection::{RawCatalog, RawColumn, RawObject, normalize};

    fn inspection() -> Inspection {
        let col = |name: &str, pos: u32| RawColumn {
            schema: "main".into(),
            table: "invoices".into(),
            name: name.into(),
            data_type: Some("TEXT".into()),
            udt_name: None,
            is_nullable: "YES".into(),
            default: None,
            is_generated: None,
            ordinal_position: pos,
        };
        normalize(
            RawCatalog {
                engine: Engine::Sqlite,
                server_version: "SQLite 3".into(),
                current_user: String::new(),
                schemas: vec!["main".into()],
                objects: vec![RawObject {
                    schema: "main".into(),
                    name: "invoices".into(),
                    raw_type: "table".into(),
                }],
                columns: vec![
                    col("id", 1),
                    col("tenant_id", 2),
                    col("api_secret", 3),
                    col("updated_at", 4),
                ],
                constraints: vec![],
                foreign_keys: vec![],
                indexes: vec![],
                triggers: vec![],
            },
            "t",
        )
    }

    #[test]
    fn a_table_without_a_key_constraint_gets_a_candidate() {
        let lines = describe_table(&inspection().tables[0]);
        assert_eq!(lines[0], "- main.invoices (table)");
        assert_eq!(lines[1], "  primary key: not detected; candidate: id");
        assert_eq!(
            lines[2],
            "  possible tenant/scope columns: tenant_id (named like a tenant column)"
        );
        assert_eq!(lines[3], "  possible conflict/version columns: updated_at");
        assert_eq!(lines[4], "  fields to review before exposing: api_secret");
    }

    #[test]
    fn the_whole_text() {
        let text = inspection_text(&inspection(), "APP_URL");
        assert!(text.starts_with(
            "Sluicegate schema inspection\nEngine: sqlite\nServer: SQLite 3\nSchemas: main\n\nFound 1 tables/views:\n- main.invoices (table)\n"
        ));
        assert!(!text.contains("Current user"));
        assert!(text.ends_with("\n\nNext:\n  sluicegate onboard db --from-env APP_URL"));
    }
}
