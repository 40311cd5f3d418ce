//! `AgentApi`: the model-facing pipeline of one tool call (capability-runtime.md §2).
//!
//! Read-only by construction: it holds source read pools and the ledger, never a writer URL.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use serde_json::{Map, Value, json};
use sluicegate_core::call::{
    Args, check_args, find_capability, plan_read, refuse_binding_overrides,
    refuse_disabled_proposals, resolve_context,
};
use sluicegate_core::columns::TableColumns;
use sluicegate_core::config::{Capability, Config, Kind, Mode};
use sluicegate_core::envelope::{Outcome, ToolResult, render};
use sluicegate_core::evidence::{ReadRecord, link_to_proposal, record_read};
use sluicegate_core::lifecycle::State;
use sluicegate_core::proposal::{ProposalInput, build_change_set};
use sluicegate_core::refusal::{Code, Fault, Refusal, SafeError};
use sluicegate_core::tools::{recorded_id, sample_args_typed};
use sluicegate_core::typed::Typed;
use sluicegate_ledger::{Ledger, LedgerError, ProposalCall, RefusalCode};
use sluicegate_source::{SourceError, SourceErrorKind, Sources};
use tracing::Instrument;

use crate::startup::ColumnTypes;
use crate::{Env, now_iso};

/// The only service a model-facing front end receives. Cheap to clone.
#[derive(Clone)]
pub struct AgentApi {
    inner: Arc<Inner>,
}

struct Inner {
    config: Arc<Config>,
    sources: Sources,
    ledger: Ledger,
    env: Env,
    result_format: u8,
    /// Each capability's arguments and columns typed from its table (`core::typed`), by
    /// capability name; filled at startup ([`crate::startup::start_agent_api`]), by
    /// [`AgentApi::load_columns`], or by the first call.
    typed: RwLock<HashMap<String, Arc<Typed>>>,
    /// Tool calls in progress on this API (every session of a server shares it).
    calls: AtomicUsize,
}

/// One tool call in progress, counted until dropped (also when its caller stops waiting).
struct InProgress<'a>(&'a AtomicUsize);

impl<'a> InProgress<'a> {
    fn enter(calls: &'a AtomicUsize) -> InProgress<'a> {
        calls.fetch_add(1, Ordering::AcqRel);
        InProgress(calls)
    }

    /// Whether other calls are in progress now. A lone call may poll briefly for a source's or
    /// the ledger's answer (waking a parked thread costs tens of µs on a VM); among others it
    /// parks at once, since its poll would take a CPU from them.
    fn among_others(&self) -> bool {
        self.0.load(Ordering::Acquire) > 1
    }
}

impl Drop for InProgress<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

static CORRELATION: AtomicU64 = AtomicU64::new(1);
static READS: AtomicU64 = AtomicU64::new(0);

/// The instant an evidence id is derived from: nanoseconds plus a per-process sequence, so two
/// identical reads in the same millisecond still get two bundles (every call is recorded).
fn evidence_instant() -> String {
    let n = READS.fetch_add(1, Ordering::Relaxed);
    format!(
        "{}#{n}",
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
    )
}

/// A short id that ties a model-facing `INTERNAL` error to the logged cause.
fn correlation_id() -> String {
    let n = CORRELATION.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    format!("err_{:012x}", (nanos ^ (n << 40)) & 0xffff_ffff_ffff)
}

impl AgentApi {
    /// `result_format` overrides the config's (flag > config > 1).
    pub fn new(
        config: Arc<Config>,
        ledger: Ledger,
        env: Env,
        result_format: Option<u8>,
    ) -> AgentApi {
        let sources = Sources::new(&config, env.as_fn());
        let types = ColumnTypes {
            sources,
            typed: HashMap::new(),
        };
        AgentApi::with_column_types(config, ledger, env, result_format, types)
    }

