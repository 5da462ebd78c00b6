#!/usr/bin/env bash
# Sets everything up, then runs the product on a demo pool: imports a few memories learned in other
# languages and asks the pool about a Python error. The pool lives in .work/demo-pool.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CARRYOVER_HOME="$PWD/.work/demo-home"
POOL=".work/demo-pool"
.venv/bin/carryover --db "$POOL" import examples/memories.jsonl || true
echo
echo '$ carryover search "TypeError: '"'"'NoneType'"'"' object is not subscriptable" --language python'
.venv/bin/carryover --db "$POOL" search "TypeError: 'NoneType' object is not subscriptable" --language python
echo
.venv/bin/carryover --db "$POOL" stats --plot .work/demo-pool.png
bash scripts/demo-editor.sh
