"""The pool behind a hover, by pool size, beside its floor measured in the same run.

    .venv/bin/python -m benchmarks.mirror [--sizes 1000,10000,100000] [--queries 150] [--name mirror]

For each size a pool is built from benchmarks/pool_text.py's seeded drafts through
``MemoryStore.add_many`` (batches of ``--batch``, dedup on) with the real model's vectors looked up in
benchmarks/.cache/ (filled by ``python -m benchmarks.pool --embed-only``); texts the cache does not
hold yet are embedded now, or with ``--synthetic`` stand in as mixtures of two cached vectors (said in
the report). The build is the bulk-import rate (embedding excluded: the embedding rate is measured
separately, on a fresh sample).

Then a fresh child process (honest RSS, an empty query cache) opens the pool and measures:

- hover-equivalent search: ``store.search(SearchQuery(text, k=5))`` on a text new to the store (the
  embedding is inside), interleaved query by query with the floor: the same text embedded by the raw
  model plus an exact numpy top-5 over every vector held in memory as float32;
- recall@5 of that search against the exact top 5 (pure-cosine ranking);
- the mirror alone on precomputed vectors (2 per query, as a hover with a plan): exact search, and, on
  pools with an ANN index, one ANN call rescored from the mirror, with its recall@5: the crossover;
- ``candidates(limit=40)`` with the memory cache cold and warm;
- RSS: after loading the model, after opening the pool and searching (anonymous and file-backed
  pages apart: the mirror's vectors are file-backed and shared), before the floor's own matrix.

Pools of ``--index-from`` rows or more are also measured after ``maintain(force=True)`` (ANN index).
Each run is saved as benchmarks/results/<date>-<name>.json and .md with the command and load average.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.pool import (
    CACHE_DIR,
    DRAFT_SEED,
    QUERY_SEED,
    Matrix,
    PhaseClock,
    PrecomputedEmbedder,
    VectorCache,
    current_rss_mb,
    max_rss_mb,
    percentiles,
    pool_config,
    pure_cosine,
    timed,
)
from benchmarks.pool_text import generate_drafts, generate_queries
from carryover.pool.records import MemoryDraft, SearchQuery

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
SYNTHETIC_SEED = 11
EMBED_SAMPLE = 200
CANDIDATES = 40
WRITE_PHASES = (
    ("_synced_mirror", "mirror in step"),
    ("_merge_targets", "dedup decisions (mirror products)"),
    ("_stored_rows", "read merge bases"),
    ("_upsert", "merge_insert"),
)


def note(message: str) -> None:
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def memory_status() -> dict[str, float]:
    """RssAnon / RssFile / VmRSS of this process in MB."""
    out: dict[str, float] = {}
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "RssAnon", "RssFile"):
                out[name] = int(rest.split()[0]) / 1024
    return out


# ------------------------------------------------------------------------------------- vectors


def vectors_for(
    keys: Sequence[str], embedder: Any, synthetic: bool
) -> tuple[dict[str, Matrix], int, int, float]:
    """Vectors of ``keys``: cached, else embedded now (or, with ``synthetic``, mixed from two
    cached vectors). Returns them with the counts embedded now and synthesised, and the seconds."""
    cache = VectorCache(CACHE_DIR, embedder.name, embedder.dimension)
    known, missing = cache.lookup(keys)
    missing = list(dict.fromkeys(missing))
    spent = 0.0
    made = 0
    if missing and not synthetic:
        note(f"embedding {len(missing):,} texts the cache does not hold")
        for start in range(0, len(missing), 2000):
            chunk = missing[start : start + 2000]
            vectors, seconds = timed(embedder.embed, chunk)
            spent += seconds
            cache.add(chunk, vectors)
            cache.save()
        known, _ = cache.lookup(keys)
        return known, len(missing), 0, spent
    if missing:
        rng = np.random.default_rng(SYNTHETIC_SEED)
        real = np.stack(list(known.values()))
        first = real[rng.integers(0, len(real), len(missing))]
        second = real[rng.integers(0, len(real), len(missing))]
        weights = rng.uniform(0.2, 0.8, (len(missing), 1)).astype(np.float32)
        mixed = weights * first + (1 - weights) * second
        mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
        known.update(zip(missing, mixed.astype(np.float32), strict=True))
        made = len(missing)
    return known, 0, made, spent


# ------------------------------------------------------------------------------------- building


def build(  # noqa: PLR0917
    root: Path,
    drafts: Sequence[MemoryDraft],
    known: dict[str, Matrix],
    embedder: Any,
    batch: int,
    sample: int,
) -> dict[str, Any]:
    """The bulk-import path, embedding excluded. All but the last ``sample`` drafts go through the
    store's write path without redaction (``_write_locked`` under the pool lock: dedup against the
    mirror, one merge_insert per batch; pool_text's drafts hold no secrets), timed as the fill; the
    last ``sample`` through ``add_many``
    (redaction included), each phase timed."""
    import carryover.pool.store as store_module
    from carryover.pool.mirror import VectorMirror
    from carryover.pool.store import MemoryStore, embedding_key

    store = MemoryStore(pool_config(root), PrecomputedEmbedder(embedder, known))
    bulk = list(drafts[: max(0, len(drafts) - sample)])
    added = merged = 0
    fill_s = 0.0
    for start in range(0, len(bulk), batch):
        chunk = bulk[start : start + batch]
        keys = [embedding_key(draft, store.meta.embed_key) for draft in chunk]
        vectors = np.stack([known[key] for key in keys])
        started = time.perf_counter()
        with store._lock.hold():
            store._refresh(force=True)
            results = store._write_locked(chunk, keys, vectors)
        fill_s += time.perf_counter() - started
        added += sum(1 for result in results if result.action == "added")
        merged += sum(1 for result in results if result.action == "merged")
    clock = PhaseClock()
    for method, label in WRITE_PHASES:
        clock.wrap(store, method, label)
    clock.wrap(store_module, "redact_draft", "redaction")
    clock.wrap(VectorMirror, "persist", "mirror files")
    tail = drafts[len(bulk) :]
    started = time.perf_counter()
    last = 0.0
    for start in range(0, len(tail), batch):
        results, last = timed(store.add_many, tail[start : start + batch])
        added += sum(1 for result in results if result.action == "added")
        merged += sum(1 for result in results if result.action == "merged")
    write_s = time.perf_counter() - started
    phases = clock.snapshot()
    clock.unwrap_all()
    said, maintain_s = timed(store.maintain)
    redaction = phases.get("redaction", 0.0)
    return {
        "drafts": len(drafts),
        "added": added,
        "merged": merged,
        "fill_drafts": len(bulk),
        "fill_s": fill_s,
        "fill_rate": len(bulk) / fill_s if fill_s else float("nan"),
        "sample_drafts": len(tail),
        "write_s": write_s,
        "rate": len(tail) / write_s,
        "rate_without_redaction": len(tail) / (write_s - redaction),
        "last_batch_s": last,
        "phases": phases,
        "maintain": said,
        "maintain_s": maintain_s,
    }


def index_pool(root: Path, embedder: Any) -> tuple[str, float]:
    from carryover.pool.store import MemoryStore

    store = MemoryStore(pool_config(root), embedder)
    return timed(store.maintain, True)


# ----------------------------------------------------------------------------- measuring (child)


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """In a fresh process: open the pool, time searches beside the floor, recall, crossover, RSS."""
    from carryover.pool.embedding.minilm import MiniLMEmbedder
    from carryover.pool.mirror import EXACT_MAX_ROWS
    from carryover.pool.records import RETRIEVABLE_STATUSES
    from carryover.pool.store import MemoryStore

    texts: list[str] = spec["queries"]
    half = len(texts) // 2
    first_pass, second_pass = texts[:half], texts[half:]
    embedder = MiniLMEmbedder().load()
    embedder.embed(["load the kernels once"])
    out: dict[str, Any] = {"label": spec["label"], "rss_model": memory_status()}
    config = pure_cosine(pool_config(Path(spec["root"])))
    store, open_s = timed(MemoryStore, config, embedder)
    _, first_s = timed(store.search, SearchQuery(text="first search after opening the pool", k=5))
    out["open_ms"], out["first_search_ms"] = open_s * 1000, first_s * 1000
    mirror = store._synced_mirror()
    out["rows"] = mirror.alive_rows
    out["index"] = mirror.has_index
    out["ann_path"] = bool(mirror.has_index and mirror.alive_rows > EXACT_MAX_ROWS)

    # Pass 1: the store alone (RSS is read before the floor's matrix exists).
    alone = [timed(store.search, SearchQuery(text=text, k=5))[1] for text in first_pass]
    out["search_alone_ms"] = percentiles(alone)
    out["rss_pool"] = memory_status()

    # The floor's own copy of every vector, read from the table (not from the mirror).
    table = store._memories.search().select(["id", "vector", "status"]).limit(None).to_arrow()
    keep = np.isin(np.asarray(table.column("status").to_pylist()), [s.value for s in RETRIEVABLE_STATUSES])
    ids = np.asarray(table.column("id").to_pylist())[keep]
    matrix = np.ascontiguousarray(
        np.asarray(table.column("vector").combine_chunks().flatten(), dtype=np.float32).reshape(
            table.num_rows, embedder.dimension
        )[keep]
    )
    del table

    def floor(text: str) -> list[str]:
        vector = embedder.embed([text])[0]
        scores = matrix @ vector
        top = np.argpartition(-scores, 5)[:5]
        return list(ids[top[np.argsort(-scores[top])]])

    # Pass 2: interleaved, query by query: floor, then the hover-equivalent search on the same text.
    floor_s: list[float] = []
    search_s: list[float] = []
    recall: list[float] = []
    for text in second_pass:
        exact, seconds = timed(floor, text)
        floor_s.append(seconds)
        hits, seconds = timed(store.search, SearchQuery(text=text, k=5))
        search_s.append(seconds)
        recall.append(len({hit.memory.id for hit in hits} & set(exact)) / 5)
    out["floor_ms"] = percentiles(floor_s)
    out["search_ms"] = percentiles(search_s)
    out["recall_search"] = float(np.mean(recall))
    out["ratio_p50"] = out["search_ms"][0] / out["floor_ms"][0]
    out["ratio_p95"] = out["search_ms"][1] / out["floor_ms"][1]

    out.update(measure_mirror(store, mirror, matrix, embedder.embed(texts).astype(np.float32)))
    out["rss_end"] = memory_status()
    out["rss_max_mb"] = max_rss_mb()
    out["rss_now_mb"] = current_rss_mb()
    return out


def measure_mirror(store: Any, mirror: Any, matrix: Matrix, vectors: Matrix) -> dict[str, Any]:
    """The mirror alone on precomputed vectors, two per query (a hover with a plan): numpy over an
    in-memory matrix, the mirror's exact search, one ANN call rescored (with its recall@5), and
    ``candidates()`` with the memory cache cold and warm."""
    from carryover.pool.records import RETRIEVABLE_STATUSES

    out: dict[str, Any] = {}
    pairs = [np.ascontiguousarray(vectors[[i, (i + 1) % len(vectors)]]) for i in range(len(vectors))]
    numpy_s = []
    for pair in pairs:
        started = time.perf_counter()
        scores = matrix @ pair.T
        best = scores.max(axis=1)
        np.argpartition(-best, CANDIDATES)[:CANDIDATES]
        numpy_s.append(time.perf_counter() - started)
    out["numpy_exact_ms"] = percentiles(numpy_s)
    passing = mirror.mask(statuses=[s.value for s in RETRIEVABLE_STATUSES])
    exact_rows = []
    times = []
    for pair in pairs:
        (rows, _), seconds = timed(
            lambda pair=pair: mirror.search(store._memories, pair, passing, CANDIDATES, ann=False)
        )
        exact_rows.append(rows)
        times.append(seconds)
    out["mirror_exact_ms"] = percentiles(times)
    if mirror.has_index:
        times, recalls = [], []
        for pair, expected in zip(pairs, exact_rows, strict=True):
            (rows, _), seconds = timed(
                lambda pair=pair: mirror.search(store._memories, pair, passing, CANDIDATES, ann=True)
            )
            times.append(seconds)
            recalls.append(len(set(rows[:5].tolist()) & set(expected[:5].tolist())) / 5)
        out["mirror_ann_ms"] = percentiles(times)
        out["recall_ann"] = float(np.mean(recalls))
    # candidates() with the memory cache cold (first time these rows are read) and warm.
    mirror.memories.clear()

    def fetch(pair: Matrix) -> float:
        return timed(lambda: store.candidates(pair, limit=CANDIDATES))[1]

    cold = [fetch(pair) for pair in pairs]
    warm = [fetch(pair) for pair in pairs]
    out["candidates_cold_ms"] = percentiles(cold)
    out["candidates_warm_ms"] = percentiles(warm)
    return out


def measure_in_child(root: Path, label: str, queries: Sequence[str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mirror-bench-") as scratch:
        spec_path, out_path = Path(scratch) / "spec.json", Path(scratch) / "out.json"
        spec_path.write_text(json.dumps({"root": str(root), "label": label, "queries": list(queries)}))
        command = [sys.executable, "-m", "benchmarks.mirror", "--worker", str(spec_path), str(out_path)]
        subprocess.run(command, check=True, cwd=REPO)
        result: dict[str, Any] = json.loads(out_path.read_text(encoding="utf-8"))
        return result


# -------------------------------------------------------------------------------------- report


def fmt(values: Sequence[float], digits: int = 1) -> str:
    return " / ".join(f"{value:.{digits}f}" for value in values[:2])


def report(run: dict[str, Any]) -> str:
    lines = [
        "# The pool behind a hover: vector mirror",
        "",
        f"`{run['command']}` — {run['date']}, wall time {run['wall_s'] / 60:.1f} min, {os.cpu_count()} CPUs.",
        f"`uptime` load average: {run['load_start']} at the start, {run['load_end']} at the end "
        "(other jobs share the machine; compare figures with the floor of the same run).",
        f"Embedding (all-MiniLM-L6-v2 in numpy), fresh sample of {run['embed']['texts']} memory texts "
        f"in one call: **{run['embed']['rate']:.1f} texts/s**.",
        "",
    ]
    for build_row in run["builds"]:
        if build_row["synthetic"]:
            lines.append(
                f"- {build_row['size']:,}: {build_row['synthetic']:,} of the vectors are synthetic stand-ins "
                "(mixtures of two real cached vectors): the model's cache did not hold them yet."
            )
    lines += [
        "",
        "## Hover-equivalent search beside its floor (ms, p50 / p95)",
        "",
        "Search: `store.search(SearchQuery(text, k=5))`, the query new to the store (embedding inside). "
        "Floor: the same text embedded by the raw model + exact numpy top-5 over all vectors in memory. "
        "Interleaved query by query in one process.",
        "",
        "| pool | index | search path | search | floor | search ÷ floor p50 / p95 | recall@5 vs exact "
        "| first pass (search alone) | open ms / first search ms |",
        "| ---: | --- | --- | --- | --- | --- | ---: | --- | --- |",
    ]
    for m in run["measures"]:
        path = "ANN + exact rescoring" if m["ann_path"] else "exact over the mirror"
        lines.append(
            f"| {m['rows']:,} | {'yes' if m['index'] else 'no'} ({m['label']}) | {path} "
            f"| {fmt(m['search_ms'])} | {fmt(m['floor_ms'])} "
            f"| {m['ratio_p50']:.2f} / {m['ratio_p95']:.2f} | {m['recall_search']:.3f} "
            f"| {fmt(m['search_alone_ms'])} | {m['open_ms']:.0f} / {m['first_search_ms']:.0f} |"
        )
    lines += [
        "",
        "## The mirror alone: two query vectors, 40 candidates (ms, p50 / p95)",
        "",
        "| pool | numpy exact over an in-memory matrix (floor) | mirror exact | ANN call + rescoring "
        "| ANN recall@5 vs exact | `candidates()` memory cache cold / warm (p50) |",
        "| ---: | --- | --- | --- | ---: | --- |",
    ]
    for m in run["measures"]:
        ann = fmt(m["mirror_ann_ms"], 2) if "mirror_ann_ms" in m else "no index"
        recall = f"{m['recall_ann']:.3f}" if "recall_ann" in m else "—"
        lines.append(
            f"| {m['rows']:,} ({m['label']}) | {fmt(m['numpy_exact_ms'], 2)} "
            f"| {fmt(m['mirror_exact_ms'], 2)} "
            f"| {ann} | {recall} | {m['candidates_cold_ms'][0]:.1f} / {m['candidates_warm_ms'][0]:.1f} |"
        )
    lines += [
        "",
        "## Bulk import (dedup on, embedding excluded)",
        "",
        "Fill: every draft but the last few through the store's write path without redaction "
        "(`_write_locked`: dedup against the mirror, one merge_insert per batch) while the pool grows. "
        "Then the last drafts through `add_many` (redaction included) into the full pool, by phase.",
        "",
        "| pool | fill: drafts, memories/s | add_many: drafts, **memories/s** (without redaction) "
        "| added / merged | redaction s | mirror in step s | dedup s | merge bases s | merge_insert s "
        "| mirror files s | last batch s | maintain() |",
        "| ---: | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for b in run["builds"]:
        p = b["phases"]
        lines.append(
            f"| {b['size']:,} | {b['fill_drafts']:,}, {b['fill_rate']:.0f} "
            f"| {b['sample_drafts']:,}, **{b['rate']:.0f}** ({b['rate_without_redaction']:.0f}) "
            f"| {b['added']:,} / {b['merged']:,} | {p.get('redaction', 0):.1f} "
            f"| {p.get('mirror in step', 0):.2f} | {p.get('dedup decisions (mirror products)', 0):.2f} "
            f"| {p.get('read merge bases', 0):.2f} | {p.get('merge_insert', 0):.2f} "
            f"| {p.get('mirror files', 0):.2f} | {b['last_batch_s']:.2f} "
            f"| {b['maintain']} ({b['maintain_s']:.1f} s) |"
        )
    lines += [
        "",
        f"Floor for an import that embeds: the embedding rate above ({run['embed']['rate']:.1f} texts/s).",
        "",
        "## RSS of the searching process (MB)",
        "",
        "| pool | model loaded (VmRSS) | pool open + searches: VmRSS (anon + file) | end | peak (VmHWM) |",
        "| ---: | ---: | --- | --- | ---: |",
    ]
    for m in run["measures"]:
        model, pool, end = m["rss_model"], m["rss_pool"], m["rss_end"]
        lines.append(
            f"| {m['rows']:,} ({m['label']}) | {model['VmRSS']:.0f} | {pool['VmRSS']:.0f} "
            f"({pool['RssAnon']:.0f} + {pool['RssFile']:.0f}) | {end['VmRSS']:.0f} "
            f"({end['RssAnon']:.0f} + {end['RssFile']:.0f}, the floor's matrix included) "
            f"| {m['rss_max_mb']:.0f} |"
        )
    lines.append("")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------- running


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--queries", type=int, default=150, help="query texts (half per pass)")
    parser.add_argument("--batch", type=int, default=1000, help="drafts per add_many call")
    parser.add_argument(
        "--index-from", type=int, default=10_000, help="also measure with an ANN index from here"
    )
    parser.add_argument(
        "--import-sample", type=int, default=3000, help="drafts written last through add_many, timed"
    )
    parser.add_argument("--synthetic", action="store_true", help="stand-in vectors for texts not cached")
    parser.add_argument("--name", default="mirror", help="results file name")
    parser.add_argument(
        "--work-dir", type=Path, help="where pools are built (default: a temporary directory)"
    )
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        spec_path, out_path = args.worker
        result = measure(json.loads(Path(spec_path).read_text(encoding="utf-8")))
        Path(out_path).write_text(json.dumps(result), encoding="utf-8")
        return 0
    from carryover.pool.embedding.minilm import MiniLMEmbedder
    from carryover.pool.store import embedding_key

    started = time.perf_counter()
    load_start = load_average()
    sizes = sorted({int(size) for size in args.sizes.split(",") if size.strip()})
    embedder = MiniLMEmbedder().load()
    all_drafts = generate_drafts(max(sizes), DRAFT_SEED)
    queries = generate_queries(args.queries, QUERY_SEED)
    mode = pool_config(Path("/nonexistent")).embed_key
    # pool_text's drafts hold no secrets: their keys are taken unredacted (the redaction of 100k drafts
    # would dominate the run); add_many redacts the timed sample as always.
    keys = [embedding_key(draft, mode) for draft in all_drafts]
    sample = [f"{key} (sample)" for key in keys[:EMBED_SAMPLE]]
    _, sample_s = timed(embedder.embed, sample)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="carryover-mirror-bench-"))
    builds: list[dict[str, Any]] = []
    measures: list[dict[str, Any]] = []
    try:
        for size in sizes:
            known, embedded, synthetic, _ = vectors_for(keys[:size], embedder, args.synthetic)
            root = work / f"pool-{size}"
            shutil.rmtree(root, ignore_errors=True)
            note(f"building {size:,} ({synthetic:,} synthetic vectors, {embedded:,} embedded now)")
            row = build(root, all_drafts[:size], known, embedder, args.batch, min(size, args.import_sample))
            builds.append({"size": size, "synthetic": synthetic, **row})
            note(f"filled at {row['fill_rate']:.0f}/s, add_many {row['rate']:.0f}/s; measuring")
            indexed_now = row["maintain"].startswith("built")
            measures.append(
                measure_in_child(root, "after maintain()" if indexed_now else "no index", queries)
            )
            if size >= args.index_from and not indexed_now:
                said, seconds = index_pool(root, embedder)
                note(f"maintain(force=True): {said} ({seconds:.1f} s)")
                measures.append(measure_in_child(root, "after maintain(force=True)", queries))
            sys.stderr.write(json.dumps(measures[-1]) + "\n")
            shutil.rmtree(root, ignore_errors=True)
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    run = {
        "command": " ".join(
            [".venv/bin/python", "-m", "benchmarks.mirror", *(argv if argv is not None else sys.argv[1:])]
        ),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "wall_s": time.perf_counter() - started,
        "load_start": load_start,
        "load_end": load_average(),
        "embed": {"texts": len(sample), "rate": len(sample) / sample_s},
        "builds": builds,
        "measures": measures,
    }
    stem = RESULTS / f"{datetime.now(timezone.utc).strftime('%Y-%m-%d-%H%M')}-{args.name}"
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(run, indent=1) + "\n", encoding="utf-8")
    text = report(run)
    stem.with_suffix(".md").write_text(text, encoding="utf-8")
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
