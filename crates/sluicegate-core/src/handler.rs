//! App-owned handler rules that need no I/O (writeback.md §C): the request built from an
//! approved change set, the authority check before a handler is called, the mapping of what a
//! handler answered to an execution receipt, and the shell-like split of a command line.
//!
//! The transports (HTTP, child process) live in `sluicegate-runtime`; they only report a
//! [`HandlerOutcome`] and this module decides what it means.

use serde_json::{Map, Value, json};
use sluicegate_protocol::handler::{
    CommandHandlerInput, HANDLER_JOB_PREFIX, HANDLER_PROTOCOL_VERSION, HANDLER_WRITEBACK_V1,
    HandlerChangeSet, HandlerJobRecord, HandlerJobRequest, HandlerRequest, HandlerScope,
    HandlerTarget, HttpHandlerBody,
};
use sluicegate_protocol::receipt::EXECUTION_RECEIPT_V1;
use sluicegate_protocol::{ChangeSet, ExecutionReceipt, JsonMap, ReceiptStatus};

use crate::json::{canonical, sha256_hex};
use crate::secrets;
use crate::writeback::{idempotency_key, sanitize_id};

/// How much stderr a failed command's receipt keeps (characters).
pub const STDERR_LIMIT: usize = 500;
/// Default `timeout_ms` of both handler types.
pub const DEFAULT_TIMEOUT_MS: u64 = 5000;

/// The job id of handler attempt `attempt` (1-based): `hwb_<id>` first, then `hwb_<id>-a<n>`.
///
/// A forced retry gets its own job id so its receipt is kept beside the earlier one instead of
/// being folded into it; the idempotency key, which handlers deduplicate on, never changes.
pub fn handler_job_id(proposal_id: &str, attempt: u32) -> String {
    crate::writeback::attempt_job_id(
        &format!("{HANDLER_JOB_PREFIX}{}", sanitize_id(proposal_id)),
        attempt,
    )
}

/// Whether a receipt or job id belongs to an app-owned handler.
pub fn is_handler_job_id(id: &str) -> bool {
    id.starts_with(HANDLER_JOB_PREFIX)
}

/// The flat request of writeback.md §C.3.
pub fn build_request(
    cs: &ChangeSet,
    proposal_version: u32,
    proposal_hash: &str,
    runner_id: &str,
    job_id: &str,
) -> HandlerRequest {
    HandlerRequest {
        schema_version: HANDLER_WRITEBACK_V1.to_string(),
        writeback_job_id: job_id.to_string(),
        proposal_id: cs.proposal_id.clone(),
        proposal_version,
        proposal_hash: proposal_hash.to_string(),
        action: cs.action.clone(),
        runner_hint: runner_id.to_string(),
        idempotency_key: idempotency_key(cs),
        source: cs.source.clone(),
        target: target(cs),
        tenant_guard: cs.guards.tenant.clone(),
        allowed_columns: cs.guards.allowed_columns.clone(),
        before: cs.before.clone(),
        patch: cs.patch.clone(),
        after: cs.after.clone(),
        guards: cs.guards.clone(),
        evidence: cs.evidence.clone(),
        approval: cs.approval.clone(),
        source_database_mutated: false,
    }
}

fn target(cs: &ChangeSet) -> HandlerTarget {
    HandlerTarget {
        schema: cs.source.schema.clone(),
        table: cs.source.table.clone(),
        primary_key: cs.source.primary_key.clone(),
    }
}

/// The `change_set` mirror (spec README §3.9): the same facts, in the nested shape of the
/// published request schema, so template-style handlers find `change_set.scope.tenant_id`.
pub fn mirror(cs: &ChangeSet) -> HandlerChangeSet {
    HandlerChangeSet {
        action: cs.action.clone(),
        scope: HandlerScope {
            tenant_id: cs.scope.tenant_id.clone(),
            object_id: cs.scope.object_id.clone(),
        },
        principal: cs.principal.clone(),
        target: target(cs),
        patch: cs.patch.clone(),
        guards: cs.guards.clone(),
        before: cs.before.clone(),
        after: cs.after.clone(),
        evidence: cs.evidence.clone(),
    }
}

