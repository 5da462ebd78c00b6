"""Unasked-for suggestions where a memory strongly applies: a code lens above the function, an inlay
hint at the end of the line, and a Hint-severity diagnostic for the guardrail — each switchable off
(``surfaces``), each shown only for scores at or above ``strongThreshold``.

A document is analysed in the background (on open and save at once, on typing after ``debounceMs``):
the situations recognised in it (server/signals.py) are searched once each, and the results kept per
document version; the lens and hint requests read them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs
from lsprotocol import types as lsp

from carryover.lsp.announce import Change
from carryover.lsp.guard import guarded
from carryover.lsp.wire import CMD_SHOW
from carryover.recall.moment import Moment, suggest
from carryover.recall.render import learned_in, memory_markdown, message_text, short_title
from carryover.recall.retrieve import Suggestion
from carryover.recall.signals import Site, find_sites

if TYPE_CHECKING:
    from carryover.lsp.server import CarryoverServer

logger = logging.getLogger(__name__)

SOURCE = "carryover"
LENS_WAIT_S = 5.0


@attrs.frozen
class Mark:
    """A place in a document where a memory strongly applies."""

    site: Site
    suggestion: Suggestion

    @property
    def lens_line(self) -> int:
        """Above the function when the site is in one, else above the line."""
        return self.site.unit.start if self.site.unit.header else self.site.line


@attrs.frozen
class Analysis:
    version: int | None
    marks: tuple[Mark, ...]
    published: bool = False


def _wants_inline(ls: CarryoverServer) -> bool:
    surfaces = ls.settings.surfaces
    return surfaces.code_lens or surfaces.inlay_hints or surfaces.diagnostics


def schedule(ls: CarryoverServer, uri: str, delay_s: float) -> None:
    """(Re)start the analysis of a document after ``delay_s`` (a newer call replaces a pending one)."""
    pending = ls.debounced.pop(uri, None)
    if pending is not None and not pending.done():
        pending.cancel()
    ls.debounced[uri] = ls.background.spawn(_analyse_later(ls, uri, delay_s), name=f"analyse {uri}")


async def _analyse_later(ls: CarryoverServer, uri: str, delay_s: float) -> None:
    try:
        if delay_s > 0:
            await asyncio.sleep(delay_s)
        await analyse(ls, uri)
    finally:
        task = asyncio.current_task()
        if ls.debounced.get(uri) is task:
            del ls.debounced[uri]


def reanalyze_all(ls: CarryoverServer) -> None:
    try:
        uris = list(ls.workspace.text_documents)
    except RuntimeError:  # not initialized yet
        return
    for uri in uris:
        schedule(ls, uri, 0.0)


def forget(ls: CarryoverServer, uri: str) -> None:
    pending = ls.debounced.pop(uri, None)
    if pending is not None:
        pending.cancel()
    analysis = ls.analyses.pop(uri, None)
    if isinstance(analysis, Analysis) and analysis.published:
        ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


def _is_open(ls: CarryoverServer, uri: str) -> bool:
    return uri in ls.workspace.text_documents


async def analyse(ls: CarryoverServer, uri: str) -> None:
    if not _is_open(ls, uri):
        return
    info = ls.document(uri)
    marks: list[Mark] = []
    if _wants_inline(ls) and not info.excluded:
        store = await ls.store.get(None)
        if store is None:
            return
        sites = await ls.workers.run(find_sites, info.lines, background=True)
        searcher = await ls.searcher(store)
        options = attrs.evolve(ls.recall_options(k=1), min_score=ls.settings.strong_threshold)

        def strongest(line: int) -> Suggestion | None:
            """What the hover would show first at ``line``, when it applies strongly."""
            moment = Moment(
                language=info.language, lines=info.lines, line=line, workspace=info.workspace or None
            )
            found = suggest(searcher, moment, options)
            return found[0] if found else None

        best: dict[int, Suggestion] = {}
        for line in dict.fromkeys(site.line for site in sites):
            found = await ls.workers.run(strongest, line, background=True)
            if found is not None:
                best[line] = found
        marks = [
            Mark(site, attrs.evolve(best[site.line], basis=f"this line ({site.situation.label})"))
            for site in sites
            if site.line in best
        ]
        logger.debug("situations in %s: %s", uri, sorted({site.situation.name for site in sites}))
    if not _is_open(ls, uri) or ls.document(uri).version != info.version:
        return  # the text changed meanwhile: a newer analysis is on its way
    previous = ls.analyses.get(uri)
    analysis = Analysis(info.version, tuple(marks))
    diagnostics = guardrail_diagnostics(ls, analysis)
    had_diagnostics = isinstance(previous, Analysis) and previous.published
    if diagnostics or had_diagnostics:
        ls.text_document_publish_diagnostics(
            lsp.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=info.version)
        )
    ls.analyses[uri] = attrs.evolve(analysis, published=bool(diagnostics))
    logger.debug(
        "analysed %s (version %s): %s",
        uri,
        info.version,
        [(mark.site.line, mark.suggestion.memory_id, round(mark.suggestion.hit.score, 3)) for mark in marks],
    )
    old_marks = previous.marks if isinstance(previous, Analysis) else ()
    if [mark.suggestion.memory_id for mark in old_marks] != [mark.suggestion.memory_id for mark in marks]:
        await _refresh(ls)


async def _refresh(ls: CarryoverServer) -> None:
    """Ask the client to re-request lenses and hints (when it can)."""
    surfaces = ls.settings.surfaces
    if surfaces.code_lens and ls.client_supports("workspace", "code_lens", "refresh_support"):
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ls.workspace_code_lens_refresh_async(None), 5.0)
    if surfaces.inlay_hints and ls.client_supports("workspace", "inlay_hint", "refresh_support"):
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ls.workspace_inlay_hint_refresh_async(None), 5.0)


def guardrail_diagnostics(ls: CarryoverServer, analysis: Analysis) -> list[lsp.Diagnostic]:
    if not ls.settings.surfaces.diagnostics:
        return []
    found = []
    for mark in analysis.marks:
        memory = mark.suggestion.hit.memory
        found.append(
            lsp.Diagnostic(
                range=lsp.Range(
                    start=lsp.Position(line=mark.site.line, character=mark.site.start),
                    end=lsp.Position(line=mark.site.line, character=mark.site.end),
                ),
                message=f"Carryover: {message_text(memory.title, 120)} ({learned_in(memory)})",
                severity=lsp.DiagnosticSeverity.Hint,
                source=SOURCE,
                code=memory.id,
                data={"memoryId": memory.id, "query": mark.suggestion.query.text},
            )
        )
    return found


async def current_analysis(ls: CarryoverServer, uri: str) -> Analysis | None:
    """The analysis of the document as it is now, waiting a little for one under way."""
    version = ls.workspace.get_text_document(uri).version
    analysis = ls.analyses.get(uri)
    if isinstance(analysis, Analysis) and analysis.version == version:
        return analysis
    pending = ls.debounced.get(uri)
    if pending is None:
        schedule(ls, uri, 0.0)
        pending = ls.debounced[uri]
    await asyncio.wait({pending}, timeout=LENS_WAIT_S)
    analysis = ls.analyses.get(uri)
    return analysis if isinstance(analysis, Analysis) else None


def show_command(title: str, memory_id: str) -> lsp.Command:
    return lsp.Command(title=title, command=CMD_SHOW, arguments=[{"memoryId": memory_id, "reveal": True}])


def lenses(analysis: Analysis) -> list[lsp.CodeLens]:
    found: list[lsp.CodeLens] = []
    seen: set[tuple[int, str]] = set()
    for mark in analysis.marks:
        memory = mark.suggestion.hit.memory
        key = (mark.lens_line, memory.id)
        if key in seen:
            continue
        seen.add(key)
        found.append(
            lsp.CodeLens(
                range=lsp.Range(
                    start=lsp.Position(line=mark.lens_line, character=0),
                    end=lsp.Position(line=mark.lens_line, character=0),
                ),
                command=show_command(f"Carryover: {short_title(memory)} ({learned_in(memory)})", memory.id),
            )
        )
    return found


def hints(analysis: Analysis, lines: Sequence[str], visible: lsp.Range) -> list[lsp.InlayHint]:
    found: list[lsp.InlayHint] = []
    seen: set[int] = set()
    for mark in analysis.marks:
        line = mark.site.line
        if line in seen or not visible.start.line <= line <= visible.end.line or line >= len(lines):
            continue
        seen.add(line)
        memory = mark.suggestion.hit.memory
        width = len(lines[line].rstrip("\r\n").encode("utf-16-le")) // 2
        found.append(
            lsp.InlayHint(
                position=lsp.Position(line=line, character=width),
                label=f"Carryover: {short_title(memory)}",
                padding_left=True,
                tooltip=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=memory_markdown(memory)),
            )
        )
    return found


def register(server: CarryoverServer) -> None:
    server.announcer.subscribe(
        lambda _change: reanalyze_all(server),
        Change.POOL_READY,
        Change.MEMORIES_CHANGED,
        Change.SETTINGS_CHANGED,
    )

    @server.feature(lsp.TEXT_DOCUMENT_CODE_LENS, lsp.CodeLensOptions(resolve_provider=False))
    @guarded("codeLens")
    async def code_lens(ls: CarryoverServer, params: lsp.CodeLensParams) -> list[lsp.CodeLens] | None:
        if not ls.settings.surfaces.code_lens:
            return None
        analysis = await current_analysis(ls, params.text_document.uri)
        return lenses(analysis) if analysis is not None else None

    @server.feature(lsp.TEXT_DOCUMENT_INLAY_HINT, lsp.InlayHintOptions(resolve_provider=False))
    @guarded("inlayHint")
    async def inlay_hint(ls: CarryoverServer, params: lsp.InlayHintParams) -> list[lsp.InlayHint] | None:
        if not ls.settings.surfaces.inlay_hints:
            return None
        uri = params.text_document.uri
        analysis = await current_analysis(ls, uri)
        if analysis is None:
            return None
        return hints(analysis, ls.workspace.get_text_document(uri).lines, params.range)


def marks_for(ls: CarryoverServer, uri: str) -> tuple[Mark, ...]:
    analysis: Any = ls.analyses.get(uri)
    return analysis.marks if isinstance(analysis, Analysis) else ()
