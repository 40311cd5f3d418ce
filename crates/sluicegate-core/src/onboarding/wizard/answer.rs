//! Taking answers: each is checked against its question's rule and kept in the draft, and the
//! decisions so far say which question follows.

use super::{Answer, Field, NONE_CHOICE, Rejected, Wizard};
use crate::ident::{is_env_name, is_safe_identifier};
use crate::onboarding::grammar::{parse_bounds, parse_guards, parse_patch};
use crate::onboarding::recipes::builtin;

fn invariant() -> Rejected {
    Rejected::Abort("invariant: the answer does not fit the question".into())
}

fn text(answer: Answer) -> Result<String, Rejected> {
    match answer {
        Answer::Text(t) => Ok(t.trim().to_string()),
        _ => Err(invariant()),
    }
}

fn choice(answer: Answer) -> Result<String, Rejected> {
    match answer {
        Answer::Choice(c) => Ok(c),
        _ => Err(invariant()),
    }
}

fn yes(answer: Answer) -> Result<bool, Rejected> {
    match answer {
        Answer::Yes(y) => Ok(y),
        _ => Err(invariant()),
    }
}

/// A column choice: `None` for [`NONE_CHOICE`].
fn column(answer: Answer) -> Result<Option<String>, Rejected> {
    let c = choice(answer)?;
    Ok((c != NONE_CHOICE).then_some(c))
}

fn env_name(question: &str, answer: Answer) -> Result<String, Rejected> {
    let v = text(answer)?;
    if is_env_name(&v) {
        Ok(v)
    } else {
        Err(Rejected::Retry(format!(
            "{question} must be an environment-variable name (A-Z, 0-9, _)"
        )))
    }
}

fn optional_env(question: &str, answer: Answer) -> Result<Option<String>, Rejected> {
    let v = text(answer)?;
    if v.is_empty() {
        return Ok(None);
    }
    env_name(question, Answer::Text(v)).map(Some)
}

/// A plain identifier, or `a.b` of two (capability names).
fn ident(question: &str, answer: Answer) -> Result<String, Rejected> {
    let v = text(answer)?;
    if is_safe_identifier(&v)
        || v.split_once('.')
            .is_some_and(|(a, b)| is_safe_identifier(a) && is_safe_identifier(b))
    {
        Ok(v)
    } else {
        Err(Rejected::Retry(format!(
            "{question} must be letters, digits and underscores"
        )))
    }
}

fn visible(answer: Answer) -> Result<Vec<String>, Rejected> {
    match answer {
        Answer::Choices(c) if c.is_empty() => Err(Rejected::Retry(
            "at least one visible column is required".into(),
        )),
        Answer::Choices(c) => Ok(c),
        _ => Err(invariant()),
    }
}

