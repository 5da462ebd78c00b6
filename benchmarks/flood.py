"""The daemon's memory under a flood of terminal events while hovers run (issue 14's ingest aim).

    .venv/bin/python -m benchmarks.flood [--events 10000] [--rate 1000] [--hovers 200]

A 1k pool (benchmarks/hover.py's build), ``carryover serve`` through pytest-lsp, a document of
distinct lines with a forwarded diagnostic each; then ``--events`` ``carryover/terminalEnded``
notifications at ``--rate`` a second while the lines are hovered one by one. Prints the server's
RSS (VmRSS) when ready, with the document, after the flood and after the hovers, then the
events stored. Before 41cc6cd (2026-12-03, 1k pool, 10,000-20,000 events at 1,000/s, 200-300 hovers)
the RSS ran to 566 MB, 1.4 GB, 4.9 GB and 7-8 GB: segmentation re-queued held events beside themselves
for every standing error. Since: 500-506 MB after 20,000 events and 300 hovers (three runs);
benchmarks/results/2026-12-03-2013-ingest.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.hover import build, count_events, diagnostics_params, terminal_ended
from benchmarks.pool_text import generate_queries

SEED = 4242


def rss_mb(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) // 1024
    return -1


def server_pid(pool: Path) -> int:
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            command = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "carryover.lsp" in command and str(pool) in command:
            return int(entry)
    raise RuntimeError("the server process was not found")


async def flood(root: Path, events: int, rate: int, hovers: int) -> None:
    import pytest_lsp
    from lsprotocol import types as lsp
    from pytest_lsp import ClientServerConfig

    from carryover.pool.embedding.minilm import MiniLMEmbedder

    build(root, 1000, MiniLMEmbedder().load())
    pool = root / "pool"
    workspace = root / "ws"
    workspace.mkdir()
    config = ClientServerConfig(
        server_command=[sys.executable, "-m", "carryover.lsp", "--db", str(pool), "--log-level", "warning"],
        server_env=dict(os.environ, CARRYOVER_HOME=str(root / "home")),
    )
    client = await config.start()
    assert isinstance(client, pytest_lsp.LanguageClient)

    def status(_params: Any) -> None:
        pass

    client.feature("carryover/status")(status)
    await client.initialize_session(
        lsp.InitializeParams(
            capabilities=pytest_lsp.client_capabilities("visual-studio-code"),
            root_uri=workspace.as_uri(),
            workspace_folders=[lsp.WorkspaceFolder(uri=workspace.as_uri(), name="ws")],
        )
    )
    await client.workspace_execute_command_async(
        lsp.ExecuteCommandParams(command="carryover.search", arguments=[{"query": "ready", "k": 1}])
    )
    pid = server_pid(pool)
    print(f"ready: {rss_mb(pid)} MB", flush=True)
    texts = [query.splitlines()[0] for query in generate_queries(2 * hovers, SEED)]
    uri = (workspace / "bench.py").as_uri()
    client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(
            text_document=lsp.TextDocumentItem(
                uri=uri, language_id="python", version=1, text="\n".join(texts[0::2])
            )
        )
    )
    client.protocol.notify("carryover/diagnostics", diagnostics_params(uri, texts[1::2]))
    await asyncio.sleep(5)
    print(f"with the document: {rss_mb(pid)} MB", flush=True)

    async def hover_every_line() -> None:
        for line in range(hovers):
            position = lsp.Position(line=line, character=2)
            await client.text_document_hover_async(
                lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=position)
            )

    hovering = asyncio.create_task(hover_every_line()) if hovers else None
    started = time.perf_counter()
    for index in range(events):
        client.protocol.notify("carryover/terminalEnded", terminal_ended(index, str(workspace)))
        if index % 10 == 0:
            await asyncio.sleep(max(0.0, started + index / rate - time.perf_counter()))
    print(f"{events} events sent in {time.perf_counter() - started:.1f} s: {rss_mb(pid)} MB", flush=True)
    if hovering is not None:
        await hovering
        print(
            f"{hovers} hovers done after {time.perf_counter() - started:.1f} s: {rss_mb(pid)} MB", flush=True
        )
    await asyncio.sleep(3)
    print(f"events stored: {count_events(pool)}; {rss_mb(pid)} MB", flush=True)
    os.kill(pid, 9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--hovers", type=int, default=200)
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="carryover-flood-"))
    try:
        asyncio.run(flood(root, args.events, args.rate, args.hovers))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
