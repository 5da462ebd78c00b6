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
- ``shell.command``: command, cwd, exit_code, shell (from the shell hook's log).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Protocol

import attrs


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


@attrs.frozen
class CapturedEvent:
    type: str
    workspace: str
    source: str  # "editor" | "terminal" | "watcher" | "shell-hook"
    payload: dict[str, Any] = attrs.field(factory=dict)
    time: datetime = attrs.field(factory=_utcnow)


class EventSink(Protocol):
    """Takes events from the editor features. ``record`` must return at once (it runs on the LSP
    event loop): redaction and storage happen in the background. Thread-safe."""

    def record(self, event: CapturedEvent) -> None: ...

    def flush(self, timeout_s: float = 5.0) -> None:
        """Wait until every event recorded so far is persisted (tests, shutdown)."""
        ...
