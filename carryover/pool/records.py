"""Typed records that the pool hands out and takes in. Nothing here knows about LanceDB or LSP."""

from __future__ import annotations

import enum
import hashlib
from datetime import datetime
from typing import Any

import attrs

from carryover.vocabulary.languages import canonical as canonical_language


class Kind(str, enum.Enum):
    """The paper's four representations, from the most concrete to the most abstract."""

    TRAJECTORY = "trajectory"
    WORKFLOW = "workflow"
    SUMMARY = "summary"
    INSIGHT = "insight"


class Outcome(str, enum.Enum):
    SUCCESS = "success"
    FAILURE = "failure"


class Scope(str, enum.Enum):
    PROJECT = "project"
    GLOBAL = "global"
    TEAM = "team"


class Status(str, enum.Enum):
    ACTIVE = "active"
    PINNED = "pinned"
    REJECTED = "rejected"
    PROPOSED = "proposed"
    """Written by an agent (MCP ``propose``): never retrieved, never in the default list, until the
    person accepts it (then active) or rejects it."""


RETRIEVABLE_STATUSES: tuple[Status, ...] = (Status.ACTIVE, Status.PINNED)
"""The statuses that search may return."""


def _normalise_tags(values: object) -> tuple[str, ...]:
    """Lower-case, strip, de-duplicate and sort tag lists (languages, tools)."""
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, (list, tuple, set, frozenset)):
        raise TypeError(f"expected a list of strings, got {type(values).__name__}")
    cleaned = {str(v).strip().lower() for v in values if str(v).strip()}
    return tuple(sorted(cleaned))


def _normalise_languages(values: object) -> tuple[str, ...]:
    """Tag-normalised, then each language by its canonical name (``typescriptreact`` is ``typescript``)."""
    return tuple(sorted({canonical_language(value) or value for value in _normalise_tags(values)}))


def _string_tuple(values: object) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str) or not isinstance(values, (list, tuple, set, frozenset)):
        raise TypeError(f"expected a list of strings, got {type(values).__name__}")
    return tuple(str(value) for value in values)


@attrs.frozen
class Provenance:
    """Where a memory came from."""

    episode_ids: tuple[str, ...] = attrs.field(default=(), converter=_string_tuple)
    workspace: str = ""
    source: str = "manual"
    distilled_by: str = ""
    shared_by: str = ""
    """On a team pool: who shared the memory (``[team] user`` or $USER); empty elsewhere."""
    shared_from_workspace: str = ""
    """On a team pool: the workspace the memory was shared from."""


@attrs.frozen
class MemoryDraft:
    """A memory about to be written: what a person, an import line or a distiller provides."""

    kind: Kind = attrs.field(converter=Kind)
    title: str = attrs.field()
    description: str = ""
    content: str = ""
    outcome: Outcome = attrs.field(default=Outcome.SUCCESS, converter=Outcome)
    languages: tuple[str, ...] = attrs.field(default=(), converter=_normalise_languages)
    tools: tuple[str, ...] = attrs.field(default=(), converter=_normalise_tags)
    scope: Scope = attrs.field(default=Scope.GLOBAL, converter=Scope)
    when_not: str = ""
    check_command: str = ""
    provenance: Provenance = attrs.field(factory=Provenance)
    id: str | None = None
    status: Status = attrs.field(default=Status.ACTIVE, converter=Status)
    """The status a new memory is written with (``PROPOSED`` for an agent's proposal); a draft that
    merges into an existing memory leaves that memory's status as it was."""

    @title.validator
    def _title_not_blank(self, _attribute: attrs.Attribute[str], value: str) -> None:
        if not value.strip():
            raise ValueError("title must not be empty")

    def content_id(self) -> str:
        """A stable id from what the memory says, so the same memory written twice is one row."""
        digest = hashlib.sha256()
        for part in (self.kind.value, self.outcome.value, self.title, self.description, self.content):
            digest.update(" ".join(part.lower().split()).encode("utf-8"))
            digest.update(b"\x1f")
        return "mem_" + digest.hexdigest()[:20]


@attrs.frozen
class Memory:
    """A stored memory."""

    id: str
    kind: Kind
    title: str
    description: str
    content: str
    outcome: Outcome
    languages: tuple[str, ...]
    tools: tuple[str, ...]
    scope: Scope
    status: Status
    when_not: str
    check_command: str
    provenance: Provenance
    created_at: datetime
    updated_at: datetime
    helpful: int
    unhelpful: int
    merged_count: int
    reject_reason: str
    embedder: str


@attrs.frozen
class SearchQuery:
    """What to look for, and the context that decides what may be shown."""

    text: str
    language: str | None = None
    tools: tuple[str, ...] = attrs.field(default=(), converter=_normalise_tags)
    workspace: str | None = None
    k: int = 3
    kinds: tuple[Kind, ...] = ()
    min_score: float | None = None
    plan: str = ""
    """An abstract statement of the problem (the paper's "plan"), searched beside ``text``."""


@attrs.frozen
class RankReason:
    """Why a memory ranked where it did: each factor of its score."""

    similarity: float
    abstraction_weight: float
    feedback: float
    guard: str
    pinned: bool


@attrs.frozen
class SearchHit:
    memory: Memory
    score: float
    why: RankReason


@attrs.frozen
class WriteResult:
    """What happened to one memory written to the pool."""

    id: str
    action: str  # "added" | "merged"
    merged_into: str | None = None


def row_to_memory(row: dict[str, Any]) -> Memory:
    """A memories-table row (its read columns, as ``to_pylist`` gives them) as a typed memory."""
    return Memory(
        id=row["id"],
        kind=Kind(row["kind"]),
        title=row["title"],
        description=row["description"],
        content=row["content"],
        outcome=Outcome(row["outcome"]),
        languages=tuple(row["languages"] or ()),
        tools=tuple(row["tools"] or ()),
        scope=Scope(row["scope"]),
        status=Status(row["status"]),
        when_not=row["when_not"],
        check_command=row["check_command"],
        provenance=Provenance(
            episode_ids=tuple(row["episode_ids"] or ()),
            workspace=row["workspace"],
            source=row["source"],
            distilled_by=row["distilled_by"],
        ),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        helpful=int(row["helpful"]),
        unhelpful=int(row["unhelpful"]),
        merged_count=int(row["merged_count"]),
        reject_reason=row["reject_reason"],
        embedder=row["embedder"],
    )