impl Wizard {
    /// Check `answer` to `field` and keep it.
    pub(super) fn take(&mut self, field: Field, answer: Answer) -> Result<(), Rejected> {
        let d = &mut self.draft;
        match field {
            Field::Engine => d.engine = choice(answer)?,
            Field::ReadEnv => {
                d.read_env = env_name("Env var that holds the database URL", answer)?;
            }
            Field::Table => {
                let chosen = choice(answer)?;
                let table = self
                    .inspection
                    .as_ref()
                    .and_then(|i| i.find(&chosen, None))
                    .ok_or_else(|| {
                        Rejected::Abort("invariant: the chosen table is in the inspection".into())
                    })?;
                d.table = Some(table.clone());
            }
            Field::PrimaryKey => d.primary_key = column(answer)?,
            Field::Tenant => d.tenant = column(answer)?,
            Field::SingleTenantDev => {
                if !yes(answer)? {
                    return Err(Rejected::Abort(
                        "a tenant/scope column is required unless single-tenant dev is confirmed"
                            .into(),
                    ));
                }
                d.single_tenant_dev = true;
            }
            Field::TenantEnv => d.tenant_env = env_name("Trusted tenant env var", answer)?,
            Field::PrincipalEnv => {
                d.principal_env = env_name("Trusted principal env var", answer)?;
            }
            Field::Mode => {
                d.mode = choice(answer)?;
                if !d.proposes() {
                    d.conflict = self.start.flags.conflict_column.clone();
                }
            }
            Field::Conflict => d.conflict = column(answer)?,
            Field::WeakGuard => {
                if !yes(answer)? {
                    return Err(Rejected::Abort(
                        "a conflict/version column is required unless a weak guard is acknowledged"
                            .into(),
                    ));
                }
            }
            Field::Visible | Field::EditVisible => d.visible = visible(answer)?,
            Field::Setup => {
                self.recipe_setup = choice(answer)? == "recipe";
                if !self.recipe_setup {
                    self.recipe = None;
                }
            }
            Field::RecipeChoice => {
                let pick = choice(answer)?;
                let id = pick.split(':').next().unwrap_or_default();
                if let Some(r) = builtin().into_iter().find(|r| r.id == id) {
                    self.recipe = Some(r);
                }
            }
            Field::Patch => self.take_patch(text(answer)?)?,
            Field::Bounds => {
                let bounds = text(answer)?;
                parse_bounds(std::slice::from_ref(&bounds))
                    .map_err(|e| Rejected::Retry(e.to_string()))?;
                d.bounds = bounds;
            }
            Field::Guards => {
                let guards = text(answer)?;
                parse_guards(std::slice::from_ref(&guards))
                    .map_err(|e| Rejected::Retry(e.to_string()))?;
                d.guards = guards;
            }
            Field::Object => d.object = ident("Business object name", answer)?,
            Field::Namespace => d.namespace = ident("Capability namespace", answer)?,
            Field::Lookup => d.lookup = ident("Model-visible object id argument", answer)?,
            Field::ReadTool | Field::EditReadTool => {
                d.read_tool = ident("Read capability name", answer)?;
            }
            Field::ProposalTool | Field::EditProposalTool => {
                d.proposal_tool = Some(ident("Proposal capability name", answer)?);
            }
            Field::SmokeId => d.smoke_id = text(answer)?,
            Field::ResultFormat => d.result_format = choice(answer)?,
            Field::Writeback => d.writeback = Some(choice(answer)?),
            Field::WriteUrlEnv => {
                d.write_url_env = Some(env_name(
                    "Writer URL env var for the trusted apply",
                    answer,
                )?);
            }
            Field::HandlerUrlEnv => {
                d.handler_url_env = Some(env_name("App-owned HTTP handler URL env var", answer)?);
            }
            Field::HandlerTokenEnv => {
                d.handler_token_env = optional_env(
                    "Optional env var with the handler's bearer credential",
                    answer,
                )?;
            }
            Field::HandlerSigningEnv => {
                d.handler_signing_secret_env = optional_env(
                    "Optional env var with the HMAC signing key (recommended)",
                    answer,
                )?;
            }
            Field::HandlerCommandEnv => {
                d.handler_command_env =
                    Some(env_name("App-owned command handler env var", answer)?);
            }
            Field::EmitHandler => d.wants_template = yes(answer)?,
            Field::HandlerTemplate => d.handler_template = Some(choice(answer)?),
            Field::ApprovalRole => {
                d.approval_role = Some(ident("Required approval role", answer)?);
            }
            Field::Review => {
                let next = choice(answer)?;
                if !matches!(
                    next.as_str(),
                    "write" | "edit visible fields" | "edit capability names"
                ) {
                    return Err(Rejected::Abort(
                        "guided setup canceled before writing files".into(),
                    ));
                }
                self.review = Some(next);
            }
            Field::Done => return Err(invariant()),
        }
        Ok(())
    }

