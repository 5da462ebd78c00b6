"""``create_server``: a Carryover language server with every feature registered.

The one place that knows the list of features: the server core (server.py) imports none of them,
and each feature registers its own handlers and subscriptions.
"""

from __future__ import annotations

from carryover.lsp.server import CarryoverServer, ServerOptions

__all__ = ["CarryoverServer", "ServerOptions", "create_server"]


def create_server(options: ServerOptions | None = None) -> CarryoverServer:
    """A new server with every feature registered (no module-global server)."""
    from carryover.lsp.features import (
        activity,
        ahead,
        code_actions,
        commands,
        hover,
        inline,
        lifecycle,
        sync,
        team,
    )

    server = CarryoverServer(options or ServerOptions())
    for feature in (lifecycle, sync, activity, hover, code_actions, inline, commands, team, ahead):
        feature.register(server)
    return server
