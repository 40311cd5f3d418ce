"""Sluicegate app-owned writeback handler: Python + FastAPI + PostgreSQL (psycopg 3).

IMPORTANT: this handler owns the final business write. Sluicegate only delivers a request that
a human approved; everything below runs in YOUR application, with YOUR database credentials, so
it must re-check, inside one database transaction:
  * tenant / scope       - lock the row by primary key AND tenant, or you allow cross-tenant writes
  * expected version     - compare the conflict-guard column, or you allow lost updates
  * idempotency key      - record it in the same transaction, or a retry makes duplicate writes
  * allowed action       - only actions listed in ACTIONS run; identifiers never come from the request
  * transaction/rollback - any error rolls everything back, receipt included
  * safe receipts        - answer status, rows_affected, source_database_mutated and a safe error
                           code; never echo SQL errors, tokens or row data of others

Run:   pip install fastapi uvicorn "psycopg[binary]"
       SLUICEGATE_HANDLER_TOKEN=... SLUICEGATE_HANDLER_SIGNING_SECRET=... \\
       APP_DATABASE_URL=postgresql://app_writer@127.0.0.1/app python sluicegate_writeback_handler.py
Then point an `http_handler` executor's url_env at http://127.0.0.1:8787/synapsor/writeback and
give its auth.token_env / signing_secret_env the same two values.
"""

import hashlib
import hmac
import json
import os
import re
import sys
from contextlib import asynccontextmanager
from datetime import datetime, timezone

import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

TOKEN_ENV = "SLUICEGATE_HANDLER_TOKEN"
SECRET_ENV = "SLUICEGATE_HANDLER_SIGNING_SECRET"
# Requests issued more than this far from our clock are refused (replay window).
MAX_SKEW_SECONDS = 300
RECEIPTS = '"public"."sluicegate_handler_receipts"'
SAFE_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def ident(name):
    if not isinstance(name, str) or not SAFE_IDENT.match(name):
        raise ValueError("unsafe identifier")
    return '"' + name + '"'


def apply_late_fee_waiver(cur, action, job, row):
    """The business write. `row` is the locked current row; job["patch"] holds approved values."""
    t = action["target"]
    cols = list(job["patch"].keys())
    sets = ", ".join(f"{ident(c)} = %s" for c in cols)
    cur.execute(
        f"UPDATE {ident(t['schema'])}.{ident(t['table'])} SET {sets}, {ident(t['version'])} = now() "
        f"WHERE {ident(t['primary_key'])} = %s AND {ident(t['tenant'])} = %s "
        f"RETURNING to_jsonb({ident(t['version'])}) #>> '{{}}'",
        [job["patch"][c] for c in cols] + [job["object_id"], job["tenant_id"]],
    )
    new = cur.fetchone()
    return {"rows_affected": cur.rowcount, "new_version": new[0] if new else None}


# The business actions this app accepts, keyed by capability name. The target is declared here
# and compared with the request: a request can never choose the table or columns.
ACTIONS = {
    "billing.propose_late_fee_waiver": {
        "target": {"schema": "public", "table": "invoices", "primary_key": "id", "tenant": "tenant_id", "version": "updated_at"},
        "columns": ["late_fee_cents", "waiver_reason"],
        "apply": apply_late_fee_waiver,
    },
}


def failed(code):
    return {"status": "failed", "rows_affected": 0, "source_database_mutated": False, "safe_error_code": code}


def authenticate(headers, raw):
    """Bearer, HMAC-SHA256 signature over the exact body bytes, and the issued-at replay window."""
    token = os.environ.get(TOKEN_ENV)
    secret = os.environ.get(SECRET_ENV)
    if not token or not secret:
        return 500, failed("HANDLER_NOT_CONFIGURED")
    if not hmac.compare_digest(headers.get("authorization", ""), "Bearer " + token):
        return 401, failed("UNAUTHORIZED")
    want = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(headers.get("x-synapsor-signature", ""), want):
        return 401, failed("INVALID_SIGNATURE")
    try:
        issued = datetime.fromisoformat(headers.get("x-synapsor-issued-at", "").replace("Z", "+00:00"))
    except ValueError:
        return 401, failed("INVALID_ISSUED_AT")
    if issued.tzinfo is None or abs((datetime.now(timezone.utc) - issued).total_seconds()) > MAX_SKEW_SECONDS:
        return 401, failed("INVALID_ISSUED_AT")
    return None


