"""carryover.export through the real language server (pytest-lsp): the file is written only inside a
workspace folder (after ``~``, ``..`` and symlinks), never replaces a file unless asked, and every
command refuses arguments of the wrong shape or type with InvalidParams (-32602)."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from pygls.exceptions import JsonRpcException

from tests.test_server_support import Window, command, raw_request, server_window

pytestmark = pytest.mark.asyncio(loop_scope="module")

INVALID_PARAMS = -32602


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def session(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Window]:
    root = tmp_path_factory.mktemp("export")
    async with server_window(root) as window:
        yield window


async def refused(window: Window, name: str, *arguments: Any) -> str:
    with pytest.raises(JsonRpcException) as error:
        await command(window.client, name, *arguments)
    assert error.value.code == INVALID_PARAMS, (name, arguments, error.value)
    return str(error.value.message)


def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


async def test_export_writes_inside_the_workspace_and_never_replaces_unasked(session: Window) -> None:
    result = await command(session.client, "carryover.export", {"path": "memories.jsonl", "kind": "insight"})
    target = session.workspace / "memories.jsonl"
    lines = target.read_text(encoding="utf-8").splitlines()
    assert result == {"path": str(target), "count": len(lines)} and lines
    assert all(json.loads(line)["kind"] == "insight" for line in lines)
    assert target.stat().st_mode & 0o077 == 0  # a private file, like every file the product writes
    target.write_text("mine\n", encoding="utf-8")
    message = await refused(session, "carryover.export", {"path": "memories.jsonl"})
    assert "exists" in message and "overwrite: true" in message
    assert target.read_text(encoding="utf-8") == "mine\n"
    absolute = await command(session.client, "carryover.export", {"path": str(target), "overwrite": True})
    assert absolute["count"] > len(lines)  # every kind this time, over the old file
    assert len(target.read_text(encoding="utf-8").splitlines()) == absolute["count"]
    (session.workspace / "out").mkdir(exist_ok=True)
    nested = await command(session.client, "carryover.export", {"path": "out/../out/all.jsonl"})
    assert nested["path"] == str(session.workspace / "out" / "all.jsonl")
    assert [p.name for p in session.workspace.iterdir() if p.name.endswith(".tmp")] == []


def outside_cases(workspace: Path, outside: Path) -> list[Any]:
    """Export arguments that all lead outside ``workspace`` (into ``outside``, home, /etc, ...)."""
    victim = outside / "victim.jsonl"
    (workspace / "to-outside").symlink_to(outside, target_is_directory=True)
    (workspace / "victim-link.jsonl").symlink_to(victim)
    return [
        str(victim),  # absolute, outside, existing
        str(outside / "new.jsonl"),  # absolute, outside, new
        {"path": str(victim), "overwrite": True},  # overwrite does not widen where
        f"../{workspace.parent.name}/x.jsonl",
        os.path.relpath(outside / "relative.jsonl", workspace),  # ../../…/outside/relative.jsonl
        "../../../../../../../../tmp/x/escape.jsonl",
        "sub/../../escape.jsonl",
        "~/carryover-export-probe.jsonl",
        "to-outside/through-a-link.jsonl",  # a directory symlink leading out
        {"path": "victim-link.jsonl", "overwrite": True},  # a file symlink leading out
        "/etc/passwd",
        "",
        ".",
        "missing-dir/x.jsonl",
        "bad\x00name.jsonl",
    ]


async def test_export_outside_the_workspace_is_refused(session: Window, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim.jsonl"
    victim.write_text("precious\n", encoding="utf-8")
    workspace = session.workspace
    home_target = Path.home() / "carryover-export-probe.jsonl"
    before_home = home_target.exists()
    cases = outside_cases(workspace, outside)
    before = snapshot(outside)
    for case in cases:
        argument = case if isinstance(case, dict) else {"path": case}
        message = await refused(session, "carryover.export", argument)
        assert message.startswith("export: "), message
        assert "Traceback" not in message and len(message) < 400
    assert snapshot(outside) == before and victim.read_text(encoding="utf-8") == "precious\n"
    assert not (outside / "new.jsonl").exists() and not (outside / "through-a-link.jsonl").exists()
    assert not (workspace.parent / "escape.jsonl").exists() and not (outside / "relative.jsonl").exists()
    assert home_target.exists() == before_home
    outside_message = await refused(session, "carryover.export", {"path": str(outside / "new.jsonl")})
    assert "outside the workspace" in outside_message and str(workspace) in outside_message


@pytest.mark.parametrize(
    "arguments",
    [
        [{"path": True}],  # once wrote a file named True
        [{"path": 5}],
        [{"path": None}],
        [{"path": ["a.jsonl"]}],
        [{"path": {"p": "a.jsonl"}}],
        [{"path": "typed.jsonl", "overwrite": "yes"}],
        [{"path": "typed.jsonl", "overwrite": 1}],
        [{"path": "typed.jsonl", "kind": 3}],
        [{"path": "typed.jsonl", "kind": "nonsense"}],
        [{}],
        ["typed.jsonl"],
        [True],
        [None],
        [[]],
        [{"path": "typed.jsonl"}, {"path": "again.jsonl"}],
    ],
)
async def test_export_with_wrong_argument_types(session: Window, arguments: list[Any]) -> None:
    before = snapshot(session.workspace)
    with pytest.raises(JsonRpcException) as error:
        await raw_request(
            session.client,
            "workspace/executeCommand",
            {"command": "carryover.export", "arguments": arguments},
        )
    assert error.value.code == INVALID_PARAMS
    assert "Traceback" not in error.value.message and len(error.value.message) < 400
    assert snapshot(session.workspace) == before
    for name in ("True", "5", "None", "typed.jsonl", "again.jsonl"):
        assert not (session.workspace / name).exists()
        assert not (Path(os.getcwd()) / name).exists() or name == "None"


JUNK: list[Any] = [
    42,
    "junk",
    True,
    [1, 2],
    {"memoryId": 5},
    {"memoryId": True, "reason": 5},
    {"memoryId": "mem_x", "reveal": "yes"},
    {"query": 5},
    {"query": "x", "k": "5"},
    {"query": "x", "k": 1.5},
    {"query": "x", "kinds": "insight"},
    {"query": "x", "kinds": [1]},
    {"query": "x", "language": 7},
    {"memoryId": "mem_x", "query": ["x"]},
    {"status": 3},
    {"limit": "10"},
    {"kind": ["insight"]},
    {"uri": 5},
    {"uri": "file:///x.py", "line": "3"},
    {"uri": "file:///x.py", "line": True},
]


async def test_junk_arguments_to_every_command_are_invalid_params(session: Window) -> None:
    """Every carryover.* command the server offers, with argument values of the wrong shape or type
    for it: each answered with -32602, none executed (the pool keeps every memory)."""
    before = await command(session.client, "carryover.list", {"limit": 1000})
    names = [
        "carryover.pin",
        "carryover.reject",
        "carryover.restore",
        "carryover.forget",
        "carryover.search",
        "carryover.show",
        "carryover.why",
        "carryover.distill",
        "carryover.pauseCapture",
        "carryover.resumeCapture",
        "carryover.export",
        "carryover.list",
        "carryover.suggest",
    ]
    answered: dict[str, int] = {}
    accepted: list[tuple[str, Any]] = []
    for name in names:
        for junk in JUNK:
            try:
                await raw_request(
                    session.client, "workspace/executeCommand", {"command": name, "arguments": [junk]}
                )
            except JsonRpcException as error:
                answered[f"{name} {junk!r}"] = error.code
                continue
            accepted.append((name, junk))
    # A junk value is acceptable only where it is not junk for that command: a dict whose keys the
    # command does not read takes the command's defaults (list: the 50 newest).
    allowed = {
        ("carryover.list", json.dumps(junk, sort_keys=True))
        for junk in JUNK
        if isinstance(junk, dict) and not {"status", "limit", "kind"} & set(junk)
    }
    unexpected = [
        (name, junk) for name, junk in accepted if (name, json.dumps(junk, sort_keys=True)) not in allowed
    ]
    assert unexpected == []
    assert set(answered.values()) == {INVALID_PARAMS}
    assert len(answered) >= len(names) * len(JUNK) - len(allowed)
    after = await command(session.client, "carryover.list", {"limit": 1000})
    assert [m["id"] for m in after["memories"]] == [m["id"] for m in before["memories"]]
    assert all(m["status"] == "active" for m in after["memories"])


async def test_a_wrong_type_is_named_in_the_error(session: Window) -> None:
    message = await refused(session, "carryover.export", {"path": True})
    assert "expected str @ ExportArgs.path" in message, message
    message = await refused(session, "carryover.list", "junk")
    assert "expected an object" in message, message
