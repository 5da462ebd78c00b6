"""What capture keeps of text the tools produce, and which line of it tells the problem.

One set of limits for every capture source (editor documents, editor terminals, the shell hook, the
file watcher) and for distillation, and one picker of a failure's telling line for the hover, the
distillers and the CLI.
"""

from __future__ import annotations

import re

OUTPUT_HEAD_CHARS = 2000
"""Characters kept of the start of a command's output."""
OUTPUT_TAIL_CHARS = 4000
"""Characters kept of the end of a command's output (where test runners and compilers summarise)."""
DIFF_LINES = 160
DIFF_CHARS = 8000
DIFF_INPUT_CHARS = 2_000_000
"""Documents larger than this (characters) are not diffed: difflib is slow on them."""
DIAGNOSTICS_PER_DOCUMENT = 30
MESSAGE_CHARS = 600
ERROR_LINE_CHARS = 300

_TYPED_ERROR = re.compile(
    r"^\s*(?:[\w.]+(?:Error|Exception)|error(?:\[\w+\])?|panic|fatal|FAIL(?:ED)?)\b.*?:", re.IGNORECASE
)
_ANY_ERROR = re.compile(
    r"\b(?:error|errors|failed|failure|panic(?:ked)?|fatal|cannot|undefined|not found|exception|"
    r"assert(?:ion)?|denied|refused|timed? ?out)\b",
    re.IGNORECASE,
)
_STACK_FRAME = re.compile(r"^\s*(?:at |File \"|Traceback \(most recent call last\)|\^+$|~+$)")


def error_line(output: str) -> str | None:
    """The most telling line of a failed command's output: the first typed error (``TypeError: …``,
    ``error[E0308]: …``, ``panic: …``), else the first line that mentions a failure, never a stack
    frame; None when no line does."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    lines = [line for line in lines if not _STACK_FRAME.match(line)]
    for pattern in (_TYPED_ERROR, _ANY_ERROR):
        for line in lines:
            if pattern.search(line):
                return line[:ERROR_LINE_CHARS]
    return None
