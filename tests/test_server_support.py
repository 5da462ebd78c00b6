"""Shared by the language-server tests: a seeded pool (built once per test session, copied per
module), the server command, a pytest-lsp client factory, and fakes the server can load.

Pools are seeded from examples/memories.jsonl with ``carryover.pool.importer.import_file`` (what
``carryover import`` does), in a directory of their own with CARRYOVER_HOME pointing next to it, so
the user's own pool and config are never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, NamedTuple, TypeVar, Union, cast

import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "memories.jsonl"
STARTUP_S = 120.0

Handler = TypeVar("Handler", bound=Callable[..., Any])


def client_feature(client: LanguageClient, method: str) -> Callable[[Handler], Handler]:
    """``client.feature(method)`` with its type: pygls's client-side decorator has no return annotation
    (it registers the handler and returns it unchanged)."""
    return cast("Callable[[Handler], Handler]", client.feature(method))


@functools.cache
def _template_pool() -> Path:
    """One seeded pool per test session; modules get copies of it."""
    from carryover.pool.config import load_config
    from carryover.pool.embedding.minilm import MiniLMEmbedder
    from carryover.pool.importer import import_file
    from carryover.pool.store import MemoryStore

    root = Path(tempfile.mkdtemp(prefix="carryover-lsp-template-"))
    config = load_config(db=root / "pool", environ={"CARRYOVER_HOME": str(root / "home")})
    store = MemoryStore(config, MiniLMEmbedder())
    report = import_file(store, EXAMPLES)
    assert report.added == 8 and not report.errors, report
    return root


def seeded_pool(directory: Path) -> Path:
    """A copy of the seeded pool in ``directory``; returns the pool path (``--db``)."""
    shutil.copytree(_template_pool() / "pool", directory / "pool")
    (directory / "home").mkdir(exist_ok=True)
    return directory / "pool"


def server_env(home: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(CARRYOVER_HOME=str(home), PYTHONPATH=str(ROOT), **extra)
    env.pop("CARRYOVER_EMBEDDER", None)
    return env


def client_config(pool: Path, *args: str) -> ClientServerConfig:
    command = [sys.executable, "-m", "carryover.lsp", "--db", str(pool), "--log-level", "info", *args]
    return ClientServerConfig(
        server_command=command,
        server_env=server_env(pool.parent / "home"),
    )


class ClientRecorder:
    """What a VS Code-like client answers for the server requests pytest-lsp has no default for."""

    def __init__(self) -> None:
        self.refreshes: list[str] = []
        self.message_requests: list[lsp.ShowMessageRequestParams] = []
        self.answer: int | None = 0  # index of the action chosen in showMessageRequest, None: dismiss
        self.statuses: list[tuple[str, int | None]] = []  # carryover/status: (state, memories)


async def start_client(config: ClientServerConfig) -> tuple[LanguageClient, ClientRecorder]:
    client = await config.start()
    assert isinstance(client, LanguageClient)
    recorder = ClientRecorder()
    converter = client.protocol._converter

    # lsprotocol 2025.0.0 structures every code action that has a ``command`` as a Command (it
    # checks for the key, not for a string value), losing its title, kind and arguments; VS Code
    # tells them apart by whether ``command`` is a string. Do as VS Code does.
    def command_or_action(value: Any, _type: Any) -> lsp.Command | lsp.CodeAction:
        if isinstance(value.get("command"), str):
            return converter.structure(value, lsp.Command)
        return converter.structure(value, lsp.CodeAction)

    converter.register_structure_hook(Union[lsp.Command, lsp.CodeAction], command_or_action)  # noqa: UP007

    @client_feature(client, lsp.WORKSPACE_CODE_LENS_REFRESH)
    def code_lens_refresh(_params: None) -> None:
        recorder.refreshes.append("codeLens")

    @client_feature(client, lsp.WORKSPACE_INLAY_HINT_REFRESH)
    def inlay_hint_refresh(_params: None) -> None:
        recorder.refreshes.append("inlayHint")

    @client_feature(client, lsp.WINDOW_SHOW_MESSAGE_REQUEST)
    def show_message_request(params: lsp.ShowMessageRequestParams) -> lsp.MessageActionItem | None:
        recorder.message_requests.append(params)
        if recorder.answer is None or not params.actions:
            return None
        return params.actions[recorder.answer]

    @client_feature(client, "carryover/status")
    def status(params: Any) -> None:
        recorder.refreshes.append(f"status:{params.state}")
        recorder.statuses.append((params.state, getattr(params, "memories", None)))

    return client, recorder


def initialize_params(root: Path, options: dict[str, Any] | None = None) -> lsp.InitializeParams:
    return lsp.InitializeParams(
        capabilities=pytest_lsp.client_capabilities("visual-studio-code"),
        root_uri=root.as_uri(),
        workspace_folders=[lsp.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
        initialization_options=options,
    )


class Window(NamedTuple):
    """One editor window: a client, what it answered the server, its workspace, the pool."""

    client: LanguageClient
    recorder: ClientRecorder
    workspace: Path
    pool: Path


@contextlib.asynccontextmanager
async def server_window(
    root: Path, *server_args: str, options: dict[str, Any] | None = None
) -> AsyncIterator[Window]:
    """A server on a seeded pool in ``root`` with workspace ``root/ws``, initialized (with ``options``
    as initializationOptions) and its pool ready; shut down and stopped afterwards."""
    pool = seeded_pool(root)
    workspace = root / "ws"
    workspace.mkdir(exist_ok=True)
    client, recorder = await start_client(client_config(pool, *server_args))
    try:
        await client.initialize_session(initialize_params(workspace, options))
        await wait_ready(client)
        yield Window(client, recorder, workspace, pool)
    finally:
        await client.shutdown_session()
        await client.stop()


async def wait_ready(client: LanguageClient) -> None:
    """Until the pool is open (a command waits for it)."""
    await asyncio.wait_for(
        client.workspace_execute_command_async(
            lsp.ExecuteCommandParams(command="carryover.search", arguments=[{"query": "ready?", "k": 1}])
        ),
        STARTUP_S,
    )


def open_document(client: LanguageClient, path: Path, text: str, language: str) -> str:
    uri = path.as_uri()
    client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(
            text_document=lsp.TextDocumentItem(uri=uri, language_id=language, version=1, text=text)
        )
    )
    return uri


async def hover(client: LanguageClient, uri: str, line: int, character: int = 4) -> lsp.Hover | None:
    return await client.text_document_hover_async(
        lsp.HoverParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            position=lsp.Position(line=line, character=character),
        )
    )


async def command(client: LanguageClient, name: str, *arguments: Any) -> Any:
    return await client.workspace_execute_command_async(
        lsp.ExecuteCommandParams(command=name, arguments=list(arguments) if arguments else None)
    )


async def raw_request(client: LanguageClient, method: str, params: Any) -> Any:
    """Send a request exactly as given (no typing on the client side), as a sloppy client would."""
    import uuid
    from concurrent.futures import Future

    msg_id = str(uuid.uuid4())
    future: Future[Any] = Future()
    client.protocol._request_futures[msg_id] = future
    client.protocol._send_data({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
    return await asyncio.wait_for(asyncio.wrap_future(future), 30.0)


def hover_text(result: lsp.Hover | None) -> str:
    if result is None:
        return ""
    contents = result.contents
    assert isinstance(contents, lsp.MarkupContent)
    return contents.value


async def eventually(check: Callable[[], Any], timeout_s: float = 20.0, interval_s: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval_s)


def read_events(pool: Path) -> list[dict[str, Any]]:
    """The rows of the pool's events table, payload decoded."""
    import lancedb

    table = lancedb.connect(str(pool)).open_table("events")
    rows = table.search().limit(None).to_arrow().to_pylist()
    for row in rows:
        row["payload"] = json.loads(row["payload"])
    return sorted(rows, key=lambda row: row["time"])


