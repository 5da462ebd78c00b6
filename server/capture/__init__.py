"""Capture: what happens in editors and terminals, recorded as events and grouped into episodes."""

from server.capture.events import CapturedEvent, EventSink

__all__ = ["CapturedEvent", "EventSink"]
