#!/usr/bin/env bash
# The editor stage: the VS Code extension tested in a real VS Code (code-server 4.139.1 = VS Code
# 1.139.1) driven by Debian's chromium (tests/editor/README.md).
#   1. scripts/editor-env.sh            chromium, Node 24, code-server, playwright-core (cached in .work/editor)
#   2. client-vscode: npm ci, npm run check (tsc, eslint, no import circle), npm run test:unit (node:test
#      on the pure modules, no editor; its counts join the totals), npm run package -> build/carryover.vsix
#   3. tests/editor/api-tests.mjs       the extension's own vscode-API tests inside the editor
#   4. tests/editor/scenario.mjs        the acceptance scenario through the UI, first-run install included
#   5. tests/editor/demo.mjs            scripts/demo-editor.sh (the README's first command's editor part)
# Screenshots and, on failure, logs: $CARRYOVER_ARTIFACTS (default .artifacts/editor).
# Ends with "N passed, M failed"; exits non-zero when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
export CARRYOVER_ARTIFACTS="${CARRYOVER_ARTIFACTS:-$ROOT/.artifacts/editor}"
mkdir -p "$CARRYOVER_ARTIFACTS"
T0=$(date +%s)
phase() { echo "== editor [$(( $(date +%s) - T0 ))s] $*"; }
PASSED=0
FAILED=0
# add the "N passed, M failed" of a test program's last such line to the totals
tally() {
  local line
  line=$(grep -Eo '[0-9]+ passed, [0-9]+ failed' "$1" | tail -1)
  if [ -z "$line" ]; then FAILED=$((FAILED + 1)); return; fi
  PASSED=$((PASSED + $(echo "$line" | cut -d' ' -f1)))
  FAILED=$((FAILED + $(echo "$line" | cut -d' ' -f3)))
}
finish() {
  phase "done"
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
  exit $?
}

phase "editor environment"
if ! bash scripts/editor-env.sh; then FAILED=$((FAILED + 1)); finish; fi
[ -x .venv/bin/carryover ] || bash scripts/setup.sh
NODE="$ROOT/.work/editor/node24/bin/node"

phase "client-vscode: npm ci, npm run check, npm run test:unit, npm run package"
UNIT_LOG="$CARRYOVER_ARTIFACTS/unit.log"
rm -f "$UNIT_LOG"
if (cd client-vscode && timeout 900 npm ci --no-audit --no-fund --loglevel=error && timeout 600 npm run check \
    && timeout 300 npm run test:unit > "$UNIT_LOG" 2>&1 \
    && timeout 900 npm run package) > "$CARRYOVER_ARTIFACTS/build.log" 2>&1 \
    && [ -f client-vscode/build/carryover.vsix ]; then
  UNIT_PASS=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$UNIT_LOG" | tail -1)
  UNIT_FAIL=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$UNIT_LOG" | tail -1)
  echo "unit tests (npm run test:unit): ${UNIT_PASS:-0} passed, ${UNIT_FAIL:-0} failed"
  if [ -z "$UNIT_PASS" ] || [ "$UNIT_PASS" -eq 0 ]; then
    echo "FAIL: npm run test:unit ran no test (log: $UNIT_LOG)"; FAILED=$((FAILED + 1))
  else
    PASSED=$((PASSED + UNIT_PASS)); FAILED=$((FAILED + ${UNIT_FAIL:-0}))
  fi
  echo "built client-vscode/build/carryover.vsix ($(du -h client-vscode/build/carryover.vsix | cut -f1))"
else
  [ -f "$UNIT_LOG" ] && grep -E '^not ok|^# (pass|fail)' "$UNIT_LOG"
  tail -40 "$CARRYOVER_ARTIFACTS/build.log"
  echo "FAIL building the extension (log: $CARRYOVER_ARTIFACTS/build.log)"
  FAILED=$((FAILED + 1)); finish
fi

phase "the extension's API tests inside code-server"
timeout 900 "$NODE" tests/editor/api-tests.mjs 2>&1 | tee "$CARRYOVER_ARTIFACTS/api-tests.log"
tally "$CARRYOVER_ARTIFACTS/api-tests.log"

phase "acceptance scenario through the UI"
timeout 1800 "$NODE" tests/editor/scenario.mjs --vsix client-vscode/build/carryover.vsix 2>&1 \
  | tee "$CARRYOVER_ARTIFACTS/scenario.log"
tally "$CARRYOVER_ARTIFACTS/scenario.log"

phase "the demo's editor part (scripts/demo-editor.sh)"
timeout 1200 "$NODE" tests/editor/demo.mjs 2>&1 | tee "$CARRYOVER_ARTIFACTS/demo.log"
tally "$CARRYOVER_ARTIFACTS/demo.log"

echo "screenshots and logs: $CARRYOVER_ARTIFACTS"
finish
