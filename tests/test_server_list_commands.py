"""The commands an editor's views are built from: ``carryover.list`` (pinned, rejected, recent) and
``carryover.suggest`` (what applies to a document and its cursor line). One seeded pool and one server
for the module, as in tests/test_server_commands.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from tests.test_server_support import (
    GUARD,
    INJECTION,
    LOOKUP,
    SHELL,
    Window,
    command,
    open_document,
    server_window,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


Session = Window


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def session(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Session]:
    options = {"carryover": {"strongThreshold": 0.25}}  # the document's marks, not their calibration
    async with server_window(tmp_path_factory.mktemp("lists"), options=options) as window:
        yield window


async def memory_id(client: LanguageClient, title: str) -> str:
    found = await command(client, "carryover.search", {"query": title, "k": 1})
    assert found["hits"][0]["title"] == title
    return str(found["hits"][0]["id"])


def titles(result: dict[str, Any]) -> list[str]:
    return [memory["title"] for memory in result["memories"]]


async def test_list_all_newest_first_with_kind_and_limit(session: Session) -> None:
    client = session.client
    everything = await command(client, "carryover.list", {})
    assert len(everything["memories"]) == 8
    first = everything["memories"][0]
    for field in ("id", "kind", "title", "status", "created_at", "updated_at", "languages", "tools"):
        assert field in first, field
    stamps = [memory["updated_at"] for memory in everything["memories"]]
    assert stamps == sorted(stamps, reverse=True)
    insights = await command(client, "carryover.list", {"kind": "insight"})
    assert len(insights["memories"]) == 5 and {m["kind"] for m in insights["memories"]} == {"insight"}
    two = await command(client, "carryover.list", {"limit": 2})
    assert titles(two) == titles(everything)[:2]
    assert len((await command(client, "carryover.list"))["memories"]) == 8  # no argument at all


async def test_list_by_status_follows_pin_reject_and_restore(session: Session) -> None:
    client = session.client
    guard = await memory_id(client, GUARD)
    injection = await memory_id(client, INJECTION)
    assert (await command(client, "carryover.list", {"status": "pinned"}))["memories"] == []
    await command(client, "carryover.pin", {"memoryId": guard})
    await command(client, "carryover.reject", {"memoryId": injection, "reason": "Outdated"})
    pinned = await command(client, "carryover.list", {"status": "pinned"})
    assert titles(pinned) == [GUARD] and pinned["memories"][0]["status"] == "pinned"
    rejected = await command(client, "carryover.list", {"status": "rejected"})
    assert titles(rejected) == [INJECTION]
    assert rejected["memories"][0]["reject_reason"] == "Outdated"
    active = await command(client, "carryover.list", {"status": "active"})
    assert len(active["memories"]) == 6 and GUARD not in titles(active)
    # the last changed memory is the newest
    assert titles(await command(client, "carryover.list", {"limit": 1})) == [INJECTION]
    await command(client, "carryover.restore", {"memoryId": guard})
    await command(client, "carryover.restore", {"memoryId": injection})
    assert (await command(client, "carryover.list", {"status": "pinned"}))["memories"] == []
    assert (await command(client, "carryover.list", {"status": "rejected"}))["memories"] == []


@pytest.mark.parametrize(
    "argument",
    [{"status": "archived"}, {"kind": "note"}, {"limit": 0}, {"limit": "ten"}],
)
async def test_list_rejects_bad_arguments(session: Session, argument: dict[str, Any]) -> None:
    with pytest.raises(JsonRpcException) as raised:
        await command(session.client, "carryover.list", argument)
    assert raised.value.code == -32602


async def test_suggest_for_the_cursor_line_and_the_document(session: Session) -> None:
    client = session.client
    uri = open_document(client, session.workspace / "load.py", LOOKUP, "python")
    at_line = await command(client, "carryover.suggest", {"uri": uri, "line": 1})
    assert at_line["uri"] == uri
    on_line = [hit for hit in at_line["hits"] if hit["line"] == 1]
    assert GUARD in [hit["title"] for hit in on_line]
    assert all(0 < hit["score"] <= 1 and hit["why"]["line"].startswith("why this:") for hit in on_line)
    assert all(hit["basis"] for hit in on_line)
    ordinary = await command(client, "carryover.suggest", {"uri": uri, "line": 2})
    assert GUARD not in [hit["title"] for hit in ordinary["hits"] if hit["line"] == 2]

    shell = open_document(client, session.workspace / "clean.py", SHELL, "python")
    document = await command(client, "carryover.suggest", {"uri": shell})  # no line: the strong marks
    found = {hit["title"]: hit["line"] for hit in document["hits"]}
    assert found.get(INJECTION) == 5
    both = await command(client, "carryover.suggest", {"uri": shell, "line": 5})
    ids = [hit["id"] for hit in both["hits"]]
    assert len(ids) == len(set(ids))  # a memory found on the line and as a mark is listed once


async def test_suggest_for_an_unopened_document_is_empty_and_a_bad_line_is_invalid(
    session: Session,
) -> None:
    client = session.client
    missing = (session.workspace / "never-opened.py").as_uri()
    assert (await command(client, "carryover.suggest", {"uri": missing, "line": 0}))["hits"] == []
    uri = open_document(client, session.workspace / "short.py", "x = 1\n", "python")
    assert (await command(client, "carryover.suggest", {"uri": uri, "line": 99}))["hits"] == []
    with pytest.raises(JsonRpcException) as raised:
        await command(client, "carryover.suggest", {"uri": uri, "line": -1})
    assert raised.value.code == -32602
    with pytest.raises(JsonRpcException):
        await command(client, "carryover.suggest", {"line": 1})
