"""Runs the development set through the same retrieval the hover uses, with ablations, and reports.

python -m eval [--split dev|heldout|all] [--report eval/report] [--floors eval/floors.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs

from carryover.pool.config import StoreConfig, load_config
from carryover.pool.embedding.base import Embedder
from carryover.pool.jsonl import parse_object
from carryover.pool.records import Kind, MemoryDraft, SearchQuery
from carryover.pool.store import MemoryStore
from carryover.recall.moment import (
    PLAIN_LINE_THRESHOLD,
    RELEVANCE_THRESHOLD,
    Diagnostic,
    FailedRun,
    Moment,
    RecallOptions,
    suggest,
)
from carryover.recall.query import EditorContext, build_query
from eval.bm25 import BM25
from eval.metrics import Judgement, Scores, score
from eval.report import render
from eval.variants import VARIANTS, Variant

DATA = Path(__file__).resolve().parent / "data"
logger = logging.getLogger(__name__)


@attrs.frozen
class EvalQuery:
    id: str
    split: str
    context: EditorContext
    relevant: tuple[str, ...]
    misleading: tuple[str, ...]


def load_queries(path: Path) -> list[EvalQuery]:
    queries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        raw = json.loads(line)
        context = EditorContext(
            language=raw.get("language"),
            code_line=raw.get("code_line"),
            diagnostic=raw.get("diagnostic"),
            failing_command=raw.get("failing_command"),
            error_line=raw.get("error_line"),
            tools=(raw["tool"],) if raw.get("tool") else (),
        )
        queries.append(
            EvalQuery(
                id=raw["id"],
                split=raw["split"],
                context=context,
                relevant=tuple(raw["relevant"]),
                misleading=tuple(raw.get("misleading") or ()),
            )
        )
    return queries


def load_pool(path: Path) -> list[MemoryDraft]:
    drafts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            draft, _status = parse_object(json.loads(line), source="eval")
            drafts.append(draft)
    return drafts


@attrs.frozen
class Pool:
    """A pool built from the dev set, with the mapping from the set's ids to stored ids (a memory that
    deduplication merged into another is judged as the one it merged into)."""

    store: MemoryStore
    alias: dict[str, str]
    languages: dict[str, tuple[str, ...]]
    texts: dict[str, str]


def build_pool(
    directory: Path, drafts: Sequence[MemoryDraft], embedder: Embedder, config: StoreConfig
) -> Pool:
    store = MemoryStore(attrs.evolve(config, pool_dir=directory), embedder)
    results = store.add_many(drafts)
    alias = {draft.id or draft.content_id(): result.id for draft, result in zip(drafts, results, strict=True)}
    languages = {draft.id or "": draft.languages for draft in drafts}
    texts = {
        result.id: f"{draft.title}\n{draft.description}\n{draft.content}"
        for draft, result in zip(drafts, results, strict=True)
        if result.action == "added"
    }
    return Pool(store=store, alias=alias, languages=languages, texts=texts)


def judgement(query: EvalQuery, pool: Pool) -> Judgement:
    language = (query.context.language or "").lower()
    relevant = frozenset(pool.alias[item] for item in query.relevant if item in pool.alias)
    cross = frozenset(
        pool.alias[item]
        for item in query.relevant
        if item in pool.alias and language not in pool.languages.get(item, ())
    )
    misleading = frozenset(pool.alias[item] for item in query.misleading if item in pool.alias) - relevant
    return Judgement(relevant=relevant, cross_language=cross, misleading=misleading)


Retriever = Callable[[EvalQuery, SearchQuery], list[str]]

RANKED = 10
"""How many memories each retriever ranks (MRR looks this deep; the metrics @3 only at the top 3)."""


def moment_of(query: EvalQuery) -> Moment:
    """The editor moment a query describes: its code line as the line in question, its diagnostic
    on that line, its failing command (with the error line) as the workspace's last failure."""
    context = query.context
    failed = None
    if context.failing_command:
        failed = FailedRun(context.failing_command, error_line=context.error_line)
    return Moment.of_text(
        context.code_line or "",
        language=context.language,
        diagnostics=(Diagnostic(context.diagnostic),) if context.diagnostic else (),
        failed_run=failed,
    )


