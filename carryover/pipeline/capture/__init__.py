"""Capture: what happens in editors and terminals, recorded as events and grouped into episodes."""

from carryover.pipeline.events import CapturedEvent, EventSink

__all__ = ["CapturedEvent", "EventSink"]
