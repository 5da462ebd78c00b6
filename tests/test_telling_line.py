"""The telling line of a failed command's output, on outputs written as the tools print them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from carryover.vocabulary.output import ERROR_LINE_CHARS, _message, error_line

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


def acceptable(picked: str | None, telling: list[str]) -> bool:
    """The line itself, or it without the tool's prefix (cut at the picker's length)."""
    if picked is None:
        return False
    accepted = {line.strip() for line in telling} | {_message(line.strip()) for line in telling}
    return any(picked in (line, line[:ERROR_LINE_CHARS]) for line in accepted)


FITTED_SINCE = {"telling_lines_fresh.json": 22, "telling_lines_fresh2.json": 37}
"""Batches written unseen, then read to fix the picker's misses (so now training data): how many of
their outputs the picker got right after that, as a floor."""


@pytest.mark.parametrize("name", sorted(FITTED_SINCE))
def test_the_batches_read_to_fix_the_picker_keep_their_score(name: str) -> None:
    samples = json.loads((Path(__file__).parent / "data" / name).read_text(encoding="utf-8"))
    right = sum(acceptable(error_line(sample["output"]), sample["telling"]) for sample in samples)
    assert right >= FITTED_SINCE[name], f"{right} of {len(samples)}"


def test_a_heading_gives_way_to_its_message_and_a_wrapper_to_the_inner_error() -> None:
    assert (
        error_line("CMake Error at CMakeLists.txt:3 (message):\n  Could NOT find ZLIB\n")
        == "Could NOT find ZLIB"
    )
    assert error_line("src/A.hs:3:7: error: [GHC-83865]\n    • Couldn't match type ‘Int’") == (
        "• Couldn't match type ‘Int’"
    )
    assert error_line(
        "curl: (6) Could not resolve host: x.test\nError: Process completed with exit code 6."
    ) == ("curl: (6) Could not resolve host: x.test")
    assert error_line(
        "a.c:1:5: warning: unused variable ‘n’\nmain.c:(.text+0x1): undefined reference to `f'"
    ) == ("main.c:(.text+0x1): undefined reference to `f'")
    assert error_line(
        'NOTICE:  relation "t" does not exist, skipping\nERROR:  syntax error at end of input'
    ) == ("ERROR:  syntax error at end of input")
    assert (
        error_line('lib/a.ex:3: warning: variable "x" is unused')
        == 'lib/a.ex:3: warning: variable "x" is unused'
    )
