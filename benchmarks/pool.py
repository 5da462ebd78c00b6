"""Benchmark the memory pool at 1k, 10k and 100k memories: writes, maintain, search, recall, RSS.

    .venv/bin/python -m benchmarks.pool [--sizes 1000,10000,100000] [--queries 200] \\
        [--out benchmarks/results/pool.md]

Memory texts and query texts come from benchmarks/pool_text.py (templates + vocabularies of real
developer situations, seeded). Their vectors are computed once with the default embedder
(all-MiniLM-L6-v2 in numpy) and cached in benchmarks/.cache/ keyed by sha256(model, text); later runs
look them up. Writes are timed through ``MemoryStore.add_many`` with an embedder that hands back those
cached vectors of the real model (so write throughput excludes embedding; the embedding rate is
measured and reported separately, and write throughput with embedding is derived from both).

Each pool is built in a fresh directory. Searches run in a fresh child process per pool, so RSS and
the query-embedding cache are honest: a cold pass (every query new to the store's cache), a warm pass
(the same queries again), the query embedding alone, LanceDB's query alone and the conversion of its
rows, and an exact numpy top-5 floor over the same vectors, against which the store's top-5 recall is
computed with a pure-cosine ranking (all kind weights 1, no pin or feedback bonus). For pools of at
least ``index_min_rows`` the search is measured before and after ``maintain()`` (which builds the ANN
index), and after it for several ``refine_factor`` values.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import attrs
import numpy as np
import numpy.typing as npt

from benchmarks.pool_text import generate_drafts, generate_queries
from carryover.pool.config import StoreConfig, load_config
from carryover.pool.embedding.base import Embedder
from carryover.pool.records import MemoryDraft, SearchQuery

REPO = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent

CACHE_DIR = BENCH / ".cache"
DRAFT_SEED = 7
EXTRA_SEED = 8  # drafts for the single add() samples, new to every pool
QUERY_SEED = 1
REFINE_FACTORS: tuple[int | None, ...] = (None, 1, 4, 10)
ADD_SAMPLES = 20
EMBED_SAMPLE = 500
EMBED_CHUNK = 2000
AIM_P95_MS = 20.0
AIM_RECALL = 0.95
Matrix = npt.NDArray[np.float32]
T = TypeVar("T")


# ------------------------------------------------------------------------------------- measuring


def current_rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as handle:
        resident_pages = int(handle.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def max_rss_mb() -> float:
    """Peak RSS of this process image. getrusage's ru_maxrss survives exec, so in a child started by
    subprocess it reports the parent's size at fork; /proc/self/status VmHWM starts afresh at exec."""
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def percentiles(samples_s: Sequence[float], points: Sequence[float] = (50, 95, 99)) -> list[float]:
    """Percentiles of durations given in seconds, in milliseconds."""
    if not samples_s:
        return [float("nan")] * len(points)
    values = np.percentile(np.asarray(samples_s) * 1000.0, list(points))
    return [float(v) for v in values]


def timed(function: Callable[..., T], *args: Any) -> tuple[T, float]:
    """``function(*args)`` and the seconds it took."""
    started = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - started


def dir_size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


# ------------------------------------------------------------------------------------ vectors


