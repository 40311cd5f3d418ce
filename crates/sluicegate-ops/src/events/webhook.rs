//! `events webhook|push` (cli.md §9.7, store.md §10): lifecycle events POSTed one by one,
//! oldest first, from a durable cursor in the ledger.
//!
//! Delivery is at least once: the cursor moves only after a 2xx answer (or after the event is
//! given up on and recorded as a dead letter, in the same transaction), so a restart resumes
//! after the last event delivered and repeats at most the one in flight; every request
//! carries `idempotency-key: event-<id>` for the receiver to drop such a repeat. A failed
//! attempt is retried with a doubling backoff; after `--max-attempts` the event becomes a
//! dead letter (`activity search --status webhook_dead_letter`). Unlike the reference, which
//! marked events seen before sending them, a failure in `--follow` mode is retried, not lost.
//!
//! Only the answer's status is read: a receiver cannot approve or apply anything.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use sluicegate_ledger::{DeadLetterRecord, EventFilter, StoredEvent};
use sluicegate_runtime::webhook::{self, Webhook};
use sluicegate_runtime::{Env, Secret};

use super::{EventFlags, Stop, runtime};
use crate::common::{json_line, json_text as json_doc};
use crate::filters;
use crate::{Outcome, Printer};

#[derive(clap::Args, Default)]
pub struct WebhookArgs {
    #[command(flatten)]
    pub events: EventFlags,
    /// The receiver (http or https)
    #[arg(long, conflicts_with = "url_env")]
    pub url: Option<String>,
    /// An env var holding the receiver's URL (keeps a token in the URL off the command line)
    #[arg(long)]
    pub url_env: Option<String>,
    /// An env var holding a bearer token, sent as `authorization: Bearer …`
    #[arg(long)]
    pub auth_token_env: Option<String>,
    /// An env var holding the HMAC secret that signs each body (`x-synapsor-signature`)
    #[arg(long)]
    pub secret_env: Option<String>,
    /// Per attempt: connect, send and read the answer (at least 250)
    #[arg(long, default_value_t = 5000)]
    pub timeout_ms: u64,
    /// Start after this event id instead of at the cursor (the cursor never moves back)
    #[arg(long, allow_hyphen_values = true)]
    pub since_event_id: Option<i64>,
    /// Print the envelopes that would be sent; send nothing, move no cursor
    #[arg(long)]
    pub dry_run: bool,
    /// Keep delivering new events until stopped
    #[arg(long)]
    pub follow: bool,
    #[arg(long, default_value_t = 1000)]
    pub interval_ms: u64,
    /// Attempts per event before it becomes a dead letter (1 to 20)
    #[arg(long, default_value_t = 3)]
    pub max_attempts: u32,
    /// The wait before the first retry, doubled for each next one (up to 60000)
    #[arg(long, default_value_t = 500)]
    pub retry_backoff_ms: u64,
    /// The durable cursor's name (default: webhook-<digest of the URL and the event filters>)
    #[arg(long)]
    pub cursor: Option<String>,
    #[arg(long)]
    pub json: bool,
}

/// The checked flags.
struct Plan {
    hook: Webhook,
    shown_url: String,
    cursor: String,
    filter: EventFilter,
    interval: Duration,
    backoff: Duration,
    attempts: u32,
}

