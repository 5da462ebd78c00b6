"""``carryover mcp`` through the SDK's own stdio client: a real server process on a real pool."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from carryover.pool.embedding.base import Embedder
from carryover.pool.importer import import_file
from carryover.pool.proposals import NotAProposal, accept, proposed, reject
from carryover.pool.records import Kind, MemoryDraft, Status
from carryover.pool.store import MemoryStore
from tests.support.pools import EXAMPLES, pool_config

ROOT = Path(__file__).resolve().parents[1]
NONE_MOMENT = {
    "text": "row = rows[index]",
    "language": "python",
    "diagnostic": "TypeError: 'NoneType' object is not subscriptable",
}
PROPOSAL: dict[str, Any] = {
    "title": "Keep personal data out of log lines",
    "description": "Use when adding logging around requests that carry details about people.",
    "content": "Log identifiers and outcomes instead of names, addresses or message bodies.",
    "languages": ["go"],
    "tools": [],
    "outcome": "success",
}
LOGGING_MOMENT: dict[str, Any] = {
    "text": 'logger.info("signup from " + user.email)',
    "language": "kotlin",
    "diagnostic": "warning: this log line writes the user's email address",
}


@pytest.fixture
def seeded(tmp_path: Path, minilm: Embedder) -> MemoryStore:
    store = MemoryStore(pool_config(tmp_path), minilm, refresh_interval_s=0.0)
    import_file(store, EXAMPLES)
    return store


@contextlib.asynccontextmanager
async def mcp_client(seeded: MemoryStore, tmp_path: Path) -> AsyncIterator[Client]:
    """The SDK's client, running ``python -m carryover.mcp --db <pool>`` over stdio (entered and left
    in one task, as anyio requires)."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "carryover.mcp", "--db", str(seeded.config.pool_dir)],
        env={"CARRYOVER_HOME": str(tmp_path / "home")},
        cwd=str(ROOT),
    )
    async with Client(params, read_timeout_seconds=60) as session:
        yield session


def data(result: Any) -> Any:
    assert not result.is_error, result.content
    return result.structured_content


def error_text(result: Any) -> str:
    assert result.is_error, result.structured_content
    return " ".join(getattr(block, "text", "") for block in result.content)


async def test_an_agent_over_stdio(seeded: MemoryStore, tmp_path: Path) -> None:
    """One server process: the tools are listed, a python moment finds the insight learned in rust, a
    proposed insight is invisible until accepted, bad arguments are clear errors."""
    async with mcp_client(seeded, tmp_path) as client:
        await _tools_and_cross_language_search(client, seeded.config.pool_dir)
        await _bad_arguments(client, seeded)
        await _propose_then_accept(client, seeded)


async def _tools_and_cross_language_search(client: Client, pool: Path) -> None:
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == {"search", "show", "propose", "feedback"}
    assert tools["search"].input_schema["properties"]["k"]["maximum"] == 20
    assert tools["search"].annotations is not None and tools["search"].annotations.read_only_hint

    found = data(await client.call_tool("search", NONE_MOMENT))["memories"]
    assert found, "the rust insight applies to the python moment"
    top = found[0]
    assert top["title"] == "Guard optional values before indexing into them"
    assert top["languages"] == ["rust"]
    assert "transferred from rust" in top["why"]["line"]
    assert "the diagnostic on this line" in top["why"]["line"]

    shown = data(await client.call_tool("show", {"id": top["id"][:12]}))
    assert shown["id"] == top["id"] and shown["content"] == top["content"]

    learned = pool / "ranker-feedback.json"
    assert not learned.exists()
    voted = data(await client.call_tool("feedback", {"id": top["id"], "helpful": True}))
    assert voted == {"id": top["id"], "helpful": 1, "unhelpful": 0, "ranking_learned": True}
    saved = json.loads(learned.read_text(encoding="utf-8"))
    assert saved["events"] == 1 and any(value != 0.0 for value in saved["delta"])

    prompts = (await client.list_prompts()).prompts
    assert [prompt.name for prompt in prompts] == ["when-to-search"]
    guide = await client.get_prompt("when-to-search")
    assert "failed_command" in guide.messages[0].content.text  # type: ignore[union-attr]


async def _titles(client: Client) -> list[str]:
    return [memory["title"] for memory in data(await client.call_tool("search", LOGGING_MOMENT))["memories"]]