    /// [`AgentApi::new`] with sources whose column types were already read
    /// ([`crate::startup::start_agent_api`] reads them while the ledger opens).
    pub fn with_column_types(
        config: Arc<Config>,
        ledger: Ledger,
        env: Env,
        result_format: Option<u8>,
        types: ColumnTypes,
    ) -> AgentApi {
        let result_format = result_format.unwrap_or_else(|| config.result_format());
        AgentApi {
            inner: Arc::new(Inner {
                config,
                sources: types.sources,
                ledger,
                env,
                result_format,
                typed: RwLock::new(types.typed),
                calls: AtomicUsize::new(0),
            }),
        }
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The ledger, for this crate's read-only record lookups. Never handed out: a
    /// model-facing front end reaches recorded data only through [`AgentApi::read_record`].
    pub(crate) fn ledger_handle(&self) -> &Ledger {
        &self.inner.ledger
    }

    pub(crate) fn env(&self) -> &Env {
        &self.inner.env
    }

    pub fn result_format(&self) -> u8 {
        self.inner.result_format
    }

    /// Run one tool call by canonical name and render it in the configured result format.
    pub async fn call(&self, name: &str, args: &Args) -> ToolResult {
        render(&self.invoke(name, args).await, self.inner.result_format)
    }

    /// Run one tool call by canonical name. Never panics and never returns an error: every
    /// failure is an [`Outcome::Refused`] the caller can render for the model. A problem of the
    /// server's own (its configuration, store or database) is logged with its cause under a
    /// correlation id that the refusal carries too.
    pub async fn invoke(&self, name: &str, args: &Args) -> Outcome {
        let kind = self
            .inner
            .config
            .capability(name)
            .map(|c| c.kind)
            .unwrap_or(Kind::Read);
        let span = tracing::info_span!("tool_call", capability = name);
        let call = InProgress::enter(&self.inner.calls);
        match self.run(name, args, &call).instrument(span).await {
            Ok(outcome) => outcome,
            Err(refusal) => {
                let correlation_id = (refusal.code.fault() == Fault::Server).then(|| {
                    let id = correlation_id();
                    let code = refusal.code.as_str();
                    if refusal.code.safe() == SafeError::INTERNAL {
                        tracing::error!(correlation_id = %id, capability = name, code, cause = %refusal.message, "tool call failed");
                    } else {
                        tracing::warn!(correlation_id = %id, capability = name, code, cause = %refusal.message, "tool call refused: the server cannot serve it");
                    }
                    id
                });
                Outcome::Refused {
                    capability: name.to_string(),
                    kind,
                    refusal,
                    correlation_id,
                }
            }
        }
    }

    async fn run(
        &self,
        name: &str,
        args: &Args,
        call: &InProgress<'_>,
    ) -> Result<Outcome, Refusal> {
        let inner = &self.inner;
        if !inner.ledger.is_available() {
            return Err(Refusal::new(
                Code::LocalStoreUnavailable,
                "The local Synapsor store is temporarily unavailable. Restart the runner or recreate the store before retrying.",
            ));
        }
        refuse_binding_overrides(args, None)?;
        let config = &inner.config;
        let cap = find_capability(config, name)?;
        let typed = self.typed_for_call(cap).await;
        let bound = check_args(cap, &typed.args, args)?;
        let args = &bound;
        refuse_disabled_proposals(config, cap)?;
        let env = inner.env.clone();
        let ctx = resolve_context(config, cap, &move |n| env.get(n))?;
        let plan = plan_read(config, cap, args, &ctx)?;
        let mut rows = inner
            .sources
            .read_among_others(&plan, call.among_others())
            .await
            .map_err(|e| source_refusal(e, &cap.lookup_arg))?;
        if rows.len() != 1 {
            return Err(Refusal::new(
                Code::RowNotFound,
                "The scoped capability read did not find exactly one authorized row.",
            ));
        }
        let row = &rows[0];
        let read = record_read(
            cap,
            &ctx,
            row,
            rows.len() as u64,
            &plan.lookup_value,
            &evidence_instant(),
        );

        if cap.kind == Kind::Read {
            let evidence_id = read.bundle.evidence_bundle_id.clone();
            let ReadRecord {
                bundle,
                audit,
                object_id,
                ..
            } = read;
            inner
                .ledger
                .record_read(bundle, audit)
                .among_others(call.among_others())
                .await
                .map_err(ledger_refusal)?;
            return Ok(Outcome::Read {
                capability: cap.name.clone(),
                mode: config.mode.as_str(),
                business_type: cap.target.table.clone(),
                object_id,
                data: rows.swap_remove(0),
                ctx,
                evidence_id,
            });
        }

        let now = now_iso();
        let engine = plan.engine;
        let built = match self.columns(cap).await {
            Ok(columns) => build_change_set(&ProposalInput {
                mode: config.mode,
                engine,
                cap,
                args,
                ctx: &ctx,
                before: row,
                read: &read,
                now: &now,
                columns: Some(&columns),
            }),
            Err(refusal) => Err(refusal),
        };
        let built = match built {
            Ok(b) => b,
            Err(refusal) => {
                // The read happened; it stays on record even though the proposal is refused.
                inner
                    .ledger
                    .record_read(read.bundle, read.audit)
                    .among_others(call.among_others())
                    .await
                    .map_err(ledger_refusal)?;
                return Err(refusal);
            }
        };
        let cs = built.change_set;
        let (linked, proposal_audit) =
            link_to_proposal(&read, cap, &cs.proposal_id, row, &built.patch, &built.after);
        let proposal_item = linked.items.last().cloned().unwrap_or(json!(null));
        let evidence_id = read.bundle.evidence_bundle_id.clone();
        let recorded = inner
            .ledger
            .record_proposal(ProposalCall {
                read_bundle: read.bundle,
                read_audit: read.audit,
                change_set: cs.clone(),
                proposal_item,
                proposal_audit,
            })
            .among_others(call.among_others())
            .await
            .map_err(ledger_refusal)?;
        let stored_cs = if recorded.deduplicated {
            recorded.proposal.change_set().map_err(ledger_refusal)?
        } else {
            cs
        };
        // Only a state of the lifecycle past review; a pending or shadow proposal is what a
        // new call would have recorded anyway.
        let decided = State::parse(&recorded.proposal.state)
            .filter(|s| recorded.deduplicated && *s != State::PendingReview)
            .map(|s| s.as_str().to_string());
        let executor_type = match cap.executor.as_deref() {
            None | Some("sql_update") => "sql_update",
            Some(name) => config
                .executors
                .get(name)
                .map(|e| e.type_name())
                .unwrap_or("sql_update"),
        };
        Ok(Outcome::Proposal {
            capability: cap.name.clone(),
            shadow: config.mode == Mode::Shadow,
            change_set: Box::new(stored_cs),
            ctx,
            evidence_id,
            executor_type,
            deduplicated: recorded.deduplicated,
            decided,
        })
    }
}

impl AgentApi {
    /// Read the column types of every capability's target table from its source, so that
    /// tools are listed with arguments and results typed from them (`core::typed`). Call it
    /// before building a tool surface. A catalog the read user cannot read leaves that
    /// capability with the config's types; a source that cannot be reached (or does not answer
    /// within a few seconds) leaves all of its capabilities so, and later calls try again.
    /// Each case is a warning in the log; nothing here fails.
    pub async fn load_columns(&self) {
        let read = crate::startup::read_all(&self.inner.config, &self.inner.sources).await;
        if let Ok(mut m) = self.inner.typed.write() {
            m.extend(
                read.into_iter()
                    .map(|(name, typed)| (name, Arc::new(typed))),
            );
        }
    }

