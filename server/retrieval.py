"""From what is at a line to the memories that apply: a few probes (the code or diagnostic on the line,
a recognised situation, the last failing command), each searched on its own, merged best-first.

Searching them separately keeps each query about one thing (a failing command does not dilute the
line's code) and lets every suggestion say which context it answers ("why this").
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from memory_store.records import SearchHit, SearchQuery
from server.context_query import EditorContext, build_query
from server.editor_state import TerminalRun
from server.signals import Site

MIN_LINE_CHARS = 3


@attrs.frozen
class Probe:
    query: SearchQuery
    basis: str
    """What the query was made from, for the "why this" line."""


@attrs.frozen
class Suggestion:
    hit: SearchHit
    basis: str
    query: SearchQuery

    @property
    def memory_id(self) -> str:
        return self.hit.memory.id


def line_probes(
    *,
    language: str | None,
    line_text: str,
    diagnostics: Sequence[str] = (),
    sites: Sequence[Site] = (),
    failing: TerminalRun | None = None,
    workspace: str | None = None,
    threshold: float | None = None,
    k: int = 3,
) -> list[Probe]:
    """The searches for one line; none for a blank line."""
    code = line_text.strip()
    if not code and not diagnostics:
        return []
    probes: list[Probe] = []

    def add(context: EditorContext, basis: str) -> None:
        query = build_query(context, k=k, min_score=threshold)
        if query is not None and all(probe.query.text != query.text for probe in probes):
            probes.append(Probe(query, basis))

    if diagnostics:
        add(
            EditorContext(
                language=language, code_line=code, diagnostic="; ".join(diagnostics), workspace=workspace
            ),
            "the diagnostic on this line",
        )
    elif len(code) >= MIN_LINE_CHARS:
        add(EditorContext(language=language, code_line=code, workspace=workspace), "the code on this line")
    for situation in dict.fromkeys(site.situation for site in sites):
        add(
            EditorContext(language=language, code_line=situation.phrase, workspace=workspace),
            f"this line ({situation.label})",
        )
    if failing is not None:
        add(
            EditorContext(
                language=language,
                failing_command=failing.command,
                error_line=failing.error_line,
                workspace=workspace,
            ),
            f"the failing command `{failing.command.strip()[:60]}`",
        )
    return probes


def merge(results: Sequence[tuple[Probe, Sequence[SearchHit]]], limit: int) -> list[Suggestion]:
    """Each memory once (its best-scoring probe), best first, at most ``limit``."""
    best: dict[str, Suggestion] = {}
    for probe, hits in results:
        for hit in hits:
            known = best.get(hit.memory.id)
            if known is None or hit.score > known.hit.score:
                best[hit.memory.id] = Suggestion(hit, probe.basis, probe.query)
    ordered = sorted(best.values(), key=lambda suggestion: (-suggestion.hit.score, suggestion.memory_id))
    return ordered[:limit]


def allowed_scopes(hits: Sequence[SearchHit], scopes: Sequence[str]) -> list[SearchHit]:
    return [hit for hit in hits if hit.memory.scope.value in scopes]
