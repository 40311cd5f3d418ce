//! App-owned writeback: hand an approved proposal to the application's own `http_handler` or
//! `command_handler` and record the receipt it returns (writeback.md §C).
//!
//! The rules live in `sluicegate_core::handler`; this module resolves env values, records the
//! job, runs the transport and records the receipt. The lifecycle it enforces:
//!
//! * only approved work reaches a handler, and only if it still matches the reviewed config;
//! * a handler is called at most once per idempotency key unless the operator explicitly asks
//!   (`force_handler_retry`); a proposal already applied by a handler is answered from its
//!   receipt, and an attempt without a receipt (a crash mid-call) is never silently resent;
//! * there are no automatic retries;
//! * tokens, signing secrets, URLs and command lines stay inside [`Secret`]s: never in the
//!   ledger, a receipt, a log line or an error message.

mod command;
mod http;

use std::time::{Duration, Instant};

use serde_json::json;
use sluicegate_core::config::{Executor, HttpMethod};
use sluicegate_core::handler::{
    DEFAULT_TIMEOUT_MS, HandlerOutcome, ReceiptContext, already_applied_receipt, build_request,
    command_input, enforce_retry_contract, handler_job_id, http_body, is_handler_job_id,
    job_record, mirror, receipt_from_outcome, split_command, wire_bytes,
};
use sluicegate_core::writeback::{ExecutorResult, idempotency_key, result_hash};
use sluicegate_ledger::{JobKind, JobRecord, Ledger, LedgerError, StoredProposal};
use sluicegate_protocol::{ChangeSet, ExecutionReceipt, ReceiptStatus};

use crate::env::Secret;
use crate::review::{ApplyOptions, ApplyReport, ReviewApi, ReviewError};
use crate::{Env, now_iso};

pub use http::{Probe, is_http_url, probe, sign};

/// What happened on the app-owned handler path of one `apply`.
#[derive(Debug, Clone)]
pub struct HandlerReport {
    /// `http_handler` or `command_handler`.
    pub executor_type: &'static str,
    /// Whether the handler was called by this apply.
    pub called: bool,
    /// Whether this apply recorded the receipt (false when it answered from an earlier one).
    pub recorded: bool,
    /// 1 for the first call; higher for operator-forced retries.
    pub attempt: u32,
    pub forced: bool,
    /// The status of the earlier handler receipt this apply answered from or retried after.
    pub previous_status: Option<ReceiptStatus>,
    /// How long the handler call took.
    pub elapsed_ms: u64,
}

/// A handler resolved against the environment. Every value that could be secret is wrapped.
#[derive(Debug)]
pub enum ResolvedHandler {
    Http(HttpHandler),
    Command(CommandHandler),
}

#[derive(Debug)]
pub struct HttpHandler {
    pub url: Secret,
    pub method: HttpMethod,
    pub token: Option<Secret>,
    pub signing_secret: Option<Secret>,
    pub timeout: Duration,
}

#[derive(Debug)]
pub struct CommandHandler {
    /// The split command line (it may carry credentials, so it stays a secret).
    pub argv: Vec<Secret>,
    pub timeout: Duration,
}

fn timeout(ms: Option<u64>) -> Duration {
    Duration::from_millis(ms.unwrap_or(DEFAULT_TIMEOUT_MS).max(1))
}

/// Read a handler's env values. Errors name env vars, never their values.
pub fn resolve(executor: &Executor, env: &Env) -> Result<ResolvedHandler, String> {
    let require = |name: &str| env.secret(name).ok_or_else(|| format!("{name} is not set"));
    match executor {
        Executor::HttpHandler {
            url_env,
            method,
            token_env,
            signing_secret_env,
            timeout_ms,
        } => {
            let url = require(url_env)?;
            if !http::is_http_url(url.expose()) {
                return Err(format!(
                    "{url_env} does not hold an absolute http:// or https:// URL"
                ));
            }
            Ok(ResolvedHandler::Http(HttpHandler {
                url,
                method: *method,
                token: token_env.as_deref().map(require).transpose()?,
                signing_secret: signing_secret_env.as_deref().map(require).transpose()?,
                timeout: timeout(*timeout_ms),
            }))
        }
        Executor::CommandHandler {
            command_env,
            timeout_ms,
        } => {
            let line = require(command_env)?;
            let argv = split_command(line.expose(), command_env).map_err(|e| e.to_string())?;
            Ok(ResolvedHandler::Command(CommandHandler {
                argv: argv.into_iter().map(Secret::new).collect(),
                timeout: timeout(*timeout_ms),
            }))
        }
        Executor::SqlUpdate => Err("sql_update is not an app-owned handler".into()),
    }
}

