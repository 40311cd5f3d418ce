#!/usr/bin/env node
// Sluicegate app-owned writeback command handler: Node.js + PostgreSQL (pg).
//
// IMPORTANT: this handler owns the final business write. Sluicegate only delivers a request
// that a human approved; everything below runs in YOUR application, with YOUR database
// credentials, so it must re-check, inside one database transaction:
//   * tenant / scope       - lock the row by primary key AND tenant, or you allow cross-tenant writes
//   * expected version     - compare the conflict-guard column, or you allow lost updates
//   * idempotency key      - record it in the same transaction, or a retry makes duplicate writes
//   * allowed action       - only actions listed in ACTIONS run; identifiers never come from the request
//   * transaction/rollback - any error rolls everything back, receipt included
//   * safe receipts        - print status, rows_affected, source_database_mutated and a safe
//                            error code; never print SQL errors, tokens or row data of others
//
// Protocol: Sluicegate runs this program directly (no shell) with the request JSON on stdin and
// reads one receipt JSON from stdout. stderr is kept (truncated) when the exit code is not 0.
// There is no bearer token or signature on this path: the program inherits the runner's
// environment and trust, so only configure a command you control.
//
// Run:   npm install pg
//        export APP_DATABASE_URL=postgres://app_writer@127.0.0.1/app
//        export BILLING_HANDLER_COMMAND="node /path/to/sluicegate-command-handler.mjs"
// and name BILLING_HANDLER_COMMAND as a `command_handler` executor's command_env.

import pg from "pg";

const RECEIPTS = '"public"."sluicegate_handler_receipts"';

// The business actions this app accepts, keyed by capability name. The target is declared
// here and compared with the request: a request can never choose the table or columns.
const ACTIONS = {
  "billing.propose_late_fee_waiver": {
    target: { schema: "public", table: "invoices", primaryKey: "id", tenant: "tenant_id", version: "updated_at" },
    columns: ["late_fee_cents", "waiver_reason"],
    // The business write. `row` is the locked current row; `job.patch` holds approved values.
    async apply(tx, job, row) {
      const cols = Object.keys(job.patch);
      const sets = cols.map((c, i) => `${ident(c)} = $${i + 1}`);
      const t = this.target;
      const res = await tx.query(
        `UPDATE ${ident(t.schema)}.${ident(t.table)} SET ${sets.join(", ")}, ${ident(t.version)} = now()
         WHERE ${ident(t.primaryKey)} = $${cols.length + 1} AND ${ident(t.tenant)} = $${cols.length + 2}
         RETURNING to_jsonb(${ident(t.version)}) #>> '{}' AS version`,
        [...cols.map((c) => job.patch[c]), job.objectId, job.tenantId],
      );
      return { rowsAffected: res.rowCount, newVersion: res.rows[0]?.version ?? null };
    },
  },
};

const SAFE_IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
function ident(name) {
  if (!SAFE_IDENT.test(name)) throw new Error("unsafe identifier");
  return `"${name}"`;
}

function failed(code) {
  return { status: "failed", rows_affected: 0, source_database_mutated: false, safe_error_code: code };
}

// Accept the published `change_set` shape and the flat body alike.
function normalize(request) {
  const cs = request.change_set && typeof request.change_set === "object" ? request.change_set : request;
  const target = cs.target ?? request.target;
  const guards = cs.guards ?? request.guards;
  const job = {
    proposalId: request.proposal_id,
    idempotencyKey: request.idempotency_key,
    action: cs.action ?? request.action,
    tenantId: cs.scope?.tenant_id ?? guards?.tenant?.value,
    objectId: cs.scope?.object_id ?? target?.primary_key?.value,
    target,
    tenantGuard: guards?.tenant,
    expectedVersion: guards?.expected_version,
    patch: cs.patch ?? request.patch,
    dryRun: request.dry_run === true,
  };
  const ok =
    typeof job.proposalId === "string" && job.proposalId &&
    typeof job.idempotencyKey === "string" && job.idempotencyKey &&
    typeof job.action === "string" && job.tenantId != null && job.objectId != null &&
    target && job.tenantGuard && job.expectedVersion && job.patch && typeof job.patch === "object" &&
    Object.keys(job.patch).length > 0;
  return ok ? job : null;
}

function targetMatches(action, job) {
  const t = action.target;
  return (
    job.target.schema === t.schema && job.target.table === t.table &&
    job.target.primary_key?.column === t.primaryKey && job.tenantGuard.column === t.tenant &&
    String(job.tenantGuard.value) === String(job.tenantId) &&
    job.expectedVersion.column === t.version &&
    Object.keys(job.patch).every((c) => action.columns.includes(c))
  );
}

