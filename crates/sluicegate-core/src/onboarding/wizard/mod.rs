//! The guided onboarding wizard as a state machine: which question comes next, its default
//! (flags, then the recipe, then the inspection's suggestion), whether an answer is valid, and
//! the reviewed selection and config it ends with. The front end only shows each [`Question`]
//! and hands back an [`Answer`]; it also runs the one inspection the wizard asks for
//! ([`Step::Inspect`]).
//!
//! The order follows onboarding.md: inspect, trusted context, capability, MCP tool, writeback,
//! then a preview that can be revised before anything is written.

mod answer;
mod flow;
mod review;
#[cfg(test)]
mod tests;

use super::answers::Answers;
use super::generated::Generated;
use super::inspection::{Inspection, TableInfo};
use super::recipes::Recipe;

/// The column choice that means "no column".
pub const NONE_CHOICE: &str = "(none)";

/// How a question is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    /// Free text; an empty `default` means none is offered.
    Text { message: String, default: String },
    /// One of `options`, the cursor starting on `cursor`.
    Select {
        message: String,
        options: Vec<String>,
        cursor: usize,
    },
    /// Any of `options`, those at `selected` preselected.
    MultiSelect {
        message: String,
        options: Vec<String>,
        selected: Vec<usize>,
    },
    /// Yes or no.
    Confirm { message: String, default: bool },
}

/// A question: lines to show first (section headings, the inspection summary, the preview),
/// then the prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub intro: Vec<String>,
    pub prompt: Prompt,
}

/// What the user answered, by prompt kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Text(String),
    Choice(String),
    Choices(Vec<String>),
    Yes(bool),
}

/// Why an answer was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    /// Invalid: show the message and ask the same question again.
    #[error("{0}")]
    Retry(String),
    /// The wizard cannot go on (a required decision was declined, or setup was canceled).
    #[error("{0}")]
    Abort(String),
}

/// What the front end does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Ask(Question),
    /// Inspect the database whose URL is in env var `read_env` (`engine` may be `auto`), then
    /// hand the result to [`Wizard::inspected`].
    Inspect {
        engine: String,
        read_env: String,
    },
    /// The reviewed result, ready to be written.
    Done(Box<Generated>),
}

/// What the wizard starts from: flags as decisions (they become defaults) and the handler
/// template options.
#[derive(Debug, Clone, Default)]
pub struct Start {
    pub flags: Answers,
    /// `--engine` as given (`auto` included).
    pub engine: Option<String>,
    /// `--from-env`.
    pub read_env: Option<String>,
    /// `--recipe`, loaded.
    pub recipe: Option<Recipe>,
    /// `--emit-handler`: the default of "write a starter handler template?".
    pub emit_handler: bool,
    /// `--no-emit-handler`: never offer a template.
    pub no_emit_handler: bool,
    /// `--handler-template`.
    pub handler_template: Option<String>,
    /// The config file that will be written, as shown in the preview.
    pub output: String,
    /// Printed under the preview when a handler template will be written.
    pub handler_warning: String,
}

/// The question the wizard is at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Engine,
    ReadEnv,
    Table,
    PrimaryKey,
    Tenant,
    SingleTenantDev,
    TenantEnv,
    PrincipalEnv,
    Mode,
    Conflict,
    WeakGuard,
    Visible,
    Setup,
    RecipeChoice,
    Patch,
    Bounds,
    Guards,
    Object,
    Namespace,
    Lookup,
    ReadTool,
    ProposalTool,
    SmokeId,
    ResultFormat,
    Writeback,
    WriteUrlEnv,
    HandlerUrlEnv,
    HandlerTokenEnv,
    HandlerSigningEnv,
    HandlerCommandEnv,
    EmitHandler,
    HandlerTemplate,
    ApprovalRole,
    Review,
    EditVisible,
    EditReadTool,
    EditProposalTool,
    /// Written: nothing more to ask.
    Done,
}

