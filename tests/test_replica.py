"""The read replica: the read commands answer from it exactly as from the pool, without LanceDB, and
only while it is in step with the pool (a write, a changed pool file, a damaged file or a vector
missing from the mirror sends them back to the pool)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from carryover.local.protocol import ListArgs, ReadArgs, SearchArgs, ShowArgs
from carryover.local.reads import answer
from carryover.pool.embedding.base import Embedder
from carryover.pool.importer import import_file
from carryover.pool.mirror import MIRROR_DIR
from carryover.pool.records import Kind, MemoryDraft, Provenance, Scope
from carryover.pool.replica import REPLICA_FILE, LeanPool, Replica, open_lean_pool, table_version_on_disk
from carryover.pool.store import MemoryStore
from tests.support.pools import EVAL_POOL, copy_of, pool_config, reading_store

REQUESTS: tuple[ReadArgs, ...] = (
    SearchArgs(query="TypeError: 'NoneType' object is not subscriptable", language="python"),
    SearchArgs(query="git push rejected, non-fast-forward", k=8, json=True),
    SearchArgs(query="the build broke after upgrading a dependency", language="rust", kinds=("insight",)),
    SearchArgs(
        query="npm test",
        language="javascript",
        failed_command="npm test",
        output="FAIL src/app.test.js\n  TypeError: Cannot read properties of undefined (reading 'map')\n",
        json=True,
    ),
    SearchArgs(query="flaky test that fails only on CI", workspace="/work/other", k=10, json=True),
    SearchArgs(query="flaky test that fails only on CI", workspace="/work/mine", k=10, json=True),
    SearchArgs(query="SQL query is slow on a large table", diagnostics=("N+1 queries",), min_score=0.2),
    ListArgs(),
    ListArgs(kind="workflow", limit=5, json=True),
    ListArgs(status="rejected"),
    ListArgs(limit=0),
    ListArgs(limit=-2),
)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, minilm: Embedder) -> Path:
    base = tmp_path_factory.mktemp("replica")
    store = MemoryStore(pool_config(base), minilm)
    import_file(store, EVAL_POOL)
    some = store.list_memories(limit=3)
    store.reject(some[0].id, "wrong here")
    store.pin(some[1].id)
    store.add(
        MemoryDraft(
            kind=Kind.INSIGHT,
            title="Quote 'it' -- \"twice\"; DROP TABLE memories; 100% of _ rows",
            description="Text is data: \x00 NUL, \u202e bidi, emoji \U0001f600, a tab\there.",
            content="SELECT * FROM memories WHERE id = '' OR 1=1 --",
            languages=("go",),
            scope=Scope.PROJECT,
            provenance=Provenance(workspace="/work/other"),
        )
    )
    store.add(
        MemoryDraft(
            kind=Kind.INSIGHT,
            title="A flaky test that fails only on CI: quarantine it, then find the race",
            description="Seen in this project's integration suite.",
            scope=Scope.PROJECT,
            provenance=Provenance(workspace="/work/mine"),
        )
    )
    return base


@pytest.fixture
def pool(seeded: Path, tmp_path: Path) -> Path:
    return copy_of(seeded, tmp_path)


def lean(base: Path, *, search: bool = True) -> LeanPool | None:
    return open_lean_pool(pool_config(base), search=search)


def test_the_replica_answers_every_read_as_the_pool_does(pool: Path, minilm: Embedder) -> None:
    store = reading_store(pool, minilm)
    assert store.sync_replica() is True
    assert store.sync_replica() is False, "in step: nothing to do"
    some = store.list_memories(limit=2)
    requests = (
        *REQUESTS,
        ShowArgs(id=some[0].id[:9]),
        ShowArgs(id=some[1].id, json=True),
        ShowArgs(id="nope"),
    )
    replica = lean(pool)
    assert replica is not None
    with replica:
        for request in requests:
            expected = answer(store, request)
            assert expected.code == 0 or request in (requests[-1], ListArgs(limit=-2))
            assert answer(replica, request) == expected, request
        mine = answer(replica, SearchArgs(query="flaky test that fails only on CI", workspace="/work/mine"))
        other = answer(replica, SearchArgs(query="flaky test that fails only on CI", workspace="/work/other"))
        assert "quarantine it" in mine.stdout
        assert "quarantine it" not in other.stdout, "another workspace's project memory stays there"


def test_a_write_sends_reads_to_the_pool_until_the_replica_is_synced(pool: Path, minilm: Embedder) -> None:
    store = reading_store(pool, minilm)
    store.sync_replica()
    target = store.list_memories(limit=1)[0]
    query = SearchArgs(query=f"{target.title}\n{target.description}", k=5, json=True)
    before = answer(store, query)
    assert target.id in before.stdout

    store.reject(target.id, "not here")
    assert lean(pool) is None, "the table moved on: the replica is not trusted"
    assert lean(pool, search=False) is None

    assert store.sync_replica() is True
    replica = lean(pool)
    assert replica is not None
    with replica:
        after = answer(replica, query)
        assert target.id not in after.stdout
        assert after == answer(store, query)
        shown = json.loads(answer(replica, ShowArgs(id=target.id, json=True)).stdout)
        assert shown["status"] == "rejected"
        assert shown["reject_reason"] == "not here"

    store.forget(target.id)
    added = store.add(MemoryDraft(kind=Kind.INSIGHT, title="Pin the toolchain in CI", languages=("rust",)))
    store.sync_replica()
    replica = lean(pool)
    assert replica is not None
    with replica:
        listed = answer(replica, ListArgs(json=True)).stdout
        assert added.id in listed
        assert target.id not in listed
        assert answer(replica, ShowArgs(id=target.id)).code == 1


def test_the_version_read_from_disk_is_the_tables(pool: Path, minilm: Embedder) -> None:
    store = reading_store(pool, minilm)
    for index in range(3):
        assert table_version_on_disk(pool / "pool") == store._memories.version
        store.add(MemoryDraft(kind=Kind.INSIGHT, title=f"Check the lockfile in, step {index}"))
    store.refresh()
    assert table_version_on_disk(pool / "pool") == store._memories.version
    assert table_version_on_disk(pool / "missing") is None
    versions = pool / "pool" / "memories.lance" / "_versions"
    (versions / "strange.manifest").write_text("")
    assert table_version_on_disk(pool / "pool") is None, "an unknown name is not guessed around"


def test_a_damaged_replica_or_a_missing_vector_is_not_used(pool: Path, minilm: Embedder) -> None:
    store = reading_store(pool, minilm)
    store.sync_replica()
    expected = answer(store, REQUESTS[0])
    directory = pool / "pool" / MIRROR_DIR

    for name in os.listdir(directory):
        if name.startswith("seg-"):
            (directory / name).unlink()
    assert lean(pool) is None, "no vectors: no lean search"
    replica = lean(pool, search=False)
    assert replica is not None, "show and list need no vectors"
    replica.close()
    fresh = reading_store(pool, minilm)
    assert answer(fresh, REQUESTS[0]) == expected, "the pool rebuilt its mirror from the table"
    replica = lean(pool)
    assert replica is not None
    replica.close()

    (directory / REPLICA_FILE).write_bytes(b"not a database" * 100)
    for suffix in ("-wal", "-shm"):
        Path(f"{directory / REPLICA_FILE}{suffix}").unlink(missing_ok=True)
    assert lean(pool, search=False) is None
    assert fresh.sync_replica() is True, "a damaged replica is made again"
    replica = lean(pool)
    assert replica is not None
    with replica:
        assert answer(replica, REQUESTS[0]) == expected
    for path in directory.iterdir():
        assert path.stat().st_mode & 0o077 == 0, f"{path.name} is private to the user"


def test_a_changed_pool_file_is_not_answered_from_the_replica(pool: Path, minilm: Embedder) -> None:
    store = reading_store(pool, minilm)
    store.sync_replica()
    meta = pool / "pool" / "pool.json"
    original = meta.read_text()
    meta.write_text(original.replace('"dimension": 384', '"dimension": 385'))
    assert lean(pool, search=False) is None
    meta.write_text(original)
    replica = lean(pool)
    assert replica is not None
    replica.close()


class OlderSource:
    """The table as a process that checked it out before the newest write would read it."""

    def __init__(self, version: int, rows: Sequence[dict[str, Any]]) -> None:
        self._version = version
        self._rows = list(rows)

    def version(self) -> int:
        return self._version

    def stamps(self) -> list[dict[str, Any]]:
        return self._rows

    def rows(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        wanted = set(ids)
        return [row for row in self._rows if row["id"] in wanted]


def test_an_older_version_never_overwrites_a_newer_replica(pool: Path, minilm: Embedder) -> None:
    store = reading_store(pool, minilm)
    store.sync_replica()
    newest = store._memories.version
    replica = Replica(pool / "pool")
    assert not replica.sync(OlderSource(newest - 1, []), embedder=store.meta.embedder, dimension=384)
    current = lean(pool, search=False)
    assert current is not None
    with current:
        assert current.list_memories(), "the newer rows are still there"


def test_the_command_line_reads_without_lancedb_once_the_replica_is_in_step(pool: Path) -> None:
    program = (
        "import sys\n"
        "from carryover.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "print('LANCEDB' if 'lancedb' in sys.modules else 'LEAN', code)\n"
    )
    env = {**os.environ, "CARRYOVER_HOME": str(pool / "home")}
    (pool / "pool" / MIRROR_DIR / REPLICA_FILE).unlink(missing_ok=True)

    def run(*args: str) -> tuple[str, str]:
        command = [sys.executable, "-c", program, "--db", str(pool / "pool"), "--no-daemon", *args]
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=True)
        body, _, last = result.stdout.rstrip("\n").rpartition("\n")
        return body, last

    search = ("search", "TypeError: 'NoneType' object is not subscriptable", "--language", "python", "--json")
    first, how = run(*search)
    assert how == "LANCEDB 0", "no replica yet: the pool is opened (and the replica made)"
    again, how = run(*search)
    assert how == "LEAN 0"
    assert again == first
    listed, how = run("list", "--json")
    assert how == "LEAN 0"
    assert len(json.loads(listed)) > 10
    _, how = run("pin", json.loads(listed)[-1]["id"])
    assert how == "LANCEDB 0"
    shown, how = run("show", json.loads(listed)[-1]["id"], "--json")
    assert how == "LEAN 0", "a write command brings the replica up to date itself"
    assert json.loads(shown)["status"] == "pinned"


def test_a_daemon_leaves_the_replica_in_step_when_it_stops(pool: Path, minilm: Embedder) -> None:
    from benchmarks.startup import start_daemon

    store = reading_store(pool, minilm)
    store.sync_replica()
    workspace = pool / "ws"
    workspace.mkdir()
    client, _, _ = start_daemon(pool / "pool", workspace)
    try:
        target = store.list_memories(limit=1)[0]
        store.reject(target.id, "seen while the daemon ran")
        assert lean(pool, search=False) is None
    finally:
        client.close()
    replica = lean(pool)
    assert replica is not None, "the stopping daemon brought the replica up to date"
    with replica:
        assert replica.get_required(target.id).reject_reason == "seen while the daemon ran"


def test_a_forgotten_memory_leaves_no_text_in_the_replica_files(pool: Path, minilm: Embedder) -> None:
    store = reading_store(pool, minilm)
    marker = "zq-unforgettable-marker-7731"
    added = store.add(MemoryDraft(kind=Kind.INSIGHT, title=f"Rotate the key {marker}", content=marker * 20))
    store.sync_replica()
    directory = pool / "pool" / MIRROR_DIR

    def on_disk() -> bool:
        return any(marker.encode() in path.read_bytes() for path in directory.glob(f"{REPLICA_FILE}*"))

    assert on_disk(), "the replica holds the memory while it exists"
    store.forget(added.id)
    store.sync_replica()
    assert not on_disk(), "forgotten: not in the replica's file nor its log"
