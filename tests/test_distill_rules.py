# ruff: noqa: E501 - real error lines are kept whole
"""Insight rules: each shape recognised from real error text of several languages and tools; every
rule insight passes the generality checker; the checker catches what must not be in an insight."""

from __future__ import annotations

import pytest

from carryover.pipeline.distill.checker import InsightText, insight_problems, sentences
from carryover.pipeline.distill.rules import GENERAL, SHAPES, all_texts, shapes_for_text

# Real error text, one list per shape, at least three tools or languages each.
SAMPLES: dict[str, list[str]] = {
    "missing-dependency": [
        "E   ModuleNotFoundError: No module named 'yaml'",  # Python
        "Error: Cannot find module 'express'\nRequire stack:\n- /app/server.js",  # Node
        "src/api.ts(1,23): error TS2307: Cannot find module 'zod' or its corresponding type declarations.",
        "store.go:7:2: no required module provides package github.com/google/uuid; to add it:",  # Go
        "error[E0432]: unresolved import `serde_json`\n --> src/main.rs:3:5",  # Rust
        "[ERROR] /app/src/main/java/App.java:[3,32] error: package org.apache.commons.lang3 does not exist",
        "<internal:/usr/lib/ruby/3.1.0/rubygems/core_ext/kernel_require.rb>:85:in `require': cannot load such file -- nokogiri (LoadError)",
    ],
    "index-bounds": [
        "E       IndexError: list index out of range",  # Python
        "panic: runtime error: index out of range [5] with length 5",  # Go
        "thread 'main' panicked at src/main.rs:4:13:\nindex out of bounds: the len is 3 but the index is 3",
        "java.lang.ArrayIndexOutOfBoundsException: Index 10 out of bounds for length 10",  # Java
    ],
    "absent-value": [
        "TypeError: 'NoneType' object is not subscriptable",  # Python
        'src/a.py:22: error: Item "None" of "Optional[Match[str]]" has no attribute "group"  [union-attr]',
        "TypeError: Cannot read properties of undefined (reading 'email')",  # JavaScript
        "src/cart.ts(14,23): error TS2532: Object is possibly 'undefined'.",  # TypeScript
        'java.lang.NullPointerException: Cannot invoke "String.trim()" because "name" is null',  # Java
        "panic: runtime error: invalid memory address or nil pointer dereference",  # Go
        "called `Option::unwrap()` on a `None` value",  # Rust
        "System.NullReferenceException: Object reference not set to an instance of an object.",  # C#
    ],
    "injection": [
        'sqlite3.OperationalError: near "Brien": syntax error',  # Python / SQLite
        "ERROR:  syntax error at or near \"s\"\nLINE 1: SELECT * FROM users WHERE name = 'O's'",  # PostgreSQL
        "ERROR 1064 (42000): You have an error in your SQL syntax; check the manual",  # MySQL
        "sh: 1: Syntax error: Unterminated quoted string",  # shell
        "bash: -c: line 1: unexpected EOF while looking for matching `''",  # bash
    ],
    "lockfile-drift": [
        "npm error `npm ci` can only install packages when your package.json and package-lock.json or "
        "npm-shrinkwrap.json are in sync.",
        ' ERR_PNPM_OUTDATED_LOCKFILE  Cannot install with "frozen-lockfile" because pnpm-lock.yaml is not up to date',
        "error Your lockfile needs to be updated, but yarn was run with `--frozen-lockfile`.",
        "error: the lock file /w/Cargo.lock needs to be updated but --locked was passed to prevent this",
        "go: updates to go.mod needed; to update it:\n\tgo mod tidy",
        "pyproject.toml changed significantly since poetry.lock was last generated. Run `poetry lock` to fix the lock file.",
    ],
    "type-mismatch": [
        "error TS2345: Argument of type 'string' is not assignable to parameter of type 'number'.",
        'src/a.py:9: error: Argument 1 to "discount" has incompatible type "str"; expected "float"  [arg-type]',
        "error[E0308]: mismatched types\n expected `u32`, found `&str`",  # Rust
        "./main.go:12:14: cannot use n (variable of type string) as int value in argument to add",
        "App.java:[7,20] incompatible types: java.lang.String cannot be converted to int",
        'TypeError: can only concatenate str (not "int") to str',
    ],
    "port-in-use": [
        "Error: listen EADDRINUSE: address already in use :::3000",  # Node
        "OSError: [Errno 98] Address already in use",  # Python
        "listen tcp :8080: bind: address already in use",  # Go
        "Bind for 0.0.0.0:5432 failed: port is already allocated",  # Docker
        "java.net.BindException: Address already in use",  # Java
    ],
    "native-toolchain": [
        "error: command 'gcc' failed: No such file or directory",  # pip
        "src/bcrypt.c:2:10: fatal error: Python.h: No such file or directory",
        "gyp ERR! find Python Python is not set from command line or npm configuration",  # node-gyp
        "error: linker `cc` not found\n  |\n  = note: No such file or directory (os error 2)",  # cargo
        'cgo: C compiler "gcc" not found: exec: "gcc": executable file not found in $PATH',  # Go
    ],
    "unused-code": [
        './main.go:5:2: "os" imported and not used',  # Go
        "src/Chart.tsx:3:10 - error TS6133: 'useMemo' is declared but its value is never read.",
        "error: unused variable: `total`\n  = note: `#[deny(unused_variables)]` on by default",  # Rust
        "  12:7  error  'helper' is assigned a value but never used  no-unused-vars",  # ESLint
        "src/app.py:1:8: F401 [*] `os` imported but unused",  # ruff
    ],
    "async-await": [
        "RuntimeWarning: coroutine 'fetch_rates' was never awaited",  # Python
        "[UnhandledPromiseRejection: This error originated either by throwing inside of an async function]",
        "warning: unused implementer of `Future` that must be used\n  = note: futures do nothing unless you `.await` or poll them",
        "warning CS4014: Because this call is not awaited, execution of the current method continues",
    ],
    "missing-config": [
        "KeyError: 'DATABASE_URL'",  # Python os.environ
        "Error: Missing required environment variable STRIPE_KEY",  # Node
        "thread 'main' panicked at src/main.rs:9:48:\nAPI_URL must be set: NotPresent",  # Rust
        "Could not resolve placeholder 'db.url' in value \"${db.url}\"",  # Spring
        'WARN[0000] The "REDIS_URL" variable is not set. Defaulting to a blank string.',  # Compose
    ],
    "permission-denied": [
        "PermissionError: [Errno 13] Permission denied: '/var/log/app.log'",  # Python
        "Error: EACCES: permission denied, open '/usr/lib/node_modules/x'",  # Node
        "bash: ./deploy.sh: Permission denied",  # shell
        "permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock",
    ],
    "snapshot-outdated": [
        "Snapshot Summary\n › 2 snapshots failed from 1 test suite.",  # Jest
        "Snapshot name: `renders the header 1`",  # Jest
        "snapshot assertion for 'render_table' failed in line 42",  # insta
        "AssertionError: assert [+ received] == [- snapshot]",  # syrupy
    ],
}


