"""The EventSink that persists events to the pool's events table.

``record`` only appends to an in-memory queue and returns (it runs on the LSP event loop). A
background thread takes what has queued, redacts every string in each payload
(:func:`carryover.pool.redaction.redact_text`), writes it with the one codec
(:func:`carryover.pipeline.events.encode`) and appends the batch to the events table. A batch is
written when ``batch_size`` events are waiting or ``flush_interval_s`` after its first event, so a
killed process loses at most the last ``flush_interval_s`` of events. ``flush`` waits until
everything recorded so far is stored, ``close`` flushes and stops the thread (also at interpreter
exit). A failed write is retried with backoff, keeping the batch; event ids make a retried batch
harmless (the table ignores ids it already has).
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import attrs

from carryover.pipeline.events import (
    PAYLOAD_CLASSES,
    CapturedEvent,
    Diagnostic,
    EventPayload,
    MalformedEvent,
    Position,
    Range,
    decode,
    encode,
    new_event_id,
)
from carryover.pool.priority import Foreground, no_pace
from carryover.pool.redaction import redact_text
from carryover.pool.schema import EventRow

logger = logging.getLogger(__name__)


class EventStore(Protocol):
    """What the sink needs of the pool (``MemoryStore`` provides it)."""

    def append_events(self, rows: Sequence[EventRow], *, new_ids: bool = False) -> int: ...


_REDACTABLE = frozenset({*PAYLOAD_CLASSES.values(), Diagnostic, Range, Position})
_V = TypeVar("_V")
BATCH_YIELD_S = 0.25
"""The most a batch waits, in all, for the foreground work it yields to (then it goes on)."""


def redact_value(value: _V, cache: dict[str, str] | None = None) -> _V:
    """``value`` with every string inside it redacted: str fields of a typed payload (and of the
    records inside it, such as its diagnostics), dict values (keys are kept), list and tuple items.
    ``cache`` (text -> redacted) spares redacting a text twice: a batch of events repeats its paths,
    working folders and language ids, and each redaction has a fixed cost."""
    memo: dict[str, str] = {} if cache is None else cache
    result: Any
    if isinstance(value, str):
        if not value:
            result = value
        else:
            result = memo.get(value)
            if result is None:
                result = memo[value] = redact_text(value)
    elif type(value) in _REDACTABLE:
        record: Any = value
        changes = {
            field.alias: redact_value(getattr(record, field.name), memo)
            for field in attrs.fields(type(record))
            if field.init
        }
        result = attrs.evolve(record, **changes)
    elif isinstance(value, dict):
        result = {key: redact_value(item, memo) for key, item in value.items()}
    elif isinstance(value, tuple):
        result = tuple(redact_value(item, memo) for item in value)
    elif isinstance(value, list):
        result = [redact_value(item, memo) for item in value]
    else:
        result = value
    return result  # type: ignore[no-any-return]


def event_to_row(
    event: CapturedEvent, event_id: str | None = None, cache: dict[str, str] | None = None
) -> EventRow:
    """The stored form of an event: payload redacted, checked and written by the codec. Raises
    :class:`~carryover.pipeline.events.MalformedEvent` for a payload that does not match its class.
    ``cache``: see :func:`redact_value` (one per batch)."""
    payload = encode(redact_value(event.payload, cache))
    time_value = event.time.replace(tzinfo=None) if event.time.tzinfo is not None else event.time
    return EventRow(
        id=event_id or event.id or new_event_id(event.time),
        time=time_value,
        workspace=redact_text(event.workspace),
        source=redact_text(event.source),
        type=event.type,
        payload=payload,
        episode_id="",
    )


def row_payload(row: EventRow) -> EventPayload:
    """The typed payload of a stored event; raises
    :class:`~carryover.pipeline.events.MalformedEvent` (naming the event) when it cannot be read."""
    try:
        return decode(row.type, row.payload, workspace=row.workspace)
    except MalformedEvent as error:
        raise MalformedEvent(error.reason, event_type=row.type, event_id=row.id) from error


_REPORTED: OrderedDict[str, None] = OrderedDict()
_REPORTED_LIMIT = 10_000
_reported_lock = threading.Lock()


def report_malformed(error: MalformedEvent) -> bool:
    """Log a malformed stored event once per event id (segmentation and distillation both read it);
    True the first time."""
    key = error.event_id or str(error)
    with _reported_lock:
        if key in _REPORTED:
            _REPORTED.move_to_end(key)
            return False
        _REPORTED[key] = None
        while len(_REPORTED) > _REPORTED_LIMIT:
            _REPORTED.popitem(last=False)
    logger.warning("malformed stored event, left out: %s", error)
    return True


def read_payload(row: EventRow) -> EventPayload | MalformedEvent:
    """The typed payload of a stored event, or the :class:`MalformedEvent` saying why it cannot be
    read (already logged, once per event): the caller counts it and goes on with the others."""
    try:
        return row_payload(row)
    except MalformedEvent as error:
        report_malformed(error)
        return error


@attrs.define
class SinkStats:
    recorded: int = 0
    persisted: int = 0
    dropped: int = 0
    failed_writes: int = 0


class PoolEventSink:
    """An :class:`~carryover.pipeline.events.EventSink` writing to the pool in the background.

    With ``foreground``, the writer thread gives way between events while a hover (or other
    interactive work) runs, at most ``BATCH_YIELD_S`` per batch: redacting a batch holds the GIL
    that the hover's embedding needs."""

    def __init__(
        self,
        store: EventStore,
        *,
        flush_interval_s: float = 0.5,
        batch_size: int = 512,
        max_queue: int = 100_000,
        on_persisted: Callable[[int], None] | None = None,
        retry_backoff_s: tuple[float, float] = (0.2, 5.0),
        foreground: Foreground | None = None,
    ) -> None:
        self._store = store
        self._foreground = foreground
        self._flush_interval_s = flush_interval_s
        self._batch_size = batch_size
        self._max_queue = max_queue
        self._on_persisted = on_persisted
        self._backoff = retry_backoff_s
        self._queue: deque[tuple[str, CapturedEvent]] = deque()
        self._cond = threading.Condition()
        self._flush_requested = False
        self._closing = False
        self._thread: threading.Thread | None = None
        self.stats = SinkStats()

    # -- the EventSink interface -------------------------------------------------------------

    def record(self, event: CapturedEvent) -> None:
        """Queue ``event``; returns at once. Starts the writer thread on first use."""
        event_id = event.id or new_event_id(event.time)
        with self._cond:
            if self._closing:
                self.stats.dropped += 1
                return
            if len(self._queue) >= self._max_queue:
                self.stats.dropped += 1
                return
            self._queue.append((event_id, event))
            self.stats.recorded += 1
            if self._thread is None:
                self._start_locked()
            if len(self._queue) >= self._batch_size:
                self._cond.notify_all()

    def flush(self, timeout_s: float = 5.0) -> None:
        """Wait until every event recorded before this call is stored (or ``timeout_s`` passed)."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            target = self.stats.recorded
            self._flush_requested = True
            self._cond.notify_all()
            while self.stats.persisted + self.stats.dropped < target and self._thread is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    logger.warning(
                        "event flush timed out with %d events not stored", target - self.stats.persisted
                    )
                    return
                self._cond.wait(remaining)

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> PoolEventSink:
        with self._cond:
            if self._thread is None:
                self._start_locked()
        return self

    def _start_locked(self) -> None:
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="carryover-event-sink", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def close(self, timeout_s: float = 10.0) -> None:
        """Store what is queued, then stop the writer thread."""
        self.flush(timeout_s)
        with self._cond:
            self._closing = True
            thread = self._thread
            self._cond.notify_all()
        if thread is not None:
            thread.join(timeout_s)
        with self._cond:
            self._thread = None
        atexit.unregister(self.close)

    def pending(self) -> int:
        with self._cond:
            return len(self._queue)

    # -- the writer thread -------------------------------------------------------------------

    def _take_batch(self) -> list[tuple[str, CapturedEvent]] | None:
        """The next batch, waiting for the interval to fill it; None when closing with nothing left."""
        with self._cond:
            while not self._queue:
                if self._closing:
                    return None
                self._cond.wait(0.5)
            first_seen = time.monotonic()
            while (
                len(self._queue) < self._batch_size
                and not self._flush_requested
                and not self._closing
                and time.monotonic() - first_seen < self._flush_interval_s
            ):
                self._cond.wait(max(0.0, self._flush_interval_s - (time.monotonic() - first_seen)))
            count = min(len(self._queue), self._batch_size)
            batch = [self._queue.popleft() for _ in range(count)]
            if not self._queue:
                self._flush_requested = False
            return batch

    def _run(self) -> None:
        while True:
            batch = self._take_batch()
            if batch is None:
                return
            rows = []
            cache: dict[str, str] = {}
            pace = self._foreground.pacer(BATCH_YIELD_S) if self._foreground is not None else no_pace
            for event_id, event in batch:
                pace()
                try:
                    rows.append(event_to_row(event, event_id, cache))
                except (TypeError, ValueError) as error:  # a malformed payload: drop that event, say so
                    logger.warning("dropping event %s: %s", event.type, error)
                    with self._cond:
                        self.stats.dropped += 1
            made_every_id = all(event.id is None for _, event in batch)
            stored = self._write(rows, new_ids=made_every_id)
            with self._cond:
                if stored:
                    self.stats.persisted += len(rows)
                else:
                    self.stats.dropped += len(rows)
                self._cond.notify_all()
            if self._on_persisted is not None and rows and stored:
                try:
                    self._on_persisted(len(rows))
                except Exception:  # a listener must not stop the writer
                    logger.exception("on_persisted callback failed")

    def _write(self, rows: list[EventRow], *, new_ids: bool) -> bool:
        """Store ``rows``, retrying while the pool refuses. A first attempt with only ids the sink
        made appends them without looking for them; a retry looks (the failed attempt may have
        stored them)."""
        delay, max_delay = self._backoff
        while rows:
            try:
                self._store.append_events(rows, new_ids=new_ids)
                return True
            except Exception:  # the pool is busy, the disk full…: keep the batch, retry
                with self._cond:
                    self.stats.failed_writes += 1
                    closing = self._closing
                logger.warning(
                    "storing %d events failed; retrying in %.1f s", len(rows), delay, exc_info=True
                )
                if closing and self.stats.failed_writes > 20:
                    logger.error("giving up on %d events at shutdown", len(rows))
                    return False
                time.sleep(delay)
                delay = min(delay * 2, max_delay)
                new_ids = False
        return True
