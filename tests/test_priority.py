"""Background loops yield to the work a person waits on, for a bounded time, and lose nothing."""

from __future__ import annotations

import threading
import time

from carryover.lsp.runtime import Workers
from carryover.pipeline.capture.sink import BATCH_YIELD_S, PoolEventSink
from carryover.pipeline.segment import PACE_EVERY, segment_pending
from carryover.pool.priority import Foreground
from carryover.pool.store import READ_SLICE_ROWS, MemoryStore
from tests.support.events import started
from tests.test_capture_segment import fast_store
from tests.test_capture_sink import SlowStore

__all__ = ["fast_store"]  # a fixture


def test_yield_to_returns_at_once_when_nothing_runs_in_the_foreground() -> None:
    foreground = Foreground()
    begun = time.perf_counter()
    assert foreground.yield_to(1.0) == 0.0
    assert time.perf_counter() - begun < 0.05 and not foreground.busy


def test_yield_to_waits_for_foreground_work_to_end() -> None:
    foreground = Foreground()
    entered = threading.Event()

    def hover() -> None:
        with foreground.running():
            entered.set()
            time.sleep(0.2)

    worker = threading.Thread(target=hover)
    worker.start()
    entered.wait(5)
    assert foreground.busy
    waited = foreground.yield_to(5.0)
    worker.join()
    assert 0.1 < waited < 2.0  # released when the hover ended, long before the limit
    assert not foreground.busy and foreground.waited_s == waited


def test_yield_to_gives_up_after_its_limit_so_a_stream_of_hovers_never_starves_the_caller() -> None:
    foreground = Foreground()
    with foreground.running(), foreground.running():
        waited = foreground.yield_to(0.05)
        assert foreground.busy  # one of two still runs after the other ends
    assert 0.04 < waited < 1.0 and not foreground.busy


async def test_interactive_work_is_marked_foreground_and_background_work_is_not() -> None:
    workers = Workers(interactive=1, background=1)
    try:
        assert await workers.run(lambda: workers.foreground.busy) is True
        assert await workers.run(lambda: workers.foreground.busy, background=True) is False
        assert not workers.foreground.busy
    finally:
        workers.shutdown()


def test_the_sink_yields_to_a_hover_under_way_and_still_stores_every_event() -> None:
    foreground = Foreground()
    store = SlowStore()
    sink = PoolEventSink(store, flush_interval_s=0.02, batch_size=50, foreground=foreground)
    with foreground.running():
        for n in range(120):
            sink.record(started("/w", f"x{n}"))
        time.sleep(0.3)
        assert sum(len(batch) for batch in store.batches) < 120  # held back while the hover runs
    sink.flush(10)
    sink.close()
    assert sum(len(batch) for batch in store.batches) == 120 and sink.stats.persisted == 120
    # each batch gave way for at most its budget, then went on
    assert 0.2 < foreground.waited_s <= len(store.batches) * (BATCH_YIELD_S + 0.06)


def test_a_pacer_stops_yielding_once_its_budget_is_spent() -> None:
    foreground = Foreground()
    pace = foreground.pacer(0.12)
    with foreground.running():
        begun = time.perf_counter()
        for _ in range(20):
            pace()  # 20 steps of up to 50 ms each would be 1 s; the budget caps them
        spent = time.perf_counter() - begun
    assert 0.1 < spent < 0.5 and 0.1 < foreground.waited_s < 0.2


def test_segmentation_gives_way_between_slices_of_events(fast_store: MemoryStore) -> None:
    events = [started("/w", f"x{n}") for n in range(600)]
    sink = PoolEventSink(fast_store, flush_interval_s=0.01)
    for event in events:
        sink.record(event)
    sink.close()
    calls: list[int] = []
    report = segment_pending(fast_store, pace=lambda: calls.append(1))
    assert report.events == 600
    # slices of READ_SLICE_ROWS rows read, and one step per PACE_EVERY events segmented
    assert len(calls) == -(-600 // READ_SLICE_ROWS) + -(-600 // PACE_EVERY)
