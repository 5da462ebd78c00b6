"""Distillation: finished episodes become the paper's four kinds of memory (Trajectory, Workflow,
Summary, Insight), offline by rules or through an OpenAI-compatible model.

A distiller is an :class:`EpisodeDistiller` (``distill_episode(view) -> list[MemoryDraft]``):
:class:`OfflineDistiller` or :class:`~.llm.LLMDistiller`, built in one place
(:func:`carryover.pipeline.distill.factory.build_distiller` from ``DistillerSettings`` or the
environment; not imported here, so that this package imports no model client).
Runs (segment once, distil, store) belong to :class:`carryover.pipeline.runner.PipelineRunner`,
run in the background by :class:`carryover.pipeline.worker.DistillWorker`.
"""

from carryover.pipeline.distill.base import (
    Distiller,
    DistillReport,
    DistillStore,
    EndpointUnavailable,
    EpisodeDistiller,
    OnProgress,
    distill_episodes,
)
from carryover.pipeline.distill.offline import OfflineDistiller

__all__ = [
    "DistillReport",
    "DistillStore",
    "Distiller",
    "EndpointUnavailable",
    "EpisodeDistiller",
    "OfflineDistiller",
    "OnProgress",
    "distill_episodes",
]
