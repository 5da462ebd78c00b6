"""The embedder interface every implementation satisfies, and a query cache around it."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


class EmbedderError(RuntimeError):
    """An embedder could not produce vectors (bad endpoint, bad reply, wrong dimension)."""


class EmbedderUnavailable(EmbedderError):
    """The embedder cannot be used on this machine; the message says how to fix that."""


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors.

    ``name`` identifies the model (not the runtime): two embedders with the same name must give
    vectors that can be compared with each other. The pool records it with every vector.
    """

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Return an array of shape (len(texts), dimension), each row of unit length."""
        ...


def normalise_rows(vectors: npt.NDArray[np.floating]) -> Vectors:
    """Scale each row to unit length (rows of zeros stay zero)."""
    matrix = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    normalised: Vectors = (matrix / norms).astype(np.float32, copy=False)
    return normalised


class CachedEmbedder:
    """Wraps an embedder with a thread-safe LRU cache keyed by the exact text.

    Hovers ask for the same few queries over and over; a cache hit costs microseconds.
    """

    def __init__(self, inner: Embedder, capacity: int = 2048) -> None:
        self._inner = inner
        self._capacity = capacity
        self._cache: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def inner(self) -> Embedder:
        return self._inner

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    def embed(self, texts: Sequence[str]) -> Vectors:
        result = np.empty((len(texts), self.dimension), dtype=np.float32)
        missing: list[int] = []
        with self._lock:
            for index, text in enumerate(texts):
                cached = self._cache.get(text)
                if cached is None:
                    missing.append(index)
                else:
                    self._cache.move_to_end(text)
                    result[index] = cached
        if missing:
            fresh = self._inner.embed([texts[i] for i in missing])
            with self._lock:
                for row, index in enumerate(missing):
                    result[index] = fresh[row]
                    self._cache[texts[index]] = fresh[row].copy()
                    self._cache.move_to_end(texts[index])
                while len(self._cache) > self._capacity:
                    self._cache.popitem(last=False)
        return result
