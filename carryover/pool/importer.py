"""Bulk import of a JSONL file into a pool, reporting what happened to every line."""

from __future__ import annotations

from pathlib import Path

import attrs

from carryover.pool.jsonl import LineError, ParsedLine, read_lines
from carryover.pool.records import Status
from carryover.pool.store import MemoryStore


@attrs.frozen
class ImportReport:
    added: int
    merged: int
    rejected: int
    errors: tuple[str, ...]
    ids: tuple[str, ...]


def import_file(store: MemoryStore, path: Path, batch_size: int = 512) -> ImportReport:
    """Import every valid line of ``path``; invalid lines are reported and skipped, never fatal."""
    errors: list[str] = []
    batch: list[ParsedLine] = []
    added = merged = 0
    ids: list[str] = []

    def flush() -> None:
        nonlocal added, merged
        if not batch:
            return
        results = store.add_many([line.draft for line in batch])
        for line, result in zip(batch, results, strict=True):
            ids.append(result.id)
            if result.action == "added":
                added += 1
            else:
                merged += 1
            if line.status is Status.PINNED:
                store.pin(result.id)
            elif line.status is Status.REJECTED:
                store.reject(result.id, "imported as rejected")
        batch.clear()

    for item in read_lines(path):
        if isinstance(item, LineError):
            errors.append(str(item))
            continue
        batch.append(item)
        if len(batch) >= batch_size:
            flush()
    flush()
    if added:
        store.maintain()
    return ImportReport(
        added=added, merged=merged, rejected=len(errors), errors=tuple(errors), ids=tuple(ids)
    )
