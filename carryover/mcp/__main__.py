"""``python -m carryover.mcp [--db POOL]``."""

import sys

from carryover.mcp.server import run

if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