class VectorCache:
    """Vectors by sha256(model name, text), kept in two .npy files (digests and float32 rows).

    Several benchmark processes may share the cache: ``save`` holds a lock file, merges in what
    another process saved meanwhile, and replaces both files atomically.
    """

    def __init__(self, directory: Path, model: str, dimension: int) -> None:
        slug = hashlib.sha256(model.encode("utf-8")).hexdigest()[:12]
        self.model = model
        self.dimension = dimension
        self.digests_path = directory / f"minilm-{slug}.digests.npy"
        self.vectors_path = directory / f"minilm-{slug}.vectors.npy"
        self._lock_path = directory / f"minilm-{slug}.lock"
        self._rows: dict[bytes, int] = {}
        self._chunks: list[Matrix] = [np.zeros((0, dimension), dtype=np.float32)]
        self._digests: list[bytes] = []
        with self._locked(shared=True):
            self._merge(*self._read_disk())

    @contextlib.contextmanager
    def _locked(self, shared: bool = False) -> Iterator[None]:
        import fcntl

        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a", encoding="ascii") as lock:
            fcntl.flock(lock, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            yield

    def _read_disk(self) -> tuple[list[bytes], Matrix]:
        empty = np.zeros((0, self.dimension), dtype=np.float32)
        if not (self.digests_path.exists() and self.vectors_path.exists()):
            return [], empty
        # numpy's S32 drops trailing NUL bytes on the way back: pad them again.
        digests = [bytes(d).ljust(32, b"\0") for d in np.load(self.digests_path)]
        vectors = np.load(self.vectors_path).astype(np.float32, copy=False)
        if vectors.shape != (len(digests), self.dimension):
            return [], empty
        return digests, vectors

    def _merge(self, digests: Sequence[bytes], vectors: Matrix) -> None:
        """Add the rows whose digest is not known yet (the first of duplicates wins)."""
        kept: list[int] = []
        for i, digest in enumerate(digests):
            if digest not in self._rows:
                self._rows[digest] = len(self._digests)
                self._digests.append(digest)
                kept.append(i)
        if kept:
            self._chunks.append(np.asarray(vectors[kept], dtype=np.float32))

    def digest(self, text: str) -> bytes:
        return hashlib.sha256(f"{self.model}\x1f{text}".encode()).digest()

    def __len__(self) -> int:
        return len(self._digests)

    def _matrix(self) -> Matrix:
        if len(self._chunks) > 1:
            self._chunks = [np.vstack(self._chunks)]
        return self._chunks[0]

    def lookup(self, texts: Sequence[str]) -> tuple[dict[str, Matrix], list[str]]:
        """The cached vector of each text that has one, and the texts that have none."""
        matrix = self._matrix()
        found: dict[str, Matrix] = {}
        missing: list[str] = []
        for text in texts:
            row = self._rows.get(self.digest(text))
            if row is None:
                missing.append(text)
            else:
                found[text] = matrix[row]
        return found, missing

    def add(self, texts: Sequence[str], vectors: Matrix) -> None:
        self._merge([self.digest(text) for text in texts], np.asarray(vectors, dtype=np.float32))

    def save(self) -> None:
        with self._locked():
            self._merge(*self._read_disk())
            digests = np.array(self._digests, dtype="S32")
            for path, array in ((self.digests_path, digests), (self.vectors_path, self._matrix())):
                temporary = path.with_suffix(".tmp.npy")
                np.save(temporary, array)
                os.replace(temporary, path)


class PrecomputedEmbedder:
    """The real model's vectors: looked up for texts embedded earlier (exact text), computed otherwise."""

    def __init__(self, inner: Embedder, known: dict[str, Matrix]) -> None:
        self._inner = inner
        self._known = known

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    def embed(self, texts: Sequence[str]) -> Matrix:
        result = np.empty((len(texts), self.dimension), dtype=np.float32)
        missing = [i for i, text in enumerate(texts) if text not in self._known]
        for i, text in enumerate(texts):
            vector = self._known.get(text)
            if vector is not None:
                result[i] = vector
        if missing:
            result[missing] = self._inner.embed([texts[i] for i in missing])
        return result


@dataclass
class EmbedStats:
    texts: int
    mean_tokens: float
    embedded_now: int
    embed_now_s: float
    sample_texts: int
    sample_rate: float  # texts/s on a fresh sample this run


def embed_with_cache(
    embedder: Embedder, cache: VectorCache, keys: Sequence[str]
) -> tuple[dict[str, Matrix], float]:
    """Vectors for all ``keys``: cached ones looked up, the rest embedded in chunks (saved as it goes).
    Returns the vectors by text and the seconds spent embedding."""
    _, missing = cache.lookup(keys)
    missing = list(dict.fromkeys(missing))
    spent = 0.0
    for start in range(0, len(missing), EMBED_CHUNK):
        chunk = missing[start : start + EMBED_CHUNK]
        vectors, seconds = timed(embedder.embed, chunk)
        spent += seconds
        cache.add(chunk, vectors)
        cache.save()
    found, still_missing = cache.lookup(keys)
    if still_missing:
        raise RuntimeError(f"{len(still_missing)} texts have no vector after embedding")
    return found, spent


def mean_tokens(embedder: Any, texts: Sequence[str]) -> float:
    tokenizer = getattr(embedder, "_tokenizer", None)
    if tokenizer is None:
        return float("nan")
    sample = list(texts[:2000])
    return float(np.mean([len(encoding.ids) for encoding in tokenizer.encode_batch(sample)]))


# ------------------------------------------------------------------------------------- building


def pool_config(root: Path, **overrides: Any) -> StoreConfig:
    """A pool in ``root``/pool that ignores the user's CARRYOVER_HOME and config file (as the tests do)."""
    config = load_config(db=root / "pool", environ={"CARRYOVER_HOME": str(root / "home")})
    return attrs.evolve(config, **overrides) if overrides else config


def pure_cosine(config: StoreConfig) -> StoreConfig:
    """Ranking by cosine alone: every kind weighted 1, no pin bonus, no feedback."""
    ranking = attrs.evolve(
        config.ranking,
        insight_weight=1.0,
        summary_weight=1.0,
        workflow_weight=1.0,
        trajectory_weight=1.0,
        pinned_bonus=0.0,
        feedback_scale=0.0,
    )
    return attrs.evolve(config, ranking=ranking)


class PhaseClock:
    """Accumulates the time spent in chosen methods of one object (by wrapping them on the instance)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._wrapped: list[tuple[Any, str, bool, Any]] = []

    def wrap(self, owner: Any, method: str, label: str) -> None:
        original = getattr(owner, method)
        self._wrapped.append((owner, method, method in vars(owner), vars(owner).get(method)))

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - started
                self.calls[label] += 1

        setattr(owner, method, wrapper)

    def snapshot(self) -> dict[str, float]:
        return dict(self.seconds)

    def unwrap_all(self) -> None:
        """Put back what was there before (an instance attribute wrapper is simply removed)."""
        for owner, method, had_own, previous in reversed(self._wrapped):
            if had_own:
                setattr(owner, method, previous)
            else:
                delattr(owner, method)
        self._wrapped.clear()


WRITE_PHASES = (
    ("_refresh", "checkout_latest"),
    ("_synced_mirror", "mirror in step (_synced_mirror)"),
    ("_vectors_for_dedup", "dedup against the mirror (_vectors_for_dedup)"),
    ("_merge_targets", "all dedup decisions (_merge_targets)"),
    ("_stored_rows", "read merge bases (_stored_rows)"),
    ("_upsert", "merge_insert (_upsert)"),
)


@dataclass
class BuildStats:
    size: int
    added: int = 0
    merged: int = 0
    write_s: float = 0.0
    batches: int = 0
    phases: dict[str, float] = field(default_factory=dict)
    first_batch: dict[str, float] = field(default_factory=dict)
    last_batch: dict[str, float] = field(default_factory=dict)
    maintain_s: float = 0.0
    maintain_said: str = ""
    compact_s: float = 0.0
    compact_said: str = ""
    add_p50_ms: float = 0.0
    add_embed_p50_ms: float = 0.0
    add_kinds: str = ""
    disk_mb: float = 0.0
    dedup_read: dict[str, float] = field(default_factory=dict)


def build_pool(store: Any, drafts: Sequence[MemoryDraft], batch_size: int, stats: BuildStats) -> None:
    """Write ``drafts`` through ``store.add_many`` in batches, timing each batch and its phases."""
    import carryover.pool.store as store_module

    clock = PhaseClock()
    for method, label in WRITE_PHASES:
        clock.wrap(store, method, label)
    clock.wrap(store._raw_embedder, "embed", "embedder (cached vectors)")
    clock.wrap(store_module, "redact_draft", "redaction (redact_draft)")
    for start in range(0, len(drafts), batch_size):
        before = clock.snapshot()
        results, seconds = timed(store.add_many, drafts[start : start + batch_size])
        stats.write_s += seconds
        stats.batches += 1
        for result in results:
            if result.action == "added":
                stats.added += 1
            else:
                stats.merged += 1
        phases = {k: v - before.get(k, 0.0) for k, v in clock.snapshot().items()}
        phases["batch total"] = seconds
        if stats.batches == 1:
            stats.first_batch = phases
        stats.last_batch = phases
    stats.phases = {**clock.snapshot(), "total": stats.write_s}
    clock.unwrap_all()  # later calls (the add() samples) are timed as a whole


def _labels(table: Any) -> Any:
    kinds = np.asarray(table.column("kind").to_numpy(zero_copy_only=False), dtype=str)
    outcomes = np.asarray(table.column("outcome").to_numpy(zero_copy_only=False), dtype=str)
    return np.char.add(np.char.add(kinds, "/"), outcomes)


def anatomy_of_dedup(store: Any, batch_size: int) -> dict[str, float]:
    """The dedup work of one ``add_many`` batch over every kind, step by step, with the calls
    memory_store/store.py makes at the time of writing (read, labels, one matrix product per batch)."""
    from lancedb.expr import col, lit

    from carryover.pool.records import Kind

    out: dict[str, float] = {}
    kinds = sorted(kind.value for kind in Kind)
    query = (
        store._memories.search()
        .where(col("kind").isin([lit(kind) for kind in kinds]))
        .select(["id", "kind", "outcome", "vector"])
        .limit(None)
    )
    table, out["to_arrow (id, kind, outcome, vector)"] = timed(query.to_arrow)
    _, out["id column to_pylist"] = timed(table.column("id").to_pylist)
    dimension = store.meta.dimension
    matrix, out["vector column to numpy"] = timed(
        lambda: np.asarray(table.column("vector").combine_chunks().flatten(), dtype=np.float32).reshape(
            table.num_rows, dimension
        )
    )
    _, out["kind/outcome labels"] = timed(_labels, table)
    batch = np.ascontiguousarray(matrix[:batch_size])
    _, out[f"similarity product (pool x {len(batch)} drafts)"] = timed(np.matmul, matrix, batch.T)
    out["rows"] = float(table.num_rows)
    return out


def single_adds(store: Any, drafts: Sequence[MemoryDraft], embedder: Embedder, stats: BuildStats) -> None:
    """``add()`` latency of drafts new to the pool (embedding by the real model included), then the
    embedding of the same keys alone."""
    from carryover.pool.store import embedding_key, redact_draft

    add_times = [timed(store.add, draft)[1] for draft in drafts]
    keys = [embedding_key(redact_draft(d), store.meta.embed_key) for d in drafts]
    embed_times = [timed(embedder.embed, [key])[1] for key in keys]
    stats.add_p50_ms = percentiles(add_times, (50,))[0]
    stats.add_embed_p50_ms = percentiles(embed_times, (50,))[0]
    counts: dict[str, int] = defaultdict(int)
    for draft in drafts:
        counts[draft.kind.value] += 1
    stats.add_kinds = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))


# ------------------------------------------------------------------------------ searching (child)


def measure_search(spec: dict[str, Any]) -> dict[str, Any]:
    """Run in a fresh process: open the pool, time searches, compute recall against exact cosine."""
    from carryover.pool.embedding.minilm import MiniLMEmbedder
    from carryover.pool.store import MemoryStore

    queries: list[str] = spec["queries"]
    embedder = MiniLMEmbedder().load()
    embedder.embed(["load the kernels once"])
    out: dict[str, Any] = {"label": spec["label"], "rss_base_mb": current_rss_mb()}
    config = pure_cosine(pool_config(Path(spec["root"])))
    store, out["open_ms"] = timed(MemoryStore, config, embedder)
    out["open_ms"] *= 1000
    index = store.vector_index()
    out["index"] = f"{index.index_type}" if index is not None else "none (exact)"
    out["rows"] = store.count()
    table_stats: Any = store._memories.stats()
    out["fragments"] = int(table_stats["fragment_stats"]["num_fragments"])
    _, first = timed(store.search, SearchQuery(text="first search after opening the pool", k=5))
    out["first_search_ms"] = first * 1000

    def run_pass(target: Any) -> tuple[list[float], list[list[str]]]:
        times: list[float] = []
        ids: list[list[str]] = []
        for text in queries:
            hits, seconds = timed(target.search, SearchQuery(text=text, k=5))
            times.append(seconds)
            ids.append([hit.memory.id for hit in hits])
        return times, ids

    cold, cold_ids = run_pass(store)
    warm, _ = run_pass(store)
    out["cold_ms"] = percentiles(cold)
    out["warm_ms"] = percentiles(warm)
    out["rss_loaded_mb"] = current_rss_mb()
    out["rss_max_mb"] = max_rss_mb()
    vectors = np.empty((len(queries), embedder.dimension), dtype=np.float32)
    embed_times: list[float] = []
    for i, text in enumerate(queries):
        vector, seconds = timed(embedder.embed, [text])
        vectors[i] = vector[0]
        embed_times.append(seconds)
    out["embed_ms"] = percentiles(embed_times)
    out.update(lance_anatomy(store, vectors, queries))
    exact_ids, floor_times = exact_top5(store, vectors)
    out["floor_ms"] = percentiles(floor_times)
    out["recall"] = recall_at_5(cold_ids, exact_ids)
    out["refine"] = []
    for factor in spec["refine_factors"]:
        variant = MemoryStore(attrs.evolve(config, refine_factor=factor), embedder)
        variant.embedder.embed(queries)  # fill its query cache: this pass times search alone
        times, ids = run_pass(variant)
        out["refine"].append(
            {"factor": factor, "warm_ms": percentiles(times), "recall": recall_at_5(ids, exact_ids)}
        )
    return out


def lance_anatomy(store: Any, vectors: Matrix, queries: Sequence[str]) -> dict[str, Any]:
    """The store's LanceDB query alone, then the conversion of its rows (to_pylist, Memory, rank)."""
    from lancedb.expr import col, lit

    from carryover.pool.ranking import rank
    from carryover.pool.schema import MemoryFields
    from carryover.pool.store import row_to_memory

    columns = [name for name in MemoryFields.model_fields if name != "embedding_key"]
    condition = col("status") != lit("rejected")
    candidates = store.config.ranking.candidates
    query_times: list[float] = []
    pylist_times: list[float] = []
    convert_times: list[float] = []
    for vector, text in zip(vectors, queries, strict=True):
        builder = (
            store._memories.search(vector.tolist(), vector_column_name="vector")
            .distance_type("cosine")
            .where(condition, prefilter=True)
            .select([*columns, "_distance"])
            .limit(candidates)
            .refine_factor(store.config.refine_factor)
        )
        table, seconds = timed(builder.to_arrow)
        query_times.append(seconds)
        rows, seconds = timed(table.to_pylist)
        pylist_times.append(seconds)
        query = SearchQuery(text=text, k=5)
        started = time.perf_counter()
        rank([(row_to_memory(r), 1.0 - float(r["_distance"])) for r in rows], query, store.config.ranking)
        seconds = time.perf_counter() - started
        convert_times.append(seconds)
    return {
        "lance_query_ms": percentiles(query_times),
        "to_pylist_ms": percentiles(pylist_times),
        "row_to_memory_rank_ms": percentiles(convert_times),
    }


def exact_top5(store: Any, vectors: Matrix) -> tuple[list[list[str]], list[float]]:
    """Exact cosine top-5 ids of each query over every vector of the pool, and the time of each
    (``matrix @ q`` + argpartition over a float32 matrix held in memory)."""
    table = store._memories.search().select(["id", "vector"]).limit(None).to_arrow()
    ids = table.column("id").to_pylist()
    matrix = np.asarray(table.column("vector").combine_chunks().flatten(), dtype=np.float32)
    matrix = np.ascontiguousarray(matrix.reshape(table.num_rows, vectors.shape[1]))
    top_ids: list[list[str]] = []
    times: list[float] = []
    for vector in vectors:
        started = time.perf_counter()
        scores = matrix @ vector
        top = np.argpartition(-scores, 5)[:5]
        top = top[np.argsort(-scores[top])]
        times.append(time.perf_counter() - started)
        top_ids.append([ids[i] for i in top])
    return top_ids, times


def recall_at_5(found: Sequence[Sequence[str]], exact: Sequence[Sequence[str]]) -> float:
    return float(np.mean([len(set(f[:5]) & set(e)) / 5 for f, e in zip(found, exact, strict=True)]))


def search_in_child(
    root: Path, label: str, queries: Sequence[str], refine: Sequence[int | None]
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="pool-bench-") as scratch:
        spec_path, out_path = Path(scratch) / "spec.json", Path(scratch) / "out.json"
        spec = {"root": str(root), "label": label, "queries": list(queries), "refine_factors": list(refine)}
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        command = [sys.executable, "-m", "benchmarks.pool", "--search-worker", str(spec_path), str(out_path)]
        subprocess.run(command, check=True, cwd=REPO)
        result: dict[str, Any] = json.loads(out_path.read_text(encoding="utf-8"))
        return result


# -------------------------------------------------------------------------------------- report


def fmt(values: Sequence[float], digits: int = 1) -> str:
    return " / ".join(f"{v:.{digits}f}" for v in values)


def report(run: dict[str, Any]) -> str:
    lines = [
        "# Memory pool benchmark",
        "",
        f"`{run['command']}` — {run['date']}, wall time {run['wall_s'] / 60:.1f} min.",
        f"Machine: {os.cpu_count()} cores, load average {run['load_start']} at start and {run['load_end']} "
        f"at the end (other jobs on the machine inflate every figure). lancedb {run['lancedb']}, numpy "
        f"{np.__version__}. Memories: seed {DRAFT_SEED}, queries: seed {QUERY_SEED} "
        f"({run['queries']} queries, editor-context-like: error lines, code lines, failing commands).",
        "",
        *embedding_section(run["embed"]),
        *build_section(run["builds"], run["embed"]),
        *search_section(run["searches"]),
        *refine_section(run["searches"]),
        *phase_section(run["builds"]),
        *aim_section(run["searches"]),
    ]
    return "\n".join(lines) + "\n"


def embedding_section(embed: dict[str, Any]) -> list[str]:
    lines = [
        "## Embedding (all-MiniLM-L6-v2 in numpy, the default embedder)",
        "",
        f"- {embed['texts']:,} memory texts (title + description, mean {embed['mean_tokens']:.0f} tokens).",
        f"- Fresh sample this run: {embed['sample_texts']} texts in one batch → "
        f"**{embed['sample_rate']:.1f} texts/s**.",
    ]
    if embed["embedded_now"]:
        rate = embed["embedded_now"] / embed["embed_now_s"]
        lines.append(
            f"- Embedded {embed['embedded_now']:,} texts not yet cached in "
            f"{embed['embed_now_s'] / 60:.1f} min "
            f"({rate:.1f} texts/s)."
        )
    else:
        lines.append("- Every memory vector came from benchmarks/.cache/ (embedded by an earlier run).")
    lines.append("")
    return lines


def build_section(builds: Sequence[dict[str, Any]], embed: dict[str, Any]) -> list[str]:
    rate = embed["sample_rate"]
    lines = [
        "## Writes (`add_many` in batches, dedup included)",
        "",
        "| pool | drafts | added | merged | write s | memories/s excl. embedding | incl. embedding* "
        "| last batch s | `maintain()` | single `add()` p50 ms (embed part) | disk MB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for b in builds:
        drafts = b["added"] + b["merged"]
        with_embed = drafts / (b["write_s"] + drafts / rate)
        lines.append(
            f"| {b['size']:,} | {drafts:,} | {b['added']:,} ({100 * b['added'] / drafts:.2f}%) "
            f"| {b['merged']:,} "
            f"| {b['write_s']:.1f} | {drafts / b['write_s']:.0f} | {with_embed:.1f} "
            f"| {b['last_batch'].get('batch total', 0.0):.2f} "
            f"| {b['maintain_said']} ({b['maintain_s']:.2f} s) "
            f"| {b['add_p50_ms']:.0f} ({b['add_embed_p50_ms']:.0f}) | {b['disk_mb']:.0f} |"
        )
    lines += [
        "",
        f"\\* derived: write time plus the drafts' embedding at the sample rate ({rate:.1f} texts/s). "
        f"Single `add()`: {ADD_SAMPLES} drafts new to the pool, after `maintain()`, real embedding included; "
        "the embedding of the same text alone in parentheses.",
        "",
    ]
    for b in builds:
        if b["compact_said"]:
            lines += [
                f"Then `maintain(force=True)` at {b['size']:,}: {b['compact_said']} "
                f"({b['compact_s']:.1f} s).",
                "",
            ]
    return lines


def search_section(searches: Sequence[dict[str, Any]]) -> list[str]:
    lines = [
        "## Search (`MemoryStore.search`, k=5, pure-cosine ranking), ms p50 / p95 / p99",
        "",
        "| pool, state | index, fragments | cold (query embedded) | warm (cached query vector) "
        "| query embedding alone "
        "| LanceDB query alone | `to_pylist` | row_to_memory + rank | numpy exact floor | recall@5 "
        "| RSS base → loaded / max MB | open ms / first search ms |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | ---: | --- | --- |",
    ]
    for s in searches:
        lines.append(
            f"| {s['rows']:,}, {s['label']} | {s['index']}, {s['fragments']} | {fmt(s['cold_ms'])} "
            f"| {fmt(s['warm_ms'])} "
            f"| {fmt(s['embed_ms'][:2])} "
            f"| {fmt(s['lance_query_ms'][:2])} | {fmt(s['to_pylist_ms'][:2], 2)} "
            f"| {fmt(s['row_to_memory_rank_ms'][:2], 2)} | {fmt(s['floor_ms'][:2], 2)} | {s['recall']:.3f} "
            f"| {s['rss_base_mb']:.0f} → {s['rss_loaded_mb']:.0f} / {s['rss_max_mb']:.0f} "
            f"| {s['open_ms']:.0f} / {s['first_search_ms']:.0f} |"
        )
    lines += [
        "",
        "Cold: each query text is new to the store's query cache, so its embedding is inside the time. "
        "Warm: the same queries again (embedding served from the cache). The component columns (p50 / p95) "
        "are the parts of one search measured separately. The floor is `matrix @ q` + argpartition over "
        "all vectors held in memory as float32; recall@5 compares the store's top 5 with that exact top 5. "
        "RSS is of a fresh process: after loading the model, then after opening the pool and both passes "
        "(max: VmHWM, as getrusage's maxrss in a child reports the parent's size at fork).",
        "",
    ]
    return lines


def refine_section(searches: Sequence[dict[str, Any]]) -> list[str]:
    rows = [(s, r) for s in searches for r in s.get("refine", [])]
    if not rows:
        return []
    lines = [
        "## `refine_factor` with the ANN index (warm: search alone), ms p50 / p95 / p99",
        "",
        "| pool | refine_factor | search | recall@5 |",
        "| --- | --- | --- | ---: |",
    ]
    for s, r in rows:
        lines.append(f"| {s['rows']:,} | {r['factor']} | {fmt(r['warm_ms'])} | {r['recall']:.3f} |")
    lines.append("")
    return lines


def _with_rest(phases: dict[str, float], total: float, labels: Sequence[str]) -> list[tuple[str, float]]:
    """Each labelled phase, then what the labels leave of ``total`` (checkout_latest also runs inside
    the id lookup, so it is not subtracted)."""
    rows = [(label, phases.get(label, 0.0)) for label in labels]
    known = sum(value for label, value in rows if label != "checkout_latest")
    return [*rows, ("rest (batch similarity product, row dicts, lock)", total - known), ("**total**", total)]


def phase_section(builds: Sequence[dict[str, Any]]) -> list[str]:
    labels = [label for _, label in WRITE_PHASES] + ["embedder (cached vectors)", "redaction (redact_draft)"]
    lines = [
        "## Where write time goes",
        "",
        "| pool | part | whole build s | first batch ms | last batch ms |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for b in builds:
        whole = _with_rest(b["phases"], b["phases"]["total"], labels)
        first = _with_rest(b["first_batch"], b["first_batch"].get("batch total", 0.0), labels)
        last = _with_rest(b["last_batch"], b["last_batch"].get("batch total", 0.0), labels)
        for (label, w), (_, f), (_, z) in zip(whole, first, last, strict=True):
            lines.append(f"| {b['size']:,} | {label} | {w:.2f} | {f * 1000:.0f} | {z * 1000:.0f} |")
    lines += [
        "",
        "The dedup work of one batch over all kinds after the build, step by step (the calls "
        "store.py makes; the similarity product runs inline in `_write_locked`, so above it is in `rest`):",
        "",
    ]
    for b in builds:
        read = dict(b["dedup_read"])
        rows = int(read.pop("rows", 0))
        lines.append(f"- {rows:,} rows: " + "; ".join(f"{k} {v * 1000:.0f} ms" for k, v in read.items()))
    lines.append("")
    return lines


def aim_section(searches: Sequence[dict[str, Any]]) -> list[str]:
    if not searches:
        return []
    largest = max(s["rows"] for s in searches)
    lines = ["## Against the aim (p95 ≤ 20 ms with the query embedding, recall ≥ 0.95)", ""]
    for s in searches:
        if s["rows"] != largest:
            continue
        p95 = s["cold_ms"][1]
        verdict = "meets" if p95 <= AIM_P95_MS and s["recall"] >= AIM_RECALL else "misses"
        lines.append(
            f"- {s['rows']:,}, {s['label']} ({s['index']}): cold p95 {p95:.1f} ms, warm p95 "
            f"{s['warm_ms'][1]:.1f} ms, recall@5 {s['recall']:.3f}: **{verdict}** the aim "
            f"(query embedding alone {s['embed_ms'][0]:.1f} ms p50 / {s['embed_ms'][1]:.1f} ms p95)."
        )
    lines.append("")
    return lines


# -------------------------------------------------------------------------------------- running


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,10000,100000", help="pool sizes, comma-separated")
    parser.add_argument("--queries", type=int, default=200, help="number of query texts")
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "pool.md", help="markdown report")
    parser.add_argument("--batch", type=int, default=1000, help="drafts per add_many call")
    parser.add_argument("--work-dir", type=Path, default=CACHE_DIR / "pools", help="where pools are built")
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR, help="where vectors are cached")
    parser.add_argument("--keep-pools", action="store_true", help="leave the built pools on disk")
    parser.add_argument("--json", type=Path, help="also write the raw figures as JSON")
    parser.add_argument("--embed-only", action="store_true", help="fill the vector cache, then stop")
    parser.add_argument("--index-min-rows", type=int, help="override the config's index_min_rows")
    parser.add_argument("--search-worker", nargs=2, metavar=("SPEC", "OUT"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def prepare_vectors(
    embedder: Any, drafts: Sequence[MemoryDraft], extra: Sequence[MemoryDraft], cache_dir: Path
) -> tuple[dict[str, Matrix], EmbedStats]:
    from carryover.pool.store import embedding_key, redact_draft

    mode = StoreConfig(home=Path(), pool_dir=Path()).embed_key
    keys = [embedding_key(redact_draft(draft), mode) for draft in drafts]
    cache = VectorCache(cache_dir, embedder.name, embedder.dimension)
    _, missing = cache.lookup(keys)
    known, spent = embed_with_cache(embedder, cache, keys)
    extra_keys = {embedding_key(redact_draft(draft), mode) for draft in extra}
    sample = [key for key in keys[-EMBED_SAMPLE:] if key not in extra_keys]
    _, sample_s = timed(embedder.embed, sample)
    stats = EmbedStats(
        texts=len(keys),
        mean_tokens=mean_tokens(embedder, keys),
        embedded_now=len(set(missing)),
        embed_now_s=spent,
        sample_texts=len(sample),
        sample_rate=len(sample) / sample_s,
    )
    return known, stats


def run_size(
    size: int,
    *,
    args: argparse.Namespace,
    drafts: Sequence[MemoryDraft],
    extra: Sequence[MemoryDraft],
    known: dict[str, Matrix],
    embedder: Any,
    queries: Sequence[str],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from carryover.pool.store import MemoryStore

    root = args.work_dir / f"pool-{size}"
    shutil.rmtree(root, ignore_errors=True)
    stats = BuildStats(size=size)
    overrides = {} if args.index_min_rows is None else {"index_min_rows": args.index_min_rows}
    store = MemoryStore(pool_config(root, **overrides), PrecomputedEmbedder(embedder, known))
    build_pool(store, drafts[:size], args.batch, stats)
    stats.dedup_read = anatomy_of_dedup(store, args.batch)
    searches: list[dict[str, Any]] = []
    indexed = size >= store.config.index_min_rows
    if indexed:
        searches.append(search_in_child(root, "before maintain()", queries, ()))
    stats.maintain_said, stats.maintain_s = timed(store.maintain)
    label = "after maintain()" if indexed else "after build"
    searches.append(search_in_child(root, label, queries, REFINE_FACTORS if indexed else ()))
    if indexed:  # maintain() builds the index but leaves one fragment per write; force compacts them
        stats.compact_said, stats.compact_s = timed(store.maintain, True)
        searches.append(search_in_child(root, "after maintain(force=True)", queries, ()))
    single_adds(store, extra, embedder, stats)
    stats.disk_mb = dir_size_mb(root)
    del store
    gc.collect()
    if not args.keep_pools:
        shutil.rmtree(root, ignore_errors=True)
    return asdict(stats), searches


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.search_worker:
        spec_path, out_path = args.search_worker
        result = measure_search(json.loads(Path(spec_path).read_text(encoding="utf-8")))
        Path(out_path).write_text(json.dumps(result), encoding="utf-8")
        return 0
    import lancedb

    from carryover.pool.embedding.minilm import MiniLMEmbedder

    started = time.perf_counter()
    load_start = " ".join(f"{v:.1f}" for v in os.getloadavg())
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    drafts = generate_drafts(max(sizes), DRAFT_SEED)
    extra = generate_drafts(ADD_SAMPLES, EXTRA_SEED)
    queries = generate_queries(args.queries, QUERY_SEED)
    embedder = MiniLMEmbedder().load()
    known, embed_stats = prepare_vectors(embedder, drafts, extra, args.cache_dir)
    if args.embed_only:
        sys.stdout.write(f"{json.dumps(asdict(embed_stats))}\n")
        return 0
    builds: list[dict[str, Any]] = []
    searches: list[dict[str, Any]] = []
    for size in sizes:
        build, measured = run_size(
            size, args=args, drafts=drafts, extra=extra, known=known, embedder=embedder, queries=queries
        )
        builds.append(build)
        searches.extend(measured)
    run = {
        "command": " ".join([".venv/bin/python", "-m", "benchmarks.pool", *sys.argv[1:]]),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "wall_s": time.perf_counter() - started,
        "load_start": load_start,
        "load_end": " ".join(f"{v:.1f}" for v in os.getloadavg()),
        "lancedb": lancedb.__version__,
        "queries": len(queries),
        "embed": asdict(embed_stats),
        "builds": builds,
        "searches": searches,
    }
    if args.json:
        args.json.write_text(json.dumps(run, indent=1), encoding="utf-8")
    text = report(run)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
