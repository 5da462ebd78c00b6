"""The variants the evaluation compares: the product as the hover shows it, and its ablations."""

from __future__ import annotations

from typing import Any

import attrs

from carryover.pool.records import Kind

FLAT = {"insight_weight": 1.0, "summary_weight": 1.0, "workflow_weight": 1.0, "trajectory_weight": 1.0}
PLAIN = {**FLAT, "transfer_guard": False, "plan_weight": 0.0}


@attrs.frozen
class Variant:
    name: str
    description: str
    ranking: dict[str, Any] = attrs.field(factory=dict)
    mode: str = "ranker"  # ranker | legacy | bm25
    kinds: tuple[Kind, ...] = ()
    evidence: bool = True
    """Speak only where the moment carries a problem (the product's rule)."""
    threshold: bool = True
    """Legacy mode: apply its similarity floors."""
    drop: tuple[str, ...] = ()
    """Ranker mode: features left out (the model is trained without them)."""
    product: bool = False
    """The row the aims and the floors are about."""


VARIANTS = (
    Variant(
        "carryover",
        "the product: learned ranker, speaks only on evidence (diagnostic, failed run, code situation)",
        product=True,
    ),
    Variant("carryover-ungated", "the learned ranker on every moment (no evidence rule)", evidence=False),
    Variant("ranker-no-bm25", "the ranker trained without BM25", drop=("bm25",), evidence=False),
    Variant(
        "ranker-no-plan", "the ranker trained without the plan", drop=("cos_plan", "has_plan"), evidence=False
    ),
    Variant(
        "ranker-no-family",
        "the ranker trained without problem-kind agreement",
        drop=("family_shared", "family_differs"),
        evidence=False,
    ),
    Variant(
        "ranker-no-language",
        "the ranker trained without the language relation",
        drop=("lang_same", "lang_ecosystem", "lang_other", "lang_none"),
        evidence=False,
    ),
    Variant("legacy", "before issue 13: hand-set weights, plan 0.75, cosine floors 0.25/0.45", mode="legacy"),
    Variant("legacy-unthresholded", "the same without the floors", mode="legacy", threshold=False),
    Variant("bm25", "BM25 over title, description and content", mode="bm25", evidence=False),
    Variant(
        "vector-only",
        "cosine to the moment's text only: no plan, guard or weights (`carryover search` on raw text)",
        mode="legacy",
        ranking=PLAIN,
        threshold=False,
    ),
    *(
        Variant(
            f"only-{kind.value}",
            f"the ranker over {kind.value} memories only (no evidence rule)",
            kinds=(kind,),
            evidence=False,
        )
        for kind in Kind
    ),
)