def hover_retriever(
    store: MemoryStore, thresholds: tuple[float, float] | None, kinds: tuple[Kind, ...] = ()
) -> Retriever:
    """Exactly the hover's retrieval (``carryover.recall.suggest`` on the query's moment), ranking
    ``RANKED`` deep; nothing below the hover's thresholds when they apply."""
    options = RecallOptions(
        k=RANKED,
        threshold=thresholds[0] if thresholds else None,
        plain_threshold=thresholds[1] if thresholds else None,
        kinds=kinds,
    )

    def run(query: EvalQuery, _search: SearchQuery) -> list[str]:
        return [suggestion.memory_id for suggestion in suggest(store, moment_of(query), options)]

    return run


def bm25_retriever(pool: Pool) -> Retriever:
    ids = list(pool.texts)
    index = BM25([pool.texts[memory_id] for memory_id in ids])

    def run(_query: EvalQuery, search: SearchQuery) -> list[str]:
        scores = index.scores(search.text)
        order = sorted(range(len(ids)), key=lambda i: -scores[i])
        return [ids[i] for i in order[:10] if scores[i] > 0]

    return run


def hybrid_retriever(vector: Retriever, lexical: Retriever, constant: int = 60) -> Retriever:
    """Reciprocal rank fusion of the product's ranking and BM25."""

    def run(query: EvalQuery, search: SearchQuery) -> list[str]:
        fused: dict[str, float] = {}
        for ranked in (vector(query, search), lexical(query, search)):
            for position, memory_id in enumerate(ranked, start=1):
                fused[memory_id] = fused.get(memory_id, 0.0) + 1.0 / (constant + position)
        return sorted(fused, key=lambda memory_id: -fused[memory_id])[:10]

    return run


def load_plain_lines(path: Path) -> list[EvalQuery]:
    """Ordinary lines of code (no problem on them): the hover should show nothing there."""
    lines = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            raw = json.loads(line)
            context = EditorContext(language=raw["language"], code_line=raw["code_line"])
            lines.append(EvalQuery(f"plain-{number}", "plain", context, (), ()))
    return lines


@attrs.frozen
class Pools:
    """One pool per embedding key, built once and shared by every split and variant."""

    base: StoreConfig
    by_key: dict[str, Pool]
    embedder: Embedder

    @classmethod
    def build(cls, drafts: Sequence[MemoryDraft], embedder: Embedder, workdir: Path) -> Pools:
        base = load_config(db=workdir / "unused", environ={"CARRYOVER_HOME": str(workdir / "home")})
        keys = dict.fromkeys(variant.embed_key for variant in VARIANTS)
        by_key = {
            key: build_pool(workdir / key, drafts, embedder, attrs.evolve(base, embed_key=key))
            for key in keys
        }
        return cls(base, by_key, embedder)

    def store(self, variant: Variant) -> tuple[Pool, MemoryStore]:
        pool = self.by_key[variant.embed_key]
        ranking = attrs.evolve(self.base.ranking, **variant.ranking)
        return pool, MemoryStore(attrs.evolve(pool.store.config, ranking=ranking), self.embedder)


