"""An event source inside the server: the core says "something changed" and the features that care
react, without the core importing a feature (as esbonio's event source).

Listeners run on the event loop, in the order they subscribed; a failing listener is logged with its
traceback and the others still run.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)


class Change(enum.Enum):
    POOL_READY = "pool-ready"
    """The pool opened (or reopened)."""
    MEMORIES_CHANGED = "memories-changed"
    """Memories were added, merged, pinned, rejected, restored or forgotten."""
    SETTINGS_CHANGED = "settings-changed"


Listener = Callable[[Change], None]


class Announcer:
    def __init__(self) -> None:
        self._listeners: dict[Change, list[Listener]] = {change: [] for change in Change}

    def subscribe(self, listener: Listener, *changes: Change) -> None:
        for change in changes or tuple(Change):
            self._listeners[change].append(listener)

    def announce(self, change: Change) -> None:
        for listener in list(self._listeners[change]):
            try:
                listener(change)
            except Exception:  # one feature's failure must not stop the others or the server
                logger.exception("a listener of %s failed", change.value)
