//! The worker loop of `sluicegate worker`: claim an approved proposal from the ledger's work
//! queue, apply it through [`ReviewApi::apply`] (the very path of the CLI's `apply`: chain
//! check, `can_apply`, signatures, the guarded `UPDATE` or the handler, the source's receipt
//! table deciding which attempt writes), then finish or fail the claim.
//!
//! Each claim has a lease, renewed while the apply runs, and a fencing token: once another
//! worker has taken a claim over (its lease ran out), every later step this worker tries is
//! refused by the ledger (`CLAIM_LOST`) and reported as `claim_lost`; the write itself stays
//! exactly once whatever the timing, because the source's receipt table arbitrates it.
//!
//! A failure is retried after a backoff that doubles per attempt; at `max_attempts` the job
//! is given up on (a dead letter, visible in `activity search`). Refusals of `apply` (an
//! unsigned approval when reviewers are configured, a tampered ledger, a missing writer URL)
//! are failures like any other: the worker never writes what `apply` refuses. An app-owned
//! handler is never called twice for one idempotency key without an operator, so a failed
//! handler job (or one sent without a recorded receipt) is given up on at once.
//!
//! When there is no work the loop waits on a [`Wake`]: [`Poll`] doubles its pause up to a
//! ceiling; on a PostgreSQL ledger [`Listen`] also returns as soon as `NOTIFY sluicegate_work`
//! arrives (sent by the transaction that queued the work), the poll staying the fallback. A stop request (SIGTERM, Ctrl-C) lets the job in hand finish and
//! record its result, or releases a claim not yet started, then returns.
//!
//! A worker never takes the store lease: it runs beside a server, as the CLI's `apply` does.

use std::time::Duration;

use serde::Serialize;
use sluicegate_ledger::{Claim, Failed, LedgerError, RefusalCode, WorkSignal};
use sluicegate_protocol::ReceiptStatus;
use tokio::sync::watch;

use crate::{ApplyOptions, ReviewApi, ReviewError};

/// A pause that doubles from `first` up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The pause before try `n + 1`, after `n` (≥ 1) failed ones: `first · 2^(n-1)`, capped.
    pub fn after(&self, n: u32) -> Duration {
        let factor = 2u32.saturating_pow(n.saturating_sub(1).min(20));
        self.first.saturating_mul(factor).min(self.max)
    }
}

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Recorded on claims and dead letters.
    pub worker_id: String,
    /// How long a claim is held without renewal; renewed every third of it while applying.
    pub lease: Duration,
    /// Claims a job may have before it is given up on.
    pub max_attempts: u32,
    /// The pause before a failed job is tried again.
    pub retry: Backoff,
    /// The pause between looks at an empty queue (reset when work comes).
    pub idle: Backoff,
    /// Drain what is claimable now, then return.
    pub once: bool,
    pub apply: ApplyOptions,
}

impl WorkerOptions {
    pub fn new(worker_id: String) -> WorkerOptions {
        WorkerOptions {
            worker_id,
            lease: Duration::from_secs(60),
            max_attempts: 5,
            retry: Backoff {
                first: Duration::from_secs(5),
                max: Duration::from_secs(300),
            },
            idle: Backoff {
                first: Duration::from_millis(200),
                max: Duration::from_secs(5),
            },
            once: false,
            apply: ApplyOptions::default(),
        }
    }
}

/// `<host>-<pid>`: the default worker id.
pub fn default_worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}-{}", std::process::id())
}

/// What became of one claimed job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobOutcome {
    Applied,
    AlreadyApplied,
    /// The conflict guard stopped the write: done, since a retry cannot change that.
    Conflict,
    /// The handler reported the job canceled.
    Canceled,
    /// Failed; claimable again at `retry_at`.
    Retry,
    /// Failed for the last time: given up on.
    DeadLetter,
    /// Handed back untried (the worker was stopping).
    Released,
    /// Another worker took the claim over; nothing more was recorded by this one.
    ClaimLost,
}

