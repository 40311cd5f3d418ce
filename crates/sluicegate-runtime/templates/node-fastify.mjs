// Sluicegate app-owned writeback handler: Node.js + Fastify + PostgreSQL (pg).
//
// IMPORTANT: this handler owns the final business write. Sluicegate only delivers a request
// that a human approved; everything below runs in YOUR application, with YOUR database
// credentials, so it must re-check, inside one database transaction:
//   * tenant / scope       - lock the row by primary key AND tenant, or you allow cross-tenant writes
//   * expected version     - compare the conflict-guard column, or you allow lost updates
//   * idempotency key      - record it in the same transaction, or a retry makes duplicate writes
//   * allowed action       - only actions listed in ACTIONS run; identifiers never come from the request
//   * transaction/rollback - any error rolls everything back, receipt included
//   * safe receipts        - answer status, rows_affected, source_database_mutated and a safe
//                            error code; never echo SQL errors, tokens or row data of others
//
// Run:   npm install fastify pg
//        SLUICEGATE_HANDLER_TOKEN=... SLUICEGATE_HANDLER_SIGNING_SECRET=... \
//        APP_DATABASE_URL=postgres://app_writer@127.0.0.1/app node sluicegate-writeback-handler.mjs
// Then point an `http_handler` executor's url_env at http://127.0.0.1:8787/synapsor/writeback
// and give its auth.token_env / signing_secret_env the same two values.

import crypto from "node:crypto";
import Fastify from "fastify";
import pg from "pg";

