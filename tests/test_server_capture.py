"""The language server end to end: what the editor reports (custom notifications, document
lifecycle) reaches the event sink as CapturedEvents with the payload keys of
server/capture/events.py; pause/resume, the capture setting, exclusions, log levels, and "distill
now" turning a terminal episode into memories. Events are read back from the pool's events table."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types as lsp

from carryover.vocabulary.output import DIFF_CHARS, OUTPUT_HEAD_CHARS
from tests.test_server_support import (
    Window,
    client_config,
    command,
    eventually,
    hover,
    initialize_params,
    open_document,
    read_events,
    server_window,
    start_client,
    wait_ready,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

TOKEN = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
TERMINAL_ENDED_KEYS = {
    "command",
    "cwd",
    "terminal_id",
    "execution_id",
    "exit_code",
    "started_at",
    "ended_at",
    "output_head",
    "output_tail",
    "output_truncated",
}


class Session:
    def __init__(self, window: Window) -> None:
        self.client, self.recorder, self.workspace, self.pool = window

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [row for row in read_events(self.pool) if kind is None or row["type"] == kind]

    def ended(self, command: str, **extra: Any) -> None:
        self.client.protocol.notify(
            "carryover/terminalEnded",
            {"command": command, "cwd": str(self.workspace), "exitCode": 0, **extra},
        )

    def configure(self, settings: dict[str, Any]) -> None:
        self.client.workspace_did_change_configuration(
            lsp.DidChangeConfigurationParams(settings={"carryover": settings})
        )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def session(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Session]:
    root = tmp_path_factory.mktemp("capture")
    (root / "ws" / "secrets").mkdir(parents=True)
    async with server_window(root, options={"carryover": {"exclude": ["**/secrets/**"]}}) as window:
        yield Session(window)


async def test_terminal_notifications_become_events(session: Session) -> None:
    client = session.client
    client.protocol.notify(
        "carryover/terminalStarted",
        {"command": "pytest -x", "cwd": str(session.workspace), "terminalId": "7", "executionId": "x1"},
    )
    session.ended(
        "pytest -x",
        terminalId="7",
        executionId="x1",
        exitCode=1,
        startedAt="2026-01-01T10:00:00",
        outputHead="collected 3 items\n" + "." * 9000,
        outputTail=f"FAILED test_a.py::test_b - AssertionError\nexport GITHUB_TOKEN={TOKEN}\n",
    )
    ended = (await eventually(lambda: session.events("terminal.ended")))[0]
    started = session.events("terminal.started")[0]
    assert set(started["payload"]) == {"command", "cwd", "terminal_id", "execution_id"}
    assert started["payload"]["terminal_id"] == "7" and started["source"] == "terminal"
    payload = ended["payload"]
    assert set(payload) == TERMINAL_ENDED_KEYS
    assert (
        payload["exit_code"] == 1 and payload["started_at"] == "2026-01-01T10:00:00" and payload["ended_at"]
    )
    assert len(payload["output_head"]) <= OUTPUT_HEAD_CHARS + 80 and payload["output_truncated"] is True
    assert TOKEN not in payload["output_tail"] and "REDACTED" in payload["output_tail"]
    assert ended["workspace"] == str(session.workspace) and ended["source"] == "terminal"


async def test_tool_diagnostics_become_events(session: Session) -> None:
    uri = (session.workspace / "a.ts").as_uri()
    session.client.protocol.notify(
        "carryover/diagnostics",
        {
            "uri": uri,
            "source": "eslint",
            "diagnostics": [
                {
                    "range": {"start": {"line": 2, "character": 0}, "end": {"line": 2, "character": 5}},
                    "message": "'x' is possibly 'undefined'.",
                    "severity": 2,
                    "code": "TS18048",
                    "source": "ts",
                }
            ],
        },
    )
    (event,) = await eventually(lambda: session.events("diagnostics.changed"))
    assert event["payload"] == {
        "uri": uri,
        "path": "a.ts",
        "source": "eslint",
        "diagnostics": [
            {
                "range": {"start": {"line": 2, "character": 0}, "end": {"line": 2, "character": 5}},
                "severity": 2,
                "code": "TS18048",
                "source": "ts",
                "message": "'x' is possibly 'undefined'.",
            }
        ],
        "errors": 0,
        "warnings": 1,
        "after_save": False,
    }


async def test_document_lifecycle_becomes_events(session: Session) -> None:
    client = session.client
    uri = open_document(client, session.workspace / "doc.py", "a = 1\n", "python")
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[lsp.TextDocumentContentChangeWholeDocument(text="a = 2\n")],
        )
    )
    client.text_document_did_save(
        lsp.DidSaveTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=uri))
    )
    client.text_document_did_close(
        lsp.DidCloseTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=uri))
    )
    closed = await eventually(
        lambda: [e for e in session.events("document.closed") if e["payload"]["uri"] == uri]
    )
    opened = [e for e in session.events("document.opened") if e["payload"]["uri"] == uri]
    saved = [e for e in session.events("document.saved") if e["payload"]["uri"] == uri]
    assert opened[0]["payload"] == {"uri": uri, "language_id": "python", "version": 1, "path": "doc.py"}
    save = saved[0]["payload"]
    assert save["path"] == "doc.py" and (save["added"], save["removed"]) == (1, 1), save
    assert "-a = 1" in save["diff"] and "+a = 2" in save["diff"] and save["diff_truncated"] is False
    assert closed[0]["payload"]["uri"] == uri and closed[0]["source"] == "editor"


async def test_pause_resume_and_the_capture_setting(session: Session) -> None:
    assert (await command(session.client, "carryover.pauseCapture")) == {"capture": "paused"}
    session.ended("echo while-paused")
    assert (await command(session.client, "carryover.resumeCapture")) == {"capture": "on"}
    session.configure({"capture": False})
    await asyncio.sleep(0.2)
    session.ended("echo while-off")
    session.configure({"capture": True})
    await asyncio.sleep(0.2)
    session.ended("echo resumed")
    await eventually(
        lambda: [e for e in session.events("terminal.ended") if e["payload"]["command"] == "echo resumed"]
    )
    commands = [event["payload"]["command"] for event in session.events("terminal.ended")]
    assert "echo while-paused" not in commands and "echo while-off" not in commands
    assert "status:capture-paused" in session.recorder.refreshes


async def test_excluded_files_are_neither_captured_nor_served(session: Session) -> None:
    path = session.workspace / "secrets" / "keys.py"
    uri = open_document(session.client, path, 'value = config.get("key")["inner"]\n', "python")
    assert await hover(session.client, uri, 0) is None
    visible = open_document(session.client, session.workspace / "ok.py", 'v = c.get("k")["i"]\n', "python")
    assert await hover(session.client, visible, 0) is not None
    await eventually(lambda: [e for e in session.events("document.opened") if e["payload"]["uri"] == visible])
    assert not [e for e in session.events() if e["payload"].get("uri") == uri]


async def test_log_messages_follow_the_chosen_level(session: Session) -> None:
    client = session.client
    session.configure({"logLevel": "error"})
    await asyncio.sleep(0.2)
    before = len(client.log_messages)
    await command(client, "carryover.pauseCapture")
    await command(client, "carryover.resumeCapture")
    await asyncio.sleep(0.2)
    assert not [m for m in client.log_messages[before:] if "capture paused" in m.message]
    session.configure({"logLevel": "info"})
    await asyncio.sleep(0.2)
    await command(client, "carryover.pauseCapture")
    await command(client, "carryover.resumeCapture")
    await eventually(lambda: [m for m in client.log_messages[before:] if "capture paused" in m.message])


async def test_terminal_episode_becomes_memories_on_distill_now(tmp_path: Path) -> None:
    """A fresh editor window: a failing test run, a change, the same run passing; "distill now"
    segments it into a validated episode and the default (offline) distiller writes its memories,
    with progress reported."""
    async with server_window(tmp_path) as opened:
        window = Session(opened)
        client = window.client
        failure = (
            "FAILED tests/test_api.py::test_lookup - TypeError: 'NoneType' object is not subscriptable\n"
            "1 failed, 3 passed in 0.12s"
        )
        for line, code, output in (
            ("pytest -x tests/test_api.py", 1, failure),
            ("sed -i 's/x/y/' src/api.py", 0, ""),
            ("pytest -x tests/test_api.py", 0, "4 passed in 0.10s"),
        ):
            window.ended(line, exitCode=code, outputHead=output, outputTail=output)
        await eventually(lambda: len(window.events("terminal.ended")) >= 3)
        result = await command(client, "carryover.distill", {})
        assert result["distilled"] is True, result
        assert result["episodes"] == 1 and result["added"] >= 3, result
        assert [t for t in client.progress_reports if str(t).startswith("carryover-distill")]
        found = await command(client, "carryover.search", {"query": "pytest -x tests", "k": 10})
        assert any(hit["kind"] == "trajectory" and "pytest" in hit["tools"] for hit in found["hits"]), found


async def test_a_background_distillation_tells_the_editor(tmp_path: Path) -> None:
    """Nobody asks to distil: the finished episode is distilled in the background, and the server then
    says "changed" with the new count (what the status item and the views follow)."""
    async with server_window(tmp_path) as opened:
        window = Session(opened)
        client, recorder = window.client, window.recorder
        assert ("ready", 8) in recorder.statuses, recorder.statuses
        for line, code, output in (
            ("cargo test", 101, "thread 'main' panicked at 'called `Option::unwrap()` on a `None` value'"),
            ("cargo test", 0, "test result: ok. 4 passed"),
        ):
            window.ended(line, exitCode=code, outputHead=output, outputTail=output)
        changed = await eventually(
            lambda: [count for state, count in recorder.statuses if state == "changed"], timeout_s=60
        )
        assert changed[-1] is not None and changed[-1] > 8, recorder.statuses
        listed = await command(client, "carryover.list", {"limit": 100})
        assert len(listed["memories"]) == changed[-1]


async def test_pin_and_reject_say_changed(session: Session) -> None:
    client = session.client
    found = await command(client, "carryover.search", {"query": "guard optional values", "k": 1})
    memory_id = found["hits"][0]["id"]
    before = len(session.recorder.statuses)
    await command(client, "carryover.pin", {"memoryId": memory_id})
    await eventually(lambda: [s for s in session.recorder.statuses[before:] if s[0] == "changed"])
    await command(client, "carryover.restore", {"memoryId": memory_id})


async def test_the_server_said_when_the_pool_was_ready(session: Session) -> None:
    assert "status:ready" in session.recorder.refreshes


async def test_two_servers_share_one_pool(session: Session) -> None:
    """A second editor window: its events land in the same table, its pin shows in the first."""
    client, _ = await start_client(client_config(session.pool))
    try:
        await client.initialize_session(initialize_params(session.workspace))
        await wait_ready(client)
        found = await command(
            client, "carryover.search", {"query": "Reproduce the failure before editing", "k": 1}
        )
        target = found["hits"][0]["id"]
        await command(client, "carryover.pin", {"memoryId": target})
        for index in range(50):
            session.ended(f"echo first-{index}")
            client.protocol.notify(
                "carryover/terminalEnded", {"command": f"echo second-{index}", "cwd": str(session.workspace)}
            )

        def both() -> bool:
            commands = {event["payload"]["command"] for event in session.events("terminal.ended")}
            return {f"echo first-{i}" for i in range(50)} | {
                f"echo second-{i}" for i in range(50)
            } <= commands

        await eventually(both)
        for _ in range(50):  # the first window sees it once it re-reads the pool (every 2 s at most)
            shown = await command(session.client, "carryover.show", {"memoryId": target})
            if shown["memory"]["status"] == "pinned":
                break
            await asyncio.sleep(0.2)
        assert shown["memory"]["status"] == "pinned"
        await command(session.client, "carryover.restore", {"memoryId": target})
    finally:
        await client.shutdown_session()
        await client.stop()


def _change_to(client: Any, uri: str, version: int, text: str) -> None:
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )
    client.text_document_did_save(
        lsp.DidSaveTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=uri))
    )


def _pool_bytes(pool: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(pool.rglob("*")) if path.is_file())


async def test_a_secret_file_leaves_no_byte_in_the_pool(session: Session) -> None:
    """A .env opened, edited and saved in the editor: neither its content nor its name is stored
    (capture keeps secret paths out entirely), while an ordinary file saved after it is."""
    client = session.client
    marker = "plainvalue" + "Q7x9Z2k4"  # not a secret pattern: only the path rule can keep it out
    env = open_document(client, session.workspace / ".env", f"APP_MODE={marker}\n", "dotenv")
    _change_to(client, env, 2, f"APP_MODE={marker}\nOTHER={marker}2\n")
    ordinary = open_document(client, session.workspace / "after_env.py", "x = 1\n", "python")
    _change_to(client, ordinary, 2, "x = 2\n")
    await eventually(lambda: [e for e in session.events("document.saved") if e["payload"]["uri"] == ordinary])
    assert not [e for e in session.events() if ".env" in str(e["payload"])]
    assert marker.encode() not in _pool_bytes(session.pool)


async def test_a_large_save_is_a_bounded_diff_with_counts(session: Session) -> None:
    client = session.client
    before = "".join(f"value_{n} = {n}\n" for n in range(3000))
    after = "".join(f"value_{n} = {n + 1}\n" for n in range(3000))
    uri = open_document(client, session.workspace / "big.py", before, "python")
    _change_to(client, uri, 2, after)
    (saved,) = await eventually(
        lambda: [e for e in session.events("document.saved") if e["payload"]["uri"] == uri]
    )
    payload = saved["payload"]
    assert (payload["added"], payload["removed"]) == (3000, 3000)
    assert payload["diff_truncated"] is True and len(payload["diff"]) <= DIFF_CHARS + 200


async def test_an_error_published_after_a_save_opens_an_episode(session: Session) -> None:
    from carryover.pipeline.segment import segment_pending
    from carryover.pool.config import load_config
    from carryover.pool.store import open_store

    client = session.client
    uri = open_document(client, session.workspace / "calc.ts", "export const a = 1;\n", "typescript")
    _change_to(client, uri, 2, "export const a: string = 1;\n")
    client.protocol.notify(
        "carryover/diagnostics",
        {
            "uri": uri,
            "source": "editor",
            "diagnostics": [
                {
                    "range": {"start": {"line": 0, "character": 13}, "end": {"line": 0, "character": 14}},
                    "message": "Type 'number' is not assignable to type 'string'.",
                    "severity": 1,
                    "code": 2322,
                    "source": "ts",
                }
            ],
        },
    )
    (published,) = await eventually(
        lambda: [e for e in session.events("diagnostics.changed") if e["payload"]["uri"] == uri]
    )
    assert published["payload"]["after_save"] is True and published["payload"]["errors"] == 1
    store = open_store(load_config(db=session.pool))
    report = await asyncio.to_thread(segment_pending, store)
    episodes = [*report.open, *report.finished, *store.list_episodes()]
    assert any(
        episode.workspace == str(session.workspace) and "calc.ts" in episode.goal for episode in episodes
    ), [(episode.workspace, episode.goal) for episode in episodes]
