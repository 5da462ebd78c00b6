"""Hover: the memories that apply to a line (its code or diagnostic, a recognised situation, the last
failing command in the workspace), at most ``maxResults``, nothing below the relevance threshold."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from lsprotocol import types as lsp

from carryover.lsp.guard import guarded
from carryover.recall.render import hover_markdown
from carryover.recall.retrieve import Suggestion, line_probes, merge
from carryover.recall.signals import sites_on_line

if TYPE_CHECKING:
    from carryover.lsp.server import CarryoverServer, DocumentInfo


async def line_suggestions(
    ls: CarryoverServer, info: DocumentInfo, line: int, diagnostics: Sequence[str] | None = None
) -> list[Suggestion]:
    """The memories for ``line`` of a document, best first; [] while the pool is not ready."""
    if line < 0 or line >= len(info.lines):
        return []
    store = await ls.store.get(ls.options.feature_wait_s)
    if store is None:
        return []
    settings = ls.settings
    if diagnostics is None:
        diagnostics = [diagnostic.message for diagnostic in ls.editor.diagnostics_on_line(info.uri, line)]
    probes = line_probes(
        language=info.language,
        line_text=info.lines[line],
        diagnostics=diagnostics,
        sites=await ls.workers.run(sites_on_line, info.lines, line),  # a scan of the document
        failing=ls.editor.failing_command(info.workspace),
        workspace=info.workspace or None,
        threshold=settings.relevance_threshold,
        plain_threshold=settings.plain_line_threshold,
        k=settings.max_results,
    )
    if not probes:
        return []
    return merge(await ls.search(store, probes), settings.max_results)


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
        suggestions = await line_suggestions(ls, info, line)
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