/// Everything `apply` already looked up (and `can_apply` authorised) before it dispatched to
/// a handler.
pub(crate) struct HandlerApply<'a> {
    pub cs: &'a ChangeSet,
    pub proposal: StoredProposal,
    pub executor_name: &'a str,
    pub executor: &'a Executor,
}

/// What the earlier attempts of this proposal left behind.
struct History {
    /// Handler jobs recorded so far (each call is one job).
    jobs: usize,
    /// A job still `pending_worker`: it was sent (or about to be) and no receipt came back.
    unfinished: Option<String>,
    /// The newest handler receipt.
    last: Option<ExecutionReceipt>,
}

impl ReviewApi {
    pub(crate) async fn apply_handler(
        &self,
        a: HandlerApply<'_>,
        opts: &ApplyOptions,
    ) -> Result<ApplyReport, ReviewError> {
        let id = a.proposal.proposal_id.clone();
        let refused = |m: String| ReviewError::refused("HANDLER_APPLY_REFUSED", m);
        let pid = id.clone();
        let history = self.read(move |l| handler_history(l, &pid)).await?;
        let executor_type = a.executor.type_name();
        let report =
            |proposal: StoredProposal, receipt: ExecutionReceipt, h: HandlerReport| ApplyReport {
                proposal,
                executor: a.executor_name.to_string(),
                writeback_job_id: receipt.writeback_job_id.clone(),
                idempotency_key: receipt.idempotency_key.clone(),
                job: None,
                result: result_of(&receipt),
                completed_at: receipt.executed_at.clone(),
                receipt: Some(receipt),
                dry_run: false,
                handler: Some(h),
                approved_by: String::new(),
                signed: false,
            };
        let not_called = |previous: Option<ReceiptStatus>| HandlerReport {
            executor_type,
            called: false,
            recorded: false,
            attempt: history.jobs as u32,
            forced: false,
            previous_status: previous,
            elapsed_ms: 0,
        };

        if !opts.force_handler_retry && !opts.dry_run {
            if let Some(job) = &history.unfinished {
                return Err(refused(format!(
                    "handler job {job} for proposal {id} was sent without a recorded receipt, so the handler may have applied it; check the application, then rerun with --force-handler-retry to resend the same idempotency key (the handler must answer already_applied if it applied it)"
                )));
            }
            if let Some(last) = history.last.clone() {
                // Answer from the earlier receipt: the handler is not called twice.
                return Ok(match last.status {
                    ReceiptStatus::Applied | ReceiptStatus::AlreadyApplied => {
                        let again = already_applied_receipt(&last, &self.runner_id, &now_iso());
                        report(a.proposal, again, not_called(Some(last.status)))
                    }
                    status => report(a.proposal, last, not_called(Some(status))),
                });
            }
        }
        let attempt = history.jobs as u32 + 1;
        let job_id = handler_job_id(&id, attempt);
        let request = build_request(
            a.cs,
            a.proposal.proposal_version,
            &a.proposal.proposal_hash,
            &self.runner_id,
            &job_id,
        );
        let change_set = mirror(a.cs);
        let job_json = serde_json::to_value(job_record(&request, &change_set, a.executor_name))
            .map_err(|e| refused(format!("cannot encode the handler request: {e}")))?;
        // Resolve before anything is recorded: a missing variable changes nothing.
        let handler = resolve(a.executor, &self.env).map_err(|m| {
            ReviewError::refused(
                "HANDLER_ENV_MISSING",
                format!(
                    "{m}; set it in the environment of this command (executor {})",
                    a.executor_name
                ),
            )
        })?;

        if opts.dry_run {
            // A dry run never calls the handler: a handler that ignored `dry_run` would write.
            self.ledger
                .record_note(
                    &id,
                    "writeback_dry_run",
                    &self.runner_id,
                    json!({"writeback_job_id": job_id, "executor": a.executor_name, "handler_called": false}),
                )
                .await?;
            let completed_at = now_iso();
            return Ok(ApplyReport {
                proposal: a.proposal,
                executor: a.executor_name.to_string(),
                writeback_job_id: job_id.clone(),
                idempotency_key: idempotency_key(a.cs),
                job: None,
                result: ExecutorResult {
                    status: ReceiptStatus::Applied,
                    affected_rows: 0,
                    result_hash: Some(result_hash(&job_id, "dry-run", None)),
                    error_code: None,
                    new_version: None,
                },
                receipt: None,
                dry_run: true,
                completed_at,
                handler: Some(HandlerReport {
                    executor_type,
                    called: false,
                    recorded: false,
                    attempt,
                    forced: opts.force_handler_retry,
                    previous_status: history.last.as_ref().map(|r| r.status),
                    elapsed_ms: 0,
                }),
                approved_by: String::new(),
                signed: false,
            });
        }

        let kind = JobKind::Handler {
            executor: a.executor_name.to_string(),
        };
        let record = JobRecord {
            proposal_id: id.clone(),
            job_id: job_id.clone(),
            job: job_json,
            kind,
            actor: self.runner_id.clone(),
        };
        if history.jobs == 0 {
            self.ledger.queue_job(record).await?;
        } else {
            self.ledger.record_handler_retry(record).await?;
        }

        let started = Instant::now();
        let outcome = match &handler {
            ResolvedHandler::Http(h) => {
                let issued_at = now_iso();
                let body = http_body(&request, &change_set, &issued_at, a.executor_name, false);
                match wire_bytes(&body) {
                    Ok(bytes) => {
                        http::call(h, bytes, &request.idempotency_key, &id, &issued_at).await
                    }
                    Err(_) => HandlerOutcome::RequestFailed,
                }
            }
            ResolvedHandler::Command(c) => {
                let input = command_input(&request, &change_set, a.executor_name, false);
                match wire_bytes(&input) {
                    Ok(mut bytes) => {
                        bytes.push('\n');
                        command::run(c, bytes).await
                    }
                    Err(_) => HandlerOutcome::RequestFailed,
                }
            }
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let executed_at = now_iso();
        let ctx = ReceiptContext {
            writeback_job_id: &job_id,
            proposal_id: &id,
            runner_id: &self.runner_id,
            idempotency_key: &request.idempotency_key,
            dry_run: false,
            executed_at: &executed_at,
        };
        let mut mapped = receipt_from_outcome(&outcome, &ctx);
        let previous_status = history.last.as_ref().map(|r| r.status);
        if matches!(
            previous_status,
            Some(ReceiptStatus::Applied | ReceiptStatus::AlreadyApplied)
        ) {
            mapped = enforce_retry_contract(mapped, &ctx);
        }
        let receipt = mapped.receipt;
        let code = receipt.safe_error_code.as_deref().unwrap_or("-");
        if receipt.status == ReceiptStatus::Failed {
            tracing::warn!(proposal = %id, executor = %a.executor_name, attempt, code, elapsed_ms, "app-owned handler writeback failed");
        } else {
            tracing::info!(proposal = %id, executor = %a.executor_name, attempt, status = receipt.status.as_str(), elapsed_ms, "app-owned handler writeback");
        }
        let mut proposal = self.ledger.record_receipt(receipt.clone()).await?;
        if let Some(details) = mapped.details {
            // A handler may echo what it was sent: scrub our own secrets out of its details.
            let details = scrub(details, &handler.secrets());
            self.ledger
                .record_note(
                    &id,
                    "handler_receipt_details",
                    &self.runner_id,
                    json!({"writeback_job_id": job_id, "details": details}),
                )
                .await?;
            let pid = id.clone();
            proposal = self.read(move |l| l.proposal(&pid)).await?;
        }
        Ok(report(
            proposal,
            receipt,
            HandlerReport {
                executor_type,
                called: true,
                recorded: true,
                attempt,
                forced: opts.force_handler_retry,
                previous_status,
                elapsed_ms,
            },
        ))
    }
}

/// The handler jobs already recorded for a proposal and the last handler receipt.
fn handler_history(ledger: &Ledger, proposal_id: &str) -> Result<History, LedgerError> {
    let jobs: Vec<_> = ledger
        .jobs(proposal_id)?
        .into_iter()
        .filter(|j| is_handler_job_id(&j.writeback_job_id))
        .collect();
    let last = ledger
        .receipts(proposal_id)?
        .into_iter()
        .rev()
        .find(|r| is_handler_job_id(&r.writeback_job_id))
        .and_then(|r| serde_json::from_value::<ExecutionReceipt>(r.receipt).ok());
    Ok(History {
        jobs: jobs.len(),
        unfinished: jobs
            .iter()
            .rev()
            .find(|j| j.status == "pending_worker")
            .map(|j| j.writeback_job_id.clone()),
        last,
    })
}

impl ResolvedHandler {
    /// The values that must never be echoed back into the ledger.
    fn secrets(&self) -> Vec<&Secret> {
        match self {
            ResolvedHandler::Http(h) => std::iter::once(&h.url)
                .chain(h.token.as_ref())
                .chain(h.signing_secret.as_ref())
                .collect(),
            // Every word of the command line but the program: a handler that prints its
            // arguments (a usage error, a stack trace) must not put them in the ledger.
            ResolvedHandler::Command(c) => c.argv.iter().skip(1).collect(),
        }
    }
}

/// Replace every occurrence of a secret value inside strings of `value` with `<redacted>`,
/// and every credential the text redactor recognises (a URL's userinfo, a database URL,
/// `password=…`, a bearer token): what a handler prints may also carry values of the
/// environment it inherited, such as a writer's database URL.
fn scrub(value: serde_json::Value, secrets: &[&Secret]) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(mut s) => {
            for secret in secrets {
                // Very short values would redact ordinary text and protect nothing.
                if secret.expose().len() >= 4 && s.contains(secret.expose()) {
                    s = s.replace(secret.expose(), sluicegate_core::secrets::REDACTED);
                }
            }
            Value::String(sluicegate_core::secrets::redact_text(&s))
        }
        Value::Array(items) => Value::Array(items.into_iter().map(|v| scrub(v, secrets)).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, scrub(v, secrets)))
                .collect(),
        ),
        other => other,
    }
}