/// The HTTP body, in wire order.
pub fn http_body(
    request: &HandlerRequest,
    change_set: &HandlerChangeSet,
    issued_at: &str,
    executor: &str,
    dry_run: bool,
) -> HttpHandlerBody {
    HttpHandlerBody {
        protocol_version: HANDLER_PROTOCOL_VERSION.to_string(),
        request: request.clone(),
        issued_at: issued_at.to_string(),
        executor: executor.to_string(),
        dry_run,
        change_set: change_set.clone(),
    }
}

/// The command handler's stdin document.
pub fn command_input(
    request: &HandlerRequest,
    change_set: &HandlerChangeSet,
    executor: &str,
    dry_run: bool,
) -> CommandHandlerInput {
    CommandHandlerInput {
        request: request.clone(),
        executor: executor.to_string(),
        dry_run,
        change_set: change_set.clone(),
    }
}

/// The job the ledger records before the handler is called.
pub fn job_record(
    request: &HandlerRequest,
    change_set: &HandlerChangeSet,
    executor: &str,
) -> HandlerJobRecord {
    HandlerJobRecord {
        schema_version: HANDLER_WRITEBACK_V1.to_string(),
        writeback_job_id: request.writeback_job_id.clone(),
        proposal_id: request.proposal_id.clone(),
        proposal_hash: request.proposal_hash.clone(),
        runner_id: request.runner_hint.clone(),
        executor: executor.to_string(),
        request: HandlerJobRequest {
            request: request.clone(),
            change_set: change_set.clone(),
        },
    }
}

/// Serialise a wire document exactly as `JSON.stringify` would: these are the bytes that are
/// sent and signed.
pub fn wire_bytes(doc: &impl serde::Serialize) -> Result<String, serde_json::Error> {
    Ok(canonical(&serde_json::to_value(doc)?))
}

/// What a transport observed. Only this module turns it into a receipt.
#[derive(Debug, Clone, PartialEq)]
pub enum HandlerOutcome {
    /// The handler answered (2xx HTTP body, or stdout of a command that exited 0).
    Body(String),
    /// No complete answer within `timeout_ms`.
    Timeout,
    /// Connection refused, DNS, TLS, spawn failure: the request never got an answer.
    RequestFailed,
    /// A non-2xx HTTP status (the body is ignored).
    HttpStatus(u16),
    /// The command exited non-zero (`None`: killed by a signal).
    Exit { code: Option<i32>, stderr: String },
    /// The answer exceeded the size Sluicegate reads.
    TooLarge,
}

/// Who the receipt is for.
#[derive(Debug, Clone)]
pub struct ReceiptContext<'a> {
    pub writeback_job_id: &'a str,
    pub proposal_id: &'a str,
    pub runner_id: &'a str,
    pub idempotency_key: &'a str,
    pub dry_run: bool,
    pub executed_at: &'a str,
}

/// The body object a transport outcome stands for (writeback.md §C.5, §C.6).
pub fn outcome_body(outcome: &HandlerOutcome) -> Value {
    let failed = |code: String| json!({"status": "failed", "safe_error_code": code});
    match outcome {
        HandlerOutcome::Body(text) => {
            if text.trim().is_empty() {
                return json!({});
            }
            match serde_json::from_str::<Value>(text) {
                Ok(v @ Value::Object(_)) => v,
                Ok(_) => json!({}),
                Err(_) => failed("HANDLER_INVALID_JSON".into()),
            }
        }
        HandlerOutcome::Timeout => failed("HANDLER_TIMEOUT".into()),
        HandlerOutcome::RequestFailed => failed("HANDLER_REQUEST_FAILED".into()),
        HandlerOutcome::HttpStatus(status) => failed(format!("HANDLER_HTTP_{status}")),
        HandlerOutcome::TooLarge => failed("HANDLER_RESPONSE_TOO_LARGE".into()),
        HandlerOutcome::Exit { code, stderr } => {
            let code = code.map_or_else(|| "UNKNOWN".to_string(), |c| c.to_string());
            let stderr: String = stderr.chars().take(STDERR_LIMIT).collect();
            json!({
                "status": "failed",
                "safe_error_code": format!("HANDLER_EXIT_{code}"),
                "details": {"stderr": stderr},
            })
        }
    }
}