# ----- fakes the server loads with --distiller tests.test_server_support:NAME -------------------------


class RecordingDistiller:
    """Reports progress twice and writes one memory, as a distiller does."""

    def distill_pending(self, store: Any, on_progress: Callable[[int, int, str], None] | None = None) -> Any:
        from carryover.pipeline.distill.base import DistillReport
        from carryover.pool.records import MemoryDraft

        if on_progress is not None:
            on_progress(0, 2, "reading episodes")
        time.sleep(0.05)
        results = store.add_many(
            [
                MemoryDraft(
                    kind="insight",
                    title="Retry flaky network calls with a deadline",
                    description="Use when a call to another service fails now and then.",
                    content="Give every remote call a timeout and a bounded number of retries.",
                    languages=["python"],
                )
            ]
        )
        if on_progress is not None:
            on_progress(2, 2, "writing memories")
        return DistillReport(total=2, distilled=2, memories=len(results), added=len(results))


def test_recording_distiller_reports_progress(tmp_path: Path) -> None:
    class Store:
        def add_many(self, drafts: list[Any]) -> list[Any]:
            return list(drafts)

    seen: list[tuple[int, int, str]] = []
    report = RecordingDistiller().distill_pending(Store(), lambda *args: seen.append(args))
    assert seen == [(0, 2, "reading episodes"), (2, 2, "writing memories")]
    assert (report.episodes, report.added) == (2, 1)


# Titles of seeded_pool()'s memories, and documents they apply to.
GUARD = "Guard optional values before indexing into them"
INJECTION = "Never build shell or SQL commands by string concatenation"
LOOKUP = 'def load(config):\n    value = config.get("key")["inner"]\n    return value\n'
SHELL = 'import os\n\n\ndef clean(user_dir):\n    target = "rm -rf " + user_dir\n    os.system(target)\n'
