"""The evaluation harness: it runs the hover's own searches, and its floors can fail."""

from __future__ import annotations

import json
from pathlib import Path

from carryover.pool.embedding.base import Embedder
from carryover.pool.jsonl import parse_object
from carryover.recall.moment import RecallOptions, probes_for
from carryover.recall.query import EditorContext
from carryover.recall.retrieve import line_probes
from carryover.recall.signals import sites_on_line
from eval.harness import (
    DATA,
    EvalQuery,
    Pools,
    check_floors,
    load_plain_lines,
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


def test_eval_queries_become_exactly_the_hovers_probes() -> None:
    context = EditorContext(
        language="python",
        code_line='API_TOKEN = os.environ["API_TOKEN"]',
        failing_command="python -m app.worker",
        error_line="KeyError: 'API_TOKEN'",
    )
    query = EvalQuery("q", "dev", context, ("a",), ())
    expected = line_probes(
        language="python",
        line_text=context.code_line or "",
        sites=sites_on_line([context.code_line or ""], 0),
        failing_command="python -m app.worker",
        failing_error_line="KeyError: 'API_TOKEN'",
        threshold=0.25,
        plain_threshold=0.45,
        k=10,
    )
    assert probes_for(moment_of(query), RecallOptions(k=10)) == expected


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
    languages), the Go trajectory is withheld by the guard, and an ordinary line shows nothing."""
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
    pools = Pools.build(drafts, minilm, tmp_path)
    context = EditorContext(
        language="python",
        code_line='price = prices.get(sku)["amount"]',
        failing_command="pytest -q",
        error_line="TypeError: 'NoneType' object is not subscriptable",
    )
    query = EvalQuery("q1", "dev", context, ("ins-go-absent",), ("traj-go-nil",))
    plain = [EvalQuery("p1", "plain", EditorContext(language="rust", code_line="fn main() {"), (), ())]
    (carryover,) = [variant for variant in VARIANTS if variant.name == "carryover"]
    results = run_variants([query], pools, thresholds=(0.25, 0.45), plain_lines=plain, variants=[carryover])
    scores = results["carryover"]
    assert (scores.recall3, scores.cross_recall3, scores.harmful3, scores.quiet) == (1.0, 1.0, 0.0, 1.0)
