"""The team pool on a real S3-compatible server (moto's server mode on 127.0.0.1): sharing, who
shared what, merged retrieval, the queue while the pool is unreachable, and three processes writing
at once."""

from __future__ import annotations

import logging
import multiprocessing
import os
import socket
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from carryover.pool.config import StoreConfig, TeamConfig
from carryover.pool.embedding.base import Embedder
from carryover.pool.records import Kind, MemoryDraft, Provenance, Scope, SearchQuery, Status
from carryover.pool.store import MemoryStore
from carryover.pool.team import PooledSearch, ShareRefused, TeamPool
from tests.support.pools import pool_config

BUCKET = "carryover-team"
URI = f"s3://{BUCKET}/pool"

RETRY_LESSON = MemoryDraft(
    kind=Kind.INSIGHT,
    title="Retry network calls with backoff and a deadline",
    description="Use when a call to another service fails now and then under load.",
    content="Wrap the call in a retry with exponential backoff and stop at a deadline the caller chose.",
    languages=["go"],
    provenance=Provenance(workspace="/home/ada/src/payments"),
)
MIGRATION_LESSON = MemoryDraft(
    kind=Kind.INSIGHT,
    title="Make schema migrations reversible",
    description="Use when a database migration changes or drops a column.",
    content="Write the down step with the up step and run both against a copy before deploying.",
    languages=["python"],
)


def _credentials(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "team-test",
        "AWS_SECRET_ACCESS_KEY": "team-test-secret",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ALLOW_HTTP": "true",
    }


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    """moto's S3 server on a free 127.0.0.1 port, with the team bucket; its endpoint URL."""
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="team-test",
        aws_secret_access_key="team-test-secret",
    )
    client.create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


