"""A minimal EventSink: appends captured events to the pool's ``events`` table from one writer thread.

Stand-in until server/capture/ ships its own sink (episodes, diffs, retention); anything satisfying
``carryover.pipeline.events.EventSink`` can replace it (``create_server(sink_factory=...)``). ``record``
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
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from carryover.pipeline.events import CapturedEvent

logger = logging.getLogger(__name__)

LOCK_FILE = "write.lock"  # carryover.pool.store.LOCK_FILE (not imported: that module imports LanceDB)


SEPARATOR = "\n\x1e\n"
"""Between strings redacted together: a line of its own holding an ASCII record separator."""


def _strings(value: Any, found: list[str]) -> None:
    if isinstance(value, str):
        found.append(value)
    elif isinstance(value, dict):
        for item in value.values():
            _strings(item, found)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _strings(item, found)


def _replace(value: Any, clean: Iterator[str]) -> Any:
    if isinstance(value, str):
        return next(clean)
    if isinstance(value, dict):
        return {key: _replace(item, clean) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_replace(item, clean) for item in value]
    return value


def redact_strings(texts: Sequence[str]) -> list[str]:
    """Each text with secrets replaced, as ``redact_text`` would, in one pass over all of them.

    Redaction has a fixed cost per call (every rule runs), about 0.1 ms, which at a thousand events a
    second, several strings each, would take most of a core; joined, the same strings cost a few
    microseconds each. Each text is on lines of its own, so line-anchored rules see what they would
    see alone. Should a finding ever span a separator (the count of pieces changes) or a text contain
    one, the texts are redacted one by one instead."""
    from carryover.pool.redaction import redact_text

    if not texts:
        return []
    if len(texts) > 1 and not any(SEPARATOR in text for text in texts):
        pieces = redact_text(SEPARATOR.join(texts)).split(SEPARATOR)
        if len(pieces) == len(texts):
            return pieces
    return [redact_text(text) for text in texts]


def redact_payload(value: Any) -> Any:
    """Every string inside ``value`` with secrets replaced."""
    return redact_payloads([value])[0]


def redact_payloads(values: Sequence[Any]) -> list[Any]:
    """Every string inside each value with secrets replaced (one redaction pass for all)."""
    strings: list[str] = []
    for value in values:
        _strings(value, strings)
    clean = iter(redact_strings(strings))
    return [_replace(value, clean) for value in values]


def event_rows(events: Sequence[CapturedEvent]) -> list[dict[str, Any]]:
    payloads = redact_payloads([event.payload for event in events])
    return [
        {
            "id": getattr(event, "id", None) or "evt_" + uuid.uuid4().hex[:20],
            "time": event.time,
            "workspace": event.workspace,
            "source": event.source,
            "type": event.type,
            "payload": json.dumps(payload, ensure_ascii=False, default=str),
            "episode_id": "",
        }
        for event, payload in zip(events, payloads, strict=True)
    ]


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

                    from carryover.pool.locking import PoolLock

                    table = lancedb.connect(str(self._pool_dir)).open_table("events")
                    lock = PoolLock(self._pool_dir / LOCK_FILE)
                rows = event_rows(batch)
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
