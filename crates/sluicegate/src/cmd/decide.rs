//! `proposals approve|reject`: show the proposal, then record the decision bound to the
//! content hash that was shown, signed with the reviewer's key when one is given (and required
//! when the config lists reviewers).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use sluicegate_core::decision::Verdict;
use sluicegate_runtime::{DecisionRequest, Env, ReviewApi, reviewer, shown_for_decision, view};

use crate::context::{
    actor, config_path, confirm, load_config, open_existing_store, print_json, runtime,
};

// The flags approve and reject share.
#[derive(clap::Args)]
pub struct DecideArgs {
    pub id: String,
    /// Ledger path (default: SLUICEGATE_STORE, the config's storage.sqlite_path, ./.sluicegate/local.db)
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// Config: its storage path and its reviewers (whose keys must sign decisions)
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Who decides (default: SLUICEGATE_ACTOR, then $USER, then local_operator)
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
    let ledger = open_existing_store(a.store.as_deref(), a.config.as_deref())?;
    let env = Env::process();
    let who = actor(a.actor.as_deref());
    if verdict == Verdict::Approve && a.id == "latest" && a.yes && a.hash.is_none() {
        errln!(
            "refused: LATEST_NEEDS_HASH: `latest` is whichever proposal is newest when approve runs, which may not be the one you reviewed (an agent may have proposed since). Name it by its id, or add --hash <its content hash> from `sluicegate proposals show latest --details`, or leave out --yes to see it before you confirm."
        );
        return Ok(ExitCode::from(1));
    }
    let decided = (|| {
        let (p, shown) = shown_for_decision(&ledger, &a.id, a.hash.as_deref())?;
        let config = config_for_reviewers(a.config.as_deref())?;
        let key = reviewer::key_path_for(a.key.as_deref(), &env, &who)
            .map(|path| reviewer::load_key(&path))
            .transpose()
            .map_err(anyhow::Error::msg)?;
        if !a.json {
            outln!(
                "{}\n\ncontent hash: {shown}\n",
                view::proposal_details(&p, None)
            );
        }
        let pid = p.proposal_id.clone();
        confirm(&format!("{} proposal {pid}?", verb(verdict)), a.yes)?;
        let review = ReviewApi::new(config, ledger.clone(), env.clone());
        Ok::<_, anyhow::Error>(runtime()?.block_on(review.decide(DecisionRequest {
            proposal_id: pid,
            shown_hash: shown,
            shown_version: p.proposal_version,
            verdict,
            reviewer: who.clone(),
            reason,
            key,
        }))?)
    })();
    match decided {
        Ok(p) if a.json => print_json(&p)?,
        Ok(p) => outln!("{} {}", verdict.status(), p.proposal_id),
        Err(e) => match e.downcast_ref::<sluicegate_runtime::ReviewError>() {
            Some(r) if r.code().is_some_and(|c| c != "NOT_FOUND") => {
                errln!("refused: {}: {r}", r.code().unwrap_or_default());
                return Ok(ExitCode::from(1));
            }
            _ => return Err(e),
        },
    }
    Ok(ExitCode::SUCCESS)
}

fn verb(v: Verdict) -> &'static str {
    match v {
        Verdict::Approve => "Approve for guarded writeback:",
        Verdict::Reject => "Reject",
    }
}

/// The config, when there is one to read: it lists the reviewers whose keys sign decisions.
pub(crate) fn config_for_reviewers(
    flag: Option<&Path>,
) -> anyhow::Result<Option<std::sync::Arc<sluicegate_core::config::Config>>> {
    let path = config_path(flag);
    if flag.is_none() && !path.exists() {
        return Ok(None);
    }
    Ok(Some(load_config(&path)?))
}
