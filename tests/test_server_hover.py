"""The language server end to end (a real subprocess driven by pytest-lsp as VS Code would): hover,
configuration changes, malformed params. One seeded pool and one server for the module."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

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
    result = await client.initialize_session(initialize_params(workspace))  # its time: benchmarks/
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
    assert await hover(client, uri, 3) is not None

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
    assert "**" in text and "---" not in text  # exactly one memory
    configure({"relevanceThreshold": "high"})  # wrong type: ignored, the user is told
    await asyncio.sleep(0.2)
    assert any("settings ignored" in message.message for message in client.messages)
    assert await hover(client, uri, 3) is not None
    configure({"relevanceThreshold": 0.0, "maxResults": 3})


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
    assert await hover(client, uri, 3) is not None


def _cli(pool: Path, *args: str) -> dict[str, Any]:
    env = {**os.environ, "CARRYOVER_HOME": str(pool.parent / "home")}
    command = [sys.executable, "-m", "carryover", "--db", str(pool), *args, "--json"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=True)
    parsed: dict[str, Any] = json.loads(done.stdout)
    return parsed


def _default_settings(client: LanguageClient) -> None:
    """The settings the CLI uses (an earlier test of the module changed them)."""
    client.workspace_did_change_configuration(
        lsp.DidChangeConfigurationParams(settings={"carryover": {"relevanceThreshold": 0.0, "maxResults": 3}})
    )


async def test_carryover_search_shows_what_the_hover_shows(client: LanguageClient, workspace: Path) -> None:
    """The same moment through the CLI (the line, its diagnostic, the failing command and its output)
    and through the hover: the same memories in the same order."""
    pool = workspace.parent / "pool"
    _default_settings(client)
    await command(client, "carryover.distill")  # what earlier tests left to distil lands now, not between
    await asyncio.sleep(2.5)  # the two searches below (the server re-reads the pool every 2 s)
    line = "    return rows[index]['total']"
    # the document is the line alone: the CLI sees no more of it than that
    uri = open_document(client, workspace / "report.py", f"{line}\n", "python")
    diagnostic = 'Value of type "Optional[dict[str, int]]" is not indexable'
    client.protocol.notify(
        "carryover/diagnostics",
        {
            "uri": uri,
            "source": "mypy",
            "diagnostics": [
                {
                    "range": {"start": {"line": 0, "character": 11}, "end": {"line": 0, "character": 21}},
                    "message": diagnostic,
                    "severity": 1,
                }
            ],
        },
    )
    output = "E   TypeError: 'NoneType' object is not subscriptable\n1 failed, 2 passed in 0.05s\n"
    client.protocol.notify(
        "carryover/terminalEnded",
        {
            "command": "pytest -x",
            "cwd": str(workspace),
            "exitCode": 1,
            "outputHead": "",
            "outputTail": output,
        },
    )
    await asyncio.sleep(0.3)
    text = hover_text(await hover(client, uri, 0))
    found = await asyncio.to_thread(
        _cli,
        pool,
        "search",
        line,
        "--language",
        "python",
        "--diagnostic",
        diagnostic,
        "--failed-command",
        "pytest -x",
        "--output",
        output,
        "--workspace",
        str(workspace),
    )
    ids = [hit["id"] for hit in found["hits"]]
    assert ids, found
    assert re.findall(r"`(mem_[0-9a-f]+)`", text) == ids, (text, found)
    assert all(hit["basis"] for hit in found["hits"])
    client.protocol.notify(
        "carryover/terminalEnded",
        {"command": "pytest -x", "cwd": str(workspace), "exitCode": 0, "outputTail": "3 passed"},
    )


async def test_a_tsx_file_is_the_same_language_as_typescript(client: LanguageClient, workspace: Path) -> None:
    """A workflow learned in TypeScript is same-language advice in a .tsx file (typescriptreact), and
    same-ecosystem advice in JavaScript; never shown in Python."""
    pool = workspace.parent / "pool"
    _default_settings(client)
    title = "Regenerate the GraphQL client types after changing the schema"
    await asyncio.to_thread(
        _cli,
        pool,
        "add",
        "--kind",
        "workflow",
        "--title",
        title,
        "--description",
        "Use when a property does not exist on the type of a generated GraphQL query hook: the generated "
        "types are stale.",
        "--content",
        "1. run the codegen script\n2. re-run the type check",
        "--language",
        "typescriptreact",
        "--tool",
        "graphql-codegen",
    )
    await asyncio.sleep(2.5)  # the server's pool refreshes every 2 s
    line = "  const { data } = useOrdersQuery({ variables: { first: 10 } }); // field 'orders' missing"
    message = "Property 'orders' does not exist on type 'OrdersQuery'. GraphQL generated hook type is stale."
    texts = {}
    for name, language in (
        ("Orders.tsx", "typescriptreact"),
        ("orders.js", "javascript"),
        ("orders.py", "python"),
    ):
        uri = open_document(client, workspace / name, f"export function Orders() {{\n{line}\n}}\n", language)
        texts[language] = hover_text(await hover_with_diagnostic(client, uri, 1, message))
    assert title in texts["typescriptreact"] and "same language (typescript)" in texts["typescriptreact"]
    assert "learned in TypeScript" in texts["typescriptreact"]  # stored by its canonical name
    assert title in texts["javascript"] and "same ecosystem (typescript)" in texts["javascript"]
    assert title not in texts["python"]


async def hover_with_diagnostic(
    client: LanguageClient, uri: str, line: int, message: str
) -> lsp.Hover | None:
    client.protocol.notify(
        "carryover/diagnostics",
        {
            "uri": uri,
            "source": "tsc",
            "diagnostics": [
                {
                    "range": {"start": {"line": line, "character": 0}, "end": {"line": line, "character": 5}},
                    "message": message,
                    "severity": 1,
                }
            ],
        },
    )
    await asyncio.sleep(0.2)
    return await hover(client, uri, line)
