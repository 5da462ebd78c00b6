"""Runs the evaluation splits through the hover's own retrieval (``recall.suggest``), with
ablations, side by side: dev and held-out (eval/data) and blind (eval/data/blind, report only).

python -m eval [--split dev|heldout|blind|all ...] [--report DIR] [--floors eval/floors.json]
python -m eval train            # cross-validated on dev; writes carryover/recall/ranker.json
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from carryover.pool.config import StoreConfig, load_config
from carryover.pool.embedding.base import CachedEmbedder, Embedder
from carryover.pool.jsonl import parse_object
from carryover.pool.records import MemoryDraft
from carryover.pool.store import MemoryStore
from carryover.recall import ranker
from carryover.recall.moment import (
    PLAIN_LINE_THRESHOLD,
    RELEVANCE_THRESHOLD,
    Diagnostic,
    FailedRun,
    Moment,
    Ranked,
    RecallOptions,
    candidates_for,
    context_of,
    rank_candidates,
    suggest,
)
from carryover.recall.query import EditorContext, query_text
from carryover.vocabulary import languages
from eval.bm25 import BM25
from eval.metrics import Judgement, Scores, score
from eval.report import render
from eval.variants import PRODUCT_DROP, VARIANTS, Variant

DATA = Path(__file__).resolve().parent / "data"
BLIND = DATA / "blind"
logger = logging.getLogger(__name__)

RANKED = 10
"""How many memories each retriever ranks (MRR looks this deep; the metrics @3 only at the top 3)."""
FOLDS = 5
GRID = {"l2": (0.3, 1.0, 3.0, 10.0), "misleading_weight": (1.0, 3.0)}
"""Hyperparameters chosen by cross-validation on dev (never on held-out or blind)."""


@attrs.frozen
class EvalQuery:
    id: str
    split: str
    moment: Moment
    relevant: tuple[str, ...]
    misleading: tuple[str, ...]
    context: EditorContext | None = None

    @property
    def text(self) -> str:
        return query_text(context_of(self.moment))


def moment_of(query: EvalQuery | EditorContext) -> Moment:
    """The editor moment a dev query describes: its code line as the line in question, its
    diagnostic on that line, its failing command (with the error line) as the last failure."""
    context = query.context if isinstance(query, EvalQuery) else query
    if context is None:
        assert isinstance(query, EvalQuery)
        return query.moment
    failed = None
    if context.failing_command:
        failed = FailedRun(context.failing_command, error_line=context.error_line)
    return Moment(
        language=context.language,
        lines=(context.code_line or "",),
        line=0,
        diagnostics=(Diagnostic(context.diagnostic),) if context.diagnostic else (),
        failed_run=failed,
    )


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
                moment=moment_of(context),
                relevant=tuple(raw["relevant"]),
                misleading=tuple(raw.get("misleading") or ()),
                context=context,
            )
        )
    return queries


def load_plain_lines(path: Path) -> list[EvalQuery]:
    """Ordinary lines of code (no problem on them): the hover should show nothing there."""
    lines = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            raw = json.loads(line)
            context = EditorContext(language=raw["language"], code_line=raw["code_line"])
            lines.append(EvalQuery(f"plain-{number}", "plain", moment_of(context), (), (), context))
    return lines


def blind_moment(raw: dict[str, object], workspaces: Path) -> Moment:
    """A blind moment as the server would see it: the document, the hovered line, the diagnostics
    on that line, the failed run with its output, and a workspace folder holding its files."""
    line = int(str(raw["line"]))
    diagnostics = tuple(
        Diagnostic(str(item["message"]), str(item.get("source") or ""), str(item.get("code") or ""))
        for item in raw.get("diagnostics") or []  # type: ignore[attr-defined]
        if int(item.get("line", line)) == line
    )
    run = raw.get("failed_run")
    failed = None
    if isinstance(run, dict):
        failed = FailedRun(str(run["command"]), str(run.get("output") or ""), run.get("exit_code", 1))
    workspace = workspaces / str(raw["id"])
    for name, content in dict(raw.get("workspace_files") or {}).items():  # type: ignore[call-overload]
        target = workspace / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(str(content), encoding="utf-8")
    workspace.mkdir(parents=True, exist_ok=True)
    return Moment(
        language=str(raw["language"]),
        lines=tuple(str(item) for item in raw["document"]),  # type: ignore[attr-defined]
        line=line,
        diagnostics=diagnostics,
        failed_run=failed,
        workspace=str(workspace),
    )


def load_blind(path: Path, workspaces: Path, split: str = "blind") -> list[EvalQuery]:
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            raw = json.loads(line)
            found.append(
                EvalQuery(
                    id=raw["id"],
                    split=split,
                    moment=blind_moment(raw, workspaces),
                    relevant=tuple(raw.get("relevant") or ()),
                    misleading=tuple(raw.get("misleading") or ()),
                )
            )
    return found


def load_pool(path: Path) -> list[MemoryDraft]:
    drafts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            draft, _status = parse_object(json.loads(line), source="eval")
            drafts.append(draft)
    return drafts


@attrs.frozen
class Pool:
    """A pool built from a split's memories, with the mapping from the set's ids to stored ids (a
    memory that deduplication merged into another is judged as the one it merged into)."""

    store: MemoryStore
    alias: dict[str, str]
    languages: dict[str, tuple[str, ...]]
    texts: dict[str, str]

    def with_ranking(self, overrides: dict[str, Any]) -> MemoryStore:
        ranking = attrs.evolve(self.store.config.ranking, **overrides)
        return MemoryStore(attrs.evolve(self.store.config, ranking=ranking), self.store.embedder)


def build_pool(
    directory: Path, drafts: Sequence[MemoryDraft], embedder: Embedder, config: StoreConfig
) -> Pool:
    store = MemoryStore(attrs.evolve(config, pool_dir=directory), embedder)
    results = store.add_many(drafts)
    alias = {draft.id or draft.content_id(): result.id for draft, result in zip(drafts, results, strict=True)}
    langs = {draft.id or "": draft.languages for draft in drafts}
    texts = {
        result.id: f"{draft.title}\n{draft.description}\n{draft.content}"
        for draft, result in zip(drafts, results, strict=True)
        if result.action == "added"
    }
    return Pool(store=store, alias=alias, languages=langs, texts=texts)


def judgement(query: EvalQuery, pool: Pool) -> Judgement:
    language = languages.canonical(query.moment.language)
    relevant = frozenset(pool.alias[item] for item in query.relevant if item in pool.alias)
    cross = frozenset(
        pool.alias[item]
        for item in query.relevant
        if item in pool.alias
        and language not in {languages.canonical(other) for other in pool.languages.get(item, ())}
    )
    misleading = frozenset(pool.alias[item] for item in query.misleading if item in pool.alias) - relevant
    return Judgement(relevant=relevant, cross_language=cross, misleading=misleading)


Retriever = Callable[[EvalQuery], list[str]]


@attrs.frozen
class Split:
    """One split: its queries, its ordinary lines and the pool they are judged against."""

    name: str
    queries: tuple[EvalQuery, ...]
    plain: tuple[EvalQuery, ...]
    pool: Pool


def labels_of(ranked: Ranked, query: EvalQuery, pool: Pool) -> tuple[np.ndarray, np.ndarray]:
    truth = judgement(query, pool)
    ids = [memory.id for memory in ranked.memories]
    labels = np.array([1.0 if memory_id in truth.relevant else 0.0 for memory_id in ids])
    misleading = np.array([1.0 if memory_id in truth.misleading else 0.0 for memory_id in ids])
    return labels, misleading


def dropped(rows: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """``rows`` with the named features zeroed (a model trained so ignores them)."""
    if not names:
        return rows
    out = rows.copy()
    for name in names:
        out[:, ranker.FEATURES.index(name)] = 0.0
    return out


@attrs.frozen
class Training:
    """The candidates and labels of the dev queries, the folds, and the chosen hyperparameters."""

    ranked: dict[str, Ranked]
    labels: dict[str, tuple[np.ndarray, np.ndarray]]
    folds: dict[str, int]
    l2: float = 1.0
    misleading_weight: float = 1.0

    def fit(self, ids: Sequence[str], drop: Sequence[str] = (), **params: float) -> ranker.RankerModel:
        l2 = params.get("l2", self.l2)
        weight = params.get("misleading_weight", self.misleading_weight)
        rows = np.vstack([dropped(self.ranked[i].rows, drop) for i in ids if len(self.ranked[i].rows)])
        labels = np.concatenate([self.labels[i][0] for i in ids if len(self.ranked[i].rows)])
        traps = np.concatenate([self.labels[i][1] for i in ids if len(self.ranked[i].rows)])
        return ranker.fit(
            rows, labels, 1.0 + (weight - 1.0) * traps, l2=l2, trained_on=f"dev ({len(ids)} queries)"
        )

    def out_of_fold(self, drop: Sequence[str] = (), **params: float) -> dict[str, ranker.RankerModel]:
        """For each dev query, a model trained on the other folds."""
        models = {}
        for fold in range(FOLDS):
            train = [i for i, f in self.folds.items() if f != fold]
            model = self.fit(train, drop, **params)
            models.update({i: model for i, f in self.folds.items() if f == fold})
        return models


def prepare_training(queries: Sequence[EvalQuery], pool: Pool) -> Training:
    options = RecallOptions(k=RANKED, evidence=False, feedback=False)
    ranked: dict[str, Ranked] = {}
    labels = {}
    for query in queries:
        found = candidates_for(pool.store, query.moment, options)
        if found is None:
            continue
        ranked[query.id] = found
        labels[query.id] = labels_of(found, query, pool)
    ids = sorted(ranked)
    random.Random(20261203).shuffle(ids)
    folds = {query_id: index % FOLDS for index, query_id in enumerate(ids)}
    return Training(ranked, labels, folds)


def cv_objective(training: Training, queries: Sequence[EvalQuery], pool: Pool, **params: float) -> Scores:
    models = training.out_of_fold(PRODUCT_DROP, **params)
    runs = []
    for query in queries:
        if query.id not in training.ranked:
            continue
        found = training.ranked[query.id]
        found = attrs.evolve(found, rows=dropped(found.rows, PRODUCT_DROP))
        order = rank_candidates(found, RecallOptions(k=RANKED), models[query.id])
        runs.append(([s.memory_id for s in order], judgement(query, pool)))
    return score(runs)


def choose(training: Training, queries: Sequence[EvalQuery], pool: Pool) -> tuple[Training, list[str]]:
    """The hyperparameters with the best cross-validated Recall@3 − Harmful@3 on dev."""
    log = []
    best: tuple[float, float, float] | None = None
    for l2 in GRID["l2"]:
        for weight in GRID["misleading_weight"]:
            scores = cv_objective(training, queries, pool, l2=l2, misleading_weight=weight)
            objective = (scores.recall3 or 0.0) - (scores.harmful3 or 0.0)
            log.append(
                f"l2={l2:g} misleading_weight={weight:g}: CV R@3 {scores.recall3:.3f} "
                f"cross {scores.cross_recall3:.3f} Harmful@3 {scores.harmful3:.3f}"
            )
            if best is None or objective > best[0] + 1e-9:
                best = (objective, l2, weight)
    assert best is not None
    return attrs.evolve(training, l2=best[1], misleading_weight=best[2]), log


def ranker_retriever(
    split: Split, variant: Variant, models: dict[str, ranker.RankerModel] | ranker.RankerModel
) -> Retriever:
    """The hover's retrieval: ``suggest`` on the query's moment, with the model for this query
    (on dev the out-of-fold one, elsewhere the one trained on all of dev)."""

    def run(query: EvalQuery) -> list[str]:
        model = models if isinstance(models, ranker.RankerModel) else models.get(query.id)
        if model is None:  # a plain line: any fold's model
            model = next(iter(models.values())) if isinstance(models, dict) else models
        options = RecallOptions(
            k=RANKED, kinds=variant.kinds, evidence=variant.evidence, model=model, feedback=False
        )
        if variant.drop:
            found = candidates_for(split.pool.store, query.moment, options)
            if found is None or (options.evidence and not _speaks(query.moment)):
                return []
            found = attrs.evolve(found, rows=dropped(found.rows, variant.drop))
            return [s.memory_id for s in rank_candidates(found, options, model)]
        return [s.memory_id for s in suggest(split.pool.store, query.moment, options)]

    return run


def _speaks(moment: Moment) -> bool:
    from carryover.recall.moment import evidence_of

    return bool(evidence_of(moment))


def legacy_retriever(split: Split, variant: Variant) -> Retriever:
    store = split.pool.with_ranking(variant.ranking) if variant.ranking else split.pool.store
    options = RecallOptions(
        k=RANKED,
        threshold=RELEVANCE_THRESHOLD if variant.threshold else None,
        plain_threshold=PLAIN_LINE_THRESHOLD if variant.threshold else None,
        kinds=variant.kinds,
        evidence=False,
        learned=False,
    )
    return lambda query: [s.memory_id for s in suggest(store, query.moment, options)]


def bm25_retriever(pool: Pool) -> Retriever:
    ids = list(pool.texts)
    index = BM25([pool.texts[memory_id] for memory_id in ids])

    def run(query: EvalQuery) -> list[str]:
        scores = index.scores(query.text)
        order = sorted(range(len(ids)), key=lambda i: -scores[i])
        return [ids[i] for i in order[:RANKED] if scores[i] > 0]

    return run


def run_variants(
    split: Split,
    models: dict[str, dict[str, ranker.RankerModel] | ranker.RankerModel],
    variants: Sequence[Variant] = VARIANTS,
) -> dict[str, Scores]:
    """Every variant over one split. ``models`` maps a variant's dropped features (joined) to its
    model(s)."""
    results: dict[str, Scores] = {}
    for variant in variants:
        if variant.mode == "bm25":
            retriever = bm25_retriever(split.pool)
        elif variant.mode == "legacy":
            retriever = legacy_retriever(split, variant)
        else:
            retriever = ranker_retriever(split, variant, models[",".join(variant.drop)])
        runs = [(retriever(query), judgement(query, split.pool)) for query in split.queries if query.text]
        quiet = None
        if split.plain and (
            (variant.mode == "ranker" and variant.evidence)
            or (variant.mode == "legacy" and variant.threshold)
        ):
            quiet = sum(1 for line in split.plain if not retriever(line)) / len(split.plain)
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


def eval_config(workdir: Path) -> StoreConfig:
    return load_config(db=workdir / "unused", environ={"CARRYOVER_HOME": str(workdir / "home")})


def _train(training: Training, path: Path, log: Sequence[str]) -> int:
    model = training.fit(sorted(training.ranked), PRODUCT_DROP)
    model = attrs.evolve(
        model,
        trained_on=f"eval dev split, {len(training.ranked)} queries; l2={training.l2:g}, "
        f"misleading weight {training.misleading_weight:g} chosen by {FOLDS}-fold CV; "
        f"without {', '.join(PRODUCT_DROP)}",
    )
    model.save(path)
    print("\n".join(log))
    print(f"chosen: l2={training.l2:g} misleading_weight={training.misleading_weight:g}")
    print(f"wrote {path}")
    for name, weight in sorted(zip(ranker.FEATURES, model.weights, strict=True), key=lambda x: -abs(x[1])):
        print(f"  {name:16s} {weight:+.3f}")
    return 0


def _models(
    name: str, training: Training, shipped: ranker.RankerModel
) -> dict[str, dict[str, ranker.RankerModel] | ranker.RankerModel]:
    """Per ranker variant (by its dropped features): on dev the out-of-fold models, elsewhere the
    model trained on all of dev (the shipped one for the product's features)."""
    drops = dict.fromkeys(",".join(variant.drop) for variant in VARIANTS if variant.mode == "ranker")
    models: dict[str, dict[str, ranker.RankerModel] | ranker.RankerModel] = {}
    for drop in drops:
        names = tuple(item for item in drop.split(",") if item)
        if name == "dev":
            models[drop] = training.out_of_fold(names)
        else:
            models[drop] = shipped if names == PRODUCT_DROP else training.fit(sorted(training.ranked), names)
    return models


def _split(
    name: str, queries: Sequence[EvalQuery], dev_pool: Pool, blind_pool: Callable[[], Pool], workdir: Path
) -> Split:
    if name == "blind":
        return Split(
            name,
            tuple(load_blind(BLIND / "moments.jsonl", workdir / "workspaces")),
            tuple(load_blind(BLIND / "plain.jsonl", workdir / "workspaces", "plain")),
            blind_pool(),
        )
    plain = tuple(load_plain_lines(DATA / "plain_lines.jsonl"))
    return Split(name, tuple(q for q in queries if q.split == name), plain, dev_pool)


def _floors(by_split: dict[str, dict[str, Scores]], path: Path) -> int:
    if "dev" not in by_split:
        print("FLOOR: the floors are for the dev split; run with --split dev", file=sys.stderr)
        return 2
    failures = check_floors(by_split["dev"], path)
    for failure in failures:
        print(f"FLOOR: {failure}", file=sys.stderr)
    if failures:
        return 1
    print(f"floors: all dev figures within {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval", description=__doc__)
    parser.add_argument("command", nargs="?", choices=["run", "train"], default="run")
    parser.add_argument(
        "--split", action="append", choices=["dev", "heldout", "blind", "all"], help="repeatable; default dev"
    )
    parser.add_argument("--out", type=Path, help="write the markdown tables here too")
    parser.add_argument("--report", type=Path, help="write report.md and the plots into this folder")
    parser.add_argument("--floors", type=Path, help="fail when a dev figure passes its floor (JSON)")
    parser.add_argument("--model", type=Path, default=ranker.MODEL_PATH, help="the ranker model file")
    args = parser.parse_args(argv)
    splits = args.split or ["dev"]
    if "all" in splits:
        splits = ["dev", "heldout", "blind"]
    logging.basicConfig(level=logging.WARNING)

    from carryover.pool.embedding.minilm import MiniLMEmbedder

    embedder = CachedEmbedder(MiniLMEmbedder(), capacity=20000)
    queries = load_queries(DATA / "queries.jsonl")
    by_split: dict[str, dict[str, Scores]] = {}
    with tempfile.TemporaryDirectory(prefix="carryover-eval-") as workdir_name:
        workdir = Path(workdir_name)
        config = eval_config(workdir)
        dev_pool = build_pool(workdir / "dev", load_pool(DATA / "pool.jsonl"), embedder, config)
        dev = [query for query in queries if query.split == "dev"]
        training, log = choose(prepare_training(dev, dev_pool), dev, dev_pool)
        if args.command == "train":
            return _train(training, args.model, log)
        shipped = ranker.RankerModel.from_json(json.loads(args.model.read_text(encoding="utf-8")))
        blind: list[Pool] = []

        def blind_pool() -> Pool:
            if not blind:
                blind.append(build_pool(workdir / "blind", load_pool(BLIND / "pool.jsonl"), embedder, config))
            return blind[0]

        for name in splits:
            split = _split(name, queries, dev_pool, blind_pool, workdir)
            by_split[name] = run_variants(split, _models(name, training, shipped))
        if args.report:
            from eval.report import write_report

            write_report(args.report, by_split, dev_pool.store, VARIANTS)
    tables = render(by_split)
    print(tables)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(tables + "\n", encoding="utf-8")
    if args.report:
        print(f"report: {args.report / 'report.md'}")
    return _floors(by_split, args.floors) if args.floors else 0
