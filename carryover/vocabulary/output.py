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

_NOISE_PREFIX = re.compile(
    r"^(?:E\s+(?=\S)|npm (?:ERR!|error)\s*|\[(?:ERROR|FATAL|SEVERE)\]\s*|[│┃]\s*|#\d+\s+(?=ERROR)|=>\s+|"
    r"\d+\.\d+\s+(?=\S))"
)
"""What a tool prints before its message (pytest's ``E``, ``npm ERR!``, Maven's ``[ERROR]``, Terraform's
box, BuildKit's step number or elapsed seconds): dropped from the line that is returned."""
_NOT_A_MESSAGE = re.compile(
    r"""^\s*(?:at\s|File\s"|Traceback\s\(most\srecent\scall\slast\)|[\^~]+$|-->\s|=\s(?:note|help):|
    (?:>\s*)?\d+\s*\||\||>\s{3,})""",
    re.VERBOSE,
)
"""Stack frames, the caret under a column, and the source excerpts compilers and test runners quote
(``12 | …``, pytest's ``>   …``): their words are the program's, not the tool's."""
_TYPED_AT_START = re.compile(
    r"^(?:[\w.$]*(?:Error|Exception)|[a-z]+\s+error|error(?:\[\w+\])?|panic|fatal|FAIL(?:ED)?|ERROR)\b[^:]{0,40}:\s+\S",
    re.IGNORECASE,
)
_TYPED_IN_LINE = re.compile(
    r"(?::\d+(?::\d+)?|\(\d+,\d+\)):?(?:\s+-)?\s+(?i:(?:fatal\s+)?error)\b[^:]{0,20}:\s*\S"  # file:3: error:
    r"|\b[A-Z]\w*(?:Error|Exception)\b(?::\s*\S|\))"  # … TypeError: …, … (NoMethodError)
    r"|\(\w*(?:Error|Exception)\)\s+\S"  # ** (KeyError) …
    r"|:\d+:\d+:\s+[A-Z]{1,3}\d{2,5}\b",  # file:line:col: F401 … (a linter's rule code)
)
_LOCATED = re.compile(r"^(?:\.{0,2}/)?[\w./-]+\.\w+:\d+(?::\d+)?:\s+\S|\((?:error|warning)\):\s+\S")
"""A compiler's or linter's ``file:line:col: message`` (Go prints no "error:" label), or a rule's
``(warning): message``."""
_FAILURE_WORDS = re.compile(
    r"\b(?:errors?|failed|failure|panic(?:ked)?|fatal|cannot|can't|could\s+not|couldn't|unable\s+to|"
    r"undefined|undeclared|not\s+found|no\s+such|does\s+not\s+exist|unbound\s+variable|missing|invalid|"
    r"exception|assert(?:ion)?|denied|refused|rejected|forbidden|unauthori[sz]ed|timed?\s?out|"
    r"conflict|mismatch(?:ed)?|incompatible|unresolved|segmentation\s+fault|core\s+dumped|"
    r"double\s+free|stack\s+smashing|out\s+of\s+memory|overflow|no\s+tests?\s+(?:ran|found|collected)|"
    r"collected\s+0\s+items|no\s+rule\s+to\s+make|needed|needs\s+to\s+be|already\s+(?:in\s+use|exists)|"
    r"would\s+(?:be\s+)?reformat(?:ted)?|not\s+(?:properly\s+)?formatted|needs?\s+formatting)\b"
    r"|^(?:---\s+FAIL:|not\s+ok\s+\d|●\s)",
    re.IGNORECASE,
)
_WRAP_UP = re.compile(
    r"""^(?:error:\s+(?:test\s+failed|could\s+not\s+compile|aborting\s+due\s+to|fatalError)|
    make(?:\[\d+\])?:\s+\*\*\*\s+\[|A\s+complete\s+log\s+of\s+this\s+run|
    (?:Test\s+Suites|Tests|Test\s+Files|Tests\s+run|Snapshots):|\d+\s+(?:examples?|tests?),\s+\d+\s+failures?|
    Failed\s+examples:|FAILURES!|There\s+(?:was|were)\s+\d+\s+(?:failures?|errors?):|
    BUILD\s+FAIL|FAILURE:\s+Build\s+failed|Execution\s+failed\s+for\s+task|>\s+Task\s+\S+\s+FAILED|
    >\s+Compilation\s+failed|Failed!\s+-|test\s+result:\s+FAILED|(?:FAIL|ok)(?:\s+\S+\s+[\d.]+s)?$|
    collected\s+\d+\s+items?\s+/|!+\s+Interrupted|=+\s+\d+\s+(?:failed|errors?)|\d+\s+errors?$|
    Found\s+\d+\s+errors?|✖\s+\d+\s+problems?|cc1:\s|Process\s+completed\s+with\s+exit\s+code|
    Aborted(?:\s+\(core\s+dumped\))?$|code\s+E[A-Z]+$|[^:]{1,40}:$|([_=*!-])\1{2,}\s.*\s\1{3,}$)""",
    re.VERBOSE,
)
"""Lines that only say that something failed (a runner's tally, a build's last word, a heading
without its message, a banner such as pytest's ``____ ERROR at setup of … ____``): the telling line
is elsewhere, so they are taken only when nothing else is."""
_WRAPPER = re.compile(
    r"\bexit\s+(?:code|status)\b|did\s+not\s+complete\s+successfully|\(Exit\s+\d+\)|"
    r"returned\s+(?:a\s+)?non-zero|\(Result:\s+exit-code\)|\bcode=exited\b|\(code\s+\d+\)",
    re.IGNORECASE,
)
"""A line that only says an inner command failed (a CI step's exit code, BuildKit's "did not complete
successfully", Bazel's "(Exit 1)", systemd's result, rsync's "(code 255)"): what failed is said elsewhere."""
_WARNING = re.compile(r"^(?:\S+:\d+(?::\d+)?:\s+)?(?i:warning)\b|\bWARN(?:ING)?\b")
"""A warning (labelled, or at that log level): taken only when no error is said (it is the failure
under ``-Werror`` or ``--warnings-as-errors``)."""
_ASIDE = re.compile(r"^(?:\S+:\d+(?::\d+)?:\s+)?(?i:notice|note|info|hint)\b|\b(?:NOTICE|INFO|DEBUG|TRACE)\b")
"""A notice, note or info line (labelled, or at that log level): never the telling line."""
_HEADER = re.compile(r"(?:\(message\):|\b(?i:error):(?:\s*\[[\w-]+\])?)$|^ERROR\s+in\s+\S+(?:\s+[\d:-]+)?$")
"""A heading whose message is on the next line (CMake's ``CMake Error at …:``, GHC's ``file:3:7: error:
[GHC-83865]``, webpack's ``ERROR in ./file 3:0-28``)."""
_PANIC_AT = re.compile(r"\bpanicked at \S+:\d+:\d+:$")
"""Rust 1.73+ prints the panic's message on the line after this one."""