def normalize(request):
    """Accept the published `change_set` shape and the flat body alike."""
    cs = request.get("change_set") if isinstance(request.get("change_set"), dict) else request
    target = cs.get("target") or request.get("target") or {}
    guards = cs.get("guards") or request.get("guards") or {}
    scope = cs.get("scope") or {}
    job = {
        "proposal_id": request.get("proposal_id"),
        "idempotency_key": request.get("idempotency_key"),
        "action": cs.get("action") or request.get("action"),
        "tenant_id": scope.get("tenant_id", (guards.get("tenant") or {}).get("value")),
        "object_id": scope.get("object_id", (target.get("primary_key") or {}).get("value")),
        "target": target,
        "tenant_guard": guards.get("tenant"),
        "expected_version": guards.get("expected_version"),
        "patch": cs.get("patch") or request.get("patch"),
        "dry_run": request.get("dry_run") is True,
    }
    ok = (
        isinstance(job["proposal_id"], str) and job["proposal_id"]
        and isinstance(job["idempotency_key"], str) and job["idempotency_key"]
        and isinstance(job["action"], str)
        and job["tenant_id"] is not None and job["object_id"] is not None
        and isinstance(job["tenant_guard"], dict) and isinstance(job["expected_version"], dict)
        and isinstance(job["patch"], dict) and job["patch"]
    )
    return job if ok else None


def target_matches(action, job):
    t = action["target"]
    return (
        job["target"].get("schema") == t["schema"]
        and job["target"].get("table") == t["table"]
        and (job["target"].get("primary_key") or {}).get("column") == t["primary_key"]
        and job["tenant_guard"].get("column") == t["tenant"]
        and str(job["tenant_guard"].get("value")) == str(job["tenant_id"])
        and job["expected_version"].get("column") == t["version"]
        and all(c in action["columns"] for c in job["patch"])
    )


def ensure_receipt_table():
    with psycopg.connect(os.environ["APP_DATABASE_URL"], autocommit=True) as conn:
        conn.execute(
            f"""CREATE TABLE IF NOT EXISTS {RECEIPTS} (
                idempotency_key text PRIMARY KEY,
                proposal_id text NOT NULL,
                action text NOT NULL,
                status text NOT NULL,
                receipt_json jsonb NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                completed_at timestamptz)"""
        )


class DryRun(Exception):
    """Raised inside the transaction so a dry run rolls back after all checks passed."""


