#!/usr/bin/env bash
# Build and run the coverage-guided fuzz targets in fuzz/ (cargo-fuzz, libFuzzer) on the
# stable toolchain. Each target runs for SECONDS; any crash, failed property, leak or timeout
# fails the script. docs/testing.md says what each target checks.
#
#   bash scripts/fuzz.sh                 # every target, 60 s each (the CI smoke)
#   bash scripts/fuzz.sh 3600            # every target for an hour (the longer run)
#   bash scripts/fuzz.sh 600 config_loading argument_validation
#
# Environment:
#   SLUICEGATE_FUZZ_SANITIZER  address (default) or none: libFuzzer's coverage guidance and
#                              the targets' assertions work either way; AddressSanitizer adds
#                              memory checks to the C code (SQLite) and the allocator
#
# cargo-fuzz is installed once (pinned, --locked) under target/tools. It needs nightly
# compiler flags (-Zsanitizer, sanitizer coverage); RUSTC_BOOTSTRAP=1 lets the stable
# toolchain accept them, for this build only. Builds go to target/fuzz, the corpus a run grows
# to target/fuzz-corpus/<target> (the committed seeds in fuzz/corpus/<target> are only read),
# and a failing input to target/fuzz-artifacts/<target>/, with the command that replays it.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
cd "$REPO_ROOT"

CARGO_FUZZ_VERSION=0.13.2
TARGETS_ALL=(jsonrpc_framing config_loading argument_validation)
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO_ROOT/target}
TOOLS=$TARGET_DIR/tools
SANITIZER=${SLUICEGATE_FUZZ_SANITIZER:-address}

log() { printf '[fuzz.sh] %s\n' "$*" >&2; }

SECONDS_EACH=60
if (($# > 0)); then
	if [[ $1 =~ ^[0-9]+$ ]] && (($1 > 0)); then
		SECONDS_EACH=$1
		shift
	elif [[ $1 == -h || $1 == --help ]]; then
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
		exit 0
	fi
fi
TARGETS=("$@")
((${#TARGETS[@]} > 0)) || TARGETS=("${TARGETS_ALL[@]}")
for t in "${TARGETS[@]}"; do
	if [[ ! -f fuzz/fuzz_targets/$t.rs ]]; then
		log "unknown fuzz target: $t (targets: ${TARGETS_ALL[*]})"
		exit 2
	fi
done
case $SANITIZER in
address | none) ;;
*)
	log "SLUICEGATE_FUZZ_SANITIZER must be address or none, not $SANITIZER"
	exit 2
	;;
esac

# cargo-fuzz, once, at the pinned version.
export PATH=$TOOLS/bin:$PATH
if ! cargo fuzz --version 2>/dev/null | grep -qx "cargo-fuzz $CARGO_FUZZ_VERSION"; then
	log "installing cargo-fuzz $CARGO_FUZZ_VERSION into $TOOLS"
	cargo install --locked --quiet --root "$TOOLS" --version "$CARGO_FUZZ_VERSION" cargo-fuzz
fi

# Nightly-only flags on the stable toolchain, for this build only.
export RUSTC_BOOTSTRAP=1
FUZZ_ARGS=(--fuzz-dir fuzz --target-dir "$TARGET_DIR/fuzz" --sanitizer "$SANITIZER")

started=$SECONDS
log "building ${TARGETS[*]} (sanitizer: $SANITIZER)"
for t in "${TARGETS[@]}"; do
	cargo fuzz build "${FUZZ_ARGS[@]}" "$t"
done
log "built in $((SECONDS - started)) s"

# Where a target's run writes its output and its failing inputs.
run_log() { printf '%s/fuzz-logs/%s.log' "$TARGET_DIR" "$1"; }
artifacts_of() { printf '%s/fuzz-artifacts/%s' "$TARGET_DIR" "$1"; }

# What a failed target said, repeated at the very end: a CI log shows only its last lines, and
# libFuzzer's stats and dictionary would push the reason out of them.
failure_summary() {
	local t=$1 out artifacts input
	out=$(run_log "$t")
	artifacts=$(artifacts_of "$t")
	log "--- $t: why it failed"
	grep -E -A12 'panicked at|^==[0-9]+==ERROR|^SUMMARY|ALARM|out-of-memory|deadly signal' "$out" |
		grep -v -E '^#[0-9]+|^ +[0-9]+: |^note: ' | head -40 >&2 || true
	input=$(find "$artifacts" -type f -newer "$out.started" | head -1)
	if [[ -n $input ]]; then
		log "--- $t: the failing input ($input), base64:"
		base64 -w0 "$input" >&2
		printf '\n' >&2
	fi
}

failed=()
for t in "${TARGETS[@]}"; do
	corpus=$TARGET_DIR/fuzz-corpus/$t
	artifacts=$(artifacts_of "$t")
	mkdir -p "$corpus" "$artifacts"
	log "running $t for $SECONDS_EACH s (corpus $corpus, seeds fuzz/corpus/$t)"
	t_started=$SECONDS
	log_file=$(run_log "$t")
	mkdir -p "$(dirname "$log_file")"
	touch "$log_file.started"
	# New inputs go to the first corpus directory; the committed seeds are read, not written.
	# -timeout: one input taking this long is a failure (a hang), not a slow run.
	if cargo fuzz run "${FUZZ_ARGS[@]}" "$t" "$corpus" "fuzz/corpus/$t" -- \
		-max_total_time="$SECONDS_EACH" -timeout=30 -rss_limit_mb=4096 \
		-artifact_prefix="$artifacts/" \
		-print_final_stats=1 2>&1 | tee "$log_file" >&2; then
		log "$t: no failure in $((SECONDS - t_started)) s ($(find "$corpus" -type f | wc -l) corpus inputs)"
	else
		log "FAILED: $t; the failing input is in $artifacts/ (replay: cargo fuzz run ${FUZZ_ARGS[*]} $t <file>)"
		failed+=("$t")
	fi
done

if ((${#failed[@]} > 0)); then
	for t in "${failed[@]}"; do
		failure_summary "$t"
	done
	log "FAILED: ${failed[*]}"
	exit 1
fi
log "all fuzz targets passed (${TARGETS[*]}, $SECONDS_EACH s each) in $((SECONDS - started)) s"
