"""The one owner of the pipeline: segment once, distil the finished episodes, store their memories.

``PipelineRunner(store, distiller_factory)`` runs the whole pipeline over a pool: :meth:`run` segments
the pool's new events once (:func:`~carryover.pipeline.segment.segment_pending`), distils every
finished episode with its distiller (:func:`~carryover.pipeline.distill.base.distill_episodes`, which
stores the memories and marks the episode distilled) and returns one report. The background worker,
the language server's "distill now" and ``carryover distill`` all go through it; distillers only turn
one episode into memories (:class:`~carryover.pipeline.distill.base.EpisodeDistiller`).

The distiller is built by ``distiller_factory`` (:func:`~carryover.pipeline.distill.factory.
build_distiller`) from :class:`~carryover.pipeline.distill.factory.DistillerSettings`, and built again
by :meth:`configure` when the settings change (the editor's endpoint, model or key). A distiller given
explicitly (``distiller=``, as tests and ``--distiller`` do) is kept whatever the settings say.

Thread-safe: runs are serialised; ``configure`` may be called from any thread (the event loop) and
takes effect from the next run; a model client replaced during a run is closed after it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from typing_extensions import TypeIs

from carryover.pipeline.distill.base import (
    Distiller,
    DistillReport,
    DistillStore,
    EpisodeDistiller,
    OnProgress,
    distill_episodes,
    segment_once,
)
from carryover.pipeline.distill.factory import DistillerSettings, build_distiller
from carryover.pipeline.segment import DISTILLED, FINISHED, SegmentConfig
from carryover.pool.priority import Pace, no_pace
from carryover.pool.schema import EpisodeRow

logger = logging.getLogger(__name__)

DistillerFactory = Callable[[DistillerSettings | None], EpisodeDistiller]
AnyDistiller = EpisodeDistiller | Distiller
"""An EpisodeDistiller, or (deprecated, until ``--distiller`` switches) an object with only
``distill_pending``."""


def is_episode_distiller(distiller: AnyDistiller) -> TypeIs[EpisodeDistiller]:
    return callable(getattr(distiller, "distill_episode", None))


class PipelineRunner:
    def __init__(
        self,
        store: DistillStore,
        distiller_factory: DistillerFactory = build_distiller,
        settings: DistillerSettings | None = None,
        *,
        distiller: AnyDistiller | None = None,
        segment_config: SegmentConfig | None = None,
    ) -> None:
        self.store = store
        self._factory = distiller_factory
        self._settings = settings
        self._pinned = distiller is not None
        self._distiller: AnyDistiller = distiller if distiller is not None else distiller_factory(settings)
        self._segment_config = segment_config
        self._run_lock = threading.Lock()
        self._lock = threading.Lock()
        self._retired: list[AnyDistiller] = []
        self.builds = 0 if self._pinned else 1
        """How many distillers the factory has built (tests, logs)."""

    # -- the distiller --------------------------------------------------------------------------

    @property
    def distiller(self) -> AnyDistiller:
        with self._lock:
            return self._distiller

    @property
    def settings(self) -> DistillerSettings | None:
        return self._settings

    def configure(self, settings: DistillerSettings | None) -> bool:
        """Use the distiller ``settings`` describe from the next run on; True when a new one was
        built (settings changed and no distiller was given explicitly)."""
        with self._lock:
            if settings == self._settings:
                return False
            self._settings = settings
            if self._pinned:
                return False
        built = self._factory(settings)  # cheap: no connection is made before the first request
        with self._lock:
            old, self._distiller = self._distiller, built
            self.builds += 1
            self._retired.append(old)
        logger.info("distiller rebuilt for new settings: %s", _name(built))
        if not self._run_lock.locked():
            self._close_retired()
        return True

    def _close_retired(self) -> None:
        with self._lock:
            retired, self._retired = self._retired, []
        for distiller in retired:
            close = getattr(distiller, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:  # closing an old client must not fail a run
                    logger.exception("closing the previous distiller failed")

    # -- running --------------------------------------------------------------------------------

    def segment(self, pace: Pace = no_pace) -> DistillReport:
        """Only the segmentation (a report holding it): what a run does first."""
        with self._run_lock:
            return segment_once(self.store, self._segment_config, pace)

    def pending(self) -> list[EpisodeRow]:
        return self.store.list_episodes(FINISHED)

    def run(
        self,
        on_progress: OnProgress | None = None,
        *,
        episode_ids: Sequence[str] | None = None,
        redo: bool = False,
        segment: bool = True,
        before_distill: Callable[[list[EpisodeRow], DistillReport], None] | None = None,
        pace: Pace = no_pace,
    ) -> DistillReport:
        """Segment once (unless ``segment`` is false), then distil the finished episodes (only
        ``episode_ids`` when given; with ``redo`` also those distilled before) and store their
        memories. ``before_distill(episodes, report)`` runs between the two, with the report so far
        (``carryover distill`` prints the segmentation there and, with ``--redo``, removes the
        memories it replaces). ``pace`` lets the run give way to a hover between its steps."""
        with self._run_lock:
            try:
                report = segment_once(self.store, self._segment_config, pace) if segment else DistillReport()
                statuses = [FINISHED, DISTILLED] if redo else [FINISHED]
                episodes = self.store.list_episodes(statuses, ids=list(episode_ids) if episode_ids else None)
                if before_distill is not None:
                    before_distill(episodes, report)
                return self._distill(episodes, on_progress, report, pace)
            finally:
                self._close_retired()

    def _distill(
        self,
        episodes: list[EpisodeRow],
        on_progress: OnProgress | None,
        report: DistillReport,
        pace: Pace,
    ) -> DistillReport:
        distiller = self.distiller
        if is_episode_distiller(distiller):
            return distill_episodes(distiller, self.store, episodes, on_progress, report, pace=pace)
        # Deprecated: an object with only distill_pending (``--distiller`` fakes) runs the rest itself.
        legacy: DistillReport = distiller.distill_pending(self.store, on_progress)
        legacy.segment = report.segment
        legacy.errors[:0] = report.errors
        return legacy


def _name(distiller: AnyDistiller) -> str:
    return str(getattr(distiller, "name", type(distiller).__name__))