def apply_job(job):
    """Idempotency claim, row lock, version check, business write and receipt: one transaction."""
    action = ACTIONS.get(job["action"])
    if action is None:
        return 400, failed("UNSUPPORTED_ACTION")
    if not target_matches(action, job):
        return 400, failed("TARGET_NOT_ALLOWED")
    t = action["target"]
    table = f"{ident(t['schema'])}.{ident(t['table'])}"
    try:
        with psycopg.connect(os.environ["APP_DATABASE_URL"]) as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute(
                f"INSERT INTO {RECEIPTS} (idempotency_key, proposal_id, action, status, receipt_json) "
                "VALUES (%s, %s, %s, 'in_progress', '{}') ON CONFLICT (idempotency_key) DO NOTHING RETURNING 1",
                [job["idempotency_key"], job["proposal_id"], job["action"]],
            )
            if cur.fetchone() is None:
                cur.execute(f"SELECT status, receipt_json FROM {RECEIPTS} WHERE idempotency_key = %s FOR UPDATE", [job["idempotency_key"]])
                prior = cur.fetchone()
                if prior and prior[0] in ("applied", "already_applied"):
                    return 200, {**prior[1], "status": "already_applied", "rows_affected": 0, "source_database_mutated": False}
                # A stored conflict or failure is evaluated again below.
            cur.execute(
                f"SELECT to_jsonb({ident(t['version'])}) #>> '{{}}' FROM {table} "
                f"WHERE {ident(t['primary_key'])} = %s AND {ident(t['tenant'])} = %s FOR UPDATE",
                [job["object_id"], job["tenant_id"]],
            )
            row = cur.fetchone()
            if row is None:
                receipt = {"status": "conflict", "rows_affected": 0, "source_database_mutated": False, "safe_error_code": "ROW_NOT_FOUND_OR_WRONG_TENANT"}
            else:
                # Postgres compares the expected value with the column in the column's own type.
                cur.execute(
                    f"SELECT 1 FROM {table} WHERE {ident(t['primary_key'])} = %s AND {ident(t['tenant'])} = %s "
                    f"AND {ident(t['version'])} IS NOT DISTINCT FROM %s",
                    [job["object_id"], job["tenant_id"], job["expected_version"].get("value")],
                )
                if cur.fetchone() is None:
                    receipt = {"status": "conflict", "rows_affected": 0, "previous_version": row[0], "source_database_mutated": False, "safe_error_code": "ROW_CHANGED_AFTER_PROPOSAL"}
                elif job["dry_run"]:
                    raise DryRun()
                else:
                    effect = action["apply"](cur, action, job, row)
                    if effect["rows_affected"] != 1:
                        raise RuntimeError("business write did not touch exactly one row")
                    receipt = {"status": "applied", "rows_affected": 1, "previous_version": row[0], "new_version": effect["new_version"], "source_database_mutated": True, "safe_error_code": None}
            cur.execute(
                f"INSERT INTO {RECEIPTS} (idempotency_key, proposal_id, action, status, receipt_json, completed_at) "
                "VALUES (%s, %s, %s, %s, %s::jsonb, now()) ON CONFLICT (idempotency_key) DO UPDATE SET "
                "status = EXCLUDED.status, receipt_json = EXCLUDED.receipt_json, completed_at = EXCLUDED.completed_at",
                [job["idempotency_key"], job["proposal_id"], job["action"], receipt["status"], json.dumps(receipt)],
            )
            return 200, receipt
    except DryRun:
        return 200, {"status": "applied", "rows_affected": 0, "source_database_mutated": False, "safe_error_code": None, "details": {"dry_run": True}}
    except Exception as err:  # noqa: BLE001 - every failure becomes a safe receipt
        # Log the cause for operators; the receipt carries only a safe code.
        print(f"writeback failed: {type(err).__name__}", file=sys.stderr)
        return 500, failed("HANDLER_EXCEPTION")


@asynccontextmanager
async def lifespan(_app):
    ensure_receipt_table()
    yield


app = FastAPI(lifespan=lifespan)


@app.post("/synapsor/writeback")
async def writeback(request: Request):
    raw = await request.body()  # the exact bytes the signature covers
    denied = authenticate(request.headers, raw)
    if denied:
        return JSONResponse(status_code=denied[0], content=denied[1])
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        return JSONResponse(status_code=400, content=failed("BAD_JSON"))
    if not isinstance(body, dict):
        return JSONResponse(status_code=400, content=failed("BAD_WRITEBACK_REQUEST"))
    if body.get("issued_at") != request.headers.get("x-synapsor-issued-at"):
        return JSONResponse(status_code=401, content=failed("INVALID_ISSUED_AT"))
    version = body.get("protocol_version") or body.get("schema_version") or "1.0"
    if version not in ("1.0", "synapsor.handler-writeback.v1"):
        return JSONResponse(status_code=400, content=failed("UNSUPPORTED_PROTOCOL_VERSION"))
    job = normalize(body)
    if job is None:
        return JSONResponse(status_code=400, content=failed("BAD_WRITEBACK_REQUEST"))
    status, receipt = await run_in_threadpool(apply_job, job)
    return JSONResponse(status_code=status, content=receipt)


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", "8787")), log_level="warning")
