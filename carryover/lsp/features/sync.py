"""Document synchronisation: pygls keeps the text; here each change is captured (opened / saved /
closed) and the document's inline analysis is scheduled (debounced on typing).

The handlers are plain functions, run as each notification arrives: an async handler would run
later, after pygls has already applied the next notification (a save would find the document
closed)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types as lsp

from carryover.lsp.features import activity, inline
from carryover.lsp.guard import guarded_sync

if TYPE_CHECKING:
    from carryover.lsp.server import CarryoverServer


def register(server: CarryoverServer) -> None:
    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    @guarded_sync("didOpen")
    def did_open(ls: CarryoverServer, params: lsp.DidOpenTextDocumentParams) -> None:
        activity.document_opened(ls, params.text_document)
        inline.schedule(ls, params.text_document.uri, delay_s=0.0)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    @guarded_sync("didChange")
    def did_change(ls: CarryoverServer, params: lsp.DidChangeTextDocumentParams) -> None:
        inline.schedule(ls, params.text_document.uri, delay_s=ls.settings.debounce_ms / 1000)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE, lsp.SaveOptions(include_text=False))
    @guarded_sync("didSave")
    def did_save(ls: CarryoverServer, params: lsp.DidSaveTextDocumentParams) -> None:
        activity.document_saved(ls, params.text_document.uri)
        inline.schedule(ls, params.text_document.uri, delay_s=0.0)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    @guarded_sync("didClose")
    def did_close(ls: CarryoverServer, params: lsp.DidCloseTextDocumentParams) -> None:
        activity.document_closed(ls, params.text_document.uri)
        inline.forget(ls, params.text_document.uri)