    /// `cap`'s arguments and columns as its tool publishes them: typed from its table when
    /// [`AgentApi::load_columns`] or a call has read them, else from the config alone.
    pub fn typed(&self, cap: &Capability) -> Arc<Typed> {
        self.cached(&cap.name)
            .unwrap_or_else(|| Arc::new(Typed::declared(cap)))
    }

    /// Sample arguments for `--sample` (cli.md §8.1), typed from the columns like a call:
    /// the lookup id is a real one recorded in `ids` (at onboarding, or the demo's), never a
    /// guess; `Err` says what to pass instead when none is recorded.
    pub async fn sample_args(&self, name: &str, ids: &Map<String, Value>) -> Result<Args, String> {
        let cap = self
            .inner
            .config
            .capability(name)
            .ok_or_else(|| format!("capability not found in config: {name}"))?;
        let Some(id) = ids.get(&cap.lookup_arg) else {
            return Err(format!(
                "--sample sends the {arg} recorded at onboarding (`--smoke-id`, kept in .sluicegate/smoke-input.json), and none is recorded: pass --args '{{\"{arg}\":\"<a real id>\"}}' instead, or add \"{arg}\": \"<a real id>\" to .sluicegate/smoke-input.json",
                arg = cap.lookup_arg
            ));
        };
        let typed = self.typed_for_call(cap).await;
        let mut args = sample_args_typed(cap, &typed.args);
        let id = recorded_id(typed.args.get(&cap.lookup_arg), id);
        args.insert(cap.lookup_arg.clone(), id);
        Ok(args)
    }

