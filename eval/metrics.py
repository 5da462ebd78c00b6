"""Retrieval metrics over ranked id lists. Pure functions."""

from __future__ import annotations

from collections.abc import Sequence

import attrs


@attrs.frozen
class Judgement:
    """One query's labels: which memories help, which help across languages, which mislead."""

    relevant: frozenset[str]
    cross_language: frozenset[str]
    misleading: frozenset[str]


def recall_at(ranked: Sequence[str], relevant: frozenset[str], k: int = 3) -> float | None:
    """Share of the relevant memories found in the top k, out of at most k (so 1.0 is reachable)."""
    if not relevant:
        return None
    found = len(set(ranked[:k]) & relevant)
    return found / min(k, len(relevant))


def reciprocal_rank(ranked: Sequence[str], relevant: frozenset[str]) -> float | None:
    if not relevant:
        return None
    for position, memory_id in enumerate(ranked, start=1):
        if memory_id in relevant:
            return 1.0 / position
    return 0.0


def harmful_at(ranked: Sequence[str], misleading: frozenset[str], k: int = 3) -> float | None:
    """1.0 when a misleading memory is in the top k; None for a query without traps."""
    if not misleading:
        return None
    return 1.0 if set(ranked[:k]) & misleading else 0.0


def mean(values: Sequence[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return sum(present) / len(present) if present else None


@attrs.frozen
class Scores:
    queries: int
    recall3: float | None
    mrr: float | None
    cross_recall3: float | None
    harmful3: float | None
    trap_queries: int
    quiet: float | None = None
    """Share of ordinary lines on which nothing is shown (None where not measured)."""
    shows: float | None = None
    """Share of the labelled moments on which anything is shown."""


def score(runs: Sequence[tuple[Sequence[str], Judgement]]) -> Scores:
    return Scores(
        queries=len(runs),
        recall3=mean([recall_at(ranked, j.relevant) for ranked, j in runs]),
        mrr=mean([reciprocal_rank(ranked, j.relevant) for ranked, j in runs]),
        cross_recall3=mean([recall_at(ranked, j.cross_language) for ranked, j in runs]),
        harmful3=mean([harmful_at(ranked, j.misleading) for ranked, j in runs]),
        trap_queries=sum(1 for _, j in runs if j.misleading),
        shows=mean([1.0 if ranked else 0.0 for ranked, _ in runs]),
    )