@pytest.fixture
def s3_env(s3_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    env = _credentials(s3_server)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def _team_config(config: StoreConfig, uri: str, user: str = "ada", **team: Any) -> StoreConfig:
    return attrs.evolve(config, team=TeamConfig(uri=uri, user=user, **team))


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_share_records_who_and_where_and_search_merges_both_pools(
    s3_env: dict[str, str], tmp_path: Path, minilm: Embedder
) -> None:
    uri = f"{URI}/{tmp_path.name}"
    config = _team_config(pool_config(tmp_path), uri)
    local = MemoryStore(config, minilm)
    retry = local.add(RETRY_LESSON)
    migration = local.add(MIGRATION_LESSON)
    team = TeamPool(config, local.embedder)

    started = time.perf_counter()
    shared = team.share(local, retry.id[:12])
    write_s = time.perf_counter() - started
    assert (shared.outcome, shared.team_id) == ("shared", retry.id)
    assert team.share(local, retry.id).outcome == "merged", "sharing again changes nothing"

    started = time.perf_counter()
    hits = team.search(SearchQuery(text="a flaky call to a service keeps failing", language="rust"))
    read_s = time.perf_counter() - started
    assert [hit.memory.id for hit in hits] == [retry.id]
    memory = hits[0].memory
    assert memory.scope is Scope.TEAM
    assert (memory.provenance.shared_by, memory.provenance.shared_from_workspace) == ("ada", "payments")
    assert "/home/ada" not in str(attrs.asdict(memory)), "a team sees the folder's name, not the path"
    # The recall layer's interface: unranked candidates with their similarities, same as the store's.
    vectors = local.embed_query(["a flaky call to a service keeps failing"])
    candidates = team.candidates(vectors, kinds=[Kind.INSIGHT], limit=5)
    assert [(found.id, found.provenance.shared_by) for found, _ in candidates] == [(retry.id, "ada")]
    assert candidates[0][1].shape == (1,) and candidates[0][1][0] == pytest.approx(
        hits[0].why.similarity, abs=1e-4
    )
    logging.getLogger(__name__).info("team write %.3f s, read %.3f s", write_s, read_s)

    # Another person's pool, same team: the shared memory comes back merged with their own.
    other_config = _team_config(pool_config(tmp_path / "bob"), uri, user="bob")
    other = MemoryStore(other_config, minilm)
    other.add(MIGRATION_LESSON)
    pooled = PooledSearch(other, TeamPool(other_config, other.embedder))
    found = pooled.search(SearchQuery(text="a flaky call to a service keeps failing", k=3))
    assert found and found[0].memory.id == retry.id and found[0].memory.provenance.shared_by == "ada"
    # The same memory in both pools is returned once (the local copy on a tie).
    both = pooled.search(SearchQuery(text="reversible database migration", k=3))
    assert [hit.memory.id for hit in both].count(migration.id) == 1
    assert team.status().reachable is True and team.status().queued == 0


def test_sharing_is_refused_while_a_secret_remains_or_before_acceptance(
    s3_env: dict[str, str], tmp_path: Path, minilm: Embedder
) -> None:
    config = _team_config(pool_config(tmp_path), f"{URI}/{tmp_path.name}")
    local = MemoryStore(config, minilm)
    written = local.add(RETRY_LESSON)
    # A secret that got in before today's redaction rules (written past the store's redaction).
    local._set(written.id, {"content": "Call it with the token ghp_" + "a1B2c3D4e5F6g7H8i9J0" * 2 + " set."})
    team = TeamPool(config, local.embedder)
    with pytest.raises(ShareRefused, match=r"secret.*content: github"):
        team.share(local, written.id)
    proposal = local.add(attrs.evolve(MIGRATION_LESSON, status=Status.PROPOSED))
    local._set(proposal.id, {"status": Status.PROPOSED.value})
    with pytest.raises(ShareRefused, match="proposed"):
        team.share(local, proposal.id)
    assert team.queue.pending() == []


def test_an_unreachable_team_pool_queues_shares_and_they_are_sent_later(
    s3_env: dict[str, str], tmp_path: Path, minilm: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"{URI}/{tmp_path.name}"
    config = _team_config(pool_config(tmp_path), uri, timeout_s=1.0, retry_after_s=60.0)
    local = MemoryStore(config, minilm)
    written = local.add(RETRY_LESSON)

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{_closed_port()}")
    offline = TeamPool(config, local.embedder)
    result = offline.share(local, written.id)
    assert result.outcome == "queued"
    status = offline.status()
    assert (status.reachable, status.queued) == (False, 1)
    assert "unreachable" in status.summary()
    queue = offline.queue.path
    assert stat.S_IMODE(queue.stat().st_mode) == 0o600
    started = time.perf_counter()
    assert offline.search(SearchQuery(text="retry with backoff")) == []
    assert time.perf_counter() - started < 0.5, "reads skip the team pool while it is down"
    assert local.search(SearchQuery(text="retry with backoff"))[0].memory.id == written.id

    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_env["AWS_ENDPOINT_URL"])
    online = TeamPool(config, local.embedder)
    assert online.flush(local) == 1
    assert not queue.exists() and online.status().queued == 0
    assert [hit.memory.id for hit in online.search(SearchQuery(text="retry with backoff"))] == [written.id]


def test_a_pool_on_s3_opens_through_the_store_api(
    s3_env: dict[str, str], tmp_path: Path, minilm: Embedder
) -> None:
    config = attrs.evolve(pool_config(tmp_path), pool_uri=f"{URI}/{tmp_path.name}-direct")
    store = MemoryStore(config, minilm)
    assert store.remote and store.location.startswith("s3://")
    store.add(MIGRATION_LESSON)
    again = MemoryStore(config, minilm)
    assert again.meta == store.meta
    assert [hit.memory.title for hit in again.search(SearchQuery(text="undo a migration"))] == [
        MIGRATION_LESSON.title
    ]


# ----- three processes at once ---------------------------------------------------------------------

WRITERS = 3
OWN = 4
COMMON = 2
TOPICS = (
    "caching",
    "logging",
    "retries",
    "parsing",
    "migrations",
    "locking",
    "timeouts",
    "packaging",
    "testing",
    "profiling",
    "encoding",
    "pagination",
)


def _lesson(writer: int | None, number: int) -> MemoryDraft:
    topic = TOPICS[number % len(TOPICS)]
    who = "everyone" if writer is None else f"writer {writer}"
    return MemoryDraft(
        kind=Kind.INSIGHT,
        title=f"Lesson {number} about {topic} from {who}",
        description=f"Use when {topic} misbehaves.",
        content=f"Check {topic} first.",
        languages=["python"],
        id=f"mem_{'common' if writer is None else f'w{writer}'}_{number:02d}",
    )


def _writer(job: tuple[str, str, dict[str, str], int], start: Any, results: Any) -> None:
    """One machine: its own local pool, sharing its own lessons and the common ones to the team; all
    writers start sharing at the same moment (``start``, a barrier)."""
    home, uri, env, writer = job
    os.environ.update(env)
    from carryover.pool.embedding.minilm import MiniLMEmbedder

    embedder = MiniLMEmbedder()
    embedder.load()
    config = attrs.evolve(
        pool_config(Path(home)), team=TeamConfig(uri=uri, user=f"user{writer}"), dedup_threshold=1.01
    )
    local = MemoryStore(config, embedder)
    drafts = [_lesson(writer, n) for n in range(OWN)] + [_lesson(None, n) for n in range(COMMON)]
    local.add_many(drafts)
    team = TeamPool(config, local.embedder)
    team.store()
    start.wait(timeout=60)
    latencies: list[float] = []
    for draft in drafts:
        started = time.perf_counter()
        result = team.share(local, str(draft.id))
        latencies.append(time.perf_counter() - started)
        assert result.outcome in ("shared", "merged"), result
    results.put((writer, latencies))


@pytest.mark.slow
def test_three_processes_sharing_at_once_leave_every_memory_exactly_once(
    s3_env: dict[str, str], tmp_path: Path, minilm: Embedder
) -> None:
    uri = f"{URI}/{tmp_path.name}-concurrent"
    config = attrs.evolve(_team_config(pool_config(tmp_path / "reader"), uri), dedup_threshold=1.01)
    reader_local = MemoryStore(config, minilm)
    reader = TeamPool(config, reader_local.embedder)
    reader.store()  # the pool exists before the writers start (as it would for a team)
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(WRITERS)
    results = context.Queue()
    writers = [
        context.Process(
            target=_writer, args=((str(tmp_path / f"machine{n}"), uri, s3_env, n), start, results)
        )
        for n in range(WRITERS)
    ]
    for process in writers:
        process.start()
    try:
        latencies = [results.get(timeout=120)[1] for _ in writers]
    finally:
        for process in writers:
            process.join(timeout=30)
    assert [process.exitcode for process in writers] == [0] * WRITERS

    team_store = reader.store()
    team_store._refresh(force=True)
    table = team_store._memories.search().select(["id", "shared_by"]).limit(None).to_arrow()
    ids = table.column("id").to_pylist()
    expected = {f"mem_w{w}_{n:02d}" for w in range(WRITERS) for n in range(OWN)}
    expected |= {f"mem_common_{n:02d}" for n in range(COMMON)}
    assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} duplicated"
    assert set(ids) == expected
    sharers = dict(zip(ids, table.column("shared_by").to_pylist(), strict=True))
    assert all(sharers[f"mem_w{w}_{n:02d}"] == f"user{w}" for w in range(WRITERS) for n in range(OWN))
    assert all(sharers[f"mem_common_{n:02d}"] in {"user0", "user1", "user2"} for n in range(COMMON))
    flat = sorted(value for run in latencies for value in run)
    logging.getLogger(__name__).info(
        "%d shares by %d writers: median %.3f s, max %.3f s",
        len(flat),
        WRITERS,
        flat[len(flat) // 2],
        flat[-1],
    )


def test_the_mcp_tools_read_the_team_pool_too(
    s3_env: dict[str, str], tmp_path: Path, minilm: Embedder
) -> None:
    from carryover.mcp.server import ArgumentError, Pools, do_feedback, do_search, do_show

    uri = f"{URI}/{tmp_path.name}"
    ada_config = _team_config(pool_config(tmp_path / "ada"), uri)
    ada = MemoryStore(ada_config, minilm)
    shared = ada.add(RETRY_LESSON)
    assert TeamPool(ada_config, ada.embedder).share(ada, shared.id).outcome == "shared"

    bob_config = _team_config(pool_config(tmp_path / "bob"), uri, user="bob")
    pools = Pools(bob_config)
    pools._store = MemoryStore(bob_config, minilm)
    pools._team = TeamPool(bob_config, pools._store.embedder)
    found = do_search(
        pools,
        text="resp, err := client.Do(req)",
        language="go",
        diagnostic="context deadline exceeded while calling the payments service",
    )["memories"]
    assert [(memory["id"], memory["scope"], memory["shared_by"]) for memory in found] == [
        (shared.id, "team", "ada")
    ]
    assert do_show(pools, shared.id[:10])["shared_from_workspace"] == "payments"
    with pytest.raises(ArgumentError, match="team memory"):
        do_feedback(pools, shared.id, helpful=True)


def test_a_team_pool_in_a_shared_directory(tmp_path: Path, minilm: Embedder) -> None:
    shared_dir = tmp_path / "nfs" / "team-pool"
    config = _team_config(pool_config(tmp_path), str(shared_dir))
    local = MemoryStore(config, minilm)
    written = local.add(MIGRATION_LESSON)
    team = TeamPool(config, local.embedder)
    assert team.share(local, written.id).outcome == "shared"
    assert (shared_dir / "pool.json").is_file(), "a directory pool: the usual files and file lock"
    [hit] = team.search(SearchQuery(text="undo a database migration"))
    assert (hit.memory.id, hit.memory.provenance.shared_by) == (written.id, "ada")
