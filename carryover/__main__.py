"""``python -m carryover``: the command line (= ``carryover``)."""

import sys

from carryover.cli import main

sys.exit(main())
