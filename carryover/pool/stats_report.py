"""`carryover stats`: counts, feedback and the paper's domain-mixing measures for a pool."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from carryover.pool.records import Kind
from carryover.pool.store import MemoryStore

# arXiv 2604.14004, Table/Figure on pool diversity: (Davies–Bouldin index, LISI) by kind.
PAPER_MIXING = {
    Kind.TRAJECTORY: (3.09, 1.70),
    Kind.WORKFLOW: (4.02, 2.33),
    Kind.SUMMARY: (4.47, 2.34),
    Kind.INSIGHT: (6.50, 4.00),
}


def pool_report(store: MemoryStore, perplexity: float = 30.0, plot: Path | None = None) -> dict[str, Any]:
    """Everything `stats` shows, as plain data (the --json form)."""
    from carryover.pool.mixing import mixing_scores, plot_pool

    counts = store.counts()
    grouped = store.vectors_by_kind()
    mixing: dict[str, Any] = {}
    for kind in Kind:
        if kind not in grouped:
            continue
        vectors, labels = grouped[kind]
        scores = mixing_scores(vectors, labels, perplexity=perplexity)
        paper_dbi, paper_lisi = PAPER_MIXING[kind]
        mixing[kind.value] = {**attrs.asdict(scores), "paper_dbi": paper_dbi, "paper_lisi": paper_lisi}
    report: dict[str, Any] = {
        "pool": str(store.config.pool_dir),
        "embedder": store.meta.embedder,
        "embed_key": store.meta.embed_key,
        "counts": attrs.asdict(counts),
        "mixing": mixing,
        "mixing_label": "first language of each memory (memories with none are left out)",
        "perplexity": perplexity,
    }
    if plot is not None:
        panels = {kind.value: grouped[kind] for kind in Kind if kind in grouped}
        report["plot"] = str(plot_pool(panels, plot, perplexity=perplexity))
    return report


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def render_report(report: dict[str, Any]) -> str:
    counts = report["counts"]
    lines = [
        f"pool {report['pool']} ({report['embedder']}, embedding {report['embed_key']} of each memory)",
        f"{counts['total']} memories; merged duplicates {counts['merged']}; "
        f"feedback: {counts['helpful']} helpful, {counts['unhelpful']} unhelpful",
    ]
    for title, key in (
        ("kind", "by_kind"),
        ("outcome", "by_outcome"),
        ("status", "by_status"),
        ("language", "by_language"),
    ):
        parts = ", ".join(f"{name} {count}" for name, count in counts[key].items())
        lines.append(f"by {title}: {parts or '-'}")
    if report["mixing"]:
        lines.append("")
        lines.append("how languages mix (higher = more mixed; label = " + report["mixing_label"] + ")")
        lines.append(f"{'kind':<11}{'n':>6}{'langs':>7}{'DBI':>8}{'LISI':>8}{'k':>5}   paper DBI / LISI")
        for kind, scores in report["mixing"].items():
            lines.append(
                f"{kind:<11}{scores['n']:>6}{scores['labels']:>7}{_fmt(scores['dbi']):>8}"
                f"{_fmt(scores['lisi']):>8}{scores['neighbours']:>5}   "
                f"{scores['paper_dbi']:.2f} / {scores['paper_lisi']:.2f}"
            )
        lines.append(
            f"LISI: Gaussian kernel at perplexity {report['perplexity']:g} (clamped to k/3 in small pools) "
            "over k = min(3 × perplexity, n − 1) nearest neighbours"
        )
    if "plot" in report:
        lines.append(f"plot written to {report['plot']}")
    return "\n".join(lines)
