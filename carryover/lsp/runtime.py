"""Running work off the event loop: worker threads, tracked background tasks, and the pool that opens
in the background while the server already answers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from carryover.pool.priority import Foreground

if TYPE_CHECKING:
    from carryover.pool.store import MemoryStore

logger = logging.getLogger(__name__)
T = TypeVar("T")


class Workers:
    """Two thread pools: ``interactive`` for what a user waits on (hover, code actions, commands) and
    ``background`` for what nobody waits on (document analysis, pool opening), so that a long
    analysis never queues in front of a hover. MemoryStore is thread-safe. Interactive work is
    marked in ``foreground``, which the capture pipeline's threads yield to."""

    def __init__(self, interactive: int = 4, background: int = 2) -> None:
        self._interactive = ThreadPoolExecutor(interactive, thread_name_prefix="carryover-io")
        self._background = ThreadPoolExecutor(background, thread_name_prefix="carryover-bg")
        self.foreground = Foreground()

    async def run(self, function: Callable[..., T], *args: Any, background: bool = False) -> T:
        loop = asyncio.get_running_loop()
        if background:
            return await loop.run_in_executor(self._background, lambda: function(*args))

        def interactive() -> T:
            with self.foreground.running():
                return function(*args)

        return await loop.run_in_executor(self._interactive, interactive)

    def shutdown(self) -> None:
        self._interactive.shutdown(wait=False, cancel_futures=True)
        self._background.shutdown(wait=False, cancel_futures=True)


class Background:
    """Tasks the server starts without awaiting them: each is tracked until it ends, and its error is
    logged (never lost, never fire-and-forget)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coroutine: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            logger.error("background task %s failed", task.get_name(), exc_info=error)

    def __len__(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout_s: float = 5.0) -> None:
        """Wait for the tasks running now (tests and shutdown)."""
        pending = [task for task in self._tasks if not task.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout_s)

    async def cancel_all(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


class StoreUnavailable(RuntimeError):
    """The pool could not be opened; the message says why."""


class StoreHandle:
    """The pool, opened in a worker thread after ``initialize`` (importing LanceDB alone takes seconds).
    Features ``get(timeout)`` it: None until it is ready. It can be reopened (a new endpoint)."""

    def __init__(self) -> None:
        self._future: asyncio.Future[MemoryStore] | None = None
        self.error: str | None = None

    def opening(self) -> asyncio.Future[MemoryStore]:
        """A fresh future for an open in progress (replacing any previous store)."""
        self._future = asyncio.get_running_loop().create_future()
        self.error = None
        return self._future

    @property
    def current(self) -> MemoryStore | None:
        future = self._future
        if future is None or not future.done() or future.cancelled() or future.exception() is not None:
            return None
        return future.result()

    async def get(self, timeout_s: float | None) -> MemoryStore | None:
        """The store, waiting up to ``timeout_s`` for it (None: as long as it takes); None when it is
        not ready in time or could not be opened."""
        future = self._future
        if future is None:
            return None
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout_s)
        except (TimeoutError, asyncio.TimeoutError):
            return None
        except StoreUnavailable:
            return None

    async def require(self, timeout_s: float = 120.0) -> MemoryStore:
        """The store for a command: waits for it, raises StoreUnavailable when there is none."""
        future = self._future
        if future is None:
            raise StoreUnavailable("the pool is not open yet (the server has not been initialized)")
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout_s)
        except (TimeoutError, asyncio.TimeoutError) as error:
            raise StoreUnavailable(f"the pool did not open within {timeout_s:.0f} s") from error