def _message(line: str) -> str:
    return _NOISE_PREFIX.sub("", line, count=1).strip()


def _tier(message: str) -> int:
    if _ASIDE.search(message):
        return 0
    if _WARNING.search(message):
        return 1
    if _WRAP_UP.match(message) or _WRAPPER.search(message):
        return 1 if _FAILURE_WORDS.search(message) else 0
    if _TYPED_AT_START.match(message) or _TYPED_IN_LINE.search(message):
        return 3
    return 2 if _FAILURE_WORDS.search(message) or _LOCATED.search(message) else 0


def _line_below(lines: list[str], index: int) -> str | None:
    """The message on the line after ``index`` (None when it is empty, a frame or quoted source)."""
    if index + 1 >= len(lines) or not lines[index + 1] or _NOT_A_MESSAGE.match(lines[index + 1]):
        return None
    return _message(lines[index + 1]) or None


def error_line(output: str) -> str | None:
    """The most telling line of a failed command's output, without the tool's prefix: the first typed
    error (``TypeError: …``, ``error[E0308]: …``, ``file:3: error: …``, ``panic: …``, a panic's
    message), else the first line in a tool's failure wording (``--- FAIL:``, ``● test``, ``not ok``,
    ``cannot``, ``not found``, …), else a tally or last word (``Tests: 1 failed``); never a stack frame
    or a quoted source line; None when no line tells a failure."""
    lines = [line.strip() for line in output.splitlines()]
    best: tuple[int, str] | None = None
    for index, line in enumerate(lines):
        if not line or _NOT_A_MESSAGE.match(line):
            continue
        if _PANIC_AT.search(line) and index + 1 < len(lines) and lines[index + 1]:
            candidate = (3, _message(lines[index + 1]))
        else:
            message = _message(line)
            candidate = (_tier(message), message)
            below = _line_below(lines, index)
            if candidate[0] >= 2 and below and _HEADER.search(message):
                candidate = (3, below)  # an error's heading: its message is the line below
        if candidate[0] and (best is None or candidate[0] > best[0]):
            best = candidate
            if best[0] == 3:
                break
    return best[1][:ERROR_LINE_CHARS] if best else None
