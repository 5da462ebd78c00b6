"""What every distiller shares: the protocol, the report, and the loop over pending episodes.

A distiller implements :class:`EpisodeDistiller` (``distill_episode(view) -> list[MemoryDraft]``) and
nothing else; :class:`~carryover.pipeline.runner.PipelineRunner` owns the run (segment once, then
:func:`distill_episodes`, which stores). An episode is *pending* while its status is ``finished``.
Each pending episode's memories go to the pool with ``store.add_many`` and only then is the episode
marked ``distilled``. When the distiller's endpoint is unreachable
(:class:`EndpointUnavailable`) the loop stops and every episode not yet done stays ``finished``, to be
retried on the next run; nothing is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

import attrs

from carryover.pipeline.distill.view import EpisodeView
from carryover.pipeline.segment import (
    DISTILLED,
    CaptureStore,
    SegmentConfig,
    SegmentReport,
    segment_pending,
)
from carryover.pool.priority import Pace, no_pace
from carryover.pool.records import MemoryDraft, WriteResult
from carryover.pool.schema import EpisodeRow, EventRow

logger = logging.getLogger(__name__)

OnProgress = Callable[[int, int, str], None]
"""``on_progress(done, total, message)``."""


class EndpointUnavailable(RuntimeError):
    """The model endpoint could not be reached or answered with an error; retry later."""


class DistillStore(CaptureStore, Protocol):
    """What distillation needs of the pool (``MemoryStore`` provides it)."""

    def append_events(self, rows: Sequence[EventRow], *, new_ids: bool = False) -> int: ...

    def add_many(self, drafts: Sequence[MemoryDraft]) -> list[WriteResult]: ...

    def set_episode_status(
        self, episode_ids: Sequence[str], status: str, when: datetime | None = None
    ) -> int: ...


class EpisodeDistiller(Protocol):
    """Turns one episode into memories."""

    @property
    def name(self) -> str: ...

    def distill_episode(self, view: EpisodeView) -> list[MemoryDraft]: ...


class Distiller(Protocol):
    """A ``--distiller`` plug-in that runs a whole distillation itself (the runner has already
    segmented): what tests' fakes implement. Distillers of episodes implement EpisodeDistiller."""

    def distill_pending(
        self, store: DistillStore, on_progress: OnProgress | None = None
    ) -> DistillReport: ...


@attrs.define
class DistillReport:
    """What a run did. Also readable as the language server's report (``episodes``, ``added``,
    ``merged``, ``message``)."""

    total: int = 0
    distilled: int = 0
    failed: int = 0
    queued: int = 0
    memories: int = 0
    added: int = 0
    merged: int = 0
    by_kind: dict[str, int] = attrs.field(factory=dict)
    episode_ids: list[str] = attrs.field(factory=list)
    errors: list[str] = attrs.field(factory=list)
    endpoint_error: str = ""
    segment: SegmentReport | None = None
    """The run's one segmentation (None when the run did not segment)."""
    malformed: list[str] = attrs.field(factory=list)
    """Ids of events whose stored payload could not be read (each reported once, left out)."""

    @property
    def episodes(self) -> int:
        return self.distilled

    @property
    def message(self) -> str:
        return self.describe()

    def describe(self) -> str:
        text = f"distilled {self.distilled} of {self.total} episode(s) into {self.memories} memories"
        if self.queued:
            text += f"; {self.queued} left queued"
        if self.failed:
            text += f"; {self.failed} failed"
        if self.malformed:
            text += f"; {len(self.malformed)} unreadable event(s) left out"
        if self.endpoint_error:
            text += f" ({self.endpoint_error})"
        return text


def _progress(callback: OnProgress | None, done: int, total: int, message: str) -> None:
    if callback is None:
        return
    try:
        callback(done, total, message)
    except Exception:  # a broken progress listener must not stop distillation
        logger.exception("progress callback failed")


def episode_view(store: DistillStore, episode: EpisodeRow, pace: Pace = no_pace) -> EpisodeView:
    events: list[EventRow] = store.read_events(ids=episode.event_ids, pace=pace) if episode.event_ids else []
    return EpisodeView.build(episode, events)


def segment_once(
    store: DistillStore, segment_config: SegmentConfig | None = None, pace: Pace = no_pace
) -> DistillReport:
    """Run the one segmentation of a run; a report holding it (or the error: what is already
    finished is still distilled)."""
    report = DistillReport()
    try:
        report.segment = segment_pending(store, segment_config, pace=pace)
    except Exception as error:  # distil what is there even if segmentation failed
        logger.exception("segmentation failed")
        report.errors.append(f"segmentation failed: {error}")
    else:
        report.malformed.extend(report.segment.malformed)
    return report


def distill_episodes(
    distiller: EpisodeDistiller,
    store: DistillStore,
    episodes: Sequence[EpisodeRow],
    on_progress: OnProgress | None = None,
    report: DistillReport | None = None,
    *,
    pace: Pace = no_pace,
) -> DistillReport:
    """Distil ``episodes`` (no segmentation) and store each one's memories, then mark it distilled.
    Never raises for one episode; an unreachable endpoint stops the run with the rest queued.
    ``pace`` is called before each episode and while its events are read."""
    todo = list(episodes)
    report = report or DistillReport()
    report.total = len(todo)
    _progress(on_progress, 0, len(todo), f"distilling {len(todo)} episode(s) with {distiller.name}")
    for index, episode in enumerate(todo):
        pace()
        try:
            view = episode_view(store, episode, pace)
            for event_id in view.malformed:
                if event_id not in report.malformed:
                    report.malformed.append(event_id)
            drafts = distiller.distill_episode(view)
        except EndpointUnavailable as error:
            report.queued = len(todo) - index
            report.endpoint_error = str(error)
            logger.warning(
                "distillation endpoint unavailable, %d episode(s) stay queued: %s", report.queued, error
            )
            _progress(
                on_progress, index, len(todo), f"endpoint unavailable; {report.queued} episode(s) queued"
            )
            break
        except Exception as error:  # one bad episode must not block the others; it stays queued
            report.failed += 1
            report.errors.append(f"{episode.id}: {type(error).__name__}: {error}")
            logger.exception("distilling episode %s failed", episode.id)
            continue
        results = store.add_many(drafts)
        store.set_episode_status([episode.id], DISTILLED)
        report.distilled += 1
        report.memories += len(results)
        report.added += sum(1 for result in results if result.action == "added")
        report.merged += sum(1 for result in results if result.action != "added")
        report.episode_ids.append(episode.id)
        for draft in drafts:
            report.by_kind[draft.kind.value] = report.by_kind.get(draft.kind.value, 0) + 1
        _progress(on_progress, index + 1, len(todo), f"distilled: {episode.goal[:80]}")
    return report
