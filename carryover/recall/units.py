"""Code structure the recall layer reads: function headers and the function-sized units a document
splits into (a code lens sits above a unit; a code situation is recognised within one)."""

from __future__ import annotations

import re
from collections.abc import Sequence

import attrs

_HEADER = re.compile(
    r"^\s*(?:(?:export|pub(?:\([a-z]+\))?|public|private|protected|internal|static|async|override|"
    r"final|abstract|virtual|unsafe|extern|default)\s+)*"
    r"(?:def|fn|func|function|sub|proc|fun)\b"
    r"|^\s*(?:(?:export|public|private|protected|internal|static|async|const|let|var)\s+)+"
    r"[\w$]+\s*=\s*(?:async\s*)?(?:function\b|\([^()]*\)\s*=>)"
    r"|^\s*(?:(?:public|private|protected|internal|static|final|override|virtual|async)\s+)+"
    r"[\w<>\[\],.? ]+\s+\w+\s*\([^;]*$"
)


def indentation(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def is_function_header(line: str) -> bool:
    return bool(_HEADER.match(line))


@attrs.frozen
class Unit:
    """A function (or the top-level lines before the first one): the lines a code lens sits above."""

    start: int
    end: int  # exclusive
    header: bool


def units(lines: Sequence[str]) -> list[Unit]:
    """Split a document into function-sized units at function headers."""
    starts = [number for number, line in enumerate(lines) if is_function_header(line)]
    found: list[Unit] = []
    if not starts or starts[0] > 0:
        found.append(Unit(0, starts[0] if starts else len(lines), header=False))
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else len(lines)
        found.append(Unit(start, end, header=True))
    return found


def unit_at(all_units: Sequence[Unit], line: int) -> Unit | None:
    for unit in all_units:
        if unit.start <= line < unit.end:
            return unit
    return None
