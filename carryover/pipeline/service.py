"""Everything capture runs in the daemon, started and stopped together.

``CaptureService(store, workspaces)`` owns:

- ``sink``: the :class:`~carryover.pipeline.capture.sink.PoolEventSink` the language server's handlers call;
- a :class:`~carryover.pipeline.capture.watcher.WorkspaceWatcher` per workspace (files changed outside the
  editor), told about the editor's own saves;
- a :class:`~carryover.pipeline.capture.shell_log.ShellLogFollower` for the shell hook's log;
- ``runner``: the :class:`~carryover.pipeline.runner.PipelineRunner` (segment once, distil, store), run
  in the background by ``worker`` (a :class:`~carryover.pipeline.worker.DistillWorker`, woken after
  events are stored) and in the foreground by :meth:`CaptureService.distill_now`;
  :meth:`CaptureService.configure_distiller` rebuilds its distiller when the settings change.

``stop()`` flushes the sink, stops the threads and runs a last segmentation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from carryover.pipeline.capture.documents import workspace_of
from carryover.pipeline.capture.filters import PathFilter, is_secret_path
from carryover.pipeline.capture.shell_hook import default_log_path
from carryover.pipeline.capture.shell_log import ShellLogFollower
from carryover.pipeline.capture.sink import PoolEventSink
from carryover.pipeline.capture.watcher import WorkspaceWatcher
from carryover.pipeline.distill.base import DistillReport, DistillStore, OnProgress
from carryover.pipeline.distill.factory import DistillerSettings
from carryover.pipeline.events import CapturedEvent
from carryover.pipeline.runner import AnyDistiller, PipelineRunner
from carryover.pipeline.segment import SegmentConfig
from carryover.pool.priority import Foreground

logger = logging.getLogger(__name__)


class CaptureService:
    def __init__(
        self,
        store: DistillStore,
        workspaces: Sequence[str] = (),
        *,
        exclude: Sequence[str] = (),
        distiller: AnyDistiller | None = None,
        distiller_settings: DistillerSettings | None = None,
        on_progress: OnProgress | None = None,
        on_report: Callable[[DistillReport], None] | None = None,
        watch_files: bool = True,
        follow_shell_log: bool = True,
        segment_config: SegmentConfig | None = None,
        flush_interval_s: float = 0.5,
        distill_interval_s: float = 60.0,
        foreground: Foreground | None = None,
    ) -> None:
        from carryover.pipeline.worker import DistillWorker

        self.store = store
        self.workspaces = [str(Path(root).resolve()) for root in workspaces]
        self.exclude = list(exclude)
        self.runner = PipelineRunner(
            store, settings=distiller_settings, distiller=distiller, segment_config=segment_config
        )
        self.worker = DistillWorker(
            store,
            runner=self.runner,
            on_progress=on_progress,
            on_report=on_report,
            interval_s=distill_interval_s,
            foreground=foreground,
        )
        self.sink = PoolEventSink(
            store,
            flush_interval_s=flush_interval_s,
            on_persisted=lambda _n: self.worker.wake(),
            foreground=foreground,
        )
        self._filters = {root: PathFilter(root, self.exclude) for root in self.workspaces}
        self._watch_files = watch_files
        self._follow_shell_log = follow_shell_log
        self.watchers: dict[str, WorkspaceWatcher] = {}
        self.follower: ShellLogFollower | None = None

    # -- workspaces -----------------------------------------------------------------------------

    def workspace_for(self, path: str) -> str:
        return workspace_of(path, self.workspaces)

    def _excluded(self, path: str) -> bool:
        root = self.workspace_for(path)
        path_filter = self._filters.get(root)
        return is_secret_path(path) if path_filter is None else path_filter.excluded(path)

    def add_workspace(self, root: str) -> None:
        resolved = str(Path(root).resolve())
        if resolved in self.workspaces:
            return
        self.workspaces.append(resolved)
        self._filters[resolved] = PathFilter(resolved, self.exclude)
        if self._watch_files and self.follower is not None:  # started
            self._start_watcher(resolved)

    def remove_workspace(self, root: str) -> None:
        resolved = str(Path(root).resolve())
        if resolved in self.workspaces:
            self.workspaces.remove(resolved)
        self._filters.pop(resolved, None)
        watcher = self.watchers.pop(resolved, None)
        if watcher is not None:
            watcher.stop()

    def _start_watcher(self, root: str) -> None:
        try:
            self.watchers[root] = WorkspaceWatcher(
                root, self.sink, path_filter=self._filters[root], workspace=root
            ).start()
        except OSError as error:
            logger.warning("cannot watch %s: %s", root, error)

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> CaptureService:
        self.sink.start()
        if self._watch_files:
            for root in self.workspaces:
                self._start_watcher(root)
        if self._follow_shell_log:
            pool_dir = Path(self.store.config.pool_dir)
            self.follower = ShellLogFollower(
                default_log_path(pool_dir), self.sink, lambda: self.workspaces
            ).start()
        self.worker.start()
        return self

    def stop(self) -> None:
        for watcher in self.watchers.values():
            watcher.stop()
        self.watchers.clear()
        if self.follower is not None:
            self.follower.stop()
            self.follower = None
        self.sink.close()
        self.worker.stop()
        try:
            from carryover.pipeline.segment import segment_pending

            segment_pending(self.store)
        except Exception:  # shutting down: the next start segments what is left
            logger.exception("final segmentation failed")

    # -- distillation ---------------------------------------------------------------------------

    def configure_distiller(self, settings: DistillerSettings | None) -> bool:
        """New distiller settings (the editor's endpoint, model, key): the runner rebuilds its
        distiller when they changed and the worker runs soon. True when rebuilt. Any thread."""
        return self.worker.configure(settings)

    def distill_now(self, on_progress: OnProgress | None = None) -> DistillReport:
        """Store what was captured, then one runner run: segment once, distil, store. Blocking: call
        it off the event loop."""
        self.sink.flush()
        return self.runner.run(on_progress)

    # -- what the language server's capture calls -----------------------------------------------

    def record(self, event: CapturedEvent) -> None:
        self.sink.record(event)

    def note_editor_write(self, path: str) -> None:
        """The editor saved ``path``: its watcher must not report the write as an outside change."""
        watcher = self.watchers.get(self.workspace_for(path))
        if watcher is not None:
            watcher.note_editor_write(path)