fn result_of(r: &ExecutionReceipt) -> ExecutorResult {
    ExecutorResult {
        status: r.status,
        affected_rows: r.rows_affected,
        result_hash: Some(r.receipt_hash.clone()),
        error_code: r.safe_error_code.clone(),
        new_version: r.new_version.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A command handler that echoes its command line and inherited env into its stderr: none
    /// of it survives into the details the ledger keeps.
    #[test]
    fn a_command_handlers_details_lose_its_command_line_and_credentials() {
        let handler = ResolvedHandler::Command(CommandHandler {
            argv: [
                "/usr/bin/handler",
                "--api-token=SUPERSECRET123",
                "plainword-canary",
            ]
            .into_iter()
            .map(Secret::new)
            .collect(),
            timeout: Duration::from_secs(1),
        });
        let details = json!({"stderr": "usage error: got args: --api-token=SUPERSECRET123 plainword-canary\nenv: mariadb://admin:hunter2@db.internal/app https://u:p4ss@hook.internal/x by /usr/bin/handler"});
        let scrubbed = scrub(details, &handler.secrets()).to_string();
        for secret in [
            "SUPERSECRET123",
            "plainword-canary",
            "hunter2",
            "p4ss",
            "db.internal",
        ] {
            assert!(!scrubbed.contains(secret), "{secret}: {scrubbed}");
        }
        assert!(scrubbed.contains("usage error: got args"), "{scrubbed}");
        assert!(
            scrubbed.contains("/usr/bin/handler"),
            "the program name stays: {scrubbed}"
        );
    }
}
