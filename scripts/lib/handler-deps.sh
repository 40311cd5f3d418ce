#!/usr/bin/env bash
# Install what the handler templates and the worked example need, under one directory:
#
#   bash scripts/lib/handler-deps.sh target/handler-deps
#
#   <dir>/venv   Python venv with FastAPI, uvicorn and psycopg (pip)
#   <dir>/node   node_modules with Fastify and pg (npm)
#
# Versions are pinned so CI runs what was tested. Re-running is cheap: an install whose
# marker file exists is skipped. Any failure exits non-zero with the step that failed.
set -euo pipefail

dir=${1:?usage: handler-deps.sh DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

PY_PACKAGES=(fastapi==0.121.1 uvicorn==0.38.0 "psycopg[binary]==3.2.12")
NODE_PACKAGES=(fastify@5.6.1 pg@8.16.3)

say() { printf '[handler-deps] %s\n' "$*" >&2; }

py_marker="$dir/venv/.installed-$(printf '%s ' "${PY_PACKAGES[@]}" | sha256sum | cut -c1-12)"
if [[ ! -f $py_marker ]]; then
	say "python: creating venv and installing ${PY_PACKAGES[*]}"
	command -v python3 >/dev/null || { say "FAILED: python3 is not installed"; exit 1; }
	python3 -m venv "$dir/venv" || { say "FAILED: python3 -m venv (install python3-venv)"; exit 1; }
	"$dir/venv/bin/pip" install --quiet --disable-pip-version-check "${PY_PACKAGES[@]}" ||
		{ say "FAILED: pip install ${PY_PACKAGES[*]}"; exit 1; }
	touch "$py_marker"
fi

node_marker="$dir/node/.installed-$(printf '%s ' "${NODE_PACKAGES[@]}" | sha256sum | cut -c1-12)"
if [[ ! -f $node_marker ]]; then
	say "node: installing ${NODE_PACKAGES[*]}"
	command -v npm >/dev/null || { say "FAILED: npm is not installed"; exit 1; }
	mkdir -p "$dir/node"
	[[ -f $dir/node/package.json ]] || printf '{"private": true}\n' >"$dir/node/package.json"
	npm install --prefix "$dir/node" --no-audit --no-fund --silent "${NODE_PACKAGES[@]}" ||
		{ say "FAILED: npm install ${NODE_PACKAGES[*]}"; exit 1; }
	touch "$node_marker"
fi
say "ready: $dir"
