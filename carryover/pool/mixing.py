"""How well memories from different languages mix in embedding space, and a picture of it.

The paper "Memory Transfer Learning" (arXiv 2604.14004) measured, per memory kind, how well
memories from different domains mix with two numbers, both higher = more mixed = more
transferable: the Davies–Bouldin index (DBI) of the domain clusters and the mean local inverse
Simpson's index (LISI) of domain labels (their figures: trajectory 3.09 / 1.70, workflow
4.02 / 2.33, summary 4.47 / 2.34, insight 6.50 / 4.00). Here the label is the language.

Everything here is a pure function of ``(vectors, labels)``; nothing reads the pool.

One label per vector. A memory that came from several languages is the caller's decision; the
recommended convention is its first (primary) language, so each memory counts once and the
number of points equals the number of memories. (Repeating a vector once per language would
put identical points under different labels and inflate both scores.)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs
import numpy as np
import numpy.typing as npt

#: The order panels are drawn in; kinds not listed here follow in the mapping's order.
KIND_ORDER: tuple[str, ...] = ("trajectory", "workflow", "summary", "insight")

# Binary search for the kernel width, exactly as the reference implementations
# (immunogenomics/LISI compute_simpson, harmonypy.lisi.compute_simpson).
_LISI_TOL = 1e-5
_LISI_TRIES = 50
# Upper bound on the number of float64 entries of one block of the distance matrix (~32 MB).
_BLOCK_ENTRIES = 1 << 22
# Panels with fewer points than this are drawn empty, with a note.
_MIN_PLOT_POINTS = 3


@attrs.frozen
class MixingScores:
    """DBI and LISI of one set of labelled vectors, with the LISI neighbourhood actually used.

    ``perplexity`` and ``neighbours`` are the effective values: for small ``n`` they are clamped
    (see :func:`lisi`); both are 0 when LISI is undefined (fewer than two points).
    ``labels`` is the number of distinct labels.
    """

    dbi: float | None
    lisi: float | None
    perplexity: float
    neighbours: int
    n: int
    labels: int


# --- input checking -------------------------------------------------------------------------


def _as_matrix(vectors: npt.ArrayLike, labels: Sequence[str]) -> npt.NDArray[np.float64]:
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"vectors must be a 2-d array (n, d), got shape {x.shape}")
    if x.shape[0] != len(labels):
        raise ValueError(f"{x.shape[0]} vectors but {len(labels)} labels")
    if not np.all(np.isfinite(x)):
        raise ValueError("vectors contain NaN or infinity")
    return x


def _encode(labels: Sequence[str]) -> tuple[npt.NDArray[np.intp], int]:
    """Integer codes for the labels (in sorted label order) and how many distinct labels."""
    names = sorted(set(labels))
    index = {name: i for i, name in enumerate(names)}
    return np.fromiter((index[label] for label in labels), dtype=np.intp, count=len(labels)), len(names)


# --- Davies–Bouldin -------------------------------------------------------------------------


def davies_bouldin(vectors: npt.ArrayLike, labels: Sequence[str]) -> float | None:
    """Davies–Bouldin index of the clusters formed by ``labels`` (higher = more mixed).

    Scikit-learn's ``davies_bouldin_score``, computed in float64: each label's centroid is the
    mean of its vectors, its scatter ``s_i`` the mean Euclidean distance of its vectors to the
    centroid; the result is ``mean_i max_{j != i} (s_i + s_j) / ||c_i - c_j||``. If every
    scatter is (close to) zero the result is 0.0, as in scikit-learn.

    Returns None where the index is undefined:

    * fewer than 2 distinct labels, or as many distinct labels as vectors (scikit-learn raises
      ``ValueError`` for both);
    * two labels with the same centroid (a zero denominator). Scikit-learn instead skips such
      pairs (treats them as infinitely far apart) or returns 0.0 when all centroids coincide,
      which would read as "perfectly separated" for what is in fact complete overlap.

    Whenever this returns a number it equals scikit-learn's (checked to ~1e-12 relative on
    random data).
    """
    x = _as_matrix(vectors, labels)
    codes, n_labels = _encode(labels)
    n = x.shape[0]
    if n_labels < 2 or n_labels >= n:
        return None
    counts = np.bincount(codes, minlength=n_labels).astype(np.float64)
    centroids = np.zeros((n_labels, x.shape[1]), dtype=np.float64)
    np.add.at(centroids, codes, x)
    centroids /= counts[:, None]
    to_centroid = np.linalg.norm(x - centroids[codes], axis=1)
    scatter = np.bincount(codes, weights=to_centroid, minlength=n_labels) / counts
    diff = centroids[:, None, :] - centroids[None, :, :]
    separation = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
    off_diagonal = ~np.eye(n_labels, dtype=bool)
    if np.any(separation[off_diagonal] == 0.0) or np.allclose(separation, 0.0):
        return None
    if np.allclose(scatter, 0.0):
        return 0.0
    np.fill_diagonal(separation, np.inf)
    ratios = (scatter[:, None] + scatter[None, :]) / separation
    return float(np.mean(np.max(ratios, axis=1)))


# --- LISI -----------------------------------------------------------------------------------


def _lisi_neighbourhood(n: int, perplexity: float) -> tuple[float, int]:
    """The effective (perplexity, k) for ``n`` points: k = min(floor(3·perplexity), n − 1)."""
    if not math.isfinite(perplexity) or perplexity < 1.0:
        raise ValueError(f"perplexity must be a finite number >= 1, got {perplexity}")
    if n < 2:
        return 0.0, 0
    k = min(int(3.0 * perplexity), n - 1)
    return min(perplexity, k / 3.0), k


def _nearest(x: npt.NDArray[np.float64], k: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.intp]]:
    """Distances (ascending) and indices of each row's k nearest other rows, in row blocks.

    A point never counts as its own neighbour, even when it has exact duplicates (those do count).
    Peak extra memory is about ``_BLOCK_ENTRIES`` float64 entries plus the (n, k) results.
    """
    n = x.shape[0]
    sq = np.einsum("ij,ij->i", x, x)
    block = max(1, _BLOCK_ENTRIES // n)
    dist = np.empty((n, k), dtype=np.float64)
    idx = np.empty((n, k), dtype=np.intp)
    for start in range(0, n, block):
        stop = min(n, start + block)
        d2 = sq[start:stop, None] + sq[None, :] - 2.0 * (x[start:stop] @ x.T)
        np.maximum(d2, 0.0, out=d2)
        rows = np.arange(stop - start)
        d2[rows, rows + start] = np.inf
        part = np.argpartition(d2, k - 1, axis=1)[:, :k]  # the diagonal is inf, so k - 1 <= n - 2
        part_d2 = np.take_along_axis(d2, part, axis=1)
        order = np.argsort(part_d2, axis=1, kind="stable")
        idx[start:stop] = np.take_along_axis(part, order, axis=1)
        dist[start:stop] = np.sqrt(np.take_along_axis(part_d2, order, axis=1))
    return dist, idx


def _kernel(
    dist: npt.NDArray[np.float64], beta: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Row-normalised weights exp(−β·d) and their entropy (nats), one row per point.

    Distances are shifted by each row's minimum first; that leaves both results unchanged but
    keeps the weights from underflowing to zero when β is large.
    """
    shifted = dist - dist[:, :1]
    w = np.exp(-shifted * beta[:, None])
    total = w.sum(axis=1)
    p = w / total[:, None]
    entropy = np.log(total) + beta * np.einsum("ij,ij->i", shifted, p)
    return p, entropy


