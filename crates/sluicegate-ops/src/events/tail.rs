//! `events tail [--follow]` (cli.md §9.6). Unlike the reference, `--follow --json` works: each
//! event is one JSON line, so a program can follow the ledger too.

use std::process::ExitCode;

use anyhow::Result;
use sluicegate_core::display;
use sluicegate_ledger::{EventFilter, StoredEvent};

use super::{EventFlags, Stop, runtime};
use crate::common::{json_line, json_text as json_doc};
use crate::filters;
use crate::{Outcome, Printer};

#[derive(clap::Args, Default)]
pub struct TailArgs {
    #[command(flatten)]
    pub events: EventFlags,
    /// Keep printing events as they are recorded (by any process) until stopped
    #[arg(long)]
    pub follow: bool,
    /// How often --follow looks for new events (at least 250)
    #[arg(long, default_value_t = 1000)]
    pub interval_ms: u64,
    /// Also print each event's payload
    #[arg(long)]
    pub details: bool,
    /// JSON: one document, or with --follow one line per event
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: TailArgs, out: &mut dyn Printer) -> Outcome {
    let filter = a.events.filter()?;
    let interval = filters::at_least_250("--interval-ms", a.interval_ms)?;
    let ledger = a.events.ledger()?;
    if !a.follow {
        let events = ledger.tail_events(&filter)?;
        if a.json {
            out.out(&json_doc(&serde_json::json!({ "events": events }))?);
        } else if events.is_empty() {
            out.out("No local events found.\n");
        } else {
            for e in &events {
                out.out(&text(e, a.details));
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    runtime()?.block_on(async {
        let mut stop = Stop::new()?;
        // Taken before the tail, so an event recorded in between is in the tail or after it.
        let before = ledger.last_event_id()?;
        let events = ledger.tail_events(&filter)?;
        print(out, &events, &a)?;
        let mut last = events.last().map_or(before, |e| e.event_id.max(before));
        out.err(&format!(
            "following events after event {last} every {} ms (Ctrl-C to stop)\n",
            interval.as_millis()
        ));
        while !out.closed() && !stop.pause(interval).await {
            // Everything new, a page at a time, before the next pause.
            loop {
                let page = EventFilter {
                    after_event_id: Some(last),
                    limit: Some(filters::MAX_LIMIT),
                    ..filter.clone()
                };
                match ledger.events_after(&page) {
                    Ok(events) => {
                        print(out, &events, &a)?;
                        let full = events.len() >= filters::MAX_LIMIT as usize;
                        last = events.last().map_or(last, |e| e.event_id);
                        if !full {
                            break;
                        }
                    }
                    Err(e) => {
                        out.err(&format!("events tail error: {e}\n"));
                        break;
                    }
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn print(out: &mut dyn Printer, events: &[StoredEvent], a: &TailArgs) -> Result<()> {
    for e in events {
        match a.json {
            true => out.out(&json_line(e)?),
            false => out.out(&text(e, a.details)),
        }
    }
    Ok(())
}

/// One event as cli.md §9.6 prints it, every field through `display::text`.
pub fn text(e: &StoredEvent, details: bool) -> String {
    let t = |v: &str| display::text(v).into_owned();
    let mut s = format!(
        "{}  {}\n  proposal: {}\n  actor: {}\n",
        t(&e.created_at),
        t(&e.kind),
        t(&e.proposal_id),
        t(&e.actor)
    );
    let empty = e.payload.is_null() || e.payload.as_object().is_some_and(|m| m.is_empty());
    if details && !empty {
        s.push_str(&format!("  payload: {}\n", t(&e.payload.to_string())));
    }
    s.push('\n');
    s
}
