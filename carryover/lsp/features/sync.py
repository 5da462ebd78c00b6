"""Document synchronisation: pygls keeps the text; each notification is handed to the one capture
pipeline (``LiveCapture``: bounded diffs per save, the secret-path rule) and announced to the features
that follow documents (``Change.DOCUMENT_EDITED`` with the lines an edit touched: the one producer).

The handlers are plain functions, run as each notification arrives: an async handler would run
later, after pygls has already applied the next notification (a save would find the document
closed)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from lsprotocol import types as lsp

from carryover.lsp.announce import Change, Where
from carryover.lsp.features import inline
from carryover.lsp.guard import guarded_sync

if TYPE_CHECKING:
    from carryover.lsp.server import CarryoverServer

EDITED_LINES = 16
"""At most this many edited lines are announced per change notification (a paste of a whole file
is not "where the user is")."""


def edited_lines(changes: Sequence[lsp.TextDocumentContentChangeEvent]) -> tuple[int, ...]:
    """The lines the edits of one didChange touched, as they read afterwards (each ranged change:
    its start line and the lines its new text spans). A whole-document replacement names no line."""
    lines: dict[int, None] = {}
    for change in changes:
        if not isinstance(change, lsp.TextDocumentContentChangePartial):
            continue
        start = change.range.start.line
        for line in range(start, start + change.text.count("\n") + 1):
            lines[line] = None
            if len(lines) >= EDITED_LINES:
                return tuple(lines)
    return tuple(lines)


def register(server: CarryoverServer) -> None:
    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    @guarded_sync("didOpen")
    def did_open(ls: CarryoverServer, params: lsp.DidOpenTextDocumentParams) -> None:
        item = params.text_document
        ls.capture.document_opened(item.uri, item.language_id, item.version, item.text)
        inline.schedule(ls, item.uri, delay_s=0.0)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    @guarded_sync("didChange")
    def did_change(ls: CarryoverServer, params: lsp.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.capture.document_changed(uri, params.text_document.version, params.content_changes)
        inline.schedule(ls, uri, delay_s=ls.settings.debounce_ms / 1000)
        lines = edited_lines(params.content_changes)
        if lines:
            ls.announcer.announce(Change.DOCUMENT_EDITED, Where(uri=uri, lines=lines))

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE, lsp.SaveOptions(include_text=False))
    @guarded_sync("didSave")
    def did_save(ls: CarryoverServer, params: lsp.DidSaveTextDocumentParams) -> None:
        ls.capture.document_saved(params.text_document.uri, params.text)
        inline.schedule(ls, params.text_document.uri, delay_s=0.0)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    @guarded_sync("didClose")
    def did_close(ls: CarryoverServer, params: lsp.DidCloseTextDocumentParams) -> None:
        ls.capture.document_closed(params.text_document.uri)
        ls.editor.forget_document(params.text_document.uri)
        inline.forget(ls, params.text_document.uri)
