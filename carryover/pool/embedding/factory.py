"""Builds the embedder the configuration names. Imports stay lazy: the daemon must start fast."""

from __future__ import annotations

from pathlib import Path

from carryover.pool.config import EmbedderConfig
from carryover.pool.embedding.base import Embedder


def make_embedder(config: EmbedderConfig) -> Embedder:
    if config.provider == "openai":
        from carryover.pool.embedding.openai_compat import OpenAIEmbedder, OpenAIEmbedderConfig

        return OpenAIEmbedder(
            OpenAIEmbedderConfig.from_env(
                model=config.model or None,
                base_url=config.base_url or None,
                api_key=config.api_key or None,
                dimensions=config.dimensions,
            )
        )
    from carryover.pool.embedding.minilm import MiniLMEmbedder

    return MiniLMEmbedder(Path(config.model_dir) if config.model_dir else None)
