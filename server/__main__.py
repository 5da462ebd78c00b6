"""``python -m server``: kept as an alias of ``carryover serve`` (carryover/lsp/main.py)."""

import sys

from carryover.lsp.main import run

sys.exit(run())
