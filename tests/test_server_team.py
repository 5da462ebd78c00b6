"""Proposals and sharing through the language server, as the VS Code extension drives them: a memory
an agent proposed is out of the default list and of the hover until `carryover.accept`; sharing goes
to the team pool of the config (a shared directory here) and is refused while a secret remains."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcException

from carryover.pool.config import load_config
from carryover.pool.embedding.minilm import MiniLMEmbedder
from carryover.pool.proposals import write_proposal
from carryover.pool.records import Kind, MemoryDraft, Outcome, Provenance
from carryover.pool.store import MemoryStore
from tests.test_server_support import command, server_window

pytestmark = pytest.mark.asyncio

PROPOSED = MemoryDraft(
    kind=Kind.INSIGHT,
    title="Keep personal data out of log lines",
    description="Use when a log statement formats user records.",
    content="Log an opaque id instead of the email or name; personal data in logs outlives its purpose.",
    outcome=Outcome.SUCCESS,
    languages=("kotlin",),
    provenance=Provenance(source="mcp"),
)


def _write(pool: Path, draft: MemoryDraft, *, proposal: bool) -> str:
    config = load_config(db=pool, environ={"CARRYOVER_HOME": str(pool.parent / "home")})
    store = MemoryStore(config, MiniLMEmbedder(), refresh_interval_s=0.0)
    return write_proposal(store, draft).id if proposal else store.add(draft).id


async def test_accept_a_proposal_and_share_with_the_team(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    team = tmp_path / "team"
    (tmp_path / "home" / "config.toml").write_text(f'[team]\nuri = "{team}"\nuser = "ada"\n')
    async with server_window(tmp_path) as (client, _recorder, _workspace, pool):
        memory_id = _write(pool, PROPOSED, proposal=True)
        await asyncio.sleep(2.5)  # the server re-reads the pool every 2 s
        listed = await command(client, "carryover.list", {"limit": 100})
        assert memory_id not in [memory["id"] for memory in listed["memories"]]
        waiting = await command(client, "carryover.list", {"status": "proposed"})
        assert [memory["id"] for memory in waiting["memories"]] == [memory_id]
        with pytest.raises(JsonRpcException) as not_yet:
            await command(client, "carryover.share", {"memoryId": memory_id})
        assert not_yet.value.code == -32602

        accepted = await command(client, "carryover.accept", {"memoryId": memory_id})
        assert accepted["status"] == "active"
        with pytest.raises(JsonRpcException) as twice:
            await command(client, "carryover.accept", {"memoryId": memory_id})
        assert twice.value.code == -32602 and "propos" in str(twice.value)

        shared = await command(client, "carryover.share", {"memoryId": memory_id})
        assert shared["outcome"] == "shared", shared
        assert team.is_dir() and any(team.rglob("*.lance"))

        secret = MemoryDraft(
            kind=Kind.INSIGHT,
            title="Rotate the deploy key",
            description="Use when the deploy key leaked.",
            content="The old one was AKIA" + "Q2X7Z4K9M3N8P5R6" + " and is revoked now.",
            outcome=Outcome.SUCCESS,
        )
        risky = _write(pool, secret, proposal=False)
        await asyncio.sleep(2.5)
        # the store redacted the key on the way in: what remains has no secret, so it may be shared
        assert (await command(client, "carryover.share", {"memoryId": risky}))["outcome"] == "shared"


async def test_share_without_a_team_pool_says_so(tmp_path: Path) -> None:
    async with server_window(tmp_path) as (client, _recorder, _workspace, _pool):
        listed = await command(client, "carryover.list", {"limit": 1})
        with pytest.raises(JsonRpcException) as refused:
            await command(client, "carryover.share", {"memoryId": listed["memories"][0]["id"]})
        assert refused.value.code == -32602 and "team pool" in str(refused.value)
