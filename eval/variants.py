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
    embed_key: str = "title+description"
    ranking: dict[str, Any] = attrs.field(factory=dict)
    mode: str = "hover"  # hover | bm25 | hybrid
    kinds: tuple[Kind, ...] = ()
    threshold: bool = True
    """Apply the hover's relevance threshold (what the hover would not show does not count)."""


VARIANTS = (
    Variant("carryover", "the product as the hover shows it: plan, abstraction weights, guard, threshold"),
    Variant("carryover-unthresholded", "the same ranking without the relevance threshold", threshold=False),
    Variant("bm25", "BM25 over title, description and content", mode="bm25", threshold=False),
    Variant("hybrid", "reciprocal rank fusion of carryover (unthresholded) and BM25", mode="hybrid"),
    Variant(
        "vector-only", "cosine to the context only: no plan, guard or weights", ranking=PLAIN, threshold=False
    ),
    Variant(
        "plain-cosine-all-text",
        "cosine over title+description+content, nothing else",
        embed_key="all",
        ranking=PLAIN,
        threshold=False,
    ),
    Variant("no-plan", "carryover without the plan (raw context only)", ranking={"plan_weight": 0.0}),
    Variant("no-guard", "carryover without the transfer guard", ranking={"transfer_guard": False}),
    Variant(
        "soft-guard",
        "carryover showing other languages' trajectories and workflows at 0.8 of their score",
        ranking={"procedural_cross_language_factor": 0.8},
    ),
    Variant("no-abstraction", "carryover without abstraction weighting", ranking=FLAT),
    Variant("title-key", "carryover, embedding only the title (as the paper did)", embed_key="title"),
    Variant("all-text-key", "carryover, embedding title+description+content", embed_key="all"),
    *(
        Variant(
            f"only-{kind.value}",
            f"carryover (unthresholded) over {kind.value} memories only",
            kinds=(kind,),
            threshold=False,
        )
        for kind in Kind
    ),
)
