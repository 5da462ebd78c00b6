"""The learned ranking: its features, its model file, the feedback correction, and suggest's rules
(evidence decides whether to speak; procedures from another ecosystem are withheld)."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from carryover.pool.config import load_config
from carryover.pool.embedding.base import Embedder
from carryover.pool.records import Kind, Memory, MemoryDraft, Outcome, Provenance, Scope, Status
from carryover.pool.store import MemoryStore
from carryover.recall import ranker
from carryover.recall.moment import Diagnostic, FailedRun, Moment, RecallOptions, evidence_of, suggest


def memory(kind: Kind, languages: tuple[str, ...], **fields: object) -> Memory:
    base: dict[str, object] = {
        "id": "m",
        "kind": kind,
        "title": "t",
        "description": "",
        "content": "",
        "outcome": Outcome.SUCCESS,
        "languages": languages,
        "tools": (),
        "scope": Scope.GLOBAL,
        "status": Status.ACTIVE,
        "when_not": "",
        "check_command": "",
        "provenance": Provenance(),
        "created_at": datetime(2026, 1, 1),
        "updated_at": datetime(2026, 1, 1),
        "helpful": 0,
        "unhelpful": 0,
        "merged_count": 0,
        "reject_reason": "",
        "embedder": "x",
    }
    base.update(fields)
    return Memory(**base)  # type: ignore[arg-type]


def test_language_relation_uses_ecosystems() -> None:
    assert ranker.language_relation("typescriptreact", memory(Kind.WORKFLOW, ("javascript",))) == "ecosystem"
    assert ranker.language_relation("python", memory(Kind.INSIGHT, ("python",))) == "same"
    assert ranker.language_relation("go", memory(Kind.INSIGHT, ("rust",))) == "other"
    assert ranker.language_relation(None, memory(Kind.INSIGHT, ("rust",))) == "none"


def test_bm25_prefers_the_document_sharing_rarer_words() -> None:
    scores = ranker.bm25_scores(
        "checksum mismatch", ["a checksum mismatch here", "nothing alike", "mismatch"]
    )
    assert scores[0] > scores[2] > scores[1] == 0.0


def test_feature_rows_name_what_they_hold() -> None:
    signals = ranker.MomentSignals("python", "checksum mismatch", True, frozenset({"absent-value"}))
    rows = ranker.feature_rows(
        signals,
        [memory(Kind.INSIGHT, ("go",), content="checksum mismatch", helpful=3, status=Status.PINNED)],
        np.array([[0.4, 0.6]]),
        [frozenset({"absent-value"})],
    )
    row = dict(zip(ranker.FEATURES, rows[0], strict=True))
    assert row["cos_text"] == pytest.approx(0.4) and row["cos_plan"] == pytest.approx(0.6)
    assert row["kind_insight"] == 1.0 and row["lang_other"] == 1.0 and row["family_shared"] == 1.0
    assert row["bm25"] == 1.0 and row["pinned"] == 1.0 and row["votes"] == pytest.approx(0.6)


def test_fit_learns_a_separable_feature_and_the_model_round_trips(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(400, len(ranker.FEATURES)))
    labels = (rows[:, 0] > 0).astype(float)
    model = ranker.fit(rows, labels, l2=1.0)
    assert model.weights[0] > 2.0 and max(abs(w) for w in model.weights[1:]) < 0.5
    path = tmp_path / "model.json"
    model.save(path)
    assert ranker.RankerModel.from_json(json.loads(path.read_text())) == model
    broken = dict(model.to_json(), features=["cos_text"])
    with pytest.raises(ValueError, match="features"):
        ranker.RankerModel.from_json(broken)


def test_the_shipped_model_loads_and_explains() -> None:
    model = ranker.load_model()
    assert model.features == ranker.FEATURES and "dev" in model.trained_on
    row = np.zeros(len(ranker.FEATURES))
    row[ranker.FEATURES.index("cos_plan")] = 0.9
    row[ranker.FEATURES.index("has_plan")] = 1.0
    why = ranker.explain(model, row, "other", "go")
    assert why.startswith("transferred from go")


def test_a_rejection_lowers_what_it_was_shown_with_and_persists(tmp_path: Path) -> None:
    model = ranker.load_model()
    column = ranker.FEATURES.index
    row = np.zeros(len(ranker.FEATURES))
    row[column("kind_workflow")] = 1.0
    row[column("bm25")] = 1.0
    other = np.zeros(len(ranker.FEATURES))
    other[column("kind_insight")] = 1.0
    other[column("bm25")] = 0.9
    correction = ranker.FeedbackModel()
    before = float(model.logits(row[None, :])[0] - model.logits(other[None, :])[0])
    correction.learn(model, row, 0.0, other[None, :])
    after = float(
        model.logits(row[None, :], correction.delta)[0] - model.logits(other[None, :], correction.delta)[0]
    )
    assert after < before  # the rejected memory fell against the moment's other candidate
    for name in ranker.SIMILARITY_FEATURES:  # closeness still counts as much as before
        assert correction.delta[column(name)] == 0.0
    correction.save(tmp_path)
    loaded = ranker.FeedbackModel.load(tmp_path)
    assert loaded.events == 1 and np.allclose(loaded.delta, correction.delta)
    (tmp_path / ranker.FEEDBACK_FILE).write_text("not json")
    assert ranker.FeedbackModel.load(tmp_path).events == 0


def test_a_pin_raises_the_memory_against_the_others_and_a_lone_candidate_teaches_nothing() -> None:
    model = ranker.load_model()
    column = ranker.FEATURES.index
    row = np.zeros(len(ranker.FEATURES))
    row[column("kind_summary")] = 1.0
    others = np.zeros((3, len(ranker.FEATURES)))
    others[:, column("kind_insight")] = 1.0
    correction = ranker.FeedbackModel()
    before = float(model.logits(row[None, :])[0] - model.logits(others[:1])[0])
    correction.learn(model, row, 1.0, others)
    assert (
        float(model.logits(row[None, :], correction.delta)[0] - model.logits(others[:1], correction.delta)[0])
        > before
    )
    alone = ranker.FeedbackModel()
    alone.learn(model, row, 1.0, np.zeros((0, len(ranker.FEATURES))))
    assert alone.events == 0 and not alone.delta.any()


def test_a_correction_saved_for_other_features_keeps_the_ones_still_there(tmp_path: Path) -> None:
    names = list(ranker.FEATURES)
    saved = {"features": ["retired", *names[1:]], "delta": [9.0, *([0.25] * (len(names) - 1))], "events": 4}
    (tmp_path / ranker.FEEDBACK_FILE).write_text(json.dumps(saved), encoding="utf-8")
    loaded = ranker.FeedbackModel.load(tmp_path)
    assert loaded.events == 4
    assert loaded.delta[0] == 0.0 and np.all(loaded.delta[1:] == 0.25)
    saved["delta"] = [float("nan")] * len(names)
    saved["features"] = names
    (tmp_path / ranker.FEEDBACK_FILE).write_text(json.dumps(saved), encoding="utf-8")
    assert ranker.FeedbackModel.load(tmp_path).events == 0


def _learn_many(directory: str, times: int, ready: Any) -> None:
    model = ranker.load_model()
    row = np.zeros(len(ranker.FEATURES))
    row[ranker.FEATURES.index("kind_summary")] = 1.0
    others = np.zeros((2, len(ranker.FEATURES)))

    def slow_step(correction: ranker.FeedbackModel) -> None:
        correction.learn(model, row, 0.0, others)
        time.sleep(0.005)  # between reading the file and writing it back: where a lost update happens

    ready.wait(60)
    for _ in range(times):
        ranker.FeedbackModel.update(Path(directory), slow_step)


def test_two_processes_learning_on_one_pool_lose_no_event(tmp_path: Path) -> None:
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(3)
    workers = [context.Process(target=_learn_many, args=(str(tmp_path), 20, ready)) for _ in range(2)]
    for worker in workers:
        worker.start()
    _learn_many(str(tmp_path), 20, ready)
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    assert ranker.FeedbackModel.load(tmp_path).events == 60


def test_evidence_is_a_diagnostic_a_failed_run_or_a_code_situation() -> None:
    assert not evidence_of(Moment(language="python", lines=("import os",)))
    assert evidence_of(Moment(lines=("x",), diagnostics=(Diagnostic("E"),)))
    assert evidence_of(Moment(lines=("x",), failed_run=FailedRun("pytest", "boom")))
    assert evidence_of(Moment(language="python", lines=('os.system("rm -rf " + path)',)))


def test_suggest_speaks_on_evidence_and_withholds_foreign_procedures(
    tmp_path: Path, minilm: Embedder
) -> None:
    config = load_config(db=tmp_path / "pool", environ={"CARRYOVER_HOME": str(tmp_path / "home")})
    store = MemoryStore(config, minilm)
    store.add_many(
        [
            MemoryDraft(
                kind=Kind.INSIGHT,
                title="Handle absent values where they are produced",
                description="A lookup that can find nothing returns an explicit absence the caller checks.",
                languages=("go",),
            ),
            MemoryDraft(
                kind=Kind.WORKFLOW,
                title="Fix a nil pointer panic in go test",
                description="panic: runtime error: invalid memory address or nil pointer dereference",
                content="1. go test ./... 2. add a nil check",
                languages=("go",),
                tools=("go",),
            ),
        ]
    )
    plain = Moment(language="python", lines=('price = prices.get(sku)["amount"]',))
    failing = Moment(
        language="python",
        lines=('price = prices.get(sku)["amount"]',),
        failed_run=FailedRun("pytest -q", "TypeError: 'NoneType' object is not subscriptable"),
    )
    found = suggest(store, failing, RecallOptions(feedback=False))
    assert [s.hit.memory.title for s in found] == ["Handle absent values where they are produced"]
    assert found[0].hit.why.guard.startswith("transferred from go")
    assert 0.0 < found[0].hit.score < 1.0
    assert suggest(store, attrs_free_line(), RecallOptions(feedback=False)) == []
    assert suggest(store, plain, RecallOptions(feedback=False, evidence=False))  # a typed search answers


def attrs_free_line() -> Moment:
    return Moment(language="python", lines=("for i in range(10):",))
