"""The on-disk schema: one LanceModel per record type. This module is the single source of truth for
column names and types; everything else refers to columns through these models."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from lancedb.pydantic import LanceModel, Vector

SCHEMA_VERSION = 2
"""1: the first pool. 2: ``shared_by`` and ``shared_from_workspace`` (team provenance, nullable) and the
``proposed`` status. A version-1 pool is migrated when it is opened (:data:`MIGRATIONS`)."""

MEMORIES_TABLE = "memories"
EVENTS_TABLE = "events"
EPISODES_TABLE = "episodes"
META_TABLE = "pool_meta"
"""On object storage, the pool description (pool.json in a local pool) is this one-row table."""


class MemoryFields(LanceModel):
    """Every column of a memory except its vector (whose width depends on the embedder)."""

    id: str
    kind: str
    title: str
    description: str
    content: str
    outcome: str
    languages: list[str]
    tools: list[str]
    scope: str
    status: str
    when_not: str
    check_command: str
    episode_ids: list[str]
    workspace: str
    source: str
    distilled_by: str
    created_at: datetime
    updated_at: datetime
    helpful: int
    unhelpful: int
    merged_count: int
    reject_reason: str
    embedding_key: str
    embedder: str
    shared_by: str | None = None
    shared_from_workspace: str | None = None


@functools.cache
def memory_row_model(dimension: int) -> type[LanceModel]:
    """The memory row for vectors of ``dimension`` floats (one class per width, made once)."""

    class MemoryRow(MemoryFields):
        vector: Vector(dimension)  # type: ignore[valid-type]

    MemoryRow.__name__ = f"MemoryRow{dimension}"
    return MemoryRow


class EventRow(LanceModel):
    """One thing that happened in an editor or terminal session (filled in by capture)."""

    id: str
    time: datetime
    workspace: str
    source: str  # "editor" | "terminal" | "watcher" | "shell-hook"
    type: str  # e.g. "document.saved", "terminal.ended"
    payload: str  # JSON, already redacted
    episode_id: str


class EpisodeRow(LanceModel):
    """A unit of work with a goal and an outcome, made of events (filled in by capture)."""

    id: str
    workspace: str
    started_at: datetime
    ended_at: datetime
    goal: str
    outcome: str
    event_ids: list[str]
    status: str  # "open" | "finished" | "distilled"
    distilled_at: datetime | None = None


MEMORY_COLUMNS: tuple[str, ...] = (*MemoryFields.model_fields.keys(), "vector")

MIGRATIONS: dict[int, tuple[str, ...]] = {2: ("shared_by", "shared_from_workspace")}
"""For each schema version, the nullable string columns it added to the memories table: opening an
older pool adds them (empty) and moves the pool to the current version."""

PRIMARY_KEY_METADATA = {"lance-schema:unenforced-primary-key": "true"}
"""Field metadata that makes ``id`` the table's primary key for LanceDB's commit protocol: two
writers that insert the same new id at once conflict, and the later one is retried as an update,
so concurrent writers to an object-store pool never leave a memory twice. (Without it, two
concurrent ``merge_insert`` calls of one new id both insert.)"""


def memory_arrow_schema(dimension: int, primary_key: bool = False) -> Any:
    """The memories table's Arrow schema; with ``primary_key``, ``id`` carries
    :data:`PRIMARY_KEY_METADATA` (used for pools on object storage, written without a file lock)."""
    schema = memory_row_model(dimension).to_arrow_schema()  # type: ignore[no-untyped-call]
    if not primary_key:
        return schema
    index = schema.get_field_index("id")
    field = schema.field(index).with_nullable(False).with_metadata(PRIMARY_KEY_METADATA)
    return schema.set(index, field)
