//! The wizard's flow: per question its prompt and default, how an answer is checked and kept,
//! which question follows, and the preview that ends it.

use super::{Field, NONE_CHOICE, Prompt, Question, Rejected, Step, Wizard};
use crate::onboarding::answers::Answers;
use crate::onboarding::answers::{namespace_default, object_for, table_prefix};
use crate::onboarding::grammar::split_list;
use crate::onboarding::inspection::TableInfo;
use crate::onboarding::recipes::{Recipe, builtin};
use crate::onboarding::selection::Selection;

/// How a text answer is checked.
#[derive(Clone, Copy)]
enum Rule {
    Any,
    Env,
    OptionalEnv,
    Ident,
}

/// A choice question: message, options, and the option the cursor starts on.
type Choice = (&'static str, Vec<String>, String);

const VISIBLE: &str = "Fields the model may see (space toggles, enter accepts)";
const REVIEW_CHOICES: [&str; 4] = [
    "write",
    "edit visible fields",
    "edit capability names",
    "cancel",
];

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

impl Wizard {
    fn flags(&self) -> &Answers {
        &self.start.flags
    }

    pub(super) fn table(&self) -> Result<&TableInfo, Rejected> {
        self.draft
            .table
            .as_ref()
            .ok_or_else(|| Rejected::Abort("invariant: a table is chosen first".into()))
    }

    /// The prefix the chosen table shares with the schema's other tables (or the flag's).
    fn prefix(&self) -> Option<String> {
        let t = self.draft.table.as_ref()?;
        table_prefix(self.flags(), self.inspection.as_ref(), Some(t), &t.name)
    }

    /// The object name the table suggests (`invoices` → `invoice`, `app_invoice` →
    /// `invoice`).
    fn object_default(&self) -> String {
        self.draft
            .table
            .as_ref()
            .map(|t| object_for(&t.name, self.prefix().as_deref()))
            .unwrap_or_default()
    }

    /// The text question of `field`: its message, default and rule.
    fn text(&self, field: Field) -> Option<(&'static str, String, Rule)> {
        let f = self.flags();
        let r = self.recipe.as_ref().map(|r| &r.spec);
        let flag_or = |v: &Option<String>, d: &str| v.clone().unwrap_or_else(|| d.to_string());
        let spec = |pick: fn(&Selection) -> Option<String>| r.and_then(pick);
        Some(match field {
            Field::ReadEnv => (
                "Env var that holds the database URL",
                flag_or(&self.start.read_env, "DATABASE_URL"),
                Rule::Env,
            ),
            Field::TenantEnv => (
                "Trusted tenant env var",
                flag_or(&f.tenant_env, "SLUICEGATE_TENANT_ID"),
                Rule::Env,
            ),
            Field::PrincipalEnv => (
                "Trusted principal env var",
                flag_or(&f.principal_env, "SLUICEGATE_PRINCIPAL"),
                Rule::Env,
            ),
            Field::Patch => (
                "Proposal patch (column=arg:name or column=fixed:value, comma-separated)",
                self.patch_default(),
                Rule::Any,
            ),
            Field::Bounds => (
                "Numeric bounds (optional, column=minimum:maximum, comma-separated)",
                self.bounds_default(),
                Rule::Any,
            ),
            Field::Guards => (
                "Status transition guards (optional, column=from:to|to;from:to)",
                self.guards_default(),
                Rule::Any,
            ),
            Field::Object => (
                "Business object name",
                f.object_name
                    .clone()
                    .or_else(|| spec(|s| s.object_name.clone()))
                    .unwrap_or_else(|| self.object_default()),
                Rule::Ident,
            ),
            Field::Namespace => (
                "Capability namespace",
                f.namespace
                    .clone()
                    .or_else(|| spec(|s| s.namespace.clone()))
                    .unwrap_or_else(|| {
                        namespace_default(f, &self.draft.object, self.prefix().as_deref())
                    }),
                Rule::Ident,
            ),
            Field::Lookup => (
                "Model-visible object id argument",
                f.lookup_arg
                    .clone()
                    .or_else(|| spec(|s| s.lookup_arg.clone()))
                    .unwrap_or_else(|| format!("{}_id", self.draft.object)),
                Rule::Ident,
            ),
            Field::ReadTool => (
                "Read capability name",
                f.inspect_tool_name
                    .clone()
                    .or_else(|| spec(|s| s.inspect_tool_name.clone()))
                    .unwrap_or_else(|| {
                        format!("{}.inspect_{}", self.draft.namespace, self.draft.object)
                    }),
                Rule::Ident,
            ),
            Field::ProposalTool => (
                "Proposal capability name",
                f.proposal_tool_name
                    .clone()
                    .or_else(|| spec(|s| s.proposal_tool_name.clone()))
                    .unwrap_or_else(|| {
                        format!(
                            "{}.propose_{}_update",
                            self.draft.namespace, self.draft.object
                        )
                    }),
                Rule::Ident,
            ),
            Field::EditReadTool => (
                "Read capability name",
                self.draft.read_tool.clone(),
                Rule::Ident,
            ),
            Field::EditProposalTool => (
                "Proposal capability name",
                self.draft.proposal_tool.clone().unwrap_or_default(),
                Rule::Ident,
            ),
            Field::SmokeId => (
                "Optional real object id for a first smoke call",
                flag_or(&f.smoke_id, ""),
                Rule::Any,
            ),
            Field::WriteUrlEnv => (
                "Writer URL env var for the trusted apply",
                flag_or(&f.write_url_env, "SLUICEGATE_DATABASE_WRITE_URL"),
                Rule::Env,
            ),
            Field::HandlerUrlEnv => (
                "App-owned HTTP handler URL env var",
                flag_or(&f.handler_url_env, "SLUICEGATE_APP_WRITEBACK_URL"),
                Rule::Env,
            ),
            Field::HandlerTokenEnv => (
                "Optional env var with the handler's bearer credential",
                flag_or(&f.handler_token_env, ""),
                Rule::OptionalEnv,
            ),
            Field::HandlerSigningEnv => (
                "Optional env var with the HMAC signing key (recommended)",
                flag_or(&f.handler_signing_secret_env, ""),
                Rule::OptionalEnv,
            ),
            Field::HandlerCommandEnv => (
                "App-owned command handler env var",
                flag_or(&f.handler_command_env, "SLUICEGATE_APP_WRITEBACK_COMMAND"),
                Rule::Env,
            ),
            Field::ApprovalRole => (
                "Required approval role",
                f.approval_role
                    .clone()
                    .or_else(|| spec(|s| s.approval.clone().and_then(|a| a.required_role)))
                    .unwrap_or_else(|| "local_reviewer".into()),
                Rule::Ident,
            ),
            _ => return None,
        })
    }

    /// The choice question of `field`: message, options and the default option.
    fn choice(&self, field: Field) -> Result<Option<Choice>, Rejected> {
        let f = self.flags();
        let or = |v: &Option<String>, d: &str| v.clone().unwrap_or_else(|| d.to_string());
        let column = |message, default: Option<String>, allow_none: bool| {
            let mut options = Vec::new();
            if allow_none {
                options.push(NONE_CHOICE.to_string());
            }
            let table = self.table()?;
            options.extend(table.columns.iter().map(|c| c.name.clone()));
            Ok::<_, Rejected>((
                message,
                options,
                default.unwrap_or_else(|| NONE_CHOICE.into()),
            ))
        };
        Ok(Some(match field {
            Field::Engine => (
                "Engine",
                strings(&["auto", "postgres", "mysql", "sqlite"]),
                or(&self.start.engine, "auto"),
            ),
            Field::Table => {
                let inspection = self
                    .inspection
                    .as_ref()
                    .ok_or_else(|| Rejected::Abort("invariant: inspected before".into()))?;
                let objects: Vec<String> =
                    inspection.tables.iter().map(TableInfo::qualified).collect();
                let default = f
                    .table
                    .as_deref()
                    .and_then(|t| inspection.find(t, f.schema.as_deref()))
                    .map(TableInfo::qualified)
                    .unwrap_or_else(|| objects[0].clone());
                ("Table or view for this capability", objects, default)
            }
            Field::PrimaryKey => {
                let default = f.primary_key.clone().or_else(|| {
                    self.table()
                        .ok()?
                        .primary_key_choice(&self.object_default())
                });
                column("Primary-key column", default, false)?
            }
            Field::Tenant => {
                let default = f.tenant_key.clone().or_else(|| {
                    self.table()
                        .ok()?
                        .suggestions
                        .tenant_columns
                        .first()
                        .cloned()
                });
                column("Trusted tenant/scope column", default, true)?
            }
            Field::Mode => (
                "Capability mode",
                strings(&["read_only", "shadow", "review"]),
                or(&f.mode, "read_only"),
            ),
            Field::Conflict => {
                let default = f.conflict_column.clone().or_else(|| {
                    self.table()
                        .ok()?
                        .suggestions
                        .conflict_columns
                        .first()
                        .cloned()
                });
                column("Conflict/version column", default, true)?
            }
            Field::Setup => (
                "Business action setup",
                strings(&["manual", "recipe"]),
                if self.recipe.is_some() {
                    "recipe"
                } else {
                    "manual"
                }
                .into(),
            ),
            Field::RecipeChoice => {
                let label = |r: &Recipe| format!("{}: {}", r.id, r.summary);
                let ids: Vec<String> = builtin().iter().map(label).collect();
                let default = self
                    .recipe
                    .as_ref()
                    .map(label)
                    .unwrap_or_else(|| ids[0].clone());
                ("Recipe", ids, default)
            }
            Field::ResultFormat => (
                "MCP result envelope",
                strings(&["v2", "v1"]),
                or(&f.result_format, "v2"),
            ),
            Field::Writeback => (
                "Writeback path",
                strings(&["sql_update", "http_handler", "command_handler"]),
                or(&f.writeback, "sql_update"),
            ),
            Field::HandlerTemplate => {
                let options = if self.draft.writeback.as_deref() == Some("command_handler") {
                    strings(&["command"])
                } else {
                    strings(&["node-fastify", "python-fastapi"])
                };
                let default = self
                    .start
                    .handler_template
                    .clone()
                    .unwrap_or_else(|| options[0].clone());
                ("Handler template", options, default)
            }
            Field::Review => (
                "Write these files?",
                strings(&REVIEW_CHOICES),
                "write".into(),
            ),
            _ => return Ok(None),
        }))
    }

    fn visible_question(&self, defaults: &[String]) -> Result<Prompt, Rejected> {
        let names: Vec<String> = self
            .table()?
            .columns
            .iter()
            .map(|c| c.name.clone())
            .collect();
        let selected = names
            .iter()
            .enumerate()
            .filter(|(_, n)| defaults.contains(n))
            .map(|(i, _)| i)
            .collect();
        Ok(Prompt::MultiSelect {
            message: VISIBLE.into(),
            options: names,
            selected,
        })
    }

    /// Section headings shown before the first question of each step.
    fn intro(&self, field: Field) -> Result<Vec<String>, Rejected> {
        Ok(match field {
            Field::Engine => strings(&[
                "Sluicegate guided setup",
                "Use a staging database first. Only catalog metadata is read.",
                "Flow: inspect database -> trusted context -> capability -> MCP tool.\n",
                "Step 1: Inspect database metadata",
            ]),
            Field::Table => strings(&[
                "\nStep 2: Create trusted context",
                "The tenant and principal come from env vars you set, never from the model.",
            ]),
            Field::Mode => strings(&[
                "\nStep 3: Create capability",
                "A read returns one row of the trusted tenant; a proposal records a reviewed change.",
            ]),
            Field::Review => self.preview()?,
            _ => Vec::new(),
        })
    }

    pub(super) fn question(&self, field: Field) -> Result<Step, Rejected> {
        let prompt = if let Some((message, default, rule)) = self.text(field) {
            let message = match rule {
                Rule::OptionalEnv => format!("{message} (empty for none)"),
                _ => message.to_string(),
            };
            Prompt::Text { message, default }
        } else if let Some((message, options, default)) = self.choice(field)? {
            let cursor = options.iter().position(|o| *o == default).unwrap_or(0);
            Prompt::Select {
                message: message.into(),
                options,
                cursor,
            }
        } else {
            match field {
                Field::Visible => {
                    let f = self.flags();
                    let defaults = if f.visible_columns.is_empty() {
                        self.table()?.suggestions.default_visible_columns.clone()
                    } else {
                        split_list(f.visible_columns.iter().map(String::as_str))
                    };
                    self.visible_question(&defaults)?
                }
                Field::EditVisible => self.visible_question(&self.draft.visible)?,
                Field::SingleTenantDev => Prompt::Confirm {
                    message: "No tenant column: mark this as a single-tenant dev source?".into(),
                    default: false,
                },
                Field::WeakGuard => Prompt::Confirm {
                    message: "No conflict/version column: continue with a weak guard?".into(),
                    default: false,
                },
                Field::EmitHandler => Prompt::Confirm {
                    message: "Write a starter handler template?".into(),
                    default: self.start.emit_handler,
                },
                _ => {
                    return Err(Rejected::Abort(
                        "invariant: every field has a question".into(),
                    ));
                }
            }
        };
        Ok(Step::Ask(Question {
            intro: self.intro(field)?,
            prompt,
        }))
    }
}
