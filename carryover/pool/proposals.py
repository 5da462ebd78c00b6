"""Memories an agent proposed (MCP ``propose``): stored with status ``proposed``, never retrieved and
not in the default list, until the person accepts (-> active) or rejects (-> rejected) each one.

The editor's ``carryover.accept`` / ``carryover.reject`` commands and ``carryover mcp`` call these.
"""

from __future__ import annotations

import attrs

from carryover.pool.records import Memory, MemoryDraft, Status, WriteResult
from carryover.pool.store import MemoryStore


class NotAProposal(ValueError):
    """The memory exists but is not waiting for acceptance (it was accepted, rejected or never
    proposed)."""


@attrs.frozen
class ProposalResult:
    id: str
    action: str
    """"proposed" (stored, waiting for the person), or "merged" (the pool already had this memory or
    a near-identical one: nothing new is waiting; ``status`` says what that memory is)."""
    status: Status


def write_proposal(store: MemoryStore, draft: MemoryDraft) -> ProposalResult:
    """Store ``draft`` as a proposed memory (the store redacts it). A draft that merges into an
    existing memory leaves that memory's status alone."""
    written: WriteResult = store.add(attrs.evolve(draft, status=Status.PROPOSED))
    memory = store.get_required(written.id)
    if written.action == "added":
        if memory.status is not Status.PROPOSED:
            # The write path stored the new row as active: make it proposed before anyone acts on it.
            memory = store._set(written.id, {"status": Status.PROPOSED.value})
        return ProposalResult(id=written.id, action="proposed", status=memory.status)
    return ProposalResult(id=written.id, action="merged", status=memory.status)


def proposed(store: MemoryStore, limit: int | None = None) -> list[Memory]:
    """The memories waiting for acceptance, newest first."""
    return store.list_memories(status=Status.PROPOSED, limit=limit)


def _proposal(store: MemoryStore, memory_id: str) -> Memory:
    memory = store.get_required(store.resolve_id(memory_id))
    if memory.status is not Status.PROPOSED:
        raise NotAProposal(
            f"{memory.id} is not a proposal waiting for acceptance (it is {memory.status.value})"
        )
    return memory


def accept(store: MemoryStore, memory_id: str) -> Memory:
    """Accept a proposed memory (an id or a unique prefix): it becomes active and is retrieved from now on.
    Raises MemoryNotFound or NotAProposal."""
    return store.restore(_proposal(store, memory_id).id)


def reject(store: MemoryStore, memory_id: str, reason: str = "") -> Memory:
    """Reject a proposed memory: it is kept as rejected (never retrieved; an agent proposing it again
    merges into the rejection instead of asking again). Raises MemoryNotFound or NotAProposal."""
    return store.reject(_proposal(store, memory_id).id, reason or "rejected proposal")


__all__ = [
    "NotAProposal",
    "ProposalResult",
    "accept",
    "proposed",
    "reject",
    "write_proposal",
]
