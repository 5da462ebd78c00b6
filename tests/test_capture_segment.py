"""Segmentation rules on recorded sessions (pure), and resumed over a real pool."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from carryover.pipeline.capture.documents import DocumentTracker
from carryover.pipeline.capture.sink import PoolEventSink, event_to_row, row_payload
from carryover.pipeline.events import CapturedEvent, MalformedEvent
from carryover.pipeline.segment import (
    DISTILLED,
    FINISHED,
    NO_EPISODE,
    OPEN,
    SegmentConfig,
    WorkspaceSegmenter,
    segment_events,
    segment_pending,
)
from carryover.pool.schema import EventRow
from carryover.pool.store import MemoryStore
from carryover.vocabulary import tools as commands
from tests.data.sessions.build_sessions import EXPECTED, load_session, session_names
from tests.support.events import diagnostic, diagnostics, ended, saved, shell
from tests.support.openai_server import hashed_embedding
from tests.support.pools import pool_config


class HashEmbedder:
    """A fast deterministic embedder for capture and distillation tests (feature-hashed words and
    trigrams, as the test OpenAI server computes them): these tests are about events, episodes and
    memories, not about embedding quality, and the real model costs about a second per episode."""

    name = "test-hash-256"
    dimension = 256

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.asarray([hashed_embedding(text or " ", self.dimension) for text in texts], dtype=np.float32)


@pytest.fixture
def fast_store(tmp_path: Path) -> MemoryStore:
    """A real pool on disk in a tmp dir, embedded by :class:`HashEmbedder`."""
    return MemoryStore(pool_config(tmp_path), HashEmbedder())


def rows_of(name: str) -> list[EventRow]:
    return [event_to_row(event, f"evt_{index:05d}") for index, event in enumerate(load_session(name))]


def later(rows: list[EventRow], hours: float = 2) -> datetime:
    return max(row.time for row in rows) + timedelta(hours=hours)


@pytest.mark.parametrize("name", session_names())
def test_recorded_sessions_segment_as_expected(name: str) -> None:
    rows = rows_of(name)
    finished, still_open, assignment, held = segment_events(rows, now=later(rows))
    assert not still_open and not held
    expected = EXPECTED[name]
    got = sorted((episode.workspace, episode.outcome, episode.started_at) for episode in finished)
    assert [(w, o) for w, o, _ in got] == sorted((e["workspace"], e["outcome"]) for e in expected)
    # Every event is decided, and events of one episode belong to its workspace.
    assert set(assignment) == {row.id for row in rows}
    by_id = {row.id: row for row in rows}
    for episode in finished:
        assert episode.event_ids
        assert {by_id[event_id].workspace for event_id in episode.event_ids} == {episode.workspace}
        assert all(assignment[event_id] == episode.id for event_id in episode.event_ids)
        first = by_id[episode.event_ids[0]]
        assert first.time == episode.started_at


def test_noise_before_a_failure_is_left_out_and_noise_inside_joins() -> None:
    rows = rows_of("python_pytest_boundary.jsonl")
    finished, _open, assignment, _held = segment_events(rows, now=later(rows))
    (episode,) = finished
    ls, git_status = rows[0], rows[1]
    assert assignment[ls.id] == NO_EPISODE and assignment[git_status.id] == NO_EPISODE
    # The passing full-suite run after the validated success is outside the episode.
    assert assignment[rows[-1].id] == NO_EPISODE
    assert episode.goal == "Make `pytest tests/test_pagination.py -q` pass"
    assert episode.outcome == "success"


def test_interleaved_workspaces_make_separate_episodes() -> None:
    rows = rows_of("interleaved_two_workspaces.jsonl")
    finished, _open, _assignment, _held = segment_events(rows, now=later(rows))
    goals = {episode.workspace: episode.goal for episode in finished}
    assert goals == {
        "/home/dev/etl-jobs": "Make `pytest tests/test_config.py` pass",
        "/home/dev/dash": "Make `npm run build` pass",
    }


def test_a_transient_diagnostic_while_typing_is_not_an_episode() -> None:
    rows = rows_of("ts_tsc.jsonl")
    finished, _open, assignment, _held = segment_events(rows, now=later(rows))
    transient = [row for row in rows if row.type == "diagnostics.changed"][:2]
    assert [assignment[row.id] for row in transient] == [NO_EPISODE, NO_EPISODE]
    assert len(finished) == 2


def test_a_failure_left_standing_closes_after_the_gap_not_before() -> None:
    rows = rows_of("go_test.jsonl")
    end = max(row.time for row in rows)
    _finished, still_open, _a, _h = segment_events(rows, now=end + timedelta(minutes=10))
    assert len(still_open) == 1 and still_open[0].status == OPEN
    finished, still_open, _a, _h = segment_events(rows, now=end + timedelta(minutes=31))
    assert not still_open and [e.outcome for e in finished] == ["success", "failure"]
    # A configurable gap.
    finished, still_open, _a, _h = segment_events(
        rows, SegmentConfig(gap_s=300), now=end + timedelta(minutes=6)
    )
    assert not still_open and finished[-1].outcome == "failure"


def test_a_failure_then_a_long_pause_then_new_work_splits_episodes() -> None:
    ws = "/w"
    t = datetime(2026, 1, 1, 9)
    events: list[CapturedEvent] = [
        ended(ws, "pytest", 1, t),
        ended(ws, "pytest", 1, t + timedelta(hours=2)),
        saved(ws, "a.py", t + timedelta(hours=2, minutes=1)),
        ended(ws, "pytest", 0, t + timedelta(hours=2, minutes=2)),
    ]
    rows = [event_to_row(event, f"e{index}") for index, event in enumerate(events)]
    finished, _open, _a, _h = segment_events(rows, now=t + timedelta(hours=5))
    assert [(e.outcome, len(e.event_ids)) for e in finished] == [("failure", 1), ("success", 3)]


def test_a_diagnostic_that_clears_with_no_change_is_withdrawn() -> None:
    ws = "/w"
    t = datetime(2026, 1, 1, 9)
    error = diagnostic("Cannot find name 'x'.", "2304", "ts")
    events: list[CapturedEvent] = [
        diagnostics(ws, "a.ts", (error,), t, after_save=True),
        diagnostics(ws, "a.ts", (), t + timedelta(seconds=5)),
    ]
    rows = [event_to_row(event, f"e{index}") for index, event in enumerate(events)]
    finished, still_open, assignment, _h = segment_events(rows, now=t + timedelta(hours=1))
    assert not finished and not still_open
    assert set(assignment.values()) == {NO_EPISODE}


def test_a_standing_diagnostic_is_confirmed_after_the_settle_time() -> None:
    ws = "/w"
    t = datetime(2026, 1, 1, 9)
    error = diagnostic("Object is possibly 'undefined'.", "2532", "ts")
    events: list[CapturedEvent] = [
        diagnostics(ws, "a.ts", (error,), t),
        saved(ws, "b.ts", t + timedelta(seconds=5)),
        diagnostics(ws, "a.ts", (), t + timedelta(seconds=40)),
    ]
    rows = [event_to_row(event, f"e{index}") for index, event in enumerate(events)]
    # Within the settle time the first two events are held (replayed next run), not decided.
    _f, _o, assignment, held = segment_events(rows[:2], now=t + timedelta(seconds=10))
    assert held == {"e0", "e1"} and not assignment
    finished, _o, assignment, held = segment_events(rows, now=t + timedelta(hours=1))
    assert [e.outcome for e in finished] == ["success"] and finished[0].event_ids == ["e0", "e1", "e2"]
    assert not held


def test_an_error_published_after_a_save_from_the_tracker_opens_an_episode() -> None:
    """The editor's one producer (DocumentTracker) feeds segmentation: a save, then an error in the
    first publication after it, opens an episode; the next save and a clean publication close it."""
    ws = "/w"
    clock = iter(datetime(2026, 1, 1, 9, 0, second) for second in range(0, 60, 5))
    tracker = DocumentTracker([ws], clock=lambda: next(clock))
    uri = "file:///w/src/a.py"
    events: list[CapturedEvent] = [
        *tracker.open(uri, "python", 1, "x = 1\n"),
        *tracker.save(uri, "x: int = 'one'\n"),
        *tracker.diagnostics(uri, [{"severity": 1, "message": "Incompatible types", "code": "assignment"}]),
        *tracker.save(uri, "x: int = 1\n"),
        *tracker.diagnostics(uri, []),
    ]
    rows = [event_to_row(event, f"e{index}") for index, event in enumerate(events)]
    finished, still_open, _assignment, _h = segment_events(rows, now=datetime(2026, 1, 1, 10))
    assert not still_open and [e.outcome for e in finished] == ["success"]
    assert finished[0].event_ids == ["e2", "e3", "e4"]
    assert "error assignment in src/a.py" in finished[0].goal


def test_a_malformed_stored_payload_is_reported_not_read_as_empty(
    fast_store: MemoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    """A stored failing command whose payload is damaged is counted and logged once, joins the
    episode as a plain event, and the episode is still segmented from the rest."""
    ws = "/w"
    t = datetime(2026, 1, 1, 9)
    events: list[CapturedEvent] = [
        ended(ws, "pytest", 1, t),
        ended(ws, "pytest", 1, t + timedelta(seconds=10)),
        saved(ws, "a.py", t + timedelta(seconds=20), "+fixed\n"),
        ended(ws, "pytest", 0, t + timedelta(seconds=30)),
    ]
    rows = [event_to_row(event, f"evt_{index}") for index, event in enumerate(events)]
    damaged = rows[1].model_copy(update={"payload": '{"command": "pytest", "exit_code": "one"}'})
    unknown = rows[2].model_copy(update={"id": "evt_x", "type": "document.renamed"})
    fast_store.append_events([rows[0], damaged, rows[2], unknown, rows[3]])
    with caplog.at_level(logging.WARNING, logger="carryover.pipeline.capture.sink"):
        report = segment_pending(fast_store, now=t + timedelta(hours=1))
        again = segment_events(fast_store.read_events(), now=t + timedelta(hours=1))
    assert set(report.malformed) == {"evt_1", "evt_x"}
    [episode] = report.finished
    assert episode.outcome == "success" and episode.event_ids == ["evt_0", "evt_1", "evt_2", "evt_x", "evt_3"]
    warnings = [record.getMessage() for record in caplog.records if "malformed" in record.getMessage()]
    assert sum("evt_1" in message for message in warnings) == 1, warnings  # once, not per read
    assert any("exit_code" in message and "expected int" in message for message in warnings)
    assert any("unknown event type 'document.renamed'" in message for message in warnings)
    assert again[0][0].event_ids == episode.event_ids
    with pytest.raises(MalformedEvent, match="evt_1"):
        row_payload(damaged)


def test_grep_finding_nothing_or_ctrl_c_is_not_a_failure() -> None:
    assert not commands.failure_counts("grep -rn TODO src", 1)
    assert not commands.failure_counts("pytest -x", 130)
    assert not commands.failure_counts("git status", 128)
    assert commands.failure_counts("cd api && npm test", 1)
    assert commands.validates(
        commands.shape("pytest tests/"), commands.shape("pytest tests/test_a.py::test_b")
    )
    assert commands.validates(
        commands.shape("go test ./..."), commands.shape("go test ./internal/api -run X")
    )
    assert commands.validates(commands.shape("npm test"), commands.shape("npx jest src/a.test.js"))
    assert not commands.validates(
        commands.shape("pytest tests/test_b.py"), commands.shape("pytest tests/test_a.py")
    )
    assert commands.generic_command("python -m pytest -x tests/test_a.py::test_b") == "pytest -x"
    assert commands.generic_command("docker build -t app:dev .") == "docker build ."


def test_segmentation_resumes_over_the_pool_after_a_restart(fast_store: MemoryStore, tmp_path: Path) -> None:
    """Half the events, a segmentation run, a "restart" (a new store object and sink), the rest:
    the same episodes as segmenting everything at once."""
    store = fast_store
    events = load_session("go_test.jsonl") + load_session("rust_cargo.jsonl")
    events.sort(key=lambda event: event.time)
    half = len(events) // 2
    sink = PoolEventSink(store)
    for event in events[:half]:
        sink.record(event)
    sink.close()
    first = segment_pending(store, now=events[half - 1].time + timedelta(seconds=1))
    assert first.open  # the go episode is still open at this point
    reopened = MemoryStore(pool_config(tmp_path), store.embedder)
    sink = PoolEventSink(reopened)
    for event in events[half:]:
        sink.record(event)
    sink.close()
    segment_pending(reopened, now=events[-1].time + timedelta(hours=2))
    episodes = reopened.list_episodes([FINISHED, DISTILLED])
    rows = reopened.read_events()
    expected, _open, _a, _h = segment_events(rows, now=events[-1].time + timedelta(hours=2))
    assert sorted((e.goal, e.outcome, len(e.event_ids)) for e in episodes) == sorted(
        (e.goal, e.outcome, len(e.event_ids)) for e in expected
    )
    assert not reopened.list_episodes(OPEN)
    assert all(row.episode_id for row in rows)  # every event decided


def test_workspace_segmenter_ignores_events_of_no_workspace() -> None:
    rows = [event_to_row(shell("", "make", 2), "e0")]
    finished, still_open, assignment, _h = segment_events(rows)
    assert not finished and not still_open and assignment == {"e0": NO_EPISODE}
    assert WorkspaceSegmenter("/w").open_row() is None


def test_many_standing_errors_behind_a_flood_of_runs_assign_each_event_once() -> None:
    """Many candidate errors in one publication, then more passing runs than an episode holds: the
    errors standing at once are the failures of one episode of at most ``max_events``, and what does
    not fit is left out. (Before, each error re-opened an episode under the same id, and the held
    events it could not take were queued again beside themselves.)"""
    ws = "/w"
    t = datetime(2026, 1, 1, 9)
    errors = tuple(diagnostic(f"error number {line}", f"E{line}", "ts", line=line) for line in range(40))
    events: list[CapturedEvent] = [diagnostics(ws, "a.ts", errors, t)]
    events += [
        ended(ws, f"pytest tests/test_{i % 7}.py", 0, t + timedelta(milliseconds=i)) for i in range(1200)
    ]
    rows = [event_to_row(event, f"e{index:05d}") for index, event in enumerate(events)]
    config = SegmentConfig(max_events=500)
    finished, still_open, assignment, held = segment_events(rows, config, now=t + timedelta(hours=1))
    seen: dict[str, str] = {}
    for episode in [*finished, *still_open]:
        assert len(episode.event_ids) <= config.max_events
        for event_id in episode.event_ids:
            assert event_id not in seen, f"{event_id} is in {seen[event_id]} and {episode.id}"
            seen[event_id] = episode.id
    assert set(assignment) == {row.id for row in rows} and not held
    assert all(assignment[event_id] == episode_id for event_id, episode_id in seen.items())
    assert [len(episode.event_ids) for episode in finished] == [500]
    assert len({episode.id for episode in finished}) == len(finished)