// Everything happens in one transaction: idempotency claim, row lock, version check, the
// business write and the receipt. An error anywhere rolls all of it back.
async function applyJob(client, job) {
  const action = ACTIONS[job.action];
  if (!action) return failed("UNSUPPORTED_ACTION");
  if (!targetMatches(action, job)) return failed("TARGET_NOT_ALLOWED");
  const t = action.target;
  await client.query(`CREATE TABLE IF NOT EXISTS ${RECEIPTS} (
    idempotency_key text PRIMARY KEY,
    proposal_id text NOT NULL,
    action text NOT NULL,
    status text NOT NULL,
    receipt_json jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz)`);
  try {
    await client.query("BEGIN");
    const claim = await client.query(
      `INSERT INTO ${RECEIPTS} (idempotency_key, proposal_id, action, status, receipt_json)
       VALUES ($1, $2, $3, 'in_progress', '{}') ON CONFLICT (idempotency_key) DO NOTHING RETURNING 1`,
      [job.idempotencyKey, job.proposalId, job.action],
    );
    if (claim.rowCount === 0) {
      const prior = await client.query(`SELECT status, receipt_json FROM ${RECEIPTS} WHERE idempotency_key = $1 FOR UPDATE`, [
        job.idempotencyKey,
      ]);
      const status = prior.rows[0]?.status;
      if (status === "applied" || status === "already_applied") {
        await client.query("COMMIT");
        return { ...prior.rows[0].receipt_json, status: "already_applied", rows_affected: 0, source_database_mutated: false };
      }
      // A stored conflict or failure is evaluated again below.
    }
    const table = `${ident(t.schema)}.${ident(t.table)}`;
    const locked = await client.query(
      `SELECT to_jsonb(${ident(t.version)}) #>> '{}' AS version FROM ${table}
       WHERE ${ident(t.primaryKey)} = $1 AND ${ident(t.tenant)} = $2 FOR UPDATE`,
      [job.objectId, job.tenantId],
    );
    let receipt;
    if (locked.rowCount !== 1) {
      receipt = { status: "conflict", rows_affected: 0, source_database_mutated: false, safe_error_code: "ROW_NOT_FOUND_OR_WRONG_TENANT" };
    } else {
      // Postgres compares the expected value with the column in the column's own type.
      const same = await client.query(
        `SELECT 1 FROM ${table} WHERE ${ident(t.primaryKey)} = $1 AND ${ident(t.tenant)} = $2
         AND ${ident(t.version)} IS NOT DISTINCT FROM $3`,
        [job.objectId, job.tenantId, job.expectedVersion.value],
      );
      const previous = locked.rows[0].version;
      if (same.rowCount !== 1) {
        receipt = { status: "conflict", rows_affected: 0, previous_version: previous, source_database_mutated: false, safe_error_code: "ROW_CHANGED_AFTER_PROPOSAL" };
      } else if (job.dryRun) {
        await client.query("ROLLBACK");
        return { status: "applied", rows_affected: 0, source_database_mutated: false, safe_error_code: null, details: { dry_run: true } };
      } else {
        const effect = await action.apply(client, job, locked.rows[0]);
        if (effect.rowsAffected !== 1) throw new Error("business write did not touch exactly one row");
        receipt = { status: "applied", rows_affected: effect.rowsAffected, previous_version: previous, new_version: effect.newVersion, source_database_mutated: true, safe_error_code: null };
      }
    }
    await client.query(
      `INSERT INTO ${RECEIPTS} (idempotency_key, proposal_id, action, status, receipt_json, completed_at)
       VALUES ($1, $2, $3, $4, $5::jsonb, now())
       ON CONFLICT (idempotency_key) DO UPDATE SET status = EXCLUDED.status, receipt_json = EXCLUDED.receipt_json, completed_at = EXCLUDED.completed_at`,
      [job.idempotencyKey, job.proposalId, job.action, receipt.status, JSON.stringify(receipt)],
    );
    await client.query("COMMIT");
    return receipt;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    // Log the cause for operators; the receipt carries only a safe code.
    console.error("writeback failed:", err?.message ?? err);
    return failed("HANDLER_EXCEPTION");
  }
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

async function main() {
  let request;
  try {
    request = JSON.parse((await readStdin()) || "{}");
  } catch {
    return failed("BAD_JSON");
  }
  const version = request.protocol_version ?? request.schema_version ?? "1.0";
  if (version !== "1.0" && version !== "synapsor.handler-writeback.v1") return failed("UNSUPPORTED_PROTOCOL_VERSION");
  const job = normalize(request);
  if (!job) return failed("BAD_WRITEBACK_REQUEST");
  if (!process.env.APP_DATABASE_URL) return failed("HANDLER_NOT_CONFIGURED");
  const client = new pg.Client({ connectionString: process.env.APP_DATABASE_URL });
  try {
    await client.connect();
    return await applyJob(client, job);
  } catch (err) {
    console.error("writeback failed:", err?.message ?? err);
    return failed("HANDLER_EXCEPTION");
  } finally {
    await client.end().catch(() => {});
  }
}

process.stdout.write(JSON.stringify(await main()) + "\n");
