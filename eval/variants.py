"""The variants the evaluation compares: the product as the hover shows it, and its ablations."""

from __future__ import annotations

from typing import Any

import attrs

from carryover.pool.records import Kind

FLAT = {"insight_weight": 1.0, "summary_weight": 1.0, "workflow_weight": 1.0, "trajectory_weight": 1.0}
PLAIN = {**FLAT, "transfer_guard": False, "plan_weight": 0.0}
PRODUCT_DROP = ("family_shared", "family_differs")
"""Features the shipped model is trained without. Problem-kind agreement (the regex families, written
on dev) was left out on 2026-12-03: without it the cross-validated dev objective (R@3 - Harmful@3)
rose .558 -> .573 and held-out's .342 -> .449 (eval/README.md); the plan the families write stays."""


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
        drop=PRODUCT_DROP,
        product=True,
    ),
    Variant(
        "carryover-ungated",
        "the learned ranker on every moment (no evidence rule)",
        drop=PRODUCT_DROP,
        evidence=False,
    ),
    Variant(
        "ranker-no-bm25", "the ranker trained without BM25", drop=(*PRODUCT_DROP, "bm25"), evidence=False
    ),
    Variant(
        "ranker-no-plan",
        "the ranker trained without the plan",
        drop=(*PRODUCT_DROP, "cos_plan", "has_plan"),
        evidence=False,
    ),
    Variant(
        "ranker-with-family",
        "the ranker trained with problem-kind agreement too (the shipped one before 2026-12-03)",
        evidence=False,
    ),
    Variant(
        "ranker-no-language",
        "the ranker trained without the language relation",
        drop=(*PRODUCT_DROP, "lang_same", "lang_ecosystem", "lang_other", "lang_none"),
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
            drop=PRODUCT_DROP,
            evidence=False,
        )
        for kind in Kind
    ),
)
