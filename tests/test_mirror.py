"""The vector mirror: the same answers as an exact LanceDB search, in step with every write (this
process's and another's), and never trusted when its files are damaged or out of date."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from carryover.pool.embedding.base import Embedder
from carryover.pool.importer import import_file
from carryover.pool.mirror import MANIFEST, MIRROR_DIR, VectorMirror
from carryover.pool.records import Kind, MemoryDraft, Provenance, Status
from carryover.pool.store import MemoryStore
from tests.support.pools import EVAL_POOL, ROOT, copy_of, pool_config, reading_store

QUERIES = (
    "TypeError: 'NoneType' object is not subscriptable",
    "the build broke after upgrading a dependency",
    "flaky test that fails only on CI",
    "git push rejected, non-fast-forward",
    "SQL query is slow on a large table",
)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, minilm: Embedder) -> Path:
    """A pool of the evaluation memories, written once; tests copy it."""
    base = tmp_path_factory.mktemp("seeded")
    import_file(MemoryStore(pool_config(base), minilm), EVAL_POOL)
    return base


@pytest.fixture
def pool(seeded: Path, tmp_path: Path) -> Path:
    return copy_of(seeded, tmp_path)


def exact_lance(store: MemoryStore, vector: np.ndarray, limit: int) -> list[tuple[str, float]]:
    """LanceDB's own exhaustive search (no index on these pools), retrievable memories only."""
    table = (
        store._memories.search(vector.tolist(), vector_column_name="vector")
        .distance_type("cosine")
        .where("status IN ('active', 'pinned')", prefilter=True)
        .select(["id", "_distance"])
        .limit(limit)
        .to_arrow()
    )
    return [(row["id"], 1.0 - row["_distance"]) for row in table.to_pylist()]


def mirror_ids(store: MemoryStore, text: str, limit: int = 10, **filters: object) -> list[str]:
    found = store.candidates(store.embed_query([text]), limit=limit, **filters)  # type: ignore[arg-type]
    return [memory.id for memory, _ in found]


def test_candidates_equal_an_exact_lancedb_search(pool: Path, minilm: Embedder) -> None:
    store = reading_store(pool, minilm)
    store.reject(store.list_memories(kind=Kind.INSIGHT)[0].id)
    for text in QUERIES:
        vector = store.embed_query([text])[0]
        expected = exact_lance(store, vector, 10)
        found = store.candidates(vector[None, :], limit=10)
        assert [memory.id for memory, _ in found] == [memory_id for memory_id, _ in expected]
        for (_, similarity), (_, expected_similarity) in zip(found, expected, strict=True):
            assert similarity.shape == (1,)
            assert float(similarity[0]) == pytest.approx(expected_similarity, abs=1e-4)


def test_two_query_vectors_score_every_candidate_on_both(pool: Path, minilm: Embedder) -> None:
    store = reading_store(pool, minilm)
    vectors = store.embed_query(QUERIES[:2])
    found = store.candidates(vectors, limit=8)
    best = [float(np.max(similarities)) for _, similarities in found]
    assert best == sorted(best, reverse=True)
    union = {memory_id for vector in vectors for memory_id, _ in exact_lance(store, vector, 8)}
    assert {memory.id for memory, _ in found} <= union
    for memory, similarities in found:
        row = store._memories.search().where(f"id = '{memory.id}'").select(["vector"]).to_arrow()
        stored = np.asarray(row["vector"][0].as_py())
        assert similarities == pytest.approx(vectors @ stored, abs=1e-5)


def test_filters_kinds_and_workspace(pool: Path, minilm: Embedder) -> None:
    store = reading_store(pool, minilm)
    found = store.candidates(store.embed_query([QUERIES[0]]), kinds=(Kind.WORKFLOW,), limit=50)
    assert found and all(memory.kind is Kind.WORKFLOW for memory, _ in found)
    draft = MemoryDraft(
        kind="insight",
        title="Handle absence where the value is produced",
        description="Scoped to one project only.",
        scope="project",
        provenance=Provenance(workspace="/home/me/a"),
    )
    memory_id = store.add(draft).id
    assert memory_id in mirror_ids(store, draft.title, workspace="/home/me/a")
    assert memory_id not in mirror_ids(store, draft.title, workspace="/home/me/b")
    assert memory_id in mirror_ids(store, draft.title)


