"""The evaluation report: markdown with every ablation per split, the aims, the pool's mixing
measures next to the paper's, and two PNG plots (ablations; the pool by language)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from carryover.pool.stats_report import pool_report
from eval.metrics import Scores
from eval.variants import VARIANTS, Variant

if TYPE_CHECKING:
    from carryover.pool.store import MemoryStore

AIMS = (
    ("recall3", "Recall@3", ">=", 0.85),
    ("cross_recall3", "cross-language Recall@3", ">=", 0.80),
    ("harmful3", "Harmful@3", "<=", 0.05),
    ("quiet", "quiet on plain lines", ">=", 0.90),
)
# arXiv 2604.14004: average Pass@3 by the kind of memory retrieved (zero-shot 0.523).
PAPER_PASS3 = {"trajectory": 0.534, "workflow": 0.538, "summary": 0.546, "insight": 0.560}
PLOTTED = ("recall3", "cross_recall3", "harmful3")
PLOT_LABELS = {"recall3": "Recall@3", "cross_recall3": "cross-language Recall@3", "harmful3": "Harmful@3"}


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


METRICS = (
    ("recall3", "R@3"),
    ("cross_recall3", "cross R@3"),
    ("harmful3", "Harm@3"),
    ("quiet", "quiet"),
    ("shows", "shows"),
)


def render(by_split: Mapping[str, Mapping[str, Scores]]) -> str:
    """One table, every variant a row, each split's figures side by side."""
    splits = list(by_split)
    header = (
        "| variant | " + " | ".join(f"{split} {label}" for split in splits for _, label in METRICS) + " |"
    )
    lines = [header, "| --- |" + " --- |" * (len(splits) * len(METRICS))]
    names = list(next(iter(by_split.values())))
    for name in names:
        cells = [_fmt(getattr(by_split[split][name], metric)) for split in splits for metric, _ in METRICS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")
    counts = ", ".join(
        f"{split}: {next(iter(results.values())).queries} moments, "
        f"{next(iter(results.values())).trap_queries} with traps"
        for split, results in by_split.items()
    )
    lines.append(
        f"{counts}. Harm@3 is over the moments with traps; quiet = share of ordinary lines with nothing "
        "shown (dev/held-out: eval/data/plain_lines.jsonl, blind: eval/data/blind/plain.jsonl), for the "
        "variants that decide whether to speak; shows = share of labelled moments with anything shown."
    )
    descriptions = {variant.name: variant.description for variant in VARIANTS}
    lines += ["", *(f"- `{name}`: {descriptions.get(name, '')}" for name in names)]
    return "\n".join(lines)


def plot_ablations(path: Path, results: Mapping[str, Scores], split: str) -> Path:
    """One horizontal bar group per variant: Recall@3, cross-language Recall@3, Harmful@3."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = list(results)
    fig = Figure(figsize=(9.0, 0.42 * len(names) + 1.6), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    height = 0.26
    for offset, metric in enumerate(PLOTTED):
        values = [getattr(results[name], metric) or 0.0 for name in names]
        positions = [index + (offset - 1) * height for index in range(len(names))]
        ax.barh(positions, values, height=height, label=PLOT_LABELS[metric], color=f"C{offset}")
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.axvline(0.85, color="C0", linestyle=":", linewidth=1)
    ax.axvline(0.05, color="C2", linestyle=":", linewidth=1)
    ax.set_xlabel("share (dotted: the aims for Recall@3 and Harmful@3)")
    ax.set_title(f"Retrieval on the {split} split, by variant")
    ax.legend(loc="lower right", fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def _aims_table(by_split: Mapping[str, Mapping[str, Scores]]) -> list[str]:
    splits = list(by_split)
    lines = [
        "| measure (the product row, `carryover`) | aim | " + " | ".join(splits) + " |",
        "| --- | --- |" + " --- |" * len(splits),
    ]
    for metric, label, direction, bound in AIMS:
        cells = [_fmt(getattr(by_split[split]["carryover"], metric)) for split in splits]  # the product
        lines.append(f"| {label} | {direction} {bound} | " + " | ".join(cells) + " |")
    over_bm25 = []
    for split in splits:
        product, bm25 = by_split[split]["carryover"].recall3, by_split[split]["bm25"].recall3
        over_bm25.append("–" if product is None or bm25 is None else f"{100 * (product - bm25):+.1f}")
    lines.append("| Recall@3 over BM25, points | >= +25 | " + " | ".join(over_bm25) + " |")
    return lines


def _kinds_table(results: Mapping[str, Scores]) -> list[str]:
    lines = [
        "| kind of memory retrieved | our Recall@3 | our Harmful@3 | paper: mean Pass@3 (zero-shot 0.523) |",
        "| --- | --- | --- | --- |",
    ]
    for kind, pass3 in PAPER_PASS3.items():
        scores = results.get(f"only-{kind}")
        if scores is not None:
            lines.append(f"| {kind} | {_fmt(scores.recall3)} | {_fmt(scores.harmful3)} | {pass3:.3f} |")
    return lines


def _mixing_table(mixing: Mapping[str, Mapping[str, float | None]]) -> list[str]:
    lines = [
        "| kind | memories | languages | DBI (ours) | LISI (ours) | DBI (paper) | LISI (paper) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for kind, row in mixing.items():
        dbi, lisi = row["dbi"], row["lisi"]
        lines.append(
            f"| {kind} | {row['n']} | {row['labels']} | {_fmt(dbi)} | {_fmt(lisi)} | "
            f"{row['paper_dbi']:.2f} | {row['paper_lisi']:.2f} |"
        )
    return lines


def write_report(
    folder: Path,
    by_split: Mapping[str, Mapping[str, Scores]],
    store: MemoryStore,
    variants: Sequence[Variant],
) -> Path:
    """Write ``report.md``, ``ablations-<split>.png`` and ``pool.png`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    stats = pool_report(store, plot=folder / "pool.png")
    lines = [
        "# Carryover retrieval on the cross-language evaluation set",
        "",
        "Written by `python -m eval "
        + " ".join(f"--split {split}" for split in by_split)
        + f" --report {folder}`. The set, how it was built and its limits: [eval/README.md](../README.md).",
        "Every row runs the hover's own retrieval (`carryover.recall.suggest` on each moment) over a",
        "fresh pool of the split's memories, embedded by the offline MiniLM embedder; no model endpoint.",
        "Dev figures of the learned ranker are out-of-fold (5-fold CV); held-out and blind use the",
        "shipped model (trained on all of dev). Blind is only reported, never tuned on.",
        "",
        "## Aims",
        "",
        *_aims_table(by_split),
        "",
        "## Every variant, every split",
        "",
        render(by_split),
        "",
    ]
    for split, results in by_split.items():
        image = plot_ablations(folder / f"ablations-{split}.png", results, split)
        lines += [f"![ablations, {split}]({image.name})", ""]
    first = next(iter(by_split))
    lines += [
        f"## One kind of memory at a time ({first}; the paper's comparison)",
        "",
        *_kinds_table(by_split[first]),
        "",
        "The paper measured task success of an agent; we measure whether the right memory is shown. The",
        "order is the comparison: abstract memories (insights) transfer, raw traces do not.",
        "",
        "## How languages mix in the pool (Davies–Bouldin index and LISI, by kind)",
        "",
        *_mixing_table(stats["mixing"]),
        "",
        f"Label: {stats['mixing_label']}; LISI at perplexity {stats['perplexity']:g}, clamped in small",
        "pools. Higher = more mixed across languages. `carryover stats --plot` gives the same for any pool.",
        "",
        "![pool by language](pool.png)",
        "",
        "Variants: " + "; ".join(f"`{variant.name}` — {variant.description}" for variant in variants) + ".",
        "",
    ]
    path = folder / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
