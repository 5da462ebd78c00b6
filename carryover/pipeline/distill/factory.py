"""The one place a distiller is chosen and built.

``build_distiller(settings)``: the model distiller at the configured endpoint when ``settings`` name
one; else the one the environment configures (``CARRYOVER_DISTILL_BASE_URL`` / ``_MODEL`` /
``_API_KEY``, see :meth:`~.llm.LLMSettings.from_env`); else the offline rules. Nothing is sent
anywhere unless configured. The language server (editor settings), the background runner and the
``carryover distill`` command all call it; :class:`~carryover.pipeline.runner.PipelineRunner`
rebuilds its distiller through it when the settings change.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import attrs

from carryover.pipeline.distill.base import EpisodeDistiller
from carryover.pipeline.distill.llm import ENV_API_KEY, LLMDistiller, LLMSettings
from carryover.pipeline.distill.offline import OfflineDistiller


@attrs.frozen
class DistillerSettings:
    """What the person configured for distillation (the editor's ``endpoint`` / ``model`` / ``key``
    settings). ``endpoint`` empty: whatever the environment configures, else offline. ``repr`` hides
    the key; equal settings build the same distiller."""

    endpoint: str = ""
    """An OpenAI-compatible base URL (``http://127.0.0.1:11434/v1``)."""
    model: str = ""
    """The model at the endpoint; empty: ``default``."""
    api_key: str | None = attrs.field(default=None, repr=False)
    """The endpoint's key; None: ``CARRYOVER_DISTILL_API_KEY`` (never another tool's key)."""
    timeout_s: float = 20.0
    max_retries: int = 2
    deadline_s: float = 30.0


def llm_settings(
    settings: DistillerSettings | None, environ: Mapping[str, str] | None = None
) -> LLMSettings | None:
    """The model endpoint ``settings`` (else the environment) configure; None: none is configured."""
    env = os.environ if environ is None else environ
    if settings is not None and settings.endpoint:
        return LLMSettings(
            model=settings.model or "default",
            base_url=settings.endpoint,
            api_key=settings.api_key or env.get(ENV_API_KEY) or None,
            timeout_s=settings.timeout_s,
            max_retries=settings.max_retries,
            deadline_s=settings.deadline_s,
        )
    return LLMSettings.from_env(env)


def build_distiller(
    settings: DistillerSettings | None = None, environ: Mapping[str, str] | None = None
) -> EpisodeDistiller:
    """The model distiller when an endpoint is configured (``settings``, else the environment), else
    the offline one."""
    chosen = llm_settings(settings, environ)
    return LLMDistiller(chosen) if chosen is not None else OfflineDistiller()
