//! `store vacuum|prune|reset|export|verify-export` (cli.md §10, store.md §9, §11): keeping the
//! ledger's size in hand without losing what its hash chains vouch for.
//!
//! `prune --yes`, `reset` and `vacuum` refuse while a server holds the store's lease
//! (`--force` overrides, with a warning). `vacuum` is safe beside a server as far as SQLite is
//! concerned, but it holds the write lock for its whole run, so a serving process's calls
//! would wait on it; the reference did not check the lease for it.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use serde_json::{Map, Value, json};
use sluicegate_core::display;
use sluicegate_ledger::{Ledger, MEMORY, PRUNE_TABLES, PruneRule, lease, verify_export};
use sluicegate_runtime::{integrity, paths};

use crate::common::{Paths, absolute, confirm, exit, interactive, json_text};
use crate::{Outcome, Printer};

#[derive(clap::Subcommand, Debug)]
#[command(defer = true)]
pub enum StoreOps {
    /// Reclaim space: fold the WAL into the ledger, truncate it, and VACUUM (refused while a
    /// server holds the store's lease unless --force)
    Vacuum {
        #[command(flatten)]
        paths: Paths,
        #[arg(long)]
        json: bool,
        /// Run although a server holds the lease (its calls wait while this runs)
        #[arg(long)]
        force: bool,
    },
    /// Remove old final proposals with everything their chains cover, and old reads (a dry
    /// run unless --yes)
    Prune(PruneArgs),
    /// Delete the ledger files (needs --yes, or a typed yes on a terminal; refused while a
    /// server holds the lease)
    Reset {
        #[command(flatten)]
        paths: Paths,
        #[arg(long)]
        yes: bool,
        /// Reset although a server holds the lease
        #[arg(long)]
        force: bool,
        #[arg(long)]
        json: bool,
    },
    /// Write a time range of the ledger as JSON lines that `store verify-export` re-checks
    Export {
        #[command(flatten)]
        paths: Paths,
        /// Earliest time: a date (2026-06-01) or an RFC 3339 time in any offset
        #[arg(long)]
        from: Option<String>,
        /// Latest time: a date (2026-06-30 includes that whole day) or an RFC 3339 time
        #[arg(long)]
        to: Option<String>,
        /// Where to write (default: stdout)
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Bring the ledger's schema to this build's: the one way a shared PostgreSQL ledger is
    /// migrated (servers refuse an older schema); a SQLite ledger is opened and reported
    Migrate(crate::migrate::MigrateArgs),
    /// Re-check every proposal's hash chain in an export file (exit 1 if any is broken)
    VerifyExport {
        /// The file `store export` wrote
        file: PathBuf,
        /// Config whose reviewers' keys decisions must be signed with (default: ./sluicegate.json when present)
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args, Debug)]
pub struct PruneArgs {
    #[command(flatten)]
    pub paths: Paths,
    /// Age: N followed by s, m, h or d (30d, 12h, 90m, 0d)
    #[arg(long)]
    pub older_than: Option<String>,
    /// Keep the newest N proposals whatever their age
    #[arg(long)]
    pub keep: Option<u32>,
    /// Show what would go (the default without --yes)
    #[arg(long)]
    pub dry_run: bool,
    /// Apply the prune
    #[arg(long)]
    pub yes: bool,
    /// Apply although a server holds the lease
    #[arg(long)]
    pub force: bool,
    #[arg(long)]
    pub json: bool,
}

pub fn run(cmd: StoreOps, out: &mut dyn Printer) -> Outcome {
    match cmd {
        StoreOps::Vacuum { paths, json, force } => vacuum(&paths, json, force, out),
        StoreOps::Prune(args) => prune(&args, out),
        StoreOps::Reset {
            paths,
            yes,
            force,
            json,
        } => reset(&paths, yes, force, json, out),
        StoreOps::Export {
            paths,
            from,
            to,
            output,
        } => export(&paths, from, to, output, out),
        StoreOps::VerifyExport { file, config, json } => verify(&file, config, json, out),
        StoreOps::Migrate(args) => crate::migrate::run(&args, out),
    }
}

/// The lease of a command that must not run beside a server, taken and held for its whole run
/// (so no server starts meanwhile): refused (exit 1) when a server holds it or, with `force`, a
/// warning on stderr and a lease that holds nothing. A lock file that cannot be taken is an
/// error (exit 2).
fn hold_lease(
    store: &std::path::Path,
    force: bool,
    operation: &str,
    out: &mut dyn Printer,
) -> anyhow::Result<Result<lease::Lease, ExitCode>> {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    match lease::Lease::hold_for(store, operation, force, &now) {
        Ok((held, warning)) => {
            if let Some(warning) = warning {
                out.err(&format!("Warning: {warning}\n"));
            }
            Ok(Ok(held))
        }
        Err(e @ lease::LeaseError::Active { .. }) => {
            out.err(&format!("refused: STORE_LEASE_ACTIVE: {e}\n"));
            Ok(Err(ExitCode::from(1)))
        }
        Err(e) => Err(e.into()),
    }
}

fn vacuum(paths: &Paths, json: bool, force: bool, out: &mut dyn Printer) -> Outcome {
    let store = paths.store_path();
    let ledger = paths.ledger()?;
    if ledger.engine() == "postgres" {
        // Refused (saying what to run instead) before a SQLite lease file is made.
        ledger.vacuum()?;
    }
    let _lease = match hold_lease(&store, force, "store vacuum", out)? {
        Ok(held) => held,
        Err(code) => return Ok(code),
    };
    let report = ledger.vacuum()?;
    if json {
        out.out(&json_text(&report)?);
    } else {
        out.out(&format!(
            "vacuumed local store {}\napprox bytes: {} -> {}\nWAL: {} bytes folded into the ledger and truncated\n",
            store.display(),
            report.before.approx_bytes,
            report.after.approx_bytes,
            report.wal_bytes_before
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// `N` + `s|m|h|d` (case-insensitive) as seconds.
pub fn parse_duration(text: &str) -> anyhow::Result<i64> {
    let bad = || anyhow::anyhow!("--older-than must use a duration such as 30d, 12h, 90m, or 0d");
    let text = text.trim();
    let cut = text.char_indices().last().map_or(0, |(i, _)| i);
    let (n, unit) = text.split_at(cut);
    if n.is_empty() || !n.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let n: i64 = n.parse().map_err(|_| bad())?;
    let unit = match unit.to_ascii_lowercase().as_str() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(unit).ok_or_else(bad)
}

fn prune(a: &PruneArgs, out: &mut dyn Printer) -> Outcome {
    if a.yes && a.dry_run {
        bail!("store prune takes --dry-run or --yes, not both");
    }
    if a.older_than.is_none() && a.keep.is_none() {
        bail!(
            "store prune requires --older-than <duration> or --keep <N>, for example --older-than 30d"
        );
    }
    let cutoff = match &a.older_than {
        Some(d) => {
            let secs = parse_duration(d)?;
            let at = chrono::Utc::now() - chrono::Duration::seconds(secs);
            Some(at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        }
        None => None,
    };
    let store = a.paths.store_path();
    let ledger = a.paths.ledger()?;
    if ledger.engine() == "postgres" {
        // Refused before a SQLite lease file is made (a PostgreSQL ledger keeps its facts).
        return Err(sluicegate_ledger::LedgerError::Unavailable {
            feature: "store prune",
        }
        .into());
    }
    let dry_run = !a.yes;
    let _lease = if dry_run {
        None
    } else {
        match hold_lease(&store, a.force, "store prune", out)? {
            Ok(held) => Some(held),
            Err(code) => return Ok(code),
        }
    };
    let report = ledger
        .prune(PruneRule {
            older_than: cutoff,
            keep: a.keep,
            dry_run,
        })
        .wait()?;
    let mut deleted = Map::new();
    for t in PRUNE_TABLES {
        deleted.insert(t.into(), json!(report.deleted.get(t).copied().unwrap_or(0)));
    }
    if a.json {
        out.out(&json_text(&json!({
            "cutoff": report.cutoff,
            "keep": report.keep,
            "dry_run": report.dry_run,
            "deleted": deleted,
            "kept_not_final": report.kept_not_final.iter().map(|(id, s)| json!({"proposal_id": id, "state": s})).collect::<Vec<_>>(),
            "kept_for_chain": report.kept_for_chain.iter().map(|(id, ev, by)| json!({"proposal_id": id, "evidence_bundle_id": ev, "named_by": by})).collect::<Vec<_>>(),
        }))?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = format!(
        "Local store prune {}\nCutoff: {}\n",
        if dry_run { "dry run" } else { "complete" },
        report.cutoff.as_deref().unwrap_or("none")
    );
    if let Some(k) = report.keep {
        t.push_str(&format!("Keep newest: {k}\n"));
    }
    t.push_str("\nRows:\n");
    for (table, n) in &deleted {
        t.push_str(&format!("  {table}: {n}\n"));
    }
    if !report.kept_not_final.is_empty() {
        t.push_str(&format!(
            "\nKept, not final ({}):\n",
            report.kept_not_final.len()
        ));
        for (id, state) in &report.kept_not_final {
            t.push_str(&format!(
                "  - {} ({})\n",
                display::text(id),
                display::text(state)
            ));
        }
    }
    if !report.kept_for_chain.is_empty() {
        t.push_str(&format!(
            "\nKept for a kept proposal's chain ({}):\n",
            report.kept_for_chain.len()
        ));
        for (id, ev, by) in &report.kept_for_chain {
            t.push_str(&format!(
                "  - {}: its evidence {} is also evidence of kept proposal {}\n",
                display::text(id),
                display::text(ev),
                display::text(by)
            ));
        }
    }
    if dry_run {
        t.push_str("\nNo rows were deleted. Rerun with --yes to apply this prune.\n");
    } else {
        t.push_str(&format!(
            "\nNext: sluicegate store verify{}\n",
            a.paths.hint()
        ));
    }
    out.out(&t);
    Ok(ExitCode::SUCCESS)
}

fn reset(paths: &Paths, yes: bool, force: bool, json: bool, out: &mut dyn Printer) -> Outcome {
    let store = paths.store_path();
    if store.as_os_str() == MEMORY {
        bail!("store reset does not apply to :memory: stores");
    }
    let abs = absolute(&store);
    if !yes {
        let question = format!(
            "Delete the local ledger {} and everything it records?",
            abs.display()
        );
        if !interactive() {
            out.err(&format!(
                "refused: CONFIRMATION_REQUIRED: store reset deletes the local ledger {} and cannot be undone; back it up (sluicegate store export --output ledger-backup.jsonl{}), then rerun with --yes\n",
                abs.display(),
                paths.hint()
            ));
            return Ok(ExitCode::from(1));
        }
        if !confirm(out, &question) {
            out.err("confirmation declined\n");
            return Ok(ExitCode::from(1));
        }
    }
    // Held while the files go, so no server starts on them meanwhile; a store that is not
    // there gets no lock file littered beside it.
    let _lease = if abs.exists() {
        match hold_lease(&store, force, "store reset", out)? {
            Ok(held) => Some(held),
            Err(code) => return Ok(code),
        }
    } else {
        None
    };
    let mut removed = Vec::new();
    let candidates = ["", "-wal", "-shm"]
        .iter()
        .map(|s| PathBuf::from(format!("{}{s}", abs.display())))
        .chain(lease::lease_path(&store));
    for p in candidates {
        match std::fs::remove_file(&p) {
            Ok(()) => removed.push(p.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(anyhow::anyhow!("cannot remove {}: {e}", p.display())),
        }
    }
    if json {
        out.out(&json_text(&json!({
            "ok": true, "store": abs.display().to_string(), "removed": removed, "source_database_changed": false
        }))?);
    } else {
        let mut t = format!(
            "Local store reset complete\nStore: {}\nSource database changed: no\n\nRemoved:\n",
            abs.display()
        );
        if removed.is_empty() {
            t.push_str("  (nothing: no ledger was there)\n");
        }
        for p in &removed {
            t.push_str(&format!("  - {p}\n"));
        }
        out.out(&t);
    }
    Ok(ExitCode::SUCCESS)
}

fn export(
    paths: &Paths,
    from: Option<String>,
    to: Option<String>,
    output: Option<PathBuf>,
    out: &mut dyn Printer,
) -> Outcome {
    // The same forms as `activity search` and `events`, compared in the ledger's own (UTC,
    // milliseconds): a time in another offset would otherwise compare as text.
    let from = crate::filters::time("--from", &from, false)?;
    let to = crate::filters::time("--to", &to, true)?;
    let ledger: Ledger = paths.ledger()?;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let line_of = |v: &Value| -> Result<String, sluicegate_ledger::LedgerError> {
        crate::common::json_line(v).map_err(|e| sluicegate_ledger::LedgerError::Io(e.to_string()))
    };
    let counts = match &output {
        Some(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            // Owner-only: an export carries the rows the agent read and every decision.
            let mut open = std::fs::OpenOptions::new();
            open.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
            let file = open
                .open(path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            let mut w = std::io::BufWriter::new(file);
            let counts = ledger.export(from.as_deref(), to.as_deref(), &now, &mut |v| {
                w.write_all(line_of(v)?.as_bytes())
                    .map_err(|e| sluicegate_ledger::LedgerError::Io(e.to_string()))
            })?;
            w.flush()
                .with_context(|| format!("cannot write {}", path.display()))?;
            counts
        }
        None => ledger.export(from.as_deref(), to.as_deref(), &now, &mut |v| {
            out.out(&line_of(v)?);
            Ok(())
        })?,
    };
    let summary = format!(
        "exported {} proposal(s), {} evidence bundle(s), {} query-audit record(s)",
        counts.proposals, counts.evidence_bundles, counts.query_audit
    );
    match &output {
        Some(p) => out.out(&format!(
            "{summary} to {}\nNext: sluicegate store verify-export {}\n",
            p.display(),
            p.display()
        )),
        None => out.err(&format!("{summary}\n")),
    }
    Ok(ExitCode::SUCCESS)
}

fn verify(
    file: &std::path::Path,
    config: Option<PathBuf>,
    json: bool,
    out: &mut dyn Printer,
) -> Outcome {
    // A device or a pipe could be endless (`/dev/zero`): an export is a file.
    let meta =
        std::fs::metadata(file).with_context(|| format!("cannot read {}", file.display()))?;
    if !meta.is_file() {
        anyhow::bail!(
            "{} is not a file: pass the file `store export --output` wrote",
            file.display()
        );
    }
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let config_file = paths::config_path(config.as_deref()).path;
    let reviewers = if config.is_some() || config_file.exists() {
        paths::load_config(&config_file)
            .map_err(anyhow::Error::msg)?
            .reviewers
            .clone()
    } else {
        Vec::new()
    };
    let check = verify_export(text.lines(), &reviewers);
    if json {
        out.out(&json_text(&check)?);
    } else {
        out.out(&integrity::verify_export_text(
            &check,
            &file.display().to_string(),
        ));
    }
    Ok(exit(check.ok()))
}
