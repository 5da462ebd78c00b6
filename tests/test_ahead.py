"""Embed ahead of the hover, through the language server: the pool's embedder is a real local
OpenAI-compatible server, so every text the server embeds is a request we can see. When a diagnostic,
a failed run or an edit arrives, the moment the hover would build is embedded before any hover asks;
the hover that follows then embeds nothing (its query texts are in the pool's query cache)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient

from carryover.lsp.app import create_server
from carryover.lsp.features import ahead
from carryover.lsp.features.sync import EDITED_LINES, edited_lines
from tests.support.openai_server import FakeOpenAIServer
from tests.test_server_support import (
    EXAMPLES,
    hover,
    hover_text,
    initialize_params,
    open_document,
    server_env,
    start_client,
    wait_ready,
)

in_module_loop = pytest.mark.asyncio(loop_scope="module")

NO_PROXY = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
DIAGNOSTIC = "TypeError: 'NoneType' object is not subscriptable"
DOCUMENT = "def load(config):\n    value = config.get('key')['inner']\n    return value\n\nx = 1\n"


@pytest.fixture(scope="module")
def embedder_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


def remote_pool(root: Path, url: str) -> Path:
    """A pool whose embedder is the endpoint at ``url`` (config.toml in its home), seeded with the
    example memories the way ``carryover import`` does."""
    from carryover.pool.config import load_config
    from carryover.pool.importer import import_file
    from carryover.pool.store import open_store

    home = root / "home"
    home.mkdir(parents=True)
    (home / "config.toml").write_text(
        f'[embedder]\nprovider = "openai"\nbase_url = "{url}"\nmodel = "fake-embed"\napi_key = "sk-local"\n',
        encoding="utf-8",
    )
    store = open_store(load_config(db=root / "pool", environ={"CARRYOVER_HOME": str(home), **NO_PROXY}))
    report = import_file(store, EXAMPLES)
    assert report.added == 8 and not report.errors, report
    return root / "pool"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def session(
    tmp_path_factory: pytest.TempPathFactory, embedder_server: FakeOpenAIServer
) -> AsyncIterator[tuple[LanguageClient, Path]]:
    root = tmp_path_factory.mktemp("ahead")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in NO_PROXY.items():
            patch.setenv(name, value)
        pool = remote_pool(root, embedder_server.url)
    workspace = root / "ws"
    workspace.mkdir()
    config = ClientServerConfig(
        server_command=[sys.executable, "-m", "carryover.lsp", "--db", str(pool), "--log-level", "info"],
        server_env=server_env(pool.parent / "home", **NO_PROXY),
    )
    client, _ = await start_client(config)
    await client.initialize_session(
        initialize_params(workspace, {"surfaces": {"codeLens": False, "diagnostics": False}})
    )
    await wait_ready(client)
    yield client, workspace
    await client.shutdown_session()
    await client.stop()


def embedded(server: FakeOpenAIServer) -> list[str]:
    """Every text the language server has sent to be embedded, in order."""
    texts: list[str] = []
    for request in server.embedding_requests:
        inputs = request.body.get("input") if isinstance(request.body, dict) else None
        texts.extend([inputs] if isinstance(inputs, str) else list(inputs or []))
    return texts


async def until_embedded(
    server: FakeOpenAIServer, before: int, needle: str, timeout_s: float = 10.0
) -> list[str]:
    """The texts embedded after the first ``before``, once one of them contains ``needle``."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        fresh = embedded(server)[before:]
        if any(needle in text for text in fresh):
            await asyncio.sleep(0.3)  # the rest of the batch
            return embedded(server)[before:]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{needle!r} was never embedded; got {fresh}")
        await asyncio.sleep(0.05)


def forward(client: LanguageClient, uri: str, line: int, message: str) -> None:
    client.protocol.notify(
        "carryover/diagnostics",
        {
            "uri": uri,
            "source": "mypy",
            "diagnostics": [
                {
                    "range": {
                        "start": {"line": line, "character": 4},
                        "end": {"line": line, "character": 20},
                    },
                    "message": message,
                    "severity": 1,
                }
            ],
        },
    )


def edit(client: LanguageClient, uri: str, version: int, line: int, text: str) -> None:
    """Replace line ``line`` (its first 200 characters) with ``text``."""
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[
                lsp.TextDocumentContentChangePartial(
                    range=lsp.Range(start=lsp.Position(line, 0), end=lsp.Position(line, 200)), text=text
                )
            ],
        )
    )


@in_module_loop
async def test_a_diagnostic_is_embedded_before_the_hover_and_the_hover_embeds_nothing(
    session: tuple[LanguageClient, Path], embedder_server: FakeOpenAIServer
) -> None:
    client, workspace = session
    uri = open_document(client, workspace / "diag.py", DOCUMENT, "python")
    await asyncio.sleep(0.5)
    before = len(embedded(embedder_server))
    forward(client, uri, 1, DIAGNOSTIC)
    fresh = await until_embedded(embedder_server, before, "NoneType")
    assert any("config.get('key')['inner']" in text and "NoneType" in text for text in fresh), fresh
    warmed = len(embedded(embedder_server))
    text = hover_text(await hover(client, uri, 1))
    assert "Carryover" in text and "diagnostic on this line" in text
    assert len(embedded(embedder_server)) == warmed, embedded(embedder_server)[warmed:]


