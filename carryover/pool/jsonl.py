"""Import and export of memories as JSON lines, one memory an object.

Import lines use the fields kind, title, description, content, languages, tools, outcome, and
optionally id, scope, status, when_not, check_command and provenance {episode_ids, workspace, source,
distilled_by}. Unknown fields are an error, so that a typo does not silently drop information.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import attrs

from carryover.pool.records import Memory, MemoryDraft, Provenance, Status

REQUIRED_FIELDS = ("kind", "title")
OPTIONAL_FIELDS = (
    "description",
    "content",
    "languages",
    "tools",
    "outcome",
    "id",
    "scope",
    "status",
    "when_not",
    "check_command",
    "provenance",
)
PROVENANCE_FIELDS = ("episode_ids", "workspace", "source", "distilled_by")


class LineError(ValueError):
    """One import line cannot be used; the message says which and why."""


@attrs.frozen
class ParsedLine:
    line_number: int
    draft: MemoryDraft
    status: Status | None


def parse_object(raw: Any, source: str = "import") -> tuple[MemoryDraft, Status | None]:
    """Validate one decoded JSON value and turn it into a draft (plus a requested status)."""
    if not isinstance(raw, dict):
        raise LineError(f"expected a JSON object, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(REQUIRED_FIELDS) - set(OPTIONAL_FIELDS))
    if unknown:
        raise LineError(f"unknown field(s) {', '.join(unknown)}")
    missing = [name for name in REQUIRED_FIELDS if not raw.get(name)]
    if missing:
        raise LineError(f"missing field(s) {', '.join(missing)}")
    for name in ("title", "description", "content", "when_not", "check_command", "id"):
        if name in raw and raw[name] is not None and not isinstance(raw[name], str):
            raise LineError(f"{name} must be a string")
    provenance_raw = raw.get("provenance") or {}
    if not isinstance(provenance_raw, dict):
        raise LineError("provenance must be an object")
    unknown = sorted(set(provenance_raw) - set(PROVENANCE_FIELDS))
    if unknown:
        raise LineError(f"unknown provenance field(s) {', '.join(unknown)}")
    try:
        provenance = Provenance(
            episode_ids=provenance_raw.get("episode_ids") or (),
            workspace=str(provenance_raw.get("workspace") or ""),
            source=str(provenance_raw.get("source") or source),
            distilled_by=str(provenance_raw.get("distilled_by") or ""),
        )
        draft = MemoryDraft(
            kind=raw["kind"],
            title=raw["title"],
            description=raw.get("description") or "",
            content=raw.get("content") or "",
            outcome=raw.get("outcome") or "success",
            languages=raw.get("languages") or (),
            tools=raw.get("tools") or (),
            scope=raw.get("scope") or "global",
            when_not=raw.get("when_not") or "",
            check_command=raw.get("check_command") or "",
            provenance=provenance,
            id=raw.get("id") or None,
        )
        status = Status(raw["status"]) if raw.get("status") else None
    except (ValueError, TypeError) as error:
        raise LineError(str(error)) from error
    return draft, status


def read_lines(path: Path) -> Iterator[ParsedLine | LineError]:
    """Parse a JSONL file line by line; a bad line yields a LineError and the rest go on.

    Lines are decoded one at a time, so invalid UTF-8 on one line loses only that line.
    """
    with path.open("rb") as handle:
        for number, raw_line in enumerate(handle, start=1):
            if not raw_line.strip():
                continue
            try:
                text = raw_line.decode("utf-8")
            except UnicodeDecodeError as error:
                yield LineError(f"line {number}: not valid UTF-8 ({error.reason} at byte {error.start})")
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as error:
                yield LineError(f"line {number}: not valid JSON ({error.msg}, column {error.colno})")
                continue
            try:
                draft, status = parse_object(value)
            except LineError as error:
                yield LineError(f"line {number}: {error}")
                continue
            yield ParsedLine(line_number=number, draft=draft, status=status)


def memory_to_object(memory: Memory) -> dict[str, Any]:
    """The export form of a memory: exactly the fields import accepts."""
    return {
        "id": memory.id,
        "kind": memory.kind.value,
        "title": memory.title,
        "description": memory.description,
        "content": memory.content,
        "outcome": memory.outcome.value,
        "languages": list(memory.languages),
        "tools": list(memory.tools),
        "scope": memory.scope.value,
        "status": memory.status.value,
        "when_not": memory.when_not,
        "check_command": memory.check_command,
        "provenance": {
            "episode_ids": list(memory.provenance.episode_ids),
            "workspace": memory.provenance.workspace,
            "source": memory.provenance.source,
            "distilled_by": memory.provenance.distilled_by,
        },
    }


def memory_to_json(memory: Memory) -> dict[str, Any]:
    """The full form of a stored memory (``list --json``, ``show --json``, the server's commands): the
    export fields plus times, feedback counts, merges, the rejection reason and the embedder."""
    record = memory_to_object(memory)
    record.update(
        created_at=memory.created_at.isoformat(timespec="seconds"),
        updated_at=memory.updated_at.isoformat(timespec="seconds"),
        helpful=memory.helpful,
        unhelpful=memory.unhelpful,
        merged_count=memory.merged_count,
        reject_reason=memory.reject_reason,
        embedder=memory.embedder,
    )
    return record


def write_lines(path: Path, memories: Iterable[Memory]) -> int:
    """Write memories to ``path`` atomically (a temporary file renamed into place)."""
    temporary = path.with_name(path.name + ".tmp")
    count = 0
    with temporary.open("w", encoding="utf-8") as handle:
        for memory in memories:
            handle.write(json.dumps(memory_to_object(memory), ensure_ascii=False) + "\n")
            count += 1
    temporary.replace(path)
    return count
