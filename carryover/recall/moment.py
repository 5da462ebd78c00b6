"""The one way into retrieval: an editor *moment* in, the memories that apply out.

The hover, the code actions, the ``carryover.suggest`` command, ``carryover search``, the MCP
server and the evaluation all describe what they see as a :class:`Moment` and call :func:`suggest`,
so what the CLI and the evaluation measure is exactly what the hover shows.

``suggest`` is synchronous (embedding and storage): the language server runs it in a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import attrs

from carryover.pool.records import Kind, SearchHit, SearchQuery
from carryover.recall.retrieve import Probe, Suggestion, line_probes, merge
from carryover.recall.signals import sites_on_line
from carryover.vocabulary import languages
from carryover.vocabulary.output import error_line

ALL_SCOPES = ("project", "global", "team")
RELEVANCE_THRESHOLD = 0.25
"""Lowest score shown where the moment carries a problem (a diagnostic, a failed run, a recognised
code situation)."""
PLAIN_LINE_THRESHOLD = 0.45
"""Lowest score shown for a plain line of code (ordinary lines stay quiet)."""
OVER_FETCH = 3
"""When some scopes are hidden, each search asks for this many times more, then filters."""


@attrs.frozen
class Diagnostic:
    message: str
    source: str = ""
    code: str = ""


@attrs.frozen
class FailedRun:
    """The workspace's last command that failed, with what it printed (head and tail, bounded)."""

    command: str
    output: str = ""
    exit_code: int | None = 1
    error_line: str | None = attrs.field(default=None)

    @property
    def telling_line(self) -> str | None:
        return self.error_line or (error_line(self.output) if self.output else None)


def _lines(value: Sequence[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen
class Moment:
    """What the editor sees at one moment. ``lines`` is the document (or the lines around the
    cursor) and ``line`` the index of the line in question; a free-text search is a one-line moment."""

    language: str | None = attrs.field(default=None, converter=languages.canonical)
    lines: tuple[str, ...] = attrs.field(default=(), converter=_lines)
    line: int = 0
    diagnostics: tuple[Diagnostic, ...] = ()
    failed_run: FailedRun | None = None
    workspace: str | None = None

    @classmethod
    def of_text(cls, text: str, **fields: object) -> Moment:
        return cls(lines=(text,), line=0, **fields)  # type: ignore[arg-type]

    @property
    def line_text(self) -> str:
        return self.lines[self.line] if 0 <= self.line < len(self.lines) else ""


@attrs.frozen
class RecallOptions:
    k: int = 3
    threshold: float | None = RELEVANCE_THRESHOLD
    plain_threshold: float | None = PLAIN_LINE_THRESHOLD
    scopes: tuple[str, ...] = ALL_SCOPES
    kinds: tuple[Kind, ...] = ()


class Searcher(Protocol):
    def search(self, query: SearchQuery) -> list[SearchHit]: ...


def probes_for(moment: Moment, options: RecallOptions) -> list[Probe]:
    """The searches a moment makes: one for the whole moment, one per code situation on the line."""
    run = moment.failed_run
    probes = line_probes(
        language=moment.language,
        line_text=moment.line_text,
        diagnostics=[diagnostic.message for diagnostic in moment.diagnostics],
        sites=sites_on_line(moment.lines, moment.line) if moment.line_text.strip() else [],
        failing_command=run.command if run is not None else None,
        failing_error_line=run.telling_line if run is not None else None,
        workspace=moment.workspace or None,
        threshold=options.threshold,
        plain_threshold=options.plain_threshold,
        k=options.k,
    )
    if options.kinds:
        probes = [Probe(attrs.evolve(probe.query, kinds=options.kinds), probe.basis) for probe in probes]
    return probes


def run_probes(
    store: Searcher, probes: Sequence[Probe], scopes: Sequence[str] = ALL_SCOPES
) -> list[tuple[Probe, list[SearchHit]]]:
    """Each probe searched, keeping only memories of the allowed ``scopes`` (over-fetching when some
    are hidden, so that hiding them does not leave the answer short)."""
    hidden = bool(set(ALL_SCOPES) - set(scopes))
    results: list[tuple[Probe, list[SearchHit]]] = []
    for probe in probes:
        query = attrs.evolve(probe.query, k=probe.query.k * OVER_FETCH) if hidden else probe.query
        hits = [hit for hit in store.search(query) if hit.memory.scope.value in scopes]
        results.append((probe, hits[: probe.query.k]))
    return results


def suggest(store: Searcher, moment: Moment, options: RecallOptions | None = None) -> list[Suggestion]:
    """The memories for ``moment``, best first, at most ``options.k``; each memory once, with the
    search that found it (its "why this?")."""
    options = options or RecallOptions()
    return merge(run_probes(store, probes_for(moment, options), options.scopes), options.k)