def _simpson(
    dist: npt.NDArray[np.float64], neighbour_codes: npt.NDArray[np.intp], n_labels: int, perplexity: float
) -> npt.NDArray[np.float64]:
    """Each point's Simpson's index of neighbour labels under perplexity-calibrated weights.

    Vectorised transcription of the reference ``compute_simpson`` (the LISI R package and
    harmonypy): per point, β starts at 1 and is doubled/halved, then bisected, until the entropy
    of the weights is within 1e-5 of log(perplexity), for at most 50 steps.
    """
    m = dist.shape[0]
    target = math.log(perplexity)
    beta = np.ones(m)
    lo = np.full(m, -np.inf)
    hi = np.full(m, np.inf)
    p, entropy = _kernel(dist, beta)
    for _ in range(_LISI_TRIES):
        diff = entropy - target
        active = np.abs(diff) >= _LISI_TOL
        if not np.any(active):
            break
        up = active & (diff > 0)  # too flat: narrow the kernel
        down = active & (diff <= 0)
        lo[up] = beta[up]
        beta[up] = np.where(np.isfinite(hi[up]), (beta[up] + hi[up]) / 2.0, beta[up] * 2.0)
        hi[down] = beta[down]
        beta[down] = np.where(np.isfinite(lo[down]), (beta[down] + lo[down]) / 2.0, beta[down] / 2.0)
        p_new, entropy_new = _kernel(dist[active], beta[active])
        p[active] = p_new
        entropy[active] = entropy_new
    flat = (np.arange(m)[:, None] * n_labels + neighbour_codes).ravel()
    per_label = np.bincount(flat, weights=p.ravel(), minlength=m * n_labels).reshape(m, n_labels)
    simpson: npt.NDArray[np.float64] = np.einsum("ij,ij->i", per_label, per_label)
    return simpson


