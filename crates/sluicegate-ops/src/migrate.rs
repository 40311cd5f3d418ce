//! `sluicegate store migrate`: bring the ledger's schema to this build's. A PostgreSQL ledger
//! (many servers share it) is migrated only here, once, by an operator; servers refuse an
//! older schema and say to run this. On SQLite, opening a ledger migrates it; this opens it
//! and reports the versions.

use std::process::ExitCode;

use serde_json::json;
use sluicegate_core::display;
use sluicegate_runtime::Env;
use sluicegate_runtime::ledger_store::LedgerStore;

use crate::common::{Paths, json_text};
use crate::{Outcome, Printer};

#[derive(clap::Args, Debug)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub paths: Paths,
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &MigrateArgs, out: &mut dyn Printer) -> Outcome {
    let store = LedgerStore::resolve(args.paths.store.as_deref(), args.paths.config.as_deref());
    let label = store.label();
    let done = match store.migrate(&Env::process()) {
        Ok(done) => done,
        Err(e) => {
            return match e.code() {
                Some(code) => {
                    out.err(&format!(
                        "refused: {code}: {}\n",
                        display::text(&e.to_string())
                    ));
                    Ok(ExitCode::from(1))
                }
                None => Err(e.into()),
            };
        }
    };
    if args.json {
        out.out(&json_text(&json!({
            "engine": done.engine,
            "ledger": label,
            "from": done.from,
            "to": done.to,
            "migrated": done.changed(),
        }))?);
        return Ok(ExitCode::SUCCESS);
    }
    let label = display::text(&label);
    out.out(&if done.changed() {
        format!(
            "Migrated the {} ledger {label} from schema {} to {}.\n",
            done.engine, done.from, done.to
        )
    } else {
        format!(
            "The {} ledger {label} is at schema {} already: nothing to do.\n",
            done.engine, done.to
        )
    });
    Ok(ExitCode::SUCCESS)
}