const PORT = Number(process.env.PORT ?? 8787);
const HOST = process.env.HOST ?? "127.0.0.1";
const TOKEN_ENV = "SLUICEGATE_HANDLER_TOKEN";
const SECRET_ENV = "SLUICEGATE_HANDLER_SIGNING_SECRET";
// Requests issued more than this far from our clock are refused (replay window).
const MAX_SKEW_MS = 5 * 60 * 1000;
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
      const values = cols.map((c) => job.patch[c]);
      const t = this.target;
      const res = await tx.query(
        `UPDATE ${ident(t.schema)}.${ident(t.table)} SET ${sets.join(", ")}, ${ident(t.version)} = now()
         WHERE ${ident(t.primaryKey)} = $${cols.length + 1} AND ${ident(t.tenant)} = $${cols.length + 2}
         RETURNING to_jsonb(${ident(t.version)}) #>> '{}' AS version`,
        [...values, job.objectId, job.tenantId],
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

function sameSecret(a, b) {
  const x = Buffer.from(String(a));
  const y = Buffer.from(String(b));
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

// Bearer, HMAC-SHA256 signature over the exact body bytes, and the issued-at replay window.
function authenticate(headers, raw) {
  const token = process.env[TOKEN_ENV];
  const secret = process.env[SECRET_ENV];
  if (!token || !secret) return [500, failed("HANDLER_NOT_CONFIGURED")];
  if (!sameSecret(headers.authorization ?? "", `Bearer ${token}`)) return [401, failed("UNAUTHORIZED")];
  const want = "sha256=" + crypto.createHmac("sha256", secret).update(raw).digest("hex");
  if (!sameSecret(headers["x-synapsor-signature"] ?? "", want)) return [401, failed("INVALID_SIGNATURE")];
  const issued = Date.parse(headers["x-synapsor-issued-at"] ?? "");
  if (!Number.isFinite(issued) || Math.abs(Date.now() - issued) > MAX_SKEW_MS) {
    return [401, failed("INVALID_ISSUED_AT")];
  }
  return null;
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

const pool = new pg.Pool({ connectionString: process.env.APP_DATABASE_URL, max: 4 });

async function ensureReceiptTable() {
  await pool.query(`CREATE TABLE IF NOT EXISTS ${RECEIPTS} (
    idempotency_key text PRIMARY KEY,
    proposal_id text NOT NULL,
    action text NOT NULL,
    status text NOT NULL,
    receipt_json jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz)`);
}

// Everything happens in one transaction: idempotency claim, row lock, version check, the
// business write and the receipt. An error anywhere rolls all of it back.
async function applyJob(job) {
  const action = ACTIONS[job.action];
  if (!action) return [400, failed("UNSUPPORTED_ACTION")];
  if (!targetMatches(action, job)) return [400, failed("TARGET_NOT_ALLOWED")];
  const t = action.target;
  const tx = await pool.connect();
  try {
    await tx.query("BEGIN");
    const claim = await tx.query(
      `INSERT INTO ${RECEIPTS} (idempotency_key, proposal_id, action, status, receipt_json)
       VALUES ($1, $2, $3, 'in_progress', '{}') ON CONFLICT (idempotency_key) DO NOTHING RETURNING 1`,
      [job.idempotencyKey, job.proposalId, job.action],
    );
    if (claim.rowCount === 0) {
      const prior = await tx.query(`SELECT status, receipt_json FROM ${RECEIPTS} WHERE idempotency_key = $1 FOR UPDATE`, [
        job.idempotencyKey,
      ]);
      const status = prior.rows[0]?.status;
      if (status === "applied" || status === "already_applied") {
        await tx.query("COMMIT");
        const stored = prior.rows[0].receipt_json;
        return [200, { ...stored, status: "already_applied", rows_affected: 0, source_database_mutated: false }];
      }
      // A stored conflict or failure is evaluated again below.
    }
    const table = `${ident(t.schema)}.${ident(t.table)}`;
    const locked = await tx.query(
      `SELECT to_jsonb(${ident(t.version)}) #>> '{}' AS version FROM ${table}
       WHERE ${ident(t.primaryKey)} = $1 AND ${ident(t.tenant)} = $2 FOR UPDATE`,
      [job.objectId, job.tenantId],
    );
    let receipt;
    if (locked.rowCount !== 1) {
      receipt = { status: "conflict", rows_affected: 0, source_database_mutated: false, safe_error_code: "ROW_NOT_FOUND_OR_WRONG_TENANT" };
    } else {
      // Postgres compares the expected value with the column in the column's own type.
      const same = await tx.query(
        `SELECT 1 FROM ${table} WHERE ${ident(t.primaryKey)} = $1 AND ${ident(t.tenant)} = $2
         AND ${ident(t.version)} IS NOT DISTINCT FROM $3`,
        [job.objectId, job.tenantId, job.expectedVersion.value],
      );
      const previous = locked.rows[0].version;
      if (same.rowCount !== 1) {
        receipt = { status: "conflict", rows_affected: 0, previous_version: previous, source_database_mutated: false, safe_error_code: "ROW_CHANGED_AFTER_PROPOSAL" };
      } else if (job.dryRun) {
        await tx.query("ROLLBACK");
        return [200, { status: "applied", rows_affected: 0, source_database_mutated: false, safe_error_code: null, details: { dry_run: true } }];
      } else {
        const effect = await action.apply(tx, job, locked.rows[0]);
        if (effect.rowsAffected !== 1) throw new Error("business write did not touch exactly one row");
        receipt = { status: "applied", rows_affected: effect.rowsAffected, previous_version: previous, new_version: effect.newVersion, source_database_mutated: true, safe_error_code: null };
      }
    }
    await tx.query(
      `INSERT INTO ${RECEIPTS} (idempotency_key, proposal_id, action, status, receipt_json, completed_at)
       VALUES ($1, $2, $3, $4, $5::jsonb, now())
       ON CONFLICT (idempotency_key) DO UPDATE SET status = EXCLUDED.status, receipt_json = EXCLUDED.receipt_json, completed_at = EXCLUDED.completed_at`,
      [job.idempotencyKey, job.proposalId, job.action, receipt.status, JSON.stringify(receipt)],
    );
    await tx.query("COMMIT");
    return [200, receipt];
  } catch (err) {
    await tx.query("ROLLBACK").catch(() => {});
    // Log the cause for operators; the receipt carries only a safe code.
    console.error("writeback failed:", err?.message ?? err);
    return [500, failed("HANDLER_EXCEPTION")];
  } finally {
    tx.release();
  }
}

const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
// Keep the exact bytes: the signature covers them, not a re-serialisation.
app.addContentTypeParser("application/json", { parseAs: "buffer" }, (_req, body, done) => done(null, body));

app.post("/synapsor/writeback", async (request, reply) => {
  const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.from("");
  const denied = authenticate(request.headers, raw);
  if (denied) return reply.code(denied[0]).send(denied[1]);
  let body;
  try {
    body = JSON.parse(raw.toString("utf8") || "{}");
  } catch {
    return reply.code(400).send(failed("BAD_JSON"));
  }
  if (body.issued_at !== request.headers["x-synapsor-issued-at"]) return reply.code(401).send(failed("INVALID_ISSUED_AT"));
  const version = body.protocol_version ?? body.schema_version ?? "1.0";
  if (version !== "1.0" && version !== "synapsor.handler-writeback.v1") {
    return reply.code(400).send(failed("UNSUPPORTED_PROTOCOL_VERSION"));
  }
  const job = normalize(body);
  if (!job) return reply.code(400).send(failed("BAD_WRITEBACK_REQUEST"));
  const [status, receipt] = await applyJob(job);
  return reply.code(status).send(receipt);
});

await ensureReceiptTable();
await app.listen({ port: PORT, host: HOST });
console.error(`sluicegate writeback handler listening on http://${HOST}:${PORT}/synapsor/writeback`);
