"""The ranking as pure functions: each factor of a score, on hand-made memories."""

from __future__ import annotations

from datetime import datetime

import attrs
import pytest

from carryover.pool.config import RankingConfig
from carryover.pool.ranking import feedback_bonus, rank, transfer_guard
from carryover.pool.records import Kind, Memory, Outcome, Provenance, Scope, SearchQuery, Status

CONFIG = RankingConfig()
NOW = datetime(2026, 11, 24)


def memory(
    kind: str = "insight",
    languages: tuple[str, ...] = (),
    tools: tuple[str, ...] = (),
    *,
    id: str | None = None,
    status: Status = Status.ACTIVE,
    helpful: int = 0,
    unhelpful: int = 0,
) -> Memory:
    return Memory(
        id=f"mem_{kind}_{'-'.join(languages)}_{'-'.join(tools)}" if id is None else id,
        kind=Kind(kind),
        title="t",
        description="",
        content="",
        outcome=Outcome.SUCCESS,
        languages=languages,
        tools=tools,
        scope=Scope.GLOBAL,
        status=status,
        when_not="",
        check_command="",
        provenance=Provenance(),
        created_at=NOW,
        updated_at=NOW,
        helpful=helpful,
        unhelpful=unhelpful,
        merged_count=0,
        reject_reason="",
        embedder="e",
    )


@pytest.mark.parametrize("kind", ["trajectory", "workflow"])
def test_procedural_memories_from_another_language_are_withheld(kind: str) -> None:
    allowed, factor, guard = transfer_guard(
        memory(kind, ("rust",)), SearchQuery(text="q", language="python"), CONFIG
    )
    assert (allowed, factor) == (False, 0.0)
    assert guard == f"withheld: {kind} from rust"


@pytest.mark.parametrize("kind", ["summary", "insight"])
def test_abstract_memories_transfer_with_a_small_demotion(kind: str) -> None:
    allowed, factor, guard = transfer_guard(
        memory(kind, ("rust",)), SearchQuery(text="q", language="python"), CONFIG
    )
    assert allowed and factor == CONFIG.cross_language_factor < 1.0
    assert guard == "transferred from rust"


def test_same_language_and_general_memories_pass_untouched() -> None:
    query = SearchQuery(text="q", language="Python")
    assert transfer_guard(memory("trajectory", ("python",)), query, CONFIG) == (
        True,
        1.0,
        "same language (python)",
    )
    assert transfer_guard(memory("workflow"), query, CONFIG) == (True, 1.0, "general")


def test_procedural_memory_for_another_tool_is_withheld_when_languages_are_unknown() -> None:
    query = SearchQuery(text="q", tools=("pytest",))
    assert not transfer_guard(memory("workflow", tools=("cargo",)), query, CONFIG)[0]
    assert transfer_guard(memory("workflow", tools=("pytest", "tox")), query, CONFIG)[0]
    assert transfer_guard(memory("insight", tools=("cargo",)), query, CONFIG)[0]


def test_feedback_bonus_is_bounded_and_signed() -> None:
    assert feedback_bonus(memory(), CONFIG) == 0
    assert feedback_bonus(memory(status=Status.PINNED), CONFIG) == CONFIG.pinned_bonus
    many_helpful = feedback_bonus(memory(helpful=1000), CONFIG)
    assert 0 < many_helpful < CONFIG.feedback_scale
    assert feedback_bonus(memory(unhelpful=3), CONFIG) < 0


def test_rank_orders_by_weighted_score_and_drops_rejected() -> None:
    query = SearchQuery(text="q", language="python", k=10)
    candidates = [
        (memory("trajectory", ("python",), id="traj"), 0.80),
        (memory("insight", ("go",), id="insight-go"), 0.80),
        (memory("insight", ("python",), id="insight-py"), 0.80),
        (memory("insight", ("python",), id="rejected", status=Status.REJECTED), 0.99),
        (memory("workflow", ("rust",), id="withheld"), 0.99),
    ]
    hits = rank(candidates, query, CONFIG)
    assert [hit.memory.id for hit in hits] == ["insight-py", "insight-go", "traj"]
    assert hits[0].score == pytest.approx(0.80 * CONFIG.insight_weight)
    assert hits[1].score == pytest.approx(0.80 * CONFIG.insight_weight * CONFIG.cross_language_factor)
    assert hits[2].score == pytest.approx(0.80 * CONFIG.trajectory_weight)


def test_rank_honours_k_kinds_and_min_score() -> None:
    candidates = [(memory("insight", id=f"m{i}"), 0.5 + i / 100) for i in range(10)]
    assert len(rank(candidates, SearchQuery(text="q", k=3), CONFIG)) == 3
    only = rank(candidates, SearchQuery(text="q", k=10, min_score=0.555), CONFIG)
    assert [hit.memory.id for hit in only] == ["m9", "m8", "m7", "m6"]
    assert rank(candidates, SearchQuery(text="q", kinds=(Kind.SUMMARY,)), CONFIG) == []


def test_a_soft_guard_shows_procedural_memories_demoted() -> None:
    soft = attrs.evolve(CONFIG, procedural_cross_language_factor=0.8)
    query = SearchQuery(text="q", language="python", k=5)
    demoted = (True, 0.8, "workflow from rust, demoted")
    assert transfer_guard(memory("workflow", ("rust",)), query, soft) == demoted
    trace, summary = memory("trajectory", ("rust",)), memory("summary", ("rust",))
    hits = rank([(trace, 0.9), (summary, 0.7)], query, soft)
    assert [hit.memory.kind for hit in hits] == [Kind.TRAJECTORY, Kind.SUMMARY]
    assert hits[0].score == pytest.approx(0.9 * CONFIG.trajectory_weight * 0.8)
    assert [hit.memory.kind for hit in rank([(trace, 0.9), (summary, 0.7)], query, CONFIG)] == [Kind.SUMMARY]
