"""Code signals: situations recognised in code, phrased the way a memory would describe them.

Raw code embeds far from the prose of an insight (a line that builds a shell command from a string
scores about 0.16 against "Never build shell or SQL commands by string concatenation"; the phrase
"a shell command is built by string concatenation from a variable" scores 0.69). The paper embedded
a short plan written from the task, not the raw task; these phrases are that plan for a few
language-independent situations, recognised by patterns. They only choose what to search for: what
is shown still has to clear the relevance threshold in the pool.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import attrs

from carryover.recall.units import Unit, units

_SHELL_CALL = re.compile(
    r"\b(?:os\.system|os\.popen|subprocess\.(?:run|call|check_call|check_output|Popen|getoutput)|"
    r"execSync|exec|spawnSync|spawn|popen|system|shell_exec|passthru|Runtime\.getRuntime\(\)\.exec|"
    r"Process\.Start|Command::new|exec\.Command)\s*\("
    r"|\bshell\s*=\s*True\b|\bsh\s+-c\b|\bbash\s+-c\b"
)
_SQL = re.compile(r"""["'`]\s*(?:SELECT|INSERT\s+INTO|UPDATE|DELETE\s+FROM)\b""", re.IGNORECASE)
_STRING_BUILD = re.compile(
    r"""["'`]\s*\+|\+\s*["'`]|\bf["']|\$\{|%\s*\(|["']\s*%\s*\w|\.format\(|\bSprintf\(|\bformat!\(|#\{"""
)
_OPTIONAL_INDEX = re.compile(
    r"\.get\([^()]*\)\s*(?:\[|\.\w)"
    r"|\.(?:find|querySelector|getElementById|match)\([^()]*\)\s*(?:\[|\.\w)"
)


@attrs.frozen
class Situation:
    name: str
    phrase: str
    """What is searched: the situation as a memory would state it."""
    label: str
    """What the user reads in "why this"."""


SHELL_FROM_STRING = Situation(
    "shell-from-string",
    "a shell command is built by string concatenation from a variable",
    "a shell command built from a string",
)
SQL_FROM_STRING = Situation(
    "sql-from-string",
    "an SQL query is built by string concatenation from a variable",
    "an SQL query built from a string",
)
OPTIONAL_INDEX = Situation(
    "optional-index",
    "a value that may be absent (None, null, undefined) is indexed without a check",
    "a value that may be absent, indexed without a check",
)


@attrs.frozen
class Site:
    """Where a situation shows: a line and the span of the call or expression that shows it."""

    line: int
    start: int
    end: int
    situation: Situation
    unit: Unit


def _sites_in_unit(lines: Sequence[str], unit: Unit) -> list[Site]:
    found: list[Site] = []
    body = range(unit.start, unit.end)
    builds_strings = any(_STRING_BUILD.search(lines[number]) for number in body)
    for number in body:
        text = lines[number]
        shell = _SHELL_CALL.search(text)
        if shell and (builds_strings if unit.header else _STRING_BUILD.search(text)):
            found.append(Site(number, shell.start(), shell.end(), SHELL_FROM_STRING, unit))
        sql = _SQL.search(text)
        if sql and _STRING_BUILD.search(text):
            found.append(Site(number, sql.start(), len(text.rstrip()), SQL_FROM_STRING, unit))
        optional = _OPTIONAL_INDEX.search(text)
        if optional:
            found.append(Site(number, optional.start(), optional.end(), OPTIONAL_INDEX, unit))
    return found


def find_sites(lines: Sequence[str], limit: int = 200) -> list[Site]:
    """Every situation recognised in a document, in line order (at most ``limit``)."""
    found: list[Site] = []
    for unit in units(lines):
        found.extend(_sites_in_unit(lines, unit))
        if len(found) >= limit:
            break
    return found[:limit]


def sites_on_line(lines: Sequence[str], line: int) -> list[Site]:
    """The situations recognised on one line (with the context of its function)."""
    for unit in units(lines):
        if unit.start <= line < unit.end:
            return [site for site in _sites_in_unit(lines, unit) if site.line == line]
    return []