/// A handler's answer as Sluicegate records it.
#[derive(Debug, Clone, PartialEq)]
pub struct MappedReceipt {
    /// Strictly `synapsor.execution-receipt.v1`: no keys beyond the published schema.
    pub receipt: ExecutionReceipt,
    /// The handler's `details` (or a failed command's stderr excerpt), redacted. Kept beside
    /// the receipt (as a ledger event) because the published receipt schema has no room for it.
    pub details: Option<Value>,
}

/// Map an outcome to the execution receipt recorded in the ledger (writeback.md §C.5). The
/// handler's body is coerced, never trusted: unknown statuses become `failed`, counts get
/// defaults, and `details` pass through the secret redactor.
pub fn receipt_from_outcome(outcome: &HandlerOutcome, ctx: &ReceiptContext) -> MappedReceipt {
    let body = outcome_body(outcome);
    let b = body.as_object().cloned().unwrap_or_default();
    let status = match b.get("status").and_then(Value::as_str) {
        Some("applied") => ReceiptStatus::Applied,
        Some("already_applied") => ReceiptStatus::AlreadyApplied,
        Some("conflict") => ReceiptStatus::Conflict,
        _ => ReceiptStatus::Failed,
    };
    let rows_affected = match b.get("rows_affected").and_then(Value::as_u64) {
        Some(n) => n,
        None if status == ReceiptStatus::Applied && !ctx.dry_run => 1,
        None => 0,
    };
    let mutated = !ctx.dry_run
        && matches!(
            status,
            ReceiptStatus::Applied | ReceiptStatus::AlreadyApplied
        )
        && b.get("source_database_mutated") != Some(&Value::Bool(false));
    let version = |key: &str| {
        b.get(key).map(|v| match v {
            Value::Object(_) | Value::Array(_) => Value::String(canonical(v)),
            scalar => scalar.clone(),
        })
    };
    let safe_error_code = match b.get("safe_error_code") {
        Some(Value::String(code)) => Some(code.clone()),
        _ if status == ReceiptStatus::Failed => Some("HANDLER_FAILED".to_string()),
        _ => None,
    };
    let details = match b.get("details") {
        Some(d @ Value::Object(_)) => Some(secrets::redact(d)),
        _ => None,
    };
    MappedReceipt {
        receipt: seal(ReceiptParts {
            ctx,
            status,
            rows_affected,
            previous_version: version("previous_version"),
            new_version: version("new_version"),
            source_database_mutated: mutated,
            safe_error_code,
        }),
        details,
    }
}

/// A forced retry of an applied proposal must come back `already_applied`. A handler that
/// answers `applied` again wrote twice: record that as a failure that names the violation,
/// keeping the handler's own claim that it changed the source.
pub fn enforce_retry_contract(mapped: MappedReceipt, ctx: &ReceiptContext) -> MappedReceipt {
    if mapped.receipt.status != ReceiptStatus::Applied {
        return mapped;
    }
    let receipt = mapped.receipt;
    let mut details = match mapped.details {
        Some(Value::Object(d)) => d,
        _ => Map::new(),
    };
    details.insert("handler_status".into(), json!("applied"));
    details.insert(
        "violation".into(),
        json!("the handler applied an idempotency key it had already applied"),
    );
    MappedReceipt {
        receipt: seal(ReceiptParts {
            ctx,
            status: ReceiptStatus::Failed,
            rows_affected: receipt.rows_affected,
            previous_version: receipt.previous_version,
            new_version: receipt.new_version,
            source_database_mutated: receipt.source_database_mutated,
            safe_error_code: Some("HANDLER_IDEMPOTENCY_VIOLATION".into()),
        }),
        details: Some(Value::Object(details)),
    }
}

