//! `writeback doctor`: for each source that direct-SQL proposals write through, whether its
//! writer env var is set and (on request) whether the writer finds the receipt table and holds
//! every privilege direct writeback needs, proved by probes that are rolled back
//! (writeback.md §A.11). `doctor --check-writeback` names each missing grant.

use std::fmt::Write as _;

use sluicegate_core::config::{Config, Engine, Kind, Mode};
use sluicegate_source::privileges::writer_needs;
use sluicegate_source::{Lack, RECEIPT_TABLE, check_writer};

use crate::Env;

/// What the rollback-only probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// The probe was not asked for.
    NotRun,
    /// Asked for, but there is no writer URL to probe with.
    NoWriter,
    /// The receipt table is found, and every privilege probe passed (all rolled back).
    Ok,
    /// The probe failed: what is missing, or a safe category (never a URL, host or user).
    Failed(String),
}

/// One direct-SQL source's writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Writer {
    pub source: String,
    pub engine: Engine,
    pub write_url_env: Option<String>,
    pub env_set: bool,
    pub probe: Probe,
}

impl Writer {
    /// Ready: the env var is set and the probe, when run, passed.
    pub fn ok(&self) -> bool {
        self.env_set && !matches!(self.probe, Probe::Failed(_))
    }
}

/// Every source that a direct-SQL (`sql_update`) proposal of a review-mode config writes
/// through, in config order; with `probe`, each writer that has a URL is probed.
pub async fn writers(config: &Config, env: &Env, probe: bool) -> Vec<Writer> {
    let mut out = Vec::new();
    for (name, source) in &config.sources {
        let direct = config.mode == Mode::Review
            && config.capabilities.iter().any(|c| {
                c.kind == Kind::Proposal && c.source == *name && c.executor_name() == "sql_update"
            });
        if !direct {
            continue;
        }
        let url = source.write_url_env.as_deref().and_then(|w| env.secret(w));
        let result = match (&url, probe) {
            (_, false) => Probe::NotRun,
            (None, true) => Probe::NoWriter,
            (Some(u), true) => {
                match check_writer(u, source.engine, &writer_needs(config, name)).await {
                    Ok(c) if c.lookup.receipt_schema.is_none() => {
                        Probe::Failed("the receipt table is missing".into())
                    }
                    Ok(c) if c.lacks.is_empty() && c.troubles.is_empty() => Probe::Ok,
                    Ok(c) => {
                        let mut what: Vec<String> = c
                            .lacks
                            .iter()
                            .map(|l| match l {
                                Lack::Usage { schema } => format!("USAGE on {schema}"),
                                Lack::Columns(t) => format!("grants on {}", t.qualified()),
                                Lack::Receipt { .. } => format!("grants on {RECEIPT_TABLE}"),
                            })
                            .collect();
                        what.extend(
                            c.troubles
                                .iter()
                                .map(|t| format!("{}: {}", t.object, t.category)),
                        );
                        Probe::Failed(format!(
                            "{}; doctor --check-writeback names each",
                            what.join(", ")
                        ))
                    }
                    Err(e) => Probe::Failed(e.category().to_string()),
                }
            }
        };
        out.push(Writer {
            source: name.clone(),
            engine: source.engine,
            write_url_env: source.write_url_env.clone(),
            env_set: url.is_some(),
            probe: result,
        });
    }
    out
}

/// The `writeback doctor` text for the config at `config_path`.
pub fn text(config_path: &str, writers: &[Writer]) -> String {
    let mut out = format!("Sluicegate writeback doctor\nConfig: {config_path}\n\n");
    for w in writers {
        let _ = writeln!(out, "Source: {}", w.source);
        let _ = writeln!(out, "  engine: {}", w.engine.as_str());
        let _ = writeln!(
            out,
            "  writer env: {}",
            w.write_url_env
                .as_deref()
                .unwrap_or("(missing write_url_env)")
        );
        let _ = writeln!(
            out,
            "  env status: {}",
            if w.env_set { "set" } else { "missing" }
        );
        let _ = writeln!(out, "  receipt table: {RECEIPT_TABLE}");
        let line = match &w.probe {
            // Without a writer URL there is nothing to say unless a probe was asked for.
            Probe::NotRun if !w.env_set => None,
            Probe::NotRun => Some("not run (pass --check-db)".to_string()),
            Probe::NoWriter => Some("skipped because the writer env is missing".to_string()),
            Probe::Ok => Some(
                "ok (receipt table found; every privilege probed, all rolled back)".to_string(),
            ),
            Probe::Failed(why) => Some(format!("failed ({why})")),
        };
        if let Some(line) = line {
            let _ = writeln!(out, "  db check: {line}");
        }
        let _ = writeln!(
            out,
            "\nNext:\n  sluicegate writeback migration --engine {e}\n  sluicegate writeback grants --engine {e} --writer-role <writer_role>\n  sluicegate doctor --check-writeback\n",
            e = w.engine.as_str()
        );
    }
    if writers.is_empty() {
        out.push_str("No direct SQL writeback sources found.\n");
        out.push_str(
            "Proposals that use app-owned executors (http_handler, command_handler) write through your app instead.\n",
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer(env_set: bool, probe: Probe) -> Writer {
        Writer {
            source: "app".into(),
            engine: Engine::Postgres,
            write_url_env: Some("APP_WRITE".into()),
            env_set,
            probe,
        }
    }

    #[test]
    fn readiness() {
        assert!(writer(true, Probe::NotRun).ok());
        assert!(writer(true, Probe::Ok).ok());
        assert!(!writer(false, Probe::NotRun).ok());
        assert!(!writer(false, Probe::NoWriter).ok());
        assert!(!writer(true, Probe::Failed("timeout".into())).ok());
    }

    #[test]
    fn text_per_writer() {
        let out = text("c.json", &[writer(true, Probe::Failed("timeout".into()))]);
        assert_eq!(
            out,
            "Sluicegate writeback doctor\nConfig: c.json\n\nSource: app\n  engine: postgres\n  writer env: APP_WRITE\n  env status: set\n  receipt table: sluicegate_writeback_receipts\n  db check: failed (timeout)\n\nNext:\n  sluicegate writeback migration --engine postgres\n  sluicegate writeback grants --engine postgres --writer-role <writer_role>\n  sluicegate doctor --check-writeback\n\n"
        );
        let missing = text("c.json", &[writer(false, Probe::NotRun)]);
        assert!(!missing.contains("db check"));
        assert!(missing.contains("  env status: missing\n"));
        let skipped = text("c.json", &[writer(false, Probe::NoWriter)]);
        assert!(skipped.contains("  db check: skipped because the writer env is missing\n"));
        let not_run = text("c.json", &[writer(true, Probe::NotRun)]);
        assert!(not_run.contains("  db check: not run (pass --check-db)\n"));
    }

    #[test]
    fn no_direct_sources() {
        assert!(
            text("c.json", &[]).ends_with(
                "No direct SQL writeback sources found.\nProposals that use app-owned executors (http_handler, command_handler) write through your app instead.\n"
            )
        );
    }
}
