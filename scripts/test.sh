#!/usr/bin/env bash
# Runs every check: lint, types, all tests, and the retrieval evaluation against its floors.
# Sets up .venv first if needed.
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
echo "== eval (dev split, floors in eval/floors.json)"
.venv/bin/python -m eval --split dev --floors eval/floors.json --report .artifacts/eval
# The VS Code extension in a real editor (code-server + chromium, minutes): not yet part of CI while
# its acceptance scenario is being finished (issue 5); run it with CARRYOVER_EDITOR=1.
if [ "${CARRYOVER_EDITOR:-}" = "1" ]; then
  echo "== editor"
  bash scripts/test-editor.sh
else
  echo "== editor: not run (CARRYOVER_EDITOR=1 runs it)"
fi
