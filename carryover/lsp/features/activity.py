"""What the editor and its terminals do, turned into CapturedEvents for the sink, plus the little the
hover needs from it (the last failing command per workspace, other tools' diagnostics).

Custom notifications (documented in the README, "The language server"):
``carryover/terminalStarted``, ``carryover/terminalEnded``, ``carryover/diagnostics``.
"""

from __future__ import annotations

import difflib
import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from lsprotocol import types as lsp
from pygls.uris import to_fs_path

from carryover.lsp.editor_state import TerminalRun, error_line
from carryover.lsp.guard import guarded_sync
from carryover.lsp.wire import (
    DIAGNOSTICS,
    TERMINAL_ENDED,
    TERMINAL_STARTED,
    TerminalEndedParams,
    TerminalStartedParams,
    ToolDiagnosticsParams,
)
from carryover.pipeline.events import CapturedEvent

if TYPE_CHECKING:
    from carryover.lsp.server import CarryoverServer

logger = logging.getLogger(__name__)

OUTPUT_LIMIT = 4000
"""Characters kept of a command's output head and of its tail."""
DIFF_LIMIT = 8000
"""Characters kept of a saved document's diff."""
DIFF_INPUT_LIMIT = 400_000
"""Saves of documents larger than this (before + after, characters) are recorded without a diff."""


def bounded(text: str, limit: int, keep_end: bool = False) -> tuple[str, bool]:
    """``text`` as valid UTF-8, cut to ``limit`` characters (from the end when ``keep_end``)."""
    clean = text.encode("utf-8", "replace").decode("utf-8", "replace")
    if len(clean) <= limit:
        return clean, False
    return (clean[-limit:] if keep_end else clean[:limit]), True


def _utc_iso() -> str:
    return datetime.now(timezone.utc).replace(tzinfo=None).isoformat(timespec="milliseconds")


def diagnostic_payload(diagnostic: lsp.Diagnostic) -> dict[str, Any]:
    code = diagnostic.code
    return {
        "range": {
            "start": {"line": diagnostic.range.start.line, "character": diagnostic.range.start.character},
            "end": {"line": diagnostic.range.end.line, "character": diagnostic.range.end.character},
        },
        "severity": int(diagnostic.severity) if diagnostic.severity is not None else None,
        "code": code if code is None or isinstance(code, (int, str)) else str(code),
        "source": diagnostic.source or "",
        "message": diagnostic.message,
    }


def terminal_ended_payload(params: TerminalEndedParams) -> dict[str, Any]:
    head, head_cut = bounded(params.output_head, OUTPUT_LIMIT)
    tail, tail_cut = bounded(params.output_tail, OUTPUT_LIMIT, keep_end=True)
    return {
        "command": params.command,
        "cwd": params.cwd,
        "terminal_id": params.terminal_id,
        "execution_id": params.execution_id,
        "exit_code": params.exit_code,
        "started_at": params.started_at,
        "ended_at": params.ended_at or _utc_iso(),
        "output_head": head,
        "output_tail": tail,
        "output_truncated": bool(params.output_truncated or head_cut or tail_cut),
    }


def saved_diff(before: str, after: str, name: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{name}", f"b/{name}", n=2
    )
    return bounded("".join(lines), DIFF_LIMIT)[0]


# ----- document events (called from features/sync.py) ---------------------------------------------


def _document_event(ls: CarryoverServer, kind: str, uri: str, payload: dict[str, Any]) -> None:
    path = to_fs_path(uri) or uri
    if not ls.capturing or ls.excluded(path):
        return
    ls.capture(CapturedEvent(type=kind, workspace=ls.workspace_of(path), source="editor", payload=payload))


def document_opened(ls: CarryoverServer, item: lsp.TextDocumentItem) -> None:
    ls.editor.saved_text[item.uri] = item.text
    ls.editor.language_ids[item.uri] = item.language_id
    _document_event(
        ls,
        "document.opened",
        item.uri,
        {"uri": item.uri, "language_id": item.language_id, "version": item.version},
    )


def document_saved(ls: CarryoverServer, uri: str) -> None:
    path = to_fs_path(uri) or uri
    if not ls.capturing or ls.excluded(path) or uri not in ls.workspace.text_documents:
        return
    doc = ls.workspace.get_text_document(uri)
    text = doc.source
    before = ls.editor.saved_text.get(uri, "")
    ls.editor.saved_text[uri] = text
    # On the loop, so that events keep the order of the notifications; a diff of files this size
    # takes a few milliseconds. Larger saves are recorded without one.
    diff = (
        saved_diff(before, text, path.rsplit("/", 1)[-1])
        if len(before) + len(text) <= DIFF_INPUT_LIMIT
        else ""
    )
    payload = {
        "uri": uri,
        "language_id": doc.language_id or ls.editor.language_ids.get(uri, ""),
        "version": doc.version,
        "diff": diff,
    }
    _document_event(ls, "document.saved", uri, payload)


def document_closed(ls: CarryoverServer, uri: str) -> None:
    language_id = ls.editor.language_ids.get(uri, "")
    ls.editor.forget_document(uri)
    _document_event(ls, "document.closed", uri, {"uri": uri, "language_id": language_id, "version": None})


# ----- custom notifications --------------------------------------------------------------------------


def register(server: CarryoverServer) -> None:
    @server.feature(TERMINAL_STARTED)
    @guarded_sync(TERMINAL_STARTED)
    def terminal_started(ls: CarryoverServer, params: TerminalStartedParams) -> None:
        if ls.excluded(params.cwd):
            return
        ls.capture(
            CapturedEvent(
                type="terminal.started",
                workspace=ls.workspace_of(params.cwd),
                source="terminal",
                payload={
                    "command": params.command,
                    "cwd": params.cwd,
                    "terminal_id": params.terminal_id,
                    "execution_id": params.execution_id,
                },
            )
        )

    @server.feature(TERMINAL_ENDED)
    @guarded_sync(TERMINAL_ENDED)
    def terminal_ended(ls: CarryoverServer, params: TerminalEndedParams) -> None:
        if ls.excluded(params.cwd):
            return
        workspace = ls.workspace_of(params.cwd)
        payload = terminal_ended_payload(params)
        run = TerminalRun(
            command=params.command,
            cwd=params.cwd,
            exit_code=params.exit_code,
            error_line=error_line(payload["output_head"], payload["output_tail"])
            if params.exit_code
            else None,
        )
        ls.editor.terminal_ended(workspace, run)
        ls.capture(
            CapturedEvent(type="terminal.ended", workspace=workspace, source="terminal", payload=payload)
        )

    @server.feature(DIAGNOSTICS)
    @guarded_sync(DIAGNOSTICS)
    def tool_diagnostics(ls: CarryoverServer, params: ToolDiagnosticsParams) -> None:
        path = to_fs_path(params.uri) or params.uri
        if ls.excluded(path):
            return
        ls.editor.forward_diagnostics(params.uri, params.source, params.diagnostics)
        ls.capture(
            CapturedEvent(
                type="diagnostics.changed",
                workspace=ls.workspace_of(path),
                source="editor",
                payload={
                    "uri": params.uri,
                    "source": params.source,
                    "diagnostics": [diagnostic_payload(diagnostic) for diagnostic in params.diagnostics],
                },
            )
        )