fn plan(a: &WebhookArgs, env: &Env) -> Result<Plan> {
    let url = match (&a.url, &a.url_env) {
        (Some(u), _) => Secret::new(u.clone()),
        (None, Some(name)) => env
            .secret(name)
            .filter(|s| !s.is_blank())
            .with_context(|| format!("--url-env {name} is not set"))?,
        (None, None) => bail!("events webhook requires --url <https://...> or --url-env <ENV>"),
    };
    if !webhook::is_http_url(url.expose()) {
        bail!("events webhook URL must use http or https");
    }
    let named = |flag: &str, name: &Option<String>| -> Result<Option<Secret>> {
        match name {
            None => Ok(None),
            Some(n) => env
                .secret(n)
                .filter(|s| !s.is_blank())
                .map(Some)
                .with_context(|| format!("{flag} {n} is not set")),
        }
    };
    if a.since_event_id.is_some_and(|n| n < 0) {
        bail!("--since-event-id must be a non-negative integer");
    }
    if a.max_attempts == 0 || a.max_attempts > 20 {
        bail!("--max-attempts must be 1 to 20 (got {})", a.max_attempts);
    }
    if a.retry_backoff_ms > 60_000 {
        bail!("--retry-backoff-ms must be at most 60000");
    }
    let filter = a.events.filter()?;
    let cursor = match a.cursor.as_deref().map(str::trim) {
        Some("") => bail!("--cursor needs a name"),
        Some(c) => c.to_string(),
        None => webhook::cursor_name(&url, &filter_key(&filter)),
    };
    Ok(Plan {
        shown_url: webhook::redacted_url(&url),
        hook: Webhook {
            timeout: filters::at_least_250("--timeout-ms", a.timeout_ms)?,
            token: named("--auth-token-env", &a.auth_token_env)?,
            signing_secret: named("--secret-env", &a.secret_env)?,
            url,
        },
        cursor,
        filter,
        interval: filters::at_least_250("--interval-ms", a.interval_ms)?,
        backoff: Duration::from_millis(a.retry_backoff_ms),
        attempts: a.max_attempts,
    })
}