    fn cached(&self, name: &str) -> Option<Arc<Typed>> {
        self.inner
            .typed
            .read()
            .ok()
            .and_then(|m| m.get(name).cloned())
    }

    fn remember(&self, cap: &Capability, typed: Typed) -> Arc<Typed> {
        let typed = Arc::new(typed);
        if let Ok(mut m) = self.inner.typed.write() {
            m.insert(cap.name.clone(), typed.clone());
        }
        typed
    }

    /// The types a call checks its arguments against: those already known, else read from the
    /// catalog now. While the source cannot be reached the config's types serve (and the call
    /// is refused by the read anyway); they are not remembered, so the next call tries again.
    async fn typed_for_call(&self, cap: &Capability) -> Arc<Typed> {
        if let Some(t) = self.cached(&cap.name) {
            return t;
        }
        let t = &cap.target;
        match self
            .inner
            .sources
            .columns(&cap.source, &t.schema, &t.table)
            .await
        {
            Ok(columns) => self.remember(cap, Typed::new(cap, &columns)),
            Err(e)
                if e.kind().is_unavailable()
                    || matches!(e.kind(), SourceErrorKind::CredentialMissing { .. }) =>
            {
                Arc::new(Typed::declared(cap))
            }
            Err(e) => {
                tracing::warn!(capability = %cap.name, error = %e, "cannot read the target table's column types; the tool is typed from the config");
                self.remember(cap, Typed::declared(cap))
            }
        }
    }

