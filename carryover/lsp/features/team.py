"""Memories that come from others: proposals written by agents (``carryover mcp``) wait for the
person to accept them, and a memory is shared with the team pool only when the person asks.

Commands: ``carryover.accept [{memoryId}]`` (a proposal becomes an ordinary memory),
``carryover.share [{memoryId, workspace?}]`` (copied to the team pool; refused while a secret
pattern remains; queued while the team pool is unreachable). Rejecting a proposal is the ordinary
``carryover.reject``. While a team pool is configured, queued shares are retried in the background
and what the team pool's state is goes to the log and the status message.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcInvalidParams

from carryover.lsp.announce import Change
from carryover.lsp.guard import guarded
from carryover.lsp.server import CarryoverServer  # at run time: pygls reads the handlers' hints
from carryover.lsp.wire import CMD_ACCEPT, CMD_SHARE, MemoryRef, ShareArgs
from carryover.recall.render import memory_json

if TYPE_CHECKING:
    pass

logger = logging.getLogger(__name__)


async def accept(ls: CarryoverServer, args: MemoryRef) -> dict[str, Any]:
    from carryover.pool.errors import MemoryNotFound
    from carryover.pool.proposals import NotAProposal
    from carryover.pool.proposals import accept as accept_proposal

    store = await ls.store_for_command()
    try:
        memory_id = await ls.workers.run(store.resolve_id, args.memory_id)
        memory = await ls.workers.run(accept_proposal, store, memory_id)
    except (MemoryNotFound, NotAProposal) as error:
        raise JsonRpcInvalidParams(message=str(error)) from error
    await ls.memories_changed()
    return memory_json(memory)


async def share(ls: CarryoverServer, args: ShareArgs) -> dict[str, Any]:
    from carryover.pool.errors import MemoryNotFound
    from carryover.pool.team import ShareRefused

    store = await ls.store_for_command()
    team = await ls.team_pool(store)
    if team is None:
        raise JsonRpcInvalidParams(message="no team pool is configured ([team] uri in config.toml)")
    try:
        result = await ls.workers.run(team.share, store, args.memory_id, args.workspace, background=True)
    except (MemoryNotFound, ShareRefused) as error:
        ls.show(f"Carryover: not shared: {error}", lsp.MessageType.Warning)
        raise JsonRpcInvalidParams(message=str(error)) from error
    note = {"shared": "shared with the team", "merged": "the team pool had it: merged", "queued": "queued"}
    ls.show(f"Carryover: {note.get(result.outcome, result.outcome)} ({team.status().summary()})")
    return {"id": result.id, "outcome": result.outcome, "teamId": result.team_id, "detail": result.detail}


async def retry_queued_shares(ls: CarryoverServer) -> None:
    """While the server runs: write queued shares whenever the team pool can be reached again."""
    store = await ls.store.get(None)
    if store is None:
        return
    team = await ls.team_pool(store)
    if team is None:
        return
    while True:
        written = await ls.workers.run(team.flush, store, background=True)
        if written:
            logger.info("team pool: %d queued share(s) written", written)
        summary = team.status().summary()
        logger.debug("team pool: %s", summary)
        await asyncio.sleep(max(5.0, float(team.team.retry_after_s)))


def register(server: CarryoverServer) -> None:
    server.command(CMD_ACCEPT)(guarded(CMD_ACCEPT)(accept))
    server.command(CMD_SHARE)(guarded(CMD_SHARE)(share))
    retrying: list[asyncio.Task[None]] = []

    def start_retrying(_change: Change) -> None:
        if not retrying or retrying[0].done():
            retrying[:] = [server.background.spawn(retry_queued_shares(server), name="team-shares")]

    server.announcer.subscribe(start_retrying, Change.POOL_READY)
