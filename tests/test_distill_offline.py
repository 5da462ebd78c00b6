"""Recorded sessions in eight tools through the real pipeline: EventSink into a pool on disk,
segmentation, offline distillation. The pool must hold the four kinds with the right outcomes,
provenance back to the episodes and their events, and insights that name nothing specific."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from carryover.pipeline.capture.sink import PoolEventSink
from carryover.pipeline.distill import OfflineDistiller
from carryover.pipeline.distill.base import episode_view
from carryover.pipeline.distill.checker import InsightText, insight_problems
from carryover.pipeline.distill.rules import match_shapes
from carryover.pipeline.runner import PipelineRunner
from carryover.pipeline.segment import DISTILLED, FINISHED, segment_pending
from carryover.pipeline.worker import DistillWorker
from carryover.pool.records import Kind, Outcome, Scope
from carryover.pool.store import MemoryStore
from tests.data.sessions.build_sessions import EXPECTED, load_session, session_names
from tests.test_capture_segment import fast_store

__all__ = ["fast_store"]  # `store` (the MiniLM pool) comes from conftest

LANGUAGES = {"python", "javascript", "rust", "go", "java", "typescript", "dockerfile"}


def fill(store: MemoryStore) -> MemoryStore:
    """Every recording through the sink, segmented as of two hours after the last event."""
    sink = PoolEventSink(store, flush_interval_s=0.05, batch_size=32)
    last = None
    for name in session_names():
        for event in load_session(name):
            sink.record(event)
            last = event.time if last is None or event.time > last else last
    sink.close()
    assert last is not None
    segment_pending(store, now=last + timedelta(hours=2))
    return store


@pytest.fixture
def filled(fast_store: MemoryStore) -> MemoryStore:
    return fill(fast_store)


def test_sessions_become_the_four_kinds_with_outcomes_and_provenance(filled: MemoryStore) -> None:
    check_four_kinds_with_outcomes_and_provenance(filled)


def test_the_same_with_the_default_embedder(store: MemoryStore) -> None:
    """The pipeline as a user runs it: the offline MiniLM embedder, whose dedup merges insights that
    say the same thing across episodes."""
    check_four_kinds_with_outcomes_and_provenance(fill(store))


def check_four_kinds_with_outcomes_and_provenance(store: MemoryStore) -> None:
    episodes = store.list_episodes(FINISHED)
    assert len(episodes) == sum(len(expected) for expected in EXPECTED.values())
    progress: list[tuple[int, int, str]] = []
    report = PipelineRunner(store, distiller=OfflineDistiller()).run(
        lambda d, t, m: progress.append((d, t, m))
    )
    assert report.distilled == len(episodes) and not report.queued and not report.failed
    assert progress[0][0] == 0 and progress[-1][:2] == (len(episodes), len(episodes))
    assert not store.list_episodes(FINISHED)
    distilled = {episode.id: episode for episode in store.list_episodes(DISTILLED)}
    assert set(distilled) == {episode.id for episode in episodes}
    assert all(episode.distilled_at is not None for episode in distilled.values())

    memories = store.list_memories()
    by_episode: dict[str, set[Kind]] = {}
    for memory in memories:
        assert memory.provenance.source == "distiller"
        assert memory.provenance.distilled_by == "offline-rules"
        assert memory.provenance.episode_ids
        for episode_id in memory.provenance.episode_ids:
            episode = distilled[episode_id]  # provenance points at a stored episode…
            by_episode.setdefault(episode_id, set()).add(memory.kind)
            assert memory.outcome.value == episode.outcome  # merging never mixes outcomes
            if memory.kind in (Kind.TRAJECTORY, Kind.SUMMARY):  # project memories: never merged across
                assert memory.provenance.workspace == episode.workspace
    # …and every episode yields all four kinds.
    assert all(kinds == set(Kind) for kinds in by_episode.values()), by_episode
    assert set(by_episode) == set(distilled)
    # …whose events are in the pool, in that episode, in the episode's workspace.
    for episode in distilled.values():
        events = store.read_events(ids=episode.event_ids)
        assert len(events) == len(episode.event_ids)
        assert {event.episode_id for event in events} == {episode.id}
        assert {event.workspace for event in events} == {episode.workspace}

    outcomes = {(m.kind, m.outcome) for m in memories}
    assert (Kind.INSIGHT, Outcome.FAILURE) in outcomes and (Kind.INSIGHT, Outcome.SUCCESS) in outcomes
    languages = {language for memory in memories for language in memory.languages}
    assert languages >= LANGUAGES
    tools = {tool for memory in memories for tool in memory.tools}
    assert {"pytest", "npm", "cargo", "go", "mvn", "tsc", "mypy", "docker"} <= tools
    assert {m.scope for m in memories if m.kind in (Kind.TRAJECTORY, Kind.SUMMARY)} == {Scope.PROJECT}
    assert {m.scope for m in memories if m.kind in (Kind.WORKFLOW, Kind.INSIGHT)} == {Scope.GLOBAL}


def test_insights_name_no_file_identifier_or_literal(filled: MemoryStore) -> None:
    store = filled
    PipelineRunner(store, distiller=OfflineDistiller()).run()
    names: set[str] = set()
    for episode in store.list_episodes(DISTILLED):
        names |= episode_view(store, episode).identifiers()
    assert {"pagination", "contactLabel", "parse_header", "yaml", "useMemo", "psycopg2"} & names
    insights = store.list_memories(kind=Kind.INSIGHT)
    assert len(insights) >= 10
    for memory in insights:
        text = InsightText(memory.title, memory.description, memory.content, memory.when_not)
        assert insight_problems(text, names) == [], memory.title
        assert memory.when_not
        # A check command names the tool and plain flags, never a file or a test.
        assert not re.search(r"\.(py|js|ts|rs|go|java)\b|::|/\w", memory.check_command), memory.check_command
    checks = {memory.check_command for memory in insights} - {""}
    assert len(checks) >= 6 and {"pytest -q", "go test ./...", "mvn -q test", "docker build ."} <= checks
    assert {check.split()[0] for check in checks} <= {
        "pytest",
        "npm",
        "cargo",
        "go",
        "mvn",
        "tsc",
        "mypy",
        "docker",
    }
    # The same lesson learned in several languages is one insight that lists them all.
    null_check = next(m for m in insights if m.title.startswith("Guard optional values"))
    assert {"javascript", "rust", "typescript", "python"} <= set(null_check.languages)
    assert len(null_check.provenance.episode_ids) == 4


def test_each_recording_is_recognised_as_its_shape(filled: MemoryStore) -> None:
    store = filled
    found: dict[str, list[tuple[str, set[str]]]] = {}
    for episode in store.list_episodes(FINISHED):
        view = episode_view(store, episode)
        shapes = {shape.name for shape in match_shapes(view)}
        found.setdefault(episode.workspace, []).append((episode.outcome, shapes))
    expected: dict[str, list[tuple[str, set[str]]]] = {}
    for entries in EXPECTED.values():
        for entry in entries:
            expected.setdefault(entry["workspace"], []).append((entry["outcome"], set(entry["shapes"])))
    for workspace, entries in expected.items():
        got = found[workspace]
        for outcome, shapes in entries:
            assert (outcome, shapes) in got, (workspace, got)


def test_distilling_twice_does_nothing_more(filled: MemoryStore) -> None:
    store = filled
    first = PipelineRunner(store, distiller=OfflineDistiller()).run()
    count = store.count()
    second = PipelineRunner(store, distiller=OfflineDistiller()).run()
    assert first.distilled > 0 and second.total == 0 and store.count() == count


def test_the_worker_distils_in_the_background_with_progress(filled: MemoryStore) -> None:
    calls: list[tuple[int, int, str]] = []
    worker = DistillWorker(
        filled, OfflineDistiller(), on_progress=lambda d, t, m: calls.append((d, t, m)), debounce_s=0.0
    )
    worker.start()
    try:
        worker.wake()
        assert worker.wait_idle(60)
    finally:
        worker.stop()
    assert worker.last_report is not None and worker.last_report.distilled == worker.last_report.total > 0
    assert calls[-1][0] == calls[-1][1] == worker.last_report.total
    assert worker.last_report.episodes == worker.last_report.distilled
    assert worker.last_report.added + worker.last_report.merged == worker.last_report.memories
