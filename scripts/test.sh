#!/usr/bin/env bash
# Runs every check: lint, types, and all tests. Sets up .venv first if needed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/system-deps.sh
echo "== ruff"
.venv/bin/ruff check memory_store server tests benchmarks eval
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
.venv/bin/pytest -q -p no:cacheprovider "$@"
