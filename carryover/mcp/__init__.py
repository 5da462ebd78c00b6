"""``carryover mcp``: the memory pool served to coding agents over the Model Context Protocol."""

from carryover.mcp.server import run

__all__ = ["run"]
