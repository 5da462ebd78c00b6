"""Feedback replayed over a split: the user rejects the look-alikes shown for a third of the
moments; the other two thirds are scored before and after (Harmful@3, Recall@3).

Two ways the product uses a rejection, measured apart: the memory is never shown again in that pool
(its status), and the pool's feedback correction of the ranker learns from the features the memory
was shown with (:class:`carryover.recall.ranker.FeedbackModel`), which moves other look-alikes too.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

import attrs
import numpy as np

from carryover.pool.config import StoreConfig
from carryover.pool.embedding.base import Embedder
from carryover.recall import ranker
from carryover.recall.moment import RecallOptions, candidates_for, rank_candidates
from eval.harness import (
    BLIND,
    DATA,
    RANKED,
    EvalQuery,
    Pool,
    Training,
    build_pool,
    choose,
    eval_config,
    judgement,
    load_blind,
    load_pool,
    load_queries,
    prepare_training,
)
from eval.metrics import Scores, score
from eval.variants import PRODUCT_DROP


def _scores(
    queries: Sequence[EvalQuery],
    pool: Pool,
    models: dict[str, ranker.RankerModel] | ranker.RankerModel,
    correction: ranker.FeedbackModel | None,
) -> Scores:
    runs = []
    options = RecallOptions(k=RANKED, feedback=False)
    for query in queries:
        model = models if isinstance(models, ranker.RankerModel) else models[query.id]
        found = candidates_for(pool.store, query.moment, options)
        ranked = [] if found is None else rank_candidates(found, options, model, correction)
        runs.append(([s.memory_id for s in ranked], judgement(query, pool)))
    return score(runs)


def replay_split(
    queries: Sequence[EvalQuery], pool: Pool, models: dict[str, ranker.RankerModel] | ranker.RankerModel
) -> list[tuple[str, Scores]]:
    ordered = sorted(queries, key=lambda query: query.id)
    given = [query for index, query in enumerate(ordered) if index % 3 == 0]
    rest = [query for index, query in enumerate(ordered) if index % 3 != 0]
    before = _scores(rest, pool, models, None)
    correction = ranker.FeedbackModel()
    rejected: set[str] = set()
    options = RecallOptions(k=3, feedback=False)
    for query in given:
        model = models if isinstance(models, ranker.RankerModel) else models[query.id]
        found = candidates_for(pool.store, query.moment, options)
        if found is None:
            continue
        truth = judgement(query, pool)
        shown = rank_candidates(found, options, model)
        for suggestion in shown:
            if suggestion.memory_id in truth.misleading and suggestion.memory_id not in rejected:
                index = [memory.id for memory in found.memories].index(suggestion.memory_id)
                others = np.delete(found.rows, index, axis=0)
                correction.learn(model, found.rows[index], 0.0, others)
                rejected.add(suggestion.memory_id)
    learned_only = _scores(rest, pool, models, correction)
    for memory_id in rejected:
        pool.store.reject(memory_id, "replayed feedback")
    rejected_only = _scores(rest, pool, models, None)
    both = _scores(rest, pool, models, correction)
    return [
        (f"before ({len(rest)} moments)", before),
        (f"model correction only ({correction.events} rejections)", learned_only),
        (f"rejected memories hidden ({len(rejected)})", rejected_only),
        ("both (the product)", both),
    ]


def replay(
    training: Training,
    queries: Sequence[EvalQuery],
    *,
    workdir: Path,
    embedder: Embedder,
    config: StoreConfig,
    shipped: ranker.RankerModel,
    splits: Sequence[str],
) -> str:
    lines = ["| split | step | R@3 | cross R@3 | Harm@3 |", "| --- | --- | --- | --- | --- |"]
    for name in splits:
        if name == "blind":
            pool = build_pool(workdir / "replay-blind", load_pool(BLIND / "pool.jsonl"), embedder, config)
            chosen = load_blind(BLIND / "moments.jsonl", workdir / "replay-workspaces")
            models: dict[str, ranker.RankerModel] | ranker.RankerModel = shipped
        else:
            pool = build_pool(workdir / f"replay-{name}", load_pool(DATA / "pool.jsonl"), embedder, config)
            chosen = [query for query in queries if query.split == name]
            models = training.out_of_fold(PRODUCT_DROP) if name == "dev" else shipped
        pool = attrs.evolve(pool)
        for step, scores in replay_split(chosen, pool, models):
            lines.append(
                f"| {name} | {step} | {scores.recall3:.3f} | {scores.cross_recall3:.3f} | "
                f"{scores.harmful3:.3f} |"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval replay", description=__doc__)
    parser.add_argument("command", choices=["replay"])
    parser.add_argument("--split", action="append", choices=["dev", "heldout", "blind"])
    parser.add_argument("--model", type=Path, default=ranker.MODEL_PATH)
    args = parser.parse_args(argv)
    from carryover.pool.embedding.base import CachedEmbedder
    from carryover.pool.embedding.minilm import MiniLMEmbedder

    embedder = CachedEmbedder(MiniLMEmbedder(), capacity=20000)
    queries = load_queries(DATA / "queries.jsonl")
    shipped = ranker.RankerModel.from_json(json.loads(args.model.read_text(encoding="utf-8")))
    with tempfile.TemporaryDirectory(prefix="carryover-replay-") as name:
        workdir = Path(name)
        config = eval_config(workdir)
        dev_pool = build_pool(workdir / "dev", load_pool(DATA / "pool.jsonl"), embedder, config)
        dev = [query for query in queries if query.split == "dev"]
        training, _log = choose(prepare_training(dev, dev_pool), dev, dev_pool)
        print(
            replay(
                training,
                queries,
                workdir=workdir,
                embedder=embedder,
                config=config,
                shipped=shipped,
                splits=args.split or ["dev"],
            )
        )
    return 0
