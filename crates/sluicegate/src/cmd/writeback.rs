//! `sluicegate writeback doctor|migration|grants`: the receipt table that makes direct SQL
//! writeback idempotent (writeback.md §A.7), its DDL and grants per engine, and a check of
//! each direct-SQL source's writer (rollback-only, §A.11).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use sluicegate_core::config::Engine;
use sluicegate_runtime::Env;
use sluicegate_runtime::doctor::writeback;
use sluicegate_source::{GrantsRequest, ScriptError, migration_body, migration_header};

use crate::context::{config_path, load_config, runtime};

#[derive(clap::Subcommand)]
#[command(defer = true)]
pub enum WritebackCommand {
    /// Check each direct-SQL source's writer env (and, with --check-db, the receipt table)
    Doctor {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Connect with the writer and run the rollback-only receipt-table probe
        #[arg(long)]
        check_db: bool,
    },
    /// Print the receipt-table DDL (an admin runs it: apply never creates the table)
    Migration(SqlArgs),
    /// Print every grant the writer and the reader need, from the config's capabilities
    Grants(SqlArgs),
}

#[derive(clap::Args)]
pub struct SqlArgs {
    /// postgres, mysql or sqlite (also accepted as the first argument)
    engine_arg: Option<String>,
    #[arg(long)]
    engine: Option<String>,
    /// Schema (PostgreSQL) or database (MySQL) to hold the receipt table
    #[arg(long)]
    schema: Option<String>,
    /// Role or account that runs writeback (default sluicegate_writer)
    #[arg(long)]
    writer_role: Option<String>,
    /// Role or account of the read URL (grants; default sluicegate_reader)
    #[arg(long)]
    reader_role: Option<String>,
    /// Config whose capabilities the grants cover (grants; default as for other commands)
    #[arg(long)]
    config: Option<PathBuf>,
}

impl SqlArgs {
    fn engine(&self) -> anyhow::Result<Engine> {
        let name = self
            .engine
            .as_deref()
            .or(self.engine_arg.as_deref())
            .context(
                "writeback command requires --engine postgres, --engine mysql or --engine sqlite",
            )?;
        Engine::parse(name).context("--engine must be postgres, mysql or sqlite")
    }
}

/// The script's complaint in the words of the flag that caused it.
fn flag_error(e: ScriptError) -> anyhow::Error {
    anyhow::anyhow!(match e {
        ScriptError::UnsafeSchema => {
            "--schema must be a plain identifier (letters, digits, underscores)"
        }
        ScriptError::SqliteSchema => {
            "--schema is not used for SQLite: the receipt table lives in the writer's file"
        }
        ScriptError::UnsafeRole => "--writer-role/--reader-role must be plain identifiers",
        ScriptError::UnsafeAccount => "--writer-role/--reader-role must be accounts like 'w'@'%'",
    })
}

pub fn run(cmd: WritebackCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        WritebackCommand::Migration(a) => migration(&a),
        WritebackCommand::Grants(a) => grants(&a),
        WritebackCommand::Doctor { config, check_db } => doctor(config, check_db),
    }
}

fn migration(a: &SqlArgs) -> anyhow::Result<ExitCode> {
    let engine = a.engine()?;
    // The header goes out before the schema is checked, as it always has.
    out!("{}", migration_header(engine));
    out!(
        "{}",
        migration_body(engine, a.schema.as_deref()).map_err(flag_error)?
    );
    Ok(ExitCode::SUCCESS)
}

fn grants(a: &SqlArgs) -> anyhow::Result<ExitCode> {
    let engine = a.engine()?;
    // No config (none given, the default missing): the receipt table's grants only.
    let path = config_path(a.config.as_deref());
    let config = (a.config.is_some() || path.exists())
        .then(|| load_config(&path))
        .transpose()?;
    let request = GrantsRequest {
        schema: a.schema.as_deref(),
        writer: a.writer_role.as_deref(),
        reader: a.reader_role.as_deref(),
    };
    let script = sluicegate_source::grants(engine, config.as_deref(), &request);
    out!("{}", script.map_err(flag_error)?);
    Ok(ExitCode::SUCCESS)
}

fn doctor(config: Option<PathBuf>, check_db: bool) -> anyhow::Result<ExitCode> {
    let path = config_path(config.as_deref());
    let config = load_config(&path)?;
    let env = Env::process();
    let writers = runtime()?.block_on(writeback::writers(&config, &env, check_db));
    out!("{}", writeback::text(&path.display().to_string(), &writers));
    Ok(if writers.iter().all(writeback::Writer::ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