def _lisi_values(
    x: npt.NDArray[np.float64], codes: npt.NDArray[np.intp], n_labels: int, perplexity: float, k: int
) -> npt.NDArray[np.float64]:
    """Per-point LISI with exactly ``k`` neighbours (no clamping)."""
    dist, idx = _nearest(x, k)
    values: npt.NDArray[np.float64] = 1.0 / _simpson(dist, codes[idx], n_labels, perplexity)
    return values


def _lisi(
    vectors: npt.ArrayLike, labels: Sequence[str], perplexity: float
) -> tuple[float | None, float, int]:
    x = _as_matrix(vectors, labels)
    eff_perplexity, k = _lisi_neighbourhood(x.shape[0], perplexity)
    if k == 0:
        return None, eff_perplexity, k
    codes, n_labels = _encode(labels)
    return float(np.mean(_lisi_values(x, codes, n_labels, eff_perplexity, k))), eff_perplexity, k


def lisi(vectors: npt.ArrayLike, labels: Sequence[str], perplexity: float = 30.0) -> float | None:
    """Mean local inverse Simpson's index of ``labels`` (1 = unmixed … number of labels = fully mixed).

    As in Korsunsky et al. 2019 (Harmony) and the ``lisi`` R package / harmonypy: each point's
    k = min(floor(3·perplexity), n − 1) nearest other points (Euclidean) are weighted by
    exp(−β·d), with β found per point by binary search so that the weights have the given
    perplexity; the point's score is 1 / Σ_label (weight of that label)². The result is the mean
    over points. Two conventions of the reference code are kept on purpose: the kernel is on
    the distance d, not d², and the point itself is excluded. Two deliberate differences: the
    references ask the neighbour search for 3·perplexity points *including* the point (one
    neighbour fewer than here), and where their weights underflow or collapse onto a single
    neighbour (entropy exactly 0, e.g. k = 1) they return a sentinel (LISI ∞ or negative);
    here the weights are computed stably and such a point scores the Simpson's index of the
    weights it has (1 for a single neighbour).

    Small n: perplexity is clamped to k/3 so the neighbourhood fits (:func:`mixing_scores`
    reports the values used). Fewer than 2 points → None. A single label → exactly 1.0 (every
    neighbourhood is pure), which is the value of the index, not a sentinel.

    ``perplexity`` must be ≥ 1. Memory is O(n·k) plus a bounded block of the distance matrix, so
    tens of thousands of points are fine; time is O(n²·d).
    """
    return _lisi(vectors, labels, perplexity)[0]


def mixing_scores(vectors: npt.ArrayLike, labels: Sequence[str], perplexity: float = 30.0) -> MixingScores:
    """DBI and LISI of one pool (e.g. one memory kind), with the effective LISI neighbourhood."""
    value, eff_perplexity, k = _lisi(vectors, labels, perplexity)
    return MixingScores(
        dbi=davies_bouldin(vectors, labels),
        lisi=value,
        perplexity=eff_perplexity,
        neighbours=k,
        n=len(labels),
        labels=len(set(labels)),
    )


# --- projection and plot --------------------------------------------------------------------


