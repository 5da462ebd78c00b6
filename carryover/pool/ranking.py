"""Ranking of vector-search candidates: abstraction first, then the transfer guard, then feedback.

Pure functions over typed records, so that every factor of a score can be tested and explained.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from carryover.pool.config import RankingConfig
from carryover.pool.records import Kind, Memory, RankReason, SearchHit, SearchQuery, Status
from carryover.vocabulary import languages

# Raw traces and procedures are tied to the language and tools they came from; only these kinds are
# withheld across languages (the paper's "misapplied procedural reuse" and "domain-mismatched anchors").
PROCEDURAL_KINDS = frozenset({Kind.TRAJECTORY, Kind.WORKFLOW})


def abstraction_weight(kind: Kind, config: RankingConfig) -> float:
    return {
        Kind.INSIGHT: config.insight_weight,
        Kind.SUMMARY: config.summary_weight,
        Kind.WORKFLOW: config.workflow_weight,
        Kind.TRAJECTORY: config.trajectory_weight,
    }[kind]


def transfer_guard(memory: Memory, query: SearchQuery, config: RankingConfig) -> tuple[bool, float, str]:
    """Decide whether ``memory`` may be shown for ``query``: (allowed, factor, explanation).

    Languages are compared by their canonical names (a ``.tsx`` file is TypeScript). A trajectory or
    workflow is advice only within its ecosystem (JavaScript with TypeScript, C with C++, Java with
    Kotlin, else the same language), or on a shared tool when the languages are unknown on either
    side. An abstract memory from another language is allowed but slightly demoted; one with no
    language at all is general and passes untouched.
    """
    if not config.transfer_guard:
        return True, 1.0, "guard off"
    language = languages.canonical(query.language) or ""
    learned_in = tuple(dict.fromkeys(languages.canonical(item) or item for item in memory.languages))
    shared_tool = bool(set(query.tools) & set(memory.tools))
    if not language or not learned_in:
        if memory.kind in PROCEDURAL_KINDS and query.tools and memory.tools and not shared_tool:
            return False, 0.0, f"withheld: {memory.kind.value} for {', '.join(memory.tools)}"
        return True, 1.0, "general" if not learned_in else "language unknown"
    if language in learned_in:
        return True, 1.0, f"same language ({language})"
    origin = ", ".join(learned_in)
    if memory.kind in PROCEDURAL_KINDS:
        if any(languages.same_ecosystem(language, other) for other in learned_in):
            return True, 1.0, f"same ecosystem ({origin})"
        if config.procedural_cross_language_factor > 0:
            factor = config.procedural_cross_language_factor
            return True, factor, f"{memory.kind.value} from {origin}, demoted"
        return False, 0.0, f"withheld: {memory.kind.value} from {origin}"
    return True, config.cross_language_factor, f"transferred from {origin}"


def feedback_bonus(memory: Memory, config: RankingConfig) -> float:
    """Pinned memories get a fixed lift; helpful/unhelpful votes move the score by a bounded amount
    (a smoothed vote balance in (-1, 1) times ``feedback_scale``)."""
    votes = memory.helpful - memory.unhelpful
    balance = votes / (memory.helpful + memory.unhelpful + 2)
    bonus = balance * config.feedback_scale
    if memory.status is Status.PINNED:
        bonus += config.pinned_bonus
    return bonus


def rank(
    candidates: Iterable[tuple[Memory, float]], query: SearchQuery, config: RankingConfig
) -> list[SearchHit]:
    """Order ``(memory, cosine similarity)`` candidates for ``query``; rejected memories never pass."""
    hits: list[SearchHit] = []
    for memory, similarity in candidates:
        if memory.status is Status.REJECTED:
            continue
        if query.kinds and memory.kind not in query.kinds:
            continue
        allowed, factor, guard = transfer_guard(memory, query, config)
        if not allowed:
            continue
        weight = abstraction_weight(memory.kind, config)
        bonus = feedback_bonus(memory, config)
        score = similarity * weight * factor + bonus
        if query.min_score is not None and score < query.min_score:
            continue
        why = RankReason(
            similarity=round(similarity, 4),
            abstraction_weight=round(weight * factor, 4),
            feedback=round(bonus, 4),
            guard=guard,
            pinned=memory.status is Status.PINNED,
        )
        hits.append(SearchHit(memory=memory, score=round(score, 4), why=why))
    hits.sort(key=lambda hit: (-hit.score, hit.memory.id))
    return hits[: query.k]


@runtime_checkable
class CandidatePool(Protocol):
    """A pool that embeds queries and returns scored candidates (``MemoryStore``, the replica's
    ``LeanPool``): what the learned ranking and :func:`search_pool` read."""

    def embed_query(self, texts: Sequence[str]) -> np.ndarray: ...

    def candidates(
        self,
        vectors: np.ndarray,
        *,
        kinds: Sequence[Kind | str] = (),
        workspace: str | None = None,
        limit: int,
    ) -> list[tuple[Memory, np.ndarray]]: ...


def search_pool(pool: CandidatePool, query: SearchQuery, config: RankingConfig) -> list[SearchHit]:
    """The memories that apply to ``query``, best first, each with the reasons for its rank.

    With a ``plan``, both the context text and the plan are searched; each candidate's similarity
    is the blend ``plan_weight × cos(plan) + (1 − plan_weight) × cos(text)``."""
    texts = [query.text, query.plan] if query.plan else [query.text]
    vectors = pool.embed_query(texts)
    limit = max(config.candidates, query.k)
    found = pool.candidates(vectors, kinds=query.kinds, workspace=query.workspace, limit=limit)
    weight = config.plan_weight
    pairs = [
        (memory, float(weight * sims[1] + (1 - weight) * sims[0]) if query.plan else float(sims[0]))
        for memory, sims in found
    ]
    return rank(pairs, query, config)
