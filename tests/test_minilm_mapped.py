"""MiniLM's word embeddings are read in place from the model file (memory-mapped), and the vectors are
bit-identical to those of the weights loaded into memory."""

from __future__ import annotations

import numpy as np
import pytest

from carryover.pool.embedding import minilm
from carryover.pool.embedding.minilm import MiniLMEmbedder

TEXTS = (
    "TypeError: 'NoneType' object is not subscriptable",
    "git push rejected, non-fast-forward",
    "fn main() { let v: Vec<u8> = Vec::new(); }",
    "é ü 漢字 " * 60,  # long: truncated at the model's limit
)


def test_the_word_matrix_is_a_read_only_map_of_the_file() -> None:
    embedder = MiniLMEmbedder().load()
    weights = embedder._weights
    assert weights is not None
    assert isinstance(weights.word.base, np.memmap)
    assert not weights.word.flags.writeable
    assert weights.word.shape == (30522, 384)


def test_mapped_and_loaded_weights_give_the_same_vectors(monkeypatch: pytest.MonkeyPatch) -> None:
    mapped = MiniLMEmbedder().embed(list(TEXTS))
    monkeypatch.setattr(minilm, "_mapped_tensor", lambda _path, _name: None)
    loaded_embedder = MiniLMEmbedder().load()
    assert loaded_embedder._weights is not None
    assert not isinstance(loaded_embedder._weights.word.base, np.memmap)
    loaded = loaded_embedder.embed(list(TEXTS))
    assert np.array_equal(mapped, loaded)
