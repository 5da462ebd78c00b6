"""Embedders: one small interface, several implementations."""

from memory_store.embedding.base import CachedEmbedder, Embedder, EmbedderError, EmbedderUnavailable

__all__ = ["CachedEmbedder", "Embedder", "EmbedderError", "EmbedderUnavailable"]