/// The receipt returned, not stored, when a handler already applied this proposal and the
/// operator did not ask to call it again (writeback.md §C.2 step 1).
pub fn already_applied_receipt(
    stored: &ExecutionReceipt,
    runner_id: &str,
    executed_at: &str,
) -> ExecutionReceipt {
    let hash = sha256_hex(
        canonical(&json!({
            "writeback_job_id": stored.writeback_job_id,
            "proposal_id": stored.proposal_id,
            "status": "already_applied",
            "idempotency_key": stored.idempotency_key,
            "executed_at": executed_at,
        }))
        .as_bytes(),
    );
    ExecutionReceipt {
        runner_id: runner_id.to_string(),
        status: ReceiptStatus::AlreadyApplied,
        rows_affected: 0,
        source_database_mutated: false,
        executed_at: executed_at.to_string(),
        safe_error_code: None,
        receipt_hash: format!("sha256:{hash}"),
        ..stored.clone()
    }
}

struct ReceiptParts<'a> {
    ctx: &'a ReceiptContext<'a>,
    status: ReceiptStatus,
    rows_affected: u64,
    previous_version: Option<Value>,
    new_version: Option<Value>,
    source_database_mutated: bool,
    safe_error_code: Option<String>,
}

/// Build the receipt and its hash: `sha256:` + SHA-256 of the compact JSON of every other field
/// in wire order, absent fields omitted. (The reference also hashes `details`; ours live beside
/// the receipt, so they are not part of it.)
fn seal(p: ReceiptParts) -> ExecutionReceipt {
    let mut doc = JsonMap::new();
    doc.insert("schema_version".into(), json!(EXECUTION_RECEIPT_V1));
    doc.insert("writeback_job_id".into(), json!(p.ctx.writeback_job_id));
    doc.insert("proposal_id".into(), json!(p.ctx.proposal_id));
    doc.insert("runner_id".into(), json!(p.ctx.runner_id));
    doc.insert("status".into(), json!(p.status.as_str()));
    doc.insert("rows_affected".into(), json!(p.rows_affected));
    doc.insert("idempotency_key".into(), json!(p.ctx.idempotency_key));
    if let Some(v) = &p.previous_version {
        doc.insert("previous_version".into(), v.clone());
    }
    if let Some(v) = &p.new_version {
        doc.insert("new_version".into(), v.clone());
    }
    doc.insert(
        "source_database_mutated".into(),
        json!(p.source_database_mutated),
    );
    doc.insert("executed_at".into(), json!(p.ctx.executed_at));
    if let Some(code) = &p.safe_error_code {
        doc.insert("safe_error_code".into(), json!(code));
    }
    let hash = sha256_hex(canonical(&Value::Object(doc)).as_bytes());
    ExecutionReceipt {
        schema_version: EXECUTION_RECEIPT_V1.to_string(),
        writeback_job_id: p.ctx.writeback_job_id.to_string(),
        proposal_id: p.ctx.proposal_id.to_string(),
        runner_id: p.ctx.runner_id.to_string(),
        status: p.status,
        rows_affected: p.rows_affected,
        idempotency_key: p.ctx.idempotency_key.to_string(),
        previous_version: p.previous_version,
        new_version: p.new_version,
        source_database_mutated: p.source_database_mutated,
        executed_at: p.ctx.executed_at.to_string(),
        safe_error_code: p.safe_error_code,
        receipt_hash: format!("sha256:{hash}"),
        extra: JsonMap::new(),
    }
}

/// Why a command line could not be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    #[error("{0} did not contain a command")]
    Empty(String),
    #[error("unterminated quote in stdio command")]
    UnterminatedQuote,
}

