"""What a pool embeds of each memory is the pool's own (pool.json): new pools take the configured key
(the whole text by default), pools made before the key was recorded keep title and description, and
``carryover reembed --key`` moves a pool, vectors, stored keys and mirror together."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from carryover.cli import main as cli_main
from carryover.pool.embedding.base import Embedder
from carryover.pool.errors import PoolCorrupt
from carryover.pool.mirror import MIRROR_DIR
from carryover.pool.records import Kind, MemoryDraft
from carryover.pool.store import META_FILE, MemoryStore
from tests.support.pools import pool_config

DRAFT = MemoryDraft(
    kind=Kind.INSIGHT,
    title="Pin the toolchain the lockfile was made with",
    description="Use when a fresh checkout resolves other versions than CI did",
    content="Record the resolver's version beside the lockfile and fail the build when it differs.",
    languages=("rust",),
)


def stored(store: MemoryStore, memory_id: str) -> tuple[str, np.ndarray]:
    row = store._memories.search().where(f"id = '{memory_id}'").select(["embedding_key", "vector"]).to_arrow()
    return str(row["embedding_key"][0].as_py()), np.asarray(row["vector"][0].as_py(), dtype=np.float32)


def embedded(minilm: Embedder, text: str) -> np.ndarray:
    return np.asarray(minilm.embed([text])[0], dtype=np.float32)


def test_a_new_pool_records_and_uses_the_whole_text(tmp_path: Path, minilm: Embedder) -> None:
    store = MemoryStore(pool_config(tmp_path), minilm)
    memory_id = store.add(DRAFT).id

    meta = json.loads((tmp_path / "pool" / META_FILE).read_text(encoding="utf-8"))
    assert meta["embed_key"] == "all"
    key, vector = stored(store, memory_id)
    assert key == f"{DRAFT.title}. {DRAFT.description}. {DRAFT.content}"
    assert np.allclose(vector, embedded(minilm, key), atol=1e-6)


def test_a_pool_made_before_the_key_was_recorded_keeps_title_and_description(
    tmp_path: Path, minilm: Embedder
) -> None:
    MemoryStore(pool_config(tmp_path, embed_key="title+description"), minilm).add(
        MemoryDraft(kind=Kind.INSIGHT, title="An earlier memory")
    )
    meta_path = tmp_path / "pool" / META_FILE
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    del meta["embed_key"]
    meta_path.write_text(json.dumps(meta), encoding="utf-8")

    store = MemoryStore(pool_config(tmp_path), minilm)  # configured: the whole text, for new pools
    assert store.meta.embed_key == "title+description"
    key, vector = stored(store, store.add(DRAFT).id)
    assert key == f"{DRAFT.title}. {DRAFT.description}"
    assert np.allclose(vector, embedded(minilm, key), atol=1e-6)


def test_reembed_with_a_key_moves_vectors_keys_and_the_mirror(
    tmp_path: Path, minilm: Embedder, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old = MemoryStore(pool_config(tmp_path, embed_key="title"), minilm)
    memory_id = old.add(DRAFT).id
    content_query = "record the resolver version beside the lockfile"
    before = old.candidates(old.embed_query([content_query]), limit=1)[0][1]
    assert (tmp_path / "pool" / MIRROR_DIR).exists()

    monkeypatch.setenv("CARRYOVER_HOME", str(tmp_path / "home"))
    assert cli_main(["--db", str(tmp_path / "pool"), "--no-daemon", "reembed", "--key", "all"]) == 0
    assert "(all of each memory)" in capsys.readouterr().out

    store = MemoryStore(pool_config(tmp_path, embed_key="title"), minilm)
    assert store.meta.embed_key == "all"
    key, vector = stored(store, memory_id)
    assert key == f"{DRAFT.title}. {DRAFT.description}. {DRAFT.content}"
    assert np.allclose(vector, embedded(minilm, key), atol=1e-6)
    (hit, score), *_ = store.candidates(store.embed_query([content_query]), limit=1)
    assert hit.id == memory_id
    assert score == pytest.approx(float(embedded(minilm, content_query) @ vector), abs=1e-5)
    assert score > before  # the content's words now count: the mirror serves the new vectors


def test_an_unknown_key_in_pool_json_is_a_clear_error(tmp_path: Path, minilm: Embedder) -> None:
    MemoryStore(pool_config(tmp_path), minilm)
    meta_path = tmp_path / "pool" / META_FILE
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["embed_key"] = "everything"
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(PoolCorrupt, match="unknown embedding key 'everything'"):
        MemoryStore(pool_config(tmp_path), minilm)
