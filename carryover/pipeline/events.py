"""The seam between the editor features and capture: one typed event, and a sink that records it.

Event types (``CapturedEvent.type``) and their payload keys:

- ``document.opened`` / ``document.saved`` / ``document.closed``: uri, language_id, version;
  ``document.saved`` also ``diff`` (unified diff against the last save, bounded).
- ``diagnostics.changed``: uri, source ("editor" or the forwarding tool's name), diagnostics
  (list of {range, severity, code, source, message}).
- ``terminal.started``: command, cwd, terminal_id, execution_id.
- ``terminal.ended``: command, cwd, terminal_id, execution_id, exit_code, started_at, ended_at,
  output_head, output_tail (each bounded, decoded as UTF-8 with replacement), output_truncated.
- ``file.changed_externally``: path, change ("created" | "modified" | "deleted" | "moved").
- ``shell.command``: command, cwd, exit_code, shell (from the shell hook's log); also started_at and
  ended_at (ISO 8601, UTC) when the shell knows them.

Every event may carry an ``id``: capture sources that can re-send the same event (the shell log
follower after a restart) give a stable one so that the pool stores it once; otherwise the sink makes
one. Times are naive UTC.
"""

from __future__ import annotations

import os
import time as _time
from datetime import datetime, timezone
from typing import Any, Protocol

import attrs

DOCUMENT_OPENED = "document.opened"
DOCUMENT_SAVED = "document.saved"
DOCUMENT_CLOSED = "document.closed"
DIAGNOSTICS_CHANGED = "diagnostics.changed"
TERMINAL_STARTED = "terminal.started"
TERMINAL_ENDED = "terminal.ended"
FILE_CHANGED = "file.changed_externally"
SHELL_COMMAND = "shell.command"

EVENT_TYPES = (
    DOCUMENT_OPENED,
    DOCUMENT_SAVED,
    DOCUMENT_CLOSED,
    DIAGNOSTICS_CHANGED,
    TERMINAL_STARTED,
    TERMINAL_ENDED,
    FILE_CHANGED,
    SHELL_COMMAND,
)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


@attrs.frozen
class CapturedEvent:
    type: str
    workspace: str
    source: str  # "editor" | "terminal" | "watcher" | "shell-hook"
    payload: dict[str, Any] = attrs.field(factory=dict)
    time: datetime = attrs.field(factory=_utcnow)
    id: str | None = None


def new_event_id(when: datetime | None = None) -> str:
    """A fresh id that sorts by time: ``evt_`` + microseconds since the epoch (hex) + randomness."""
    micros = int((when or _utcnow()).replace(tzinfo=timezone.utc).timestamp() * 1_000_000)
    if micros <= 0:
        micros = _time.time_ns() // 1000
    return f"evt_{micros:014x}{os.urandom(5).hex()}"


class EventSink(Protocol):
    """Takes events from the editor features. ``record`` must return at once (it runs on the LSP
    event loop): redaction and storage happen in the background. Thread-safe."""

    def record(self, event: CapturedEvent) -> None: ...

    def flush(self, timeout_s: float = 5.0) -> None:
        """Wait until every event recorded so far is persisted (tests, shutdown)."""
        ...
