//! `proposals writeback-job` (cli.md §8.6) and `validate --job` (§8.8): a job file for a
//! worker, and the check of one against the reviewed config and the stored proposal. Both run
//! apply's own checks (`ReviewApi::writeback_job_file`, `ReviewApi::validate_job`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use serde_json::Value;
use sluicegate_core::display;
use sluicegate_runtime::{Env, JobFileOptions, ReviewApi, paths};

use crate::common::{Paths, json_text, refused};
use crate::{Outcome, Printer};

/// The `proposals` subcommands this crate owns.
#[derive(clap::Subcommand, Debug)]
#[command(defer = true)]
pub enum ProposalOps {
    /// Hand an approved direct-SQL proposal to a worker as a synapsor.writeback-job.v1 file
    /// (records the job; the proposal moves to pending_worker)
    WritebackJob(WritebackJobArgs),
}

#[derive(clap::Args, Debug)]
pub struct WritebackJobArgs {
    /// Proposal id or `latest`
    pub id: String,
    #[command(flatten)]
    pub paths: Paths,
    /// Write the job here (creating directories) instead of printing it
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Project id recorded in the job's runner scope
    #[arg(long, default_value = "local")]
    pub project: String,
    /// Runner recorded as the job's actor (default: SLUICEGATE_RUNNER_ID, local_runner)
    #[arg(long)]
    pub runner: Option<String>,
    /// Job lease length (clamped to 15..3600)
    #[arg(long, default_value_t = 300)]
    pub lease_seconds: i64,
}

// `validate --job FILE`.
#[derive(clap::Args, Debug)]
pub struct ValidateArgs {
    /// The writeback job file to check
    #[arg(long)]
    pub job: PathBuf,
    #[command(flatten)]
    pub paths: Paths,
    #[arg(long)]
    pub json: bool,
}

fn review(paths: &Paths) -> anyhow::Result<ReviewApi> {
    let config = paths::load_config(&paths.config_path()).map_err(anyhow::Error::msg)?;
    Ok(ReviewApi::new(
        Some(config),
        paths.ledger()?,
        Env::process(),
    ))
}

pub fn run_proposals(cmd: ProposalOps, out: &mut dyn Printer) -> Outcome {
    let ProposalOps::WritebackJob(a) = cmd;
    let api = review(&a.paths)?;
    let opts = JobFileOptions {
        project_id: a.project.clone(),
        runner_id: a.runner.clone(),
        lease_seconds: a.lease_seconds,
    };
    let job = match api.writeback_job_file(&a.id, &opts) {
        Ok(job) => job,
        Err(e) => return refused(out, e),
    };
    let text = json_text(&job)?;
    match &a.output {
        None => out.out(&text),
        Some(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            std::fs::write(path, &text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            out.out(&format!(
                "created writeback job {} for {} at {}\nNext: sluicegate validate --job {}{}\n",
                display::text(&job.writeback_job_id),
                display::text(&job.proposal_id),
                path.display(),
                path.display(),
                a.paths.hint()
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_validate(a: ValidateArgs, out: &mut dyn Printer) -> Outcome {
    let text = std::fs::read_to_string(&a.job)
        .with_context(|| format!("cannot read {}", a.job.display()))?;
    let job: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            out.err(&format!(
                "refused: JOB_INVALID: {} is not JSON: {e}\n",
                a.job.display()
            ));
            return Ok(ExitCode::from(1));
        }
    };
    let api = review(&a.paths)?;
    match api.validate_job(&job) {
        Ok(valid) if a.json => out.out(&json_text(&valid)?),
        Ok(valid) => out.out(&format!(
            "job valid: {} for proposal {} (approved by {}{}, lease until {})\n",
            display::text(&valid.writeback_job_id),
            display::text(&valid.proposal_id),
            display::text(&valid.approved_by),
            if valid.signed { ", signed" } else { "" },
            display::text(&valid.lease_expires_at)
        )),
        Err(e) => return refused(out, e),
    }
    Ok(ExitCode::SUCCESS)
}