def project_2d(vectors: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """First two principal components of ``vectors`` (n, d) → (n, 2), by SVD of the centred data.

    Deterministic signs: each component is flipped so that its largest-magnitude loading is
    positive (scikit-learn's ``svd_flip`` convention for PCA). Missing components (n < 3 or
    d < 2) are zero columns.
    """
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"vectors must be a 2-d array (n, d), got shape {x.shape}")
    out = np.zeros((x.shape[0], 2), dtype=np.float64)
    if x.shape[0] < 2 or x.shape[1] == 0:
        return out
    centred = x - x.mean(axis=0)
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    m = min(2, s.shape[0])
    rows = np.arange(m)
    signs = np.sign(vt[rows, np.argmax(np.abs(vt[:m]), axis=1)])
    signs[signs == 0] = 1.0
    out[:, :m] = u[:, :m] * s[:m] * signs
    return out


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _ordered_kinds(panels: Mapping[str, object]) -> list[str]:
    known = [kind for kind in KIND_ORDER if kind in panels]
    return known + [kind for kind in panels if kind not in KIND_ORDER]


def plot_pool(
    panels: Mapping[str, tuple[npt.ArrayLike, Sequence[str]]],
    path: Path,
    title: str = "Memory pool by language (PCA; higher DBI / LISI = more mixed)",
    perplexity: float = 30.0,
) -> Path:
    """Write a PNG with one scatter panel per memory kind, points coloured by language.

    Panels appear in the order trajectory, workflow, summary, insight (others after, in the
    mapping's order); each is titled with its kind, n, DBI and LISI (:func:`mixing_scores`;
    the neighbourhood size k is added when small n clamped it)
    and shows :func:`project_2d` of its vectors. Colours are shared across panels and explained
    by one legend. A panel with fewer than 3 points is drawn empty with a note; an empty
    mapping gives a single empty panel. Uses the Agg canvas directly (no pyplot, no global
    backend change). Returns ``path``; its parent directory is created if needed.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    kinds = _ordered_kinds(panels)
    languages = sorted({label for kind in kinds for label in panels[kind][1]})
    palette: list[str | tuple[float, float, float, float]]
    if len(languages) <= 10:
        palette = [f"C{i}" for i in range(len(languages))]
    else:
        from matplotlib import colormaps

        cmap = colormaps["tab20" if len(languages) <= 20 else "turbo"]
        palette = [cmap(i / max(1, len(languages) - 1)) for i in range(len(languages))]
    colour = dict(zip(languages, palette, strict=True))

    ncols = max(1, len(kinds))
    fig = Figure(figsize=(4.2 * ncols, 5.0), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    fig.suptitle(title)
    if not kinds:
        axes[0].text(0.5, 0.5, "no memories", ha="center", va="center", transform=axes[0].transAxes)
        axes[0].set_xticks([])
        axes[0].set_yticks([])

    for ax, kind in zip(axes, kinds, strict=False):
        vectors, labels = panels[kind]
        scores = mixing_scores(vectors, labels, perplexity)
        clamped = f" (k={scores.neighbours})" if 0 < scores.neighbours < int(3 * perplexity) else ""
        ax.set_title(
            f"{kind} (n={scores.n}, {scores.labels} lang)\n"
            f"DBI {_fmt(scores.dbi)} · LISI {_fmt(scores.lisi)}{clamped}",
            fontsize=10,
        )
        if scores.n < _MIN_PLOT_POINTS:
            ax.text(
                0.5,
                0.5,
                f"too few memories to plot (n={scores.n})",
                ha="center",
                va="center",
                transform=ax.transAxes,
                color="0.4",
            )
            ax.set_xticks([])
            ax.set_yticks([])
            continue
        xy = project_2d(vectors)
        ax.scatter(
            xy[:, 0],
            xy[:, 1],
            c=[colour[label] for label in labels],
            s=10,
            alpha=0.7,
            linewidths=0,
        )
        ax.set_xlabel("PC1", fontsize=8)
        ax.set_ylabel("PC2", fontsize=8)
        ax.tick_params(labelsize=7)

    if languages:
        handles = [
            Line2D([], [], marker="o", linestyle="", color=colour[lang], label=lang) for lang in languages
        ]
        fig.legend(
            handles=handles,
            loc="outside lower center",
            ncols=min(len(languages), 8),
            fontsize=8,
            frameon=False,
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=100)
    return path
