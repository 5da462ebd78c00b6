"""A minimal EventSink: appends captured events to the pool's ``events`` table from one writer thread.

Stand-in until server/capture/ ships its own sink (episodes, diffs, retention); anything satisfying
``server.capture.events.EventSink`` can replace it (``create_server(sink_factory=...)``). ``record``
only enqueues; the writer redacts every string of the payload, batches (up to ``batch_size`` events or
``interval_s``), and appends under the pool's write lock, as every writer of the pool does.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from server.capture.events import CapturedEvent

logger = logging.getLogger(__name__)

LOCK_FILE = "write.lock"  # memory_store.store.LOCK_FILE (not imported: that module imports LanceDB)


def redact_payload(value: Any) -> Any:
    """Every string inside ``value`` with secrets replaced."""
    from memory_store.redaction import redact_text

    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {key: redact_payload(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_payload(item) for item in value]
    return value


def event_row(event: CapturedEvent) -> dict[str, Any]:
    return {
        "id": "evt_" + uuid.uuid4().hex[:20],
        "time": event.time,
        "workspace": event.workspace,
        "source": event.source,
        "type": event.type,
        "payload": json.dumps(redact_payload(event.payload), ensure_ascii=False, default=str),
        "episode_id": "",
    }


class PoolEventLog:
    """Thread-safe; ``record`` never blocks (a full queue drops the event and counts it in ``dropped``)."""

    def __init__(
        self, pool_dir: Path, batch_size: int = 512, interval_s: float = 0.5, max_queue: int = 100_000
    ) -> None:
        self._pool_dir = pool_dir
        self._batch_size = batch_size
        self._interval_s = interval_s
        self._queue: queue.Queue[CapturedEvent | None] = queue.Queue(max_queue)
        self._done = threading.Condition()
        self._recorded = 0
        self._persisted = 0
        self._failed = 0
        self.dropped = 0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="carryover-events", daemon=True)
        self._thread.start()

    def record(self, event: CapturedEvent) -> None:
        if self._closed:
            return
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1
            if self.dropped in (1, 100, 10_000):
                logger.warning("event queue full: %d events dropped so far", self.dropped)
            return
        with self._done:
            self._recorded += 1

    def flush(self, timeout_s: float = 5.0) -> None:
        deadline = time.monotonic() + timeout_s
        with self._done:
            target = self._recorded
            while self._persisted + self._failed < target and self._thread.is_alive():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    logger.warning("event flush timed out (%d of %d written)", self._persisted, target)
                    return
                self._done.wait(remaining)

    def close(self, timeout_s: float = 5.0) -> None:
        self.flush(timeout_s)
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout_s)

    # ----- writer thread -------------------------------------------------------------------------

    def _run(self) -> None:
        table = None
        lock = None
        batch: list[CapturedEvent] = []
        stopping = False
        while not stopping:
            deadline = time.monotonic() + self._interval_s
            while len(batch) < self._batch_size:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            if not batch:
                continue
            try:
                if table is None:
                    import lancedb

                    from memory_store.locking import PoolLock

                    table = lancedb.connect(str(self._pool_dir)).open_table("events")
                    lock = PoolLock(self._pool_dir / LOCK_FILE)
                rows = [event_row(event) for event in batch]
                assert lock is not None
                with lock.hold():
                    table.add(rows)
            except Exception:
                logger.exception("could not write %d events; they are dropped", len(batch))
                with self._done:
                    self._failed += len(batch)
                    self._done.notify_all()
                batch = []
                continue
            with self._done:
                self._persisted += len(batch)
                self._done.notify_all()
            batch = []
