"""Tests for the pool-diversity measures (DBI, LISI), the PCA projection and the pool plot.

Reference constants below were computed once, outside the project venv, in a throwaway venv
with scikit-learn 1.9.1 and harmonypy 0.0.10 (the Python port of the ``lisi`` R package):

* ``davies_bouldin_score(x, labels)`` on float64 input, for ``_fixture()`` and the hand example;
* ``harmonypy.lisi.compute_lisi(x, pd.DataFrame({"l": labels}), ["l"], perplexity=p)[:, 0].mean()``
  for ``_fixture()``. harmonypy asks its neighbour search for 3p points including the point
  itself, so it is compared with our core at k = 3p - 1 neighbours.

The same session also compared 300 random DBI cases with scikit-learn (max relative difference
6e-9) and 40 random LISI cases per point with harmonypy's ``compute_simpson`` on identical
neighbour arrays (max relative difference 3e-15).
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from carryover.pool import mixing as pool_stats
from carryover.pool.mixing import (
    MixingScores,
    davies_bouldin,
    lisi,
    mixing_scores,
    plot_pool,
    project_2d,
)

SKLEARN_DBI_FIXTURE = 3.435964779142973
SKLEARN_DBI_HAND = 0.2907486621330917
HARMONYPY_LISI_FIXTURE = {5: 1.7136509412241334, 10: 2.097429589107632}

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _fixture() -> tuple[npt.NDArray[np.float64], list[str]]:
    """90 deterministic points in 4-d, three languages partly shifted apart along axis 0."""
    i = np.arange(90, dtype=np.float64)[:, None]
    j = np.arange(4, dtype=np.float64)[None, :]
    labels = [("go", "python", "rust")[k % 3] for k in range(90)]
    shift = np.array([{"go": 0.0, "python": 0.8, "rust": 1.6}[label] for label in labels])[:, None]
    return np.sin(0.37 * i * (j + 1) + j) + shift * (j == 0), labels


def _blobs(
    centres: npt.NDArray[np.float64], per: int, spread: float, seed: int = 0
) -> tuple[npt.NDArray[np.float32], list[str]]:
    rng = np.random.default_rng(seed)
    x = np.concatenate([c + spread * rng.normal(size=(per, centres.shape[1])) for c in centres])
    labels = [f"lang{k}" for k in range(len(centres)) for _ in range(per)]
    return x.astype(np.float32), labels


# --- Davies–Bouldin -------------------------------------------------------------------------


def test_dbi_hand_example_matches_closed_form_and_sklearn() -> None:
    # a: (0,0),(2,0) -> centroid (1,0), scatter 1;  b: (10,0),(10,4) -> (10,2), scatter 2;
    # c: (0,10),(1,10),(2,10) -> (1,10), scatter 2/3.  |ab| = sqrt 85, |ac| = 10, |bc| = sqrt 145.
    # Worst ratios: a and b -> 3/sqrt 85 (with each other), c -> (8/3)/sqrt 145 (with b).
    x = np.array([[0, 0], [2, 0], [10, 0], [10, 4], [0, 10], [1, 10], [2, 10]], dtype=np.float32)
    expected = (2 * 3 / math.sqrt(85) + (8 / 3) / math.sqrt(145)) / 3
    value = davies_bouldin(x, list("aabbccc"))
    assert value == pytest.approx(expected, rel=1e-12)
    assert value == pytest.approx(SKLEARN_DBI_HAND, rel=1e-12)


def test_dbi_matches_sklearn_constant() -> None:
    x, labels = _fixture()
    assert davies_bouldin(x, labels) == pytest.approx(SKLEARN_DBI_FIXTURE, rel=1e-9)
    assert davies_bouldin(x.astype(np.float32), labels) == pytest.approx(SKLEARN_DBI_FIXTURE, rel=1e-5)


def test_dbi_tight_separated_clusters_is_small_and_grows_as_they_merge() -> None:
    centres = np.array([[0.0, 0.0, 0.0], [50.0, 0.0, 0.0], [0.0, 50.0, 0.0]])
    x, labels = _blobs(centres, per=40, spread=0.1)
    tight = davies_bouldin(x, labels)
    assert tight is not None
    assert tight < 0.02
    x2, labels2 = _blobs(centres / 1000, per=40, spread=0.1)
    merged = davies_bouldin(x2, labels2)
    assert merged is not None
    assert merged > 1.0


def test_dbi_labels_are_names_not_order() -> None:
    x, labels = _fixture()
    renamed = [{"go": "zig", "python": "ada", "rust": "c"}[label] for label in labels]
    assert davies_bouldin(x, renamed) == pytest.approx(davies_bouldin(x, labels), rel=1e-12)


def test_dbi_undefined_cases_return_none() -> None:
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    assert davies_bouldin(x, ["py"] * 6) is None  # one label
    assert davies_bouldin(x, list("abcdef")) is None  # as many labels as points (sklearn raises)
    assert davies_bouldin(x[:0], []) is None
    # identical centroids: sklearn would give 0.0 ("perfectly separated"); undefined here.
    same = np.array([[0, 0], [1, 0], [0, 0], [1, 0], [5, 5], [6, 5]], dtype=np.float32)
    assert davies_bouldin(same, list("aabbcc")) is None


def test_dbi_zero_scatter_is_zero_like_sklearn() -> None:
    x = np.array([[0, 0], [0, 0], [3, 4], [3, 4]], dtype=np.float32)
    assert davies_bouldin(x, list("aabb")) == 0.0


def test_inputs_are_checked() -> None:
    x = np.zeros((3, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="labels"):
        davies_bouldin(x, ["a", "b"])
    with pytest.raises(ValueError, match="2-d"):
        lisi(np.zeros(3, dtype=np.float32), ["a", "b", "c"])
    with pytest.raises(ValueError, match="NaN"):
        lisi(np.array([[0.0], [np.nan]]), ["a", "b"])
    with pytest.raises(ValueError, match="perplexity"):
        lisi(x, ["a", "b", "c"], perplexity=0.5)


# --- LISI -----------------------------------------------------------------------------------


def test_lisi_core_matches_harmonypy_constants() -> None:
    x, labels = _fixture()
    codes, n_labels = pool_stats._encode(labels)
    for p, expected in HARMONYPY_LISI_FIXTURE.items():
        values = pool_stats._lisi_values(x, codes, n_labels, float(p), 3 * p - 1)
        assert float(values.mean()) == pytest.approx(expected, rel=1e-10)


def test_lisi_separated_labels_is_one() -> None:
    centres = np.array([[0.0, 0.0], [30.0, 0.0], [0.0, 30.0]])
    x, labels = _blobs(centres, per=120, spread=1.0)
    assert lisi(x, labels) == pytest.approx(1.0, abs=1e-6)


def test_lisi_interleaved_labels_is_close_to_label_count() -> None:
    # Thoroughly interleaved: a jittered 40 x 40 grid, label (column + 2 * row) mod k, so every
    # neighbourhood holds all k labels in nearly equal shares.
    rng = np.random.default_rng(1)
    grid = np.stack(np.meshgrid(np.arange(40), np.arange(40)), axis=-1).reshape(-1, 2).astype(np.float64)
    x = (grid + 0.05 * rng.normal(size=grid.shape)).astype(np.float32)
    for k in (2, 3, 4, 6):
        labels = [f"lang{int(c + 2 * r) % k}" for c, r in grid]
        value = lisi(x, labels)
        assert value is not None
        assert 0.9 * k < value <= k


def test_lisi_random_labels_are_mostly_mixed() -> None:
    # Labels drawn at random: a ~30-point neighbourhood is a sample, so it falls short of k.
    rng = np.random.default_rng(1)
    x = rng.normal(size=(800, 8)).astype(np.float32)
    for k in (2, 4):
        value = lisi(x, [f"lang{i % k}" for i in range(800)])
        assert value is not None
        assert 0.75 * k < value < k


def test_lisi_increases_as_labels_mix() -> None:
    rng = np.random.default_rng(2)
    noise = rng.normal(size=(400, 5))
    labels = ["a"] * 200 + ["b"] * 200
    direction = np.zeros(5)
    direction[0] = 1.0
    values = []
    for gap in (12.0, 4.0, 2.0, 1.0, 0.0):
        x = noise + np.where(np.arange(400) < 200, 0.0, gap)[:, None] * direction
        value = lisi(x.astype(np.float32), labels)
        assert value is not None
        values.append(value)
    assert values[0] == pytest.approx(1.0, abs=1e-3)
    assert all(later > earlier for earlier, later in itertools.pairwise(values))
    assert values[-1] > 1.8


def test_single_label_lisi_is_one_and_dbi_none() -> None:
    x, _ = _fixture()
    scores = mixing_scores(x, ["python"] * len(x))
    assert scores.dbi is None
    assert scores.lisi == 1.0
    assert scores.labels == 1


def test_small_n_clamps_perplexity_and_neighbourhood() -> None:
    x, labels = _fixture()
    scores = mixing_scores(x[:10], labels[:10], perplexity=30.0)
    assert (scores.neighbours, scores.perplexity, scores.n, scores.labels) == (9, 3.0, 10, 3)
    assert scores.lisi is not None
    assert 1.0 <= scores.lisi <= 3.0

    full = mixing_scores(x, labels, perplexity=10.0)
    assert (full.neighbours, full.perplexity) == (30, 10.0)

    two = mixing_scores(np.array([[0.0, 0.0], [1.0, 0.0]]), ["go", "rust"])
    assert two.neighbours == 1
    assert two.perplexity == pytest.approx(1 / 3)
    assert two.lisi == 1.0  # one neighbour: its label has all the weight
    assert two.dbi is None  # as many labels as points

    one = mixing_scores(np.array([[0.0, 0.0]]), ["go"])
    assert one == MixingScores(dbi=None, lisi=None, perplexity=0.0, neighbours=0, n=1, labels=1)
    empty = mixing_scores(np.zeros((0, 4), dtype=np.float32), [])
    assert (empty.lisi, empty.dbi, empty.n) == (None, None, 0)


def test_lisi_excludes_self_even_with_duplicates() -> None:
    # Each point has an exact duplicate with the other label: the duplicate is the nearest
    # neighbour, but the point itself never is.
    base = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    x = np.concatenate([base, base])
    labels = ["a"] * 4 + ["b"] * 4
    dist, idx = pool_stats._nearest(x, 3)
    assert not np.any(idx == np.arange(8)[:, None])
    assert np.all(dist[:, 0] == 0.0)
    value = lisi(x, labels, perplexity=1.0)  # k = 3, weights all on the duplicate
    assert value == pytest.approx(1.0)


def test_lisi_blocking_does_not_change_results(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(700, 6)).astype(np.float32)
    labels = [f"l{i}" for i in rng.integers(0, 3, 700)]
    whole = mixing_scores(x, labels, perplexity=15.0)
    monkeypatch.setattr(pool_stats, "_BLOCK_ENTRIES", 5000)  # 7 rows per block
    blocked = mixing_scores(x, labels, perplexity=15.0)
    assert blocked.lisi == pytest.approx(whole.lisi, rel=1e-12)
    assert blocked.neighbours == whole.neighbours == 45


# --- projection -----------------------------------------------------------------------------


def test_project_2d_is_pca_with_deterministic_signs() -> None:
    x, _ = _fixture()
    xy = project_2d(x)
    assert xy.shape == (90, 2)
    np.testing.assert_allclose(xy.mean(axis=0), 0.0, atol=1e-12)
    assert xy[:, 0].var() >= xy[:, 1].var()
    np.testing.assert_allclose(xy[:, 0] @ xy[:, 1], 0.0, atol=1e-9)
    # matches the covariance eigenvectors, with the largest loading made positive
    centred = x - x.mean(axis=0)
    _, vecs = np.linalg.eigh(centred.T @ centred)
    top = vecs[:, ::-1][:, :2]
    top *= np.sign(top[np.argmax(np.abs(top), axis=0), [0, 1]])
    np.testing.assert_allclose(xy, centred @ top, atol=1e-9)
    # row order does not change anybody's coordinates
    perm = np.random.default_rng(4).permutation(90)
    np.testing.assert_allclose(project_2d(x[perm]), xy[perm], atol=1e-9)


def test_project_2d_degenerate_shapes() -> None:
    assert project_2d(np.zeros((0, 5))).shape == (0, 2)
    np.testing.assert_array_equal(project_2d(np.ones((1, 5))), np.zeros((1, 2)))
    line = project_2d(np.array([[1.0], [2.0], [4.0]]))
    np.testing.assert_allclose(line[:, 1], 0.0)
    assert line[:, 0] @ np.array([-1.0, -1.0, 2.0]) > 0


# --- plot -----------------------------------------------------------------------------------


def _read_png(path: Path) -> npt.NDArray[np.float32]:
    import matplotlib.image as mpimg

    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image: npt.NDArray[np.float32] = mpimg.imread(path)
    return image


def test_panel_order() -> None:
    panels = {"insight": 1, "custom": 2, "trajectory": 3, "summary": 4}
    assert pool_stats._ordered_kinds(panels) == ["trajectory", "summary", "insight", "custom"]


def test_plot_pool_writes_png_with_empty_and_tiny_panels(tmp_path: Path) -> None:
    x, labels = _fixture()
    panels: dict[str, tuple[npt.ArrayLike, list[str]]] = {
        "insight": (x[:2], labels[:2]),
        "workflow": (x.astype(np.float32), labels),
        "trajectory": (np.zeros((0, 4), dtype=np.float32), []),
        "summary": (x[:30], ["python"] * 30),
    }
    out = plot_pool(panels, tmp_path / "nested" / "pool.png")
    assert out == tmp_path / "nested" / "pool.png"
    image = _read_png(out)
    assert image.shape[0] == 500
    assert image.shape[1] == 4 * 420
    assert image.ndim == 3
    assert image.shape[2] in (3, 4)
    assert float(image[..., :3].std()) > 0  # not blank


def test_plot_pool_with_no_panels(tmp_path: Path) -> None:
    image = _read_png(plot_pool({}, tmp_path / "empty.png", title="nothing yet"))
    assert image.shape[:2] == (500, 420)
