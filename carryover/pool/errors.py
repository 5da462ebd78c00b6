"""Errors of the memory pool, importable without loading LanceDB."""

from __future__ import annotations


class PoolError(RuntimeError):
    """The pool cannot be used as it is; the message says why and what to do."""


class PoolVersionError(PoolError):
    """The pool was written by a newer Carryover."""


class PoolCorrupt(PoolError):
    """The pool's files cannot be read."""


class EmbedderMismatch(PoolError):
    """The pool's vectors came from another embedder than the one configured now."""


class PoolReadError(PoolError):
    """LanceDB failed while reading or writing the pool's files (damaged or missing data files)."""


class MemoryNotFound(KeyError):
    """No memory has that id."""


__all__ = [
    "EmbedderMismatch",
    "MemoryNotFound",
    "PoolCorrupt",
    "PoolError",
    "PoolReadError",
    "PoolVersionError",
]
