"""With a remote embedder, nothing secret leaves the machine: not the memories (redacted when
stored) and not what is searched for (the hovered line, a diagnostic, a command's output), checked on
every request a real local OpenAI-compatible server receives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from carryover.pool.embedding.openai_compat import OpenAIEmbedder, OpenAIEmbedderConfig
from carryover.pool.records import Kind, MemoryDraft, Outcome
from carryover.pool.store import MemoryStore
from carryover.recall import Diagnostic, FailedRun, Moment, suggest
from tests.support.openai_server import FakeOpenAIServer
from tests.support.pools import pool_config

TOKEN = "ghp_" + "Zq8Lm2Nx4Vb6Cd1Ef3Gh5Jk7Pr9St0Uw2Yz4A"
AWS = "AKIA" + "Q2X7Z4K9M3N8P5R6"
PASSWORD = "Tr0ub4dor&3-horse"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def test_queries_and_memories_reach_a_remote_embedder_redacted(
    tmp_path: Path, openai_server: FakeOpenAIServer
) -> None:
    embedder = OpenAIEmbedder(
        OpenAIEmbedderConfig(
            base_url=openai_server.url, model="fake-embed", api_key="sk-local", timeout_s=5.0
        )
    )
    store = MemoryStore(pool_config(tmp_path), embedder, refresh_interval_s=0.0)
    store.add(
        MemoryDraft(
            kind=Kind.INSIGHT,
            title="Rotate a leaked token at once",
            description=f"Use when a token such as {TOKEN} shows up in a log.",
            content="Revoke it first, then look for where it was printed.",
            outcome=Outcome.SUCCESS,
        )
    )
    moment = Moment(
        language="python",
        lines=(f'client = Github("{TOKEN}")',),
        diagnostics=(Diagnostic(f"hard-coded credential {AWS}"),),
        failed_run=FailedRun(
            f"PGPASSWORD={PASSWORD} psql -h db", output='FATAL: password authentication failed for user "app"'
        ),
    )
    suggest(store, moment)
    bodies = [json.dumps(request.body) for request in openai_server.embedding_requests]
    assert len(bodies) >= 2  # the memory and the query were both embedded remotely
    for secret in (TOKEN, AWS, PASSWORD):
        assert not any(secret in body for body in bodies), secret
    assert any("REDACTED" in body for body in bodies)
