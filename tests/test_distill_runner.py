"""The one owner of the pipeline (PipelineRunner): one segmentation per distillation run, whoever
starts it, and a distiller built in one place and rebuilt when its settings change (against real
OpenAI-compatible HTTP servers on 127.0.0.1). Real LanceDB pools on disk."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from carryover.pipeline import segment
from carryover.pipeline.capture.sink import PoolEventSink
from carryover.pipeline.command import run_distill
from carryover.pipeline.distill.base import DistillReport
from carryover.pipeline.distill.factory import DistillerSettings, build_distiller
from carryover.pipeline.distill.llm import LLMDistiller
from carryover.pipeline.distill.offline import OfflineDistiller
from carryover.pipeline.runner import PipelineRunner
from carryover.pipeline.segment import DISTILLED, FINISHED, segment_pending
from carryover.pipeline.service import CaptureService
from carryover.pipeline.worker import DistillWorker
from carryover.pool.records import Kind
from carryover.pool.store import MemoryStore
from tests.data.sessions.build_sessions import load_session
from tests.support.events import shell
from tests.support.openai_server import FakeOpenAIServer
from tests.test_capture_segment import fast_store
from tests.test_distill_llm import INSIGHT, SUMMARY, WORKFLOW

__all__ = ["fast_store"]

ENV = ("CARRYOVER_DISTILL_MODEL", "CARRYOVER_DISTILL_BASE_URL", "CARRYOVER_DISTILL_API_KEY", "OPENAI_API_KEY")


@pytest.fixture(autouse=True)
def _no_environment_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def pending_episode(store: MemoryStore) -> None:
    """A finished, undistilled episode in the pool, and one more event nobody has segmented yet (so
    that every run has something to segment)."""
    events = load_session("python_pytest_boundary.jsonl")
    sink = PoolEventSink(store, flush_interval_s=0.05)
    for event in events:
        sink.record(event)
    sink.close()
    segment_pending(store, now=events[-1].time + timedelta(hours=2))
    assert len(store.list_episodes(FINISHED)) == 1
    sink = PoolEventSink(store)
    sink.record(shell(events[-1].workspace, "git status", 0, events[-1].time + timedelta(hours=3)))
    sink.close()


@pytest.fixture
def segmentations(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """How many times the real segmentation ran (a counter around the real function)."""
    calls: list[int] = []
    real = segment.segment_events

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(segment, "segment_events", counted)
    yield calls


def _runner(store: MemoryStore) -> DistillReport:
    return PipelineRunner(store).run()


def _worker(store: MemoryStore) -> DistillReport:
    return DistillWorker(store, OfflineDistiller()).run_once()


def _service(store: MemoryStore) -> DistillReport:
    service = CaptureService(store, watch_files=False, follow_shell_log=False)
    return service.distill_now()


def _cli(store: MemoryStore) -> DistillReport:
    out = io.StringIO()
    assert run_distill(store, distiller=OfflineDistiller(), out=out) == 0
    assert out.getvalue().count("segmented ") == 1
    return DistillReport(distilled=len(store.list_episodes(DISTILLED)))


@pytest.mark.parametrize("run", [_runner, _worker, _service, _cli])
def test_segmentation_runs_once_per_distillation_run(
    fast_store: MemoryStore, segmentations: list[int], run: Callable[[MemoryStore], DistillReport]
) -> None:
    pending_episode(fast_store)
    segmentations.clear()
    report = run(fast_store)
    assert len(segmentations) == 1
    assert report.distilled == 1 and len(fast_store.list_episodes(DISTILLED)) == 1
    assert {memory.kind for memory in fast_store.list_memories()} == set(Kind)


def test_a_run_reports_its_segmentation_and_what_it_could_not_read(fast_store: MemoryStore) -> None:
    pending_episode(fast_store)
    (episode,) = fast_store.list_episodes(FINISHED)
    rows = fast_store.read_events(ids=episode.event_ids)
    damaged = rows[0].model_copy(update={"id": "evt_damaged", "payload": "{not json"})
    fast_store.append_events([damaged])
    fast_store.upsert_episodes(
        [episode.model_copy(update={"event_ids": [*episode.event_ids, "evt_damaged"]})]
    )
    report = PipelineRunner(fast_store).run()
    assert report.segment is not None and report.segment.events >= 1
    assert report.distilled == 1 and report.malformed == ["evt_damaged"]
    assert "1 unreadable event(s) left out" in report.describe()


def script(server: FakeOpenAIServer) -> None:
    for reply in (WORKFLOW, SUMMARY, INSIGHT):
        server.scripted_replies.append(json.dumps(reply))


def test_changing_the_distiller_settings_rebuilds_the_distiller(fast_store: MemoryStore) -> None:
    """Offline until an endpoint is configured; the same settings again build nothing; another
    endpoint gets the next run's requests; no endpoint is offline again."""
    with FakeOpenAIServer() as first, FakeOpenAIServer() as second:
        runner = PipelineRunner(fast_store)
        assert isinstance(runner.distiller, OfflineDistiller) and runner.builds == 1
        at_first = DistillerSettings(endpoint=first.url, model="fake-chat", api_key="sk-test-0123456789")
        assert runner.configure(at_first) is True
        chosen = runner.distiller
        assert isinstance(chosen, LLMDistiller) and chosen.settings.base_url == first.url
        assert (
            runner.configure(
                DistillerSettings(endpoint=first.url, model="fake-chat", api_key="sk-test-0123456789")
            )
            is False
        )
        assert runner.distiller is chosen and runner.builds == 2

        pending_episode(fast_store)
        script(first)
        report = runner.run()
        assert report.distilled == 1 and len(first.chat_requests) == 3 and not second.chat_requests
        assert first.chat_requests[0].body["model"] == "fake-chat"

        assert runner.configure(DistillerSettings(endpoint=second.url, model="other")) is True
        assert chosen._client is None  # the replaced model client is closed
        fast_store.set_episode_status([report.episode_ids[0]], FINISHED)
        script(second)
        again = runner.run()
        assert again.distilled == 1 and len(first.chat_requests) == 3 and len(second.chat_requests) == 3
        assert second.chat_requests[0].body["model"] == "other"

        assert runner.configure(None) is True and isinstance(runner.distiller, OfflineDistiller)
        assert runner.builds == 4