impl JobOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            JobOutcome::Applied => "applied",
            JobOutcome::AlreadyApplied => "already_applied",
            JobOutcome::Conflict => "conflict",
            JobOutcome::Canceled => "canceled",
            JobOutcome::Retry => "retry",
            JobOutcome::DeadLetter => "dead_letter",
            JobOutcome::Released => "released",
            JobOutcome::ClaimLost => "claim_lost",
        }
    }

    /// Whether the job ended as it should (the answer of `--once`'s exit status).
    pub fn ok(self) -> bool {
        matches!(
            self,
            JobOutcome::Applied | JobOutcome::AlreadyApplied | JobOutcome::Released
        )
    }
}

/// One job's line (`worker --json` prints it as is).
#[derive(Debug, Clone, Serialize)]
pub struct JobReport {
    pub proposal_id: String,
    pub worker_id: String,
    pub fence: i64,
    pub attempt: u32,
    pub taken_over: bool,
    pub outcome: JobOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub writeback_job_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter_id: Option<i64>,
}

/// What a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerSummary {
    pub jobs: u64,
    pub failed: u64,
}

/// How an idle worker waits for work. [`Poll`] sleeps; [`Listen`] (a PostgreSQL ledger) also
/// returns when a `NOTIFY` arrives.
pub trait Wake {
    /// Wait about `pause`, or less when work may have arrived.
    fn wait(&mut self, pause: Duration) -> impl std::future::Future<Output = ()> + Send;
}

/// Polling: the fallback wake-up, and the only one on SQLite.
#[derive(Debug, Default)]
pub struct Poll;

impl Wake for Poll {
    async fn wait(&mut self, pause: Duration) {
        tokio::time::sleep(pause).await;
    }
}

/// Polling, cut short by the ledger's notification that work was queued (PostgreSQL; its
/// listening connection reconnects by itself, and the poll covers the gaps).
#[derive(Debug)]
pub struct Listen(pub WorkSignal);

