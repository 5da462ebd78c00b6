"""Embedders: one small interface, several implementations."""

from carryover.pool.embedding.base import CachedEmbedder, Embedder, EmbedderError, EmbedderUnavailable

__all__ = ["CachedEmbedder", "Embedder", "EmbedderError", "EmbedderUnavailable"]
