"""Benchmark the team pool on an S3-compatible server (moto's server on 127.0.0.1): share latency,
search latency, and several processes sharing at once, beside the local pool (the floor) in the same run.

    .venv/bin/python benchmarks/team_pool.py [--shares 30] [--writers 3] [--per-writer 10] \\
        [--out benchmarks/results/team_pool.md]

The S3 server runs in this process behind a small WSGI wrapper that counts the table-version
(manifest) PUTs, how many carried ``If-None-Match`` (LanceDB's conditional commit) and how many the
server refused with 412/409 (a concurrent writer made that version first; LanceDB retried). moto
keeps objects in memory on this machine: figures are the protocol's cost without a real network.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from carryover.pool.config import StoreConfig, TeamConfig, load_config  # noqa: E402
from carryover.pool.records import Kind, MemoryDraft, SearchQuery  # noqa: E402

BUCKET = "carryover-bench"
TOPICS = (
    "caching", "logging", "retries", "parsing", "migrations", "locking", "timeouts", "packaging",
    "testing", "profiling", "encoding", "pagination", "sockets", "signals", "permissions", "configs",
)  # fmt: skip


def lesson(prefix: str, number: int) -> MemoryDraft:
    topic = TOPICS[number % len(TOPICS)]
    return MemoryDraft(
        kind=Kind.INSIGHT,
        title=f"Lesson {number} about {topic} ({prefix})",
        description=f"Use when {topic} misbehaves.",
        content=f"Check {topic} first, then change one thing at a time.",
        languages=["python"],
        id=f"mem_{prefix}_{number:03d}",
    )


def config_for(home: Path, uri: str, user: str) -> StoreConfig:
    config = load_config(db=home / "pool", environ={"CARRYOVER_HOME": str(home)})
    return attrs.evolve(config, team=TeamConfig(uri=uri, user=user), dedup_threshold=1.01)


class Counting:
    """WSGI wrapper: counts manifest PUTs, conditional ones and refused ones."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.counts = {"manifest_puts": 0, "conditional": 0, "refused": 0}
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        manifest = environ["REQUEST_METHOD"] == "PUT" and "/_versions/" in environ.get("PATH_INFO", "")
        if manifest:
            with self._lock:
                self.counts["manifest_puts"] += 1
                self.counts["conditional"] += bool(environ.get("HTTP_IF_NONE_MATCH"))

        def respond(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            if manifest and status[:3] in ("412", "409"):
                with self._lock:
                    self.counts["refused"] += 1
            return start_response(status, headers, *rest)

        return self.app(environ, respond)


def start_s3() -> tuple[str, Counting, Any]:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    counting = Counting(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, counting, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", counting, server


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    median = statistics.median(ordered)
    return f"median {median * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms"


def writer(job: tuple[str, str, dict[str, str], int, int], start: Any, results: Any) -> None:
    home, uri, env, number, count = job
    os.environ.update(env)
    from carryover.pool.store import open_store
    from carryover.pool.team import TeamPool

    config = config_for(Path(home), uri, f"user{number}")
    local = open_store(config)
    drafts = [lesson(f"w{number}", n) for n in range(count)] + [lesson("common", n) for n in range(3)]
    local.add_many(drafts)
    team = TeamPool(config, local.embedder)
    team.store()
    start.wait(timeout=120)
    latencies = []
    for draft in drafts:
        began = time.perf_counter()
        team.share(local, str(draft.id))
        latencies.append(time.perf_counter() - began)
    results.put(latencies)


def one_writer(scratch: Path, shares_count: int) -> list[str]:
    """Local writes (the floor) and team shares by one writer, then searches of both."""
    from carryover.pool.store import open_store
    from carryover.pool.team import TeamPool

    config = config_for(scratch / "solo", f"s3://{BUCKET}/solo", "ada")
    local = open_store(config)
    drafts = [lesson("solo", n) for n in range(shares_count)]
    local_writes = []
    for draft in drafts:
        began = time.perf_counter()
        local.add(draft)
        local_writes.append(time.perf_counter() - began)
    team = TeamPool(config, local.embedder)
    began = time.perf_counter()
    team.store()
    open_s = time.perf_counter() - began
    shares = []
    for draft in drafts:
        began = time.perf_counter()
        team.share(local, str(draft.id))
        shares.append(time.perf_counter() - began)
    queries = [SearchQuery(text=f"{topic} keeps failing in production", k=3) for topic in TOPICS]
    for query in queries:  # warm the query-embedding cache: both sides then measure search alone
        local.search(query)
    local_reads, team_reads = [], []
    for query in queries * 2:
        began = time.perf_counter()
        local.search(query)
        local_reads.append(time.perf_counter() - began)
        began = time.perf_counter()
        team.search(query)
        team_reads.append(time.perf_counter() - began)
    return [
        f"## One writer ({shares_count} memories)",
        "",
        "| operation | latency |",
        "| --- | --- |",
        f"| local write (`MemoryStore.add`, the floor) | {summary(local_writes)} |",
        f"| team pool open (first use) | {open_s * 1000:.0f} ms |",
        f"| team share (`TeamPool.share`) | {summary(shares)} |",
        f"| local search (the floor) | {summary(local_reads)} |",
        f"| team search (`TeamPool.search`) | {summary(team_reads)} |",
        "",
    ]


def concurrent_writers(
    scratch: Path, env: dict[str, str], counting: Counting, writers: int, per_writer: int
) -> list[str]:
    """Several processes (spawned) sharing at once, released together by a barrier."""
    from carryover.pool.embedding.factory import make_embedder
    from carryover.pool.team import TeamPool

    uri = f"s3://{BUCKET}/concurrent"
    reader_config = config_for(scratch / "reader", uri, "reader")
    reader = TeamPool(reader_config, make_embedder(reader_config.embedder))
    reader.store()
    before = dict(counting.counts)
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(writers + 1)
    results = context.Queue()
    processes = [
        context.Process(
            target=writer, args=((str(scratch / f"w{n}"), uri, env, n, per_writer), start, results)
        )
        for n in range(writers)
    ]
    for process in processes:
        process.start()
    start.wait(timeout=180)
    began = time.perf_counter()
    latencies = [value for _ in processes for value in results.get(timeout=300)]
    wall = time.perf_counter() - began
    for process in processes:
        process.join(timeout=30)
    store = reader.store()
    store._refresh(force=True)
    ids = store._memories.search().select(["id"]).limit(None).to_arrow().column("id").to_pylist()
    expected = writers * per_writer + 3
    counts = {name: counting.counts[name] - before[name] for name in counting.counts}
    return [
        f"## {writers} processes sharing at once",
        "",
        f"Each shares {per_writer} memories of its own and the same 3 common ones "
        f"({writers * (per_writer + 3)} shares).",
        "",
        "| figure | value |",
        "| --- | --- |",
        f"| rows in the team pool | {len(ids)} |",
        f"| distinct ids | {len(set(ids))} (expected {expected}) |",
        f"| share latency under contention | {summary(latencies)} |",
        f"| wall time, all shares | {wall:.2f} s |",
        f"| manifest PUTs (attempted table versions) | {counts['manifest_puts']} |",
        f"| of them conditional (If-None-Match) | {counts['conditional']} |",
        f"| refused by the server (412/409), retried by LanceDB | {counts['refused']} |",
        f"| table versions committed | {counts['manifest_puts'] - counts['refused']} |",
        "",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shares", type=int, default=30)
    parser.add_argument("--writers", type=int, default=3)
    parser.add_argument("--per-writer", type=int, default=10)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "team_pool.md")
    args = parser.parse_args()

    endpoint, counting, server = start_s3()
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench-secret",
        "AWS_REGION": "us-east-1",
        "AWS_ALLOW_HTTP": "true",
    }
    os.environ.update(env)
    import boto3

    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=BUCKET)

    lines = ["# Team pool benchmark", "", f"moto S3 server on 127.0.0.1, {os.cpu_count()} cores.", ""]
    with tempfile.TemporaryDirectory() as scratch:
        lines += one_writer(Path(scratch), args.shares)
        lines += concurrent_writers(Path(scratch), env, counting, args.writers, args.per_writer)
    server.shutdown()
    text = "\n".join(lines)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