def test_new_settings_end_the_back_off_after_an_endpoint_failed(fast_store: MemoryStore) -> None:
    """The worker backs off from an endpoint that fails (the episode stays queued, events are still
    segmented); configuring a working one distils at the next run instead of waiting out the
    back-off."""
    with FakeOpenAIServer() as broken, FakeOpenAIServer() as working:
        broken.fail_next(50, status=503)
        settings = DistillerSettings(endpoint=broken.url, model="m", max_retries=0, timeout_s=5)
        worker = DistillWorker(fast_store, settings=settings, backoff_s=3600)
        pending_episode(fast_store)
        failed = worker.run_once()
        assert failed.endpoint_error and failed.queued == 1
        backing_off = worker.run_once()
        assert backing_off.endpoint_error == "backing off" and backing_off.segment is not None
        assert len(fast_store.list_episodes(FINISHED)) == 1
        assert worker.configure(DistillerSettings(endpoint=working.url, model="m", max_retries=0)) is True
        script(working)
        done = worker.run_once()
        assert done.distilled == 1 and not done.endpoint_error and len(working.chat_requests) == 3


def test_the_environment_configures_the_distiller_when_the_settings_do_not() -> None:
    assert isinstance(build_distiller(None, {}), OfflineDistiller)
    assert isinstance(build_distiller(DistillerSettings(), {}), OfflineDistiller)
    from_env = build_distiller(None, {"CARRYOVER_DISTILL_BASE_URL": "http://127.0.0.1:9/v1"})
    assert isinstance(from_env, LLMDistiller) and from_env.settings.base_url == "http://127.0.0.1:9/v1"
    editor = build_distiller(
        DistillerSettings(endpoint="http://127.0.0.1:8/v1"),
        {
            "CARRYOVER_DISTILL_BASE_URL": "http://127.0.0.1:9/v1",
            "CARRYOVER_DISTILL_API_KEY": "sk-env",
            "OPENAI_API_KEY": "sk-o",
        },
    )
    assert isinstance(editor, LLMDistiller) and editor.settings.base_url == "http://127.0.0.1:8/v1"
    assert editor.settings.model == "default" and editor.settings.api_key == "sk-env"
    assert "sk-" not in repr(DistillerSettings(endpoint="x", api_key="sk-secret"))


def test_a_pinned_distiller_is_kept_whatever_the_settings(fast_store: MemoryStore) -> None:
    pinned = OfflineDistiller()
    runner = PipelineRunner(fast_store, distiller=pinned)
    assert runner.configure(DistillerSettings(endpoint="http://127.0.0.1:9/v1")) is False
    assert runner.distiller is pinned and runner.builds == 0