def run_variants(
    queries: Sequence[EvalQuery],
    pools: Pools,
    *,
    thresholds: tuple[float, float],
    plain_lines: Sequence[EvalQuery] = (),
    variants: Sequence[Variant] = VARIANTS,
) -> dict[str, Scores]:
    results: dict[str, Scores] = {}
    for variant in variants:
        pool, store = pools.store(variant)
        hover = hover_retriever(store, thresholds if variant.threshold else None, variant.kinds)
        retriever = hover
        if variant.mode == "bm25":
            retriever = bm25_retriever(pool)
        elif variant.mode == "hybrid":
            retriever = hybrid_retriever(hover, bm25_retriever(pool))
        runs = []
        for query in queries:
            search = build_query(query.context, k=RANKED)
            if search is None:
                continue
            runs.append((retriever(query, search), judgement(query, pool)))
        quiet = None
        if variant.threshold and variant.mode == "hover" and plain_lines:
            silent = sum(1 for line in plain_lines if not retriever(line, SearchQuery(text="")))
            quiet = silent / len(plain_lines)
        results[variant.name] = attrs.evolve(score(runs), quiet=quiet)
    return results


def check_floors(results: dict[str, Scores], floors_path: Path) -> list[str]:
    floors = json.loads(floors_path.read_text(encoding="utf-8"))
    failures = []
    for variant, metrics in floors.items():
        if variant.startswith("_"):
            continue
        scores = results.get(variant)
        if scores is None:
            failures.append(f"{variant}: not run")
            continue
        for metric, bound in metrics.items():
            value = getattr(scores, metric.removeprefix("max_").removeprefix("min_"))
            if value is None:
                failures.append(f"{variant}.{metric}: no value")
            elif metric.startswith("max_") and value > bound:
                failures.append(f"{variant}: {metric[4:]} {value:.3f} above the ceiling {bound}")
            elif metric.startswith("min_") and value < bound:
                failures.append(f"{variant}: {metric[4:]} {value:.3f} below the floor {bound}")
    return failures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval", description=__doc__)
    parser.add_argument(
        "--split", action="append", choices=["dev", "heldout", "all"], help="repeatable; default dev"
    )
    parser.add_argument("--pool", type=Path, default=DATA / "pool.jsonl")
    parser.add_argument("--queries", type=Path, default=DATA / "queries.jsonl")
    parser.add_argument("--plain-lines", type=Path, default=DATA / "plain_lines.jsonl")
    parser.add_argument("--out", type=Path, help="write the markdown tables here too")
    parser.add_argument("--report", type=Path, help="write report.md and the plots into this folder")
    parser.add_argument("--floors", type=Path, help="fail when a dev figure passes its floor (JSON)")
    args = parser.parse_args(argv)
    splits = args.split or ["dev"]
    logging.basicConfig(level=logging.WARNING)

    from carryover.pool.embedding.minilm import MiniLMEmbedder

    queries = load_queries(args.queries)
    plain_lines = load_plain_lines(args.plain_lines)
    thresholds = (RELEVANCE_THRESHOLD, PLAIN_LINE_THRESHOLD)
    by_split: dict[str, dict[str, Scores]] = {}
    with tempfile.TemporaryDirectory(prefix="carryover-eval-") as workdir:
        pools = Pools.build(load_pool(args.pool), MiniLMEmbedder(), Path(workdir))
        for split in splits:
            chosen = [query for query in queries if split in ("all", query.split)]
            by_split[split] = run_variants(chosen, pools, thresholds=thresholds, plain_lines=plain_lines)
        if args.report:
            from eval.report import write_report

            write_report(args.report, by_split, pools.by_key["title+description"].store, VARIANTS)
    tables = "\n\n".join(render(results, split) for split, results in by_split.items())
    print(tables)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(tables + "\n", encoding="utf-8")
    if args.report:
        print(f"report: {args.report / 'report.md'}")
    if args.floors:
        if "dev" not in by_split:
            print("FLOOR: the floors are for the dev split; run with --split dev", file=sys.stderr)
            return 2
        failures = check_floors(by_split["dev"], args.floors)
        for failure in failures:
            print(f"FLOOR: {failure}", file=sys.stderr)
        if failures:
            return 1
        print(f"floors: all dev figures within {args.floors}")
    return 0
