"""The on-disk schema: one LanceModel per record type. This module is the single source of truth for
column names and types; everything else refers to columns through these models."""

from __future__ import annotations

import functools
from datetime import datetime

from lancedb.pydantic import LanceModel, Vector

SCHEMA_VERSION = 1

MEMORIES_TABLE = "memories"
EVENTS_TABLE = "events"
EPISODES_TABLE = "episodes"


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
