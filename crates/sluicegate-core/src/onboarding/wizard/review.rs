//! The end of the wizard: the defaults that come from a recipe, the decisions as [`Answers`],
//! the resolved selection, the preview shown before writing, and the generated config.

use super::{Rejected, Wizard};
use crate::onboarding::answers::{Answers, resolve};
use crate::onboarding::files::preview_lines;
use crate::onboarding::generated::Generated;
use crate::onboarding::selection::{PatchSpec, Selection};

impl Wizard {
    /// The patch default: the recipe's patch, else the `--patch` flags, else the first column
    /// that is not a key, the tenant or the version, from an argument named `value`.
    pub(super) fn patch_default(&self) -> String {
        let d = &self.draft;
        match &self.recipe {
            Some(r) => r
                .spec
                .patch
                .iter()
                .map(|(c, p)| match p {
                    PatchSpec::Fixed { fixed } => format!(
                        "{c}=fixed:{}",
                        fixed
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| fixed.to_string())
                    ),
                    PatchSpec::FromArg { from_arg } => format!("{c}=arg:{from_arg}"),
                })
                .collect::<Vec<_>>()
                .join(","),
            None if !self.start.flags.patch.is_empty() => self.start.flags.patch.join(","),
            None => d
                .table
                .iter()
                .flat_map(|t| t.columns.iter())
                .find(|c| {
                    Some(&c.name) != d.primary_key.as_ref()
                        && Some(&c.name) != d.tenant.as_ref()
                        && Some(&c.name) != d.conflict.as_ref()
                })
                .map(|c| format!("{}=arg:value", c.name))
                .unwrap_or_default(),
        }
    }

    /// The numeric bounds default: the recipe's, else the flags'.
    pub(super) fn bounds_default(&self) -> String {
        match &self.recipe {
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
            None => self.start.flags.numeric_bounds.join(","),
        }
    }

    /// The transition guards default: the recipe's, else the flags'.
    pub(super) fn guards_default(&self) -> String {
        match &self.recipe {
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
            None => self.start.flags.transition_guards.join(","),
        }
    }

    /// Every decision made, as onboarding answers.
    fn answers(&self) -> Answers {
        let d = &self.draft;
        let f = &self.start.flags;
        let proposes = d.proposes();
        let table = d.table.as_ref();
        let only_if_proposing = |text: &str| {
            if proposes {
                vec![text.to_string()]
            } else {
                vec![]
            }
        };
        Answers {
            engine: self.inspection.as_ref().map(|i| i.engine.clone()),
            mode: Some(d.mode.clone()),
            schema: table.map(|t| t.schema.clone()),
            table: table.map(|t| t.name.clone()),
            primary_key: d.primary_key.clone(),
            tenant_key: d.tenant.clone(),
            single_tenant_dev: d.single_tenant_dev.then_some(true),
            conflict_column: d.conflict.clone(),
            visible_columns: vec![d.visible.join(",")],
            patch: only_if_proposing(&d.patch),
            numeric_bounds: only_if_proposing(&d.bounds),
            transition_guards: only_if_proposing(&d.guards),
            allowed_columns: self
                .recipe
                .as_ref()
                .filter(|_| proposes)
                .map(|r| vec![r.allowed_write_columns.join(",")])
                .unwrap_or_default(),
            namespace: Some(d.namespace.clone()),
            object_name: Some(d.object.clone()),
            lookup_arg: Some(d.lookup.clone()),
            inspect_tool_name: Some(d.read_tool.clone()),
            proposal_tool_name: d.proposal_tool.clone(),
            result_format: Some(d.result_format.clone()),
            read_url_env: Some(d.read_env.clone()),
            write_url_env: d.write_url_env.clone(),
            writeback: d.writeback.clone(),
            handler_url_env: d.handler_url_env.clone(),
            handler_token_env: d.handler_token_env.clone(),
            handler_signing_secret_env: d.handler_signing_secret_env.clone(),
            handler_timeout_ms: f.handler_timeout_ms,
            executor_name: f.executor_name.clone(),
            handler_command_env: d.handler_command_env.clone(),
            // A single-tenant source is asked for no tenant env var; a flag may still name one.
            tenant_env: match d.tenant {
                Some(_) => Some(d.tenant_env.clone()),
                None => f.tenant_env.clone(),
            },
            conflict_maintained_by: f.conflict_maintained_by.clone(),
            context: f.context.clone(),
            existing_namespace: f.existing_namespace.clone(),
            principal_env: Some(d.principal_env.clone()),
            approval_role: d.approval_role.clone(),
            smoke_id: Some(d.smoke_id.clone()).filter(|s| !s.is_empty()),
            ..Default::default()
        }
    }

    /// The decisions resolved against the inspection. The recipe's patch is already in the
    /// patch text; only its argument shapes are taken from it.
    fn selection(&self) -> Result<Selection, Rejected> {
        let resolved = resolve(&self.answers(), self.inspection.as_ref(), None, "read_only")
            .map_err(|e| Rejected::Abort(e.to_string()))?;
        let mut selection = resolved.selection;
        if let Some(r) = &self.recipe {
            selection.patch_args = r.spec.patch_args.clone();
        }
        Ok(selection)
    }

    /// What is about to be written, shown before the last question.
    pub(super) fn preview(&self) -> Result<Vec<String>, Rejected> {
        let selection = self.selection()?;
        let names = selection
            .names()
            .ok_or_else(|| Rejected::Abort("invariant: the inspection names the engine".into()))?;
        let mut lines = vec![format!(
            "\nWhat I am about to write ({}):",
            self.start.output
        )];
        lines.extend(
            preview_lines(&selection, &names)
                .into_iter()
                .map(|l| format!("  {l}")),
        );
        if let Some(t) = &self.draft.handler_template {
            lines.push(format!(
                "  handler template: {t}\n\n{}",
                self.start.handler_warning
            ));
        }
        Ok(lines)
    }

    /// The generated config and what goes with it.
    pub(super) fn finish(&self) -> Result<Generated, Rejected> {
        let label = format!(
            "{} inspection (wizard)",
            self.inspection
                .as_ref()
                .map(|i| i.engine.as_str())
                .unwrap_or_default()
        );
        let mut g = Generated::from_selection(self.selection()?, self.answers().smoke_id, label)
            .map_err(|e| Rejected::Abort(e.to_string()))?;
        g.handler_template = self.draft.handler_template.clone();
        Ok(g)
    }
}
