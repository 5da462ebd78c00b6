"""Validation steps native to the workspace, through the real server (pytest-lsp): a memory's check
command is offered only where its tool belongs to the workspace's ecosystem; elsewhere the practice
is offered with the workspace's own failing command. A JavaScript workspace never gets a Python one."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from lsprotocol import types as lsp

from carryover.lsp.features.code_actions import belongs, declared_check, validation_for, workspace_languages
from carryover.pool.config import load_config
from carryover.pool.embedding.minilm import MiniLMEmbedder
from carryover.pool.records import Kind, MemoryDraft
from carryover.pool.store import MemoryStore
from tests.test_server_support import (
    client_config,
    initialize_params,
    open_document,
    seeded_pool,
    start_client,
    wait_ready,
)

APP = "export function total(order) {\n  const count = order.items.length;\n  return count;\n}\n"
OUTPUT = "FAIL src/total.test.js\n  TypeError: Cannot read properties of undefined (reading 'length')\n"


def test_workspace_files_decide_what_belongs(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text(json.dumps({"scripts": {"test": "vitest run"}}))
    assert workspace_languages(str(tmp_path)) == {"javascript"}
    assert not belongs("python3 app.py", frozenset({"javascript"}), "javascript")
    assert belongs("npx vitest run", frozenset({"javascript"}), "python")
    assert belongs("tsc --noEmit", frozenset({"javascript"}), None)  # one ecosystem
    assert belongs("pytest -x", frozenset(), "python")  # no build files: the document's language
    assert declared_check(str(tmp_path)) == ("npm test", "package.json")
    practice = validation_for("python3 app.py", str(tmp_path), "javascript", None)
    assert (
        practice is not None
        and practice.command == "npm test"
        and practice.basis == "declared in package.json"
    )
    assert validation_for("python3 app.py", str(tmp_path / "none"), "javascript", None) is None


@pytest.mark.asyncio
async def test_a_javascript_workspace_never_offers_a_python_check(tmp_path: Path) -> None:
    pool = seeded_pool(tmp_path)
    store = MemoryStore(
        load_config(db=pool, environ={"CARRYOVER_HOME": str(tmp_path / "home")}), MiniLMEmbedder()
    )
    store.add(
        MemoryDraft(
            kind=Kind.INSIGHT,
            title="Check that a field is present before reading from it",
            description="Reading a property of a missing value (undefined, None) crashes where it is used.",
            content="Validate the shape of the data where it enters, then re-run the check that failed.",
            languages=("python",),
            check_command="python3 app.py",
        )
    )
    del store
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "package.json").write_text(json.dumps({"name": "shop", "scripts": {"test": "vitest run"}}))
    client, _ = await start_client(client_config(pool))
    try:
        await client.initialize_session(initialize_params(workspace))
        await wait_ready(client)
        uri = open_document(client, workspace / "total.js", APP, "javascript")
        client.protocol.notify(
            "carryover/terminalEnded",
            {"command": "npm test", "cwd": str(workspace), "exitCode": 1, "outputTail": OUTPUT},
        )
        await asyncio.sleep(0.3)
        actions = await client.text_document_code_action_async(
            lsp.CodeActionParams(
                text_document=lsp.TextDocumentIdentifier(uri=uri),
                range=lsp.Range(
                    start=lsp.Position(line=1, character=0), end=lsp.Position(line=1, character=0)
                ),
                context=lsp.CodeActionContext(diagnostics=[]),
            )
        )
        titles = [action.title for action in actions or [] if isinstance(action, lsp.CodeAction)]
        assert any("Check that a field is present" in title for title in titles), titles
        assert not any("python" in title for title in titles), titles
        reruns = [
            action
            for action in actions or []
            if isinstance(action, lsp.CodeAction) and action.title == "Re-run the check that failed: npm test"
        ]
        assert len(reruns) == 1, titles
        command = reruns[0].command
        assert command is not None and command.command == "carryover.runValidation"
        assert command.arguments is not None
        argument = command.arguments[0]
        assert isinstance(argument, dict) and argument["command"] == "npm test"
        assert argument["basis"] == "this workspace's failing command"
    finally:
        await client.shutdown_session()
        await client.stop()
