//! `proposals approve|reject`: show the proposal, then record the decision bound to the
//! content hash that was shown, signed with the reviewer's key when one is given (and required
//! when the config lists reviewers).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use sluicegate_core::decision::Verdict;
use sluicegate_core::proposal::content_hash;
use sluicegate_runtime::{DecisionRequest, Env, ReviewApi, ReviewError, reviewer, view};

use crate::context::{
    actor, config_path, confirm, load_config, open_existing_ledger, print_json, runtime, store_path,
};

/// The flags approve and reject share.
#[derive(clap::Args)]
pub struct DecideArgs {
    pub id: String,
    /// Ledger path (default: SLUICEGATE_STORE, the config's storage.sqlite_path, ./.sluicegate/local.db)
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// Config: its storage path and its reviewers (whose keys must sign decisions)
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[arg(long)]
    pub actor: Option<String>,
    /// Reviewer key file (default: SLUICEGATE_REVIEWER_KEY, else the key `reviewer init`
    /// wrote for --actor, when it exists)
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// The content hash you reviewed (from `proposals show`): refuse if the proposal no
    /// longer hashes to it
    #[arg(long)]
    pub hash: Option<String>,
    /// Do not ask for confirmation
    #[arg(long)]
    pub yes: bool,
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: DecideArgs, verdict: Verdict, reason: Option<String>) -> anyhow::Result<ExitCode> {
    let ledger = open_existing_ledger(&store_path(a.store.as_deref(), a.config.as_deref()))?;
    let pid = ledger.resolve_proposal_id(&a.id)?;
    let p = ledger.proposal(&pid)?;
    let shown = content_hash(&p.change_set()?);
    if shown != p.proposal_hash {
        errln!(
            "refused: PROPOSAL_CONTENT_MODIFIED: proposal {pid} no longer matches its recorded hash; it was edited in the ledger (run `sluicegate store verify`)"
        );
        return Ok(ExitCode::from(1));
    }
    if let Some(pinned) = a.hash.as_deref().filter(|h| *h != shown) {
        errln!(
            "refused: PROPOSAL_HASH_MISMATCH: you reviewed {pinned}, but proposal {pid} now hashes to {shown}; review it again"
        );
        return Ok(ExitCode::from(1));
    }
    let env = Env::process();
    let config = config_for_reviewers(a.config.as_deref())?;
    let who = actor(a.actor.as_deref());
    let key = match key_path(a.key.as_deref(), &env, &who) {
        Some(path) => Some(reviewer::load_key(&path).map_err(anyhow::Error::msg)?),
        None => None,
    };
    if !a.json {
        outln!("{}\n", view::proposal_details(&p, None));
        outln!("content hash: {shown}\n");
    }
    let question = match verdict {
        Verdict::Approve => format!("Approve proposal {pid} for guarded writeback?"),
        Verdict::Reject => format!("Reject proposal {pid}?"),
    };
    confirm(&question, a.yes)?;
    let review = ReviewApi::new(config, ledger, env);
    let result = runtime()?.block_on(review.decide(DecisionRequest {
        proposal_id: pid,
        shown_hash: shown,
        shown_version: p.proposal_version,
        verdict,
        reviewer: who,
        reason,
        key,
    }));
    match result {
        Ok(p) => {
            if a.json {
                print_json(&p)?;
            } else {
                outln!("{} {}", verdict.status(), p.proposal_id);
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) if e.code().is_some_and(|c| c != "NOT_FOUND") => {
            errln!("refused: {}: {e}", e.code().unwrap_or_default());
            Ok(ExitCode::from(1))
        }
        Err(ReviewError::Refused { message, .. }) => Err(anyhow::anyhow!(message)),
        Err(e) => Err(e.into()),
    }
}

/// The config, when there is one to read: it lists the reviewers whose keys sign decisions.
fn config_for_reviewers(
    flag: Option<&Path>,
) -> anyhow::Result<Option<std::sync::Arc<sluicegate_core::config::Config>>> {
    let path = config_path(flag);
    if flag.is_none() && !path.exists() {
        return Ok(None);
    }
    Ok(Some(load_config(&path)?))
}

/// `--key`, then `SLUICEGATE_REVIEWER_KEY`, then the default key of `who` when it exists.
fn key_path(flag: Option<&Path>, env: &Env, who: &str) -> Option<PathBuf> {
    if let Some(p) = flag {
        return Some(p.to_path_buf());
    }
    if let Some(p) = env.get("SLUICEGATE_REVIEWER_KEY").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(p));
    }
    reviewer::default_key_path(env, who).filter(|p| p.exists())
}