async def _propose_then_accept(client: Client, seeded: MemoryStore) -> None:
    assert PROPOSAL["title"] not in await _titles(client)
    answer = data(await client.call_tool("propose", PROPOSAL))
    assert answer["action"] == "proposed" and answer["status"] == "proposed"
    memory_id = answer["id"]

    assert PROPOSAL["title"] not in await _titles(client)  # invisible until accepted
    assert data(await client.call_tool("show", {"id": memory_id}))["status"] == "proposed"
    assert [memory.id for memory in proposed(seeded)] == [memory_id]
    assert memory_id not in {memory.id for memory in seeded.list_memories(status=Status.ACTIVE)}
    feedback = error_text(await client.call_tool("feedback", {"id": memory_id, "helpful": True}))
    assert "proposed" in feedback

    # The same proposal again is the same memory, still waiting.
    again = data(await client.call_tool("propose", PROPOSAL))
    assert (again["id"], again["action"], again["status"]) == (memory_id, "merged", "proposed")

    accepted = accept(seeded, memory_id)
    assert accepted.status is Status.ACTIVE
    with pytest.raises(NotAProposal):
        accept(seeded, memory_id)
    deadline = time.monotonic() + 10  # the server re-reads the pool at most every 2 s
    titles: list[str] = []
    while time.monotonic() < deadline:
        titles = await _titles(client)
        if PROPOSAL["title"] in titles:
            break
        await anyio.sleep(0.5)
    assert PROPOSAL["title"] in titles, titles


def test_a_rejected_proposal_stays_out(seeded: MemoryStore) -> None:
    from carryover.mcp.server import Pools, do_propose, do_search

    pools = Pools(seeded.config)
    pools._store = seeded
    answer = do_propose(pools, **PROPOSAL)
    rejected = reject(seeded, answer["id"][:10], "not how we work")
    assert rejected.status is Status.REJECTED and rejected.reject_reason == "not how we work"
    assert PROPOSAL["title"] not in [
        memory["title"] for memory in do_search(pools, **LOGGING_MOMENT)["memories"]
    ]
    again = do_propose(pools, **PROPOSAL)
    assert (again["action"], again["status"]) == ("merged", "rejected")
    with pytest.raises(NotAProposal, match="rejected"):
        accept(seeded, answer["id"])


async def _bad_arguments(client: Client, seeded: MemoryStore) -> None:
    before = seeded.count()
    assert "less than or equal to 20" in error_text(await client.call_tool("search", {"text": "x", "k": 50}))
    assert "text" in error_text(await client.call_tool("search", {"language": "python"}))
    assert "give text, a diagnostic or a failed_command" in error_text(
        await client.call_tool("search", {"text": "   "})
    )
    assert "give the command too" in error_text(
        await client.call_tool("search", {"text": "build", "output": "error: linker failed"})
    )
    assert "at most 4000" in error_text(await client.call_tool("search", {"text": "x" * 4001}))
    assert "no memory has the id" in error_text(await client.call_tool("show", {"id": "mem_nothing"}))
    assert "ambiguous" in error_text(await client.call_tool("show", {"id": "mem_"}))

    general = error_text(
        await client.call_tool(
            "propose",
            {**PROPOSAL, "title": "Fix the bug in src/server/app.py", "content": "Set the port to 8080."},
        )
    )
    assert "must be general" in general and "names a file" in general and "number" in general
    secret = error_text(
        await client.call_tool(
            "propose",
            {**PROPOSAL, "content": "Log in with the token ghp_" + "a1B2c3D4e5F6g7H8i9J0" * 2 + "."},
        )
    )
    assert "secret" in secret and "ghp_" not in secret
    assert "outcome" in error_text(await client.call_tool("propose", {**PROPOSAL, "outcome": "maybe"}))
    assert "languages" in error_text(
        await client.call_tool("propose", {**PROPOSAL, "languages": ["two words"]})
    )
    assert "helpful" in error_text(await client.call_tool("feedback", {"id": "mem_x"}))
    assert seeded.count() == before, "nothing was written by a refused call"


def test_the_write_path_keeps_proposals_out_of_retrieval_when_added_directly(seeded: MemoryStore) -> None:
    """A draft written with status PROPOSED is never searchable, whichever way the store writes it."""
    from carryover.pool.proposals import write_proposal
    from carryover.pool.records import SearchQuery

    draft = MemoryDraft(
        kind=Kind.INSIGHT, title=str(PROPOSAL["title"]), description=str(PROPOSAL["description"])
    )
    result = write_proposal(seeded, draft)
    assert result.action == "proposed"
    assert seeded.get_required(result.id).status is Status.PROPOSED
    hits = seeded.search(SearchQuery(text=str(PROPOSAL["title"]), k=20))
    assert result.id not in {hit.memory.id for hit in hits}


def test_feedback_teaches_the_ranking_only_for_a_memory_search_returned(seeded: MemoryStore) -> None:
    from carryover.mcp.server import Pools, do_feedback, do_search

    pools = Pools(seeded.config)
    pools._store = seeded
    learned = seeded.config.pool_dir / "ranker-feedback.json"
    never_returned = next(
        memory.id for memory in seeded.list_memories(status=Status.ACTIVE) if memory.kind is Kind.INSIGHT
    )
    assert do_feedback(pools, never_returned, False)["ranking_learned"] is False
    assert not learned.exists()

    before = do_search(pools, **NONE_MOMENT, k=3)["memories"]
    top = before[0]
    for _ in range(3):
        assert do_feedback(pools, top["id"], False)["ranking_learned"] is True
    assert json.loads(learned.read_text(encoding="utf-8"))["events"] == 3
    after = do_search(pools, **NONE_MOMENT, k=10)["memories"]
    assert next(memory["score"] for memory in after if memory["id"] == top["id"]) < top["score"]
