"""The model distiller against a real OpenAI-compatible HTTP server on 127.0.0.1: good replies,
a failing endpoint (500s, timeouts, a body that is not JSON) and malformed answers (not JSON,
missing fields, an insight that names a file)."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import attrs
import pytest

from carryover.pipeline.capture.sink import PoolEventSink
from carryover.pipeline.command import run_distill
from carryover.pipeline.distill.factory import build_distiller
from carryover.pipeline.distill.llm import LLMDistiller, LLMSettings
from carryover.pipeline.distill.offline import OfflineDistiller
from carryover.pipeline.events import TerminalEnded
from carryover.pipeline.runner import PipelineRunner
from carryover.pipeline.segment import DISTILLED, FINISHED, segment_pending
from carryover.pool.records import Kind
from carryover.pool.store import MemoryStore
from tests.data.sessions.build_sessions import load_session
from tests.support.events import shell
from tests.support.openai_server import FakeOpenAIServer
from tests.test_capture_segment import fast_store

__all__ = ["fast_store"]

SECRET_KEY = "AKIA1DYBV7EXAMPLEZXG"
SECRET = "4QhoxhLPAbQcEFEXAMPLEKEYUV2fsjGHb6HrlEOS"

WORKFLOW = {
    "goal": "Make a query that breaks on quotes in input pass its tests",
    "steps": [
        "Run the failing test alone and read the database error.",
        "Replace string formatting in the query with driver placeholders.",
        "Re-run the same test, then the whole suite.",
    ],
}
SUMMARY = {
    "task_summary": "A lookup built its SQL with string formatting and failed for names with quotes. "
    "The project is Python with pytest and SQLite.",
    "experience_summary": "The test failed with a syntax error from the database; the query was changed to "
    "use placeholders and the same test then passed, because values were no longer parsed as SQL.",
}
INSIGHT = {
    "title": "Bind values as query parameters",
    "description": "Use when a query is assembled from strings that include user input.",
    "content": "Placeholders keep values out of the SQL grammar, so quotes and separators cannot break or "
    "inject into the query. Add a test whose input contains a quote.",
    "languages": ["python"],
    "tools": ["pytest", "sqlite"],
    "when_not": "When the varying part is a table or column name; validate it against an allow-list instead.",
    "check_command": "pytest -x",
}
FILE_INSIGHT = dict(INSIGHT, content="Fix src/members/directory.py by passing the name as a parameter.")


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def settings(server: FakeOpenAIServer, *, timeout_s: float = 5.0, max_retries: int = 1) -> LLMSettings:
    return LLMSettings(
        model="fake-chat",
        base_url=server.url,
        api_key="sk-test-KEY-0123456789",
        timeout_s=timeout_s,
        max_retries=max_retries,
    )


def one_episode(store: MemoryStore, secret: bool = True) -> str:
    """The SQL session (plus a leaked credential in its output) in the pool, segmented."""
    events = load_session("python_sql_parameters.jsonl")
    if secret:
        first = events[0]
        assert isinstance(first.payload, TerminalEnded)
        head = (
            f"export AWS_ACCESS_KEY_ID={SECRET_KEY}\nexport AWS_SECRET_ACCESS_KEY={SECRET}\n"
            + first.payload.output_head
        )
        events[0] = attrs.evolve(first, payload=attrs.evolve(first.payload, output_head=head))
    sink = PoolEventSink(store, flush_interval_s=0.05)
    for event in events:
        sink.record(event)
    sink.close()
    segment_pending(store, now=events[-1].time + timedelta(hours=1))
    (episode,) = store.list_episodes(FINISHED)
    return episode.id


def script(server: FakeOpenAIServer, *replies: object) -> None:
    for reply in replies:
        server.scripted_replies.append(reply if isinstance(reply, str) else json.dumps(reply))


def test_good_replies_become_memories_and_no_secret_leaves(
    fast_store: MemoryStore, openai_server: FakeOpenAIServer
) -> None:
    store = fast_store
    episode_id = one_episode(store)
    script(openai_server, WORKFLOW, SUMMARY, INSIGHT)
    distiller = LLMDistiller(settings(openai_server))
    report = PipelineRunner(store, distiller=distiller).run()
    assert report.distilled == 1 and not report.queued
    assert [episode.id for episode in store.list_episodes(DISTILLED)] == [episode_id]
    memories = {memory.kind: memory for memory in store.list_memories()}
    assert set(memories) == set(Kind)
    insight = memories[Kind.INSIGHT]
    assert insight.title == INSIGHT["title"] and insight.check_command == "pytest -x"
    assert insight.provenance.distilled_by == "llm:fake-chat" and insight.provenance.episode_ids == (
        episode_id,
    )
    assert "sqlite" in insight.tools and "python" in insight.languages
    assert memories[Kind.WORKFLOW].content.startswith("Goal: Make a query")
    assert memories[Kind.SUMMARY].content == SUMMARY["experience_summary"]
    assert memories[Kind.TRAJECTORY].content.startswith("Task: Make `python -m pytest")

    requests = openai_server.chat_requests
    assert len(requests) == 3
    prompts = [request.body["messages"][1]["content"] for request in requests]
    assert all("validated success" in prompt for prompt in prompts)
    assert (
        "base workflow" in prompts[0] and "task summary" in prompts[1] and "exactly one insight" in prompts[2]
    )
    assert all(request.body["response_format"] == {"type": "json_object"} for request in requests)
    assert "sqlite3.OperationalError" in prompts[0]  # the record is there…
    for request in requests:  # …but no secret ever reaches the endpoint
        assert SECRET.encode() not in request.raw_body and SECRET_KEY.encode() not in request.raw_body
        assert b"[REDACTED:" in request.raw_body
    for row in store.read_events():
        assert SECRET not in row.payload and SECRET_KEY not in row.payload
    for memory in store.list_memories():
        assert SECRET not in memory.content and SECRET_KEY not in memory.content


def test_a_failing_endpoint_keeps_the_episode_queued_then_retries(
    fast_store: MemoryStore, openai_server: FakeOpenAIServer
) -> None:
    store = fast_store
    episode_id = one_episode(store, secret=False)
    openai_server.fail_next(10, status=500)
    distiller = LLMDistiller(settings(openai_server, max_retries=2))
    report = PipelineRunner(store, distiller=distiller).run()
    assert report.distilled == 0 and report.queued == 1 and "HTTP 500" in report.endpoint_error
    assert len(openai_server.chat_requests) == 3  # one call, retried twice by the client, then given up
    assert [episode.id for episode in store.list_episodes(FINISHED)] == [episode_id]
    assert store.count() == 0
    openai_server.clear_faults()
    script(openai_server, WORKFLOW, SUMMARY, INSIGHT)
    report = PipelineRunner(store, distiller=distiller).run()
    assert report.distilled == 1 and store.list_episodes(DISTILLED)


def test_a_timeout_keeps_the_episode_queued(fast_store: MemoryStore, openai_server: FakeOpenAIServer) -> None:
    store = fast_store
    one_episode(store, secret=False)
    openai_server.delay_next(1, seconds=3.0)
    report = PipelineRunner(
        store, distiller=LLMDistiller(settings(openai_server, timeout_s=0.5, max_retries=0))
    ).run()
    assert report.queued == 1 and "timed out" in report.endpoint_error
    assert store.list_episodes(FINISHED) and store.count() == 0


def test_a_reply_body_that_is_not_json_keeps_the_episode_queued(
    fast_store: MemoryStore, openai_server: FakeOpenAIServer
) -> None:
    store = fast_store
    one_episode(store, secret=False)
    openai_server.malformed_next(5, body=b"<html>502 Bad Gateway</html>")
    report = PipelineRunner(store, distiller=LLMDistiller(settings(openai_server, max_retries=0))).run()
    assert report.queued == 1 and report.endpoint_error
    assert store.list_episodes(FINISHED)


def test_a_refused_endpoint_keeps_the_episode_queued(fast_store: MemoryStore) -> None:
    store = fast_store
    one_episode(store, secret=False)
    with FakeOpenAIServer() as server:
        url = server.url
    report = PipelineRunner(
        store, distiller=LLMDistiller(LLMSettings(model="m", base_url=url, max_retries=0, timeout_s=2))
    ).run()
    assert report.queued == 1 and "connect" in report.endpoint_error


def test_malformed_answers_are_repaired(fast_store: MemoryStore, openai_server: FakeOpenAIServer) -> None:
    store = fast_store
    one_episode(store, secret=False)
    script(
        openai_server,
        "Sure! Here is the workflow you asked for.",  # not JSON
        WORKFLOW,
        {"task_summary": "Only half an answer."},  # a missing field
        SUMMARY,
        FILE_INSIGHT,  # names a file
        INSIGHT,
    )
    distiller = LLMDistiller(settings(openai_server))
    report = PipelineRunner(store, distiller=distiller).run()
    assert report.distilled == 1 and distiller.repairs == 3 and distiller.fallbacks == 0
    requests = openai_server.chat_requests
    assert len(requests) == 6
    repair_texts = [request.body["messages"][-1]["content"] for request in requests[1::2]]
    assert "not a JSON object" in repair_texts[0]
    assert "experience_summary" in repair_texts[1]
    assert "names a file" in repair_texts[2] or "repeats a name" in repair_texts[2]
    insight = store.list_memories(kind=Kind.INSIGHT)[0]
    assert insight.title == INSIGHT["title"] and "directory" not in insight.content


def test_an_insight_that_stays_specific_is_rejected_for_the_rule_insight(
    fast_store: MemoryStore, openai_server: FakeOpenAIServer
) -> None:
    store = fast_store
    one_episode(store, secret=False)
    named = dict(INSIGHT, title="Call find_member with parameters", content="Use `?` in the query.")
    script(openai_server, WORKFLOW, SUMMARY, FILE_INSIGHT, named)
    distiller = LLMDistiller(settings(openai_server))
    report = PipelineRunner(store, distiller=distiller).run()
    assert report.distilled == 1 and distiller.fallbacks == 1
    (insight,) = store.list_memories(kind=Kind.INSIGHT)
    assert insight.title.startswith("Pass values as parameters")  # the offline rule's insight
    assert insight.provenance.distilled_by.startswith("offline-rules (model reply unusable")
    assert any("code identifier" in problem or "repeats a name" in problem for problem in distiller.rejected)


def test_a_failure_episode_uses_the_failure_prompts(
    fast_store: MemoryStore, openai_server: FakeOpenAIServer
) -> None:
    store = fast_store
    events = load_session("java_mvn_failure.jsonl")
    sink = PoolEventSink(store, flush_interval_s=0.05)
    for event in events:
        sink.record(event)
    sink.close()
    segment_pending(store, now=events[-1].time + timedelta(hours=2))
    anti = dict(
        WORKFLOW, anti_pattern="Re-ran the build unchanged and added logging instead of reading the error."
    )
    failure_insight = dict(INSIGHT, title="Read the first error before re-running a failing build")
    script(openai_server, WORKFLOW, anti, SUMMARY, failure_insight)  # the first lacks the anti-pattern
    report = PipelineRunner(store, distiller=LLMDistiller(settings(openai_server))).run()
    assert report.distilled == 1
    prompts = [request.body["messages"][1]["content"] for request in openai_server.chat_requests]
    assert all("ended in failure" in prompt for prompt in prompts)
    workflow = store.list_memories(kind=Kind.WORKFLOW)[0]
    assert "Anti-pattern (this attempt failed): Re-ran" in workflow.content
    assert {memory.outcome.value for memory in store.list_memories()} == {"failure"}


def test_run_distill_redo_replaces_offline_memories_with_model_ones(
    fast_store: MemoryStore, openai_server: FakeOpenAIServer
) -> None:
    store = fast_store
    one_episode(store, secret=False)
    out = io.StringIO()
    assert run_distill(store, distiller=OfflineDistiller(), out=out) == 0
    assert "distilled 1 of 1" in out.getvalue()
    offline_ids = {memory.id for memory in store.list_memories()}
    assert {m.provenance.distilled_by for m in store.list_memories()} == {"offline-rules"}
    script(openai_server, WORKFLOW, SUMMARY, INSIGHT)
    environ = {"CARRYOVER_DISTILL_BASE_URL": openai_server.url, "CARRYOVER_DISTILL_MODEL": "fake-chat"}
    out = io.StringIO()
    assert run_distill(store, redo=True, environ=environ, out=out) == 0
    memories = store.list_memories()
    assert {m.provenance.distilled_by for m in memories} == {"llm:fake-chat"}
    assert len(memories) == 4 and not offline_ids & {m.id for m in memories} - {
        m.id for m in memories if m.kind is Kind.TRAJECTORY
    }
    # With the endpoint down, the command reports the queue and exits non-zero.
    openai_server.fail_next(20, status=503)
    out = io.StringIO()
    assert run_distill(store, redo=True, environ=environ, out=out) == 1
    assert "left queued" in out.getvalue()


def test_no_endpoint_configured_means_offline() -> None:
    assert isinstance(build_distiller(None, {}), OfflineDistiller)
    assert LLMSettings.from_env({"OPENAI_API_KEY": "sk-x"}) is None
    chosen = build_distiller(None, {"CARRYOVER_DISTILL_MODEL": "m", "CARRYOVER_DISTILL_API_KEY": "k"})
    assert isinstance(chosen, LLMDistiller) and "k" not in repr(chosen.settings)


def test_events_recorded_without_a_secret_are_kept_verbatim(fast_store: MemoryStore) -> None:
    sink = PoolEventSink(fast_store)
    sink.record(shell("/w", "pytest -k 'name'", 0))
    sink.close()
    (row,) = fast_store.read_events()
    assert json.loads(row.payload)["command"] == "pytest -k 'name'"