    /// The target table's columns from the source catalog (read once, then cached by
    /// `Sources`). An unreachable source refuses the call like a failed read. A catalog the
    /// read user may not see gives no columns: the proposal then relies on the capability's
    /// declared `column_types`, and is refused for any patch column they do not cover.
    async fn columns(
        &self,
        cap: &sluicegate_core::config::Capability,
    ) -> Result<Arc<TableColumns>, Refusal> {
        let t = &cap.target;
        match self
            .inner
            .sources
            .columns(&cap.source, &t.schema, &t.table)
            .await
        {
            Ok(columns) => Ok(columns),
            Err(e)
                if e.kind().is_unavailable()
                    || matches!(e.kind(), SourceErrorKind::CredentialMissing { .. }) =>
            {
                Err(source_refusal(e, &cap.lookup_arg))
            }
            Err(e) => {
                tracing::warn!(capability = %cap.name, error = %e, "cannot read the target table's column types");
                Ok(Arc::new(TableColumns::default()))
            }
        }
    }
}

/// A ledger error as a refusal. Exhaustive on both the error and the ledger's refusal codes
/// (no wildcard): a new ledger code must be placed deliberately.
pub(crate) fn ledger_refusal(e: LedgerError) -> Refusal {
    let code = match &e {
        LedgerError::Refused { code, .. } => match code {
            RefusalCode::SecretMaterialRejected => Code::SecretMaterialRejected,
            RefusalCode::ProposalImmutabilityViolation => Code::ProposalImmutabilityViolation,
            RefusalCode::ChangeSetInvalid => Code::ChangeSetInvalid,
            // Decision, writeback and lookup refusals: a tool call never asks for these, so
            // meeting one here is a bug the model cannot act on.
            RefusalCode::ProposalHashMismatch
            | RefusalCode::ProposalVersionMismatch
            | RefusalCode::ProposalStateChanged
            | RefusalCode::ShadowWritebackDisabled
            | RefusalCode::ReadOnlyWritebackDisabled
            | RefusalCode::WritebackJobExists
            | RefusalCode::ReceiptInvalid
            | RefusalCode::NoProposals
            | RefusalCode::ProposalContentModified
            | RefusalCode::ReceiptExists
            | RefusalCode::WritebackJobInvalid
            | RefusalCode::NotShadowProposal
            | RefusalCode::ClaimLost
            | RefusalCode::ClaimLeaseInvalid
            | RefusalCode::Transition(_) => Code::Internal,
        },
        LedgerError::Missing(_)
        | LedgerError::Io(_)
        | LedgerError::WriterStopped
        | LedgerError::Postgres(_) => Code::LocalStoreUnavailable,
        LedgerError::NotFound { .. }
        | LedgerError::TooNew { .. }
        | LedgerError::SchemaOutdated { .. }
        | LedgerError::Unavailable { .. }
        | LedgerError::VacuumByPostgres
        | LedgerError::Corrupt(_)
        | LedgerError::Sqlite(_) => Code::Internal,
    };
    Refusal::new(code, e.to_string())
}

/// A source error of the read as a refusal, by its kind (exhaustive, no wildcard).
/// `lookup_arg` names the only model-supplied value a read binds.
fn source_refusal(e: SourceError, lookup_arg: &str) -> Refusal {
    let code = match e.kind() {
        SourceErrorKind::CredentialMissing { env } => {
            return Refusal::new(Code::SourceCredentialMissing, format!("{env} is not set."));
        }
        SourceErrorKind::UnsafeIdentifier => {
            return Refusal::new(
                Code::UnsafeIdentifier,
                format!("Unsafe identifier: {}", e.message()),
            );
        }
        // The database refused the bound lookup value (malformed for the column's type, too
        // long, out of range): the model can correct that, so it is an argument refusal.
        // Tenant and principal come from trusted context and are not bound as model values.
        SourceErrorKind::InvalidValue => {
            tracing::info!(error = %e, "the source refused the lookup value");
            return Refusal::new(
                Code::ArgumentTypeInvalid,
                format!("{lookup_arg} is not a valid value for the column it looks up."),
            )
            .with_argument(lookup_arg);
        }
        SourceErrorKind::AuthenticationFailed
        | SourceErrorKind::Timeout
        | SourceErrorKind::ConnectionFailed => Code::SourceUnavailable,
        SourceErrorKind::PermissionDenied
        | SourceErrorKind::ObjectNotFound
        | SourceErrorKind::ReadOnlyViolation
        | SourceErrorKind::ConstraintViolation
        | SourceErrorKind::WritebackRefused
        | SourceErrorKind::QueryFailed => Code::SourceQueryFailed,
    };
    Refusal::new(code, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluicegate_core::lifecycle::TransitionRefusal;
    use sluicegate_source::EngineCode;

    /// The refusal code of each source error kind, as a table. No wildcard: a new kind fails
    /// to compile here until it has a row.
    fn expected(kind: &SourceErrorKind) -> Code {
        match kind {
            SourceErrorKind::CredentialMissing { .. } => Code::SourceCredentialMissing,
            SourceErrorKind::UnsafeIdentifier => Code::UnsafeIdentifier,
            SourceErrorKind::InvalidValue => Code::ArgumentTypeInvalid,
            SourceErrorKind::AuthenticationFailed
            | SourceErrorKind::Timeout
            | SourceErrorKind::ConnectionFailed => Code::SourceUnavailable,
            SourceErrorKind::WritebackRefused
            | SourceErrorKind::PermissionDenied
            | SourceErrorKind::ObjectNotFound
            | SourceErrorKind::ReadOnlyViolation
            | SourceErrorKind::ConstraintViolation
            | SourceErrorKind::QueryFailed => Code::SourceQueryFailed,
        }
    }

    #[test]
    fn every_source_kind_becomes_its_refusal() {
        let kinds = [
            SourceErrorKind::CredentialMissing {
                env: "APP_URL".into(),
            },
            SourceErrorKind::UnsafeIdentifier,
            SourceErrorKind::WritebackRefused,
            SourceErrorKind::AuthenticationFailed,
            SourceErrorKind::Timeout,
            SourceErrorKind::ConnectionFailed,
            SourceErrorKind::PermissionDenied,
            SourceErrorKind::ObjectNotFound,
            SourceErrorKind::ReadOnlyViolation,
            SourceErrorKind::InvalidValue,
            SourceErrorKind::ConstraintViolation,
            SourceErrorKind::QueryFailed,
        ];
        for kind in kinds {
            let e = SourceError::new(kind.clone(), EngineCode::sqlstate("XX000"), "m");
            assert_eq!(
                source_refusal(e, "invoice_id").code,
                expected(&kind),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn an_invalid_value_is_an_argument_refusal_naming_the_argument() {
        let e = SourceError::new(
            SourceErrorKind::InvalidValue,
            EngineCode::sqlstate("22P02"),
            "invalid input syntax for type integer: \"abc\"",
        );
        let refusal = source_refusal(e, "invoice_id");
        assert_eq!(refusal.code, Code::ArgumentTypeInvalid);
        assert_eq!(refusal.code.safe(), SafeError::INVALID_ARGUMENT);
        assert!(refusal.code.is_invalid_input());
        assert!(refusal.message.starts_with("invoice_id "), "{refusal}");
        assert_eq!(refusal.argument.as_deref(), Some("invoice_id"));
        // The bound value itself is not echoed back.
        assert!(!refusal.message.contains("abc"), "{refusal}");
        let missing = source_refusal(SourceError::credential_missing("APP_URL"), "x");
        assert_eq!(missing.message, "APP_URL is not set.");
    }

    #[test]
    fn every_ledger_refusal_code_becomes_its_refusal() {
        // The ledger refusals a tool call can meet, and what the model is told; every other
        // ledger code belongs to the review side and is a bug here (INTERNAL).
        let model_facing = [
            (
                RefusalCode::SecretMaterialRejected,
                Code::SecretMaterialRejected,
            ),
            (
                RefusalCode::ProposalImmutabilityViolation,
                Code::ProposalImmutabilityViolation,
            ),
            (RefusalCode::ChangeSetInvalid, Code::ChangeSetInvalid),
        ];
        for code in RefusalCode::all() {
            let want = model_facing
                .iter()
                .find(|(c, _)| *c == code)
                .map_or(Code::Internal, |(_, want)| *want);
            let refusal = ledger_refusal(LedgerError::refused(code, "m"));
            assert_eq!(refusal.code, want, "{code}");
        }
        let stopped = ledger_refusal(LedgerError::WriterStopped);
        assert_eq!(stopped.code, Code::LocalStoreUnavailable);
        let transition = ledger_refusal(LedgerError::refused(
            RefusalCode::Transition(TransitionRefusal::NotApproved),
            "m",
        ));
        assert_eq!(transition.code, Code::Internal);
    }

    #[test]
    fn calls_in_progress_are_counted_until_each_ends() {
        let calls = AtomicUsize::new(0);
        let first = InProgress::enter(&calls);
        assert!(!first.among_others(), "a lone call");
        let second = InProgress::enter(&calls);
        assert!(first.among_others() && second.among_others());
        // A call whose caller stopped waiting is dropped mid-way: it stops counting.
        drop(second);
        assert!(!first.among_others());
        drop(first);
        assert_eq!(calls.load(Ordering::Acquire), 0);
    }

    #[test]
    fn a_finished_call_is_no_longer_in_progress_whatever_its_outcome() {
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path().join("app.db");
        sluicegate_source::sample_app::create(&app).unwrap();
        let (_, config) = sluicegate_core::config::validate(&crate::demo::config_json());
        let ledger = Ledger::open(std::path::Path::new(sluicegate_ledger::MEMORY)).unwrap();
        let env = crate::demo::env(&Env::from_map(HashMap::new()), &app);
        let api = AgentApi::new(Arc::new(config.unwrap()), ledger, env, None);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let read = |id: &str| {
            let args: Args = [("invoice_id".to_string(), json!(id))]
                .into_iter()
                .collect();
            rt.block_on(api.invoke("billing.inspect_invoice", &args))
        };
        assert!(matches!(read("INV-3001"), Outcome::Read { .. }));
        assert_eq!(api.inner.calls.load(Ordering::Acquire), 0);
        assert!(matches!(read("INV-9001"), Outcome::Refused { .. }));
        assert_eq!(api.inner.calls.load(Ordering::Acquire), 0);
    }
}
