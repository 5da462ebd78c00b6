"""Deprecated: ``run_distill`` moved to :mod:`carryover.pipeline.command` (distill/ must not import the
runner that runs it). This forwarder goes once ``carryover/cli.py`` imports it from there."""

from __future__ import annotations

from typing import Any


def run_distill(*args: Any, **kwargs: Any) -> int:
    from carryover.pipeline.command import run_distill as run

    return run(*args, **kwargs)