def test_mirror_follows_adds_pins_rejects_restores_and_forgets(pool: Path, minilm: Embedder) -> None:
    store = reading_store(pool, minilm)
    draft = MemoryDraft(kind="insight", title="Rotate the signing key before the certificate expires")
    memory_id = store.add(draft).id
    assert mirror_ids(store, draft.title)[0] == memory_id
    assert store.pin(memory_id).status is Status.PINNED
    first = store.candidates(store.embed_query([draft.title]), limit=1)[0][0]
    assert (first.id, first.status) == (memory_id, Status.PINNED)
    store.reject(memory_id)
    assert memory_id not in mirror_ids(store, draft.title, limit=50)
    store.restore(memory_id)
    assert mirror_ids(store, draft.title)[0] == memory_id
    store.record_feedback(memory_id, helpful=True)
    assert store.candidates(store.embed_query([draft.title]), limit=1)[0][0].helpful == 1
    assert store.forget(memory_id)
    assert memory_id not in mirror_ids(store, draft.title, limit=50)


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from carryover.pool.embedding.minilm import MiniLMEmbedder
    from carryover.pool.records import MemoryDraft
    from carryover.pool.store import MemoryStore
    from tests.support.pools import pool_config

    store = MemoryStore(pool_config(Path(sys.argv[1])), MiniLMEmbedder())
    added = store.add(MemoryDraft(kind="insight", title=sys.argv[2])).id
    store.reject(sys.argv[3])
    print(added)
    """
)


def test_mirror_follows_another_processs_writes(pool: Path, minilm: Embedder) -> None:
    store = reading_store(pool, minilm)
    victim = mirror_ids(store, QUERIES[1])[0]
    version = store._memories.version
    title = "Drain the queue before scaling the workers down"
    result = subprocess.run(
        [sys.executable, "-c", WRITER, str(pool), title, victim],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    added = result.stdout.split()[-1]
    found = mirror_ids(store, title)
    assert store._memories.version > version
    assert found[0] == added
    assert victim not in mirror_ids(store, QUERIES[1], limit=50)


def test_the_mirror_files_are_reused_and_a_damaged_one_is_rebuilt(pool: Path, minilm: Embedder) -> None:
    store = reading_store(pool, minilm)
    expected = {text: mirror_ids(store, text) for text in QUERIES}
    directory = pool / "pool" / MIRROR_DIR
    manifest = json.loads((directory / MANIFEST).read_text())
    assert manifest["segments"], "the mirror was written to disk"
    for path in directory.iterdir():
        assert path.stat().st_mode & 0o077 == 0, f"{path.name} is private to the user"

    reopened = reading_store(pool, minilm)
    assert {text: mirror_ids(reopened, text) for text in QUERIES} == expected
    assert reopened._mirror is not None
    assert reopened._mirror.rebuilds == 0

    segment = directory / f"{manifest['segments'][0]['name']}.npy"
    data = bytearray(segment.read_bytes())
    data[-4 * 384 :] = np.ones(384, dtype=np.float32).tobytes()  # a wrong vector, same shape
    segment.write_bytes(bytes(data))
    damaged = reading_store(pool, minilm)
    assert {text: mirror_ids(damaged, text) for text in QUERIES} == expected
    assert damaged._mirror is not None
    assert damaged._mirror.rebuilds == 1

    (directory / MANIFEST).write_text("{not json")
    again = reading_store(pool, minilm)
    assert {text: mirror_ids(again, text) for text in QUERIES} == expected
    assert again._mirror is not None
    assert again._mirror.rebuilds == 1


def test_a_stale_mirror_is_brought_up_to_date_not_trusted(pool: Path, minilm: Embedder) -> None:
    import shutil

    store = reading_store(pool, minilm)
    mirror_ids(store, QUERIES[0])
    directory = pool / "pool" / MIRROR_DIR
    shutil.copytree(directory, pool / "old-mirror")
    victim = mirror_ids(store, QUERIES[0])[0]
    store.forget(victim)
    added = store.add(MemoryDraft(kind="summary", title="Pin the base image digest in the Dockerfile")).id
    shutil.rmtree(directory)
    shutil.copytree(pool / "old-mirror", directory)  # files from before the forget and the add

    reopened = reading_store(pool, minilm)
    assert victim not in mirror_ids(reopened, QUERIES[0], limit=50)
    assert mirror_ids(reopened, "Pin the base image digest in the Dockerfile")[0] == added
    vector = reopened.embed_query([QUERIES[3]])[0]
    expected = [memory_id for memory_id, _ in exact_lance(reopened, vector, 10)]
    assert mirror_ids(reopened, QUERIES[3]) == expected


def test_ann_candidates_rescored_from_the_mirror_match_exact_search(pool: Path, minilm: Embedder) -> None:
    store = reading_store(pool, minilm)
    store.maintain(force=True)  # builds the ANN index however small the pool
    mirror = store._synced_mirror()
    assert mirror.has_index
    for text in QUERIES:
        queries = store.embed_query([text, QUERIES[0]])
        passing = mirror.mask(statuses=("active", "pinned"))
        exact_rows, exact_sims = mirror.search(store._memories, queries, passing, 5, ann=False)
        ann_rows, ann_sims = mirror.search(store._memories, queries, passing, 5, ann=True)
        assert list(ann_rows) == list(exact_rows)
        assert ann_sims == pytest.approx(exact_sims, abs=1e-6)


def test_import_dedup_merges_duplicates_within_and_across_batches(tmp_path: Path, minilm: Embedder) -> None:
    store = reading_store(tmp_path, minilm)
    lines = [line for line in EVAL_POOL.read_text().splitlines() if line.strip()][:40]
    first = tmp_path / "first.jsonl"
    first.write_text("\n".join(lines) + "\n")
    report = import_file(store, first, batch_size=16)
    assert (report.added, report.merged) == (40, 0)

    # The same memories again, without their ids and with the title's case changed: nothing new.
    again = []
    for line in lines[:20]:
        raw = json.loads(line)
        raw.pop("id")
        raw["title"] = raw["title"].upper()
        again.append(json.dumps(raw))
    second = tmp_path / "second.jsonl"
    second.write_text("\n".join(again + again[:5]) + "\n")
    report = import_file(store, second, batch_size=8)
    assert (report.added, report.merged) == (0, 25)
    assert store.count() == 40
    ids = {json.loads(line)["id"] for line in lines[:20]}
    assert set(report.ids) == ids


def test_an_empty_mirror_of_a_new_pool(tmp_path: Path, minilm: Embedder) -> None:
    store = reading_store(tmp_path, minilm)
    assert store.candidates(store.embed_query(["anything"]), limit=5) == []
    mirror = VectorMirror(None, minilm.name, minilm.dimension)
    assert mirror.rows == 0 and not mirror.persist()


class _WriteBeforeVectors:
    """The table, with a write landing through it between the mirror's scan and its vector read (a
    pin or feedback from the daemon's other thread, as seen in the editor tests)."""

    def __init__(self, table: object, write: object) -> None:
        self._table = table
        self._write = write
        self.scans = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._table, name)

    def search(self, *args: object, **kwargs: object) -> object:
        self.scans += 1
        if self.scans == 2:
            self._fire()
        return self._table.search(*args, **kwargs)  # type: ignore[attr-defined]

    def take_row_ids(self, *args: object, **kwargs: object) -> object:
        self._fire()
        return self._table.take_row_ids(*args, **kwargs)  # type: ignore[attr-defined]

    def _fire(self) -> None:
        write, self._write = self._write, None
        if callable(write):
            write()


def test_a_write_between_the_scan_and_the_vector_read_is_read_again(
    pool: Path, minilm: Embedder, tmp_path: Path
) -> None:
    store = reading_store(pool, minilm)
    victim, kept = mirror_ids(store, QUERIES[0], limit=2)
    table = _WriteBeforeVectors(store._memories, lambda: store.forget(victim))
    mirror = VectorMirror(tmp_path / "fresh-mirror", store.meta.embedder, store.meta.dimension)

    assert mirror.sync(table)

    assert table.scans >= 3  # the first scan's rows moved: it scanned again
    assert mirror.row_of(victim) is None
    row = mirror.row_of(kept)
    assert row is not None
    assert mirror.version == store._memories.version
    vector = store._memories.search().where(f"id = '{kept}'").select(["vector"]).to_arrow()["vector"][0]
    assert np.array_equal(
        mirror.matrix_rows(np.asarray([row]))[0], np.asarray(vector.as_py(), dtype=np.float32)
    )
