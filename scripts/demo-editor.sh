#!/usr/bin/env bash
# The editor part of the demo (scripts/demo.sh calls it; CARRYOVER_DEMO_NO_EDITOR=1 skips it):
# builds the VS Code extension (client-vscode/build/carryover.vsix) and opens examples/sample-workspace
# with it. The folder's settings (.vscode/settings.json, written here, not committed) start the daemon
# from this checkout's .venv on a demo pool (.work/demo-home/pool, holding examples/memories.jsonl), so
# the hovers work at once and your own pool is not touched; other folders use the extension's own
# environment (set up on first run) and your pool.
#   - `code` on PATH: installs the .vsix into your VS Code and opens the folder there (trust it when
#     asked: an untrusted folder's settings cannot start a command).
#   - otherwise: code-server (VS Code in the browser, from scripts/editor-env.sh) on
#     127.0.0.1:${CARRYOVER_DEMO_PORT:-8080} with the .vsix installed, in the foreground until Ctrl-C;
#     its state lives in .work/demo-editor/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
if [ "${CARRYOVER_DEMO_NO_EDITOR:-}" = "1" ]; then
  exit 0
fi
WS="$ROOT/examples/sample-workspace"
VSIX="$ROOT/client-vscode/build/carryover.vsix"

echo
echo "== the VS Code extension"
if [ ! -f "$VSIX" ] || [ -n "$(find client-vscode/src client-vscode/package.json -newer "$VSIX" 2>/dev/null | head -1)" ]; then
  echo "building $VSIX (npm ci, npm run package)"
  (cd client-vscode && npm ci --no-audit --no-fund --loglevel=error && npm run package >/dev/null)
fi

export CARRYOVER_HOME="$ROOT/.work/demo-home"
POOL="$CARRYOVER_HOME/pool"
.venv/bin/carryover --db "$POOL" import examples/memories.jsonl >/dev/null
mkdir -p "$WS/.vscode"
cat > "$WS/.vscode/settings.json" <<EOF
{
  "carryover.serverCommand": ["$ROOT/.venv/bin/carryover", "--db", "$POOL", "serve"]
}
EOF

if command -v code >/dev/null 2>&1; then
  code --install-extension "$VSIX" --force
  code "$WS"
  echo "Opened $WS in VS Code. Hover the marked lines in billing.py and report.js (see its README.md)."
  exit 0
fi

bash scripts/editor-env.sh
PORT="${CARRYOVER_DEMO_PORT:-8080}"
STATE="$ROOT/.work/demo-editor"
CS="$ROOT/.work/editor/cs/node_modules/.bin/code-server"
mkdir -p "$STATE/user-data/User" "$STATE/extensions" "$STATE/home"
cat > "$STATE/user-data/User/settings.json" <<EOF
{
  "workbench.startupEditor": "readme",
  "security.workspace.trust.enabled": false,
  "telemetry.telemetryLevel": "off",
  "update.mode": "none",
  "extensions.autoCheckUpdates": false,
  "terminal.integrated.defaultProfile.linux": "bash",
  "chat.disableAIFeatures": true
}
EOF
printf 'bind-addr: 127.0.0.1:%s\nauth: none\ncert: false\n' "$PORT" > "$STATE/config.yaml"
export PATH="$ROOT/.work/editor/node24/bin:$PATH"
ARGS=(--config "$STATE/config.yaml" --user-data-dir "$STATE/user-data" --extensions-dir "$STATE/extensions")
"$CS" "${ARGS[@]}" --install-extension "$VSIX" --force >/dev/null
echo
echo "Open http://127.0.0.1:$PORT/?folder=$WS in a browser"
echo "(VS Code 1.139.1 in code-server with Carryover; hover the marked lines of billing.py and report.js). Ctrl-C stops it."
exec "$CS" "${ARGS[@]}" --disable-telemetry --disable-update-check --disable-workspace-trust \
  --disable-getting-started-override "$WS"