pub fn run(a: WebhookArgs, out: &mut dyn Printer) -> Outcome {
    let plan = plan(&a, &Env::process())?;
    let ledger = a.events.ledger()?;
    // The SQLite file, or a PostgreSQL ledger's `$ENV` label (never its URL).
    let store_shown = ledger.path().display().to_string();
    runtime()?.block_on(async {
        let mut stop = Stop::new()?;
        let mut after = match a.since_event_id {
            Some(n) => n,
            None => ledger.webhook_cursor(&plan.cursor)?,
        };
        let mut sent: Vec<Value> = Vec::new();
        let mut delivered = 0usize;
        let mut matched = 0usize;
        loop {
            let page = EventFilter {
                after_event_id: Some(after),
                ..plan.filter.clone()
            };
            let events = match ledger.events_after(&page) {
                Ok(events) => events,
                Err(e) if a.follow => {
                    out.err(&format!("events webhook error: {e}\n"));
                    Vec::new()
                }
                Err(e) => return Err(e.into()),
            };
            matched += events.len();
            for event in &events {
                let delivered_at = (sluicegate_ledger::system_clock())();
                let envelope = webhook::envelope(event, &store_shown, &delivered_at);
                after = event.event_id;
                if a.dry_run {
                    match (a.json, a.follow) {
                        (true, true) => out.out(&json_line(&envelope)?),
                        (true, false) => sent.push(serde_json::to_value(&envelope)?),
                        (false, _) => out.out(&json_doc(&envelope)?),
                    }
                    continue;
                }
                let body = serde_json::to_string(&envelope)?;
                match send(&plan, body, event, &delivered_at, &mut stop).await {
                    Ok(status) => {
                        ledger
                            .advance_webhook_cursor(&plan.cursor, event.event_id)
                            .await?;
                        delivered += 1;
                        report_delivered(out, &a, &plan, event, status, &envelope, &mut sent)?;
                    }
                    Err(Failure::Stopped) => {
                        return Ok(match a.follow {
                            true => ExitCode::SUCCESS,
                            false => ExitCode::FAILURE,
                        });
                    }
                    Err(Failure::GaveUp(error)) => {
                        let id = ledger
                            .record_dead_letter(DeadLetterRecord {
                                cursor_name: plan.cursor.clone(),
                                event_id: event.event_id,
                                proposal_id: event.proposal_id.clone(),
                                kind: event.kind.clone(),
                                attempts: plan.attempts,
                                last_error: error.clone(),
                            })
                            .await?;
                        let message = format!(
                            "event {} {}: {error}; gave up after {} attempt{}, dead letter {id} recorded (activity search --status webhook_dead_letter)",
                            event.event_id,
                            event.kind,
                            plan.attempts,
                            if plan.attempts == 1 { "" } else { "s" }
                        );
                        out.err(&format!("events webhook error: {message}\n"));
                        if a.json && a.follow {
                            out.out(&json_line(&json!({
                                "event_id": event.event_id, "kind": event.kind,
                                "delivered": false, "dead_letter_id": id, "error": error,
                            }))?);
                        }
                        if !a.follow {
                            if a.json {
                                out.out(&json_doc(&json!({
                                    "ok": false, "dry_run": false, "delivered": delivered,
                                    "webhook": plan.shown_url, "cursor": plan.cursor,
                                    "events": sent, "dead_letter_id": id, "error": error,
                                }))?);
                            }
                            return Ok(ExitCode::FAILURE);
                        }
                    }
                }
            }
            if !a.follow {
                break;
            }
            let full = events.len() as u64 >= u64::from(plan.filter.limit.unwrap_or(20));
            if !full && (out.closed() || stop.pause(plan.interval).await) {
                return Ok(ExitCode::SUCCESS);
            }
        }
        if a.json {
            out.out(&json_doc(&json!({
                "ok": true, "dry_run": a.dry_run, "delivered": delivered,
                "webhook": plan.shown_url, "cursor": plan.cursor, "events": sent,
            }))?);
        } else if matched == 0 {
            out.out(match a.dry_run {
                true => "No local events matched for dry-run.\n",
                false => "No local events matched.\n",
            });
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The event filter as canonical text for the default cursor name (empty when unfiltered).
fn filter_key(f: &EventFilter) -> String {
    let parts = [
        ("proposal", &f.proposal),
        ("kind", &f.kind),
        ("actor", &f.actor),
        ("from", &f.from),
        ("to", &f.to),
    ];
    parts
        .iter()
        .filter_map(|(name, v)| v.as_ref().map(|v| format!("{name}={v}")))
        .collect::<Vec<_>>()
        .join("\n")
}

fn report_delivered(
    out: &mut dyn Printer,
    a: &WebhookArgs,
    plan: &Plan,
    event: &StoredEvent,
    status: u16,
    envelope: &sluicegate_protocol::event_webhook::EventEnvelope,
    sent: &mut Vec<Value>,
) -> Result<()> {
    match (a.json, a.follow) {
        (true, true) => out.out(&json_line(&json!({
            "event_id": event.event_id, "kind": event.kind, "proposal_id": event.proposal_id,
            "delivered": true, "status": status,
        }))?),
        (true, false) => sent.push(serde_json::to_value(envelope)?),
        (false, _) => out.out(&format!(
            "pushed event {} {} for {} to {}\n",
            event.event_id,
            sluicegate_core::display::text(&event.kind),
            sluicegate_core::display::text(&event.proposal_id),
            plan.shown_url
        )),
    }
    Ok(())
}

enum Failure {
    /// Every attempt failed; the last error.
    GaveUp(String),
    /// A stop signal came during a backoff.
    Stopped,
}

/// Up to `plan.attempts` POSTs of one body, waiting `backoff`, `2 × backoff`, … between them.
async fn send(
    plan: &Plan,
    body: String,
    event: &StoredEvent,
    delivered_at: &str,
    stop: &mut Stop,
) -> Result<u16, Failure> {
    let mut wait = plan.backoff;
    let mut last = String::new();
    for attempt in 1..=plan.attempts {
        // A stop signal ends a delivery in flight too (the cursor stays where it was).
        let answer = tokio::select! {
            answer = webhook::deliver(&plan.hook, body.clone(), event, delivered_at) => answer,
            _ = stop.stopped() => return Err(Failure::Stopped),
        };
        match answer {
            Ok(status) => return Ok(status),
            Err(e) => last = e.to_string(),
        }
        if attempt < plan.attempts {
            if stop.pause(wait).await {
                return Err(Failure::Stopped);
            }
            wait = (wait * 2).min(Duration::from_secs(60));
        }
    }
    Err(Failure::GaveUp(last))
}