    fn take_patch(&mut self, patch: String) -> Result<(), Rejected> {
        let mut probe = Default::default();
        parse_patch(std::slice::from_ref(&patch), &mut probe)
            .map_err(|e| Rejected::Retry(e.to_string()))?;
        if probe.is_empty() {
            return Err(Rejected::Retry(
                "at least one patch mapping is required for proposal modes".into(),
            ));
        }
        let table = self.table()?;
        if let Some(c) = probe.keys().find(|c| !table.has_column(c)) {
            return Err(Rejected::Retry(format!(
                "patch column {c} does not exist on {}",
                table.qualified()
            )));
        }
        self.draft.patch = patch;
        Ok(())
    }

    /// The question after `field`, given what was decided.
    pub(super) fn after(&self, field: Field) -> Field {
        let d = &self.draft;
        let proposes = d.proposes();
        let writeback = d.writeback.as_deref().unwrap_or_default();
        // Past the writeback questions: the approval role, for proposals.
        let approval = if proposes {
            Field::ApprovalRole
        } else {
            Field::Review
        };
        match field {
            Field::Engine => Field::ReadEnv,
            Field::ReadEnv => Field::Table,
            Field::Table => Field::PrimaryKey,
            Field::PrimaryKey => Field::Tenant,
            Field::Tenant if d.tenant.is_none() => Field::SingleTenantDev,
            Field::Tenant => Field::TenantEnv,
            // A single-tenant source has no tenant to take from the environment.
            Field::SingleTenantDev => Field::PrincipalEnv,
            Field::TenantEnv => Field::PrincipalEnv,
            Field::PrincipalEnv => Field::Mode,
            Field::Mode if proposes => Field::Conflict,
            Field::Mode => Field::Visible,
            Field::Conflict if d.conflict.is_none() => Field::WeakGuard,
            Field::Conflict | Field::WeakGuard => Field::Visible,
            Field::Visible if proposes => Field::Setup,
            Field::Visible => Field::Object,
            Field::Setup if self.recipe_setup => Field::RecipeChoice,
            Field::Setup | Field::RecipeChoice => Field::Patch,
            Field::Patch => Field::Bounds,
            Field::Bounds => Field::Guards,
            Field::Guards => Field::Object,
            Field::Object => Field::Namespace,
            Field::Namespace => Field::Lookup,
            Field::Lookup => Field::ReadTool,
            Field::ReadTool if proposes => Field::ProposalTool,
            Field::ReadTool | Field::ProposalTool => Field::SmokeId,
            Field::SmokeId => Field::ResultFormat,
            Field::ResultFormat if d.mode == "review" => Field::Writeback,
            Field::ResultFormat => approval,
            Field::Writeback => match writeback {
                "sql_update" => Field::WriteUrlEnv,
                "http_handler" => Field::HandlerUrlEnv,
                _ => Field::HandlerCommandEnv,
            },
            Field::HandlerUrlEnv => Field::HandlerTokenEnv,
            Field::HandlerTokenEnv => Field::HandlerSigningEnv,
            Field::WriteUrlEnv => approval,
            Field::HandlerSigningEnv | Field::HandlerCommandEnv if !self.start.no_emit_handler => {
                Field::EmitHandler
            }
            Field::HandlerSigningEnv | Field::HandlerCommandEnv => approval,
            Field::EmitHandler if d.wants_template => Field::HandlerTemplate,
            Field::EmitHandler | Field::HandlerTemplate => approval,
            Field::ApprovalRole => Field::Review,
            Field::Review => match self.review.as_deref() {
                Some("edit visible fields") => Field::EditVisible,
                Some("edit capability names") => Field::EditReadTool,
                _ => Field::Done,
            },
            Field::EditVisible => Field::Review,
            Field::EditReadTool if d.proposal_tool.is_some() => Field::EditProposalTool,
            Field::EditReadTool | Field::EditProposalTool => Field::Review,
            Field::Done => Field::Done,
        }
    }
}
