"""The evaluation harness: it runs the hover's own searches, and its floors can fail."""

from __future__ import annotations

import json
from pathlib import Path

import attrs

from carryover.pool.embedding.base import Embedder
from carryover.pool.jsonl import parse_object
from carryover.recall.moment import context_of
from carryover.recall.query import EditorContext
from carryover.recall.ranker import load_model
from carryover.vocabulary import languages
from eval.harness import (
    BLIND,
    DATA,
    EvalQuery,
    Split,
    build_pool,
    check_floors,
    eval_config,
    load_blind,
    load_plain_lines,
    load_pool,
    load_queries,
    moment_of,
    run_variants,
)
from eval.metrics import Scores
from eval.variants import VARIANTS


def test_the_set_loads_with_its_splits() -> None:
    queries = load_queries(DATA / "queries.jsonl")
    assert {query.split for query in queries} == {"dev", "heldout"}
    assert sum(query.split == "dev" for query in queries) >= 60
    assert len(load_plain_lines(DATA / "plain_lines.jsonl")) >= 40


def test_eval_queries_become_the_hovers_moment() -> None:
    context = EditorContext(
        language="python",
        code_line='API_TOKEN = os.environ["API_TOKEN"]',
        failing_command="python -m app.worker",
        error_line="KeyError: 'API_TOKEN'",
    )
    moment = moment_of(context)
    assert moment.line_text == context.code_line and moment.language == "python"
    assert moment.failed_run is not None and moment.failed_run.telling_line == "KeyError: 'API_TOKEN'"
    assert context_of(moment) == attrs.evolve(context, tools=())


def test_the_blind_split_loads_as_server_moments(tmp_path: Path) -> None:
    """Blind moments carry the document, the line's diagnostics, the failed run's output (its telling
    line picked by the product's picker) and a workspace holding the moment's files."""
    moments = load_blind(BLIND / "moments.jsonl", tmp_path)
    plain = load_blind(BLIND / "plain.jsonl", tmp_path, "plain")
    assert len(moments) >= 60 and len(plain) >= 40
    assert all(query.relevant for query in moments) and not any(query.relevant for query in plain)
    first = next(query for query in moments if query.id == "bm-001")
    assert first.moment.failed_run is not None and "checksum mismatch" in first.moment.failed_run.output
    assert first.moment.workspace is not None and (Path(first.moment.workspace) / "go.sum").is_file()
    assert all(not query.moment.diagnostics and query.moment.failed_run is None for query in plain)


def test_dev_labels_follow_the_procedure_rule() -> None:
    """No trajectory or workflow from another ecosystem is labelled relevant (eval/data/blind/README)."""
    pool = {draft.id: draft for draft in load_pool(DATA / "pool.jsonl")}
    for query in load_queries(DATA / "queries.jsonl"):
        for memory_id in query.relevant:
            memory = pool[memory_id]
            if memory.kind.value in ("trajectory", "workflow"):
                assert any(
                    languages.same_ecosystem(query.moment.language, other) for other in memory.languages
                ), (query.id, memory_id)


def test_floors_fail_below_and_pass_above(tmp_path: Path) -> None:
    floors = tmp_path / "floors.json"
    floors.write_text(json.dumps({"_note": "x", "carryover": {"min_recall3": 0.5, "max_harmful3": 0.1}}))
    good = Scores(queries=3, recall3=0.6, mrr=0.7, cross_recall3=0.5, harmful3=0.0, trap_queries=1)
    bad = Scores(queries=3, recall3=0.4, mrr=0.7, cross_recall3=0.5, harmful3=0.5, trap_queries=1)
    assert check_floors({"carryover": good}, floors) == []
    failures = check_floors({"carryover": bad}, floors)
    assert len(failures) == 2 and "below the floor 0.5" in failures[0] and "above the ceiling" in failures[1]
    assert check_floors({}, floors) == ["carryover: not run"]


def test_a_tiny_set_through_the_product(tmp_path: Path, minilm: Embedder) -> None:
    """Three memories: the Go insight about absent values is found for a Python None error (across
    languages), the Go trajectory is withheld (a procedure from another ecosystem), and an ordinary
    line shows nothing (no evidence of a problem)."""
    rows = [
        {
            "id": "ins-go-absent",
            "kind": "insight",
            "title": "Handle absent values where they are produced",
            "description": "A lookup that can find nothing returns an explicit absence the caller checks.",
            "content": "Check for a missing value right after the lookup instead of where it crashes.",
            "languages": ["go"],
            "outcome": "success",
        },
        {
            "id": "traj-go-nil",
            "kind": "trajectory",
            "title": "go test panics on a nil map entry",
            "description": "panic: runtime error: invalid memory address or nil pointer dereference",
            "content": "$ go test ./...\npanic: runtime error: invalid memory address",
            "languages": ["go"],
            "tools": ["go"],
            "outcome": "success",
        },
        {
            "id": "ins-docker-context",
            "kind": "insight",
            "title": "The build context is the boundary of what a container build can see",
            "description": "Files outside the context or ignored by the ignore file cannot be copied.",
            "content": "Check the context and the ignore file before changing paths in the build file.",
            "languages": ["dockerfile"],
            "outcome": "success",
        },
    ]
    drafts = [parse_object(row, source="test")[0] for row in rows]
    config = eval_config(tmp_path)
    pool = build_pool(tmp_path / "pool", drafts, minilm, config)
    context = EditorContext(
        language="python",
        code_line='price = prices.get(sku)["amount"]',
        failing_command="pytest -q",
        error_line="TypeError: 'NoneType' object is not subscriptable",
    )
    query = EvalQuery("q1", "dev", moment_of(context), ("ins-go-absent",), ("traj-go-nil",), context)
    line = EditorContext(language="rust", code_line="fn main() {")
    plain = (EvalQuery("p1", "plain", moment_of(line), (), (), line),)
    (carryover,) = [variant for variant in VARIANTS if variant.name == "carryover"]
    split = Split("dev", (query,), plain, pool)
    results = run_variants(split, {",".join(carryover.drop): load_model()}, variants=[carryover])
    scores = results["carryover"]
    assert (scores.recall3, scores.cross_recall3, scores.harmful3, scores.quiet) == (1.0, 1.0, 0.0, 1.0)
