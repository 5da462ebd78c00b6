"""The `carryover` command, run as a user runs it: a separate process on a pool on disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.pools import EXAMPLES

SEARCH_HIT_FIELDS = {
    "id",
    "kind",
    "title",
    "description",
    "content",
    "languages",
    "tools",
    "outcome",
    "status",
    "score",
    "why",
    "basis",
}
WHY_FIELDS = {"similarity", "abstraction_weight", "feedback", "guard", "pinned"}


def carryover(tmp_path: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CARRYOVER_HOME": str(tmp_path / "home")}
    command = [sys.executable, "-m", "carryover.cli", "--db", str(tmp_path / "pool"), *args]
    result = subprocess.run(command, check=False, capture_output=True, text=True, env=env, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} exited {result.returncode}: {result.stderr}")
    return result


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli")
    result = carryover(path, "import", str(EXAMPLES))
    assert result.stdout.strip() == "added 8, merged 0, rejected 0"
    return path


def search(path: Path, *args: str) -> list[dict]:  # type: ignore[type-arg]
    result = carryover(path, "search", *args, "--json")
    hits: list[dict] = json.loads(result.stdout)["hits"]  # type: ignore[type-arg]
    return hits


def test_search_json_is_the_documented_shape(seeded: Path) -> None:
    hits = search(
        seeded, "TypeError: 'NoneType' object is not subscriptable", "--language", "python", "--k", "3"
    )
    assert 1 <= len(hits) <= 3
    for hit in hits:
        assert set(hit) == SEARCH_HIT_FIELDS
        assert set(hit["why"]) == WHY_FIELDS
    assert hits[0]["title"] == "Guard optional values before indexing into them"
    assert hits == sorted(hits, key=lambda hit: -hit["score"])


def test_human_search_output(seeded: Path) -> None:
    args = ("search", "pytest passed but ran zero tests", "--language", "python")
    result = carryover(seeded, *args)  # a typed search always answers (the hover needs evidence)
    assert carryover(seeded, *args, "--min-score", "0.99").stdout == "no memory applies\n"
    assert "A green run that executed no test proves nothing" in result.stdout
    assert "learned in javascript" in result.stdout


def test_add_show_pin_reject_forget(tmp_path: Path) -> None:
    added = carryover(
        tmp_path,
        "add",
        "--kind",
        "insight",
        "--title",
        "Reproduce the failure before editing",
        "--description",
        "Use when a test fails for an unknown reason.",
        "--content",
        "Run it first.",
        "--language",
        "python",
        "--tool",
        "pytest",
        "--check-command",
        "pytest -x",
        "--json",
    )
    memory_id = json.loads(added.stdout)["id"]
    shown = json.loads(carryover(tmp_path, "show", memory_id[:12], "--json").stdout)
    assert shown["title"] == "Reproduce the failure before editing"
    assert shown["tools"] == ["pytest"]
    assert shown["check_command"] == "pytest -x"
    assert shown["provenance"]["source"] == "cli"

    carryover(tmp_path, "pin", memory_id)
    pinned = json.loads(carryover(tmp_path, "list", "--status", "pinned", "--json").stdout)
    assert [memory["id"] for memory in pinned] == [memory_id]
    assert search(tmp_path, "a test fails, where do I start")[0]["why"]["pinned"] is True

    carryover(tmp_path, "reject", memory_id, "--reason", "too obvious")
    assert search(tmp_path, "a test fails, where do I start") == []
    rejected = json.loads(carryover(tmp_path, "show", memory_id, "--json").stdout)
    assert rejected["status"] == "rejected"
    assert rejected["reject_reason"] == "too obvious"

    carryover(tmp_path, "forget", memory_id)
    missing = carryover(tmp_path, "show", memory_id, check=False)
    assert missing.returncode == 1
    assert "no memory" in missing.stderr


def test_list_filters_by_kind(seeded: Path) -> None:
    workflows = json.loads(carryover(seeded, "list", "--kind", "workflow", "--json").stdout)
    assert [memory["kind"] for memory in workflows] == ["workflow"]


def test_export_then_import_elsewhere(seeded: Path, tmp_path: Path) -> None:
    out = tmp_path / "insights.jsonl"
    carryover(seeded, "export", str(out), "--kind", "insight")
    lines = out.read_text().splitlines()
    assert len(lines) == 5
    assert all(json.loads(line)["kind"] == "insight" for line in lines)
    imported = carryover(tmp_path, "import", str(out), "--json")
    assert json.loads(imported.stdout) == {"added": 5, "merged": 0, "rejected": 0, "errors": []}


def test_import_with_bad_lines_exits_non_zero_and_says_which(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"kind": "insight", "title": "Keep secrets out of logs"}\n{"kind": "insight"}\n')
    result = carryover(tmp_path, "import", str(path), check=False)
    assert result.returncode == 1
    assert result.stdout.strip() == "added 1, merged 0, rejected 1"
    assert "line 2: missing field(s) title" in result.stderr


def test_stats_json_and_plot(seeded: Path, tmp_path: Path) -> None:
    plot = tmp_path / "pool.png"
    result = carryover(seeded, "stats", "--json", "--plot", str(plot))
    report = json.loads(result.stdout)
    assert report["counts"]["total"] == 8
    assert report["counts"]["by_kind"]["insight"] == 5
    insight = report["mixing"]["insight"]
    assert insight["n"] == 5 and insight["labels"] == 4
    assert insight["paper_dbi"] == 6.50
    assert insight["neighbours"] >= 1
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    human = carryover(seeded, "stats").stdout
    assert "how languages mix" in human and "insight" in human


def test_env_var_names_the_home(tmp_path: Path) -> None:
    env = {**os.environ, "CARRYOVER_HOME": str(tmp_path / "elsewhere")}
    command = [sys.executable, "-m", "carryover.cli", "add", "--kind", "insight", "--title", "Home test"]
    subprocess.run(command, check=True, capture_output=True, env=env, timeout=120)
    assert (tmp_path / "elsewhere" / "pool" / "pool.json").is_file()


def test_a_broken_config_file_is_a_clear_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text("[embedder]\nprovider = 'telepathy'\n")
    result = carryover(tmp_path, "list", check=False)
    assert result.returncode == 1
    assert "config.toml" in result.stderr and "provider" in result.stderr


def test_mcp_is_a_subcommand_taking_the_global_options(tmp_path: Path) -> None:
    """``carryover --db POOL mcp`` (how the VS Code extension starts it) answers an MCP handshake."""
    env = {**os.environ, "CARRYOVER_HOME": str(tmp_path / "home")}
    command = [sys.executable, "-m", "carryover", "--db", str(tmp_path / "pool"), "mcp"]
    hello = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "test", "version": "0"},
        },
    }
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
    ) as process:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(hello) + "\n")
        process.stdin.flush()
        answer = json.loads(process.stdout.readline())
        process.stdin.close()
        process.wait(timeout=60)
    assert answer["id"] == 1 and answer["result"]["serverInfo"]["name"]


def test_memory_text_cannot_drive_the_terminal(tmp_path: Path) -> None:
    """Escape sequences in memory text (a clipboard write, a window title, a cursor move, a bidi
    override) are printed spelled out, never as the bytes a terminal acts on; JSON stays parseable."""
    hostile = "Pin it \x1b]52;c;ZWNobyBoaQ==\x07\x1b]0;owned\x07\x1b[2J\u202eevil\r"
    memory_id = json.loads(
        carryover(
            tmp_path,
            "add",
            "--kind",
            "insight",
            "--title",
            hostile,
            "--description",
            "Use when \x1b[31mred\x1b[0m text appears.",
            "--json",
        ).stdout
    )["id"]
    for args in (("show", memory_id), ("list",), ("search", "pin it", "--min-score", "0")):
        shown = carryover(tmp_path, *args).stdout
        assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown and "\r" not in shown
        assert "\\u001b" in shown
    parsed = json.loads(carryover(tmp_path, "show", memory_id, "--json").stdout)
    assert parsed["title"].startswith("Pin it \x1b]52;c;")  # the data is kept; only its printing is inert
