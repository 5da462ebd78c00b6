"""The seam to distillation: what the "distill now" command calls. The capture/distillation helper
implements ``Distiller``; until one is configured the command tells the user there is none."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import attrs

ProgressCallback = Callable[[str, "int | None"], None]
"""``progress(message, percentage)``: thread-safe, may be called any number of times."""


@attrs.frozen
class DistillReport:
    episodes: int = 0
    added: int = 0
    merged: int = 0
    message: str = ""


class Distiller(Protocol):
    """Turns finished episodes into memories. Runs in a worker thread (it may call a model and write
    the pool); ``workspace`` limits it to one workspace folder, None means all of them."""

    def distill(self, workspace: str | None, progress: ProgressCallback) -> DistillReport: ...
