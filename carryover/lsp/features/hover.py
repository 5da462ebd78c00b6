"""Hover: the memories that apply to a line (its code or diagnostic, a recognised situation, the last
failing command in the workspace), at most ``maxResults``, nothing below the relevance threshold."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types as lsp

from carryover.lsp.guard import guarded
from carryover.recall.render import hover_markdown

if TYPE_CHECKING:
    from carryover.lsp.server import CarryoverServer


def register(server: CarryoverServer) -> None:
    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    @guarded("hover")
    async def hover(ls: CarryoverServer, params: lsp.HoverParams) -> lsp.Hover | None:
        if not ls.settings.surfaces.hover:
            return None
        info = ls.document(params.text_document.uri)
        if info.excluded:
            return None
        line = params.position.line
        suggestions = await ls.suggestions_at(info, line)
        if not suggestions:
            return None
        return lsp.Hover(
            contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=hover_markdown(suggestions)),
            range=line_range(info.lines[line], line),
        )


def line_range(text: str, line: int) -> lsp.Range:
    """The whole line (in UTF-16 code units, LSP's default position encoding)."""
    width = len(text.rstrip("\r\n").encode("utf-16-le")) // 2
    return lsp.Range(start=lsp.Position(line=line, character=0), end=lsp.Position(line=line, character=width))
