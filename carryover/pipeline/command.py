"""``carryover distill`` (``run_distill``): one :class:`~carryover.pipeline.runner.PipelineRunner`
run (segment once, distil, store), now, in the foreground.

``run_distill(store)`` distils finished episodes that are not distilled yet. With ``redo=True`` it
also re-distils episodes already distilled (for example after configuring a model endpoint): their
earlier memories are removed first when nobody touched them (only this episode's, still active, no
feedback, not merged with another episode's), so the pool does not hold both versions.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import TextIO

from carryover.pipeline.distill.base import DistillReport, EpisodeDistiller
from carryover.pipeline.distill.factory import DistillerSettings, build_distiller
from carryover.pipeline.distill.llm import LLMDistiller, LLMSettings
from carryover.pipeline.runner import PipelineRunner
from carryover.pipeline.segment import DISTILLED, SegmentConfig
from carryover.pool.records import Status
from carryover.pool.schema import EpisodeRow
from carryover.pool.store import MemoryStore


def _replaceable(store: MemoryStore, episode_ids: set[str]) -> list[str]:
    ids = []
    for memory in store.list_memories():
        provenance = memory.provenance
        if (
            provenance.source == "distiller"
            and set(provenance.episode_ids) <= episode_ids
            and len(provenance.episode_ids) == 1
            and memory.status is Status.ACTIVE
            and memory.helpful == 0
            and memory.unhelpful == 0
            and memory.merged_count == 0
        ):
            ids.append(memory.id)
    return ids


def run_distill(
    store: MemoryStore,
    *,
    redo: bool = False,
    episode_ids: Sequence[str] = (),
    distiller: EpisodeDistiller | None = None,
    settings: DistillerSettings | LLMSettings | None = None,
    environ: Mapping[str, str] | None = None,
    segment_config: SegmentConfig | None = None,
    out: TextIO | None = None,
) -> int:
    """Run distillation and print a one-line report per step. Returns the exit code: 0 when every
    episode was distilled, 1 when some stayed queued or failed. The distiller: ``distiller``, else
    the one ``settings`` (else the environment) configure (``build_distiller``)."""
    stream = out or sys.stdout
    if distiller is None and isinstance(settings, LLMSettings):  # deprecated: model settings directly
        distiller = LLMDistiller(settings)
    runner = PipelineRunner(
        store,
        lambda chosen: build_distiller(chosen, environ),
        settings if isinstance(settings, DistillerSettings) else None,
        distiller=distiller,
        segment_config=segment_config,
    )

    def prepare(episodes: list[EpisodeRow], so_far: DistillReport) -> None:
        segmented = so_far.segment
        if segmented is not None:
            stream.write(
                f"segmented {segmented.events} event(s): {len(segmented.finished)} episode(s) finished\n"
            )
        if redo:
            redone = {episode.id for episode in episodes if episode.status == DISTILLED}
            for memory_id in _replaceable(store, redone):
                store.forget(memory_id)

    def progress(done: int, total: int, message: str) -> None:
        stream.write(f"[{done}/{total}] {message}\n")

    report = runner.run(progress, episode_ids=episode_ids or None, redo=redo, before_distill=prepare)
    stream.write(report.describe() + "\n")
    return 0 if not (report.queued or report.failed) else 1
