"""Schema version 2 (team provenance columns, the proposed status): old pools keep opening, and
configuration names pools on object storage."""

from __future__ import annotations

import json
from pathlib import Path

import lancedb
import pyarrow as pa
import pytest

from carryover.pool.config import ConfigError, load_config, object_store_uri
from carryover.pool.embedding.base import Embedder
from carryover.pool.records import Kind, MemoryDraft, SearchQuery, Status
from carryover.pool.schema import MIGRATIONS, SCHEMA_VERSION, memory_row_model
from carryover.pool.store import MemoryStore
from tests.support.pools import pool_config


def _version_1_pool(config_dir: Path, embedder: Embedder) -> None:
    """A pool as Carryover wrote it before schema version 2: no team columns, pool.json version 1."""
    store = MemoryStore(pool_config(config_dir.parent / "seed"), embedder)
    store.add(MemoryDraft(kind=Kind.INSIGHT, title="Pin dependency versions before upgrading the toolchain"))
    rows = store._memories.to_arrow()
    added = [name for names in MIGRATIONS.values() for name in names]
    old = rows.drop_columns(added)
    config_dir.mkdir(parents=True)
    lancedb.connect(str(config_dir)).create_table("memories", data=old)
    meta = json.loads((store.config.pool_dir / "pool.json").read_text())
    meta["schema_version"] = 1
    (config_dir / "pool.json").write_text(json.dumps(meta))


def test_a_version_1_pool_is_migrated_when_opened(tmp_path: Path, minilm: Embedder) -> None:
    config = pool_config(tmp_path)
    _version_1_pool(config.pool_dir, minilm)
    store = MemoryStore(config, minilm)
    names = set(store._memories.schema.names)
    assert {"shared_by", "shared_from_workspace"} <= names
    assert names == set(memory_row_model(store.meta.dimension).to_arrow_schema().names)  # type: ignore[no-untyped-call]
    assert json.loads((config.pool_dir / "pool.json").read_text())["schema_version"] == SCHEMA_VERSION
    hits = store.search(SearchQuery(text="upgrade the toolchain with pinned dependencies"))
    assert [hit.memory.title for hit in hits] == ["Pin dependency versions before upgrading the toolchain"]
    # Opening again changes nothing.
    assert MemoryStore(config, minilm).count() == 1


def test_proposed_memories_are_never_searched(store: MemoryStore) -> None:
    result = store.add(MemoryDraft(kind=Kind.INSIGHT, title="Run the formatter before committing"))
    store._set(result.id, {"status": Status.PROPOSED.value})
    assert store.search(SearchQuery(text="format the code before a commit")) == []
    store.restore(result.id)
    assert [hit.memory.id for hit in store.search(SearchQuery(text="format the code before a commit"))] == [
        result.id
    ]


def test_object_store_uris_are_recognised(tmp_path: Path) -> None:
    env = {"CARRYOVER_HOME": str(tmp_path / "home")}
    config = load_config(db="s3://bucket/team/pool", environ=env)
    assert config.remote and config.location == "s3://bucket/team/pool"
    # argparse's Path() turns "s3://b/p" into "s3:/b/p"; it is still the bucket.
    assert load_config(db=Path("gs://bucket/pool"), environ=env).location == "gs://bucket/pool"
    local = load_config(db=tmp_path / "pool", environ=env)
    assert not local.remote and local.location == str(tmp_path / "pool")
    assert object_store_uri("az://container/pool") == "az://container/pool"
    with pytest.raises(ConfigError, match="http://"):
        load_config(db="http://example.invalid/pool", environ=env)
    with pytest.raises(ConfigError, match="needs a bucket"):
        object_store_uri("s3://")


def test_team_section_and_environment(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('[team]\nuri = "s3://bucket/pool"\nuser = "ada"\n')
    config = load_config(environ={"CARRYOVER_HOME": str(home), "USER": "someone"})
    assert config.team.enabled and config.team.uri == "s3://bucket/pool"
    assert config.team.who() == "ada"
    env = {"CARRYOVER_HOME": str(home), "CARRYOVER_TEAM_URI": "gs://other/pool", "CARRYOVER_TEAM_USER": ""}
    config = load_config(environ=env)
    assert config.team.uri == "gs://other/pool"
    (home / "config.toml").write_text('[team]\nuri = "s3://bucket/pool"\nbucket = "x"\n')
    with pytest.raises(ConfigError, match=r"\[team\].*bucket"):
        load_config(environ={"CARRYOVER_HOME": str(home)})


def test_arrow_schema_with_primary_key() -> None:
    from carryover.pool.schema import PRIMARY_KEY_METADATA, memory_arrow_schema

    schema = memory_arrow_schema(8, primary_key=True)
    field = schema.field("id")
    assert not field.nullable
    assert {k.decode(): v.decode() for k, v in (field.metadata or {}).items()} == PRIMARY_KEY_METADATA
    assert memory_arrow_schema(8).field("id").metadata is None
    assert isinstance(schema, pa.Schema)
