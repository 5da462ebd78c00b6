"""Work a person waits on before work nobody waits on, inside one process.

Python runs one thread at a time, so a background thread busy in Python (redacting a batch of events,
segmenting them) slows a hover's embedding running beside it, even on an idle core. Threads cannot
be given priorities, so the background loops yield instead: between small steps they wait while
foreground work (``Foreground.running``) is under way, for a bounded time, so that they always make
progress and a stream of hovers never starves them.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

YIELD_LIMIT_S = 0.05
"""The longest one background step waits for foreground work to end."""

Pace = Callable[[], None]
"""Called by a long background job between its steps (a slice of rows, an episode): returns at once,
or after giving way to foreground work."""


def no_pace() -> None:
    """The pace of a job nobody waits behind (a command run from a terminal, a test)."""


class Foreground:
    """Counts the foreground work under way in this process (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._idle = threading.Event()
        self._idle.set()
        self.waited_s = 0.0
        """How long background steps waited in all (a measure, for benchmarks and tests)."""

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        with self._lock:
            self._running += 1
            self._idle.clear()
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                if self._running == 0:
                    self._idle.set()

    @property
    def busy(self) -> bool:
        return not self._idle.is_set()

    def pacer(self, budget_s: float) -> Pace:
        """A pace for one job: each call yields (at most ``YIELD_LIMIT_S``) until the job has waited
        ``budget_s`` in all; from then on the job runs at full speed."""
        spent = 0.0

        def pace() -> None:
            nonlocal spent
            if spent < budget_s:
                spent += self.yield_to(min(YIELD_LIMIT_S, budget_s - spent))

        return pace

    def yield_to(self, limit_s: float = YIELD_LIMIT_S) -> float:
        """Called by a background loop between steps: returns once no foreground work runs, or after
        ``limit_s``; the seconds it waited."""
        if self._idle.is_set():
            return 0.0
        started = time.monotonic()
        self._idle.wait(limit_s)
        waited = time.monotonic() - started
        with self._lock:
            self.waited_s += waited
        return waited