@pytest.mark.parametrize("shape", sorted(SAMPLES))
def test_each_shape_is_recognised_across_tools(shape: str) -> None:
    samples = SAMPLES[shape]
    assert len(samples) >= 3
    for text in samples:
        assert shape in shapes_for_text(text), text


def test_there_are_at_least_ten_shapes_and_each_has_samples() -> None:
    names = {shape.name for shape in SHAPES}
    assert len(names) >= 12
    assert names - {"flaky-test"} <= set(SAMPLES)


def test_ordinary_output_matches_no_shape() -> None:
    for text in (
        "4 passed in 0.03s",
        "Test Suites: 2 passed, 2 total",
        "test result: ok. 6 passed; 0 failed",
        "ok  \tgithub.com/dev/ledger/internal/store\t0.021s",
        "[INFO] BUILD SUCCESS",
        "Success: no issues found in 12 source files",
    ):
        assert shapes_for_text(text) == [], text


@pytest.mark.parametrize("text", all_texts(), ids=lambda text: text.title[:40])
def test_every_rule_insight_is_general(text: InsightText) -> None:
    assert insight_problems(text) == []
    assert sentences(text.description) == 1 and 1 <= sentences(text.content) <= 3
    assert text.description.startswith("Use ") and text.when_not.startswith("When ")


def test_success_and_failure_insights_differ_for_every_shape() -> None:
    for shape in (*SHAPES, GENERAL):
        assert shape.success.title != shape.failure.title


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Fix the bug in src/members/directory.py first.", "names a file or path"),
        ("Check package.json before installing.", "names a file or path"),
        ("Update the Dockerfile.", "names a file or path"),
        ('Use "SELECT ?" instead of string building.', "quotes a literal"),
        ("Pass `name` as a parameter.", "quotes a literal"),
        ("Retry after 5000 ms.", "contains a number"),
        ("Call parse_header with a default.", "code identifier"),
        ("Guard contactLabel against absent users.", "code identifier"),
        ("Use os.environ for settings.", "code identifier"),
        ("Wrap the call in unwrap_or().", "code identifier"),
    ],
)
def test_the_checker_catches_specifics(text: str, problem: str) -> None:
    insight = InsightText("Title", "Use when it applies.", text)
    assert any(problem in found for found in insight_problems(insight)), insight_problems(insight)


def test_the_checker_catches_names_from_the_episode_but_allows_common_words() -> None:
    insight = InsightText(
        "Pin the Members lookup", "Use when lookups fail.", "The members lookup broke on quotes."
    )
    problems = insight_problems(insight, {"members", "test", "config"})
    assert any("repeats a name from the episode (members)" in problem for problem in problems)
    ok = InsightText(
        "Add a test", "Use when the config changes.", "Write a test for the config before changing it."
    )
    assert insight_problems(ok, {"test", "config"}) == []
    assert (
        insight_problems(InsightText("A TypeScript and Node.js rule", "Use it in JavaScript.", "It holds."))
        == []
    )


def test_the_checker_checks_the_shape_of_an_insight() -> None:
    problems = insight_problems(InsightText("", "Two sentences. Here.", "One. Two. Three. Four."))
    assert "title is empty" in problems
    assert "description must be one sentence" in problems
    assert "content must be one to three sentences" in problems


def test_every_shape_is_a_problem_kind_of_the_one_registry() -> None:
    """The distiller's shapes and the retrieval's families are one vocabulary: each shape (but the
    catch-all) is named by a problem id of carryover/vocabulary/problems.py."""
    from carryover.vocabulary.problems import PROBLEMS

    assert {shape.name for shape in SHAPES} - {"general"} <= set(PROBLEMS)
    assert len(PROBLEMS) == len({family.name for family in PROBLEMS.values()})
