//! The guided onboarding wizard's terminal (`init --wizard`, `onboard db` on a terminal): it
//! shows each question `sluicegate_core::onboarding::wizard` asks, with inquire on stderr, runs
//! the one inspection the wizard asks for, and hands the answers back. Which question comes
//! next, its default and whether an answer is valid are decided there.
//!
//! Prompts need a terminal; callers only get here when stdin and stdout are terminals or
//! `--wizard` was given. Flags prefill the defaults.

use std::io::IsTerminal;

use anyhow::{Context, bail};
use inquire::{Confirm, MultiSelect, Select, Text};
use sluicegate_core::onboarding::generated::Generated;
use sluicegate_core::onboarding::recipes::Recipe;
use sluicegate_core::onboarding::wizard::{
    Answer, Prompt, Rejected, Start, Step, Wizard, summary_lines,
};

use super::inspect::run_inspection;
use super::onboard::GenArgs;
use sluicegate_runtime::handler_templates::SECURITY_WARNING;

/// Ask `prompt` on the terminal.
fn ask(prompt: &Prompt) -> anyhow::Result<Answer> {
    Ok(match prompt {
        Prompt::Text { message, default } => {
            let mut t = Text::new(message);
            if !default.is_empty() {
                t = t.with_default(default);
            }
            Answer::Text(t.prompt().context("wizard canceled")?)
        }
        Prompt::Select {
            message,
            options,
            cursor,
        } => Answer::Choice(
            Select::new(message, options.clone())
                .with_starting_cursor(*cursor)
                .prompt()
                .context("wizard canceled")?,
        ),
        Prompt::MultiSelect {
            message,
            options,
            selected,
        } => Answer::Choices(
            MultiSelect::new(message, options.clone())
                .with_default(selected)
                .prompt()
                .context("wizard canceled")?,
        ),
        Prompt::Confirm { message, default } => Answer::Yes(
            Confirm::new(message)
                .with_default(*default)
                .prompt()
                .context("wizard canceled")?,
        ),
    })
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
    let mut wizard = Wizard::new(Start {
        flags: args.flags()?,
        engine: args.db.engine.clone(),
        read_env: args.db.from_env.clone(),
        recipe,
        emit_handler: args.emit_handler,
        no_emit_handler: args.no_emit_handler,
        handler_template: args.handler_template.clone(),
        output: args.output.display().to_string(),
        handler_warning: SECURITY_WARNING.into(),
    });
    // A question asked again after an invalid answer is not introduced again.
    let mut again = false;
    loop {
        match wizard.next()? {
            Step::Ask(question) => {
                if !again {
                    for line in &question.intro {
                        errln!("{line}");
                    }
                }
                again = false;
                match wizard.answer(ask(&question.prompt)?) {
                    Ok(()) => {}
                    Err(Rejected::Retry(message)) => {
                        errln!("{message}");
                        again = true;
                    }
                    Err(abort) => return Err(abort.into()),
                }
            }
            Step::Inspect { engine, read_env } => {
                let mut db = args.db.clone();
                db.engine = Some(engine);
                let inspection = run_inspection(&db, &read_env)?;
                for line in summary_lines(&inspection) {
                    errln!("{line}");
                }
                wizard.inspected(inspection)?;
            }
            Step::Done(generated) => return Ok(*generated),
        }
    }
}
