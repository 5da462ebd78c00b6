"""Hover: the memories that apply to a line (its code or diagnostic, a recognised situation, the last
failing command in the workspace), at most ``maxResults``, nothing below the relevance threshold.

Where a judge is configured and has judged the moment in the background (features/ahead.py), the
hover shows its order and its plan (model text: rendered literally, like memory text); until then,
the offline order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from lsprotocol import types as lsp

from carryover.lsp.guard import guarded
from carryover.recall.judge import Verdict
from carryover.recall.render import HOVER_CHARS, HOVER_HEADER, hover_markdown, markdown_line

PLAN_CHARS = 700
"""At most this many characters of markdown for the judge's plan."""

if TYPE_CHECKING:
    from carryover.lsp.server import CarryoverServer
    from carryover.recall.retrieve import Suggestion


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
        judged = await ls.judged_at(info, line)
        if not judged.suggestions:
            return None
        return lsp.Hover(
            contents=lsp.MarkupContent(
                kind=lsp.MarkupKind.Markdown, value=markdown(judged.suggestions, judged.verdict)
            ),
            range=line_range(info.lines[line], line),
        )


def markdown(suggestions: Sequence[Suggestion], verdict: Verdict | None) -> str:
    """The hover's markdown: the judge's plan first when there is one, then the memories."""
    if verdict is None or not verdict.plan.strip():
        return hover_markdown(suggestions)
    plan = f"*Plan ({markdown_line(verdict.model, 60)}):* {markdown_line(verdict.plan, PLAN_CHARS)}\n\n"
    text = hover_markdown(suggestions, total_chars=HOVER_CHARS - len(plan))
    return HOVER_HEADER + plan + text.removeprefix(HOVER_HEADER)


def line_range(text: str, line: int) -> lsp.Range:
    """The whole line (in UTF-16 code units, LSP's default position encoding)."""
    width = len(text.rstrip("\r\n").encode("utf-16-le")) // 2
    return lsp.Range(start=lsp.Position(line=line, character=0), end=lsp.Position(line=line, character=width))
