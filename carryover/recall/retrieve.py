"""From what is at a line to the memories that apply.

One search for the whole moment (the line's code, the diagnostics on it and the workspace's last
failing command with its first error line, together with the abstract plan recognised in them), plus
one search per code situation recognised on the line (a shell command or SQL query built from a
string, ...), merged best-first. ``python -m eval`` runs exactly these searches.

Searching the moment as one query measured better than one search per signal on the development set
(eval/README.md, "What the figures led to"): an error line and the code it points at describe one
problem, and searching them apart let a same-language echo of either crowd out the memory that fits
both.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from carryover.pool.records import SearchHit, SearchQuery
from carryover.recall.query import EditorContext, build_query
from carryover.recall.signals import Site

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
    failing_command: str | None = None,
    failing_error_line: str | None = None,
    workspace: str | None = None,
    threshold: float | None = None,
    plain_threshold: float | None = None,
    k: int = 3,
) -> list[Probe]:
    """The searches for one line; none for a blank line. A search whose context names a problem (a
    diagnostic, a failing command, a problem family or a code situation recognised) shows memories from
    ``threshold``; one made of plain code only from ``plain_threshold`` (ordinary lines stay quiet)."""
    code = line_text.strip()
    if not code and not diagnostics:
        return []
    probes: list[Probe] = []

    def add(context: EditorContext, basis: str, *, signalled: bool) -> None:
        query = build_query(context, k=k, min_score=threshold)
        if query is None or any(probe.query.text == query.text for probe in probes):
            return
        if not (signalled or query.plan) and plain_threshold is not None:
            floor = plain_threshold if threshold is None else max(plain_threshold, threshold)
            query = attrs.evolve(query, min_score=floor)
        probes.append(Probe(query, basis))

    bases = []
    if diagnostics:
        bases.append("the diagnostic on this line")
    elif len(code) >= MIN_LINE_CHARS:
        bases.append("the code on this line")
    if failing_command:
        bases.append(f"the failing command `{failing_command.strip()[:60]}`")
    if bases:
        add(
            EditorContext(
                language=language,
                code_line=code if len(code) >= MIN_LINE_CHARS else None,
                diagnostic="; ".join(diagnostics) or None,
                failing_command=failing_command or None,
                error_line=failing_error_line if failing_command else None,
                workspace=workspace,
            ),
            " and ".join(bases),
            signalled=bool(diagnostics) or bool(failing_command),
        )
    for situation in dict.fromkeys(site.situation for site in sites):
        add(
            EditorContext(language=language, code_line=situation.phrase, workspace=workspace),
            f"this line ({situation.label})",
            signalled=True,
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
