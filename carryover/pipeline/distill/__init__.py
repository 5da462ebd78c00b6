"""Distillation: finished episodes become the paper's four kinds of memory (Trajectory, Workflow,
Summary, Insight), offline by rules or through an OpenAI-compatible model.

A distiller is an :class:`EpisodeDistiller` (``distill_episode(view) -> list[MemoryDraft]``):
:class:`OfflineDistiller` or :class:`~.llm.LLMDistiller`, built in one place
(:func:`~.factory.build_distiller` from :class:`~.factory.DistillerSettings` or the environment).
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
    PendingDistiller,
    distill_episodes,
    distill_pending,
)
from carryover.pipeline.distill.factory import DistillerSettings, build_distiller
from carryover.pipeline.distill.offline import OfflineDistiller

__all__ = [
    "DistillReport",
    "DistillStore",
    "Distiller",
    "DistillerSettings",
    "EndpointUnavailable",
    "EpisodeDistiller",
    "OfflineDistiller",
    "OnProgress",
    "PendingDistiller",
    "build_distiller",
    "distill_episodes",
    "distill_pending",
]
