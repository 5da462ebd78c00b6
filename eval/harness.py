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
from typing import Any

import attrs

from eval.bm25 import BM25
from eval.metrics import Judgement, Scores, score
from memory_store.config import RankingConfig, StoreConfig, load_config
from memory_store.embedding.base import Embedder
from memory_store.jsonl import parse_object
from memory_store.records import Kind, MemoryDraft, SearchQuery
from memory_store.store import MemoryStore
from server.context_query import EditorContext, build_query

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


def vector_retriever(store: MemoryStore, kinds: tuple[Kind, ...] = ()) -> Retriever:
    def run(_query: EvalQuery, search: SearchQuery) -> list[str]:
        hits = store.search(attrs.evolve(search, k=10, kinds=kinds))
        return [hit.memory.id for hit in hits]

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


FLAT = {"insight_weight": 1.0, "summary_weight": 1.0, "workflow_weight": 1.0, "trajectory_weight": 1.0}


@attrs.frozen
class Variant:
    name: str
    description: str
    embed_key: str = "title+description"
    ranking: dict[str, Any] = attrs.field(factory=dict)
    mode: str = "vector"  # vector | bm25 | hybrid
    kinds: tuple[Kind, ...] = ()


VARIANTS = (
    Variant("carryover", "the product: vector + abstraction weighting + transfer guard"),
    Variant("bm25", "BM25 over title, description and content", mode="bm25"),
    Variant("hybrid", "reciprocal rank fusion of carryover and BM25", mode="hybrid"),
    Variant(
        "plain-cosine",
        "vector only: no guard, no abstraction weights",
        ranking={**FLAT, "transfer_guard": False},
    ),
    Variant(
        "plain-cosine-all-text",
        "cosine over title+description+content, nothing else",
        embed_key="all",
        ranking={**FLAT, "transfer_guard": False},
    ),
    Variant("no-guard", "carryover without the transfer guard", ranking={"transfer_guard": False}),
    Variant("no-abstraction", "carryover without abstraction weighting", ranking=FLAT),
    Variant("title-key", "carryover, embedding only the title (as the paper did)", embed_key="title"),
    Variant("all-text-key", "carryover, embedding title+description+content", embed_key="all"),
    *(
        Variant(f"only-{kind.value}", f"carryover over a pool of {kind.value} memories only", kinds=(kind,))
        for kind in Kind
    ),
)


def run_variants(
    queries: Sequence[EvalQuery], drafts: Sequence[MemoryDraft], embedder: Embedder, workdir: Path
) -> dict[str, Scores]:
    base = load_config(db=workdir / "unused", environ={"CARRYOVER_HOME": str(workdir / "home")})
    pools: dict[str, Pool] = {}
    results: dict[str, Scores] = {}
    for variant in VARIANTS:
        if variant.embed_key not in pools:
            config = attrs.evolve(base, embed_key=variant.embed_key)
            pools[variant.embed_key] = build_pool(workdir / variant.embed_key, drafts, embedder, config)
        pool = pools[variant.embed_key]
        ranking = attrs.evolve(RankingConfig(), **variant.ranking)
        store = MemoryStore(attrs.evolve(pool.store.config, ranking=ranking), embedder)
        vector = vector_retriever(store, variant.kinds)
        retriever = {
            "vector": vector,
            "bm25": bm25_retriever(pool),
            "hybrid": hybrid_retriever(vector, bm25_retriever(pool)),
        }[variant.mode]
        runs = []
        for query in queries:
            search = build_query(query.context, k=10)
            if search is None:
                continue
            runs.append((retriever(query, search), judgement(query, pool)))
        results[variant.name] = score(runs)
    return results


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def render(results: dict[str, Scores], split: str) -> str:
    lines = [
        f"### Split: {split}",
        "",
        "| variant | what it is | Recall@3 | MRR | cross-language Recall@3 | Harmful@3 (trap queries) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    descriptions = {variant.name: variant.description for variant in VARIANTS}
    for name, scores in results.items():
        lines.append(
            f"| {name} | {descriptions[name]} | {_fmt(scores.recall3)} | {_fmt(scores.mrr)} | "
            f"{_fmt(scores.cross_recall3)} | {_fmt(scores.harmful3)} (n={scores.trap_queries}) |"
        )
    any_scores = next(iter(results.values()))
    lines.append("")
    lines.append(f"{any_scores.queries} queries, {any_scores.trap_queries} with traps.")
    return "\n".join(lines)


def check_floors(results: dict[str, Scores], floors_path: Path) -> list[str]:
    floors = json.loads(floors_path.read_text(encoding="utf-8"))
    failures = []
    for variant, metrics in floors.items():
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
    parser.add_argument("--split", choices=["dev", "heldout", "all"], default="dev")
    parser.add_argument("--pool", type=Path, default=DATA / "pool.jsonl")
    parser.add_argument("--queries", type=Path, default=DATA / "queries.jsonl")
    parser.add_argument("--out", type=Path, help="write the markdown table here too")
    parser.add_argument("--floors", type=Path, help="fail when a figure is below its floor (JSON)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    from memory_store.embedding.minilm import MiniLMEmbedder

    queries = [q for q in load_queries(args.queries) if args.split in ("all", q.split)]
    drafts = load_pool(args.pool)
    with tempfile.TemporaryDirectory(prefix="carryover-eval-") as workdir:
        results = run_variants(queries, drafts, MiniLMEmbedder(), Path(workdir))
    table = render(results, args.split)
    print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table + "\n", encoding="utf-8")
    if args.floors:
        failures = check_floors(results, args.floors)
        for failure in failures:
            print(f"FLOOR: {failure}", file=sys.stderr)
        if failures:
            return 1
    return 0
