#!/usr/bin/env bash
# Run the whole Sluicegate test suite against real, throwaway PostgreSQL and
# MariaDB servers. Meant for a fresh Debian 12 machine, run as root:
#
#   bash scripts/test.sh                          # all tiers
#   bash scripts/test.sh --no-lint                # skip cargo fmt / clippy
#   bash scripts/test.sh --env-only -- CMD ARGS   # run CMD with the databases up
#
# Missing Debian packages (postgresql, mariadb-server) are installed without
# starting the system services; the system-wide instances are never touched.
# The servers run from a temp dir on free loopback ports and are removed on
# exit. The tests get:
#
#   SLUICEGATE_TEST_POSTGRES_URL  postgres://sluicegate:PW@127.0.0.1:PORT/postgres (superuser)
#   SLUICEGATE_TEST_MYSQL_URL     mysql://sluicegate:PW@127.0.0.1:PORT (all privileges)
#
# Tiers run in order and stop at the first failure: fmt, clippy, test, then
# every scripts/tiers.d/*.sh (sourced in a subshell, in lexical order).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
cd "$REPO_ROOT"

ENGINES_LOG_PREFIX='[test.sh]'
# shellcheck source=scripts/lib/engines.sh
source "$SCRIPT_DIR/lib/engines.sh"

log() { printf '[test.sh] %s\n' "$*" >&2; }

usage() {
	cat >&2 <<'EOF'
usage: bash scripts/test.sh [--no-lint]
       bash scripts/test.sh --env-only -- COMMAND [ARGS...]

  --no-lint    skip the fmt and clippy tiers
  --env-only   start the databases, export SLUICEGATE_TEST_POSTGRES_URL and
               SLUICEGATE_TEST_MYSQL_URL, run COMMAND instead of the tiers,
               then tear everything down (exit status is COMMAND's)
EOF
}

ENV_ONLY=0
NO_LINT=0
COMMAND=()
while (($# > 0)); do
	case $1 in
	--env-only) ENV_ONLY=1 ;;
	--no-lint) NO_LINT=1 ;;
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

tier_fmt() { cargo fmt --all -- --check; }
tier_clippy() { cargo clippy --workspace --all-targets --locked -- -D warnings; }
tier_test() { cargo test --workspace --locked; }

TIERS=(fmt clippy test)
LINT_TIERS=(fmt clippy)

# Run one tier in a subshell with errexit on; stop the script on failure.
run_tier() {
	local name=$1 start=$SECONDS rc
	shift
	log "tier $name: starting"
	set +e
	(
		set -euo pipefail
		"$@"
	)
	rc=$?
	set -e
	if ((rc != 0)); then
		log "FAILED: tier $name (exit $rc)"
		exit "$rc"
	fi
	log "tier $name: passed ($((SECONDS - start)) s)"
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
engines_ensure_packages
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
log "all tiers passed"
