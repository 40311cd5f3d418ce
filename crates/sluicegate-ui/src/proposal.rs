//! The proposal page: the exact diff, evidence, guards, idempotency key, the content hash the
//! decision forms are bound to, the ledger's verdict on its chain and signatures, and the
//! timeline; with Approve / Reject while it waits for review and Apply once approved.

use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;
use sluicegate_core::config::Executor;
use sluicegate_core::display;
use sluicegate_core::lifecycle::State;
use sluicegate_core::writeback::{idempotency_key, reviewed_capability};
use sluicegate_protocol::ChangeSet;
use sluicegate_runtime::{ReviewError, shown_for_decision};

use crate::App;
use crate::security::Session;
use crate::view;

impl App {
    /// Whether `apply` can run here: the config names the proposal's capability and its
    /// executor can reach the database (a direct write's `write_url_env` is set) or an
    /// app-owned handler.
    pub(crate) fn writer_ready(&self, cs: &ChangeSet) -> bool {
        let Some(config) = self.config.as_deref() else {
            return false;
        };
        let Some(cap) = reviewed_capability(config, cs) else {
            return false;
        };
        match cap
            .executor
            .as_deref()
            .and_then(|e| config.executors.get(e))
        {
            Some(Executor::HttpHandler { .. } | Executor::CommandHandler { .. }) => true,
            Some(Executor::SqlUpdate) | None => config
                .sources
                .get(&cap.source)
                .and_then(|s| s.write_url_env.as_deref())
                .is_some_and(|env| self.env.get(env).is_some()),
        }
    }

    /// The terminal command that applies `id` with this UI's config and store.
    fn apply_command(&self, id: &str) -> String {
        let mut cmd = format!("sluicegate apply {}", display::text(id));
        if let Some(p) = &self.config_path {
            cmd.push_str(&format!(
                " --config {}",
                display::text(&p.display().to_string())
            ));
        }
        // A PostgreSQL ledger is the config's (`store_path` only names its URL's variable).
        if self.ledger.engine() == "sqlite" {
            let store = self.store_path.display().to_string();
            cmd.push_str(&format!(" --store {}", display::text(&store)));
        }
        cmd
    }

    pub(crate) async fn proposal_page(
        &self,
        session: &Session,
        selector: &str,
        status: StatusCode,
        notice: Option<&str>,
        error: Option<String>,
    ) -> Response {
        let reviewers = self
            .config
            .as_ref()
            .map(|c| c.reviewers.clone())
            .unwrap_or_default();
        let selector = selector.to_string();
        let loaded = self
            .read(move |l| {
                let id = l.resolve_proposal_id(&selector)?;
                let p = l.proposal(&id)?;
                // A proposal edited in the ledger is shown, but cannot be decided on.
                let shown = shown_for_decision(l, &id, None).map(|(_, h)| h);
                let verified = l.verify_proposal(&id, &reviewers)?;
                let events = l.events(&id)?;
                let receipts = l.receipts(&id)?;
                let evidence = l.evidence_for_proposal(&id)?;
                Ok((p, shown, verified, events, receipts, evidence))
            })
            .await;
        let (p, shown, verified, events, receipts, evidence) = match loaded {
            Ok(all) => all,
            Err(e) if e.code() == Some("NOT_FOUND") => {
                return self.message(
                    StatusCode::NOT_FOUND,
                    "No such proposal",
                    "The ledger has no proposal with this id.",
                );
            }
            Err(e) => {
                return self.message(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Ledger error",
                    &e.to_string(),
                );
            }
        };
        let cs = match p.change_set() {
            Ok(cs) => cs,
            Err(e) => {
                return self.message(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Unreadable proposal",
                    &e.to_string(),
                );
            }
        };
        let (hash, hash_error) = match &shown {
            Ok(h) => (h.clone(), None),
            Err(e) => (p.proposal_hash.clone(), Some(refusal_text(e))),
        };
        let state = p.state().ok();
        let verify = view::verification(&verified);
        let can_decide = state == Some(State::PendingReview) && hash_error.is_none() && verify.ok;
        let approved = state == Some(State::Approved);
        let can_apply = approved && self.writer_ready(&cs);
        let error = error.or(hash_error);
        let now = chrono::Utc::now();
        self.render(
            status,
            "proposal.html",
            context! {
                p => context! {
                    id => display::text(&p.proposal_id),
                    version => p.proposal_version,
                    state => view::inbox_row(&p, now).state,
                    capability => display::text(&p.action),
                    tenant => display::text(&p.tenant_id),
                    principal => display::text(p.principal.as_deref().unwrap_or("-")),
                    target => view::inbox_row(&p, now).target,
                    created_at => display::text(&p.created_at),
                    age => view::age(&p.created_at, now),
                },
                hash => hash,
                idempotency_key => display::text(&idempotency_key(&cs)),
                verify => verify,
                diff => view::diff_table(&cs),
                guards => view::guards(&cs),
                evidence => view::evidence(&evidence),
                timeline => view::timeline(&events, &receipts),
                can_decide => can_decide,
                can_apply => can_apply,
                apply_command => (approved && !can_apply).then(|| self.apply_command(&p.proposal_id)),
                csrf => session.csrf.clone(),
                notice => notice,
                error => error,
            },
        )
    }
}

pub(crate) fn refusal_text(e: &ReviewError) -> String {
    match e.code() {
        Some(code) => format!("Refused ({code}): {e}"),
        None => format!("Refused: {e}"),
    }
}
