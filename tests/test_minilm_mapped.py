"""MiniLM's weights are read in place from the model file (memory-mapped): the word embeddings, the
position embeddings and every layer's dense matrices are read-only views of one map of
``model.safetensors``, and the vectors are bit-identical to those of the weights copied into
memory (the former loading path, ``_load_weights(in_place=False)``), one text at a time (one BLAS
thread) and in batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from carryover.pool.embedding import minilm
from carryover.pool.embedding.base import EmbedderError
from carryover.pool.embedding.minilm import MiniLMEmbedder

TEXTS = (
    "TypeError: 'NoneType' object is not subscriptable",
    "git push rejected, non-fast-forward",
    "fn main() { let v: Vec<u8> = Vec::new(); }",
    "error TS2339: Property 'map' does not exist on type '{}'",
    "",  # two tokens: the smallest products, where BLAS takes other kernels
    "x",
    "git push",
    "é ü 漢字 " * 60,  # long: truncated at the model's limit
    *(f"test_{i} failed: expected {i} got {i + 1} in module pkg.mod{i}" for i in range(30)),
)


def _is_map_view(array: np.ndarray) -> bool:
    """True when ``array`` reads the file's map (no copy of its own) and cannot be written."""
    base = array
    while not isinstance(base, np.memmap) and isinstance(base.base, np.ndarray):
        base = base.base
    return isinstance(base, np.memmap) and not array.flags.writeable


@pytest.fixture(scope="module")
def mapped() -> MiniLMEmbedder:
    return MiniLMEmbedder().load()


@pytest.fixture(scope="module")
def copied() -> MiniLMEmbedder:
    embedder = MiniLMEmbedder().load()
    embedder._weights = minilm._load_weights(embedder.model_dir, in_place=False)
    return embedder


def test_the_large_tensors_are_read_only_views_of_the_file(mapped: MiniLMEmbedder) -> None:
    weights = mapped._weights
    assert weights is not None
    assert weights.word.shape == (30522, 384)
    assert _is_map_view(weights.word) and _is_map_view(weights.position)
    for layer in weights.layers:
        for matrix in (layer.out_w, layer.up_w, layer.down_w):
            assert _is_map_view(matrix), "a dense matrix was copied"
        assert not _is_map_view(layer.qkv_w), "query, key and value are joined into one copy"
    assert (weights.layers[0].up_w.shape, weights.layers[0].down_w.shape) == ((384, 1536), (1536, 384))


def test_the_copied_path_owns_its_arrays(copied: MiniLMEmbedder) -> None:
    weights = copied._weights
    assert weights is not None
    assert not _is_map_view(weights.word)
    assert all(not _is_map_view(layer.up_w) for layer in weights.layers)


def test_mapped_and_copied_weights_give_the_same_vectors(
    mapped: MiniLMEmbedder, copied: MiniLMEmbedder
) -> None:
    texts = list(TEXTS)
    one_by_one = [(mapped.embed([text]), copied.embed([text])) for text in texts]
    assert all(np.array_equal(a, b) for a, b in one_by_one)
    batch_mapped, batch_copied = mapped.embed(texts), copied.embed(texts)
    assert batch_mapped.shape == (len(texts), 384)
    assert np.array_equal(batch_mapped, batch_copied)
    # The comparison can see a difference: a different text gives a different vector.
    assert not np.array_equal(batch_mapped[0], batch_mapped[1])


WORDS = ("cat", "dog", "red", "blue", "tree", "house", "car", "road", "book", "door", "sun", "moon")


def test_a_one_row_feed_forward_block_gives_the_same_vectors(
    mapped: MiniLMEmbedder, copied: MiniLMEmbedder
) -> None:
    """27 texts of 19 tokens: 513 rows, so the feed-forward's last block of 256 rows has one row."""
    texts = [
        " ".join([WORDS[i % len(WORDS)], WORDS[(i * 5 + 1) % len(WORDS)]] * 8 + ["end"]) for i in range(27)
    ]
    tokenizer = mapped._tokenizer
    assert tokenizer is not None
    assert {len(tokenizer.encode(text).ids) for text in texts} == {19}
    assert np.array_equal(mapped.embed(texts), copied.embed(texts))


def test_only_float32_tensors_are_mapped_and_they_read_the_stored_values(tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    values = np.arange(12, dtype=np.float32).reshape(3, 4)
    path = tmp_path / "model.safetensors"
    save_file(
        {"a": values, "half": values.astype(np.float16), "ids": np.arange(5, dtype=np.int64)}, str(path)
    )
    tensors = minilm._mapped_tensors(path)
    assert set(tensors) == {"a"}
    assert np.array_equal(tensors["a"], values) and _is_map_view(tensors["a"])


def test_a_truncated_file_is_an_embedder_error(tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    path = tmp_path / "model.safetensors"
    save_file({"a": np.ones((64, 64), dtype=np.float32)}, str(path))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(EmbedderError, match="does not hold"):
        minilm._mapped_tensors(path)
