"""The language server end to end (a real subprocess driven by pytest-lsp as VS Code would): hover,
configuration changes, malformed params. One seeded pool and one server for the module."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from tests.test_server_support import (
    GUARD,
    client_config,
    command,
    hover,
    hover_text,
    initialize_params,
    open_document,
    raw_request,
    seeded_pool,
    start_client,
    wait_ready,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

SAMPLE = """import os

def load(config):
    value = config.get("key")["inner"]
    return value

x = x + 1
"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def session(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[LanguageClient, Path, lsp.InitializeResult]]:
    root = tmp_path_factory.mktemp("hover")
    pool = seeded_pool(root)
    workspace = root / "ws"
    workspace.mkdir()
    client, _ = await start_client(client_config(pool))
    started = time.perf_counter()
    result = await client.initialize_session(initialize_params(workspace))
    initialize_s = time.perf_counter() - started
    assert initialize_s < 5.0, f"initialize took {initialize_s:.1f} s"
    assert result.server_info is not None and result.server_info.name == "carryover"
    await wait_ready(client)
    yield client, workspace, result
    await client.shutdown_session()
    await client.stop()


Session = tuple[LanguageClient, Path, lsp.InitializeResult]


@pytest.fixture
def client(session: Session) -> LanguageClient:
    return session[0]


@pytest.fixture
def workspace(session: Session) -> Path:
    return session[1]


async def test_capabilities(session: Session) -> None:
    capabilities = session[2].capabilities
    assert capabilities.hover_provider
    assert capabilities.code_action_provider
    assert capabilities.code_lens_provider is not None
    assert capabilities.inlay_hint_provider
    assert capabilities.execute_command_provider is not None
    commands = set(capabilities.execute_command_provider.commands)
    assert {
        "carryover.pin",
        "carryover.reject",
        "carryover.forget",
        "carryover.search",
        "carryover.show",
        "carryover.distill",
        "carryover.pauseCapture",
        "carryover.resumeCapture",
        "carryover.export",
    } <= commands
    assert "carryover.runValidation" not in commands  # the client implements it


async def test_hover_shows_the_memory_that_applies(client: LanguageClient, workspace: Path) -> None:
    uri = open_document(client, workspace / "load.py", SAMPLE, "python")
    text = hover_text(await hover(client, uri, 3))
    assert GUARD in text
    assert "check for it at the boundary" in text  # the content
    assert "insight · success · learned in Rust" in text
    assert "why this: similarity" in text and "transferred from rust" in text
    assert text.count("**") <= 2 * 3  # at most three memories


async def test_hover_on_an_unrelated_line_is_empty(client: LanguageClient, workspace: Path) -> None:
    uri = open_document(client, workspace / "load.py", SAMPLE, "python")
    assert await hover(client, uri, 6) is None
    assert await hover(client, uri, 1) is None  # blank line
    assert await hover(client, uri, 99) is None  # past the end


async def test_hover_uses_a_forwarded_diagnostic(client: LanguageClient, workspace: Path) -> None:
    uri = open_document(client, workspace / "diag.py", "def f(d):\n    return d['k']\n", "python")
    assert GUARD not in hover_text(await hover(client, uri, 1))
    client.protocol.notify(
        "carryover/diagnostics",
        {
            "uri": uri,
            "source": "mypy",
            "diagnostics": [
                {
                    "range": {"start": {"line": 1, "character": 11}, "end": {"line": 1, "character": 17}},
                    "message": "TypeError: 'NoneType' object is not subscriptable",
                    "severity": 1,
                }
            ],
        },
    )
    await asyncio.sleep(0.2)
    text = hover_text(await hover(client, uri, 1))
    assert GUARD in text
    assert "to the diagnostic on this line" in text


async def test_hover_uses_the_last_failing_command(client: LanguageClient, workspace: Path) -> None:
    other = workspace.parent / "other-ws"  # not a workspace folder: falls back to the first one? no -
    other.mkdir(exist_ok=True)
    uri = open_document(client, workspace / "app.js", "const total = items.length;\n", "javascript")
    assert await hover(client, uri, 0) is None
    ended = {
        "command": "npm test",
        "cwd": str(workspace),
        "terminalId": "t1",
        "executionId": "e1",
        "exitCode": 1,
        "outputHead": "> jest\n",
        "outputTail": "Test Suites: 0 of 0 total\nTests: 0 total\nNo tests found, exiting with code 1\n",
    }
    client.protocol.notify("carryover/terminalEnded", ended)
    await asyncio.sleep(0.2)
    text = hover_text(await hover(client, uri, 0))
    assert "and the failing command `npm test`" in text  # one search for the line and the failure
    # the same command passing clears it
    client.protocol.notify("carryover/terminalEnded", {**ended, "exitCode": 0, "executionId": "e2"})
    await asyncio.sleep(0.2)
    assert await hover(client, uri, 0) is None


async def test_turning_hover_off_and_raising_the_threshold(client: LanguageClient, workspace: Path) -> None:
    uri = open_document(client, workspace / "load.py", SAMPLE, "python")
    assert GUARD in hover_text(await hover(client, uri, 3))

    def configure(settings: dict[str, object]) -> None:
        client.workspace_did_change_configuration(
            lsp.DidChangeConfigurationParams(settings={"carryover": settings})
        )

    configure({"surfaces": {"hover": False}})
    await asyncio.sleep(0.2)
    assert await hover(client, uri, 3) is None
    configure({"surfaces": {"hover": True}, "relevanceThreshold": 0.95})
    await asyncio.sleep(0.2)
    assert await hover(client, uri, 3) is None
    configure({"relevanceThreshold": 0.1, "maxResults": 1})
    await asyncio.sleep(0.2)
    text = hover_text(await hover(client, uri, 3))
    assert GUARD in text and "---" not in text  # exactly one memory
    configure({"relevanceThreshold": "high"})  # wrong type: ignored, the user is told
    await asyncio.sleep(0.2)
    assert any("settings ignored" in message.message for message in client.messages)
    assert GUARD in hover_text(await hover(client, uri, 3))
    configure({"relevanceThreshold": 0.35, "maxResults": 3})


async def test_malformed_params_get_invalid_params_and_the_server_keeps_serving(
    client: LanguageClient, workspace: Path
) -> None:
    uri = open_document(client, workspace / "load.py", SAMPLE, "python")
    with pytest.raises(JsonRpcException) as bad_hover:
        await raw_request(client, "textDocument/hover", {"textDocument": {"uri": uri}})
    assert bad_hover.value.code == -32602
    with pytest.raises(JsonRpcException) as bad_args:
        await command(client, "carryover.pin", {"id": "mem_x"})  # memoryId missing
    assert bad_args.value.code == -32602
    with pytest.raises(JsonRpcException) as bad_type:
        await command(client, "carryover.search", {"query": "x", "k": "many"})
    assert bad_type.value.code == -32602
    with pytest.raises(JsonRpcException) as unknown_memory:
        await command(client, "carryover.show", {"memoryId": "mem_does_not_exist"})
    assert unknown_memory.value.code == -32602
    client.protocol.notify("carryover/terminalEnded", {"cwd": "/tmp"})  # no command: dropped
    client.protocol.notify("carryover/diagnostics", {"uri": uri, "diagnostics": "nope"})
    await asyncio.sleep(0.2)
    assert GUARD in hover_text(await hover(client, uri, 3))
