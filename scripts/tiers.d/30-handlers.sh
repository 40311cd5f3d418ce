# Tier: app-owned writeback handlers against real requests. Installs the template toolchains
# (FastAPI/uvicorn/psycopg via pip into a venv, Fastify/pg via npm) under target/handler-deps,
# then runs the handler template tests and the worked example on the PostgreSQL this script's
# caller started. Sourced by scripts/test.sh in a subshell with errexit on; any failure,
# including a test that skipped instead of running, fails the tier.

handler_deps="$REPO_ROOT/target/handler-deps"
bash "$REPO_ROOT/scripts/lib/handler-deps.sh" "$handler_deps"

handler_log=$(mktemp)
SLUICEGATE_HANDLER_DEPS="$handler_deps" cargo test -p sluicegate --locked \
	--test handler_templates --test handler_example -- --nocapture 2>&1 | tee "$handler_log"
if grep -q '^skipping:' "$handler_log"; then
	echo '[tiers.d/30-handlers] FAILED: a handler test skipped instead of running' >&2
	rm -f "$handler_log"
	exit 1
fi
passed=$(grep -Eo 'test result: ok\. [0-9]+ passed' "$handler_log" | awk '{s += $4} END {print s + 0}')
rm -f "$handler_log"
if ((passed < 5)); then
	echo "[tiers.d/30-handlers] FAILED: expected at least 5 handler tests to pass, saw $passed" >&2
	exit 1
fi
echo "[tiers.d/30-handlers] $passed handler tests passed" >&2
