"""Shared pytest fixtures."""

from tests.support.openai_server import openai_server
from tests.support.pools import minilm, store

__all__ = ["minilm", "openai_server", "store"]