impl Wake for Listen {
    async fn wait(&mut self, pause: Duration) {
        tokio::select! {
            _ = self.0.notified() => {}
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

/// Resolves once a stop was asked for (never when the sender is gone without asking).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Wait about `pause` for work (see [`Wake`]), or until a stop is asked for.
async fn pause_unless_stopped<W: Wake>(
    wake: &mut W,
    stop: &mut watch::Receiver<bool>,
    pause: Duration,
) {
    tokio::select! {
        _ = wake.wait(pause) => {}
        _ = stopped(stop) => {}
    }
}

/// A ledger busy past its timeout (many processes writing), or a PostgreSQL ledger that
/// cannot be reached for now (a restart, a failover: its error, or `Io` from a writer that
/// cannot connect).
fn unusable_for_now(e: &LedgerError) -> bool {
    matches!(
        e,
        LedgerError::Sqlite(_) | LedgerError::Postgres(_) | LedgerError::Io(_)
    )
}

fn is_lost(e: &LedgerError) -> bool {
    e.refusal_code() == Some(RefusalCode::ClaimLost)
}

impl ReviewApi {
    /// Run a worker until `stop` turns true (or, with `opts.once`, until nothing is
    /// claimable). `on_job` hears about every job as it ends. An `Err` is a ledger that could
    /// not be used; a job's failure is a [`JobReport`].
    pub async fn run_worker<W: Wake>(
        &self,
        opts: &WorkerOptions,
        wake: &mut W,
        mut stop: watch::Receiver<bool>,
        on_job: &mut dyn FnMut(&JobReport),
    ) -> Result<WorkerSummary, ReviewError> {
        let mut summary = WorkerSummary::default();
        let mut idle = opts.idle.first;
        while !*stop.borrow() {
            let claims = match self.ledger.claim_work(&opts.worker_id, opts.lease, 1).await {
                Ok(c) => c,
                // A ledger that cannot be used for now is waited out by a running worker;
                // anything else, or a one-shot run, stops it.
                Err(e) if unusable_for_now(&e) && !opts.once => {
                    tracing::warn!(error = %e, "could not claim work; trying again");
                    pause_unless_stopped(wake, &mut stop, opts.idle.max).await;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let Some(claim) = claims.into_iter().next() else {
                if opts.once {
                    break;
                }
                pause_unless_stopped(wake, &mut stop, idle).await;
                idle = (idle * 2).min(opts.idle.max);
                continue;
            };
            idle = opts.idle.first;
            let claim_id = claim.proposal_id.clone();
            let report = if *stop.borrow() {
                self.release(claim).await
            } else {
                self.work(opts, claim).await
            };
            let report = match report {
                Ok(report) => report,
                // How the job ended could not be recorded (the ledger went away under it): the
                // claim stays until its lease runs out and the job is then claimed again, as a
                // crashed worker's is, while the source's receipt table keeps its write single.
                // A running worker waits the ledger out.
                Err(ReviewError::Ledger(e)) if unusable_for_now(&e) && !opts.once => {
                    tracing::warn!(proposal = %claim_id, error = %e, "could not record how the job ended; it is claimed again once its lease runs out");
                    pause_unless_stopped(wake, &mut stop, opts.idle.max).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            summary.jobs += 1;
            if !report.outcome.ok() {
                summary.failed += 1;
            }
            tracing::info!(proposal = %report.proposal_id, outcome = report.outcome.as_str(), fence = report.fence, "worker job ended");
            on_job(&report);
        }
        Ok(summary)
    }

    async fn release(&self, claim: Claim) -> Result<JobReport, ReviewError> {
        let outcome = match self.ledger.release_claim(&claim).await {
            Ok(()) => JobOutcome::Released,
            Err(e) if is_lost(&e) => JobOutcome::ClaimLost,
            Err(e) => return Err(e.into()),
        };
        Ok(report_for(&claim, outcome))
    }

    /// Apply one claimed job, renewing its lease meanwhile, and record how it ended.
    async fn work(&self, opts: &WorkerOptions, claim: Claim) -> Result<JobReport, ReviewError> {
        if claim.attempts > opts.max_attempts {
            // Earlier holders died (their leases ran out) until the attempts were used up: a
            // job that kills its workers is given up on without another try.
            let error = format!(
                "WORKER_LEASE_EXPIRED: {} claims ended without a result",
                claim.attempts - 1
            );
            return self.failed(opts, &claim, None, error, true).await;
        }
        let apply = self.apply(&claim.proposal_id, &opts.apply);
        tokio::pin!(apply);
        let mut renew = tokio::time::interval((opts.lease / 3).max(Duration::from_millis(10)));
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        renew.tick().await;
        let mut held = claim.clone();
        let mut lost = false;
        let result = loop {
            tokio::select! {
                r = &mut apply => break r,
                _ = renew.tick(), if !lost => match self.ledger.renew_claim(&held, opts.lease).await {
                    Ok(c) => held = c,
                    Err(e) if is_lost(&e) => {
                        tracing::warn!(proposal = %claim.proposal_id, fence = claim.fence, "the claim was taken over while applying; the source's receipt table keeps the write single");
                        lost = true;
                    }
                    Err(e) => tracing::warn!(proposal = %claim.proposal_id, error = %e, "could not renew the claim's lease"),
                },
            }
        };
        let report = match result {
            Ok(r) => r,
            Err(e) => {
                let code = e.code().unwrap_or("INTERNAL").to_string();
                let message = format!("{code}: {e}");
                // A handler attempt sent without a recorded receipt waits for an operator.
                let give_up = code == "HANDLER_APPLY_REFUSED";
                return self.failed(opts, &held, Some(code), message, give_up).await;
            }
        };
        let outcome = match report.result.status {
            ReceiptStatus::Applied => JobOutcome::Applied,
            ReceiptStatus::AlreadyApplied => JobOutcome::AlreadyApplied,
            ReceiptStatus::Conflict => JobOutcome::Conflict,
            ReceiptStatus::Canceled => JobOutcome::Canceled,
            ReceiptStatus::Failed => {
                let code = report
                    .result
                    .error_code
                    .clone()
                    .unwrap_or_else(|| "WRITEBACK_FAILED".into());
                // A handler is never called twice for one key without an operator, so a
                // retry could only repeat its recorded failure: give up at once.
                let handler = report.handler.is_some();
                let message = if handler {
                    format!(
                        "{code}: handler attempt {} failed; it is not sent again unattended (an operator can resend it: sluicegate apply {} --force-handler-retry)",
                        report.writeback_job_id, claim.proposal_id
                    )
                } else {
                    format!(
                        "{code}: writeback attempt {} failed",
                        report.writeback_job_id
                    )
                };
                let mut out = self
                    .failed(opts, &held, Some(code), message, handler)
                    .await?;
                out.writeback_job_id = Some(report.writeback_job_id);
                return Ok(out);
            }
        };
        let mut out = report_for(&held, outcome);
        out.writeback_job_id = Some(report.writeback_job_id.clone());
        if let Some(code) = &report.result.error_code {
            out.error_code = Some(code.clone());
        }
        match self.ledger.finish_claim(&held, outcome.as_str()).await {
            Ok(()) => Ok(out),
            Err(e) if is_lost(&e) => Ok(lost_report(out, e)),
            Err(e) => Err(e.into()),
        }
    }

    /// Record a failure: a retry after the backoff, or a dead letter once the attempts are
    /// used up (or at once, with `give_up`).
    async fn failed(
        &self,
        opts: &WorkerOptions,
        claim: &Claim,
        code: Option<String>,
        error: String,
        give_up: bool,
    ) -> Result<JobReport, ReviewError> {
        let error = sluicegate_core::secrets::redact_text(&error);
        let last = give_up || claim.attempts >= opts.max_attempts;
        let retry = (!last).then(|| opts.retry.after(claim.attempts));
        let mut out = report_for(claim, JobOutcome::Retry);
        out.error_code = code.or_else(|| error.split(':').next().map(str::to_string));
        out.error = Some(error.clone());
        let recorded = match self.ledger.fail_claim(claim, &error, retry).await {
            // The ledger keeps no secret-looking text: record the code alone.
            Err(e) if e.refusal_code() == Some(RefusalCode::SecretMaterialRejected) => {
                let code = out.error_code.clone().unwrap_or_else(|| "INTERNAL".into());
                let withheld =
                    format!("{code}: (message withheld: it looked like secret material)");
                out.error = Some(withheld.clone());
                self.ledger.fail_claim(claim, &withheld, retry).await
            }
            r => r,
        };
        match recorded {
            Ok(Failed::Retry { due_at }) => {
                out.retry_at = Some(due_at);
                Ok(out)
            }
            Ok(Failed::DeadLetter { dead_letter_id }) => {
                out.outcome = JobOutcome::DeadLetter;
                out.dead_letter_id = Some(dead_letter_id);
                Ok(out)
            }
            Err(e) if is_lost(&e) => Ok(lost_report(out, e)),
            Err(e) => Err(e.into()),
        }
    }
}

fn report_for(claim: &Claim, outcome: JobOutcome) -> JobReport {
    JobReport {
        proposal_id: claim.proposal_id.clone(),
        worker_id: claim.worker_id.clone(),
        fence: claim.fence,
        attempt: claim.attempts,
        taken_over: claim.taken_over,
        outcome,
        writeback_job_id: None,
        error_code: None,
        error: None,
        retry_at: None,
        dead_letter_id: None,
    }
}

fn lost_report(mut out: JobReport, e: LedgerError) -> JobReport {
    out.outcome = JobOutcome::ClaimLost;
    out.error_code = Some(RefusalCode::ClaimLost.as_str().into());
    out.error = Some(e.to_string());
    out.retry_at = None;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_up_to_its_ceiling() {
        let b = Backoff {
            first: Duration::from_secs(5),
            max: Duration::from_secs(60),
        };
        let got: Vec<u64> = (1..=6).map(|n| b.after(n).as_secs()).collect();
        assert_eq!(got, [5, 10, 20, 40, 60, 60]);
        assert_eq!(b.after(0), Duration::from_secs(5));
        assert_eq!(b.after(u32::MAX), Duration::from_secs(60));
        let zero = Backoff {
            first: Duration::ZERO,
            max: Duration::from_secs(60),
        };
        assert_eq!(zero.after(3), Duration::ZERO);
    }

    #[test]
    fn only_a_write_done_or_a_claim_handed_back_counts_as_ok() {
        use JobOutcome::*;
        let ok: Vec<&str> = [
            Applied,
            AlreadyApplied,
            Conflict,
            Canceled,
            Retry,
            DeadLetter,
            Released,
            ClaimLost,
        ]
        .iter()
        .filter(|o| o.ok())
        .map(|o| o.as_str())
        .collect();
        assert_eq!(ok, ["applied", "already_applied", "released"]);
    }
}
