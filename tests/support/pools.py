"""Pools on disk for tests, embedded by the real default embedder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from carryover.pool.config import StoreConfig, load_config
from carryover.pool.embedding.base import Embedder
from carryover.pool.store import MemoryStore

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "memories.jsonl"


def pool_config(path: Path, **overrides: Any) -> StoreConfig:
    """A config for a pool in ``path`` that ignores the user's own CARRYOVER_HOME and config file."""
    import attrs

    config = load_config(db=path / "pool", environ={"CARRYOVER_HOME": str(path / "home")})
    return attrs.evolve(config, **overrides) if overrides else config


@pytest.fixture(scope="session")
def minilm() -> Embedder:
    from carryover.pool.embedding.minilm import MiniLMEmbedder

    embedder = MiniLMEmbedder()
    embedder.load()
    return embedder


@pytest.fixture
def store(tmp_path: Path, minilm: Embedder) -> Iterator[MemoryStore]:
    yield MemoryStore(pool_config(tmp_path), minilm)


EVAL_POOL = ROOT / "eval" / "data" / "pool.jsonl"
"""The evaluation's memories: a realistic pool for tests of storage and search."""


def copy_of(base: Path, tmp_path: Path) -> Path:
    """A copy of the pool folder ``base`` (built once per module) for one test to change."""
    import shutil

    shutil.copytree(base, tmp_path / "copy")
    return tmp_path / "copy"


def reading_store(base: Path, embedder: Embedder) -> MemoryStore:
    """A store on ``base`` that sees every other process's write at once (no refresh interval)."""
    return MemoryStore(pool_config(base), embedder, refresh_interval_s=0.0)
