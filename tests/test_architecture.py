"""The architecture invariants of docs/ARCHITECTURE.md, checked on the source: imports run one way
between the layers, and no module imports itself round a circle."""

from __future__ import annotations

from scripts.import_graph import LAYERS, circles, graph, layer_violations, lsp_outside_lsp, modules


def test_no_import_circles() -> None:
    assert circles(graph(modules())) == []


def test_layers_import_only_downwards() -> None:
    assert layer_violations(graph(modules())) == []


def test_only_the_lsp_layer_knows_lsp() -> None:
    assert lsp_outside_lsp(modules()) == []


def test_the_checker_sees_a_circle_and_a_broken_layer() -> None:
    edges = {
        "carryover.recall.a": {"carryover.pipeline.b"},
        "carryover.pipeline.b": {"carryover.recall.a"},
        "carryover.vocabulary.c": set(),
    }
    assert circles(edges) == [["carryover.pipeline.b", "carryover.recall.a"]]
    broken = layer_violations(edges)
    assert any("recall may not import carryover.pipeline" in line for line in broken)
    assert set(LAYERS["carryover.vocabulary"]) == set()