@in_module_loop
async def test_an_edited_line_with_a_diagnostic_is_embedded_as_it_now_reads(
    session: tuple[LanguageClient, Path], embedder_server: FakeOpenAIServer
) -> None:
    client, workspace = session
    uri = open_document(client, workspace / "edit.py", DOCUMENT, "python")
    forward(client, uri, 1, DIAGNOSTIC)
    await until_embedded(embedder_server, 0, "NoneType")
    before = len(embedded(embedder_server))
    edit(client, uri, 2, 1, "    value = config.get('key')['renamed_field']")
    fresh = await until_embedded(embedder_server, before, "renamed_field")
    assert any("NoneType" in text for text in fresh if "renamed_field" in text)
    warmed = len(embedded(embedder_server))
    assert await hover(client, uri, 1) is not None
    assert len(embedded(embedder_server)) == warmed


@in_module_loop
async def test_a_failed_run_rewarms_where_the_user_was(
    session: tuple[LanguageClient, Path], embedder_server: FakeOpenAIServer
) -> None:
    client, workspace = session
    uri = open_document(client, workspace / "run.py", DOCUMENT, "python")
    edit(client, uri, 2, 4, "x = compute_totals(rows)")
    await asyncio.sleep(0.5)  # a plain line: nothing to search for yet
    before = len(embedded(embedder_server))
    client.protocol.notify(
        "carryover/terminalEnded",
        {
            "command": "pytest -x tests/test_totals.py",
            "cwd": str(workspace),
            "exitCode": 1,
            "outputTail": "E   KeyError: 'total'\n1 failed in 0.03s\n",
        },
    )
    fresh = await until_embedded(embedder_server, before, "compute_totals")
    assert any("pytest -x" in text for text in fresh if "compute_totals" in text), fresh
    warmed = len(embedded(embedder_server))
    text = hover_text(await hover(client, uri, 4))
    assert "failing command" in text
    assert len(embedded(embedder_server)) == warmed
    client.protocol.notify(
        "carryover/terminalEnded",
        {
            "command": "pytest -x tests/test_totals.py",
            "cwd": str(workspace),
            "exitCode": 0,
            "outputTail": "ok",
        },
    )


@in_module_loop
async def test_plain_lines_are_not_embedded_ahead(
    session: tuple[LanguageClient, Path], embedder_server: FakeOpenAIServer
) -> None:
    """Typing on lines that carry no problem embeds nothing: the hover does not search there."""
    client, workspace = session
    uri = open_document(client, workspace / "plain.py", "a = 1\nb = 2\nc = 3\n", "python")
    await asyncio.sleep(0.5)
    before = len(embedded(embedder_server))
    for version, text in enumerate(("b = 20", "b = 200", "b = 2000"), start=2):
        edit(client, uri, version, 1, text)
    await asyncio.sleep(1.0)
    assert embedded(embedder_server)[before:] == []
    assert json.dumps(embedded(embedder_server)).count("b = 2000") == 0


# ----- the parts, in-process --------------------------------------------------------------------


def test_edited_lines_are_the_lines_each_change_spans_afterwards() -> None:
    change = lsp.TextDocumentContentChangePartial(
        range=lsp.Range(start=lsp.Position(3, 0), end=lsp.Position(3, 0)), text="one\ntwo\n"
    )
    other = lsp.TextDocumentContentChangePartial(
        range=lsp.Range(start=lsp.Position(10, 2), end=lsp.Position(12, 0)), text="x"
    )
    assert edited_lines([change, other]) == (3, 4, 5, 10)
    assert edited_lines([lsp.TextDocumentContentChangeWholeDocument(text="all\nnew\n")]) == ()
    paste = lsp.TextDocumentContentChangePartial(
        range=lsp.Range(start=lsp.Position(0, 0), end=lsp.Position(0, 0)), text="\n" * 500
    )
    assert len(edited_lines([paste])) == EDITED_LINES


@in_module_loop
async def test_the_pending_lines_are_bounded() -> None:
    """However many positions arrive while nothing drains (no pool yet), at most MAX_PENDING wait,
    the newest kept; the drain then ends without a pool, and a later POOL_READY would restart it."""
    server = create_server()
    state = ahead.of(server)
    assert state is not None
    state.add("file:///a.py", range(1000))
    assert len(state.pending) == ahead.MAX_PENDING
    assert state.stats.dropped == 1000 - ahead.MAX_PENDING
    assert next(reversed(state.pending)) == ("file:///a.py", 999)
    await asyncio.wait_for(state.idle.wait(), 5)
    assert state.stats.jobs == 0 and len(state.pending) == ahead.MAX_PENDING
    await server.background.cancel_all()
