"""Distillation: finished episodes become the paper's four kinds of memory (Trajectory, Workflow,
Summary, Insight), offline by rules or through an OpenAI-compatible model.

The entry point is the :class:`Distiller` protocol, ``distill_pending(store, on_progress(done,
total, message)) -> DistillReport``, provided by :class:`OfflineDistiller` and
:class:`~.llm.LLMDistiller` (``make_distiller()`` picks one from the environment); the
background :class:`~carryover.pipeline.distill.worker.DistillWorker` runs it off the event loop.
"""

from carryover.pipeline.distill.base import (
    Distiller,
    DistillReport,
    DistillStore,
    EndpointUnavailable,
    OnProgress,
    PendingDistiller,
    distill_pending,
)
from carryover.pipeline.distill.offline import OfflineDistiller

__all__ = [
    "DistillReport",
    "DistillStore",
    "Distiller",
    "EndpointUnavailable",
    "OfflineDistiller",
    "OnProgress",
    "PendingDistiller",
    "distill_pending",
]
