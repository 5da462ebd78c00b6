"""``python -m server``: the Carryover language server (see server/main.py)."""

import sys

from server.main import run

sys.exit(run())
