"""Document synchronisation: pygls keeps the text; each notification is handed to the one capture
pipeline (``LiveCapture``: bounded diffs per save, the secret-path rule) and announced to the features
that follow documents.

The handlers are plain functions, run as each notification arrives: an async handler would run
later, after pygls has already applied the next notification (a save would find the document
closed)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types as lsp

from carryover.lsp.features import inline
from carryover.lsp.guard import guarded_sync

if TYPE_CHECKING:
    from carryover.lsp.server import CarryoverServer


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
        ls.capture.document_changed(
            params.text_document.uri, params.text_document.version, params.content_changes
        )
        inline.schedule(ls, params.text_document.uri, delay_s=ls.settings.debounce_ms / 1000)

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