/// The decisions made so far.
#[derive(Debug, Clone, Default)]
struct Draft {
    engine: String,
    read_env: String,
    table: Option<TableInfo>,
    primary_key: Option<String>,
    tenant: Option<String>,
    single_tenant_dev: bool,
    tenant_env: String,
    principal_env: String,
    mode: String,
    conflict: Option<String>,
    visible: Vec<String>,
    patch: String,
    bounds: String,
    guards: String,
    object: String,
    namespace: String,
    lookup: String,
    read_tool: String,
    proposal_tool: Option<String>,
    smoke_id: String,
    result_format: String,
    writeback: Option<String>,
    write_url_env: Option<String>,
    handler_url_env: Option<String>,
    handler_token_env: Option<String>,
    handler_signing_secret_env: Option<String>,
    handler_command_env: Option<String>,
    wants_template: bool,
    handler_template: Option<String>,
    approval_role: Option<String>,
}

impl Draft {
    fn proposes(&self) -> bool {
        self.mode != "read_only"
    }
}

/// The wizard's state: where it is, what it started from, and what was decided.
#[derive(Debug, Clone)]
pub struct Wizard {
    start: Start,
    at: Field,
    inspection: Option<Inspection>,
    recipe: Option<Recipe>,
    /// Whether the business action is set up from a recipe.
    recipe_setup: bool,
    /// The last choice at the preview.
    review: Option<String>,
    draft: Draft,
}

impl Wizard {
    pub fn new(start: Start) -> Wizard {
        Wizard {
            recipe: start.recipe.clone(),
            start,
            at: Field::Engine,
            inspection: None,
            recipe_setup: false,
            review: None,
            draft: Draft::default(),
        }
    }

    /// What to do next.
    pub fn next(&self) -> Result<Step, Rejected> {
        if self.at == Field::Table && self.inspection.is_none() {
            return Ok(Step::Inspect {
                engine: self.draft.engine.clone(),
                read_env: self.draft.read_env.clone(),
            });
        }
        if self.at == Field::Done {
            return Ok(Step::Done(Box::new(self.finish()?)));
        }
        self.question(self.at)
    }

    /// Take the inspection [`Step::Inspect`] asked for. One without tables or views ends the
    /// wizard: there is nothing to expose.
    pub fn inspected(&mut self, inspection: Inspection) -> Result<(), Rejected> {
        if inspection.tables.is_empty() {
            return Err(Rejected::Abort(
                "no tables or views found; check --schema and the user's privileges".into(),
            ));
        }
        self.inspection = Some(inspection);
        Ok(())
    }

    /// Take the answer to the current question and move on, or say why not.
    pub fn answer(&mut self, answer: Answer) -> Result<(), Rejected> {
        let field = self.at;
        self.take(field, answer)?;
        self.at = self.after(field);
        Ok(())
    }
}

/// The summary shown after inspecting: engine, server, schemas, up to 20 objects with their
/// keys and suggestions, then the inspection's warnings.
pub fn summary_lines(i: &Inspection) -> Vec<String> {
    let or_none = |v: &[String]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(",")
        }
    };
    let mut lines = vec![
        format!("Engine: {}", i.engine),
        format!("Server: {}", i.server_version),
        format!("Schemas: {}", i.schemas.join(", ")),
        format!("Objects: {}", i.tables.len()),
    ];
    for t in i.tables.iter().take(SUMMARY_OBJECTS) {
        lines.push(format!(
            "- {} · {} · pk={} · tenant={} · conflict={}",
            t.qualified(),
            t.kind,
            or_none(&t.primary_key),
            or_none(&t.suggestions.tenant_columns),
            or_none(&t.suggestions.conflict_columns)
        ));
    }
    if i.tables.len() > SUMMARY_OBJECTS {
        lines.push(format!(
            "… and {} more (type any table's name when asked)",
            i.tables.len() - SUMMARY_OBJECTS
        ));
    }
    lines.extend(i.warnings.iter().map(|w| format!("! {w}")));
    lines
}

/// How many objects the post-inspection summary lists one per line.
const SUMMARY_OBJECTS: usize = 20;
