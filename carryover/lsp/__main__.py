"""``python -m carryover.lsp``: the Carryover language server (= ``carryover serve``)."""

import sys

from carryover.lsp.main import run

sys.exit(run())