/// Split a command line into argv the way a POSIX shell splits words, without a shell (the
/// `shell-words` crate, which `audit --stdio` uses too): whitespace separates; `'…'` groups
/// literally; `"…"` groups and honours `\"`, `\\`, `\$` and `` \` ``; a backslash outside quotes
/// escapes the next character, and a trailing one is kept; `#` at the start of a word begins a
/// comment. `env_name` names the variable in the error (never its value).
pub fn split_command(line: &str, env_name: &str) -> Result<Vec<String>, SplitError> {
    let args = shell_words::split(line).map_err(|_| SplitError::UnterminatedQuote)?;
    if args.is_empty() {
        return Err(SplitError::Empty(env_name.to_string()));
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(dry_run: bool) -> ReceiptContext<'static> {
        ReceiptContext {
            writeback_job_id: "hwb_wrp_1",
            proposal_id: "wrp_1",
            runner_id: "local_runner",
            idempotency_key: "wrp_1:INV-1",
            dry_run,
            executed_at: "2026-06-28T10:00:00.000Z",
        }
    }

    fn mapped(body: &str) -> MappedReceipt {
        receipt_from_outcome(&HandlerOutcome::Body(body.into()), &ctx(false))
    }

    fn receipt(body: &str) -> ExecutionReceipt {
        mapped(body).receipt
    }

    #[test]
    fn job_ids_keep_the_prefix_and_number_retries() {
        assert_eq!(handler_job_id("wrp 1/x", 1), "hwb_wrp_1_x");
        assert_eq!(handler_job_id("wrp_1", 2), "hwb_wrp_1-a2");
        assert!(is_handler_job_id(&handler_job_id("p", 3)));
        assert!(!is_handler_job_id("wbj_p"));
    }

    #[test]
    fn body_coercion_follows_the_spec() {
        let r = receipt(r#"{"status":"applied"}"#);
        assert_eq!(r.status, ReceiptStatus::Applied);
        assert_eq!(r.rows_affected, 1);
        assert!(r.source_database_mutated);
        assert_eq!(r.safe_error_code, None);

        let r = receipt(
            r#"{"status":"applied","rows_affected":2,"source_database_mutated":false,"new_version":{"a":1}}"#,
        );
        assert_eq!(r.rows_affected, 2);
        assert!(!r.source_database_mutated);
        assert_eq!(r.new_version, Some(json!("{\"a\":1}")));

        let r = receipt(r#"{"status":"weird","error_code":"X"}"#);
        assert_eq!(r.status, ReceiptStatus::Failed);
        assert_eq!(r.safe_error_code.as_deref(), Some("HANDLER_FAILED"));
        assert!(!r.source_database_mutated);

        let r = receipt("not json");
        assert_eq!(r.safe_error_code.as_deref(), Some("HANDLER_INVALID_JSON"));
        let r = receipt("   ");
        assert_eq!(r.status, ReceiptStatus::Failed);
        let r = receipt("[1,2]");
        assert_eq!(r.safe_error_code.as_deref(), Some("HANDLER_FAILED"));

        let r = receipt(
            r#"{"status":"conflict","safe_error_code":"ROW_CHANGED_AFTER_PROPOSAL","previous_version":"v1"}"#,
        );
        assert_eq!(r.status, ReceiptStatus::Conflict);
        assert_eq!(r.rows_affected, 0);
        assert_eq!(r.previous_version, Some(json!("v1")));

        let dry = receipt_from_outcome(
            &HandlerOutcome::Body(r#"{"status":"applied"}"#.into()),
            &ctx(true),
        )
        .receipt;
        assert_eq!(dry.rows_affected, 0);
        assert!(!dry.source_database_mutated);
    }

    #[test]
    fn transport_outcomes_have_stable_codes() {
        let code = |o: HandlerOutcome| {
            receipt_from_outcome(&o, &ctx(false))
                .receipt
                .safe_error_code
        };
        assert_eq!(
            code(HandlerOutcome::Timeout).as_deref(),
            Some("HANDLER_TIMEOUT")
        );
        assert_eq!(
            code(HandlerOutcome::RequestFailed).as_deref(),
            Some("HANDLER_REQUEST_FAILED")
        );
        assert_eq!(
            code(HandlerOutcome::HttpStatus(500)).as_deref(),
            Some("HANDLER_HTTP_500")
        );
        assert_eq!(
            code(HandlerOutcome::Exit {
                code: Some(3),
                stderr: String::new()
            })
            .as_deref(),
            Some("HANDLER_EXIT_3")
        );
        let killed = receipt_from_outcome(
            &HandlerOutcome::Exit {
                code: None,
                stderr: "x".repeat(2000),
            },
            &ctx(false),
        );
        assert_eq!(
            killed.receipt.safe_error_code.as_deref(),
            Some("HANDLER_EXIT_UNKNOWN")
        );
        let details = killed.details.unwrap();
        let stderr = details["stderr"].as_str().unwrap();
        assert_eq!(stderr.len(), STDERR_LIMIT);
    }

    #[test]
    fn details_are_redacted_and_hash_covers_every_field() {
        let m = mapped(
            r#"{"status":"applied","details":{"note":"ok","auth_token":"t0ps3cret","dsn":"postgres://u:p@h/db"}}"#,
        );
        let r = m.receipt;
        assert!(
            r.extra.is_empty(),
            "the receipt keeps to the published schema"
        );
        let details = m.details.unwrap();
        assert_eq!(details["note"], json!("ok"));
        assert_eq!(details["auth_token"], json!(secrets::REDACTED));
        assert_eq!(details["dsn"], json!(secrets::REDACTED));
        let expected = format!(
            "sha256:{}",
            sha256_hex(
                br#"{"schema_version":"synapsor.execution-receipt.v1","writeback_job_id":"hwb_wrp_1","proposal_id":"wrp_1","runner_id":"local_runner","status":"applied","rows_affected":1,"idempotency_key":"wrp_1:INV-1","source_database_mutated":true,"executed_at":"2026-06-28T10:00:00.000Z"}"#
            )
        );
        assert_eq!(r.receipt_hash, expected);
    }

    #[test]
    fn retry_contract_flags_a_second_write() {
        let applied = mapped(r#"{"status":"applied"}"#);
        let flagged = enforce_retry_contract(applied, &ctx(false));
        assert_eq!(flagged.receipt.status, ReceiptStatus::Failed);
        assert_eq!(
            flagged.receipt.safe_error_code.as_deref(),
            Some("HANDLER_IDEMPOTENCY_VIOLATION")
        );
        assert!(flagged.receipt.source_database_mutated);
        assert_eq!(flagged.details.unwrap()["handler_status"], json!("applied"));
        let fine = mapped(r#"{"status":"already_applied","source_database_mutated":false}"#);
        assert_eq!(enforce_retry_contract(fine.clone(), &ctx(false)), fine);
    }

    #[test]
    fn synthesized_already_applied_is_not_a_mutation() {
        let stored = receipt(r#"{"status":"applied","new_version":"v2"}"#);
        let again = already_applied_receipt(&stored, "runner_b", "2026-06-29T00:00:00.000Z");
        assert_eq!(again.status, ReceiptStatus::AlreadyApplied);
        assert_eq!(again.rows_affected, 0);
        assert!(!again.source_database_mutated);
        assert_eq!(again.runner_id, "runner_b");
        assert_eq!(again.new_version, Some(json!("v2")));
        assert_ne!(again.receipt_hash, stored.receipt_hash);
    }

    #[test]
    fn command_lines_split_like_a_shell_without_one() {
        let s = |l: &str| split_command(l, "CMD");
        assert_eq!(s("node  handler.mjs").unwrap(), ["node", "handler.mjs"]);
        assert_eq!(
            s(r#"python3 "my handler.py" --name 'a b' c\ d"#).unwrap(),
            ["python3", "my handler.py", "--name", "a b", "c d"]
        );
        assert_eq!(s(r#"say "a\b""#).unwrap(), ["say", r"a\b"]);
        assert_eq!(s(r"x trailing\").unwrap(), ["x", r"trailing\"]);
        assert_eq!(s(r#"x """#).unwrap(), ["x", ""]);
        // Escaped double quotes inside double quotes, as `audit --stdio` splits them too.
        assert_eq!(s(r#"x "y""#).unwrap(), ["x", "y"]);
        assert_eq!(s(r#"run "x \"y\"""#).unwrap(), ["run", r#"x "y""#]);
        assert_eq!(s(r#"run 'x \"y\"'"#).unwrap(), ["run", r#"x \"y\""#]);
        assert_eq!(s(r#"a"b"'c'd"#).unwrap(), ["abcd"]);
        assert_eq!(s("x 'open"), Err(SplitError::UnterminatedQuote));
        assert_eq!(s(r#"x "open"#), Err(SplitError::UnterminatedQuote));
        assert_eq!(
            s("  ").unwrap_err().to_string(),
            "CMD did not contain a command"
        );
    }
}
