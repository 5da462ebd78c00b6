"""Distillation in the background: a :class:`~carryover.pipeline.runner.PipelineRunner` run (segment
once, distil, store) on a worker thread, never on the LSP event loop.

``wake()`` asks for a run soon (the event sink calls it after storing events); otherwise a run happens
every ``interval_s``. Progress goes to ``on_progress(done, total, message)`` (the language server
turns it into ``$/progress``). After the distiller's endpoint fails, runs back off (``backoff_s``,
doubling up to ``max_backoff_s``) while the episodes stay queued (new events are still segmented);
:meth:`DistillWorker.configure` with new settings rebuilds the distiller and ends the back-off.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from carryover.pipeline.distill.base import DistillReport, DistillStore, OnProgress
from carryover.pipeline.distill.factory import DistillerSettings
from carryover.pipeline.runner import AnyDistiller, PipelineRunner
from carryover.pipeline.segment import SegmentConfig, SegmentReport
from carryover.pool.priority import Foreground, no_pace

logger = logging.getLogger(__name__)

RUN_YIELD_S = 1.0
"""The most one run waits, in all, for foreground work (hovers) it gives way to between its steps."""


class DistillWorker:
    """``distiller`` pins one distiller; otherwise the runner builds it from ``settings`` (and the
    environment) and rebuilds it on :meth:`configure`. ``runner`` shares one the caller owns."""

    def __init__(
        self,
        store: DistillStore,
        distiller: AnyDistiller | None = None,
        *,
        settings: DistillerSettings | None = None,
        runner: PipelineRunner | None = None,
        on_progress: OnProgress | None = None,
        on_report: Callable[[DistillReport], None] | None = None,
        segment_config: SegmentConfig | None = None,
        interval_s: float = 60.0,
        debounce_s: float = 1.0,
        backoff_s: float = 30.0,
        max_backoff_s: float = 900.0,
        foreground: Foreground | None = None,
    ) -> None:
        self.store = store
        self._foreground = foreground
        self.runner = runner or PipelineRunner(
            store, settings=settings, distiller=distiller, segment_config=segment_config
        )
        self._on_progress = on_progress
        self._on_report = on_report
        self._interval_s = interval_s
        self._debounce_s = debounce_s
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._current_backoff = backoff_s
        self._retry_at = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None
        self._run_lock = threading.Lock()
        self.last_report: DistillReport | None = None
        self.last_segment: SegmentReport | None = None

    def configure(self, settings: DistillerSettings | None) -> bool:
        """New distiller settings (from any thread): rebuilds the distiller when they changed, ends
        a back-off after the old endpoint failed, and asks for a run. True when rebuilt."""
        rebuilt = self.runner.configure(settings)
        if rebuilt:
            self._current_backoff = self._backoff_s
            self._retry_at = 0.0
            self.wake()
        return rebuilt

    def start(self) -> DistillWorker:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="carryover-distill", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def wake(self) -> None:
        """Ask for a run soon (cheap; safe from any thread, including the event loop)."""
        self._idle.clear()
        self._wake.set()

    def wait_idle(self, timeout_s: float = 30.0) -> bool:
        """Wait until no run is due or running (tests)."""
        return self._idle.wait(timeout_s)

    def run_once(self) -> DistillReport:
        """One runner run: segment once, then distil what is pending (only segment while backing off
        after an endpoint failure)."""
        pace = self._foreground.pacer(RUN_YIELD_S) if self._foreground is not None else no_pace
        with self._run_lock:
            if time.monotonic() < self._retry_at:
                report = self.runner.segment(pace)
                self.last_segment = report.segment
                report.queued = len(self.runner.pending())
                report.endpoint_error = "backing off"
                return report
            report = self.runner.run(self._on_progress, pace=pace)
            self.last_segment = report.segment
            if report.endpoint_error:
                self._retry_at = time.monotonic() + self._current_backoff
                self._current_backoff = min(self._current_backoff * 2, self._max_backoff_s)
            else:
                self._current_backoff = self._backoff_s
                self._retry_at = 0.0
            self.last_report = report
        if self._on_report is not None:
            try:
                self._on_report(report)
            except Exception:  # a listener must not stop the worker
                logger.exception("on_report callback failed")
        return report

    def _loop(self) -> None:
        while not self._stop.is_set():
            woken = self._wake.wait(self._interval_s)
            if self._stop.is_set():
                break
            if woken:
                time.sleep(self._debounce_s)  # let a burst of events settle
                self._wake.clear()
            try:
                self.run_once()
            except Exception:  # the pool may be busy; try again next time
                logger.exception("background distillation failed")
            if not self._wake.is_set():
                self._idle.set()
