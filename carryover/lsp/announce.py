"""An event source inside the server: the core says "something changed" and the features that care
react, without the core importing a feature (as esbonio's event source).

Listeners run on the event loop, in the order they subscribed; a failing listener is logged with its
traceback and the others still run. A change about a place (a document's lines, a workspace) carries a
:class:`Where`; ``subscribe_where`` listeners receive it.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable

import attrs

logger = logging.getLogger(__name__)


class Change(enum.Enum):
    POOL_READY = "pool-ready"
    """The pool opened (or reopened)."""
    MEMORIES_CHANGED = "memories-changed"
    """Memories were added, merged, pinned, rejected, restored or forgotten."""
    SETTINGS_CHANGED = "settings-changed"
    DOCUMENT_EDITED = "document-edited"
    """A document changed (didChange): ``Where`` names the document and the lines the edits touched,
    as they read after the change. Announced by features/sync.py only."""
    DIAGNOSTICS_ARRIVED = "diagnostics-arrived"
    """Another tool's diagnostics for a document were forwarded (``carryover/diagnostics``): ``Where``
    names the document and the diagnostics' lines. Announced by features/activity.py only."""
    RUN_FAILED = "run-failed"
    """A terminal command failed (``carryover/terminalEnded`` with a non-zero exit code): ``Where``
    names its workspace. Announced by features/activity.py only."""


@attrs.frozen
class Where:
    """Where a change happened: a document and some of its lines, or a workspace."""

    uri: str | None = None
    lines: tuple[int, ...] = ()
    workspace: str | None = None


Listener = Callable[[Change], None]
WhereListener = Callable[[Change, Where], None]


class Announcer:
    def __init__(self) -> None:
        self._listeners: dict[Change, list[WhereListener]] = {change: [] for change in Change}

    def subscribe(self, listener: Listener, *changes: Change) -> None:
        """``listener(change)`` on each of ``changes`` (all when none are given)."""
        self.subscribe_where(lambda change, _where: listener(change), *changes)

    def subscribe_where(self, listener: WhereListener, *changes: Change) -> None:
        """``listener(change, where)`` on each of ``changes`` (all when none are given)."""
        for change in changes or tuple(Change):
            self._listeners[change].append(listener)

    def announce(self, change: Change, where: Where | None = None) -> None:
        where = where if where is not None else Where()
        for listener in list(self._listeners[change]):
            try:
                listener(change, where)
            except Exception:  # one feature's failure must not stop the others or the server
                logger.exception("a listener of %s failed", change.value)
