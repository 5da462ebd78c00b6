"""The telling line of a failed command's output, on outputs written as the tools print them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from carryover.vocabulary.output import error_line

SAMPLES = json.loads((Path(__file__).parent / "data" / "telling_lines.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("sample", SAMPLES, ids=[sample["tool"] for sample in SAMPLES])
def test_the_telling_line_is_one_a_developer_would_search_for(sample: dict[str, object]) -> None:
    output = sample["output"]
    telling = sample["telling"]
    assert isinstance(output, str) and isinstance(telling, list)
    assert error_line(output) in [line.strip() for line in telling]


def test_a_tally_is_taken_only_when_nothing_else_tells() -> None:
    assert (
        error_line("Tests:       1 failed, 3 passed, 4 total") == "Tests:       1 failed, 3 passed, 4 total"
    )
    assert error_line("Tests:       1 failed, 1 total\nError: ENOENT: no such file or directory") == (
        "Error: ENOENT: no such file or directory"
    )


def test_stack_frames_and_quoted_source_are_never_the_telling_line() -> None:
    quoted = (
        "    at Object.<anonymous> (/w/error.js:3:9)\n"
        '  12 |   throw new Error("failed")\n'
        ">       raise Failed\n"
    )
    assert error_line(quoted) is None
    assert error_line("all good\n3 passed") is None


def test_a_prefixed_message_comes_back_without_the_tools_prefix() -> None:
    assert error_line("E       KeyError: 'id'") == "KeyError: 'id'"
    assert (
        error_line("npm ERR! code E404\nnpm ERR! 404 Not Found - GET https://r/x")
        == "404 Not Found - GET https://r/x"
    )
    assert error_line("[ERROR] Failed to execute goal x: Compilation failure") == (
        "Failed to execute goal x: Compilation failure"
    )


def test_long_banner_like_and_binary_lines_are_handled() -> None:
    assert error_line("___ " + "a ___ " * 1200) is None
    assert error_line("FAIL\t" * 1500) is None
    assert error_line("a/" * 2000 + "b.c:1: x") == ("a/" * 2000 + "b.c:1: x")[:300]
    assert error_line(bytes(range(256)).decode("latin-1") * 20) is None
