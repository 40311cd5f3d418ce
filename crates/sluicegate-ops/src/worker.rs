//! `sluicegate worker`: apply approved proposals unattended, beside a server.
//!
//! The loop is the runtime's (`ReviewApi::run_worker`): claim from the ledger's work queue,
//! apply through `ReviewApi::apply` (the CLI `apply`'s own path, signed-decision rules
//! included), finish or fail the claim. This module reads the flags, installs the stop
//! signals, and prints one line per job. It is the one command of this crate that writes to a
//! source database, and it does so only through that path.

use std::process::ExitCode;
use std::time::Duration;

use sluicegate_core::display;
use sluicegate_runtime::worker::{Backoff, JobOutcome, JobReport, Listen, Poll, WorkerOptions};
use sluicegate_runtime::{Env, ReviewApi, paths, worker};

use crate::common::{Paths, json_line};
use crate::{Outcome, Printer};

#[derive(clap::Args, Debug, Clone)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub paths: Paths,
    /// Drain what is claimable now, then exit (0: every job applied; 1: something did not)
    #[arg(long)]
    pub once: bool,
    /// One JSON line per job on stdout
    #[arg(long)]
    pub json: bool,
    /// Recorded on claims and dead letters (default: <host>-<pid>)
    #[arg(long)]
    pub worker_id: Option<String>,
    /// How long a claim is held without renewal (renewed every third of it while applying)
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub lease_seconds: u64,
    /// Claims a job may have before it is given up on as a dead letter
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_attempts: u32,
    /// The pause before the first retry of a failed job; it doubles per attempt
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(0..=86400))]
    pub retry_seconds: u64,
    /// The longest pause before a retry
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(0..=86400))]
    pub retry_max_seconds: u64,
    /// The longest pause between looks at an empty queue
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub poll_max_seconds: u64,
}

impl WorkerArgs {
    fn options(&self) -> anyhow::Result<WorkerOptions> {
        let id = match &self.worker_id {
            Some(id) if id.trim().is_empty() || id.chars().any(display::is_control) => {
                anyhow::bail!("--worker-id must be a non-empty name without control characters")
            }
            Some(id) => id.trim().to_string(),
            None => worker::default_worker_id(),
        };
        let mut opts = WorkerOptions::new(id);
        opts.lease = Duration::from_secs(self.lease_seconds);
        opts.max_attempts = self.max_attempts;
        opts.retry = Backoff {
            first: Duration::from_secs(self.retry_seconds),
            max: Duration::from_secs(self.retry_max_seconds.max(self.retry_seconds)),
        };
        opts.idle.max = Duration::from_secs(self.poll_max_seconds);
        opts.once = self.once;
        Ok(opts)
    }
}

pub fn run(a: WorkerArgs, out: &mut dyn Printer) -> Outcome {
    let opts = a.options()?;
    // The id is recorded on claims and printed: refused, like any record, when it looks like
    // a credential (before it is echoed anywhere).
    if let Err(r) = sluicegate_core::secrets::scan(
        &serde_json::json!({ "worker_id": opts.worker_id }),
        "worker",
    ) {
        out.err(&format!(
            "refused: SECRET_MATERIAL_REJECTED: --worker-id: {}\n",
            display::text(&r.message)
        ));
        return Ok(ExitCode::from(1));
    }
    let config = paths::load_config(&a.paths.config_path()).map_err(anyhow::Error::msg)?;
    let ledger = a.paths.ledger()?;
    // PostgreSQL: woken by NOTIFY as soon as work is queued (polling stays the fallback).
    let signal = ledger.work_signal()?;
    let engine = ledger.engine();
    let review = ReviewApi::new(Some(config), ledger, Env::process());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let hint = a.paths.hint();
    let summary = rt.block_on(async {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::spawn(async move {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            let _ = tx.send(true);
        });
        out.err(&format!(
            "worker {} started (lease {}s, at most {} attempts{}); stop with Ctrl-C or SIGTERM\n",
            display::text(&opts.worker_id),
            a.lease_seconds,
            opts.max_attempts,
            if opts.once { ", draining once" } else { "" }
        ));
        let mut failed_line = None;
        let mut on_job = |job: &JobReport| {
            let line = if a.json {
                json_line(job).unwrap_or_default()
            } else {
                text(job)
            };
            out.out(&line);
            // The hint names dead letters when there is one.
            if !job.outcome.ok() && failed_line != Some(JobOutcome::DeadLetter) {
                failed_line = Some(job.outcome);
            }
        };
        let summary = match signal {
            Some(signal) => {
                review
                    .run_worker(&opts, &mut Listen(signal), rx, &mut on_job)
                    .await
            }
            None => review.run_worker(&opts, &mut Poll, rx, &mut on_job).await,
        };
        anyhow::Ok((summary, failed_line))
    })?;
    let (summary, failed) = summary;
    let summary = match summary {
        Ok(s) => s,
        Err(e) => return crate::common::refused(out, e),
    };
    out.err(&format!(
        "worker {} stopped: {} job{}, {} not applied\n",
        display::text(&opts.worker_id),
        summary.jobs,
        if summary.jobs == 1 { "" } else { "s" },
        summary.failed
    ));
    if let Some(outcome) = failed {
        let next = match outcome {
            // `activity search` is not built for PostgreSQL yet: the dead letters' events are.
            JobOutcome::DeadLetter if engine == "postgres" => {
                format!("sluicegate events tail --kind writeback_dead_lettered{hint}")
            }
            JobOutcome::DeadLetter => {
                format!("sluicegate activity search --status worker_dead_letter{hint}")
            }
            _ if engine == "postgres" => format!("sluicegate events tail{hint}"),
            _ => format!("sluicegate activity search{hint}"),
        };
        out.err(&format!("Next: {next}\n"));
    }
    Ok(if opts.once && summary.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// One job as a line of text, every ledger field through `display::text`.
pub fn text(job: &JobReport) -> String {
    let t = |v: &str| display::text(v).into_owned();
    let mut s = format!(
        "{} {} (attempt {}, fence {}{})",
        job.outcome.as_str().replace('_', " "),
        t(&job.proposal_id),
        job.attempt,
        job.fence,
        if job.taken_over {
            ", taken over from an expired lease"
        } else {
            ""
        }
    );
    if let Some(jid) = &job.writeback_job_id {
        s.push_str(&format!(" job {}", t(jid)));
    }
    if let Some(at) = &job.retry_at {
        s.push_str(&format!("; retry at {}", t(at)));
    }
    if let Some(e) = &job.error {
        s.push_str(&format!(": {}", t(e)));
    }
    s.push('\n');
    s
}
